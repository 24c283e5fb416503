"""Output codecs: how a model's raw outputs become keypoints in crop pixels and scores, and how the outputs of a
mirrored batch are brought back for the flip test.

* ``heatmap``: one ``(N, K, h, w)`` output, HRNet's argmax with the quarter-pixel offset
  (:func:`occlusion.evaluate.get_heatmap_preds`), scaled to the crop by ``input width / w`` on both axes (HRNet's
  isotropic factor); flip test as HRNet (:func:`occlusion.evaluate.flip_back`, then the one-pixel shift).
* ``simcc``: two outputs ``(N, K, W * r)`` and ``(N, K, H * r)`` (RTMPose, split ratio ``r``): mmpose's
  ``get_simcc_maximum`` (argmax of each vector, the score the smaller of the two maxima, or their mean with
  ``score: mean`` as rtmlib; locations -1 where the score is <= 0), divided by ``r``; flip test as mmpose's
  ``flip_vectors`` (the x vectors reversed, left and right swapped, averaged).
* ``coords``: ``(N, K, 2)`` or ``(N, K, 3)`` (x, y[, score]) in crop pixels or, with ``normalized``, in units of
  the crop's width and height, optionally a second ``(N, K)`` score output (no score: 1); flip test mirrors x
  (``W - 1 - x`` in pixels, ``1 - x`` normalised) and averages.

>>> x = torch.zeros(1, 1, 8); y = torch.zeros(1, 1, 6); x[0, 0, 5] = 0.9; y[0, 0, 2] = 0.7
>>> p = create_codec("simcc", split_ratio=2.0).decode([x, y], (4, 3))
>>> p.keypoints.tolist(), round(float(p.scores[0, 0]), 3)
([[[2.5, 1.0]]], 0.7)
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np
import torch

from ..evaluate import flip_back, get_heatmap_preds
from .base import EstimatorError, Prediction

__all__ = ["Codec", "HeatmapCodec", "SimCCCodec", "CoordCodec", "CODECS", "create_codec"]


def _perm(k: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    perm = list(range(k))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


class Codec(ABC):
    """Decode raw outputs (a list of tensors, batch first) of a model with ``K`` keypoints."""

    name: str = ""
    outputs: tuple[int, ...] = (1,)
    """How many outputs the codec takes (any of these counts)."""

    def check(self, outputs: Sequence[torch.Tensor], n: int, k: int, input_size: tuple[int, int], source: str) -> None:
        """Raise :class:`EstimatorError` naming ``source`` unless ``outputs`` of a batch of ``n`` fit this codec."""
        shapes = [tuple(o.shape) for o in outputs]
        if len(outputs) not in self.outputs:
            raise EstimatorError(source, "outputs", f"the model gives {len(outputs)} outputs {shapes}",
                                 f"{' or '.join(map(str, self.outputs))} for codec {self.name!r}")
        for i, (shape, expected) in enumerate(zip(shapes, self.expected_shapes(n, k, input_size, len(outputs)))):
            ok = len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))
            if not ok:
                want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
                raise EstimatorError(source, f"output {i}", f"shape {shape} does not fit codec {self.name!r} with "
                                     f"{k} keypoints on {input_size[0]}x{input_size[1]} crops", want)

    @abstractmethod
    def expected_shapes(self, n: int, k: int, input_size: tuple[int, int], count: int) -> list[tuple[int | None, ...]]:
        """The shape each output must have (None: any size)."""

    @abstractmethod
    def merge_flip(self, outputs: Sequence[torch.Tensor], n: int, pairs: Sequence[tuple[int, int]],
                   input_size: tuple[int, int]) -> list[torch.Tensor]:
        """Outputs of ``[batch; mirrored batch]`` (``2n`` rows) -> outputs of the batch, the mirrored half brought
        back and averaged in."""

    @abstractmethod
    def decode(self, outputs: Sequence[torch.Tensor], input_size: tuple[int, int]) -> Prediction:
        """Keypoints in crop pixels of ``input_size`` (width, height) and scores."""


@dataclass(frozen=True)
class HeatmapCodec(Codec):
    post_process: bool = True
    shift_heatmap: bool = True
    name: str = "heatmap"

    def expected_shapes(self, n: int, k: int, input_size: tuple[int, int], count: int) -> list[tuple[int | None, ...]]:
        return [(n, k, None, None)]

    def merge_flip(self, outputs: Sequence[torch.Tensor], n: int, pairs: Sequence[tuple[int, int]],
                   input_size: tuple[int, int]) -> list[torch.Tensor]:
        out = outputs[0].float()
        flipped = flip_back(out[n:], pairs)
        if self.shift_heatmap:
            flipped = torch.cat([flipped[..., :1], flipped[..., :-1]], dim=-1)
        return [(out[:n] + flipped) * 0.5]

    def decode(self, outputs: Sequence[torch.Tensor], input_size: tuple[int, int]) -> Prediction:
        heatmaps = _numpy(outputs[0])
        coords, maxvals = get_heatmap_preds(heatmaps, post_process=self.post_process)
        factor = np.float32(input_size[0] / heatmaps.shape[3])
        return Prediction(coords * factor, maxvals[..., 0], heatmaps)


@dataclass(frozen=True)
class SimCCCodec(Codec):
    split_ratio: float = 2.0
    score: Literal["min", "mean"] = "min"
    name: str = "simcc"
    outputs: tuple[int, ...] = (2,)

    def __post_init__(self) -> None:
        if self.split_ratio <= 0 or self.score not in ("min", "mean"):
            raise ValueError(f"simcc codec: split_ratio = {self.split_ratio!r}, score = {self.score!r}: expected a "
                             "positive split ratio and score 'min' (mmpose) or 'mean' (rtmlib)")

    def expected_shapes(self, n: int, k: int, input_size: tuple[int, int], count: int) -> list[tuple[int | None, ...]]:
        w, h = input_size
        return [(n, k, int(w * self.split_ratio)), (n, k, int(h * self.split_ratio))]

    def merge_flip(self, outputs: Sequence[torch.Tensor], n: int, pairs: Sequence[tuple[int, int]],
                   input_size: tuple[int, int]) -> list[torch.Tensor]:
        x, y = outputs[0].float(), outputs[1].float()
        perm = _perm(x.shape[1], pairs)
        return [(x[:n] + x[n:].flip(-1)[:, perm]) * 0.5, (y[:n] + y[n:][:, perm]) * 0.5]

    def decode(self, outputs: Sequence[torch.Tensor], input_size: tuple[int, int]) -> Prediction:
        x, y = _numpy(outputs[0]), _numpy(outputs[1])
        locs = np.stack([x.argmax(-1), y.argmax(-1)], axis=-1).astype(np.float32)
        max_x, max_y = x.max(-1), y.max(-1)
        scores = np.minimum(max_x, max_y) if self.score == "min" else (max_x + max_y) * np.float32(0.5)
        locs[scores <= 0] = -1
        return Prediction(locs / np.float32(self.split_ratio), scores.astype(np.float32))


@dataclass(frozen=True)
class CoordCodec(Codec):
    normalized: bool = False
    name: str = "coords"
    outputs: tuple[int, ...] = (1, 2)

    def expected_shapes(self, n: int, k: int, input_size: tuple[int, int], count: int) -> list[tuple[int | None, ...]]:
        return [(n, k, 2 if count == 2 else None), (n, k)][:count]

    def check(self, outputs: Sequence[torch.Tensor], n: int, k: int, input_size: tuple[int, int], source: str) -> None:
        super().check(outputs, n, k, input_size, source)
        if len(outputs) == 1 and outputs[0].shape[2] not in (2, 3):
            raise EstimatorError(source, "output 0", f"shape {tuple(outputs[0].shape)} has {outputs[0].shape[2]} "
                                 "values per keypoint", f"({n}, {k}, 2) x, y or ({n}, {k}, 3) x, y, score")

    def merge_flip(self, outputs: Sequence[torch.Tensor], n: int, pairs: Sequence[tuple[int, int]],
                   input_size: tuple[int, int]) -> list[torch.Tensor]:
        coords = outputs[0].float()
        perm = _perm(coords.shape[1], pairs)
        mirrored = coords[n:][:, perm].clone()
        mirrored[..., 0] = (1.0 if self.normalized else input_size[0] - 1.0) - mirrored[..., 0]
        merged = [(coords[:n] + mirrored) * 0.5]
        if len(outputs) == 2:
            scores = outputs[1].float()
            merged.append((scores[:n] + scores[n:][:, perm]) * 0.5)
        return merged

    def decode(self, outputs: Sequence[torch.Tensor], input_size: tuple[int, int]) -> Prediction:
        coords = _numpy(outputs[0])
        xy = coords[..., :2] * (np.asarray(input_size, np.float32) if self.normalized else np.float32(1))
        if len(outputs) == 2:
            scores = _numpy(outputs[1])
        else:
            scores = coords[..., 2] if coords.shape[2] == 3 else np.ones(coords.shape[:2], np.float32)
        return Prediction(np.ascontiguousarray(xy, dtype=np.float32), np.ascontiguousarray(scores, dtype=np.float32))


CODECS: dict[str, Callable[..., Codec]] = {"heatmap": HeatmapCodec, "simcc": SimCCCodec, "coords": CoordCodec}


def create_codec(name: str, **options: Any) -> Codec:
    """The codec ``name`` (:data:`CODECS`) with its ``options``; unknown names or options raise, listing the allowed."""
    if name not in CODECS:
        raise KeyError(f"unknown codec {name!r}; registered: {', '.join(CODECS)}")
    try:
        return CODECS[name](**options)
    except TypeError:
        allowed = [f for f in CODECS[name].__dataclass_fields__ if f not in ("name", "outputs")]
        raise ValueError(f"codec {name!r}: options {sorted(options)}; allowed: {', '.join(allowed)}") from None
