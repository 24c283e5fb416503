"""What a figure shows of a result table: the :class:`Selection` of its rows, and the means over targets and
seeds it draws.

The result tables are the pipeline's long CSVs:

* the **attack table**: one row per ``model, preset, dataset, boxes, target, target_kind, filler, radius,
  paper_bounds, keypoint`` with ``AP, AP50, AP75, APM, APL, AR`` in AP points, ``clean_<m>`` and
  ``delta_<m>`` = attacked - clean. ``target_kind`` is ``"keypoint"`` or ``"part"`` (``"none"`` for the clean
  pass), ``keypoint`` is ``"all"`` for overall AP or a COCO keypoint name for per-keypoint AP. Optional
  ``ci_low, ci_high, p_value`` (interval of ``delta_AP``) give the per-target figures (5, 6, 7, 8) error bars;
  optional ``AP_samples`` and ``delta_AP_samples`` (each row's values in the image-bootstrap resamples, arrays
  drawn alike for every row, None on per-keypoint rows) give the figures of means over targets (3, 4, 11) the
  interval of the mean (:func:`occlusion.stats.mean_interval`).
* the **evaluation table**: clean accuracy per ``model, preset, dataset, boxes, seed`` with COCO ``AP..AR`` or
  MPII ``Head..Ankle, Mean``, optionally with bootstrap columns ``ci_low, ci_high, p_value, p_holm,
  significant`` for the difference of the primary metric (AP, or Mean for MPII) to the baseline preset.

Missing rows or columns raise ``ValueError`` naming them.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..keypoints import FILLERS
from .style import BOOTSTRAP_COLUMNS

__all__ = [
    "Selection", "ATTACK_KEYS", "EVAL_KEYS", "require_columns", "select", "select_one", "require_combos", "sort_by",
    "check_names", "attack_rows", "mean_over_targets", "with_interval", "seed_mean",
]  # fmt: skip

ATTACK_KEYS: tuple[str, ...] = (
    "model", "preset", "dataset", "boxes", "target", "target_kind", "filler", "radius", "paper_bounds", "keypoint",
)  # fmt: skip
EVAL_KEYS: tuple[str, ...] = ("model", "preset", "dataset", "boxes")


@dataclass(frozen=True)
class Selection:
    """Which rows of a result table a figure shows, and the subtitle saying where they came from.

    ``None`` leaves the choice to the figure: its paper default (the baseline preset ``half_body``, all 17
    keypoint targets, ...) or, for ``model``, the only model in the table.
    """

    model: str | tuple[str, ...] | None = None
    """The model (Fig. 3: the models, in order; None: every model in the table)."""
    preset: str | None = None
    """The training preset shown (Figs. 4-8) or compared against (the baseline of Figs. 10, 11); Fig. 3: None
    takes each model's only preset."""
    presets: tuple[str, ...] | None = None
    """The presets compared (Figs. 10, 11; default: the baseline and the three augmentations the paper shows)."""
    radius: float | None = 6
    """Occluder radius r of keypoint attacks, in input-crop pixels (the paper: 6)."""
    paper_bounds: bool = True
    fillers: tuple[str, ...] = FILLERS
    targets: tuple[str, ...] | None = None
    """Keypoint targets, in drawing order."""
    parts: tuple[str, ...] | None = None
    """Part targets, in drawing order."""
    dataset: str = "coco"
    boxes: str | tuple[str, ...] | None = None
    """Person boxes (attack figures: ``gt``; Figs. 10, 12, 13: every source in the table, or these, in order)."""
    subtitle: str = ""

    def or_defaults(self, **defaults: Any) -> Selection:
        """This selection with each field that is None set to the figure's default given here."""
        return dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the input table lacks columns {missing}; it has {list(df.columns)}")


def select(df: pd.DataFrame, what: str, **equal: Any) -> pd.DataFrame:
    """Rows whose column equals the value (a list or tuple: is one of them); ``None`` leaves a column unfiltered."""
    applied: list[str] = []
    for col, value in equal.items():
        if value is None:
            continue
        allowed = list(value) if isinstance(value, (list, tuple)) else [value]
        kept = df[df[col].isin(allowed)]
        if kept.empty:
            available = sorted({str(v) for v in df[col].dropna().unique()})
            after = f" among rows with {', '.join(applied)}" if applied else ""
            raise ValueError(f"{what}: no rows with {col}={value!r}{after}; available {col} values: {available}")
        applied.append(f"{col}={value!r}")
        df = kept
    return df


def select_one(df: pd.DataFrame, what: str, col: str, value: Any) -> tuple[pd.DataFrame, Any]:
    """Rows of one ``col`` value: ``value``, or the only one in the table (several raise, naming them)."""
    if value is None:
        values = sorted({str(v) for v in df[col].dropna().unique()})
        if len(values) != 1:
            raise ValueError(f"{what}: the table holds {col} values {values}; pass {col}= to choose one")
        value = values[0]
    return select(df, what, **{col: value}), value


def require_combos(df: pd.DataFrame, what: str, combos: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """The rows of every combination of ``combos`` values, exactly one each; missing or repeated ones raise."""
    cols = list(combos)
    wanted = set(itertools.product(*combos.values()))
    keys = list(df[cols].itertuples(index=False, name=None))
    rows = df[[k in wanted for k in keys]]
    present = set(rows[cols].itertuples(index=False, name=None))
    missing = [c for c in itertools.product(*combos.values()) if c not in present]
    if missing:
        shown = ", ".join(map(str, missing[:8])) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise ValueError(f"{what}: missing rows for ({', '.join(cols)}): {shown}")
    repeated = rows[rows.duplicated(cols, keep=False)]
    if not repeated.empty:
        first = tuple(repeated.iloc[0][cols])
        raise ValueError(
            f"{what}: {len(repeated)} rows repeat ({', '.join(cols)}), e.g. {first}; select one radius, "
            "paper_bounds, model or preset first"
        )
    return rows


def sort_by(df: pd.DataFrame, orders: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Sort by the position of each column's value in the given order (stable)."""
    ranks = {f"_rank_{c}": df[c].map({v: i for i, v in enumerate(order)}) for c, order in orders.items()}
    return df.assign(**ranks).sort_values(list(ranks), kind="stable").drop(columns=list(ranks)).reset_index(drop=True)


def check_names(values: Sequence[str], allowed: Sequence[str], name: str, what: str) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValueError(f"{what}: {name} {list(values)} invalid ({bad or 'empty'}); allowed: {', '.join(allowed)}")
    return list(values)


def attack_rows(
    df: pd.DataFrame, what: str, kind: str, sel: Selection, *, per_keypoint: bool = False, value: str = "delta_AP",
    **override: Any,
) -> pd.DataFrame:
    """Attack rows of one target kind under ``sel`` (``override`` replaces its ``model``, ``preset`` or
    ``radius`` filter); ``radius`` and ``paper_bounds`` filter keypoint attacks only.

    Part attacks have no radius and no bounds check; their ``paper_bounds`` is filtered only where the table
    holds both values.
    """
    f = {"model": sel.model, "preset": sel.preset, "radius": sel.radius, **override}
    require_columns(df, (*ATTACK_KEYS, value), what)
    rows = select(df, what, dataset=sel.dataset, boxes=sel.boxes, target_kind=kind, model=f["model"],
                  preset=f["preset"])
    if kind == "keypoint":
        rows = select(rows, what, radius=f["radius"], paper_bounds=sel.paper_bounds)
    elif rows["paper_bounds"].nunique() > 1:
        rows = select(rows, what, paper_bounds=sel.paper_bounds)
    if not per_keypoint:
        return select(rows, what, keypoint="all")
    rows = rows[rows["keypoint"] != "all"]
    if rows.empty:
        raise ValueError(f"{what}: no per-keypoint rows (keypoint != 'all') for {kind} attacks")
    return rows


def mean_over_targets(
    rows: pd.DataFrame, what: str, by: Mapping[str, Sequence[str]], targets: Sequence[str], fillers: Sequence[str],
    value: str,
) -> pd.DataFrame:
    """Mean of ``value`` over all ``targets`` per ``by`` group and filler (docs/METHODS.md §7 item 11).

    With a ``<value>_samples`` column (each row's bootstrap resamples), the group's (targets, resamples) array,
    targets in ``targets`` order, goes into that column of the result (None where a row has no resamples).
    """
    rows = require_combos(rows, what, {**by, "target": list(targets), "filler": list(fillers)})
    keys = [*by, "filler"]
    out = rows.groupby(keys, sort=False)[value].agg(**{value: "mean", "n_targets": "count"}).reset_index()
    samples = f"{value}_samples"
    if samples in rows.columns:
        groups = sort_by(rows, {"target": targets}).groupby(keys, sort=False)[samples]
        stacks = {key: _stack(group.tolist()) for key, group in groups}
        out[samples] = [stacks[key] for key in out[keys].itertuples(index=False, name=None)]
    return sort_by(out, {**by, "filler": fillers})


def _stack(samples: list[Any]) -> np.ndarray | None:
    """(rows, resamples) of equally long resample arrays; None if a row has none."""
    if any(s is None or not len(s) for s in samples):
        return None
    return np.stack(samples)


def with_interval(data: pd.DataFrame, samples: str) -> pd.DataFrame:
    """Replace the (targets, resamples) arrays of column ``samples`` by ``ci_low, ci_high, p_value`` of their mean
    over targets (:func:`occlusion.stats.mean_interval`; NaN without resamples). No-op without that column."""
    if samples not in data.columns:
        return data
    from ..stats import mean_interval

    nan = (math.nan, math.nan, math.nan)
    values = np.array([nan if s is None else mean_interval(s) for s in data[samples]], dtype=float).reshape(-1, 3)
    return data.drop(columns=[samples]).assign(ci_low=values[:, 0], ci_high=values[:, 1], p_value=values[:, 2])


def seed_mean(rows: pd.DataFrame, what: str, keys: list[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean of the metrics over seeds per ``keys`` group, the number of seeds, and the bootstrap columns."""
    seed = ["seed"] if "seed" in rows.columns else []
    repeated = rows[rows.duplicated(keys + seed, keep=False)]
    if not repeated.empty:
        raise ValueError(f"{what}: {len(repeated)} rows repeat ({', '.join(keys + seed)}), e.g. "
                         f"{tuple(repeated.iloc[0][keys + seed])}")
    groups = rows.groupby(keys, sort=False)
    out = groups[list(metrics)].mean()
    out["seeds"] = groups.size()
    out[f"{metrics[0]} sd"] = groups[metrics[0]].std(ddof=1)  # over seeds; NaN for a single seed
    for col in (c for c in BOOTSTRAP_COLUMNS if c in rows.columns):
        distinct = groups[col].nunique(dropna=True)
        if (distinct > 1).any():
            raise ValueError(f"{what}: {col} differs between the seeds of {list(distinct[distinct > 1].index)}; "
                             f"expected one bootstrap result per ({', '.join(keys)})")
        out[col] = groups[col].first()
    return out.reset_index()
