"""The package's own import graph, read from the source: which files a DVC stage runs.

A stage's code dependencies are the files of every ``occlusion`` module its notebook imports, followed through
each module's imports (lazy ones inside functions too, so nothing a stage may run is missed), plus the package
data files (``*.yaml``) a module names, plus the stage runner (``python -m occlusion.notebooks``). In the module
whose function the notebook calls (the *entry*), only that function's imports count, with the module-level ones
and those of the module's own functions it refers to: so ``pipeline.attack_stage`` does not depend on what
``pipeline.train_stage`` imports.

DVC sees them through the ``code`` stage: ``python -m occlusion.imports build/notebooks build/code`` depends on the
whole package folder and writes, for every notebook, ``build/code/<notebook>.txt``, the content hash and path of
each file in that notebook's closure (:func:`write_digests`); a stage depends on its notebook's file. A code
change re-runs the ``code`` stage (a fraction of a second), and then exactly the stages whose closure file
changed. Listing the files in ``dvc.yaml`` instead gives the same invalidation, but ``dvc.lock`` then holds every
file of every stage (the embedded one: 3,400 entries, 17,800 lines), which DVC parses and rewrites after every
stage: 5.5 s a stage at the end of the embedded repro, against 0.6 s with one closure file a stage.

>>> deps = code_deps([("occlusion.keypoints", None)])
>>> deps[:2]
['occlusion/__init__.py', 'occlusion/keypoints.py']
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from .io import file_fingerprint, update_text

__all__ = ["PACKAGE", "RUNNER", "package_dir", "module_file", "code_deps", "notebook_entries", "notebook_code",
           "stage_code", "write_digests", "main"]

PACKAGE = "occlusion"
RUNNER = ("occlusion.notebooks", "main")
"""What every stage runs around its notebook: ``python -m occlusion.notebooks run``."""


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


@lru_cache(maxsize=None)
def _module_imports(module: str, function: str | None = None) -> frozenset[str]:
    """What ``module`` imports: everything, or for an entry ``function`` only the module level and what that
    function (and the module's functions it names, transitively) imports."""
    path = module_file(module)
    tree = _parse(path)
    is_package = path.name == "__init__.py"
    if function is None:
        return frozenset(m for n in _walk([tree], False) for m in _imported(n, module, is_package))
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
    return frozenset(found)


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


def notebook_code(path: str | Path) -> str:
    """The code cells of notebook ``path``, joined."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def stage_code(notebook: str | Path) -> list[str]:
    """The package files a stage that executes ``notebook`` runs: its code's closure and the runner's."""
    return sorted(set(code_deps(notebook_entries(notebook_code(notebook)))) | set(code_deps([RUNNER])))


def write_digests(notebooks: str | Path, out: str | Path) -> list[Path]:
    """``out/<notebook>.txt`` for every notebook in ``notebooks``: ``fingerprint  path`` (:func:`occlusion.io.
    file_fingerprint`) of each file :func:`stage_code`
    lists (a file is rewritten only when it changes; stale ones are removed). What the ``code`` stage writes."""
    root, out = package_dir().parent, Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fingerprints: dict[str, str] = {}  # each file hashed once, however many notebooks run it
    written = []
    for notebook in sorted(Path(notebooks).glob("*.ipynb")):
        files = stage_code(notebook)
        for f in files:
            if f not in fingerprints:
                fingerprints[f] = file_fingerprint(root / f)
        text = f"# the package files stage notebook {notebook.name} runs (python -m occlusion.imports)\n"
        text += "".join(f"{fingerprints[f]}  {f}\n" for f in files)
        path = out / f"{notebook.stem}.txt"
        update_text(path, text)
        written.append(path)
    for stale in set(out.glob("*.txt")) - set(written):
        stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m occlusion.imports",
                                     description="Write each stage notebook's code closure (the code stage).")
    parser.add_argument("notebooks", help="folder of the (clean) stage notebooks")
    parser.add_argument("out", help="folder for <notebook>.txt")
    args = parser.parse_args(argv)
    write_digests(args.notebooks, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
