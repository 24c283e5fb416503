"""What is drawn about one person: pose family and joint angles, view, body proportions and clothing colours."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["SKIN_TONES", "HAIR_COLOURS", "Person", "sample_person", "sample_pose", "clothing_colour", "jitter_colour",
           "skin_colour"]

SKIN_TONES = np.array([(236, 200, 174), (224, 172, 140), (198, 134, 98), (160, 105, 70), (120, 78, 50), (88, 57, 38)])
HAIR_COLOURS = np.array([(28, 24, 20), (70, 45, 25), (110, 75, 40), (200, 165, 105), (150, 148, 145), (130, 55, 25)])


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _deg(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.deg2rad(rng.uniform(lo, hi)))


def _limb_angles(rng: np.random.Generator, p: dict[str, float], s: str, arm: tuple[float, float, float, float],
                 elbow: tuple[float, float], leg: tuple[float, float, float, float, float, float]) -> None:
    """Draw side ``s``'s arm abduct/swing, elbow, leg abduct/swing and knee (degrees ranges) in that order."""
    p |= {f"{s}_arm_abduct": _deg(rng, *arm[:2]), f"{s}_arm_swing": _deg(rng, *arm[2:]),
          f"{s}_elbow": _deg(rng, *elbow), f"{s}_leg_abduct": _deg(rng, *leg[:2]),
          f"{s}_leg_swing": _deg(rng, *leg[2:4]), f"{s}_knee": _deg(rng, *leg[4:])}  # fmt: skip


def _walking(rng: np.random.Generator, p: dict[str, float]) -> None:
    phase = _u(rng, -1, 1)
    for s, sign in (("l", 1.0), ("r", -1.0)):
        swing = sign * phase
        p |= {f"{s}_arm_abduct": _deg(rng, 3, 15), f"{s}_arm_swing": float(np.deg2rad(-30 * swing)),
              f"{s}_elbow": _deg(rng, 10, 45), f"{s}_leg_abduct": _deg(rng, 0, 6),
              f"{s}_leg_swing": float(np.deg2rad(28 * swing)),
              f"{s}_knee": _deg(rng, 0, 15) if swing > 0 else _deg(rng, 10, 50)}  # fmt: skip


def _raised(rng: np.random.Generator, p: dict[str, float]) -> None:
    for s in "lr":
        raised = rng.random() < 0.8
        p |= {f"{s}_arm_abduct": _deg(rng, 60, 175) if raised else _deg(rng, 5, 30),
              f"{s}_arm_swing": _deg(rng, -20, 60), f"{s}_elbow": _deg(rng, 0, 100),
              f"{s}_leg_abduct": _deg(rng, 0, 15), f"{s}_leg_swing": _deg(rng, -10, 10),
              f"{s}_knee": _deg(rng, 0, 15)}  # fmt: skip


def sample_pose(rng: np.random.Generator) -> dict[str, float]:
    """Joint angles (radians) of one of five pose families; arms: abduct/swing/elbow, legs: abduct/swing/knee."""
    kind = rng.choice(["standing", "walking", "raised", "sitting", "action"], p=[0.28, 0.24, 0.16, 0.1, 0.22])
    p: dict[str, float] = {"lean": _deg(rng, -5, 10), "side_lean": _deg(rng, -4, 4)}
    for s in "lr":
        p[f"{s}_elbow_up"], p[f"{s}_elbow_in"] = _u(rng, 0, 1), _u(rng, -0.3, 1)
    if kind == "standing":
        for s in "lr":
            _limb_angles(rng, p, s, (3, 22, -15, 25), (0, 35), (0, 10, -8, 8, 0, 10))
    elif kind == "walking":
        _walking(rng, p)
    elif kind == "raised":
        _raised(rng, p)
    elif kind == "sitting":
        p["lean"] = _deg(rng, -10, 20)
        for s in "lr":
            _limb_angles(rng, p, s, (5, 30, 10, 60), (20, 100), (0, 20, 60, 100, 60, 110))
    else:
        p |= {"lean": _deg(rng, -15, 35), "side_lean": _deg(rng, -15, 15)}
        for s in "lr":
            _limb_angles(rng, p, s, (0, 170, -45, 120), (0, 140), (0, 45, -40, 90, 0, 120))
    return p


def clothing_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A clothing colour: saturated, pastel, dark or grey."""
    kind = rng.random()
    if kind < 0.15:
        return (int(rng.integers(20, 230)),) * 3
    hsv = np.array([[[rng.integers(0, 180), rng.integers(60, 256), rng.integers(40, 256)]]], np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def jitter_colour(rng: np.random.Generator, base: np.ndarray, amount: int) -> tuple[int, int, int]:
    """``base`` with every channel moved by an integer in ``[-amount, amount]``, clipped to ``[0, 255]``."""
    return tuple(int(c) for c in np.clip(base + rng.integers(-amount, amount + 1, 3), 0, 255))


def skin_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """One of the six :data:`SKIN_TONES`, jittered by up to 12 per channel."""
    return jitter_colour(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 12)


@dataclass(frozen=True)
class Person:
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


def sample_person(rng: np.random.Generator) -> Person:
    """Draw a person: half near-frontal, the rest three-quarter to profile views, 15% strongly tilted."""
    r = rng.random()
    if r < 0.5:
        yaw = _deg(rng, -30, 30)
    else:
        yaw = float(rng.choice([-1, 1])) * (_deg(rng, 30, 70) if r < 0.8 else _deg(rng, 70, 90))
    head_yaw = float(np.clip(yaw + _deg(rng, -25, 25), -np.deg2rad(95), np.deg2rad(95)))
    tilt = _deg(rng, -35, 35) if rng.random() < 0.15 else _deg(rng, -6, 6)
    return Person(
        pose=sample_pose(rng), yaw=yaw, head_yaw=head_yaw, tilt=tilt, width=_u(rng, 0.85, 1.2),
        arm_len=_u(rng, 0.92, 1.08), leg_len=_u(rng, 0.92, 1.08), head=_u(rng, 0.9, 1.12), thick=_u(rng, 0.8, 1.25),
        skin=skin_colour(rng),
        hair=jitter_colour(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 10),
        shirt=clothing_colour(rng), pants=clothing_colour(rng),
        shoes=clothing_colour(rng) if rng.random() < 0.5 else jitter_colour(rng, np.full(3, 30), 20),
        long_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.3),
    )  # fmt: skip
