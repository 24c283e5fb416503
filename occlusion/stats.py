"""Uncertainty of the paper's comparisons: paired bootstrap over images/persons, seeds, Holm correction.

The paper's conclusion rests on COCO keypoint AP differences of 0.1 to 0.5 points (Table I, Figs. 10, 12, 13)
and PCKh differences of 0.2 (Table II), reported without error bars. This module puts intervals on them.

* COCO AP (:func:`paired_bootstrap_ap`, :func:`bootstrap_ap`). pycocotools' ``COCOeval.evaluate()`` runs once
  per model: OKS matching is per image, so it does not change when images are resampled. Each resample then
  re-runs ``accumulate`` + ``summarize`` in numpy (:func:`metric_from_weights`), with an image drawn ``m`` times
  contributing its detections and ground truths ``m`` times. On the full set this equals pycocotools' numbers.
* MPII PCKh (:func:`bootstrap_pckh`) resamples persons.
* The attack grid (Figs. 3-8, 11): :func:`resample_weights` gives one set of draws that every attack and every
  model is scored on (:func:`match_table_of` reuses the scoring's matching), so any two of them are paired;
  :func:`mean_interval` bounds a mean over attack targets.
* :func:`holm` adjusts a family of p-values; :func:`seed_summary` gives mean and sample std over training seeds.

Definitions. A resample draws ``n`` units with replacement from the ``n`` images (or persons); both models see
the same draw. The interval is the percentile interval ``[q(alpha/2), q(1 - alpha/2)]`` of the resampled
differences ``d*`` (``numpy.quantile``, linear). The two-sided p-value for "no difference" is the
percentile-bootstrap one, ``min(1, 2 * min(#{d* <= 0}, #{d* >= 0}) / B)`` for ``B`` resamples: it is below
``alpha`` about when the ``1 - alpha`` interval excludes 0, a model against itself gets exactly 1, and 0 means
``p < 1 / B``.

Example:
    >>> holm([0.01, 0.04, 0.03, 0.005])[1].tolist()
    [True, False, False, True]
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from occlusion.evaluate import (
    STAT_NAMES,
    load_coco_gt,
    load_coco_results,
    num_keypoints,
    quiet_stdout,
    set_oks_sigmas,
)
from occlusion.keypoints import MPII

__all__ = [
    "METRICS",
    "BootstrapResult",
    "BootstrapInterval",
    "MatchTable",
    "match_table",
    "match_table_of",
    "metric_from_weights",
    "resample_indices",
    "resample_weights",
    "mean_interval",
    "paired_bootstrap_ap",
    "bootstrap_ap",
    "bootstrap_pckh",
    "holm",
    "seed_summary",
]

METRICS: tuple[str, ...] = STAT_NAMES
"""The ten pycocotools keypoint numbers (maxDets 20): AP, AP50, AP75, APM, APL, AR, AR50, AR75, ARM, ARL."""

_AREA = {"M": "medium", "L": "large"}
_CHUNK_ELEMENTS = 1 << 22
"""Resamples are processed in chunks of about this many (resample, threshold, detection) cells."""

Seed = int | np.random.Generator


@dataclass(frozen=True)
class BootstrapResult:
    """Paired bootstrap of ``b - a``: full-set values, percentile interval of the difference and p-value."""

    metric: str
    a: float
    b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n_resamples: int
    alpha: float
    samples: np.ndarray | None = field(default=None, compare=False, repr=False)
    """The ``n_resamples`` resampled differences ``b* - a*``."""


@dataclass(frozen=True)
class BootstrapInterval:
    """Bootstrap percentile interval of one model's metric."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    n_resamples: int
    alpha: float
    samples: np.ndarray | None = field(default=None, compare=False, repr=False)
    """The ``n_resamples`` resampled metric values."""


@dataclass(frozen=True)
class MatchTable:
    """One model's per-image OKS matching for one area range, flattened for :func:`metric_from_weights`.

    Detections are in pycocotools' accumulate order (images in ``image_ids`` order, each image's best
    ``maxDets`` by score, then a stable sort on descending score); detections ignored at every OKS threshold are
    dropped, which changes no precision or recall value.
    """

    area: str
    image_ids: np.ndarray
    """(I,) image ids, sorted: the resampling units."""
    num_gt: np.ndarray
    """(I,) non-ignored ground truths per image (pycocotools' ``npig`` terms)."""
    det_image: np.ndarray
    """(D,) index into ``image_ids`` of each detection."""
    tp: np.ndarray
    """(T, D) bool: matched and not ignored at each OKS threshold."""
    fp: np.ndarray
    """(T, D) bool: unmatched and not ignored."""
    iou_thrs: np.ndarray
    rec_thrs: np.ndarray


def _metric_spec(metric: str) -> tuple[bool, float | None, str]:
    """(is AP, OKS threshold or None for all, area label) of a metric name."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")
    suffix = metric[2:]
    iou = {"": None, "50": 0.5, "75": 0.75}.get(suffix)
    return metric.startswith("AP"), iou, _AREA.get(suffix, "all")


def match_table(
    coco_gt: COCO | str | Path,
    results: list[dict[str, Any]] | str | Path,
    *,
    metric: str = "AP",
    sigmas: np.ndarray | Sequence[float] | None = None,
    image_ids: Sequence[int] | None = None,
) -> MatchTable:
    """Run ``COCOeval(iouType="keypoints").evaluate()`` once and keep what ``accumulate`` needs for ``metric``'s area.

    ``image_ids`` restricts the evaluation (and the resampling units) to those images; default all GT images.
    ``sigmas`` default to COCO's OKS sigmas.
    """
    _metric_spec(metric)  # an unknown metric fails before the evaluation
    gt = load_coco_gt(coco_gt)
    dt = load_coco_results(gt, results)
    if dt is None:
        raise ValueError("results are empty; there is nothing to match or resample")
    ev = COCOeval(gt, dt, iouType="keypoints")
    set_oks_sigmas(ev, sigmas, num_keypoints(gt))
    if image_ids is not None:
        unknown = sorted(set(image_ids) - set(gt.getImgIds()))
        if unknown or not len(image_ids):
            raise ValueError(
                f"image_ids must be a non-empty subset of the ground-truth image ids; unknown: {unknown[:10]}"
            )
        ev.params.imgIds = list(image_ids)
    with quiet_stdout():
        ev.evaluate()
    return match_table_of(ev, metric)


def match_table_of(evaluator: COCOeval, metric: str = "AP") -> MatchTable:
    """The :class:`MatchTable` of a keypoint ``COCOeval`` whose ``evaluate()`` has run, for ``metric``'s area.

    This reuses the matching of an evaluation already done (``accumulate``/``summarize`` do not change it), so
    scoring a model and bootstrapping it costs one ``evaluate()``.
    """
    _, _, area = _metric_spec(metric)
    ev = evaluator
    if not ev.evalImgs:
        raise ValueError("the COCOeval has not been evaluated (or holds no image); call evaluate() first")
    p = ev.params
    if len(p.catIds) != 1:
        raise ValueError(f"keypoint bootstrap needs exactly one category in the ground truth; got {p.catIds}")
    n_img, a_idx, max_det = len(p.imgIds), p.areaRngLbl.index(area), p.maxDets[-1]
    num_gt = np.zeros(n_img, dtype=np.int64)
    scores, matched, ignored, det_image = [], [], [], []
    for i in range(n_img):
        e = ev.evalImgs[a_idx * n_img + i]
        if e is None:
            continue
        num_gt[i] = np.count_nonzero(np.asarray(e["gtIgnore"]) == 0)
        s = np.asarray(e["dtScores"][:max_det], dtype=np.float64)
        scores.append(s)
        matched.append(np.asarray(e["dtMatches"])[:, :max_det] != 0)
        ignored.append(np.asarray(e["dtIgnore"], dtype=bool)[:, :max_det])
        det_image.append(np.full(len(s), i, dtype=np.int64))
    n_thr = len(p.iouThrs)
    scores.append(np.zeros(0))
    matched.append(np.zeros((n_thr, 0), dtype=bool))
    ignored.append(np.zeros((n_thr, 0), dtype=bool))
    det_image.append(np.zeros(0, dtype=np.int64))
    order = np.argsort(-np.concatenate(scores), kind="mergesort")
    dtm, dtig = np.concatenate(matched, axis=1)[:, order], np.concatenate(ignored, axis=1)[:, order]
    keep = ~dtig.all(axis=0)
    return MatchTable(
        area=area,
        image_ids=np.asarray(p.imgIds),
        num_gt=num_gt,
        det_image=np.concatenate(det_image)[order][keep],
        tp=(dtm & ~dtig)[:, keep],
        fp=(~dtm & ~dtig)[:, keep],
        iou_thrs=np.asarray(p.iouThrs, dtype=np.float64),
        rec_thrs=np.asarray(p.recThrs, dtype=np.float64),
    )


def metric_from_weights(table: MatchTable, weights: np.ndarray, metric: str = "AP") -> np.ndarray:
    """pycocotools' ``accumulate`` + ``summarize`` for ``metric`` under image multiplicities ``weights`` (B, I).

    Row ``b`` is the metric of the dataset in which image ``i`` appears ``weights[b, i]`` times, its copies
    adjacent and images in ``table.image_ids`` order. ``weights`` of ones give pycocotools' full-set value. As in
    pycocotools, the value is -1 when the resample holds no non-ignored ground truth. Exact (same floating-point
    operations as pycocotools) unless two detections of one image share a score; then copies of a drawn image
    are ordered copy by copy rather than interleaved, which can move intermediate precision values.
    """
    is_ap, iou, area = _metric_spec(metric)
    if area != table.area:
        raise ValueError(f"metric {metric!r} needs area range {area!r}; this table holds {table.area!r}")
    w = np.atleast_2d(np.asarray(weights))
    if w.ndim != 2 or w.shape[1] != len(table.image_ids) or not np.issubdtype(w.dtype, np.integer) or (w < 0).any():
        raise ValueError(
            f"weights must be non-negative integers of shape (B, {len(table.image_ids)}); got {w.dtype} {w.shape}"
        )
    thr = slice(None) if iou is None else np.where(table.iou_thrs == iou)[0]
    tp, fp = table.tp[thr], table.fp[thr]
    n_thr, n_det = tp.shape
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n_thr * n_det))
    out = np.empty(len(w), dtype=np.float64)
    for start in range(0, len(w), chunk):
        wc = w[start:start + chunk].astype(np.int64)
        out[start:start + chunk] = _accumulate(wc, table.num_gt, table.det_image, tp, fp, table.rec_thrs, is_ap)
    return out


def _accumulate(
    w: np.ndarray, num_gt: np.ndarray, det_image: np.ndarray, tp: np.ndarray, fp: np.ndarray, rec_thrs: np.ndarray,
    is_ap: bool,
) -> np.ndarray:
    """Mean precision over (thresholds, recall points), or mean final recall, for each weight row; -1 without GT."""
    npig = w @ num_gt
    valid = npig > 0
    denom = np.where(valid, npig, 1)[:, None, None].astype(np.float64)
    w_det = w[:, det_image][:, None, :]
    if not is_ap:
        recall = (tp[None] * w_det).sum(axis=-1) / denom[..., 0]
        return np.where(valid, recall.mean(axis=1), -1.0)
    n_rows, (n_thr, n_det) = len(w), tp.shape
    q = np.zeros((n_rows, n_thr, len(rec_thrs)))
    if n_det:
        tp_sum = np.cumsum(tp[None] * w_det, axis=-1).astype(np.float64)
        fp_sum = np.cumsum(fp[None] * w_det, axis=-1).astype(np.float64)
        rc = tp_sum / denom
        pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
        pr = np.maximum.accumulate(pr[..., ::-1], axis=-1)[..., ::-1]
        # pycocotools' np.searchsorted(rc, recThrs, side="left") for every row at once: rc is non-decreasing, so
        # that index is the number of recalls below the threshold, the cumulative count of the recalls'
        # positions among the thresholds (integer counting, no float arithmetic: identical indices).
        n_rec = len(rec_thrs)
        pos = np.searchsorted(rec_thrs, rc.reshape(-1), side="right").reshape(n_rows * n_thr, n_det)
        pos += (np.arange(n_rows * n_thr) * (n_rec + 1))[:, None]
        hist = np.bincount(pos.reshape(-1), minlength=n_rows * n_thr * (n_rec + 1)).reshape(n_rows, n_thr, -1)
        inds = np.cumsum(hist, axis=-1)[..., :n_rec]
        hit = inds < n_det
        q = np.where(hit, np.take_along_axis(pr, np.minimum(inds, n_det - 1), axis=-1), 0.0)
    return np.where(valid, q.reshape(n_rows, -1).mean(axis=1), -1.0)


def resample_indices(n_items: int, n_resamples: int, seed: Seed = 0) -> np.ndarray:
    """The (n_resamples, n_items) draws with replacement that the bootstraps use for ``seed``.

    Row ``r`` is the ``r``-th call of ``rng.integers(0, n_items, n_items)`` on ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    return _draw(rng, n_items, n_resamples)


def resample_weights(n_items: int, n_resamples: int, seed: Seed = 0) -> np.ndarray:
    """(n_resamples, n_items) int64 multiplicities of the draws of :func:`resample_indices` (row ``r``: how often
    each item is drawn in resample ``r``), the ``weights`` of :func:`metric_from_weights`."""
    if n_items < 1 or n_resamples < 0:
        raise ValueError(f"n_items = {n_items}, n_resamples = {n_resamples}: expected >= 1 and >= 0")
    if not n_resamples:
        return np.zeros((0, n_items), dtype=np.int64)
    return next(_weight_chunks(n_items, n_resamples, seed, n_resamples))


def _draw(rng: np.random.Generator, n_items: int, count: int) -> np.ndarray:
    return np.stack([rng.integers(0, n_items, n_items) for _ in range(count)]) if count else np.zeros((0, n_items), int)


def _weight_chunks(n_items: int, n_resamples: int, seed: Seed, chunk: int) -> Iterator[np.ndarray]:
    """Image multiplicities (chunk, n_items), resample after resample as in :func:`resample_indices`."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, chunk):
        idx = _draw(rng, n_items, min(chunk, n_resamples - start))
        offsets = np.arange(len(idx))[:, None] * n_items
        yield np.bincount((idx + offsets).ravel(), minlength=len(idx) * n_items).reshape(len(idx), n_items)


def _check_common(n_resamples: int, alpha: float) -> None:
    if not (isinstance(n_resamples, (int, np.integer)) and n_resamples >= 1):
        raise ValueError(f"n_resamples = {n_resamples!r}: expected an integer >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: expected a level in (0, 1)")


def _interval(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _p_value(diffs: np.ndarray) -> float:
    return float(min(1.0, 2 * min(np.count_nonzero(diffs <= 0), np.count_nonzero(diffs >= 0)) / len(diffs)))


def mean_interval(samples: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """Percentile interval and two-sided p-value (for 0) of a mean over items, from their paired resamples.

    ``samples`` is (n_items, B), or (B,) for one item: row ``i`` holds item ``i``'s value in each of ``B``
    resamples, every row drawn with the same images (e.g. the ΔAP of each attack target of Figs. 3, 4 and 11).
    Each resample's mean over the items is one draw of the mean; interval and p-value are the module
    docstring's on those ``B`` means. NaNs everywhere when ``B`` is 0.
    """
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim not in (1, 2) or (s.ndim == 2 and not len(s)):
        raise ValueError(f"samples must be (B,) or a non-empty (n_items, B) array; got shape {s.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: expected a level in (0, 1)")
    means = s if s.ndim == 1 else s.mean(axis=0)
    if not len(means):
        return math.nan, math.nan, math.nan
    return (*_interval(means, alpha), _p_value(means))


def _paired_result(metric: str, a: float, b: float, diffs: np.ndarray, alpha: float) -> BootstrapResult:
    low, high = _interval(diffs, alpha)
    return BootstrapResult(metric, a, b, b - a, low, high, _p_value(diffs), len(diffs), alpha, diffs)


def _chunk_size(*tables: MatchTable) -> int:
    cells = max(t.tp.shape[0] * t.tp.shape[1] for t in tables)
    return max(1, _CHUNK_ELEMENTS // max(1, cells))


def paired_bootstrap_ap(
    coco_gt: COCO | str | Path,
    results_a: list[dict[str, Any]] | str | Path,
    results_b: list[dict[str, Any]] | str | Path,
    *,
    n_resamples: int = 1000,
    seed: Seed = 0,
    sigmas: np.ndarray | Sequence[float] | None = None,
    metric: str = "AP",
    image_ids: Sequence[int] | None = None,
    alpha: float = 0.05,
) -> BootstrapResult:
    """Paired image bootstrap of ``metric(b) - metric(a)`` for two models' COCO keypoint results.

    ``a`` and ``b`` are the full-set pycocotools values; every resample draws the images once for both models
    (:func:`resample_indices`). Interval and p-value are defined in the module docstring.
    """
    _check_common(n_resamples, alpha)
    gt = load_coco_gt(coco_gt)
    ta = match_table(gt, results_a, metric=metric, sigmas=sigmas, image_ids=image_ids)
    tb = match_table(gt, results_b, metric=metric, sigmas=sigmas, image_ids=image_ids)
    ones = np.ones((1, len(ta.image_ids)), dtype=np.int64)
    a, b = (float(metric_from_weights(t, ones, metric)[0]) for t in (ta, tb))
    chunk = _chunk_size(ta, tb)
    diffs = np.concatenate([
        metric_from_weights(tb, w, metric) - metric_from_weights(ta, w, metric)
        for w in _weight_chunks(len(ta.image_ids), n_resamples, seed, chunk)
    ])
    return _paired_result(metric, a, b, diffs, alpha)


def bootstrap_ap(
    coco_gt: COCO | str | Path,
    results: list[dict[str, Any]] | str | Path,
    *,
    n_resamples: int = 1000,
    seed: Seed = 0,
    sigmas: np.ndarray | Sequence[float] | None = None,
    metric: str = "AP",
    image_ids: Sequence[int] | None = None,
    alpha: float = 0.05,
) -> BootstrapInterval:
    """Image-bootstrap percentile interval of one model's COCO keypoint ``metric`` (same draws as the paired one)."""
    _check_common(n_resamples, alpha)
    table = match_table(coco_gt, results, metric=metric, sigmas=sigmas, image_ids=image_ids)
    value = float(metric_from_weights(table, np.ones((1, len(table.image_ids)), dtype=np.int64), metric)[0])
    samples = np.concatenate([
        metric_from_weights(table, w, metric)
        for w in _weight_chunks(len(table.image_ids), n_resamples, seed, _chunk_size(table))
    ])
    low, high = _interval(samples, alpha)
    return BootstrapInterval(metric, value, low, high, n_resamples, alpha, samples)


def bootstrap_pckh(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    visible: np.ndarray,
    *,
    joint_mask: np.ndarray | Sequence[bool] | None = None,
    n_resamples: int = 1000,
    seed: Seed = 0,
    alpha: float = 0.05,
) -> BootstrapResult:
    """Paired person bootstrap of the PCKh "Mean" (Table II), in percent like :func:`occlusion.evaluate.pckh`.

    ``correct_*`` and ``visible`` are (N, K) bool: joint within the PCKh threshold, joint visible. The Mean pools
    the joints in ``joint_mask`` weighted by visible count: ``100 * sum(correct & visible) / sum(visible)``.
    ``joint_mask`` defaults to MPII's 14 joints (pelvis and thorax masked), which needs K = 16. A resample without
    any visible joint (possible only for tiny N) counts as a difference of 0.
    """
    _check_common(n_resamples, alpha)
    ca, cb, vis = (np.asarray(x, dtype=bool) for x in (correct_a, correct_b, visible))
    if ca.ndim != 2 or ca.shape != cb.shape or ca.shape != vis.shape or not len(vis):
        raise ValueError(
            f"correct_a, correct_b and visible must share one non-empty (N, K) shape; got {ca.shape}, {cb.shape}, "
            f"{vis.shape}"
        )
    if joint_mask is None:
        if vis.shape[1] != MPII.num_joints:
            raise ValueError(f"default joint_mask is MPII's (K = {MPII.num_joints}); got K = {vis.shape[1]}")
        mask = np.ones(MPII.num_joints, dtype=bool)
        mask[[MPII.index("pelvis"), MPII.index("thorax")]] = False
    else:
        mask = np.asarray(joint_mask, dtype=bool)
        if mask.shape != (vis.shape[1],):
            raise ValueError(f"joint_mask must have shape ({vis.shape[1]},); got {mask.shape}")
    counts = (vis & mask).sum(axis=1)
    if not counts.sum():
        raise ValueError("no visible joint inside joint_mask; PCKh is undefined")
    hits_a, hits_b = ((c & vis & mask).sum(axis=1) for c in (ca, cb))
    a, b = 100.0 * hits_a.sum() / counts.sum(), 100.0 * hits_b.sum() / counts.sum()
    n = len(vis)
    diffs = []
    for w in _weight_chunks(n, n_resamples, seed, max(1, _CHUNK_ELEMENTS // n)):
        with np.errstate(invalid="ignore", divide="ignore"):
            diffs.append(100.0 * (w @ hits_b - w @ hits_a) / (w @ counts))
    return _paired_result("PCKh", float(a), float(b), np.nan_to_num(np.concatenate(diffs), nan=0.0), alpha)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm-Bonferroni step-down: (adjusted p-values, reject at ``alpha``), in the input order.

    With ascending ``p_(1) <= ... <= p_(m)``, the adjusted ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``;
    hypothesis ``i`` is rejected when ``p~_i <= alpha``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or ((p < 0) | (p > 1) | np.isnan(p)).any():
        raise ValueError(f"p_values must be a flat sequence of probabilities in [0, 1]; got {p_values!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: expected a level in (0, 1)")
    m = len(p)
    order = np.argsort(p, kind="mergesort")
    adjusted_sorted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted, adjusted <= alpha


def seed_summary(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample std with ddof=1) over training seeds; the std is NaN for a single value."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or not len(v):
        raise ValueError(f"values must be a non-empty flat sequence of numbers; got {values!r}")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan
