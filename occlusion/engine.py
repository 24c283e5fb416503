"""The batched evaluation engine: decode and warp validation crops once, attack whole batches on the device,
run the model with flip test, and score with pycocotools (COCO) or PCKh (MPII).

Every model in a comparison sees exactly the same pixels: the crops are cached, and an attack's region is
computed from the ground-truth keypoints of each crop, not drawn at random.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .attacks import AttackSpec, occlude_batch
from .data import IMAGENET_MEAN, IMAGENET_STD, PersonRecord, build_crops, load_or_build_crops
from .evaluate import coco_keypoint_eval, get_final_preds, per_keypoint_table, pckh, predict_heatmaps, to_coco_results
from .keypoints import Skeleton

__all__ = [
    "EvalSet", "build_eval_set", "normalize_batch", "predict", "score", "attack_table", "with_deltas", "METRICS",
    "PCKH_METRICS",
]

METRICS: tuple[str, ...] = ("AP", "AP50", "AP75", "APM", "APL", "AR")
PCKH_METRICS: tuple[str, ...] = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")
_INV255 = torch.tensor(1 / 255.0, dtype=torch.float32)
_MEAN = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)
_STD = torch.tensor(IMAGENET_STD, dtype=torch.float32)


@dataclass
class EvalSet:
    """Validation person crops of one box source (``"gt"`` or a detector name), decoded and warped once."""

    name: str
    dataset: str
    records: list[PersonRecord]
    crops: torch.Tensor
    """uint8 (N, H, W, 3), RGB."""
    joints: np.ndarray
    """(N, K, 3) ground-truth keypoints in crop pixels (zeros for detector boxes)."""
    coco_gt: Any = None

    def __len__(self) -> int:
        return len(self.records)

    @property
    def centers(self) -> np.ndarray:
        return np.stack([r.center for r in self.records]).astype(np.float32)

    @property
    def scales(self) -> np.ndarray:
        return np.stack([r.scale for r in self.records]).astype(np.float32)


def build_eval_set(
    records: Sequence[PersonRecord],
    input_size: tuple[int, int],
    *,
    name: str = "gt",
    dataset: str = "coco",
    coco_gt: Any = None,
    cache_file: str | Path | None = None,
    device: torch.device | str | None = None,
) -> EvalSet:
    """Warp every record's test crop (cached in ``cache_file`` when given).

    With a ``device``, each image is decoded once and all its crops are warped there in one batched
    ``grid_sample`` (:func:`occlusion.warp.build_crops_batched`, within one intensity level of OpenCV), and the
    crops stay on that device; this is the GPU path (it bypasses the CPU crop cache).
    """
    if not records:
        raise ValueError(f"evaluation set {name!r} has no person boxes")
    if device is not None:
        from .warp import build_crops_batched

        crops, joints = build_crops_batched(list(records), input_size, device=device)
        return EvalSet(name, dataset, list(records), crops, joints, coco_gt)
    if cache_file is None:
        crops, joints = build_crops(list(records), input_size)
    else:
        crops, joints = load_or_build_crops(list(records), input_size, cache_file)
    return EvalSet(name, dataset, list(records), torch.from_numpy(np.ascontiguousarray(crops)), joints, coco_gt)


def normalize_batch(crops: torch.Tensor, color: str = "rgb") -> torch.Tensor:
    """uint8 (N, H, W, 3) RGB crops to ImageNet-normalised float (N, 3, H, W), channel order ``color``.

    Bit for bit :func:`occlusion.data.normalize` of each crop in that channel order, as in training: the
    constants are applied in the crop's channel order (HRNet normalises its BGR models' crops with the RGB
    mean and std too, so blue gets 0.485).
    """
    if color not in ("rgb", "bgr"):
        raise ValueError(f"color = {color!r}: expected 'rgb' or 'bgr'")
    x = crops.permute(0, 3, 1, 2).float()
    if color == "bgr":
        x = x.flip(1)
    mean, std = _MEAN.to(x.device)[:, None, None], _STD.to(x.device)[:, None, None]
    return (x * _INV255.to(x.device) - mean) / std


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    eval_set: EvalSet,
    skeleton: Skeleton,
    *,
    spec: AttackSpec | None = None,
    color: str = "rgb",
    flip_test: bool = True,
    shift_heatmap: bool = True,
    post_process: bool = True,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    amp_dtype: torch.dtype | None = None,
    progress: bool = False,
    clean: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Image-space predictions ``(preds (N, K, 2), maxvals (N, K, 1))`` of ``model`` on the (attacked) crops.

    With ``clean`` (this function's output without ``spec``), crops that the attack leaves unchanged (target
    unlabelled, or skipped by the bounds check) take their clean prediction instead of a forward pass.
    """
    device = torch.device(device)
    torch.set_flush_denormal(True)  # see train.flush_denormals
    model.eval()
    centers, scales = eval_set.centers, eval_set.scales
    joints = torch.from_numpy(eval_set.joints)
    preds, maxvals = [], []

    def _forward(net: torch.nn.Module, crops: torch.Tensor, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = normalize_batch(crops, color).contiguous(memory_format=torch.channels_last)
        heatmaps = predict_heatmaps(
            net, x, skeleton.flip_pairs, flip_test=flip_test, shift_heatmap=shift_heatmap, autocast_dtype=amp_dtype
        )
        return get_final_preds(heatmaps.float().cpu().numpy(), centers[rows], scales[rows], post_process=post_process)

    starts = range(0, len(eval_set), batch_size)
    for s in tqdm(starts, desc=f"predict {spec.target if spec else 'clean'}", disable=not progress, leave=False):
        crops = eval_set.crops[s : s + batch_size].to(device, non_blocking=True)
        rows = np.arange(s, s + len(crops))
        if spec is not None and spec.target_kind != "none":
            attacked = occlude_batch(crops, joints[s : s + batch_size], spec, skeleton)
            if clean is not None:
                changed = (attacked != crops).flatten(1).any(1).cpu().numpy()
                p, m = clean[0][rows].copy(), clean[1][rows].copy()
                if changed.any():
                    p[changed], m[changed] = _forward(model, attacked[torch.from_numpy(changed).to(device)],
                                                      rows[changed])
                preds.append(p)
                maxvals.append(m)
                continue
            crops = attacked
        p, m = _forward(model, crops, rows)
        preds.append(p)
        maxvals.append(m)
    return np.concatenate(preds), np.concatenate(maxvals)


def score(
    eval_set: EvalSet,
    preds: np.ndarray,
    maxvals: np.ndarray,
    skeleton: Skeleton,
    *,
    in_vis_thre: float = 0.2,
    oks_thre: float = 0.9,
    per_keypoint: bool = False,
) -> dict[str, dict[str, float]]:
    """Metrics in points (0-100): ``{"all": {...}}`` plus one entry per keypoint when ``per_keypoint`` (COCO)."""
    if eval_set.dataset == "mpii":
        gt = np.stack([r.joints for r in eval_set.records])
        head_boxes = np.array([r.head_box for r in eval_set.records], dtype=np.float32)
        return {"all": {k: float(v) for k, v in pckh(preds, gt[..., :2], gt[..., 2] > 0, head_boxes).items()}}
    results = to_coco_results(
        preds, maxvals, eval_set.centers, eval_set.scales,
        np.array([r.score for r in eval_set.records], dtype=np.float32),
        np.array([r.image_id for r in eval_set.records]),
        in_vis_thre=in_vis_thre, oks_thre=oks_thre, sigmas=skeleton.sigmas,
    )
    out = {"all": _points(coco_keypoint_eval(eval_set.coco_gt, results, sigmas=skeleton.sigmas))}
    if per_keypoint:
        for name, stats in per_keypoint_table(eval_set.coco_gt, results, skeleton.names).items():
            out[name] = _points(stats)
    return out


def _points(stats: dict[str, float]) -> dict[str, float]:
    return {m: 100.0 * float(stats[m]) for m in METRICS}


def attack_table(
    model: torch.nn.Module,
    eval_set: EvalSet,
    grid: Iterable[AttackSpec],
    skeleton: Skeleton,
    *,
    per_keypoint_targets: Sequence[str] = (),
    meta: dict[str, Any] | None = None,
    in_vis_thre: float = 0.2,
    oks_thre: float = 0.9,
    progress: bool = True,
    **predict_kw: Any,
) -> pd.DataFrame:
    """Run every attack of ``grid`` and return the tidy attack table (one row per attack and evaluated keypoint)."""
    rows = []
    grid = list(grid)
    clean = predict(model, eval_set, skeleton, **predict_kw)
    for spec in tqdm(grid, desc=f"attacks ({eval_set.name} boxes)", disable=not progress):
        preds, maxvals = clean if spec.target_kind == "none" else predict(
            model, eval_set, skeleton, spec=spec, clean=clean, **predict_kw)
        wanted = spec.target_kind == "none" or spec.target in per_keypoint_targets
        metrics = score(eval_set, preds, maxvals, skeleton, in_vis_thre=in_vis_thre, oks_thre=oks_thre,
                        per_keypoint=wanted and bool(per_keypoint_targets))
        for keypoint, values in metrics.items():
            rows.append({
                **(meta or {}),
                "dataset": eval_set.dataset,
                "boxes": eval_set.name,
                "target": "clean" if spec.target_kind == "none" else spec.target,
                "target_kind": spec.target_kind,
                "filler": "none" if spec.target_kind == "none" else spec.filler,
                "radius": spec.radius if spec.target_kind == "keypoint" else np.nan,
                "paper_bounds": spec.paper_bounds,
                "keypoint": keypoint,
                **values,
            })
    return with_deltas(pd.DataFrame(rows))


def with_deltas(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``clean_<m>`` and ``delta_<m>`` (attacked minus clean, same evaluated keypoint) for every metric.

    The metrics are COCO's :data:`METRICS` or, for an MPII table, :data:`PCKH_METRICS`.
    """
    clean = table[table.target == "clean"]
    if clean.empty:
        raise ValueError("attack table has no clean rows to compare against")
    clean = clean.drop_duplicates("keypoint").set_index("keypoint")
    out = table.copy()
    for m in METRICS if "AP" in table else PCKH_METRICS:
        out[f"clean_{m}"] = out["keypoint"].map(clean[m])
        out[f"delta_{m}"] = out[m] - out[f"clean_{m}"]
    return out
