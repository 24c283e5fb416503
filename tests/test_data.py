from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import occlusion.data as data
from occlusion.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PersonRecord,
    TopDownDataset,
    build_crops,
    load_coco_records,
    load_mpii_records,
    load_or_build_crops,
    normalize,
    read_image,
)
from occlusion.keypoints import COCO, MPII
from occlusion.transforms import (
    TransformConfig,
    box_to_center_scale,
    generate_heatmaps,
    get_affine_transform,
    warp_crop,
    warp_joints,
)

NO_AUG = TransformConfig(flip=False, rotation_factor=0.0, scale_factor=0.0, half_body_prob=0.0)


def _coco_paths(shared_data: Path) -> tuple[Path, Path]:
    root = shared_data / "coco_mini"
    return root / "annotations" / "person_keypoints_val2017.json", root / "val2017"


# --- COCO ground truth ---------------------------------------------------------------------------------------


def test_coco_gt_records_match_the_annotation_file(shared_data):
    ann_file, image_dir = _coco_paths(shared_data)
    records = load_coco_records(ann_file, image_dir)
    coco = json.loads(ann_file.read_text())
    expected = [a["id"] for a in coco["annotations"] if not a["iscrowd"] and a["num_keypoints"] > 0]
    assert len(records) == 68
    assert sorted(r.ann_id for r in records) == sorted(expected)
    assert all(r.score == 1.0 and r.dataset == "coco" and r.joints.shape == (17, 3) for r in records)
    assert all(Path(r.image).is_file() for r in records)
    # images in file order, persons in annotation order within an image
    image_order = {img["id"]: i for i, img in enumerate(coco["images"])}
    ann_order = {a["id"]: i for i, a in enumerate(coco["annotations"])}
    keys = [(image_order[r.image_id], ann_order[r.ann_id]) for r in records]
    assert keys == sorted(keys)


def test_coco_gt_record_geometry_and_joints(shared_data):
    ann_file, image_dir = _coco_paths(shared_data)
    records = load_coco_records(ann_file, image_dir)
    coco = json.loads(ann_file.read_text())
    anns = {a["id"]: a for a in coco["annotations"]}
    sizes = {img["id"]: (img["width"], img["height"]) for img in coco["images"]}
    for r in records:
        ann = anns[r.ann_id]
        x, y, w, h = ann["bbox"]
        width, height = sizes[r.image_id]
        x1, y1 = max(0, x), max(0, y)
        box = (x1, y1, min(width - 1, x1 + max(0, w - 1)) - x1, min(height - 1, y1 + max(0, h - 1)) - y1)
        np.testing.assert_allclose(r.bbox, box, atol=1e-9)
        center, scale = box_to_center_scale(box)
        np.testing.assert_array_equal(r.center, center)
        np.testing.assert_array_equal(r.scale, scale)
        kps = np.array(ann["keypoints"], dtype=np.float32).reshape(17, 3)
        labelled = kps[:, 2] > 0
        np.testing.assert_array_equal(r.joints[labelled], kps[labelled])
        assert not r.joints[~labelled].any()
        assert np.count_nonzero(r.joints[:, 2]) == ann["num_keypoints"]


def test_coco_gt_record_hand_computed(shared_data):
    ann_file, image_dir = _coco_paths(shared_data)
    first = load_coco_records(ann_file, image_dir)[0]
    # image 139, bbox (412.8, 157.61, 53.05, 138.01) -> clean (412.8, 157.61, 52.05, 137.01)
    assert first.image_id == 139 and first.image.endswith("000000000139.jpg")
    np.testing.assert_allclose(first.center, [412.8 + 52.05 / 2, 157.61 + 137.01 / 2], rtol=1e-6)
    np.testing.assert_allclose(first.scale, [137.01 * 0.75 / 200 * 1.25, 137.01 / 200 * 1.25], rtol=1e-6)


def test_coco_gt_filters_crowd_category_area_and_unlabelled(tmp_path):
    kps = [0.0] * 51
    kps[0:3] = (30.0, 40.0, 2.0)

    def ann(i, **kw):
        return {"id": i, "image_id": 7, "category_id": 1, "iscrowd": 0, "area": 100.0, "bbox": [10, 20, 30, 40],
                "keypoints": kps, **kw}  # fmt: skip

    coco = {
        "images": [{"id": 7, "file_name": "seven.jpg", "width": 50, "height": 60}],
        "annotations": [
            ann(1, iscrowd=1), ann(2, category_id=2), ann(3, area=0.0), ann(4, keypoints=[0.0] * 51),
            ann(5, bbox=[-5.0, 30.0, 100.0, 100.0]), ann(6),
        ],  # fmt: skip
    }
    records = load_coco_records(_write(tmp_path / "ann.json", coco), tmp_path / "imgs")
    assert [r.ann_id for r in records] == [5, 6]
    assert records[0].bbox == (0.0, 30.0, 49.0, 29.0)  # clipped to the 50 x 60 image
    assert records[1].bbox == (10.0, 20.0, 29.0, 39.0)  # HRNet's clean box is w - 1, h - 1
    assert records[0].image == str(tmp_path / "imgs" / "seven.jpg")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_coco_records(tmp_path / "nope.json", tmp_path)


# --- COCO detections -----------------------------------------------------------------------------------------


def _write(path: Path, payload) -> Path:
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_detection_records_filter_by_category_and_threshold(shared_data, tmp_path):
    ann_file, image_dir = _coco_paths(shared_data)
    ids = [img["id"] for img in json.loads(ann_file.read_text())["images"]][:2]
    dets = [
        {"image_id": ids[0], "category_id": 1, "bbox": [10, 20, 30, 80], "score": 0.9},
        {"image_id": ids[0], "category_id": 1, "bbox": [50, 60, 40, 40], "score": 0.2},
        {"image_id": ids[1], "category_id": 2, "bbox": [5, 5, 50, 50], "score": 0.99},
        {"image_id": ids[1], "category_id": 1, "bbox": [0, 0, 120, 40], "score": 0.5},
    ]
    det_file = _write(tmp_path / "dets.json", dets)
    records = load_coco_records(ann_file, image_dir, detections=det_file, image_thre=0.3)
    assert [(r.image_id, r.score) for r in records] == [(ids[0], 0.9), (ids[1], 0.5)]
    assert all(not r.joints.any() and r.joints.shape == (17, 3) and r.ann_id is None for r in records)
    np.testing.assert_allclose(records[0].center, [25.0, 60.0])
    np.testing.assert_allclose(records[0].scale, [0.375, 0.5], rtol=1e-6)
    assert records[1].bbox == (0.0, 0.0, 120.0, 40.0) and records[1].area == 4800.0
    assert len(load_coco_records(ann_file, image_dir, detections=det_file)) == 3  # image_thre 0.0 keeps all persons


@pytest.mark.parametrize(
    "payload, error, message",
    [
        (None, FileNotFoundError, "not found"),
        ("{not json", ValueError, "not valid JSON"),
        ({"image_id": 139}, ValueError, "expected a JSON list"),
        ([], ValueError, "is empty"),
        ([{"image_id": 139, "category_id": 1, "bbox": [0, 0, 5, 5]}], ValueError, "entry 0 lacks score"),
        ([{"image_id": 123456789, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 1}], ValueError, "123456789"),
        ([{"image_id": 139, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.1}], ValueError, "score >= 0.5"),
    ],
)
def test_bad_detection_files_raise_naming_the_file(shared_data, tmp_path, payload, error, message):
    ann_file, image_dir = _coco_paths(shared_data)
    det_file = tmp_path / "bad_dets.json"
    if payload is not None:
        _write(det_file, payload)
    with pytest.raises(error, match=message) as info:
        load_coco_records(ann_file, image_dir, detections=det_file, image_thre=0.5)
    assert str(det_file) in str(info.value)


# --- MPII ----------------------------------------------------------------------------------------------------


def test_mpii_records_follow_hrnet_conventions(shared_data):
    json_file = shared_data / "mpii_sample" / "test_mpii.json"
    entries = json.loads(json_file.read_text())
    records = load_mpii_records(json_file, json_file.parent)
    assert len(records) == 5 and len({r.image_id for r in records}) == 5
    for r, e in zip(records, entries):
        assert Path(r.image).is_file() and r.dataset == "mpii" and r.joints.shape == (16, 3) and r.head_box is None
        s = e["scale"]
        np.testing.assert_allclose(r.center, [e["center"][0] - 1, e["center"][1] + 15 * s - 1], rtol=1e-6)
        np.testing.assert_allclose(r.scale, [1.25 * s, 1.25 * s], rtol=1e-6)
        vis = np.array(e["joints_vis"]) > 0
        np.testing.assert_allclose(r.joints[vis, :2], np.array(e["joints"])[vis] - 1, atol=1e-4)
        assert (r.joints[vis, 2] == 1).all() and not r.joints[~vis].any()
    assert sum((~(np.array(e["joints_vis"]) > 0)).sum() for e in entries) == 4  # the deviation is exercised


def test_mpii_head_box_and_missing_keys(tmp_path):
    entry = {"image": "a.jpg", "center": [-1, -1], "scale": 2.0, "joints": [[5, 6]] * 16, "joints_vis": [1] * 16,
             "head_box": [11, 21, 31, 41]}  # fmt: skip
    (record,) = load_mpii_records(_write(tmp_path / "m.json", [entry]), tmp_path)
    assert record.head_box == (10.0, 20.0, 30.0, 40.0)
    np.testing.assert_allclose(record.center, [-2.0, -2.0])  # centre -1: no shift, no padding
    np.testing.assert_allclose(record.scale, [2.0, 2.0])
    del entry["joints_vis"]
    bad = _write(tmp_path / "bad.json", [entry])
    with pytest.raises(ValueError, match="entry 0 lacks joints_vis") as info:
        load_mpii_records(bad, tmp_path)
    assert str(bad) in str(info.value)


# --- images --------------------------------------------------------------------------------------------------


def test_read_image_rgb_and_bgr(tmp_path):
    bgr = np.zeros((4, 5, 3), dtype=np.uint8)
    bgr[1, 2] = (10, 20, 30)
    cv2.imwrite(str(tmp_path / "x.png"), bgr)
    assert read_image(tmp_path / "x.png")[1, 2].tolist() == [30, 20, 10]
    np.testing.assert_array_equal(read_image(tmp_path / "x.png", rgb=False), bgr)


def test_read_image_errors_name_the_path(tmp_path):
    missing = tmp_path / "missing.jpg"
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        read_image(missing)
    image = np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "full.jpg"), image)
    payload = (tmp_path / "full.jpg").read_bytes()
    assert read_image(tmp_path / "full.jpg").shape == (64, 48, 3)
    for name, blob in [("truncated.jpg", payload[: len(payload) // 2]), ("garbage.jpg", b"not an image at all")]:
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(ValueError, match=name):
            read_image(tmp_path / name)


def test_normalize_is_imagenet():
    crop = np.zeros((2, 3, 3), dtype=np.uint8)
    crop[0, 1] = (255, 0, 128)
    x = normalize(crop)
    assert x.shape == (3, 2, 3) and x.dtype == torch.float32
    expected = [(v / 255 - m) / s for v, m, s in zip((255, 0, 128), IMAGENET_MEAN, IMAGENET_STD)]
    np.testing.assert_allclose(x[:, 0, 1].numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(x[:, 1, 0].numpy(), [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)], rtol=1e-6)


# --- dataset -------------------------------------------------------------------------------------------------


@pytest.fixture
def synthetic(tmp_path) -> list[PersonRecord]:
    """Two PNG images (lossless), three persons; joints in original pixels."""
    rng = np.random.default_rng(0)
    records = []
    for n, persons in ((0, 2), (1, 1)):
        image = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
        path = tmp_path / f"img{n}.png"
        cv2.imwrite(str(path), image)
        for p in range(persons):
            joints = np.zeros((17, 3), dtype=np.float32)
            for i in range(17):
                joints[i] = (20 + 40 * p + 2 * (i % 5), 10 + 4 * i, 2)
            joints[3] = 0  # one unlabelled joint
            box = (15 + 40 * p, 5, 30, 75)
            center, scale = box_to_center_scale(box)
            records.append(
                PersonRecord(image=str(path), image_id=n, center=center, scale=scale, joints=joints, bbox=box,
                             area=30 * 75.0, ann_id=10 * n + p)
            )  # fmt: skip
    return records


def _dataset(records, **kw) -> TopDownDataset:
    return TopDownDataset(records, image_size=(48, 64), heatmap_size=(12, 16), skeleton=COCO, **kw)


def test_test_sample_is_the_plain_warp(synthetic):
    ds = _dataset(synthetic)
    r = synthetic[1]
    sample = ds[1]
    rgb = cv2.cvtColor(cv2.imread(r.image), cv2.COLOR_BGR2RGB)
    crop = warp_crop(rgb, r.center, r.scale, 0.0, (48, 64))
    joints = warp_joints(r.joints, get_affine_transform(r.center, r.scale, 0.0, (48, 64)))
    target, weight = generate_heatmaps(joints, (48, 64), (12, 16), 2.0)
    torch.testing.assert_close(sample["image"], normalize(crop))
    torch.testing.assert_close(sample["joints"], torch.from_numpy(joints))
    torch.testing.assert_close(sample["target"], torch.from_numpy(target))
    torch.testing.assert_close(sample["target_weight"], torch.from_numpy(weight))
    assert sample["target_weight"][3].item() == 0.0 and sample["target_weight"][0].item() == 1.0
    assert (sample["image_id"].item(), sample["index"].item(), sample["rotation"].item()) == (0, 1, 0.0)
    assert sample["score"].item() == 1.0
    got_crop, got_joints = ds.crop(1)
    np.testing.assert_array_equal(got_crop, crop)
    np.testing.assert_array_equal(got_joints, joints)


def test_train_without_augmentation_equals_test(synthetic):
    test = _dataset(synthetic)[2]
    train = _dataset(synthetic, train=True, transform=NO_AUG)[2]
    for key in test:
        torch.testing.assert_close(train[key], test[key])


def test_train_samples_replay_by_seed_epoch_index(synthetic):
    cfg = TransformConfig(rotation_prob=1.0)
    a = _dataset(synthetic, train=True, transform=cfg, seed=5)
    b = _dataset(synthetic, train=True, transform=cfg, seed=5)
    first, again = a[0], b[0]
    for key in first:
        torch.testing.assert_close(first[key], again[key])
    a.set_epoch(1)
    other = a[0]
    assert other["rotation"].item() != first["rotation"].item()
    assert not torch.equal(other["image"], first["image"])
    b.set_epoch(1)
    torch.testing.assert_close(b[0]["image"], other["image"])
    assert _dataset(synthetic, train=True, transform=cfg, seed=6)[0]["rotation"].item() != first["rotation"].item()


def test_augmenter_hook_edits_crop_and_removes_labels(synthetic):
    seen = {}

    def blackout_nose(crop, joints, rng):
        seen.update(shape=crop.shape, dtype=crop.dtype, joints=joints.copy(), rng=rng)
        joints = joints.copy()
        joints[0] = 0
        return np.zeros_like(crop), joints

    plain = _dataset(synthetic, train=True, transform=NO_AUG)[0]
    sample = _dataset(synthetic, train=True, transform=NO_AUG, augmenter=blackout_nose)[0]
    assert seen["shape"] == (64, 48, 3) and seen["dtype"] == np.uint8
    assert isinstance(seen["rng"], np.random.Generator)
    np.testing.assert_array_equal(seen["joints"], plain["joints"].numpy())  # the hook sees crop-pixel joints
    torch.testing.assert_close(sample["image"], normalize(np.zeros((64, 48, 3), np.uint8)))
    assert sample["target_weight"][0].item() == 0.0 and not sample["target"][0].any()
    torch.testing.assert_close(sample["target"][1:], plain["target"][1:])
    assert plain["target"][0].max().item() == 1.0


def test_dataset_rejects_wrong_joint_count(synthetic):
    with pytest.raises(ValueError, match=r"record 0 has joints of shape \(17, 3\); expected \(16, 3\)"):
        TopDownDataset(synthetic, skeleton=MPII)


# --- crop cache ----------------------------------------------------------------------------------------------


def test_build_crops_decodes_each_image_once(synthetic, monkeypatch):
    calls = []
    real = data.read_image
    monkeypatch.setattr(data, "read_image", lambda path, rgb=True: calls.append(path) or real(path, rgb))
    crops, joints = build_crops(synthetic, (48, 64))
    assert sorted(calls) == sorted({r.image for r in synthetic})
    monkeypatch.undo()
    ds = _dataset(synthetic)
    assert crops.shape == (3, 64, 48, 3) and crops.dtype == np.uint8 and joints.shape == (3, 17, 3)
    for i in range(3):
        crop, joint = ds.crop(i)
        np.testing.assert_array_equal(crops[i], crop)
        np.testing.assert_array_equal(joints[i], joint)


def test_crop_cache_loads_rebuilds_and_writes_atomically(synthetic, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "crops.npz"
    crops, joints = load_or_build_crops(synthetic, (48, 64), cache)
    assert cache.is_file() and [p.name for p in cache.parent.iterdir()] == ["crops.npz"]

    def no_build(*args, **kwargs):
        raise AssertionError("should have loaded the cache")

    monkeypatch.setattr(data, "build_crops", no_build)
    cached_crops, cached_joints = load_or_build_crops(synthetic, (48, 64), cache)
    np.testing.assert_array_equal(cached_crops, crops)
    np.testing.assert_array_equal(cached_joints, joints)
    monkeypatch.undo()

    moved = [*synthetic[:2], PersonRecord(**{**synthetic[2].__dict__, "center": synthetic[2].center + 3})]
    rebuilt, _ = load_or_build_crops(moved, (48, 64), cache)
    assert not np.array_equal(rebuilt[2], crops[2]) and np.array_equal(rebuilt[:2], crops[:2])
    bigger, _ = load_or_build_crops(moved, (24, 32), cache)
    assert bigger.shape == (3, 32, 24, 3)
    cache.write_bytes(b"corrupt")
    again, _ = load_or_build_crops(synthetic, (48, 64), cache)
    np.testing.assert_array_equal(again, crops)
    assert [p.name for p in cache.parent.iterdir()] == ["crops.npz"]
