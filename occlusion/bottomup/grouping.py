"""Associative-embedding grouping (HigherHRNet's ``HeatmapParser``, docs/METHODS.md §5): NMS by max-pooling, the
top 30 candidates per joint, grouping by tag with the Hungarian matching, the quarter-pixel adjust, refine, and
the inverse affine back to the image."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..config import check
from ..transforms import affine_points, get_affine_transform

__all__ = ["COCO_JOINT_ORDER", "GroupingConfig", "Person", "group_people", "decode_bottomup"]

COCO_JOINT_ORDER: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)
"""Order in which HigherHRNet's grouping visits the COCO joints (head, shoulders, hips, then the limbs)."""


@dataclass(frozen=True)
class GroupingConfig:
    """HigherHRNet test settings (docs/METHODS.md §5): NMS kernel 5, top 30 per joint, thresholds and switches."""

    max_people: int = 30
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    use_detection_val: bool = True
    ignore_too_much: bool = True
    nms_kernel: int = 5
    adjust: bool = True
    refine: bool = True

    def __post_init__(self) -> None:
        check(self.max_people >= 1, "max_people", self.max_people, "an integer >= 1")
        check(self.nms_kernel >= 1 and self.nms_kernel % 2 == 1, "nms_kernel", self.nms_kernel, "an odd integer >= 1")
        check(self.tag_threshold > 0, "tag_threshold", self.tag_threshold, "a number > 0")


@dataclass(frozen=True, eq=False)
class Person:
    """One detected person: ``keypoints (K, 3)`` = x, y in image pixels and the heatmap value; ``score`` = the mean
    heatmap value of its K joints after grouping (0 for joints it lacked; before refine), as HigherHRNet."""

    keypoints: np.ndarray
    score: float


def _quarter(det: torch.Tensor, k: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``+-0.25`` toward the higher horizontal / vertical neighbour of ``det[k, y, x]`` (-0.25 on a tie)."""
    h, w = det.shape[1:]
    k, x, y = (torch.as_tensor(np.asarray(a), dtype=torch.long, device=det.device) for a in (k, x, y))
    right, left = det[k, y, (x + 1).clamp(max=w - 1)], det[k, y, (x - 1).clamp(min=0)]
    down, up = det[k, (y + 1).clamp(max=h - 1), x], det[k, (y - 1).clamp(min=0), x]
    quarter = torch.tensor([-0.25, 0.25], device=det.device)
    return quarter[(right > left).long()].cpu().numpy(), quarter[(down > up).long()].cpu().numpy()


def _match(
    tag_k: np.ndarray, loc_k: np.ndarray, val_k: np.ndarray, cfg: GroupingConfig, order: Sequence[int]
) -> np.ndarray:
    """HigherHRNet's ``match_by_tag``: people ``(P, K, 3 + L)`` (x, y, value, tags) from each joint's top-k."""
    from scipy.optimize import linear_sum_assignment  # here: scipy.optimize costs every stage's start 0.3 s

    num_joints, _, dims = tag_k.shape
    people: list[np.ndarray] = []
    person_tags: list[list[np.ndarray]] = []

    def new_person(joint: int, row: np.ndarray) -> None:
        person = np.zeros((num_joints, 3 + dims), dtype=np.float32)
        person[joint] = row
        people.append(person)
        person_tags.append([row[3:]])

    for joint in order:
        rows = np.concatenate([loc_k[joint], val_k[joint][:, None], tag_k[joint]], axis=1)
        rows = rows[rows[:, 2] > cfg.detection_threshold]
        if not len(rows):
            continue
        if not people:
            for row in rows:
                new_person(joint, row)
            continue
        grouped = len(people[: cfg.max_people])
        if cfg.ignore_too_much and grouped == cfg.max_people:
            continue
        means = np.stack([np.mean(t, axis=0) for t in person_tags[:grouped]])
        dist = np.linalg.norm(rows[:, None, 3:] - means[None], axis=2)
        cost = np.round(dist) * 100 - rows[:, 2:3] if cfg.use_detection_val else dist.copy()
        if len(rows) > grouped:
            cost = np.concatenate([cost, np.full((len(rows), len(rows) - grouped), 1e10)], axis=1)
        for r, c in zip(*linear_sum_assignment(cost)):
            if c < grouped and dist[r, c] < cfg.tag_threshold:
                people[c][joint] = rows[r]
                person_tags[c].append(rows[r, 3:])
            else:
                new_person(joint, rows[r])
    return np.asarray(people, dtype=np.float32).reshape(-1, num_joints, 3 + dims)


def _refine(person: np.ndarray, det: torch.Tensor, tags: torch.Tensor) -> np.ndarray:
    """HigherHRNet's ``refine``: fill each joint the person lacks with the heatmap point maximising
    ``value - round(distance of its tag to the person's mean tag)``, when that point's value is positive."""
    missing = np.flatnonzero(person[:, 2] == 0)
    if not missing.size:
        return person
    present = np.flatnonzero(person[:, 2] > 0)
    xy = torch.as_tensor(person[present, :2].astype(np.int64), device=det.device)
    mean_tag = tags[torch.as_tensor(present, device=det.device), xy[:, 1], xy[:, 0]].mean(dim=0)
    lacking = torch.as_tensor(missing, device=det.device)
    score = det[lacking] - torch.round(((tags[lacking] - mean_tag) ** 2).sum(dim=-1).sqrt())
    flat = score.reshape(len(missing), -1).argmax(dim=1)
    w = det.shape[2]
    ys, xs = (flat // w).cpu().numpy(), (flat % w).cpu().numpy()
    val = det[lacking, flat // w, flat % w].cpu().numpy()
    dx, dy = _quarter(det, missing, xs, ys)
    fill = val > 0
    out = person.copy()
    out[missing[fill], 0] = (xs + 0.5 + dx)[fill]
    out[missing[fill], 1] = (ys + 0.5 + dy)[fill]
    out[missing[fill], 2] = val[fill]
    return out


def group_people(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    cfg: GroupingConfig = GroupingConfig(),
    joint_order: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Associative-embedding grouping (HigherHRNet's ``HeatmapParser.parse``): ``(people (P, K, 3 + L), scores (P,))``.

    Peaks are the points equal to their ``nms_kernel`` max-pool; each joint keeps its ``max_people`` highest.
    Joints are visited in ``joint_order`` (HigherHRNet's COCO order for 17 joints, else 0..K-1); candidates above
    ``detection_threshold`` are matched to the people found so far by the Hungarian algorithm on
    ``round(tag distance) * 100 - value`` (``use_detection_val``), accepted when the distance to the person's mean
    tag is below ``tag_threshold``, else they start a new person; with ``ignore_too_much`` a joint is skipped once
    ``max_people`` people exist. ``adjust`` moves each joint a quarter pixel toward its higher neighbours and adds
    0.5 (pixel centres), the score is the mean value over all K joints, then ``refine`` fills missing joints.
    Coordinates are in map pixels. Tensors stay on their device (the peak search and refine run there).
    """
    det = torch.as_tensor(heatmaps, dtype=torch.float32)
    tag = torch.as_tensor(tags, dtype=torch.float32, device=det.device)
    num_joints, h, w = det.shape
    tag = tag.reshape(num_joints, h, w, -1)
    if joint_order is None:
        joint_order = COCO_JOINT_ORDER if num_joints == len(COCO_JOINT_ORDER) else range(num_joints)
    pad = cfg.nms_kernel // 2
    peaks = det * (F.max_pool2d(det[None], cfg.nms_kernel, 1, pad)[0] == det)
    val_k, ind = peaks.reshape(num_joints, -1).topk(min(cfg.max_people, h * w), dim=1)
    tag_k = torch.gather(tag.reshape(num_joints, h * w, -1), 1, ind[..., None].expand(-1, -1, tag.shape[-1]))
    loc_k = torch.stack([ind % w, ind // w], dim=-1).float()
    people = _match(tag_k.cpu().numpy(), loc_k.cpu().numpy(), val_k.cpu().numpy(), cfg, joint_order)
    if cfg.adjust and len(people):
        p, k = np.nonzero(people[:, :, 2] > 0)
        xs, ys = people[p, k, 0].astype(np.int64), people[p, k, 1].astype(np.int64)
        dx, dy = _quarter(det, k, xs, ys)
        people[p, k, 0] = xs + 0.5 + dx
        people[p, k, 1] = ys + 0.5 + dy
    scores = people[:, :, 2].mean(axis=1) if len(people) else np.zeros(0, dtype=np.float32)
    if cfg.refine:
        people = np.stack([_refine(person, det, tag) for person in people]) if len(people) else people
    return people, scores


def decode_bottomup(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    cfg: GroupingConfig = GroupingConfig(),
) -> list[Person]:
    """:func:`group_people` on maps of the resized input, mapped back to the image with the inverse affine of
    ``(center, scale)`` onto the maps' size (HigherHRNet's ``get_final_preds``)."""
    people, scores = group_people(heatmaps, tags, cfg)
    h, w = np.shape(heatmaps)[-2:]
    inverse = get_affine_transform(center, scale, 0.0, (w, h), inv=True)
    out = []
    for person, score in zip(people, scores):
        kps = person[:, :3].astype(np.float64)
        kps[:, :2] = affine_points(kps[:, :2], inverse)
        out.append(Person(keypoints=kps.astype(np.float32), score=float(score)))
    return out
