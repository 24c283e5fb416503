"""The work of the ``realocc`` DVC stage (``notebooks/60_realocc.ipynb`` calls
:func:`occlusion.pipeline.realocc_stage`): every COCO run's main model on OCHuman, CrowdPose and COCO val's occlusion
signal (docs/METHODS.md §13). COCO val's predictions are the evaluate stage's (:func:`predictions_file`), not made
again.

Writes under ``results/realocc/``: ``metrics.csv`` (AP per run, benchmark and box source; CrowdPose with AP easy /
medium / hard), ``keypoints.csv`` (COCO val: per-keypoint OKS and PCK of ``v=1`` and ``v=2`` labels), ``overlap.csv``
(COCO val AP by overlap bin), ``boot.npz`` (every headline metric of every run in the same image-bootstrap
resamples), ``gt/`` (the scored ground truths), ``metrics.json`` and ``meta.json``. Predictions are not kept (on
the paper profile they would be about 25 MB a run).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import PersonRecord
from ..io import file_fingerprint, provenance, write_csv, write_json, write_npz
from ..keypoints import COCO
from ..params import Params, params_hash, repo_root
from .config import coco_runs
from .crowding import CROWD_LEVELS, crowd_level
from .datasets import RealSplit, load_real_detections, load_real_split
from .scoring import (
    accuracy_by_visibility,
    ap_by_overlap,
    coco_results,
    crowdpose_eval,
    image_sums,
    keypoint_scores,
    resampled_ratio,
    to_crowdpose_results,
)

__all__ = ["OUT", "BOOT_METRICS", "Benchmark", "benchmark_files", "predictions_file", "evaluated_predictions",
           "run_realocc"]

OUT = "results/realocc"
BOOT_METRICS: tuple[str, ...] = ("coco_AP", "ochuman_AP", "crowdpose_hard_AP", "v1_PCK", "v2_PCK", "v1_OKS")
"""The metrics of ``boot.npz`` (key ``<run>__<metric>``, one value per resample, in points)."""


@dataclass
class Benchmark:
    """One evaluation set: its split (scored ground truth, ground-truth-box records) and detector-box records."""

    name: str
    split: RealSplit
    detections: list[PersonRecord] | None


def benchmark_files(params: Params) -> dict[str, tuple[str, str, str | None]]:
    """Benchmark -> (annotations, images, detections or None) under this profile: the generated stand-ins
    (``<data.root>/ochuman``, ``/crowdpose``) or ``realocc.ochuman`` / ``.crowdpose``; COCO is the val split."""
    from ..splits import dataset_paths

    coco = dataset_paths(params, "coco")
    files: dict[str, tuple[str, str, str | None]] = {"coco": (coco.val_annotations, coco.val_images, None)}
    root = repo_root() / params.data.root
    for name in ("ochuman", "crowdpose"):
        given = getattr(params.realocc, name)
        if given is None:
            files[name] = (str(root / name / "annotations" / f"{name}_val.json"), str(root / name / "images"),
                           str(root / name / "detections" / "val_detections.json"))
        else:
            files[name] = (given.annotations, given.images, given.detections)
    return files


def _benchmarks(params: Params, out: Path) -> dict[str, Benchmark]:
    from ..splits import resolve_path

    benches = {}
    for name, (ann, images, dets) in benchmark_files(params).items():
        split = load_real_split(name, resolve_path(ann), resolve_path(images), out / "gt" / f"{name}.json")
        use = dets and params.realocc.detections
        det = load_real_detections(split, resolve_path(dets), params.realocc.image_thre) if use else None
        benches[name] = Benchmark(name, split, det)
    return benches


def predictions_file(params: Params, run_id: str) -> str:
    """The evaluate stage's per-person predictions of run ``run_id``'s main model on COCO val's ground-truth boxes."""
    run = params.runs[run_id]
    return f"results/predictions/{run.model}/{run_id}/seed_{run.seed}/gt.npz"


def evaluated_predictions(params: Params, run_id: str, records: list[PersonRecord]) -> tuple[np.ndarray, np.ndarray]:
    """``(preds, maxvals)`` of :func:`predictions_file`, checked to be of ``records`` (the same people in the same
    order), so COCO val is not predicted twice."""
    path = repo_root() / predictions_file(params, run_id)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no per-person predictions of run {run_id!r} (run its evaluate stage first)")
    with np.load(path, allow_pickle=False) as z:
        preds, maxvals, ann_ids = z["preds"], z["maxvals"], z["ann_ids"]
    if ann_ids.tolist() != [r.ann_id for r in records]:
        raise ValueError(f"{path}: its {len(ann_ids)} people are not COCO val's {len(records)} ground-truth people in "
                         "order (re-run the evaluate stage of the current data)")
    return preds, maxvals


def _model(params: Params, run_id: str, device: Any) -> Any:
    import torch

    from ..models import create_model

    run = params.runs[run_id]
    path = repo_root() / "runs" / run_id / f"seed_{run.seed}" / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trained model for run {run_id!r} (run its train stage first)")
    model = create_model(params.models[run.model].arch, num_joints=COCO.num_joints)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
    return model.to(device).eval()


class _Predictor:
    """Predictions of one model on one benchmark's boxes; the crops of each input size are warped once."""

    def __init__(self, params: Params, device: Any):
        self.params, self.device, self.sets = params, device, {}

    def __call__(self, model: Any, run_id: str, bench: Benchmark, boxes: str
                 ) -> tuple[list[PersonRecord], tuple[np.ndarray, np.ndarray], list[dict[str, Any]]]:
        from .. import engine

        recipe, e = self.params.models[self.params.runs[run_id].model], self.params.eval
        records = bench.split.records if boxes == "gt" else bench.detections
        if bench.name == "coco":  # the evaluate stage's predictions on these very boxes
            preds, maxvals = evaluated_predictions(self.params, run_id, records)
            results = coco_results(records, preds, maxvals, COCO, in_vis_thre=e.in_vis_thre, oks_thre=e.oks_thre)
            return records, (preds, maxvals), results
        key = (bench.name, boxes, tuple(recipe.input_size))
        if key not in self.sets:  # crops of one input size at a time (on a GPU they stay in its memory)
            self.sets = {k: s for k, s in self.sets.items() if k[2] == key[2]}
            gpu = self.device if self.device.type == "cuda" else None
            self.sets[key] = engine.build_eval_set(records, recipe.input_size, name=boxes, dataset="coco", device=gpu)
        preds, maxvals = engine.predict(model, self.sets[key], COCO, color=recipe.color, flip_test=e.flip_test,
                                        shift_heatmap=e.shift_heatmap, post_process=e.post_process,
                                        batch_size=e.batch_size, device=self.device)
        results = coco_results(records, preds, maxvals, COCO, in_vis_thre=e.in_vis_thre, oks_thre=e.oks_thre)
        return records, (preds, maxvals), results


def _score_benchmark(bench: Benchmark, results: list[dict[str, Any]], weights: np.ndarray
                     ) -> tuple[dict[str, float], np.ndarray | None]:
    """The benchmark's metrics (points) and the resamples of its headline AP (OCHuman, COCO: AP; CrowdPose: AP
    hard) under image multiplicities ``weights``."""
    from ..evaluate import coco_keypoint_evaluator
    from ..stats import match_table_of, metric_from_weights

    if bench.name == "crowdpose":
        res14 = to_crowdpose_results(results)
        tables: dict[str, Any] = {}
        metrics = crowdpose_eval(bench.split.annotations, res14, tables)
        present = {crowd_level(ci) for ci in bench.split.crowd_index().values()}
        metrics |= {f"AP_{level}": np.nan for level, _ in CROWD_LEVELS if level not in present}  # xtcocotools: -100
        table = tables.get("hard")
        if table is None:
            return metrics, None
        index = {int(i): n for n, i in enumerate(bench.split.image_ids)}
        hard = weights[:, [index[int(i)] for i in table.image_ids]]
        return metrics, 100.0 * metric_from_weights(table, hard)
    stats, ev = coco_keypoint_evaluator(bench.split.annotations, results, sigmas=COCO.sigmas)
    metrics = {m: 100.0 * stats[m] for m in ("AP", "AP50", "AP75", "AR")}
    if ev is None:
        return metrics, None
    table = match_table_of(ev)
    if not np.array_equal(table.image_ids, bench.split.image_ids):
        raise RuntimeError(f"{bench.name}: the evaluation did not run on every ground-truth image")
    return metrics, 100.0 * metric_from_weights(table, weights)


def _coco_signal(params: Params, bench: Benchmark, records: list[PersonRecord], predicted: tuple[np.ndarray, ...],
                 weights: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """COCO val's own occlusion signal: keypoint accuracy by visibility, AP by overlap, and the resamples of the
    ``v=1`` / ``v=2`` accuracies."""
    preds, maxvals = predicted
    oks, hit, v = keypoint_scores(records, preds, COCO.sigmas, params.realocc.pck_alpha)
    acc = accuracy_by_visibility(oks, hit, v, COCO.names)
    e = params.eval
    overlap = ap_by_overlap(bench.split.data, records, preds, maxvals, COCO, in_vis_thre=e.in_vis_thre,
                            oks_thre=e.oks_thre)
    images = np.array([r.image_id for r in records])
    boot = {}
    for vis in (1, 2):
        total, count = image_sums(hit.astype(float), v == vis, images, bench.split.image_ids)
        boot[f"v{vis}_PCK"] = resampled_ratio(total, count, weights)
    total, count = image_sums(oks, v == 1, images, bench.split.image_ids)
    boot["v1_OKS"] = resampled_ratio(total, count, weights)
    return acc, overlap, boot


def _evaluate_run(params: Params, run_id: str, benches: dict[str, Benchmark], predictor: _Predictor,
                  weights: dict[str, np.ndarray], device: Any) -> tuple[list[dict], list, list, dict]:
    run = params.runs[run_id]
    model = _model(params, run_id, device)
    base = {"run": run_id, "model": run.model, "preset": run.preset, "arch": params.models[run.model].arch}
    rows, acc, overlap, boot = [], [], [], {}
    for bench in benches.values():
        for boxes in ("gt", "detector") if bench.detections else ("gt",):
            records, predicted, results = predictor(model, run_id, bench, boxes)
            metrics, samples = _score_benchmark(bench, results, weights[bench.name])
            rows.append({**base, "benchmark": bench.name, "boxes": boxes, "n_persons": len(records), **metrics})
            if boxes != "gt":
                continue
            key = {"coco": "coco_AP", "ochuman": "ochuman_AP", "crowdpose": "crowdpose_hard_AP"}[bench.name]
            boot[f"{run_id}__{key}"] = np.full(len(weights[bench.name]), np.nan) if samples is None else samples
            if bench.name == "coco":
                a, o, b = _coco_signal(params, bench, records, predicted, weights["coco"])
                acc.append(a.assign(**base))
                overlap.append(o.assign(**base))
                boot |= {f"{run_id}__{k}": s for k, s in b.items()}
    return rows, acc, overlap, boot


def run_realocc(params: Params) -> pd.DataFrame:
    """Evaluate every COCO run's main model on the real-occlusion benchmarks and write ``results/realocc/``
    (``params``: the stage's declared view)."""
    from ..progress import progress_bar
    from ..runtime import resolve_device
    from ..stats import resample_weights

    out = repo_root() / OUT
    t0 = time.perf_counter()
    device = resolve_device(params.device)
    benches = _benchmarks(params, out)
    n_boot = params.realocc.bootstrap_resamples
    weights = {name: resample_weights(len(b.split.image_ids), n_boot, 0) for name, b in benches.items()}
    predictor = _Predictor(params, device)
    rows, acc, overlap, boot = [], [], [], {}
    runs = sorted(coco_runs(params), key=lambda r: tuple(params.models[params.runs[r].model].input_size))
    for run_id in progress_bar(runs, desc="realocc"):
        r, a, o, b = _evaluate_run(params, run_id, benches, predictor, weights, device)
        rows, acc, overlap, boot = rows + r, acc + a, overlap + o, boot | b
    table = pd.DataFrame(rows)
    write_csv(out / "metrics.csv", table)
    write_csv(out / "keypoints.csv", pd.concat(acc, ignore_index=True))
    write_csv(out / "overlap.csv", pd.concat(overlap, ignore_index=True))
    write_npz(out / "boot.npz", **boot)
    headline = table[table.boxes == "gt"].pivot(index="run", columns="benchmark", values="AP")
    write_json(out / "metrics.json", {run: {b: round(float(v), 2) for b, v in row.items()}
                                      for run, row in headline.iterrows()})
    write_json(out / "meta.json", provenance(
        params_hash=params_hash(params.realocc), device=str(device), seed=0,
        data_fingerprint=file_fingerprint(*(b.split.annotations for b in benches.values())),
        seconds=round(time.perf_counter() - t0, 1), bootstrap_resamples=n_boot,
        persons={name: len(b.split.records) for name, b in benches.items()},
    ))
    return table
