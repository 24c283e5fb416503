"""What a pose estimator is to the engine: its metadata (:class:`EstimatorInfo`), its output
(:class:`Prediction`) and the :class:`PoseEstimator` interface.

An estimator takes a batch of person crops exactly as the engine holds them (uint8 ``(N, H, W, 3)``, RGB, the
size of ``info.input_size``) and returns keypoints in crop pixels with one score per keypoint. How the crops
become the model's input (colour order, scale, mean and std, layout) is the estimator's own metadata.

>>> info = EstimatorInfo(name="demo", input_size=(96, 128), keypoints=("nose", "left_eye", "right_eye"))
>>> info.pairs
((1, 2),)
>>> canonical_keypoint("left_eye"), canonical_keypoint("l_eye")
('left_eye', 'left_eye')
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import torch

from ..config import check
from ..data import IMAGENET_MEAN, IMAGENET_STD
from ..keypoints import canonical_keypoint

__all__ = ["EstimatorError", "EstimatorInfo", "Prediction", "PoseEstimator", "canonical_keypoint", "mirror_pairs",
           "preprocess"]


class EstimatorError(ValueError):
    """A model file that does not load, metadata that is missing or wrong, or outputs that do not fit: the message
    names the file (or model), the field and what was expected."""

    def __init__(self, source: str, field: str, problem: str, expected: str):
        self.source, self.field = source, field
        super().__init__(f"{source}: {field}: {problem}; expected {expected}")


def mirror_pairs(names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Left/right pairs ``(i, j)`` of keypoint ``names`` (``left_x`` with ``right_x``), in order of the left one."""
    canon = [canonical_keypoint(n) for n in names]
    return tuple((i, canon.index("right_" + n[5:])) for i, n in enumerate(canon)
                 if n.startswith("left_") and "right_" + n[5:] in canon)


@dataclass(frozen=True)
class EstimatorInfo:
    """A model's metadata: what it wants as input and what its keypoints are.

    The input is ``(pixels * scale - mean) / std`` per channel in the model's colour order (``mean``/``std`` are
    in that order; ImageNet's constants by default, as the registry models), laid out ``nchw`` or ``nhwc``.
    ``flip_pairs`` default (:attr:`pairs`) to the left/right pairs of ``keypoints`` (:func:`mirror_pairs`);
    ``flip_test`` says whether the estimator supports the flip test.
    """

    name: str
    input_size: tuple[int, int]
    """(width, height) of the crops the model takes."""
    keypoints: tuple[str, ...]
    color: Literal["rgb", "bgr"] = "rgb"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    scale: float = 1 / 255.0
    layout: Literal["nchw", "nhwc"] = "nchw"
    flip_test: bool = False
    flip_pairs: tuple[tuple[int, int], ...] | None = field(default=None)

    def __post_init__(self) -> None:
        size = self.input_size
        check(len(size) == 2 and all(isinstance(s, (int, np.integer)) and s > 0 for s in size), "input_size", size,
              "(width, height), two positive integers")
        check(len(self.keypoints) > 0, "keypoints", self.keypoints, "at least one keypoint name")
        check(len(set(self.keypoints)) == len(self.keypoints), "keypoints", self.keypoints, "distinct names")
        check(self.color in ("rgb", "bgr"), "color", self.color, "'rgb' or 'bgr'")
        check(self.layout in ("nchw", "nhwc"), "layout", self.layout, "'nchw' or 'nhwc'")
        check(len(self.mean) == 3, "mean", self.mean, "three numbers, one per channel in the model's colour order")
        check(len(self.std) == 3 and all(s > 0 for s in self.std), "std", self.std, "three positive numbers")
        check(self.scale > 0, "scale", self.scale, "a positive number (1/255 for inputs in [0, 1])")
        k = len(self.keypoints)
        check(all(len(p) == 2 and 0 <= p[0] < k and 0 <= p[1] < k for p in self.pairs), "flip_pairs",
              self.flip_pairs, f"pairs of keypoint indices in 0..{k - 1}")

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        """The left/right pairs the flip test swaps: ``flip_pairs``, or those of the keypoint names."""
        return mirror_pairs(self.keypoints) if self.flip_pairs is None else tuple(map(tuple, self.flip_pairs))

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)


@dataclass(frozen=True)
class Prediction:
    """An estimator's output for N crops."""

    keypoints: np.ndarray
    """float32 (N, K, 2): x, y in crop pixels."""
    scores: np.ndarray
    """float32 (N, K): the model's confidence per keypoint (heatmap maximum, SimCC maximum, visibility...)."""
    heatmaps: np.ndarray | None = None
    """float32 (N, K, h, w) where the model has them."""


_MEAN, _STD = torch.tensor(IMAGENET_MEAN, dtype=torch.float32), torch.tensor(IMAGENET_STD, dtype=torch.float32)


def preprocess(crops: torch.Tensor, info: EstimatorInfo) -> torch.Tensor:
    """uint8 RGB crops ``(N, H, W, 3)`` to the model's float32 input (``info``'s colour order, scale, mean, std and
    layout). For the registry models' metadata, bit for bit :func:`occlusion.engine.normalize_batch`."""
    x = crops.permute(0, 3, 1, 2).float()
    if info.color == "bgr":
        x = x.flip(1)
    mean = torch.tensor(info.mean, dtype=torch.float32, device=x.device)[:, None, None]
    std = torch.tensor(info.std, dtype=torch.float32, device=x.device)[:, None, None]
    x = (x * torch.tensor(info.scale, dtype=torch.float32, device=x.device) - mean) / std
    return x.permute(0, 2, 3, 1).contiguous() if info.layout == "nhwc" else x


class PoseEstimator(ABC):
    """A pose model the engine can run: ``info`` and :meth:`predict`.

    Subclasses raise :class:`EstimatorError` at construction for anything that would fail later (a file that does
    not load, missing metadata, outputs that do not fit), so that no pass starts with a broken model.
    """

    info: EstimatorInfo
    source: str = "estimator"
    """The model's file (or name), named in every error."""

    @abstractmethod
    def predict(self, crops: torch.Tensor, *, flip_test: bool = False) -> Prediction:
        """Keypoints and scores of uint8 RGB ``crops (N, H, W, 3)`` of ``info.input_size``; ``flip_test`` only where
        ``info.flip_test``."""

    def check_compatible(self, names: Sequence[str], input_size: tuple[int, int], *, where: str = "dataset") -> None:
        """Raise :class:`EstimatorError` unless the model's keypoints are ``names`` (spelling aside, same order)
        and its input is ``input_size`` (width, height)."""
        ours = [canonical_keypoint(n) for n in self.info.keypoints]
        theirs = [canonical_keypoint(n) for n in names]
        if len(ours) != len(theirs):
            raise EstimatorError(self.source, "keypoints", f"the model has {len(ours)} keypoints, the {where} "
                                 f"{len(theirs)}", f"the {where}'s {len(theirs)}: {', '.join(theirs)}")
        bad = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        if bad:
            i = bad[0]
            raise EstimatorError(self.source, f"keypoints[{i}]", f"the model's keypoint {i} is {ours[i]!r}, the "
                                 f"{where}'s {theirs[i]!r}", f"the {where}'s order: {', '.join(theirs)}")
        if tuple(input_size) != tuple(self.info.input_size):
            raise EstimatorError(self.source, "input_size", f"crops are {tuple(input_size)}",
                                 f"the model's input_size {tuple(self.info.input_size)} (width, height)")

    def _check_flip(self, flip_test: bool) -> None:
        if flip_test and not self.info.flip_test:
            raise EstimatorError(self.source, "flip_test", "the flip test was asked for but the model's metadata "
                                 "has flip_test: false", "flip_test=False for this model")

    def close(self) -> None:  # noqa: B027 - optional hook, most estimators hold nothing
        """Release what the estimator holds (sessions, graphs); the default holds nothing."""
