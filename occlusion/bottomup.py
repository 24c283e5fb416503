"""Bottom-up pose estimation for paper Table III: HigherHRNet-W32 with associative embedding (REFERENCE_SPEC §2,
§3, §5, §7 item 8), on the timm HRNet backbone of :mod:`occlusion.models`.

* **Model** (:func:`create_bottomup_model`): the stride-4 HRNet branch, a 1x1 conv to K heatmaps + K tag maps at
  1/4 resolution, one deconvolution module (features concatenated with the first-stage output ->
  ConvTranspose 4x4 stride 2 -> BN -> ReLU -> 4 basic residual blocks) and a 1x1 conv to K heatmaps at 1/2
  resolution. ``higherhrnet_w32`` (28.6M parameters) and ``higherhrnet_w18_small`` (the CPU stand-in).
  :func:`load_bottomup_checkpoint` imports the official ``pose_higher_hrnet_w32_512.pth`` by an explicit key table.
* **Data** (:class:`BottomUpDataset`): full images; training draws rotation U(+-30), scale U[0.75, 1.5] of the
  short side, translation +-40 (x scale) and flip 0.5 (HigherHRNet's ``RandomAffineTransform`` and
  ``RandomHorizontalFlip``); heatmap targets at every output resolution, joint indices for the tag loss and the
  masks of crowd regions and of annotated people without keypoints.
* **Targeted augmentations** (:class:`BottomUpAugmenter`): on the full original image *before* the affine
  transform, in the order blur -> cutout -> PartMix; every person instance draws its own ``U < p``. They reuse
  :mod:`occlusion.augment` with label removal off (the reference's blur and cutout never remove labels and its
  bottom-up configs all set ``REMOVE_ANNS`` false). The reference ignores its ``USE`` switches and runs all three
  at p = 0.5 in every config, its "baseline" included; here each is enabled explicitly (REFERENCE_SPEC §7
  item 8), and Table III's baseline row is the official checkpoint (:data:`TABLE3_PRESETS`).
* **Loss** (:func:`bottomup_loss`): masked heatmap MSE at both stages, associative-embedding push/pull ('exp',
  weights 1e-3) at stage 1 only.
* **Inference** (:func:`predict_bottomup`): resize with HigherHRNet's ``get_multi_scale_size`` at scale 1, flip
  test, the 1/4 output upsampled to 1/2 and averaged with it, both projected to the input size, then
  :func:`group_people` (NMS by 5x5 max-pooling, top 30 per joint, grouping by tag with the Hungarian matching,
  quarter-pixel adjust, refine) and the inverse affine back to the image.
* **Attack** (:func:`occlude_image_instances`): a keypoint or part occluder applied to every annotated instance of
  the full image in turn (REFERENCE_SPEC §2 bottom-up attack).

Example:
    >>> model = create_bottomup_model("higherhrnet_w18_small", seed=0).eval()  # doctest: +SKIP
    >>> people = predict_bottomup(model, image, input_size=256)  # doctest: +SKIP
    >>> coco_keypoint_eval(gt_file, people_to_coco(image_id, people))  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from pycocotools.coco import COCO as CocoApi
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.utils.data import Dataset

from .augment import (
    AugmentConfig,
    Blurring,
    Cutout,
    OcclusionAug,
    PartMix,
    PartMixAug,
    PartMixSource,
    partmix_sources_from_records,
)
from .config import check
from .data import load_coco_records, normalize, read_image
from .evaluate import coco_keypoint_eval
from .keypoints import COCO, Skeleton
from .models import LAYOUTS, CheckpointError, LoadReport, _read_state_dict, create_model, init_head_weights
from .regions import apply_occluder, keypoint_occluder, part_occluder
from .transforms import PIXEL_STD, affine_points, get_affine_transform

__all__ = [
    "COCO_JOINT_ORDER",
    "BOTTOMUP_ORDER",
    "BottomUpSpec",
    "BOTTOMUP_MODELS",
    "HigherHead",
    "BottomUpNet",
    "create_bottomup_model",
    "OFFICIAL_CHECKPOINT",
    "load_bottomup_checkpoint",
    "BottomUpAugConfig",
    "TABLE3_PRESETS",
    "BottomUpAugParams",
    "BottomUpAugmenter",
    "build_bottomup_augmenter",
    "occlude_image_instances",
    "BottomUpTransformConfig",
    "BottomUpTransformParams",
    "sample_bottomup_transform",
    "fixed_bottomup_transform",
    "bottomup_affine",
    "render_heatmaps",
    "tag_joints",
    "image_people_and_mask",
    "BottomUpDataset",
    "heatmap_loss",
    "ae_loss",
    "bottomup_loss",
    "GroupingConfig",
    "Person",
    "multi_scale_size",
    "resize_image",
    "predict_maps",
    "group_people",
    "decode_bottomup",
    "predict_bottomup",
    "people_to_coco",
    "evaluate_bottomup",
]

COCO_JOINT_ORDER: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)
"""Order in which HigherHRNet's grouping visits the COCO joints (head, shoulders, hips, then the limbs)."""


# --- model ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BottomUpSpec:
    """A registered bottom-up model: the top-down model whose HRNet backbone it uses and its default input side."""

    backbone: str
    """A :func:`occlusion.models.create_model` name with an HRNet backbone (its stride-4 branch is used)."""
    input_size: int = 512
    num_basic_blocks: int = 4


BOTTOMUP_MODELS: dict[str, BottomUpSpec] = {
    "higherhrnet_w32": BottomUpSpec("hrnet_w32", input_size=512),
    "higherhrnet_w18_small": BottomUpSpec("hrnet_w18_small", input_size=256),
}
"""HigherHRNet-W32 512 (the paper's Table III model, 28.6M parameters) and a CPU stand-in on HRNet-W18-small."""


class HigherHead(nn.Module):
    """HigherHRNet's head: ``final[0]`` (1x1 conv to K heatmaps + K tags at 1/4), ``deconv`` (the first-stage
    output concatenated to the features, ConvTranspose 4x4 stride 2 + BN + ReLU, then basic residual blocks) and
    ``final[1]`` (1x1 conv to K heatmaps at 1/2). The deconvolution keeps the branch's channel count (32 for W32).
    Initialised as HigherHRNet: conv weights normal(std=0.001), biases 0, BN weight 1 and bias 0.
    """

    def __init__(self, channels: int, num_joints: int, num_basic_blocks: int = 4):
        from timm.models.resnet import BasicBlock  # here, not at the top: reading params.yaml need not load timm

        super().__init__()
        self.num_joints = num_joints
        self.final = nn.ModuleList([nn.Conv2d(channels, 2 * num_joints, 1), nn.Conv2d(channels, num_joints, 1)])
        self.deconv = nn.Sequential(
            nn.Sequential(
                nn.ConvTranspose2d(channels + 2 * num_joints, channels, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ),
            *[BasicBlock(channels, channels) for _ in range(num_basic_blocks)],
        )
        init_head_weights(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        first = self.final[0](x)
        return [first, self.final[1](self.deconv(torch.cat([x, first], dim=1)))]


class BottomUpNet(nn.Module):
    """``(N, 3, H, W) -> [(N, 2K, H/4, W/4) heatmaps + tags, (N, K, H/2, W/2) heatmaps]``; sides multiples of 32."""

    input_multiple = 32

    def __init__(self, backbone: nn.Module, head: HigherHead):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, w = x.shape[-2:]
        m = self.input_multiple
        if h % m or w % m:
            raise ValueError(f"input of width {w} and height {h}: this model needs both sides to be multiples of {m}")
        return self.head(self.backbone(x)[0])


def _spec(name: str) -> BottomUpSpec:
    if name not in BOTTOMUP_MODELS:
        raise KeyError(f"unknown bottom-up model {name!r}; registered: {', '.join(sorted(BOTTOMUP_MODELS))}")
    return BOTTOMUP_MODELS[name]


def create_bottomup_model(
    name: str, *, num_joints: int = 17, pretrained: bool = False, seed: int | None = None
) -> BottomUpNet:
    """Build a :data:`BOTTOMUP_MODELS` model; ``pretrained`` loads timm's ImageNet backbone weights.

    With ``seed``, initialisation draws from a forked torch CPU RNG seeded with it (the global RNG is untouched).
    """
    spec = _spec(name)

    def build() -> BottomUpNet:
        backbone = create_model(spec.backbone, num_joints=num_joints, pretrained=pretrained).backbone
        head = HigherHead(backbone.feature_info.channels()[0], num_joints, spec.num_basic_blocks)
        return BottomUpNet(backbone, head)

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


# --- checkpoint import ---------------------------------------------------------------------------------------

OFFICIAL_CHECKPOINT = "pose_higher_hrnet_w32_512.pth"
"""The official HigherHRNet-W32 512 COCO checkpoint (github.com/HRNet/HigherHRNet-Human-Pose-Estimation model zoo,
Google Drive / OneDrive only): Table III's baseline row (67.1 AP)."""

_BACKBONE_ROOTS = LAYOUTS["official_hrnet"].backbone_roots
_OFFICIAL_RULES: tuple[tuple[str, str], ...] = (
    (r"final_layers\.([01])\.(weight|bias)", r"head.final.\1.\2"),
    (r"deconv_layers\.0\.0\.([01])\.(\w+)", r"head.deconv.0.\1.\2"),
    (r"deconv_layers\.0\.([1-9]\d*)\.0\.(.+)", r"head.deconv.\1.\2"),
)
"""Official head names -> this module's: ``final_layers.i`` is ``head.final.i``; the deconvolution module
``deconv_layers.0`` is ``Sequential(Sequential(ConvTranspose, BN, ReLU), Sequential(BasicBlock) x 4)``, so its
basic blocks carry an extra ``.0``."""
_NATIVE_RULES: tuple[tuple[str, str], ...] = (
    (r"head\.final\.([01])\.(weight|bias)", r"final_layers.\1.\2"),
    (r"head\.deconv\.0\.([01])\.(\w+)", r"deconv_layers.0.0.\1.\2"),
    (r"head\.deconv\.([1-9]\d*)\.(.+)", r"deconv_layers.0.\1.0.\2"),
)


def _rename(key: str, rules: Sequence[tuple[str, str]], prefix_from: str, prefix_to: str) -> str | None:
    for pattern, repl in rules:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, repl, key)
    if key.startswith(prefix_from) and key[len(prefix_from):].split(".", 1)[0] in _BACKBONE_ROOTS:
        return prefix_to + key[len(prefix_from):]
    return None


def load_bottomup_checkpoint(model: BottomUpNet, path_or_state_dict: str | Path | Mapping[str, Any]) -> LoadReport:
    """Strictly load an official HigherHRNet checkpoint (``final_layers.*``, ``deconv_layers.*`` and the HRNet
    backbone at top level with timm's names) or a saved :class:`BottomUpNet` ``state_dict`` into ``model``.

    The file is read with ``torch.load(..., weights_only=True)``; ``state_dict``/``model`` wrappers and a
    ``module.`` prefix are removed. Every model tensor must be given with the model's shape (BN
    ``num_batches_tracked`` excepted) and no checkpoint tensor may be left over; otherwise
    :class:`~occlusion.models.CheckpointError` names the missing, unexpected and mis-shaped keys.
    """
    state, source = _read_state_dict(path_or_state_dict)
    official = any(k.startswith(("final_layers.", "deconv_layers.")) for k in state)
    native = any(k.startswith("head.") for k in state)
    if official == native:
        raise CheckpointError(
            f"{source}: neither the official HigherHRNet layout (final_layers.*, deconv_layers.*) nor a native "
            f"BottomUpNet state_dict (head.*, backbone.*); first keys: {', '.join(list(state)[:5])}"
        )
    layout = "official_higherhrnet" if official else "native"

    def to_model(key: str) -> str | None:
        return _rename(key, _OFFICIAL_RULES, "", "backbone.") if official else key

    def to_source(key: str) -> str:
        return (_rename(key, _NATIVE_RULES, "backbone.", "") or key) if official else key

    target = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    mismatched: dict[str, str] = {}
    unexpected = []
    for key, value in state.items():
        dest = to_model(key)
        if dest is None or dest not in target:
            unexpected.append(key)
        elif value.shape != target[dest].shape:
            mismatched[dest] = f"{key} {tuple(value.shape)} vs model {tuple(target[dest].shape)}"
        else:
            mapped[dest] = value
    absent = [to_source(k) for k in target if k not in mapped and k not in mismatched]
    missing = [k for k in absent if not k.endswith(".num_batches_tracked")]
    shapes = list(mismatched.values())
    problems = []
    for what, keys in (("with another shape", shapes), ("missing", missing), ("unexpected", unexpected)):
        if keys:
            more = f", ... ({len(keys)} in all)" if len(keys) > 5 else ""
            problems.append(f"{len(keys)} {what}: {'; '.join(keys[:5])}{more}")
    if problems:
        raise CheckpointError(f"{source} ({layout} layout) does not fit the model: " + "; ".join(problems))
    model.load_state_dict(mapped, strict=False)
    return LoadReport(source=source, layout=layout, loaded=len(mapped), missing=tuple(absent))


# --- targeted augmentations on full images -------------------------------------------------------------------


@dataclass(frozen=True)
class BottomUpAugConfig:
    """Targeted augmentations of the bottom-up training (REFERENCE_SPEC §3 "Bottom-up"); each is off unless given.

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


BOTTOMUP_ORDER: tuple[str, ...] = ("blurring", "cutout", "partmix")
"""REFERENCE_SPEC §3: blur -> cutout -> PartMix, each over every person instance in turn."""

TABLE3_PRESETS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "blur_k_05": {"blurring": {"prob": 0.5, "mode": "keypoint"}},
    "cutout_p_05_keep": {"cutout": {"prob": 0.5, "mode": "parts"}},
    "partmix_05_keep": {"partmix": {"prob": 0.5, "bgr_paste": True}},
}
"""Table III rows as :class:`BottomUpAugConfig` mappings. The paper's "HigherHRNet" row (67.1 AP) is the official
checkpoint :data:`OFFICIAL_CHECKPOINT`, not a run of ``baseline``; ``baseline`` trains with no targeted
augmentation, for a like-for-like comparison with retrained rows."""


@dataclass(frozen=True)
class BottomUpAugParams:
    """Every draw of one :class:`BottomUpAugmenter` call: per augmentation, one params object per person instance."""

    names: tuple[str, ...]
    steps: tuple[tuple[Any, ...], ...]


class BottomUpAugmenter:
    """The enabled augmentations of a :class:`BottomUpAugConfig` on a full image and its people ``(P, K, 3)``.

    For each augmentation in :data:`BOTTOMUP_ORDER`, each person instance in turn draws ``U < p`` and its target
    (a labelled keypoint, a training part, or PartMix's parts) with the :mod:`occlusion.augment` classes, on the
    image left by the instances before it (so the cutout mean is that of the running image). Only the image
    changes: labels are never removed.
    """

    def __init__(
        self,
        cfg: BottomUpAugConfig,
        skeleton: Skeleton = COCO,
        *,
        partmix_sources: Sequence[PartMixSource] | None = None,
    ):
        aug_cfg = cfg.augment_config()
        kinds = {"blurring": Blurring, "cutout": Cutout}
        self.steps: list[tuple[str, Any]] = []
        for name in cfg.enabled:
            settings = getattr(cfg, name)
            if name == "partmix":
                self.steps.append((name, PartMix(settings, aug_cfg, skeleton, partmix_sources or ())))
            else:
                self.steps.append((name, kinds[name](settings, aug_cfg, skeleton)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.steps)

    def _run(
        self, image: np.ndarray, people: np.ndarray, rng: np.random.Generator
    ) -> tuple[BottomUpAugParams, np.ndarray]:
        steps = []
        for _, aug in self.steps:
            drawn = []
            for joints in np.asarray(people, dtype=np.float32):
                params = aug.sample(image, joints, rng)
                image, _ = aug.apply(image, joints, params)
                drawn.append(params)
            steps.append(tuple(drawn))
        return BottomUpAugParams(self.names, tuple(steps)), image

    def sample(self, image: np.ndarray, people: np.ndarray, rng: np.random.Generator) -> BottomUpAugParams:
        """Draw every decision (each on the image left by the draws before it)."""
        return self._run(image, people, rng)[0]

    def apply(self, image: np.ndarray, people: np.ndarray, params: BottomUpAugParams) -> np.ndarray:
        """Replay ``params`` from :meth:`sample` on the same image and people; the input is not modified."""
        if params.names != self.names or any(len(s) != len(people) for s in params.steps):
            raise ValueError(f"params are for augmentations {params.names} on "
                             f"{[len(s) for s in params.steps]} people; this augmenter runs {self.names} "
                             f"on {len(people)}")  # fmt: skip
        for (_, aug), drawn in zip(self.steps, params.steps):
            for joints, p in zip(np.asarray(people, dtype=np.float32), drawn):
                image, _ = aug.apply(image, joints, p)
        return image

    def __call__(self, image: np.ndarray, people: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._run(image, people, rng)[1]


def build_bottomup_augmenter(
    cfg: BottomUpAugConfig, ann_file: str | Path, image_dir: str | Path, skeleton: Skeleton = COCO
) -> BottomUpAugmenter | None:
    """The augmenter of ``cfg`` (None when nothing is enabled); PartMix sources come from the training annotations."""
    if not cfg.enabled:
        return None
    sources = partmix_sources_from_records(load_coco_records(ann_file, image_dir)) if cfg.partmix else None
    return BottomUpAugmenter(cfg, skeleton, partmix_sources=sources)


# --- bottom-up attack ----------------------------------------------------------------------------------------


def occlude_image_instances(
    image: np.ndarray,
    keypoints: np.ndarray,
    target: str,
    filler: str,
    *,
    radius: int = 6,
    paper_bounds: bool = True,
    skeleton: Skeleton = COCO,
) -> np.ndarray:
    """The bottom-up attack (REFERENCE_SPEC §2): occlude ``target`` of every instance in ``keypoints (P, K, 3)``.

    Instances are attacked in turn on the full original image, each on the image the previous ones left (meanout
    recomputes the mean every time). A keypoint target is a disc of ``radius`` (blur kernel ``2 radius - 1``); a
    part target its rectangle (blur kernel 31). ``paper_bounds`` keeps the reference's swapped bounds check, which
    on a full image skips keypoints with ``x >= height`` or ``y >= width``. Returns a new image. (The reference's
    bottom-up ``--cutout`` defaults to meanout, ``MEAN_COLORING`` True; here the filler is always explicit.)
    """
    kind = skeleton.target_kind(target)
    height, width = image.shape[:2]
    out = image.copy()
    for kps in np.asarray(keypoints, dtype=np.float32).reshape(-1, skeleton.num_joints, 3):
        if kind == "keypoint":
            occluder = keypoint_occluder(kps, skeleton.index(target), filler, width=width, height=height,
                                         radius=radius, paper_bounds=paper_bounds)  # fmt: skip
        else:
            occluder = part_occluder(kps, target, filler, skeleton, width=width, height=height)
        if occluder.shape != "none":
            out = apply_occluder(out, occluder)
    return out


# --- training data -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BottomUpTransformConfig:
    """HigherHRNet-W32 512 training augmentation (REFERENCE_SPEC §5): uniform draws, then flip on the output."""

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


def _load_coco(ann_file: str | Path) -> CocoApi:
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
    """HigherHRNet training samples of the full images of a COCO keypoint file (REFERENCE_SPEC §3, §5).

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
        self.coco = _load_coco(ann_file)
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


# --- loss ----------------------------------------------------------------------------------------------------


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample masked MSE ``(N,)``: ``mean over K, H, W of (pred - target)^2 * mask`` (HigherHRNet)."""
    if pred.shape != target.shape:
        raise ValueError(f"heatmaps of shape {tuple(pred.shape)} vs targets {tuple(target.shape)}")
    return (((pred.float() - target) ** 2) * mask[:, None]).mean(dim=(1, 2, 3))


def ae_loss(tags: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Associative-embedding push and pull ``(N,)`` ('exp' type) of tag maps ``(N, K, H, W)`` and indices
    ``(N, M, K, 2)`` from :func:`tag_joints`.

    For the P people with a labelled joint: reference tag ``t_p`` = mean of the person's tags;
    ``pull = sum_p mean_j (tag_pj - t_p)^2 / P``; ``push = sum_{p != q} exp(-(t_p - t_q)^2) / (P (P - 1)) / 2``
    (0 when P < 2; both 0 when P = 0). HigherHRNet sums over all pairs and subtracts P, the same value; summing
    the off-diagonal pairs avoids that cancellation in float32.
    """
    n = tags.shape[0]
    flat = tags.reshape(n, -1).float()
    pushes, pulls = [], []
    for i in range(n):
        idx, vis = joints[i, ..., 0].long(), joints[i, ..., 1] > 0
        keep = vis.any(dim=1)
        idx, vis = idx[keep], vis[keep].float()
        if not len(idx):
            zero = flat.new_zeros(())
            pushes.append(zero)
            pulls.append(zero)
            continue
        values = flat[i][idx]
        counts = vis.sum(dim=1)
        means = (values * vis).sum(dim=1) / counts
        pulls.append((((values - means[:, None]) ** 2 * vis).sum(dim=1) / counts).mean())
        p = len(means)
        if p < 2:
            pushes.append(flat.new_zeros(()))
        else:
            off_diagonal = ~torch.eye(p, dtype=torch.bool, device=means.device)
            diff = (means[:, None] - means[None, :])[off_diagonal]
            pushes.append(torch.exp(-(diff**2)).sum() / ((p - 1) * p) * 0.5)
    return torch.stack(pushes), torch.stack(pulls)


def bottomup_loss(
    outputs: Sequence[torch.Tensor],
    heatmaps: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    joints: torch.Tensor,
    *,
    push_factor: float = 1e-3,
    pull_factor: float = 1e-3,
    heatmap_factors: Sequence[float] = (1.0, 1.0),
) -> dict[str, torch.Tensor]:
    """HigherHRNet's training loss: heatmap MSE at both stages, AE push/pull on the stage-1 tags (REFERENCE_SPEC §5).

    ``outputs`` from :class:`BottomUpNet` (stage 1 holds K heatmaps then K tag maps); ``heatmaps``/``masks`` per
    stage; ``joints`` the stage-1 tag indices. Returns batch means ``heatmaps_0``, ``heatmaps_1``, ``push``, ``pull``
    and their sum ``loss``.
    """
    if not len(outputs) == len(heatmaps) == len(masks) == len(heatmap_factors):
        raise ValueError(f"{len(outputs)} outputs, {len(heatmaps)} heatmaps, {len(masks)} masks and "
                         f"{len(heatmap_factors)} heatmap factors: expected one of each per stage")  # fmt: skip
    k = outputs[-1].shape[1]
    losses = {f"heatmaps_{s}": (heatmap_loss(out[:, :k], hm, m) * f).mean()
              for s, (out, hm, m, f) in enumerate(zip(outputs, heatmaps, masks, heatmap_factors))}  # fmt: skip
    push, pull = ae_loss(outputs[0][:, k:], joints)
    losses["push"] = push.mean() * push_factor
    losses["pull"] = pull.mean() * pull_factor
    losses["loss"] = sum(losses.values())
    return losses


# --- inference -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupingConfig:
    """HigherHRNet test settings (REFERENCE_SPEC §5): NMS kernel 5, top 30 per joint, thresholds and switches."""

    max_people: int = 30
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    use_detection_val: bool = True
    ignore_too_much: bool = True
    nms_kernel: int = 5
    adjust: bool = True
    refine: bool = True

    def __post_init__(self) -> None:
        check(self.max_people >= 1, "max_people", self.max_people, "an integer >= 1")
        check(self.nms_kernel >= 1 and self.nms_kernel % 2 == 1, "nms_kernel", self.nms_kernel, "an odd integer >= 1")
        check(self.tag_threshold > 0, "tag_threshold", self.tag_threshold, "a number > 0")


@dataclass(frozen=True, eq=False)
class Person:
    """One detected person: ``keypoints (K, 3)`` = x, y in image pixels and the heatmap value; ``score`` = the mean
    heatmap value of its K joints after grouping (0 for joints it lacked; before refine), as HigherHRNet."""

    keypoints: np.ndarray
    score: float


def multi_scale_size(width: int, height: int, input_size: int) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """HigherHRNet's ``get_multi_scale_size`` at scale 1: ``((w, h) of the input, centre, scale)``.

    The short side becomes ``input_size`` (rounded up to a multiple of 64), the long side the same factor rounded
    up to a multiple of 64; ``centre`` is ``(int(w / 2 + 0.5), int(h / 2 + 0.5))`` and ``scale`` the source box in
    200 px units for :func:`~occlusion.transforms.get_affine_transform`.
    """
    side = int((input_size + 63) // 64 * 64)
    center = np.array([int(width / 2.0 + 0.5), int(height / 2.0 + 0.5)], dtype=np.float64)
    if width < height:
        size = (side, int((side / width * height + 63) // 64 * 64))
        scale = np.array([width / PIXEL_STD, size[1] / size[0] * width / PIXEL_STD])
    else:
        size = (int((side / height * width + 63) // 64 * 64), side)
        scale = np.array([size[0] / size[1] * height / PIXEL_STD, height / PIXEL_STD])
    return size, center, scale


def resize_image(image: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network input of a full image (``resize_align_multi_scale`` at scale 1): ``(resized, centre, scale)``."""
    size, center, scale = multi_scale_size(image.shape[1], image.shape[0], input_size)
    matrix = get_affine_transform(center, scale, 0.0, size)
    return cv2.warpAffine(image, matrix, size), center, scale


def predict_maps(
    model: nn.Module, image: np.ndarray, *, skeleton: Skeleton = COCO, flip_test: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps ``(K, H, W)`` and tags ``(K, H, W, L)`` of a resized uint8 RGB input, projected to its size.

    As HigherHRNet's ``get_multi_stage_outputs`` + ``aggregate_results`` with ``PROJECT2IMAGE``: the stage-1
    output is upsampled (bilinear) to stage 2's resolution, the two stages' heatmaps are averaged, the flipped
    input's maps are flipped back with the joints' left/right permutation, the heatmaps of both passes averaged
    and their tags kept side by side (L = 2 with ``flip_test``, else 1), all projected to the input size.
    """
    param = next(model.parameters())
    x = normalize(image)[None].to(device=param.device, dtype=param.dtype)
    batch = torch.cat([x, x.flip(-1)]) if flip_test else x
    with torch.no_grad():
        outputs = model(batch)
    k = outputs[-1].shape[1]
    first = F.interpolate(outputs[0].float(), size=outputs[-1].shape[-2:], mode="bilinear", align_corners=False)
    heat = (first[:, :k] + outputs[-1].float()) / 2
    tags = first[:, k:]
    if flip_test:
        perm = torch.as_tensor(skeleton.flip_permutation(), device=heat.device)
        heat = torch.stack([heat[0], heat[1].flip(-1)[perm]])
        tags = torch.stack([tags[0], tags[1].flip(-1)[perm]])
    size = image.shape[:2]
    heat = F.interpolate(heat, size=size, mode="bilinear", align_corners=False).mean(dim=0)
    tags = F.interpolate(tags, size=size, mode="bilinear", align_corners=False).permute(1, 2, 3, 0)
    return heat, tags.contiguous()


def _quarter(det: torch.Tensor, k: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``+-0.25`` toward the higher horizontal / vertical neighbour of ``det[k, y, x]`` (-0.25 on a tie)."""
    h, w = det.shape[1:]
    k, x, y = (torch.as_tensor(np.asarray(a), dtype=torch.long, device=det.device) for a in (k, x, y))
    right, left = det[k, y, (x + 1).clamp(max=w - 1)], det[k, y, (x - 1).clamp(min=0)]
    down, up = det[k, (y + 1).clamp(max=h - 1), x], det[k, (y - 1).clamp(min=0), x]
    quarter = torch.tensor([-0.25, 0.25], device=det.device)
    return quarter[(right > left).long()].cpu().numpy(), quarter[(down > up).long()].cpu().numpy()


def _match(
    tag_k: np.ndarray, loc_k: np.ndarray, val_k: np.ndarray, cfg: GroupingConfig, order: Sequence[int]
) -> np.ndarray:
    """HigherHRNet's ``match_by_tag``: people ``(P, K, 3 + L)`` (x, y, value, tags) from each joint's top-k."""
    num_joints, _, dims = tag_k.shape
    people: list[np.ndarray] = []
    person_tags: list[list[np.ndarray]] = []

    def new_person(joint: int, row: np.ndarray) -> None:
        person = np.zeros((num_joints, 3 + dims), dtype=np.float32)
        person[joint] = row
        people.append(person)
        person_tags.append([row[3:]])

    for joint in order:
        rows = np.concatenate([loc_k[joint], val_k[joint][:, None], tag_k[joint]], axis=1)
        rows = rows[rows[:, 2] > cfg.detection_threshold]
        if not len(rows):
            continue
        if not people:
            for row in rows:
                new_person(joint, row)
            continue
        grouped = len(people[: cfg.max_people])
        if cfg.ignore_too_much and grouped == cfg.max_people:
            continue
        means = np.stack([np.mean(t, axis=0) for t in person_tags[:grouped]])
        dist = np.linalg.norm(rows[:, None, 3:] - means[None], axis=2)
        cost = np.round(dist) * 100 - rows[:, 2:3] if cfg.use_detection_val else dist.copy()
        if len(rows) > grouped:
            cost = np.concatenate([cost, np.full((len(rows), len(rows) - grouped), 1e10)], axis=1)
        for r, c in zip(*linear_sum_assignment(cost)):
            if c < grouped and dist[r, c] < cfg.tag_threshold:
                people[c][joint] = rows[r]
                person_tags[c].append(rows[r, 3:])
            else:
                new_person(joint, rows[r])
    return np.asarray(people, dtype=np.float32).reshape(-1, num_joints, 3 + dims)


def _refine(person: np.ndarray, det: torch.Tensor, tags: torch.Tensor) -> np.ndarray:
    """HigherHRNet's ``refine``: fill each joint the person lacks with the heatmap point maximising
    ``value - round(distance of its tag to the person's mean tag)``, when that point's value is positive."""
    missing = np.flatnonzero(person[:, 2] == 0)
    if not missing.size:
        return person
    present = np.flatnonzero(person[:, 2] > 0)
    xy = torch.as_tensor(person[present, :2].astype(np.int64), device=det.device)
    mean_tag = tags[torch.as_tensor(present, device=det.device), xy[:, 1], xy[:, 0]].mean(dim=0)
    lacking = torch.as_tensor(missing, device=det.device)
    score = det[lacking] - torch.round(((tags[lacking] - mean_tag) ** 2).sum(dim=-1).sqrt())
    flat = score.reshape(len(missing), -1).argmax(dim=1)
    w = det.shape[2]
    ys, xs = (flat // w).cpu().numpy(), (flat % w).cpu().numpy()
    val = det[lacking, flat // w, flat % w].cpu().numpy()
    dx, dy = _quarter(det, missing, xs, ys)
    fill = val > 0
    out = person.copy()
    out[missing[fill], 0] = (xs + 0.5 + dx)[fill]
    out[missing[fill], 1] = (ys + 0.5 + dy)[fill]
    out[missing[fill], 2] = val[fill]
    return out


def group_people(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    cfg: GroupingConfig = GroupingConfig(),
    joint_order: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Associative-embedding grouping (HigherHRNet's ``HeatmapParser.parse``): ``(people (P, K, 3 + L), scores (P,))``.

    Peaks are the points equal to their ``nms_kernel`` max-pool; each joint keeps its ``max_people`` highest.
    Joints are visited in ``joint_order`` (HigherHRNet's COCO order for 17 joints, else 0..K-1); candidates above
    ``detection_threshold`` are matched to the people found so far by the Hungarian algorithm on
    ``round(tag distance) * 100 - value`` (``use_detection_val``), accepted when the distance to the person's mean
    tag is below ``tag_threshold``, else they start a new person; with ``ignore_too_much`` a joint is skipped once
    ``max_people`` people exist. ``adjust`` moves each joint a quarter pixel toward its higher neighbours and adds
    0.5 (pixel centres), the score is the mean value over all K joints, then ``refine`` fills missing joints.
    Coordinates are in map pixels. Tensors stay on their device (the peak search and refine run there).
    """
    det = torch.as_tensor(heatmaps, dtype=torch.float32)
    tag = torch.as_tensor(tags, dtype=torch.float32, device=det.device)
    num_joints, h, w = det.shape
    tag = tag.reshape(num_joints, h, w, -1)
    if joint_order is None:
        joint_order = COCO_JOINT_ORDER if num_joints == len(COCO_JOINT_ORDER) else range(num_joints)
    pad = cfg.nms_kernel // 2
    peaks = det * (F.max_pool2d(det[None], cfg.nms_kernel, 1, pad)[0] == det)
    val_k, ind = peaks.reshape(num_joints, -1).topk(min(cfg.max_people, h * w), dim=1)
    tag_k = torch.gather(tag.reshape(num_joints, h * w, -1), 1, ind[..., None].expand(-1, -1, tag.shape[-1]))
    loc_k = torch.stack([ind % w, ind // w], dim=-1).float()
    people = _match(tag_k.cpu().numpy(), loc_k.cpu().numpy(), val_k.cpu().numpy(), cfg, joint_order)
    if cfg.adjust and len(people):
        p, k = np.nonzero(people[:, :, 2] > 0)
        xs, ys = people[p, k, 0].astype(np.int64), people[p, k, 1].astype(np.int64)
        dx, dy = _quarter(det, k, xs, ys)
        people[p, k, 0] = xs + 0.5 + dx
        people[p, k, 1] = ys + 0.5 + dy
    scores = people[:, :, 2].mean(axis=1) if len(people) else np.zeros(0, dtype=np.float32)
    if cfg.refine:
        people = np.stack([_refine(person, det, tag) for person in people]) if len(people) else people
    return people, scores


def decode_bottomup(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    cfg: GroupingConfig = GroupingConfig(),
) -> list[Person]:
    """:func:`group_people` on maps of the resized input, mapped back to the image with the inverse affine of
    ``(center, scale)`` onto the maps' size (HigherHRNet's ``get_final_preds``)."""
    people, scores = group_people(heatmaps, tags, cfg)
    h, w = np.shape(heatmaps)[-2:]
    inverse = get_affine_transform(center, scale, 0.0, (w, h), inv=True)
    out = []
    for person, score in zip(people, scores):
        kps = person[:, :3].astype(np.float64)
        kps[:, :2] = affine_points(kps[:, :2], inverse)
        out.append(Person(keypoints=kps.astype(np.float32), score=float(score)))
    return out


def predict_bottomup(
    model: nn.Module,
    image: np.ndarray,
    *,
    input_size: int,
    flip_test: bool = True,
    skeleton: Skeleton = COCO,
    grouping: GroupingConfig = GroupingConfig(),
) -> list[Person]:
    """People in a full uint8 RGB image: :func:`resize_image`, :func:`predict_maps`, :func:`decode_bottomup`.

    Put the model in ``eval()`` mode first; inputs go to the model's device.
    """
    resized, center, scale = resize_image(image, input_size)
    heatmaps, tags = predict_maps(model, resized, skeleton=skeleton, flip_test=flip_test)
    return decode_bottomup(heatmaps, tags, center, scale, grouping)


def people_to_coco(image_id: int, people: Sequence[Person], category_id: int = 1) -> list[dict[str, Any]]:
    """COCO keypoint results of one image: every person (no NMS, as HigherHRNet), its keypoints and score."""
    return [{"image_id": int(image_id), "category_id": category_id,
             "keypoints": [round(float(v), 3) for v in p.keypoints.ravel()], "score": float(p.score)}
            for p in people]  # fmt: skip


def evaluate_bottomup(
    model: nn.Module,
    ann_file: str | Path,
    image_dir: str | Path,
    *,
    input_size: int,
    flip_test: bool = True,
    attack: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    skeleton: Skeleton = COCO,
    grouping: GroupingConfig = GroupingConfig(),
    sigmas: np.ndarray | Sequence[float] | None = None,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """COCO keypoint AP of ``model`` on every image of ``ann_file`` (Table III) and the results it scored.

    ``attack(image, keypoints (P, K, 3)) -> image``, e.g. ``functools.partial(occlude_image_instances,
    target="nose", filler="meanout")``, runs on each original image with all its annotations' keypoints
    before the resize.
    """
    coco = _load_coco(ann_file)
    results: list[dict[str, Any]] = []
    model.eval()
    for image_id in coco.getImgIds():
        image = read_image(Path(image_dir) / coco.imgs[image_id]["file_name"])
        if attack is not None:
            anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
            kps = np.asarray([a.get("keypoints") or [0.0] * (3 * skeleton.num_joints) for a in anns], np.float32)
            image = attack(image, kps.reshape(-1, skeleton.num_joints, 3))
        people = predict_bottomup(model, image, input_size=input_size, flip_test=flip_test, skeleton=skeleton,
                                  grouping=grouping)  # fmt: skip
        results += people_to_coco(image_id, people)
    return coco_keypoint_eval(coco, results, sigmas=sigmas), results
