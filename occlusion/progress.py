"""Progress bars for the long loops (training, evaluation, attacks, data generation, downloads).

tqdm's text bar on stderr, never the notebook widget (papermill's kernels have no ipywidgets). Off a terminal,
in an executed notebook or a log, it redraws at most every :data:`OFF_TERMINAL_INTERVAL` seconds, so that a
210-epoch training leaves a few lines a minute rather than one per step; on a terminal, ten times a second.

>>> import io
>>> out = io.StringIO()
>>> for _ in progress_bar(range(3), desc="demo", file=out):
...     pass
>>> out.getvalue().count("demo")  # the first draw and the last, nothing between
2
"""
from __future__ import annotations

import sys
from typing import Any, Iterable

from tqdm import tqdm

__all__ = ["OFF_TERMINAL_INTERVAL", "progress_bar"]

OFF_TERMINAL_INTERVAL = 15.0
"""Seconds between redraws when the bar does not write to a terminal."""


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on stderr, redrawn every 0.1 s on a terminal and every
    :data:`OFF_TERMINAL_INTERVAL` s elsewhere (unless ``mininterval`` is given). ``bar.update`` returns True when
    it redrew: compute what only the bar shows (a loss that syncs the GPU) then, not every step."""
    file = kwargs.pop("file", None) or sys.stderr
    interactive = bool(getattr(file, "isatty", lambda: False)())
    kwargs.setdefault("mininterval", 0.1 if interactive else OFF_TERMINAL_INTERVAL)
    return tqdm(iterable, file=file, **kwargs)
