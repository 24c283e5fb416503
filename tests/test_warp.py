from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from occlusion.data import PersonRecord, build_crops, load_coco_records, read_image
from occlusion.transforms import get_affine_transform
from occlusion.warp import build_crops_batched, decode_images, invert_affine, warp_crops_batch

SIZE = (48, 64)  # (w, h), small crops keep the tests fast


def _agreement(ours: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Fraction of values within one intensity level, and the largest difference."""
    diff = np.abs(ours.astype(np.int16) - reference.astype(np.int16))
    return float((diff <= 1).mean()), int(diff.max())


def _random_images(rng: np.random.Generator) -> list[np.ndarray]:
    """Noise (hardest case for interpolation) and a smoothed noise image, of different sizes."""
    noise = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (140, 70, 3), dtype=np.uint8), (7, 7), 0)
    return [noise, smooth, rng.integers(0, 256, (33, 57, 3), dtype=np.uint8)]


def _random_matrices(rng: np.random.Generator, images: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Crops of random images with centres partly outside, rotations +-90 deg and scales 0.05..1.5."""
    index = rng.integers(0, len(images), n)
    mats = []
    for i in index:
        h, w = images[i].shape[:2]
        center = rng.uniform((-10, -10), (w + 10, h + 10))
        s = rng.uniform(0.05, 1.5)
        mats.append(get_affine_transform(center, (s, s * 4 / 3), rng.uniform(-90, 90), SIZE))
    return index, np.stack(mats)


def test_warp_matches_cv2_on_random_images_with_rotation_and_scale():
    rng = np.random.default_rng(0)
    images = _random_images(rng)
    index, mats = _random_matrices(rng, images, 40)
    ours = warp_crops_batch([torch.from_numpy(im) for im in images], torch.from_numpy(index), mats, SIZE).numpy()
    reference = np.stack([cv2.warpAffine(images[i], m, SIZE, flags=cv2.INTER_LINEAR) for i, m in zip(index, mats)])
    assert ours.shape == (40, SIZE[1], SIZE[0], 3) and ours.dtype == np.uint8
    within_one, _ = _agreement(ours, reference)
    assert within_one > 0.995
    # crops come back in their own rows although they are sampled grouped by image
    assert not np.array_equal(np.sort(index), index)


def test_warp_accepts_one_stacked_tensor_and_torch_matrices():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 40, 50, 3), dtype=np.uint8)
    index, mats = _random_matrices(rng, list(images), 6)
    from_list = warp_crops_batch([torch.from_numpy(im) for im in images], index, mats, SIZE)
    from_stack = warp_crops_batch(torch.from_numpy(images), torch.from_numpy(index), torch.from_numpy(mats), SIZE)
    assert torch.equal(from_list, from_stack)


def test_identity_and_integer_shift_are_exact_with_zeros_outside():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    shift = np.array([[1.0, 0.0, 3.0], [0.0, 1.0, -2.0]])  # crop (x, y) = image (x - 3, y + 2)
    out = warp_crops_batch(torch.from_numpy(image), [0, 0], np.stack([identity, shift]), SIZE).numpy()
    np.testing.assert_array_equal(out[0], image)
    expected = np.zeros_like(image)
    expected[: SIZE[1] - 2, 3:] = image[2:, : SIZE[0] - 3]
    np.testing.assert_array_equal(out[1], expected)


def test_border_samples_blend_with_zero_and_far_outside_is_zero():
    rng = np.random.default_rng(3)
    image = (rng.integers(1, 128, (20, 30, 3)) * 2).astype(np.uint8)  # even, > 0: half of it is exact
    half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])  # crop x = 0 samples image x = -0.5
    outside = np.array([[1.0, 0.0, -100.0], [0.0, 1.0, 0.0]])  # the whole crop lies right of the image
    out = warp_crops_batch(torch.from_numpy(image), [0, 0], np.stack([half, outside]), (30, 20)).numpy()
    np.testing.assert_array_equal(out[0, :, 0], image[:, 0] // 2)
    assert (out[0, :, 1:] > 0).all()
    assert not out[1].any()


def test_fractional_shift_is_bilinear_rounded_to_nearest():
    rng = np.random.default_rng(8)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    shift = np.array([[1.0, 0.0, 0.25], [0.0, 1.0, 0.75]])  # crop (x, y) samples image (x - 0.25, y - 0.75)
    out = warp_crops_batch(torch.from_numpy(image), [0], shift[None], (30, 20)).numpy()[0]
    padded = np.pad(image.astype(np.float64), ((1, 0), (1, 0), (0, 0)))  # zeros above and left of the image
    exact = (0.25 * 0.75 * padded[:-1, :-1] + 0.75 * 0.75 * padded[:-1, 1:]
             + 0.25 * 0.25 * padded[1:, :-1] + 0.75 * 0.25 * padded[1:, 1:])  # fmt: skip
    not_tie = exact % 1 != 0.5  # multiples of 1/16: ties are rounded differently by OpenCV 4 and 5
    assert not_tie.mean() > 0.8
    np.testing.assert_array_equal(out[not_tie], np.rint(exact)[not_tie])
    np.testing.assert_array_equal(cv2.warpAffine(image, shift, (30, 20))[not_tie], out[not_tie])


def test_invert_affine_equals_opencv_and_rejects_singular_matrices():
    rng = np.random.default_rng(4)
    _, mats = _random_matrices(rng, [np.zeros((100, 100, 3), np.uint8)], 5)
    inverse = invert_affine(mats)
    for m, inv in zip(mats, inverse):
        np.testing.assert_allclose(inv, cv2.invertAffineTransform(m), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="matrix 1 is singular"):
        invert_affine(np.stack([mats[0], np.zeros((2, 3))]))


@pytest.mark.parametrize(
    ("images", "index", "mats", "message"),
    [
        ([torch.zeros(10, 10, 3)], [0], np.eye(2, 3)[None], "expected uint8"),
        ([torch.zeros(10, 10, 4, dtype=torch.uint8)], [0], np.eye(2, 3)[None], r"expected uint8 \(H, W, 3\)"),
        ([torch.zeros(1, 10, 3, dtype=torch.uint8)], [0], np.eye(2, 3)[None], "height and width >= 2"),
        ([torch.zeros(10, 10, 3, dtype=torch.uint8)], [0, 0], np.eye(2, 3)[None], r"expected \(2, 2, 3\)"),
        ([torch.zeros(10, 10, 3, dtype=torch.uint8)], [1], np.eye(2, 3)[None], r"out of range \[0, 1\)"),
        ([], [0], np.eye(2, 3)[None], "no images"),
    ],
)
def test_warp_rejects_bad_inputs(images, index, mats, message):
    with pytest.raises(ValueError, match=message):
        warp_crops_batch(images, index, mats, SIZE)


# --- decoding and whole record lists -------------------------------------------------------------------------


def _synthetic_records(tmp_path: Path, rng: np.random.Generator) -> list[PersonRecord]:
    """Two JPEGs and a PNG with 1, 4 and 2 persons, listed interleaved across images."""
    paths = []
    for i, (ext, shape) in enumerate(((".jpg", (120, 160)), (".png", (90, 70)), (".jpg", (100, 100)))):
        smooth = cv2.GaussianBlur(rng.integers(0, 256, (*shape, 3), dtype=np.uint8), (5, 5), 0)
        paths.append(tmp_path / f"image{i}{ext}")
        cv2.imwrite(str(paths[-1]), smooth)
    records = []
    for i in (0, 1, 2, 1, 1, 2, 1):
        h, w = cv2.imread(str(paths[i])).shape[:2]
        joints = np.zeros((17, 3), np.float32)
        joints[:5] = np.c_[rng.uniform(0, w, 5), rng.uniform(0, h, 5), np.full(5, 2.0)]
        s = rng.uniform(0.2, 0.8)
        records.append(PersonRecord(
            image=str(paths[i]), image_id=i, center=rng.uniform((0, 0), (w, h)).astype(np.float32),
            scale=np.array([s, s * 4 / 3], np.float32), joints=joints, bbox=(0.0, 0.0, 1.0, 1.0), area=1.0,
        ))  # fmt: skip
    return records


@pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")  # torchvision 0.29 points to TorchCodec
@pytest.mark.parametrize("decoder", ["auto", "opencv", "torchvision"])
def test_decode_images_on_cpu_equals_read_image(tmp_path, decoder):
    records = _synthetic_records(tmp_path, np.random.default_rng(5))
    paths = sorted({r.image for r in records})  # JPEGs and a PNG (OpenCV's, also under torchvision)
    decoded = decode_images(paths, "cpu", decoder=decoder)
    assert len(decoded) == len(paths)
    for path, image in zip(paths, decoded):
        assert image.dtype == torch.uint8 and image.device.type == "cpu"
        np.testing.assert_array_equal(image.numpy(), read_image(path))  # both use libjpeg-turbo's defaults


@pytest.mark.parametrize("decoder", ["opencv", "torchvision"])
def test_decode_images_raises_as_read_image(tmp_path, decoder):
    data = cv2.imencode(".jpg", np.full((20, 20, 3), 90, np.uint8))[1].tobytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        decode_images([tmp_path / "missing.jpg"], decoder=decoder)
    with pytest.raises(ValueError, match="truncated.jpg is unreadable, corrupt or truncated"):
        decode_images([tmp_path / "truncated.jpg"], decoder=decoder)
    with pytest.raises(ValueError, match="decoder = 'nvjpeg'"):
        decode_images([tmp_path / "truncated.jpg"], decoder="nvjpeg")


@pytest.mark.parametrize("rgb", [True, False])
def test_build_crops_batched_matches_build_crops_on_synthetic_files(tmp_path, rgb):
    records = _synthetic_records(tmp_path, np.random.default_rng(6))
    crops, joints = build_crops_batched(records, SIZE, batch_size=3, rgb=rgb)  # image 1 (4 persons) > batch size
    ref_crops, ref_joints = build_crops(records, SIZE, rgb=rgb)
    np.testing.assert_array_equal(joints, ref_joints)
    assert crops.shape == ref_crops.shape and crops.dtype == torch.uint8
    within_one, _ = _agreement(crops.numpy(), ref_crops)
    assert within_one > 0.995
    assert torch.equal(crops, build_crops_batched(records, SIZE, batch_size=256, rgb=rgb)[0])


def test_build_crops_batched_of_no_records():
    crops, joints = build_crops_batched([], SIZE)
    assert crops.shape == (0, SIZE[1], SIZE[0], 3) and joints.shape == (0, 0, 3)


def _coco_records(shared_data: Path) -> list[PersonRecord]:
    root = shared_data / "coco_mini"
    return load_coco_records(root / "annotations" / "person_keypoints_val2017.json", root / "val2017")


def test_build_crops_batched_matches_build_crops_on_coco(shared_data):
    records = _coco_records(shared_data)
    crops, joints = build_crops_batched(records, SIZE, batch_size=16)
    ref_crops, ref_joints = build_crops(records, SIZE)
    np.testing.assert_array_equal(joints, ref_joints)
    within_one, _ = _agreement(crops.numpy(), ref_crops)
    assert within_one > 0.995


def test_warp_matches_cv2_on_coco_with_rotation_and_scale(shared_data):
    records = _coco_records(shared_data)[:24]
    rng = np.random.default_rng(7)
    paths = list(dict.fromkeys(r.image for r in records))
    images = [read_image(p) for p in paths]
    index = np.array([paths.index(r.image) for r in records])
    mats = np.stack([
        get_affine_transform(r.center, r.scale * rng.uniform(0.65, 1.35), rng.uniform(-80, 80), SIZE) for r in records
    ])  # fmt: skip
    ours = warp_crops_batch(decode_images(paths), index, mats, SIZE).numpy()
    reference = np.stack([cv2.warpAffine(images[i], m, SIZE, flags=cv2.INTER_LINEAR) for i, m in zip(index, mats)])
    within_one, _ = _agreement(ours, reference)
    assert within_one > 0.995
