"""Fig. 11: the baseline and the augmented HRNets under the attack grid (docs/METHODS.md §6): does training with
targeted occlusion make a model robust to it?"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..keypoints import COCO, FILLERS, PARTS
from ..params import Params
from .attacks import grid_selection
from .draw import Drawn, grouped_bars, legend, new_figure, suptitle, zoom_ylim
from .frames import Selection, attack_rows, check_names, mean_over_targets, select_one, with_interval
from .results import read_attacks
from .style import BASELINE, CHOSEN_PRESETS, add_paper, palette, styled

__all__ = ["build_fig11_augmented_attacks", "fig11_augmented_under_attack"]


def build_fig11_augmented_attacks(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 11 from every attacked run of model ``hrnet`` (the profile's ``attack_runs``, in the folder
    ``paths[0]``) among the presets the paper shows, on the grid's radius and targets."""
    folder = paths[0]
    df = read_attacks(sorted(folder.glob("*.csv")) + sorted(folder.glob("*.boot.npz")))
    presets = tuple(p for p in CHOSEN_PRESETS if p in set(df.preset))
    return fig11_augmented_under_attack(df, dataclasses.replace(grid_selection(params), presets=presets))


def _mean_per_preset(attack_df: pd.DataFrame, what: str, kind: str, targets: list[str], sel: Selection,
                     presets: list[str]) -> tuple[pd.DataFrame, str]:
    """Mean AP over ``targets`` per preset and filler, its difference to the baseline (``sel.preset``) and, with
    ``AP_samples``, the resampled paired difference (``delta_samples``; None on the baseline's rows)."""
    rows = attack_rows(attack_df, what, kind, sel, preset=presets, value="AP")
    rows, model = select_one(rows, what, "model", sel.model)
    mean = mean_over_targets(rows, what, {"preset": presets}, targets, list(sel.fillers), "AP")
    is_base = mean["preset"] == sel.preset
    base = mean[is_base].set_index("filler")["AP"]
    mean = mean.assign(kind=kind, delta_AP_vs_baseline=mean["AP"] - mean["filler"].map(base))
    if "AP_samples" in mean.columns:
        base_samples = dict(zip(mean.loc[is_base, "filler"], mean.loc[is_base, "AP_samples"]))
        mean["delta_samples"] = [None if b or s is None or base_samples[f] is None else s - base_samples[f]
                                 for b, f, s in zip(is_base, mean["filler"], mean["AP_samples"])]
    return mean, model


@styled
def fig11_augmented_under_attack(attack_df: pd.DataFrame, sel: Selection = Selection(), *,
                                 figsize: tuple[float, float] = (7.0, 2.8)) -> Drawn:
    """Fig. 11: mean overall AP over the keypoint (a) and part (b) targets per filler, for each of ``sel.presets``.

    ``delta_AP_vs_baseline`` is the difference to the baseline ``sel.preset`` under the same attack; the paper's
    "PartMix about +5 on part attacks" is marked at baseline + 5. With ``AP_samples`` (resampled on the same
    images for every preset), error bars (``ci_low``, ``ci_high``, ``p_value``) bound ``delta_AP_vs_baseline``,
    the paired difference of the means over targets, drawn on each preset's bar as baseline AP + interval (none on
    the baseline's own bars).
    """
    what = "fig11_augmented_under_attack"
    sel = sel.or_defaults(preset=BASELINE, presets=CHOSEN_PRESETS, targets=COCO.names, parts=PARTS, boxes="gt")
    fillers = check_names(sel.fillers, FILLERS, "fillers", what)
    presets, baseline = list(sel.presets), sel.preset
    if baseline not in presets:
        raise ValueError(f"{what}: baseline {baseline!r} is not among presets {presets}")
    pieces = []
    for kind, targets in (("keypoint", sel.targets), ("part", sel.parts)):
        mean, model = _mean_per_preset(attack_df, what, kind, targets, sel, presets)
        sel = dataclasses.replace(sel, model=model)
        pieces.append(mean)
    data = pd.concat(pieces, ignore_index=True)
    columns = ["kind", "preset", "filler", "AP", "n_targets", "delta_AP_vs_baseline", "delta_samples"]
    data = with_interval(data[[c for c in columns if c in data.columns]], "delta_samples").assign(model=model)
    data = add_paper(data, "fig11", "delta_AP_vs_baseline", ("preset", "kind", "filler"))
    base_ap = data[data["preset"] == baseline].set_index(["kind", "filler"])["AP"]
    base_of_row = np.array([base_ap[(k, f)] for k, f in zip(data["kind"], data["filler"])])
    data["paper_AP"] = base_of_row + data["paper_delta_AP_vs_baseline"].to_numpy(float)

    fig, axes = new_figure(figsize, ncols=2)
    for ax, (kind, label) in zip(axes, (("keypoint", "(a) keypoint attacks"), ("part", "(b) part attacks"))):
        grouped_bars(ax, data[data["kind"] == kind], x="filler", hue="preset", y="AP", x_order=fillers,
                     hue_order=presets, colors=palette(presets), paper=("paper_AP", "paper_AP"),
                     err_center="delta_AP_vs_baseline")
        ax.set(title=label, xlabel="attack filler", ylabel="mean AP over targets (points)")
        zoom_ylim(ax, [*data["AP"], *data["paper_AP"]], margin=3.0)
    legend(axes[-1], "training preset")
    suptitle(fig, "Fig. 11", "augmented models under occlusion attacks", str(model), sel.subtitle)
    return fig, data

