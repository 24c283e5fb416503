"""HRNet top-down geometry: box centre/scale, affine crops, flip, half-body and Gaussian heatmap targets.

Everything follows the HRNet reference code the paper builds on (docs/METHODS.md §2, §3 and §5):

* a person box becomes a ``center`` and a ``scale`` in units of ``pixel_std`` = 200 px, widened to the
  input aspect ratio (0.75 for 192x256) and padded by 1.25;
* the input crop is ``cv2.warpAffine`` of the image with the three-point affine of (centre, scale, rotation);
* training draws half-body, scale, rotation and flip in that order (:func:`sample_train_transform`) and
  applies them with :func:`apply_train_transform`, so a sample can be replayed from its parameters;
* targets are unnormalised Gaussians with peak 1 in a ``6 sigma + 1`` window (13x13 at sigma 2).

Example:
    >>> center, scale = box_to_center_scale((10.0, 20.0, 30.0, 80.0))
    >>> center.tolist(), scale.tolist()
    ([25.0, 60.0], [0.375, 0.5])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .config import check
from .keypoints import Skeleton

__all__ = [
    "PIXEL_STD",
    "box_to_center_scale",
    "get_affine_transform",
    "affine_points",
    "warp_crop",
    "warp_joints",
    "fliplr_joints",
    "half_body",
    "generate_heatmaps",
    "TransformConfig",
    "TransformParams",
    "sample_train_transform",
    "apply_train_transform",
]

PIXEL_STD = 200.0
"""HRNet's scale unit in pixels."""


def box_to_center_scale(
    box_xywh: Sequence[float], aspect_ratio: float = 0.75, padding: float = 1.25, pixel_std: float = PIXEL_STD
) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale of a ``(x, y, w, h)`` box, as HRNet's ``_xywh2cs``.

    The box is widened (w or h grown) until ``w / h == aspect_ratio`` (input width / input height), divided by
    ``pixel_std`` and multiplied by ``padding``. Returns float32 ``center (2,)`` and ``scale (2,)``.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / pixel_std, h / pixel_std], dtype=np.float32) * np.float32(padding)
    return center, scale


def _rotate(point: np.ndarray, rad: float) -> np.ndarray:
    sn, cs = np.sin(rad), np.cos(rad)
    return np.array([point[0] * cs - point[1] * sn, point[0] * sn + point[1] * cs], dtype=np.float32)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def get_affine_transform(
    center: Sequence[float],
    scale: Sequence[float],
    rotation_deg: float,
    output_size: Sequence[int],
    shift: Sequence[float] = (0.0, 0.0),
    inv: bool = False,
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """The ``(2, 3)`` affine from image pixels to ``output_size = (w, h)`` crop pixels (or back with ``inv``).

    HRNet's three-point construction: the box centre maps to the crop centre, a point half the source width
    (``scale[0] * pixel_std``) above the centre, rotated by ``rotation_deg``, maps to half the output width
    above the crop centre, and a third point completes a right angle. ``scale[1]`` is not used; the box is
    assumed to have the output's aspect ratio. Returns OpenCV's float64 matrix.
    """
    center = np.asarray(center, dtype=np.float32)
    src_size = np.asarray(scale, dtype=np.float32) * np.float32(pixel_std)
    shift_px = src_size * np.asarray(shift, dtype=np.float32)
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    src_dir = _rotate(np.array([0.0, src_size[0] * -0.5], dtype=np.float32), np.pi * rotation_deg / 180.0)

    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center + shift_px
    src[1] = center + src_dir + shift_px
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + np.array([0.0, dst_w * -0.5], dtype=np.float32)
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inv else cv2.getAffineTransform(src, dst)


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine to ``(N, 2)`` points; returns ``(N, 2)`` in the points' dtype."""
    points = np.asarray(points)
    out = points[:, :2].astype(np.float64) @ np.asarray(matrix, dtype=np.float64)[:, :2].T + matrix[:, 2]
    return out.astype(points.dtype if points.dtype.kind == "f" else np.float64)


def warp_crop(
    image: np.ndarray, center: Sequence[float], scale: Sequence[float], rotation_deg: float, output_size: Sequence[int]
) -> np.ndarray:
    """The ``output_size = (w, h)`` input crop: ``cv2.warpAffine``, bilinear, constant 0 border (HRNet)."""
    matrix = get_affine_transform(center, scale, rotation_deg, output_size)
    return cv2.warpAffine(image, matrix, (int(output_size[0]), int(output_size[1])), flags=cv2.INTER_LINEAR)


def warp_joints(joints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map the labelled joints (``v > 0``) of a ``(K, 3)`` array through ``matrix``; unlabelled stay (0, 0, 0)."""
    out = np.array(joints, dtype=np.float32, copy=True)
    labelled = out[:, 2] > 0
    out[labelled, :2] = affine_points(out[labelled, :2], matrix)
    return out


def fliplr_joints(joints: np.ndarray, image_width: int, flip_pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Mirror ``(K, 3)`` joints of a horizontally flipped image: ``x -> width - 1 - x``, swap left/right pairs.

    As HRNet's ``fliplr_joints``, the result is multiplied by the visibility, so unlabelled joints stay (0, 0, 0).
    """
    out = np.array(joints, dtype=np.float32, copy=True)
    out[:, 0] = image_width - 1 - out[:, 0]
    for a, b in flip_pairs:
        out[[a, b]] = out[[b, a]]
    out[out[:, 2] <= 0] = 0.0
    return out


def half_body(
    joints: np.ndarray, skeleton: Skeleton, aspect_ratio: float, pixel_std: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """Half-body box (docs/METHODS.md §3 step 2): ``(center, scale)`` of the upper or lower body, or ``None``.

    The labelled upper-body joints (``skeleton.upper_body``) are chosen if a standard normal draw is below 0.5
    and more than 2 exist; otherwise the lower-body joints if more than 2 exist, else the upper ones. Fewer
    than 2 selected joints give ``None``. The centre is the joints' mean, the box their extent widened to
    ``aspect_ratio`` and multiplied by 1.5.
    """
    joints = np.asarray(joints, dtype=np.float32)
    labelled = joints[:, 2] > 0
    is_upper = np.zeros(len(joints), dtype=bool)
    is_upper[list(skeleton.upper_body)] = True
    upper, lower = joints[labelled & is_upper, :2], joints[labelled & ~is_upper, :2]
    if rng.standard_normal() < 0.5 and len(upper) > 2:
        selected = upper
    else:
        selected = lower if len(lower) > 2 else upper
    if len(selected) < 2:
        return None
    center = selected.mean(axis=0).astype(np.float32)
    w, h = (selected.max(axis=0) - selected.min(axis=0)).tolist()
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / pixel_std, h / pixel_std], dtype=np.float32) * np.float32(1.5)
    return center, scale


def generate_heatmaps(
    joints: np.ndarray, image_size: Sequence[int], heatmap_size: Sequence[int], sigma: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """HRNet Gaussian targets ``(K, H, W)`` and ``target_weight (K, 1)`` from ``(K, 3)`` input-crop joints.

    ``mu = int(x / stride + 0.5)`` with ``stride = image_size / heatmap_size``; the Gaussian
    ``exp(-d^2 / (2 sigma^2))`` (peak 1, unnormalised) is drawn in the window ``[int(mu - 3 sigma),
    int(mu + 3 sigma + 1))``. The weight is 1 for ``v > 0``, else 0 (and the map stays 0); it is also 0 when
    the window lies entirely off the map.
    """
    joints = np.asarray(joints, dtype=np.float32)
    hm_w, hm_h = int(heatmap_size[0]), int(heatmap_size[1])
    stride = np.array([image_size[0] / hm_w, image_size[1] / hm_h], dtype=np.float64)
    radius = sigma * 3
    mu = np.trunc(joints[:, :2].astype(np.float64) / stride + 0.5)  # int() of HRNet: truncation toward 0
    ul = np.trunc(mu - radius)
    br = np.trunc(mu + radius + 1)
    off_map = (ul[:, 0] >= hm_w) | (ul[:, 1] >= hm_h) | (br[:, 0] < 0) | (br[:, 1] < 0)
    weight = ((joints[:, 2] > 0) & ~off_map).astype(np.float32)

    peak = ul + (2 * radius + 1) // 2  # centre of HRNet's Gaussian patch, placed at ul
    xs, ys = np.arange(hm_w, dtype=np.float64), np.arange(hm_h, dtype=np.float64)
    in_x = (xs >= ul[:, :1]) & (xs < br[:, :1])  # (K, W)
    in_y = (ys >= ul[:, 1:]) & (ys < br[:, 1:])  # (K, H)
    gx = np.exp(-((xs - peak[:, :1]) ** 2) / (2 * sigma**2)) * in_x
    gy = np.exp(-((ys - peak[:, 1:]) ** 2) / (2 * sigma**2)) * in_y
    heatmaps = (gy[:, :, None] * gx[:, None, :] * weight[:, None, None]).astype(np.float32)
    return heatmaps, weight[:, None]


@dataclass(frozen=True)
class TransformConfig:
    """Top-down training augmentation (docs/METHODS.md §3, §5); defaults are HRNet-W32 COCO.

    Table I baselines: no augmentation ``TransformConfig(flip=False, rotation_factor=0, scale_factor=0,
    half_body_prob=0)``; flip+rot+scale ``TransformConfig(half_body_prob=0)``; +half-body ``TransformConfig()``.
    """

    flip: bool = True
    flip_prob: float = 0.5
    rotation_factor: float = 45.0
    """Standard deviation in degrees; the draw is clipped to +-2x."""
    rotation_prob: float = 0.6
    scale_factor: float = 0.35
    """Standard deviation of the scale multiplier around 1, clipped to [1 - sf, 1 + sf]."""
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8
    """Half-body needs strictly more labelled joints than this."""

    def __post_init__(self) -> None:
        check(isinstance(self.flip, bool), "flip", self.flip, "true or false")
        for name in ("flip_prob", "rotation_prob", "half_body_prob"):
            value = getattr(self, name)
            check(0.0 <= value <= 1.0, name, value, "a probability in [0, 1]")
        check(0.0 <= self.rotation_factor <= 180.0, "rotation_factor", self.rotation_factor, "degrees in [0, 180]")
        check(0.0 <= self.scale_factor < 1.0, "scale_factor", self.scale_factor, "a number in [0, 1)")
        check(
            isinstance(self.half_body_min_joints, int) and self.half_body_min_joints >= 0,
            "half_body_min_joints",
            self.half_body_min_joints,
            "an integer >= 0",
        )


@dataclass(frozen=True, eq=False)
class TransformParams:
    """One sampled training transform. ``center`` is in the (flipped, if ``flip``) image's pixels."""

    center: np.ndarray
    scale: np.ndarray
    rotation: float
    flip: bool


def sample_train_transform(
    joints: np.ndarray,
    center: Sequence[float],
    scale: Sequence[float],
    image_width: int,
    cfg: TransformConfig,
    skeleton: Skeleton,
    aspect_ratio: float,
    rng: np.random.Generator,
) -> TransformParams:
    """Draw half-body, scale, rotation and flip in HRNet's order (docs/METHODS.md §3 steps 2-5).

    Half-body with ``cfg.half_body_prob`` when more than ``cfg.half_body_min_joints`` joints are labelled;
    scale ``s * clip(N(0,1) * sf + 1, 1 - sf, 1 + sf)``; rotation ``clip(N(0,1) * rf, -2 rf, 2 rf)`` with
    ``cfg.rotation_prob``, else 0; flip with ``cfg.flip_prob`` moves the centre to ``width - 1 - x``.
    """
    joints = np.asarray(joints, dtype=np.float32)
    center = np.array(center, dtype=np.float32)
    scale = np.array(scale, dtype=np.float32)
    if np.count_nonzero(joints[:, 2] > 0) > cfg.half_body_min_joints and rng.random() < cfg.half_body_prob:
        box = half_body(joints, skeleton, aspect_ratio, PIXEL_STD, rng)
        if box is not None:
            center, scale = box
    sf, rf = cfg.scale_factor, cfg.rotation_factor
    scale = scale * np.float32(np.clip(rng.standard_normal() * sf + 1, 1 - sf, 1 + sf))
    rotation = float(np.clip(rng.standard_normal() * rf, -2 * rf, 2 * rf)) if rng.random() < cfg.rotation_prob else 0.0
    flip = bool(cfg.flip and rng.random() < cfg.flip_prob)
    if flip:
        center[0] = image_width - 1 - center[0]
    return TransformParams(center=center, scale=scale, rotation=rotation, flip=flip)


def apply_train_transform(
    image: np.ndarray,
    joints: np.ndarray,
    params: TransformParams,
    image_size: Sequence[int],
    flip_pairs: Sequence[tuple[int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """Flip (image and joints) if ``params.flip``, then warp to ``image_size``: ``(uint8 crop, joints in crop px)``."""
    if params.flip:
        joints = fliplr_joints(joints, image.shape[1], flip_pairs)
        image = cv2.flip(image, 1)
    matrix = get_affine_transform(params.center, params.scale, params.rotation, image_size)
    crop = cv2.warpAffine(image, matrix, (int(image_size[0]), int(image_size[1])), flags=cv2.INTER_LINEAR)
    return crop, warp_joints(joints, matrix)
