"""Does robustness to the paper's attacks predict accuracy under real occlusion? (docs/METHODS.md §13)

Across models: the rank correlation (Spearman) of the attack-induced ΔAP with a real-occlusion accuracy, with an
image-bootstrap interval (:func:`spearman_interval`); *effective robustness*, a model's real-occlusion AP minus what
a straight line through every model's (clean COCO AP, real-occlusion AP) predicts (:func:`effective_robustness`);
and per augmentation, its paired difference to the baseline with Holm's correction (:func:`augmentation_tests`).
Every interval comes from resamples in which all models see the same images (row ``b`` of each model's samples is
one draw), so the correlation, the fit and the differences are re-computed on each draw.

Example (a planted monotone relation: the rank correlation is exactly 1 on every draw):
    >>> x = np.array([1.0, 2.0, 3.0, 4.0]); y = 10 * x
    >>> xs = x[:, None] + np.zeros((4, 50)); ys = 10 * xs
    >>> spearman_interval(x, y, xs, ys)
    (1.0, 1.0, 1.0, 50)
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..stats import holm, mean_interval

__all__ = ["spearman", "spearman_interval", "linear_fit", "effective_robustness", "augmentation_tests"]


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN with fewer than 3 pairs or a constant side.

    >>> spearman([1, 2, 3], [3, 2, 1]), spearman([1, 2, 3, 4], [1, 3, 2, 4])
    (-1.0, 0.8)
    """
    x, y = pd.Series(np.asarray(x, dtype=float)), pd.Series(np.asarray(y, dtype=float))
    ok = x.notna() & y.notna()
    rx, ry = x[ok].rank(), y[ok].rank()
    if ok.sum() < 3 or rx.nunique() < 2 or ry.nunique() < 2:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1].round(12))


def spearman_interval(x: np.ndarray, y: np.ndarray, x_samples: np.ndarray, y_samples: np.ndarray,
                      alpha: float = 0.05) -> tuple[float, float, float, int]:
    """(rho, low, high, draws): the rank correlation of the models' ``x`` and ``y`` and its percentile interval over
    the bootstrap draws (columns of the (models, B) ``*_samples``; draws where it is undefined are left out)."""
    rho = spearman(x, y)
    xs, ys = np.asarray(x_samples, dtype=float), np.asarray(y_samples, dtype=float)
    n = min(xs.shape[1], ys.shape[1])
    draws = np.array([spearman(xs[:, b], ys[:, b]) for b in range(n)])
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return rho, float("nan"), float("nan"), 0
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return rho, float(low), float(high), len(draws)


def linear_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through the points.

    >>> linear_fit([0, 1, 2], [1, 3, 5])
    (2.0, 1.0)
    """
    slope, intercept = np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), 1)
    return float(round(slope, 12)), float(round(intercept, 12))


def effective_robustness(models: Sequence[str], clean: np.ndarray, real: np.ndarray, clean_samples: np.ndarray,
                         real_samples: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Per model: real-occlusion AP, the AP the line fitted over all models predicts from its clean AP, their
    difference (effective robustness) and its percentile interval over the draws (the line re-fitted on each).
    Needs at least 3 models (a line through 2 leaves no residual)."""
    clean, real = np.asarray(clean, dtype=float), np.asarray(real, dtype=float)
    if len(models) < 3:
        raise ValueError(f"effective robustness needs at least 3 models; got {len(models)}")
    if not np.ptp(clean) > 0:
        raise ValueError("effective robustness needs models of different clean AP (no line fits one x value)")
    slope, intercept = linear_fit(clean, real)
    cs, rs = np.asarray(clean_samples, dtype=float), np.asarray(real_samples, dtype=float)
    resid = []
    for b in range(min(cs.shape[1], rs.shape[1])):
        if np.isfinite(cs[:, b]).all() and np.isfinite(rs[:, b]).all() and np.ptp(cs[:, b]) > 0:
            s, i = np.polyfit(cs[:, b], rs[:, b], 1)
            resid.append(rs[:, b] - (s * cs[:, b] + i))
    r = np.array(resid).T if resid else np.full((len(models), 0), np.nan)
    rows = []
    for m, name in enumerate(models):
        low, high = (np.quantile(r[m], [alpha / 2, 1 - alpha / 2]) if r.shape[1] else (np.nan, np.nan))
        expected = slope * clean[m] + intercept
        rows.append({"run": name, "clean_AP": clean[m], "real_AP": real[m], "expected_AP": expected,
                     "effective_robustness": real[m] - expected, "ci_low": float(low), "ci_high": float(high)})
    return pd.DataFrame(rows).assign(slope=slope, intercept=intercept)


def augmentation_tests(values: Mapping[str, float], samples: Mapping[str, np.ndarray], baseline: str,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Each run's difference to ``baseline`` (``values``: full-set metric per run; ``samples``: its resamples on
    the draws every run shares): the paired percentile interval, the two-sided p-value and Holm's adjustment over
    the runs tested (:func:`occlusion.stats.mean_interval`, :func:`occlusion.stats.holm`).

    >>> s = {"base": np.zeros(100), "same": np.zeros(100), "up": np.linspace(1, 2, 100)}
    >>> t = augmentation_tests({"base": 50.0, "same": 50.0, "up": 51.5}, s, "base")
    >>> t[["run", "delta", "p_value", "significant"]].values.tolist()
    [['same', 0.0, 1.0, False], ['up', 1.5, 0.0, True]]
    """
    if baseline not in values:
        raise KeyError(f"baseline run {baseline!r} has no value; runs: {', '.join(values)}")
    base = np.asarray(samples[baseline], dtype=float)
    rows = []
    for run, value in values.items():
        if run == baseline:
            continue
        diff = np.asarray(samples[run], dtype=float) - base
        diff = diff[np.isfinite(diff)]
        low, high, p = mean_interval(diff, alpha) if len(diff) else (np.nan, np.nan, np.nan)
        rows.append({"run": run, "value": value, "baseline": values[baseline], "delta": value - values[baseline],
                     "ci_low": low, "ci_high": high, "p_value": p})
    table = pd.DataFrame(rows)
    if len(table):
        tested = table.p_value.notna()
        adjusted, reject = holm(table.p_value[tested].to_numpy(), alpha) if tested.any() else ([], [])
        table.loc[tested, "p_holm"], table.loc[tested, "significant"] = adjusted, reject
        table["significant"] = table["significant"].fillna(False).astype(bool)
    return table
