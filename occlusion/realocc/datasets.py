"""The real-occlusion datasets, checked and loaded into the package's person records (docs/METHODS.md §13).

* **OCHuman** (COCO format as its ``ochuman_coco_format_{val,test}_range_0.00_1.00.json``): COCO's 17 keypoints and
  instance masks; every person overlaps another with box IoU > 0.5.
* **CrowdPose** (``crowdpose_{train,val,test}.json``): 14 keypoints (:data:`occlusion.keypoints.CROWDPOSE`), no
  ``area``, a ``crowdIndex`` on every image.
* **COCO** val itself, for its own occlusion signal (``v=1`` keypoints, overlap between people).

A file is checked against the dataset it is declared as before anything is read from it: a wrong keypoint count, a
missing field or (CrowdPose) a missing crowd index fails with one error naming the file and what was expected.
:func:`scored_ground_truth` is the copy of the ground truth that is scored and from which the person records are
read: CrowdPose annotations get ``area`` = 0.53 x box area (the OKS scale of ``xtcocotools``' ``keypoints_crowd``
with ``use_area=False``; record loading needs an area too) and, for models that predict COCO's 17 keypoints, head
and neck unlabelled (``v = 0``), so OKS runs over
the 12 keypoints both datasets label and the crowd index is unchanged.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..data import PersonRecord, load_coco_records, read_json
from ..io import file_fingerprint, write_json
from ..keypoints import COCO, CROWDPOSE, Skeleton

__all__ = ["CROWD_AREA", "REAL_DATASETS", "RealDataset", "RealSplit", "DatasetFormatError", "skeleton_of",
           "check_annotation_file", "scored_ground_truth", "load_real_split", "load_real_detections"]

RealDataset = Literal["ochuman", "crowdpose", "coco"]
REAL_DATASETS: tuple[str, ...] = ("ochuman", "crowdpose", "coco")
_SKELETONS: dict[str, Skeleton] = {"ochuman": COCO, "crowdpose": CROWDPOSE, "coco": COCO}
CROWD_AREA = 0.53
"""CrowdPose's OKS scale: 0.53 x the box area (``xtcocotools`` with ``use_area=False``; its files have no area)."""


class DatasetFormatError(ValueError):
    """A dataset file that is not what its declared dataset's files look like."""

    def __init__(self, path: Path, dataset: str, problem: str, expected: str):
        super().__init__(f"{path}: declared as {dataset}, but {problem}; expected {expected}")


def skeleton_of(dataset: str) -> Skeleton:
    """The keypoint layout of a real-occlusion dataset's files (OCHuman and COCO: COCO's 17; CrowdPose: its 14)."""
    if dataset not in _SKELETONS:
        raise KeyError(f"unknown real-occlusion dataset {dataset!r}; allowed: {', '.join(REAL_DATASETS)}")
    return _SKELETONS[dataset]


def _load(path: Path, dataset: str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{dataset} annotation file {path} not found (see `occlusion download {dataset}` or "
                                "the data stage)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(path, dataset, f"it is not valid JSON ({exc})", "a COCO-format JSON file") from None
    if not isinstance(data, dict) or not {"images", "annotations", "categories"} <= data.keys():
        raise DatasetFormatError(path, dataset, "it is not a mapping with 'images', 'annotations' and 'categories'",
                                 "a COCO-format keypoint annotation file")
    return data


def check_annotation_file(path: str | Path, dataset: str) -> dict[str, Any]:
    """The parsed annotation file ``path`` after checking that it is a ``dataset`` file: the person category's
    keypoint names count the dataset's keypoints, every annotation has that many ``(x, y, v)``, and (CrowdPose)
    every image has a ``crowdIndex`` >= 0 (CrowdPose's own lie in [0, 1]; by its definition two people who stand in
    each other's boxes exceed 1)."""
    path = Path(path)
    skeleton = skeleton_of(dataset)
    data = _load(path, dataset)
    k = skeleton.num_joints
    person = [c for c in data["categories"] if isinstance(c, dict) and c.get("id") == 1]
    names = person[0].get("keypoints") if person else None
    if not isinstance(names, list) or len(names) != k:
        got = f"its person category lists {len(names)} keypoints" if isinstance(names, list) else \
            "it has no person category (id 1) with a 'keypoints' list"
        raise DatasetFormatError(path, dataset, got, f"{k} keypoints ({', '.join(skeleton.names)})")
    for ann in data["annotations"]:
        kps = ann.get("keypoints") if isinstance(ann, dict) else None
        if not isinstance(kps, list) or len(kps) != 3 * k:
            n = f"{len(kps)} values" if isinstance(kps, list) else "no 'keypoints'"
            raise DatasetFormatError(path, dataset, f"annotation {ann.get('id') if isinstance(ann, dict) else ann!r} "
                                     f"has {n}", f"{3 * k} values ({k} keypoints x (x, y, v))")
    if dataset == "crowdpose":
        for img in data["images"]:
            ci = img.get("crowdIndex")
            if not isinstance(ci, (int, float)) or isinstance(ci, bool) or not 0.0 <= ci < float("inf"):
                problem = "has no 'crowdIndex'" if ci is None else f"has crowdIndex {ci!r}"
                raise DatasetFormatError(path, dataset, f"image {img.get('id')} {problem}",
                                         "every image to carry its crowd index, a number >= 0")
    return data


def scored_ground_truth(data: dict[str, Any], dataset: str, *, shared_only: bool = True) -> dict[str, Any]:
    """The ground truth that is scored (a copy): CrowdPose annotations get ``area`` = :data:`CROWD_AREA` x box area,
    and with ``shared_only`` (models that predict COCO's keypoints) head and neck become unlabelled, ``num_keypoints``
    recounted. OCHuman and COCO files pass unchanged."""
    out = copy.deepcopy(data)
    if dataset != "crowdpose":
        return out
    extra = [CROWDPOSE.index("head"), CROWDPOSE.index("neck")]
    for ann in out["annotations"]:
        ann["area"] = CROWD_AREA * float(ann["bbox"][2] * ann["bbox"][3])  # keypoints_crowd, use_area=False
        if shared_only:
            kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
            kps[extra] = 0.0
            ann["keypoints"] = [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(kps.ravel())]
            ann["num_keypoints"] = int((kps[:, 2] > 0).sum())
    return out


@dataclass
class RealSplit:
    """One real-occlusion split: its scored ground truth (file and data), images and ground-truth-box records."""

    dataset: str
    annotations: Path
    """The scored ground truth (:func:`scored_ground_truth`) as written beside the results."""
    images: Path
    data: dict[str, Any]
    records: list[PersonRecord]
    fingerprint: str
    """Of the original annotation file."""

    @property
    def image_ids(self) -> list[int]:
        return sorted(int(img["id"]) for img in self.data["images"])

    def crowd_index(self) -> dict[int, float]:
        """Image id -> CrowdPose crowd index (CrowdPose only; empty otherwise)."""
        return {int(img["id"]): float(img["crowdIndex"]) for img in self.data["images"] if "crowdIndex" in img}


def load_real_split(dataset: str, annotations: str | Path, images: str | Path, scored: str | Path) -> RealSplit:
    """Check ``annotations`` as a ``dataset`` file, write the scored ground truth to ``scored`` and read its person
    records (ground-truth boxes, images under ``images``)."""
    annotations, scored = Path(annotations), Path(scored)
    data = scored_ground_truth(check_annotation_file(annotations, dataset), dataset)
    write_json(scored, data)
    records = load_coco_records(scored, images, skeleton=skeleton_of(dataset))
    if not records:
        raise ValueError(f"{annotations}: no person with a labelled keypoint to evaluate on ({dataset})")
    return RealSplit(dataset, scored, Path(images), data, records, file_fingerprint(annotations))


def load_real_detections(split: RealSplit, detections: str | Path, image_thre: float = 0.0) -> list[PersonRecord]:
    """Person records from a COCO-format detection file for ``split``; image ids that are not the split's fail with
    one error naming the file and the split's annotation file."""
    detections = Path(detections)
    dets = read_json(detections, f"{split.dataset} detection file")
    known = set(split.image_ids)
    unknown = sorted({d.get("image_id") for d in dets if isinstance(d, dict)} - known, key=str) \
        if isinstance(dets, list) else []
    if unknown:
        raise ValueError(f"detection file {detections}: image ids {', '.join(map(str, unknown[:5]))} "
                         f"({len(unknown)} in all) are not in the {split.dataset} split {split.annotations}; expected "
                         f"detections of its {len(known)} images")
    return load_coco_records(split.annotations, split.images, detections=detections, image_thre=image_thre,
                             skeleton=skeleton_of(split.dataset))
