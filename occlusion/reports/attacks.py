"""Figs. 3-8: the baseline models under the attack grid (docs/METHODS.md §6).

Each figure's stage (``build_<name>``: which attack tables it reads and what it selects of them) stands beside
its plot (``fig<N>_...``: a :class:`~matplotlib.figure.Figure` with no pyplot state, and the DataFrame it draws,
the paper's stated values in ``paper_*`` columns, NaN where the text states none).

Example:
    >>> fig, data = fig5_keypoint_targets(attack_df, Selection(subtitle="COCO val2017"))  # doctest: +SKIP
    >>> save_figure(fig, "reports/figures/fig5.png", data)  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..keypoints import COCO, FILLERS, PARTS
from ..params import Params
from .draw import Drawn, grouped_bars, legend, new_figure, paper_markers, rotate_xticks, suptitle, yerr
from .frames import (
    Selection,
    attack_rows,
    check_names,
    mean_over_targets,
    require_combos,
    select_one,
    sort_by,
    with_interval,
)
from .results import BASELINE_ATTACKS, read_attacks, subtitle
from .style import BASELINE, DELTA_LABEL, FILLER_COLORS, PAPER_MARKER, add_paper, styled

__all__ = [
    "grid_selection", "build_fig03_models", "fig3_model_comparison", "build_fig04_radius", "fig4_radius",
    "build_fig05_keypoints", "fig5_keypoint_targets", "build_fig06_keypoint_detail", "fig6_per_keypoint",
    "build_fig07_parts", "fig7_part_targets", "build_fig08_part_detail", "fig8_part_per_keypoint",
]  # fmt: skip


def grid_selection(params: Params) -> Selection:
    """The attack targets, fillers and radius of ``params.attack`` (the figures show what the grid ran)."""
    a = params.attack
    return Selection(radius=a.radius, targets=a.keypoints, parts=a.parts, fillers=a.fillers, subtitle=subtitle(params))


# ------------------------------------------------------------------------------------------------ Fig. 3


def build_fig03_models(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 3 from the attack tables and bootstraps of the baseline HRNet and SimpleBaseline (and ViTPose, where the
    profile attacks it), in that order."""
    table = read_attacks(paths).assign(preset="baseline")
    order = tuple(m for m in BASELINE_ATTACKS if m in set(table["model"]))
    return fig3_model_comparison(table, dataclasses.replace(grid_selection(params), model=order))


@styled
def fig3_model_comparison(attack_df: pd.DataFrame, sel: Selection = Selection(), *,
                          figsize: tuple[float, float] = (7.0, 2.8)) -> Drawn:
    """Fig. 3: mean overall ΔAP over the 17 keypoint targets (a) and the 11 part targets (b), per model and filler.

    ``sel.preset=None`` needs exactly one preset per model in the table (the official checkpoints' baselines);
    ``sel.model`` (None: every model) gives the models' order. With ``delta_AP_samples``, error bars (``ci_low``,
    ``ci_high``, ``p_value``) bound the mean ΔAP over targets.
    """
    what = "fig3_model_comparison"
    sel = sel.or_defaults(targets=COCO.names, parts=PARTS, boxes="gt")
    fillers = check_names(sel.fillers, FILLERS, "fillers", what)
    models = [sel.model] if isinstance(sel.model, str) else list(sel.model or ())
    pieces = []
    for kind, targets in (("keypoint", sel.targets), ("part", sel.parts)):
        rows = attack_rows(attack_df, what, kind, sel, model=models or None)
        presets = rows.groupby("model")["preset"].unique()
        several = {m: sorted(p) for m, p in presets.items() if len(p) > 1}
        if several:
            raise ValueError(f"{what}: several presets per model {several}; pass preset= to choose one")
        model_order = models or sorted(presets.index)
        mean = mean_over_targets(rows, what, {"model": model_order}, targets, fillers, "delta_AP")
        pieces.append(mean.assign(kind=kind, preset=mean["model"].map({m: p[0] for m, p in presets.items()})))
    data = pd.concat(pieces, ignore_index=True)
    columns = ["kind", "model", "preset", "filler", "delta_AP", "n_targets", "delta_AP_samples"]
    data = with_interval(data[[c for c in columns if c in data.columns]], "delta_AP_samples")

    fig, axes = new_figure(figsize, ncols=2)
    for ax, (kind, label) in zip(axes, (("keypoint", "(a) keypoint attacks"), ("part", "(b) part attacks"))):
        grouped_bars(ax, data[data["kind"] == kind], x="model", hue="filler", y="delta_AP", x_order=model_order,
                     hue_order=fillers, colors=FILLER_COLORS, err_center="delta_AP")
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set(title=label, xlabel="model", ylabel=f"mean {DELTA_LABEL} over targets")
    legend(axes[-1], "filler")
    suptitle(fig, "Fig. 3", "robustness to keypoint and part occlusion attacks", ", ".join(model_order), sel.subtitle)
    return fig, data


# ------------------------------------------------------------------------------------------------ Fig. 4


def _sweep_targets(df: pd.DataFrame) -> tuple[str, ...]:
    """The keypoint targets attacked at every radius of the sweep, in COCO order."""
    rows = df[(df.target_kind == "keypoint") & (df.keypoint == "all")]
    per_radius = rows.groupby("radius")["target"].apply(set)
    common = set.intersection(*per_radius.tolist())
    return tuple(n for n in COCO.names if n in common)


def build_fig04_radius(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 4 from the baseline HRNet's attack table and bootstrap: the targets of the radius sweep."""
    df = read_attacks(paths)
    return fig4_radius(df, Selection(targets=_sweep_targets(df), fillers=params.attack.fillers,
                                     subtitle=subtitle(params)))


@styled
def fig4_radius(attack_df: pd.DataFrame, sel: Selection = Selection(), *, radii: Sequence[float] | None = None,
                figsize: tuple[float, float] = (4.5, 3.0)) -> Drawn:
    """Fig. 4: mean overall ΔAP over the keypoint targets against the occlusion radius r, one line per filler.

    ``radii=None`` uses every radius in the table (``sel.radius`` is not used); each (radius, target, filler)
    must be present. The paper's "about -3 at r = 18" is marked. With ``delta_AP_samples``, error bars
    (``ci_low``, ``ci_high``, ``p_value``) bound the mean ΔAP over targets.
    """
    what = "fig4_radius"
    sel = sel.or_defaults(preset=BASELINE, targets=COCO.names, boxes="gt")
    fillers = check_names(sel.fillers, FILLERS, "fillers", what)
    rows = attack_rows(attack_df, what, "keypoint", sel, radius=None)
    rows, model = select_one(rows, what, "model", sel.model)
    rows = rows[rows["radius"].notna()]
    radii = sorted(rows["radius"].unique()) if radii is None else list(radii)
    data = mean_over_targets(rows, what, {"radius": radii}, sel.targets, fillers, "delta_AP")
    columns = ["filler", "radius", "delta_AP", "n_targets", "delta_AP_samples"]
    data = sort_by(data, {"filler": fillers, "radius": radii})[[c for c in columns if c in data.columns]]
    data = with_interval(data, "delta_AP_samples")
    data = add_paper(data.assign(model=model, preset=sel.preset), "fig4", "delta_AP", ("radius", "filler"))

    fig, (ax,) = new_figure(figsize)
    for filler in fillers:
        rows_f = data[data["filler"] == filler]
        ax.errorbar(rows_f["radius"], rows_f["delta_AP"], yerr=yerr(rows_f, "delta_AP"), marker="o", markersize=3,
                    color=FILLER_COLORS[filler], label=filler, elinewidth=0.8, capsize=1.5)
    paper = data.dropna(subset=["paper_delta_AP"]).drop_duplicates("radius")
    if not paper.empty:
        ax.scatter(paper["radius"], paper["paper_delta_AP"], label="paper (about)", **PAPER_MARKER)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(radii)
    ax.set(xlabel="occlusion radius r (input-crop pixels)", ylabel=f"mean {DELTA_LABEL} over keypoint targets")
    legend(ax, "filler")
    suptitle(fig, "Fig. 4", "occlusion size against loss in AP", f"{model} ({sel.preset})", sel.subtitle)
    return fig, data


# ------------------------------------------------------------------------------------------------ Figs. 5 and 7


def _target_bars(attack_df: pd.DataFrame, what: str, figure: str, kind: str, targets: list[str], sel: Selection,
                 figsize: tuple[float, float], title: str) -> Drawn:
    """Overall ΔAP per target x filler as grouped bars (Figs. 5 and 7)."""
    fillers = check_names(sel.fillers, FILLERS, "fillers", what)
    rows = attack_rows(attack_df, what, kind, sel)
    rows, model = select_one(rows, what, "model", sel.model)
    rows = sort_by(require_combos(rows, what, {"target": list(targets), "filler": fillers}),
                   {"target": targets, "filler": fillers})
    cols = ["model", "preset", "target", "filler", "AP", "clean_AP", "delta_AP"]
    cols += [c for c in ("ci_low", "ci_high", "p_value") if c in rows.columns]
    data = add_paper(rows[[c for c in cols if c in rows.columns]].reset_index(drop=True), figure, "delta_AP",
                     ("target", "filler"))

    fig, (ax,) = new_figure(figsize)
    grouped_bars(ax, data, x="target", hue="filler", y="delta_AP", x_order=targets, hue_order=fillers,
                 colors=FILLER_COLORS, paper=("paper_delta_AP", "paper_delta_AP"), err_center="delta_AP")
    rotate_xticks(ax)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set(xlabel=f"occluded {kind}", ylabel=f"overall {DELTA_LABEL}")
    legend(ax, "filler")
    suptitle(fig, figure.replace("fig", "Fig. "), title, f"{model} ({sel.preset})", sel.subtitle)
    return fig, data


def build_fig05_keypoints(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 5 from the baseline HRNet's attack table (its CSV intervals: no bootstrap arrays needed)."""
    return fig5_keypoint_targets(read_attacks(paths), grid_selection(params))


@styled
def fig5_keypoint_targets(attack_df: pd.DataFrame, sel: Selection = Selection(), *,
                          figsize: tuple[float, float] = (7.0, 3.0)) -> Drawn:
    """Fig. 5: overall ΔAP for each keypoint target x filler at radius r (the occluded keypoint stays evaluated)."""
    sel = sel.or_defaults(preset=BASELINE, targets=COCO.names, boxes="gt")
    targets = check_names(sel.targets, COCO.names, "targets", "fig5_keypoint_targets")
    return _target_bars(attack_df, "fig5_keypoint_targets", "fig5", "keypoint", targets, sel, figsize,
                        f"loss in AP per occluded keypoint (r = {sel.radius:g})")


def build_fig07_parts(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 7 from the baseline HRNet's attack table, on the grid's part targets."""
    return fig7_part_targets(read_attacks(paths), grid_selection(params))


@styled
def fig7_part_targets(attack_df: pd.DataFrame, sel: Selection = Selection(), *,
                      figsize: tuple[float, float] = (6.0, 3.0)) -> Drawn:
    """Fig. 7: overall ΔAP for each of the 11 part targets (``sel.parts``) x filler."""
    sel = sel.or_defaults(preset=BASELINE, parts=PARTS, boxes="gt")
    targets = check_names(sel.parts, PARTS, "targets", "fig7_part_targets")
    return _target_bars(attack_df, "fig7_part_targets", "fig7", "part", targets, sel, figsize,
                        "change in AP per occluded part")


# ------------------------------------------------------------------------------------------------ Figs. 6 and 8


def _top_keypoints(rows: pd.DataFrame, what: str, targets: list[str], fillers: list[str], exclude_part: bool,
                   top: int) -> pd.DataFrame:
    """The ``top`` keypoints per target and filler, ranked (Figs. 6 and 8).

    Without ``exclude_part`` (Fig. 6) all 17 keypoints compete and the largest drops (most negative ΔAP) win; with
    it (Fig. 8) only keypoints outside ``part_mapping[target]`` compete and the largest ``|ΔAP|`` wins. Ties keep
    the COCO keypoint order.
    """
    pieces = []
    for target in targets:
        hidden = COCO.part_mapping[target] if exclude_part else ()
        candidates = [name for i, name in enumerate(COCO.names) if i not in hidden]
        sub = require_combos(rows, what, {"target": [target], "filler": fillers, "keypoint": candidates})
        for filler in fillers:
            ranked = sub[sub["filler"] == filler]
            score = ranked["delta_AP"].abs() * -1.0 if exclude_part else ranked["delta_AP"]
            ranked = ranked.assign(_score=score, _order=ranked["keypoint"].map(COCO.names.index))
            ranked = ranked.sort_values(["_score", "_order"], kind="stable").head(top)
            pieces.append(ranked.assign(rank=np.arange(1, len(ranked) + 1)))
    cols = ["model", "preset", "target", "filler", "rank", "keypoint", "delta_AP"]
    cols += [c for c in ("ci_low", "ci_high") if c in rows.columns]
    return pd.concat(pieces, ignore_index=True)[cols]


def _top_keypoint_bars(attack_df: pd.DataFrame, what: str, figure: str, kind: str, targets: list[str],
                       sel: Selection, *, exclude_part: bool, top: int, figsize: tuple[float, float],
                       title: str) -> Drawn:
    """Per-keypoint ΔAP, the ``top`` keypoints per target and filler as bars, one panel per target (Figs. 6, 8)."""
    fillers = check_names(sel.fillers, FILLERS, "fillers", what)
    if top < 1:
        raise ValueError(f"{what}: top = {top!r}; expected a positive int")
    rows = attack_rows(attack_df, what, kind, sel, per_keypoint=True)
    rows, model = select_one(rows, what, "model", sel.model)
    data = _top_keypoints(rows, what, targets, fillers, exclude_part, top)
    data = add_paper(data, figure, "delta_AP", ("target", "keypoint", "filler"))

    fig, axes = new_figure(figsize, ncols=len(targets))
    for idx, (ax, target) in enumerate(zip(axes, targets)):
        ticks: list[float] = []
        labels: list[str] = []
        marked = False
        for i, filler in enumerate(fillers):
            rows_f = data[(data["target"] == target) & (data["filler"] == filler)]
            pos = i * (top + 1) + np.arange(len(rows_f), dtype=float)
            ax.bar(pos, rows_f["delta_AP"].to_numpy(float), 0.8, color=FILLER_COLORS[filler],
                   label=filler, yerr=yerr(rows_f, "delta_AP"), error_kw={"elinewidth": 0.8, "capsize": 1.5})
            paper = rows_f["paper_delta_AP"].to_numpy(float)
            marked = paper_markers(ax, pos, paper, paper, not marked) or marked
            ticks += list(pos)
            labels += list(rows_f["keypoint"])
        ax.set_xticks(ticks, labels)
        rotate_xticks(ax, 90.0)
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set(title=f"({'abcdefgh'[idx]}) {kind} {target}", ylabel=f"per-keypoint {DELTA_LABEL}" if idx == 0 else "")
    legend(axes[-1], "filler")
    if yerr(data, "delta_AP") is None:
        title += "; no error bars (per-keypoint AP is not bootstrapped)"
    suptitle(fig, figure.replace("fig", "Fig. "), title, f"{model} ({sel.preset})", sel.subtitle)
    return fig, data


def build_fig06_keypoint_detail(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 6 from the baseline HRNet's per-keypoint attack rows at the grid's radius."""
    a = params.attack
    targets = tuple(t for t in a.per_keypoint_targets if t not in PARTS)  # the rows the grid has
    return fig6_per_keypoint(read_attacks(paths), Selection(radius=a.radius, targets=targets, fillers=a.fillers,
                                                            subtitle=subtitle(params)))


@styled
def fig6_per_keypoint(attack_df: pd.DataFrame, sel: Selection = Selection(), *, top: int = 5,
                      figsize: tuple[float, float] = (8.0, 2.8)) -> Drawn:
    """Fig. 6: per-keypoint ΔAP of the ``top`` keypoints with the largest drop, per filler, for the keypoint
    targets ``sel.targets`` (default: nose, left_eye, left_ankle)."""
    what = "fig6_per_keypoint"
    sel = sel.or_defaults(preset=BASELINE, targets=("nose", "left_eye", "left_ankle"), boxes="gt")
    targets = check_names(sel.targets, COCO.names, "targets", what)
    return _top_keypoint_bars(attack_df, what, "fig6", "keypoint", targets, sel, exclude_part=False, top=top,
                              figsize=figsize, title=f"top {top} keypoints by loss in AP (r = {sel.radius:g})")


def build_fig08_part_detail(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 8 from the baseline HRNet's per-keypoint attack rows of part attacks (the parts of
    ``attack.per_keypoint_targets`` the grid attacked)."""
    a = params.attack
    parts = tuple(t for t in a.per_keypoint_targets if t in PARTS and t in a.parts)
    return fig8_part_per_keypoint(read_attacks(paths), Selection(parts=parts, fillers=a.fillers,
                                                                 subtitle=subtitle(params)))


@styled
def fig8_part_per_keypoint(attack_df: pd.DataFrame, sel: Selection = Selection(), *, top: int = 5,
                           figsize: tuple[float, float] = (8.0, 2.8)) -> Drawn:
    """Fig. 8: per-keypoint ΔAP of the ``top`` keypoints by ``|ΔAP|`` outside ``part_mapping[part]``, per filler,
    for the parts ``sel.parts`` (default: upper_body, corpus, left_side).

    Upper body leaves only 4 keypoints outside it, so its panel has at most 4 bars per filler.
    """
    what = "fig8_part_per_keypoint"
    sel = sel.or_defaults(preset=BASELINE, parts=("upper_body", "corpus", "left_side"), boxes="gt")
    parts = check_names(sel.parts, PARTS, "parts", what)
    return _top_keypoint_bars(attack_df, what, "fig8", "part", parts, sel, exclude_part=True, top=top,
                              figsize=figsize, title=f"top {top} keypoints outside the part by |ΔAP|")
