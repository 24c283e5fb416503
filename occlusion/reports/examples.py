"""Figs. 1, 9, 14: what the attacks, the training augmentations and the trained models do to one person crop,
drawn on the deterministic, best-labelled crops of the COCO split."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..config import from_dict, to_dict
from ..keypoints import COCO, Skeleton
from ..params import Params
from .draw import Drawn
from .results import subtitle
from .style import styled

__all__ = ["FIG9_PRESETS", "showcase_crop", "build_fig01_attacks", "build_fig09_augmentations",
           "build_fig14_qualitative", "draw_pose", "image_grid"]

FIG9_PRESETS = {
    "Blurring (K)": "blur_k_05", "Cutout (K)": "cutout_k_05", "Cutout+Blurring (K)": "cutblur_k_05",
    "Blurring (P)": "blur_p_05", "Cutout (P)": "cutout_p_05", "Cutout+Blurring (P)": "cutblur_p_05",
    "Multi-keypoint": "multikeypoint_02", "PartMix": "partmix_05",
}
"""The preset shown for each augmentation family in Fig. 9 (each is fired with p = 1)."""


def showcase_crop(params: Params, split: str = "val", index: int | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """A deterministic, well-labelled person crop of the COCO split (most labelled keypoints, then largest):
    ``(crop, joints, records of the split)``."""
    from ..data import TopDownDataset
    from ..splits import load_split

    recipe = next(iter(params.models.values()))
    records = load_split(params, "coco", split).records
    if index is None:
        index = max(range(len(records)), key=lambda i: ((records[i].joints[:, 2] > 0).sum(), records[i].area))
    ds = TopDownDataset([records[index]], image_size=recipe.input_size, heatmap_size=recipe.heatmap_size,
                        sigma=recipe.sigma, skeleton=COCO)
    crop, joints = ds.crop(0)
    return crop, joints, records


def _changed_pixels(out: np.ndarray, crop: np.ndarray) -> int:
    return int((out != crop).any(axis=2).sum())


def build_fig01_attacks(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 1: the keypoint (nose) and part (upper body) attacks with each filler on the showcase crop."""
    from ..attacks import occlude

    crop, joints, _ = showcase_crop(params)
    images, titles, rows = [crop], ["clean"], []
    for target in ("nose", "upper_body"):
        for filler in ("blur", "blackout", "meanout"):
            images.append(occlude(crop, joints, target, filler, radius=params.attack.radius))
            titles.append(f"{target} / {filler}")
            rows.append({"target": target, "filler": filler, "changed_pixels": _changed_pixels(images[-1], crop)})
    images[0] = draw_pose(crop, joints, COCO, radius=1, thickness=1)
    fig = image_grid(images, titles, ncols=4)
    fig.suptitle(f"Fig. 1: targeted occlusion attacks ({subtitle(params)})")
    return fig, pd.DataFrame(rows)


def _always(cfg: Any) -> Any:
    """The same augmentation with every probability set to 1 (multi-keypoint: 0.6), for showing it."""
    d = to_dict(cfg)
    for key in ("blurring", "cutout", "partmix"):
        if d.get(key):
            d[key]["prob"] = 1.0
    if d.get("multi_keypoint"):
        d["multi_keypoint"]["prob"] = 0.6
    return from_dict(type(cfg), d)


def build_fig09_augmentations(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 9: each augmentation family of ``FIG9_PRESETS`` fired on the showcase crop (PartMix sources: the
    train split)."""
    from ..augment import build_augmenter, partmix_sources_from_records
    from ..splits import load_split

    crop, joints, _ = showcase_crop(params, "val")
    sources = partmix_sources_from_records(load_split(params, "coco", "train").records)
    images, titles, rows = [draw_pose(crop, joints, COCO, radius=1, thickness=1)], ["clean"], []
    for title, preset in FIG9_PRESETS.items():
        augmenter = build_augmenter(_always(params.augs[preset].augment), COCO, partmix_sources=sources)
        aug_params = augmenter.sample(crop, joints, np.random.default_rng(0))
        out, out_joints = augmenter.apply(crop, joints, aug_params)
        images.append(draw_pose(out, out_joints, COCO, radius=1, thickness=1))
        titles.append(title)
        rows.append({"augmentation": title, "preset": preset, "changed_pixels": _changed_pixels(out, crop),
                     "labels_removed": int(((joints[:, 2] > 0) & (out_joints[:, 2] == 0)).sum())})
    fig = image_grid(images, titles, ncols=3)
    fig.suptitle(f"Fig. 9: training augmentations on one crop, fired with p = 1 ({subtitle(params)})")
    return fig, pd.DataFrame(rows)


def _trained_models(params: Params, paths: list[Path], arch: str) -> dict[str, Any]:
    """The main models (first seed) of the baseline and PartMix runs, whose folders are ``paths[0]``, ``paths[1]``."""
    import torch

    from ..models import create_model

    models = {}
    for name, folder in (("baseline", paths[0]), ("PartMix", paths[1])):
        path = folder / f"seed_{params.run(folder.name).seed}" / "model.pt"  # the run's main model
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no trained model (run its train stage first)")
        model = create_model(arch, num_joints=COCO.num_joints)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
        models[name] = model.eval()
    return models


def build_fig14_qualitative(params: Params, paths: list[Path]) -> Drawn:
    """Fig. 14: the baseline's (red) and PartMix's (blue) predictions on four attacked crops, the best-labelled
    persons of the COCO val split (as many as it has, up to four), with each prediction's mean error over the
    labelled joints."""
    import torch

    from ..attacks import occlude
    from ..data import TopDownDataset
    from ..engine import normalize_batch
    from ..evaluate import get_max_preds, predict_heatmaps
    from ..splits import load_split

    recipe = params.models["hrnet"]
    models = _trained_models(params, paths, recipe.arch)
    records = load_split(params, "coco", "val").records
    order = sorted(range(len(records)), key=lambda i: (-(records[i].joints[:, 2] > 0).sum(), -records[i].area))[:4]
    if not order:
        raise ValueError("fig14_qualitative: the COCO val split has no person to draw")
    ds = TopDownDataset([records[i] for i in order], image_size=recipe.input_size, heatmap_size=recipe.heatmap_size,
                        sigma=recipe.sigma, skeleton=COCO)
    images, titles, rows = [], [], []
    colors = {"baseline": (255, 64, 64), "PartMix": (64, 160, 255)}
    attacks = [("left_arm", "blackout"), ("right_leg", "meanout"), ("head", "blur"), ("corpus", "blackout")]
    for i, (target, filler) in enumerate(attacks[: len(order)]):  # fewer panels where the split has < 4 persons
        crop, joints = ds.crop(i)
        attacked = occlude(crop, joints, target, filler)
        x = normalize_batch(torch.from_numpy(attacked)[None], recipe.color)
        for name, model in models.items():
            heatmaps = predict_heatmaps(model, x, COCO.flip_pairs).numpy()
            coords, maxvals = get_max_preds(heatmaps)
            stride = recipe.input_size[0] / heatmaps.shape[-1]
            pred = np.concatenate([coords[0] * stride, (maxvals[0] > 0.2).astype(np.float32)], axis=1)
            images.append(draw_pose(attacked, pred, COCO, color=colors[name], radius=1, thickness=1))
            titles.append(f"{name}: {target} {filler}")
            labelled = joints[:, 2] > 0
            err = np.linalg.norm(pred[:, :2] - joints[:, :2], axis=1)[labelled]
            rows.append({"person": i, "attack": f"{target}/{filler}", "model": name,
                         "mean_error_px": float(err.mean()) if err.size else np.nan})
    fig = image_grid(images, titles, ncols=4)
    fig.suptitle(f"Fig. 14: baseline (red) and PartMix (blue) predictions on attacked crops ({subtitle(params)})")
    return fig, pd.DataFrame(rows)


def draw_pose(
    image: np.ndarray,
    keypoints: np.ndarray,
    skeleton: Skeleton,
    color: tuple[int, int, int] = (255, 0, 0),
    *,
    radius: int = 3,
    thickness: int = 2,
) -> np.ndarray:
    """A copy of ``image`` with the labelled keypoints (``v > 0``) as filled circles and the skeleton edges
    between labelled pairs as lines, in ``color`` (Figs. 1, 9, 14). Coordinates are rounded to pixels."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"draw_pose: image must be uint8 H x W x 3, got {image.dtype} {image.shape}")
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.shape != (skeleton.num_joints, 3):
        raise ValueError(f"draw_pose: keypoints shape {keypoints.shape}; expected ({skeleton.num_joints}, 3) "
                         f"for {skeleton.name}")
    out = np.ascontiguousarray(image).copy()
    points = [(int(round(float(x))), int(round(float(y)))) for x, y, _ in keypoints]
    labelled = keypoints[:, 2] > 0
    color = tuple(int(c) for c in color)
    for a, b in skeleton.edges:
        if labelled[a] and labelled[b]:
            cv2.line(out, points[a], points[b], color, thickness, lineType=cv2.LINE_AA)
    for point, visible in zip(points, labelled):
        if visible:
            cv2.circle(out, point, radius, color, thickness=-1, lineType=cv2.LINE_AA)
    return out


@styled
def image_grid(
    images: Sequence[np.ndarray], titles: Sequence[str] | None = None, ncols: int = 3, *, panel_width: float = 2.0
) -> Figure:
    """A figure of ``images`` (uint8 H x W x 3 RGB or H x W gray) in rows of ``ncols``, one title each."""
    if not images:
        raise ValueError("image_grid: no images")
    titles = list(titles) if titles is not None else [""] * len(images)
    if len(titles) != len(images):
        raise ValueError(f"image_grid: {len(titles)} titles for {len(images)} images")
    if ncols < 1:
        raise ValueError(f"image_grid: ncols = {ncols!r}; expected a positive int")
    for i, img in enumerate(images):
        if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
            raise ValueError(f"image_grid: image {i} must be uint8 H x W x 3 or H x W, got {img.dtype} {img.shape}")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    aspect = max(img.shape[0] / img.shape[1] for img in images)
    fig = Figure(figsize=(panel_width * ncols, panel_width * aspect * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, img, title in zip(axes, images, titles):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        ax.set_title(title)
    for ax in axes:
        ax.set_axis_off()
    return fig
