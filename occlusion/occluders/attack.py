"""Object attacks (docs/METHODS.md §11): an object of the bank on a keypoint or over a part's box centre, sized to
a fraction of the person box, scored like the paper's attacks (COCO AP, ΔAP with its paired image-bootstrap
interval).

The placement of person ``i`` under attack ``a`` is drawn from ``default_rng([seed, crc32(a.name), i])``, so it
does not depend on the model, the batch or the other attacks: every model of the same input size sees the same
pixels.

Example:
    >>> ObjectAttack("nose", "keypoint", 0.05).name
    'object_nose_a0.05'
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from ..config import check
from ..keypoints import PARTS, Skeleton
from .bank import ObjectBank, load_bank
from .place import ObjectPlacement, apply_object, sample_placement

__all__ = ["ObjectAttackConfig", "ObjectAttack", "object_attack_grid", "sample_object_attack", "occlude_objects",
           "run_object_attacks", "ObjectAttackResult", "compare_to_baseline", "OBJECT_COLUMNS"]

OBJECT_COLUMNS: tuple[str, ...] = ("target", "target_kind", "area")
"""The columns that identify an object attack in its table."""


@dataclass(frozen=True)
class ObjectAttackConfig:
    """``attack.objects``: object attacks on ``keypoints`` and over ``parts`` at each of ``areas`` (fractions of
    the person box), rotated uniformly in ``±max_rotation`` degrees, objects from ``bank`` (``procedural`` of
    ``bank_seed`` and ``bank_size``, or a bank file), placements from ``seed``; ``runs``: the runs attacked
    (each one's first seed)."""

    runs: tuple[str, ...] = ()
    keypoints: tuple[str, ...] = ("nose", "left_wrist", "right_ankle")
    parts: tuple[str, ...] = ("upper_body", "left_arm")
    areas: tuple[float, ...] = (0.05, 0.15)
    max_rotation: float = 30.0
    bank: str = "procedural"
    bank_seed: int = 0
    bank_size: int = 48
    seed: int = 0

    def __post_init__(self) -> None:
        for part in self.parts:
            check(part in PARTS, "parts", part, f"a part: {', '.join(PARTS)}")
        check(len(self.areas) > 0 and all(0 < a <= 1 for a in self.areas) and len(set(self.areas)) == len(self.areas),
              "areas", self.areas, "distinct fractions of the person box in (0, 1]")
        check(self.max_rotation >= 0, "max_rotation", self.max_rotation, "degrees >= 0")
        check(self.bank_size >= 1, "bank_size", self.bank_size, "an integer >= 1")
        check(len(set(self.runs)) == len(self.runs), "runs", self.runs, "no repeated runs")


@dataclass(frozen=True)
class ObjectAttack:
    """One object attack: ``target`` (keypoint or part), its kind, and the ``area`` fraction of the person box."""

    target: str
    target_kind: Literal["keypoint", "part"]
    area: float

    @property
    def name(self) -> str:
        return f"object_{self.target}_a{self.area:g}"


def object_attack_grid(cfg: ObjectAttackConfig) -> list[ObjectAttack]:
    """Keypoints then parts, each at every area, in that order."""
    return ([ObjectAttack(k, "keypoint", a) for k in cfg.keypoints for a in cfg.areas]
            + [ObjectAttack(p, "part", a) for p in cfg.parts for a in cfg.areas])


def sample_object_attack(attack: ObjectAttack, joints: np.ndarray, person: int, bank: ObjectBank,
                         skeleton: Skeleton, width: int, height: int, *, seed: int = 0,
                         max_rotation: float = 0.0) -> ObjectPlacement | None:
    """The placement of ``attack`` for person index ``person`` (module docstring); None if its target is missing."""
    rng = np.random.default_rng([seed, zlib.crc32(attack.name.encode()), person])
    return sample_placement(bank, joints, skeleton, width, height, mode=attack.target_kind, area=attack.area,
                            rng=rng, target=attack.target, max_rotation=max_rotation)


def occlude_objects(crops: torch.Tensor, joints: np.ndarray, attack: ObjectAttack, bank: ObjectBank,
                    skeleton: Skeleton, *, seed: int = 0, max_rotation: float = 0.0) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` crops with ``attack`` applied to each (crop ``i`` is person ``i``), on the host."""
    host = crops.cpu().numpy()
    height, width = host.shape[1:3]
    out = [apply_object(c, sample_object_attack(attack, joints[i], i, bank, skeleton, width, height, seed=seed,
                                                max_rotation=max_rotation), bank) for i, c in enumerate(host)]
    return torch.from_numpy(np.stack(out)).to(crops.device)


@dataclass
class ObjectAttackResult:
    """The object-attack table of one model and each row's AP in every image-bootstrap resample."""

    table: pd.DataFrame
    ap_samples: np.ndarray
    """(rows, resamples) float64, in the table's row order (the clean pass first)."""


def run_object_attacks(model: Any, eval_set: Any, cfg: ObjectAttackConfig, skeleton: Skeleton, *,
                       meta: dict[str, Any] | None = None, bootstrap_resamples: int = 200, alpha: float = 0.05,
                       bank: ObjectBank | None = None, **kw: Any) -> ObjectAttackResult:
    """Every attack of ``cfg`` on ``eval_set`` (ground-truth boxes): one row per attack plus the clean pass, with
    COCO AP.. AR, ``delta_AP`` and its paired image-bootstrap interval and p-value (``engine.INTERVAL_COLUMNS``).
    ``kw`` goes to :func:`occlusion.engine.run_attack_grid` (prediction and scoring settings); the resamples are
    :func:`occlusion.stats.resample_weights`' of seed 0, the same for every model on the same images."""
    from ..engine import INTERVAL_COLUMNS, METRICS, run_attack_grid
    from ..stats import mean_interval

    bank = bank if bank is not None else load_bank(cfg.bank, cfg.bank_seed, cfg.bank_size)
    clean_spec = _clean_spec()

    def score(crops: torch.Tensor) -> tuple[dict[str, float], np.ndarray]:
        attacked = dataclasses.replace(eval_set, crops=crops)
        result = run_attack_grid(model, attacked, [clean_spec], skeleton, progress=False,
                                 bootstrap_resamples=bootstrap_resamples, **kw)
        row = result.table.iloc[0]
        return {m: float(row[m]) for m in METRICS}, result.bootstrap.ap[0].astype(np.float64)

    clean, clean_boot = score(eval_set.crops)
    base = {**(meta or {}), "dataset": eval_set.dataset, "boxes": eval_set.name, "filler": "object"}
    rows = [{**base, "target": "clean", "target_kind": "none", "area": 0.0, **clean, "delta_AP": 0.0,
             **dict.fromkeys(INTERVAL_COLUMNS, np.nan)}]
    samples = [clean_boot]
    for attack in object_attack_grid(cfg):
        crops = occlude_objects(eval_set.crops, eval_set.joints, attack, bank, skeleton, seed=cfg.seed,
                                max_rotation=cfg.max_rotation)
        metrics, boot = score(crops)
        interval = mean_interval(boot - clean_boot, alpha) if bootstrap_resamples else (np.nan,) * 3
        rows.append({**base, "target": attack.target, "target_kind": attack.target_kind, "area": attack.area,
                     **metrics, "delta_AP": metrics["AP"] - clean["AP"], **dict(zip(INTERVAL_COLUMNS, interval))})
        samples.append(boot)
    return ObjectAttackResult(pd.DataFrame(rows), np.stack(samples))


def compare_to_baseline(results: list[ObjectAttackResult], alpha: float = 0.05) -> pd.DataFrame:
    """Each later model's AP minus the first's (the baseline) under the same attack (and clean), with the paired
    image-bootstrap interval and p-value of the difference: does training with objects help against them?"""
    from ..stats import mean_interval

    if not results:
        return pd.DataFrame()
    base = results[0]
    rows = []
    for other in results[1:]:
        for i, row in other.table.iterrows():
            b = base.table.iloc[i]
            diff = other.ap_samples[i] - base.ap_samples[i]
            low, high, p = mean_interval(diff, alpha) if diff.size else (np.nan,) * 3
            rows.append({"run": row["run"], "baseline": b["run"], "target": row["target"],
                         "target_kind": row["target_kind"], "area": row["area"], "AP": row["AP"],
                         "baseline_AP": b["AP"], "AP_vs_baseline": row["AP"] - b["AP"], "ci_low": low,
                         "ci_high": high, "p": p})
    return pd.DataFrame(rows)


def _clean_spec():
    from ..attacks import AttackSpec

    return AttackSpec("clean", "none", "none", None, True)

