"""Training HigherHRNet for Table III with its recipe (docs/METHODS.md §5), resumable, on one device or under
``torchrun`` (DDP: gloo on the CPU, NCCL on CUDA)::

    python -m occlusion.bottomup.train --run-id higherhrnet_baseline --out runs/bottomup/higherhrnet_baseline
    torchrun --standalone --nproc_per_node=4 -m occlusion.bottomup.train --run-id ... --out ...

The output folder holds ``ckpt/last.pt`` (model, optimizer, epoch, log and resume key, written atomically at the
end of every epoch), ``model.pt`` (the final weights: HigherHRNet keeps its last epoch and does not select by
validation AP), ``train_log.csv`` (the loss terms per epoch) and ``train.json`` (a summary with provenance).

A killed run started again resumes from ``ckpt/last.pt`` and ends with the weights and log of an uninterrupted one
(on CPU; on GPU up to non-deterministic kernels): the model and optimizer state are restored, the learning rate is
a function of the epoch (:func:`occlusion.runtime.lr_for_epoch`), and every random draw (the sample order, each
instance's augmentation, the affine transform) derives from ``(seed, epoch, index)``, so there is no RNG state to
save. A checkpoint of other settings (only ``workers``, and ``epochs`` upwards, may change between a run and its
resumption) is not resumed: the run starts afresh, as DVC expects when it re-runs a changed stage whose ``ckpt``
it keeps. The epoch loop, checkpoint and DDP set-up are :mod:`occlusion.runtime`'s, shared with top-down training.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .. import runtime
from ..config import to_dict
from ..io import file_fingerprint, provenance, torch_save, write_csv, write_json
from ..params import BottomUpModelConfig, load_params, params_hash
from ..spec import BottomUpRunSpec
from ..splits import resolve_path
from ..train import load_backbone
from .augment import build_bottomup_augmenter
from .checkpoint import load_bottomup_checkpoint
from .data import BottomUpDataset
from .loss import bottomup_loss
from .model import BottomUpNet, create_bottomup_model

__all__ = ["LOSS_TERMS", "RESUMABLE_CHANGES", "train_bottomup_run", "load_bottomup_model", "resume_key", "main"]

LOSS_TERMS: tuple[str, ...] = ("loss", "heatmaps_0", "heatmaps_1", "push", "pull")
"""The :func:`~occlusion.bottomup.bottomup_loss` terms logged per epoch (means over the epoch's images)."""
RESUMABLE_CHANGES: tuple[str, ...] = ("epochs", "workers")
"""``bottomup.train`` settings that may differ between a run and its resumption (``epochs`` only upwards)."""


def resume_key(spec: BottomUpRunSpec, data_fingerprint: str) -> str:
    """Hash of everything that shapes the weights: a checkpoint resumes only a run with the same key."""
    recipe = {k: v for k, v in to_dict(spec.train).items() if k not in RESUMABLE_CHANGES}
    return params_hash({"model": spec.model, "train": recipe, "augment": spec.augment, "seed": spec.seed,
                        "data": data_fingerprint})


def load_bottomup_model(model: BottomUpModelConfig, path: Path) -> BottomUpNet:
    """The ``bottomup.model`` architecture with the weights of a ``model.pt`` this module wrote."""
    net = create_bottomup_model(model.arch)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
    return net


def train_bottomup_run(spec: BottomUpRunSpec, *, progress: bool = True) -> dict[str, Any]:
    """Train (``source: train``) or import (``source: checkpoint``) ``spec`` into ``spec.out_dir``, resuming from
    ``ckpt/last.pt``; training starts from the backbone of ``spec.pretrain_file``. Returns the ``train.json``
    summary."""
    device = runtime.resolve_device(spec.device)
    ddp = runtime.init_distributed(device)
    runtime.flush_denormals()
    ann, images = resolve_path(spec.data.train_annotations), resolve_path(spec.data.train_images)
    fingerprint = file_fingerprint(ann)
    model = create_bottomup_model(spec.model.arch, seed=spec.seed)
    meta = {"run": spec.name, "arch": spec.model.arch, "preset": spec.run.preset, "seed": spec.seed,
            "source": spec.run.source, "input_size": spec.model.input_size}
    if spec.checkpoint is not None:  # Table III's baseline in the paper: the official HigherHRNet-W32 512 weights
        return _import(spec, model, meta, fingerprint, device, ddp)

    backbone = load_backbone(model, spec.pretrain_file)
    model.to(device)
    augmenter = build_bottomup_augmenter(spec.augment, ann, images)
    dataset = BottomUpDataset(ann, images, input_size=spec.model.input_size, output_sizes=spec.model.output_sizes,
                              sigma=spec.model.sigma, train=True, transform=spec.model.transform,
                              augmenter=augmenter, seed=spec.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.train.lr)  # HigherHRNet passes only lr (no decay)
    checkpoint = runtime.Checkpoint(spec.out_dir / "ckpt", resume_key(spec, fingerprint + backbone), meta, ddp,
                            max_epoch=spec.train.epochs)
    job = runtime.Job(spec.name, model, optimizer, dataset, _step(spec, device), LOSS_TERMS, spec.seed, checkpoint,
              spec.out_dir, device, ddp)
    history = runtime.fit(job, spec.train, progress=progress)
    if ddp.main:  # HigherHRNet keeps the last epoch's weights
        final = {"model": model.state_dict(), "meta": {**meta, "epoch": spec.train.epochs}}
        torch_save(final, spec.out_dir / "model.pt")
    return _finish(spec, meta, history, fingerprint, device, ddp, backbone_fingerprint=backbone)


def _step(spec: BottomUpRunSpec, device: torch.device) -> runtime.Step:
    """The forward pass and AE + heatmap loss of one batch (bf16 autocast on CUDA with ``train.amp``)."""
    autocast = device.type == "cuda" and spec.train.amp

    def step(net: torch.nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            outputs = net(batch["image"].to(device, non_blocking=True))
        return bottomup_loss(outputs, [h.to(device) for h in batch["heatmaps"]], [m.to(device) for m in batch["masks"]],
                             batch["joints"].to(device))

    return step


def _import(spec: BottomUpRunSpec, model: BottomUpNet, meta: dict[str, Any], fingerprint: str,
            device: torch.device, ddp: runtime.Dist) -> dict[str, Any]:
    """Import the official checkpoint ``spec.checkpoint`` as the run's model (no training)."""
    report = load_bottomup_checkpoint(model, spec.checkpoint)
    imported = {"model": model.state_dict(), "meta": {**meta, "imported": spec.run.checkpoint, "layout": report.layout}}
    if ddp.main:
        torch_save(imported, spec.out_dir / "ckpt" / "last.pt")
        torch_save(imported, spec.out_dir / "model.pt")
    extra = {"imported_checkpoint": spec.run.checkpoint, "checkpoint_fingerprint": file_fingerprint(spec.checkpoint)}
    return _finish(spec, meta, [{"epoch": 0}], fingerprint, device, ddp, **extra)


def _finish(spec: BottomUpRunSpec, meta: dict[str, Any], history: list[dict[str, Any]], fingerprint: str,
            device: torch.device, ddp: runtime.Dist, **extra: Any) -> dict[str, Any]:
    """The summary of a finished run (``train.json``, with provenance), and its log."""
    losses = [h["loss"] for h in history if "loss" in h]
    summary = {
        **meta,
        "epochs": len(losses),
        "final_loss": losses[-1] if losses else None,
        "train_seconds": sum(h.get("seconds", 0.0) for h in history),
        "train_config": to_dict(spec.train),
        "model_config": to_dict(spec.model),
        "augment": to_dict(spec.augment),
        **extra,
        "provenance": provenance(
            params_hash=params_hash({"run": spec.run, "model": spec.model, "train": spec.train,
                                     "augment": spec.augment}),
            data_fingerprint=fingerprint, device=str(device), seed=spec.seed, processes=ddp.world,
        ),
    }
    if ddp.main:
        write_csv(spec.out_dir / "train_log.csv", pd.DataFrame(history))
        write_json(spec.out_dir / "train.json", summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-id", required=True, help="a run id under `bottomup.runs:` in params.yaml")
    parser.add_argument("--out", required=True, type=Path, help="output folder (resumes from OUT/ckpt/last.pt)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="holds pretrain_<key>/model.pt")
    parser.add_argument("--params", type=Path, default=None, help="params file (default: params.yaml at the root)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    spec = BottomUpRunSpec.resolve(load_params(args.params), args.run_id, out_dir=args.out, runs_dir=args.runs_dir)
    try:
        train_bottomup_run(spec, progress=not args.no_progress)
    finally:
        runtime.close_distributed()


if __name__ == "__main__":
    main()
