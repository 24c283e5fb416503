"""Writing the generated dataset's files: compact JSON and JPEG images, folders created as needed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["write_json", "write_jpeg"]


def write_json(path: Path, data: Any) -> None:
    """``data`` as compact JSON (no spaces: the generated files' bytes are part of their fingerprint)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")))


def write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    """RGB ``image`` as a JPEG of ``quality`` (OpenCV's encoder)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())
