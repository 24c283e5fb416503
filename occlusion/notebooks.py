"""The notebooks of the DVC stages: clean copies for DVC to hash, and the command that executes one.

DVC hashes what a stage runs. Saving a notebook in JupyterLab changes its outputs and metadata; depending on
the clean copy (no outputs, no execution counts, kernelspec ``python3``) means only a change of code or tags
re-runs a stage (calkit's pattern). Each stage then papermill-executes its clean copy::

    python -m occlusion.notebooks clean notebooks build/notebooks
    python -m occlusion.notebooks run build/notebooks/10_train.ipynb reports/notebooks/train/RUN.ipynb -p run_id RUN

``run`` is papermill's own ``execute_notebook`` with the settings of ``papermill IN OUT -k python3 --cwd .
--log-output`` (cell output streamed to the log, no progress bar); it differs from that command line in two
ways. Parameters are always strings (``-p seed 0`` gives ``"0"``; a run id never turns into a number), and the
process does not import ``rfc3987_syntax``: jsonschema, which nbformat imports, loads that optional IRI checker
whenever it is installed (jupyterlab's ``jupyter-events`` brings it), and building its grammar costs about 1.7 s a
process, a minute and a half of an embedded ``dvc repro``, for a format no notebook schema uses.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from .io import update_text

if TYPE_CHECKING:
    import nbformat

__all__ = ["clean_notebook", "clean_folder", "execute"]

_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
_SKIPPED_IMPORTS = ("rfc3987_syntax",)
"""Optional modules a stage's runner never imports (see the module docstring)."""


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs, execution counts and volatile metadata; keep cell tags (``parameters``)."""
    import nbformat

    nb = nbformat.from_dict(nb)
    nb.metadata = {"kernelspec": dict(_KERNELSPEC), "language_info": {"name": "python"}}
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        cell.metadata = {"tags": tags} if tags else {}
        cell.id = f"cell-{i}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def clean_folder(src: str | Path, dst: str | Path) -> list[Path]:
    """Write a clean copy of every ``*.ipynb`` in ``src`` to ``dst``; stale copies are removed."""
    import nbformat

    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("*.ipynb")):
        nb = clean_notebook(nbformat.read(path, as_version=4))
        out = dst / path.name
        text = nbformat.writes(nb) + "\n"
        update_text(out, text)
        written.append(out)
    for stale in set(dst.glob("*.ipynb")) - set(written):
        stale.unlink()
    return written


def execute(src: str | Path, dst: str | Path, parameters: Mapping[str, str] | None = None) -> None:
    """Papermill-execute notebook ``src`` into ``dst`` (its folder is created) with ``parameters``, in kernel
    ``python3`` with the current folder as working directory, streaming cell output to the log: one DVC stage."""
    import papermill

    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(src), str(dst), parameters=dict(parameters or {}), kernel_name="python3",
                               cwd=".", log_output=True, progress_bar=False)


def _skip_optional_imports() -> None:
    for name in _SKIPPED_IMPORTS:  # None in sys.modules: `import name` raises ImportError, which jsonschema expects
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m occlusion.notebooks", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    clean = commands.add_parser("clean", help="write clean copies of every notebook in SRC to DST")
    clean.add_argument("src", type=Path)
    clean.add_argument("dst", type=Path)
    run = commands.add_parser("run", help="papermill-execute notebook SRC into DST (one DVC stage)")
    run.add_argument("src", type=Path)
    run.add_argument("dst", type=Path)
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a parameter of the notebook, always a string (repeatable)")
    args = parser.parse_args(argv)
    _skip_optional_imports()
    if args.command == "clean":
        for path in clean_folder(args.src, args.dst):
            print(path)
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    execute(args.src, args.dst, dict(args.parameter))


if __name__ == "__main__":
    main()
