"""Occluder geometry and fillers (docs/METHODS.md §1-§3): exact pixels and boxes on hand-made crops and poses."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from occlusion.config import FieldError
from occlusion.keypoints import COCO, MPII, PARTS, Skeleton
from occlusion.regions import (
    Occluder,
    apply_occluder,
    disc_mask,
    joints_in_removal_box,
    keypoint_occluder,
    part_box,
    part_occluder,
    part_rect,
    region_mask,
    removal_box,
)


def pose(skeleton: Skeleton, **xy: tuple[float, float]) -> np.ndarray:
    """Keypoints with the named joints labelled (v = 2); the rest (0, 0, 0)."""
    kps = np.zeros((skeleton.num_joints, 3), np.float32)
    for name, (x, y) in xy.items():
        kps[skeleton.index(name)] = (x, y, 2)
    return kps


# A hand-made COCO person in a 100 x 240 (w x h) crop.
COCO_POSE = dict(
    nose=(50, 30), left_eye=(54, 26), right_eye=(46, 26), left_ear=(60, 28), right_ear=(40, 28),
    left_shoulder=(70, 60), right_shoulder=(30, 60), left_elbow=(80, 90), right_elbow=(20, 90), left_wrist=(84, 120),
    right_wrist=(16, 120), left_hip=(62, 130), right_hip=(38, 130), left_knee=(66, 170), right_knee=(34, 170),
    left_ankle=(68, 210), right_ankle=(32, 210),
)  # fmt: skip

# Expected rectangles (x0, y0, x1, y1), worked out by hand from docs/METHODS.md §1.
COCO_RECTS = {
    # x 40..60, y 26..30 -> centre (50, 28), extents (20, 4) x 1.2 = (24, 4.8): x [38, 62), y [int(25.6), int(30.4))
    "head": (38, 25, 62, 30),
    "left_arm": (70, 60, 84, 120),  # bounding rectangle of shoulder, elbow, wrist
    "right_arm": (16, 60, 30, 120),
    # |l - r| = (24, 0) -> D = (24, 0.25 * 24) -> 2D = (48, 12) around (50, 130)
    "hip": (26, 124, 74, 136),
    "left_leg": (62, 130, 68, 210),
    "right_leg": (32, 130, 38, 210),
    "upper_body": (16, 26, 84, 130),  # keypoints 0-12
    "lower_body": (32, 130, 68, 210),  # keypoints 11-16
    "left_side": (54, 26, 84, 210),
    "right_side": (16, 26, 46, 210),  # box_parts leave out the nose (x = 50)
    "corpus": (30, 60, 70, 130),
}


@pytest.mark.parametrize("part", PARTS)
def test_part_rect_on_hand_made_coco_pose(part):
    assert part_rect(pose(COCO, **COCO_POSE), part, COCO, width=100, height=240) == COCO_RECTS[part]


def test_head_box_is_scaled_by_1_2():
    assert part_box(pose(COCO, **COCO_POSE), "head", COCO) == pytest.approx((50, 28, 24, 4.8))
    # Two head keypoints suffice; one does not.
    assert part_box(pose(COCO, left_eye=(10, 10), right_ear=(20, 14)), "head", COCO) == pytest.approx((15, 12, 12, 4.8))
    assert part_box(pose(COCO, nose=(10, 10), left_hip=(20, 14)), "head", COCO) is None


def test_right_side_ignores_nose_but_left_side_uses_all_members():
    kps = pose(COCO, nose=(90, 5), right_eye=(40, 20), right_ankle=(30, 100))
    assert part_box(kps, "right_side", COCO) == pytest.approx((35, 60, 10, 80))
    kps = pose(COCO, left_eye=(40, 20), left_ankle=(30, 100), right_eye=(90, 5))
    assert part_box(kps, "left_side", COCO) == pytest.approx((35, 60, 10, 80))


def test_unlabelled_keypoints_are_ignored_even_with_coordinates():
    kps = pose(COCO, **COCO_POSE)
    kps[COCO.index("right_wrist")] = (0, 0, 0)
    kps[COCO.index("right_elbow"), 2] = 0  # coordinates kept, but not labelled
    # Right arm: only the shoulder is labelled -> no box; corpus unaffected; upper body loses the right wrist/elbow.
    assert part_box(kps, "right_arm", COCO) is None
    assert part_rect(kps, "corpus", COCO, 100, 240) == COCO_RECTS["corpus"]
    assert part_rect(kps, "upper_body", COCO, 100, 240) == (30, 26, 84, 130)


# Left arm: shoulder s, elbow e, wrist w. Left leg: hip h, knee k, ankle a.
S, E, WR = (70, 60), (80, 90), (84, 120)
HP, KN, AN = (62, 130), (66, 170), (70, 200)


@pytest.mark.parametrize(
    "joints, box",
    [
        (dict(left_shoulder=S, left_elbow=E, left_wrist=WR), (77, 90, 14, 60)),  # all three: bounding rectangle
        # w + e: centre e, 2 D(w, e); |w - e| = (4, 30) -> D = (max(4, 7.5), 30) -> (15, 60)
        (dict(left_elbow=E, left_wrist=WR), (80, 90, 15, 60)),
        # s + e: centre e, 2 D(s, e); |s - e| = (10, 30) -> D = (10, 30) -> (20, 60)
        (dict(left_shoulder=S, left_elbow=E), (80, 90, 20, 60)),
        # s + w: midpoint, D(w, s); |w - s| = (14, 60) -> D = (max(14, 15), 60)
        (dict(left_shoulder=S, left_wrist=WR), (77, 90, 15, 60)),
        (dict(left_elbow=E), None),
        (dict(left_wrist=WR, right_shoulder=S, left_hip=HP), None),  # other arm's / other parts' joints do not count
    ],
)
def test_arm_rules(joints, box):
    got = part_box(pose(COCO, **joints), "left_arm", COCO)
    assert got == (None if box is None else pytest.approx(box))


@pytest.mark.parametrize(
    "joints, box",
    [
        (dict(left_hip=HP, left_knee=KN, left_ankle=AN), (66, 165, 8, 70)),
        # h + k: centre k, |h - k| = (4, 40) -> D = (10, 40) -> (20, 80)
        (dict(left_hip=HP, left_knee=KN), (66, 170, 20, 80)),
        # a + k: centre k, |a - k| = (4, 30) -> D = (7.5, 30) -> (15, 60)
        (dict(left_ankle=AN, left_knee=KN), (66, 170, 15, 60)),
        # a + h: midpoint, |a - h| = (8, 70) -> D = (17.5, 70)
        (dict(left_ankle=AN, left_hip=HP), (66, 165, 17.5, 70)),
        (dict(left_ankle=AN), None),
        (dict(), None),
    ],
)
def test_leg_rules(joints, box):
    got = part_box(pose(COCO, **joints), "left_leg", COCO)
    assert got == (None if box is None else pytest.approx(box))


def test_right_leg_mirrors_left_leg_rules():
    kps = pose(COCO, right_hip=HP, right_knee=KN)
    assert part_box(kps, "right_leg", COCO) == pytest.approx((66, 170, 20, 80))
    assert part_box(kps, "left_leg", COCO) is None


def test_hip_rule_needs_both_hips_and_uses_quarter_rule():
    # |l - r| = (4, 20) -> D = (max(4, 5), 20) -> 2D = (10, 40) around the mid-hip.
    assert part_box(pose(COCO, left_hip=(12, 30), right_hip=(8, 10)), "hip", COCO) == pytest.approx((10, 20, 10, 40))
    assert part_box(pose(COCO, left_hip=(12, 30)), "hip", COCO) is None


MPII_POSE = dict(
    head_top=(50, 10), upper_neck=(50, 30), thorax=(90, 40), right_shoulder=(35, 40), left_shoulder=(65, 40),
    right_elbow=(30, 70), left_elbow=(70, 70), right_wrist=(28, 95), left_wrist=(72, 95), pelvis=(50, 95),
    right_hip=(40, 100), left_hip=(60, 100), right_knee=(40, 140), left_knee=(60, 140), right_ankle=(40, 180),
    left_ankle=(60, 180),
)  # fmt: skip


def test_mpii_head_rule():
    # |top - neck| = (4, 40) -> D = (max(4, 10), 40); extents (2 D.x, D.y) = (20, 40) around the midpoint.
    kps = pose(MPII, head_top=(100, 20), upper_neck=(104, 60), thorax=(0, 200))
    assert part_box(kps, "head", MPII) == pytest.approx((102, 40, 20, 40))
    assert part_box(pose(MPII, head_top=(100, 20), thorax=(104, 60)), "head", MPII) is None


def test_mpii_large_parts_use_box_parts():
    kps = pose(MPII, **MPII_POSE)
    # upper body: head_top, neck, shoulders, elbows, wrists and hips; not the thorax (x = 90).
    assert part_box(kps, "upper_body", MPII) == pytest.approx((50, 55, 44, 90))
    # lower body: ankles, knees, hips; not the pelvis (y = 95).
    assert part_box(kps, "lower_body", MPII) == pytest.approx((50, 140, 20, 80))
    assert part_box(kps, "corpus", MPII) == pytest.approx((50, 70, 30, 60))


def test_mpii_limbs_by_joint_role():
    # MPII lists the right arm wrist-first (10, 11, 12): the elbow (11) must still be the centre.
    kps = pose(MPII, right_wrist=(28, 95), right_elbow=(30, 70))
    assert part_box(kps, "right_arm", MPII) == pytest.approx((30, 70, 2 * 6.25, 50))
    kps = pose(MPII, right_ankle=(40, 180), right_knee=(40, 140), right_hip=(40, 100))
    assert part_box(kps, "right_leg", MPII) == pytest.approx((40, 140, 0, 80))
    hips = pose(MPII, right_hip=(40, 100), left_hip=(60, 100))
    assert part_box(hips, "hip", MPII) == pytest.approx((50, 100, 40, 10))


def test_part_rect_clips_and_truncates_at_crop_borders():
    # Bounding rectangle x -10..30, y 5..40 in a 24 x 32 crop -> clipped to [0, 24) x [5, 32).
    kps = pose(COCO, left_shoulder=(-10, 5), left_elbow=(5, 20), left_wrist=(30, 40))
    assert part_rect(kps, "left_arm", COCO, width=24, height=32) == (0, 5, 24, 32)
    # Fractional corners are truncated: x [5.9, 10.9) -> [5, 10), y [2.5, 7.5) -> [2, 7).
    kps = pose(COCO, left_shoulder=(5.9, 2.5), left_elbow=(8, 5), left_wrist=(10.9, 7.5))
    assert part_rect(kps, "left_arm", COCO, width=24, height=32) == (5, 2, 10, 7)
    # Entirely off the crop, or zero-size -> no rectangle.
    assert part_rect(pose(COCO, left_hip=(-30, 5), right_hip=(-10, 5)), "hip", COCO, 24, 32) is None
    arm = pose(COCO, left_shoulder=(5, 5), left_elbow=(5, 9), left_wrist=(5, 20))
    assert part_rect(arm, "left_arm", COCO, 24, 32) is None
    occ = part_occluder(pose(COCO, left_hip=(-30, 5), right_hip=(-10, 5)), "hip", "blackout", COCO, width=24, height=32)
    assert occ.shape == "none"


def test_unknown_part_raises_with_allowed_names():
    with pytest.raises(KeyError, match="allowed: head, left_arm"):
        part_box(pose(COCO), "torso", COCO)


# -------------------------------------------------------------------------------------------------- discs


def test_disc_border_is_inclusive():
    mask = disc_mask(21, 21, (10.0, 10.0), 5.0)
    assert mask[10, 15] and mask[15, 10] and mask[13, 14]  # distance exactly 5 (3-4-5 too)
    assert not mask[10, 16] and not mask[14, 14]
    assert mask.sum() == 81  # Gauss circle count N(5)
    assert not disc_mask(21, 21, (9.99, 10.0), 5.0)[10, 15]  # distance 5.01
    assert disc_mask(21, 21, (10.01, 10.0), 5.0)[10, 15]


def test_disc_uses_x_for_columns_and_y_for_rows():
    mask = disc_mask(10, 30, (25.0, 2.0), 1.0)
    assert set(zip(*np.nonzero(mask))) == {(2, 25), (1, 25), (3, 25), (2, 24), (2, 26)}


def crop(seed: int = 0, size: tuple[int, int] = (40, 30)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def expected_disc(height: int, width: int, x: float, y: float, r: float) -> np.ndarray:
    return np.array([[(i - y) ** 2 + (j - x) ** 2 <= r * r for j in range(width)] for i in range(height)])


def test_keypoint_blackout_exact_pixels():
    image = crop()
    kps = pose(COCO, left_wrist=(12.5, 20.0))
    occ = keypoint_occluder(kps, COCO.index("left_wrist"), "blackout", width=30, height=40, radius=6)
    assert occ == Occluder("disc", "blackout", center=(12.5, 20.0), radius=6.0)
    before = image.copy()
    out = apply_occluder(image, occ)
    inside = expected_disc(40, 30, 12.5, 20.0, 6)
    assert (out[inside] == 0).all()
    np.testing.assert_array_equal(out[~inside], image[~inside])
    np.testing.assert_array_equal(image, before)  # input untouched


def test_meanout_fills_truncated_mean_of_whole_crop():
    image = np.zeros((10, 10, 3), np.uint8)
    image[..., 0] = 100
    image[:7, :, 0] = 101  # channel 0 mean 100.7 -> 100
    image[..., 1] = 50
    image[..., 2] = 1
    image[0, 0, 2] = 0  # channel 2 mean 0.99 -> 0
    occ = Occluder("rect", "meanout", rect=(2, 3, 5, 9))
    out = apply_occluder(image, occ)
    assert (out[3:9, 2:5] == (100, 50, 0)).all()
    out[3:9, 2:5] = image[3:9, 2:5]
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("radius, kernel, sigma", [(6, 11, 2.0), (18, 35, 5.6)])
def test_keypoint_blur_kernel_is_2r_minus_1(radius, kernel, sigma):
    image = crop(1, (64, 48))
    kps = pose(COCO, nose=(20.0, 30.0))
    occ = keypoint_occluder(kps, 0, "blur", width=48, height=64, radius=radius)
    assert occ.blur_kernel == kernel
    out = apply_occluder(image, occ)
    inside = expected_disc(64, 48, 20.0, 30.0, radius)
    blurred = cv2.GaussianBlur(image, (kernel, kernel), sigma)  # OpenCV's automatic sigma, stated explicitly
    np.testing.assert_array_equal(out[inside], blurred[inside])
    np.testing.assert_array_equal(out[~inside], image[~inside])
    smaller = cv2.GaussianBlur(image, (kernel - 2, kernel - 2), 0)
    assert (out[inside] != smaller[inside]).any()


def test_part_blur_uses_kernel_31_and_reflect101_borders():
    image = crop(2, (64, 48))
    kps = pose(COCO, left_hip=(4, 2), right_hip=(0, 6))  # rectangle at the top-left corner, where borders matter
    occ = part_occluder(kps, "hip", "blur", COCO, width=48, height=64)
    assert occ.blur_kernel == 31 and occ.rect == (0, 0, 6, 8)  # centre (2, 4), extents 2 D = (8, 8)
    out = apply_occluder(image, occ)
    reflect = cv2.GaussianBlur(image, (31, 31), 5.0, borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_array_equal(out[:8, :6], reflect[:8, :6])
    replicate = cv2.GaussianBlur(image, (31, 31), 0, borderType=cv2.BORDER_REPLICATE)
    assert (out[:8, :6] != replicate[:8, :6]).any()
    np.testing.assert_array_equal(out[8:], image[8:])
    np.testing.assert_array_equal(out[:, 6:], image[:, 6:])


def test_part_blur_kernel_is_configurable_and_other_fillers_carry_no_kernel():
    kps = pose(COCO, left_hip=(4, 2), right_hip=(0, 6))
    assert part_occluder(kps, "hip", "blur", COCO, width=48, height=64, blur_kernel=9).blur_kernel == 9
    assert part_occluder(kps, "hip", "meanout", COCO, width=48, height=64).blur_kernel == 0
    with pytest.raises(ValueError, match="odd"):
        part_occluder(kps, "hip", "blur", COCO, width=48, height=64, blur_kernel=8)


def test_unlabelled_keypoint_gives_no_occlusion():
    kps = pose(COCO, nose=(10, 10))
    kps[0, 2] = 0
    occ = keypoint_occluder(kps, 0, "blackout", width=30, height=40)
    assert occ.shape == "none"
    image = crop()
    out = apply_occluder(image, occ)
    np.testing.assert_array_equal(out, image)
    assert out is not image


def test_swapped_bounds_check_on_192x256_crop():
    width, height = 192, 256
    low = pose(COCO, left_ankle=(100, 200))  # y in [192, 256): inside the crop
    idx = COCO.index("left_ankle")
    assert keypoint_occluder(low, idx, "blackout", width=width, height=height).shape == "none"
    fixed = keypoint_occluder(low, idx, "blackout", width=width, height=height, paper_bounds=False)
    assert fixed.shape == "disc"
    # x in [192, 256): just right of the crop. The reference attacks it (x < height) and the disc reaches the crop.
    right = pose(COCO, left_ankle=(195, 100))
    occ = keypoint_occluder(right, idx, "blackout", width=width, height=height)
    assert occ.shape == "disc"
    image = np.full((height, width, 3), 7, np.uint8)
    changed = (apply_occluder(image, occ) == 0).all(axis=2)
    assert changed.sum() == expected_disc(height, width, 195, 100, 6).sum() > 0
    assert changed[:, 189:].any() and not changed[:, :189].any()
    assert keypoint_occluder(right, idx, "blackout", width=width, height=height, paper_bounds=False).shape == "none"
    for x, y in [(-0.5, 10), (10, -0.5), (256, 10), (10, 192)]:
        kps = pose(COCO, left_ankle=(x, y))
        assert keypoint_occluder(kps, idx, "blur", width=width, height=height).shape == "none", (x, y)


def test_bad_filler_and_radius_raise():
    kps = pose(COCO, nose=(10, 10))
    with pytest.raises(ValueError, match="allowed: blur, blackout, meanout"):
        keypoint_occluder(kps, 0, "gray", width=30, height=40)
    with pytest.raises(ValueError, match="radius"):
        keypoint_occluder(kps, 0, "blur", width=30, height=40, radius=0)
    with pytest.raises(FieldError, match="blur_kernel"):
        Occluder("disc", "blur", center=(1, 1), radius=3, blur_kernel=4)


def test_region_mask_of_rect_and_none():
    mask = region_mask(Occluder("rect", "blackout", rect=(2, 1, 5, 3)), 4, 6)
    expected = np.zeros((4, 6), bool)
    expected[1:3, 2:5] = True
    np.testing.assert_array_equal(mask, expected)
    assert not region_mask(Occluder("none", "blur"), 4, 6).any()


# ------------------------------------------------------------------------------------------------ removal


def test_joints_in_removal_box_boundaries():
    box = (50.0, 100.0, 10.0, 20.0)  # x in (40, 60], y in [80, 120]
    pts = [(40, 100), (40.01, 100), (60, 100), (60.01, 100), (50, 80), (50, 120), (50, 79.9), (50, 120.1)]
    kps = np.array([(x, y, 2) for x, y in pts], np.float32)
    assert joints_in_removal_box(kps, box).tolist() == [False, True, True, False, True, True, False, False]


def test_removal_box_is_part_box_and_twice_the_rectangle():
    kps = pose(COCO, **COCO_POSE)
    box = removal_box(kps, "hip", COCO)
    assert box == pytest.approx((50, 130, 48, 12))
    # Occluded rectangle x [26, 74), y [124, 136); removal reaches x (2, 98], y [118, 142]: the wrists too.
    inside = joints_in_removal_box(kps, box)
    assert [COCO.names[i] for i in np.flatnonzero(inside)] == ["left_wrist", "right_wrist", "left_hip", "right_hip"]
    assert removal_box(pose(COCO, left_elbow=E), "left_arm", COCO) is None


def test_removal_zero_size_guard_only_checks_width():
    vertical = pose(COCO, left_shoulder=(5, 5), left_elbow=(5, 9), left_wrist=(5, 20))  # W == 0 -> no removal
    assert removal_box(vertical, "left_arm", COCO) is None
    flat = pose(COCO, left_shoulder=(5, 9), left_elbow=(10, 9), left_wrist=(20, 9), nose=(12, 9), left_eye=(12, 9.5))
    box = removal_box(flat, "left_arm", COCO)  # H == 0 but W > 0: the reference still removes
    assert box == pytest.approx((12.5, 9, 15, 0))
    inside = joints_in_removal_box(flat, box)
    assert inside[COCO.index("nose")] and not inside[COCO.index("left_eye")]
