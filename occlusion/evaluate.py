"""Evaluation of top-down pose estimators (docs/METHODS.md §4).

* Heatmap decoding as HRNet: argmax, the quarter-pixel shift toward the higher neighbour (``POST_PROCESS``) and
  the inverse affine of the box centre/scale (:func:`get_max_preds`, :func:`get_final_preds`).
* Flip test with the one-pixel ``SHIFT_HEATMAP`` (:func:`flip_back`, :func:`predict_heatmaps`).
* Rescoring and OKS-NMS into COCO results (:func:`oks_iou`, :func:`oks_nms`, :func:`to_coco_results`).
* COCO keypoint AP with pycocotools (:func:`coco_keypoint_eval`) and the paper's per-keypoint AP, a
  :class:`PerKeypointCOCOeval` that zeroes every other keypoint after the standard ``_prepare``
  (:func:`per_keypoint_ap`, :func:`per_keypoint_table`).
* MPII PCKh (:func:`pckh`).

Example:
    >>> hm = np.zeros((1, 1, 8, 8), np.float32); hm[0, 0, 4, 3] = 1.0; hm[0, 0, 4, 4] = 0.5
    >>> get_final_preds(hm, np.array([[4.0, 4.0]]), np.array([[0.04, 0.04]]))[0][0, 0].tolist()
    [3.25, 4.0]
"""
from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from occlusion.keypoints import COCO as COCO_SKELETON
from occlusion.keypoints import MPII

__all__ = [
    "STAT_NAMES",
    "quiet_stdout",
    "load_coco_gt",
    "load_coco_results",
    "num_keypoints",
    "set_oks_sigmas",
    "get_max_preds",
    "get_heatmap_preds",
    "transform_preds",
    "get_final_preds",
    "flip_back",
    "predict_heatmaps",
    "oks_iou",
    "oks_nms",
    "to_coco_results",
    "coco_keypoint_eval",
    "coco_keypoint_evaluator",
    "PerKeypointCOCOeval",
    "per_keypoint_ap",
    "per_keypoint_table",
    "per_keypoint_evaluators",
    "pckh",
]

STAT_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")
"""The ten numbers of pycocotools' keypoint ``summarize`` (maxDets 20), in its order."""

_RESULT_KEYS = ("image_id", "category_id", "keypoints", "score")


# --------------------------------------------------------------------------------------------- heatmap decoding
def get_max_preds(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Argmax of each heatmap: ``coords (N, K, 2)`` float32 in heatmap pixels and ``maxvals (N, K, 1)``.

    As HRNet, joints whose maximum is ``<= 0`` get coordinates ``(0, 0)``.
    """
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (N, K, H, W); got shape {heatmaps.shape}")
    n, k, _, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1)
    idx = flat.argmax(axis=2)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=2)
    coords = np.stack([idx % w, idx // w], axis=-1).astype(np.float32)
    coords *= (maxvals > 0).astype(np.float32)
    return coords, maxvals


def _inverse_affine(centers: np.ndarray, scales: np.ndarray, size: tuple[int, int], pixel_std: float) -> np.ndarray:
    """``(N, 2, 3)`` affines from output pixels (``size`` = width, height) back to the image.

    HRNet's ``get_affine_transform(center, scale, 0, size, inv=1)``: the box of width ``scale_w * pixel_std``
    centred on ``center`` maps onto the output with one isotropic factor taken from the widths (the box height
    is implied by the fixed aspect ratio) and the box centre onto the output centre.
    """
    w, h = size
    ratio = scales[:, 0] * pixel_std / w
    mats = np.zeros((len(centers), 2, 3))
    mats[:, 0, 0] = mats[:, 1, 1] = ratio
    mats[:, 0, 2] = centers[:, 0] - ratio * w / 2.0
    mats[:, 1, 2] = centers[:, 1] - ratio * h / 2.0
    return mats


def get_heatmap_preds(heatmaps: np.ndarray, *, post_process: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints in heatmap pixels ``(N, K, 2)`` float32 and ``maxvals (N, K, 1)``: :func:`get_max_preds` and, with
    ``post_process`` (``TEST.POST_PROCESS``), the quarter pixel toward the higher neighbour along each axis (the sign
    of the difference, 0 on a tie) where, as in HRNet, ``1 < x < W - 1 and 1 < y < H - 1``.

    >>> hm = np.zeros((1, 1, 8, 8), np.float32); hm[0, 0, 4, 3] = 1.0; hm[0, 0, 4, 4] = 0.5
    >>> get_heatmap_preds(hm)[0][0, 0].tolist()
    [3.25, 4.0]
    """
    coords, maxvals = get_max_preds(heatmaps)
    n, k, h, w = heatmaps.shape
    if post_process and min(h, w) >= 3:
        px = np.floor(coords[..., 0] + 0.5).astype(np.int64)
        py = np.floor(coords[..., 1] + 0.5).astype(np.int64)
        inside = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
        px, py = np.clip(px, 1, w - 2), np.clip(py, 1, h - 2)
        ni, ki = np.arange(n)[:, None], np.arange(k)[None, :]
        dx = heatmaps[ni, ki, py, px + 1] - heatmaps[ni, ki, py, px - 1]
        dy = heatmaps[ni, ki, py + 1, px] - heatmaps[ni, ki, py - 1, px]
        coords = coords + (np.sign(np.stack([dx, dy], axis=-1)) * 0.25 * inside[..., None]).astype(np.float32)
    return coords, maxvals


def transform_preds(
    coords: np.ndarray, centers: np.ndarray, scales: np.ndarray, size: tuple[int, int], *, pixel_std: float = 200.0
) -> np.ndarray:
    """Keypoints ``(N, K, 2)`` in pixels of an output of ``size`` (width, height: a heatmap or the input crop) back
    to image pixels, float32: HRNet's inverse affine of the boxes' ``(N, 2)`` centre and scale (units of
    ``pixel_std``), one isotropic factor from the widths."""
    n = coords.shape[0]
    centers = np.asarray(centers, dtype=np.float64).reshape(n, 2)
    scales = np.asarray(scales, dtype=np.float64).reshape(n, 2)
    mats = _inverse_affine(centers, scales, size, pixel_std)
    preds = np.einsum("nij,nkj->nki", mats[:, :, :2], coords.astype(np.float64)) + mats[:, None, :, 2]
    return preds.astype(np.float32)


def get_final_preds(
    heatmaps: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    *,
    post_process: bool = True,
    pixel_std: float = 200.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints in image pixels ``(N, K, 2)`` float32 and their ``maxvals (N, K, 1)`` (HRNet ``get_final_preds``):
    :func:`get_heatmap_preds` then :func:`transform_preds` from the heatmap's size.

    ``centers``/``scales`` are the boxes' ``(N, 2)`` centre and size in units of ``pixel_std``.
    """
    coords, maxvals = get_heatmap_preds(heatmaps, post_process=post_process)
    h, w = heatmaps.shape[2:]
    return transform_preds(coords, centers, scales, (w, h), pixel_std=pixel_std), maxvals


# --------------------------------------------------------------------------------------------- flip test
def flip_back(heatmaps: torch.Tensor, flip_pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Heatmaps of a mirrored input brought back: mirror along the width and swap left/right channels."""
    perm = list(range(heatmaps.shape[1]))
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return heatmaps.flip(-1)[:, perm]


def predict_heatmaps(
    model: torch.nn.Module,
    images: torch.Tensor,
    flip_pairs: Sequence[tuple[int, int]],
    *,
    flip_test: bool = True,
    shift_heatmap: bool = True,
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Float32 heatmaps ``(N, K, H, W)`` of a batch, with HRNet's flip test (``TEST.FLIP_TEST``).

    The batch and its horizontal mirror go through the model in one forward pass. The mirrored half is brought
    back with :func:`flip_back`, shifted one pixel right if ``shift_heatmap`` (``TEST.SHIFT_HEATMAP``; column 0
    keeps its value) and averaged with the plain half. ``images`` are moved to the model's device and dtype;
    ``autocast_dtype`` (e.g. ``torch.bfloat16``) runs the forward under ``torch.autocast``. Put the model in
    ``eval()`` mode first.
    """
    param = next(model.parameters(), None)
    if param is not None:
        images = images.to(device=param.device, dtype=param.dtype)
    n = images.shape[0]
    batch = torch.cat([images, images.flip(-1)]) if flip_test else images
    autocast = (
        torch.autocast(device_type=batch.device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    with torch.no_grad(), autocast:
        out = model(batch)
    out = out.float()
    if not flip_test:
        return out
    flipped = flip_back(out[n:], flip_pairs)
    if shift_heatmap:
        flipped = torch.cat([flipped[..., :1], flipped[..., :-1]], dim=-1)
    return (out[:n] + flipped) * 0.5


# --------------------------------------------------------------------------------------------- OKS and NMS
def _sigmas(sigmas: np.ndarray | Sequence[float] | None) -> np.ndarray:
    return np.asarray(COCO_SKELETON.sigmas if sigmas is None else sigmas, dtype=np.float64)


def oks_iou(
    g: np.ndarray,
    d: np.ndarray,
    area_g: float,
    area_d: np.ndarray,
    *,
    sigmas: np.ndarray | Sequence[float] | None = None,
    in_vis_thre: float | None = None,
) -> np.ndarray:
    """OKS ``(M,)`` between one pose ``g (K*3,)`` and poses ``d (M, K*3)`` (HRNet's ``oks_iou``), scale = mean area.

    With ``in_vis_thre`` only joints whose score is above it in both poses count (an OKS of 0 when none does);
    HRNet's ``list(a) and list(b)`` keeps only the second mask, but the evaluation never passes a threshold.
    ``sigmas`` default to COCO's.
    """
    var = (2 * _sigmas(sigmas)) ** 2
    g = np.asarray(g, dtype=np.float64).reshape(-1, 3)
    if g.shape[0] != len(var):
        raise ValueError(f"pose has {g.shape[0]} keypoints; sigmas give {len(var)}")
    d = np.asarray(d, dtype=np.float64).reshape(-1, len(var), 3)
    dist2 = ((d[..., :2] - g[None, :, :2]) ** 2).sum(-1)
    scale = (area_g + np.asarray(area_d, dtype=np.float64)) / 2 + np.spacing(1)
    oks = np.exp(-dist2 / var / scale[:, None] / 2)
    if in_vis_thre is None:
        return oks.mean(axis=1)
    valid = (g[None, :, 2] > in_vis_thre) & (d[..., 2] > in_vis_thre)
    count = valid.sum(axis=1)
    return np.where(count > 0, (oks * valid).sum(axis=1) / np.maximum(count, 1), 0.0)


def oks_nms(
    kpts: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    thr: float = 0.9,
    *,
    sigmas: np.ndarray | Sequence[float] | None = None,
    in_vis_thre: float | None = None,
) -> list[int]:
    """Greedy OKS-NMS: indices kept, best score first (ties by index); a pose goes when its OKS with a kept one > thr.

    ``kpts (N, K, 3)`` hold x, y and a score per joint (used only with ``in_vis_thre``), ``areas (N,)`` the
    box areas.
    """
    kpts = np.asarray(kpts, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    areas = np.asarray(areas, dtype=np.float64)
    flat = kpts.reshape(len(kpts), kpts.shape[1] * kpts.shape[2])
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        ovr = oks_iou(flat[i], flat[rest], areas[i], areas[rest], sigmas=sigmas, in_vis_thre=in_vis_thre)
        order = rest[ovr <= thr]
    return keep


def to_coco_results(
    preds: np.ndarray,
    maxvals: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    box_scores: np.ndarray,
    image_ids: Sequence[int] | np.ndarray,
    *,
    in_vis_thre: float = 0.2,
    oks_thre: float = 0.9,
    sigmas: np.ndarray | Sequence[float] | None = None,
    category_id: int = 1,
    pixel_std: float = 200.0,
) -> list[dict[str, Any]]:
    """COCO keypoint results from top-down predictions (HRNet's ``COCODataset.evaluate``).

    Each person gets keypoints ``(x, y, maxval)``, box area ``scale_w * scale_h * pixel_std**2`` and the score
    ``box_score * mean(maxval of joints with maxval > in_vis_thre)`` (``IN_VIS_THRE`` 0.2; 0 when none is).
    OKS-NMS at ``oks_thre`` (``OKS_THRE`` 0.9) runs per image, skipped when ``oks_thre >= 1``. Results are sorted
    by image id, then by input order. ``centers`` (HRNet's ``all_boxes[:, 0:2]``) only have their shape checked:
    the written results carry no box.
    """
    preds = np.asarray(preds, dtype=np.float64)
    n, k = preds.shape[:2]
    maxvals = np.asarray(maxvals, dtype=np.float64).reshape(n, k)
    scales = np.asarray(scales, dtype=np.float64).reshape(n, 2)
    box_scores = np.asarray(box_scores, dtype=np.float64).reshape(n)
    image_ids = np.asarray(image_ids).reshape(n)
    if len(np.asarray(centers).reshape(-1, 2)) != n:
        raise ValueError(f"centers must be ({n}, 2); got shape {np.asarray(centers).shape}")
    kpts = np.concatenate([preds[..., :2], maxvals[..., None]], axis=-1)
    areas = scales[:, 0] * scales[:, 1] * pixel_std**2
    visible = maxvals > in_vis_thre
    count = visible.sum(axis=1)
    kpt_score = np.where(count > 0, (maxvals * visible).sum(axis=1) / np.maximum(count, 1), 0.0)
    scores = box_scores * kpt_score
    results = []
    for image_id in np.unique(image_ids):
        idx = np.flatnonzero(image_ids == image_id)
        if oks_thre < 1:
            idx = np.sort(idx[oks_nms(kpts[idx], scores[idx], areas[idx], oks_thre, sigmas=sigmas)])
        results += [
            {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": [float(v) for v in kpts[i].ravel()],
                "score": float(scores[i]),
            }
            for i in idx
        ]
    return results


# --------------------------------------------------------------------------------------------- COCO AP
def quiet_stdout() -> contextlib.redirect_stdout:
    """Swallow pycocotools' printing."""
    return contextlib.redirect_stdout(io.StringIO())


def load_coco_gt(coco_gt: COCO | str | Path) -> COCO:
    """The ground truth as a ``COCO`` (loaded quietly from a path; a ``COCO`` passes through)."""
    if isinstance(coco_gt, COCO):
        return coco_gt
    path = Path(coco_gt)
    if not path.is_file():
        raise FileNotFoundError(f"COCO ground-truth file {path} not found")
    with quiet_stdout():
        return COCO(str(path))


def num_keypoints(gt: COCO) -> int:
    """Keypoints per person of the ground truth (17 for COCO), from its first annotation with keypoints."""
    for ann in gt.dataset.get("annotations", []):
        if "keypoints" in ann:
            return len(ann["keypoints"]) // 3
    raise ValueError("the ground truth has no annotation with 'keypoints'")


def load_coco_results(gt: COCO, results: list[dict[str, Any]] | str | Path) -> COCO | None:
    """Results as a COCO object through ``loadRes`` (on copies, which it mutates), or None when there are none."""
    if isinstance(results, (str, Path)):
        path = Path(results)
        if not path.is_file():
            raise FileNotFoundError(f"COCO results file {path} not found")
        results = json.loads(path.read_text())
    if not isinstance(results, list):
        raise ValueError(f"results must be a list of dicts with keys {', '.join(_RESULT_KEYS)}; got {type(results)}")
    if not results:
        return None
    k = num_keypoints(gt)
    for i, res in enumerate(results):
        missing = [key for key in _RESULT_KEYS if key not in res]
        if missing:
            raise ValueError(f"result {i} lacks {', '.join(missing)}; required keys: {', '.join(_RESULT_KEYS)}")
        if len(res["keypoints"]) != 3 * k:
            raise ValueError(f"result {i} has {len(res['keypoints'])} keypoint values; the ground truth needs {3 * k}")
    unknown = sorted({r["image_id"] for r in results} - set(gt.getImgIds()))
    if unknown:
        raise ValueError(f"results name image ids not in the ground truth: {unknown[:10]}")
    with quiet_stdout():
        return gt.loadRes([dict(r) for r in results])


def set_oks_sigmas(evaluator: COCOeval, sigmas: np.ndarray | Sequence[float] | None, k: int) -> None:
    """Give ``evaluator`` the OKS ``sigmas`` (default COCO's), which must be one per keypoint of the ``k``."""
    sig = _sigmas(sigmas)
    if len(sig) != k:
        raise ValueError(f"{len(sig)} OKS sigmas given for {k} keypoints; pass sigmas= with one per keypoint")
    evaluator.params.kpt_oks_sigmas = sig


def _summarize(evaluator: COCOeval, sigmas: np.ndarray | Sequence[float] | None, k: int) -> dict[str, float]:
    set_oks_sigmas(evaluator, sigmas, k)
    with quiet_stdout():
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, evaluator.stats)}


def _zeros() -> dict[str, float]:
    return dict.fromkeys(STAT_NAMES, 0.0)


def coco_keypoint_eval(
    coco_gt: COCO | str | Path,
    results: list[dict[str, Any]] | str | Path,
    *,
    sigmas: np.ndarray | Sequence[float] | None = None,
) -> dict[str, float]:
    """pycocotools keypoint AP/AR (maxDets 20, OKS 0.50:0.05:0.95) as a dict over :data:`STAT_NAMES`.

    ``sigmas`` default to COCO's; other skeletons pass their own. Empty results give 0 everywhere; a metric
    whose area range holds no ground truth is pycocotools' -1.
    """
    return coco_keypoint_evaluator(coco_gt, results, sigmas=sigmas)[0]


def coco_keypoint_evaluator(
    coco_gt: COCO | str | Path,
    results: list[dict[str, Any]] | str | Path,
    *,
    sigmas: np.ndarray | Sequence[float] | None = None,
) -> tuple[dict[str, float], COCOeval | None]:
    """:func:`coco_keypoint_eval` and the evaluated ``COCOeval`` (None for empty results), whose per-image
    matching the image bootstrap reuses (:func:`occlusion.stats.match_table_of`)."""
    gt = load_coco_gt(coco_gt)
    dt = load_coco_results(gt, results)
    if dt is None:
        return _zeros(), None
    evaluator = COCOeval(gt, dt, iouType="keypoints")
    return _summarize(evaluator, sigmas, num_keypoints(gt)), evaluator


class PerKeypointCOCOeval(COCOeval):
    """The paper's per-keypoint AP (reference ``CustomEval``, docs/METHODS.md §4) for keypoint index ``keypoint``.

    The standard ``_prepare`` runs first, so ground truths keep the ``ignore`` flag of their original
    ``num_keypoints``; then every GT and DT is copied with ``(x, y, v) = 0`` for all keypoints but ``keypoint``.
    GTs without that keypoint stay non-ignored and are matched by pycocotools' box-distance OKS.
    """

    def __init__(self, cocoGt: COCO, cocoDt: COCO, keypoint: int):
        super().__init__(cocoGt, cocoDt, iouType="keypoints")
        self.keypoint = keypoint

    def _only_keypoint(self, ann: dict[str, Any]) -> dict[str, Any]:
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        if not 0 <= self.keypoint < len(kp):
            raise IndexError(f"keypoint index {self.keypoint} out of range; allowed 0..{len(kp) - 1}")
        only = np.zeros_like(kp)
        only[self.keypoint] = kp[self.keypoint]
        return {**ann, "keypoints": only.ravel().tolist()}

    def _prepare(self) -> None:
        super()._prepare()
        for store in (self._gts, self._dts):
            for key, anns in store.items():
                store[key] = [self._only_keypoint(ann) for ann in anns]


def per_keypoint_ap(
    coco_gt: COCO | str | Path,
    results: list[dict[str, Any]] | str | Path,
    keypoint: int,
    *,
    sigmas: np.ndarray | Sequence[float] | None = None,
) -> dict[str, float]:
    """:class:`PerKeypointCOCOeval` metrics of keypoint index ``keypoint`` (dict over :data:`STAT_NAMES`)."""
    gt = load_coco_gt(coco_gt)
    dt = load_coco_results(gt, results)
    if dt is None:
        return _zeros()
    return _summarize(PerKeypointCOCOeval(gt, dt, keypoint), sigmas, num_keypoints(gt))


def per_keypoint_table(
    coco_gt: COCO | str | Path,
    results: list[dict[str, Any]] | str | Path,
    names: Sequence[str],
    *,
    sigmas: np.ndarray | Sequence[float] | None = None,
) -> dict[str, dict[str, float]]:
    """Per-keypoint metrics ``{names[k]: per_keypoint_ap(..., k)}`` for every keypoint, loading GT and DT once."""
    evaluated = per_keypoint_evaluators(coco_gt, results, names, sigmas=sigmas)
    return {name: stats for name, (stats, _) in evaluated.items()}


def per_keypoint_evaluators(
    coco_gt: COCO | str | Path,
    results: list[dict[str, Any]] | str | Path,
    names: Sequence[str],
    *,
    sigmas: np.ndarray | Sequence[float] | None = None,
) -> dict[str, tuple[dict[str, float], COCOeval | None]]:
    """:func:`per_keypoint_table` with each keypoint's evaluated ``PerKeypointCOCOeval`` (None for empty results),
    whose matching the image bootstrap reuses."""
    gt = load_coco_gt(coco_gt)
    k = num_keypoints(gt)
    if len(names) != k:
        raise ValueError(f"{len(names)} names given for {k} keypoints")
    dt = load_coco_results(gt, results)
    if dt is None:
        return {name: (_zeros(), None) for name in names}
    out = {}
    for i, name in enumerate(names):
        evaluator = PerKeypointCOCOeval(gt, dt, i)
        out[name] = (_summarize(evaluator, sigmas, k), evaluator)
    return out


# --------------------------------------------------------------------------------------------- MPII PCKh
def pckh(
    preds: np.ndarray,
    joints: np.ndarray,
    visible: np.ndarray,
    head_boxes: np.ndarray,
    *,
    threshold: float = 0.5,
    names: Sequence[str] = MPII.names,
) -> dict[str, float]:
    """MPII PCKh in percent (HRNet's ``MPIIDataset.evaluate``; Table II).

    A visible joint is correct when its distance to the GT is ``<= threshold`` head sizes, head size being
    ``0.6 * ||head-box diagonal||`` (``head_boxes`` are ``x1, y1, x2, y2``). ``preds`` and ``joints`` must be in
    the same pixel frame (HRNet adds 1 to its 0-based predictions for the 1-based ``gt_valid.mat``). Head is
    head_top; Shoulder ... Ankle average left and right; ``Mean`` pools the 14 joints other than pelvis and thorax
    (weighted by visible count) and ``Mean@0.1`` does the same at threshold 0.1. A joint never visible is NaN.
    """
    preds = np.asarray(preds, dtype=np.float64)[..., :2]
    joints = np.asarray(joints, dtype=np.float64)[..., :2]
    visible = np.asarray(visible, dtype=bool)
    boxes = np.asarray(head_boxes, dtype=np.float64).reshape(-1, 4)
    missing = [name for name in MPII.names if name not in names]
    if missing:
        raise ValueError(f"names lack the MPII joints {', '.join(missing)}; expected all of {', '.join(MPII.names)}")
    idx = {name: list(names).index(name) for name in MPII.names}
    head_size = 0.6 * np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=1)
    err = np.linalg.norm(preds - joints, axis=-1) / head_size[:, None]
    count = visible.sum(axis=0)
    pooled = np.ones(len(names), dtype=bool)
    pooled[[idx["pelvis"], idx["thorax"]]] = False

    def rates(thr: float) -> tuple[np.ndarray, float]:
        hits = ((err <= thr) & visible).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_joint = 100.0 * hits / count
        return per_joint, 100.0 * hits[pooled].sum() / max(count[pooled].sum(), 1)

    per_joint, mean = rates(threshold)

    def both(part: str) -> float:
        return float(0.5 * (per_joint[idx[f"left_{part}"]] + per_joint[idx[f"right_{part}"]]))

    return {
        "Head": float(per_joint[idx["head_top"]]),
        "Shoulder": both("shoulder"),
        "Elbow": both("elbow"),
        "Wrist": both("wrist"),
        "Hip": both("hip"),
        "Knee": both("knee"),
        "Ankle": both("ankle"),
        "Mean": float(mean),
        "Mean@0.1": float(rates(0.1)[1]),
    }
