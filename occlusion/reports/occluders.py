"""Fig. 15 (beyond the paper; docs/METHODS.md §11, §12): (a) object attacks, ΔAP per target and area with paired
image-bootstrap intervals, one bar per run; (b) the worst-case search, the fraction of persons whose target
breaks at each occluder area, one line per run and target."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..params import Params
from .draw import Drawn, legend, new_figure, rotate_xticks, suptitle
from .style import palette, styled

__all__ = ["build_fig15_occluders", "fig15_occluders"]

LINESTYLES = ("-", "--", ":", "-.")


def build_fig15_occluders(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 15 from the ``occluders`` stage's tables in ``paths[0]`` (``results/occluders``)."""
    folder = paths[0]
    attacks = _read(folder / "object_attacks.csv")
    curves = _read(folder / "worstcase_curves.csv")
    return fig15_occluders(attacks, curves, profile=getattr(params, "profile", ""))


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (the occluders stage writes it)")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


@styled
def fig15_occluders(attacks: pd.DataFrame, curves: pd.DataFrame, *, profile: str = "") -> Drawn:
    """The figure and its data (both panels' rows, ``panel`` a or b)."""
    fig, (ax_a, ax_b) = new_figure((12.0, 4.2), ncols=2)
    data = []
    colors = palette(list(dict.fromkeys([*attacks.get("run", []), *curves.get("run", [])])))  # one colour per run
    rows = attacks[attacks.get("target_kind", pd.Series(dtype=str)) != "none"] if len(attacks) else attacks
    if len(rows):
        rows = rows.assign(attack=[f"{t} {a:g}" for t, a in zip(rows["target"], rows["area"])])
        runs = list(dict.fromkeys(rows["run"]))
        names = list(dict.fromkeys(rows["attack"]))
        width = 0.8 / len(runs)
        for j, run in enumerate(runs):
            r = rows[rows["run"] == run].set_index("attack").reindex(names)
            pos = np.arange(len(names)) + (j - (len(runs) - 1) / 2) * width
            lo, hi = r["delta_AP_ci_low"].to_numpy(float), r["delta_AP_ci_high"].to_numpy(float)
            d = r["delta_AP"].to_numpy(float)
            err = np.nan_to_num(np.vstack([d - lo, hi - d]).clip(min=0.0))
            ax_a.bar(pos, d, width, yerr=err, color=colors[run], label=run, capsize=2)
        ax_a.set_xticks(np.arange(len(names)), names)
        rotate_xticks(ax_a)
        ax_a.axhline(0, color="black", linewidth=0.8)
        data.append(rows.assign(panel="a"))
    ax_a.set(title="(a) object attacks (target, area)", ylabel="ΔAP vs clean (points)")
    if len(curves):
        targets = list(dict.fromkeys(curves["target"]))
        for (run, target), c in curves.groupby(["run", "target"], sort=False):
            ax_b.plot(c["area"], 100 * c["fraction_broken"], LINESTYLES[targets.index(target) % len(LINESTYLES)],
                      color=colors[run], marker="o", markersize=3, label=f"{run}: {target}")
        ax_b.set_xscale("log")
        data.append(curves.assign(panel="b"))
    ax_b.set(title="(b) worst-case occluders", xlabel="occluder area (fraction of person box)",
             ylabel="persons broken (%)", ylim=(0, 100))
    legend(ax_b)
    suptitle(fig, "Fig. 15", "object occluders and the smallest occluder that breaks a target", "", profile)
    return fig, pd.concat(data, ignore_index=True) if data else pd.DataFrame()
