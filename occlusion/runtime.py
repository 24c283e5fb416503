"""The training runtime that top-down and bottom-up training share: the device, seeding, ``torchrun`` (DDP) set-up
and teardown, the LR schedule, the checkpoint and one epoch loop (:func:`fit`).

Resumption: ``ckpt/last.pt`` holds the model, the optimizer, the epoch, the iteration within it (mid-epoch
checkpoints), the best validation metric, the log and the epoch's loss sums so far, with a *resume key* (a hash
of everything that shapes the weights). A run started again with the same key resumes from it and ends with the
weights and log of an uninterrupted one (on CPU; on GPU up to non-deterministic kernels): the learning rate is a
function of the epoch (:func:`lr_for_epoch`) and every random draw of the data (sample order, augmentation,
affine transform) derives from ``(seed, epoch, index)``, so there is no RNG state to save. A checkpoint of
another key is not resumed: training starts afresh, as DVC expects when it re-runs a changed stage whose
``ckpt`` folder it keeps (``persist: true``).
"""
from __future__ import annotations

import bisect
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler

from .io import torch_save, write_csv
from .progress import progress_bar

log = logging.getLogger(__name__)

__all__ = [
    "resolve_device", "seed_everything", "flush_denormals", "Dist", "init_distributed", "close_distributed",
    "lr_for_epoch", "warmup_factor", "set_lr", "global_sums", "EpochSampler", "load_checkpoint", "Checkpoint",
    "LoopState", "Job", "fit",
]


def resolve_device(name: str = "auto") -> torch.device:
    """``params.device``: ``auto`` takes CUDA where there is one; under ``torchrun`` the rank's GPU."""
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


@dataclass(frozen=True)
class Dist:
    """This process's place under ``torchrun``: rank ``rank`` of ``world`` (a single process: 0 of 1)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0, which writes the files."""
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """Join torchrun's process group (gloo on the CPU, NCCL on CUDA); a single process gets rank 0 of 1.

    On CUDA the rank's GPU becomes the current device, which NCCL collectives (object gathers included) use.
    """
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return Dist()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


def close_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


class Recipe(Protocol):
    """The recipe fields the loop reads (``TrainConfig`` and ``BottomUpTrainConfig`` both have them)."""

    epochs: int
    lr: float
    milestones: tuple[int, ...]
    gamma: float
    legacy_scheduler_order: bool
    batch_size: int
    workers: int
    max_iters_per_epoch: int


def lr_for_epoch(cfg: Recipe, epoch: int) -> float:
    """MultiStepLR's learning rate at ``epoch`` (0-based); the legacy order moves every drop one epoch earlier."""
    e = epoch + 1 if cfg.legacy_scheduler_order else epoch
    return cfg.lr * cfg.gamma ** bisect.bisect_right(list(cfg.milestones), e)


def warmup_factor(cfg: Recipe, iteration: int) -> float:
    """mmcv's linear warm-up: the fraction of the epoch's learning rate at global ``iteration`` (0-based),
    ``1 - (1 - iteration / warmup_iters) * (1 - warmup_ratio)``, and 1 from ``warmup_iters`` on (a recipe
    without ``warmup_iters``, the bottom-up one, has no warm-up)."""
    n = getattr(cfg, "warmup_iters", 0)
    if iteration >= n:
        return 1.0
    return 1.0 - (1.0 - iteration / n) * (1.0 - getattr(cfg, "warmup_ratio", 0.001))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every group's learning rate to ``lr`` times its ``lr_scale`` (layer-wise decay; 1 where absent)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def global_sums(sums: torch.Tensor, ddp: Dist) -> torch.Tensor:
    """``sums`` added over all processes (a collective: every rank must call it); ``sums`` itself is unchanged."""
    if ddp.world == 1:
        return sums
    total = sums.clone()
    dist.all_reduce(total)
    return total


class EpochSampler(Sampler[int]):
    """The distributed sampler's order for one epoch, skipping the samples already seen before a resume."""

    def __init__(self, base: DistributedSampler, skip: int = 0):
        self.base, self.skip = base, skip

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.base)[self.skip :])

    def __len__(self) -> int:
        return len(self.base) - self.skip


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """A checkpoint's contents (tensors and plain data only: ``weights_only``), or None if there is none."""
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


@dataclass
class LoopState:
    """Where training stands: the next epoch, the iteration within it, the best validation metric, the log and
    the interrupted epoch's global (loss sums, samples) so far."""

    epoch: int = 0
    iteration: int = 0
    best: float = -math.inf
    history: list[dict[str, Any]] = field(default_factory=list)
    partial: tuple[torch.Tensor, int] | None = None


@dataclass
class Checkpoint:
    """``<folder>/last.pt`` of one training (written atomically by rank 0), and ``best.pt`` beside it; a saved
    state resumes only a run of the same ``resume_key`` (and, with ``max_epoch``, no more epochs than that)."""

    folder: Path
    resume_key: str
    meta: dict[str, Any]
    ddp: Dist
    max_epoch: int | None = None

    @property
    def last(self) -> Path:
        return self.folder / "last.pt"

    @property
    def best(self) -> Path:
        return self.folder / "best.pt"

    def resume(self, name: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> LoopState:
        """Restore ``model`` and ``optimizer`` from ``last.pt`` if it is this run's; the state to go on from."""
        if self.ddp.main and self.folder.is_dir():  # temporary files of saves a kill interrupted (io.atomic_path)
            for stale in self.folder.glob(".*.tmp"):
                stale.unlink()
        state = load_checkpoint(self.last)
        longer = state is not None and self.max_epoch is not None and state["epoch"] > self.max_epoch
        if state is not None and (state.get("resume_key") != self.resume_key or longer):
            if self.ddp.main:
                more = ", data or more epochs" if self.max_epoch is not None else " or data"
                log.warning("%s was written with other settings%s; training %s from the start", self.last, more, name)
                self.best.unlink(missing_ok=True)
            state = None
        if state is None:
            return LoopState()
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        iteration = state.get("iteration", 0)
        partial = state.get("partial") if iteration and self.ddp.main else None
        if self.ddp.main:
            log.info("resuming %s from %s at epoch %d, iteration %d", name, self.last, state["epoch"], iteration)
        return LoopState(state["epoch"], iteration, state.get("best", -math.inf), list(state["history"]), partial)

    def save(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: LoopState) -> None:
        """Write ``last.pt`` (rank 0; the other ranks return)."""
        if self.ddp.main:
            torch_save({
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": state.epoch,
                "iteration": state.iteration, "best": state.best, "history": state.history, "meta": self.meta,
                "resume_key": self.resume_key,
                "partial": None if state.partial is None else (state.partial[0].detach().cpu(), state.partial[1]),
            }, self.last)


Step = Callable[[torch.nn.Module, dict[str, Any]], dict[str, torch.Tensor]]
"""A training step's forward pass: (the network, a batch) -> the loss terms; ``"loss"`` is minimised."""


@dataclass
class Job:
    """One training for :func:`fit`."""

    name: str
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    dataset: Dataset
    """A training set with ``set_epoch(epoch)`` (its random draws derive from the seed, epoch and index)."""
    step: Step
    terms: tuple[str, ...]
    """The loss terms logged per epoch (means over the epoch's samples), ``"loss"`` first."""
    seed: int
    checkpoint: Checkpoint
    out_dir: Path
    device: torch.device
    ddp: Dist
    validate: Callable[[], float] | None = None
    """The validation metric (rank 0); the best epoch's weights go to ``model.pt`` and ``ckpt/best.pt``."""
    eval_every: int = 1
    checkpoint_every: int = 0
    """Also checkpoint every N iterations (0: only at the end of each epoch)."""
    compile: bool = False


def fit(job: Job, cfg: Recipe, *, progress: bool = True) -> list[dict[str, Any]]:
    """Train ``job`` up to ``cfg.epochs`` epochs from where its checkpoint left off (the learning rate set per
    epoch by :func:`lr_for_epoch`, times each group's ``lr_scale``, and per iteration during a warm-up by
    :func:`warmup_factor`; gradients clipped to ``cfg.clip_grad`` where set); the log, one row per epoch. Every
    epoch ends with ``ckpt/last.pt`` and ``train_log.csv``; with ``job.validate``, the best epoch's weights are kept
    as ``model.pt``."""
    device, ddp = job.device, job.ddp
    state = job.checkpoint.resume(job.name, job.model, job.optimizer)
    net: torch.nn.Module = job.model
    if ddp.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(job.model, device_ids=ids)
    forward = torch.compile(net) if job.compile else net
    sampler = DistributedSampler(job.dataset, num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=job.seed)
    for epoch in range(state.epoch, cfg.epochs):
        lr = lr_for_epoch(cfg, epoch)
        set_lr(job.optimizer, lr)
        sampler.set_epoch(epoch)
        job.dataset.set_epoch(epoch)
        net.train()
        t0 = time.perf_counter()
        sums, resumed = _train_epoch(job, cfg, forward, EpochSampler(sampler, state.iteration * cfg.batch_size),
                                     state, epoch, lr, progress)
        elapsed = time.perf_counter() - t0
        sums = global_sums(sums, ddp)
        seen = float(sums[-1])
        row = {"epoch": epoch + 1, "lr": lr, **{t: float(s) / max(seen, 1.0) for t, s in zip(job.terms, sums)},
               "samples_per_s": (seen - resumed) / max(elapsed, 1e-9), "seconds": elapsed}
        if job.validate is not None and ((epoch + 1) % job.eval_every == 0 or epoch + 1 == cfg.epochs):
            row["val_metric"] = _validate(job, state, epoch)
        state.history.append(row)
        state.epoch, state.iteration, state.partial = epoch + 1, 0, None
        job.checkpoint.save(job.model, job.optimizer, state)
        if ddp.main:
            write_csv(job.out_dir / "train_log.csv", pd.DataFrame(state.history))
    if ddp.world > 1:
        dist.barrier()
    return state.history


def _train_epoch(job: Job, cfg: Recipe, forward: torch.nn.Module, sampler: EpochSampler, state: LoopState,
                 epoch: int, lr: float, progress: bool) -> tuple[torch.Tensor, float]:
    """The steps of one epoch from iteration ``state.iteration``: this rank's loss-term sums and sample count
    (the last entry), and the count it resumed with."""
    device, it0 = job.device, state.iteration
    loader = DataLoader(job.dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.workers,
                        pin_memory=device.type == "cuda", drop_last=False, persistent_workers=False)
    n_iters = len(loader) + it0
    if cfg.max_iters_per_epoch:
        n_iters = min(n_iters, cfg.max_iters_per_epoch)
    sums = torch.zeros(len(job.terms) + 1, device=device)
    if state.partial is not None:  # the samples before the resume (rank 0 holds them all)
        sums = torch.cat([state.partial[0].reshape(-1).to(device), sums.new_tensor([float(state.partial[1])])])
    resumed = float(sums[-1])
    bar = progress_bar(total=n_iters, initial=it0, desc=f"{job.name} epoch {epoch + 1}/{cfg.epochs}",
                       disable=not (progress and job.ddp.main), leave=False)
    warmup, clip = getattr(cfg, "warmup_iters", 0), getattr(cfg, "clip_grad", 0.0)  # top-down recipe only
    for it, batch in enumerate(loader, start=it0):
        if it >= n_iters:
            break
        if warmup and epoch * n_iters + it <= warmup:  # the warm-up, and the epoch's own lr once it ends
            set_lr(job.optimizer, lr * warmup_factor(cfg, epoch * n_iters + it))
        terms = job.step(forward, batch)
        job.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(job.model.parameters(), clip)
        job.optimizer.step()
        n = batch["image"].shape[0]
        sums += torch.stack([*(terms[t].detach().float() * n for t in job.terms), sums.new_tensor(float(n))])
        if bar.update(1):  # the loss (a device sync) only when the bar redraws
            bar.set_postfix(loss=f"{terms['loss'].item():.2e}", lr=f"{lr:.1e}", refresh=False)
        if job.checkpoint_every and (it + 1) % job.checkpoint_every == 0 and it + 1 < n_iters:
            totals = global_sums(sums, job.ddp)  # the epoch so far, over all ranks
            partial = (totals[:-1].squeeze(0).clone(), int(totals[-1]))
            job.checkpoint.save(job.model, job.optimizer, LoopState(epoch, it + 1, state.best, state.history, partial))
    bar.close()
    return sums, resumed


def _validate(job: Job, state: LoopState, epoch: int) -> float:
    """The validation metric after ``epoch`` (rank 0; 0.0 on the others); a new best goes to ``ckpt/best.pt`` and
    ``model.pt``."""
    if not job.ddp.main:
        return 0.0
    metric = job.validate()
    if metric > state.best:
        state.best = metric
        best = {"model": job.model.state_dict(), "meta": {**job.checkpoint.meta, "epoch": epoch + 1,
                                                          "val_metric": metric}}
        torch_save(best, job.checkpoint.best)
        torch_save(best, job.out_dir / "model.pt")
    return metric
