from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from occlusion.config import ConfigError, from_dict
from occlusion.keypoints import COCO, MPII
from occlusion.transforms import (
    TransformConfig,
    TransformParams,
    affine_points,
    apply_train_transform,
    box_to_center_scale,
    fliplr_joints,
    generate_heatmaps,
    get_affine_transform,
    half_body,
    sample_train_transform,
    warp_crop,
    warp_joints,
)


class FixedNormal:
    """Stands in for a Generator in half_body: every standard normal draw returns ``value``."""

    def __init__(self, value: float):
        self.value = value

    def standard_normal(self) -> float:
        return self.value


# --- box geometry --------------------------------------------------------------------------------------------


def test_box_to_center_scale_tall_box_is_widened():
    center, scale = box_to_center_scale((10.0, 20.0, 30.0, 80.0))
    assert center.dtype == np.float32 and scale.dtype == np.float32
    # w 30 < 0.75 * 80 -> w = 60; scale = (60, 80) / 200 * 1.25
    np.testing.assert_allclose(center, [25.0, 60.0])
    np.testing.assert_allclose(scale, [0.375, 0.5], rtol=1e-6)


def test_box_to_center_scale_wide_box_gets_taller():
    center, scale = box_to_center_scale((0.0, 0.0, 120.0, 40.0), aspect_ratio=0.75, padding=1.0)
    # w 120 > 0.75 * 40 -> h = 120 / 0.75 = 160
    np.testing.assert_allclose(center, [60.0, 20.0])
    np.testing.assert_allclose(scale, [0.6, 0.8], rtol=1e-6)
    _, square = box_to_center_scale((0.0, 0.0, 50.0, 100.0), aspect_ratio=1.0, padding=1.25)
    np.testing.assert_allclose(square, [0.625, 0.625], rtol=1e-6)


# --- affine --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rotation", [0.0, 30.0, -75.0])
def test_affine_matrix_is_the_rotated_scaled_similarity(rotation):
    center, scale, out = np.array([300.0, 200.0]), np.array([0.96, 1.28]), (192, 256)
    m = get_affine_transform(center, scale, rotation, out)
    k = out[0] / (scale[0] * 200.0)
    t = math.radians(rotation)
    rot = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])
    np.testing.assert_allclose(m[:, :2], k * rot, atol=1e-5)
    np.testing.assert_allclose(affine_points(center[None], m)[0], [96.0, 128.0], atol=1e-3)


def test_affine_round_trip_with_rotation_and_shift():
    rng = np.random.default_rng(0)
    points = rng.uniform(-50, 700, size=(40, 2))
    center, scale = np.array([321.5, 207.25]), np.array([1.7, 2.2667])
    fwd = get_affine_transform(center, scale, 37.0, (192, 256), shift=(0.05, -0.1))
    inv = get_affine_transform(center, scale, 37.0, (192, 256), shift=(0.05, -0.1), inv=True)
    back = affine_points(affine_points(points, fwd), inv)
    assert np.abs(back - points).max() < 1e-3
    np.testing.assert_allclose(affine_points(points, fwd), cv2.transform(points[None], fwd)[0], atol=1e-9)


def test_warp_crop_places_a_pixel_exactly_and_pads_with_zeros():
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    image[40, 60] = (200, 100, 50)
    # source width 192 px -> unit magnification, centre (50, 50) -> crop centre (96, 128)
    crop = warp_crop(image, (50.0, 50.0), (192 / 200, 256 / 200), 0.0, (192, 256))
    assert crop.shape == (256, 192, 3) and crop.dtype == np.uint8
    assert crop[128 - 10, 96 + 10].tolist() == [200, 100, 50]
    assert int(crop.sum()) == 350
    rotated = warp_crop(image, (50.0, 50.0), (192 / 200, 256 / 200), 90.0, (192, 256))
    # rotation by +90: image offset (+10, -10) becomes crop offset (-10, -10)
    assert rotated[128 - 10, 96 - 10].tolist() == [200, 100, 50]


def test_warp_joints_maps_labelled_only():
    joints = np.array([[60.0, 40.0, 2.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    m = get_affine_transform((50.0, 50.0), (192 / 200, 256 / 200), 0.0, (192, 256))
    out = warp_joints(joints, m)
    np.testing.assert_allclose(out, [[106.0, 118.0, 2.0], [0.0, 0.0, 0.0]], atol=1e-4)


# --- flip ----------------------------------------------------------------------------------------------------


def test_fliplr_swaps_pairs_and_mirrors_x():
    joints = np.zeros((17, 3), dtype=np.float32)
    joints[COCO.index("left_eye")] = (10.0, 20.0, 2.0)
    joints[COCO.index("nose")] = (50.0, 5.0, 1.0)
    flipped = fliplr_joints(joints, 100, COCO.flip_pairs)
    np.testing.assert_array_equal(flipped[COCO.index("right_eye")], [89.0, 20.0, 2.0])
    np.testing.assert_array_equal(flipped[COCO.index("left_eye")], [0.0, 0.0, 0.0])  # right_eye was unlabelled
    np.testing.assert_array_equal(flipped[COCO.index("nose")], [49.0, 5.0, 1.0])
    assert np.count_nonzero(flipped[:, 2]) == 2 and not flipped[flipped[:, 2] == 0].any()


@pytest.mark.parametrize("skeleton", [COCO, MPII])
def test_fliplr_twice_is_identity(skeleton):
    rng = np.random.default_rng(1)
    k = skeleton.num_joints
    joints = np.concatenate([rng.uniform(0, 300, (k, 2)), rng.integers(0, 3, (k, 1))], 1).astype(np.float32)
    joints[joints[:, 2] == 0] = 0
    twice = fliplr_joints(fliplr_joints(joints, 301, skeleton.flip_pairs), 301, skeleton.flip_pairs)
    np.testing.assert_allclose(twice, joints, atol=1e-4)


# --- half body -----------------------------------------------------------------------------------------------


def _half_body_joints() -> np.ndarray:
    joints = np.zeros((17, 3), dtype=np.float32)
    for i in range(11):  # upper body: nose..wrists in [100, 140] x [50, 110], mean y != mid y
        joints[i] = (100 + 4 * i, 50 + 0.6 * i * i, 2)
    for j, i in enumerate(range(11, 17)):  # lower body: hips..ankles in [90, 115] x [200, 300]
        joints[i] = (90 + 5 * j, 200 + 4 * j * j, 2)
    return joints


def _inside(points, center, scale):
    half = scale * 200.0 / 2
    return np.all(np.abs(points - center) <= half, axis=1)


def test_half_body_upper_when_draw_below_half():
    joints = _half_body_joints()
    center, scale = half_body(joints, COCO, 0.75, 200.0, FixedNormal(0.0))
    upper = joints[:11, :2]
    np.testing.assert_allclose(center, upper.mean(0), rtol=1e-6)
    # extent (40, 60): w 40 < 0.75 * 60 -> w = 45; x1.5 -> (67.5, 90) px
    np.testing.assert_allclose(scale, [67.5 / 200, 90 / 200], rtol=1e-6)
    assert _inside(upper, center, scale).all()
    assert not _inside(joints[11:, :2], center, scale).any()


def test_half_body_lower_when_draw_above_half():
    joints = _half_body_joints()
    center, scale = half_body(joints, COCO, 0.75, 200.0, FixedNormal(0.9))
    np.testing.assert_allclose(center, joints[11:, :2].mean(0), rtol=1e-6)
    # extent (25, 100): w = 75, x1.5 -> (112.5, 150) px
    np.testing.assert_allclose(scale, [112.5 / 200, 150 / 200], rtol=1e-6)
    assert _inside(joints[11:, :2], center, scale).all()
    assert not _inside(joints[:11, :2], center, scale).any()


def test_half_body_needs_more_than_two_and_at_least_two():
    joints = _half_body_joints()
    joints[2:11] = 0  # only 2 upper joints: upper can never be chosen
    center, _ = half_body(joints, COCO, 0.75, 200.0, FixedNormal(0.0))
    np.testing.assert_allclose(center, joints[11:, :2].mean(0), rtol=1e-6)
    lonely = np.zeros((17, 3), dtype=np.float32)
    lonely[0] = (5, 5, 1)
    assert half_body(lonely, COCO, 0.75, 200.0, FixedNormal(0.0)) is None


# --- heatmaps ------------------------------------------------------------------------------------------------


def _heatmaps_by_loop(joints, image_size, heatmap_size, sigma):
    """Direct per-joint, per-pixel evaluation of the HRNet target definition."""
    w, h = heatmap_size
    maps = np.zeros((len(joints), h, w), dtype=np.float64)
    weights = np.zeros((len(joints), 1))
    for k, (x, y, v) in enumerate(joints):
        mx = int(x / (image_size[0] / w) + 0.5)
        my = int(y / (image_size[1] / h) + 0.5)
        r = int(3 * sigma)
        if mx - r >= w or my - r >= h or mx + r + 1 < 0 or my + r + 1 < 0 or v <= 0:
            continue
        weights[k] = 1
        for i in range(max(0, my - r), min(h, my + r + 1)):
            for j in range(max(0, mx - r), min(w, mx + r + 1)):
                maps[k, i, j] = math.exp(-((j - mx) ** 2 + (i - my) ** 2) / (2 * sigma**2))
    return maps, weights


def test_heatmap_planted_joint():
    joints = np.zeros((4, 3), dtype=np.float32)
    joints[0] = (41.0, 81.0, 2)  # 41 / 4 + 0.5 -> 10, 81 / 4 + 0.5 -> 20
    joints[1] = (-100.0, 50.0, 1)  # window fully off the map
    joints[2] = (100.0, 100.0, 0)  # unlabelled
    joints[3] = (-8.0, 100.0, 1)  # mu_x = int(-1.5) = -1: partly on the map
    maps, weight = generate_heatmaps(joints, (192, 256), (48, 64), sigma=2.0)
    assert maps.shape == (4, 64, 48) and maps.dtype == np.float32 and weight.shape == (4, 1)
    assert maps[0, 20, 10] == 1.0 and maps[0].argmax() == 20 * 48 + 10
    assert maps[0, 20, 12] == pytest.approx(math.exp(-4 / (2 * 2.0**2)), rel=1e-6)
    assert maps[0, 22, 10] == pytest.approx(math.exp(-4 / 8), rel=1e-6)
    assert np.count_nonzero(maps[0]) == 13 * 13
    assert weight[:, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert not maps[1].any() and not maps[2].any()
    assert maps[3, 25, 0] == pytest.approx(math.exp(-1 / 8), rel=1e-6)


@pytest.mark.parametrize("sigma", [2.0, 3.0])
def test_heatmaps_match_direct_evaluation(sigma):
    rng = np.random.default_rng(3)
    joints = np.concatenate([rng.uniform(-60, 260, (40, 2)), rng.integers(0, 3, (40, 1))], 1).astype(np.float32)
    maps, weight = generate_heatmaps(joints, (192, 256), (48, 64), sigma)
    ref_maps, ref_weight = _heatmaps_by_loop(joints, (192, 256), (48, 64), sigma)
    np.testing.assert_allclose(maps, ref_maps, atol=1e-6)
    np.testing.assert_array_equal(weight, ref_weight)


# --- config and the train transform --------------------------------------------------------------------------


def test_transform_config_validation_and_baselines():
    none = TransformConfig(flip=False, rotation_factor=0.0, scale_factor=0.0, half_body_prob=0.0)
    frs = TransformConfig(half_body_prob=0.0)
    assert (none.flip, frs.flip, TransformConfig().half_body_prob) == (False, True, 0.3)
    with pytest.raises(ConfigError, match=r"aug\.flip_prob = 1\.5"):
        from_dict(TransformConfig, {"flip_prob": 1.5}, "aug")
    with pytest.raises(ConfigError, match="scale_factor"):
        from_dict(TransformConfig, {"scale_factor": -0.1})
    with pytest.raises(ConfigError, match="half_body_min_joints"):
        from_dict(TransformConfig, {"half_body_min_joints": -1})


def test_sample_without_augmentation_is_identity():
    joints = _half_body_joints()
    cfg = TransformConfig(flip=False, rotation_factor=0.0, scale_factor=0.0, half_body_prob=0.0)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        p = sample_train_transform(joints, (50.0, 60.0), (1.0, 4 / 3), 640, cfg, COCO, 0.75, rng)
        np.testing.assert_allclose(p.center, [50.0, 60.0])
        np.testing.assert_allclose(p.scale, [1.0, 4 / 3], rtol=1e-6)
        assert (p.rotation, p.flip) == (0.0, False)


def test_sample_draws_scale_rotation_flip_in_order():
    cfg = TransformConfig(rotation_prob=1.0, flip_prob=1.0)
    joints = np.zeros((17, 3), dtype=np.float32)  # no labelled joints: no half-body draw
    p = sample_train_transform(joints, (50.0, 60.0), (1.0, 4 / 3), 640, cfg, COCO, 0.75, np.random.default_rng(7))
    r = np.random.default_rng(7)
    s = np.clip(r.standard_normal() * 0.35 + 1, 0.65, 1.35)
    r.random()
    rot = np.clip(r.standard_normal() * 45, -90, 90)
    np.testing.assert_allclose(p.scale, [s, s * 4 / 3], rtol=1e-6)
    assert p.rotation == pytest.approx(rot)
    assert p.flip and p.center[0] == pytest.approx(640 - 1 - 50.0)


def test_sample_ranges_and_rates():
    cfg = TransformConfig(half_body_prob=0.0)
    joints = np.zeros((17, 3), dtype=np.float32)
    rng = np.random.default_rng(11)
    draws = [sample_train_transform(joints, (0.0, 0.0), (1.0, 1.0), 100, cfg, COCO, 0.75, rng) for _ in range(3000)]
    rotations = np.array([p.rotation for p in draws])
    scales = np.array([p.scale[0] for p in draws])
    assert np.abs(rotations).max() <= 90.0 and scales.min() >= 0.65 - 1e-6 and scales.max() <= 1.35 + 1e-6
    assert 0.56 < np.mean(rotations != 0) < 0.64
    assert 0.46 < np.mean([p.flip for p in draws]) < 0.54


def test_sample_half_body_needs_more_than_min_joints():
    joints = _half_body_joints()
    cfg = TransformConfig(half_body_prob=1.0, scale_factor=0.0, rotation_factor=0.0, flip=False)
    p = sample_train_transform(joints, (0.0, 0.0), (9.0, 12.0), 640, cfg, COCO, 0.75, np.random.default_rng(0))
    assert p.scale[0] < 1.0  # a half-body box, not the given one
    few = joints.copy()
    few[8:] = 0  # 8 labelled joints: not more than 8
    p = sample_train_transform(few, (0.0, 0.0), (9.0, 12.0), 640, cfg, COCO, 0.75, np.random.default_rng(0))
    np.testing.assert_allclose(p.scale, [9.0, 12.0])


def test_apply_flip_and_rotation_keep_joints_on_their_pixels():
    image = np.zeros((200, 300, 3), dtype=np.uint8)
    cv2.circle(image, (90, 120), 4, (255, 255, 255), -1)
    joints = np.zeros((17, 3), dtype=np.float32)
    joints[COCO.index("left_wrist")] = (90.0, 120.0, 2)
    center = np.array([300 - 1 - 110.0, 110.0])  # (110, 110) in the original image, given in flipped pixels
    params = TransformParams(center=center, scale=np.array([0.6, 0.8]), rotation=30.0, flip=True)
    crop, out = apply_train_transform(image, joints, params, (192, 256), COCO.flip_pairs)
    assert out[COCO.index("left_wrist")].tolist() == [0.0, 0.0, 0.0]
    wrist = out[COCO.index("right_wrist")]
    ys, xs = np.nonzero(crop[..., 0] > 127)
    assert len(xs) > 50
    np.testing.assert_allclose([xs.mean(), ys.mean()], wrist[:2], atol=0.5)
    # the mirrored image puts the disc at x = 209, 20 px right of the centre x 189, then it is rotated by 30 degrees
    k = 192 / 120
    t = math.radians(30)
    expected = [96 + k * (20 * math.cos(t) + 10 * math.sin(t)), 128 + k * (-20 * math.sin(t) + 10 * math.cos(t))]
    np.testing.assert_allclose(wrist[:2], expected, atol=1e-3)
