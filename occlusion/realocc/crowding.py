"""How crowded a person or an image is: box overlap between people (OCHuman's criterion, the overlap bins of COCO's
AP by overlap) and CrowdPose's crowd index (docs/METHODS.md §13).

Example:
    >>> boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [40, 40, 5, 5]], dtype=float)
    >>> max_overlap(boxes).round(3).tolist()
    [0.333, 0.333, 0.0]
    >>> [overlap_bin(v) for v in (0.0, 0.2, 0.4, 0.7)]
    ['0', '0-0.3', '0.3-0.5', '>0.5']
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["OVERLAP_BINS", "box_iou", "max_overlap", "overlap_bin", "crowd_index", "CROWD_LEVELS", "crowd_level"]

OVERLAP_BINS: tuple[str, ...] = ("0", "0-0.3", "0.3-0.5", ">0.5")
"""A person's largest box IoU with another person of its image: none, up to 0.3, 0.3-0.5, above 0.5."""
CROWD_LEVELS: tuple[tuple[str, float], ...] = (("easy", 0.2), ("medium", 0.8), ("hard", float("inf")))
"""CrowdPose's difficulty by crowd index as ``xtcocotools`` computes AP easy / medium / hard: below 0.2, below 0.8,
the rest (its ``get_type_result(first=0.2, second=0.8)``; the CrowdPose paper describes 0.1 and 0.8)."""


def box_iou(boxes: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(N, 4)`` ``x, y, w, h`` boxes, the diagonal set to 0 (a box's overlap with *another*)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None]), 0, None)
    ih = np.clip(np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None]), 0, None)
    inter = iw * ih
    area = b[:, 2] * b[:, 3]
    iou = inter / np.maximum(area[:, None] + area[None] - inter, 1e-12)
    np.fill_diagonal(iou, 0.0)
    return iou


def max_overlap(boxes: np.ndarray) -> np.ndarray:
    """Each box's largest IoU with another box (0 for a box alone)."""
    iou = box_iou(boxes)
    return iou.max(axis=1) if len(iou) else np.zeros(0)


def overlap_bin(iou: float) -> str:
    """The :data:`OVERLAP_BINS` label of a largest IoU: exactly 0, (0, 0.3], (0.3, 0.5], above 0.5."""
    if iou <= 0.0:
        return OVERLAP_BINS[0]
    if iou <= 0.3:
        return OVERLAP_BINS[1]
    return OVERLAP_BINS[2] if iou <= 0.5 else OVERLAP_BINS[3]


def crowd_index(keypoints: Sequence[np.ndarray] | np.ndarray, boxes: np.ndarray) -> float:
    """CrowdPose's crowd index of one image: the mean over its people of (labelled joints of *other* people inside
    the person's box) / (the person's own labelled joints); people without a labelled joint are left out, and an
    image without any person has index 0.

    ``keypoints``: per person ``(K, 3)`` ``x, y, v`` (``v > 0`` labelled); ``boxes``: ``(N, 4)`` ``x, y, w, h``.

    >>> kps = np.array([[[1, 1, 2], [2, 2, 2]], [[3, 3, 2], [30, 30, 2]]], dtype=float)
    >>> crowd_index(kps, np.array([[0, 0, 4, 4], [0, 0, 30, 30]], dtype=float))
    0.75
    """
    people = [np.asarray(k, dtype=np.float64).reshape(-1, 3) for k in keypoints]
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(people) != len(b):
        raise ValueError(f"crowd_index: {len(people)} keypoint sets but {len(b)} boxes")
    ratios = []
    for i, (kps, (x, y, w, h)) in enumerate(zip(people, b)):
        own = int((kps[:, 2] > 0).sum())
        if own == 0:
            continue
        others = [k[k[:, 2] > 0, :2] for j, k in enumerate(people) if j != i]
        pts = np.concatenate(others) if others else np.zeros((0, 2))
        inside = (pts[:, 0] >= x) & (pts[:, 0] <= x + w) & (pts[:, 1] >= y) & (pts[:, 1] <= y + h)
        ratios.append(inside.sum() / own)
    return float(np.mean(ratios)) if ratios else 0.0


def crowd_level(index: float) -> str:
    """``"easy"``, ``"medium"`` or ``"hard"`` for a crowd index (:data:`CROWD_LEVELS`)."""
    return next(name for name, upper in CROWD_LEVELS if index < upper)
