"""The estimator registry: ``create_estimator(kind, ...)`` by name, and :func:`load_estimator` from a model spec
(a small YAML file or mapping) naming the kind, the file and the metadata.

A spec, e.g. for an RTMPose ONNX file::

    kind: onnx
    file: rtmpose-m.onnx            # relative to the spec's folder
    codec: {name: simcc, split_ratio: 2.0}
    keypoints: coco                 # or a list of names in the model's order
    mean: [123.675, 116.28, 103.53]
    std: [58.395, 57.12, 57.375]
    scale: 1.0
    flip_test: true

Metadata fields are :class:`~occlusion.estimators.base.EstimatorInfo`'s; ``keypoints`` and ``codec`` have no
default (and ``input_size`` none outside ONNX, which reads a static one from the model): a spec without them
fails naming the file and the field. Every estimator is checked with a probe run before it is returned.

>>> sorted(list_estimators())
['blazepose', 'onnx', 'registry', 'torch', 'torch_export', 'torchscript']
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from ..config import ConfigError, FieldError, load_yaml
from ..keypoints import get_skeleton
from .base import EstimatorError, EstimatorInfo, PoseEstimator
from .codecs import CODECS, Codec, create_codec

__all__ = ["register_estimator", "create_estimator", "list_estimators", "load_estimator", "estimator_info",
           "META_FIELDS"]

_ESTIMATORS: dict[str, Callable[..., PoseEstimator]] = {}
META_FIELDS: tuple[str, ...] = ("name", "input_size", "keypoints", "color", "mean", "std", "scale", "layout",
                                "flip_test", "flip_pairs")
"""Spec keys that are model metadata (:class:`~occlusion.estimators.base.EstimatorInfo`)."""


def register_estimator(name: str) -> Callable[[Callable[..., PoseEstimator]], Callable[..., PoseEstimator]]:
    """Decorator registering a builder ``fn(*, source, **spec) -> PoseEstimator`` under ``name``."""

    def decorate(fn: Callable[..., PoseEstimator]) -> Callable[..., PoseEstimator]:
        if name in _ESTIMATORS:
            raise ValueError(f"estimator kind {name!r} is already registered")
        _ESTIMATORS[name] = fn
        return fn

    return decorate


def list_estimators() -> list[str]:
    return sorted(_ESTIMATORS)


def create_estimator(kind: str, *, source: str | None = None, **spec: Any) -> PoseEstimator:
    """The estimator of ``kind`` (:func:`list_estimators`) built from ``spec``; ``source`` names it in errors."""
    if kind not in _ESTIMATORS:
        raise EstimatorError(source or "model spec", "kind", f"unknown kind {kind!r}",
                             f"one of {', '.join(list_estimators())}")
    return _ESTIMATORS[kind](source=source or str(spec.get("file") or spec.get("arch") or kind), **spec)


def load_estimator(spec: str | Path | Mapping[str, Any], **overrides: Any) -> PoseEstimator:
    """The estimator of a model spec file (or mapping) with ``overrides`` (e.g. ``device``); a relative ``file``
    is read from the spec's folder."""
    if isinstance(spec, Mapping):
        data, base = dict(spec), Path.cwd()
        source = str(data.get("file") or data.get("arch") or data.get("kind") or "model spec")
    else:
        try:
            data = load_yaml(spec)
        except ConfigError as exc:
            raise EstimatorError(str(spec), "file", str(exc).split(": ", 1)[-1], "a YAML model spec") from None
        source, base = str(spec), Path(spec).parent
    data.update({k: v for k, v in overrides.items() if v is not None})
    if "kind" not in data:
        raise EstimatorError(source, "kind", "missing", f"one of {', '.join(list_estimators())}")
    for key in ("file", "checkpoint"):
        if data.get(key) is not None and not Path(data[key]).is_absolute():
            data[key] = str(base / data[key])
    return create_estimator(data.pop("kind"), source=source, **data)


def _keypoints(value: Any, source: str) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...] | None]:
    if isinstance(value, str):
        try:
            skeleton = get_skeleton(value)
        except KeyError:
            raise EstimatorError(source, "keypoints", f"unknown dataset {value!r}",
                                 "coco, mpii or a list of keypoint names") from None
        return skeleton.names, skeleton.flip_pairs
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise EstimatorError(source, "keypoints", f"{value!r}", "coco, mpii or a list of keypoint names")
    return tuple(value), None


def estimator_info(meta: Mapping[str, Any], source: str, *, require: tuple[str, ...] = ("input_size",)
                   ) -> EstimatorInfo:
    """:class:`EstimatorInfo` of spec metadata; a missing (``keypoints`` and ``require``) or bad field raises
    :class:`EstimatorError` naming ``source`` and the field."""
    for field in ("keypoints", *require):
        if field not in meta:
            raise EstimatorError(source, field, "missing from the metadata", _EXPECTED[field])
    kw = dict(meta)
    kw["keypoints"], pairs = _keypoints(kw["keypoints"], source)
    if kw.get("flip_pairs") is None and pairs is not None:
        kw["flip_pairs"] = pairs
    for key in ("input_size", "mean", "std"):
        if key in kw:
            kw[key] = tuple(kw[key]) if isinstance(kw[key], (list, tuple)) else kw[key]
    if kw.get("flip_pairs") is not None:
        kw["flip_pairs"] = tuple(tuple(p) for p in kw["flip_pairs"])
    kw.setdefault("name", Path(source).stem)
    try:
        return EstimatorInfo(**kw)
    except FieldError as exc:
        raise EstimatorError(source, exc.field, f"{exc.value!r}", exc.allowed) from None
    except TypeError as exc:
        raise EstimatorError(source, "metadata", str(exc), ", ".join(META_FIELDS)) from None


_EXPECTED = {"keypoints": "coco, mpii or a list of keypoint names in the model's order",
             "input_size": "input_size: [width, height]",
             "codec": f"codec: one of {', '.join(CODECS)} (or a mapping with name: and its options)",
             "file": "the model file"}


def _codec(value: Any, source: str) -> Codec:
    if value is None:
        raise EstimatorError(source, "codec", "missing", _EXPECTED["codec"])
    options = dict(value) if isinstance(value, Mapping) else {"name": value}
    name = options.pop("name", None)
    try:
        return create_codec(str(name), **options)
    except (KeyError, ValueError) as exc:
        raise EstimatorError(source, "codec", str(exc).strip('"'), _EXPECTED["codec"]) from None


def _split(spec: dict[str, Any], source: str, allowed: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata, options) of a file kind's spec; unknown keys raise."""
    unknown = sorted(set(spec) - set(META_FIELDS) - set(allowed))
    if unknown:
        raise EstimatorError(source, unknown[0], "unknown key", f"metadata ({', '.join(META_FIELDS)}) or "
                             f"{', '.join(allowed)}")
    meta = {k: v for k, v in spec.items() if k in META_FIELDS}
    return meta, {k: v for k, v in spec.items() if k not in META_FIELDS}


def _file(options: dict[str, Any], source: str) -> str:
    if not options.get("file"):
        raise EstimatorError(source, "file", "missing", _EXPECTED["file"])
    return str(options["file"])


@register_estimator("registry")
def _registry(*, source: str, arch: str | None = None, **kw: Any) -> PoseEstimator:
    from .torch_models import registry_estimator

    if arch is None:
        raise EstimatorError(source, "arch", "missing", "a registered model name (occlusion list models)")
    if "input_size" in kw and kw["input_size"] is not None:
        kw["input_size"] = tuple(kw["input_size"])
    try:
        est = registry_estimator(arch, **kw)
    except KeyError as exc:
        raise EstimatorError(source, "arch", str(exc).strip('"'), "a registered model name") from None
    except TypeError as exc:
        raise EstimatorError(source, "spec", str(exc), "arch, checkpoint, dataset, input_size, device, "
                             "post_process, shift_heatmap, seed") from None
    return est.validate()


@register_estimator("torch")
def _torch(*, source: str, module: Any = None, codec: Any = None, device: str = "cpu", **meta: Any) -> PoseEstimator:
    from .torch_models import TorchEstimator

    if module is None:
        raise EstimatorError(source, "module", "missing", "a torch.nn.Module")
    meta, _ = _split(meta, source, ())
    info = estimator_info(meta, source)
    return TorchEstimator(module.to(device), info, _codec(codec, source), source=source).validate()


@register_estimator("torchscript")
def _torchscript(*, source: str, **spec: Any) -> PoseEstimator:
    from .torch_models import torchscript_estimator

    meta, opt = _split(spec, source, ("file", "codec", "device"))
    info, codec = estimator_info(meta, source), _codec(opt.get("codec"), source)
    return torchscript_estimator(_file(opt, source), info, codec, device=opt.get("device", "cpu")).validate()


@register_estimator("torch_export")
def _torch_export(*, source: str, **spec: Any) -> PoseEstimator:
    from .torch_models import exported_estimator

    meta, opt = _split(spec, source, ("file", "codec", "device"))
    info, codec = estimator_info(meta, source), _codec(opt.get("codec"), source)
    return exported_estimator(_file(opt, source), info, codec, device=opt.get("device", "cpu")).validate()


@register_estimator("onnx")
def _onnx(*, source: str, **spec: Any) -> PoseEstimator:
    from .onnxrt import onnx_estimator

    meta, opt = _split(spec, source, ("file", "codec", "device", "output_names", "threads"))
    file = _file(opt, source)
    codec = _codec(opt.get("codec"), source)
    info = estimator_info(meta, source) if "input_size" in meta else _raw_meta(meta, source)  # else: the model's
    est = onnx_estimator(file, info, codec, device=opt.get("device", "auto"), output_names=opt.get("output_names"),
                         threads=opt.get("threads"))
    return est.validate()


def _raw_meta(meta: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Spec metadata as :class:`EstimatorInfo` keyword arguments, ``input_size`` left to the model."""
    info = estimator_info({**meta, "input_size": (1, 1)}, source)
    return {f: getattr(info, f) for f in META_FIELDS if f != "input_size"}


@register_estimator("blazepose")
def _blazepose(*, source: str, **spec: Any) -> PoseEstimator:
    from .blazepose import blazepose_estimator

    try:
        return blazepose_estimator(**spec)
    except TypeError as exc:
        raise EstimatorError(source, "spec", str(exc),
                             "input_size, model_complexity, min_detection_confidence") from None
