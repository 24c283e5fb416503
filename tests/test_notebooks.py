"""The stage runner: ``python -m occlusion.notebooks run`` papermill-executes a notebook as a DVC stage does."""
from __future__ import annotations

import subprocess
import sys

import nbformat
from conftest import REPO

from occlusion.notebooks import clean_notebook


def _notebook(path, *cells: str, parameters: str) -> None:
    nb = nbformat.v4.new_notebook()
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(clean_notebook(nb), path)


def test_run_executes_with_string_parameters_into_a_new_folder_without_the_iri_checker(tmp_path):
    src = tmp_path / "stage.ipynb"
    _notebook(src, "print(repr(run_id), repr(seed))", parameters="run_id = 'baseline'\nseed = 1")
    dst = tmp_path / "reports" / "notebooks" / "train" / "007.ipynb"
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "occlusion.notebooks", "run", str(src), str(dst),
                          "-p", "run_id", "007", "-p", "seed", "0"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    printed = "".join(o.get("text", "") for c in nbformat.read(dst, as_version=4).cells for o in c.get("outputs", []))
    assert printed == "'007' '0'\n"  # papermill's own command line would pass 7 and 0
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "jsonschema" in imported and "papermill" in imported
    assert "rfc3987_syntax.syntax_helpers" not in imported  # the grammar jsonschema's optional IRI check builds


def test_a_failing_cell_fails_the_command_and_keeps_the_executed_notebook(tmp_path):
    src = tmp_path / "stage.ipynb"
    _notebook(src, "raise ValueError('bad run')", parameters="run_id = 'x'")
    dst = tmp_path / "out.ipynb"
    out = subprocess.run([sys.executable, "-m", "occlusion.notebooks", "run", str(src), str(dst)], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode != 0 and "bad run" in out.stderr
    assert "bad run" in dst.read_text()
