"""Top-down pose models: the registry on timm backbones (:mod:`.zoo`) and official checkpoints (:mod:`.checkpoint`).

``create_model("hrnet_w32")`` builds a registered model; :func:`load_pose_checkpoint` imports official weights.
"""
from .checkpoint import *  # noqa: F401,F403
from .checkpoint import __all__ as _checkpoint_names
from .zoo import *  # noqa: F401,F403
from .zoo import __all__ as _zoo_names

__all__ = [*_zoo_names, *_checkpoint_names]
