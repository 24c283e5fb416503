"""Fig. 16 (beyond the paper): does robustness to the paper's attacks predict accuracy under real occlusion?
(docs/METHODS.md §13)

From the ``realocc`` stage's results and the attack grids: the rank correlation of each attacked model's mean
ΔAP (keypoint attacks; part attacks) with its OCHuman AP, CrowdPose-hard AP and COCO ``v=1`` keypoint accuracy;
every model's effective robustness against the line that clean COCO AP predicts; and Table I's augmentations
against the baseline on OCHuman and CrowdPose-hard. It writes the figure, the table
(``reports/tables/realocc.{csv,md}``) and the sentences that answer the question (``reports/realocc_answers.md``,
which the report quotes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import write_text
from ..params import Params, repo_root
from ..realocc.analysis import augmentation_tests, effective_robustness, spearman_interval
from .draw import new_figure, suptitle
from .results import subtitle
from .style import BASELINE
from .tables import markdown_table, write_table

__all__ = ["REALOCC_INPUTS", "REALOCC_OPTIONAL", "REALOCC_EXTRA", "REAL_METRICS", "attack_deltas",
           "build_fig16_realocc", "answers"]

REALOCC_INPUTS = ("results/realocc/metrics.csv", "results/realocc/keypoints.csv", "results/realocc/boot.npz")
REALOCC_OPTIONAL = ("results/attack/hrnet", "results/attack/sb", "results/attack/hrnethr", "results/attack/vitpose")
"""The attack grids of every model recipe that may have one; the correlation uses the runs of ``attack_runs``."""
REALOCC_EXTRA = ("reports/tables/realocc.csv", "reports/tables/realocc.md", "reports/realocc_answers.md")
_MIN_MODELS = 5
"""Below this many attacked models the answer states no conclusion whatever the interval."""
REAL_METRICS = {"ochuman_AP": "OCHuman AP", "crowdpose_hard_AP": "CrowdPose-hard AP", "v1_PCK": "COCO v=1 PCK"}
"""The real-occlusion accuracies the attack ΔAP is correlated with (``boot.npz`` keys) and their labels."""
_PROTOCOL = ("CrowdPose AP is xtcocotools' keypoints_crowd AP over the 12 keypoints COCO and CrowdPose share (head and "
             "neck unlabelled in the scored ground truth, crowd index unchanged): not comparable to the published AP "
             "of CrowdPose-trained models.")


def _boot(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def attack_deltas(params: Params, root: Path) -> pd.DataFrame:
    """Per run of ``attack_runs`` with an attack table: the mean ΔAP over keypoint attacks (at ``attack.radius``,
    the first ``paper_bounds``) and over part attacks, with each mean's resamples from its ``.boot.npz``."""
    from ..engine import AttackBootstrap

    rows = []
    for run_id, attack_run in params.attack_runs.items():
        csv = root / "results" / "attack" / attack_run.model / f"{run_id}.csv"
        if not csv.is_file():
            continue
        boot = AttackBootstrap.read(csv.with_suffix(".boot.npz"))
        c = boot.configs
        clean = boot.ap[np.flatnonzero(c.target_kind == "none")[0]].astype(float)
        bounds = c.paper_bounds == params.attack.paper_bounds[0]
        for kind in ("keypoint", "part"):
            sel = (c.target_kind == kind) & bounds & ((c.radius == params.attack.radius) | (kind == "part"))
            if not sel.any():
                continue
            samples = (boot.ap[sel.to_numpy()].astype(float) - clean).mean(axis=0)
            t = pd.read_csv(csv)
            t = t[(t.keypoint == "all") & (t.target_kind == kind) & (t.paper_bounds == params.attack.paper_bounds[0])]
            t = t[(t.radius == params.attack.radius) | (kind == "part")]
            rows.append({"run": run_id, "kind": kind, "delta_AP": float(t.delta_AP.mean()), "samples": samples})
    return pd.DataFrame(rows, columns=["run", "kind", "delta_AP", "samples"])


def _per_model(metrics: pd.DataFrame, acc: pd.DataFrame) -> pd.DataFrame:
    """One row per run: clean COCO AP, OCHuman AP (GT and detector boxes), CrowdPose AP / easy / medium / hard, and
    COCO val's v=1 and v=2 PCK."""
    gt = metrics[metrics.boxes == "gt"]
    out = gt[gt.benchmark == "coco"][["run", "model", "preset", "AP"]].rename(columns={"AP": "COCO AP"})
    och = metrics[metrics.benchmark == "ochuman"].pivot(index="run", columns="boxes", values="AP")
    out = out.join(och.add_prefix("OCHuman AP ").rename(columns=lambda c: c.replace(" gt", "")), on="run")
    cp = gt[gt.benchmark == "crowdpose"].set_index("run")[["AP", "AP_easy", "AP_medium", "AP_hard"]]
    out = out.join(cp.rename(columns=lambda c: "CrowdPose " + c.replace("AP_", "")), on="run")
    allk = acc[acc.keypoint == "all"].pivot(index="run", columns="visibility", values="PCK")
    return out.join(allk.rename(columns={1: "v=1 PCK", 2: "v=2 PCK"}), on="run").reset_index(drop=True)


def _correlations(per_model: pd.DataFrame, deltas: pd.DataFrame, boot: dict[str, np.ndarray]) -> pd.DataFrame:
    real = {"ochuman_AP": "OCHuman AP", "crowdpose_hard_AP": "CrowdPose hard", "v1_PCK": "v=1 PCK"}
    rows = []
    for kind in ("keypoint", "part"):
        d = deltas[deltas.kind == kind]
        runs = [r for r in d.run if f"{r}__ochuman_AP" in boot]
        if not runs:
            continue
        d = d.set_index("run").loc[runs]
        for key, label in REAL_METRICS.items():
            y = per_model.set_index("run").loc[runs, real[key]].to_numpy(float)
            ys = np.stack([boot[f"{r}__{key}"] for r in runs])
            rho, low, high, n = spearman_interval(d.delta_AP.to_numpy(float), y, np.stack(d.samples.to_list()), ys)
            rows.append({"attack": f"mean ΔAP over {kind} attacks", "real": label, "models": len(runs),
                         "runs": ", ".join(runs), "spearman": rho, "ci_low": low, "ci_high": high, "draws": n})
    return pd.DataFrame(rows)


def _effective(per_model: pd.DataFrame, boot: dict[str, np.ndarray]) -> pd.DataFrame:
    runs = per_model.run.tolist()
    cs = np.stack([boot[f"{r}__coco_AP"] for r in runs])
    out = []
    for key, col in (("ochuman_AP", "OCHuman AP"), ("crowdpose_hard_AP", "CrowdPose hard")):
        values = per_model[[col, "COCO AP"]].to_numpy(float)
        if len(runs) < 3 or not np.isfinite(values).all() or np.ptp(values[:, 1]) == 0:  # no line to fit
            continue
        rs = np.stack([boot[f"{r}__{key}"] for r in runs])
        e = effective_robustness(runs, per_model["COCO AP"].to_numpy(float), per_model[col].to_numpy(float), cs, rs)
        out.append(e.assign(benchmark=REAL_METRICS[key]))
    columns = ["run", "clean_AP", "real_AP", "expected_AP", "effective_robustness", "ci_low", "ci_high", "slope",
               "intercept", "benchmark"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)


def _augmentations(params: Params, per_model: pd.DataFrame, boot: dict[str, np.ndarray]) -> pd.DataFrame:
    """Table I's augmented runs (the baseline's model) against the baseline, on OCHuman and CrowdPose-hard."""
    model = "hrnet" if any(per_model.model == "hrnet") else per_model.model.iloc[0]
    rows = per_model[per_model.model == model].set_index("run")
    base = rows.index[rows.preset == BASELINE]
    if not len(base) or len(rows) < 2:
        return pd.DataFrame()
    out = []
    for key, col in (("ochuman_AP", "OCHuman AP"), ("crowdpose_hard_AP", "CrowdPose hard")):
        t = augmentation_tests(rows[col].to_dict(), {r: boot[f"{r}__{key}"] for r in rows.index}, base[0])
        out.append(t.assign(benchmark=REAL_METRICS[key], preset=t.run.map(rows.preset)))
    return pd.concat(out, ignore_index=True)


def _interval(low: float, high: float) -> str:
    return f"[{low:+.2f}, {high:+.2f}]" if np.isfinite(low) else "[undefined]"


def answers(corr: pd.DataFrame, eff: pd.DataFrame, aug: pd.DataFrame) -> list[str]:
    """The sentences that answer the question, one per finding, with their intervals."""
    lines = ["## Does robustness to the paper's attacks predict real occlusion?", ""]
    if not len(corr):
        lines.append("- No run of `attack_runs` has an attack grid and real-occlusion results: no correlation.")
    for r in corr.itertuples():
        if not np.isfinite(r.spearman):
            lines.append(f"- The rank correlation between the {r.attack} and {r.real} is undefined here (fewer "
                         f"than 3 of the {r.models} attacked models have a finite value, or one side is constant).")
            continue
        verdict = ("its interval excludes 0" if r.ci_low > 0 or r.ci_high < 0 else "its interval includes 0, so "
                   "these models do not show whether it does")
        if r.models < _MIN_MODELS:
            verdict = (f"with {r.models} models a rank correlation takes a handful of values and the image bootstrap "
                       "does not reflect which models were chosen, so no conclusion is drawn either way")
        few = f" (only {r.models} models: the interval is wide)" if r.models < 8 else ""
        lines.append(f"- Across the {r.models} attacked models ({r.runs}){few}, the rank correlation between the "
                     f"{r.attack} and {r.real} is ρ = {r.spearman:+.2f}, 95% bootstrap CI "
                     f"{_interval(r.ci_low, r.ci_high)}"
                     f" over {r.draws} image resamples: {verdict}.")
    if not len(eff):
        lines.append("- Effective robustness: not computed (it needs at least 3 models with a finite AP and "
                     "different clean COCO APs).")
    for bench, e in eff.groupby("benchmark", sort=False):
        sig = e[(e.ci_low > 0) | (e.ci_high < 0)]
        named = ", ".join(f"{r.run} {r.effective_robustness:+.1f} {_interval(r.ci_low, r.ci_high)}"
                          for r in sig.itertuples()) or "none"
        lines.append(f"- Effective robustness on {bench} (against {bench} = {e.slope.iloc[0]:.2f} x COCO AP "
                     f"{e.intercept.iloc[0]:+.1f}, fitted over {len(e)} models): models whose interval excludes 0: "
                     f"{named}.")
    for bench, a in (aug.groupby("benchmark", sort=False) if len(aug) else []):
        sig = a[a.significant]
        named = ", ".join(f"{r.preset} {r.delta:+.1f} {_interval(r.ci_low, r.ci_high)}" for r in sig.itertuples())
        lines.append(f"- Table I's augmentations on {bench} (paired image bootstrap against the baseline, Holm over "
                     f"{len(a)}): " + (f"distinguishable from the baseline: {named}." if len(sig) else
                                       "none changes it distinguishably from zero."))
    return [*lines, "", f"*{_PROTOCOL}*", ""]


def _draw(per_model: pd.DataFrame, deltas: pd.DataFrame, corr: pd.DataFrame, eff: pd.DataFrame) -> Any:
    fig, axes = new_figure((12.0, 3.8), ncols=3)
    d = deltas[deltas.kind == "keypoint"].merge(per_model, on="run")
    axes[0].scatter(d.delta_AP, d["OCHuman AP"], color="C0")
    for model, preset, x, y in zip(d.model, d.preset, d.delta_AP, d["OCHuman AP"]):
        axes[0].annotate(f"{model} {preset}", (x, y), fontsize=7)
    row = corr[(corr.attack == "mean ΔAP over keypoint attacks") & (corr.real == "OCHuman AP")] if len(corr) else corr
    rho = f"ρ = {row.spearman.iloc[0]:+.2f} {_interval(row.ci_low.iloc[0], row.ci_high.iloc[0])}" if len(row) else ""
    axes[0].set(xlabel="mean ΔAP, keypoint attacks", ylabel="OCHuman AP", title=f"attack vs real {rho}")
    for ax, (bench, e) in zip(axes[1:], eff.groupby("benchmark", sort=False)):
        er = e.effective_robustness
        err = np.nan_to_num(np.clip([er - e.ci_low, e.ci_high - er], 0, None))
        ax.errorbar(e.clean_AP, e.real_AP, yerr=err, fmt="o", ms=3, lw=0.8)
        xs = np.linspace(e.clean_AP.min(), e.clean_AP.max(), 2)
        ax.plot(xs, e.slope.iloc[0] * xs + e.intercept.iloc[0], color="grey", lw=1)
        ax.set(xlabel="clean COCO AP", ylabel=bench, title=f"effective robustness: {bench}")
    suptitle(fig, "Fig. 16", "attack robustness vs real occlusion", f"{len(per_model)} models",
             "CrowdPose over the 12 shared keypoints")
    return fig


def build_fig16_realocc(params: Params, paths: list[Path]) -> tuple[Any, pd.DataFrame]:
    """The figure (attack ΔAP against OCHuman AP; effective robustness on OCHuman and CrowdPose-hard), the table
    and the answers (written beside it); returns the figure and its data (the correlations)."""
    root = repo_root()
    metrics, acc = pd.read_csv(paths[0]), pd.read_csv(paths[1])
    boot = _boot(paths[2])
    per_model = _per_model(metrics, acc)
    deltas = attack_deltas(params, root)
    corr, eff = _correlations(per_model, deltas, boot), _effective(per_model, boot)
    aug = _augmentations(params, per_model, boot)
    er = eff.pivot(index="run", columns="benchmark", values="effective_robustness") if len(eff) else None
    table = per_model if er is None else per_model.merge(er.add_prefix("effective robustness, "), left_on="run",
                                                         right_index=True, how="left")
    table.attrs["caption"] = (f"Real occlusion ({subtitle(params)}): AP on ground-truth boxes unless named; PCK at "
                              f"{params.realocc.pck_alpha:g} x the box side. {_PROTOCOL}")
    write_table(table, root / "reports" / "tables" / "realocc")
    text = [markdown_table(table), "", "Rank correlation of attack ΔAP with real-occlusion accuracy:", "",
            markdown_table(corr.drop(columns=["runs"]), floatfmt=".2f") if len(corr) else "*no attacked model*", "",
            "Effective robustness (real-occlusion AP minus the AP the line over all models predicts):", "",
            markdown_table(eff, floatfmt=".2f")]
    if len(aug):
        text += ["", "Table I augmentations against the baseline:", "",
                 markdown_table(aug.drop(columns=["run"]), floatfmt=".2f", star_column="delta")]
    write_text(root / "reports" / "tables" / "realocc.md", "\n".join(text) + "\n")
    write_text(root / "reports" / "realocc_answers.md", "\n".join(answers(corr, eff, aug)) + "\n")
    fig = _draw(per_model, deltas, corr, eff)
    return fig, corr if len(corr) else per_model
