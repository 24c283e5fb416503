"""Tables I-III (docs/METHODS.md §6): our clean accuracy per training preset (mean over seeds) beside the paper's,
with the paired bootstrap of each difference to the baseline, written as CSV and GitHub Markdown."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..io import write_csv, write_text
from ..params import Params
from .frames import EVAL_KEYS, require_columns, seed_mean, select, select_one
from .results import add_holm, main_predictions, merge_stats, read_csvs, read_evaluated, with_bootstrap
from .style import BASELINE, BOOTSTRAP_COLUMNS, CHOSEN_PRESETS, load_paper_results

__all__ = ["TABLE_BOXES", "TABLE3_INPUTS", "build_table1", "table1", "build_table2", "table2", "build_table3",
           "table3", "markdown_table", "write_table"]

TABLE_BOXES = "detector"
"""Box source of Table I (the paper: Cascade R-CNN R50; the embedded default: the simulated detector)."""
TABLE3_INPUTS = ("results/eval_bottomup", "results/predictions_bottomup")
"""The bottom-up evaluate stages' outputs: ``<run>.csv`` and the COCO results ``<run>.json`` of each run."""

Built = tuple[None, pd.DataFrame]


def _table(eval_df: pd.DataFrame, key: str, *, dataset: str, model: str | None, boxes: str | None,
           rename: Mapping[str, str]) -> pd.DataFrame:
    """Our values (mean over seeds) beside the paper's table ``key``: one row per paper row, then our other
    presets."""
    what = key
    spec = load_paper_results()[key]
    metrics = list(spec["metrics"])
    require_columns(eval_df, (*EVAL_KEYS, *metrics), what)
    rows = select(eval_df, what, dataset=dataset)
    rows, model = select_one(rows, what, "model", model)
    rows, boxes = select_one(rows, what, "boxes", boxes)
    ours = seed_mean(rows, what, ["preset"], metrics)
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


# ------------------------------------------------------------------------------------------------ Table I


def build_table1(params: Params, paths: list[Path]) -> Built:
    """Table I from every HRNet run's eval table on ``TABLE_BOXES``, bootstrapped against ``coco_hrnet_half_body``."""
    df = read_evaluated(paths[0])
    df = with_bootstrap(params, df, "coco_hrnet_half_body", TABLE_BOXES)
    df = df[df.boxes == TABLE_BOXES]
    return None, table1(df.drop(columns=["run"]), boxes=TABLE_BOXES, model="hrnet")


def table1(
    eval_df: pd.DataFrame, *, boxes: str | None = None, model: str | None = None, dataset: str = "coco"
) -> pd.DataFrame:
    """Table I: COCO AP..AR per training preset next to the paper's (``<m> (paper)`` columns).

    The paper used Cascade R-CNN R50 boxes; ``boxes`` selects ours (``None``: the only box source in the table).
    """
    return _table(eval_df, "table1", dataset=dataset, model=model, boxes=boxes, rename={})


# ------------------------------------------------------------------------------------------------ Table II


def _pckh_correct(params: Params, df: pd.DataFrame, run: str) -> tuple[np.ndarray, np.ndarray]:
    """Per person and joint of the MPII val split: is ``run``'s main model within PCKh@0.5; is the joint labelled."""
    from ..data import head_boxes_of
    from ..splits import load_split

    records = load_split(params, "mpii", "val").records
    preds = np.load(main_predictions(df, run) / "gt.npz")["preds"]
    gt = np.stack([r.joints for r in records])
    head = head_boxes_of(records)
    size = 0.6 * np.linalg.norm(head[:, 2:] - head[:, :2], axis=1)
    dist = np.linalg.norm(preds - gt[..., :2], axis=2) / size[:, None]
    return dist <= 0.5, gt[..., 2] > 0


def build_table2(params: Params, paths: list[Path]) -> Built:
    """Table II from the MPII HRNet runs, each bootstrapped over persons against ``mpii_hrnet_flip_rot_scale``."""
    from ..stats import bootstrap_pckh

    df = read_evaluated(paths[0], ("flip_rot_scale", *CHOSEN_PRESETS[1:]))
    base_run = "mpii_hrnet_flip_rot_scale"
    base_correct, visible = _pckh_correct(params, df, base_run)
    stats = {}
    for run in df.run.unique():
        if run == base_run:
            continue
        correct, _ = _pckh_correct(params, df, run)
        res = bootstrap_pckh(base_correct, correct, visible, n_resamples=params.eval.bootstrap_resamples, seed=0)
        stats[run] = {"ci_low": res.ci_low, "ci_high": res.ci_high, "p_value": res.p_value}
    df = merge_stats(df, add_holm(stats))
    return None, table2(df.drop(columns=["run"]), baseline="flip_rot_scale")


def table2(eval_df: pd.DataFrame, *, baseline: str = BASELINE, model: str | None = None, boxes: str | None = None,
           dataset: str = "mpii") -> pd.DataFrame:
    """Table II: MPII PCKh@0.5 per joint group and Mean; our ``baseline`` preset sits on the paper's baseline row."""
    return _table(eval_df, "table2", dataset=dataset, model=model, boxes=boxes, rename={baseline: "baseline"})


# ------------------------------------------------------------------------------------------------ Table III


def build_table3(params: Params, paths: list[Path]) -> Built:
    """Table III: every run of ``bottomup.runs`` beside the paper's rows, each with the paired image bootstrap of
    its AP difference to ``bottomup.baseline`` (Holm over the runs)."""
    bu = params.bottomup
    eval_dir, pred_dir = paths
    df = read_csvs([eval_dir / f"{run}.csv" for run in bu.runs])
    df = with_bootstrap(params, df, bu.baseline, "none", predictions=lambda run: pred_dir / f"{run}.json")
    base = bu.runs[bu.baseline]
    table = table3(df.drop(columns=["run"]), baseline=base.preset, boxes="none")
    how = (f"the official checkpoint {base.checkpoint}" if base.source == "checkpoint"
           else "trained here, with the recipe of the other rows")
    table.attrs["caption"] += f" Our baseline row ({bu.baseline}): {how}."
    return None, table


def table3(eval_df: pd.DataFrame, *, baseline: str = BASELINE, model: str | None = None, boxes: str | None = None,
           dataset: str = "coco") -> pd.DataFrame:
    """Table III: HigherHRNet-W32 COCO AP..APL; our ``baseline`` preset sits on the paper's baseline row."""
    return _table(eval_df, "table3", dataset=dataset, model=model, boxes=boxes, rename={baseline: "baseline"})


# ------------------------------------------------------------------------------------------------ Markdown


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
