"""Training with the HRNet recipe (docs/METHODS.md §5), resumable, on one device or under ``torchrun`` (DDP).

Run one configured run of ``params.yaml``::

    python -m occlusion.train --run coco_hrnet_half_body --seed 1 --out runs/coco_hrnet_half_body/seed_1 --runs-dir runs
    torchrun --standalone --nproc_per_node=4 -m occlusion.train --run-id ... --seed ... --out ... --runs-dir runs

(under ``torchrun`` spell the option ``--run-id``: torchrun takes ``--run`` for an abbreviation of its own
``--run-path`` and stops with "ambiguous option").

The output folder holds ``ckpt/last.pt`` (everything needed to resume: model, optimizer, epoch, iteration,
best AP, log), ``model.pt`` (the best weights by validation AP, or PCKh on MPII; also kept as ``ckpt/best.pt``),
``train_log.csv`` and ``train.json``. A killed run started again with the same arguments resumes from
``ckpt/last.pt`` and ends with the same weights and training log as an uninterrupted one (on CPU; on GPU up to
non-deterministic kernels). A checkpoint of other settings (another model, preset, data, seed or recipe; only
``epochs``, ``workers``, ``checkpoint_every``, ``eval_every`` and ``compile`` may change between a run and its
resumption) is not resumed: the run starts afresh (:mod:`occlusion.runtime`, which also runs the epoch loop).

In Python, resolve the run once and train it: ``train(RunSpec.for_run(params, run_id, seed, out_dir=...))``.
"""
from __future__ import annotations

import argparse
import functools
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from . import engine
from .augment import build_augmenter, partmix_sources_from_records
from .config import to_dict
from .data import TopDownDataset
from .io import atomic_path, file_fingerprint, provenance, torch_save, write_csv, write_json
from .keypoints import Skeleton, get_skeleton
from .models import create_model, layer_decay_param_groups, load_pose_checkpoint
from .params import TrainConfig, load_params, params_hash
from .runtime import (
    Checkpoint,
    Job,
    Step,
    close_distributed,
    fit,
    flush_denormals,
    init_distributed,
    resolve_device,
    seed_everything,
)
from .spec import RunSpec
from .splits import Split, read_split

__all__ = ["train", "joints_mse_loss", "build_optimizer", "load_backbone", "resume_key", "main"]

RESUMABLE_CHANGES: tuple[str, ...] = ("epochs", "workers", "checkpoint_every", "eval_every", "compile")
"""``train`` settings that may differ between a run and its resumption (they do not change the weights so far)."""


def joints_mse_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """HRNet's JointsMSELoss with target weight: 0.5 * MSE(w * pred, w * gt), averaged over joints."""
    w = weight.reshape(weight.shape[0], weight.shape[1], 1, 1)
    return 0.5 * torch.mean((pred.float() * w - target * w) ** 2)


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The recipe's optimizer: the reference's ``Adam(lr)`` over all parameters in one group; with AdamW, weight
    decay or layer-wise decay (ViTPose), the groups of :func:`~occlusion.models.layer_decay_param_groups`, whose
    ``lr_scale`` :func:`occlusion.runtime.fit` applies to every epoch's learning rate."""
    if cfg.optimizer == "adam" and cfg.weight_decay == 0 and cfg.layer_decay == 1:
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)  # the reference passes only lr (no decay)
    groups = layer_decay_param_groups(model, cfg.lr, cfg.weight_decay, cfg.layer_decay)
    optimizer = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return optimizer(groups, lr=cfg.lr, betas=(0.9, 0.999))


def train(spec: RunSpec, *, progress: bool = True) -> dict[str, Any]:
    """Train ``spec`` into ``spec.out_dir``, resuming from ``ckpt/last.pt``; returns the ``train.json`` summary."""
    device = resolve_device(spec.device)
    ddp = init_distributed(device)
    seed_everything(spec.seed)
    flush_denormals()
    skeleton = get_skeleton(spec.dataset)
    train_split = read_split(spec.data, spec.dataset, "train")
    val_split = read_split(spec.data, spec.dataset, "val")
    dataset = _training_set(spec, train_split, skeleton)
    eval_set = engine.build_eval_set(val_split.records, spec.recipe.input_size, dataset=spec.dataset,
                                     coco_gt=val_split.coco_gt, cache_file=spec.val_cache)
    model = create_model(spec.recipe.arch, num_joints=skeleton.num_joints, **spec.recipe.model_kwargs).to(device)
    backbone = _start_from_pretrain(model, spec)
    if spec.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, spec.train)
    meta = {"run": spec.name, "dataset": spec.dataset, "model": spec.run.model, "arch": spec.recipe.arch,
            "preset": spec.run.preset, "seed": spec.seed, "input_size": list(spec.recipe.input_size)}
    validate = functools.partial(_validate, model, eval_set, skeleton, spec, device)
    if spec.checkpoint is not None:  # an official checkpoint stands in for training (the paper's baselines)
        load_pose_checkpoint(model, spec.checkpoint)
        history = [{"epoch": 0, "val_metric": validate()}]
        torch_save({"model": model.state_dict(), "meta": {**meta, "imported": spec.run.checkpoint}},
                   spec.out_dir / "model.pt")
        return _finish(spec, meta, history, train_split, device, imported=True)

    key = resume_key(spec, train_split.fingerprint + backbone)
    checkpoint = Checkpoint(spec.out_dir / "ckpt", key, meta, ddp)
    job = Job(spec.name, model, optimizer, dataset, _step(spec, device), ("loss",), spec.seed, checkpoint, spec.out_dir,
              device, ddp, validate=validate, eval_every=spec.train.eval_every,
              checkpoint_every=spec.train.checkpoint_every, compile=spec.train.compile)
    history = fit(job, spec.train, progress=progress)
    if ddp.main and not (spec.out_dir / "model.pt").is_file() and checkpoint.best.is_file():
        with atomic_path(spec.out_dir / "model.pt") as tmp:  # a finished run whose model.pt DVC removed
            shutil.copyfile(checkpoint.best, tmp)
    return _finish(spec, meta, history, train_split, device, write=ddp.main)


def _step(spec: RunSpec, device: torch.device) -> Step:
    """The forward pass and JointsMSELoss of one batch (bf16 autocast on CUDA with ``train.amp``)."""
    channels_last, autocast = spec.train.channels_last, device.type == "cuda" and spec.train.amp

    def step(net: torch.nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        images = batch["image"].to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        target = batch["target"].to(device, non_blocking=True)
        weight = batch["target_weight"].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            output = net(images)
        return {"loss": joints_mse_loss(output, target, weight)}

    return step


def _training_set(spec: RunSpec, split: Split, skeleton: Skeleton) -> TopDownDataset:
    """The training crops with the preset's transform and targeted augmentations (their draws follow the seed)."""
    augmenter = build_augmenter(spec.preset.augment, skeleton,
                                partmix_sources=partmix_sources_from_records(split.records))
    return TopDownDataset(
        split.records, image_size=spec.recipe.input_size, heatmap_size=spec.recipe.heatmap_size,
        sigma=spec.recipe.sigma, train=True, transform=spec.transform, skeleton=skeleton, augmenter=augmenter,
        rgb=spec.recipe.color == "rgb", seed=spec.seed,
    )


def _start_from_pretrain(model: torch.nn.Module, spec: RunSpec) -> str:
    """Initialise ``model`` from the run's pretrain (if any); what it took, for the resume key."""
    if spec.pretrain is None:
        return ""
    fingerprint = load_backbone(model, spec.pretrain.file, head=spec.pretrain.whole_model)
    return fingerprint + (":model" if spec.pretrain.whole_model else "")  # the key changes with what the run took


def load_backbone(model: torch.nn.Module, path: Path, *, head: bool = False) -> str:
    """Initialise ``model.backbone`` from a pretrain stage's ``model.pt`` (the head keeps its fresh init), and
    with ``head`` the head too where its shapes fit (a pretrain on the same keypoints).

    Returns the file's fingerprint. Every backbone tensor must be present with the right shape.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: pretrained backbone missing (run its pretrain stage first)")
    state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    backbone = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    own = model.backbone.state_dict()
    bad = sorted(set(own) ^ set(backbone))
    bad += sorted(k for k in own if k in backbone and own[k].shape != backbone[k].shape)
    if bad:
        raise ValueError(f"{path}: backbone does not fit this model ({len(bad)} keys differ, "
                         f"e.g. {', '.join(bad[:5])})")
    model.backbone.load_state_dict(backbone)
    if head:
        own_head = model.head.state_dict()
        saved = {k[len("head."):]: v for k, v in state.items() if k.startswith("head.")}
        if set(saved) == set(own_head) and all(own_head[k].shape == v.shape for k, v in saved.items()):
            model.head.load_state_dict(saved)
    return file_fingerprint(path)


def resume_key(spec: RunSpec, data_fingerprint: str) -> str:
    """Hash of everything that shapes the weights: a checkpoint resumes only a run with the same key."""
    recipe = {k: v for k, v in to_dict(spec.train).items() if k not in RESUMABLE_CHANGES}
    return params_hash({
        "dataset": spec.dataset, "seed": spec.seed, "model": spec.recipe, "preset": spec.preset, "train": recipe,
        "data": data_fingerprint,
    })


def _finish(spec: RunSpec, meta: dict[str, Any], history: list[dict[str, Any]], split: Split,
            device: torch.device, *, imported: bool = False, write: bool = True) -> dict[str, Any]:
    """The summary of a finished run (``train.json``, with provenance), and its log."""
    metrics = [h["val_metric"] for h in history if "val_metric" in h]
    summary = {
        **meta,
        "imported_checkpoint": spec.run.checkpoint if imported else None,
        "best_val_metric": max(metrics) if metrics else None,
        "val_metric_name": "PCKh@0.5 Mean" if spec.dataset == "mpii" else "AP (GT boxes)",
        "epochs": 0 if imported else spec.train.epochs,
        "train_config": to_dict(spec.train),
        "augment": to_dict(spec.preset.augment),
        "transform": to_dict(spec.transform),
        "provenance": provenance(
            params_hash=params_hash({"run": spec.run, "model": spec.recipe, "preset": spec.preset,
                                     "train": spec.train}),
            data_fingerprint=split.fingerprint, device=str(device), seed=spec.seed,
        ),
    }
    if write:
        write_csv(spec.out_dir / "train_log.csv", pd.DataFrame(history))
        write_json(spec.out_dir / "train.json", summary)
    return summary


def _validate(model: torch.nn.Module, eval_set: engine.EvalSet, skeleton: Skeleton, spec: RunSpec,
              device: torch.device) -> float:
    """Validation AP on ground-truth boxes (PCKh@0.5 Mean on MPII) with the test settings of ``eval``."""
    e = spec.eval
    preds, maxvals = engine.predict(
        model, eval_set, skeleton, color=spec.recipe.color, flip_test=e.flip_test, shift_heatmap=e.shift_heatmap,
        post_process=e.post_process, batch_size=e.batch_size, device=device,
    )
    metrics = engine.score(eval_set, preds, maxvals, skeleton, in_vis_thre=e.in_vis_thre, oks_thre=e.oks_thre)
    return metrics["all"]["Mean" if eval_set.dataset == "mpii" else "AP"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-id", "--run", dest="run", required=True,
                        help="a run id under `runs:` in params.yaml (under torchrun: --run-id)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (resumes from OUT/ckpt/last.pt)")
    parser.add_argument("--seed", type=int, default=None, help="one of the run's seeds (needed when it has several)")
    parser.add_argument("--runs-dir", type=Path, default=None,
                        help="the folder of pretrain_<key>/model.pt and the crop cache (default: OUT's parent)")
    parser.add_argument("--params", type=Path, default=None, help="params file (default: params.yaml at the root)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    spec = RunSpec.for_run(load_params(args.params), args.run, args.seed, out_dir=args.out, runs_dir=args.runs_dir)
    try:
        train(spec, progress=not args.no_progress)
    finally:
        close_distributed()


if __name__ == "__main__":
    main()
