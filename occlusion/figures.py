"""The figure and table stages: each paper figure or table, built from the result files its stage depends on.

``FIGURES[name]`` says which files a figure reads (``inputs``; the stage's ``deps`` in ``dvc.yaml`` must
list them, which a test checks) and which params keys it reads. ``make(name)`` builds it and writes
``reports/figures/<name>.png`` with its data CSV (or ``reports/tables/<name>.{csv,md}``).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from . import plots
from .config import from_dict, to_dict
from .io import file_fingerprint, provenance, write_json, write_text
from .keypoints import COCO
from .params import Params, params_hash, repo_root

__all__ = ["FIGURES", "FigureSpec", "Output", "make", "write_report", "inputs_of"]

COCO_PRESETS = ("half_body", "blur_k_05", "cutout_p_05_keep", "partmix_05_keep")
"""The baseline and the three augmentations of Figs. 10-13 and Tables II-III."""
TABLE_BOXES = "detector"
"""Box source of Table I (the paper: Cascade R-CNN R50; the embedded default: the simulated detector)."""
PAPER_BOXES = {"gt": "gt", "detector": "cascade_rcnn", "faster_rcnn": "faster_rcnn", "retinanet": "retinanet",
               "efficientdet_d7": "efficientdet_d7"}
"""Our box-source names -> the paper's (the embedded default's simulated detector stands in for Cascade R-CNN)."""


@dataclass
class Output:
    """What a figure stage made: the figure (or None for a table), its data, and the written files."""

    name: str
    data: pd.DataFrame
    files: list[Path]
    figure: Any = None

    def show(self) -> Any:
        if self.figure is not None:
            return self.figure
        return self.data


@dataclass(frozen=True)
class FigureSpec:
    title: str
    inputs: tuple[str, ...]
    """Files the figure reads, relative to the project root; ``{data}`` is ``data.root``."""
    keys: tuple[str, ...]
    build: Callable[[Params, list[Path]], tuple[Any, pd.DataFrame]]
    table: bool = False


BASELINE_ATTACKS = {"hrnet": "coco_hrnet_half_body", "sb": "coco_sb_flip_rot_scale"}
"""The baseline run of each model whose attack grid the figures read (every profile attacks them)."""


def _attack(model: str) -> str:
    return f"results/attack/{model}/{BASELINE_ATTACKS[model]}.csv"


def _attack_with_boot(*models: str) -> tuple[str, ...]:
    return tuple(p for m in models for p in (_attack(m), _attack(m).replace(".csv", ".boot.npz")))


def _evaluated(model: str) -> tuple[str, str]:
    """The evaluate stages' folders of model recipe ``model``: every run's table, and every run's predictions.

    A figure of one model reads whatever runs of that model the profile defines (the embedded default trains
    fewer than the paper profile), and only those: editing another model's run does not re-run it.
    """
    return f"results/eval/{model}", f"results/predictions/{model}"


def _read_evaluated(folder: Path, presets: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every run's eval table in ``folder`` (only the runs of ``presets``, when given)."""
    df = _read(sorted(folder.glob("*.csv")))
    return df if presets is None else df[df.preset.isin(presets)].reset_index(drop=True)


def _main_predictions(df: pd.DataFrame, run: str) -> Path:
    """The prediction folder of ``run``'s main model (the first of its seeds, the first row of its eval table)."""
    row = df.loc[df.run == run].iloc[0]
    return repo_root() / "results" / "predictions" / row.model / run / f"seed_{int(row.seed)}"


def _read(paths: list[Path]) -> pd.DataFrame:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise FileNotFoundError(f"inputs missing (run their stages first): {', '.join(missing) or 'no result files'}")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


_INTERVAL_NAMES = {"delta_AP_ci_low": "ci_low", "delta_AP_ci_high": "ci_high", "delta_AP_p": "p_value"}
"""The attack table's bootstrap columns -> the plots' names (:data:`occlusion.engine.INTERVAL_COLUMNS`)."""


def _read_attacks(paths: list[Path]) -> pd.DataFrame:
    """The attack tables among ``paths`` with their bootstrap, as the plots read it.

    Each attack's interval of ΔAP becomes ``ci_low, ci_high, p_value``; where a table's ``.boot.npz`` is among
    ``paths``, its ``keypoint == "all"`` rows get their resampled AP and ΔAP (attack minus clean, per resample) as
    arrays in ``AP_samples`` and ``delta_AP_samples``. All those bootstraps must share their draws.
    """
    from .engine import AttackBootstrap

    tables, draws = [], {}
    for csv in (p for p in paths if p.suffix == ".csv"):
        table = _read([csv]).rename(columns=_INTERVAL_NAMES)
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


def _subtitle(params: Params) -> str:
    return f"profile: {params.profile}"


# --------------------------------------------------------------------------------------------- attack figures


def _grid(params: Params) -> dict[str, Any]:
    """The attack targets and radius of ``params.attack`` (the figures show what the grid ran)."""
    a = params.attack
    return {"radius": a.radius, "keypoint_targets": a.keypoints, "part_targets": a.parts}


def _fig03(params: Params, paths: list[Path]):
    df = _read_attacks(paths).assign(preset="baseline")
    return plots.fig3_model_comparison(df, **_grid(params), subtitle=_subtitle(params))


def _sweep_targets(df: pd.DataFrame) -> list[str]:
    rows = df[(df.target_kind == "keypoint") & (df.keypoint == "all")]
    per_radius = rows.groupby("radius")["target"].apply(set)
    common = set.intersection(*per_radius.tolist())
    return [n for n in COCO.names if n in common]


def _fig04(params: Params, paths: list[Path]):
    df = _read_attacks(paths)
    return plots.fig4_radius(df, targets=_sweep_targets(df), subtitle=_subtitle(params))


def _fig05(params, paths):
    return plots.fig5_keypoint_targets(_read_attacks(paths), radius=params.attack.radius,
                                       targets=params.attack.keypoints, subtitle=_subtitle(params))


def _fig06(params, paths):
    return plots.fig6_per_keypoint(_read_attacks(paths), radius=params.attack.radius, subtitle=_subtitle(params))


def _fig07(params, paths):
    return plots.fig7_part_targets(_read_attacks(paths), targets=params.attack.parts, subtitle=_subtitle(params))


def _fig08(params, paths):
    return plots.fig8_part_per_keypoint(_read_attacks(paths), subtitle=_subtitle(params))


def _fig11(params, paths):
    """The attacked runs of model ``hrnet`` (the profile's ``attack_runs``) among the presets the paper shows."""
    folder = paths[0]
    df = _read_attacks(sorted(folder.glob("*.csv")) + sorted(folder.glob("*.boot.npz")))
    presets = tuple(p for p in plots.CHOSEN_PRESETS if p in set(df.preset))
    return plots.fig11_augmented_under_attack(df, presets=presets, **_grid(params), subtitle=_subtitle(params))


# ------------------------------------------------------------------------------------------------ box figures


def _boxes_figure(figure: str, baseline_run: str, presets: tuple[str, ...]) -> Callable:
    """Figs. 10, 12, 13: clean AP per box source of the runs of ``presets`` that the profile trained; error bars
    are the bootstrap interval of each difference to ``baseline_run``, on every box source, from the stored
    predictions."""

    def build(params: Params, paths: list[Path]):
        df = _read_evaluated(paths[0], presets)
        if baseline_run not in set(df.run):
            raise FileNotFoundError(f"{paths[0]}: no eval table of the baseline run {baseline_run!r}")
        preset_of = dict(zip(df.run, df.preset))
        for col in ("ci_low", "ci_high"):
            df[col] = np.nan
        for boxes in sorted(df.boxes.unique()):
            for run, stats in _bootstrap_runs(params, df, baseline_run, boxes).items():
                rows = (df.preset == preset_of[run]) & (df.boxes == boxes)
                df.loc[rows, "ci_low"], df.loc[rows, "ci_high"] = stats["ci_low"], stats["ci_high"]
        shown = tuple(p for p in presets if p in set(df.preset))
        return plots.fig10_boxes(df, presets=shown, baseline=preset_of[baseline_run], paper_figure=figure,
                                 paper_boxes=PAPER_BOXES, subtitle=_subtitle(params))

    return build


def _boxes_spec(title: str, figure: str, model: str, baseline_run: str, presets: tuple[str, ...]) -> FigureSpec:
    return FigureSpec(title, _evaluated(model), ("data", "eval"), _boxes_figure(figure, baseline_run, presets))


# -------------------------------------------------------------------------------------------- qualitative ones


def _showcase_crop(params: Params, split: str = "val", index: int | None = None):
    """A deterministic, well-labelled person crop of the COCO split (most labelled keypoints, then largest)."""
    from .data import TopDownDataset
    from .splits import load_split

    recipe = next(iter(params.models.values()))
    records = load_split(params, "coco", split).records
    if index is None:
        index = max(range(len(records)), key=lambda i: ((records[i].joints[:, 2] > 0).sum(), records[i].area))
    ds = TopDownDataset([records[index]], image_size=recipe.input_size, heatmap_size=recipe.heatmap_size,
                        sigma=recipe.sigma, skeleton=COCO)
    crop, joints = ds.crop(0)
    return crop, joints, records


def _fig01(params: Params, paths: list[Path]):
    from .attacks import occlude

    crop, joints, _ = _showcase_crop(params)
    images, titles, rows = [crop], ["clean"], []
    for target in ("nose", "upper_body"):
        for filler in ("blur", "blackout", "meanout"):
            images.append(occlude(crop, joints, target, filler, radius=params.attack.radius))
            titles.append(f"{target} / {filler}")
            changed = int((images[-1] != crop).any(axis=2).sum())
            rows.append({"target": target, "filler": filler, "changed_pixels": changed})
    images[0] = plots.draw_pose(crop, joints, COCO, radius=1, thickness=1)
    fig = plots.image_grid(images, titles, ncols=4)
    fig.suptitle(f"Fig. 1: targeted occlusion attacks ({_subtitle(params)})")
    return fig, pd.DataFrame(rows)


FIG9_PRESETS = {
    "Blurring (K)": "blur_k_05", "Cutout (K)": "cutout_k_05", "Cutout+Blurring (K)": "cutblur_k_05",
    "Blurring (P)": "blur_p_05", "Cutout (P)": "cutout_p_05", "Cutout+Blurring (P)": "cutblur_p_05",
    "Multi-keypoint": "multikeypoint_02", "PartMix": "partmix_05",
}
"""The preset shown for each augmentation family in Fig. 9 (each is fired with p = 1)."""


def _fig09(params: Params, paths: list[Path]):
    from .augment import build_augmenter, partmix_sources_from_records
    from .splits import load_split

    crop, joints, _ = _showcase_crop(params, "val")
    train_records = load_split(params, "coco", "train").records
    sources = partmix_sources_from_records(train_records)
    shown = FIG9_PRESETS
    images, titles, rows = [plots.draw_pose(crop, joints, COCO, radius=1, thickness=1)], ["clean"], []
    for title, preset in shown.items():
        cfg = _always(params.augs[preset].augment)
        augmenter = build_augmenter(cfg, COCO, partmix_sources=sources)
        rng = np.random.default_rng(0)
        aug_params = augmenter.sample(crop, joints, rng)
        out, out_joints = augmenter.apply(crop, joints, aug_params)
        images.append(plots.draw_pose(out, out_joints, COCO, radius=1, thickness=1))
        titles.append(title)
        rows.append({"augmentation": title, "preset": preset, "changed_pixels": int((out != crop).any(axis=2).sum()),
                     "labels_removed": int(((joints[:, 2] > 0) & (out_joints[:, 2] == 0)).sum())})
    fig = plots.image_grid(images, titles, ncols=3)
    fig.suptitle(f"Fig. 9: training augmentations on one crop, fired with p = 1 ({_subtitle(params)})")
    return fig, pd.DataFrame(rows)


def _always(cfg):
    """The same augmentation with every probability set to 1 (multi-keypoint: 0.6), for showing it."""
    d = to_dict(cfg)
    for key in ("blurring", "cutout", "partmix"):
        if d.get(key):
            d[key]["prob"] = 1.0
    if d.get("multi_keypoint"):
        d["multi_keypoint"]["prob"] = 0.6
    return from_dict(type(cfg), d)


def _fig14(params: Params, paths: list[Path]):
    import torch

    from .attacks import occlude
    from .evaluate import get_max_preds, predict_heatmaps
    from .engine import normalize_batch
    from .models import create_model
    from .splits import load_split
    from .data import TopDownDataset

    recipe = params.models["hrnet"]
    models = {}
    for name, folder in (("baseline", paths[0]), ("PartMix", paths[1])):
        path = folder / f"seed_{params.run(folder.name).seed}" / "model.pt"  # the run's main model
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no trained model (run its train stage first)")
        model = create_model(recipe.arch, num_joints=COCO.num_joints)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
        models[name] = model.eval()
    records = load_split(params, "coco", "val").records
    order = sorted(range(len(records)), key=lambda i: (-(records[i].joints[:, 2] > 0).sum(), -records[i].area))[:4]
    ds = TopDownDataset([records[i] for i in order], image_size=recipe.input_size, heatmap_size=recipe.heatmap_size,
                        sigma=recipe.sigma, skeleton=COCO)
    images, titles, rows = [], [], []
    colors = {"baseline": (255, 64, 64), "PartMix": (64, 160, 255)}
    for i, (target, filler) in enumerate([("left_arm", "blackout"), ("right_leg", "meanout"), ("head", "blur"),
                                          ("corpus", "blackout")]):
        crop, joints = ds.crop(i)
        attacked = occlude(crop, joints, target, filler)
        x = normalize_batch(torch.from_numpy(attacked)[None], recipe.color)
        for name, model in models.items():
            heatmaps = predict_heatmaps(model, x, COCO.flip_pairs).numpy()
            coords, maxvals = get_max_preds(heatmaps)
            stride = recipe.input_size[0] / heatmaps.shape[-1]
            pred = np.concatenate([coords[0] * stride, (maxvals[0] > 0.2).astype(np.float32)], axis=1)
            images.append(plots.draw_pose(attacked, pred, COCO, color=colors[name], radius=1, thickness=1))
            titles.append(f"{name}: {target} {filler}")
            labelled = joints[:, 2] > 0
            err = np.linalg.norm(pred[:, :2] - joints[:, :2], axis=1)[labelled]
            rows.append({"person": i, "attack": f"{target}/{filler}", "model": name,
                         "mean_error_px": float(err.mean()) if err.size else np.nan})
    fig = plots.image_grid(images, titles, ncols=4)
    fig.suptitle(f"Fig. 14: baseline (red) and PartMix (blue) predictions on attacked crops ({_subtitle(params)})")
    return fig, pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------------ tables


def _bootstrap_runs(params: Params, df: pd.DataFrame, baseline_run: str, boxes: str,
                    predictions: Callable[[str], Path] | None = None) -> dict[str, dict[str, Any]]:
    """Paired bootstrap (images) of every run's main model (its first seed) against the baseline's on ``boxes``;
    Holm over them. ``predictions(run)`` is a run's COCO results file (default: its main model's on ``boxes``).

    Values in AP points: ``ci_low``/``ci_high`` bound the difference (run minus baseline).
    """
    from .splits import dataset_paths
    from .stats import holm, paired_bootstrap_ap

    predictions = predictions or (lambda run: _main_predictions(df, run) / f"{boxes}.json")
    ann = repo_root() / dataset_paths(params, "coco").val_annotations
    base = predictions(baseline_run)
    stats: dict[str, dict[str, Any]] = {}
    for run in df.loc[df.boxes == boxes, "run"].unique():
        if run == baseline_run:
            continue
        pred = predictions(run)
        res = paired_bootstrap_ap(str(ann), str(base), str(pred), n_resamples=params.eval.bootstrap_resamples, seed=0)
        stats[run] = {"ci_low": 100 * res.ci_low, "ci_high": 100 * res.ci_high, "p_value": res.p_value}
    if stats:
        adjusted, reject = holm([s["p_value"] for s in stats.values()])
        for s, p, r in zip(stats.values(), adjusted, reject):
            s.update(p_holm=float(p), significant=bool(r))
    return stats


def _with_bootstrap(params: Params, df: pd.DataFrame, baseline_run: str, boxes: str,
                    predictions: Callable[[str], Path] | None = None) -> pd.DataFrame:
    """``df`` with the bootstrap columns of :func:`_bootstrap_runs` on its runs."""
    stats = _bootstrap_runs(params, df, baseline_run, boxes, predictions)
    boot = pd.DataFrame.from_dict(stats, orient="index").rename_axis("run").reset_index()
    return df.merge(boot, on="run", how="left") if not boot.empty else df


def _table1(params: Params, paths: list[Path]):
    df = _read_evaluated(paths[0])
    df = _with_bootstrap(params, df, "coco_hrnet_half_body", TABLE_BOXES)
    df = df[df.boxes == TABLE_BOXES]
    return None, plots.table1(df.drop(columns=["run"]), boxes=TABLE_BOXES, model="hrnet")


def _pckh_correct(params: Params, df: pd.DataFrame, run: str) -> tuple[np.ndarray, np.ndarray]:
    from .splits import load_split

    records = load_split(params, "mpii", "val").records
    preds = np.load(_main_predictions(df, run) / "gt.npz")["preds"]
    gt = np.stack([r.joints for r in records])
    head = np.array([r.head_box for r in records], dtype=np.float32)
    size = 0.6 * np.linalg.norm(head[:, 2:] - head[:, :2], axis=1)
    dist = np.linalg.norm(preds - gt[..., :2], axis=2) / size[:, None]
    return dist <= 0.5, gt[..., 2] > 0


def _table2(params: Params, paths: list[Path]):
    from .stats import bootstrap_pckh, holm

    df = _read_evaluated(paths[0], ("flip_rot_scale", *COCO_PRESETS[1:]))
    base_run = "mpii_hrnet_flip_rot_scale"
    base_correct, visible = _pckh_correct(params, df, base_run)
    stats = {}
    for run in df.run.unique():
        if run == base_run:
            continue
        correct, _ = _pckh_correct(params, df, run)
        res = bootstrap_pckh(base_correct, correct, visible, n_resamples=params.eval.bootstrap_resamples, seed=0)
        stats[run] = {"ci_low": res.ci_low, "ci_high": res.ci_high, "p_value": res.p_value}
    adjusted, reject = holm([s["p_value"] for s in stats.values()])
    for (run, s), p, r in zip(stats.items(), adjusted, reject):
        s.update(p_holm=float(p), significant=bool(r))
    df = df.merge(pd.DataFrame.from_dict(stats, orient="index").rename_axis("run").reset_index(), on="run", how="left")
    return None, plots.table2(df.drop(columns=["run"]), baseline="flip_rot_scale")


TABLE3_INPUTS = ("results/eval_bottomup", "results/predictions_bottomup")
"""The bottom-up evaluate stages' outputs: ``<run>.csv`` and the COCO results ``<run>.json`` of each run."""


def _table3(params: Params, paths: list[Path]):
    """Table III: every run of ``bottomup.runs`` beside the paper's rows, each with the paired image bootstrap of
    its AP difference to ``bottomup.baseline`` (Holm over the runs)."""
    bu = params.bottomup
    eval_dir, pred_dir = paths
    df = _read([eval_dir / f"{run}.csv" for run in bu.runs])
    df = _with_bootstrap(params, df, bu.baseline, "none", predictions=lambda run: pred_dir / f"{run}.json")
    base = bu.runs[bu.baseline]
    table = plots.table3(df.drop(columns=["run"]), baseline=base.preset, boxes="none")
    how = (f"the official checkpoint {base.checkpoint}" if base.source == "checkpoint"
           else "trained here, with the recipe of the other rows")
    table.attrs["caption"] += f" Our baseline row ({bu.baseline}): {how}."
    return None, table


# --------------------------------------------------------------------------------------------------- registry

FIGURES: dict[str, FigureSpec] = {
    "fig01_attacks": FigureSpec("Fig. 1: attacks on one crop", ("{data}",), ("data", "models", "attack"), _fig01),
    "fig03_models": FigureSpec("Fig. 3: HRNet vs SimpleBaseline under attack",
                               _attack_with_boot("hrnet", "sb"), ("attack",),
                               _fig03),
    "fig04_radius": FigureSpec("Fig. 4: radius sweep", _attack_with_boot("hrnet"), ("attack",),
                               _fig04),
    "fig05_keypoints": FigureSpec("Fig. 5: keypoint targets", (_attack("hrnet"),), ("attack",), _fig05),
    "fig06_keypoint_detail": FigureSpec("Fig. 6: per-keypoint ΔAP of keypoint attacks",
                                        (_attack("hrnet"),), ("attack",), _fig06),
    "fig07_parts": FigureSpec("Fig. 7: part targets", (_attack("hrnet"),), ("attack",), _fig07),
    "fig08_part_detail": FigureSpec("Fig. 8: per-keypoint ΔAP of part attacks", (_attack("hrnet"),),
                                    ("attack",), _fig08),
    "fig09_augmentations": FigureSpec("Fig. 9: augmentations on one crop", ("{data}",),
                                      ("data", "models", *(f"augs.{p}" for p in FIG9_PRESETS.values())), _fig09),
    "fig10_boxes": _boxes_spec("Fig. 10: clean AP per box source", "fig10", "hrnet", "coco_hrnet_half_body",
                               COCO_PRESETS),
    "fig11_augmented_attacks": FigureSpec("Fig. 11: augmented models under attack", ("results/attack/hrnet",),
                                          ("attack",), _fig11),
    "fig12_boxes_hires": _boxes_spec("Fig. 12: higher-resolution HRNet per box source", "fig12", "hrnethr",
                                     "coco_hrnethr_half_body", COCO_PRESETS),
    "fig13_boxes_simplebaseline": _boxes_spec("Fig. 13: SimpleBaseline per box source", "fig13", "sb",
                                              "coco_sb_flip_rot_scale", ("flip_rot_scale", *COCO_PRESETS[1:])),
    "fig14_qualitative": FigureSpec("Fig. 14: baseline vs PartMix predictions",
                                    ("runs/coco_hrnet_half_body", "runs/coco_hrnet_partmix_05_keep", "{data}"),
                                    ("data", "models.hrnet", "runs.coco_hrnet_half_body",
                                     "runs.coco_hrnet_partmix_05_keep"), _fig14),
    "table1": FigureSpec("Table I: training variants on detector boxes", _evaluated("hrnet"),
                         ("data", "eval"), _table1, table=True),
    "table2": FigureSpec("Table II: MPII PCKh@0.5", _evaluated("hrnet_mpii"), ("data", "eval"), _table2, table=True),
    "table3": FigureSpec("Table III: HigherHRNet (bottom-up) variants", TABLE3_INPUTS,
                         ("data", "eval", "bottomup.runs", "bottomup.baseline"), _table3, table=True),
}


def inputs_of(name: str, params: Params) -> list[Path]:
    return [repo_root() / p.replace("{data}", params.data.root) for p in FIGURES[name].inputs]


def make(name: str) -> Output:
    """Build figure or table ``name`` and write it under ``reports/``."""
    from .params import load_params
    from .pipeline import stage_params

    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    spec = FIGURES[name]
    full = load_params()
    params = stage_params(list(spec.keys), full)
    plots.setup_matplotlib()
    figure, data = spec.build(params, inputs_of(name, full))
    out = repo_root() / "reports"
    if spec.table:
        files = list(plots.write_table(data, out / "tables" / name))
    else:
        files = [plots.save_figure(figure, out / "figures" / f"{name}.png", data)]
        files.append(files[0].with_suffix(".csv"))
    inputs = [p for p in inputs_of(name, full) if p.exists()]
    files.append(write_json(files[0].with_suffix(".meta.json"), provenance(
        params_hash=params_hash({k: _lookup(full, k) for k in spec.keys}), data_fingerprint=file_fingerprint(*inputs),
        device="cpu", seed=0, figure=name, inputs=[str(p.relative_to(repo_root())) for p in inputs],
    )))
    return Output(name, data, files, figure)


def _lookup(params: Params, key: str) -> Any:
    value: Any = params
    for part in key.split("."):
        value = value[part] if isinstance(value, Mapping) else getattr(value, part)
    return value


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


def write_report() -> Path:
    """``reports/index.md``: every figure and table of this run, with the profile, data and date it came from."""
    from .pipeline import stage_params

    params = stage_params(["profile", "data", "attack"])
    root = repo_root()
    data_dir = root / params.data.root
    lines = [
        "# Report", "",
        f"- profile: `{params.profile}`",
        f"- data: `{params.data.root}` ({params.data.source}; fingerprint `{file_fingerprint(data_dir)}`)"
        if data_dir.exists() else f"- data: `{params.data.root}`",
        f"- written: {_dt.date.today().isoformat()}", "",
        "Values beside ours labelled *(paper)* are the paper's (REFERENCE_SPEC §6).", "",
    ]
    lines += _verdicts(root / "reports" / "tables")
    metrics: dict[str, Any] = {}
    for name, spec in FIGURES.items():
        lines.append(f"## {spec.title}")
        if spec.table:
            md = root / "reports" / "tables" / f"{name}.md"
            lines += [md.read_text() if md.is_file() else f"*missing: {md.relative_to(root)}*", ""]
        else:
            png = root / "reports" / "figures" / f"{name}.png"
            lines += [f"![{spec.title}](figures/{name}.png)" if png.is_file() else f"*missing: figures/{name}.png*", ""]
    ev = root / "results" / "eval" / "hrnet" / "coco_hrnet_half_body.csv"
    if ev.is_file():
        base = pd.read_csv(ev).groupby("boxes")["AP"].mean()  # over the run's seeds
        metrics["baseline_AP"] = {k: round(float(v), 2) for k, v in base.items()}
    at = root / _attack("hrnet")
    if at.is_file():
        a = pd.read_csv(at)
        at_radius = (a.radius == params.attack.radius) | a.radius.isna()
        a = a[(a.keypoint == "all") & (a.target_kind != "none") & at_radius]
        metrics["worst_attack_delta_AP"] = {f"{r.target}/{r.filler}": round(float(r.delta_AP), 2)
                                           for r in a.nsmallest(3, "delta_AP").itertuples()}
    write_json(root / "reports" / "metrics.json", metrics)
    return write_text(root / "reports" / "index.md", "\n".join(lines) + "\n")
