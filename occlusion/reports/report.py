"""The report stage: ``reports/index.md`` (every figure and table of this run, with the profile, data and date
it came from, and the written verdict of Tables I-III) and ``reports/metrics.json`` (the headline numbers)."""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import file_fingerprint, write_json, write_text
from ..params import repo_root
from .registry import FIGURES
from .results import attack_table
from .tables import TABLE_BOXES

__all__ = ["write_report"]


def _verdicts(tables: Path) -> list[str]:
    """The written result: for each augmentation, is its difference to the baseline distinguishable from zero?"""
    lines = ["## Does targeted augmentation help?", ""]
    for name, metric, boxes in (("table1", "AP", f"{TABLE_BOXES} boxes"), ("table2", "Mean", "PCKh@0.5, GT boxes"),
                                ("table3", "AP", "bottom-up HigherHRNet, no person boxes")):
        path = tables / f"{name}.csv"
        if not path.is_file():
            lines.append(f"*{name}: missing*")
            continue
        t = pd.read_csv(path)
        if "p_holm" not in t.columns:
            continue
        base = t[t["p_holm"].isna() & (t["seeds"] > 0)]
        tested = t[t["p_holm"].notna()]
        base_value = f"{base[metric].iloc[0]:.1f}" if len(base) else "?"
        lines.append(f"**{name}** ({boxes}; baseline {metric} {base_value}; paired bootstrap over "
                     f"{'persons' if name == 'table2' else 'images'}, Holm-corrected over {len(tested)} variants):")
        lines.append("")
        for r in tested.itertuples():
            d = getattr(r, metric) - base[metric].iloc[0] if len(base) else float("nan")
            verdict = "distinguishable from zero" if bool(r.significant) else "not distinguishable from zero"
            p = f"{r.p_holm:.2g}" if r.p_holm > 0 else "< 1/resamples"
            lines.append(f"- `{r.preset}`: {d:+.1f} {metric} points (mean over {int(r.seeds)} seed(s) against the "
                         f"baseline's); seed 0 paired difference 95% CI [{r.ci_low:+.1f}, {r.ci_high:+.1f}], "
                         f"Holm p {p}: {verdict}.")
        lines.append("")
    return lines


def _real_occlusion(reports: Path) -> list[str]:
    """Fig. 16's answers and table (docs/METHODS.md §13), where the profile has the ``realocc`` stage."""
    answers, table = reports / "realocc_answers.md", reports / "tables" / "realocc.md"
    if not answers.is_file():
        return []
    return [answers.read_text(), "### Real occlusion per model", "", table.read_text() if table.is_file() else "", ""]


def _metrics(root: Path, radius: float) -> dict[str, Any]:
    """The baseline HRNet's clean AP per box source (mean over its seeds) and its attack summary (Fig. 3's mean ΔAP
    over keypoint and over part targets, and the worst attack's ΔAP): the same keys in every experiment, so that
    `dvc exp show` lines them up."""
    metrics: dict[str, Any] = {}
    ev = root / "results" / "eval" / "hrnet" / "coco_hrnet_half_body.csv"
    if ev.is_file():
        base = pd.read_csv(ev).groupby("boxes")["AP"].mean()  # over the run's seeds
        metrics["baseline_AP"] = {k: round(float(v), 2) for k, v in base.items()}
    at = root / attack_table("hrnet")
    if at.is_file():
        a = pd.read_csv(at)
        at_radius = (a.radius == radius) | a.radius.isna()
        a = a[(a.keypoint == "all") & (a.target_kind != "none") & at_radius]
        kinds = {f"{kind}_mean": round(float(a.loc[a.target_kind == kind, "delta_AP"].mean()), 2)
                 for kind in ("keypoint", "part") if (a.target_kind == kind).any()}
        metrics["attack_delta_AP"] = {**kinds, "worst": round(float(a["delta_AP"].min()), 2)} if len(a) else {}
    return metrics


def write_report() -> Path:
    """``reports/index.md``: every figure and table of this run, with the profile, data and date it came from."""
    from ..dvcfile import check_dvc_stage
    from ..pipeline import stage_params

    check_dvc_stage()
    params = stage_params(["profile", "data", "attack"])
    root = repo_root()
    data_dir = root / params.data.root
    lines = [
        "# Report", "",
        f"- profile: `{params.profile}`",
        f"- data: `{params.data.root}` ({params.data.source}; fingerprint `{file_fingerprint(data_dir)}`)"
        if data_dir.exists() else f"- data: `{params.data.root}`",
        f"- written: {_dt.date.today().isoformat()}", "",
        "Values beside ours labelled *(paper)* are the paper's (docs/METHODS.md §6).", "",
    ]
    lines += _verdicts(root / "reports" / "tables")
    lines += _real_occlusion(root / "reports")
    for name, spec in FIGURES.items():
        lines.append(f"## {spec.title}")
        if spec.table:
            md = root / "reports" / "tables" / f"{name}.md"
            lines += [md.read_text() if md.is_file() else f"*missing: {md.relative_to(root)}*", ""]
        else:
            png = root / "reports" / "figures" / f"{name}.png"
            lines += [f"![{spec.title}](figures/{name}.png)" if png.is_file() else f"*missing: figures/{name}.png*", ""]
    write_json(root / "reports" / "metrics.json", _metrics(root, params.attack.radius))
    return write_text(root / "reports" / "index.md", "\n".join(lines) + "\n")
