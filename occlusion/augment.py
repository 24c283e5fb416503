"""Training-time targeted occlusion augmentations (paper §IV, Table I; docs/METHODS.md §3).

They run on the uint8 input crop after the affine warp, flip, rotation, scale and half-body, with the
joints already in crop pixels, in the order **PartMix -> Blurring -> Cutout -> Multi-keypoint**.
Regions and fillers come from :mod:`occlusion.regions`, the same code the test-time attacks use.

* **Targeted Blurring** / **Targeted Cutout**: with probability ``p`` per person crop, occlude one
  target: a labelled keypoint (disc of radius ``r`` = 6, blur kernel 2r-1 = 11) or one of
  :data:`~occlusion.keypoints.TRAIN_PARTS` (its rectangle, blur kernel 31). Cutout fills with the crop's
  per-channel mean. "Cutout + Blurring" enables both with the same ``p`` and mode (two independent draws,
  blur first).
* **Multi-keypoint**: up to ``max_keypoints`` (5) times, with probability ``p`` (0.2) occlude another
  labelled keypoint, blurred or mean-filled at random. Labels are kept.
* **PartMix**: paste a part S of another training image's first person over part T of this person,
  resized with ``INTER_AREA``; with ``bgr_paste`` the source's BGR pixels go into the RGB crop as the
  reference does.
* **Removal** (``remove``, part-level Blurring/Cutout and PartMix only): every joint inside twice the
  occluded part's box becomes (0, 0, 0), so it gets an empty heatmap and target weight 0.

Sampling is separate from applying, so a figure can replay exactly what the network saw::

    augmenter = build_augmenter(from_dict(AugmentConfig, TABLE1_PRESETS["cutout_p_05"]), get_skeleton("coco"))
    params = augmenter.sample(crop, joints, rng)          # every random decision
    crop2, joints2 = augmenter.apply(crop, joints, params)  # what the network saw
    crop3, joints3 = augmenter(crop, joints, rng)           # sample + apply, for the dataset
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, Sequence

import cv2
import numpy as np

from .config import check
from .keypoints import PARTMIX_PARTS, TRAIN_PARTS, Skeleton
from .occluders.paste import ObjectPaste, ObjectPasteAug
from .regions import (
    Box,
    Occluder,
    Rect,
    apply_occluder,
    joints_in_removal_box,
    keypoint_occluder,
    part_occluder,
    part_rect,
    removal_box,
)

__all__ = [
    "OcclusionAug",
    "MultiKeypointAug",
    "PartMixAug",
    "AugmentConfig",
    "OcclusionParams",
    "MultiKeypointParams",
    "PartMixParams",
    "AugmentParams",
    "Blurring",
    "Cutout",
    "MultiKeypoint",
    "PartMix",
    "PartMixSource",
    "partmix_sources_from_records",
    "AUGMENTATIONS",
    "PIPELINE_ORDER",
    "Augmenter",
    "build_augmenter",
    "TABLE1_PRESETS",
]

# ----------------------------------------------------------------------------------------------- configs


def _check_prob(prob: float) -> None:
    check(0.0 <= prob <= 1.0, "prob", prob, "a probability in [0, 1]")


@dataclass(frozen=True)
class OcclusionAug:
    """Targeted Blurring or Cutout: fire with probability ``prob`` per crop on a keypoint or a part."""

    prob: float
    mode: Literal["keypoint", "parts"] = "keypoint"

    def __post_init__(self) -> None:
        _check_prob(self.prob)
        check(self.mode in ("keypoint", "parts"), "mode", self.mode, "one of 'keypoint', 'parts'")


@dataclass(frozen=True)
class MultiKeypointAug:
    """Multi-keypoint: ``max_keypoints`` tries, each occluding a new keypoint with probability ``prob``."""

    prob: float = 0.2
    max_keypoints: int = 5

    def __post_init__(self) -> None:
        _check_prob(self.prob)
        check(self.max_keypoints >= 1, "max_keypoints", self.max_keypoints, "an integer >= 1")


@dataclass(frozen=True)
class PartMixAug:
    """PartMix with probability ``prob``; ``bgr_paste`` pastes ``cv2.imread``'s BGR pixels unconverted (reference)."""

    prob: float = 0.5
    bgr_paste: bool = True

    def __post_init__(self) -> None:
        _check_prob(self.prob)


@dataclass(frozen=True)
class AugmentConfig:
    """Which targeted augmentations run, plus shared geometry (docs/METHODS.md §3).

    ``remove`` is the reference's ``REMOVE_ANNS`` (Table I ✓/✗); ``radius`` the keypoint disc (6 input px);
    ``part_blur_kernel`` the part blur kernel (31); ``paper_bounds`` keeps the reference's swapped
    keypoint bounds check (docs/METHODS.md §7 item 1). ``objects`` pastes object occluders (docs/METHODS.md §11;
    its own ``labels`` setting, not ``remove``, decides what happens to covered joints).
    """

    blurring: OcclusionAug | None = None
    cutout: OcclusionAug | None = None
    multi_keypoint: MultiKeypointAug | None = None
    partmix: PartMixAug | None = None
    objects: ObjectPasteAug | None = None
    remove: bool = True
    radius: int = 6
    part_blur_kernel: int = 31
    paper_bounds: bool = True

    def __post_init__(self) -> None:
        check(self.radius > 0, "radius", self.radius, "an integer > 0 (input-crop pixels)")
        check(
            self.part_blur_kernel > 0 and self.part_blur_kernel % 2 == 1,
            "part_blur_kernel",
            self.part_blur_kernel,
            "a positive odd integer (Gaussian kernel size)",
        )


# ------------------------------------------------------------------------------------------------ params


@dataclass(frozen=True)
class OcclusionParams:
    """One Blurring/Cutout decision: ``target`` is a keypoint or part name, ``removal`` the 2x box to clear."""

    fired: bool
    target: str | None = None
    occluder: Occluder | None = None
    removal: Box | None = None


@dataclass(frozen=True)
class MultiKeypointParams:
    """The occluded keypoint indices and their occluders, in application order."""

    keypoints: tuple[int, ...] = ()
    occluders: tuple[Occluder, ...] = ()

    @property
    def fired(self) -> bool:
        return bool(self.keypoints)


@dataclass(frozen=True)
class PartMixParams:
    """One PartMix decision; ``source_rect`` is in the source image's pixels, ``target_rect`` in the crop's.

    ``fired`` is the ``U < p`` draw; the paste happens only when ``target_rect`` is set.
    """

    fired: bool
    target_part: str | None = None
    source_part: str | None = None
    source_image: Path | None = None
    source_rect: Rect | None = None
    target_rect: Rect | None = None
    removal: Box | None = None


@dataclass(frozen=True)
class AugmentParams:
    """Every random decision of one :class:`Augmenter` call, one entry per enabled augmentation."""

    names: tuple[str, ...]
    steps: tuple[OcclusionParams | MultiKeypointParams | PartMixParams, ...]


# ------------------------------------------------------------------------------------------------ helpers


def _labelled(joints: np.ndarray) -> np.ndarray:
    return np.flatnonzero(joints[:, 2] > 0)


def _remove(joints: np.ndarray, box: Box | None) -> np.ndarray:
    """Joints inside the 2x removal box become (0, 0, 0) (docs/METHODS.md §3 Removal)."""
    if box is None:
        return joints
    out = joints.copy()
    out[joints_in_removal_box(joints, box)] = 0.0
    return out


def _keypoint_occluder(
    joints: np.ndarray, index: int, filler: str, cfg: AugmentConfig, width: int, height: int
) -> Occluder:
    return keypoint_occluder(
        joints, index, filler, width=width, height=height, radius=cfg.radius, paper_bounds=cfg.paper_bounds
    )


def _occlude(crop: np.ndarray, occluder: Occluder | None) -> np.ndarray:
    if occluder is None or occluder.shape == "none":
        return crop
    return apply_occluder(crop, occluder)


# ------------------------------------------------------------------------------------------ augmentations


class Augmentation(Protocol):
    """What :class:`Augmenter` runs: a draw of every random decision, and its deterministic application."""

    def sample(self, crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator) -> Any: ...

    def apply(self, crop: np.ndarray, joints: np.ndarray, params: Any) -> tuple[np.ndarray, np.ndarray]: ...


class _TargetedOcclusion:
    """Targeted Blurring/Cutout on one keypoint (disc) or one training part (rectangle)."""

    filler: str

    def __init__(self, settings: OcclusionAug, cfg: AugmentConfig, skeleton: Skeleton):
        self.settings, self.cfg, self.skeleton = settings, cfg, skeleton

    def sample(self, crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator) -> OcclusionParams:
        if not rng.random() < self.settings.prob:
            return OcclusionParams(fired=False)
        height, width = crop.shape[:2]
        if self.settings.mode == "keypoint":
            labelled = _labelled(joints)
            if labelled.size == 0:
                return OcclusionParams(fired=True)
            index = int(labelled[rng.integers(labelled.size)])
            occluder = _keypoint_occluder(joints, index, self.filler, self.cfg, width, height)
            return OcclusionParams(fired=True, target=self.skeleton.names[index], occluder=occluder)
        part = TRAIN_PARTS[rng.integers(len(TRAIN_PARTS))]
        occluder = part_occluder(
            joints, part, self.filler, self.skeleton, width=width, height=height, blur_kernel=self.cfg.part_blur_kernel
        )
        removal = removal_box(joints, part, self.skeleton) if self.cfg.remove else None
        return OcclusionParams(fired=True, target=part, occluder=occluder, removal=removal)

    def apply(self, crop: np.ndarray, joints: np.ndarray, params: OcclusionParams) -> tuple[np.ndarray, np.ndarray]:
        return _occlude(crop, params.occluder), _remove(joints, params.removal)


class Blurring(_TargetedOcclusion):
    """Targeted Blurring: Gaussian blur inside the region (kernel 2r-1 for keypoints, 31 for parts)."""

    filler = "blur"


class Cutout(_TargetedOcclusion):
    """Targeted Cutout: the region is filled with the current crop's per-channel mean."""

    filler = "meanout"


class MultiKeypoint:
    """Multi-keypoint: ``min(|K|, max_keypoints)`` tries over the labelled keypoints K; never removes labels."""

    def __init__(self, settings: MultiKeypointAug, cfg: AugmentConfig, skeleton: Skeleton):
        self.settings, self.cfg, self.skeleton = settings, cfg, skeleton

    def sample(self, crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator) -> MultiKeypointParams:
        height, width = crop.shape[:2]
        remaining = [int(i) for i in _labelled(joints)]
        chosen: list[int] = []
        occluders: list[Occluder] = []
        for _ in range(min(len(remaining), self.settings.max_keypoints)):
            if not rng.random() < self.settings.prob:
                continue
            index = remaining.pop(int(rng.integers(len(remaining))))
            filler = ("blur", "meanout")[rng.integers(2)]
            chosen.append(index)
            occluders.append(_keypoint_occluder(joints, index, filler, self.cfg, width, height))
        return MultiKeypointParams(keypoints=tuple(chosen), occluders=tuple(occluders))

    def apply(
        self, crop: np.ndarray, joints: np.ndarray, params: MultiKeypointParams
    ) -> tuple[np.ndarray, np.ndarray]:
        for occluder in params.occluders:
            crop = _occlude(crop, occluder)
        return crop, joints


@dataclass(frozen=True, eq=False)
class PartMixSource:
    """One PartMix source: a training image and its first annotated person's keypoints in image pixels."""

    image_path: Path
    keypoints: np.ndarray


def partmix_sources_from_records(records: Sequence[Any]) -> list[PartMixSource]:
    """One source per training image: its first record (annotation order) with >= 1 labelled keypoint.

    ``records`` are objects with ``.image``, ``.image_id`` and ``.joints`` (K, 3), such as ``data.PersonRecord``.
    """
    sources: dict[Any, PartMixSource] = {}
    for record in records:
        joints = np.asarray(record.joints, dtype=np.float32)
        if record.image_id not in sources and (joints[:, 2] > 0).any():
            sources[record.image_id] = PartMixSource(Path(record.image), joints)
    return list(sources.values())


class PartMix:
    """PartMix (docs/METHODS.md §3): paste part S of a random training person over part T of this crop."""

    max_tries = 100
    """Rejection-sampling bound when looking for a source whose first person has all of S labelled."""
    cache_size = 8
    """Decoded source images kept (LRU)."""

    def __init__(
        self, settings: PartMixAug, cfg: AugmentConfig, skeleton: Skeleton, sources: Sequence[PartMixSource]
    ):
        if not sources:
            raise ValueError(
                "partmix is enabled but no partmix_sources were given; build them with partmix_sources_from_records"
            )
        self.settings, self.cfg, self.skeleton = settings, cfg, skeleton
        self.sources = list(sources)
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()

    def _read(self, path: Path) -> np.ndarray:
        """The source image as ``cv2.imread`` gives it (BGR), from a small LRU cache."""
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"PartMix source image {path} could not be read")
        self._cache[path] = image
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return image

    def _has_part(self, keypoints: np.ndarray, part: str) -> bool:
        return bool((keypoints[list(self.skeleton.part_mapping[part]), 2] > 0).all())

    def sample(self, crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator) -> PartMixParams:
        if not rng.random() < self.settings.prob:
            return PartMixParams(fired=False)
        target = PARTMIX_PARTS[rng.integers(len(PARTMIX_PARTS))]
        if not self._has_part(joints, target):
            return PartMixParams(fired=True, target_part=target)
        height, width = crop.shape[:2]
        target_rect = part_rect(joints, target, self.skeleton, width, height)
        if target_rect is None:  # too few keypoints, or the box lies outside the crop
            return PartMixParams(fired=True, target_part=target)
        others = [p for p in PARTMIX_PARTS if p != target]
        source_part = others[rng.integers(len(others))]
        for _ in range(self.max_tries):
            source = self.sources[rng.integers(len(self.sources))]
            if self._has_part(source.keypoints, source_part):
                break
        else:
            return PartMixParams(fired=True, target_part=target, source_part=source_part)
        src_h, src_w = self._read(source.image_path).shape[:2]
        source_rect = part_rect(source.keypoints, source_part, self.skeleton, src_w, src_h)
        if source_rect is None:
            return PartMixParams(
                fired=True, target_part=target, source_part=source_part, source_image=source.image_path
            )
        return PartMixParams(
            fired=True,
            target_part=target,
            source_part=source_part,
            source_image=source.image_path,
            source_rect=tuple(int(v) for v in source_rect),
            target_rect=tuple(int(v) for v in target_rect),
            removal=removal_box(joints, target, self.skeleton) if self.cfg.remove else None,
        )

    def apply(self, crop: np.ndarray, joints: np.ndarray, params: PartMixParams) -> tuple[np.ndarray, np.ndarray]:
        if params.target_rect is None:
            return crop, joints
        source = self._read(params.source_image)
        if not self.settings.bgr_paste:
            source = cv2.cvtColor(source, cv2.COLOR_BGR2RGB)
        sx0, sy0, sx1, sy1 = params.source_rect
        tx0, ty0, tx1, ty1 = params.target_rect
        patch = cv2.resize(source[sy0:sy1, sx0:sx1], (tx1 - tx0, ty1 - ty0), interpolation=cv2.INTER_AREA)
        out = crop.copy()
        out[ty0:ty1, tx0:tx1] = patch
        return out, _remove(joints, params.removal)


AUGMENTATIONS: dict[str, type] = {
    "partmix": PartMix,
    "blurring": Blurring,
    "cutout": Cutout,
    "multi_keypoint": MultiKeypoint,
    "objects": ObjectPaste,
}
"""Augmentation kinds by their :class:`AugmentConfig` field name."""
PIPELINE_ORDER: tuple[str, ...] = ("partmix", "blurring", "cutout", "multi_keypoint", "objects")
"""docs/METHODS.md §3 step 7; object pastes (§11) run last."""


# ------------------------------------------------------------------------------------------------ pipeline


class Augmenter:
    """The enabled augmentations in pipeline order; ``augmenter(crop, joints, rng) -> (crop, joints)``."""

    def __init__(self, steps: Sequence[tuple[str, Augmentation]]):
        self.steps = list(steps)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.steps)

    def _run(
        self, crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator
    ) -> tuple[AugmentParams, np.ndarray, np.ndarray]:
        params = []
        for _, aug in self.steps:
            p = aug.sample(crop, joints, rng)
            crop, joints = aug.apply(crop, joints, p)
            params.append(p)
        return AugmentParams(self.names, tuple(params)), crop, joints

    def sample(self, crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator) -> AugmentParams:
        """Draw every decision, each on the crop and joints left by the augmentations before it."""
        return self._run(crop, joints, rng)[0]

    def apply(self, crop: np.ndarray, joints: np.ndarray, params: AugmentParams) -> tuple[np.ndarray, np.ndarray]:
        """Replay ``params`` (from :meth:`sample` on the same crop and joints); the inputs are not modified."""
        if params.names != self.names:
            raise ValueError(f"params are for augmentations {params.names}, this augmenter runs {self.names}")
        for (_, aug), p in zip(self.steps, params.steps):
            crop, joints = aug.apply(crop, joints, p)
        return crop, joints

    def __call__(
        self, crop: np.ndarray, joints: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        _, crop, joints = self._run(crop, joints, rng)
        return crop, joints


def build_augmenter(
    cfg: AugmentConfig, skeleton: Skeleton, *, partmix_sources: Sequence[PartMixSource] | None = None
) -> Augmenter:
    """The :class:`Augmenter` for ``cfg``; PartMix needs ``partmix_sources`` (:func:`partmix_sources_from_records`)."""
    steps: list[tuple[str, Augmentation]] = []
    for name in PIPELINE_ORDER:
        settings = getattr(cfg, name)
        if settings is None:
            continue
        if name == "partmix":
            steps.append((name, PartMix(settings, cfg, skeleton, partmix_sources or ())))
        elif name == "objects":
            steps.append((name, ObjectPaste(settings, skeleton)))
        else:
            steps.append((name, AUGMENTATIONS[name](settings, cfg, skeleton)))
    return Augmenter(steps)


# ------------------------------------------------------------------------------------------------ presets


def _occlusion_preset(kinds: tuple[str, ...], prob: float, mode: str, remove: bool = True) -> dict[str, Any]:
    preset: dict[str, Any] = {kind: {"prob": prob, "mode": mode} for kind in kinds}
    preset["remove"] = remove
    return preset


_BLUR, _CUT, _CUTBLUR = ("blurring",), ("cutout",), ("blurring", "cutout")

TABLE1_PRESETS: dict[str, dict[str, Any]] = {
    "blur_k_02": _occlusion_preset(_BLUR, 0.2, "keypoint"),
    "blur_k_05": _occlusion_preset(_BLUR, 0.5, "keypoint"),
    "cutout_k_02": _occlusion_preset(_CUT, 0.2, "keypoint"),
    "cutout_k_05": _occlusion_preset(_CUT, 0.5, "keypoint"),
    "cutblur_k_02": _occlusion_preset(_CUTBLUR, 0.2, "keypoint"),
    "cutblur_k_05": _occlusion_preset(_CUTBLUR, 0.5, "keypoint"),
    "blur_p_02": _occlusion_preset(_BLUR, 0.2, "parts"),
    "blur_p_05": _occlusion_preset(_BLUR, 0.5, "parts"),
    "blur_p_05_keep": _occlusion_preset(_BLUR, 0.5, "parts", remove=False),
    "cutout_p_02": _occlusion_preset(_CUT, 0.2, "parts"),
    "cutout_p_05": _occlusion_preset(_CUT, 0.5, "parts"),
    "cutout_p_05_keep": _occlusion_preset(_CUT, 0.5, "parts", remove=False),
    "cutblur_p_02": _occlusion_preset(_CUTBLUR, 0.2, "parts"),
    "cutblur_p_05": _occlusion_preset(_CUTBLUR, 0.5, "parts"),
    "cutblur_p_05_keep": _occlusion_preset(_CUTBLUR, 0.5, "parts", remove=False),
    "multikeypoint_02": {"multi_keypoint": {"prob": 0.2, "max_keypoints": 5}},
    "partmix_05": {"partmix": {"prob": 0.5, "bgr_paste": True}, "remove": True},
    "partmix_05_keep": {"partmix": {"prob": 0.5, "bgr_paste": True}, "remove": False},
}
"""Table I rows as ``params.yaml`` mappings for :class:`AugmentConfig` ("keep" = ✗ = no label removal).

The three baselines (no augmentation, flip+rot+scale, +half-body) are the empty mapping here; they differ
only in the transform settings.
"""
