"""Training with the HRNet recipe (REFERENCE_SPEC §5), resumable, on one device or under ``torchrun`` (DDP).

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
resumption) is not resumed: the run starts afresh, as DVC expects when it re-runs a changed stage whose
``ckpt`` folder it keeps (``persist: true``).
"""
from __future__ import annotations

import argparse
import bisect
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from . import engine
from .augment import build_augmenter, partmix_sources_from_records
from .config import ConfigError, to_dict
from .data import TopDownDataset
from .splits import load_split
from .io import atomic_path, provenance, torch_save, write_csv, write_json
from .keypoints import get_skeleton
from .models import create_model, load_pose_checkpoint
from .params import Params, TrainConfig, load_params, params_hash, repo_root

__all__ = ["train", "joints_mse_loss", "lr_for_epoch", "resolve_device", "main"]

RESUMABLE_CHANGES: tuple[str, ...] = ("epochs", "workers", "checkpoint_every", "eval_every", "compile")
"""``train`` settings that may differ between a run and its resumption (they do not change the weights so far)."""


def joints_mse_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """HRNet's JointsMSELoss with target weight: 0.5 * MSE(w * pred, w * gt), averaged over joints."""
    w = weight.reshape(weight.shape[0], weight.shape[1], 1, 1)
    return 0.5 * torch.mean((pred.float() * w - target * w) ** 2)


def lr_for_epoch(cfg: TrainConfig, epoch: int) -> float:
    """MultiStepLR's learning rate at ``epoch`` (0-based); the legacy order moves every drop one epoch earlier."""
    e = epoch + 1 if cfg.legacy_scheduler_order else epoch
    return cfg.lr * cfg.gamma ** bisect.bisect_right(list(cfg.milestones), e)


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested in params.yaml but no CUDA device is available; use device: auto")
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def flush_denormals() -> None:
    """Treat subnormal floats as zero on the CPU.

    The heads start at std 0.001 (HRNet's init), so early gradients are tiny and the CPU's slow path for
    subnormal numbers made a training step 60x slower (9.7 s instead of 0.15 s for 32 crops on 2 cores).
    """
    torch.set_flush_denormal(True)


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Dist:
    """Join torchrun's process group (gloo on the CPU, NCCL on CUDA); a single process gets rank 0 of 1.

    On CUDA the rank's GPU becomes the current device, which NCCL collectives (object gathers included) use.
    """
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return _Dist()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size())


class _EpochSampler(Sampler[int]):
    """The distributed sampler's order for one epoch, skipping the samples already seen before a resume."""

    def __init__(self, base: DistributedSampler, skip: int = 0):
        self.base, self.skip = base, skip

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.base)[self.skip :])

    def __len__(self) -> int:
        return len(self.base) - self.skip


def load_backbone(model: torch.nn.Module, path: Path, *, head: bool = False) -> str:
    """Initialise ``model.backbone`` from a pretrain stage's ``model.pt`` (the head keeps its fresh init), and
    with ``head`` the head too where its shapes fit (a pretrain on the same keypoints).

    Returns the file's fingerprint. Every backbone tensor must be present with the right shape.
    """
    from .io import file_fingerprint

    if not path.is_file():
        raise FileNotFoundError(f"{path}: pretrained backbone missing (run its pretrain stage first)")
    state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    backbone = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    own = model.backbone.state_dict()
    bad = sorted(set(own) ^ set(backbone)) + sorted(k for k in own if k in backbone and own[k].shape != backbone[k].shape)
    if bad:
        raise ValueError(f"{path}: backbone does not fit this model ({len(bad)} keys differ, e.g. {', '.join(bad[:5])})")
    model.backbone.load_state_dict(backbone)
    if head:
        own_head = model.head.state_dict()
        saved = {k[len("head."):]: v for k, v in state.items() if k.startswith("head.")}
        if set(saved) == set(own_head) and all(own_head[k].shape == v.shape for k, v in saved.items()):
            model.head.load_state_dict(saved)
    return file_fingerprint(path)


def _load_checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def _resume_key(params: Params, run_id: str, data_fingerprint: str) -> str:
    """Hash of everything that shapes the weights: a checkpoint resumes only a run with the same key."""
    run = params.run(run_id)
    recipe = {k: v for k, v in to_dict(params.train_for(run_id)).items() if k not in RESUMABLE_CHANGES}
    return params_hash({
        "dataset": run.dataset, "seed": run.seed, "model": params.models[run.model], "preset": params.augs[run.preset],
        "train": recipe, "data": data_fingerprint,
    })


def _global_sums(loss_sum: torch.Tensor, seen: int, ddp: _Dist) -> tuple[torch.Tensor, int]:
    """The epoch's loss sum and sample count over all processes (a collective: every rank must call it)."""
    if ddp.world == 1:
        return loss_sum, seen
    totals = torch.stack([loss_sum, torch.tensor(float(seen), device=loss_sum.device)])
    dist.all_reduce(totals)
    return totals[0], int(totals[1].item())


def train(
    params: Params,
    run_id: str,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    runs_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train run ``run_id`` of ``params`` with ``seed`` into ``out_dir`` (resuming from ``out_dir/ckpt/last.pt``).

    ``seed`` is one of the run's ``seeds`` (default: the run's only seed). ``runs_dir`` holds the pretrained
    backbones (``pretrain_<key>/model.pt``) and the validation crop cache; default: ``out_dir``'s parent.
    """
    out_dir = Path(out_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else out_dir.parent
    if seed is None and len(params.run(run_id).seeds) > 1:
        raise ConfigError(f"runs.{run_id}.seeds = {list(params.run(run_id).seeds)}: name the seed to train")
    params = params.for_seed(run_id, params.run(run_id).seed if seed is None else seed)
    run = params.run(run_id)
    recipe = params.models[run.model]
    cfg = params.train_for(run_id)
    skeleton = get_skeleton(run.dataset)
    device = resolve_device(params.device)
    ddp = _init_distributed(device)
    seed_everything(run.seed)
    flush_denormals()

    train_split = load_split(params, run.dataset, "train")
    val_split = load_split(params, run.dataset, "val")
    preset = params.augs[run.preset]
    augmenter = build_augmenter(
        preset.augment, skeleton, partmix_sources=partmix_sources_from_records(train_split.records)
    )
    dataset = TopDownDataset(
        train_split.records,
        image_size=recipe.input_size,
        heatmap_size=recipe.heatmap_size,
        sigma=recipe.sigma,
        train=True,
        transform=params.transform_for(run_id),
        skeleton=skeleton,
        augmenter=augmenter,
        rgb=recipe.color == "rgb",
        seed=run.seed,
    )
    eval_set = engine.build_eval_set(
        val_split.records, recipe.input_size, dataset=run.dataset, coco_gt=val_split.coco_gt,
        cache_file=runs_dir / ".cache" / f"{run.dataset}_val_{recipe.input_size[0]}x{recipe.input_size[1]}.npz",
    )

    model = create_model(recipe.arch, num_joints=skeleton.num_joints).to(device)
    backbone_file = ""
    if run.pretrain:
        whole = params.pretrain[run.pretrain].init == "model"
        backbone_file = load_backbone(model, runs_dir / f"pretrain_{run.pretrain}" / "model.pt", head=whole)
        backbone_file += ":model" if whole else ""  # the resume key changes with what the run took
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)  # the reference passes only lr (no weight decay)

    meta = {
        "run": run_id, "dataset": run.dataset, "model": run.model, "arch": recipe.arch, "preset": run.preset,
        "seed": run.seed, "input_size": list(recipe.input_size),
    }
    if run.checkpoint:  # an official checkpoint stands in for training (the paper's baselines)
        load_pose_checkpoint(model, repo_root() / run.checkpoint)
        history = [{"epoch": 0, "val_metric": _validate(model, eval_set, skeleton, params, recipe.color, device)}]
        torch_save({"model": model.state_dict(), "meta": {**meta, "imported": run.checkpoint}}, out_dir / "model.pt")
        return _finish(params, run_id, out_dir, meta, history, train_split.fingerprint, device, imported=True)

    ckpt_path, best_path = out_dir / "ckpt" / "last.pt", out_dir / "ckpt" / "best.pt"
    resume_key = _resume_key(params, run_id, train_split.fingerprint + backbone_file)
    if ddp.main and ckpt_path.parent.is_dir():  # temporary files of saves a kill interrupted (io.atomic_path)
        for stale in ckpt_path.parent.glob(".*.tmp"):
            stale.unlink()
    state = _load_checkpoint(ckpt_path)
    if state is not None and state.get("resume_key") != resume_key:
        if ddp.main:
            print(f"{ckpt_path} was written with other settings or data; training {run_id} from the start")
            best_path.unlink(missing_ok=True)
        state = None
    start_epoch, start_iter, best, history, partial = 0, 0, -math.inf, [], None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, start_iter, best = state["epoch"], state["iteration"], state["best"]
        history = list(state["history"])
        partial = state["partial"] if start_iter and ddp.main else None
        if ddp.main and progress:
            print(f"resuming {run_id} from {ckpt_path} at epoch {start_epoch}, iteration {start_iter}")

    net: torch.nn.Module = model
    if ddp.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    step_fn = torch.compile(net) if cfg.compile else net
    autocast = device.type == "cuda" and cfg.amp
    sampler = DistributedSampler(dataset, num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=run.seed)

    def save(epoch: int, iteration: int, partial: tuple[torch.Tensor, int] | None = None) -> None:
        """Checkpoint; ``partial`` is the interrupted epoch's global (loss sum, samples) so far."""
        if ddp.main:
            torch_save({
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                "iteration": iteration, "best": best, "history": history, "meta": meta, "resume_key": resume_key,
                "partial": None if partial is None else (partial[0].detach().cpu(), partial[1]),
            }, ckpt_path)

    for epoch in range(start_epoch, cfg.epochs):
        lr = lr_for_epoch(cfg, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        skip = start_iter * cfg.batch_size if epoch == start_epoch else 0
        loader = DataLoader(
            dataset, batch_size=cfg.batch_size, sampler=_EpochSampler(sampler, skip), num_workers=cfg.workers,
            pin_memory=device.type == "cuda", drop_last=False, persistent_workers=False,
        )
        n_iters = len(loader) + (start_iter if epoch == start_epoch else 0)
        if cfg.max_iters_per_epoch:
            n_iters = min(n_iters, cfg.max_iters_per_epoch)
        it0 = start_iter if epoch == start_epoch else 0
        net.train()
        t0, seen, loss_sum = time.perf_counter(), 0, torch.zeros((), device=device)
        if epoch == start_epoch and partial is not None:  # the samples before the resume (rank 0 holds them all)
            loss_sum, seen = partial[0].to(device), int(partial[1])
        resumed_seen = seen
        bar = tqdm(total=n_iters, initial=it0, desc=f"{run_id} epoch {epoch + 1}/{cfg.epochs}",
                   disable=not (progress and ddp.main), leave=False)
        for it, batch in enumerate(loader, start=it0):
            if it >= n_iters:
                break
            images = batch["image"].to(device, non_blocking=True)
            if cfg.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            target = batch["target"].to(device, non_blocking=True)
            weight = batch["target_weight"].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                output = step_fn(images)
            loss = joints_mse_loss(output, target, weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * images.shape[0]
            seen += images.shape[0]
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.2e}", lr=f"{lr:.1e}")
            if cfg.checkpoint_every and (it + 1) % cfg.checkpoint_every == 0 and it + 1 < n_iters:
                save(epoch, it + 1, _global_sums(loss_sum, seen, ddp))
        bar.close()
        elapsed = time.perf_counter() - t0
        loss_sum, seen = _global_sums(loss_sum, seen, ddp)
        row = {"epoch": epoch + 1, "lr": lr, "loss": float(loss_sum) / max(seen, 1),
               "samples_per_s": (seen - resumed_seen) / max(elapsed, 1e-9), "seconds": elapsed}
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            metric = _validate(model, eval_set, skeleton, params, recipe.color, device) if ddp.main else 0.0
            row["val_metric"] = metric
            if ddp.main and metric > best:
                best = metric
                best_state = {"model": model.state_dict(), "meta": {**meta, "epoch": epoch + 1, "val_metric": metric}}
                torch_save(best_state, best_path)
                torch_save(best_state, out_dir / "model.pt")
        history.append(row)
        start_iter = 0
        save(epoch + 1, 0)
        if ddp.main:
            write_csv(out_dir / "train_log.csv", pd.DataFrame(history))
    if ddp.world > 1:
        dist.barrier()
    if ddp.main and not (out_dir / "model.pt").is_file() and best_path.is_file():
        with atomic_path(out_dir / "model.pt") as tmp:  # a finished run whose model.pt DVC removed before re-running
            shutil.copyfile(best_path, tmp)
    return _finish(params, run_id, out_dir, meta, history, train_split.fingerprint, device, write=ddp.main)


def _finish(params: Params, run_id: str, out_dir: Path, meta: dict, history: list[dict], fingerprint: str,
            device: torch.device, *, imported: bool = False, write: bool = True) -> dict[str, Any]:
    run = params.run(run_id)
    cfg = params.train_for(run_id)
    preset = params.augs[run.preset]
    metrics = [h["val_metric"] for h in history if "val_metric" in h]
    summary = {
        **meta,
        "imported_checkpoint": run.checkpoint if imported else None,
        "best_val_metric": max(metrics) if metrics else None,
        "val_metric_name": "PCKh@0.5 Mean" if run.dataset == "mpii" else "AP (GT boxes)",
        "epochs": 0 if imported else cfg.epochs,
        "train_config": to_dict(cfg),
        "augment": to_dict(preset.augment),
        "transform": to_dict(params.transform_for(run_id)),
        "provenance": provenance(
            params_hash=params_hash({"run": run, "model": params.models[run.model], "preset": preset, "train": cfg}),
            data_fingerprint=fingerprint, device=str(device), seed=run.seed,
        ),
    }
    if write:
        write_csv(out_dir / "train_log.csv", pd.DataFrame(history))
        write_json(out_dir / "train.json", summary)
    return summary


def _validate(model, eval_set, skeleton, params: Params, color: str, device: torch.device) -> float:
    e = params.eval
    preds, maxvals = engine.predict(
        model, eval_set, skeleton, color=color, flip_test=e.flip_test, shift_heatmap=e.shift_heatmap,
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
    params = load_params(args.params)
    train(params, args.run, args.out, seed=args.seed, runs_dir=args.runs_dir, progress=not args.no_progress)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
