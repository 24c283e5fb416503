"""Painting: shaded body parts and heads (with their silhouettes in a label map) and cluttered backgrounds."""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from .body import Item
from .person import clothing_colour, skin_colour

__all__ = ["draw_item", "background"]

_SHIFT = 4  # cv2 fixed-point bits: coordinates are drawn with 1/16 pixel precision


def _fx(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * 16)), int(round(float(p[1]) * 16))


def _shade(colour: Sequence[int], factor: float, add: float = 0.0) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * factor + add))) for c in colour)


def draw_item(img: np.ndarray, own: np.ndarray, value: int, it: Item, light: np.ndarray) -> None:
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


def background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
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
            c = clothing_colour(rng) if rng.random() < 0.6 else skin_colour(rng)
            x2, y2 = x + int(rng.integers(-40, 41)), y + int(rng.integers(-40, 41))
            cv2.line(img, (x, y), (x2, y2), _shade(c, 0.62), int(rng.integers(4, 14)))
        else:  # head-like skin blob
            c = skin_colour(rng)
            r = int(rng.integers(4, 14))
            cv2.ellipse(img, (x, y), (r, int(r * 1.2)), 0, 0, 360, c, -1)
    return img
