"""Torch adapters: any ``torch.nn.Module`` (:class:`TorchEstimator`), the package's registry models
(:func:`registry_estimator`, the engine's own path), TorchScript files (:func:`torchscript_estimator`) and
``torch.export`` programs (:func:`exported_estimator`, ``.pt2``).

A registry model through :func:`registry_estimator` gives bit for bit what the engine gave before estimators
existed: the same normalisation (:func:`occlusion.engine.normalize_batch`), channels-last input, one forward of
the batch and its mirror, HRNet's flip back and shift, and the same decoding.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch

from ..keypoints import get_skeleton
from .base import EstimatorError, EstimatorInfo
from .codecs import Codec, HeatmapCodec
from .model import ModelEstimator, as_tensors

__all__ = ["TorchEstimator", "registry_estimator", "module_estimator_info", "torchscript_estimator",
           "exported_estimator"]


class TorchEstimator(ModelEstimator):
    """A torch module (eval mode, no grad, ``amp_dtype`` autocast) as an estimator; inputs go to the device and
    dtype of its first parameter, channels last."""

    def __init__(self, module: torch.nn.Module, info: EstimatorInfo, codec: Codec, *, source: str = "torch module",
                 batch: int | None = None, amp_dtype: torch.dtype | None = None):
        super().__init__(info, codec, source=source, batch=batch)
        try:
            module.eval()
        except NotImplementedError:  # torch.export's module(): exported in the mode it was traced in
            pass
        self.module = module
        self.amp_dtype = amp_dtype

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.info.layout == "nchw" else x

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        param = next(iter(self.module.parameters()), None) if hasattr(self.module, "parameters") else None
        if param is not None:
            x = x.to(device=param.device, dtype=param.dtype)
        autocast = (torch.autocast(device_type=x.device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
                    else contextlib.nullcontext())
        with torch.no_grad(), autocast:
            return as_tensors(self.module(x), self.source)


def module_estimator_info(name: str, input_size: tuple[int, int], dataset: str = "coco", color: str = "rgb"
                          ) -> EstimatorInfo:
    """The metadata of a registry-style heatmap model: ImageNet normalisation in ``color`` order, ``dataset``'s
    keypoints and flip pairs, flip test supported."""
    skeleton = get_skeleton(dataset)
    return EstimatorInfo(name=name, input_size=tuple(input_size), keypoints=skeleton.names, color=color,
                         flip_test=True, flip_pairs=skeleton.flip_pairs)


def registry_estimator(
    arch: str, *, checkpoint: str | Path | None = None, model: torch.nn.Module | None = None, dataset: str = "coco",
    input_size: tuple[int, int] | None = None, device: str | torch.device = "cpu", post_process: bool = True,
    shift_heatmap: bool = True, amp_dtype: torch.dtype | None = None, seed: int | None = None,
) -> TorchEstimator:
    """A registered architecture (:func:`occlusion.models.create_model`): ``model`` as given, or built (``seed``)
    with the weights of ``checkpoint`` (this project's ``model.pt`` or an official layout,
    :func:`occlusion.models.load_pose_checkpoint`). Input size and colour order default to the registry's."""
    from ..models import create_model, load_pose_checkpoint, model_info

    info = model_info(arch)
    skeleton = get_skeleton(dataset)
    if model is None:
        model = create_model(arch, num_joints=skeleton.num_joints, seed=seed)
        if checkpoint is not None:
            if not Path(checkpoint).is_file():
                raise EstimatorError(str(checkpoint), "checkpoint", "file not found", f"a checkpoint of {arch}")
            load_pose_checkpoint(model, checkpoint)
    model = model.to(device).eval()
    meta = module_estimator_info(arch, input_size or info.input_size, dataset, info.color)
    return TorchEstimator(model, meta, HeatmapCodec(post_process, shift_heatmap), source=str(checkpoint or arch),
                          amp_dtype=amp_dtype)


def _load(loader: Any, file: str | Path, what: str) -> Any:
    path = Path(file)
    if not path.is_file():
        raise EstimatorError(str(path), "file", "not found", f"a {what} file")
    try:
        return loader(path)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a file that does not load
        raise EstimatorError(str(path), "file", f"does not load as {what} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})", f"a {what} file") from None


def torchscript_estimator(file: str | Path, info: EstimatorInfo, codec: Codec, *, device: str | torch.device = "cpu",
                          batch: int | None = None) -> TorchEstimator:
    """A TorchScript file (``torch.jit.save``) run on ``device``."""
    module = _load(lambda p: torch.jit.load(str(p), map_location=device), file, "TorchScript (torch.jit.save)")
    return TorchEstimator(module, info, codec, source=str(file), batch=batch)


def exported_estimator(file: str | Path, info: EstimatorInfo, codec: Codec, *, device: str | torch.device = "cpu"
                       ) -> TorchEstimator:
    """A ``torch.export`` program (``torch.export.save``, ``.pt2``) on ``device``; a static batch size recorded in
    the program is kept (crops run in chunks of it)."""
    program = _load(torch.export.load, file, "torch.export program (torch.export.save)")
    shape = _input_shape(program)
    batch = shape[0] if shape and isinstance(shape[0], int) else None
    if shape and len(shape) == 4 and all(isinstance(s, int) for s in shape[1:]):
        h, w = (shape[2], shape[3]) if info.layout == "nchw" else (shape[1], shape[2])
        if (w, h) != tuple(info.input_size):
            raise EstimatorError(str(file), "input_size", f"the program takes {w}x{h} inputs (shape {tuple(shape)})",
                                 f"metadata input_size [{w}, {h}]")
    return TorchEstimator(program.module().to(device), info, codec, source=str(file), batch=batch)


def _input_shape(program: Any) -> tuple[Any, ...] | None:
    """The shape of the program's first user input: ints where static, symbols where dynamic."""
    names = list(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and names and node.name == names[0]:
            val = node.meta.get("val")
            return tuple(int(s) if isinstance(s, int) else s for s in val.shape) if val is not None else None
    return None
