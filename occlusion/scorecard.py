"""The one-page occlusion scorecard of an audit (:mod:`occlusion.audit`): ``scorecard.md`` and ``scorecard.png``.

Clean AP; the ten worst attacks with their bootstrap intervals; ΔAP per part and per keypoint (one column per
filler); the radius curve where the grid sweeps radii; hidden-keypoint awareness (clean ``v = 1`` vs ``v = 2``
AUROC, and per keypoint attack the AUROC and confident-hallucination rate).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["worst_attacks", "drops", "radius_curve", "awareness_table", "markdown_table", "write_scorecard",
           "write_paper_figures"]


def _overall(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["keypoint"] == "all") & (table["target"] != "clean")]


def worst_attacks(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` attacks with the largest AP drop (overall AP), with their interval columns where present."""
    rows = _overall(table).copy()
    rows["attack"] = [_name(r) for r in rows.itertuples()]
    cols = ["attack", "AP", "delta_AP"] + [c for c in ("delta_AP_ci_low", "delta_AP_ci_high", "delta_AP_p")
                                           if c in rows]
    return rows.sort_values(["delta_AP", "attack"]).head(n)[cols].reset_index(drop=True)


def _name(row: Any) -> str:
    if row.target_kind == "part":
        return f"{row.target} {row.filler}"
    return f"{row.target} {row.filler} r{int(row.radius)}" + ("" if row.paper_bounds else " (fixed bounds)")


def drops(table: pd.DataFrame, kind: str, radius: int | None = None) -> pd.DataFrame:
    """ΔAP (overall) per target of ``kind`` (rows, in grid order) and filler (columns); keypoint attacks at
    ``radius`` with the grid's first bounds check."""
    rows = _overall(table)
    rows = rows[rows["target_kind"] == kind]
    if kind == "keypoint":
        rows = rows[(rows["radius"] == radius) & (rows["paper_bounds"] == rows["paper_bounds"].iloc[0])] \
            if len(rows) else rows
    pivot = rows.pivot_table(index="target", columns="filler", values="delta_AP", sort=False)
    return pivot.reindex(pd.unique(rows["target"]))


def radius_curve(table: pd.DataFrame) -> pd.DataFrame:
    """Mean ΔAP over the swept keypoints per radius (rows) and filler (columns); empty with fewer than 2 radii."""
    rows = _overall(table)
    rows = rows[(rows["target_kind"] == "keypoint") & (rows["paper_bounds"] == rows["paper_bounds"].iloc[0])] \
        if len(rows) else rows
    if rows["radius"].nunique() < 2:
        return pd.DataFrame()
    counts = rows.groupby("target")["radius"].nunique()
    swept = rows[rows["target"].isin(counts[counts == counts.max()].index)]
    return swept.pivot_table(index="radius", columns="filler", values="delta_AP", aggfunc="mean")


def awareness_table(awareness: dict[str, Any]) -> pd.DataFrame:
    """Keypoint attacks' awareness: AUROC and confident-hallucination rate per target (rows) and filler."""
    rows = pd.DataFrame([a for a in awareness["attacks"] if a["target_kind"] == "keypoint"])
    if rows.empty:
        return rows
    first = rows.drop_duplicates(["target", "filler"])
    return first.pivot_table(index="target", columns="filler", values=["auroc", "hallucination_rate"], sort=False)


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "–" if np.isnan(v) else f"{v:.2f}"
    return str(v)


def markdown_table(df: pd.DataFrame, index: bool = True) -> str:
    """A pipe table of ``df`` (numbers to 2 decimals, NaN as a dash).

    >>> print(markdown_table(pd.DataFrame({"a": [1.0, np.nan]}, index=["x", "y"])))
    |  | a |
    |---|---|
    | x | 1.00 |
    | y | – |
    """
    cols = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in df.columns]
    head = ([""] if index else []) + cols
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, row in df.iterrows():
        cells = ([str(key)] if index else []) + [_fmt(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _markdown(summary: dict[str, Any], worst: pd.DataFrame, parts: pd.DataFrame, keypoints: pd.DataFrame,
              curve: pd.DataFrame, aware: pd.DataFrame, awareness: dict[str, Any]) -> str:
    clean = awareness["clean"]
    ap = ", ".join(f"{k}: **{v:.1f}**" for k, v in summary["clean_AP"].items())
    lines = [f"# Occlusion scorecard: {summary['name']}", "",
             f"Model `{summary['model']}`, dataset `{summary['annotations']}` ({summary['persons']} persons, "
             f"ground-truth boxes), flip test {'on' if summary['flip_test'] else 'off'}, {summary['attacks']} "
             f"attacks, {summary['bootstrap_resamples']} image-bootstrap resamples, {summary['date']}.", "",
             f"Clean AP ({ap}). ΔAP is attacked minus clean AP in points; the interval is the 95% paired "
             "image bootstrap.", "", "![scorecard](scorecard.png)", "", _figure_links(summary.get("figures", {})), "",
             "## The ten worst attacks", "",
             markdown_table(worst, index=False), "", "## ΔAP per part", "", markdown_table(parts), "",
             "## ΔAP per keypoint attack", "", markdown_table(keypoints), ""]
    if not curve.empty:
        lines += ["## ΔAP against the disc radius (mean over the swept keypoints)", "", markdown_table(curve), ""]
    lines += ["## Does the model know a keypoint is hidden?", "",
              f"Clean data: AUROC of the score between visible (v=2, n={clean['n_visible']}) and labelled-occluded "
              f"(v=1, n={clean['n_occluded']}) keypoints **{_fmt(clean['auroc'])}**; share of v=1 keypoints scored "
              f"above the median visible score ({_fmt(awareness['visible_median_score'])}): "
              f"{_fmt(clean['occluded_above_median_rate'])}.", "",
              "Under each keypoint attack: AUROC of clean vs attacked score of the hidden keypoint (1: the score "
              "always drops, 0.5: it does not notice) and the confident-hallucination rate (attacked score above "
              "the median visible score).", "", markdown_table(aware) if not aware.empty else "(no keypoint attacks)",
              ""]
    return "\n".join(lines)


def _figure_links(figures: dict[str, str]) -> str:
    made = [f"[{k.replace('fig', 'Fig. ')}](figures/{k}.png)" for k, v in figures.items() if not v.startswith("left")]
    left = [f"{k.replace('fig', 'Fig. ')} ({v})" for k, v in figures.items() if v.startswith("left")]
    return ("The paper's figures for this model (the paper's HRNet values marked): " + (", ".join(made) or "none")
            + (". Left out: " + "; ".join(left) if left else "") + ".")


def _bars(ax: Any, df: pd.DataFrame, title: str) -> None:
    if df.empty:
        ax.set_axis_off()
        return
    df.plot.barh(ax=ax, width=0.8)
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.5)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("ΔAP (points)")
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)


def _figure(path: Path, summary: dict[str, Any], worst: pd.DataFrame, parts: pd.DataFrame, keypoints: pd.DataFrame,
            curve: pd.DataFrame, aware: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    ax = axes[0, 0]
    y = np.arange(len(worst))
    err = None
    if "delta_AP_ci_low" in worst and worst["delta_AP_ci_low"].notna().any():
        err = np.abs(np.stack([worst["delta_AP"] - worst["delta_AP_ci_low"],
                               worst["delta_AP_ci_high"] - worst["delta_AP"]]))
    ax.barh(y, worst["delta_AP"], xerr=err, color="tab:red", capsize=2)
    ax.set_yticks(y, worst["attack"], fontsize=7)
    ax.invert_yaxis()
    ax.set_title("ten worst attacks (95% bootstrap CI)", fontsize=9)
    ax.set_xlabel("ΔAP (points)")
    _bars(axes[0, 1], parts, "ΔAP per part")
    _bars(axes[0, 2], keypoints, "ΔAP per keypoint attack")
    ax = axes[1, 0]
    if curve.empty:
        ax.text(0.5, 0.5, "no radius sweep in the grid", ha="center", va="center")
        ax.set_axis_off()
    else:
        curve.plot(ax=ax, marker="o")
        ax.set_title("ΔAP against the disc radius", fontsize=9)
        ax.set_xlabel("radius (input px)")
        ax.set_ylabel("ΔAP (points)")
    for ax, metric, title in ((axes[1, 1], "auroc", "awareness: AUROC clean vs attacked score"),
                              (axes[1, 2], "hallucination_rate", "confident-hallucination rate")):
        _bars(ax, aware[metric] if not aware.empty else pd.DataFrame(), title)
        if not aware.empty:
            ax.set_xlabel(metric)
            ax.axvline(0.5 if metric == "auroc" else 0, color="grey", lw=0.5, ls="--")
    ap = ", ".join(f"{k} {v:.1f}" for k, v in summary["clean_AP"].items())
    fig.suptitle(f"{summary['name']}: clean AP {ap} ({summary['persons']} persons)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


def write_scorecard(table: pd.DataFrame, awareness: dict[str, Any], summary: dict[str, Any], out_dir: str | Path,
                    radius: int | None = None) -> Sequence[Path]:
    """``scorecard.md`` and ``scorecard.png`` in ``out_dir``; keypoint drops at ``radius`` (the grid's main one)."""
    from .io import atomic_path, write_text

    out = Path(out_dir)
    radius = radius or int(summary.get("grid", {}).get("radius") or 6)
    worst, parts, keypoints = worst_attacks(table), drops(table, "part"), drops(table, "keypoint", radius)
    curve, aware = radius_curve(table), awareness_table(awareness)
    md = write_text(out / "scorecard.md", _markdown(summary, worst, parts, keypoints, curve, aware, awareness))
    png = out / "scorecard.png"
    with atomic_path(png) as tmp:
        _figure(tmp, summary, worst, parts, keypoints, curve, aware)
    return md, png


def write_paper_figures(out_dir: str | Path, grid: Any, model: str, subtitle: str = "") -> dict[str, str]:
    """The paper's Figs. 3-8 for the audited model (:mod:`occlusion.reports.attacks`, with the paper's HRNet values
    marked) as ``figures/fig<N>.png`` and their data ``.csv``, from ``out_dir``'s attack table and bootstrap.
    A figure the grid cannot feed (no radius sweep for Fig. 4, no part attacks for Fig. 7, ...) is left out;
    returns figure -> written file or the reason it was left out."""
    from .reports import attacks as figs
    from .reports.frames import Selection
    from .reports.results import read_attacks
    from .reports.style import save_figure

    out = Path(out_dir)
    df = read_attacks([out / "attack_table.csv", out / "attack_table.boot.npz"])
    sel = Selection(model=model, preset="audit", radius=grid.radius, targets=grid.keypoints, parts=grid.parts,
                    fillers=grid.fillers, subtitle=subtitle)
    swept = tuple(t for t in grid.sweep_keypoints if t in grid.keypoints or grid.radius in grid.radius_sweep)
    detail_kp = tuple(t for t in grid.per_keypoint_targets if t in grid.keypoints)
    detail_parts = tuple(t for t in grid.per_keypoint_targets if t in grid.parts)
    plans = {"fig3": (bool(grid.keypoints and grid.parts), lambda: figs.fig3_model_comparison(df, sel)),
             "fig4": (len(grid.radius_sweep) > 0 and bool(swept),
                      lambda: figs.fig4_radius(df, replace(sel, targets=swept))),
             "fig5": (bool(grid.keypoints), lambda: figs.fig5_keypoint_targets(df, sel)),
             "fig6": (bool(detail_kp), lambda: figs.fig6_per_keypoint(df, replace(sel, targets=detail_kp))),
             "fig7": (bool(grid.parts), lambda: figs.fig7_part_targets(df, sel)),
             "fig8": (bool(detail_parts), lambda: figs.fig8_part_per_keypoint(df, replace(sel, parts=detail_parts)))}
    done: dict[str, str] = {}
    for name, (possible, make) in plans.items():
        if not possible:
            done[name] = "left out: the grid has no attacks for it"
            continue
        try:
            fig, data = make()
        except (ValueError, KeyError) as exc:
            done[name] = f"left out: {exc}"
            continue
        done[name] = str(save_figure(fig, out / "figures" / f"{name}.png", data))
    return done
