"""The body model: a 3D stick skeleton posed from a :class:`~occlusion.synthetic.person.Person`, turned by its
yaw, projected orthographically, tilted in the image plane and listed as painted parts back to front."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np

from ..keypoints import COCO, MPII
from .person import Person

__all__ = ["STANDING_HEIGHT", "FACE_POINTS", "JOINT_ITEMS", "Item", "Body", "pose_body", "ellipse_half_extent"]

# Body proportions in units of the standing height (about 1.04 from sole to head top).
_TORSO, _NECK, _HEAD_RX, _HEAD_RY = 0.30, 0.05, 0.062, 0.075
_SHOULDER_W, _HIP_W, _TORSO_DEPTH = 0.21, 0.16, 0.12
_UPPER_ARM, _FOREARM, _HAND = 0.175, 0.155, 0.065
_THIGH, _SHIN, _ANKLE_H, _FOOT = 0.245, 0.245, 0.045, 0.08
STANDING_HEIGHT = _THIGH + _SHIN + _ANKLE_H + _TORSO + _NECK + 2 * _HEAD_RY
_WIDTH = {"upper_arm": 0.06, "forearm": 0.05, "hand": 0.045, "thigh": 0.09, "shin": 0.07, "foot": 0.045,
          "neck": 0.06}  # fmt: skip
# Face points on the head ellipsoid: (longitude, latitude) in radians, radius factor; + is the person's left.
FACE_POINTS = {"nose": (0.0, -0.12, 1.15), "left_eye": (0.5, 0.08, 1.0), "right_eye": (-0.5, 0.08, 1.0),
               "left_ear": (1.45, 0.0, 1.0), "right_ear": (-1.45, 0.0, 1.0)}  # fmt: skip
_FACE_LABELLED = {"nose": -0.3, "left_eye": 0.15, "right_eye": 0.15, "left_ear": -0.3, "right_ear": -0.3}
"""A face point is labelled when the cosine between its surface normal and the view direction exceeds this."""
JOINT_ITEMS: dict[str, tuple[str, ...]] = {
    **{k: ("head",) for k in FACE_POINTS},
    **{f"{side}_{joint}": (f"{s}_{a}", f"{s}_{b}" if b != "torso" else b)
       for s, side in (("l", "left"), ("r", "right")) for joint, a, b in (
        ("shoulder", "upper_arm", "torso"), ("elbow", "upper_arm", "forearm"), ("wrist", "forearm", "hand"),
        ("hip", "thigh", "torso"), ("knee", "thigh", "shin"), ("ankle", "shin", "foot"))},
}  # fmt: skip
"""Which painted items a joint belongs to; a joint under any other item of the same person is self-occluded."""
# Body frame: x = the person's left, y = down, z = forward.
_LAT, _FWD = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])


def ellipse_half_extent(axes: np.ndarray, angle_deg: float) -> np.ndarray:
    """Half width and half height of the bounding box of an ellipse with semi-axes ``axes`` rotated by ``angle_deg``."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([np.hypot(axes[0] * c, axes[1] * s), np.hypot(axes[0] * s, axes[1] * c)])


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation of ``v`` about ``axis``."""
    k = axis / np.linalg.norm(axis)
    return v * np.cos(angle) + np.cross(k, v) * np.sin(angle) + k * np.dot(k, v) * (1 - np.cos(angle))


def _limb_direction(swing: float, abduct: float, side: float) -> np.ndarray:
    """Unit direction of a limb hanging down, abducted sideways by ``abduct`` then swung forward by ``swing``."""
    x, y = side * np.sin(abduct), np.cos(abduct)
    return np.array([x, y * np.cos(swing), y * np.sin(swing)])


@dataclass
class Item:
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
            c, half = self.head["centre"], ellipse_half_extent(self.head["axes"], self.head["angle"])
            pts += [c - half, c + half] + [f["xy"] for f in self.head["ears"]] + [self.head["nose"]["xy"]]
        return np.asarray(pts, dtype=np.float64)

    def transform(self, fn: Callable[[np.ndarray], np.ndarray], scale: float) -> Item:
        """Apply the 2D similarity ``fn`` (with uniform ``scale``) to the geometry."""
        out = Item(self.name, self.depth, self.colour)
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
class Body:
    """A posed, projected person in 2D (body units, pelvis at the origin, y down)."""

    joints: np.ndarray
    """(17, 2) COCO joint positions (face points on the far side included)."""
    face_labelled: np.ndarray
    """(17,) bool: False for face points hidden behind the head (always True for body joints)."""
    mpii: np.ndarray
    """(16, 2) MPII joint positions."""
    head_box: np.ndarray
    """(4,) x1, y1, x2, y2 of the head ellipse with its ears."""
    items: list[Item]
    """Painted parts, back to front."""


class _Camera:
    """Yaw about the vertical, orthographic projection, in-plane tilt."""

    def __init__(self, yaw: float, tilt: float):
        self.cy, self.sy = np.cos(yaw), np.sin(yaw)
        self.ct, self.st = np.cos(tilt), np.sin(tilt)

    def project(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """Image-plane ``xy`` and depth toward the camera of the body-frame point ``x``."""
        cy, sy, ct, st = self.cy, self.sy, self.ct, self.st
        u, depth = x[0] * cy + x[2] * sy, -x[0] * sy + x[2] * cy
        return np.array([u * ct - x[1] * st, u * st + x[1] * ct]), float(depth)


@dataclass
class _Head:
    """The head ellipsoid (lateral = forward radius ``rx``, vertical ``ry``) on the neck, turned by the head yaw."""

    centre: np.ndarray
    rx: float
    ry: float
    yaw: float
    """Relative to the body frame."""
    face_cos: dict[str, float]


_SIDE = {"l": "left", "r": "right"}
"""Side prefix of the pose parameters (``l_elbow``, an angle) -> of the joint names (``left_elbow``, COCO's)."""


def _side(person: Person, s: str, side: float, thorax: np.ndarray, pelvis: np.ndarray) -> tuple[dict, dict]:
    """3D shoulder ... ankle of side ``s`` and the (start, end) of its hand and foot."""
    p, w = person.pose, person.width
    shoulder = thorax + side * _SHOULDER_W * w / 2 * _LAT
    upper = _limb_direction(p[f"{s}_arm_swing"], p[f"{s}_arm_abduct"], side)
    hint = np.array([-side * p[f"{s}_elbow_in"], -p[f"{s}_elbow_up"], 1.0])
    axis = np.cross(upper, hint)
    axis = axis if np.linalg.norm(axis) > 1e-3 else _LAT
    fore = _rotate(upper, axis, p[f"{s}_elbow"])
    elbow = shoulder + _UPPER_ARM * person.arm_len * upper
    wrist = elbow + _FOREARM * person.arm_len * fore
    hip = pelvis + side * _HIP_W * w / 2 * _LAT
    thigh = _limb_direction(p[f"{s}_leg_swing"], p[f"{s}_leg_abduct"], side)
    shin = _rotate(thigh, _LAT, -p[f"{s}_knee"])
    knee = hip + _THIGH * person.leg_len * thigh
    ankle = knee + _SHIN * person.leg_len * shin
    heel = ankle + np.array([0.0, _ANKLE_H * 0.6, -0.01])
    j = _SIDE[s]
    joints = {f"{j}_shoulder": shoulder, f"{j}_elbow": elbow, f"{j}_wrist": wrist, f"{j}_hip": hip,
              f"{j}_knee": knee, f"{j}_ankle": ankle}  # fmt: skip
    ends = {f"{s}_hand": (wrist, wrist + _HAND * person.arm_len * fore), f"{s}_foot": (heel, heel + _FOOT * _FWD)}
    return joints, ends


def _head(person: Person, thorax: np.ndarray, up: np.ndarray, pts3: dict[str, np.ndarray]) -> _Head:
    """Place the head on the neck and add its top and face points to ``pts3``."""
    rx, ry = _HEAD_RX * person.head, _HEAD_RY * person.head
    centre3 = thorax + (_NECK + ry * 0.92) * up
    hyaw = person.head_yaw - person.yaw

    def on_head(lon: float, la: float, radius: float) -> np.ndarray:
        return centre3 + radius * rx * np.cos(la) * (np.sin(lon + hyaw) * _LAT + np.cos(lon + hyaw) * _FWD) + (
            radius * ry * np.sin(la) * up)

    pts3["head_top"] = centre3 + ry * up
    face_cos = {k: float(np.cos(lon + person.head_yaw)) for k, (lon, _, _) in FACE_POINTS.items()}
    for k, (lon, la, radius) in FACE_POINTS.items():
        pts3[k] = on_head(lon, la, radius)
    return _Head(centre3, rx, ry, hyaw, face_cos)


def _limb_items(person: Person, cam: _Camera, xy: dict, dep: dict, limbs: dict) -> list[Item]:
    """Arms, legs, hands and feet; depth = mean depth toward the camera plus a small bias (arms in front of the
    torso, thighs behind it)."""
    t = person.thick
    sleeve = person.shirt if person.long_sleeves else person.skin
    items: list[Item] = []
    for s in "lr":
        j = _SIDE[s]
        for name, a, b, colour, bias in (
            ("upper_arm", f"{j}_shoulder", f"{j}_elbow", person.shirt, 0.02),
            ("forearm", f"{j}_elbow", f"{j}_wrist", sleeve, 0.021),
            ("thigh", f"{j}_hip", f"{j}_knee", person.pants, -0.03),
            ("shin", f"{j}_knee", f"{j}_ankle", person.skin if person.shorts else person.pants, -0.029),
        ):
            it = Item(f"{s}_{name}", (dep[a] + dep[b]) / 2 + bias, colour)
            it.lines.append((xy[a], xy[b], _WIDTH[name] * t))
            items.append(it)
        for name, colour, bias in (("hand", person.skin, 0.022), ("foot", person.shoes, -0.028)):
            a3, b3 = limbs[f"{s}_{name}"]
            (a2, da), (b2, db) = cam.project(a3), cam.project(b3)
            it = Item(f"{s}_{name}", (da + db) / 2 + bias, colour)
            it.lines.append((a2, b2, _WIDTH[name] * t))
            items.append(it)
    return items


def _trunk_items(person: Person, cam: _Camera, xy: dict, dep: dict, pts3: dict, up: np.ndarray) -> list[Item]:
    """The neck (just in front of the thorax) and the torso, the convex hull of a box at shoulders and hips."""
    neck = Item("neck", (dep["thorax"] + dep["upper_neck"]) / 2 + 0.005, person.skin)
    neck.lines.append((xy["thorax"], xy["upper_neck"] + (xy["upper_neck"] - xy["thorax"]) * 0.3,
                       _WIDTH["neck"] * person.thick))  # fmt: skip
    corners = []
    w = person.width
    for centre, half, down in ((pts3["thorax"], _SHOULDER_W * w / 2 + 0.025, 0.0),
                               (pts3["pelvis"], _HIP_W * w / 2 + 0.035, 0.03)):  # fmt: skip
        for a in (-1, 1):
            for d in (-1, 1):
                corners.append(cam.project(centre + a * half * _LAT + d * _TORSO_DEPTH / 2 * _FWD + down * -up)[0])
    torso = Item("torso", (dep["pelvis"] + dep["thorax"]) / 2, person.shirt)
    torso.poly = cv2.convexHull(np.asarray(corners, np.float32)).reshape(-1, 2).astype(np.float64)
    return [neck, torso]


def _head_item(person: Person, cam: _Camera, xy: dict, head: _Head, up: np.ndarray) -> Item:
    """Hair ellipse, face, the visible eyes and ears and the nose; just in front of the neck."""
    rx, ry, hyaw, face_cos = head.rx, head.ry, head.yaw, head.face_cos
    up2 = xy["head_top"] - cam.project(head.centre)[0]
    angle = float(np.degrees(np.arctan2(up2[0], -up2[1])))
    side_turn = float(np.sin(person.head_yaw))
    face_axes = np.array([rx * (0.86 - 0.3 * abs(side_turn)), ry * 0.86])
    item = Item("head", cam.project(head.centre)[1] + 0.03, person.hair)
    face_centre = head.centre - 0.1 * ry * up + 0.35 * rx * (np.sin(hyaw) * _LAT + np.cos(hyaw) * _FWD)
    item.head = {
        "centre": cam.project(head.centre)[0], "axes": np.array([rx, ry]), "angle": angle,
        "face_centre": cam.project(face_centre)[0],
        "face_axes": face_axes, "hair": person.hair, "skin": person.skin,
        "eyes": [{"xy": xy[k], "size": rx * 0.2, "squash": max(0.35, face_cos[k])}
                 for k in ("left_eye", "right_eye") if face_cos[k] > _FACE_LABELLED[k]],
        "ears": [{"xy": xy[k], "size": rx * 0.26}
                 for k in ("left_ear", "right_ear") if face_cos[k] > _FACE_LABELLED[k]],
        "nose": {"xy": xy["nose"], "size": rx * 0.16},
    }  # fmt: skip
    return item


def pose_body(person: Person) -> Body:
    """Build the 3D skeleton of ``person``, turn it by its yaw, project it and list its painted parts."""
    p = person.pose
    cam = _Camera(person.yaw, person.tilt)
    up = np.array([np.tan(p["side_lean"]), -1.0, np.tan(p["lean"])])
    up /= np.linalg.norm(up)
    pelvis = np.zeros(3)
    thorax = pelvis + _TORSO * up
    pts3: dict[str, np.ndarray] = {"pelvis": pelvis, "thorax": thorax, "upper_neck": thorax + _NECK * up}
    limbs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for s, side in (("l", 1.0), ("r", -1.0)):
        joints3, ends = _side(person, s, side, thorax, pelvis)
        pts3 |= joints3
        limbs |= ends
    head = _head(person, thorax, up, pts3)

    proj = {k: cam.project(v) for k, v in pts3.items()}
    xy = {k: v[0] for k, v in proj.items()}
    dep = {k: v[1] for k, v in proj.items()}
    joints = np.stack([xy[n] for n in COCO.names])
    face_labelled = np.array([head.face_cos[n] > _FACE_LABELLED[n] if n in FACE_POINTS else True for n in COCO.names])
    mpii_pts = {**xy, "pelvis": (xy["left_hip"] + xy["right_hip"]) / 2,
                "thorax": (xy["left_shoulder"] + xy["right_shoulder"]) / 2}
    mpii = np.stack([mpii_pts[n] for n in MPII.names])

    head_item = _head_item(person, cam, xy, head, up)
    items = _limb_items(person, cam, xy, dep, limbs) + _trunk_items(person, cam, xy, dep, pts3, up) + [head_item]
    items.sort(key=lambda it: it.depth)  # stable: ties keep the listing order
    c, half = head_item.head["centre"], ellipse_half_extent(head_item.head["axes"], head_item.head["angle"])
    corners = np.array([c - half, c + half] + [e["xy"] for e in head_item.head["ears"]])
    head_box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
    return Body(joints, face_labelled, mpii, head_box, items)
