"""Pose estimators: any model the engine can run, with its metadata and output codec.

* :mod:`.base`: :class:`EstimatorInfo` (input size, colour order, normalisation, keypoints, flip pairs),
  :class:`Prediction`, the :class:`PoseEstimator` interface, :class:`EstimatorError`;
* :mod:`.codecs`: heatmap (HRNet), SimCC (RTMPose) and direct-coordinate decoding, with their flip tests;
* :mod:`.model`: :class:`ModelEstimator`, a network plus a codec (chunked static batches, flip test);
* :mod:`.torch_models`: any ``torch.nn.Module``, the registry models, TorchScript, ``torch.export``;
* :mod:`.onnxrt`: ONNX through onnxruntime; :mod:`.blazepose`: MediaPipe BlazePose;
* :mod:`.registry`: ``create_estimator(kind, ...)`` and ``load_estimator(spec.yaml)``.

Optional backends (onnxruntime, mediapipe) are imported only when their kind is built.
"""
from .base import *  # noqa: F401,F403
from .base import __all__ as _base_names
from .codecs import *  # noqa: F401,F403
from .codecs import __all__ as _codec_names
from .model import *  # noqa: F401,F403
from .model import __all__ as _model_names
from .registry import *  # noqa: F401,F403
from .registry import __all__ as _registry_names
from .torch_models import *  # noqa: F401,F403
from .torch_models import __all__ as _torch_names

__all__ = [*_base_names, *_codec_names, *_model_names, *_registry_names, *_torch_names]
