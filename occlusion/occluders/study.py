"""The ``occluders`` stage's work on one model (docs/METHODS.md §11, §12): object attacks and the worst-case
search on its ground-truth crops, plus the stage's output files (``results/occluders/``)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import write_csv
from ..keypoints import Skeleton
from .bank import load_bank

__all__ = ["occluder_runs", "crop_object_areas", "search_eval_set", "write_study", "OUTPUTS"]

OUTPUTS: tuple[str, ...] = ("object_attacks.csv", "object_vs_baseline.csv", "worstcase.csv", "worstcase_curves.csv",
                            "worstcase_summary.csv", "occluders.meta.json")
"""The stage's files under ``results/occluders/``."""


def occluder_runs(objects: Any, worstcase: Any) -> list[str]:
    """The runs the stage loads: those of ``attack.objects.runs`` then the others of ``worstcase.runs``."""
    runs = list(objects.runs) if objects is not None else []
    return runs + [r for r in (worstcase.runs if worstcase is not None else ()) if r not in runs]


def crop_object_areas(eval_set: Any) -> np.ndarray:
    """Each record's COCO ``area`` (segment area, image px^2) in crop px^2: times ``W / (200 s_x)`` and
    ``H / (200 s_y)``, the crop's pixels per image pixel."""
    height, width = eval_set.crops.shape[1:3]
    scales = eval_set.scales
    area = np.array([r.area for r in eval_set.records], np.float64)
    return area * (width / (200.0 * scales[:, 0])) * (height / (200.0 * scales[:, 1]))


def search_eval_set(model: Any, eval_set: Any, skeleton: Skeleton, cfg: Any, *, flip_test: bool, device: Any,
                    batch_size: int = 128, meta: dict[str, Any] | None = None, **estimator_kw: Any) -> pd.DataFrame:
    """:func:`occlusion.worstcase.search_targets` on the crops of ``eval_set`` with ``model`` (a torch heatmap
    module or any estimator, :func:`occlusion.engine.as_estimator`); rows carry ``meta``, ``image_id``, ``ann_id``
    and the search's ``seconds`` (wall time of the whole search, all targets)."""
    import torch

    from ..engine import as_estimator
    from ..worstcase import search_targets

    estimator = as_estimator(model, eval_set, skeleton, **estimator_kw)

    def predict(crops: torch.Tensor) -> np.ndarray:
        return estimator.predict(crops.to(device), flip_test=flip_test).keypoints

    bank = load_bank(cfg.bank, cfg.bank_seed, cfg.bank_size) if "object" in cfg.fills else None
    t0 = time.perf_counter()
    table = search_targets(predict, eval_set.crops.cpu().numpy(), eval_set.joints, crop_object_areas(eval_set),
                           skeleton, cfg, bank=bank, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    records = eval_set.records
    table.insert(0, "image_id", [records[i].image_id for i in table["person"]])
    table.insert(1, "ann_id", [records[i].ann_id for i in table["person"]])
    for key, value in reversed(list((meta or {}).items())):
        table.insert(0, key, value)
    table["seconds"] = seconds
    return table


def write_study(out_dir: Path, attacks: list[Any], searches: list[pd.DataFrame], cfg: Any) -> dict:
    """Write the stage's tables (:data:`OUTPUTS` but the meta file) from the runs' object-attack results (the first
    is the baseline of ``object_vs_baseline.csv``) and searches; returns the row counts."""
    from ..worstcase import worstcase_curves, worstcase_summary
    from .attack import compare_to_baseline

    attack_table = pd.concat([a.table for a in attacks], ignore_index=True) if attacks else pd.DataFrame(
        columns=["run", "target", "target_kind", "area", "AP", "delta_AP"])
    write_csv(out_dir / "object_attacks.csv", attack_table)
    write_csv(out_dir / "object_vs_baseline.csv", compare_to_baseline(attacks) if len(attacks) > 1 else pd.DataFrame(
        columns=["run", "baseline", "target", "area", "AP_vs_baseline"]))
    search = pd.concat(searches, ignore_index=True) if searches else pd.DataFrame(
        columns=["run", "model", "target", "breaking_area", "queries"])
    write_csv(out_dir / "worstcase.csv", search)
    by = ("run", "model", "target")
    curves = worstcase_curves(search, cfg.areas, by) if len(search) else pd.DataFrame()
    summary = worstcase_summary(search, cfg, by) if len(search) else pd.DataFrame()
    write_csv(out_dir / "worstcase_curves.csv", curves)
    write_csv(out_dir / "worstcase_summary.csv", summary)
    return {"object_attacks": len(attack_table), "searched": len(search)}
