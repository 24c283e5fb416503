"""ONNX models through ``onnxruntime`` (the ``audit`` extra): :func:`onnx_estimator`.

The session runs whole batches (CUDA where asked for and its provider is present, else CPU); a model exported
with a static batch size (rtmlib's RTMPose files take one crop) runs in chunks of it. The input size is read from
the model when its height and width are static and the metadata leaves them out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .base import EstimatorError, EstimatorInfo
from .codecs import Codec
from .model import ModelEstimator

__all__ = ["OnnxEstimator", "onnx_estimator", "onnx_input_shape"]

_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


class OnnxEstimator(ModelEstimator):
    """An ``onnxruntime.InferenceSession`` with one image input; ``output_names`` pick and order the outputs the
    codec reads (default: all, in the model's order)."""

    def __init__(self, session: Any, info: EstimatorInfo, codec: Codec, *, source: str,
                 output_names: Sequence[str] | None = None):
        inp = session.get_inputs()[0]
        batch = inp.shape[0] if isinstance(inp.shape[0], int) and inp.shape[0] > 0 else None
        super().__init__(info, codec, source=source, batch=batch)
        self.session, self.input_name = session, inp.name
        self.dtype = _DTYPES.get(inp.type, np.float32)
        names = [o.name for o in session.get_outputs()]
        unknown = [n for n in output_names or () if n not in names]
        if unknown:
            raise EstimatorError(source, "outputs", f"no output named {unknown[0]!r}", f"names among {names}")
        self.output_names = list(output_names or names)

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        feed = {self.input_name: np.ascontiguousarray(x.detach().cpu().numpy(), dtype=self.dtype)}
        return [torch.from_numpy(np.asarray(o)) for o in self.session.run(self.output_names, feed)]


def onnx_input_shape(session: Any) -> tuple[Any, ...]:
    """The first input's shape: ints where static, names or None where dynamic."""
    return tuple(session.get_inputs()[0].shape)


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise EstimatorError("onnxruntime", "device", "cuda was asked for but onnxruntime has no CUDA provider "
                             f"(available: {', '.join(available)})", "device: cpu or auto, or onnxruntime-gpu")
    return ["CPUExecutionProvider"]


def onnx_estimator(file: str | Path, info: EstimatorInfo | dict[str, Any], codec: Codec, *, device: str = "auto",
                   output_names: Sequence[str] | None = None, threads: int | None = None) -> OnnxEstimator:
    """An ONNX file through onnxruntime. ``info`` may be the metadata mapping without ``input_size``, which is then
    read from the model's static input shape (a dynamic one raises, naming the field)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise EstimatorError(str(file), "kind", "onnxruntime is not installed",
                             "pip install 'occlusion[audit]' (onnx, onnxruntime)") from None
    path = Path(file)
    if not path.is_file():
        raise EstimatorError(str(path), "file", "not found", "an ONNX model file")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), options, providers=_providers(device))
    except Exception as exc:  # noqa: BLE001 - any load failure is a file that does not load
        raise EstimatorError(str(path), "file", f"does not load as ONNX ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200] if str(exc) else ''})", "an ONNX model file") from None
    shape = onnx_input_shape(session)
    info = _with_input_size(info, shape, str(path))
    return OnnxEstimator(session, info, codec, source=str(path), output_names=output_names)


def _with_input_size(info: EstimatorInfo | dict[str, Any], shape: tuple[Any, ...], source: str) -> EstimatorInfo:
    if len(shape) != 4:
        raise EstimatorError(source, "input", f"the model's first input has shape {list(shape)}",
                             "one image input (N, 3, H, W) or (N, H, W, 3)")
    layout = info.layout if isinstance(info, EstimatorInfo) else info.get("layout", "nchw")
    h, w = (shape[2], shape[3]) if layout == "nchw" else (shape[1], shape[2])
    static = isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0
    if isinstance(info, dict):
        if "input_size" not in info:
            if not static:
                raise EstimatorError(source, "input_size", f"missing from the metadata and the model's input shape "
                                     f"{list(shape)} is dynamic", "input_size: [width, height]")
            info = {**info, "input_size": (w, h)}
        info = EstimatorInfo(**info)
    if static and (w, h) != tuple(info.input_size):
        raise EstimatorError(source, "input_size", f"the metadata says {list(info.input_size)} but the model takes "
                             f"{w}x{h} (input shape {list(shape)})", f"input_size: [{w}, {h}]")
    return info
