"""The package's own import graph, read from the source: which files a DVC stage runs.

A stage's code dependencies are the files of every ``occlusion`` module its notebook imports, followed through
each module's imports (lazy ones inside functions too, so nothing a stage may run is missed), plus the package
data files (``*.yaml``) a module names. In the module whose function the notebook calls (the *entry*), only that
function's imports count, with the module-level ones and those of the module's own functions it refers to: so
``pipeline.attack_stage`` does not depend on what ``pipeline.train_stage`` imports.

>>> deps = code_deps([("occlusion.keypoints", None)])
>>> deps[:2]
['occlusion/__init__.py', 'occlusion/keypoints.py']
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

__all__ = ["PACKAGE", "package_dir", "module_file", "code_deps", "compact_deps", "notebook_entries"]

PACKAGE = "occlusion"


def package_dir() -> Path:
    """The ``occlusion`` package folder this module belongs to."""
    return Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def module_file(module: str) -> Path | None:
    """The source file of ``occlusion.a.b`` (a module or a package's ``__init__.py``), or None if there is none."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = package_dir().joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module name of a (possibly relative) ``from X import ...``."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


def _imported(node: ast.AST, module: str, is_package: bool) -> set[str]:
    """The ``occlusion`` modules an import statement loads (``from pkg import sub`` loads the submodule too)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
    if not isinstance(node, ast.ImportFrom):
        return set()
    target = _absolute(node, module, is_package)
    if target.split(".")[0] != PACKAGE:
        return set()
    out = {target}
    out |= {f"{target}.{a.name}" for a in node.names if module_file(f"{target}.{a.name}") is not None}
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(nodes: Iterable[ast.AST], skip_defs: bool) -> Iterable[ast.AST]:
    """Every node below ``nodes``; with ``skip_defs``, not into function bodies; never into TYPE_CHECKING blocks."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if _is_type_checking(node):
            continue
        if skip_defs and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


@lru_cache(maxsize=None)
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _module_imports(module: str, function: str | None = None) -> set[str]:
    """What ``module`` imports: everything, or for an entry ``function`` only the module level and what that
    function (and the module's functions it names, transitively) imports."""
    path = module_file(module)
    tree = _parse(path)
    is_package = path.name == "__init__.py"
    if function is None:
        return {m for n in _walk([tree], False) for m in _imported(n, module, is_package)}
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if function not in defs:
        raise KeyError(f"{module}.{function}: no such function (a notebook calls it)")
    found = {m for n in _walk(tree.body, True) for m in _imported(n, module, is_package)}
    todo, seen = [function], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in _walk([defs[name]], False):
            found |= _imported(node, module, is_package)
            if isinstance(node, ast.Name) and node.id in defs:
                todo.append(node.id)
    return found


def _parents(module: str) -> list[str]:
    """``occlusion.a.b`` -> ``occlusion``, ``occlusion.a``: importing a module runs its packages' ``__init__``."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _data_files(path: Path) -> set[Path]:
    """Package data files (``*.yaml`` beside the module) whose name the module's source mentions."""
    text = path.read_text(encoding="utf-8")
    return {p for p in path.parent.glob("*.yaml") if p.name in text}


def code_deps(entries: Sequence[tuple[str, str | None]]) -> list[str]:
    """The files (relative to the project root, sorted) that running ``entries`` may import or read.

    ``entries`` are ``(module, function)`` pairs: the function a notebook calls, or ``(module, None)`` for a
    module it imports as a whole.
    """
    return list(_code_deps(tuple(entries)))


@lru_cache(maxsize=None)
def _code_deps(entries: tuple[tuple[str, str | None], ...]) -> tuple[str, ...]:
    root = package_dir().parent
    todo = list(entries)
    done: set[tuple[str, str | None]] = set()
    files: set[Path] = set()
    while todo:
        module, function = todo.pop()
        if (module, function) in done or module_file(module) is None:
            continue
        done.add((module, function))
        files.add(module_file(module))
        for parent in _parents(module):
            todo.append((parent, None))
        for found in _module_imports(module, function):
            todo.append((found, None))
    files |= {d for f in list(files) for d in _data_files(f)}
    return tuple(sorted(str(f.relative_to(root)) for f in files))


def compact_deps(files: Sequence[str]) -> list[str]:
    """``files`` (paths relative to the project root, as :func:`code_deps` returns them) with every subpackage whose
    files are all listed written as its folder: the same dependency for DVC in one line of ``dvc.lock`` instead of
    a dozen. DVC parses and rewrites the whole ``dvc.lock`` after every stage; with each stage's closure listed file
    by file the embedded one reaches 20,000 lines and 4 s a stage. ``__pycache__`` is in ``.dvcignore``.

    >>> deps = code_deps([("occlusion.models", None)])
    >>> "occlusion/models" in compact_deps(deps), "occlusion/models/zoo.py" in compact_deps(deps)
    (True, False)
    """
    root = package_dir().parent
    listed = set(files)
    folders = sorted({p.parent for p in package_dir().rglob("*.py") if p.parent != package_dir()},
                     key=lambda p: len(p.parts))
    whole: list[str] = []
    for folder in folders:
        rel = str(folder.relative_to(root))
        if any(rel.startswith(w + "/") for w in whole):
            continue
        inside = [str(p.relative_to(root)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        if inside and all(f in listed for f in inside):
            whole.append(rel)
    kept = [f for f in files if not any(f.startswith(w + "/") for w in whole)]
    return sorted(kept + whole)


def notebook_entries(source: str) -> list[tuple[str, str | None]]:
    """The package entries a notebook's code uses: ``from occlusion import pipeline`` + ``pipeline.train_stage(...)``
    gives ``("occlusion.pipeline", "train_stage")``; a module used otherwise counts whole.

    >>> notebook_entries("from occlusion import pipeline\\nsummary = pipeline.data_stage()")
    [('occlusion.pipeline', 'data_stage')]
    """
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    entries: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PACKAGE:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                if module_file(sub) is not None:
                    aliases[a.asname or a.name] = sub
                else:
                    entries.add((node.module, a.name if _is_function(node.module, a.name) else None))
        elif isinstance(node, ast.Import):
            entries |= {(a.name, None) for a in node.names if a.name.split(".")[0] == PACKAGE}
    for alias, module in aliases.items():
        used = {n.attr for n in ast.walk(tree)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == alias}
        functions = [u for u in used if _is_function(module, u)]
        if functions and len(functions) == len(used):
            entries |= {(module, f) for f in functions}
        else:
            entries.add((module, None))
    return sorted(entries, key=lambda e: (e[0], e[1] or ""))


def _is_function(module: str, name: str) -> bool:
    path = module_file(module)
    return path is not None and any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name
                                    for n in _parse(path).body)
