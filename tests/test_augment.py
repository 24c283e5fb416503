"""Training augmentations (docs/METHODS.md §3): exact pixels and labels on hand-made crops, draw statistics, replay."""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from occlusion.augment import (
    AUGMENTATIONS,
    PIPELINE_ORDER,
    TABLE1_PRESETS,
    AugmentConfig,
    MultiKeypointAug,
    OcclusionAug,
    PartMixAug,
    PartMixSource,
    build_augmenter,
    partmix_sources_from_records,
)
from occlusion.config import ConfigError, from_dict
from occlusion.keypoints import COCO, PARTMIX_PARTS, TRAIN_PARTS
from occlusion.occluders import ObjectPasteAug

W, H = 48, 64  # crop width, height (a small 3:4 crop like HRNet's 192x256)
IDX = {name: i for i, name in enumerate(COCO.names)}


def make_crop(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def make_joints(**xy: tuple[float, float]) -> np.ndarray:
    """COCO joints with the named keypoints labelled (v = 2); the rest (0, 0, 0)."""
    joints = np.zeros((17, 3), np.float32)
    for name, (x, y) in xy.items():
        joints[IDX[name]] = (x, y, 2)
    return joints


def disc(x: float, y: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return (yy - y) ** 2 + (xx - x) ** 2 <= r * r


def mean_fill(image: np.ndarray) -> np.ndarray:
    """Per-channel mean of the whole image, truncated to uint8."""
    return image.reshape(-1, 3).mean(axis=0).astype(np.uint8)


def first_seed(augmenter, crop, joints, predicate, step: int = 0, tries: int = 500):
    """Params of the first seed whose draw satisfies ``predicate`` (a fixed, reproducible draw)."""
    for seed in range(tries):
        params = augmenter.sample(crop, joints, np.random.default_rng(seed))
        if predicate(params.steps[step]):
            return params
    raise AssertionError("no seed gave the wanted draw")


def within(count: int, n: int, p: float) -> bool:
    """Binomial 4-sigma tolerance."""
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p))


# The left arm (minrect: no margin) and joints placed on the edges of its 2x removal box.
# Arm box: x in [10, 22.5], y in [12, 33] -> centre (16.25, 22.5), extents (12.5, 21), rect [10, 22) x [12, 33).
# Removal: 3.75 < x <= 28.75 and 1.5 <= y <= 43.5.
ARM = dict(left_shoulder=(10.0, 12.0), left_elbow=(14.0, 25.0), left_wrist=(22.5, 33.0))
NEIGHBOURS = dict(
    nose=(16.0, 2.0),  # y on the lower edge (inclusive): removed
    right_shoulder=(28.75, 12.0),  # x on the upper edge (inclusive): removed
    left_ear=(3.75, 20.0),  # x on the lower edge (exclusive): kept
    left_hip=(16.0, 43.5),  # y on the upper edge (inclusive): removed
    right_knee=(16.0, 44.0),  # just below: kept
)
ARM_RECT = (slice(12, 33), slice(10, 22))
REMOVED = sorted(IDX[n] for n in ("left_shoulder", "left_elbow", "left_wrist", "nose", "right_shoulder", "left_hip"))


def expected_removal(joints: np.ndarray) -> np.ndarray:
    out = joints.copy()
    out[REMOVED] = 0
    return out


# ------------------------------------------------------------------------------------------ keypoint level


@pytest.mark.parametrize("kind", ["blurring", "cutout"])
def test_keypoint_disc_contents_and_no_removal(kind):
    crop = make_crop()
    # (20.5, 30.25): no pixel lies exactly on the r = 6 circle, so float precision cannot move the edge.
    joints = make_joints(left_elbow=(20.5, 30.25))
    joints[IDX["left_wrist"]] = (22.0, 31.0, 2)  # a neighbour inside the disc keeps its label at keypoint level
    cfg = AugmentConfig(**{kind: OcclusionAug(prob=1.0, mode="keypoint")}, remove=True)
    augmenter = build_augmenter(cfg, COCO)
    params = first_seed(augmenter, crop, joints, lambda p: p.target == "left_elbow")
    out, out_joints = augmenter.apply(crop, joints, params)

    mask = disc(20.5, 30.25, 6)
    expected = crop.copy()
    if kind == "blurring":
        expected[mask] = cv2.GaussianBlur(crop, (11, 11), 0)[mask]  # kernel 2r - 1, sigma 2.0
    else:
        expected[mask] = mean_fill(crop)
    assert mask.sum() > 100
    assert not np.array_equal(out, crop)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out_joints, joints)


def test_keypoint_targets_are_uniform_over_labelled_including_outside_crop():
    crop = make_crop()
    joints = make_joints(nose=(10.5, 10.5), left_shoulder=(30.5, 20.5), right_ankle=(-10.0, 50.0))
    augmenter = build_augmenter(AugmentConfig(blurring=OcclusionAug(prob=1.0)), COCO)
    n = 900
    targets = [augmenter.sample(crop, joints, np.random.default_rng(s)).steps[0].target for s in range(n)]
    assert set(targets) == {"nose", "left_shoulder", "right_ankle"}
    for name in ("nose", "left_shoulder", "right_ankle"):
        assert within(targets.count(name), n, 1 / 3)
    # The keypoint outside the crop is drawn but occludes nothing.
    params = first_seed(augmenter, crop, joints, lambda p: p.target == "right_ankle")
    out, _ = augmenter.apply(crop, joints, params)
    np.testing.assert_array_equal(out, crop)


@pytest.mark.parametrize("paper_bounds", [True, False])
def test_keypoint_swapped_bounds_check(paper_bounds):
    """0 <= x < H and 0 <= y < W (docs/METHODS.md §7 item 1): y in [W, H) is skipped unless fixed."""
    crop = make_crop()
    joints = make_joints(left_ankle=(20.5, 52.25))
    cfg = AugmentConfig(cutout=OcclusionAug(prob=1.0), paper_bounds=paper_bounds)
    out, _ = build_augmenter(cfg, COCO)(crop, joints, np.random.default_rng(0))
    expected = crop.copy()
    if not paper_bounds:
        expected[disc(20.5, 52.25, 6)] = mean_fill(crop)
    np.testing.assert_array_equal(out, expected)


def test_cutout_plus_blurring_blurs_first_and_cutout_uses_current_mean():
    mask = disc(20.5, 30.25, 6)
    crop = make_crop() // 4
    crop[mask] = 250  # a bright disc on a dark crop: blurring it darkens it, so the crop mean drops
    joints = make_joints(left_elbow=(20.5, 30.25))
    cfg = AugmentConfig(blurring=OcclusionAug(prob=1.0), cutout=OcclusionAug(prob=1.0))
    augmenter = build_augmenter(cfg, COCO)
    assert augmenter.names == ("blurring", "cutout")
    out, _ = augmenter(crop, joints, np.random.default_rng(0))
    blurred = crop.copy()
    blurred[mask] = cv2.GaussianBlur(crop, (11, 11), 0)[mask]
    expected = blurred.copy()
    expected[mask] = mean_fill(blurred)
    assert not np.array_equal(mean_fill(blurred), mean_fill(crop))
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------------------------------------- part level


@pytest.mark.parametrize("kind", ["blurring", "cutout"])
@pytest.mark.parametrize("remove", [True, False])
def test_part_rectangle_contents_and_removal_box(kind, remove):
    crop = make_crop()
    joints = make_joints(**ARM, **NEIGHBOURS)
    cfg = AugmentConfig(**{kind: OcclusionAug(prob=1.0, mode="parts")}, remove=remove)
    augmenter = build_augmenter(cfg, COCO)
    params = first_seed(augmenter, crop, joints, lambda p: p.target == "left_arm")
    out, out_joints = augmenter.apply(crop, joints, params)

    expected = crop.copy()
    if kind == "blurring":
        expected[ARM_RECT] = cv2.GaussianBlur(crop, (31, 31), 0)[ARM_RECT]  # whole-crop blur, pasted
    else:
        expected[ARM_RECT] = mean_fill(crop)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out_joints, expected_removal(joints) if remove else joints)
    assert out_joints.dtype == np.float32


def test_part_targets_are_the_training_parts_and_missing_part_is_noop():
    crop = make_crop()
    joints = make_joints(**ARM, right_hip=(30.0, 40.0))  # right leg has only its hip: no box
    augmenter = build_augmenter(AugmentConfig(blurring=OcclusionAug(prob=1.0, mode="parts")), COCO)
    n = 1000
    targets = [augmenter.sample(crop, joints, np.random.default_rng(s)).steps[0].target for s in range(n)]
    assert set(targets) == set(TRAIN_PARTS)
    for part in TRAIN_PARTS:
        assert within(targets.count(part), n, 1 / 5)
    params = first_seed(augmenter, crop, joints, lambda p: p.target == "right_leg")
    out, out_joints = augmenter.apply(crop, joints, params)
    np.testing.assert_array_equal(out, crop)
    np.testing.assert_array_equal(out_joints, joints)


# ------------------------------------------------------------------------------------------ multi-keypoint


def grid_joints() -> np.ndarray:
    """All 17 keypoints labelled, inside the (swapped) bounds."""
    joints = np.zeros((17, 3), np.float32)
    for k in range(17):
        joints[k] = (4.5 + 10 * (k % 4), 4.25 + 10 * (k // 4), 2)
    return joints


def test_multi_keypoint_bounds_no_repeats_and_no_removal():
    crop = make_crop()
    joints = grid_joints()
    augmenter = build_augmenter(AugmentConfig(multi_keypoint=MultiKeypointAug(prob=0.9, max_keypoints=3)), COCO)
    counts, fillers = [], set()
    for seed in range(300):
        step = augmenter.sample(crop, joints, np.random.default_rng(seed)).steps[0]
        assert len(step.keypoints) <= 3
        assert len(set(step.keypoints)) == len(step.keypoints)
        counts.append(len(step.keypoints))
        fillers |= {o.filler for o in step.occluders}
    assert set(counts) == {0, 1, 2, 3}
    assert fillers == {"blur", "meanout"}
    # Fewer labelled keypoints than max_keypoints: min(|K|, max) tries, each keypoint at most once.
    two = make_joints(nose=(10.5, 10.25), left_hip=(30.5, 40.25))
    augmenter = build_augmenter(AugmentConfig(multi_keypoint=MultiKeypointAug(prob=1.0, max_keypoints=5)), COCO)
    for seed in range(50):
        step = augmenter.sample(crop, two, np.random.default_rng(seed)).steps[0]
        assert sorted(step.keypoints) == [IDX["nose"], IDX["left_hip"]]


def test_multi_keypoint_pixels_in_order_and_labels_kept():
    crop = make_crop()
    joints = grid_joints()
    augmenter = build_augmenter(
        AugmentConfig(multi_keypoint=MultiKeypointAug(prob=1.0, max_keypoints=5), remove=True), COCO
    )
    params = first_seed(augmenter, crop, joints, lambda p: {o.filler for o in p.occluders} == {"blur", "meanout"})
    step = params.steps[0]
    assert len(step.keypoints) == 5
    out, out_joints = augmenter.apply(crop, joints, params)
    expected = crop.copy()
    for k, occluder in zip(step.keypoints, step.occluders):
        mask = disc(float(joints[k, 0]), float(joints[k, 1]), 6)
        fill = cv2.GaussianBlur(expected, (11, 11), 0)[mask] if occluder.filler == "blur" else mean_fill(expected)
        expected[mask] = fill
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out_joints, joints)


def test_multi_keypoint_per_try_probability():
    crop = make_crop()
    joints = grid_joints()
    augmenter = build_augmenter(AugmentConfig(multi_keypoint=MultiKeypointAug(prob=0.2, max_keypoints=5)), COCO)
    step = augmenter.steps[0][1]
    n = 1000
    total = sum(len(step.sample(crop, joints, np.random.default_rng(s)).keypoints) for s in range(n))
    assert within(total, 5 * n, 0.2)


# ------------------------------------------------------------------------------------------------- PartMix

# Source person: left leg only (x in [5, 12], y in [6, 35] -> rect [5, 12) x [6, 35) in the source image).
LEG_SOURCE = dict(left_hip=(5.0, 6.0), left_knee=(12.0, 20.0), left_ankle=(8.0, 35.0))


@pytest.fixture
def leg_source(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A 40x50 PNG (BGR as written) whose first person has only the left leg labelled."""
    image = np.random.default_rng(5).integers(0, 256, (50, 40, 3), dtype=np.uint8)
    path = tmp_path / "source.png"
    assert cv2.imwrite(str(path), image)
    return path, image, make_joints(**LEG_SOURCE)


@pytest.mark.parametrize("remove", [True, False])
@pytest.mark.parametrize("bgr_paste", [True, False])
def test_partmix_pastes_resized_source_patch(leg_source, remove, bgr_paste):
    path, source_bgr, source_joints = leg_source
    crop = make_crop()
    joints = make_joints(**ARM, **NEIGHBOURS)  # only the left arm is a complete PartMix part
    cfg = AugmentConfig(partmix=PartMixAug(prob=1.0, bgr_paste=bgr_paste), remove=remove)
    augmenter = build_augmenter(cfg, COCO, partmix_sources=[PartMixSource(path, source_joints)])
    params = first_seed(augmenter, crop, joints, lambda p: p.target_rect is not None)
    step = params.steps[0]
    assert (step.target_part, step.source_part, step.source_image) == ("left_arm", "left_leg", path)
    assert step.source_rect == (5, 6, 12, 35)
    assert step.target_rect == (10, 12, 22, 33)
    out, out_joints = augmenter.apply(crop, joints, params)

    patch_bgr = cv2.resize(source_bgr[6:35, 5:12], (12, 21), interpolation=cv2.INTER_AREA)
    expected = crop.copy()
    expected[ARM_RECT] = patch_bgr if bgr_paste else patch_bgr[..., ::-1]
    np.testing.assert_array_equal(out, expected)
    # Labels: the 2x removal box of the target part, and no joints of the pasted person added.
    np.testing.assert_array_equal(out_joints, expected_removal(joints) if remove else joints)


def test_partmix_bgr_flag_swaps_channels(leg_source):
    path, _, source_joints = leg_source
    crop, joints = make_crop(), make_joints(**ARM)
    sources = [PartMixSource(path, source_joints)]
    outs = []
    for bgr_paste in (True, False):
        augmenter = build_augmenter(AugmentConfig(partmix=PartMixAug(1.0, bgr_paste)), COCO, partmix_sources=sources)
        params = first_seed(augmenter, crop, joints, lambda p: p.target_rect is not None)
        outs.append(augmenter.apply(crop, joints, params)[0][ARM_RECT])
    np.testing.assert_array_equal(outs[0], outs[1][..., ::-1])
    assert not np.array_equal(outs[0], outs[1])


def test_partmix_targets_complete_parts_and_never_the_same_part(tmp_path):
    crop = make_crop()
    full = grid_joints()
    image = np.random.default_rng(1).integers(0, 256, (50, 40, 3), dtype=np.uint8)
    head_path, full_path = tmp_path / "head.png", tmp_path / "full.png"
    cv2.imwrite(str(head_path), image)
    cv2.imwrite(str(full_path), image)
    head_only = make_joints(nose=(10, 10), left_eye=(12, 8), right_eye=(8, 8), left_ear=(14, 10), right_ear=(6, 10))
    sources = [PartMixSource(head_path, head_only), PartMixSource(full_path, full)]
    # Target person: complete left arm; right arm lacks its wrist; no other complete PartMix part.
    joints = make_joints(**ARM, right_shoulder=(30.0, 12.0), right_elbow=(32.0, 25.0))
    augmenter = build_augmenter(AugmentConfig(partmix=PartMixAug(prob=1.0)), COCO, partmix_sources=sources)
    seen_targets, seen_sources = set(), set()
    for seed in range(400):
        step = augmenter.sample(crop, joints, np.random.default_rng(seed)).steps[0]
        seen_targets.add(step.target_part)
        assert (step.target_rect is not None) == (step.target_part == "left_arm")
        if step.target_rect is None:
            continue
        assert step.source_part in PARTMIX_PARTS and step.source_part != "left_arm"
        if step.source_part != "head":
            assert step.source_image == full_path  # the head-only source is rejected
        seen_sources.add(step.source_image)
    assert seen_targets == set(PARTMIX_PARTS)
    assert seen_sources == {head_path, full_path}


def test_partmix_gives_up_without_a_matching_source(tmp_path):
    crop = make_crop()
    path = tmp_path / "head.png"
    cv2.imwrite(str(path), make_crop(3))
    head_only = make_joints(nose=(10, 10), left_eye=(12, 8), right_eye=(8, 8), left_ear=(14, 10), right_ear=(6, 10))
    joints = make_joints(**ARM)
    augmenter = build_augmenter(
        AugmentConfig(partmix=PartMixAug(prob=1.0)), COCO, partmix_sources=[PartMixSource(path, head_only)]
    )
    for seed in range(100):
        params = augmenter.sample(crop, joints, np.random.default_rng(seed))
        step = params.steps[0]
        assert (step.target_rect is not None) == (step.source_part == "head")
        if step.target_rect is None:
            out, out_joints = augmenter.apply(crop, joints, params)
            np.testing.assert_array_equal(out, crop)
            np.testing.assert_array_equal(out_joints, joints)


def test_partmix_source_cache_serves_recent_images(leg_source):
    path, _, source_joints = leg_source
    crop, joints = make_crop(), make_joints(**ARM)
    augmenter = build_augmenter(
        AugmentConfig(partmix=PartMixAug(prob=1.0)), COCO, partmix_sources=[PartMixSource(path, source_joints)]
    )
    params = first_seed(augmenter, crop, joints, lambda p: p.target_rect is not None)
    first = augmenter.apply(crop, joints, params)[0]
    path.unlink()
    np.testing.assert_array_equal(augmenter.apply(crop, joints, params)[0], first)


def test_partmix_needs_sources_and_readable_images(tmp_path):
    with pytest.raises(ValueError, match="partmix_sources"):
        build_augmenter(AugmentConfig(partmix=PartMixAug()), COCO)
    missing = tmp_path / "missing.png"
    augmenter = build_augmenter(
        AugmentConfig(partmix=PartMixAug(prob=1.0)), COCO, partmix_sources=[PartMixSource(missing, grid_joints())]
    )
    with pytest.raises(FileNotFoundError, match="missing.png"):
        first_seed(augmenter, make_crop(), grid_joints(), lambda p: p.target_rect is not None)


def test_partmix_sources_from_records():
    def rec(image_id, *labelled):
        joints = np.zeros((17, 3), np.float32)
        for k in labelled:
            joints[k] = (k + 1.0, k + 2.0, 1)
        return SimpleNamespace(image=f"/data/{image_id}.jpg", image_id=image_id, joints=joints)

    records = [rec(7), rec(7, 0, 1), rec(3, 5), rec(7, 2), rec(3, 6), rec(9)]
    sources = partmix_sources_from_records(records)
    assert [s.image_path for s in sources] == [Path("/data/7.jpg"), Path("/data/3.jpg")]
    np.testing.assert_array_equal(sources[0].keypoints, records[1].joints)
    np.testing.assert_array_equal(sources[1].keypoints, records[2].joints)


# ------------------------------------------------------------------------------------- probability, replay


@pytest.mark.parametrize("prob", [0.2, 0.5])
def test_one_draw_per_crop_probability(prob, leg_source):
    path, _, source_joints = leg_source
    crop = make_crop()
    joints = make_joints(left_elbow=(20.5, 30.25))
    n = 1500
    for kind, cfg in (
        ("blurring", AugmentConfig(blurring=OcclusionAug(prob))),
        ("cutout", AugmentConfig(cutout=OcclusionAug(prob, "parts"))),
        ("partmix", AugmentConfig(partmix=PartMixAug(prob))),
    ):
        augmenter = build_augmenter(cfg, COCO, partmix_sources=[PartMixSource(path, source_joints)])
        step = augmenter.steps[0][1]
        fired = sum(step.sample(crop, joints, np.random.default_rng(s)).fired for s in range(n))
        assert within(fired, n, prob), kind
    # Cutout + Blurring: two independent draws, so at least one fires with 1 - (1 - p)^2, both with p^2.
    augmenter = build_augmenter(AugmentConfig(blurring=OcclusionAug(prob), cutout=OcclusionAug(prob)), COCO)
    draws = [[s.fired for s in augmenter.sample(crop, joints, np.random.default_rng(seed)).steps] for seed in range(n)]
    assert within(sum(any(d) for d in draws), n, 1 - (1 - prob) ** 2)
    assert within(sum(all(d) for d in draws), n, prob**2)


def test_pipeline_order_registry_and_replay(leg_source):
    path, _, source_joints = leg_source
    assert set(AUGMENTATIONS) == {"blurring", "cutout", "multi_keypoint", "partmix", "objects"}
    assert PIPELINE_ORDER == ("partmix", "blurring", "cutout", "multi_keypoint", "objects")
    cfg = AugmentConfig(
        blurring=OcclusionAug(0.8, "parts"),
        cutout=OcclusionAug(0.8, "keypoint"),
        multi_keypoint=MultiKeypointAug(0.5, 3),
        partmix=PartMixAug(0.8),
        objects=ObjectPasteAug(0.8, labels="remove"),
    )
    augmenter = build_augmenter(cfg, COCO, partmix_sources=[PartMixSource(path, source_joints)])
    assert augmenter.names == PIPELINE_ORDER
    crop = make_crop()
    joints = make_joints(**ARM, **NEIGHBOURS)
    crop_in, joints_in = crop.copy(), joints.copy()
    changed = 0
    for seed in range(20):
        params = augmenter.sample(crop, joints, np.random.default_rng(seed))
        assert params.names == PIPELINE_ORDER
        out1, j1 = augmenter.apply(crop, joints, params)
        out2, j2 = augmenter.apply(crop, joints, params)
        out3, j3 = augmenter(crop, joints, np.random.default_rng(seed))
        for a, b in ((out1, out2), (out1, out3), (j1, j2), (j1, j3)):
            np.testing.assert_array_equal(a, b)
        changed += not np.array_equal(out1, crop)
    assert changed > 10
    np.testing.assert_array_equal(crop, crop_in)  # inputs are never modified
    np.testing.assert_array_equal(joints, joints_in)
    other = build_augmenter(AugmentConfig(blurring=OcclusionAug(1.0)), COCO)
    with pytest.raises(ValueError, match="partmix"):
        other.apply(crop, joints, params)


def test_later_draws_see_earlier_label_removal():
    """Cutout after part Blurring with removal draws only from the joints that are still labelled."""
    crop = make_crop()
    joints = make_joints(**ARM, **NEIGHBOURS)
    cfg = AugmentConfig(blurring=OcclusionAug(1.0, "parts"), cutout=OcclusionAug(1.0, "keypoint"))
    augmenter = build_augmenter(cfg, COCO)
    kept = {COCO.names[k] for k in range(17) if joints[k, 2] > 0 and k not in REMOVED}
    assert kept == {"left_ear", "right_knee"}
    hits = 0
    for seed in range(100):
        blur, cut = augmenter.sample(crop, joints, np.random.default_rng(seed)).steps
        if blur.target == "left_arm":
            assert cut.target in kept
            hits += 1
    assert hits > 5


# ------------------------------------------------------------------------------------------------- configs


def test_every_table1_preset_loads():
    expected = {
        f"{kind}_{level}_{p}" for kind in ("blur", "cutout", "cutblur") for level in ("k", "p") for p in ("02", "05")
    } | {"blur_p_05_keep", "cutout_p_05_keep", "cutblur_p_05_keep", "multikeypoint_02", "partmix_05", "partmix_05_keep"}
    assert set(TABLE1_PRESETS) == expected
    configs = {name: from_dict(AugmentConfig, data, name) for name, data in TABLE1_PRESETS.items()}
    for cfg in configs.values():
        build_augmenter(cfg, COCO, partmix_sources=[PartMixSource(Path("unused.png"), grid_joints())])
    assert configs["cutblur_p_05_keep"] == AugmentConfig(
        blurring=OcclusionAug(0.5, "parts"), cutout=OcclusionAug(0.5, "parts"), remove=False
    )
    assert configs["cutout_k_02"] == AugmentConfig(cutout=OcclusionAug(0.2, "keypoint"))
    assert configs["multikeypoint_02"] == AugmentConfig(multi_keypoint=MultiKeypointAug(0.2, 5))
    assert configs["partmix_05"] == AugmentConfig(partmix=PartMixAug(0.5, bgr_paste=True), remove=True)
    assert configs["partmix_05_keep"].remove is False
    assert configs["blur_p_02"].remove is True and configs["blur_p_02"].blurring == OcclusionAug(0.2, "parts")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"blurring": {"prob": 1.5}}, r"^augment\.blurring\.prob = 1\.5: expected a probability"),
        ({"cutout": {"prob": -0.1, "mode": "parts"}}, r"^augment\.cutout\.prob = -0\.1"),
        ({"cutout": {"prob": 0.5, "mode": "all"}}, r"^augment\.cutout\.mode = 'all': expected one of"),
        ({"multi_keypoint": {"max_keypoints": 0}}, r"^augment\.multi_keypoint\.max_keypoints = 0"),
        ({"partmix": {"prob": 2}}, r"^augment\.partmix\.prob = 2"),
        ({"radius": 0}, r"^augment\.radius = 0"),
        ({"part_blur_kernel": 30}, r"^augment\.part_blur_kernel = 30: expected a positive odd"),
        ({"blurring": {"mode": "parts"}}, r"missing key augment\.blurring\.prob"),
        ({"cutblur": {"prob": 0.5}}, r"unknown key augment\.cutblur"),
    ],
)
def test_invalid_config_raises_with_path(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(AugmentConfig, data, "augment")
