"""Figures and tables of the paper (REFERENCE_SPEC §6), written byte-stably with their data beside them.

The inputs are two long tables that the pipeline writes as CSV:

* the **attack table**: one row per ``model, preset, dataset, boxes, target, target_kind, filler, radius,
  paper_bounds, keypoint`` with ``AP, AP50, AP75, APM, APL, AR`` in AP points, ``clean_<m>`` and
  ``delta_<m>`` = attacked - clean. ``target_kind`` is ``"keypoint"`` or ``"part"`` (``"none"`` for the clean
  pass), ``keypoint`` is ``"all"`` for overall AP or a COCO keypoint name for per-keypoint AP. Optional
  ``ci_low, ci_high, p_value`` (interval of ``delta_AP``, the attack stage's ``delta_AP_ci_low``, ...) give the
  per-target figures (5, 6, 7, 8) error bars; optional ``AP_samples`` and ``delta_AP_samples`` (each row's values
  in the image-bootstrap resamples, arrays drawn alike for every row, None on per-keypoint rows) give the figures
  of means over targets (3, 4, 11) the interval of the mean (:func:`occlusion.stats.mean_interval`).
* the **evaluation table**: clean accuracy per ``model, preset, dataset, boxes, seed`` with COCO ``AP..AR`` or
  MPII ``Head..Ankle, Mean``, optionally with bootstrap columns ``ci_low, ci_high, p_value, p_holm,
  significant`` for the difference of the primary metric (AP, or Mean for MPII) to the baseline preset.

Every ``fig*`` function returns ``(fig, data)``: a matplotlib :class:`~matplotlib.figure.Figure` (no pyplot
state) and the DataFrame it draws, with the paper's stated values in ``paper_*`` columns (NaN where the text
states none). :func:`save_figure` writes the PNG and the data CSV beside it. Missing rows or columns raise
``ValueError`` naming them. The paper's numbers live in ``paper_results.yaml`` (:func:`paper_results`).

Example:
    >>> fig, data = fig5_keypoint_targets(attack_df, subtitle="COCO val2017")  # doctest: +SKIP
    >>> save_figure(fig, "reports/figures/fig5.png", data)  # doctest: +SKIP
"""
from __future__ import annotations

import copy
import functools
import io
import itertools
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

import cv2
import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
import yaml
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .io import atomic_path, write_csv, write_text
from .keypoints import COCO, FILLERS, PARTS, Skeleton

__all__ = [
    "COCO_METRICS",
    "MPII_METRICS",
    "BOOTSTRAP_COLUMNS",
    "BASELINE",
    "CHOSEN_PRESETS",
    "DPI",
    "paper_results",
    "setup_matplotlib",
    "save_figure",
    "fig3_model_comparison",
    "fig4_radius",
    "fig5_keypoint_targets",
    "fig6_per_keypoint",
    "fig7_part_targets",
    "fig8_part_per_keypoint",
    "fig10_boxes",
    "fig11_augmented_under_attack",
    "table1",
    "table2",
    "table3",
    "markdown_table",
    "write_table",
    "draw_pose",
    "image_grid",
]

COCO_METRICS: tuple[str, ...] = ("AP", "AP50", "AP75", "APM", "APL", "AR")
MPII_METRICS: tuple[str, ...] = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")
"""PCKh@0.5 columns; ``Mean`` is the paper's "Total"."""
BOOTSTRAP_COLUMNS: tuple[str, ...] = ("ci_low", "ci_high", "p_value", "p_holm", "significant")
ATTACK_KEYS: tuple[str, ...] = (
    "model", "preset", "dataset", "boxes", "target", "target_kind", "filler", "radius", "paper_bounds", "keypoint",
)  # fmt: skip
EVAL_KEYS: tuple[str, ...] = ("model", "preset", "dataset", "boxes")
BASELINE = "half_body"
"""Preset of the baseline HRNet (flip, rotation, scale, half-body)."""
CHOSEN_PRESETS: tuple[str, ...] = (BASELINE, "blur_k_05", "cutout_p_05_keep", "partmix_05_keep")
"""Baseline and the three augmentations of Figs. 10-13 and Tables II-III."""
DPI = 150
BOX_FIGURES = ("fig10", "fig12", "fig13")
DELTA_LABEL = "ΔAP (points)"

_FONTS: dict[str, Any] = {
    "font.family": ["DejaVu Sans"],  # ships with matplotlib: the same glyphs on every machine
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 7.0,
    "legend.title_fontsize": 7.0,
    "figure.titlesize": 9.0,
    "savefig.dpi": DPI,
    "svg.hashsalt": "occlusion",
}
_PAPER_MARKER = {"marker": "D", "s": 14, "color": "black", "zorder": 4}

F = TypeVar("F", bound=Callable[..., Any])


# ------------------------------------------------------------------------------------------------ paper values


@functools.lru_cache(maxsize=1)
def _load_paper_results() -> dict[str, Any]:
    with open(Path(__file__).with_name("paper_results.yaml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def paper_results() -> dict[str, Any]:
    """The paper's numbers (``paper_results.yaml``): ``table1..3`` rows by preset and ``figures.figN`` values.

    Read once and cached; each call returns a fresh deep copy, so callers may modify it.
    """
    return copy.deepcopy(_load_paper_results())


def _paper_match(records: Sequence[Mapping[str, Any]], value_key: str, **row: Any) -> tuple[float, str]:
    """The first record whose keys equal ``row`` (``filler: all`` matches every filler): (value, note)."""
    for rec in records:
        if value_key in rec and all(rec.get(k) == v or (k == "filler" and rec.get(k) == "all") for k, v in row.items()):
            return float(rec[value_key]), str(rec.get("note", ""))
    return math.nan, ""


def _add_paper(data: pd.DataFrame, figure: str, value_key: str, keys: Sequence[str]) -> pd.DataFrame:
    """Add ``paper_<value_key>`` and ``paper_note`` columns from ``figures.<figure>.values``."""
    records = _load_paper_results()["figures"][figure]["values"]
    found = [_paper_match(records, value_key, **{k: row[k] for k in keys}) for _, row in data.iterrows()]
    return data.assign(**{f"paper_{value_key}": [v for v, _ in found], "paper_note": [n for _, n in found]})


# ------------------------------------------------------------------------------------------------ style and I/O


@functools.lru_cache(maxsize=1)
def _style_items() -> tuple[tuple[str, Any], ...]:
    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper"), **_FONTS}
    return tuple(rc.items())


def _style() -> dict[str, Any]:
    """rcParams of every figure: seaborn's whitegrid/paper theme with fixed fonts and sizes."""
    return dict(_style_items())


def _styled(fn: F) -> F:
    """Build the figure under :func:`_style`, whatever the global rcParams are."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(_style()):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def setup_matplotlib() -> None:
    """Select the headless Agg backend and apply the figure style globally (for ad-hoc plots in notebooks)."""
    matplotlib.use("Agg")
    matplotlib.rcParams.update(_style())


def save_figure(fig: Figure, path: str | Path, data: pd.DataFrame | None = None, *, dpi: int = DPI) -> Path:
    """Write ``fig`` as PNG and ``data`` as CSV beside it (same stem), both atomically and byte-stably.

    The PNG carries no software/version metadata and is rendered at a fixed ``dpi`` after one settling draw, so
    equal figures give equal bytes, however often they are saved. ``data=None`` (qualitative figures) writes no CSV.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save_figure: path {str(path)!r} must end in .png")
    with matplotlib.rc_context(_style()):
        for _ in range(2):  # constrained layout settles on the first draw; the second one is the same every time
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, bbox_inches="tight", pad_inches=0.05)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
    if data is not None:
        write_csv(path.with_suffix(".csv"), data)
    return path


def _new_figure(figsize: tuple[float, float], ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, list(np.atleast_1d(fig.subplots(1, ncols, squeeze=False)[0]))


def _suptitle(fig: Figure, figure: str, what: str, model: str, subtitle: str) -> None:
    """Title naming the paper figure, the model and the data profile."""
    fig.suptitle(f"{figure}: {what}\n" + " · ".join(s for s in (model, subtitle) if s))


def _legend(ax: Axes, title: str | None = None) -> None:
    """One legend right of ``ax`` (outside the bars) with the labelled artists of every panel of the figure."""
    handles: dict[str, Any] = {}
    for panel in ax.figure.axes:
        for handle, label in zip(*panel.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    ax.legend(list(handles.values()), list(handles), title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)


def _palette(names: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    colors = sns.color_palette("colorblind", max(len(names), 3))
    return {name: colors[i] for i, name in enumerate(names)}


FILLER_COLORS = _palette(FILLERS)


# ------------------------------------------------------------------------------------------------ selection


def _require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the input table lacks columns {missing}; it has {list(df.columns)}")


def _select(df: pd.DataFrame, what: str, **equal: Any) -> pd.DataFrame:
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


def _select_one(df: pd.DataFrame, what: str, col: str, value: str | None) -> tuple[pd.DataFrame, str]:
    """Rows of one ``col`` value: ``value``, or the only one in the table (several raise, naming them)."""
    if value is None:
        values = sorted({str(v) for v in df[col].dropna().unique()})
        if len(values) != 1:
            raise ValueError(f"{what}: the table holds {col} values {values}; pass {col}= to choose one")
        value = values[0]
    return _select(df, what, **{col: value}), value


def _require_combos(df: pd.DataFrame, what: str, combos: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
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


def _sort(df: pd.DataFrame, orders: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Sort by the position of each column's value in the given order (stable)."""
    ranks = {f"_rank_{c}": df[c].map({v: i for i, v in enumerate(order)}) for c, order in orders.items()}
    return df.assign(**ranks).sort_values(list(ranks), kind="stable").drop(columns=list(ranks)).reset_index(drop=True)


def _check_names(values: Sequence[str], allowed: Sequence[str], name: str, what: str) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValueError(f"{what}: {name} {list(values)} invalid ({bad or 'empty'}); allowed: {', '.join(allowed)}")
    return list(values)


def _attack_rows(
    df: pd.DataFrame,
    what: str,
    kind: str,
    *,
    model: str | Sequence[str] | None,
    preset: str | Sequence[str] | None,
    radius: float | None,
    paper_bounds: bool,
    dataset: str,
    boxes: str,
    per_keypoint: bool = False,
    value: str = "delta_AP",
) -> pd.DataFrame:
    """Attack rows of one target kind; ``radius`` and ``paper_bounds`` filter keypoint attacks only.

    Part attacks have no radius and no bounds check; their ``paper_bounds`` is filtered only where the table
    holds both values.
    """
    _require_columns(df, (*ATTACK_KEYS, value), what)
    rows = _select(df, what, dataset=dataset, boxes=boxes, target_kind=kind, model=model, preset=preset)
    if kind == "keypoint":
        rows = _select(rows, what, radius=radius, paper_bounds=paper_bounds)
    elif rows["paper_bounds"].nunique() > 1:
        rows = _select(rows, what, paper_bounds=paper_bounds)
    if not per_keypoint:
        return _select(rows, what, keypoint="all")
    rows = rows[rows["keypoint"] != "all"]
    if rows.empty:
        raise ValueError(f"{what}: no per-keypoint rows (keypoint != 'all') for {kind} attacks")
    return rows


def _mean_over_targets(
    rows: pd.DataFrame, what: str, by: Mapping[str, Sequence[str]], targets: Sequence[str], fillers: Sequence[str],
    value: str,
) -> pd.DataFrame:
    """Mean of ``value`` over all ``targets`` per ``by`` group and filler (REFERENCE_SPEC §7 item 11).

    With a ``<value>_samples`` column (each row's bootstrap resamples), the group's (targets, resamples) array,
    targets in ``targets`` order, goes into that column of the result (None where a row has no resamples).
    """
    rows = _require_combos(rows, what, {**by, "target": list(targets), "filler": list(fillers)})
    keys = [*by, "filler"]
    out = rows.groupby(keys, sort=False)[value].agg(**{value: "mean", "n_targets": "count"}).reset_index()
    samples = f"{value}_samples"
    if samples in rows.columns:
        groups = _sort(rows, {"target": targets}).groupby(keys, sort=False)[samples]
        stacks = {key: _stack(group.tolist()) for key, group in groups}
        out[samples] = [stacks[key] for key in out[keys].itertuples(index=False, name=None)]
    return _sort(out, {**by, "filler": fillers})


def _stack(samples: list[Any]) -> np.ndarray | None:
    """(rows, resamples) of equally long resample arrays; None if a row has none."""
    if any(s is None or not len(s) for s in samples):
        return None
    return np.stack(samples)


def _with_interval(data: pd.DataFrame, samples: str) -> pd.DataFrame:
    """Replace the (targets, resamples) arrays of column ``samples`` by ``ci_low, ci_high, p_value`` of their mean
    over targets (:func:`occlusion.stats.mean_interval`; NaN without resamples). No-op without that column."""
    if samples not in data.columns:
        return data
    from .stats import mean_interval

    nan = (math.nan, math.nan, math.nan)
    values = np.array([nan if s is None else mean_interval(s) for s in data[samples]], dtype=float).reshape(-1, 3)
    return data.drop(columns=[samples]).assign(ci_low=values[:, 0], ci_high=values[:, 1], p_value=values[:, 2])


def _seed_mean(rows: pd.DataFrame, what: str, keys: list[str], metrics: Sequence[str]) -> pd.DataFrame:
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


# ------------------------------------------------------------------------------------------------ drawing


def _yerr(rows: pd.DataFrame, center: str) -> np.ndarray | None:
    """Asymmetric error bars from ``ci_low``/``ci_high`` around ``center`` (None without CI columns)."""
    if not {"ci_low", "ci_high"} <= set(rows.columns) or rows[["ci_low", "ci_high"]].isna().all().all():
        return None
    c = rows[center].to_numpy(float)
    lo, hi = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
    return np.nan_to_num(np.vstack([c - lo, hi - c]).clip(min=0.0))


def _paper_markers(ax: Axes, pos: np.ndarray, low: np.ndarray, high: np.ndarray, label: bool) -> bool:
    """Black diamonds at the paper's values (a vertical line for a stated range); returns whether one was drawn."""
    ok = ~np.isnan(low)
    if not ok.any():
        return False
    ax.vlines(pos[ok], low[ok], high[ok], colors="black", linewidth=1.0, zorder=4)
    ax.scatter(pos[ok], low[ok], label="paper (text)" if label else "_nolegend_", **_PAPER_MARKER)
    ax.scatter(pos[ok], high[ok], label="_nolegend_", **_PAPER_MARKER)
    return True


def _grouped_bars(
    ax: Axes, data: pd.DataFrame, *, x: str, hue: str, y: str, x_order: Sequence[Any], hue_order: Sequence[str],
    colors: Mapping[str, Any], paper: tuple[str, str] | None = None, err_center: str | None = None,
) -> None:
    """One bar group per ``x`` value, one bar per ``hue`` value; paper values as markers, CI as error bars."""
    width = 0.8 / len(hue_order)
    centers = np.arange(len(x_order), dtype=float)
    marked = False
    for j, h in enumerate(hue_order):
        rows = data[data[hue] == h].set_index(x).reindex(x_order)
        pos = centers + (j - (len(hue_order) - 1) / 2) * width
        yerr = _yerr(rows, err_center) if err_center else None
        ax.bar(pos, rows[y].to_numpy(float), width, color=colors[h], label=str(h), yerr=yerr,
               error_kw={"elinewidth": 0.8, "capsize": 1.5})
        if paper is not None:
            drawn = _paper_markers(ax, pos, rows[paper[0]].to_numpy(float), rows[paper[1]].to_numpy(float), not marked)
            marked = marked or drawn
    ax.set_xticks(centers, [str(v) for v in x_order])


def _zoom_ylim(ax: Axes, values: Iterable[float], margin: float) -> tuple[float, float]:
    """Y limits around the finite ``values`` with ``margin`` points each side, on whole points (AP bar charts)."""
    finite = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    limits = (math.floor(finite.min() - margin), math.ceil(finite.max() + margin))
    ax.set_ylim(*limits)
    return limits


def _rotate_xticks(ax: Axes, angle: float = 45.0) -> None:
    for label in ax.get_xticklabels():
        label.set_rotation(angle)
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")


# ------------------------------------------------------------------------------------------------ attack figures


@_styled
def fig3_model_comparison(
    attack_df: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    preset: str | None = None,
    radius: float = 6,
    paper_bounds: bool = True,
    fillers: Sequence[str] = FILLERS,
    keypoint_targets: Sequence[str] = COCO.names,
    part_targets: Sequence[str] = PARTS,
    dataset: str = "coco",
    boxes: str = "gt",
    subtitle: str = "",
    figsize: tuple[float, float] = (7.0, 2.8),
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 3: mean overall ΔAP over the 17 keypoint targets (a) and the 11 part targets (b), per model and filler.

    ``preset=None`` needs exactly one preset per model in the table (the official checkpoints' baselines). With
    ``delta_AP_samples``, error bars (``ci_low``, ``ci_high``, ``p_value``) bound the mean ΔAP over targets.
    """
    what = "fig3_model_comparison"
    fillers = _check_names(fillers, FILLERS, "fillers", what)
    pieces = []
    for kind, targets in (("keypoint", keypoint_targets), ("part", part_targets)):
        rows = _attack_rows(attack_df, what, kind, model=list(models) if models else None, preset=preset,
                            radius=radius, paper_bounds=paper_bounds, dataset=dataset, boxes=boxes)
        presets = rows.groupby("model")["preset"].unique()
        several = {m: sorted(p) for m, p in presets.items() if len(p) > 1}
        if several:
            raise ValueError(f"{what}: several presets per model {several}; pass preset= to choose one")
        model_order = list(models) if models else sorted(presets.index)
        mean = _mean_over_targets(rows, what, {"model": model_order}, targets, fillers, "delta_AP")
        pieces.append(mean.assign(kind=kind, preset=mean["model"].map(lambda m: presets[m][0])))
    data = pd.concat(pieces, ignore_index=True)
    columns = ["kind", "model", "preset", "filler", "delta_AP", "n_targets", "delta_AP_samples"]
    data = _with_interval(data[[c for c in columns if c in data.columns]], "delta_AP_samples")

    fig, axes = _new_figure(figsize, ncols=2)
    for ax, (kind, label) in zip(axes, (("keypoint", "(a) keypoint attacks"), ("part", "(b) part attacks"))):
        _grouped_bars(ax, data[data["kind"] == kind], x="model", hue="filler", y="delta_AP", x_order=model_order,
                      hue_order=fillers, colors=FILLER_COLORS, err_center="delta_AP")
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set(title=label, xlabel="model", ylabel=f"mean {DELTA_LABEL} over targets")
    _legend(axes[-1], "filler")
    _suptitle(fig, "Fig. 3", "robustness to keypoint and part occlusion attacks", ", ".join(model_order), subtitle)
    return fig, data


@_styled
def fig4_radius(
    attack_df: pd.DataFrame,
    *,
    model: str | None = None,
    preset: str = BASELINE,
    radii: Sequence[float] | None = None,
    paper_bounds: bool = True,
    fillers: Sequence[str] = FILLERS,
    targets: Sequence[str] = COCO.names,
    dataset: str = "coco",
    boxes: str = "gt",
    subtitle: str = "",
    figsize: tuple[float, float] = (4.5, 3.0),
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 4: mean overall ΔAP over the keypoint targets against the occlusion radius r, one line per filler.

    ``radii=None`` uses every radius in the table; each (radius, target, filler) must be present. The paper's
    "about -3 at r = 18" is marked. With ``delta_AP_samples``, error bars (``ci_low``, ``ci_high``, ``p_value``)
    bound the mean ΔAP over targets.
    """
    what = "fig4_radius"
    fillers = _check_names(fillers, FILLERS, "fillers", what)
    rows = _attack_rows(attack_df, what, "keypoint", model=model, preset=preset, radius=None,
                        paper_bounds=paper_bounds, dataset=dataset, boxes=boxes)
    rows, model = _select_one(rows, what, "model", model)
    rows = rows[rows["radius"].notna()]
    radii = sorted(rows["radius"].unique()) if radii is None else list(radii)
    data = _mean_over_targets(rows, what, {"radius": radii}, targets, fillers, "delta_AP")
    columns = ["filler", "radius", "delta_AP", "n_targets", "delta_AP_samples"]
    data = _sort(data, {"filler": fillers, "radius": radii})[[c for c in columns if c in data.columns]]
    data = _with_interval(data, "delta_AP_samples")
    data = _add_paper(data.assign(model=model, preset=preset), "fig4", "delta_AP", ("radius", "filler"))

    fig, (ax,) = _new_figure(figsize)
    for filler in fillers:
        rows_f = data[data["filler"] == filler]
        ax.errorbar(rows_f["radius"], rows_f["delta_AP"], yerr=_yerr(rows_f, "delta_AP"), marker="o", markersize=3,
                    color=FILLER_COLORS[filler], label=filler, elinewidth=0.8, capsize=1.5)
    paper = data.dropna(subset=["paper_delta_AP"]).drop_duplicates("radius")
    if not paper.empty:
        ax.scatter(paper["radius"], paper["paper_delta_AP"], label="paper (about)", **_PAPER_MARKER)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(radii)
    ax.set(xlabel="occlusion radius r (input-crop pixels)", ylabel=f"mean {DELTA_LABEL} over keypoint targets")
    _legend(ax, "filler")
    _suptitle(fig, "Fig. 4", "occlusion size against loss in AP", f"{model} ({preset})", subtitle)
    return fig, data


def _target_bars(
    attack_df: pd.DataFrame, what: str, figure: str, kind: str, targets: Sequence[str], *, model: str | None,
    preset: str, radius: float, paper_bounds: bool, fillers: Sequence[str], dataset: str, boxes: str,
    subtitle: str, figsize: tuple[float, float], title: str,
) -> tuple[Figure, pd.DataFrame]:
    """Overall ΔAP per target x filler as grouped bars (Figs. 5 and 7)."""
    fillers = _check_names(fillers, FILLERS, "fillers", what)
    rows = _attack_rows(attack_df, what, kind, model=model, preset=preset, radius=radius,
                        paper_bounds=paper_bounds, dataset=dataset, boxes=boxes)
    rows, model = _select_one(rows, what, "model", model)
    rows = _sort(_require_combos(rows, what, {"target": list(targets), "filler": fillers}),
                 {"target": targets, "filler": fillers})
    cols = ["model", "preset", "target", "filler", "AP", "clean_AP", "delta_AP"]
    cols += [c for c in ("ci_low", "ci_high", "p_value") if c in rows.columns]
    data = _add_paper(rows[[c for c in cols if c in rows.columns]].reset_index(drop=True), figure, "delta_AP",
                      ("target", "filler"))

    fig, (ax,) = _new_figure(figsize)
    _grouped_bars(ax, data, x="target", hue="filler", y="delta_AP", x_order=targets, hue_order=fillers,
                  colors=FILLER_COLORS, paper=("paper_delta_AP", "paper_delta_AP"), err_center="delta_AP")
    _rotate_xticks(ax)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set(xlabel=f"occluded {kind}", ylabel=f"overall {DELTA_LABEL}")
    _legend(ax, "filler")
    _suptitle(fig, figure.replace("fig", "Fig. "), title, f"{model} ({preset})", subtitle)
    return fig, data


@_styled
def fig5_keypoint_targets(
    attack_df: pd.DataFrame,
    *,
    model: str | None = None,
    preset: str = BASELINE,
    radius: float = 6,
    paper_bounds: bool = True,
    fillers: Sequence[str] = FILLERS,
    targets: Sequence[str] = COCO.names,
    dataset: str = "coco",
    boxes: str = "gt",
    subtitle: str = "",
    figsize: tuple[float, float] = (7.0, 3.0),
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 5: overall ΔAP for each keypoint target x filler at radius r (the occluded keypoint stays evaluated)."""
    targets = _check_names(targets, COCO.names, "targets", "fig5_keypoint_targets")
    return _target_bars(attack_df, "fig5_keypoint_targets", "fig5", "keypoint", targets, model=model, preset=preset,
                        radius=radius, paper_bounds=paper_bounds, fillers=fillers, dataset=dataset, boxes=boxes,
                        subtitle=subtitle, figsize=figsize, title=f"loss in AP per occluded keypoint (r = {radius:g})")


@_styled
def fig7_part_targets(
    attack_df: pd.DataFrame,
    *,
    model: str | None = None,
    preset: str = BASELINE,
    paper_bounds: bool = True,
    fillers: Sequence[str] = FILLERS,
    targets: Sequence[str] = PARTS,
    dataset: str = "coco",
    boxes: str = "gt",
    subtitle: str = "",
    figsize: tuple[float, float] = (6.0, 3.0),
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 7: overall ΔAP for each of the 11 part targets x filler."""
    targets = _check_names(targets, PARTS, "targets", "fig7_part_targets")
    return _target_bars(attack_df, "fig7_part_targets", "fig7", "part", targets, model=model, preset=preset,
                        radius=None, paper_bounds=paper_bounds, fillers=fillers, dataset=dataset, boxes=boxes,
                        subtitle=subtitle, figsize=figsize, title="change in AP per occluded part")


def _top_keypoint_bars(
    attack_df: pd.DataFrame, what: str, figure: str, kind: str, targets: Sequence[str], *, exclude_part: bool,
    top: int, model: str | None, preset: str, radius: float | None, paper_bounds: bool, fillers: Sequence[str],
    dataset: str, boxes: str, subtitle: str, figsize: tuple[float, float], title: str, ylabel: str,
) -> tuple[Figure, pd.DataFrame]:
    """Per-keypoint ΔAP, the ``top`` keypoints per target and filler (Figs. 6 and 8).

    Without ``exclude_part`` (Fig. 6) all 17 keypoints compete and the largest drops (most negative ΔAP) win; with
    it (Fig. 8) only keypoints outside ``part_mapping[target]`` compete and the largest ``|ΔAP|`` wins. Ties keep
    the COCO keypoint order.
    """
    fillers = _check_names(fillers, FILLERS, "fillers", what)
    if top < 1:
        raise ValueError(f"{what}: top = {top!r}; expected a positive int")
    rows = _attack_rows(attack_df, what, kind, model=model, preset=preset, radius=radius,
                        paper_bounds=paper_bounds, dataset=dataset, boxes=boxes, per_keypoint=True)
    rows, model = _select_one(rows, what, "model", model)
    pieces = []
    for target in targets:
        hidden = COCO.part_mapping[target] if exclude_part else ()
        candidates = [name for i, name in enumerate(COCO.names) if i not in hidden]
        sub = _require_combos(rows, what, {"target": [target], "filler": fillers, "keypoint": candidates})
        for filler in fillers:
            ranked = sub[sub["filler"] == filler]
            score = ranked["delta_AP"].abs() * -1.0 if exclude_part else ranked["delta_AP"]
            ranked = ranked.assign(_score=score, _order=ranked["keypoint"].map(COCO.names.index))
            ranked = ranked.sort_values(["_score", "_order"], kind="stable").head(top)
            pieces.append(ranked.assign(rank=np.arange(1, len(ranked) + 1)))
    cols = ["model", "preset", "target", "filler", "rank", "keypoint", "delta_AP"]
    cols += [c for c in ("ci_low", "ci_high") if c in rows.columns]
    data = pd.concat(pieces, ignore_index=True)[cols]
    data = _add_paper(data, figure, "delta_AP", ("target", "keypoint", "filler"))

    fig, axes = _new_figure(figsize, ncols=len(targets))
    for idx, (ax, target) in enumerate(zip(axes, targets)):
        ticks: list[float] = []
        labels: list[str] = []
        marked = False
        for i, filler in enumerate(fillers):
            rows_f = data[(data["target"] == target) & (data["filler"] == filler)]
            pos = i * (top + 1) + np.arange(len(rows_f), dtype=float)
            ax.bar(pos, rows_f["delta_AP"].to_numpy(float), 0.8, color=FILLER_COLORS[filler],
                   label=filler, yerr=_yerr(rows_f, "delta_AP"), error_kw={"elinewidth": 0.8, "capsize": 1.5})
            paper = rows_f["paper_delta_AP"].to_numpy(float)
            marked = _paper_markers(ax, pos, paper, paper, not marked) or marked
            ticks += list(pos)
            labels += list(rows_f["keypoint"])
        ax.set_xticks(ticks, labels)
        _rotate_xticks(ax, 90.0)
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set(title=f"({'abcdefgh'[idx]}) {kind} {target}", ylabel=ylabel if idx == 0 else "")
    _legend(axes[-1], "filler")
    if _yerr(data, "delta_AP") is None:
        title += "; no error bars (per-keypoint AP is not bootstrapped)"
    _suptitle(fig, figure.replace("fig", "Fig. "), title, f"{model} ({preset})", subtitle)
    return fig, data


@_styled
def fig6_per_keypoint(
    attack_df: pd.DataFrame,
    targets: Sequence[str] = ("nose", "l_eye", "l_ankle"),
    *,
    top: int = 5,
    model: str | None = None,
    preset: str = BASELINE,
    radius: float = 6,
    paper_bounds: bool = True,
    fillers: Sequence[str] = FILLERS,
    dataset: str = "coco",
    boxes: str = "gt",
    subtitle: str = "",
    figsize: tuple[float, float] = (8.0, 2.8),
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 6: per-keypoint ΔAP of the ``top`` keypoints with the largest drop, per filler, for keypoint targets."""
    what = "fig6_per_keypoint"
    targets = _check_names(targets, COCO.names, "targets", what)
    return _top_keypoint_bars(attack_df, what, "fig6", "keypoint", targets, exclude_part=False, top=top, model=model,
                              preset=preset, radius=radius, paper_bounds=paper_bounds, fillers=fillers,
                              dataset=dataset, boxes=boxes, subtitle=subtitle, figsize=figsize,
                              title=f"top {top} keypoints by loss in AP (r = {radius:g})",
                              ylabel=f"per-keypoint {DELTA_LABEL}")


@_styled
def fig8_part_per_keypoint(
    attack_df: pd.DataFrame,
    parts: Sequence[str] = ("upper_body", "corpus", "left_side"),
    *,
    top: int = 5,
    model: str | None = None,
    preset: str = BASELINE,
    paper_bounds: bool = True,
    fillers: Sequence[str] = FILLERS,
    dataset: str = "coco",
    boxes: str = "gt",
    subtitle: str = "",
    figsize: tuple[float, float] = (8.0, 2.8),
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 8: per-keypoint ΔAP of the ``top`` keypoints by ``|ΔAP|`` outside ``part_mapping[part]``, per filler.

    Upper body leaves only 4 keypoints outside it, so its panel has at most 4 bars per filler.
    """
    what = "fig8_part_per_keypoint"
    parts = _check_names(parts, PARTS, "parts", what)
    return _top_keypoint_bars(attack_df, what, "fig8", "part", parts, exclude_part=True, top=top, model=model,
                              preset=preset, radius=None, paper_bounds=paper_bounds, fillers=fillers,
                              dataset=dataset, boxes=boxes, subtitle=subtitle, figsize=figsize,
                              title=f"top {top} keypoints outside the part by |ΔAP|",
                              ylabel=f"per-keypoint {DELTA_LABEL}")


@_styled
def fig11_augmented_under_attack(
    attack_df: pd.DataFrame,
    *,
    presets: Sequence[str] = CHOSEN_PRESETS,
    baseline: str = BASELINE,
    model: str | None = None,
    radius: float = 6,
    paper_bounds: bool = True,
    fillers: Sequence[str] = FILLERS,
    keypoint_targets: Sequence[str] = COCO.names,
    part_targets: Sequence[str] = PARTS,
    dataset: str = "coco",
    boxes: str = "gt",
    subtitle: str = "",
    figsize: tuple[float, float] = (7.0, 2.8),
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 11: mean overall AP over the keypoint (a) and part (b) targets per filler, for each preset.

    ``delta_AP_vs_baseline`` is the difference to ``baseline`` under the same attack; the paper's "PartMix about +5
    on part attacks" is marked at baseline + 5. With ``AP_samples`` (resampled on the same images for every
    preset), error bars (``ci_low``, ``ci_high``, ``p_value``) bound ``delta_AP_vs_baseline``, the paired
    difference of the means over targets, drawn on each preset's bar as baseline AP + interval (none on the
    baseline's own bars).
    """
    what = "fig11_augmented_under_attack"
    fillers = _check_names(fillers, FILLERS, "fillers", what)
    presets = list(presets)
    if baseline not in presets:
        raise ValueError(f"{what}: baseline {baseline!r} is not among presets {presets}")
    pieces = []
    for kind, targets in (("keypoint", keypoint_targets), ("part", part_targets)):
        rows = _attack_rows(attack_df, what, kind, model=model, preset=presets, radius=radius,
                            paper_bounds=paper_bounds, dataset=dataset, boxes=boxes, value="AP")
        rows, model = _select_one(rows, what, "model", model)
        mean = _mean_over_targets(rows, what, {"preset": presets}, targets, fillers, "AP")
        is_base = mean["preset"] == baseline
        base = mean[is_base].set_index("filler")["AP"]
        mean = mean.assign(kind=kind, delta_AP_vs_baseline=mean["AP"] - mean["filler"].map(base))
        if "AP_samples" in mean.columns:
            base_samples = dict(zip(mean.loc[is_base, "filler"], mean.loc[is_base, "AP_samples"]))
            mean["delta_samples"] = [None if b or s is None or base_samples[f] is None else s - base_samples[f]
                                     for b, f, s in zip(is_base, mean["filler"], mean["AP_samples"])]
        pieces.append(mean)
    data = pd.concat(pieces, ignore_index=True)
    columns = ["kind", "preset", "filler", "AP", "n_targets", "delta_AP_vs_baseline", "delta_samples"]
    data = _with_interval(data[[c for c in columns if c in data.columns]], "delta_samples").assign(model=model)
    data = _add_paper(data, "fig11", "delta_AP_vs_baseline", ("preset", "kind", "filler"))
    base_ap = data[data["preset"] == baseline].set_index(["kind", "filler"])["AP"]
    base_of_row = np.array([base_ap[(k, f)] for k, f in zip(data["kind"], data["filler"])])
    data["paper_AP"] = base_of_row + data["paper_delta_AP_vs_baseline"].to_numpy(float)

    fig, axes = _new_figure(figsize, ncols=2)
    for ax, (kind, label) in zip(axes, (("keypoint", "(a) keypoint attacks"), ("part", "(b) part attacks"))):
        _grouped_bars(ax, data[data["kind"] == kind], x="filler", hue="preset", y="AP", x_order=fillers,
                      hue_order=presets, colors=_palette(presets), paper=("paper_AP", "paper_AP"),
                      err_center="delta_AP_vs_baseline")
        ax.set(title=label, xlabel="attack filler", ylabel="mean AP over targets (points)")
        _zoom_ylim(ax, [*data["AP"], *data["paper_AP"]], margin=3.0)
    _legend(axes[-1], "training preset")
    _suptitle(fig, "Fig. 11", "augmented models under occlusion attacks", str(model), subtitle)
    return fig, data


# ------------------------------------------------------------------------------------------------ clean accuracy


def _paper_range(value: Any) -> tuple[float, float]:
    """A stated delta as (low, high): a number gives (v, v), a [low, high] list a range, None gives NaNs."""
    if value is None:
        return math.nan, math.nan
    if isinstance(value, (list, tuple)):
        return float(value[0]), float(value[1])
    return float(value), float(value)


@_styled
def fig10_boxes(
    eval_df: pd.DataFrame,
    *,
    presets: Sequence[str] = CHOSEN_PRESETS,
    baseline: str = BASELINE,
    model: str | None = None,
    boxes: Sequence[str] | None = None,
    paper_figure: str = "fig10",
    paper_boxes: Mapping[str, str] | None = None,
    metric: str = "AP",
    dataset: str = "coco",
    subtitle: str = "",
    figsize: tuple[float, float] = (7.0, 3.0),
) -> tuple[Figure, pd.DataFrame]:
    """Figs. 10, 12, 13: clean AP per person-box source for the baseline and augmented presets (mean over seeds).

    Bars carry their delta to ``baseline`` on the same boxes; the paper's deltas (``paper_figure`` = fig10 HRNet,
    fig12 HRNet high resolution, fig13 SimpleBaseline) are marked at baseline + delta, a stated range as a line.
    ``paper_boxes`` maps our box names to the paper's (gt, cascade_rcnn, faster_rcnn, retinanet, efficientdet_d7).
    Error bars show ``ci_low``/``ci_high`` of the difference to the baseline where present.
    """
    what = f"{paper_figure}_boxes"
    if paper_figure not in BOX_FIGURES:
        raise ValueError(f"fig10_boxes: paper_figure = {paper_figure!r}; allowed: {', '.join(BOX_FIGURES)}")
    presets = list(presets)
    if baseline not in presets:
        raise ValueError(f"{what}: baseline {baseline!r} is not among presets {presets}")
    _require_columns(eval_df, (*EVAL_KEYS, metric), what)
    rows = _select(eval_df, what, dataset=dataset, preset=presets, boxes=list(boxes) if boxes else None)
    rows, model = _select_one(rows, what, "model", model)
    box_order = list(boxes) if boxes else sorted({str(b) for b in rows["boxes"].unique()})
    data = _seed_mean(rows, what, ["boxes", "preset"], [metric])
    data = _sort(_require_combos(data, what, {"boxes": box_order, "preset": presets}),
                 {"boxes": box_order, "preset": presets})
    base = data[data["preset"] == baseline].set_index("boxes")[metric]
    data.insert(0, "model", model)
    data["delta"] = data[metric] - data["boxes"].map(base)

    spec = _load_paper_results()["figures"][paper_figure]
    paper_boxes = dict(paper_boxes or {})
    keys = [paper_boxes.get(b, b) for b in data["boxes"]]
    stated = [spec["delta_AP"].get(k, {}).get(p) if metric == "AP" else None for k, p in zip(keys, data["preset"])]
    data["paper_delta_low"] = [_paper_range(v)[0] for v in stated]
    data["paper_delta_high"] = [_paper_range(v)[1] for v in stated]
    data["paper_AP"] = [spec["AP"].get(k, {}).get(p, math.nan) for k, p in zip(keys, data["preset"])]
    data["paper_note"] = [spec["notes"].get(k, "") for k in keys]
    data["paper_low"] = data["boxes"].map(base) + data["paper_delta_low"]
    data["paper_high"] = data["boxes"].map(base) + data["paper_delta_high"]

    fig, (ax,) = _new_figure(figsize)
    drawn = data.copy()
    if {"ci_low", "ci_high"} <= set(drawn.columns):  # no error bar for the baseline's difference to itself
        drawn.loc[drawn["preset"] == baseline, ["ci_low", "ci_high"]] = math.nan
    _grouped_bars(ax, drawn, x="boxes", hue="preset", y=metric, x_order=box_order, hue_order=presets,
                  colors=_palette(presets), paper=("paper_low", "paper_high"), err_center="delta")
    bottom, _ = _zoom_ylim(ax, [*data[metric], *data["paper_low"], *data["paper_high"]], margin=1.0)
    width = 0.8 / len(presets)
    for j, preset in enumerate(presets):
        if preset == baseline:
            continue
        rows_p = data[data["preset"] == preset].set_index("boxes").reindex(box_order)
        for i, delta in enumerate(rows_p["delta"]):
            ax.annotate(f"{delta:+.1f}", (i + (j - (len(presets) - 1) / 2) * width, bottom), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=6)
    ax.set(xlabel="person boxes", ylabel=f"{metric} (points)")
    _legend(ax, "training preset")
    figure = paper_figure.replace("fig", "Fig. ")
    _suptitle(fig, figure, f"clean {metric} per box source, Δ to {baseline} labelled", str(model), subtitle)
    return fig, data


def _table(
    eval_df: pd.DataFrame, what: str, key: str, *, dataset: str, model: str | None, boxes: str | None,
    rename: Mapping[str, str],
) -> pd.DataFrame:
    """Our values (mean over seeds) beside the paper's: one row per paper row, then our other presets."""
    spec = _load_paper_results()[key]
    metrics = list(spec["metrics"])
    _require_columns(eval_df, (*EVAL_KEYS, *metrics), what)
    rows = _select(eval_df, what, dataset=dataset)
    rows, model = _select_one(rows, what, "model", model)
    rows, boxes = _select_one(rows, what, "boxes", boxes)
    ours = _seed_mean(rows, what, ["preset"], metrics)
    ours.index = [rename.get(p, p) for p in ours["preset"]]
    paper_rows: Mapping[str, Mapping[str, Any]] = spec["rows"]
    inverse = {row: preset for preset, row in rename.items()}
    records = []
    for row in [*paper_rows, *sorted(r for r in ours.index if r not in paper_rows)]:
        have = row in ours.index
        rec: dict[str, Any] = {
            "preset": ours.at[row, "preset"] if have else inverse.get(row, row),
            "label": paper_rows.get(row, {}).get("label", ""),
            "seeds": int(ours.at[row, "seeds"]) if have else 0,
            f"{metrics[0]} sd": ours.at[row, f"{metrics[0]} sd"] if have else math.nan,
        }
        for m in metrics:
            rec[m] = ours.at[row, m] if have else math.nan
            rec[f"{m} (paper)"] = paper_rows.get(row, {}).get(m, math.nan)
        for col in (c for c in BOOTSTRAP_COLUMNS if c in ours.columns):
            rec[col] = ours.at[row, col] if have else math.nan
        records.append(rec)
    table = pd.DataFrame(records)
    table.attrs["caption"] = (f"{spec['caption']}. Ours: {model}, boxes {boxes}, mean over seeds "
                              f"({metrics[0]} sd: standard deviation over seeds).")
    return table


def table1(
    eval_df: pd.DataFrame, *, boxes: str | None = None, model: str | None = None, dataset: str = "coco"
) -> pd.DataFrame:
    """Table I: COCO AP..AR per training preset next to the paper's (``<m> (paper)`` columns).

    The paper used Cascade R-CNN R50 boxes; ``boxes`` selects ours (``None``: the only box source in the table).
    """
    return _table(eval_df, "table1", "table1", dataset=dataset, model=model, boxes=boxes, rename={})


def table2(
    eval_df: pd.DataFrame, *, baseline: str = BASELINE, model: str | None = None, boxes: str | None = None,
    dataset: str = "mpii",
) -> pd.DataFrame:
    """Table II: MPII PCKh@0.5 per joint group and Mean; our ``baseline`` preset sits on the paper's baseline row."""
    return _table(eval_df, "table2", "table2", dataset=dataset, model=model, boxes=boxes,
                  rename={baseline: "baseline"})


def table3(
    eval_df: pd.DataFrame, *, baseline: str = BASELINE, model: str | None = None, boxes: str | None = None,
    dataset: str = "coco",
) -> pd.DataFrame:
    """Table III: HigherHRNet-W32 COCO AP..APL; our ``baseline`` preset sits on the paper's baseline row."""
    return _table(eval_df, "table3", "table3", dataset=dataset, model=model, boxes=boxes,
                  rename={baseline: "baseline"})


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and bool(value)


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return format(float(value), fmt)
    return str(value).replace("|", "\\|")


def markdown_table(df: pd.DataFrame, *, floatfmt: str = ".1f", star_column: str | None = None) -> str:
    """A GitHub Markdown table of ``df``; NaN shows as "–", p-values with 3 significant digits.

    With a ``significant`` column, that column is dropped and the ``star_column`` cell (default ``AP``, else
    ``Mean``) of each significant row gets ``\\*``. ``df.attrs["caption"]`` becomes a first line.
    """
    columns = [c for c in df.columns if c != "significant"]
    star = None
    if "significant" in df.columns:
        star = star_column or next((c for c in ("AP", "Mean") if c in columns), None)
        if star not in columns:
            raise ValueError(f"markdown_table: star_column {star!r} is not a column; columns: {columns}")
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in columns]
    lines = ["| " + " | ".join(_cell(c, "") for c in columns) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    for _, row in df.iterrows():
        cells = [_cell(row[c], ".3g" if c in ("p_value", "p_holm") else floatfmt) for c in columns]
        if star is not None and _is_true(row["significant"]):
            cells[columns.index(star)] += "\\*"
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if df.attrs.get("caption"):
        text = f"{df.attrs['caption']}\n\n{text}"
    if star is not None:
        text += "\n\\* significant difference to the baseline preset (Holm-corrected paired bootstrap).\n"
    return text


def write_table(
    df: pd.DataFrame, stem: str | Path, *, floatfmt: str = ".1f", star_column: str | None = None
) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` and ``<stem>.md`` (:func:`markdown_table`) atomically; returns both paths."""
    stem = Path(stem)
    csv_path, md_path = stem.with_name(stem.name + ".csv"), stem.with_name(stem.name + ".md")
    markdown = markdown_table(df, floatfmt=floatfmt, star_column=star_column)
    write_csv(csv_path, df)
    write_text(md_path, markdown)
    return csv_path, md_path


# ------------------------------------------------------------------------------------------------ qualitative


def draw_pose(
    image: np.ndarray,
    keypoints: np.ndarray,
    skeleton: Skeleton,
    color: tuple[int, int, int] = (255, 0, 0),
    *,
    radius: int = 3,
    thickness: int = 2,
) -> np.ndarray:
    """A copy of ``image`` with the labelled keypoints (``v > 0``) as filled circles and the skeleton edges
    between labelled pairs as lines, in ``color`` (Figs. 1, 9, 14). Coordinates are rounded to pixels."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"draw_pose: image must be uint8 H x W x 3, got {image.dtype} {image.shape}")
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.shape != (skeleton.num_joints, 3):
        raise ValueError(f"draw_pose: keypoints shape {keypoints.shape}; expected ({skeleton.num_joints}, 3) "
                         f"for {skeleton.name}")
    out = np.ascontiguousarray(image).copy()
    points = [(int(round(float(x))), int(round(float(y)))) for x, y, _ in keypoints]
    labelled = keypoints[:, 2] > 0
    color = tuple(int(c) for c in color)
    for a, b in skeleton.edges:
        if labelled[a] and labelled[b]:
            cv2.line(out, points[a], points[b], color, thickness, lineType=cv2.LINE_AA)
    for point, visible in zip(points, labelled):
        if visible:
            cv2.circle(out, point, radius, color, thickness=-1, lineType=cv2.LINE_AA)
    return out


@_styled
def image_grid(
    images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 3, *, panel_width: float = 2.0
) -> Figure:
    """A figure of ``images`` (uint8 H x W x 3 RGB or H x W gray) in rows of ``ncols``, one title each."""
    if not images:
        raise ValueError("image_grid: no images")
    titles = list(titles) if titles is not None else [""] * len(images)
    if len(titles) != len(images):
        raise ValueError(f"image_grid: {len(titles)} titles for {len(images)} images")
    if ncols < 1:
        raise ValueError(f"image_grid: ncols = {ncols!r}; expected a positive int")
    for i, img in enumerate(images):
        if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
            raise ValueError(f"image_grid: image {i} must be uint8 H x W x 3 or H x W, got {img.dtype} {img.shape}")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    aspect = max(img.shape[0] / img.shape[1] for img in images)
    fig = Figure(figsize=(panel_width * ncols, panel_width * aspect * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, img, title in zip(axes, images, titles):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        ax.set_title(title)
    for ax in axes:
        ax.set_axis_off()
    return fig
