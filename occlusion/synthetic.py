"""The embedded default dataset: generated images of articulated people in COCO and MPII formats.

Every experiment of the project (training small pose models, the occlusion attacks of paper Figs. 3-8, the
targeted augmentations of Table I) runs end to end on CPU on a dataset this module draws, so nothing has to be
downloaded. A scene holds one to four people on a cluttered, textured background. Each person is a 3D stick
skeleton (torso, neck, head, two arms with upper arm, forearm and hand, two legs with thigh, shin and foot),
posed from one of five pose families (standing, walking, arms raised, sitting, free action), turned about the
vertical axis (frontal to profile), tilted in the image plane, projected orthographically and painted back to
front as shaded limbs in varied clothing colours. The head is skin coloured with hair, two dark eyes on white,
a nose and two ears, so the face keypoints have something to hide.

Labels follow COCO (REFERENCE_SPEC §1): ``v=2`` visible, ``v=1`` labelled but hidden (under a nearer
person's silhouette, or under the person's own nearer limbs in side views), ``v=0`` unlabelled with
``x=y=0`` (outside the image, or a face point on the far side of the head). People are painted in
annotation-id order, so a later annotation of an image is nearer to the camera. The MPII export derives the
16 MPII joints from the same skeletons (pelvis = mid-hip, thorax = mid-shoulder, upper neck, head top).

Layout written by :func:`generate_dataset`::

    OUT/images/{train,val}/000001.jpg
    OUT/annotations/person_keypoints_{train,val}.json   COCO keypoints (segmentation as RLE)
    OUT/detections/val_detections.json                  simulated person detector (COCO results)
    OUT/mpii/{train,valid}.json                         HRNet's MPII json layout, 1-based, with head boxes
    OUT/manifest.json                                   config, sha256 of every file, fingerprint

The MPII ``center`` sits ``15 * scale`` px above the body-box centre and ``scale`` is the body-box height / 200,
so HRNet's MPII loader (which moves the centre down by ``15 * scale`` and enlarges the scale 1.25x) crops the
body box with a 1.25 margin, as for COCO. Unlabelled MPII joints are ``(-1, -1)`` with ``joints_vis`` 0.

Example::

    python -m occlusion.synthetic data/synthetic --seed 0
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from tqdm import tqdm

from .config import check, to_dict
from .keypoints import COCO, MPII

__all__ = ["SyntheticConfig", "SyntheticImage", "render_image", "generate_dataset", "coco_categories", "main"]

SPLITS: tuple[str, ...] = ("train", "val")
MPII_SPLIT_NAMES = {"train": "train", "val": "valid"}

# Body proportions in units of the standing height (about 1.04 from sole to head top).
_TORSO, _NECK, _HEAD_RX, _HEAD_RY = 0.30, 0.05, 0.062, 0.075
_SHOULDER_W, _HIP_W, _TORSO_DEPTH = 0.21, 0.16, 0.12
_UPPER_ARM, _FOREARM, _HAND = 0.175, 0.155, 0.065
_THIGH, _SHIN, _ANKLE_H, _FOOT = 0.245, 0.245, 0.045, 0.08
_STANDING = _THIGH + _SHIN + _ANKLE_H + _TORSO + _NECK + 2 * _HEAD_RY
_WIDTH = {"upper_arm": 0.06, "forearm": 0.05, "hand": 0.045, "thigh": 0.09, "shin": 0.07, "foot": 0.045,
          "neck": 0.06}  # fmt: skip
# Face points on the head ellipsoid: (longitude, latitude) in radians, radius factor; + is the person's left.
_FACE = {"nose": (0.0, -0.12, 1.15), "l_eye": (0.5, 0.08, 1.0), "r_eye": (-0.5, 0.08, 1.0),
         "l_ear": (1.45, 0.0, 1.0), "r_ear": (-1.45, 0.0, 1.0)}  # fmt: skip
_FACE_LABELLED = {"nose": -0.3, "l_eye": 0.15, "r_eye": 0.15, "l_ear": -0.3, "r_ear": -0.3}
"""A face point is labelled when the cosine between its surface normal and the view direction exceeds this."""
# Which painted items a joint belongs to; a joint under any other item of the same person is self-occluded.
_JOINT_ITEMS: dict[str, tuple[str, ...]] = {
    **{k: ("head",) for k in _FACE},
    **{f"{s}_{joint}": (f"{s}_{a}", f"{s}_{b}" if b != "torso" else b) for s in "lr" for joint, a, b in (
        ("shoulder", "upper_arm", "torso"), ("elbow", "upper_arm", "forearm"), ("wrist", "forearm", "hand"),
        ("hip", "thigh", "torso"), ("knee", "thigh", "shin"), ("ankle", "shin", "foot"))},
}  # fmt: skip
_SKIN = np.array([(236, 200, 174), (224, 172, 140), (198, 134, 98), (160, 105, 70), (120, 78, 50), (88, 57, 38)])
_HAIR = np.array([(28, 24, 20), (70, 45, 25), (110, 75, 40), (200, 165, 105), (150, 148, 145), (130, 55, 25)])
_MIN_AREA = 16
"""People with fewer visible pixels are painted but not annotated."""
_SHIFT = 4  # cv2 fixed-point bits: coordinates are drawn with 1/16 pixel precision


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty of the generated dataset.

    The defaults give about 2,000 annotated training people and 300 validation people on 320x240 images
    (925 images, 25 MB), generated in about 15 seconds on one CPU core.
    """

    seed: int = 0
    train_images: int = 800
    val_images: int = 125
    image_size: tuple[int, int] = (320, 240)
    """(width, height) in pixels."""
    people_per_image: tuple[int, int] = (1, 4)
    """Inclusive range of people painted per image (before the scheduled extras below)."""
    person_height: tuple[float, float] = (0.45, 0.95)
    """Standing height of a person as a fraction of the image height (uniform range)."""
    jpeg_quality: int = 90
    detector_false_positives: float = 1.0
    """Mean number of low-scored false-positive boxes per validation image (Poisson)."""
    detector_jitter: float = 0.06
    """Std of the simulated detector's box centre shift and log-size change, relative to the box size
    (normal, truncated at 2.5 std; at 0.06 every true box keeps IoU > 0.5 with its detection)."""
    crowd_fraction: float = 0.04
    """Fraction of images (spread evenly) with a far group of small people annotated as one ``iscrowd=1`` region."""
    cutoff_fraction: float = 0.05
    """Fraction of images (spread evenly) with an extra person almost entirely out of frame, so that the
    annotation has a visible silhouette but zero labelled keypoints."""

    def __post_init__(self) -> None:
        check(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed, "an integer >= 0")
        for name in ("train_images", "val_images"):
            value = getattr(self, name)
            check(isinstance(value, int) and value >= 1, name, value, "an integer >= 1")
        w, h = self.image_size
        check(64 <= w <= 4096 and 64 <= h <= 4096, "image_size", self.image_size, "(width, height) in [64, 4096]")
        lo, hi = self.people_per_image
        check(1 <= lo <= hi <= 16, "people_per_image", self.people_per_image, "(lo, hi) with 1 <= lo <= hi <= 16")
        lo, hi = self.person_height
        check(0.1 <= lo <= hi <= 1.5, "person_height", self.person_height, "(lo, hi) with 0.1 <= lo <= hi <= 1.5")
        check(1 <= self.jpeg_quality <= 100, "jpeg_quality", self.jpeg_quality, "an integer in [1, 100]")
        check(self.detector_false_positives >= 0, "detector_false_positives", self.detector_false_positives, ">= 0")
        check(0 <= self.detector_jitter <= 0.5, "detector_jitter", self.detector_jitter, "a number in [0, 0.5]")
        for name in ("crowd_fraction", "cutoff_fraction"):
            value = getattr(self, name)
            check(0 <= value <= 1, name, value, "a fraction in [0, 1]")

    def num_images(self, split: str) -> int:
        """Number of images of ``split`` (``"train"`` or ``"val"``)."""
        return {"train": self.train_images, "val": self.val_images}[_check_split(split)]


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


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    return split


def coco_categories() -> list[dict[str, Any]]:
    """The COCO person category: 17 keypoint names as COCO spells them and the 1-based skeleton."""
    names = [{"l": "left", "r": "right"}.get(n[0], "") + n[1:] if n[1] == "_" else n for n in COCO.names]
    return [{"supercategory": "person", "id": 1, "name": "person", "keypoints": names,
             "skeleton": [[a + 1, b + 1] for a, b in COCO.edges]}]  # fmt: skip


# --------------------------------------------------------------------------------------------------- sampling


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _deg(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.deg2rad(rng.uniform(lo, hi)))


def _sample_pose(rng: np.random.Generator) -> dict[str, float]:
    """Joint angles (radians) of one of five pose families; arms: abduct/swing/elbow, legs: abduct/swing/knee."""
    kind = rng.choice(["standing", "walking", "raised", "sitting", "action"], p=[0.28, 0.24, 0.16, 0.1, 0.22])
    p: dict[str, float] = {"lean": _deg(rng, -5, 10), "side_lean": _deg(rng, -4, 4)}
    for s in "lr":
        p[f"{s}_elbow_up"], p[f"{s}_elbow_in"] = _u(rng, 0, 1), _u(rng, -0.3, 1)
    if kind == "standing":
        for s in "lr":
            p |= {f"{s}_arm_abduct": _deg(rng, 3, 22), f"{s}_arm_swing": _deg(rng, -15, 25),
                  f"{s}_elbow": _deg(rng, 0, 35), f"{s}_leg_abduct": _deg(rng, 0, 10),
                  f"{s}_leg_swing": _deg(rng, -8, 8), f"{s}_knee": _deg(rng, 0, 10)}  # fmt: skip
    elif kind == "walking":
        phase = _u(rng, -1, 1)
        for s, sign in (("l", 1.0), ("r", -1.0)):
            swing = sign * phase
            p |= {f"{s}_arm_abduct": _deg(rng, 3, 15), f"{s}_arm_swing": float(np.deg2rad(-30 * swing)),
                  f"{s}_elbow": _deg(rng, 10, 45), f"{s}_leg_abduct": _deg(rng, 0, 6),
                  f"{s}_leg_swing": float(np.deg2rad(28 * swing)),
                  f"{s}_knee": _deg(rng, 0, 15) if swing > 0 else _deg(rng, 10, 50)}  # fmt: skip
    elif kind == "raised":
        for s in "lr":
            raised = rng.random() < 0.8
            p |= {f"{s}_arm_abduct": _deg(rng, 60, 175) if raised else _deg(rng, 5, 30),
                  f"{s}_arm_swing": _deg(rng, -20, 60), f"{s}_elbow": _deg(rng, 0, 100),
                  f"{s}_leg_abduct": _deg(rng, 0, 15), f"{s}_leg_swing": _deg(rng, -10, 10),
                  f"{s}_knee": _deg(rng, 0, 15)}  # fmt: skip
    elif kind == "sitting":
        p["lean"] = _deg(rng, -10, 20)
        for s in "lr":
            p |= {f"{s}_arm_abduct": _deg(rng, 5, 30), f"{s}_arm_swing": _deg(rng, 10, 60),
                  f"{s}_elbow": _deg(rng, 20, 100), f"{s}_leg_abduct": _deg(rng, 0, 20),
                  f"{s}_leg_swing": _deg(rng, 60, 100), f"{s}_knee": _deg(rng, 60, 110)}  # fmt: skip
    else:
        p |= {"lean": _deg(rng, -15, 35), "side_lean": _deg(rng, -15, 15)}
        for s in "lr":
            p |= {f"{s}_arm_abduct": _deg(rng, 0, 170), f"{s}_arm_swing": _deg(rng, -45, 120),
                  f"{s}_elbow": _deg(rng, 0, 140), f"{s}_leg_abduct": _deg(rng, 0, 45),
                  f"{s}_leg_swing": _deg(rng, -40, 90), f"{s}_knee": _deg(rng, 0, 120)}  # fmt: skip
    return p


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A clothing colour: saturated, pastel, dark or grey."""
    kind = rng.random()
    if kind < 0.15:
        return (int(rng.integers(20, 230)),) * 3
    hsv = np.array([[[rng.integers(0, 180), rng.integers(60, 256), rng.integers(40, 256)]]], np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _jitter(rng: np.random.Generator, base: np.ndarray, amount: int) -> tuple[int, int, int]:
    return tuple(int(c) for c in np.clip(base + rng.integers(-amount, amount + 1, 3), 0, 255))


@dataclass(frozen=True)
class _Person:
    """Everything drawn about one person, in body units before placement."""

    pose: dict[str, float]
    yaw: float
    head_yaw: float
    tilt: float
    width: float
    arm_len: float
    leg_len: float
    head: float
    thick: float
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    shoes: tuple[int, int, int]
    long_sleeves: bool
    shorts: bool


def _sample_person(rng: np.random.Generator) -> _Person:
    r = rng.random()  # half near-frontal, the rest three-quarter to profile views
    if r < 0.5:
        yaw = _deg(rng, -30, 30)
    else:
        yaw = float(rng.choice([-1, 1])) * (_deg(rng, 30, 70) if r < 0.8 else _deg(rng, 70, 90))
    head_yaw = float(np.clip(yaw + _deg(rng, -25, 25), -np.deg2rad(95), np.deg2rad(95)))
    tilt = _deg(rng, -35, 35) if rng.random() < 0.15 else _deg(rng, -6, 6)
    return _Person(
        pose=_sample_pose(rng), yaw=yaw, head_yaw=head_yaw, tilt=tilt, width=_u(rng, 0.85, 1.2),
        arm_len=_u(rng, 0.92, 1.08), leg_len=_u(rng, 0.92, 1.08), head=_u(rng, 0.9, 1.12), thick=_u(rng, 0.8, 1.25),
        skin=_jitter(rng, _SKIN[rng.integers(len(_SKIN))], 12), hair=_jitter(rng, _HAIR[rng.integers(len(_HAIR))], 10),
        shirt=_colour(rng), pants=_colour(rng),
        shoes=_colour(rng) if rng.random() < 0.5 else _jitter(rng, np.full(3, 30), 20),
        long_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.3),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------- geometry


def _ellipse_half_extent(axes: np.ndarray, angle_deg: float) -> np.ndarray:
    """Half width and half height of the bounding box of an ellipse with semi-axes ``axes`` rotated by ``angle_deg``."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([np.hypot(axes[0] * c, axes[1] * s), np.hypot(axes[0] * s, axes[1] * c)])


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation of ``v`` about ``axis``."""
    k = axis / np.linalg.norm(axis)
    return v * np.cos(angle) + np.cross(k, v) * np.sin(angle) + k * np.dot(k, v) * (1 - np.cos(angle))


def _limb_direction(swing: float, abduct: float, side: float) -> np.ndarray:
    """Unit direction of a limb hanging down, abducted sideways by ``abduct`` then swung forward by ``swing``.

    Body frame: x = the person's left, y = down, z = forward.
    """
    x, y = side * np.sin(abduct), np.cos(abduct)
    return np.array([x, y * np.cos(swing), y * np.sin(swing)])


@dataclass
class _Item:
    """One painted body part: thick line segments (``lines``), a filled convex polygon (``poly``) or the head."""

    name: str
    depth: float
    colour: tuple[int, int, int]
    lines: list[tuple[np.ndarray, np.ndarray, float]] = field(default_factory=list)
    poly: np.ndarray | None = None
    head: dict[str, Any] | None = None

    def points(self) -> np.ndarray:
        """Outline sample points (for extents), with line and head radii included."""
        pts = []
        for p0, p1, w in self.lines:
            for p in (p0, p1):
                pts += [p - w / 2, p + w / 2]
        if self.poly is not None:
            pts += list(self.poly)
        if self.head is not None:
            c, half = self.head["centre"], _ellipse_half_extent(self.head["axes"], self.head["angle"])
            pts += [c - half, c + half] + [f["xy"] for f in self.head["ears"]] + [self.head["nose"]["xy"]]
        return np.asarray(pts, dtype=np.float64)

    def transform(self, fn: Callable[[np.ndarray], np.ndarray], scale: float) -> _Item:
        """Apply the 2D similarity ``fn`` (with uniform ``scale``) to the geometry."""
        out = _Item(self.name, self.depth, self.colour)
        out.lines = [(fn(p0), fn(p1), w * scale) for p0, p1, w in self.lines]
        out.poly = None if self.poly is None else fn(self.poly)
        if self.head is not None:
            h = self.head
            out.head = {
                "centre": fn(h["centre"]), "axes": h["axes"] * scale, "angle": h["angle"],
                "face_centre": fn(h["face_centre"]), "face_axes": h["face_axes"] * scale,
                "eyes": [{**e, "xy": fn(e["xy"]), "size": e["size"] * scale} for e in h["eyes"]],
                "ears": [{**e, "xy": fn(e["xy"]), "size": e["size"] * scale} for e in h["ears"]],
                "nose": {**h["nose"], "xy": fn(h["nose"]["xy"]), "size": h["nose"]["size"] * scale},
                "hair": h["hair"], "skin": h["skin"],
            }  # fmt: skip
        return out


@dataclass
class _Body:
    """A posed, projected person in 2D (body units, pelvis at the origin, y down)."""

    joints: np.ndarray
    """(17, 2) COCO joint positions (face points on the far side included)."""
    face_labelled: np.ndarray
    """(17,) bool: False for face points hidden behind the head (always True for body joints)."""
    mpii: np.ndarray
    """(16, 2) MPII joint positions."""
    head_box: np.ndarray
    """(4,) x1, y1, x2, y2 of the head ellipse with its ears."""
    items: list[_Item]
    """Painted parts, back to front."""


def _pose_body(person: _Person) -> _Body:
    """Build the 3D skeleton of ``person``, turn it by its yaw, project it and list its painted parts."""
    p, w = person.pose, person.width
    cy, sy = np.cos(person.yaw), np.sin(person.yaw)
    ct, st = np.cos(person.tilt), np.sin(person.tilt)

    def project(x: np.ndarray) -> tuple[np.ndarray, float]:
        """Yaw about the vertical, orthographic projection, in-plane tilt; returns (xy, depth toward camera)."""
        u, depth = x[0] * cy + x[2] * sy, -x[0] * sy + x[2] * cy
        return np.array([u * ct - x[1] * st, u * st + x[1] * ct]), float(depth)

    lat, fwd = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    up = np.array([np.tan(p["side_lean"]), -1.0, np.tan(p["lean"])])
    up /= np.linalg.norm(up)
    pelvis = np.zeros(3)
    thorax = pelvis + _TORSO * up
    pts3: dict[str, np.ndarray] = {"pelvis": pelvis, "thorax": thorax, "upper_neck": thorax + _NECK * up}
    limbs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for s, side in (("l", 1.0), ("r", -1.0)):
        shoulder = thorax + side * _SHOULDER_W * w / 2 * lat
        upper = _limb_direction(p[f"{s}_arm_swing"], p[f"{s}_arm_abduct"], side)
        hint = np.array([-side * p[f"{s}_elbow_in"], -p[f"{s}_elbow_up"], 1.0])
        axis = np.cross(upper, hint)
        axis = axis if np.linalg.norm(axis) > 1e-3 else lat
        fore = _rotate(upper, axis, p[f"{s}_elbow"])
        elbow = shoulder + _UPPER_ARM * person.arm_len * upper
        wrist = elbow + _FOREARM * person.arm_len * fore
        hip = pelvis + side * _HIP_W * w / 2 * lat
        thigh = _limb_direction(p[f"{s}_leg_swing"], p[f"{s}_leg_abduct"], side)
        shin = _rotate(thigh, lat, -p[f"{s}_knee"])
        knee = hip + _THIGH * person.leg_len * thigh
        ankle = knee + _SHIN * person.leg_len * shin
        heel = ankle + np.array([0.0, _ANKLE_H * 0.6, -0.01])
        pts3 |= {f"{s}_shoulder": shoulder, f"{s}_elbow": elbow, f"{s}_wrist": wrist, f"{s}_hip": hip,
                 f"{s}_knee": knee, f"{s}_ankle": ankle}  # fmt: skip
        limbs |= {f"{s}_hand": (wrist, wrist + _HAND * person.arm_len * fore), f"{s}_foot": (heel, heel + _FOOT * fwd)}

    # Head: an ellipsoid (lateral = forward radius rx, vertical ry) on the neck, turned by the head yaw.
    rx, ry = _HEAD_RX * person.head, _HEAD_RY * person.head
    centre3 = thorax + (_NECK + ry * 0.92) * up
    hyaw = person.head_yaw - person.yaw  # relative to the body frame

    def on_head(lon: float, la: float, radius: float) -> np.ndarray:
        return centre3 + radius * rx * np.cos(la) * (np.sin(lon + hyaw) * lat + np.cos(lon + hyaw) * fwd) + (
            radius * ry * np.sin(la) * up)

    pts3["head_top"] = centre3 + ry * up
    face_cos = {k: float(np.cos(lon + person.head_yaw)) for k, (lon, _, _) in _FACE.items()}
    for k, (lon, la, radius) in _FACE.items():
        pts3[k] = on_head(lon, la, radius)

    proj = {k: project(v) for k, v in pts3.items()}
    xy = {k: v[0] for k, v in proj.items()}
    dep = {k: v[1] for k, v in proj.items()}
    joints = np.stack([xy[n] for n in COCO.names])
    face_labelled = np.array([face_cos[n] > _FACE_LABELLED[n] if n in _FACE else True for n in COCO.names])
    mpii_pts = {**xy, "pelvis": (xy["l_hip"] + xy["r_hip"]) / 2, "thorax": (xy["l_shoulder"] + xy["r_shoulder"]) / 2}
    mpii = np.stack([mpii_pts[n] for n in MPII.names])

    # Painted parts; depth = mean depth toward the camera plus a small bias (arms in front of the torso,
    # thighs behind it, head in front of the neck).
    t = person.thick
    sleeve = person.shirt if person.long_sleeves else person.skin
    items: list[_Item] = []
    for s in "lr":
        for name, a, b, colour, bias in (
            ("upper_arm", f"{s}_shoulder", f"{s}_elbow", person.shirt, 0.02),
            ("forearm", f"{s}_elbow", f"{s}_wrist", sleeve, 0.021),
            ("thigh", f"{s}_hip", f"{s}_knee", person.pants, -0.03),
            ("shin", f"{s}_knee", f"{s}_ankle", person.skin if person.shorts else person.pants, -0.029),
        ):
            it = _Item(f"{s}_{name}", (dep[a] + dep[b]) / 2 + bias, colour)
            it.lines.append((xy[a], xy[b], _WIDTH[name] * t))
            items.append(it)
        for name, colour, bias in (("hand", person.skin, 0.022), ("foot", person.shoes, -0.028)):
            a3, b3 = limbs[f"{s}_{name}"]
            (a2, da), (b2, db) = project(a3), project(b3)
            it = _Item(f"{s}_{name}", (da + db) / 2 + bias, colour)
            it.lines.append((a2, b2, _WIDTH[name] * t))
            items.append(it)
    neck = _Item("neck", (dep["thorax"] + dep["upper_neck"]) / 2 + 0.005, person.skin)
    neck.lines.append((xy["thorax"], xy["upper_neck"] + (xy["upper_neck"] - xy["thorax"]) * 0.3, _WIDTH["neck"] * t))
    items.append(neck)
    corners = []
    for centre, half, down in ((thorax, _SHOULDER_W * w / 2 + 0.025, 0.0), (pelvis, _HIP_W * w / 2 + 0.035, 0.03)):
        for a in (-1, 1):
            for d in (-1, 1):
                corners.append(project(centre + a * half * lat + d * _TORSO_DEPTH / 2 * fwd + down * -up)[0])
    torso = _Item("torso", (dep["pelvis"] + dep["thorax"]) / 2, person.shirt)
    torso.poly = cv2.convexHull(np.asarray(corners, np.float32)).reshape(-1, 2).astype(np.float64)
    items.append(torso)

    up2 = xy["head_top"] - project(centre3)[0]
    angle = float(np.degrees(np.arctan2(up2[0], -up2[1])))
    side_turn = float(np.sin(person.head_yaw))
    face_axes = np.array([rx * (0.86 - 0.3 * abs(side_turn)), ry * 0.86])
    head = _Item("head", project(centre3)[1] + 0.03, person.hair)
    head.head = {
        "centre": project(centre3)[0], "axes": np.array([rx, ry]), "angle": angle,
        "face_centre": project(centre3 - 0.1 * ry * up + 0.35 * rx * (np.sin(hyaw) * lat + np.cos(hyaw) * fwd))[0],
        "face_axes": face_axes, "hair": person.hair, "skin": person.skin,
        "eyes": [{"xy": xy[k], "size": rx * 0.2, "squash": max(0.35, face_cos[k])}
                 for k in ("l_eye", "r_eye") if face_cos[k] > _FACE_LABELLED[k]],
        "ears": [{"xy": xy[k], "size": rx * 0.26} for k in ("l_ear", "r_ear") if face_cos[k] > _FACE_LABELLED[k]],
        "nose": {"xy": xy["nose"], "size": rx * 0.16},
    }  # fmt: skip
    items.append(head)
    items.sort(key=lambda it: it.depth)  # stable: ties keep the listing order

    c, half = head.head["centre"], _ellipse_half_extent(head.head["axes"], angle)
    corners = np.array([c - half, c + half] + [e["xy"] for e in head.head["ears"]])
    head_box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
    return _Body(joints, face_labelled, mpii, head_box, items)


# --------------------------------------------------------------------------------------------------- drawing


def _fx(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * 16)), int(round(float(p[1]) * 16))


def _shade(colour: Sequence[int], factor: float, add: float = 0.0) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * factor + add))) for c in colour)


def _draw_item(img: np.ndarray, own: np.ndarray, value: int, it: _Item, light: np.ndarray) -> None:
    """Paint ``it`` into ``img`` (shaded) and its silhouette into ``own`` with ``value``."""
    lt = cv2.LINE_8
    for p0, p1, w in it.lines:
        t = max(1, int(round(w)))
        cv2.line(own, _fx(p0), _fx(p1), value, t, lt, _SHIFT)
        cv2.line(img, _fx(p0), _fx(p1), _shade(it.colour, 0.62), t, lt, _SHIFT)
        if t >= 3:
            o = light * 0.1 * w
            cv2.line(img, _fx(p0 + o), _fx(p1 + o), it.colour, max(1, int(round(0.7 * w))), lt, _SHIFT)
            o = light * 0.22 * w
            cv2.line(img, _fx(p0 + o), _fx(p1 + o), _shade(it.colour, 1.15, 25), max(1, int(round(0.28 * w))), lt,
                     _SHIFT)
    if it.poly is not None:
        pts = np.array([_fx(p) for p in it.poly], np.int32)
        cv2.fillConvexPoly(own, pts, value, lt, _SHIFT)
        cv2.fillConvexPoly(img, pts, _shade(it.colour, 0.62), lt, _SHIFT)
        c = it.poly.mean(axis=0)
        size = float(np.ptp(it.poly, axis=0).max())
        for k, off, colour in ((0.82, 0.05, it.colour), (0.4, 0.18, _shade(it.colour, 1.12, 18))):
            inner = c + k * (it.poly - c) + light * off * size
            cv2.fillConvexPoly(img, np.array([_fx(p) for p in inner], np.int32), colour, lt, _SHIFT)
    if it.head is not None:
        _draw_head(img, own, value, it.head)


def _ellipse(img: np.ndarray, centre: np.ndarray, axes: Sequence[float], angle: float, colour: Any) -> None:
    ax = (max(1, int(round(axes[0] * 16))), max(1, int(round(axes[1] * 16))))
    cv2.ellipse(img, _fx(centre), ax, angle, 0, 360, colour, -1, cv2.LINE_8, _SHIFT)


def _draw_head(img: np.ndarray, own: np.ndarray, value: int, h: dict[str, Any]) -> None:
    skin = h["skin"]
    ear_colour = _shade(skin, 0.8)
    for e in h["ears"]:
        axes = (max(1.0, e["size"] * 0.7), max(1.2, e["size"]))
        _ellipse(own, e["xy"], axes, h["angle"], value)
        _ellipse(img, e["xy"], (axes[0] + 0.7, axes[1] + 0.7), h["angle"], _shade(skin, 0.5))
        _ellipse(img, e["xy"], axes, h["angle"], ear_colour)
    _ellipse(own, h["centre"], h["axes"], h["angle"], value)
    _ellipse(img, h["centre"], h["axes"], h["angle"], h["hair"])
    _ellipse(img, h["face_centre"], h["face_axes"], h["angle"], skin)
    n = h["nose"]
    _ellipse(own, n["xy"], (max(1.0, n["size"]),) * 2, 0, value)
    _ellipse(img, n["xy"], (max(1.0, n["size"]),) * 2, 0, _shade(skin, 0.62, 30))
    for e in h["eyes"]:
        size = max(1.0, e["size"])
        _ellipse(img, e["xy"], (max(1.0, size * e["squash"]), max(1.0, size * 0.75)), h["angle"], (245, 245, 240))
        _ellipse(img, e["xy"], (max(1.0, size * 0.5 * e["squash"]), max(1.0, size * 0.55)), h["angle"], (25, 20, 20))


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Gradient + low-frequency blotches + a floor + noise + random clutter, some of it person coloured."""
    c0, c1 = rng.uniform(15, 240, (2, 3))
    ang = rng.uniform(0, 2 * np.pi)
    xs, ys = np.linspace(-1, 1, w, dtype=np.float32), np.linspace(-1, 1, h, dtype=np.float32)
    ramp = (np.cos(ang) * xs[None, :] + np.sin(ang) * ys[:, None]) * 0.5 + 0.5
    img = c0.astype(np.float32) + (c1 - c0).astype(np.float32) * ramp[..., None]
    blotch = rng.normal(0, rng.uniform(10, 35), (int(rng.integers(2, 6)), int(rng.integers(2, 8)), 3))
    img += cv2.resize(blotch.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.6:
        horizon = int(rng.uniform(0.3, 0.75) * h)
        img[horizon:] = img[horizon:] * rng.uniform(0.5, 1.0) + rng.uniform(-40, 40, 3).astype(np.float32)
    grain = rng.uniform(2, 14)
    if rng.random() < 0.5:
        img += rng.standard_normal((h, w, 1), dtype=np.float32) * grain
    else:
        img += rng.standard_normal((h, w, 3), dtype=np.float32) * grain
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(8, 26))):
        kind = rng.random()
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        if kind < 0.3:
            x2, y2 = x + int(rng.integers(5, w // 2)), y + int(rng.integers(5, h // 2))
            cv2.rectangle(img, (x, y), (x2, y2), colour, -1 if rng.random() < 0.6 else int(rng.integers(1, 5)))
        elif kind < 0.5:
            axes = (int(rng.integers(3, w // 6)), int(rng.integers(3, h // 6)))
            cv2.ellipse(img, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        elif kind < 0.7:
            x2, y2 = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.line(img, (x, y), (x2, y2), colour, int(rng.integers(1, 6)))
        elif kind < 0.8:  # striped patch (texture)
            x2, y2 = x + int(rng.integers(10, w // 2)), y + int(rng.integers(10, h // 2))
            step = int(rng.integers(3, 9))
            for k in range(x, x2, step):
                cv2.line(img, (k, y), (k + int(rng.integers(-5, 6)), y2), colour, 1)
        elif kind < 0.9:  # limb-like distractor in clothing or skin colour
            c = _colour(rng) if rng.random() < 0.6 else _jitter(rng, _SKIN[rng.integers(len(_SKIN))], 12)
            x2, y2 = x + int(rng.integers(-40, 41)), y + int(rng.integers(-40, 41))
            cv2.line(img, (x, y), (x2, y2), _shade(c, 0.62), int(rng.integers(4, 14)))
        else:  # head-like skin blob
            c = _jitter(rng, _SKIN[rng.integers(len(_SKIN))], 12)
            r = int(rng.integers(4, 14))
            cv2.ellipse(img, (x, y), (r, int(r * 1.2)), 0, 0, 360, c, -1)
    return img


# --------------------------------------------------------------------------------------------------- scenes


def _spread(index: int, fraction: float) -> bool:
    """True for ``round(n * fraction)`` of the first n indices, spread evenly."""
    return int(np.floor((index + 1) * fraction + 0.5)) > int(np.floor(index * fraction + 0.5))


def _place(body: _Body, scale: float, offset: np.ndarray) -> tuple[list[_Item], np.ndarray, np.ndarray, np.ndarray]:
    """Items, COCO joints, MPII joints and head box of ``body`` scaled to pixels and moved by ``offset``."""

    def fn(p: np.ndarray) -> np.ndarray:
        return p * scale + offset

    head_box = fn(body.head_box.reshape(2, 2)).reshape(4)
    return [it.transform(fn, scale) for it in body.items], fn(body.joints), fn(body.mpii), head_box


def _extent(items: list[_Item]) -> np.ndarray:
    pts = np.concatenate([it.points() for it in items])
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def _in_frame(xy: np.ndarray, w: int, h: int) -> np.ndarray:
    """Joints inside the image: 0.5 <= x <= w - 1 and 0.5 <= y <= h - 1 (never on the COCO "unlabelled" 0)."""
    return (xy[:, 0] >= 0.5) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0.5) & (xy[:, 1] <= h - 1)


def _pixel(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the pixel holding each point (pixel centres at integer coordinates)."""
    return np.rint(xy[:, 1]).astype(int), np.rint(xy[:, 0]).astype(int)


def _rle(mask: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _round(a: np.ndarray | float, nd: int = 2) -> Any:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


@dataclass
class _Placed:
    items: list[_Item]
    joints: np.ndarray
    face_labelled: np.ndarray
    mpii: np.ndarray
    head_box: np.ndarray
    foot: float
    crowd: bool = False
    last: bool = False


def _layout(rng: np.random.Generator, cfg: SyntheticConfig, index: int) -> list[_Placed]:
    """Sample and place the people of one image, back to front."""
    w, h = cfg.image_size
    people: list[_Placed] = []

    def add(person: _Person, height_px: float, place: Callable[[np.ndarray, np.ndarray], np.ndarray],
            **flags: bool) -> None:
        body = _pose_body(person)
        scale = height_px / _STANDING
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

            add(_sample_person(rng), rng.uniform(0.1, 0.2) * h, crowd_place, crowd=True)
    lo, hi = cfg.people_per_image
    for k in range(int(rng.integers(lo, hi + 1))):
        add(_sample_person(rng), rng.uniform(*cfg.person_height) * h, normal(k == 0))
    if cfg.cutoff_fraction and _spread(index, cfg.cutoff_fraction):
        left = bool(rng.random() < 0.5)

        def cutoff(ext: np.ndarray, joints: np.ndarray) -> np.ndarray:
            # Every joint just beyond the image edge; limb thickness, hands and head keep a sliver in view.
            dx = -0.5 - joints[:, 0].max() if left else w - 0.5 - joints[:, 0].min()
            return np.array([dx, normal(False)(ext, joints)[1]])

        add(_sample_person(rng), rng.uniform(*cfg.person_height) * h, cutoff, last=True)
    return sorted(people, key=lambda q: (not q.crowd, q.last, q.foot))


def render_image(cfg: SyntheticConfig, split: str, index: int) -> SyntheticImage:
    """Render image ``index`` of ``split``; deterministic in ``(cfg.seed, split, index)``."""
    rng = np.random.default_rng([cfg.seed, SPLITS.index(_check_split(split)), index])
    for _ in range(100):  # redraw the rare scene where every person ended up hidden or out of frame
        result = _render(rng, cfg, index)
        if any(a["num_keypoints"] > 0 for a in result.annotations):
            return result
    raise RuntimeError(f"{split} image {index}: no person with a labelled keypoint in 100 scenes; check {cfg}")


def _render(rng: np.random.Generator, cfg: SyntheticConfig, index: int) -> SyntheticImage:
    w, h = cfg.image_size
    img = _background(rng, w, h)
    people = _layout(rng, cfg, index)
    light = rng.normal(size=2)
    light /= np.linalg.norm(light)
    person_map = np.zeros((h, w), np.int16)
    own = np.zeros((h, w), np.uint8)
    states = []
    for pid, q in enumerate(people, start=1):
        own[:] = 0
        names = [it.name for it in q.items]
        for value, it in enumerate(q.items, start=1):
            _draw_item(img, own, value, it, light)
        xy = np.round(q.joints, 2)
        inside = _in_frame(xy, w, h) & q.face_labelled
        rows, cols = _pixel(np.where(inside[:, None], xy, 0))
        top = own[rows, cols]
        self_occ = np.array([
            bool(inside[j] and top[j] and names[top[j] - 1] not in _JOINT_ITEMS[n]) for j, n in enumerate(COCO.names)
        ])  # fmt: skip
        person_map[own > 0] = pid
        states.append((xy, inside, self_occ, rows, cols))

    annotations: list[dict[str, Any]] = []
    self_occluded: list[np.ndarray] = []
    mpii: list[dict[str, Any]] = []
    crowd = np.isin(person_map, [pid for pid, q in enumerate(people, start=1) if q.crowd])
    # A joint is hidden by another person when its pixel shows a nearer annotated person (crowd members are
    # farther than everyone; people with fewer than _MIN_AREA visible pixels are not annotated and do not hide).
    annotated = np.bincount(person_map.ravel(), minlength=len(people) + 1) >= _MIN_AREA
    annotated[[0] + [pid for pid, q in enumerate(people, start=1) if q.crowd]] = False
    if crowd.sum() >= _MIN_AREA:
        rle = _rle(crowd)
        annotations.append({"category_id": 1, "iscrowd": 1, "keypoints": [0] * 51, "num_keypoints": 0,
                            "bbox": _round(mask_utils.toBbox(rle)), "area": float(crowd.sum()), "segmentation": rle})
        self_occluded.append(np.zeros(17, bool))
    for pid, (q, (xy, inside, self_occ, rows, cols)) in enumerate(zip(people, states), start=1):
        if q.crowd:
            continue
        if not annotated[pid]:
            continue
        visible = person_map == pid
        area = int(visible.sum())
        shown = person_map[rows, cols]
        nearer = (shown > pid) & annotated[shown]
        v = np.where(inside, np.where(nearer | self_occ, 1, 2), 0)
        kps = np.concatenate([np.where(inside[:, None], xy, 0.0), v[:, None]], axis=1)
        rle = _rle(visible)
        annotations.append({
            "category_id": 1, "iscrowd": 0, "keypoints": [x for row in kps.tolist() for x in row[:2] + [int(row[2])]],
            "num_keypoints": int((v > 0).sum()), "bbox": _round(mask_utils.toBbox(rle)), "area": float(area),
            "segmentation": rle,
        })  # fmt: skip
        self_occluded.append(self_occ & inside)
        mxy = np.round(q.mpii, 2)
        labelled = _in_frame(mxy, w, h)
        if labelled.any():
            ext = _extent(q.items)
            scale = (ext[3] - ext[1]) / 200.0
            centre = (ext[:2] + ext[2:]) / 2 + 1 - np.array([0.0, 15 * scale])
            box = q.head_box + 1
            mpii.append({
                "joints": np.where(labelled[:, None], np.round(mxy + 1, 2), -1.0).tolist(),
                "joints_vis": labelled.astype(int).tolist(), "center": _round(centre), "scale": _round(scale, 4),
                "head_box": np.concatenate([np.floor(box[:2] * 100) / 100, np.ceil(box[2:] * 100) / 100]).tolist(),
            })  # fmt: skip

    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.8))
    gain, bias = rng.uniform(0.85, 1.15), rng.uniform(-15, 15)
    noisy = img.astype(np.float32) * gain + bias + rng.standard_normal(img.shape, dtype=np.float32) * rng.uniform(1, 4)
    return SyntheticImage(np.clip(noisy, 0, 255).astype(np.uint8), annotations, self_occluded, mpii)


# --------------------------------------------------------------------------------------------------- dataset


def _detections(rng: np.random.Generator, cfg: SyntheticConfig, image_id: int, anns: list[dict]) -> list[dict]:
    """Simulated person detector: every true box jittered and scored 0.6-1.0, plus low-scored false positives."""
    w, h = cfg.image_size
    out = []
    for a in anns:
        if a["iscrowd"]:
            continue
        x, y, bw, bh = a["bbox"]
        j = np.clip(rng.standard_normal(4), -2.5, 2.5) * cfg.detector_jitter
        cx, cy = x + bw / 2 + j[0] * bw, y + bh / 2 + j[1] * bh
        nw, nh = bw * np.exp(j[2]), bh * np.exp(j[3])
        out.append((cx - nw / 2, cy - nh / 2, nw, nh, rng.uniform(0.6, 1.0)))
    for _ in range(int(rng.poisson(cfg.detector_false_positives))):
        bh = rng.uniform(0.15, 0.8) * h
        bw = min(bh * rng.uniform(0.25, 0.7), w - 1)
        out.append((rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh, rng.uniform(0.01, 0.5)))
    dets = []
    for x, y, bw, bh, score in sorted(out, key=lambda d: -d[4]):
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(w), x + bw), min(float(h), y + bh)
        dets.append({"image_id": image_id, "category_id": 1, "bbox": _round([x0, y0, x1 - x0, y1 - y0]),
                     "score": round(float(score), 4)})  # fmt: skip
    return dets


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":")))


def generate_dataset(out_dir: str | Path, cfg: SyntheticConfig | None = None, *, progress: bool = True) -> dict:
    """Generate the dataset into ``out_dir`` (which must not exist) and return a summary.

    Files are written into ``.<name>.partial`` beside ``out_dir`` and renamed at the end, so an interrupted
    run never leaves a directory that looks complete. The same config gives bit-identical files.
    The summary holds per-split counts, ``seconds`` and ``fingerprint`` (sha256 over every file's sha256).
    """
    cfg = cfg or SyntheticConfig()
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; remove it or choose another output directory")
    tmp = out_dir.parent / f".{out_dir.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    start = time.perf_counter()
    summary: dict[str, Any] = {}
    bar = tqdm(total=cfg.train_images + cfg.val_images, desc="synthetic", disable=not progress, file=sys.stderr)
    for split in SPLITS:
        images, annotations, mpii, dets = [], [], [], []
        counts = dict.fromkeys(("persons", "persons_with_keypoints", "crowd", "zero_keypoints", "keypoints_v1",
                                "keypoints_v2", "self_occluded"), 0)  # fmt: skip
        (tmp / "images" / split).mkdir(parents=True)
        for index in range(cfg.num_images(split)):
            scene = render_image(cfg, split, index)
            image_id = index + 1
            file_name = f"{image_id:06d}.jpg"
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])  # fmt: skip
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for {split} image {file_name}")
            (tmp / "images" / split / file_name).write_bytes(buf.tobytes())
            h, w = scene.image.shape[:2]
            images.append({"id": image_id, "file_name": file_name, "width": w, "height": h})
            for a, occ in zip(scene.annotations, scene.self_occluded):
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, **a})
                v = np.asarray(a["keypoints"][2::3])
                if a["iscrowd"]:
                    counts["crowd"] += 1
                    continue
                counts["persons"] += 1
                counts["persons_with_keypoints"] += int(a["num_keypoints"] > 0)
                counts["zero_keypoints"] += int(a["num_keypoints"] == 0)
                counts["keypoints_v1"] += int((v == 1).sum())
                counts["keypoints_v2"] += int((v == 2).sum())
                counts["self_occluded"] += int(occ.sum())
            mpii += [{"image": f"{split}/{file_name}", **m} for m in scene.mpii]
            if split == "val":
                det_rng = np.random.default_rng([cfg.seed, len(SPLITS), index])
                dets += _detections(det_rng, cfg, image_id, scene.annotations)
            bar.update()
        coco = {"info": {"description": "occlusion synthetic people", "version": "1.0"}, "licenses": [],
                "images": images, "annotations": annotations, "categories": coco_categories()}  # fmt: skip
        _write_json(tmp / "annotations" / f"person_keypoints_{split}.json", coco)
        _write_json(tmp / "mpii" / f"{MPII_SPLIT_NAMES[split]}.json", mpii)
        summary[split] = {"images": len(images), **counts, "mpii_persons": len(mpii)}
        if split == "val":
            _write_json(tmp / "detections" / "val_detections.json", dets)
            summary["detections"] = len(dets)
    bar.close()
    files = {p.relative_to(tmp).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(tmp.rglob("*")) if p.is_file()}  # fmt: skip
    fingerprint = hashlib.sha256("".join(f"{k} {v}\n" for k, v in files.items()).encode()).hexdigest()
    _write_json(tmp / "manifest.json", {"generator": "occlusion.synthetic", "config": to_dict(cfg),
                                        "fingerprint": fingerprint, "files": files})  # fmt: skip
    tmp.rename(out_dir)
    summary |= {"seconds": round(time.perf_counter() - start, 3), "fingerprint": fingerprint, "out_dir": str(out_dir)}
    return summary


def main(argv: Sequence[str] | None = None) -> dict:
    """``python -m occlusion.synthetic OUT_DIR [--seed N] [--train-images N] [--val-images N]``."""
    parser = argparse.ArgumentParser(prog="python -m occlusion.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="output directory (must not exist)")
    defaults = SyntheticConfig()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--train-images", type=int, default=defaults.train_images)
    parser.add_argument("--val-images", type=int, default=defaults.val_images)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    cfg = SyntheticConfig(seed=args.seed, train_images=args.train_images, val_images=args.val_images)
    summary = generate_dataset(args.out_dir, cfg, progress=not args.quiet)
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
