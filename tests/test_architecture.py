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
