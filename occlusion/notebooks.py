"""Clean copies of the notebooks for DVC: no outputs, no execution counts, kernelspec ``python3``.

DVC hashes what a stage runs. Saving a notebook in JupyterLab changes its outputs and metadata; depending on
the clean copy means only a change of code or tags re-runs a stage (calkit's pattern)::

    python -m occlusion.notebooks notebooks build/notebooks
"""
from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from .io import write_text

__all__ = ["clean_notebook", "clean_folder"]

_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs, execution counts and volatile metadata; keep cell tags (``parameters``)."""
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
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("*.ipynb")):
        nb = clean_notebook(nbformat.read(path, as_version=4))
        out = dst / path.name
        text = nbformat.writes(nb) + "\n"
        if not out.is_file() or out.read_text() != text:
            write_text(out, text)
        written.append(out)
    for stale in set(dst.glob("*.ipynb")) - set(written):
        stale.unlink()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write clean copies of notebooks for DVC stages.")
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args(argv)
    for path in clean_folder(args.src, args.dst):
        print(path)


if __name__ == "__main__":
    main()
