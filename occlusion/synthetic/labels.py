"""COCO and MPII labels of a rendered person: keypoint annotations with RLE silhouettes, crowd regions, and
HRNet's MPII json records (1-based, with head boxes)."""
from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from ..keypoints import COCO

__all__ = ["coco_categories", "coco_crowd", "coco_person", "mpii_record", "rounded"]


def coco_categories() -> list[dict[str, Any]]:
    """The COCO person category: 17 keypoint names as COCO spells them and the 1-based skeleton."""
    return [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(COCO.names),
             "skeleton": [[a + 1, b + 1] for a, b in COCO.edges]}]  # fmt: skip


def rounded(a: np.ndarray | float, nd: int = 2) -> Any:
    """``a`` rounded to ``nd`` decimals as plain JSON numbers (a list for an array)."""
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def _rle(mask: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def coco_crowd(crowd: np.ndarray) -> dict[str, Any]:
    """The ``iscrowd=1`` annotation of the bool pixel mask ``crowd`` (no keypoints)."""
    rle = _rle(crowd)
    return {"category_id": 1, "iscrowd": 1, "keypoints": [0] * 51, "num_keypoints": 0,
            "bbox": rounded(mask_utils.toBbox(rle)), "area": float(crowd.sum()), "segmentation": rle}  # fmt: skip


def coco_person(xy: np.ndarray, inside: np.ndarray, v: np.ndarray, visible: np.ndarray) -> dict[str, Any]:
    """The annotation of one person: joints ``xy`` (17, 2) where ``inside`` (else 0, 0), visibility ``v`` (17,) and
    the bool pixel mask ``visible`` of its silhouette."""
    area = int(visible.sum())
    kps = np.concatenate([np.where(inside[:, None], xy, 0.0), v[:, None]], axis=1)
    rle = _rle(visible)
    return {
        "category_id": 1, "iscrowd": 0, "keypoints": [x for row in kps.tolist() for x in row[:2] + [int(row[2])]],
        "num_keypoints": int((v > 0).sum()), "bbox": rounded(mask_utils.toBbox(rle)), "area": float(area),
        "segmentation": rle,
    }  # fmt: skip


def mpii_record(mxy: np.ndarray, labelled: np.ndarray, extent: np.ndarray, head_box: np.ndarray) -> dict[str, Any]:
    """HRNet's MPII record of joints ``mxy`` (16, 2; ``labelled`` ones kept, the rest ``-1``), body box ``extent``
    (x1, y1, x2, y2) and head box, 1-based. The ``center`` sits ``15 * scale`` px above the body-box centre and
    ``scale`` is the body-box height / 200."""
    scale = (extent[3] - extent[1]) / 200.0
    centre = (extent[:2] + extent[2:]) / 2 + 1 - np.array([0.0, 15 * scale])
    box = head_box + 1
    return {
        "joints": np.where(labelled[:, None], np.round(mxy + 1, 2), -1.0).tolist(),
        "joints_vis": labelled.astype(int).tolist(), "center": rounded(centre), "scale": rounded(scale, 4),
        "head_box": np.concatenate([np.floor(box[:2] * 100) / 100, np.ceil(box[2:] * 100) / 100]).tolist(),
    }  # fmt: skip
