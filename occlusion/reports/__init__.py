"""The paper's figures and tables (docs/METHODS.md §6), one module per figure family, each figure's stage (the
result files it reads and what it selects of them) beside its plot.

| module | what |
|---|---|
| ``attacks`` | Figs. 3-8: the baseline models under the attack grid |
| ``augmented`` | Fig. 11: the augmented models under the attack grid |
| ``boxes`` | Figs. 10, 12, 13: clean AP per person-box source |
| ``tables`` | Tables I-III, written as CSV and Markdown |
| ``examples`` | Figs. 1, 9, 14: attacks, augmentations and predictions on person crops |
| ``registry`` | ``FIGURES``: each figure's notebook, inputs, params keys and outputs; ``make(name)`` |
| ``report`` | ``write_report()``: ``reports/index.md`` and ``reports/metrics.json`` |
| ``frames``, ``results``, ``draw``, ``style`` | the shared pieces: :class:`Selection` of result rows, reading
  result files, drawing, the style and the paper's numbers |
"""
from __future__ import annotations

from .frames import Selection
from .registry import FIGURES, FigureSpec, Output, inputs_of, make
from .report import write_report

__all__ = ["FIGURES", "FigureSpec", "Output", "Selection", "inputs_of", "make", "write_report"]
