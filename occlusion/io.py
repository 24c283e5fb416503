"""Result files: atomic writes (a crash never leaves a truncated file) and provenance records."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = [
    "atomic_path", "write_text", "update_text", "write_json", "write_csv", "write_npz", "torch_save", "provenance",
    "file_fingerprint",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()
"""Permissions of a newly written file (``mkstemp`` makes its file private, ``open`` would honour the umask)."""


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, on error removed.

    The file gets the permissions a plain ``open`` would give it (``0o666`` less the umask), not ``mkstemp``'s
    private ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, _FILE_MODE)
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def update_text(path: str | Path, text: str) -> bool:
    """Write ``text`` (as :func:`write_text`) only where the file does not already hold it; True if it wrote. An
    unchanged file keeps its timestamp (generated files that tools watch: ``dvc.yaml``, the clean notebooks)."""
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    write_text(path, text)
    return True


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON with sorted keys and a trailing newline (byte-stable for equal data)."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def write_csv(path: str | Path, df: Any) -> Path:
    """Write a pandas DataFrame as CSV with a fixed float format (byte-stable for equal data)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return write_text(path, buf.getvalue())


def write_npz(path: str | Path, **arrays: Any) -> Path:
    """Write arrays as an uncompressed ``.npz`` (``numpy.load`` reads it, no pickle), atomically and byte-stably.

    ``numpy.savez`` stamps each member with the current time; here members are in sorted order with a fixed
    timestamp, so equal arrays give equal bytes.
    """
    import zipfile

    import numpy as np

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name]), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())
    return Path(path)


def torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` atomically (a killed or failing save leaves the previous file intact), byte-stable.

    Saved through a file object: given a path, ``torch.save`` names the archive's root folder after the file,
    which here is a random temporary name, so equal objects would give different bytes.
    """
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)
    return Path(path)


def file_fingerprint(*paths: str | Path) -> str:
    """sha256 (first 16 hex digits) over the bytes of files; folders hash every file below them, in sorted order."""
    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(*, params_hash: str, data_fingerprint: str, device: str, seed: int, **extra: Any) -> dict[str, Any]:
    """What a result came from: package version, git commit, params hash, data fingerprint, device and seed."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        pkg = version("occlusion")
    except PackageNotFoundError:
        pkg = "unknown"
    return {
        "package_version": pkg,
        "git_commit": _git_commit(),
        "params_hash": params_hash,
        "data_fingerprint": data_fingerprint,
        "device": device,
        "torch": torch.__version__,
        "seed": seed,
        **extra,
    }
