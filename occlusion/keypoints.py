"""Keypoint and body-part definitions for COCO-17, MPII-16 and CrowdPose-14.

The part tables follow the paper's reference code (docs/METHODS.md §1):

* ``part_mapping`` says which keypoints belong to a part. It decides PartMix eligibility and
  which joints a part attack "hides".
* ``box_parts`` (the reference's ``advanced_parts``) lists the keypoints whose bounding rectangle
  defines the box of the large parts and the head. It differs from ``part_mapping`` in three
  places (COCO right_side without the nose; MPII upper_body with hips and without thorax; MPII
  lower_body without pelvis).

Keypoint names are COCO's own (``left_eye``, ``right_ankle``: the ``keypoints`` list of COCO's person category)
and, for MPII, mmpose's (``head_top``, ``upper_neck``, ``left_wrist``).

Example:
    >>> sk = get_skeleton("coco")
    >>> sk.index("left_ankle"), sk.part_mapping["hip"]
    (15, (11, 12))
    >>> sk.index("l_ankle")
    Traceback (most recent call last):
    ...
    KeyError: "unknown coco keypoint 'l_ankle' (did you mean 'left_ankle'?); allowed: nose, left_eye, ..."
"""
from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from types import MappingProxyType
from typing import Mapping

import numpy as np

__all__ = [
    "Skeleton",
    "COCO",
    "MPII",
    "CROWDPOSE",
    "COCO_TO_CROWDPOSE",
    "get_skeleton",
    "SMALL_PARTS",
    "LARGE_PARTS",
    "PARTS",
    "TRAIN_PARTS",
    "PARTMIX_PARTS",
    "FILLERS",
    "canonical_keypoint",
]

SMALL_PARTS: tuple[str, ...] = ("head", "left_arm", "right_arm", "hip", "left_leg", "right_leg")
"""Paper Fig. 2b."""
LARGE_PARTS: tuple[str, ...] = ("upper_body", "lower_body", "left_side", "right_side", "corpus")
"""Paper Fig. 2c."""
PARTS: tuple[str, ...] = SMALL_PARTS + LARGE_PARTS
"""The 11 part targets of the part attacks (Fig. 7)."""
TRAIN_PARTS: tuple[str, ...] = ("left_arm", "right_arm", "hip", "left_leg", "right_leg")
"""Parts drawn by part-level training augmentations (part_mapping keys minus advanced_parts keys)."""
PARTMIX_PARTS: tuple[str, ...] = ("head", "left_arm", "right_arm", "left_leg", "right_leg", "corpus")
"""Target and source parts of PartMix."""
FILLERS: tuple[str, ...] = ("blur", "blackout", "meanout")
"""How an occluded region is filled: Gaussian blur, zeros, or the crop's per-channel mean."""


def canonical_keypoint(name: str) -> str:
    """One spelling per keypoint, COCO's own: ``l_``/``r_`` prefixes become ``left_``/``right_`` (the annotation
    files spell them out, older code abbreviates); lower case, spaces as underscores."""
    name = name.strip().lower().replace(" ", "_")
    for short, long in (("l_", "left_"), ("r_", "right_")):
        if name.startswith(short):
            return long + name[len(short):]
    return name


def _did_you_mean(name: str, allowed: tuple[str, ...]) -> str:
    """`` (did you mean 'left_ankle'?)`` for a near miss such as the short form ``l_ankle``, else ``""``."""
    expanded = canonical_keypoint(name)
    close = [expanded] if expanded in allowed else get_close_matches(name, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _freeze(d: Mapping[str, tuple[int, ...]]) -> Mapping[str, tuple[int, ...]]:
    return MappingProxyType({k: tuple(v) for k, v in d.items()})


@dataclass(frozen=True)
class Skeleton:
    """Static description of one dataset's keypoints."""

    name: str
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    edges: tuple[tuple[int, int], ...]
    part_mapping: Mapping[str, tuple[int, ...]]
    box_parts: Mapping[str, tuple[int, ...]]
    upper_body: tuple[int, ...]
    """Joints of the upper body for half-body augmentation (docs/METHODS.md §3 step 2)."""
    sigmas: np.ndarray | None = field(default=None, compare=False)
    """OKS sigmas (COCO only)."""
    joint_weights: np.ndarray | None = field(default=None, compare=False)

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def lower_body(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.num_joints) if i not in self.upper_body)

    def index(self, name: str) -> int:
        """Index of a keypoint name; raises ``KeyError`` naming the allowed names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown {self.name} keypoint {name!r}{_did_you_mean(name, self.names)}; "
                           f"allowed: {', '.join(self.names)}") from None

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps left and right joints."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def target_kind(self, target: str) -> str:
        """``"keypoint"`` or ``"part"`` for an attack/augmentation target name."""
        if target in self.names:
            return "keypoint"
        if target in PARTS:
            return "part"
        raise KeyError(
            f"unknown {self.name} target {target!r}{_did_you_mean(target, self.names + PARTS)}; "
            f"allowed: keypoints {', '.join(self.names)} "
            f"or parts {', '.join(PARTS)}"
        )


_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip

COCO = Skeleton(
    name="coco",
    names=_COCO_NAMES,
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    edges=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
        (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
    ),  # fmt: skip
    part_mapping=_freeze({
        "head": (0, 1, 2, 3, 4),
        "left_arm": (5, 7, 9),
        "right_arm": (6, 8, 10),
        "hip": (11, 12),
        "left_leg": (11, 13, 15),
        "right_leg": (12, 14, 16),
        "left_side": (1, 3, 5, 7, 9, 11, 13, 15),
        "right_side": (0, 2, 4, 6, 8, 10, 12, 14, 16),
        "upper_body": tuple(range(0, 13)),
        "lower_body": tuple(range(11, 17)),
        "corpus": (5, 6, 11, 12),
    }),
    box_parts=_freeze({
        "head": (0, 1, 2, 3, 4),
        "left_side": (1, 3, 5, 7, 9, 11, 13, 15),
        "right_side": (2, 4, 6, 8, 10, 12, 14, 16),
        "upper_body": tuple(range(0, 13)),
        "lower_body": tuple(range(11, 17)),
        "corpus": (5, 6, 11, 12),
    }),
    upper_body=tuple(range(0, 11)),
    sigmas=np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0,
    joint_weights=np.array([1, 1, 1, 1, 1, 1, 1, 1.2, 1.2, 1.5, 1.5, 1, 1, 1.2, 1.2, 1.5, 1.5], dtype=np.float32),
)

_MPII_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax", "upper_neck",
    "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip

MPII = Skeleton(
    name="mpii",
    names=_MPII_NAMES,
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    edges=(
        (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (7, 12), (12, 11), (11, 10),
        (7, 13), (13, 14), (14, 15),
    ),  # fmt: skip
    part_mapping=_freeze({
        "head": (8, 9),
        "left_arm": (13, 14, 15),
        "right_arm": (10, 11, 12),
        "hip": (2, 3),
        "left_leg": (3, 4, 5),
        "right_leg": (0, 1, 2),
        "left_side": (3, 4, 5, 13, 14, 15),
        "right_side": (0, 1, 2, 10, 11, 12),
        "upper_body": tuple(range(7, 16)),
        "lower_body": tuple(range(0, 7)),
        "corpus": (2, 3, 12, 13),
    }),
    box_parts=_freeze({
        "head": (8, 9),
        "left_side": (3, 4, 5, 13, 14, 15),
        "right_side": (0, 1, 2, 10, 11, 12),
        "upper_body": (9, 8, 12, 13, 11, 14, 10, 15, 2, 3),
        "lower_body": (0, 1, 2, 3, 4, 5),
        "corpus": (2, 3, 12, 13),
    }),
    upper_body=(7, 8, 9, 10, 11, 12, 13, 14, 15),
    joint_weights=np.array([1.5, 1.2, 1, 1, 1.2, 1.5, 1, 1, 1, 1, 1.5, 1.2, 1, 1, 1.2, 1.5], dtype=np.float32),
)

_CROWDPOSE_NAMES = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "head", "neck",
)  # fmt: skip

CROWDPOSE = Skeleton(
    name="crowdpose",
    names=_CROWDPOSE_NAMES,
    flip_pairs=((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)),
    edges=(
        (12, 13), (13, 0), (13, 1), (0, 2), (2, 4), (1, 3), (3, 5), (0, 6), (1, 7), (6, 7), (6, 8), (8, 10),
        (7, 9), (9, 11),
    ),  # fmt: skip
    part_mapping=_freeze({
        "head": (12, 13),
        "left_arm": (0, 2, 4),
        "right_arm": (1, 3, 5),
        "hip": (6, 7),
        "left_leg": (6, 8, 10),
        "right_leg": (7, 9, 11),
        "left_side": (0, 2, 4, 6, 8, 10),
        "right_side": (1, 3, 5, 7, 9, 11),
        "upper_body": (0, 1, 2, 3, 4, 5, 6, 7, 12, 13),
        "lower_body": (6, 7, 8, 9, 10, 11),
        "corpus": (0, 1, 6, 7),
    }),
    box_parts=_freeze({
        "head": (12, 13),
        "left_side": (0, 2, 4, 6, 8, 10),
        "right_side": (1, 3, 5, 7, 9, 11),
        "upper_body": (0, 1, 2, 3, 4, 5, 6, 7, 12, 13),
        "lower_body": (6, 7, 8, 9, 10, 11),
        "corpus": (0, 1, 6, 7),
    }),
    upper_body=(0, 1, 2, 3, 4, 5, 12, 13),
    sigmas=np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, .79, .79]) / 10.0,
    joint_weights=np.array([1, 1, 1.2, 1.2, 1.5, 1.5, 1, 1, 1.2, 1.2, 1.5, 1.5, 1, 1], dtype=np.float32),
)
"""CrowdPose's 14 keypoints (its annotation files' order), its OKS sigmas (those of its evaluation: COCO's for the
limbs, 0.079 for head and neck) and part tables built as COCO's: the head is head and neck, the upper body the
head, arms and hips (docs/METHODS.md §13)."""

COCO_TO_CROWDPOSE: np.ndarray = np.array([COCO.index(n) for n in _CROWDPOSE_NAMES[:12]])
"""COCO index of each of CrowdPose's first 12 keypoints (the limbs both datasets label; COCO has no head top or
neck): ``coco_keypoints[COCO_TO_CROWDPOSE]`` is CrowdPose's order.

>>> COCO_TO_CROWDPOSE.tolist()
[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
"""

_SKELETONS = {"coco": COCO, "mpii": MPII, "crowdpose": CROWDPOSE}


def get_skeleton(dataset: str) -> Skeleton:
    """The :class:`Skeleton` of ``"coco"``, ``"mpii"`` or ``"crowdpose"``."""
    try:
        return _SKELETONS[dataset]
    except KeyError:
        raise KeyError(f"unknown dataset {dataset!r}; allowed: {', '.join(_SKELETONS)}") from None
