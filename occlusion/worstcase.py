"""Worst-case occluder search: the smallest occluder that breaks a keypoint or a part (docs/METHODS.md §12).

For each person and target, a gradient-free search over the occluder's **size** (a grid of area fractions of the
person box, :class:`WorstCaseConfig`), **position** (an offset from the target that keeps the target under the
occluder) and **fill** (a square of a filler, or an object of the bank) finds the smallest area at which some
occluder *breaks* the target: the OKS against ground truth of the keypoint (mean over the part's labelled
keypoints) falls below ``threshold`` (0.5).

Search, per person and target, everything drawn from ``default_rng([seed, target, person])``:

1. **binary search over the area grid** (``ceil(log2(L + 1))`` probed levels for ``L`` areas): a level that
   breaks moves the search down, one that holds moves it up; the answer is the smallest probed breaking level (an
   upper bound of the smallest breaking area on the grid if breaking is not monotone in area);
2. at each probed level, **random search with successive halving**: ``candidates`` random occluders, then for
   ``rounds - 1`` rounds the best half so far (lowest OKS) each get one perturbed copy with half the previous
   offset range; a level stops at the first round with a breaking occluder.

All persons of a target advance in lockstep, so each round is one batched forward pass of at most
``persons x candidates`` crops. The cost is at most :meth:`WorstCaseConfig.budget` forward passes (crops) per
person and target, plus one clean pass.

Example:
    >>> WorstCaseConfig(areas=(0.01, 0.02, 0.04, 0.08), candidates=6, rounds=2).budget()
    27
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from .config import check
from .keypoints import FILLERS, PARTS, Skeleton
from .occluders.bank import ObjectBank
from .occluders.place import ObjectPlacement, apply_object, person_area
from .progress import progress_bar
from .regions import Occluder, apply_occluder, part_box

__all__ = ["WorstCaseConfig", "Candidate", "keypoint_oks", "search_targets", "worstcase_curves",
           "worstcase_summary", "PredictFn"]

PredictFn = Callable[[torch.Tensor], np.ndarray]
"""uint8 crops ``(N, H, W, 3)`` -> keypoints ``(N, K, 2)`` in crop pixels."""
BLUR_KERNEL = 31


@dataclass(frozen=True)
class WorstCaseConfig:
    """The search (module docstring): ``targets`` (keypoint or part names), the ascending ``areas`` grid (fractions
    of the person box), ``fills`` (fillers and/or ``object``), ``candidates`` and ``rounds`` per probed level, the
    OKS ``threshold``, the ``seed``, at most ``max_persons`` persons (the first ones; None: all). In
    ``params.yaml`` (``worstcase:``) also the ``runs`` searched (each one's first seed) and the object ``bank``
    (``procedural`` of ``bank_seed``, ``bank_size``, or a bank file)."""

    runs: tuple[str, ...] = ()
    targets: tuple[str, ...] = ("nose", "left_wrist", "right_ankle")
    areas: tuple[float, ...] = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
    fills: tuple[str, ...] = ("blackout", "object")
    candidates: int = 6
    rounds: int = 2
    threshold: float = 0.5
    seed: int = 0
    max_persons: int | None = None
    bank: str = "procedural"
    bank_seed: int = 0
    bank_size: int = 48

    def __post_init__(self) -> None:
        check(len(self.targets) > 0, "targets", self.targets, "at least one keypoint or part")
        check(len(self.areas) > 0 and all(0 < a <= 1 for a in self.areas)
              and list(self.areas) == sorted(set(self.areas)), "areas", self.areas,
              "distinct ascending fractions in (0, 1]")
        for fill in self.fills:
            check(fill in (*FILLERS, "object"), "fills", fill, f"one of {', '.join(FILLERS)}, object")
        check(len(self.fills) > 0, "fills", self.fills, "at least one fill")
        check(self.candidates >= 1, "candidates", self.candidates, "an integer >= 1")
        check(self.rounds >= 1, "rounds", self.rounds, "an integer >= 1")
        check(0 < self.threshold < 1, "threshold", self.threshold, "an OKS in (0, 1)")
        check(self.max_persons is None or self.max_persons >= 1, "max_persons", self.max_persons, "an integer >= 1")

    def levels_probed(self) -> int:
        """Area levels the binary search probes at most: ``ceil(log2(L + 1))``."""
        return math.ceil(math.log2(len(self.areas) + 1))

    def per_level(self) -> int:
        """Queries of one probed level at most: ``candidates`` then ``ceil(candidates / 2^r)`` per later round."""
        return self.candidates + sum(math.ceil(self.candidates / 2**r) for r in range(1, self.rounds))

    def budget(self) -> int:
        """Forward passes (crops) per person and target at most, the clean pass aside."""
        return self.levels_probed() * self.per_level()


@dataclass(frozen=True)
class Candidate:
    """One occluder of the search: ``fill`` (a filler or ``object``), bank ``object_id``, offset ``(dx, dy)`` from
    the target's anchor as a fraction of the occluder's side (within ±0.5, so the anchor stays covered)."""

    fill: str
    object_id: int
    dx: float
    dy: float

    def apply(self, crop: np.ndarray, anchor: tuple[float, float], area: float, bank: ObjectBank | None) -> np.ndarray:
        """The crop with this occluder at ``area`` of the person box around ``anchor`` (crop px)."""
        height, width = crop.shape[:2]
        side = math.sqrt(area * person_area(width, height))
        cx, cy = anchor[0] + self.dx * side, anchor[1] + self.dy * side
        if self.fill == "object":
            scale = side / math.sqrt(bank.opaque_area(self.object_id))
            return apply_object(crop, ObjectPlacement(self.object_id, (cx, cy), scale, 0.0, area), bank)
        x0, y0 = int(np.clip(round(cx - side / 2), 0, width)), int(np.clip(round(cy - side / 2), 0, height))
        x1, y1 = int(np.clip(round(cx + side / 2), 0, width)), int(np.clip(round(cy + side / 2), 0, height))
        if x1 <= x0 or y1 <= y0:
            return crop.copy()
        occluder = Occluder("rect", self.fill, rect=(x0, y0, x1, y1), blur_kernel=BLUR_KERNEL if self.fill == "blur"
                            else 0)
        return apply_occluder(crop, occluder)


def keypoint_oks(pred: np.ndarray, gt: np.ndarray, area: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """COCO's per-keypoint OKS ``exp(-d^2 / (2 s^2 (2 sigma)^2))`` of ``pred (N, K, 2)`` against ``gt (N, K, 2)``,
    with ``s^2`` the object ``area (N,)`` in the same pixels; ``(N, K)``.

    >>> oks = keypoint_oks(np.zeros((1, 1, 2)), np.array([[[3.0, 4.0]]]), np.array([100.0]), np.array([0.5]))
    >>> round(float(oks[0, 0]), 4)  # exp(-25 / 200)
    0.8825
    """
    d2 = ((np.asarray(pred, np.float64) - gt) ** 2).sum(-1)
    return np.exp(-d2 / (2.0 * area[:, None] * (2.0 * sigmas[None, :]) ** 2))


def _target(target: str, joints: np.ndarray, skeleton: Skeleton) -> tuple[tuple[float, float] | None, list[int]]:
    """The anchor (keypoint, or part box centre) and the labelled keypoints scored for ``target``."""
    if target in PARTS:
        box = part_box(joints, target, skeleton)
        idx = [i for i in skeleton.part_mapping.get(target, skeleton.box_parts.get(target, ())) if joints[i, 2] > 0]
        return (None if box is None or not idx else (box[0], box[1])), idx
    k = skeleton.index(target)
    x, y, v = (float(c) for c in joints[k])
    return ((x, y) if v > 0 else None), [k]


def _draw(cfg: WorstCaseConfig, rng: np.random.Generator, bank_size: int) -> Candidate:
    fill = cfg.fills[int(rng.integers(len(cfg.fills)))]
    object_id = int(rng.integers(bank_size)) if fill == "object" else 0
    dx, dy = rng.uniform(-0.5, 0.5, 2)
    return Candidate(fill, object_id, float(dx), float(dy))


def _perturb(c: Candidate, rng: np.random.Generator, spread: float) -> Candidate:
    dx, dy = np.clip(np.array([c.dx, c.dy]) + rng.uniform(-spread, spread, 2), -0.5, 0.5)
    return Candidate(c.fill, c.object_id, float(dx), float(dy))


class _Person:
    """One person's search state for one target."""

    def __init__(self, cfg: WorstCaseConfig, rng: np.random.Generator):
        self.cfg, self.rng = cfg, rng
        self.lo, self.hi = 0, len(cfg.areas)  # the answer is in areas[lo:hi], or none where hi == L
        self.best: tuple[int, Candidate] | None = None  # smallest breaking level and its occluder
        self.queries = 0
        self.pool: list[tuple[float, Candidate]] = []

    @property
    def searching(self) -> bool:
        return self.lo < self.hi

    @property
    def level(self) -> int:
        return (self.lo + self.hi) // 2


def _round(people: dict[int, _Person], r: int, cfg: WorstCaseConfig, bank_size: int) -> dict[int, list[Candidate]]:
    out = {}
    for i, person in people.items():
        if r == 0:
            out[i] = [_draw(cfg, person.rng, bank_size) for _ in range(cfg.candidates)]
        else:
            keep = sorted(person.pool, key=lambda t: t[0])[: math.ceil(cfg.candidates / 2**r)]
            out[i] = [_perturb(c, person.rng, 0.5 / 2**r) for _, c in keep]
    return out


def _predict_batched(predict: PredictFn, crops: list[np.ndarray], batch_size: int) -> np.ndarray:
    out = [np.asarray(predict(torch.from_numpy(np.stack(crops[s : s + batch_size]))))
           for s in range(0, len(crops), batch_size)]
    return np.concatenate(out)


def _score(preds: np.ndarray, joints: np.ndarray, area: np.ndarray, idx: Sequence[list[int]],
           skeleton: Skeleton) -> np.ndarray:
    """Mean OKS over each row's scored keypoints ``idx[row]``."""
    oks = keypoint_oks(preds, joints[..., :2], area, skeleton.sigmas)
    return np.array([oks[row, k].mean() for row, k in enumerate(idx)])


def _probe_level(people: dict[int, _Person], crops: np.ndarray, joints: np.ndarray, area: np.ndarray,
                 anchors: dict, idx: dict, predict: PredictFn, skeleton: Skeleton, cfg: WorstCaseConfig,
                 bank: ObjectBank | None, batch_size: int) -> dict[int, Candidate | None]:
    """One probed level of every searching person: rounds of successive halving; its breaking occluder or None."""
    found: dict[int, Candidate | None] = {i: None for i in people}
    for person in people.values():
        person.pool = []
    for r in range(cfg.rounds):
        waiting = {i: p for i, p in people.items() if found[i] is None}
        if not waiting:
            break
        draws = _round(waiting, r, cfg, len(bank) if bank is not None else 1)
        rows = [(i, c) for i, cs in draws.items() for c in cs]
        images = [c.apply(crops[i], anchors[i], cfg.areas[people[i].level], bank) for i, c in rows]
        person_rows = np.array([i for i, _ in rows])
        preds = _predict_batched(predict, images, batch_size)
        scores = _score(preds, joints[person_rows], area[person_rows], [idx[i] for i, _ in rows], skeleton)
        for (i, c), s in zip(rows, scores):
            people[i].pool.append((float(s), c))
            people[i].queries += 1
            if s < cfg.threshold and found[i] is None:
                found[i] = c
    return found


def search_targets(predict: PredictFn, crops: np.ndarray, joints: np.ndarray, object_area: np.ndarray,
                   skeleton: Skeleton, cfg: WorstCaseConfig, *, bank: ObjectBank | None = None,
                   batch_size: int = 128, progress: bool = True) -> pd.DataFrame:
    """Search every target of ``cfg`` for each person: uint8 ``crops (N, H, W, 3)``, ground-truth ``joints
    (N, K, 3)`` and OKS ``object_area (N,)``, all in crop pixels. One row per person and target with a labelled
    target: ``person``, ``target``, ``clean_oks``, ``breaking_area`` (0 when the clean crop already breaks, NaN when
    no probed level breaks), the breaking ``fill`` and ``object_id``, and ``queries`` (forward passes spent)."""
    if "object" in cfg.fills and bank is None:
        raise ValueError("worst-case fills include 'object' but no occluder bank was given")
    n = len(crops) if cfg.max_persons is None else min(len(crops), cfg.max_persons)
    crops, joints, object_area = np.asarray(crops[:n]), np.asarray(joints[:n]), np.asarray(object_area[:n], float)
    clean = _predict_batched(predict, list(crops), batch_size)
    rows = []
    for t, target in enumerate(progress_bar(cfg.targets, desc="worst-case search", disable=not progress)):
        found = {i: _target(target, joints[i], skeleton) for i in range(n)}
        anchors = {i: a for i, (a, _) in found.items() if a is not None}
        idx = {i: found[i][1] for i in anchors}
        order = sorted(anchors)
        clean_oks = dict(zip(order, _score(clean[order], joints[order], object_area[order], [idx[i] for i in order],
                                           skeleton))) if order else {}
        people = {i: _Person(cfg, np.random.default_rng([cfg.seed, t, i])) for i in order
                  if clean_oks[i] >= cfg.threshold}
        while any(p.searching for p in people.values()):
            searching = {i: p for i, p in people.items() if p.searching}
            hits = _probe_level(searching, crops, joints, object_area, anchors, idx, predict, skeleton, cfg, bank,
                                batch_size)
            for i, p in searching.items():
                if hits[i] is not None:
                    p.best, p.hi = (p.level, hits[i]), p.level
                else:
                    p.lo = p.level + 1
        for i in order:
            p = people.get(i)
            best = p.best if p is not None else None
            area = 0.0 if p is None else (cfg.areas[best[0]] if best else math.nan)
            rows.append({"person": i, "target": target, "target_kind": "part" if target in PARTS else "keypoint",
                         "clean_oks": float(clean_oks[i]), "breaking_area": area,
                         "fill": best[1].fill if best else "", "object_id": best[1].object_id if best else -1,
                         "queries": p.queries if p is not None else 0})
    return pd.DataFrame(rows)


def worstcase_curves(table: pd.DataFrame, areas: Sequence[float], by: Sequence[str] = ("target",)) -> pd.DataFrame:
    """Fraction of persons broken at or below each area of the grid (0 for already broken crops), per ``by``."""
    out = []
    for key, rows in table.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        b = rows["breaking_area"].to_numpy(float)
        for a in areas:
            out.append({**dict(zip(by, key)), "area": float(a), "fraction_broken": float(np.mean(b <= a)),
                        "persons": len(b)})
    return pd.DataFrame(out)


def worstcase_summary(table: pd.DataFrame, cfg: WorstCaseConfig, by: Sequence[str] = ("target",)) -> pd.DataFrame:
    """Per ``by``: persons, the median breaking area (NaN when over half never break on the grid, i.e. the median
    lies above the largest area), the fraction broken clean and at the largest area, mean and max queries."""
    out = []
    for key, rows in table.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        b = np.where(np.isnan(rows["breaking_area"].to_numpy(float)), np.inf, rows["breaking_area"].to_numpy(float))
        median = float(np.median(b))
        out.append({**dict(zip(by, key)), "persons": len(b),
                    "median_breaking_area": median if np.isfinite(median) else math.nan,
                    "broken_clean": float(np.mean(b == 0)), "broken_at_max": float(np.mean(b <= cfg.areas[-1])),
                    "mean_queries": float(rows["queries"].mean()), "max_queries": int(rows["queries"].max()),
                    "budget": cfg.budget()})
    return pd.DataFrame(out)
