"""A pose estimator built from a network that maps the model input to raw outputs, and a codec that decodes them
(:class:`ModelEstimator`): the torch, TorchScript, ``torch.export`` and ONNX adapters all are one.

``predict`` preprocesses the crops (:func:`~occlusion.estimators.base.preprocess`), appends their mirror images
for the flip test (one run for both halves), runs the network in chunks of its static batch size when it has one
(the last chunk padded), checks the outputs against the codec, merges the flipped half and decodes.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

import torch

from .base import EstimatorError, EstimatorInfo, PoseEstimator, Prediction, preprocess
from .codecs import Codec

__all__ = ["ModelEstimator", "as_tensors"]


class ModelEstimator(PoseEstimator):
    """An estimator of ``info`` whose network runs a preprocessed batch (:meth:`run`) and ``codec`` decodes it.

    ``batch`` is the network's static batch size (None: any).
    """

    def __init__(self, info: EstimatorInfo, codec: Codec, *, source: str, batch: int | None = None):
        self.info, self.codec, self.source, self.batch = info, codec, source, batch

    @abstractmethod
    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Raw outputs (batch first) of the network on its input ``x``."""

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The preprocessed batch as the network wants it (memory format, device); identity by default."""
        return x

    def _run_batched(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.batch is None or len(x) == self.batch:
            return self.run(x)
        chunks: list[list[torch.Tensor]] = []
        for s in range(0, len(x), self.batch):
            part = x[s : s + self.batch]
            pad = self.batch - len(part)
            if pad:
                part = torch.cat([part, part.new_zeros((pad, *part.shape[1:]))])
            chunks.append([o[: self.batch - pad] for o in self.run(part)])
        return [torch.cat(parts) for parts in zip(*chunks)]

    def outputs(self, crops: torch.Tensor, *, flip_test: bool = False) -> list[torch.Tensor]:
        """The checked raw outputs of ``crops`` (flipped half merged in with ``flip_test``)."""
        self._check_flip(flip_test)
        x = self.prepare(preprocess(crops, self.info))
        n = len(x)
        if flip_test:
            x = torch.cat([x, x.flip(-1 if self.info.layout == "nchw" else -2)])
        out = self._run_batched(x)
        self.codec.check(out, len(x), self.info.num_keypoints, self.info.input_size, self.source)
        return self.codec.merge_flip(out, n, self.info.pairs, self.info.input_size) if flip_test else out

    def predict(self, crops: torch.Tensor, *, flip_test: bool = False) -> Prediction:
        return self.codec.decode(self.outputs(crops, flip_test=flip_test), self.info.input_size)

    def validate(self, n: int = 2) -> ModelEstimator:
        """Run ``n`` grey crops (and their mirror when the flip test is supported) and check the outputs: a model
        whose outputs do not fit its codec or keypoint count fails here, naming its file, before any pass."""
        w, h = self.info.input_size
        self.outputs(torch.full((n, h, w, 3), 128, dtype=torch.uint8), flip_test=self.info.flip_test)
        return self


def as_tensors(out: object, source: str) -> list[torch.Tensor]:
    """A network's output (a tensor, or a tuple, list or dict of them) as a list of tensors."""
    items: Sequence[object] = list(out.values()) if isinstance(out, dict) else (
        list(out) if isinstance(out, (tuple, list)) else [out])
    if not all(isinstance(o, torch.Tensor) for o in items):
        raise EstimatorError(source, "outputs", f"the model returned {type(out).__name__} holding "
                             f"{[type(o).__name__ for o in items]}", "a tensor or a tuple, list or dict of tensors")
    return list(items)  # type: ignore[arg-type]
