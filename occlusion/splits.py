"""Which files make up each dataset split under the configured profile, loaded into person records.

The embedded default lays the generated data out as ``synthetic.generate_dataset`` writes it; the paper
profile names COCO and MPII files explicitly in ``params.yaml`` (``data.coco`` / ``data.mpii``).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from .config import ConfigError
from .data import PersonRecord, load_coco_records, load_mpii_records
from .io import file_fingerprint
from .params import DatasetPaths, Params, repo_root

__all__ = ["Split", "dataset_paths", "resolve_path", "read_split", "read_detections", "load_split", "load_detections"]


@dataclass
class Split:
    """Person records of one split, with the COCO ground truth (COCO only) and a fingerprint of its files."""

    dataset: str
    split: str
    records: list[PersonRecord]
    coco_gt: Any
    fingerprint: str
    annotations: Path


def dataset_paths(params: Params, dataset: Literal["coco", "mpii"]) -> DatasetPaths:
    """The files of ``dataset`` under this profile (generated layout for ``data.source: synthetic``)."""
    root = repo_root() / params.data.root
    if params.data.source == "synthetic":
        if dataset == "coco":
            return DatasetPaths(
                train_annotations=str(root / "annotations" / "person_keypoints_train.json"),
                train_images=str(root / "images" / "train"),
                val_annotations=str(root / "annotations" / "person_keypoints_val.json"),
                val_images=str(root / "images" / "val"),
                detections={"detector": str(root / "detections" / "val_detections.json")},
            )
        return DatasetPaths(  # the MPII export names images relative to images/ ("train/000001.jpg")
            train_annotations=str(root / "mpii" / "train.json"),
            train_images=str(root / "images"),
            val_annotations=str(root / "mpii" / "valid.json"),
            val_images=str(root / "images"),
        )
    paths = params.data.coco if dataset == "coco" else params.data.mpii
    if paths is None:
        raise ConfigError(f"data.{dataset}: not configured, but a run or stage needs the {dataset} dataset")
    return paths


def resolve_path(path: str | Path) -> Path:
    """A configured path: absolute as given, relative from the project root."""
    p = Path(path)
    return p if p.is_absolute() else repo_root() / p


@lru_cache(maxsize=8)
def _coco(ann_file: Path) -> Any:
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(ann_file))


def read_split(paths: DatasetPaths, dataset: Literal["coco", "mpii"], split: Literal["train", "val"]) -> Split:
    """Ground-truth person records of a split of ``dataset``, whose files are ``paths``."""
    ann = resolve_path(paths.train_annotations if split == "train" else paths.val_annotations)
    images = resolve_path(paths.train_images if split == "train" else paths.val_images)
    if not ann.is_file():
        raise FileNotFoundError(f"{dataset} {split} annotations not found: {ann} (run `dvc repro data` first)")
    if dataset == "coco":
        records = load_coco_records(ann, images)
        gt = _coco(ann)
    else:
        head_boxes = resolve_path(paths.head_boxes) if paths.head_boxes and split == "val" else None
        records = load_mpii_records(ann, images, head_boxes=head_boxes)
        gt = None
    return Split(dataset, split, records, gt, file_fingerprint(ann), ann)


def read_detections(paths: DatasetPaths, name: str, image_thre: float) -> Split:
    """COCO validation person records from the detection file ``name`` of ``paths.detections`` (boxes scoring
    under ``image_thre`` dropped)."""
    if name not in paths.detections:
        raise ConfigError(f"data.coco.detections.{name}: no such detection file; known: {', '.join(paths.detections)}")
    det = resolve_path(paths.detections[name])
    ann = resolve_path(paths.val_annotations)
    records = load_coco_records(ann, resolve_path(paths.val_images), detections=det, image_thre=image_thre)
    return Split("coco", "val", records, _coco(ann), file_fingerprint(ann, det), ann)


def load_split(params: Params, dataset: Literal["coco", "mpii"], split: Literal["train", "val"]) -> Split:
    """Ground-truth person records of a split under ``params.data``."""
    return read_split(dataset_paths(params, dataset), dataset, split)


def load_detections(params: Params, name: str) -> Split:
    """Validation person records from the named COCO-format detection file (``data.coco.detections``)."""
    return read_detections(dataset_paths(params, "coco"), name, params.data.image_thre)
