"""The bottom-up attack (docs/METHODS.md §2): one :mod:`occlusion.attacks` attack on every annotated instance of a
full image in turn."""
from __future__ import annotations

import numpy as np

from ..attacks import AttackSpec, sample_attack
from ..keypoints import COCO, Skeleton
from ..regions import apply_occluder

__all__ = ["occlude_image_instances"]


def occlude_image_instances(
    image: np.ndarray,
    keypoints: np.ndarray,
    target: str,
    filler: str,
    *,
    radius: int = 6,
    paper_bounds: bool = True,
    skeleton: Skeleton = COCO,
) -> np.ndarray:
    """The bottom-up attack (docs/METHODS.md §2): occlude ``target`` of every instance in ``keypoints (P, K, 3)``.

    Instances are attacked in turn on the full original image, each on the image the previous ones left (meanout
    recomputes the mean every time). A keypoint target is a disc of ``radius`` (blur kernel ``2 radius - 1``); a
    part target its rectangle (blur kernel 31): the occluder of :func:`occlusion.attacks.sample_attack`.
    ``paper_bounds`` keeps the reference's swapped bounds check, which on a full image skips keypoints with
    ``x >= height`` or ``y >= width``. Returns a new image. (The reference's bottom-up ``--cutout`` defaults to
    meanout, ``MEAN_COLORING`` True; here the filler is always explicit.)
    """
    kind = skeleton.target_kind(target)
    spec = AttackSpec(target, kind, filler, radius if kind == "keypoint" else None, paper_bounds)
    height, width = image.shape[:2]
    out = image.copy()
    for kps in np.asarray(keypoints, dtype=np.float32).reshape(-1, skeleton.num_joints, 3):
        occluder = sample_attack(spec, kps, width, height, skeleton)
        if occluder.shape != "none":
            out = apply_occluder(out, occluder)
    return out
