"""Hidden-keypoint awareness: does a model know that a keypoint is hidden?

A pose model's per-keypoint score (heatmap maximum, SimCC maximum, visibility) is what users threshold to drop
keypoints they cannot see. Three measures of whether that works:

* **attack AUROC**: under an attack, the AUROC of the score separating each hidden keypoint's clean instance
  (positive) from its attacked instance (negative); 1 = the score always drops when the keypoint is hidden,
  0.5 = the score does not notice. A keypoint is hidden when it is labelled, inside the crop, and the attack's
  region covers its pixel: the target of a keypoint attack, every keypoint inside a part's rectangle;
* **confident-hallucination rate**: the share of hidden keypoints whose attacked score is above the model's
  median clean score of visible (COCO ``v = 2``) keypoints;
* **visibility AUROC** on clean data: the score separating COCO's ``v = 2`` (visible) from ``v = 1`` (labelled but
  occluded) keypoints, overall and per keypoint, and the rate of ``v = 1`` keypoints scored above that median.

>>> auroc([0.9, 0.8, 0.3], [0.1, 0.3])  # 6 pairs: 5 won, one tie (0.3 vs 0.3) counts half
0.9166666666666666
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.stats import rankdata

from .attacks import AttackSpec, sample_attack
from .keypoints import Skeleton
from .regions import region_mask

__all__ = ["auroc", "hidden_keypoints", "visible_median", "attack_awareness", "visibility_awareness",
           "AwarenessCollector"]


def auroc(positive: Sequence[float] | np.ndarray, negative: Sequence[float] | np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney U over ``n_pos * n_neg``, from
    average ranks); NaN when either side is empty."""
    pos, neg = np.asarray(positive, np.float64).ravel(), np.asarray(negative, np.float64).ravel()
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def hidden_keypoints(spec: AttackSpec, joints: np.ndarray, skeleton: Skeleton, size: tuple[int, int]) -> np.ndarray:
    """Bool ``(N, K)``: the keypoints that ``spec`` hides in each crop (``joints (N, K, 3)`` in crop pixels of
    ``size`` = width, height): labelled, inside the crop and covered by the attack's region; for a keypoint attack
    only its target."""
    w, h = size
    n, k = joints.shape[:2]
    hidden = np.zeros((n, k), dtype=bool)
    if spec.target_kind == "none":
        return hidden
    px = np.floor(joints[..., 0] + 0.5).astype(np.int64)
    py = np.floor(joints[..., 1] + 0.5).astype(np.int64)
    inside = (joints[..., 2] > 0) & (px >= 0) & (px < w) & (py >= 0) & (py < h)
    wanted = np.zeros(k, dtype=bool)
    wanted[[skeleton.index(spec.target)] if spec.target_kind == "keypoint" else slice(None)] = True
    for i in range(n):
        if not (inside[i] & wanted).any():
            continue
        mask = region_mask(sample_attack(spec, joints[i], w, h, skeleton), h, w)
        cand = np.flatnonzero(inside[i] & wanted)
        hidden[i, cand] = mask[py[i, cand], px[i, cand]]
    return hidden


def visible_median(scores: np.ndarray, joints: np.ndarray) -> float:
    """The median clean score of visible keypoints (``v = 2``; every labelled one where no keypoint has ``v = 2``)."""
    v = joints[..., 2]
    visible = v == 2 if (v == 2).any() else v > 0
    return float(np.median(scores[visible])) if visible.any() else float("nan")


def attack_awareness(clean: np.ndarray, attacked: np.ndarray, hidden: np.ndarray, threshold: float) -> dict[str, Any]:
    """Awareness of one attack from the ``(N, K)`` clean and attacked scores and the ``hidden`` keypoints:
    ``n_hidden``, ``auroc`` (clean vs attacked score of the hidden keypoints), ``hallucination_rate`` (hidden
    keypoints scored above ``threshold``), and the mean scores."""
    before, after = clean[hidden], attacked[hidden]
    n = int(hidden.sum())
    return {"n_hidden": n, "auroc": auroc(before, after),
            "hallucination_rate": float((after > threshold).mean()) if n else float("nan"),
            "mean_score_clean": float(before.mean()) if n else float("nan"),
            "mean_score_attacked": float(after.mean()) if n else float("nan")}


def visibility_awareness(scores: np.ndarray, joints: np.ndarray, names: Sequence[str], threshold: float
                         ) -> dict[str, Any]:
    """Clean-data awareness: AUROC of ``v = 2`` (positive) against ``v = 1`` keypoints, overall and per keypoint
    name, their counts and the share of ``v = 1`` keypoints scored above ``threshold``."""
    v = joints[..., 2]
    out: dict[str, Any] = {"n_visible": int((v == 2).sum()), "n_occluded": int((v == 1).sum()),
                           "auroc": auroc(scores[v == 2], scores[v == 1]),
                           "occluded_above_median_rate": float((scores[v == 1] > threshold).mean())
                           if (v == 1).any() else float("nan")}
    out["per_keypoint"] = {name: {"n_visible": int((v[:, j] == 2).sum()), "n_occluded": int((v[:, j] == 1).sum()),
                                  "auroc": auroc(scores[v[:, j] == 2, j], scores[v[:, j] == 1, j])}
                           for j, name in enumerate(names)}
    return out


class AwarenessCollector:
    """The ``on_predictions`` hook of :func:`occlusion.engine.run_attack_grid`: keeps the clean scores and the
    awareness of every attack; :meth:`report` returns them all (the audit's ``awareness.json``)."""

    def __init__(self, joints: np.ndarray, skeleton: Skeleton, size: tuple[int, int]):
        self.joints, self.skeleton, self.size = joints, skeleton, size
        self.clean: np.ndarray | None = None
        self.attacked: list[tuple[AttackSpec, np.ndarray]] = []

    def __call__(self, spec: AttackSpec, preds: np.ndarray, maxvals: np.ndarray) -> None:
        scores = np.asarray(maxvals, np.float64).reshape(len(self.joints), -1)
        if spec.target_kind == "none":
            self.clean = scores
        else:
            self.attacked.append((spec, scores))

    def report(self) -> dict[str, Any]:
        if self.clean is None:
            raise ValueError("no clean pass was collected: the grid must start with the clean attack")
        threshold = visible_median(self.clean, self.joints)
        rows = []
        for spec, scores in self.attacked:
            hidden = hidden_keypoints(spec, self.joints, self.skeleton, self.size)
            rows.append({"attack": spec.name, "target": spec.target, "target_kind": spec.target_kind,
                         "filler": spec.filler, "radius": spec.radius, "paper_bounds": spec.paper_bounds,
                         **attack_awareness(self.clean, scores, hidden, threshold)})
        return {"visible_median_score": threshold,
                "clean": visibility_awareness(self.clean, self.joints, self.skeleton.names, threshold),
                "attacks": rows}
