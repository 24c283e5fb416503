"""Bottom-up pose estimation for paper Table III: HigherHRNet-W32 with associative embedding (docs/METHODS.md §2,
§3, §5, §7 item 8), on the timm HRNet backbone of :mod:`occlusion.models`. One concept per module:

* :mod:`~occlusion.bottomup.model` (:func:`create_bottomup_model`): the stride-4 HRNet branch, a 1x1 conv to K
  heatmaps + K tag maps at 1/4 resolution, one deconvolution module and a 1x1 conv to K heatmaps at 1/2
  resolution. ``higherhrnet_w32`` (28.6M parameters) and ``higherhrnet_w18_small`` (the CPU stand-in).
* :mod:`~occlusion.bottomup.checkpoint` (:func:`load_bottomup_checkpoint`): imports the official
  ``pose_higher_hrnet_w32_512.pth`` by an explicit key table.
* :mod:`~occlusion.bottomup.data` (:class:`BottomUpDataset`): full images; training draws rotation U(+-30), scale
  U[0.75, 1.5] of the short side, translation +-40 (x scale) and flip 0.5 (HigherHRNet's
  ``RandomAffineTransform`` and ``RandomHorizontalFlip``); heatmap targets at every output resolution, joint
  indices for the tag loss and the masks of crowd regions and of annotated people without keypoints.
* :mod:`~occlusion.bottomup.augment` (:class:`BottomUpAugmenter`): targeted augmentations on the full original
  image *before* the affine transform, in the order blur -> cutout -> PartMix; every person instance draws its own
  ``U < p``. An :class:`occlusion.augment.Augmenter` of :mod:`occlusion.augment`'s classes, each run per
  instance, with label removal off. Table III's baseline row is the official checkpoint (:data:`TABLE3_PRESETS`).
* :mod:`~occlusion.bottomup.loss` (:func:`bottomup_loss`): masked heatmap MSE at both stages,
  associative-embedding push/pull ('exp', weights 1e-3) at stage 1 only.
* :mod:`~occlusion.bottomup.grouping` (:func:`group_people`): NMS by 5x5 max-pooling, top 30 per joint, grouping
  by tag with the Hungarian matching, quarter-pixel adjust, refine; :func:`decode_bottomup` adds the inverse
  affine back to the image.
* :mod:`~occlusion.bottomup.inference` (:func:`predict_bottomup`, :func:`evaluate_bottomup`): resize with
  HigherHRNet's ``get_multi_scale_size`` at scale 1, flip test, the 1/4 output upsampled to 1/2 and averaged with
  it, both projected to the input size, then the grouping; COCO keypoint AP of an annotation file.
* :mod:`~occlusion.bottomup.attack` (:func:`occlude_image_instances`): a keypoint or part occluder of
  :mod:`occlusion.attacks` applied to every annotated instance of the full image in turn (docs/METHODS.md §2).
* :mod:`~occlusion.bottomup.train` (:func:`~occlusion.bottomup.train.train_bottomup_run`): HigherHRNet's training
  recipe on the shared :mod:`occlusion.runtime` (imported on its own: it needs the run spec, which needs params).

timm is imported only where a network is built, so ``import occlusion.bottomup`` stays light.

Example:
    >>> model = create_bottomup_model("higherhrnet_w18_small", seed=0).eval()  # doctest: +SKIP
    >>> people = predict_bottomup(model, image, input_size=256)  # doctest: +SKIP
    >>> coco_keypoint_eval(gt_file, people_to_coco(image_id, people))  # doctest: +SKIP
"""
from __future__ import annotations

from . import attack, augment, checkpoint, data, grouping, inference, loss, model
from .attack import *  # noqa: F401,F403
from .augment import *  # noqa: F401,F403
from .checkpoint import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .grouping import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .model import *  # noqa: F401,F403

__all__ = [
    *model.__all__,
    *checkpoint.__all__,
    *augment.__all__,
    *attack.__all__,
    *data.__all__,
    *loss.__all__,
    *grouping.__all__,
    *inference.__all__,
]
