"""Scenes: one to four people (plus the scheduled crowd groups and cut-off people) placed on a background,
painted back to front, labelled and passed through a camera (blur, gain, noise)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np

from ..keypoints import COCO, MPII
from ..realocc.crowding import max_overlap
from .body import JOINT_ITEMS, STANDING_HEIGHT, Body, Item, pose_body
from .config import SPLITS, SyntheticConfig, check_split
from .draw import background, draw_item
from .labels import coco_crowd, coco_person, mpii_record
from .person import Person, sample_person

__all__ = ["SyntheticImage", "render_image", "render_overlap_image", "render_stream_image", "OVERLAP_MIN_IOU"]

_MIN_AREA = 16
"""People with fewer visible pixels are painted but not annotated."""
OVERLAP_MIN_IOU = 0.5
"""An overlap scene (the OCHuman-like split) keeps only layouts where every annotated person's box has IoU above this
with another person's box (OCHuman's criterion)."""
_HEAD_NECK = (MPII.index("head_top"), MPII.index("upper_neck"))


@dataclass
class SyntheticImage:
    """One rendered scene: the RGB image and its labels (annotation ids and image ids not yet assigned)."""

    image: np.ndarray
    """uint8 H x W x 3, RGB."""
    annotations: list[dict[str, Any]]
    """COCO annotation dicts, back to front (a later one is nearer); crowd regions first."""
    self_occluded: list[np.ndarray]
    """Per annotation, bool (17,): hidden by the person's own nearer limbs (these joints have v=1)."""
    mpii: list[dict[str, Any]]
    """MPII records (HRNet json layout, 1-based) of the non-crowd people with at least one labelled joint."""
    head_neck: list[np.ndarray] | None = None
    """Per annotation, float (2, 3): head top and neck ``x, y, v`` (CrowdPose's two extra keypoints; v as COCO's)."""


@dataclass
class _Placed:
    items: list[Item]
    joints: np.ndarray
    face_labelled: np.ndarray
    mpii: np.ndarray
    head_box: np.ndarray
    foot: float
    crowd: bool = False
    last: bool = False


@dataclass
class _Painted:
    """What painting a person left to label it: joints, which are in frame and self-occluded, their pixels."""

    xy: np.ndarray
    inside: np.ndarray
    self_occ: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


def _spread(index: int, fraction: float) -> bool:
    """True for ``round(n * fraction)`` of the first n indices, spread evenly."""
    return int(np.floor((index + 1) * fraction + 0.5)) > int(np.floor(index * fraction + 0.5))


def _place(body: Body, scale: float, offset: np.ndarray) -> tuple[list[Item], np.ndarray, np.ndarray, np.ndarray]:
    """Items, COCO joints, MPII joints and head box of ``body`` scaled to pixels and moved by ``offset``."""

    def fn(p: np.ndarray) -> np.ndarray:
        return p * scale + offset

    head_box = fn(body.head_box.reshape(2, 2)).reshape(4)
    return [it.transform(fn, scale) for it in body.items], fn(body.joints), fn(body.mpii), head_box


def _extent(items: list[Item]) -> np.ndarray:
    pts = np.concatenate([it.points() for it in items])
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def _in_frame(xy: np.ndarray, w: int, h: int) -> np.ndarray:
    """Joints inside the image: 0.5 <= x <= w - 1 and 0.5 <= y <= h - 1 (never on the COCO "unlabelled" 0)."""
    return (xy[:, 0] >= 0.5) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0.5) & (xy[:, 1] <= h - 1)


def _pixel(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the pixel holding each point (pixel centres at integer coordinates)."""
    return np.rint(xy[:, 1]).astype(int), np.rint(xy[:, 0]).astype(int)


def _layout(rng: np.random.Generator, cfg: SyntheticConfig, index: int) -> list[_Placed]:
    """Sample and place the people of one image, back to front."""
    w, h = cfg.image_size
    people: list[_Placed] = []

    def add(person: Person, height_px: float, place: Callable[[np.ndarray, np.ndarray], np.ndarray],
            **flags: bool) -> None:
        body = pose_body(person)
        scale = height_px / STANDING_HEIGHT
        ext = _extent(body.items) * scale
        offset = place(ext, np.concatenate([body.joints, body.mpii]) * scale)
        items, joints, mpii, head_box = _place(body, scale, offset)
        people.append(_Placed(items, joints, body.face_labelled, mpii, head_box, float(ext[3] + offset[1]), **flags))

    def normal(main: bool) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        def place(ext: np.ndarray, joints: np.ndarray) -> np.ndarray:
            bw, bh = ext[2] - ext[0], ext[3] - ext[1]
            cx = rng.uniform(0.2, 0.8) * w if main else rng.uniform(-0.1, 1.1) * w
            top = rng.uniform(-0.15 * bh, max(-0.15 * bh, h - 0.8 * bh))
            return np.array([cx - ext[0] - bw / 2, top - ext[1]])

        return place

    if cfg.crowd_fraction and _spread(index, cfg.crowd_fraction):
        band, x0 = rng.uniform(0.3, 0.6) * h, rng.uniform(0.0, 0.6) * w
        x1 = x0 + rng.uniform(0.25, 0.4) * w
        for _ in range(int(rng.integers(6, 13))):
            cx, foot = rng.uniform(x0, x1), band + rng.uniform(-0.03, 0.03) * h

            def crowd_place(ext: np.ndarray, joints: np.ndarray, cx: float = cx, foot: float = foot) -> np.ndarray:
                return np.array([cx - (ext[0] + ext[2]) / 2, foot - ext[3]])

            add(sample_person(rng), rng.uniform(0.1, 0.2) * h, crowd_place, crowd=True)
    lo, hi = cfg.people_per_image
    for k in range(int(rng.integers(lo, hi + 1))):
        add(sample_person(rng), rng.uniform(*cfg.person_height) * h, normal(k == 0))
    if cfg.cutoff_fraction and _spread(index, cfg.cutoff_fraction):
        left = bool(rng.random() < 0.5)

        def cutoff(ext: np.ndarray, joints: np.ndarray) -> np.ndarray:
            # Every joint just beyond the image edge; limb thickness, hands and head keep a sliver in view.
            dx = -0.5 - joints[:, 0].max() if left else w - 0.5 - joints[:, 0].min()
            return np.array([dx, normal(False)(ext, joints)[1]])

        add(sample_person(rng), rng.uniform(*cfg.person_height) * h, cutoff, last=True)
    return sorted(people, key=lambda q: (not q.crowd, q.last, q.foot))


def render_image(cfg: SyntheticConfig, split: str, index: int) -> SyntheticImage:
    """Render image ``index`` of ``split``; deterministic in ``(cfg.seed, split, index)``."""
    rng = np.random.default_rng([cfg.seed, SPLITS.index(check_split(split)), index])
    for _ in range(100):  # redraw the rare scene where every person ended up hidden or out of frame
        result = _render(rng, cfg, index)
        if any(a["num_keypoints"] > 0 for a in result.annotations):
            return result
    raise RuntimeError(f"{split} image {index}: no person with a labelled keypoint in 100 scenes; check {cfg}")


def _paint(img: np.ndarray, people: list[_Placed], light: np.ndarray) -> tuple[np.ndarray, list[_Painted]]:
    """Paint ``people`` back to front; the map of which person (1-based) shows at each pixel, and their joints."""
    h, w = img.shape[:2]
    person_map = np.zeros((h, w), np.int16)
    own = np.zeros((h, w), np.uint8)
    painted = []
    for pid, q in enumerate(people, start=1):
        own[:] = 0
        names = [it.name for it in q.items]
        for value, it in enumerate(q.items, start=1):
            draw_item(img, own, value, it, light)
        xy = np.round(q.joints, 2)
        inside = _in_frame(xy, w, h) & q.face_labelled
        rows, cols = _pixel(np.where(inside[:, None], xy, 0))
        top = own[rows, cols]
        self_occ = np.array([
            bool(inside[j] and top[j] and names[top[j] - 1] not in JOINT_ITEMS[n]) for j, n in enumerate(COCO.names)
        ])  # fmt: skip
        person_map[own > 0] = pid
        painted.append(_Painted(xy, inside, self_occ, rows, cols))
    return person_map, painted


def _label(people: list[_Placed], painted: list[_Painted], person_map: np.ndarray, image: SyntheticImage) -> None:
    """Append the crowd region and every annotated person's COCO annotation and MPII record to ``image``."""
    h, w = person_map.shape
    crowd_ids = [pid for pid, q in enumerate(people, start=1) if q.crowd]
    crowd = np.isin(person_map, crowd_ids)
    # A joint is hidden by another person when its pixel shows a nearer annotated person (crowd members are
    # farther than everyone; people with fewer than _MIN_AREA visible pixels are not annotated and do not hide).
    annotated = np.bincount(person_map.ravel(), minlength=len(people) + 1) >= _MIN_AREA
    annotated[[0] + crowd_ids] = False
    image.head_neck = []
    if crowd.sum() >= _MIN_AREA:
        image.annotations.append(coco_crowd(crowd))
        image.self_occluded.append(np.zeros(17, bool))
        image.head_neck.append(np.zeros((2, 3)))
    for pid, (q, p) in enumerate(zip(people, painted), start=1):
        if q.crowd or not annotated[pid]:
            continue
        shown = person_map[p.rows, p.cols]
        nearer = (shown > pid) & annotated[shown]
        v = np.where(p.inside, np.where(nearer | p.self_occ, 1, 2), 0)
        image.annotations.append(coco_person(p.xy, p.inside, v, person_map == pid))
        image.self_occluded.append(p.self_occ & p.inside)
        mxy = np.round(q.mpii, 2)
        labelled = _in_frame(mxy, w, h)
        image.head_neck.append(_head_neck(mxy, labelled, person_map, pid, annotated))
        if labelled.any():
            image.mpii.append(mpii_record(mxy, labelled, _extent(q.items), q.head_box))


def _head_neck(mxy: np.ndarray, labelled: np.ndarray, person_map: np.ndarray, pid: int,
               annotated: np.ndarray) -> np.ndarray:
    """Head top and neck (x, y, v) of person ``pid``: v=1 under a nearer annotated person, 2 in view, 0 out of frame."""
    idx = list(_HEAD_NECK)
    xy, inside = mxy[idx], labelled[idx]
    rows, cols = _pixel(np.where(inside[:, None], xy, 0))
    shown = person_map[rows, cols]
    v = np.where(inside, np.where((shown > pid) & annotated[shown], 1, 2), 0)
    return np.concatenate([np.where(inside[:, None], xy, 0.0), v[:, None]], axis=1)


def _overlap_layout(rng: np.random.Generator, cfg: SyntheticConfig, index: int) -> list[_Placed]:
    """Two or three people of similar height standing almost on top of each other (OCHuman-like), back to front."""
    w, h = cfg.image_size
    count = 3 if rng.random() < 0.4 else 2
    height = rng.uniform(0.6, 0.9) * h
    cx0, top0 = rng.uniform(0.35, 0.65) * w, rng.uniform(0.02, 0.08) * h
    people = []
    for _ in range(count):
        body = pose_body(sample_person(rng))
        scale = height * rng.uniform(0.92, 1.08) / STANDING_HEIGHT
        ext = _extent(body.items) * scale
        bw = ext[2] - ext[0]
        cx, top = cx0 + rng.uniform(-0.2, 0.2) * bw, top0 + rng.uniform(-0.04, 0.04) * h
        items, joints, mpii, head_box = _place(body, scale, np.array([cx - ext[0] - bw / 2, top - ext[1]]))
        people.append(_Placed(items, joints, body.face_labelled, mpii, head_box, float(ext[3] - ext[1] + top)))
    return sorted(people, key=lambda q: q.foot)


def _heavily_overlapping(scene: SyntheticImage) -> bool:
    """At least two annotated people with keypoints, each with box IoU > :data:`OVERLAP_MIN_IOU` with another."""
    people = [a for a in scene.annotations if not a["iscrowd"] and a["num_keypoints"] > 0]
    if len(people) < 2:
        return False
    return bool((max_overlap(np.array([a["bbox"] for a in people], dtype=float)) > OVERLAP_MIN_IOU).all())


def render_stream_image(cfg: SyntheticConfig, stream: int, index: int, *, overlap: bool = False) -> SyntheticImage:
    """Image ``index`` of the extra split drawn from RNG stream ``stream`` (deterministic in ``(cfg.seed, stream,
    index)``; streams 0-2 are the train and val splits and the detector): an ordinary scene, or with ``overlap`` an
    OCHuman-like one (:func:`render_overlap_image`)."""
    rng = np.random.default_rng([cfg.seed, stream, index])
    for _ in range(100):
        result = _render(rng, cfg, index, _overlap_layout if overlap else _layout)
        if _heavily_overlapping(result) if overlap else any(a["num_keypoints"] > 0 for a in result.annotations):
            return result
    raise RuntimeError(f"stream {stream} image {index}: no valid {'overlap ' if overlap else ''}scene in 100 draws")


def render_overlap_image(cfg: SyntheticConfig, stream: int, index: int) -> SyntheticImage:
    """An OCHuman-like scene: two or three people of similar size, each box with IoU > 0.5 with another's, painted in
    depth order (so visibility follows it: a joint under a nearer person is ``v=1``), redrawn until that holds."""
    return render_stream_image(cfg, stream, index, overlap=True)


def _render(rng: np.random.Generator, cfg: SyntheticConfig, index: int,
            layout: Callable[[np.random.Generator, SyntheticConfig, int], list[_Placed]] = _layout) -> SyntheticImage:
    w, h = cfg.image_size
    img = background(rng, w, h)
    people = layout(rng, cfg, index)
    light = rng.normal(size=2)
    light /= np.linalg.norm(light)
    person_map, painted = _paint(img, people, light)
    scene = SyntheticImage(img, [], [], [])
    _label(people, painted, person_map, scene)
    # The camera: blur, gain and bias, sensor noise.
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.8))
    gain, bias = rng.uniform(0.85, 1.15), rng.uniform(-15, 15)
    noisy = img.astype(np.float32) * gain + bias + rng.standard_normal(img.shape, dtype=np.float32) * rng.uniform(1, 4)
    scene.image = np.clip(noisy, 0, 255).astype(np.uint8)
    return scene
