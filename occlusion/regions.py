"""Where an occluder goes and how it is filled: the single implementation shared by the test-time attacks
(:mod:`occlusion.attacks`) and the training augmentations (:mod:`occlusion.augment`), docs/METHODS.md §1-§3.

Everything works in pixels of the image the keypoints live in (the input crop for top-down models).

* **Keypoint occluder**: a disc of radius ``r`` (6 input px by default) around the float keypoint ``(x, y)``:
  pixel ``(i, j)`` is inside when ``(i - y)^2 + (j - x)^2 <= r^2``. Its blur kernel is ``2r - 1`` (11 at r = 6,
  the code's value; the paper text says 9).
* **Part occluder**: the rectangle ``[x0, x1) x [y0, y1)`` of a part box ``(cx, cy, W, H)`` with corners
  ``int(clip(cx -/+ W/2, 0, width))`` and ``int(clip(cy -/+ H/2, 0, height))``. Boxes follow the reference's
  rules (:func:`part_box`); the part blur kernel is 31.
* **Fillers**: ``blackout`` (zeros), ``meanout`` (the per-channel mean of the whole current image, truncated to
  uint8, black warp padding included) and ``blur`` (``cv2.GaussianBlur`` of the whole image with OpenCV's automatic
  sigma and reflect101 borders, copied inside the region).

Example:
    >>> import numpy as np
    >>> kps = np.zeros((17, 3), np.float32); kps[0] = (5, 5, 2)
    >>> occ = keypoint_occluder(kps, 0, "blackout", width=12, height=12, radius=2)
    >>> int(apply_occluder(np.full((12, 12, 3), 9, np.uint8), occ).sum() // 9)  # 12*12*3 minus 13 disc px * 3
    393
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from .config import check
from .keypoints import FILLERS, PARTS, Skeleton

__all__ = [
    "Box",
    "Rect",
    "Occluder",
    "disc_mask",
    "part_box",
    "part_rect",
    "keypoint_occluder",
    "part_occluder",
    "region_mask",
    "apply_occluder",
    "removal_box",
    "joints_in_removal_box",
]

Box = tuple[float, float, float, float]
"""A part box ``(cx, cy, W, H)``: centre and full extents, unclipped."""
Rect = tuple[int, int, int, int]
"""A half-open pixel rectangle ``(x0, y0, x1, y1)``: columns ``x0 <= j < x1``, rows ``y0 <= i < y1``."""

HEAD_SCALE = 1.2
"""COCO head box: both extents of the five head keypoints' bounding rectangle times 1.2."""
PART_BLUR_KERNEL = 31
"""Gaussian kernel of part-level blur (OpenCV's automatic sigma 5.0)."""


@dataclass(frozen=True)
class Occluder:
    """One occlusion, fully determined: its region (``shape``) and how the region is filled (``filler``).

    ``shape="none"`` leaves the image unchanged (unlabelled target, failed bounds check, too few keypoints).
    ``center``/``radius`` describe a disc, ``rect`` a half-open rectangle; ``blur_kernel`` is the odd Gaussian
    kernel of the ``blur`` filler (0 for the other fillers).
    """

    shape: Literal["none", "disc", "rect"]
    filler: Literal["blur", "blackout", "meanout"]
    center: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.0
    rect: Rect = (0, 0, 0, 0)
    blur_kernel: int = 0

    def __post_init__(self) -> None:
        check(self.shape in ("none", "disc", "rect"), "shape", self.shape, "one of 'none', 'disc', 'rect'")
        check(self.filler in FILLERS, "filler", self.filler, f"one of {', '.join(FILLERS)}")
        if self.shape != "none" and self.filler == "blur":
            check(
                self.blur_kernel > 0 and self.blur_kernel % 2 == 1,
                "blur_kernel",
                self.blur_kernel,
                "a positive odd integer for the blur filler",
            )


def _check_filler(filler: str) -> None:
    if filler not in FILLERS:
        raise ValueError(f"unknown filler {filler!r}; allowed: {', '.join(FILLERS)}")


def _check_part(part: str) -> None:
    if part not in PARTS:
        raise KeyError(f"unknown part {part!r}; allowed: {', '.join(PARTS)}")


def disc_mask(height: int, width: int, center_xy: tuple[float, float], radius: float) -> np.ndarray:
    """Bool ``(height, width)`` mask of the pixels ``(i, j)`` with ``(i - y)^2 + (j - x)^2 <= radius^2``."""
    x, y = (float(v) for v in center_xy)
    rows, cols = np.ogrid[:height, :width]
    return (rows - y) ** 2 + (cols - x) ** 2 <= float(radius) ** 2


# ------------------------------------------------------------------------------------------- part boxes


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The reference's ``D(a, b)``: ``|a - b|`` per axis, each at least a quarter of the other axis."""
    d = np.abs(a - b)
    return np.maximum(d, 0.25 * d[::-1])


def _minrect(points: list[np.ndarray]) -> Box | None:
    """Bounding rectangle of at least 2 points (centre = bbox midpoint, extents = max - min, no margin)."""
    if len(points) < 2:
        return None
    pts = np.stack(points)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    (cx, cy), (w, h) = (lo + hi) / 2.0, hi - lo
    return float(cx), float(cy), float(w), float(h)


def _box(center: np.ndarray, extents: np.ndarray) -> Box:
    return float(center[0]), float(center[1]), float(extents[0]), float(extents[1])


def _limb_box(root: np.ndarray | None, mid: np.ndarray | None, end: np.ndarray | None) -> Box | None:
    """Arm (shoulder, elbow, wrist) or leg (hip, knee, ankle) box by which of the three keypoints are labelled.

    The reference's ``D3(a, b, c)`` adds ``|b - c|`` only when ``c`` is present, which never happens here: with
    all three present the box is their bounding rectangle, so the two-keypoint rules reduce to ``D``.
    """
    if root is not None and mid is not None and end is not None:
        return _minrect([root, mid, end])
    if mid is not None and end is not None:
        return _box(mid, 2.0 * _dist(end, mid))
    if mid is not None and root is not None:
        return _box(mid, 2.0 * _dist(root, mid))
    if root is not None and end is not None:
        return _box((root + end) / 2.0, _dist(end, root))
    return None


def part_box(keypoints: np.ndarray, part: str, skeleton: Skeleton) -> Box | None:
    """Box ``(cx, cy, W, H)`` of ``part`` from the labelled (``v > 0``) keypoints, unclipped (docs/METHODS.md §1).

    * head: COCO, the bounding rectangle of the labelled head keypoints with both extents x1.2; MPII, needs
      head_top and upper_neck, centre at their midpoint, extents ``(2 D.x, D.y)``;
    * hip: needs both hips, centre at mid-hip, extents ``2 D(left_hip, right_hip)``;
    * arms and legs: the bounding rectangle of all three joints, else two-joint rules (:func:`_limb_box`);
    * upper_body, lower_body, left_side, right_side, corpus: bounding rectangle of ``skeleton.box_parts[part]``.

    Bounding rectangles need at least 2 labelled keypoints. Returns ``None`` where the rule has too few.
    """
    _check_part(part)
    kps = np.asarray(keypoints, dtype=np.float64)
    present = {i: kps[i, :2] for i in range(len(kps)) if kps[i, 2] > 0}

    def at(name: str) -> np.ndarray | None:
        return present.get(skeleton.index(name))

    if part == "head" and "head_top" in skeleton.names:
        top, neck = at("head_top"), at("upper_neck")
        if top is None or neck is None:
            return None
        d = _dist(top, neck)
        return _box((top + neck) / 2.0, np.array([2.0 * d[0], d[1]]))
    if part == "hip":
        hips = [present.get(i) for i in skeleton.part_mapping["hip"]]
        if any(h is None for h in hips):
            return None
        return _box((hips[0] + hips[1]) / 2.0, 2.0 * _dist(hips[0], hips[1]))
    if part in ("left_arm", "right_arm", "left_leg", "right_leg"):
        side = part.split("_")[0]
        joints = ("shoulder", "elbow", "wrist") if part.endswith("arm") else ("hip", "knee", "ankle")
        return _limb_box(*(at(f"{side}_{j}") for j in joints))
    box = _minrect([present[i] for i in skeleton.box_parts[part] if i in present])
    if part == "head" and box is not None:
        cx, cy, w, h = box
        return cx, cy, w * HEAD_SCALE, h * HEAD_SCALE
    return box


def part_rect(keypoints: np.ndarray, part: str, skeleton: Skeleton, width: int, height: int) -> Rect | None:
    """Half-open pixel rectangle of :func:`part_box`, corners ``int(clip(., 0, size))``; ``None`` if empty."""
    box = part_box(keypoints, part, skeleton)
    if box is None:
        return None
    cx, cy, w, h = box
    x0, x1 = (int(np.clip(v, 0, width)) for v in (cx - w / 2.0, cx + w / 2.0))
    y0, y1 = (int(np.clip(v, 0, height)) for v in (cy - h / 2.0, cy + h / 2.0))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


# --------------------------------------------------------------------------------------------- occluders


def keypoint_occluder(
    keypoints: np.ndarray,
    index: int,
    filler: str,
    *,
    width: int,
    height: int,
    radius: int = 6,
    paper_bounds: bool = True,
) -> Occluder:
    """Disc of ``radius`` around keypoint ``index``, blur kernel ``2 radius - 1`` (docs/METHODS.md §2).

    Shape ``"none"`` if the keypoint is unlabelled or fails the bounds check. ``paper_bounds=True`` keeps the
    reference's swapped check (occlude only if ``0 <= x < height`` and ``0 <= y < width``: on 192x256 crops
    keypoints with ``y >= 192`` are never occluded, while some just right of the crop are); ``False`` uses the
    corrected ``0 <= x < width``, ``0 <= y < height`` (docs/METHODS.md §7 item 1).
    """
    _check_filler(filler)
    if int(radius) != radius or radius < 1:
        raise ValueError(f"radius {radius!r}: expected an integer >= 1 (input pixels)")
    x, y, v = (float(c) for c in np.asarray(keypoints)[index])
    x_limit, y_limit = (height, width) if paper_bounds else (width, height)
    if v <= 0 or not (0 <= x < x_limit and 0 <= y < y_limit):
        return Occluder("none", filler)
    kernel = 2 * int(radius) - 1 if filler == "blur" else 0
    return Occluder("disc", filler, center=(x, y), radius=float(radius), blur_kernel=kernel)


def part_occluder(
    keypoints: np.ndarray,
    part: str,
    filler: str,
    skeleton: Skeleton,
    *,
    width: int,
    height: int,
    blur_kernel: int = PART_BLUR_KERNEL,
) -> Occluder:
    """Rectangle of ``part`` (:func:`part_rect`), blurred with ``blur_kernel`` (31); ``"none"`` if it is empty."""
    _check_filler(filler)
    if blur_kernel < 1 or blur_kernel % 2 == 0:
        raise ValueError(f"blur_kernel {blur_kernel!r}: expected a positive odd integer")
    rect = part_rect(keypoints, part, skeleton, width, height)
    if rect is None:
        return Occluder("none", filler)
    return Occluder("rect", filler, rect=rect, blur_kernel=blur_kernel if filler == "blur" else 0)


def region_mask(occluder: Occluder, height: int, width: int) -> np.ndarray:
    """Bool ``(height, width)`` mask of the pixels ``occluder`` covers."""
    if occluder.shape == "disc":
        return disc_mask(height, width, occluder.center, occluder.radius)
    mask = np.zeros((height, width), dtype=bool)
    if occluder.shape == "rect":
        x0, y0, x1, y1 = (max(int(v), 0) for v in occluder.rect)
        mask[y0:y1, x0:x1] = True
    return mask


def apply_occluder(image: np.ndarray, occluder: Occluder) -> np.ndarray:
    """A new uint8 image with ``occluder`` applied; ``image`` is left untouched.

    blackout fills 0; meanout fills the per-channel mean of the whole ``image`` truncated to uint8; blur copies
    ``cv2.GaussianBlur(image, (k, k), 0)`` (automatic sigma, reflect101 borders) into the region.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"image dtype {image.dtype}: expected uint8")
    out = image.copy()
    mask = region_mask(occluder, image.shape[0], image.shape[1])
    if not mask.any():
        return out
    if occluder.filler == "blackout":
        out[mask] = 0
    elif occluder.filler == "meanout":
        out[mask] = image.mean(axis=(0, 1)).astype(np.uint8)
    else:
        k = occluder.blur_kernel
        out[mask] = cv2.GaussianBlur(image, (k, k), 0)[mask]
    return out


# ------------------------------------------------------------------------------------------------ removal


def removal_box(keypoints: np.ndarray, part: str, skeleton: Skeleton) -> Box | None:
    """The part box whose 2x extent :func:`joints_in_removal_box` tests (docs/METHODS.md §3 Removal).

    ``None`` where :func:`part_box` is ``None`` or ``W == 0``: the reference's zero-size guard tests ``W == 0``
    twice, so a box with ``W > 0`` and ``H == 0`` still removes the joints on the line ``y == cy``.
    """
    box = part_box(keypoints, part, skeleton)
    if box is None or box[2] == 0:
        return None
    return box


def joints_in_removal_box(keypoints: np.ndarray, box: Box) -> np.ndarray:
    """Bool ``(K,)``: ``cx - W < x <= cx + W`` and ``cy - H <= y <= cy + H``, i.e. inside twice the part box.

    Only coordinates are tested; unlabelled joints at (0, 0) may test True, which is harmless when the caller
    zeroes the selected joints.
    """
    cx, cy, w, h = box
    kps = np.asarray(keypoints, dtype=np.float64)
    x, y = kps[:, 0], kps[:, 1]
    return (cx - w < x) & (x <= cx + w) & (cy - h <= y) & (y <= cy + h)
