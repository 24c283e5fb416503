"""Batched test crops on the device: decode each image once, warp all its person crops with one ``grid_sample``.

The batched counterpart of :func:`occlusion.data.build_crops` for the evaluation engine:

* :func:`decode_images` decodes JPEGs with ``torchvision.io.decode_jpeg`` on a CUDA device (batched, nvJPEG) and
  with OpenCV in a thread pool otherwise (the same decoder and flags as :func:`occlusion.data.read_image`);
* :func:`warp_crops_batch` is ``cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)`` of many crops at once: each
  forward affine of :func:`occlusion.transforms.get_affine_transform` is inverted as OpenCV inverts it, turned
  into a sampling grid of source pixel centres and sampled with bilinear ``grid_sample`` (zeros outside);
* :func:`build_crops_batched` = decode + warp for a list of person records, with the same joints as ``build_crops``.

Agreement with OpenCV: OpenCV 5 interpolates 8-bit images in floating point and this module matches it exactly on
almost every pixel (float32 rounding can move a value by one level); OpenCV 4's fixed-point path (1/32 px
coordinates, 15-bit weights) differs from both by at most a few levels on a fraction of a percent of the pixels.
nvJPEG (CUDA decoding) is not bit-identical to libjpeg-turbo; pass ``decoder="opencv"`` for OpenCV's pixels.

Example:
    >>> import numpy as np, torch
    >>> from occlusion.transforms import get_affine_transform
    >>> image = torch.arange(48, dtype=torch.uint8).reshape(4, 4, 3)
    >>> m = get_affine_transform((2.0, 2.0), (0.02, 0.02), 0.0, (4, 4))  # HRNet maps the centre to (w/2, h/2): identity
    >>> bool((warp_crops_batch(image, torch.zeros(1, dtype=torch.long), m[None], (4, 4))[0] == image).all())
    True
"""
from __future__ import annotations

import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .data import PersonRecord, jpeg_complete, read_image
from .transforms import get_affine_transform, warp_joints

__all__ = ["Decoder", "decode_images", "invert_affine", "warp_crops_batch", "build_crops_batched"]

Decoder = Literal["auto", "opencv", "torchvision"]


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _jpeg(data: bytes) -> bool:
    """A complete JPEG (anything else goes to OpenCV, which also raises the errors of :func:`read_image`)."""
    return data[:2] == b"\xff\xd8" and jpeg_complete(data)


def decode_images(
    paths: Sequence[str | Path], device: torch.device | str = "cpu", *, decoder: Decoder = "auto"
) -> list[torch.Tensor]:
    """Decode ``paths`` as RGB uint8 ``(H, W, 3)`` tensors on ``device``, ignoring EXIF orientation.

    ``decoder="torchvision"`` reads the files in a thread pool and decodes the JPEGs in one batched
    ``torchvision.io.decode_jpeg`` call on ``device`` (nvJPEG on CUDA); other files, and a batch nvJPEG refuses
    (e.g. CMYK), go to OpenCV. ``"opencv"`` decodes every file with :func:`occlusion.data.read_image` in a thread
    pool and copies it to ``device``. ``"auto"``: torchvision on CUDA, OpenCV elsewhere. Missing, corrupt or
    truncated files raise as :func:`~occlusion.data.read_image` does. The tensors may be non-contiguous views.
    """
    if decoder not in ("auto", "opencv", "torchvision"):
        raise ValueError(f"decoder = {decoder!r}: expected 'auto', 'opencv' or 'torchvision'")
    device = torch.device(device)
    paths = [Path(p) for p in paths]
    if not paths:
        return []
    use_torchvision = decoder == "torchvision" or (decoder == "auto" and device.type == "cuda")
    with ThreadPoolExecutor(min(_workers(), len(paths))) as pool:
        if not use_torchvision:
            return [torch.from_numpy(a).to(device) for a in pool.map(read_image, paths)]
        blobs = list(pool.map(lambda p: p.read_bytes() if p.is_file() else b"", paths))
    from torchvision.io import ImageReadMode, decode_jpeg

    out: list[torch.Tensor | None] = [None] * len(paths)
    jpeg = [i for i, data in enumerate(blobs) if _jpeg(data)]
    if jpeg:
        tensors = [torch.frombuffer(bytearray(blobs[i]), dtype=torch.uint8) for i in jpeg]
        try:
            decoded = decode_jpeg(tensors, mode=ImageReadMode.RGB, device=device)
        except RuntimeError:  # one file nvJPEG cannot decode fails the batch: OpenCV decodes it below
            decoded = []
        for i, image in zip(jpeg, decoded):
            out[i] = image.permute(1, 2, 0)
    return [image if image is not None else torch.from_numpy(read_image(path)).to(device)
            for image, path in zip(out, paths)]


def invert_affine(matrices: np.ndarray) -> np.ndarray:
    """Invert ``(N, 2, 3)`` affines in float64 as ``cv2.invertAffineTransform`` (and ``cv2.warpAffine``) do.

    A singular matrix (a zero-size box) raises ``ValueError``.
    """
    m = np.asarray(matrices, dtype=np.float64)
    if m.ndim != 3 or m.shape[1:] != (2, 3):
        raise ValueError(f"matrices of shape {m.shape}: expected (N, 2, 3) affines")
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    singular = np.flatnonzero(det == 0)
    if singular.size:
        raise ValueError(f"matrix {singular[0]} is singular: {m[singular[0]].tolist()}")
    inv_det = 1.0 / det
    a11, a22 = m[:, 1, 1] * inv_det, m[:, 0, 0] * inv_det
    a12, a21 = -m[:, 0, 1] * inv_det, -m[:, 1, 0] * inv_det
    b1 = -a11 * m[:, 0, 2] - a12 * m[:, 1, 2]
    b2 = -a21 * m[:, 0, 2] - a22 * m[:, 1, 2]
    return np.stack([np.stack([a11, a12, b1], 1), np.stack([a21, a22, b2], 1)], 1)


def _as_images(images: Sequence[torch.Tensor] | torch.Tensor) -> list[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        images = [images] if images.ndim == 3 else list(images)
    images = list(images)
    if not images:
        raise ValueError("no images to warp from")
    device = images[0].device
    for i, image in enumerate(images):
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image {i}: {tuple(image.shape)} {image.dtype}; expected uint8 (H, W, 3)")
        if min(image.shape[:2]) < 2:
            raise ValueError(f"image {i}: {tuple(image.shape)}; expected height and width >= 2")
        if image.device != device:
            raise ValueError(f"image {i} is on {image.device}, image 0 on {device}; expected one device")
    return images


def warp_crops_batch(
    images: Sequence[torch.Tensor] | torch.Tensor,
    image_index: torch.Tensor | np.ndarray | Sequence[int],
    matrices: torch.Tensor | np.ndarray,
    output_size: Sequence[int],
) -> torch.Tensor:
    """``cv2.warpAffine(images[image_index[i]], matrices[i], output_size, INTER_LINEAR)`` for every crop ``i``.

    ``images``: uint8 ``(H, W, 3)`` tensors on one device (or one ``(B, H, W, 3)`` / ``(H, W, 3)`` tensor);
    ``image_index (N,)``: the source image of each crop; ``matrices (N, 2, 3)``: OpenCV forward affines (source
    image -> crop pixels); ``output_size``: ``(w, h)``. Returns uint8 ``(N, h, w, 3)`` on the images' device.
    Samples falling outside an image are 0 (OpenCV's constant border). Each image is converted to float and
    sampled once, by one ``grid_sample`` over all its crops.
    """
    images = _as_images(images)
    device = images[0].device
    w, h = int(output_size[0]), int(output_size[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"output_size = {tuple(output_size)}: expected (width, height) > 0")
    index = torch.as_tensor(image_index).detach().to("cpu", torch.long).reshape(-1).numpy()
    mats = matrices.detach().cpu().double().numpy() if isinstance(matrices, torch.Tensor) else np.asarray(matrices)
    if mats.shape != (len(index), 2, 3):
        raise ValueError(f"matrices of shape {mats.shape}: expected ({len(index)}, 2, 3) for {len(index)} crops")
    if len(index) and (index.min() < 0 or index.max() >= len(images)):
        raise ValueError(f"image_index out of range [0, {len(images)}): min {index.min()}, max {index.max()}")
    out = torch.empty((len(index), h, w, 3), dtype=torch.uint8, device=device)
    if not len(index):
        return out

    # Crops sorted by image (stable), so each image's crops are one slice of the output: one grid_sample per image.
    order = np.argsort(index, kind="stable")
    index, mats = index[order], mats[order]
    # Source pixel (x, y) = inverse affine of the crop pixel; grid_sample (align_corners=True) wants x in pixel
    # centres scaled to [-1, 1] as 2 x / (W - 1) - 1. Fold that scaling into each crop's inverse in float64.
    theta = invert_affine(mats)
    sizes = np.array([[img.shape[1], img.shape[0]] for img in images], dtype=np.float64)[index]  # (N, 2) = W, H
    theta *= (2.0 / (sizes - 1.0))[:, :, None]
    theta[:, :, 2] -= 1.0
    theta_t = torch.from_numpy(theta).to(device, torch.float32)
    xs = torch.arange(w, dtype=torch.float32, device=device)
    ys = torch.arange(h, dtype=torch.float32, device=device)
    # Elementwise, not a matmul: CUDA may run float32 matmuls in TF32, too coarse for pixel coordinates.
    a, b, c = (theta_t[:, None, None, :, j] for j in range(3))  # (N, 1, 1, 2) each
    grid = torch.addcmul(b * ys[None, :, None, None] + c, a, xs[None, None, :, None])  # (N, h, w, 2)

    starts = np.r_[0, np.flatnonzero(np.diff(index)) + 1, len(index)]
    for lo, hi in zip(starts[:-1].tolist(), starts[1:].tolist()):
        src = images[index[lo]].permute(2, 0, 1)[None].float()  # (1, 3, H, W)
        sampled = F.grid_sample(src, grid[lo:hi].reshape(1, (hi - lo) * h, w, 2), mode="bilinear",
                                padding_mode="zeros", align_corners=True)  # (1, 3, n h, w)
        # Convex weights of values in [0, 255] (zeros outside) stay in range: rounding alone gives valid uint8.
        out[lo:hi] = sampled[0].reshape(3, hi - lo, h, w).permute(1, 2, 3, 0).round_()
    if np.array_equal(order, np.arange(len(order))):
        return out
    return out[torch.from_numpy(np.argsort(order)).to(device)]


def _image_batches(groups: list[list[int]], batch_size: int) -> Iterator[list[list[int]]]:
    """Consecutive runs of image groups holding at most ``batch_size`` crops (a larger image is its own run)."""
    run: list[list[int]] = []
    count = 0
    for group in groups:
        if run and count + len(group) > batch_size:
            yield run
            run, count = [], 0
        run.append(group)
        count += len(group)
    if run:
        yield run


def build_crops_batched(
    records: Sequence[PersonRecord],
    image_size: Sequence[int],
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    rgb: bool = True,
    decoder: Decoder = "auto",
) -> tuple[torch.Tensor, np.ndarray]:
    """:func:`occlusion.data.build_crops` on ``device``: ``(uint8 (N, h, w, 3) crops on device, joints (N, K, 3))``.

    Records are grouped by image; runs of images with at most ``batch_size`` crops are decoded together
    (:func:`decode_images`, the next run while the current one is warped) and warped by :func:`warp_crops_batch`.
    The joints are exactly ``build_crops``'s; the crops agree with its ``cv2.warpAffine`` as described in the module
    docstring. ``rgb=False`` gives BGR crops (SimpleBaseline's order).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size = {batch_size!r}: expected an integer >= 1")
    device = torch.device(device)
    w, h = int(image_size[0]), int(image_size[1])
    num_joints = records[0].joints.shape[0] if records else 0
    crops = torch.zeros((len(records), h, w, 3), dtype=torch.uint8, device=device)
    joints = np.zeros((len(records), num_joints, 3), dtype=np.float32)
    matrices = np.zeros((len(records), 2, 3), dtype=np.float64)
    by_image: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        matrices[i] = get_affine_transform(record.center, record.scale, 0.0, (w, h))
        joints[i] = warp_joints(record.joints, matrices[i])
        by_image[record.image].append(i)
    runs = list(_image_batches(list(by_image.values()), batch_size))
    if not runs:
        return crops, joints

    def decode(run: list[list[int]]) -> list[torch.Tensor]:
        return decode_images([records[group[0]].image for group in run], device, decoder=decoder)

    with ThreadPoolExecutor(1) as prefetch:
        pending = prefetch.submit(decode, runs[0])
        for k, run in enumerate(runs):
            images = pending.result()
            if k + 1 < len(runs):
                pending = prefetch.submit(decode, runs[k + 1])
            rows = [i for group in run for i in group]
            image_index = [j for j, group in enumerate(run) for _ in group]
            warped = warp_crops_batch(images, image_index, matrices[rows], (w, h))
            crops[torch.tensor(rows, dtype=torch.long, device=device)] = warped if rgb else warped.flip(-1)
    return crops, joints
