"""Module boundaries: no module of the package imports another module's private names."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "occlusion"


def _private_imports(source: str, name: str) -> list[str]:
    """``from .x import _name`` / ``from occlusion.x import _name`` in the module ``source`` (dunder names such as
    ``__version__`` are public)."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if not isinstance(node, ast.ImportFrom):
            continue
        internal = node.level > 0 or (node.module or "").split(".")[0] == "occlusion"
        for alias in node.names if internal else []:
            if alias.name.startswith("_") and not alias.name.endswith("__"):
                module = "." * node.level + (node.module or "")
                found.append(f"{name}:{node.lineno}: from {module} import {alias.name}")
    return found


def test_no_module_imports_another_modules_private_names():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    offences = [line for path in modules
                for line in _private_imports(path.read_text(), str(path.relative_to(PACKAGE.parent)))]
    assert not offences, "private names imported across modules:\n" + "\n".join(offences)


def test_the_check_sees_relative_and_absolute_imports():
    source = ("from .splits import _coco\nfrom occlusion.train import load_backbone, _x\nfrom . import io\n"
              "from os import _exit\nfrom .bottomup._grouping import match\n")
    found = _private_imports(source, "probe.py")
    assert [f.split(": ", 1)[1] for f in found] == ["from .splits import _coco", "from occlusion.train import _x"]


def _definitions(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.end_lineno - node.lineno + 1, node.lineno


def test_functions_and_modules_stay_short():
    """No function over 60 lines (decorators aside, docstring included), no module over 600."""
    long_functions, long_modules = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        long_functions += [f"{rel}:{line} {name} ({n} lines)" for name, n, line in _definitions(path) if n > 60]
        if len(path.read_text().splitlines()) > 600:
            long_modules.append(str(rel))
    assert not long_functions and not long_modules, (long_functions, long_modules)


def test_notebook_defaults_name_what_the_embedded_profile_defines():
    """Each notebook opens and runs in JupyterLab as it is: its default parameters name existing runs/figures."""
    import json

    import yaml

    root = PACKAGE.parent
    params = yaml.safe_load((root / "profiles" / "embedded.yaml").read_text())
    known = {"run_id": set(params["runs"]) | set(params["bottomup"]["runs"]),
             "name": set(params["pretrain"]) | set(params.get("audits", {}))}
    from occlusion.reports import FIGURES

    known["name"] |= set(FIGURES)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        source = "".join(next(c for c in cells if "parameters" in c["metadata"].get("tags", []))["source"])
        for node in ast.parse(source).body:
            name, value = node.targets[0].id, node.value.value
            assert value in known[name], f"{path.name}: default {name} = {value!r} is not in the embedded profile"
