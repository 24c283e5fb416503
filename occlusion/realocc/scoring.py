"""Scoring on real occlusion (docs/METHODS.md §13), on top of the package's COCO scoring (:mod:`occlusion.evaluate`):

* CrowdPose AP, AP easy / medium / hard as ``xtcocotools``' ``keypoints_crowd`` evaluation computes them (OKS
  scaled by 0.53 x the box area, ``use_area=False``; AP at maxDets 20; each level an evaluation of its images alone),
  on pycocotools: the ``xtcocotools`` 1.14.3 wheel is built against numpy 1 and does not import under numpy 2, so
  a test checks these numbers against ``xtcocotools``' own Python code instead. COCO-17 predictions are scored over
  the 12 keypoints both datasets label (:func:`to_crowdpose_results`,
  :func:`occlusion.realocc.datasets.scored_ground_truth`);
* COCO's own occlusion signal: per-keypoint OKS and PCK of ``v=1`` (labelled, occluded) against ``v=2`` (visible)
  keypoints on ground-truth boxes (:func:`keypoint_scores`, :func:`accuracy_by_visibility`), and AP by the overlap
  between people (:func:`ap_by_overlap`);
* image-bootstrap resamples of each (:func:`resampled_ratio`; AP through :mod:`occlusion.stats`).
"""
from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data import PersonRecord
from ..evaluate import coco_keypoint_evaluator, to_coco_results
from ..keypoints import COCO_TO_CROWDPOSE, CROWDPOSE, Skeleton
from ..stats import MatchTable, match_table_of, metric_from_weights
from .crowding import CROWD_LEVELS, OVERLAP_BINS, box_iou, crowd_level, overlap_bin

__all__ = ["CROWDPOSE_METRICS", "coco_results", "to_crowdpose_results", "crowdpose_eval", "crowdpose_level_table",
           "keypoint_scores", "accuracy_by_visibility", "person_overlap", "ap_by_overlap", "image_sums",
           "resampled_ratio"]

CROWDPOSE_METRICS: tuple[str, ...] = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard")
"""The nine numbers of ``xtcocotools``' ``keypoints_crowd`` summary, in its order."""


def coco_results(records: Sequence[PersonRecord], preds: np.ndarray, maxvals: np.ndarray, skeleton: Skeleton, *,
                 in_vis_thre: float = 0.2, oks_thre: float = 0.9) -> list[dict[str, Any]]:
    """COCO results of top-down predictions on ``records`` (rescoring and OKS-NMS as the package's evaluation)."""
    return to_coco_results(
        preds, maxvals, np.stack([r.center for r in records]), np.stack([r.scale for r in records]),
        np.array([r.score for r in records], dtype=np.float32), np.array([r.image_id for r in records]),
        in_vis_thre=in_vis_thre, oks_thre=oks_thre, sigmas=skeleton.sigmas,
    )


def to_crowdpose_results(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """COCO-17 results in CrowdPose's 14-keypoint layout: its 12 limb keypoints, head and neck at (0, 0) with score
    0 (COCO models predict neither; the scored ground truth leaves both unlabelled, so OKS skips them).

    >>> r = to_crowdpose_results([{"image_id": 1, "category_id": 1, "score": 0.9,
    ...                            "keypoints": [float(v) for v in range(51)]}])[0]
    >>> len(r["keypoints"]), r["keypoints"][:3], r["keypoints"][-3:]
    (42, [15.0, 16.0, 17.0], [0.0, 0.0, 0.0])
    """
    out = []
    for r in results:
        kps = np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3)
        if len(kps) != len(COCO_TO_CROWDPOSE) + 5:
            raise ValueError(f"result of image {r.get('image_id')}: {len(kps)} keypoints; expected COCO's 17")
        kps = np.concatenate([kps[COCO_TO_CROWDPOSE], np.zeros((2, 3))])
        out.append({**r, "keypoints": [float(v) for v in kps.ravel()]})
    return out


def _scorable(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results CrowdPose's evaluation keeps: those with a keypoint of positive score (``xtcocotools`` drops the
    others before matching; pycocotools would count them)."""
    return [r for r in results if any(v > 0 for v in r["keypoints"][2::3])]


def _evaluated(gt_file: Path, results: Sequence[dict[str, Any]], image_ids: Sequence[int] | None = None) -> Any:
    """An evaluated pycocotools keypoint ``COCOeval`` with CrowdPose's sigmas on the scored ground truth (whose
    ``area`` is 0.53 x the box area: ``keypoints_crowd`` with ``use_area=False``), over ``image_ids`` (default all);
    None for no results."""
    from pycocotools.cocoeval import COCOeval

    from ..evaluate import load_coco_gt, load_coco_results, quiet_stdout, set_oks_sigmas

    gt = load_coco_gt(gt_file)
    dt = load_coco_results(gt, _scorable(results))
    if dt is None:
        return None
    ev = COCOeval(gt, dt, iouType="keypoints")
    set_oks_sigmas(ev, CROWDPOSE.sigmas, CROWDPOSE.num_joints)
    if image_ids is not None:
        ev.params.imgIds = sorted(int(i) for i in image_ids)
    with quiet_stdout():
        ev.evaluate()
    return ev


def crowdpose_eval(gt_file: str | Path, results: list[dict[str, Any]],
                   tables: dict[str, MatchTable | None] | None = None) -> dict[str, float]:
    """CrowdPose's nine metrics (:data:`CROWDPOSE_METRICS`, in points) of CrowdPose-layout ``results`` against the
    scored ground truth ``gt_file`` (:func:`occlusion.realocc.datasets.scored_ground_truth`), as ``xtcocotools``'
    ``keypoints_crowd`` summary computes them (a test checks it against ``xtcocotools``' own code): AP and AR at
    maxDets 20 over every image, then AP easy / medium / hard, each the mean precision of an evaluation of the images
    at that crowd level alone, rounded to 4 decimals of a fraction as there (-100 for a level without ground truth).
    Zeros for empty results. ``tables``, where given, receives each level's :func:`crowdpose_level_table`."""
    from ..evaluate import quiet_stdout

    gt_file = Path(gt_file)
    ev = _evaluated(gt_file, results)
    if ev is None:
        return dict.fromkeys(CROWDPOSE_METRICS, 0.0)
    with quiet_stdout():
        ev.accumulate()
        ev.summarize()
    stats = [ev.stats[i] for i in (0, 1, 2, 5, 6, 7)]
    crowd = {int(im["id"]): float(im["crowdIndex"]) for im in ev.cocoGt.dataset["images"]}
    for level, _ in CROWD_LEVELS:
        table = crowdpose_level_table(gt_file, results, crowd, level)
        if tables is not None:
            tables[level] = table
        ones = np.ones((1, len(table.image_ids)), dtype=np.int64) if table is not None else None
        stats.append(round(float(metric_from_weights(table, ones)[0]), 4) if table is not None else -1.0)
    return {m: 100.0 * float(v) for m, v in zip(CROWDPOSE_METRICS, stats)}


def crowdpose_level_table(gt_file: str | Path, results: list[dict[str, Any]], crowd: dict[int, float],
                          level: str = "hard") -> MatchTable | None:
    """The per-image OKS matching (:class:`~occlusion.stats.MatchTable`) of the images of one crowd ``level``: its
    full-set AP is CrowdPose's AP of that level, and image-bootstrap resamples of it
    (:func:`occlusion.stats.metric_from_weights`) give that AP's interval. None when no image (or no result) is at
    that level."""
    if level not in dict(CROWD_LEVELS):
        raise ValueError(f"unknown crowd level {level!r}; allowed: {', '.join(n for n, _ in CROWD_LEVELS)}")
    ids = [i for i, ci in crowd.items() if crowd_level(ci) == level]
    ev = _evaluated(Path(gt_file), results, ids) if ids else None
    if ev is None or all(e is None for e in ev.evalImgs):
        return None
    return match_table_of(ev)


def keypoint_scores(records: Sequence[PersonRecord], preds: np.ndarray, sigmas: np.ndarray,
                    pck_alpha: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person and keypoint of ground-truth-box predictions ``preds`` (N, K, 2): the keypoint's OKS
    ``exp(-d^2 / (2 area (2 sigma)^2))`` (COCO's per-keypoint term, ``area`` the annotation's), whether it is within
    ``pck_alpha`` x the longer box side (PCK), and the ground-truth visibility ``v`` (N, K; 0 unlabelled).

    >>> from occlusion.data import PersonRecord
    >>> joints = np.array([[10, 10, 2], [20, 20, 1]], np.float32)
    >>> rec = PersonRecord("x.jpg", 1, np.zeros(2), np.ones(2), joints, (0, 0, 40, 40), 1000.0)
    >>> oks, hit, v = keypoint_scores([rec], np.array([[[10, 10], [25, 20]]], float), np.array([0.1, 0.1]))
    >>> oks.round(3).tolist(), hit.tolist(), v.tolist()
    ([[1.0, 0.732]], [[True, False]], [[2, 1]])
    """
    gt = np.stack([r.joints for r in records]).astype(np.float64)
    area = np.array([r.area for r in records], dtype=np.float64)[:, None]
    side = np.array([max(r.bbox[2], r.bbox[3]) for r in records], dtype=np.float64)[:, None]
    d2 = ((np.asarray(preds, dtype=np.float64)[..., :2] - gt[..., :2]) ** 2).sum(-1)
    var = (2 * np.asarray(sigmas, dtype=np.float64)) ** 2
    oks = np.exp(-d2 / (2 * (area + np.spacing(1)) * var[None]))
    return oks, np.sqrt(d2) <= pck_alpha * side, gt[..., 2].astype(int)


def accuracy_by_visibility(oks: np.ndarray, hit: np.ndarray, v: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """Mean OKS and PCK (percent) of each keypoint, and of all (``keypoint == "all"``), over its ``v=1`` and its
    ``v=2`` labels: one row per keypoint and visibility, with the label count ``n`` (NaN where ``n`` is 0)."""
    rows = []
    for k, name in [*enumerate(names), (None, "all")]:
        for vis in (1, 2):
            mask = (v == vis) if k is None else np.zeros_like(v, dtype=bool)
            if k is not None:
                mask[:, k] = v[:, k] == vis
            n = int(mask.sum())
            rows.append({"keypoint": name, "visibility": vis, "n": n,
                         "OKS": 100.0 * float(oks[mask].mean()) if n else np.nan,
                         "PCK": 100.0 * float(hit[mask].mean()) if n else np.nan})
    return pd.DataFrame(rows)


def person_overlap(data: dict[str, Any]) -> dict[int, float]:
    """Annotation id -> the person's largest box IoU with another (non-crowd) person of its image."""
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        if not ann.get("iscrowd", 0):
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
    out = {}
    for anns in by_image.values():
        iou = box_iou(np.array([a["bbox"] for a in anns], dtype=np.float64))
        for a, m in zip(anns, iou.max(axis=1)):
            out[int(a["id"])] = float(m)
    return out


def _only_bin(data: dict[str, Any], keep: set[int]) -> Any:
    """A pycocotools ground truth in which the people outside ``keep`` are crowd regions: ignored, and the
    detections they match ignored with them (as COCO's area ranges treat people outside the range)."""
    from pycocotools.coco import COCO

    d = copy.deepcopy(data)
    for ann in d["annotations"]:
        if int(ann["id"]) not in keep:
            ann["iscrowd"] = 1
    gt = COCO()
    gt.dataset = d
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def ap_by_overlap(data: dict[str, Any], records: Sequence[PersonRecord], preds: np.ndarray, maxvals: np.ndarray,
                  skeleton: Skeleton, *, in_vis_thre: float = 0.2, oks_thre: float = 0.9) -> pd.DataFrame:
    """COCO AP (points) of the people of each :data:`~occlusion.realocc.crowding.OVERLAP_BINS` bin, from the
    ground-truth-box predictions of those people only (``records`` carry their ``ann_id``), everyone else in the
    ground truth ignored; with the bin's person count, NaN for an empty bin."""
    overlap = person_overlap(data)
    labelled = {int(a["id"]) for a in data["annotations"] if not a.get("iscrowd", 0) and a.get("num_keypoints", 0)}
    rows = []
    for label in OVERLAP_BINS:
        keep = {i for i in labelled if overlap_bin(overlap[i]) == label}
        idx = [n for n, r in enumerate(records) if r.ann_id in keep]
        ap = np.nan
        if idx:
            results = coco_results([records[n] for n in idx], preds[idx], maxvals[idx], skeleton,
                                   in_vis_thre=in_vis_thre, oks_thre=oks_thre)
            ap = 100.0 * coco_keypoint_evaluator(_only_bin(data, keep), results, sigmas=skeleton.sigmas)[0]["AP"]
        rows.append({"overlap": label, "n_persons": len(keep), "AP": ap})
    return pd.DataFrame(rows)


def image_sums(values: np.ndarray, mask: np.ndarray, record_images: np.ndarray,
               image_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per image of ``image_ids``: the sum of ``values`` where ``mask`` over its people (rows of ``record_images``)
    and the count of ``mask``; the units an image bootstrap of a per-keypoint mean resamples."""
    index = {int(i): n for n, i in enumerate(image_ids)}
    rows = np.array([index[int(i)] for i in record_images])
    total, count = np.zeros(len(index)), np.zeros(len(index))
    np.add.at(total, rows, np.where(mask, values, 0.0).sum(axis=1))
    np.add.at(count, rows, mask.sum(axis=1))
    return total, count


def resampled_ratio(total: np.ndarray, count: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``100 * sum(w total) / sum(w count)`` for each row of image multiplicities ``weights`` (B, I); NaN for a
    resample without any counted label.

    >>> resampled_ratio(np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([[1, 1], [2, 0], [0, 2]])).tolist()
    [50.0, 100.0, 0.0]
    """
    num, den = weights @ total, weights @ count
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1), np.nan)
