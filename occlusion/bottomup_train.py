"""Training HigherHRNet for Table III with its recipe (REFERENCE_SPEC §5), resumable, on one device or under
``torchrun`` (DDP: gloo on the CPU, NCCL on CUDA)::

    python -m occlusion.bottomup_train --run-id higherhrnet_baseline --out runs/bottomup/higherhrnet_baseline
    torchrun --standalone --nproc_per_node=4 -m occlusion.bottomup_train --run-id ... --out ...

The output folder holds ``ckpt/last.pt`` (model, optimizer, epoch, log and resume key, written atomically at the
end of every epoch), ``model.pt`` (the final weights: HigherHRNet keeps its last epoch and does not select by
validation AP), ``train_log.csv`` (the loss terms per epoch) and ``train.json`` (a summary with provenance).

A killed run started again resumes from ``ckpt/last.pt`` and ends with the weights and log of an uninterrupted one
(on CPU; on GPU up to non-deterministic kernels): the model and optimizer state are restored, the learning rate is
a function of the epoch (:func:`occlusion.train.lr_for_epoch`), and every random draw (the sample order, each
instance's augmentation, the affine transform) derives from ``(seed, epoch, index)``, so there is no RNG state to
save. A checkpoint of other settings (only ``workers``, and ``epochs`` upwards, may change between a run and its
resumption) is not resumed: the run starts afresh, as DVC expects when it re-runs a changed stage whose ``ckpt``
it keeps.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from .bottomup import (
    BottomUpDataset,
    BottomUpNet,
    bottomup_loss,
    build_bottomup_augmenter,
    create_bottomup_model,
    load_bottomup_checkpoint,
)
from .config import to_dict
from .io import file_fingerprint, provenance, torch_save, write_csv, write_json
from .params import Params, load_params, params_hash
from .splits import _resolve, dataset_paths
from .train import _Dist, _init_distributed, flush_denormals, load_backbone, lr_for_epoch, resolve_device

__all__ = ["LOSS_TERMS", "RESUMABLE_CHANGES", "train_bottomup_run", "load_bottomup_model", "main"]

LOSS_TERMS: tuple[str, ...] = ("loss", "heatmaps_0", "heatmaps_1", "push", "pull")
"""The :func:`~occlusion.bottomup.bottomup_loss` terms logged per epoch (means over the epoch's images)."""
RESUMABLE_CHANGES: tuple[str, ...] = ("epochs", "workers")
"""``bottomup.train`` settings that may differ between a run and its resumption (``epochs`` only upwards)."""


def _resume_key(params: Params, run_id: str, data_fingerprint: str) -> str:
    """Hash of everything that shapes the weights: a checkpoint resumes only a run with the same key."""
    bu = params.bottomup
    run = params.bottomup_run(run_id)
    recipe = {k: v for k, v in to_dict(bu.train).items() if k not in RESUMABLE_CHANGES}
    return params_hash({"model": bu.model, "train": recipe, "augment": bu.augs[run.preset], "seed": run.seed,
                        "data": data_fingerprint})


def _global_sums(sums: torch.Tensor, ddp: _Dist) -> torch.Tensor:
    """Per-term loss sums and the image count (last entry) over all processes (every rank must call it)."""
    if ddp.world > 1:
        dist.all_reduce(sums)
    return sums


def load_bottomup_model(params: Params, path: Path) -> BottomUpNet:
    """The ``bottomup.model`` architecture with the weights of a ``model.pt`` this module wrote."""
    model = create_bottomup_model(params.bottomup.model.arch)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
    return model


def train_bottomup_run(
    params: Params, run_id: str, out_dir: str | Path, *, runs_dir: str | Path, progress: bool = True
) -> dict[str, Any]:
    """Train (``source: train``) or import (``source: checkpoint``) run ``run_id`` of ``bottomup.runs`` into
    ``out_dir``, resuming from ``out_dir/ckpt/last.pt``. ``runs_dir`` holds the pretrained backbone
    (``pretrain_<bottomup.model.pretrain>/model.pt``). Returns the summary written to ``train.json``."""
    out_dir, runs_dir = Path(out_dir), Path(runs_dir)
    bu = params.bottomup
    run = params.bottomup_run(run_id)
    recipe, cfg = bu.model, bu.train
    device = resolve_device(params.device)
    ddp = _init_distributed(device)
    flush_denormals()
    paths = dataset_paths(params, "coco")
    ann, images = _resolve(paths.train_annotations), _resolve(paths.train_images)
    fingerprint = file_fingerprint(ann)
    model = create_bottomup_model(recipe.arch, seed=run.seed)
    meta = {"run": run_id, "arch": recipe.arch, "preset": run.preset, "seed": run.seed, "source": run.source,
            "input_size": recipe.input_size}
    ckpt_path = out_dir / "ckpt" / "last.pt"

    if run.source == "checkpoint":  # Table III's baseline in the paper: the official HigherHRNet-W32 512 weights
        checkpoint = _resolve(run.checkpoint)
        report = load_bottomup_checkpoint(model, checkpoint)
        imported = {"model": model.state_dict(), "meta": {**meta, "imported": run.checkpoint, "layout": report.layout}}
        if ddp.main:
            torch_save(imported, ckpt_path)
            torch_save(imported, out_dir / "model.pt")
        extra = {"imported_checkpoint": run.checkpoint, "checkpoint_fingerprint": file_fingerprint(checkpoint)}
        return _finish(params, run_id, out_dir, meta, [{"epoch": 0}], fingerprint, device, ddp, **extra)

    backbone = load_backbone(model, runs_dir / f"pretrain_{recipe.pretrain}" / "model.pt")
    model.to(device)
    augmenter = build_bottomup_augmenter(bu.augs[run.preset], ann, images)
    dataset = BottomUpDataset(ann, images, input_size=recipe.input_size, output_sizes=recipe.output_sizes,
                              sigma=recipe.sigma, train=True, transform=recipe.transform, augmenter=augmenter,
                              seed=run.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)  # HigherHRNet passes only lr (no weight decay)
    resume_key = _resume_key(params, run_id, fingerprint + backbone)
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True) if ckpt_path.is_file() else None
    if state is not None and (state.get("resume_key") != resume_key or state["epoch"] > cfg.epochs):
        if ddp.main:
            print(f"{ckpt_path} was written with other settings, data or more epochs; training {run_id} from the start")
        state = None
    start, history = 0, []
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history = state["epoch"], list(state["history"])
        if ddp.main and progress:
            print(f"resuming {run_id} from {ckpt_path} at epoch {start}")

    net: torch.nn.Module = model
    if ddp.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    sampler = DistributedSampler(dataset, num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=run.seed)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.workers,
                        pin_memory=device.type == "cuda")
    autocast = device.type == "cuda" and cfg.amp
    for epoch in range(start, cfg.epochs):
        lr = lr_for_epoch(cfg, epoch)  # reads lr, gamma, milestones, legacy_scheduler_order: fields both configs share
        for group in optimizer.param_groups:
            group["lr"] = lr
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        n_iters = min(len(loader), cfg.max_iters_per_epoch or len(loader))
        net.train()
        t0, sums = time.perf_counter(), torch.zeros(len(LOSS_TERMS) + 1, device=device)
        bar = tqdm(total=n_iters, desc=f"{run_id} epoch {epoch + 1}/{cfg.epochs}", disable=not (progress and ddp.main),
                   leave=False)
        for it, batch in enumerate(loader):
            if it >= n_iters:
                break
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                outputs = net(batch["image"].to(device, non_blocking=True))
            losses = bottomup_loss(outputs, [h.to(device) for h in batch["heatmaps"]],
                                   [m.to(device) for m in batch["masks"]], batch["joints"].to(device))
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            optimizer.step()
            n = batch["image"].shape[0]
            sums += torch.stack([*(losses[t].detach().float() * n for t in LOSS_TERMS), sums.new_tensor(float(n))])
            bar.update(1)
            bar.set_postfix(loss=f"{losses['loss'].item():.2e}", lr=f"{lr:.1e}")
        bar.close()
        elapsed = time.perf_counter() - t0
        sums = _global_sums(sums, ddp)
        seen = float(sums[-1])
        means = {t: float(s) / max(seen, 1.0) for t, s in zip(LOSS_TERMS, sums)}
        history.append({"epoch": epoch + 1, "lr": lr, **means,
                        "samples_per_s": seen / max(elapsed, 1e-9), "seconds": elapsed})
        if ddp.main:
            torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                        "history": history, "meta": meta, "resume_key": resume_key}, ckpt_path)
            write_csv(out_dir / "train_log.csv", pd.DataFrame(history))
    if ddp.main:
        torch_save({"model": model.state_dict(), "meta": {**meta, "epoch": cfg.epochs}}, out_dir / "model.pt")
    if ddp.world > 1:
        dist.barrier()
    return _finish(params, run_id, out_dir, meta, history, fingerprint, device, ddp, backbone_fingerprint=backbone)


def _finish(params: Params, run_id: str, out_dir: Path, meta: dict[str, Any], history: list[dict[str, Any]],
            fingerprint: str, device: torch.device, ddp: _Dist, **extra: Any) -> dict[str, Any]:
    bu = params.bottomup
    run = params.bottomup_run(run_id)
    losses = [h["loss"] for h in history if "loss" in h]
    summary = {
        **meta,
        "epochs": len(losses),
        "final_loss": losses[-1] if losses else None,
        "train_seconds": sum(h.get("seconds", 0.0) for h in history),
        "train_config": to_dict(bu.train),
        "model_config": to_dict(bu.model),
        "augment": to_dict(bu.augs[run.preset]),
        **extra,
        "provenance": provenance(
            params_hash=params_hash({"run": run, "model": bu.model, "train": bu.train, "augment": bu.augs[run.preset]}),
            data_fingerprint=fingerprint, device=str(device), seed=run.seed, processes=ddp.world,
        ),
    }
    if ddp.main:
        write_csv(out_dir / "train_log.csv", pd.DataFrame(history))
        write_json(out_dir / "train.json", summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-id", required=True, help="a run id under `bottomup.runs:` in params.yaml")
    parser.add_argument("--out", required=True, type=Path, help="output folder (resumes from OUT/ckpt/last.pt)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="holds pretrain_<key>/model.pt")
    parser.add_argument("--params", type=Path, default=None, help="params file (default: params.yaml at the root)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        train_bottomup_run(load_params(args.params), args.run_id, args.out, runs_dir=args.runs_dir,
                           progress=not args.no_progress)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
