"""The ``params.yaml`` schema: every section as a frozen dataclass, validated before any work starts.

``load_params()`` reads the whole file and returns :class:`Params`; each DVC stage reads it once and sees only
the keys it declares (:func:`occlusion.pipeline.stage_params`), then resolves what one run needs
(:mod:`occlusion.spec`). A run's ``train`` overrides and a preset's ``transform`` overrides are merged with
:func:`with_overrides`, which validates the result under the overriding key path.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, TypeVar

from .attacks import AttackGridConfig
from .augment import AugmentConfig
from .bottomup import BOTTOMUP_MODELS, BottomUpAugConfig, BottomUpTransformConfig, GroupingConfig
from .config import ConfigError, check, from_dict, load_yaml, to_dict
from .keypoints import PARTS, get_skeleton
from .models import list_models, model_info
from .occluders.bank import CocoBankConfig
from .realocc.config import RealOccConfig
from .synthetic import SyntheticConfig
from .transforms import TransformConfig
from .worstcase import WorstCaseConfig

__all__ = [
    "DataConfig",
    "ModelRecipe",
    "Preset",
    "RunConfig",
    "AttackRun",
    "AuditConfig",
    "PretrainConfig",
    "TrainConfig",
    "EvalConfig",
    "BottomUpModelConfig",
    "BottomUpTrainConfig",
    "BottomUpEvalConfig",
    "BottomUpRun",
    "BottomUpConfig",
    "Params",
    "load_params",
    "with_overrides",
    "repo_root",
    "params_hash",
]


C = TypeVar("C")


def repo_root(start: str | Path | None = None) -> Path:
    """The project root: the nearest folder upwards that holds ``dvc.yaml`` (so paths work from any cwd)."""
    here = Path(start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "dvc.yaml").is_file():
            return p
    return Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DatasetPaths:
    """One dataset split layout on disk."""

    train_annotations: str
    train_images: str
    val_annotations: str
    val_images: str
    detections: Mapping[str, str] = field(default_factory=dict)
    """Named COCO-format person detection files for the detector-box evaluation (Figs. 10, 12, 13)."""
    head_boxes: str | None = None
    """MPII: HRNet's ``gt_valid.mat``, whose head boxes PCKh needs (HRNet's ``valid.json`` has none)."""


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from: ``synthetic`` (generated, the embedded default) or files on disk."""

    source: Literal["synthetic", "files"] = "synthetic"
    root: str = "data/embedded"
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    coco: DatasetPaths | None = None
    mpii: DatasetPaths | None = None
    image_thre: float = 0.0
    """Detector score threshold (HRNet ``IMAGE_THRE``)."""

    def __post_init__(self) -> None:
        check(0.0 <= self.image_thre <= 1.0, "image_thre", self.image_thre, "a score in [0, 1]")


@dataclass(frozen=True)
class ModelRecipe:
    """A model and the inputs it is trained on (docs/METHODS.md §5)."""

    arch: str
    input_size: tuple[int, int] = (192, 256)
    """Network input (width, height)."""
    sigma: float = 2.0
    color: Literal["rgb", "bgr"] = "rgb"
    transform: TransformConfig = field(default_factory=TransformConfig)
    drop_path: float | None = None
    """ViTPose: stochastic depth rate at the last block (None: the size's value in the official config, B 0.3,
    L 0.5, H 0.55; :data:`occlusion.models.VIT_SPECS`)."""

    def __post_init__(self) -> None:
        names = list_models()
        check(self.arch in names, "arch", self.arch, f"one of {', '.join(names)}")
        if self.drop_path is not None:
            check(model_info(self.arch).family == "vitpose", "drop_path", self.drop_path,
                  f"null for {self.arch} (drop path is a ViTPose setting)")
            check(0.0 <= self.drop_path < 1.0, "drop_path", self.drop_path, "a rate in [0, 1)")
        multiple = model_info(self.arch).input_multiple
        ok = all(s > 0 and s % multiple == 0 for s in self.input_size)
        check(ok, "input_size", list(self.input_size),
              f"positive sides that are multiples of {multiple} for {self.arch}")
        check(self.sigma > 0, "sigma", self.sigma, "a positive heatmap sigma")

    @property
    def heatmap_size(self) -> tuple[int, int]:
        stride = model_info(self.arch).stride
        return (self.input_size[0] // stride, self.input_size[1] // stride)

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``create_model`` beyond the joint count."""
        return {} if self.drop_path is None else {"drop_path_rate": self.drop_path}


@dataclass(frozen=True)
class Preset:
    """A training variant: overrides of the model's transform plus the targeted augmentations (Table I rows)."""

    transform: Mapping[str, Any] = field(default_factory=dict)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        allowed = set(TransformConfig.__dataclass_fields__)
        unknown = sorted(set(self.transform) - allowed)
        check(not unknown, f"transform.{unknown[0] if unknown else ''}", unknown,
              f"keys among {', '.join(sorted(allowed))}")


def _check_recipe(cfg: Any) -> None:
    """The checks a training recipe (top-down or bottom-up) shares."""
    check(cfg.epochs >= 1, "epochs", cfg.epochs, "an integer >= 1")
    check(cfg.lr > 0, "lr", cfg.lr, "a positive learning rate")
    check(list(cfg.milestones) == sorted(cfg.milestones), "milestones", cfg.milestones, "increasing epochs")
    check(0 < cfg.gamma <= 1, "gamma", cfg.gamma, "a factor in (0, 1]")
    check(cfg.batch_size >= 1, "batch_size", cfg.batch_size, "an integer >= 1")
    check(cfg.workers >= 0, "workers", cfg.workers, "an integer >= 0")
    check(cfg.max_iters_per_epoch >= 0, "max_iters_per_epoch", cfg.max_iters_per_epoch, "an integer >= 0")


@dataclass(frozen=True)
class TrainConfig:
    """The HRNet training recipe (Adam, MultiStepLR, JointsMSELoss with target weight); the last six fields give
    ViTPose's (AdamW, weight decay, layer-wise lr decay, linear warm-up, gradient clipping;
    :func:`occlusion.models.vitpose_train_overrides` lists its values)."""

    epochs: int = 210
    lr: float = 1e-3
    milestones: tuple[int, ...] = (170, 200)
    gamma: float = 0.1
    batch_size: int = 32
    """Per-process batch size (the global batch is this times the number of processes)."""
    workers: int = 4
    legacy_scheduler_order: bool = True
    """Step the LR scheduler at the start of each epoch, as the reference (moves every drop one epoch earlier)."""
    checkpoint_every: int = 0
    """Also checkpoint every N iterations (0: only at the end of each epoch)."""
    eval_every: int = 1
    amp: bool = True
    """bf16 autocast on CUDA (ignored on CPU, which trains in fp32)."""
    channels_last: bool = True
    compile: bool = False
    max_iters_per_epoch: int = 0
    """Cap on iterations per epoch (0: the whole epoch); for smoke runs."""
    optimizer: Literal["adam", "adamw"] = "adam"
    """``adam``: the reference (lr only); ``adamw``: decoupled weight decay (ViTPose)."""
    weight_decay: float = 0.0
    """Weight decay of the weight matrices; 1-D tensors (norms, biases) and position embeddings get none."""
    layer_decay: float = 1.0
    """ViT layer-wise lr decay (:func:`occlusion.models.layer_decay_param_groups`): block ``i`` of ``depth`` trains
    at ``lr * layer_decay ** (depth - i)``, the patch embedding at ``lr * layer_decay ** (depth + 1)``, the head at
    ``lr``. 1.0: every parameter at ``lr``."""
    warmup_iters: int = 0
    """Linear warm-up over the first iterations (mmcv's ``warmup='linear'``); 0: none."""
    warmup_ratio: float = 0.001
    """The warm-up's starting fraction of the learning rate."""
    clip_grad: float = 0.0
    """Clip the gradients' global L2 norm to this (0: no clipping)."""

    def __post_init__(self) -> None:
        _check_recipe(self)
        check(self.checkpoint_every >= 0, "checkpoint_every", self.checkpoint_every, "an integer >= 0")
        check(self.eval_every >= 1, "eval_every", self.eval_every, "an integer >= 1")
        check(self.optimizer in ("adam", "adamw"), "optimizer", self.optimizer, "'adam' or 'adamw'")
        check(self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0")
        check(0 < self.layer_decay <= 1, "layer_decay", self.layer_decay, "a factor in (0, 1]")
        check(self.warmup_iters >= 0, "warmup_iters", self.warmup_iters, "an integer >= 0")
        check(0 < self.warmup_ratio <= 1, "warmup_ratio", self.warmup_ratio, "a fraction in (0, 1]")
        check(self.clip_grad >= 0, "clip_grad", self.clip_grad, "a max norm >= 0 (0: off)")


@dataclass(frozen=True)
class EvalConfig:
    """Test settings (docs/METHODS.md §4): flip test, shifted heatmaps, rescoring and OKS-NMS."""

    flip_test: bool = True
    shift_heatmap: bool = True
    post_process: bool = True
    in_vis_thre: float = 0.2
    oks_thre: float = 0.9
    batch_size: int = 64
    bootstrap_resamples: int = 1000

    def __post_init__(self) -> None:
        check(0 <= self.in_vis_thre <= 1, "in_vis_thre", self.in_vis_thre, "a value in [0, 1]")
        check(0 < self.oks_thre <= 1, "oks_thre", self.oks_thre, "a value in (0, 1]")
        check(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")
        check(self.bootstrap_resamples >= 0, "bootstrap_resamples", self.bootstrap_resamples, "an integer >= 0")


@dataclass(frozen=True)
class RunConfig:
    """One row of a study: a dataset, a model recipe and a preset, trained once per seed of ``seeds``."""

    dataset: Literal["coco", "mpii"]
    model: str
    preset: str
    seeds: tuple[int, ...] = (0,)
    """Training seeds: the train stage trains one model per seed (``runs/<run>/seed_<s>/``); tables report the
    mean and standard deviation over them. The first is the run's main model (attacks, qualitative figures)."""
    train: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of the ``train`` section for this run (for example fewer epochs)."""
    checkpoint: str | None = None
    """An official checkpoint (HRNet / SimpleBaseline / mmpose layout) imported instead of training."""
    pretrain: str | None = None
    """Key of ``pretrain:`` whose backbone initialises this run (the head starts fresh); None: from scratch."""

    def __post_init__(self) -> None:
        check(len(self.seeds) > 0, "seeds", list(self.seeds), "a non-empty list of seeds")
        for i, seed in enumerate(self.seeds):
            check(seed >= 0, f"seeds.{i}", seed, "an integer >= 0")
        check(len(set(self.seeds)) == len(self.seeds), "seeds", list(self.seeds), "distinct seeds")
        check(self.checkpoint is None or len(self.seeds) == 1, "seeds", list(self.seeds),
              "a single seed for a run that imports a checkpoint")

    @property
    def seed(self) -> int:
        """The first of ``seeds``: the seed of the run's main model."""
        return self.seeds[0]


@dataclass(frozen=True)
class PretrainConfig:
    """A backbone initialisation shared by runs: timm's ImageNet weights (the paper) or a model trained on the
    configured dataset (the embedded default, which has no ImageNet), as ``runs/pretrain_<key>/model.pt``."""

    model: str
    source: Literal["imagenet", "train"] = "imagenet"
    dataset: Literal["coco", "mpii"] = "coco"
    preset: str = "flip_rot_scale"
    seed: int = 0
    train: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of the ``train`` section for ``source: train``."""
    init: Literal["backbone", "model"] = "backbone"
    """What runs take from it: the backbone (the paper's ImageNet start; the head starts fresh), or the whole pose
    model, head included where the run's dataset has the pretrain's keypoints (the embedded default: its runs
    fine-tune briefly on a CPU, too briefly to train a fresh head)."""
    weights: str | None = None
    """``source: imagenet``: a local file of timm's ImageNet weights for the backbone (offline machines); None:
    the hub cache, or a download."""

    def __post_init__(self) -> None:
        check(self.source == "train" or self.init == "backbone", "init", self.init,
              "'backbone' for source: imagenet (timm's ImageNet weights have no pose head)")
        check(self.weights is None or self.source == "imagenet", "weights", self.weights,
              "no weights file for source: train (the pretrain trains its own)")


@dataclass(frozen=True)
class AttackRun:
    """A run that gets the attack grid. ``model`` repeats the run's model key so DVC can declare it."""

    model: str
    sweep: bool = False
    """Also run the radius sweep (Fig. 4: the radii of ``attack.radius_sweep``)."""


@dataclass(frozen=True)
class BottomUpModelConfig:
    """The HigherHRNet model of Table III and the inputs it is trained on (docs/METHODS.md §5)."""

    arch: str
    """A key of :data:`occlusion.bottomup.BOTTOMUP_MODELS`."""
    pretrain: str
    """Key of ``pretrain:`` whose backbone initialises training (an architecture with the same HRNet backbone)."""
    input_size: int = 512
    """Side of the square training crop; the test resize brings the short side to it."""
    sigma: float = 2.0
    transform: BottomUpTransformConfig = field(default_factory=BottomUpTransformConfig)

    def __post_init__(self) -> None:
        names = sorted(BOTTOMUP_MODELS)
        check(self.arch in names, "arch", self.arch, f"one of {', '.join(names)}")
        check(self.input_size > 0 and self.input_size % 64 == 0, "input_size", self.input_size,
              "a positive multiple of 64 (HigherHRNet's test resize rounds the short side up to one)")
        check(self.sigma > 0, "sigma", self.sigma, "a positive heatmap sigma")

    @property
    def output_sizes(self) -> tuple[int, int]:
        """The two heatmap resolutions (1/4 and 1/2 of the input)."""
        return (self.input_size // 4, self.input_size // 2)


@dataclass(frozen=True)
class BottomUpTrainConfig:
    """HigherHRNet's training recipe: Adam (lr only), MultiStepLR x ``gamma``, AE + heatmap loss."""

    epochs: int = 300
    lr: float = 1e-3
    milestones: tuple[int, ...] = (200, 260)
    gamma: float = 0.1
    batch_size: int = 12
    """Per-process batch size (the global batch is this times the number of processes)."""
    workers: int = 4
    legacy_scheduler_order: bool = True
    """Step the LR scheduler at the start of each epoch, as HigherHRNet's ``dist_train.py``."""
    amp: bool = True
    """bf16 autocast on CUDA (ignored on CPU, which trains in fp32)."""
    max_iters_per_epoch: int = 0
    """Cap on iterations per epoch (0: the whole epoch); for smoke runs."""

    def __post_init__(self) -> None:
        _check_recipe(self)


@dataclass(frozen=True)
class BottomUpEvalConfig:
    """HigherHRNet test settings: flip test, single scale, :class:`~occlusion.bottomup.GroupingConfig` grouping."""

    flip_test: bool = True
    grouping: GroupingConfig = field(default_factory=GroupingConfig)


@dataclass(frozen=True)
class BottomUpRun:
    """One Table III row: a preset of ``bottomup.augs``, trained here or imported from an official checkpoint."""

    preset: str
    source: Literal["train", "checkpoint"] = "train"
    checkpoint: str | None = None
    """With ``source: checkpoint``: the file (official HigherHRNet layout or a saved model), from the project root."""
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", self.seed, "an integer >= 0")
        if self.source == "checkpoint":
            check(bool(self.checkpoint), "checkpoint", self.checkpoint, "a checkpoint file for source: checkpoint")
        else:
            check(self.checkpoint is None, "checkpoint", self.checkpoint, "no checkpoint for source: train")


@dataclass(frozen=True)
class BottomUpConfig:
    """Table III: HigherHRNet (bottom-up) trained with the baseline and the targeted augmentations."""

    model: BottomUpModelConfig
    runs: Mapping[str, BottomUpRun]
    baseline: str
    """The run of Table III's baseline row; the bootstrap compares every other run with it."""
    train: BottomUpTrainConfig = field(default_factory=BottomUpTrainConfig)
    eval: BottomUpEvalConfig = field(default_factory=BottomUpEvalConfig)
    augs: Mapping[str, BottomUpAugConfig] = field(default_factory=dict)
    """Per-instance augmentation presets (:data:`occlusion.bottomup.TABLE3_PRESETS` names the paper's)."""

    def __post_init__(self) -> None:
        for run_id, run in self.runs.items():
            check(run.preset in self.augs, f"runs.{run_id}.preset", run.preset, f"one of {', '.join(self.augs)}")
        check(self.baseline in self.runs, "baseline", self.baseline, f"a run id among {', '.join(self.runs)}")


@dataclass(frozen=True)
class AuditConfig:
    """``occlusion audit`` as the DVC stage ``audit@<name>``: any model's occlusion scorecard (docs/METHODS.md
    §10) on a COCO-format dataset."""

    spec: str
    """A model spec YAML (:func:`occlusion.estimators.load_estimator`); the stage depends on it and on the model
    file it names (``file`` or ``checkpoint``)."""
    annotations: str | None = None
    """COCO person-keypoint annotations; None: the profile's COCO validation split (with ``images``)."""
    images: str | None = None
    detections: str | None = None
    """A COCO detection results file: clean AP on its boxes too."""
    grid: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of ``attack:`` for this audit (fewer targets, another radius)."""
    flip_test: bool | None = None
    """None: where the model supports it."""
    max_persons: int | None = None
    batch_size: int = 64

    def __post_init__(self) -> None:
        check((self.annotations is None) == (self.images is None), "annotations", self.annotations,
              "annotations and images both given, or neither (the profile's COCO validation split)")
        check(self.max_persons is None or self.max_persons > 0, "max_persons", self.max_persons, "an integer > 0")
        check(self.batch_size > 0, "batch_size", self.batch_size, "an integer > 0")


@dataclass(frozen=True)
class Params:
    """The whole ``params.yaml``."""

    profile: str
    device: Literal["auto", "cpu", "cuda"]
    data: DataConfig
    models: Mapping[str, ModelRecipe]
    augs: Mapping[str, Preset]
    train: TrainConfig
    eval: EvalConfig
    attack: AttackGridConfig
    runs: Mapping[str, RunConfig]
    attack_runs: Mapping[str, AttackRun] = field(default_factory=dict)
    pretrain: Mapping[str, PretrainConfig] = field(default_factory=dict)
    bottomup: BottomUpConfig | None = None
    """Table III (the ``bottomup_*`` stages); None: no bottom-up runs."""
    audits: Mapping[str, AuditConfig] = field(default_factory=dict)
    """Models audited by the ``audit@<name>`` stages (``occlusion audit`` in the pipeline)."""
    worstcase: WorstCaseConfig | None = None
    """The worst-case occluder search of the ``occluders`` stage (docs/METHODS.md §12); None: no search."""
    occluder_bank: CocoBankConfig | None = None
    """The COCO object-occluder bank built by the ``occluder_bank`` stage (docs/METHODS.md §11; paper profile)."""
    realocc: RealOccConfig | None = None
    """Real occlusion (the ``realocc`` stage, docs/METHODS.md §13); None: no such stage."""

    def __post_init__(self) -> None:
        for name, preset in self.augs.items():  # the overrides' values, not only their keys
            from_dict(TransformConfig, dict(preset.transform), f"augs.{name}.transform")
        for run_id, run in self.runs.items():
            check(run.model in self.models, f"runs.{run_id}.model", run.model, f"one of {', '.join(self.models)}")
            check(run.preset in self.augs, f"runs.{run_id}.preset", run.preset, f"one of {', '.join(self.augs)}")
            with_overrides(self.train, run.train, f"runs.{run_id}.train")  # the run's overrides, validated
            if self.data.source == "files":
                check(getattr(self.data, run.dataset) is not None, f"data.{run.dataset}", None,
                      f"the {run.dataset} files (run {run_id!r} uses that dataset)")
        for name, pre in self.pretrain.items():
            check(pre.model in self.models, f"pretrain.{name}.model", pre.model, f"one of {', '.join(self.models)}")
            check(pre.preset in self.augs, f"pretrain.{name}.preset", pre.preset, f"one of {', '.join(self.augs)}")
            with_overrides(self.train, pre.train, f"pretrain.{name}.train")
        for run_id, run in self.runs.items():
            if run.pretrain is not None:
                check(run.pretrain in self.pretrain, f"runs.{run_id}.pretrain", run.pretrain,
                      f"a key of pretrain: {', '.join(self.pretrain) or '(none defined)'}")
                arch = self.models[self.pretrain[run.pretrain].model].arch
                mine = self.models[run.model].arch
                check(arch == mine, f"runs.{run_id}.pretrain", run.pretrain, f"a pretrain of the same arch ({mine})")
        for run_id, attack in self.attack_runs.items():
            check(run_id in self.runs, f"attack_runs.{run_id}", run_id, f"run ids among {', '.join(self.runs)}")
            model = self.runs[run_id].model
            check(attack.model == model, f"attack_runs.{run_id}.model", attack.model, f"the run's model {model!r}")
        if self.bottomup is not None:
            self._check_bottomup(self.bottomup)
        self._check_occluders()
        if self.realocc is not None:
            self._check_realocc(self.realocc)
        for name, audit in self.audits.items():
            with_overrides(self.attack, audit.grid, f"audits.{name}.grid")
            if audit.annotations is None:
                check(self.data.source == "synthetic" or self.data.coco is not None, f"audits.{name}.annotations",
                      None, "a file (the profile has no COCO data to default to)")

    def _check_occluders(self) -> None:
        """The object attacks and the worst-case search name COCO runs (docs/METHODS.md §11, §12)."""
        objects = self.attack.objects
        for key, runs in (("attack.objects.runs", objects.runs if objects else ()),
                          ("worstcase.runs", self.worstcase.runs if self.worstcase else ())):
            for run_id in runs:
                check(run_id in self.runs and self.runs[run_id].dataset == "coco", key, run_id,
                      f"COCO run ids among {', '.join(self.runs)}")
        if self.worstcase is not None:
            skeleton = get_skeleton("coco")
            for target in self.worstcase.targets:
                check(target in skeleton.names or target in PARTS, "worstcase.targets", target,
                      "a COCO keypoint or a part")
    def _check_realocc(self, ro: RealOccConfig) -> None:
        """Real occlusion needs its data: generated (the synthetic splits) or named files, and a COCO run."""
        for name in ("ochuman", "crowdpose"):
            if self.data.source == "synthetic":
                count = getattr(self.data.synthetic, f"{name}_images")
                check(count > 0, f"data.synthetic.{name}_images", count, "> 0 (the realocc stage evaluates on it)")
            else:
                check(getattr(ro, name) is not None, f"realocc.{name}", None, f"the {name} files (data.source: files)")
        check(any(r.dataset == "coco" for r in self.runs.values()), "realocc", "(set)", "a COCO run to evaluate")

    def _check_bottomup(self, bu: BottomUpConfig) -> None:
        """The bottom-up backbone comes from a pretrain of the same HRNet."""
        key = bu.model.pretrain
        check(key in self.pretrain, "bottomup.model.pretrain", key,
              f"a key of pretrain: {', '.join(self.pretrain) or '(none defined)'}")
        backbone = BOTTOMUP_MODELS[bu.model.arch].backbone
        arch = self.models[self.pretrain[key].model].arch
        check(arch == backbone, "bottomup.model.pretrain", key, f"a pretrain of {backbone} (the backbone of "
              f"{bu.model.arch}); {key!r} is {arch}")

    def run(self, run_id: str) -> RunConfig:
        if run_id not in self.runs:
            raise ConfigError(f"runs.{run_id}: no such run; defined runs: {', '.join(self.runs)}")
        return self.runs[run_id]

    def bottomup_run(self, run_id: str) -> BottomUpRun:
        """Run ``run_id`` of ``bottomup.runs`` (Table III)."""
        if self.bottomup is None:
            raise ConfigError("bottomup: not configured, but a bottom-up (Table III) stage needs it")
        if run_id not in self.bottomup.runs:
            raise ConfigError(f"bottomup.runs.{run_id}: no such run; defined runs: {', '.join(self.bottomup.runs)}")
        return self.bottomup.runs[run_id]


def load_params(path: str | Path | None = None) -> Params:
    """Load and validate ``params.yaml`` (default: the one at the project root)."""
    path = Path(path) if path else repo_root() / "params.yaml"
    try:
        return from_dict(Params, load_yaml(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def with_overrides(config: C, overrides: Mapping[str, Any], path: str) -> C:
    """``config`` with the fields of ``overrides`` replaced, validated; errors name ``path`` (the overriding key,
    e.g. ``runs.<run>.train``)."""
    return from_dict(type(config), {**to_dict(config), **dict(overrides)}, path)


def params_hash(obj: Any) -> str:
    """A short, stable hash of (part of) the params, recorded in every result file."""
    blob = json.dumps(to_dict(obj), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
