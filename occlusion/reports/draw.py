"""The drawing pieces the bar and line figures share: a figure with its panels and title, one legend, grouped
bars with error bars and the paper's values as markers, y limits around the values."""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import PAPER_MARKER

__all__ = ["Drawn", "new_figure", "suptitle", "legend", "yerr", "paper_markers", "grouped_bars", "zoom_ylim",
           "rotate_xticks"]

Drawn = tuple[Figure, pd.DataFrame]
"""What a figure's plot returns: the figure and the data it draws."""


def new_figure(figsize: tuple[float, float], ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure (no pyplot state) with ``ncols`` panels in one row."""
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, list(np.atleast_1d(fig.subplots(1, ncols, squeeze=False)[0]))


def suptitle(fig: Figure, figure: str, what: str, model: str, subtitle: str) -> None:
    """Title naming the paper figure, the model and the data profile."""
    fig.suptitle(f"{figure}: {what}\n" + " · ".join(s for s in (model, subtitle) if s))


def legend(ax: Axes, title: str | None = None) -> None:
    """One legend right of ``ax`` (outside the bars) with the labelled artists of every panel of the figure."""
    handles: dict[str, Any] = {}
    for panel in ax.figure.axes:
        for handle, label in zip(*panel.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    ax.legend(list(handles.values()), list(handles), title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)


def yerr(rows: pd.DataFrame, center: str) -> np.ndarray | None:
    """Asymmetric error bars from ``ci_low``/``ci_high`` around ``center`` (None without CI columns)."""
    if not {"ci_low", "ci_high"} <= set(rows.columns) or rows[["ci_low", "ci_high"]].isna().all().all():
        return None
    c = rows[center].to_numpy(float)
    lo, hi = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
    return np.nan_to_num(np.vstack([c - lo, hi - c]).clip(min=0.0))


def paper_markers(ax: Axes, pos: np.ndarray, low: np.ndarray, high: np.ndarray, label: bool) -> bool:
    """Black diamonds at the paper's values (a vertical line for a stated range); returns whether one was drawn."""
    ok = ~np.isnan(low)
    if not ok.any():
        return False
    ax.vlines(pos[ok], low[ok], high[ok], colors="black", linewidth=1.0, zorder=4)
    ax.scatter(pos[ok], low[ok], label="paper (text)" if label else "_nolegend_", **PAPER_MARKER)
    ax.scatter(pos[ok], high[ok], label="_nolegend_", **PAPER_MARKER)
    return True


def grouped_bars(
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
        err = yerr(rows, err_center) if err_center else None
        ax.bar(pos, rows[y].to_numpy(float), width, color=colors[h], label=str(h), yerr=err,
               error_kw={"elinewidth": 0.8, "capsize": 1.5})
        if paper is not None:
            drawn = paper_markers(ax, pos, rows[paper[0]].to_numpy(float), rows[paper[1]].to_numpy(float), not marked)
            marked = marked or drawn
    ax.set_xticks(centers, [str(v) for v in x_order])


def zoom_ylim(ax: Axes, values: Iterable[float], margin: float) -> tuple[float, float]:
    """Y limits around the finite ``values`` with ``margin`` points each side, on whole points (AP bar charts)."""
    finite = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    limits = (math.floor(finite.min() - margin), math.ceil(finite.max() + margin))
    ax.set_ylim(*limits)
    return limits


def rotate_xticks(ax: Axes, angle: float = 45.0) -> None:
    for label in ax.get_xticklabels():
        label.set_rotation(angle)
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")
