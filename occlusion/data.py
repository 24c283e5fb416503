"""COCO / MPII person records, detection files, the top-down ``Dataset`` and a cache of test crops.

Records follow HRNet's database entries (docs/METHODS.md §2, §4): one :class:`PersonRecord` per person box
with its centre and scale (``pixel_std`` 200 units, aspect fixed to the input's, padded by 1.25) and its
joints in original-image pixels. :class:`TopDownDataset` turns records into HRNet inputs: the affine input
crop (with the training augmentation of docs/METHODS.md §3 when ``train``), an optional targeted augmenter
on the uint8 crop, ImageNet normalisation and Gaussian heatmap targets.

Example, on a generated dataset of one image per split:
    >>> from occlusion.synthetic import SyntheticConfig, generate_dataset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name) / "ds"
    >>> _ = generate_dataset(root, SyntheticConfig(train_images=1, val_images=1), progress=False)
    >>> records = load_coco_records(root / "annotations/person_keypoints_val.json", root / "images/val")
    >>> ds = TopDownDataset(records, skeleton=COCO)
    >>> ds[0]["image"].shape, ds[0]["target"].shape
    (torch.Size([3, 256, 192]), torch.Size([17, 64, 48]))
    >>> tmp.cleanup()
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .keypoints import COCO, Skeleton
from .transforms import (
    PIXEL_STD,
    TransformConfig,
    TransformParams,
    apply_train_transform,
    box_to_center_scale,
    generate_heatmaps,
    sample_train_transform,
)

__all__ = [
    "read_json",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PersonRecord",
    "load_coco_records",
    "load_mpii_records",
    "read_image",
    "jpeg_complete",
    "normalize",
    "Augmenter",
    "TopDownDataset",
    "build_crops",
    "load_or_build_crops",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MEAN = np.array(IMAGENET_MEAN, dtype=np.float32)
_STD = np.array(IMAGENET_STD, dtype=np.float32)

Augmenter = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]
"""Training hook ``(uint8 crop, (K, 3) crop joints, rng) -> (crop, joints)``; joints set to (0, 0, 0) lose the label."""


@dataclass(frozen=True, eq=False)
class PersonRecord:
    """One person box of the top-down database.

    ``joints`` is float32 ``(K, 3)`` ``[x, y, v]`` in original-image pixels (``v > 0`` labelled, COCO's 1 and 2
    kept as stored; unlabelled rows are (0, 0, 0)); detector boxes have all-zero joints and the detection
    ``score``. ``head_box`` ``(x1, y1, x2, y2)`` is MPII's PCKh head box when the json has one.
    """

    image: str
    image_id: int
    center: np.ndarray
    scale: np.ndarray
    joints: np.ndarray
    bbox: tuple[float, float, float, float]
    area: float
    score: float = 1.0
    ann_id: int | None = None
    head_box: tuple[float, float, float, float] | None = None
    dataset: Literal["coco", "mpii"] = "coco"


def read_json(path: Path, what: str) -> Any:
    """The JSON of ``path``; a missing file or bad JSON fails naming ``what`` and the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {path} is not valid JSON: {exc}") from None


def _coco_images(ann_file: Path) -> tuple[dict, dict[int, dict]]:
    data = read_json(ann_file, "COCO annotation file")
    if not isinstance(data, dict) or not {"images", "annotations"} <= data.keys():
        raise ValueError(f"COCO annotation file {ann_file}: expected a mapping with 'images' and 'annotations'")
    return data, {int(img["id"]): img for img in data["images"]}


def _clean_box(ann: dict, width: int, height: int) -> tuple[float, float, float, float] | None:
    """HRNet's box cleaning: clip to the image, drop zero-area annotations and empty boxes."""
    x, y, w, h = (float(v) for v in ann["bbox"])
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1.0, x1 + max(0.0, w - 1))
    y2 = min(height - 1.0, y1 + max(0.0, h - 1))
    if ann.get("area", 0) > 0 and x2 >= x1 and y2 >= y1:
        return x1, y1, x2 - x1, y2 - y1
    return None


def load_coco_records(
    ann_file: str | Path,
    image_dir: str | Path,
    *,
    detections: str | Path | None = None,
    image_thre: float = 0.0,
    aspect_ratio: float = 0.75,
    padding: float = 1.25,
    skeleton: Skeleton = COCO,
) -> list[PersonRecord]:
    """Person records of a COCO keypoint annotation file, from GT boxes or from a detection results file.

    GT mode (HRNet): non-crowd person annotations with at least one labelled keypoint, boxes clipped to the
    image; images in file order, persons in annotation order within an image (PartMix takes the first).
    Detection mode (``detections`` = COCO results json): category-1 boxes with ``score >= image_thre`` in
    file order, all-zero joints and the detection score; the annotation file maps image ids to files.
    ``skeleton`` is the file's keypoint layout (COCO's 17 by default; CrowdPose's 14 for a CrowdPose file).
    """
    ann_file, image_dir = Path(ann_file), Path(image_dir)
    data, images = _coco_images(ann_file)
    num_joints = skeleton.num_joints
    if detections is not None:
        return _detection_records(Path(detections), images, image_dir, num_joints, image_thre, aspect_ratio, padding)

    by_image: dict[int, list[dict]] = defaultdict(list)
    for ann in data["annotations"]:
        by_image[int(ann["image_id"])].append(ann)
    records = []
    for image_id, img in images.items():
        for ann in by_image.get(image_id, []):
            if ann.get("category_id") != 1 or ann.get("iscrowd", 0):
                continue
            box = _clean_box(ann, int(img["width"]), int(img["height"]))
            kps = _checked_keypoints(ann_file, ann, img, skeleton)
            if box is None or not np.any(kps[:, 2] > 0):
                continue
            kps[kps[:, 2] <= 0] = 0.0
            center, scale = box_to_center_scale(box, aspect_ratio, padding)
            records.append(
                PersonRecord(
                    image=str(image_dir / img["file_name"]), image_id=image_id, center=center, scale=scale,
                    joints=kps, bbox=box, area=float(ann["area"]), score=1.0, ann_id=int(ann["id"]),
                )
            )  # fmt: skip
    return records


def _checked_keypoints(ann_file: Path, ann: dict, img: dict, skeleton: Skeleton) -> np.ndarray:
    """A person annotation's keypoints ``(K, 3)``; a missing field, a wrong count, a non-finite value or a
    labelled keypoint farther outside its image than the image's own size raises, naming the file and the
    annotation id (COCO labels some keypoints a little outside the image; those stay)."""
    num_joints = skeleton.num_joints
    if "keypoints" not in ann:
        raise ValueError(f"{ann_file}: person annotation {ann.get('id')} has no 'keypoints' field; expected "
                         f"{num_joints} x (x, y, v)")
    kps = np.asarray(ann["keypoints"], dtype=np.float32).reshape(-1, 3)
    if len(kps) != num_joints:
        raise ValueError(f"{ann_file}: annotation {ann['id']} has {len(kps)} keypoints; expected {num_joints}")
    if not np.isfinite(kps).all():
        raise ValueError(f"{ann_file}: annotation {ann['id']} has a non-finite keypoint value")
    width, height = float(img["width"]), float(img["height"])
    labelled = kps[:, 2] > 0
    far = labelled & ((kps[:, 0] < -width) | (kps[:, 0] > 2 * width) | (kps[:, 1] < -height) | (kps[:, 1] > 2 * height))
    if far.any():
        k = int(np.flatnonzero(far)[0])
        raise ValueError(f"{ann_file}: annotation {ann['id']} keypoint {skeleton.names[k]} at ({kps[k, 0]:g}, "
                         f"{kps[k, 1]:g}) lies far outside its {int(width)}x{int(height)} image {img['id']}")
    return kps


def _detection_records(
    path: Path,
    images: dict[int, dict],
    image_dir: Path,
    num_joints: int,
    image_thre: float,
    aspect_ratio: float,
    padding: float,
) -> list[PersonRecord]:
    dets = read_json(path, "detection file")
    if not isinstance(dets, list):
        raise ValueError(f"detection file {path}: expected a JSON list of COCO results, got {type(dets).__name__}")
    if not dets:
        raise ValueError(f"detection file {path} is empty; expected COCO results (image_id, category_id, bbox, score)")
    required = ("image_id", "category_id", "bbox", "score")
    unknown_ids = set()
    records = []
    for i, det in enumerate(dets):
        missing = [k for k in required if not isinstance(det, dict) or k not in det]
        if missing:
            raise ValueError(f"detection file {path}: entry {i} lacks {', '.join(missing)}; expected keys {required}")
        if not isinstance(det["bbox"], (list, tuple)) or len(det["bbox"]) != 4:
            raise ValueError(f"detection file {path}: entry {i} bbox {det['bbox']!r} is not [x, y, w, h]")
        image_id = int(det["image_id"])
        if image_id not in images:
            unknown_ids.add(image_id)
            continue
        x, y, w, h = (float(v) for v in det["bbox"])
        if det["category_id"] != 1 or float(det["score"]) < image_thre or w <= 0 or h <= 0:
            continue
        center, scale = box_to_center_scale((x, y, w, h), aspect_ratio, padding)
        records.append(
            PersonRecord(
                image=str(image_dir / images[image_id]["file_name"]), image_id=image_id, center=center, scale=scale,
                joints=np.zeros((num_joints, 3), dtype=np.float32), bbox=(x, y, w, h), area=w * h,
                score=float(det["score"]),
            )
        )  # fmt: skip
    if unknown_ids:
        shown = ", ".join(map(str, sorted(unknown_ids)[:5]))
        raise ValueError(f"detection file {path}: {len(unknown_ids)} image ids not in the annotation file ({shown})")
    if not records:
        raise ValueError(f"detection file {path}: no person (category 1) boxes with score >= {image_thre}")
    return records


def load_mpii_records(json_file: str | Path, image_dir: str | Path, *, padding: float = 1.25,
                      head_boxes: str | Path | None = None) -> list[PersonRecord]:
    """Person records of an HRNet-style MPII json (``image``, ``center``, ``scale``, ``joints``, ``joints_vis``).

    HRNet conventions: when ``center[0] != -1`` the centre moves down by ``15 * scale`` and the scale is
    multiplied by ``padding``; centre, joints and the optional ``head_box`` ``[x1, y1, x2, y2]`` are 1-based in
    the json and become 0-based; scale is ``(s, s)``. ``bbox`` is the unpadded square ``s * 200`` box around
    the centre. ``image_id`` numbers distinct images in order of first appearance; ``ann_id`` is the entry's
    position in the json. ``head_boxes`` (HRNet's ``gt_valid.mat``, :func:`read_mpii_head_boxes`) gives every
    person its head box where the json has none (HRNet's ``valid.json`` has none).

    Deviation from the reference (docs/METHODS.md §7 item 12): joints with ``joints_vis == 0`` become
    (0, 0, 0) and count as absent, where HRNet keeps their stored coordinates (-2, -2 after 0-basing).
    """
    json_file, image_dir = Path(json_file), Path(image_dir)
    entries = read_json(json_file, "MPII json")
    if not isinstance(entries, list):
        raise ValueError(f"MPII json {json_file}: expected a list of person entries, got {type(entries).__name__}")
    required = ("image", "center", "scale", "joints", "joints_vis")
    image_ids: dict[str, int] = {}
    records = []
    for i, entry in enumerate(entries):
        missing = [k for k in required if not isinstance(entry, dict) or k not in entry]
        if missing:
            raise ValueError(f"MPII json {json_file}: entry {i} lacks {', '.join(missing)}; expected keys {required}")
        center = np.array(entry["center"], dtype=np.float32)
        raw = float(entry["scale"])
        scale = np.array([raw, raw], dtype=np.float32)
        if center[0] != -1:
            center[1] += 15 * raw
            scale = scale * np.float32(padding)
        center -= 1
        joints = np.zeros((len(entry["joints"]), 3), dtype=np.float32)
        joints[:, :2] = np.asarray(entry["joints"], dtype=np.float32)[:, :2] - 1
        joints[:, 2] = np.asarray(entry["joints_vis"], dtype=np.float32)
        joints[joints[:, 2] <= 0] = 0.0
        head = entry.get("head_box")
        side = raw * PIXEL_STD
        records.append(
            PersonRecord(
                image=str(image_dir / entry["image"]), image_id=image_ids.setdefault(entry["image"], len(image_ids)),
                center=center, scale=scale, joints=joints,
                bbox=(float(center[0]) - side / 2, float(center[1]) - side / 2, side, side), area=side * side,
                score=1.0, ann_id=i, head_box=None if head is None else tuple(float(v) - 1 for v in head),
                dataset="mpii",
            )
        )  # fmt: skip
    if head_boxes is not None:
        boxes = read_mpii_head_boxes(head_boxes, len(records))
        records = [replace(r, head_box=tuple(float(v) for v in box)) for r, box in zip(records, boxes)]
    return records


def read_mpii_head_boxes(mat_file: str | Path, num_persons: int | None = None) -> np.ndarray:
    """MPII's PCKh head boxes ``(N, 4)`` (``x1, y1, x2, y2``, 0-based) from HRNet's ``gt_valid.mat``, one per
    person of ``valid.json`` in the same order, as HRNet's MPII evaluation reads them (``headboxes_src``: two
    corners x (x, y) x persons, 1-based). ``num_persons`` checks the count against the json.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    mat_file = Path(mat_file)
    if not mat_file.is_file():
        raise FileNotFoundError(f"MPII head boxes {mat_file} not found (HRNet's gt_valid.mat; `python -m "
                                f"occlusion.download mpii data` fetches it)")
    try:
        boxes = np.asarray(loadmat(str(mat_file))["headboxes_src"], dtype=np.float64)
    except (KeyError, ValueError, OSError, MatReadError) as exc:
        raise ValueError(f"MPII head boxes {mat_file}: expected a MATLAB file with 'headboxes_src' (2 x 2 x N), "
                         f"as HRNet's gt_valid.mat ({type(exc).__name__}: {exc})") from None
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 2):
        raise ValueError(f"MPII head boxes {mat_file}: headboxes_src has shape {boxes.shape}; expected (2, 2, N)")
    if num_persons is not None and boxes.shape[2] != num_persons:
        raise ValueError(f"MPII head boxes {mat_file}: {boxes.shape[2]} boxes for {num_persons} persons in the json")
    return np.concatenate([boxes[0].T, boxes[1].T], axis=1) - 1


def head_boxes_of(records: Sequence[PersonRecord]) -> np.ndarray:
    """The PCKh head boxes ``(N, 4)`` of MPII ``records``; records without one raise, naming the fix."""
    missing = sum(r.head_box is None for r in records)
    if missing:
        raise ValueError(f"{missing} of {len(records)} MPII persons have no head box, which PCKh needs (HRNet's "
                         "valid.json has none): set data.mpii.head_boxes to HRNet's gt_valid.mat")
    return np.array([r.head_box for r in records], dtype=np.float32).reshape(-1, 4)


def jpeg_complete(data: bytes) -> bool:
    """A JPEG's last scan must be followed by the end-of-image marker (OpenCV 4 decodes truncated files)."""
    return data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda") >= 0


def read_image(path: str | Path, rgb: bool = True) -> np.ndarray:
    """Decode an image as uint8 ``H x W x 3`` (RGB, or OpenCV's BGR with ``rgb=False``), ignoring EXIF orientation.

    Same decoder and flags as HRNet's ``cv2.imread(IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION)``. A missing file
    raises ``FileNotFoundError``; an unreadable, corrupt or truncated one raises ``ValueError``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} not found")
    data = path.read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None or (data[:2] == b"\xff\xd8" and not jpeg_complete(data)):
        raise ValueError(f"image {path} is unreadable, corrupt or truncated")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if rgb else image


def normalize(crop: np.ndarray) -> torch.Tensor:
    """uint8 ``H x W x 3`` crop -> float32 ``(3, H, W)``: ``/255`` then ImageNet mean/std per channel, as HRNet.

    The constants are applied in the crop's channel order (HRNet does the same for its BGR models). Done in
    numpy: per-sample torch ops on tensors this small cost milliseconds of dispatch and thread wake-ups.
    """
    x = (crop.astype(np.float32) * np.float32(1 / 255.0) - _MEAN) / _STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def _test_params(record: PersonRecord) -> TransformParams:
    return TransformParams(center=record.center, scale=record.scale, rotation=0.0, flip=False)


class TopDownDataset(Dataset):
    """HRNet top-down samples from :class:`PersonRecord` s.

    Training (``train=True``) draws the docs/METHODS.md §3 transform (half-body, scale, rotation, flip) with a
    per-sample generator ``default_rng((seed, epoch, index))``, so a sample replays exactly; the augmenter
    hook then edits the uint8 crop and its joints. Testing warps the record's box with no randomness.
    ``image_size`` and ``heatmap_size`` are ``(w, h)``.
    """

    def __init__(
        self,
        records: Sequence[PersonRecord],
        *,
        image_size: tuple[int, int] = (192, 256),
        heatmap_size: tuple[int, int] = (48, 64),
        sigma: float = 2.0,
        train: bool = False,
        transform: TransformConfig = TransformConfig(),
        skeleton: Skeleton,
        augmenter: Augmenter | None = None,
        rgb: bool = True,
        seed: int = 0,
    ):
        for name, size in (("image_size", image_size), ("heatmap_size", heatmap_size)):
            if len(size) != 2 or min(size) <= 0:
                raise ValueError(f"{name} = {size!r}: expected (width, height) > 0")
        if sigma <= 0:
            raise ValueError(f"sigma = {sigma!r}: expected a number > 0")
        bad = [i for i, r in enumerate(records) if r.joints.shape != (skeleton.num_joints, 3)]
        if bad:
            raise ValueError(
                f"record {bad[0]} has joints of shape {records[bad[0]].joints.shape}; "
                f"expected ({skeleton.num_joints}, 3) for {skeleton.name}"
            )
        self.records = list(records)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.train = train
        self.transform = transform
        self.skeleton = skeleton
        self.augmenter = augmenter
        self.rgb = rgb
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's random draws (call before each training epoch, like a ``DistributedSampler``)."""
        self.epoch = int(epoch)

    def crop(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The un-normalised test crop (uint8) of record ``index`` and its joints in crop pixels."""
        record = self.records[index]
        image = read_image(record.image, self.rgb)
        return apply_train_transform(image, record.joints, _test_params(record), self.image_size, ())

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        record = self.records[index]
        image = read_image(record.image, self.rgb)
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            params = sample_train_transform(
                record.joints, record.center, record.scale, image.shape[1], self.transform, self.skeleton,
                self.image_size[0] / self.image_size[1], rng,
            )  # fmt: skip
            flip_pairs = self.skeleton.flip_pairs
            crop, joints = apply_train_transform(image, record.joints, params, self.image_size, flip_pairs)
            if self.augmenter is not None:
                crop, joints = self.augmenter(crop, joints, rng)
        else:
            params = _test_params(record)
            crop, joints = apply_train_transform(image, record.joints, params, self.image_size, ())
        target, target_weight = generate_heatmaps(joints, self.image_size, self.heatmap_size, self.sigma)
        return {
            "image": normalize(crop),
            "target": torch.from_numpy(target),
            "target_weight": torch.from_numpy(target_weight),
            "joints": torch.from_numpy(np.asarray(joints, dtype=np.float32)),
            "center": torch.from_numpy(np.asarray(params.center, dtype=np.float32)),
            "scale": torch.from_numpy(np.asarray(params.scale, dtype=np.float32)),
            "score": torch.tensor(record.score, dtype=torch.float32),
            "image_id": torch.tensor(record.image_id, dtype=torch.int64),
            "index": torch.tensor(index, dtype=torch.int64),
            "rotation": torch.tensor(params.rotation, dtype=torch.float32),
        }


def build_crops(
    records: Sequence[PersonRecord], image_size: tuple[int, int], rgb: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Test-time crops of all records: ``(uint8 (N, H, W, 3), joints (N, K, 3) in crop px)``.

    Each image is decoded once and every person crop of it is warped from it (no randomness).
    """
    w, h = int(image_size[0]), int(image_size[1])
    num_joints = records[0].joints.shape[0] if records else 0
    crops = np.zeros((len(records), h, w, 3), dtype=np.uint8)
    joints = np.zeros((len(records), num_joints, 3), dtype=np.float32)
    by_image: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        by_image[record.image].append(i)
    for path, indices in by_image.items():
        image = read_image(path, rgb)
        for i in indices:
            crops[i], joints[i] = apply_train_transform(image, records[i].joints, _test_params(records[i]), (w, h), ())
    return crops, joints


def _fingerprint(records: Sequence[PersonRecord], image_size: tuple[int, int], rgb: bool) -> str:
    digest = hashlib.sha256(f"crops-v1 {int(image_size[0])}x{int(image_size[1])} rgb={rgb}".encode())
    for r in records:
        digest.update(r.image.encode())
        for array in (r.center, r.scale, r.joints):
            digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def load_or_build_crops(
    records: Sequence[PersonRecord], image_size: tuple[int, int], cache_file: str | Path, rgb: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`build_crops`, cached in the ``.npz`` ``cache_file``.

    The cache is keyed by a fingerprint of the records (image paths, centres, scales, joints), the crop size
    and the colour order; a missing, unreadable or stale cache is rebuilt and written atomically.
    """
    cache_file = Path(cache_file)
    fingerprint = _fingerprint(records, image_size, rgb)
    if cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as cached:
                if str(cached["fingerprint"]) == fingerprint:
                    return cached["crops"], cached["joints"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # unreadable cache: rebuild below
    crops, joints = build_crops(records, image_size, rgb)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=f".{cache_file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, crops=crops, joints=joints, fingerprint=np.array(fingerprint))
        os.replace(tmp, cache_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return crops, joints
