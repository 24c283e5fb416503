"""Targeted augmentations of the bottom-up training on full images (docs/METHODS.md §3 "Bottom-up", §7 item 8).

They run on the full original image *before* the affine transform, in the order blur -> cutout -> PartMix; for
each augmentation every person instance in turn draws its own ``U < p``. Each is an :mod:`occlusion.augment` class
wrapped in :class:`PerInstance` and run by an :class:`occlusion.augment.Augmenter`, with label removal off (the
reference's blur and cutout never remove labels and its bottom-up configs all set ``REMOVE_ANNS`` false). The
reference ignores its ``USE`` switches and runs all three at p = 0.5 in every config, its "baseline" included;
here each is enabled explicitly, and Table III's baseline row is the official checkpoint (:data:`TABLE3_PRESETS`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..augment import (
    Augmentation,
    AugmentConfig,
    Augmenter,
    AugmentParams,
    OcclusionAug,
    PartMixAug,
    PartMixSource,
    build_augmenter,
    partmix_sources_from_records,
)
from ..config import check
from ..data import load_coco_records
from ..keypoints import COCO, Skeleton

__all__ = [
    "BOTTOMUP_ORDER",
    "BottomUpAugConfig",
    "TABLE3_PRESETS",
    "BottomUpAugParams",
    "PerInstance",
    "BottomUpAugmenter",
    "build_bottomup_augmenter",
]

BOTTOMUP_ORDER: tuple[str, ...] = ("blurring", "cutout", "partmix")
"""docs/METHODS.md §3: blur -> cutout -> PartMix, each over every person instance in turn."""


@dataclass(frozen=True)
class BottomUpAugConfig:
    """Targeted augmentations of the bottom-up training (docs/METHODS.md §3 "Bottom-up"); each is off unless given.

    Blurring / Cutout (``OcclusionAug``: ``prob`` per person instance, ``mode`` keypoint or parts) and PartMix
    (``PartMixAug``) run in the order blur -> cutout -> PartMix; none removes labels. ``radius`` is the keypoint
    disc (6 original-image pixels), ``part_blur_kernel`` the part blur kernel (31), ``paper_bounds`` the
    reference's swapped keypoint bounds check (on full images it skips ``x >= height`` or ``y >= width``).
    """

    blurring: OcclusionAug | None = None
    cutout: OcclusionAug | None = None
    partmix: PartMixAug | None = None
    radius: int = 6
    part_blur_kernel: int = 31
    paper_bounds: bool = True

    def __post_init__(self) -> None:
        check(self.radius > 0, "radius", self.radius, "an integer > 0 (original-image pixels)")
        check(self.part_blur_kernel > 0 and self.part_blur_kernel % 2 == 1, "part_blur_kernel",
              self.part_blur_kernel, "a positive odd integer (Gaussian kernel size)")  # fmt: skip

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the enabled augmentations, in pipeline order."""
        return tuple(name for name in BOTTOMUP_ORDER if getattr(self, name) is not None)

    def augment_config(self) -> AugmentConfig:
        """The equivalent :class:`~occlusion.augment.AugmentConfig` (label removal off)."""
        return AugmentConfig(blurring=self.blurring, cutout=self.cutout, partmix=self.partmix, remove=False,
                             radius=self.radius, part_blur_kernel=self.part_blur_kernel,
                             paper_bounds=self.paper_bounds)  # fmt: skip


TABLE3_PRESETS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "blur_k_05": {"blurring": {"prob": 0.5, "mode": "keypoint"}},
    "cutout_p_05_keep": {"cutout": {"prob": 0.5, "mode": "parts"}},
    "partmix_05_keep": {"partmix": {"prob": 0.5, "bgr_paste": True}},
}
"""Table III rows as :class:`BottomUpAugConfig` mappings. The paper's "HigherHRNet" row (67.1 AP) is the official
checkpoint :data:`~occlusion.bottomup.checkpoint.OFFICIAL_CHECKPOINT`, not a run of ``baseline``; ``baseline``
trains with no targeted augmentation, for a like-for-like comparison with retrained rows."""


@dataclass(frozen=True)
class BottomUpAugParams:
    """Every draw of one :class:`BottomUpAugmenter` call: per augmentation, one params object per person instance."""

    names: tuple[str, ...]
    steps: tuple[tuple[Any, ...], ...]


class PerInstance:
    """One :mod:`occlusion.augment` augmentation on every person instance of a full image ``people (P, K, 3)``.

    :meth:`sample` draws the instances' decisions in turn, :meth:`apply` occludes them in turn, each on the image
    the instances before it left (so the cutout mean is that of the running image). The draws depend on the image's
    size only, never on its pixels, so drawing them all first is the same as interleaving draws and occlusions.
    The people are returned unchanged: labels are never removed.
    """

    def __init__(self, augmentation: Augmentation):
        self.augmentation = augmentation

    def sample(self, image: np.ndarray, people: np.ndarray, rng: np.random.Generator) -> tuple[Any, ...]:
        """One params object per instance, in instance order."""
        return tuple(self.augmentation.sample(image, joints, rng) for joints in np.asarray(people, np.float32))

    def apply(self, image: np.ndarray, people: np.ndarray, params: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Replay ``params`` from :meth:`sample`; returns the new image and ``people``."""
        if len(params) != len(people):
            raise ValueError(f"params are for {len(params)} people; the image has {len(people)}")
        for joints, p in zip(np.asarray(people, dtype=np.float32), params):
            image, _ = self.augmentation.apply(image, joints, p)
        return image, people


class BottomUpAugmenter:
    """The enabled augmentations of a :class:`BottomUpAugConfig` on a full image and its people ``(P, K, 3)``.

    An :class:`occlusion.augment.Augmenter` over :data:`BOTTOMUP_ORDER`, each augmentation :class:`PerInstance`:
    each person instance in turn draws ``U < p`` and its target (a labelled keypoint, a training part, or PartMix's
    parts). Only the image changes: labels are never removed.
    """

    def __init__(
        self,
        cfg: BottomUpAugConfig,
        skeleton: Skeleton = COCO,
        *,
        partmix_sources: Sequence[PartMixSource] | None = None,
    ):
        built = dict(build_augmenter(cfg.augment_config(), skeleton, partmix_sources=partmix_sources).steps)
        self.augmenter = Augmenter([(name, PerInstance(built[name])) for name in cfg.enabled])

    @property
    def names(self) -> tuple[str, ...]:
        return self.augmenter.names

    def sample(self, image: np.ndarray, people: np.ndarray, rng: np.random.Generator) -> BottomUpAugParams:
        """Draw every decision (each augmentation on the image left by the ones before it)."""
        params = self.augmenter.sample(image, people, rng)
        return BottomUpAugParams(params.names, params.steps)

    def apply(self, image: np.ndarray, people: np.ndarray, params: BottomUpAugParams) -> np.ndarray:
        """Replay ``params`` from :meth:`sample` on the same image and people; the input is not modified."""
        return self.augmenter.apply(image, people, AugmentParams(params.names, params.steps))[0]

    def __call__(self, image: np.ndarray, people: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.augmenter(image, people, rng)[0]


def build_bottomup_augmenter(
    cfg: BottomUpAugConfig, ann_file: str | Path, image_dir: str | Path, skeleton: Skeleton = COCO
) -> BottomUpAugmenter | None:
    """The augmenter of ``cfg`` (None when nothing is enabled); PartMix sources come from the training annotations."""
    if not cfg.enabled:
        return None
    sources = partmix_sources_from_records(load_coco_records(ann_file, image_dir)) if cfg.partmix else None
    return BottomUpAugmenter(cfg, skeleton, partmix_sources=sources)
