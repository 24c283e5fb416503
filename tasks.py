#!/usr/bin/env python3
"""The two Quick-start commands; each creates (or reuses) the project's virtual environment first.

    python3 tasks.py repro [DVC ARGS...]   # dvc.yaml regenerated from params.yaml, then `dvc repro` (embedded: CPU, minutes)
    python3 tasks.py test [PYTEST ARGS...] # the test suite

Needs only Python 3.11 on the machine. The environment lives in `.venv/` and is rebuilt when
`pyproject.toml` changes.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".occlusion-install"


def _run(cmd: list[str], **kw) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def ensure_env() -> Path:
    """Create `.venv` and install the package with its test extras, unless it is already up to date."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"tasks.py needs Python 3.11 (torch==2.14.1 is pinned for it); this is {sys.version.split()[0]}")
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == want and (BIN / "python").exists():
        return BIN / "python"
    if not (BIN / "python").exists():
        _run([sys.executable, "-m", "venv", VENV])
    _run([BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _run([BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[test]"])
    STAMP.write_text(want + "\n")
    return BIN / "python"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("repro", "test", "env"):
        print(__doc__)
        return 2
    python = ensure_env()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
    if argv[0] == "repro":
        if not (ROOT / ".dvc").is_dir():
            _run([BIN / "dvc", "init", "--quiet"] + ([] if (ROOT / ".git").exists() else ["--no-scm"]), env=env)
        _run([python, "-m", "occlusion.dvcfile"], env=env)  # dvc.yaml follows params.yaml (a no-op when it does)
        return subprocess.run([str(BIN / "dvc"), "repro", *argv[1:]], cwd=ROOT, env=env).returncode
    if argv[0] == "test":
        # one worker per core (pytest-xdist): the suite's time is mostly single-threaded start-up of DVC stages
        parallel = ["-n", "auto", "--dist", "loadgroup"]
        code = subprocess.run([str(python), "-m", "pytest", *parallel, *argv[1:]], cwd=ROOT, env=env).returncode
        return 0 if code == 5 else code  # 5: no tests collected (a filtered run), not a failure
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
