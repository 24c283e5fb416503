"""Test-time attacks (docs/METHODS.md §2): ``occlude`` pixels, the attack grid, and ``occlude_batch`` == ``occlude``."""
from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest
import torch

from occlusion.attacks import (
    AttackGridConfig,
    AttackSpec,
    _gaussian_blur,
    attack_grid,
    occlude,
    occlude_batch,
    sample_attack,
)
from occlusion.config import ConfigError, FieldError, from_dict
from occlusion.keypoints import COCO, FILLERS, MPII, PARTS

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pose(skeleton=COCO, **xy: tuple[float, float]) -> np.ndarray:
    kps = np.zeros((skeleton.num_joints, 3), np.float32)
    for name, (x, y) in xy.items():
        kps[skeleton.index(name)] = (x, y, 2)
    return kps


def random_crop(rng: np.random.Generator, height: int = 64, width: int = 48) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------------------ occlude


def test_occlude_keypoint_blackout_exact_pixels():
    image = random_crop(np.random.default_rng(0))
    out = occlude(image, pose(nose=(10.0, 20.0)), "nose", "blackout", radius=3)
    yy, xx = np.mgrid[:64, :48]
    inside = (yy - 20.0) ** 2 + (xx - 10.0) ** 2 <= 9
    assert inside.sum() == 29
    assert (out[inside] == 0).all()
    np.testing.assert_array_equal(out[~inside], image[~inside])


def test_occlude_part_meanout_and_blur():
    image = random_crop(np.random.default_rng(1))
    # hip box: centre (24, 40), 2 D = (24, 6) -> x [12, 36), y [37, 43)
    kps = pose(left_hip=(30, 40), right_hip=(18, 40))
    out = occlude(image, kps, "hip", "meanout")
    assert (out[37:43, 12:36] == image.reshape(-1, 3).mean(0).astype(np.uint8)).all()
    out = occlude(image, kps, "hip", "blur")
    np.testing.assert_array_equal(out[37:43, 12:36], cv2.GaussianBlur(image, (31, 31), 0)[37:43, 12:36])
    out[37:43, 12:36] = image[37:43, 12:36]
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("radius, kernel", [(6, 11), (18, 35)])
def test_occlude_keypoint_blur_kernel(radius, kernel):
    image = random_crop(np.random.default_rng(2))
    out = occlude(image, pose(left_eye=(24.0, 30.0)), "left_eye", "blur", radius=radius)
    yy, xx = np.mgrid[:64, :48]
    inside = (yy - 30.0) ** 2 + (xx - 24.0) ** 2 <= radius**2
    np.testing.assert_array_equal(out[inside], cv2.GaussianBlur(image, (kernel, kernel), 0)[inside])


def test_occlude_unlabelled_target_leaves_crop_unchanged():
    image = random_crop(np.random.default_rng(3))
    kps = pose(nose=(10, 10), left_eye=(12, 8))
    for target in ("left_ankle", "left_leg", "lower_body"):
        for filler in FILLERS:
            np.testing.assert_array_equal(occlude(image, kps, target, filler), image)


def test_occlude_paper_bounds_flag():
    image = np.full((256, 192, 3), 90, np.uint8)
    kps = pose(left_knee=(100.0, 200.0))
    np.testing.assert_array_equal(occlude(image, kps, "left_knee", "blackout"), image)
    assert (occlude(image, kps, "left_knee", "blackout", paper_bounds=False) == 0).any()


def test_occlude_mpii_targets():
    image = random_crop(np.random.default_rng(4), 64, 64)
    kps = pose(MPII, head_top=(30, 10), upper_neck=(32, 26))
    out = occlude(image, kps, "head", "blackout", dataset="mpii")
    # |top - neck| = (2, 16) -> D = (4, 16): extents (8, 16) around (31, 18) -> x [27, 35), y [10, 26).
    assert (out[10:26, 27:35] == 0).all() and (out == 0).all(axis=2).sum() == 8 * 16
    out = occlude(image, kps, "head_top", "blackout", dataset="mpii", radius=2)
    assert (out == 0).all(axis=2).sum() == 13


def test_occlude_rejects_unknown_names():
    image, kps = random_crop(np.random.default_rng(5)), pose(nose=(5, 5))
    with pytest.raises(KeyError, match="allowed: keypoints nose, left_eye.*parts head, left_arm"):
        occlude(image, kps, "torso", "blur")
    with pytest.raises(KeyError, match="head_top"):
        occlude(image, kps, "nose", "blur", dataset="mpii")
    with pytest.raises(ValueError, match="allowed: blur, blackout, meanout"):
        occlude(image, kps, "nose", "grey")
    with pytest.raises(KeyError, match="allowed: coco, mpii, crowdpose"):
        occlude(image, kps, "nose", "blur", dataset="h36m")


# ------------------------------------------------------------------------------------------------ specs


def test_attack_spec_validation_and_names():
    assert AttackSpec("nose", "keypoint", "blur", 6).name == "nose_blur_r6"
    assert AttackSpec("nose", "keypoint", "blur", 6, False).name == "nose_blur_r6_fixedbounds"
    assert AttackSpec("corpus", "part", "meanout").name == "corpus_meanout"
    assert AttackSpec("clean", "none", "none").name == "clean"
    bad = [
        dict(target="nose", target_kind="keypoint", filler="blur"),  # no radius
        dict(target="nose", target_kind="keypoint", filler="blur", radius=0),
        dict(target="corpus", target_kind="part", filler="blur", radius=6),
        dict(target="torso", target_kind="part", filler="blur"),
        dict(target="nose", target_kind="keypoint", filler="gray", radius=6),
        dict(target="nose", target_kind="joint", filler="blur", radius=6),
        dict(target="clean", target_kind="none", filler="blur"),
    ]
    for kwargs in bad:
        with pytest.raises(FieldError):
            AttackSpec(**kwargs)


def test_sample_attack_shapes():
    kps = pose(nose=(10, 10), left_hip=(30, 40), right_hip=(18, 40))
    assert sample_attack(AttackSpec("clean", "none", "none"), kps, 48, 64, COCO).shape == "none"
    occ = sample_attack(AttackSpec("nose", "keypoint", "blur", 9), kps, 48, 64, COCO)
    assert (occ.shape, occ.center, occ.radius, occ.blur_kernel) == ("disc", (10.0, 10.0), 9.0, 17)
    occ = sample_attack(AttackSpec("hip", "part", "blur"), kps, 48, 64, COCO)
    assert (occ.shape, occ.rect, occ.blur_kernel) == ("rect", (12, 37, 36, 43), 31)
    with pytest.raises(KeyError, match="allowed"):
        sample_attack(AttackSpec("head_top", "keypoint", "blur", 6), kps, 48, 64, COCO)


# ------------------------------------------------------------------------------------------------- grid


def test_default_attack_grid_has_every_row_once():
    cfg = AttackGridConfig()
    grid = attack_grid(cfg)
    assert grid[0] == AttackSpec("clean", "none", "none")
    assert len(grid) == len(set(grid)) == len({s.name for s in grid})
    keypoint_rows = {(s.target, s.filler, s.radius) for s in grid if s.target_kind == "keypoint"}
    expected = {(k, f, r) for k in COCO.names for f in FILLERS for r in (3, 6, 9, 12, 15, 18)}
    assert keypoint_rows == expected
    assert {(s.target, s.filler) for s in grid if s.target_kind == "part"} == {(p, f) for p in PARTS for f in FILLERS}
    assert len(grid) == 1 + 17 * 3 * 6 + 11 * 3
    # Main radius first (Fig. 5 order), then the sweep, then the parts.
    kinds = [(s.target_kind, s.radius == 6) for s in grid[1:]]
    assert kinds == [("keypoint", True)] * 51 + [("keypoint", False)] * 255 + [("part", False)] * 33
    assert grid == attack_grid(AttackGridConfig())
    assert cfg.per_keypoint_targets == ("nose", "left_eye", "left_ankle", "upper_body", "corpus", "left_side")


def test_attack_grid_both_bounds_and_sweep_subset():
    cfg = AttackGridConfig(
        keypoints=("nose", "left_ankle"), parts=("hip", "corpus"), fillers=("blur", "meanout"), radius=6,
        radius_sweep=(3, 6, 18), sweep_keypoints=("nose", "right_knee"), paper_bounds=(True, False),
    )  # fmt: skip
    grid = attack_grid(cfg)
    names = [s.name for s in grid]
    expected = ["clean"]
    for suffix in ("", "_fixedbounds"):
        expected += [f"{k}_{f}_r6{suffix}" for k in ("nose", "left_ankle") for f in ("blur", "meanout")]
    for suffix in ("", "_fixedbounds"):
        for r in (3, 6, 18):
            for k in ("nose", "right_knee"):
                for f in ("blur", "meanout"):
                    if not (r == 6 and k == "nose"):
                        expected.append(f"{k}_{f}_r{r}{suffix}")
    expected += [f"{p}_{f}" for p in ("hip", "corpus") for f in ("blur", "meanout")]
    assert names == expected
    assert len(set(grid)) == len(grid)
    assert attack_grid(dataclasses.replace(cfg, radius_sweep=()))[-4:] == grid[-4:]


def test_mpii_grid_defaults():
    cfg = AttackGridConfig(dataset="mpii", radius_sweep=())
    assert cfg.keypoints == MPII.names and cfg.sweep_keypoints == MPII.names
    assert cfg.per_keypoint_targets == ("left_ankle", "upper_body", "corpus", "left_side")
    assert len(attack_grid(cfg)) == 1 + 16 * 3 + 11 * 3


@pytest.mark.parametrize(
    "data, message",
    [
        ({"keypoints": ["nose", "head_top"]},
         r"attack\.keypoints = 'head_top': expected a coco keypoint: nose, left_eye"),
        ({"sweep_keypoints": ["neck"]}, r"attack\.sweep_keypoints = 'neck'"),
        ({"parts": ["torso"]}, r"attack\.parts = 'torso': expected a part: head, left_arm"),
        ({"fillers": ["grey"]}, r"attack\.fillers = 'grey': expected a filler: blur, blackout, meanout"),
        ({"fillers": []}, r"attack\.fillers"),
        ({"radius": 0}, r"attack\.radius = 0: expected an integer > 0"),
        ({"radius_sweep": [3, -6]}, r"attack\.radius_sweep = -6"),
        ({"paper_bounds": []}, r"attack\.paper_bounds"),
        ({"paper_bounds": [True, True]}, r"attack\.paper_bounds"),
        ({"dataset": "h36m"}, r"attack\.dataset = 'h36m': expected 'coco', 'mpii' or 'crowdpose'"),
        ({"per_keypoint_targets": ["left_eye", "torso"]}, r"attack\.per_keypoint_targets = 'torso'"),
        ({"dataset": "mpii", "per_keypoint_targets": ["nose"]}, r"per_keypoint_targets = 'nose'"),
    ],
)
def test_grid_config_errors_name_value_and_allowed(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(AttackGridConfig, data, "attack")


# ---------------------------------------------------------------------------------------------- batched


@pytest.mark.parametrize("k", [1, 3, 5, 11, 31, 35])
@pytest.mark.parametrize("size", [(64, 48), (5, 9), (1, 4)])
def test_batched_blur_equals_opencv(k, size):
    rng = np.random.default_rng(k)
    crops = rng.integers(0, 256, (3, *size, 3), dtype=np.uint8)
    crops[0] = cv2.GaussianBlur(crops[0], (3, 3), 0)  # a smooth crop as well as noise
    got = _gaussian_blur(torch.from_numpy(crops), k).numpy()
    for i in range(3):
        np.testing.assert_array_equal(got[i], cv2.GaussianBlur(crops[i], (k, k), 0))


def random_poses(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """COCO poses scattered over and just around the crop; about a quarter of the joints unlabelled."""
    kps = np.zeros((n, 17, 3), np.float32)
    kps[..., 0] = rng.uniform(-8, width + 8, (n, 17))
    kps[..., 1] = rng.uniform(-8, height + 8, (n, 17))
    kps[..., 2] = rng.choice([0, 1, 2], (n, 17), p=[0.25, 0.25, 0.5])
    kps[kps[..., 2] == 0] = 0
    kps[-1] = 0  # one crop without any label
    return kps


SMALL_GRID = AttackGridConfig(
    keypoints=("nose", "left_wrist", "right_knee", "left_ankle"), radius_sweep=(3, 18),
    sweep_keypoints=("nose", "left_ankle"),
    paper_bounds=(True, False),
)  # fmt: skip


def assert_batch_matches_occlude(crops: np.ndarray, kps: np.ndarray, device: str, grid: AttackGridConfig) -> int:
    """``occlude_batch`` equals ``occlude`` for every spec of ``grid``; returns how many crops were changed."""
    batch = torch.from_numpy(crops).to(device)
    changed = 0
    for spec in attack_grid(grid):
        got = occlude_batch(batch, torch.from_numpy(kps), spec, COCO)
        assert got.dtype == torch.uint8 and got.device == batch.device
        got = got.cpu().numpy()
        for i in range(len(crops)):
            if spec.target_kind == "none":
                want = crops[i]
            else:
                want = occlude(crops[i], kps[i], spec.target, spec.filler, radius=spec.radius or 6,
                               paper_bounds=spec.paper_bounds)  # fmt: skip
            np.testing.assert_array_equal(got[i], want, err_msg=f"{spec.name}, crop {i}")
            changed += int((want != crops[i]).any())
    np.testing.assert_array_equal(batch.cpu().numpy(), crops)  # input untouched
    return changed


@pytest.mark.parametrize("device", DEVICES)
def test_occlude_batch_equals_occlude_on_random_crops(device):
    rng = np.random.default_rng(7)
    height, width = 72, 54
    crops = rng.integers(0, 256, (6, height, width, 3), dtype=np.uint8)
    crops[1] = cv2.GaussianBlur(crops[1], (9, 9), 0)
    crops[2, :20] = 0  # black warp padding counts in the mean
    kps = random_poses(rng, 6, height, width)
    assert assert_batch_matches_occlude(crops, kps, device, SMALL_GRID) > 100


def coco_person_crops(root, n: int = 4, size: tuple[int, int] = (192, 256)) -> tuple[np.ndarray, np.ndarray]:
    """HRNet-style test crops (box centre, aspect 0.75, x1.25, no rotation) of the first well-labelled persons."""
    ann = json.loads((root / "coco_mini/annotations/person_keypoints_val2017.json").read_text())
    files = {im["id"]: im["file_name"] for im in ann["images"]}
    width, height = size
    crops, joints = [], []
    for a in sorted(ann["annotations"], key=lambda a: a["id"]):
        if a["num_keypoints"] < 10 or a.get("iscrowd", 0):
            continue
        x, y, w, h = a["bbox"]
        w, h = max(w, h * width / height), max(h, w * height / width)
        scale = width / (w * 1.25)
        tx, ty = width / 2 - scale * (x + a["bbox"][2] / 2), height / 2 - scale * (y + a["bbox"][3] / 2)
        image = cv2.cvtColor(cv2.imread(str(root / "coco_mini/val2017" / files[a["image_id"]])), cv2.COLOR_BGR2RGB)
        matrix = np.array([[scale, 0, tx], [0, scale, ty]])
        crops.append(cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR))
        kps = np.array(a["keypoints"], np.float32).reshape(17, 3)
        kps[:, :2] = kps[:, :2] * scale + (tx, ty)
        kps[kps[:, 2] == 0] = 0
        joints.append(kps)
        if len(crops) == n:
            break
    return np.stack(crops), np.stack(joints)


def test_occlude_batch_equals_occlude_on_real_crops(shared_data):
    crops, kps = coco_person_crops(shared_data, n=3)
    assert crops.shape == (3, 256, 192, 3)
    grid = dataclasses.replace(SMALL_GRID, keypoints=("nose", "left_wrist", "left_ankle"), radius_sweep=())
    assert assert_batch_matches_occlude(crops, kps, "cpu", grid) > 60


def test_occlude_batch_validates_inputs_and_keeps_clean_pass():
    crops = torch.zeros((2, 8, 6, 3), dtype=torch.uint8)
    kps = np.zeros((2, 17, 3), np.float32)
    spec = AttackSpec("nose", "keypoint", "blur", 6)
    with pytest.raises(ValueError, match="uint8"):
        occlude_batch(crops.float(), kps, spec, COCO)
    with pytest.raises(ValueError, match=r"expected \(2, 17, 3\)"):
        occlude_batch(crops, kps[:, :16], spec, COCO)
    clean = occlude_batch(crops, kps, AttackSpec("clean", "none", "none"), COCO)
    assert torch.equal(clean, crops) and clean.data_ptr() != crops.data_ptr()
