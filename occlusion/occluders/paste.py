"""Object-paste training augmentations (docs/METHODS.md §11): Sárándi-style random pastes and a targeted variant.

:class:`ObjectPasteAug` is the ``augment.objects`` entry of a preset; :class:`ObjectPaste` is the step the
:class:`~occlusion.augment.Augmenter` runs last (after Multi-keypoint). Sampling draws every decision into an
:class:`ObjectPasteParams`; applying composites the objects and updates the labels:

* ``labels: keep``: joints unchanged;
* ``labels: visibility``: labelled joints under an object become ``v = 1`` (labelled, not visible);
* ``labels: remove``: labelled joints under an object become ``(0, 0, 0)`` (no heatmap, target weight 0).

HRNet's targets weigh ``v = 1`` and ``v = 2`` alike, so ``visibility`` trains like ``keep`` and matters to
visibility-aware models and the awareness metrics; ``remove`` is the counterpart of Table I's ✓.

Example:
    >>> import numpy as np
    >>> from occlusion.keypoints import get_skeleton
    >>> aug = ObjectPaste(ObjectPasteAug(prob=1.0, mode="keypoint", area=(0.05, 0.05), labels="remove"),
    ...                   get_skeleton("coco"))
    >>> joints = np.zeros((17, 3), np.float32); joints[0] = (48, 30, 2)
    >>> crop = np.full((128, 96, 3), 90, np.uint8)
    >>> params = aug.sample(crop, joints, np.random.default_rng(0))
    >>> out, labels = aug.apply(crop, joints, params)
    >>> params.placements[0].center, labels[0].tolist()
    ((48.0, 30.0), [0.0, 0.0, 0.0])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..config import check
from ..keypoints import TRAIN_PARTS, Skeleton
from .bank import ObjectBank, load_bank
from .place import ObjectPlacement, apply_object, covered_joints, object_mask, sample_placement

__all__ = ["ObjectPasteAug", "ObjectPasteParams", "ObjectPaste", "LABEL_UPDATES", "update_labels"]

LABEL_UPDATES: tuple[str, ...] = ("keep", "visibility", "remove")


@dataclass(frozen=True)
class ObjectPasteAug:
    """Paste objects with probability ``prob`` per crop.

    ``mode``: ``random`` pastes 1 to ``max_objects`` objects (uniform count) at uniform positions (Sárándi et al.
    2018); ``keypoint`` one object on a random labelled keypoint; ``part`` one object on a random training part's
    box centre. Each object covers a log-uniform fraction in ``area`` of the person box and is rotated uniformly in
    ``±max_rotation`` degrees. ``labels`` is one of :data:`LABEL_UPDATES`. ``bank``: ``procedural`` (of
    ``bank_seed``, ``bank_size`` objects) or a bank file (the paper profile's COCO bank).
    """

    prob: float = 0.5
    mode: Literal["random", "keypoint", "part"] = "random"
    max_objects: int = 3
    area: tuple[float, float] = (0.02, 0.15)
    max_rotation: float = 30.0
    labels: Literal["keep", "visibility", "remove"] = "visibility"
    bank: str = "procedural"
    bank_seed: int = 0
    bank_size: int = 48

    def __post_init__(self) -> None:
        check(0.0 <= self.prob <= 1.0, "prob", self.prob, "a probability in [0, 1]")
        check(self.mode in ("random", "keypoint", "part"), "mode", self.mode, "one of 'random', 'keypoint', 'part'")
        check(self.max_objects >= 1, "max_objects", self.max_objects, "an integer >= 1")
        check(len(self.area) == 2 and 0 < self.area[0] <= self.area[1] <= 1, "area", self.area,
              "[low, high] fractions of the person box with 0 < low <= high <= 1")
        check(self.max_rotation >= 0, "max_rotation", self.max_rotation, "degrees >= 0")
        check(self.labels in LABEL_UPDATES, "labels", self.labels, f"one of {', '.join(LABEL_UPDATES)}")
        check(self.bank_size >= 1, "bank_size", self.bank_size, "an integer >= 1")


@dataclass(frozen=True)
class ObjectPasteParams:
    """One object-paste decision: the placements in compositing order (empty when it did not fire)."""

    fired: bool
    placements: tuple[ObjectPlacement, ...] = ()


def update_labels(joints: np.ndarray, mask: np.ndarray, labels: str) -> np.ndarray:
    """``joints`` after an occluder covering ``mask``: unchanged (``keep``), covered labelled joints at ``v = 1``
    (``visibility``) or at ``(0, 0, 0)`` (``remove``). A new array; ``joints`` is untouched."""
    check(labels in LABEL_UPDATES, "labels", labels, f"one of {', '.join(LABEL_UPDATES)}")
    out = np.array(joints, copy=True)
    covered = covered_joints(out, mask)
    if labels == "visibility":
        out[covered, 2] = 1.0
    elif labels == "remove":
        out[covered] = 0.0
    return out


class ObjectPaste:
    """The ``objects`` augmentation step: ``sample(crop, joints, rng)`` then ``apply(crop, joints, params)``."""

    def __init__(self, settings: ObjectPasteAug, skeleton: Skeleton, bank: ObjectBank | None = None):
        self.settings, self.skeleton = settings, skeleton
        self.bank = bank if bank is not None else load_bank(settings.bank, settings.bank_seed, settings.bank_size)

    def _area(self, rng: np.random.Generator) -> float:
        low, high = self.settings.area
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))

    def sample(self, crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator) -> ObjectPasteParams:
        s = self.settings
        if not rng.random() < s.prob:
            return ObjectPasteParams(fired=False)
        height, width = crop.shape[:2]
        if s.mode == "random":
            count, target = int(rng.integers(1, s.max_objects + 1)), None
        elif s.mode == "keypoint":
            labelled = np.flatnonzero(joints[:, 2] > 0)
            if labelled.size == 0:
                return ObjectPasteParams(fired=True)
            count, target = 1, self.skeleton.names[int(labelled[rng.integers(labelled.size)])]
        else:
            count, target = 1, TRAIN_PARTS[int(rng.integers(len(TRAIN_PARTS)))]
        placements = []
        for _ in range(count):
            p = sample_placement(self.bank, joints, self.skeleton, width, height, mode=s.mode, area=self._area(rng),
                                 rng=rng, target=target, max_rotation=s.max_rotation)
            if p is not None:
                placements.append(p)
        return ObjectPasteParams(fired=True, placements=tuple(placements))

    def apply(self, crop: np.ndarray, joints: np.ndarray, params: ObjectPasteParams) -> tuple[np.ndarray, np.ndarray]:
        height, width = crop.shape[:2]
        for p in params.placements:
            crop = apply_object(crop, p, self.bank)
            joints = update_labels(joints, object_mask(p, self.bank, height, width), self.settings.labels)
        return crop, joints
