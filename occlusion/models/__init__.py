"""Top-down pose models: the registry on timm backbones (:mod:`.zoo`) and official checkpoints (:mod:`.checkpoint`).

ViTPose (:mod:`.vitpose`) registers beside HRNet and SimpleBaseline. ``create_model("hrnet_w32")`` builds a
registered model; :func:`load_pose_checkpoint` imports official weights.
"""
from .checkpoint import *  # noqa: F401,F403
from .checkpoint import __all__ as _checkpoint_names
from .vitpose import *  # noqa: F401,F403  (registers the ViTPose models)
from .vitpose import __all__ as _vitpose_names
from .zoo import *  # noqa: F401,F403
from .zoo import __all__ as _zoo_names

__all__ = [*_zoo_names, *_checkpoint_names, *_vitpose_names]
