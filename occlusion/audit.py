"""``occlusion audit``: the occlusion scorecard of any pose model on a COCO-format dataset.

A model (any :class:`~occlusion.estimators.PoseEstimator`, usually from a spec file,
:func:`~occlusion.estimators.load_estimator`), a COCO keypoint annotation file and its image folder, optionally a
COCO detection results file, and an attack grid (:class:`~occlusion.attacks.AttackGridConfig`). Everything is
checked before the first pass (loading the model runs a probe batch at its declared input size through its codec;
then the model's keypoints against the annotation file's, and the files). Attacks run on ground-truth boxes
(they need the person's keypoints); detections only add a clean AP.

Writes to the output folder: ``attack_table.csv`` (the pipeline's attack-table columns, with bootstrap
intervals) and ``attack_table.boot.npz``, ``awareness.json`` (:mod:`occlusion.awareness`), ``audit.json`` (what
ran, clean AP, timings) and the one-page ``scorecard.md`` / ``scorecard.png`` (:mod:`occlusion.scorecard`).
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .attacks import AttackGridConfig, attack_grid
from .awareness import AwarenessCollector
from .config import to_dict
from .data import read_json
from .estimators import EstimatorError, PoseEstimator, canonical_keypoint
from .keypoints import COCO

__all__ = ["dataset_keypoints", "run_audit"]


def dataset_keypoints(annotations: str | Path) -> tuple[str, ...]:
    """The keypoint names of the person category of a COCO annotation file (COCO's own if it names none)."""
    data = read_json(Path(annotations), "COCO annotation file")
    for cat in data.get("categories", []) if isinstance(data, dict) else []:
        if cat.get("id") == 1 and cat.get("keypoints"):
            return tuple(cat["keypoints"])
    return COCO.names


def _check_inputs(estimator: PoseEstimator, annotations: Path, images: Path, detections: Path | None) -> None:
    names = dataset_keypoints(annotations)
    ours = [canonical_keypoint(n) for n in COCO.names]
    if [canonical_keypoint(n) for n in names] != ours:
        raise ValueError(f"{annotations}: the person category's keypoints {list(names)} are not COCO-17's "
                         f"({', '.join(ours)}): the attacks' part tables are COCO's")
    estimator.check_compatible(names, estimator.info.input_size, where=f"dataset {annotations.name}")
    if not images.is_dir():
        raise FileNotFoundError(f"image folder {images} not found")
    if detections is not None and not detections.is_file():
        raise FileNotFoundError(f"detection file {detections} not found")


def run_audit(
    estimator: PoseEstimator, annotations: str | Path, images: str | Path, out_dir: str | Path, *,
    grid: AttackGridConfig = AttackGridConfig(), detections: str | Path | None = None, name: str | None = None,
    flip_test: bool | None = None, batch_size: int = 64, device: str = "cpu", max_persons: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Audit ``estimator`` (see the module doc) and write the outputs to ``out_dir``; returns ``audit.json``'s
    content. ``flip_test`` defaults to what the model supports; ``max_persons`` keeps the first persons only."""
    from . import engine
    from .data import load_coco_records
    from .io import write_csv, write_json
    from .scorecard import write_paper_figures, write_scorecard

    annotations, images, out = Path(annotations), Path(images), Path(out_dir)
    detections = Path(detections) if detections is not None else None
    _check_inputs(estimator, annotations, images, detections)
    flip = estimator.info.flip_test if flip_test is None else flip_test
    if flip and not estimator.info.flip_test:
        raise EstimatorError(estimator.source, "flip_test", "asked for, but the model does not support it",
                             "no --flip-test for this model")
    grid = replace(grid, dataset="coco")
    records = load_coco_records(annotations, images)[:max_persons]
    gpu = torch.device(device) if torch.device(device).type == "cuda" else None
    eval_set = engine.build_eval_set(records, estimator.info.input_size, coco_gt=annotations, device=gpu)
    name = name or estimator.info.name
    collector = AwarenessCollector(eval_set.joints, COCO, estimator.info.input_size)
    kw = dict(flip_test=flip, batch_size=batch_size, device=device)
    t0 = time.perf_counter()
    result = engine.run_attack_grid(
        estimator, eval_set, attack_grid(grid), COCO, per_keypoint_targets=grid.per_keypoint_targets,
        meta={"run": name, "model": estimator.info.name, "preset": "audit", "seed": 0},
        bootstrap_resamples=grid.bootstrap_resamples, on_predictions=collector, progress=progress, **kw)
    seconds = time.perf_counter() - t0
    clean = {"gt": float(result.table.query("target == 'clean' and keypoint == 'all'")["AP"].iloc[0])}
    if detections is not None:
        det_set = engine.build_eval_set(load_coco_records(annotations, images, detections=detections),
                                        estimator.info.input_size, name="detections", coco_gt=annotations, device=gpu)
        preds, scores = engine.predict(estimator, det_set, COCO, progress=progress, **kw)
        clean["detections"] = engine.score(det_set, preds, scores, COCO)["all"]["AP"]
    awareness = collector.report()
    n_passes = len(attack_grid(grid))
    summary = {"name": name, "model": estimator.source, "metadata": _jsonable(vars(estimator.info)),
               "annotations": str(annotations), "images": str(images),
               "detections": None if detections is None else str(detections), "persons": len(eval_set),
               "flip_test": flip, "device": device, "attacks": n_passes - 1, "clean_AP": clean,
               "bootstrap_resamples": grid.bootstrap_resamples, "seconds": round(seconds, 1),
               "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "grid": _jsonable(to_dict(grid))}
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "attack_table.csv", result.table)
    result.bootstrap.write(out / "attack_table.boot.npz")
    write_json(out / "awareness.json", _jsonable(awareness))
    summary["figures"] = write_paper_figures(out, grid, estimator.info.name, f"{name}, {annotations.name}")
    write_json(out / "audit.json", summary)
    write_scorecard(result.table, awareness, summary, out)
    return summary


def _jsonable(obj: Any) -> Any:
    """Tuples as lists, NaN as None, numpy scalars as Python numbers (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def grid_config(grid_file: str | Path | None = None, **fields: Any) -> AttackGridConfig:
    """An :class:`AttackGridConfig` from a YAML mapping of its fields (``params.yaml``'s ``attack:`` keys) and
    ``fields`` given on the command line (None: not given); keypoint names in either spelling (``left_eye``,
    ``l_eye``). Errors name the key path (``grid.fillers[0] = ...``)."""
    from .config import from_dict, load_yaml

    data = load_yaml(grid_file) if grid_file is not None else {}
    data.update({k: v for k, v in fields.items() if v is not None})
    spelling = {canonical_keypoint(n): n for n in COCO.names}
    for key in ("keypoints", "sweep_keypoints", "per_keypoint_targets"):
        if isinstance(data.get(key), (list, tuple)):
            data[key] = [spelling.get(canonical_keypoint(str(v)), v) for v in data[key]]
    return from_dict(AttackGridConfig, data, "grid")


def load_model(model: str, settings: list[str], *, device: str = "cpu") -> PoseEstimator:
    """The estimator of ``occlusion audit MODEL --set KEY=VALUE ...``: a spec file (the settings override its
    fields) or an estimator kind with the settings as its spec; values are parsed as YAML."""
    import yaml

    from .estimators import load_estimator

    extra: dict[str, Any] = {"device": device}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected KEY=VALUE (a model spec field and its YAML value)")
        extra[key.strip()] = yaml.safe_load(value)
    path = Path(model)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return load_estimator(path, **extra)
    return load_estimator({"kind": model, **extra})
