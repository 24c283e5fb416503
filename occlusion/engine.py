"""The batched evaluation engine: decode and warp validation crops once, attack whole batches on the device,
run the model with flip test, and score with pycocotools (COCO) or PCKh (MPII).

Every model in a comparison sees exactly the same pixels: the crops are cached, and an attack's region is
computed from the ground-truth keypoints of each crop, not drawn at random.

On COCO, :func:`run_attack_grid` also scores every attack on the same image-bootstrap resamples
(:class:`AttackBootstrap`): the interval of each attack's ΔAP, and of any difference between attacks or between
models evaluated on the same validation set, is a paired bootstrap (:mod:`occlusion.stats`).

Under ``torchrun`` (an initialised ``torch.distributed`` process group, ``distributed=True``), :func:`predict`
shards whole batches across ranks and :func:`run_attack_grid` shards the attacks (rank ``r`` runs
``grid[r::world]``); every rank gets the gathered result, equal to the single-process one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np
import pandas as pd
import torch

from .attacks import AttackSpec, occlude_batch
from .data import IMAGENET_MEAN, IMAGENET_STD, PersonRecord, build_crops, head_boxes_of, load_or_build_crops
from .estimators import HeatmapCodec, PoseEstimator, TorchEstimator, module_estimator_info
from .evaluate import (
    coco_keypoint_evaluator,
    load_coco_gt,
    pckh,
    per_keypoint_evaluators,
    to_coco_results,
    transform_preds,
)
from .io import write_npz
from .keypoints import Skeleton
from .progress import progress_bar
from .stats import match_table_of, mean_interval, metric_from_weights, resample_weights

__all__ = [
    "EvalSet", "build_eval_set", "normalize_batch", "predict", "score", "attack_table", "run_attack_grid",
    "AttackResult", "AttackBootstrap", "with_deltas", "METRICS", "PCKH_METRICS", "CONFIG_COLUMNS",
    "INTERVAL_COLUMNS", "as_estimator",
]

METRICS: tuple[str, ...] = ("AP", "AP50", "AP75", "APM", "APL", "AR")
PCKH_METRICS: tuple[str, ...] = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")
CONFIG_COLUMNS: tuple[str, ...] = ("target", "target_kind", "filler", "radius", "paper_bounds")
"""The attack-table columns that identify an attack (with ``keypoint == "all"``, one row per attack)."""
INTERVAL_COLUMNS: tuple[str, ...] = ("delta_AP_ci_low", "delta_AP_ci_high", "delta_AP_p")
"""Paired image-bootstrap interval and two-sided p-value of attacked minus clean overall AP (COCO tables)."""
T = TypeVar("T")
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


def as_estimator(
    model: torch.nn.Module | PoseEstimator, eval_set: EvalSet, skeleton: Skeleton, *, color: str = "rgb",
    shift_heatmap: bool = True, post_process: bool = True, amp_dtype: torch.dtype | None = None,
) -> PoseEstimator:
    """``model`` as the estimator :func:`predict` runs: a :class:`~occlusion.estimators.PoseEstimator` is checked
    against the crops (its keypoints must be ``skeleton``'s, its input the crops' size) and returned; a torch
    module is a heatmap model (:class:`~occlusion.estimators.TorchEstimator`, the registry models' path) with
    ImageNet normalisation in ``color`` order and HRNet's decoding."""
    h, w = eval_set.crops.shape[1:3]
    if isinstance(model, PoseEstimator):
        model.check_compatible(skeleton.names, (w, h), where=f"{skeleton.name} evaluation set")
        return model
    info = module_estimator_info(type(model).__name__, (w, h), skeleton.name, color)
    return TorchEstimator(model, info, HeatmapCodec(post_process, shift_heatmap), amp_dtype=amp_dtype)


@torch.no_grad()
def predict(
    model: torch.nn.Module | PoseEstimator,
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
    distributed: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Image-space predictions ``(preds (N, K, 2), maxvals (N, K, 1))`` of ``model`` on the (attacked) crops:
    a torch heatmap module or any :class:`~occlusion.estimators.PoseEstimator` (:func:`as_estimator`).

    With ``clean`` (this function's output without ``spec``), crops that the attack leaves unchanged (target
    unlabelled, or skipped by the bounds check) take their clean prediction instead of a forward pass.
    With ``distributed`` and an initialised process group, rank ``r`` runs batches ``r, r + world, ...`` (the
    same batches as one process, so the same numbers) and every rank returns all predictions in crop order;
    every rank must call it.
    """
    device = torch.device(device)
    torch.set_flush_denormal(True)  # see train.flush_denormals
    estimator = as_estimator(model, eval_set, skeleton, color=color, shift_heatmap=shift_heatmap,
                             post_process=post_process, amp_dtype=amp_dtype)
    size = tuple(eval_set.crops.shape[2:0:-1])  # (width, height)
    rank, world = _world() if distributed else (0, 1)
    centers, scales = eval_set.centers, eval_set.scales
    joints = torch.from_numpy(eval_set.joints)
    done: list[tuple[int, tuple[np.ndarray, np.ndarray]]] = []

    def _forward(crops: torch.Tensor, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = estimator.predict(crops, flip_test=flip_test)
        return transform_preds(out.keypoints, centers[rows], scales[rows], size), out.scores[..., None]

    starts = range(0, len(eval_set), batch_size)[rank::world]
    desc = f"predict {spec.target if spec else 'clean'}"
    for s in progress_bar(starts, desc=desc, disable=not progress or rank != 0, leave=False):
        crops = eval_set.crops[s : s + batch_size].to(device, non_blocking=True)
        rows = np.arange(s, s + len(crops))
        if spec is not None and spec.target_kind != "none":
            attacked = occlude_batch(crops, joints[s : s + batch_size], spec, skeleton)
            if clean is not None:
                changed = (attacked != crops).flatten(1).any(1).cpu().numpy()
                p, m = clean[0][rows].copy(), clean[1][rows].copy()
                if changed.any():
                    p[changed], m[changed] = _forward(attacked[torch.from_numpy(changed).to(device)], rows[changed])
                done.append((s, (p, m)))
                continue
            crops = attacked
        done.append((s, _forward(crops, rows)))
    batches = _gather_in_order(done, world)
    return np.concatenate([p for p, _ in batches]), np.concatenate([m for _, m in batches])


def _world() -> tuple[int, int]:
    """(rank, world size) of the initialised ``torch.distributed`` process group; (0, 1) without one."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _gather_in_order(mine: list[tuple[int, T]], world: int) -> list[T]:
    """The ``(index, item)`` pairs of every rank, on every rank, as items in index order.

    ``all_gather_object`` rather than ``gather_object``: NCCL supports it (with ``torch.cuda.set_device`` done,
    see :func:`occlusion.train._init_distributed`) and every rank can return the same result.
    """
    if world > 1:
        parts: list[Any] = [None] * world
        torch.distributed.all_gather_object(parts, mine)
        mine = [pair for part in parts for pair in part]
    return [item for _, item in sorted(mine, key=lambda pair: pair[0])]


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
    return _score(eval_set, preds, maxvals, skeleton, in_vis_thre=in_vis_thre, oks_thre=oks_thre,
                  per_keypoint=per_keypoint)[0]


def _score(
    eval_set: EvalSet, preds: np.ndarray, maxvals: np.ndarray, skeleton: Skeleton, *, in_vis_thre: float,
    oks_thre: float, per_keypoint: bool,
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """:func:`score` and, per row of it, the evaluated ``COCOeval`` (none for MPII, None for empty results)."""
    if eval_set.dataset == "mpii":
        gt = np.stack([r.joints for r in eval_set.records])
        head_boxes = head_boxes_of(eval_set.records)
        return {"all": {k: float(v) for k, v in pckh(preds, gt[..., :2], gt[..., 2] > 0, head_boxes).items()}}, {}
    results = to_coco_results(
        preds, maxvals, eval_set.centers, eval_set.scales,
        np.array([r.score for r in eval_set.records], dtype=np.float32),
        np.array([r.image_id for r in eval_set.records]),
        in_vis_thre=in_vis_thre, oks_thre=oks_thre, sigmas=skeleton.sigmas,
    )
    overall, evaluator = coco_keypoint_evaluator(eval_set.coco_gt, results, sigmas=skeleton.sigmas)
    out, evaluators = {"all": _points(overall)}, {"all": evaluator}
    if per_keypoint:
        for name, (stats, ev) in per_keypoint_evaluators(eval_set.coco_gt, results, skeleton.names).items():
            out[name], evaluators[name] = _points(stats), ev
    return out, evaluators


def _points(stats: dict[str, float]) -> dict[str, float]:
    return {m: 100.0 * float(stats[m]) for m in METRICS}


def attack_table(
    model: torch.nn.Module | PoseEstimator, eval_set: EvalSet, grid: Iterable[AttackSpec], skeleton: Skeleton,
    **kwargs: Any,
) -> pd.DataFrame:
    """Run every attack of ``grid`` and return the tidy attack table (one row per attack and evaluated keypoint):
    the ``table`` of :func:`run_attack_grid`, which takes the same keyword arguments."""
    return run_attack_grid(model, eval_set, grid, skeleton, **kwargs).table


@dataclass
class AttackBootstrap:
    """Overall AP (points) of every attack of a grid in each image-bootstrap resample.

    Resample ``b`` draws the validation images of ``image_ids`` as row ``b`` of
    :func:`occlusion.stats.resample_weights` with ``seed``; every attack, and every model scored on the same
    images with the same seed and resample count, sees the same draws, so the difference of any two rows (an
    attack minus the clean pass, an augmented model minus the baseline under one attack) is a paired bootstrap.
    """

    configs: pd.DataFrame
    """One row per attack, in grid order: the :data:`CONFIG_COLUMNS` of its attack-table rows."""
    ap: np.ndarray
    """(attacks, resamples) float32: the attack's overall AP in each resample, in AP points."""
    image_ids: np.ndarray
    seed: int

    def write(self, path: str | Path) -> Path:
        """``<run>.boot.npz``: ``ap``, ``image_ids``, ``seed`` and one array per config column."""
        columns = {c: self.configs[c].to_numpy(dtype=float if c == "radius" else bool if c == "paper_bounds"
                                               else str) for c in CONFIG_COLUMNS}
        return write_npz(path, ap=self.ap, image_ids=self.image_ids, seed=np.int64(self.seed), **columns)

    @classmethod
    def read(cls, path: str | Path) -> AttackBootstrap:
        with np.load(path, allow_pickle=False) as z:
            return cls(pd.DataFrame({c: z[c] for c in CONFIG_COLUMNS}), z["ap"], z["image_ids"], int(z["seed"]))


@dataclass
class AttackResult:
    """What :func:`run_attack_grid` returns: the attack table and, for COCO, its bootstrap."""

    table: pd.DataFrame
    bootstrap: AttackBootstrap | None


def _config_columns(spec: AttackSpec) -> dict[str, Any]:
    return {
        "target": "clean" if spec.target_kind == "none" else spec.target,
        "target_kind": spec.target_kind,
        "filler": "none" if spec.target_kind == "none" else spec.filler,
        "radius": spec.radius if spec.target_kind == "keypoint" else np.nan,
        "paper_bounds": spec.paper_bounds,
    }


def run_attack_grid(
    model: torch.nn.Module | PoseEstimator,
    eval_set: EvalSet,
    grid: Iterable[AttackSpec],
    skeleton: Skeleton,
    *,
    per_keypoint_targets: Sequence[str] = (),
    meta: dict[str, Any] | None = None,
    in_vis_thre: float = 0.2,
    oks_thre: float = 0.9,
    progress: bool = True,
    bootstrap_resamples: int = 0,
    bootstrap_seed: int = 0,
    alpha: float = 0.05,
    distributed: bool = False, on_predictions: Callable[[AttackSpec, np.ndarray, np.ndarray], None] | None = None,
    **predict_kw: Any,
) -> AttackResult:
    """Run every attack of ``grid``: the tidy attack table (one row per attack and evaluated keypoint) and, on
    COCO, the overall AP of every attack in ``bootstrap_resamples`` image-bootstrap resamples.

    COCO tables get :data:`INTERVAL_COLUMNS` on every row: the ``1 - alpha`` percentile interval and two-sided
    p-value of attacked minus clean AP (of the row's keypoint: overall or per keypoint) over the resamples
    (:func:`occlusion.stats.mean_interval`; NaN with 0 resamples). Each row's pycocotools matching is the one its
    scoring did; a resample costs only ``accumulate``. The bootstrap keeps the overall AP's resamples. MPII
    tables (PCKh) get no bootstrap.

    With ``distributed`` and an initialised process group, the clean pass is sharded by batch and rank ``r``
    runs the attacks ``grid[r::world]``; every rank returns the same result as one process. Every rank must call it.
    ``on_predictions(spec, preds, maxvals)`` sees each attack's predictions (this rank's; :mod:`occlusion.awareness`).
    """
    grid = list(grid)
    coco = eval_set.dataset != "mpii"
    if bootstrap_resamples < 0 or (bootstrap_resamples and not coco):
        raise ValueError(f"bootstrap_resamples = {bootstrap_resamples}: expected >= 0, and 0 for a PCKh (MPII) table")
    rank, world = _world() if distributed else (0, 1)
    clean = predict(model, eval_set, skeleton, distributed=distributed, **predict_kw)
    image_ids, weights = _resampling_units(eval_set, bootstrap_resamples, bootstrap_seed) if coco else (None, None)
    done: list[tuple[int, tuple[list[dict[str, Any]], dict[str, np.ndarray]]]] = []
    mine = range(rank, len(grid), world)
    for i in progress_bar(mine, desc=f"attacks ({eval_set.name} boxes)", disable=not progress or rank != 0):
        spec = grid[i]
        preds, maxvals = clean if spec.target_kind == "none" else predict(
            model, eval_set, skeleton, spec=spec, clean=clean, **predict_kw)
        _ = on_predictions is not None and on_predictions(spec, preds, maxvals)
        wanted = spec.target_kind == "none" or spec.target in per_keypoint_targets
        metrics, evaluators = _score(eval_set, preds, maxvals, skeleton, in_vis_thre=in_vis_thre,
                                     oks_thre=oks_thre, per_keypoint=wanted and bool(per_keypoint_targets))
        samples = _resampled_ap(metrics, evaluators, image_ids, weights, bootstrap_resamples)
        rows = [{**(meta or {}), "dataset": eval_set.dataset, "boxes": eval_set.name, **_config_columns(spec),
                 "keypoint": keypoint, **values} for keypoint, values in metrics.items()]
        done.append((i, (rows, samples)))
    results = _gather_in_order(done, world)
    table = with_deltas(pd.DataFrame([row for rows, _ in results for row in rows]))
    if not coco:
        return AttackResult(table, None)
    per_row = [s[row["keypoint"]] for rows, s in results for row in rows]  # the table's row order
    ap = np.stack([s["all"] for _, s in results])
    configs = pd.DataFrame([_config_columns(spec) for spec in grid])
    return AttackResult(_with_intervals(table, per_row, alpha),
                        AttackBootstrap(configs, ap.astype(np.float32), image_ids, bootstrap_seed))


def _resampling_units(eval_set: EvalSet, n_resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ground-truth image id, in pycocotools' (sorted) order, and their multiplicities in each resample."""
    image_ids = np.asarray(sorted(load_coco_gt(eval_set.coco_gt).getImgIds()))
    return image_ids, resample_weights(len(image_ids), n_resamples, seed)


def _resampled_ap(metrics: dict[str, dict[str, float]], evaluators: dict[str, Any], image_ids: np.ndarray | None,
                  weights: np.ndarray | None, n_resamples: int) -> dict[str, np.ndarray]:
    """Keypoint -> AP (points) of one attack in each image-bootstrap resample (zeros without a COCO evaluator)."""
    samples = {}
    for keypoint in metrics:
        samples[keypoint] = np.zeros(n_resamples)
        evaluator = evaluators.get(keypoint)
        if image_ids is not None and n_resamples and evaluator is not None:
            table = match_table_of(evaluator)
            if not np.array_equal(table.image_ids, image_ids):
                raise RuntimeError("the attack's evaluation did not run on every ground-truth image")
            samples[keypoint] = 100.0 * metric_from_weights(table, weights)
    return samples


def _with_intervals(table: pd.DataFrame, samples: list[np.ndarray], alpha: float) -> pd.DataFrame:
    """Add :data:`INTERVAL_COLUMNS` to every row: its resampled AP (``samples``, one per row) minus the clean
    pass's for the same keypoint."""
    clean = {k: samples[i] for i, (k, t) in enumerate(zip(table["keypoint"], table["target_kind"])) if t == "none"}
    values = [mean_interval(s - clean[k], alpha) for s, k in zip(samples, table["keypoint"])]
    out = table.copy()
    out[list(INTERVAL_COLUMNS)] = np.array(values, dtype=np.float64).reshape(len(table), 3)
    return out


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
