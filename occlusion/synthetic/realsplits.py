"""The real-occlusion stand-ins of the embedded default (docs/METHODS.md §13): an OCHuman-like split (two or three
heavily overlapping people per image, COCO-17 keypoints, visibility from depth order, instance masks as RLE) and a
CrowdPose-format split (CrowdPose's 14 keypoints and a crowd index per image), each with simulated detections.

Layout, beside the train and val files (which do not change: these splits draw from RNG streams of their own)::

    OUT/ochuman/images/000001.jpg
    OUT/ochuman/annotations/ochuman_val.json         COCO format, 17 keypoints, RLE instance masks
    OUT/ochuman/detections/val_detections.json
    OUT/crowdpose/images/000001.jpg
    OUT/crowdpose/annotations/crowdpose_val.json     CrowdPose format: 14 keypoints, ``crowdIndex`` per image
    OUT/crowdpose/detections/val_detections.json
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from ..keypoints import COCO_TO_CROWDPOSE, CROWDPOSE
from ..realocc.crowding import crowd_index
from .config import SyntheticConfig
from .detector import simulated_detections
from .files import write_jpeg, write_json
from .labels import coco_categories, rounded
from .scene import SyntheticImage, render_overlap_image, render_stream_image

__all__ = ["OCHUMAN_STREAM", "CROWDPOSE_STREAM", "write_ochuman", "write_crowdpose", "crowdpose_categories",
           "to_crowdpose"]

OCHUMAN_STREAM, CROWDPOSE_STREAM = 3, 4
"""RNG streams of the two splits' scenes (0 and 1 are train and val, 2 the val detector); their detectors use
these plus 10."""


def crowdpose_categories() -> list[dict[str, Any]]:
    """CrowdPose's person category: its 14 keypoint names and 1-based skeleton."""
    return [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(CROWDPOSE.names),
             "skeleton": [[a + 1, b + 1] for a, b in CROWDPOSE.edges]}]  # fmt: skip


def to_crowdpose(ann: dict[str, Any], head_neck: np.ndarray) -> dict[str, Any]:
    """A COCO-17 person annotation as CrowdPose's: its 12 limb keypoints, then head top and neck; no ``area`` and
    no segmentation (CrowdPose's files have neither)."""
    kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)[COCO_TO_CROWDPOSE]
    kps = np.concatenate([kps, np.asarray(head_neck, dtype=np.float64)])
    flat = [x for row in kps.tolist() for x in (round(row[0], 2), round(row[1], 2), int(row[2]))]
    return {"num_keypoints": int((kps[:, 2] > 0).sum()), "iscrowd": 0, "keypoints": flat, "bbox": ann["bbox"],
            "category_id": 1}


def _write(root: Path, name: str, cfg: SyntheticConfig, count: int, render: Callable[[int], SyntheticImage],
           label: Callable[[SyntheticImage, dict[str, Any]], list[dict[str, Any]]], categories: list[dict[str, Any]],
           stream: int, bar: tqdm) -> dict[str, Any]:
    """Render ``count`` images into ``root/<name>/``: images, the annotation file (``label`` turns a scene into its
    image entry's annotations), the simulated detections; returns the split's counts."""
    images, annotations, dets = [], [], []
    for index in range(count):
        scene = render(index)
        image_id = index + 1
        file_name = f"{image_id:06d}.jpg"
        write_jpeg(root / name / "images" / file_name, scene.image, cfg.jpeg_quality)
        h, w = scene.image.shape[:2]
        image = {"id": image_id, "file_name": file_name, "width": w, "height": h}
        anns = label(scene, image)
        annotations += [{**a, "id": len(annotations) + i, "image_id": image_id} for i, a in enumerate(anns, start=1)]
        images.append(image)
        det_rng = np.random.default_rng([cfg.seed, stream + 10, index])
        dets += simulated_detections(det_rng, cfg, image_id, [a for a in scene.annotations if not a["iscrowd"]])
        bar.update()
    data = {"info": {"description": f"occlusion synthetic {name}-like people", "version": "1.0"}, "licenses": [],
            "images": images, "annotations": annotations, "categories": categories}  # fmt: skip
    write_json(root / name / "annotations" / f"{name}_val.json", data)
    write_json(root / name / "detections" / "val_detections.json", dets)
    v = np.concatenate([np.asarray(a["keypoints"][2::3]) for a in annotations]) if annotations else np.zeros(0)
    return {"images": len(images), "persons": len(annotations), "keypoints_v1": int((v == 1).sum()),
            "keypoints_v2": int((v == 2).sum()), "detections": len(dets)}


def _people(scene: SyntheticImage) -> list[int]:
    return [i for i, a in enumerate(scene.annotations) if not a["iscrowd"] and a["num_keypoints"] > 0]


def write_ochuman(root: Path, cfg: SyntheticConfig, bar: tqdm) -> dict[str, Any]:
    """The OCHuman-like split (:func:`~occlusion.synthetic.scene.render_overlap_image`) under ``root/ochuman``."""

    def label(scene: SyntheticImage, image: dict[str, Any]) -> list[dict[str, Any]]:
        return [scene.annotations[i] for i in _people(scene)]

    return _write(root, "ochuman", cfg, cfg.ochuman_images, lambda i: render_overlap_image(cfg, OCHUMAN_STREAM, i),
                  label, coco_categories(), OCHUMAN_STREAM, bar)


def write_crowdpose(root: Path, cfg: SyntheticConfig, bar: tqdm) -> dict[str, Any]:
    """The CrowdPose-format split under ``root/crowdpose``: even images ordinary scenes, odd ones overlap scenes;
    each image entry carries its ``crowdIndex`` (:func:`~occlusion.realocc.crowding.crowd_index`)."""

    def label(scene: SyntheticImage, image: dict[str, Any]) -> list[dict[str, Any]]:
        head_neck = scene.head_neck or []
        anns = [to_crowdpose(scene.annotations[i], head_neck[i]) for i in _people(scene)]
        kps = [np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3) for a in anns]
        image["crowdIndex"] = rounded(crowd_index(kps, np.array([a["bbox"] for a in anns], dtype=np.float64)))
        return anns

    def render(index: int) -> SyntheticImage:
        return render_stream_image(cfg, CROWDPOSE_STREAM, index, overlap=bool(index % 2))

    return _write(root, "crowdpose", cfg, cfg.crowdpose_images, render, label, crowdpose_categories(),
                  CROWDPOSE_STREAM, bar)
