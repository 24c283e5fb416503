"""Bottom-up inference and evaluation (docs/METHODS.md §5, Table III): resize with HigherHRNet's
``get_multi_scale_size`` at scale 1, flip test, the 1/4 output upsampled to 1/2 and averaged with it, both projected
to the input size, then :func:`~occlusion.bottomup.grouping.decode_bottomup`; COCO keypoint AP over an
annotation file, optionally under an attack on every original image."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import normalize, read_image
from ..evaluate import coco_keypoint_eval
from ..keypoints import COCO, Skeleton
from ..progress import progress_bar
from ..transforms import PIXEL_STD, get_affine_transform
from .data import load_coco
from .grouping import GroupingConfig, Person, decode_bottomup

__all__ = [
    "multi_scale_size",
    "resize_image",
    "predict_maps",
    "predict_bottomup",
    "people_to_coco",
    "evaluate_bottomup",
]


def multi_scale_size(width: int, height: int, input_size: int) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """HigherHRNet's ``get_multi_scale_size`` at scale 1: ``((w, h) of the input, centre, scale)``.

    The short side becomes ``input_size`` (rounded up to a multiple of 64), the long side the same factor rounded
    up to a multiple of 64; ``centre`` is ``(int(w / 2 + 0.5), int(h / 2 + 0.5))`` and ``scale`` the source box in
    200 px units for :func:`~occlusion.transforms.get_affine_transform`.
    """
    side = int((input_size + 63) // 64 * 64)
    center = np.array([int(width / 2.0 + 0.5), int(height / 2.0 + 0.5)], dtype=np.float64)
    if width < height:
        size = (side, int((side / width * height + 63) // 64 * 64))
        scale = np.array([width / PIXEL_STD, size[1] / size[0] * width / PIXEL_STD])
    else:
        size = (int((side / height * width + 63) // 64 * 64), side)
        scale = np.array([size[0] / size[1] * height / PIXEL_STD, height / PIXEL_STD])
    return size, center, scale


def resize_image(image: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network input of a full image (``resize_align_multi_scale`` at scale 1): ``(resized, centre, scale)``."""
    size, center, scale = multi_scale_size(image.shape[1], image.shape[0], input_size)
    matrix = get_affine_transform(center, scale, 0.0, size)
    return cv2.warpAffine(image, matrix, size), center, scale


def predict_maps(
    model: nn.Module, image: np.ndarray, *, skeleton: Skeleton = COCO, flip_test: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps ``(K, H, W)`` and tags ``(K, H, W, L)`` of a resized uint8 RGB input, projected to its size.

    As HigherHRNet's ``get_multi_stage_outputs`` + ``aggregate_results`` with ``PROJECT2IMAGE``: the stage-1
    output is upsampled (bilinear) to stage 2's resolution, the two stages' heatmaps are averaged, the flipped
    input's maps are flipped back with the joints' left/right permutation, the heatmaps of both passes averaged
    and their tags kept side by side (L = 2 with ``flip_test``, else 1), all projected to the input size.
    """
    param = next(model.parameters())
    x = normalize(image)[None].to(device=param.device, dtype=param.dtype)
    batch = torch.cat([x, x.flip(-1)]) if flip_test else x
    with torch.no_grad():
        outputs = model(batch)
    k = outputs[-1].shape[1]
    first = F.interpolate(outputs[0].float(), size=outputs[-1].shape[-2:], mode="bilinear", align_corners=False)
    heat = (first[:, :k] + outputs[-1].float()) / 2
    tags = first[:, k:]
    if flip_test:
        perm = torch.as_tensor(skeleton.flip_permutation(), device=heat.device)
        heat = torch.stack([heat[0], heat[1].flip(-1)[perm]])
        tags = torch.stack([tags[0], tags[1].flip(-1)[perm]])
    size = image.shape[:2]
    heat = F.interpolate(heat, size=size, mode="bilinear", align_corners=False).mean(dim=0)
    tags = F.interpolate(tags, size=size, mode="bilinear", align_corners=False).permute(1, 2, 3, 0)
    return heat, tags.contiguous()


def predict_bottomup(
    model: nn.Module,
    image: np.ndarray,
    *,
    input_size: int,
    flip_test: bool = True,
    skeleton: Skeleton = COCO,
    grouping: GroupingConfig = GroupingConfig(),
) -> list[Person]:
    """People in a full uint8 RGB image: :func:`resize_image`, :func:`predict_maps`, :func:`decode_bottomup`.

    Put the model in ``eval()`` mode first; inputs go to the model's device.
    """
    resized, center, scale = resize_image(image, input_size)
    heatmaps, tags = predict_maps(model, resized, skeleton=skeleton, flip_test=flip_test)
    return decode_bottomup(heatmaps, tags, center, scale, grouping)


def people_to_coco(image_id: int, people: Sequence[Person], category_id: int = 1) -> list[dict[str, Any]]:
    """COCO keypoint results of one image: every person (no NMS, as HigherHRNet), its keypoints and score."""
    return [{"image_id": int(image_id), "category_id": category_id,
             "keypoints": [round(float(v), 3) for v in p.keypoints.ravel()], "score": float(p.score)}
            for p in people]  # fmt: skip


def evaluate_bottomup(
    model: nn.Module,
    ann_file: str | Path,
    image_dir: str | Path,
    *,
    input_size: int,
    flip_test: bool = True,
    attack: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    skeleton: Skeleton = COCO,
    grouping: GroupingConfig = GroupingConfig(),
    sigmas: np.ndarray | Sequence[float] | None = None,
    progress: bool = True,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """COCO keypoint AP of ``model`` on every image of ``ann_file`` (Table III) and the results it scored.

    ``attack(image, keypoints (P, K, 3)) -> image``, e.g. ``functools.partial(occlude_image_instances,
    target="nose", filler="meanout")``, runs on each original image with all its annotations' keypoints
    before the resize.
    """
    coco = load_coco(ann_file)
    results: list[dict[str, Any]] = []
    model.eval()
    for image_id in progress_bar(coco.getImgIds(), desc="bottom-up evaluation", leave=False, disable=not progress):
        image = read_image(Path(image_dir) / coco.imgs[image_id]["file_name"])
        if attack is not None:
            anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
            kps = np.asarray([a.get("keypoints") or [0.0] * (3 * skeleton.num_joints) for a in anns], np.float32)
            image = attack(image, kps.reshape(-1, skeleton.num_joints, 3))
        people = predict_bottomup(model, image, input_size=input_size, flip_test=flip_test, skeleton=skeleton,
                                  grouping=grouping)  # fmt: skip
        results += people_to_coco(image_id, people)
    return coco_keypoint_eval(coco, results, sigmas=sigmas), results
