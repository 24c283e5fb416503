"""Bottom-up training data (docs/METHODS.md §3, §5): full COCO images, HigherHRNet's random affine transform and flip,
heatmap targets at every output resolution, joint indices for the tag loss and the masks of crowd regions and of
annotated people without keypoints.

Training draws rotation U(+-30), scale U[0.75, 1.5] of the short side, translation +-40 (x scale) and flip 0.5
(HigherHRNet's ``RandomAffineTransform`` and ``RandomHorizontalFlip``).
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import cv2
import numpy as np
import torch
from pycocotools.coco import COCO as CocoApi
from torch.utils.data import Dataset

from ..config import check
from ..data import normalize, read_image
from ..keypoints import COCO, Skeleton
from ..transforms import PIXEL_STD, affine_points
from .augment import BottomUpAugmenter

__all__ = [
    "BottomUpTransformConfig",
    "BottomUpTransformParams",
    "sample_bottomup_transform",
    "fixed_bottomup_transform",
    "bottomup_affine",
    "render_heatmaps",
    "tag_joints",
    "load_coco",
    "image_people_and_mask",
    "BottomUpDataset",
]


@dataclass(frozen=True)
class BottomUpTransformConfig:
    """HigherHRNet-W32 512 training augmentation (docs/METHODS.md §5): uniform draws, then flip on the output."""

    max_rotation: float = 30.0
    """Rotation U(-max, max) degrees."""
    min_scale: float = 0.75
    max_scale: float = 1.5
    """The square crop's side is ``U[min_scale, max_scale]`` times the image's short (or long) side."""
    max_translate: float = 40.0
    """Centre shift: an integer in ``[-int(t * scale), int(t * scale))`` pixels per axis, scale in 200 px units."""
    flip_prob: float = 0.5
    scale_type: Literal["short", "long"] = "short"

    def __post_init__(self) -> None:
        check(0.0 <= self.max_rotation <= 180.0, "max_rotation", self.max_rotation, "degrees in [0, 180]")
        check(0.0 < self.min_scale <= self.max_scale, "min_scale", (self.min_scale, self.max_scale),
              "0 < min_scale <= max_scale")  # fmt: skip
        check(self.max_translate >= 0, "max_translate", self.max_translate, "a number >= 0")
        check(0.0 <= self.flip_prob <= 1.0, "flip_prob", self.flip_prob, "a probability in [0, 1]")
        check(self.scale_type in ("short", "long"), "scale_type", self.scale_type, "'short' or 'long'")


@dataclass(frozen=True, eq=False)
class BottomUpTransformParams:
    """One full-image transform: the square of side ``scale * 200`` px centred on ``center``, rotated, flipped."""

    center: np.ndarray
    scale: float
    rotation: float
    flip: bool


def _base_scale(width: int, height: int, scale_type: str) -> float:
    return (min(width, height) if scale_type == "short" else max(width, height)) / PIXEL_STD


def sample_bottomup_transform(
    width: int, height: int, cfg: BottomUpTransformConfig, rng: np.random.Generator
) -> BottomUpTransformParams:
    """Draw scale, rotation, translation and flip in HigherHRNet's order for a ``width x height`` image."""
    aug_scale = rng.random() * (cfg.max_scale - cfg.min_scale) + cfg.min_scale
    scale = _base_scale(width, height, cfg.scale_type) * aug_scale
    rotation = (rng.random() * 2 - 1) * cfg.max_rotation
    center = np.array([width / 2.0, height / 2.0])
    bound = int(cfg.max_translate * scale)
    if bound > 0:
        center += rng.integers(-bound, bound, size=2)
    flip = bool(rng.random() < cfg.flip_prob)
    return BottomUpTransformParams(center=center, scale=float(scale), rotation=float(rotation), flip=flip)


def fixed_bottomup_transform(width: int, height: int, scale_type: str = "short") -> BottomUpTransformParams:
    """No randomness: the square of the short (long) side centred on the image, no rotation or flip."""
    return BottomUpTransformParams(center=np.array([width / 2.0, height / 2.0]),
                                   scale=_base_scale(width, height, scale_type), rotation=0.0, flip=False)  # fmt: skip


def bottomup_affine(center: Sequence[float], scale: float, size: int, rotation: float = 0.0) -> np.ndarray:
    """``(2, 3)`` float64 affine of HigherHRNet's ``RandomAffineTransform`` onto a ``size x size`` output.

    ``p -> R(-rotation) * (size / (200 scale)) * (p - center) + size / 2``: the square of side ``200 scale``
    around ``center`` fills the output; a positive rotation turns the image content counter-clockwise on screen.
    """
    factor = size / (scale * PIXEL_STD)
    rad = np.deg2rad(rotation)
    linear = factor * np.array([[np.cos(rad), np.sin(rad)], [-np.sin(rad), np.cos(rad)]])
    offset = size / 2.0 - linear @ np.asarray(center, dtype=np.float64)
    return np.concatenate([linear, offset[:, None]], axis=1)


def render_heatmaps(joints: np.ndarray, size: int, sigma: float = 2.0) -> np.ndarray:
    """HigherHRNet targets ``(K, size, size)`` from people ``(P, K, 3)`` in output pixels (``HeatmapGenerator``).

    A labelled joint whose truncated position ``(int(x), int(y))`` lies on the map gets an unnormalised Gaussian
    (peak 1) centred there, drawn in the ``6 sigma + 3`` window starting at ``round(int(x) - 3 sigma - 1)``
    (15 x 15 at sigma 2); people are combined by the element-wise maximum.
    """
    joints = np.asarray(joints, dtype=np.float64).reshape(-1, np.shape(joints)[-2], 3)
    maps = np.zeros((joints.shape[1], size, size), dtype=np.float32)
    span = int(np.ceil(6 * sigma + 3))
    for person in joints:
        for k, (x, y, v) in enumerate(person):
            xi, yi = int(x), int(y)
            if v <= 0 or not (0 <= xi < size and 0 <= yi < size):
                continue
            x0, y0 = int(np.round(xi - 3 * sigma - 1)), int(np.round(yi - 3 * sigma - 1))
            x1 = min(int(np.round(xi + 3 * sigma + 2)), x0 + span, size)
            y1 = min(int(np.round(yi + 3 * sigma + 2)), y0 + span, size)
            cx, cy = x0 + 3 * sigma + 1, y0 + 3 * sigma + 1
            xs, ys = np.arange(max(x0, 0), x1), np.arange(max(y0, 0), y1)
            g = np.exp(-((xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2) / (2 * sigma**2))
            window = maps[k, ys[0]:y1, xs[0]:x1]
            np.maximum(window, g.astype(np.float32), out=window)
    return maps


def tag_joints(joints: np.ndarray, size: int, max_people: int = 30) -> np.ndarray:
    """Tag-loss indices ``(max_people, K, 2)`` int64 (HigherHRNet's ``JointsGenerator``, tag per joint).

    Entry ``[p, k]`` is ``(k * size^2 + int(y) * size + int(x), 1)`` for a labelled joint of person ``p`` whose
    truncated position is on the map, else ``(0, 0)``. The reference packs each person's joints to the front;
    slot ``k`` here holds joint ``k``, which gives the same loss. People beyond ``max_people`` are dropped
    (the reference would fail on them).
    """
    joints = np.asarray(joints, dtype=np.float64).reshape(-1, np.shape(joints)[-2], 3)[:max_people]
    out = np.zeros((max_people, joints.shape[1], 2), dtype=np.int64)
    xi, yi = np.trunc(joints[..., 0]).astype(np.int64), np.trunc(joints[..., 1]).astype(np.int64)
    ok = (joints[..., 2] > 0) & (xi >= 0) & (yi >= 0) & (xi < size) & (yi < size)
    k = np.arange(joints.shape[1])[None, :]
    out[: len(joints), :, 0] = np.where(ok, k * size * size + yi * size + xi, 0)
    out[: len(joints), :, 1] = ok
    return out


def load_coco(ann_file: str | Path) -> CocoApi:
    """The ``pycocotools`` index of a COCO annotation file, read without its progress prints."""
    path = Path(ann_file)
    if not path.is_file():
        raise FileNotFoundError(f"COCO annotation file {path} not found")
    with contextlib.redirect_stdout(io.StringIO()):
        return CocoApi(str(path))


def image_people_and_mask(coco: CocoApi, image_id: int, num_joints: int = 17) -> tuple[np.ndarray, np.ndarray]:
    """People ``(P, K, 3)`` float32 (COCO ``v`` as stored) and the loss mask ``(H, W)`` bool of one image.

    As HigherHRNet's ``CocoKeypoints``: the people are the non-crowd annotations (also those with no keypoint)
    and crowd annotations with keypoints, in file order; the mask is False on the segmentation of every crowd
    annotation and of every annotation with ``num_keypoints == 0`` (decoded with ``pycocotools.mask``).
    """
    info = coco.imgs[image_id]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
    valid = np.ones((int(info["height"]), int(info["width"])), dtype=bool)
    people = []
    for ann in anns:
        crowd = bool(ann.get("iscrowd", 0))
        if (crowd or ann.get("num_keypoints", 0) == 0) and ann.get("segmentation"):
            valid &= coco.annToMask(ann) == 0
        if not crowd or ann.get("num_keypoints", 0) > 0:
            kps = np.asarray(ann.get("keypoints") or np.zeros(3 * num_joints), dtype=np.float32).reshape(-1, 3)
            if len(kps) != num_joints:
                raise ValueError(f"annotation {ann.get('id')} of image {image_id} has {len(kps)} keypoints; "
                                 f"expected {num_joints}")  # fmt: skip
            people.append(kps)
    return np.asarray(people, dtype=np.float32).reshape(-1, num_joints, 3), valid


class BottomUpDataset(Dataset):
    """HigherHRNet training samples of the full images of a COCO keypoint file (docs/METHODS.md §3, §5).

    Images with at least one annotation, in file order. A sample: the optional ``augmenter`` on the original image
    (per person instance), the affine transform (drawn with ``default_rng((seed, epoch, index))`` when ``train``,
    else :func:`fixed_bottomup_transform`) to ``input_size`` and to every ``output_sizes`` map, then the flip;
    Gaussian targets (:func:`render_heatmaps`), the warped loss mask (outside the image counts as masked, as in
    HigherHRNet) and the tag indices (:func:`tag_joints`) at the first output size. Returns a dict with
    ``image (3, S, S)`` (ImageNet-normalised RGB), ``heatmaps`` and ``masks`` (lists over ``output_sizes``),
    ``joints (max_people, K, 2)`` and ``index``.
    """

    def __init__(
        self,
        ann_file: str | Path,
        image_dir: str | Path,
        *,
        input_size: int = 512,
        output_sizes: Sequence[int] = (128, 256),
        sigma: float = 2.0,
        max_people: int = 30,
        train: bool = True,
        transform: BottomUpTransformConfig = BottomUpTransformConfig(),
        augmenter: BottomUpAugmenter | None = None,
        skeleton: Skeleton = COCO,
        seed: int = 0,
    ):
        if input_size <= 0 or not output_sizes or min(output_sizes) <= 0:
            raise ValueError(f"input_size = {input_size!r}, output_sizes = {output_sizes!r}: expected sizes > 0")
        if sigma <= 0 or max_people < 1:
            raise ValueError(f"sigma = {sigma!r}, max_people = {max_people!r}: expected sigma > 0, max_people >= 1")
        self.coco = load_coco(ann_file)
        self.image_dir = Path(image_dir)
        self.image_ids = [i for i in self.coco.getImgIds() if self.coco.getAnnIds(imgIds=i)]
        self.input_size = int(input_size)
        self.output_sizes = tuple(int(s) for s in output_sizes)
        self.sigma = float(sigma)
        self.max_people = int(max_people)
        self.train = train
        self.transform = transform
        self.augmenter = augmenter
        self.skeleton = skeleton
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.image_ids)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's random draws (call before each training epoch)."""
        self.epoch = int(epoch)

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The original RGB image, its people ``(P, K, 3)`` and its loss mask ``(H, W)``."""
        image_id = self.image_ids[index]
        image = read_image(self.image_dir / self.coco.imgs[image_id]["file_name"])
        people, mask = image_people_and_mask(self.coco, image_id, self.skeleton.num_joints)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"image {image_id}: the annotation says {mask.shape[::-1]} (w, h), the file is "
                             f"{image.shape[1::-1]}")  # fmt: skip
        return image, people, mask

    def __getitem__(self, index: int) -> dict[str, Any]:
        image, people, mask = self.raw(index)
        height, width = image.shape[:2]
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            if self.augmenter is not None:
                image = self.augmenter(image, people, rng)
            params = sample_bottomup_transform(width, height, self.transform, rng)
        else:
            params = fixed_bottomup_transform(width, height, self.transform.scale_type)
        perm = self.skeleton.flip_permutation()
        heatmaps, masks, tag_source = [], [], None
        for size in self.output_sizes:
            matrix = bottomup_affine(params.center, params.scale, size, params.rotation)
            warped = cv2.warpAffine(mask.astype(np.uint8) * 255, matrix, (size, size)) > 127
            joints = people.copy()
            joints[..., :2] = affine_points(people[..., :2].reshape(-1, 2), matrix).reshape(people.shape[:-1] + (2,))
            if params.flip:
                warped = warped[:, ::-1]
                joints = joints[:, perm]
                joints[..., 0] = size - joints[..., 0] - 1
            heatmaps.append(torch.from_numpy(render_heatmaps(joints, size, self.sigma)))
            masks.append(torch.from_numpy(np.ascontiguousarray(warped, dtype=np.float32)))
            tag_source = joints if tag_source is None else tag_source
        matrix = bottomup_affine(params.center, params.scale, self.input_size, params.rotation)
        crop = cv2.warpAffine(image, matrix, (self.input_size, self.input_size))
        if params.flip:
            crop = crop[:, ::-1]
        return {
            "image": normalize(np.ascontiguousarray(crop)),
            "heatmaps": heatmaps,
            "masks": masks,
            "joints": torch.from_numpy(tag_joints(tag_source, self.output_sizes[0], self.max_people)),
            "index": torch.tensor(index, dtype=torch.int64),
        }
