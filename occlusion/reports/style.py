"""The look of every figure and the paper's numbers beside ours (docs/METHODS.md §6).

One matplotlib style (seaborn's whitegrid/paper theme with fixed fonts), applied while a figure is built and
saved, so global rcParams never leak in; :func:`save_figure` writes byte-stable PNGs with their data CSV. The
paper's numbers live in ``paper_results.yaml`` beside this module (:func:`paper_results`).
"""
from __future__ import annotations

import copy
import functools
import io
import math
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import matplotlib
import pandas as pd
import seaborn as sns
import yaml
from matplotlib.figure import Figure

from ..io import atomic_path, write_csv
from ..keypoints import FILLERS

__all__ = [
    "COCO_METRICS", "MPII_METRICS", "BOOTSTRAP_COLUMNS", "BASELINE", "CHOSEN_PRESETS", "DPI", "DELTA_LABEL",
    "PAPER_MARKER", "FILLER_COLORS", "paper_results", "load_paper_results", "add_paper", "paper_range", "styled",
    "setup_matplotlib", "save_figure", "palette",
]  # fmt: skip

COCO_METRICS: tuple[str, ...] = ("AP", "AP50", "AP75", "APM", "APL", "AR")
MPII_METRICS: tuple[str, ...] = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")
"""PCKh@0.5 columns; ``Mean`` is the paper's "Total"."""
BOOTSTRAP_COLUMNS: tuple[str, ...] = ("ci_low", "ci_high", "p_value", "p_holm", "significant")
BASELINE = "half_body"
"""Preset of the baseline HRNet (flip, rotation, scale, half-body)."""
CHOSEN_PRESETS: tuple[str, ...] = (BASELINE, "blur_k_05", "cutout_p_05_keep", "partmix_05_keep")
"""Baseline and the three augmentations of Figs. 10-13 and Tables II-III."""
DPI = 150
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
PAPER_MARKER = {"marker": "D", "s": 14, "color": "black", "zorder": 4}
"""How the paper's values are marked: black diamonds above the bars."""

F = TypeVar("F", bound=Callable[..., Any])


# ------------------------------------------------------------------------------------------------ paper values


@functools.lru_cache(maxsize=1)
def load_paper_results() -> dict[str, Any]:
    """``paper_results.yaml``, read once; the cached dict itself: read it, never modify it."""
    with open(Path(__file__).with_name("paper_results.yaml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def paper_results() -> dict[str, Any]:
    """The paper's numbers (``paper_results.yaml``): ``table1..3`` rows by preset and ``figures.figN`` values.

    Read once and cached; each call returns a fresh deep copy, so callers may modify it.
    """
    return copy.deepcopy(load_paper_results())


def _paper_match(records: Sequence[Mapping[str, Any]], value_key: str, **row: Any) -> tuple[float, str]:
    """The first record whose keys equal ``row`` (``filler: all`` matches every filler): (value, note)."""
    for rec in records:
        if value_key in rec and all(rec.get(k) == v or (k == "filler" and rec.get(k) == "all") for k, v in row.items()):
            return float(rec[value_key]), str(rec.get("note", ""))
    return math.nan, ""


def add_paper(data: pd.DataFrame, figure: str, value_key: str, keys: Sequence[str]) -> pd.DataFrame:
    """Add ``paper_<value_key>`` and ``paper_note`` columns from ``figures.<figure>.values``."""
    records = load_paper_results()["figures"][figure]["values"]
    found = [_paper_match(records, value_key, **{k: row[k] for k in keys}) for _, row in data.iterrows()]
    return data.assign(**{f"paper_{value_key}": [v for v, _ in found], "paper_note": [n for _, n in found]})


def paper_range(value: Any) -> tuple[float, float]:
    """A stated delta as (low, high): a number gives (v, v), a [low, high] list a range, None gives NaNs."""
    if value is None:
        return math.nan, math.nan
    if isinstance(value, (list, tuple)):
        return float(value[0]), float(value[1])
    return float(value), float(value)


# ------------------------------------------------------------------------------------------------ style and I/O


@functools.lru_cache(maxsize=1)
def _style_items() -> tuple[tuple[str, Any], ...]:
    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper"), **_FONTS}
    return tuple(rc.items())


def _style() -> dict[str, Any]:
    """rcParams of every figure: seaborn's whitegrid/paper theme with fixed fonts and sizes."""
    return dict(_style_items())


def styled(fn: F) -> F:
    """Build the figure under the figure style, whatever the global rcParams are."""

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


def palette(names: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colorblind-safe colour per name, in order."""
    colors = sns.color_palette("colorblind", max(len(names), 3))
    return {name: colors[i] for i, name in enumerate(names)}


FILLER_COLORS = palette(FILLERS)
