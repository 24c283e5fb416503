"""Figs. 10, 12, 13: clean AP of the baseline and the augmented models per person-box source (docs/METHODS.md §6),
with the paired image bootstrap of each difference to the baseline from the stored predictions."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..params import Params
from .draw import Drawn, grouped_bars, legend, new_figure, suptitle, zoom_ylim
from .frames import EVAL_KEYS, Selection, require_columns, require_combos, seed_mean, select, select_one, sort_by
from .results import bootstrap_runs, read_evaluated, subtitle
from .style import BASELINE, CHOSEN_PRESETS, load_paper_results, palette, paper_range, styled

__all__ = ["PAPER_BOXES", "BOX_FIGURES", "build_fig10_boxes", "build_fig12_boxes_hires",
           "build_fig13_boxes_simplebaseline", "fig10_boxes"]

PAPER_BOXES = {"gt": "gt", "detector": "cascade_rcnn", "faster_rcnn": "faster_rcnn", "retinanet": "retinanet",
               "efficientdet_d7": "efficientdet_d7"}
"""Our box-source names -> the paper's (the embedded default's simulated detector stands in for Cascade R-CNN)."""
BOX_FIGURES = ("fig10", "fig12", "fig13")


def _build(params: Params, paths: list[Path], figure: str, baseline_run: str,
           presets: tuple[str, ...]) -> Drawn:
    """Clean AP per box source of the runs of ``presets`` that the profile trained (the eval tables in
    ``paths[0]``); error bars are the bootstrap interval of each difference to ``baseline_run``, on every box
    source, from the stored predictions."""
    df = read_evaluated(paths[0], presets)
    if baseline_run not in set(df.run):
        raise FileNotFoundError(f"{paths[0]}: no eval table of the baseline run {baseline_run!r}")
    preset_of = dict(zip(df.run, df.preset))
    for col in ("ci_low", "ci_high"):
        df[col] = np.nan
    for boxes in sorted(df.boxes.unique()):
        for run, stats in bootstrap_runs(params, df, baseline_run, boxes).items():
            rows = (df.preset == preset_of[run]) & (df.boxes == boxes)
            df.loc[rows, "ci_low"], df.loc[rows, "ci_high"] = stats["ci_low"], stats["ci_high"]
    shown = tuple(p for p in presets if p in set(df.preset))
    sel = Selection(preset=preset_of[baseline_run], presets=shown, subtitle=subtitle(params))
    return fig10_boxes(df, sel, paper_figure=figure, paper_boxes=PAPER_BOXES)


def build_fig10_boxes(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 10: the HRNet runs (baseline ``coco_hrnet_half_body``)."""
    return _build(params, paths, "fig10", "coco_hrnet_half_body", CHOSEN_PRESETS)


def build_fig12_boxes_hires(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 12: the higher-resolution HRNet runs (baseline ``coco_hrnethr_half_body``)."""
    return _build(params, paths, "fig12", "coco_hrnethr_half_body", CHOSEN_PRESETS)


def build_fig13_boxes_simplebaseline(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 13: the SimpleBaseline runs (baseline ``coco_sb_flip_rot_scale``, no half-body)."""
    return _build(params, paths, "fig13", "coco_sb_flip_rot_scale", ("flip_rot_scale", *CHOSEN_PRESETS[1:]))


def _with_paper(data: pd.DataFrame, base: pd.Series, paper_figure: str, paper_boxes: Mapping[str, str] | None,
                metric: str) -> pd.DataFrame:
    """The paper's AP, stated deltas (low, high: a range the text gives) and notes of ``paper_figure`` beside
    each row, and the deltas placed on our baseline (``paper_low``, ``paper_high``)."""
    spec = load_paper_results()["figures"][paper_figure]
    paper_boxes = dict(paper_boxes or {})
    keys = [paper_boxes.get(b, b) for b in data["boxes"]]
    stated = [spec["delta_AP"].get(k, {}).get(p) if metric == "AP" else None for k, p in zip(keys, data["preset"])]
    data["paper_delta_low"] = [paper_range(v)[0] for v in stated]
    data["paper_delta_high"] = [paper_range(v)[1] for v in stated]
    data["paper_AP"] = [spec["AP"].get(k, {}).get(p, math.nan) for k, p in zip(keys, data["preset"])]
    data["paper_note"] = [spec["notes"].get(k, "") for k in keys]
    data["paper_low"] = data["boxes"].map(base) + data["paper_delta_low"]
    data["paper_high"] = data["boxes"].map(base) + data["paper_delta_high"]
    return data


def _label_deltas(ax: Axes, data: pd.DataFrame, presets: list[str], baseline: str, box_order: list[str],
                  bottom: float) -> None:
    """Each augmented bar's delta to the baseline, written at the foot of the bar."""
    width = 0.8 / len(presets)
    for j, preset in enumerate(presets):
        if preset == baseline:
            continue
        rows_p = data[data["preset"] == preset].set_index("boxes").reindex(box_order)
        for i, delta in enumerate(rows_p["delta"]):
            ax.annotate(f"{delta:+.1f}", (i + (j - (len(presets) - 1) / 2) * width, bottom), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=6)


@styled
def fig10_boxes(eval_df: pd.DataFrame, sel: Selection = Selection(), *, paper_figure: str = "fig10",
                paper_boxes: Mapping[str, str] | None = None, metric: str = "AP",
                figsize: tuple[float, float] = (7.0, 3.0)) -> Drawn:
    """Figs. 10, 12, 13: clean AP per person-box source (``sel.boxes``, None: every one) for the baseline
    ``sel.preset`` and the augmented ``sel.presets`` (mean over seeds).

    Bars carry their delta to the baseline on the same boxes; the paper's deltas (``paper_figure`` = fig10 HRNet,
    fig12 HRNet high resolution, fig13 SimpleBaseline) are marked at baseline + delta, a stated range as a line.
    ``paper_boxes`` maps our box names to the paper's (gt, cascade_rcnn, faster_rcnn, retinanet, efficientdet_d7).
    Error bars show ``ci_low``/``ci_high`` of the difference to the baseline where present.
    """
    what = f"{paper_figure}_boxes"
    if paper_figure not in BOX_FIGURES:
        raise ValueError(f"fig10_boxes: paper_figure = {paper_figure!r}; allowed: {', '.join(BOX_FIGURES)}")
    sel = sel.or_defaults(preset=BASELINE, presets=CHOSEN_PRESETS)
    presets, baseline = list(sel.presets), sel.preset
    boxes = [sel.boxes] if isinstance(sel.boxes, str) else sel.boxes
    if baseline not in presets:
        raise ValueError(f"{what}: baseline {baseline!r} is not among presets {presets}")
    require_columns(eval_df, (*EVAL_KEYS, metric), what)
    rows = select(eval_df, what, dataset=sel.dataset, preset=presets, boxes=list(boxes) if boxes else None)
    rows, model = select_one(rows, what, "model", sel.model)
    box_order = list(boxes) if boxes else sorted({str(b) for b in rows["boxes"].unique()})
    data = seed_mean(rows, what, ["boxes", "preset"], [metric])
    data = sort_by(require_combos(data, what, {"boxes": box_order, "preset": presets}),
                   {"boxes": box_order, "preset": presets})
    base = data[data["preset"] == baseline].set_index("boxes")[metric]
    data.insert(0, "model", model)
    data["delta"] = data[metric] - data["boxes"].map(base)
    data = _with_paper(data, base, paper_figure, paper_boxes, metric)

    fig, (ax,) = new_figure(figsize)
    drawn = data.copy()
    if {"ci_low", "ci_high"} <= set(drawn.columns):  # no error bar for the baseline's difference to itself
        drawn.loc[drawn["preset"] == baseline, ["ci_low", "ci_high"]] = math.nan
    grouped_bars(ax, drawn, x="boxes", hue="preset", y=metric, x_order=box_order, hue_order=presets,
                 colors=palette(presets), paper=("paper_low", "paper_high"), err_center="delta")
    bottom, _ = zoom_ylim(ax, [*data[metric], *data["paper_low"], *data["paper_high"]], margin=1.0)
    _label_deltas(ax, data, presets, baseline, box_order, bottom)
    ax.set(xlabel="person boxes", ylabel=f"{metric} (points)")
    legend(ax, "training preset")
    figure = paper_figure.replace("fig", "Fig. ")
    suptitle(fig, figure, f"clean {metric} per box source, Δ to {baseline} labelled", str(model), sel.subtitle)
    return fig, data
