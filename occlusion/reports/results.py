"""The pipeline's result files as the figures read them: attack tables with their image bootstrap, every run's
eval table of one model recipe, and the paired bootstrap of two runs' stored predictions.

Paths in the figure registry are relative to the project root; :func:`attack_table` and :func:`evaluated` name
the ones the attack and evaluate stages write.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..params import Params, repo_root

__all__ = [
    "BASELINE_ATTACKS", "attack_table", "attack_with_boot", "evaluated", "read_csvs", "read_attacks",
    "read_evaluated", "main_predictions", "bootstrap_runs", "add_holm", "with_bootstrap", "merge_stats", "subtitle",
]  # fmt: skip

BASELINE_ATTACKS = {"hrnet": "coco_hrnet_half_body", "sb": "coco_sb_flip_rot_scale",
                    "vitpose": "coco_vitpose_half_body"}
"""The baseline run of each model whose attack grid the figures read (every profile attacks HRNet's and
SimpleBaseline's; ViTPose's where the profile has it)."""

_INTERVAL_NAMES = {"delta_AP_ci_low": "ci_low", "delta_AP_ci_high": "ci_high", "delta_AP_p": "p_value"}
"""The attack table's bootstrap columns -> the plots' names (:data:`occlusion.engine.INTERVAL_COLUMNS`)."""


def attack_table(model: str) -> str:
    """The attack table of ``model``'s baseline run."""
    return f"results/attack/{model}/{BASELINE_ATTACKS[model]}.csv"


def attack_with_boot(*models: str) -> tuple[str, ...]:
    """The attack tables of the ``models``' baseline runs, each followed by its bootstrap (``.boot.npz``)."""
    return tuple(p for m in models for p in (attack_table(m), attack_table(m).replace(".csv", ".boot.npz")))


def evaluated(model: str) -> tuple[str, str]:
    """The evaluate stages' folders of model recipe ``model``: every run's table, and every run's predictions.

    A figure of one model reads whatever runs of that model the profile defines (the embedded default trains
    fewer than the paper profile), and only those: editing another model's run does not re-run it.
    """
    return f"results/eval/{model}", f"results/predictions/{model}"


def subtitle(params: Params) -> str:
    """The subtitle of every figure: the profile it was made with."""
    return f"profile: {params.profile}"


def read_csvs(paths: list[Path]) -> pd.DataFrame:
    """The CSVs at ``paths``, one table; missing files raise naming them."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise FileNotFoundError(f"inputs missing (run their stages first): {', '.join(missing) or 'no result files'}")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def read_evaluated(folder: Path, presets: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every run's eval table in ``folder`` (only the runs of ``presets``, when given)."""
    df = read_csvs(sorted(folder.glob("*.csv")))
    return df if presets is None else df[df.preset.isin(presets)].reset_index(drop=True)


def main_predictions(df: pd.DataFrame, run: str) -> Path:
    """The prediction folder of ``run``'s main model (the first of its seeds, the first row of its eval table)."""
    row = df.loc[df.run == run].iloc[0]
    return repo_root() / "results" / "predictions" / row.model / run / f"seed_{int(row.seed)}"


def read_attacks(paths: list[Path]) -> pd.DataFrame:
    """The attack tables among ``paths`` with their bootstrap, as the plots read it.

    Each attack's interval of ΔAP becomes ``ci_low, ci_high, p_value``; where a table's ``.boot.npz`` is among
    ``paths``, its ``keypoint == "all"`` rows get their resampled AP and ΔAP (attack minus clean, per resample) as
    arrays in ``AP_samples`` and ``delta_AP_samples``. All those bootstraps must share their draws.
    """
    from ..engine import AttackBootstrap

    tables, draws = [], {}
    for csv in (p for p in paths if p.suffix == ".csv"):
        table = read_csvs([csv]).rename(columns=_INTERVAL_NAMES)
        boot_path = csv.with_suffix(".boot.npz")
        if boot_path in paths:
            if not boot_path.is_file():
                raise FileNotFoundError(f"inputs missing (run their stages first): {boot_path}")
            boot = AttackBootstrap.read(boot_path)
            draws[str(boot_path)] = (boot.seed, boot.ap.shape[1], boot.image_ids.tobytes())
            table = _with_samples(table, boot, boot_path)
        tables.append(table)
    if len(set(draws.values())) > 1:
        raise ValueError(f"the attack bootstraps {sorted(draws)} differ in seed, resamples or images: they are not "
                         "paired; re-run their attack stages with the same params")
    return pd.concat(tables, ignore_index=True)


def _with_samples(table: pd.DataFrame, boot: Any, path: Path) -> pd.DataFrame:
    """``AP_samples`` and ``delta_AP_samples`` on the ``keypoint == "all"`` rows of one run's attack table."""

    def keys(df: pd.DataFrame) -> list[tuple]:
        return list(zip(df.target, df.target_kind, df.filler, df.radius.fillna(-1.0), df.paper_bounds.astype(bool)))

    index = {k: i for i, k in enumerate(keys(boot.configs))}
    overall = table["keypoint"] == "all"
    missing = [k for k in keys(table[overall]) if k not in index]
    if missing or overall.sum() != len(index):
        raise ValueError(f"{path} does not hold the attacks of its table (e.g. {missing[:3]}); re-run the attack stage")
    ap = boot.ap.astype(np.float64)
    clean = ap[int(np.flatnonzero(boot.configs["target_kind"].to_numpy() == "none")[0])]
    samples: list[Any] = [None] * len(table)
    deltas: list[Any] = [None] * len(table)
    for pos, k in zip(np.flatnonzero(overall.to_numpy()), keys(table[overall])):
        samples[pos], deltas[pos] = ap[index[k]], ap[index[k]] - clean
    return table.assign(AP_samples=samples, delta_AP_samples=deltas)


def bootstrap_runs(params: Params, df: pd.DataFrame, baseline_run: str, boxes: str,
                   predictions: Callable[[str], Path] | None = None) -> dict[str, dict[str, Any]]:
    """Paired bootstrap (images) of every run's main model (its first seed) against the baseline's on ``boxes``;
    Holm over them. ``predictions(run)`` is a run's COCO results file (default: its main model's on ``boxes``).

    Values in AP points: ``ci_low``/``ci_high`` bound the difference (run minus baseline).
    """
    from ..splits import dataset_paths
    from ..stats import paired_bootstrap_ap

    predictions = predictions or (lambda run: main_predictions(df, run) / f"{boxes}.json")
    ann = repo_root() / dataset_paths(params, "coco").val_annotations
    base = predictions(baseline_run)
    stats: dict[str, dict[str, Any]] = {}
    for run in df.loc[df.boxes == boxes, "run"].unique():
        if run == baseline_run:
            continue
        pred = predictions(run)
        res = paired_bootstrap_ap(str(ann), str(base), str(pred), n_resamples=params.eval.bootstrap_resamples, seed=0)
        stats[run] = {"ci_low": 100 * res.ci_low, "ci_high": 100 * res.ci_high, "p_value": res.p_value}
    return add_holm(stats)


def add_holm(stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``stats`` (run -> its ``p_value`` ...) with ``p_holm`` and ``significant``, Holm-corrected over the runs."""
    from ..stats import holm

    if stats:
        adjusted, reject = holm([s["p_value"] for s in stats.values()])
        for s, p, r in zip(stats.values(), adjusted, reject):
            s.update(p_holm=float(p), significant=bool(r))
    return stats


def with_bootstrap(params: Params, df: pd.DataFrame, baseline_run: str, boxes: str,
                   predictions: Callable[[str], Path] | None = None) -> pd.DataFrame:
    """``df`` with the bootstrap columns of :func:`bootstrap_runs` on its runs."""
    stats = bootstrap_runs(params, df, baseline_run, boxes, predictions)
    return merge_stats(df, stats)


def merge_stats(df: pd.DataFrame, stats: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """``df`` with one row of ``stats`` (run -> columns) joined on its ``run`` column."""
    boot = pd.DataFrame.from_dict(stats, orient="index").rename_axis("run").reset_index()
    return df.merge(boot, on="run", how="left") if not boot.empty else df
