"""The simulated person detector of the validation split (COCO results, like HRNet's detection file)."""
from __future__ import annotations

import numpy as np

from .config import SyntheticConfig
from .labels import rounded

__all__ = ["simulated_detections"]


def simulated_detections(rng: np.random.Generator, cfg: SyntheticConfig, image_id: int, anns: list[dict]) -> list[dict]:
    """Every true box jittered and scored 0.6-1.0, plus low-scored false positives, sorted by score."""
    w, h = cfg.image_size
    out = []
    for a in anns:
        if a["iscrowd"]:
            continue
        x, y, bw, bh = a["bbox"]
        j = np.clip(rng.standard_normal(4), -2.5, 2.5) * cfg.detector_jitter
        cx, cy = x + bw / 2 + j[0] * bw, y + bh / 2 + j[1] * bh
        nw, nh = bw * np.exp(j[2]), bh * np.exp(j[3])
        out.append((cx - nw / 2, cy - nh / 2, nw, nh, rng.uniform(0.6, 1.0)))
    for _ in range(int(rng.poisson(cfg.detector_false_positives))):
        bh = rng.uniform(0.15, 0.8) * h
        bw = min(bh * rng.uniform(0.25, 0.7), w - 1)
        out.append((rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh, rng.uniform(0.01, 0.5)))
    dets = []
    for x, y, bw, bh, score in sorted(out, key=lambda d: -d[4]):
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(w), x + bw), min(float(h), y + bh)
        dets.append({"image_id": image_id, "category_id": 1, "bbox": rounded([x0, y0, x1 - x0, y1 - y0]),
                     "score": round(float(score), 4)})  # fmt: skip
    return dets
