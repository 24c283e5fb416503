"""Where an object occluder goes (sampling) and how it is drawn (alpha compositing), kept apart so that a placement
replays to the same pixels on any crop of the same size (docs/METHODS.md §11).

A placement is a frozen record: the object, its centre in crop pixels, its scale (crop px per object px) and its
rotation. Its size is given as ``area``: the object's opaque pixels as a fraction of the person box, which on a
top-down crop is the crop without HRNet's 1.25 padding (:func:`person_area`). Drawing warps the RGBA object into
the crop with one affine map (bilinear colour, nearest-neighbour alpha, so the alpha stays 0/255 and the covered
pixels are an exact mask) and composites ``(rgb * a + crop * (255 - a) + 127) // 255``.

Example:
    >>> import numpy as np
    >>> from occlusion.occluders import ObjectBank
    >>> square = np.zeros((4, 4, 4), np.uint8); square[..., 3] = 255
    >>> bank = ObjectBank((square,), ("box",))
    >>> p = ObjectPlacement(0, center=(5.5, 5.5), scale=1.0)  # object centre (1.5, 1.5) -> (5.5, 5.5): pixels 4..7
    >>> out = apply_object(np.full((10, 10, 3), 7, np.uint8), p, bank)
    >>> int(object_mask(p, bank, 10, 10).sum()), int((out == 0).all(2).sum()), bool((out[4:8, 4:8] == 0).all())
    (16, 16, True)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ..config import check
from ..keypoints import PARTS, Skeleton
from ..regions import part_box
from .bank import ObjectBank

__all__ = ["ObjectPlacement", "PLACEMENT_MODES", "person_area", "placement_for_area", "sample_placement",
           "render_object", "object_mask", "apply_object", "covered_joints"]

PLACEMENT_MODES: tuple[str, ...] = ("keypoint", "part", "random")
CROP_PADDING = 1.25
"""HRNet's box padding: the person box is the crop shrunk by this factor on each axis."""


@dataclass(frozen=True)
class ObjectPlacement:
    """One object occluder, fully determined: bank index, centre ``(x, y)`` in crop px, ``scale`` (crop px per
    object px), ``angle`` (degrees, counter-clockwise) and the requested ``area`` fraction it was sized for."""

    object_id: int
    center: tuple[float, float]
    scale: float
    angle: float = 0.0
    area: float = 0.0

    def __post_init__(self) -> None:
        check(self.object_id >= 0, "object_id", self.object_id, "an index >= 0")
        check(self.scale > 0, "scale", self.scale, "a positive scale")


def person_area(width: int, height: int, padding: float = CROP_PADDING) -> float:
    """Area in crop px of the person box of a ``width x height`` top-down crop: ``width * height / padding^2``."""
    return width * height / padding**2


def placement_for_area(bank: ObjectBank, object_id: int, center: tuple[float, float], area: float, width: int,
                       height: int, angle: float = 0.0) -> ObjectPlacement:
    """The placement of ``object_id`` at ``center`` whose opaque pixels cover ``area`` of the person box."""
    check(area > 0, "area", area, "a fraction > 0 of the person box")
    scale = float(np.sqrt(area * person_area(width, height) / bank.opaque_area(object_id)))
    return ObjectPlacement(int(object_id), (float(center[0]), float(center[1])), scale, float(angle), float(area))


def _anchor(joints: np.ndarray, mode: str, target: str | None, skeleton: Skeleton, width: int, height: int,
            rng: np.random.Generator) -> tuple[float, float] | None:
    if mode == "keypoint":
        x, y, v = (float(c) for c in joints[skeleton.index(target)])
        return (x, y) if v > 0 and 0 <= x < width and 0 <= y < height else None
    if mode == "part":
        box = part_box(joints, target, skeleton)
        return None if box is None else (box[0], box[1])
    return float(rng.uniform(0, width)), float(rng.uniform(0, height))


def sample_placement(bank: ObjectBank, joints: np.ndarray, skeleton: Skeleton, width: int, height: int, *,
                     mode: Literal["keypoint", "part", "random"], area: float, rng: np.random.Generator,
                     target: str | None = None, max_rotation: float = 0.0) -> ObjectPlacement | None:
    """Draw one placement: an object (uniform over the bank), centred on keypoint ``target`` (labelled and inside
    the crop), on the centre of part ``target``'s box (:func:`occlusion.regions.part_box`) or uniformly in the crop,
    sized to ``area`` of the person box, rotated uniformly in ``[-max_rotation, max_rotation]``. ``None`` where the
    target is unlabelled or the part has too few keypoints. Draws: object, then (random mode) x, y, then angle."""
    check(mode in PLACEMENT_MODES, "mode", mode, f"one of {', '.join(PLACEMENT_MODES)}")
    if mode == "part":
        check(target in PARTS, "target", target, f"a part: {', '.join(PARTS)}")
    elif mode == "keypoint":
        check(target in skeleton.names, "target", target, f"a {skeleton.name} keypoint")
    object_id = int(rng.integers(len(bank)))
    center = _anchor(joints, mode, target, skeleton, width, height, rng)
    angle = float(rng.uniform(-max_rotation, max_rotation)) if max_rotation > 0 else 0.0
    if center is None:
        return None
    return placement_for_area(bank, object_id, center, area, width, height, angle)


def _matrix(p: ObjectPlacement, shape: tuple[int, int]) -> np.ndarray:
    """Affine map from object pixels to crop pixels: the object's centre goes to ``p.center``."""
    h, w = shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), p.angle, p.scale)
    m[:, 2] += np.array(p.center) - np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    return m


def render_object(p: ObjectPlacement, bank: ObjectBank, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The object warped into a ``height x width`` canvas: uint8 RGB ``(H, W, 3)`` and alpha ``(H, W)`` (0/255)."""
    obj = bank.images[p.object_id]
    m = _matrix(p, obj.shape[:2])
    rgb = cv2.warpAffine(obj[..., :3], m, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = cv2.warpAffine(obj[..., 3], m, (width, height), flags=cv2.INTER_NEAREST, borderValue=0)
    return rgb, alpha


def object_mask(p: ObjectPlacement, bank: ObjectBank, height: int, width: int) -> np.ndarray:
    """Bool ``(height, width)``: the crop pixels the placed object covers (alpha > 0)."""
    return render_object(p, bank, height, width)[1] > 0


def apply_object(image: np.ndarray, p: ObjectPlacement | None, bank: ObjectBank) -> np.ndarray:
    """A new uint8 image with the object composited; ``image`` is untouched, ``None`` returns a copy."""
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"image {image.dtype} {image.shape}: expected uint8 (H, W, 3)")
    if p is None:
        return image.copy()
    rgb, alpha = render_object(p, bank, *image.shape[:2])
    a = alpha.astype(np.uint16)[..., None]
    out = (rgb.astype(np.uint16) * a + image.astype(np.uint16) * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def covered_joints(joints: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Bool ``(K,)``: labelled joints whose pixel ``(int(y), int(x))`` lies inside the crop and under ``mask``."""
    height, width = mask.shape
    x, y = np.floor(joints[:, 0]).astype(int), np.floor(joints[:, 1]).astype(int)
    inside = (joints[:, 2] > 0) & (x >= 0) & (x < width) & (y >= 0) & (y < height)
    out = np.zeros(len(joints), bool)
    out[inside] = mask[y[inside], x[inside]]
    return out
