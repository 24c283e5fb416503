"""What one stage works on, resolved once from the params it declares and passed down as a frozen spec.

A stage reads ``params.yaml`` once (:func:`occlusion.pipeline.stage_params`) and resolves here, at its top:

- :class:`RunSpec`: one training of a top-down run with one seed, or of a pretrain (``runs/pretrain_<key>``):
  the model recipe, the preset, the ``train`` section with the run's overrides, the recipe's transform with the
  preset's overrides, the pretrain it starts from, its dataset's files and its output folder;
- :class:`BottomUpRunSpec`: one Table III training (HigherHRNet);
- :class:`EvalSpec`: evaluating (or attacking) the models of every seed of a top-down run.

Resolution merges and validates once; errors name the key path of ``params.yaml`` (``runs.<run>.seeds``,
``runs.<run>.train.<key>``, ``augs.<preset>.transform.<key>``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from .attacks import AttackGridConfig
from .bottomup import BottomUpAugConfig
from .config import ConfigError
from .params import (
    BottomUpModelConfig,
    BottomUpRun,
    BottomUpTrainConfig,
    DatasetPaths,
    EvalConfig,
    ModelRecipe,
    Params,
    Preset,
    RunConfig,
    TrainConfig,
    with_overrides,
)
from .splits import dataset_paths, resolve_path
from .transforms import TransformConfig

__all__ = ["PretrainSource", "RunSpec", "BottomUpRunSpec", "EvalSpec", "seed_dir", "pretrain_dir"]


def seed_dir(runs_dir: Path, run_id: str, seed: int) -> Path:
    """Where seed ``seed`` of run ``run_id`` trains: ``<runs_dir>/<run>/seed_<seed>/``."""
    return Path(runs_dir) / run_id / f"seed_{seed}"


def pretrain_dir(runs_dir: Path, key: str) -> Path:
    """Where pretrain ``key`` is written: ``<runs_dir>/pretrain_<key>/`` (``model.pt``, ``ckpt/``, logs)."""
    return Path(runs_dir) / f"pretrain_{key}"


@dataclass(frozen=True)
class PretrainSource:
    """The pretrain whose ``model.pt`` initialises a run: its backbone, or with ``whole_model`` (``init: model``)
    the head too where the keypoints match."""

    key: str
    file: Path
    whole_model: bool


@dataclass(frozen=True)
class RunSpec:
    """One training of a top-down run with one seed (docs/METHODS.md §5), as resolved from the stage's params."""

    name: str
    """The run id (``pretrain_<key>`` for a pretrain): progress bars, ``meta.run`` and messages."""
    run: RunConfig
    """The run narrowed to this training's seed (``seeds == (seed,)``)."""
    recipe: ModelRecipe
    preset: Preset
    train: TrainConfig
    """``train`` with the run's overrides."""
    transform: TransformConfig
    """The recipe's transform with the preset's overrides."""
    eval: EvalConfig
    device: Literal["auto", "cpu", "cuda"]
    data: DatasetPaths
    """The files of the run's dataset."""
    out_dir: Path
    val_cache: Path
    """The validation crop cache (shared by the runs of one dataset and input size)."""
    pretrain: PretrainSource | None = None
    checkpoint: Path | None = None
    """An official checkpoint imported instead of training (``runs.<run>.checkpoint``, resolved)."""

    @property
    def seed(self) -> int:
        return self.run.seed

    @property
    def dataset(self) -> Literal["coco", "mpii"]:
        return self.run.dataset

    @classmethod
    def for_run(cls, params: Params, run_id: str, seed: int | None = None, *, out_dir: str | Path,
                runs_dir: str | Path | None = None) -> RunSpec:
        """Seed ``seed`` of run ``run_id`` (default: the run's only seed), trained into ``out_dir``; ``runs_dir``
        (default: ``out_dir``'s parent) holds the pretrains and the validation crop cache."""
        run = params.run(run_id)
        if seed is None and len(run.seeds) > 1:
            raise ConfigError(f"runs.{run_id}.seeds = {list(run.seeds)}: name the seed to train")
        seed = run.seed if seed is None else seed
        if seed not in run.seeds:
            raise ConfigError(f"runs.{run_id}.seeds = {list(run.seeds)}: expected a list that contains seed {seed}")
        out_dir = Path(out_dir)
        runs_dir = Path(runs_dir) if runs_dir is not None else out_dir.parent
        pretrain = None
        if run.pretrain and not run.checkpoint:  # an imported checkpoint starts from nothing else
            file = pretrain_dir(runs_dir, run.pretrain) / "model.pt"
            pretrain = PretrainSource(run.pretrain, file, params.pretrain[run.pretrain].init == "model")
        return cls._resolve(params, run_id, dataclasses.replace(run, seeds=(seed,)), f"runs.{run_id}.train",
                            out_dir, runs_dir, pretrain)

    @classmethod
    def for_pretrain(cls, params: Params, key: str, *, runs_dir: str | Path) -> RunSpec:
        """Pretrain ``key`` with ``source: train``, trained as a run of its own into ``runs_dir/pretrain_<key>``."""
        pre = params.pretrain[key]
        run = RunConfig(dataset=pre.dataset, model=pre.model, preset=pre.preset, seeds=(pre.seed,), train=pre.train)
        out_dir = pretrain_dir(Path(runs_dir), key)
        return cls._resolve(params, out_dir.name, run, f"pretrain.{key}.train", out_dir, Path(runs_dir), None)

    @classmethod
    def _resolve(cls, params: Params, name: str, run: RunConfig, train_path: str, out_dir: Path, runs_dir: Path,
                 pretrain: PretrainSource | None) -> RunSpec:
        recipe, preset = params.models[run.model], params.augs[run.preset]
        width, height = recipe.input_size
        return cls(
            name=name, run=run, recipe=recipe, preset=preset,
            train=with_overrides(params.train, run.train, train_path),
            transform=with_overrides(recipe.transform, preset.transform, f"augs.{run.preset}.transform"),
            eval=params.eval, device=params.device, data=dataset_paths(params, run.dataset), out_dir=out_dir,
            val_cache=runs_dir / ".cache" / f"{run.dataset}_val_{width}x{height}.npz", pretrain=pretrain,
            checkpoint=resolve_path(run.checkpoint) if run.checkpoint else None,
        )


@dataclass(frozen=True)
class BottomUpRunSpec:
    """One Table III training (HigherHRNet, ``bottomup.runs.<run>``), as resolved from the stage's params."""

    name: str
    run: BottomUpRun
    model: BottomUpModelConfig
    train: BottomUpTrainConfig
    augment: BottomUpAugConfig
    """The run's preset of ``bottomup.augs``."""
    device: Literal["auto", "cpu", "cuda"]
    data: DatasetPaths
    """The COCO files."""
    out_dir: Path
    pretrain_file: Path
    """``model.pt`` of the pretrain ``bottomup.model.pretrain`` (the backbone training starts from)."""
    checkpoint: Path | None = None
    """With ``source: checkpoint``: the official weights imported instead of training (resolved)."""

    @property
    def seed(self) -> int:
        return self.run.seed

    @classmethod
    def resolve(cls, params: Params, run_id: str, *, out_dir: str | Path, runs_dir: str | Path) -> BottomUpRunSpec:
        """Run ``run_id`` of ``bottomup.runs``, trained into ``out_dir``; ``runs_dir`` holds the pretrains."""
        run = params.bottomup_run(run_id)
        bu = params.bottomup
        return cls(
            name=run_id, run=run, model=bu.model, train=bu.train, augment=bu.augs[run.preset], device=params.device,
            data=dataset_paths(params, "coco"), out_dir=Path(out_dir),
            pretrain_file=pretrain_dir(Path(runs_dir), bu.model.pretrain) / "model.pt",
            checkpoint=resolve_path(run.checkpoint) if run.checkpoint else None,
        )


@dataclass(frozen=True)
class EvalSpec:
    """Evaluating, or attacking, the models of every seed of a top-down run, as resolved from the stage's params."""

    run_id: str
    run: RunConfig
    recipe: ModelRecipe
    eval: EvalConfig
    device: Literal["auto", "cpu", "cuda"]
    data: DatasetPaths
    image_thre: float
    """Detector score threshold of ``data.image_thre`` (detection boxes below it are dropped)."""
    model_files: Mapping[int, Path]
    """Each seed's ``model.pt``."""
    attack: AttackGridConfig | None = None
    """The attack stage's grid (its radius sweep only for an attack run with ``sweep: true``)."""

    @classmethod
    def resolve(cls, params: Params, run_id: str, *, runs_dir: str | Path, attack: bool = False) -> EvalSpec:
        """Run ``run_id``, whose seeds trained under ``runs_dir``; with ``attack``, its ``attack_runs`` entry too."""
        run = params.run(run_id)
        grid = None
        if attack:
            sweep = params.attack_runs[run_id].sweep
            grid = params.attack if sweep else dataclasses.replace(params.attack, radius_sweep=())
        return cls(
            run_id=run_id, run=run, recipe=params.models[run.model], eval=params.eval, device=params.device,
            data=dataset_paths(params, run.dataset), image_thre=params.data.image_thre,
            model_files={s: seed_dir(Path(runs_dir), run_id, s) / "model.pt" for s in run.seeds}, attack=grid,
        )
