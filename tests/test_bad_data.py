"""Annotation faults that used to pass silently fail before any work, naming the file and the annotation id."""
from __future__ import annotations

import json
import re

import pytest

from occlusion.data import load_coco_records


def _with_fault(data_root, tmp_path, fault) -> tuple:
    src = data_root / "annotations" / "person_keypoints_val.json"
    data = json.loads(src.read_text())
    ann = next(a for a in data["annotations"] if a.get("category_id") == 1 and not a.get("iscrowd"))
    fault(ann)
    path = tmp_path / "person_keypoints_val.json"
    path.write_text(json.dumps(data))
    return path, ann["id"]


def test_the_generated_annotations_pass_the_checks(data_root):
    assert load_coco_records(data_root / "annotations" / "person_keypoints_val.json", data_root / "images" / "val")


def test_a_keypoint_a_million_pixels_outside_its_image_is_named(data_root, tmp_path):
    def fault(ann):
        ann["keypoints"][0:3] = [1e6, 10.0, 2]

    path, ann_id = _with_fault(data_root, tmp_path, fault)
    with pytest.raises(ValueError, match=re.escape(str(path)) + f": annotation {ann_id} keypoint nose at "
                                         r"\(1e\+06, 10\) lies far outside"):
        load_coco_records(path, data_root / "images" / "val")


def test_a_person_annotation_without_keypoints_is_named(data_root, tmp_path):
    path, ann_id = _with_fault(data_root, tmp_path, lambda ann: ann.pop("keypoints"))
    with pytest.raises(ValueError, match=re.escape(str(path)) + f": person annotation {ann_id} has no 'keypoints'"):
        load_coco_records(path, data_root / "images" / "val")


def test_a_non_finite_keypoint_is_named(data_root, tmp_path):
    def fault(ann):
        ann["keypoints"][3] = float("nan")

    path, ann_id = _with_fault(data_root, tmp_path, fault)
    with pytest.raises(ValueError, match=f"annotation {ann_id} has a non-finite keypoint"):
        load_coco_records(path, data_root / "images" / "val")


def test_real_coco_annotations_pass_the_checks(shared_data):
    for split in ("val2017", "train2017"):
        ann = shared_data / "coco_mini" / "annotations" / f"person_keypoints_{split}.json"
        assert load_coco_records(ann, shared_data / "coco_mini" / split)


def test_the_radius_sweep_attacks_only_keypoints_the_grid_attacks():
    """Trimming ``attack.keypoints`` used to leave the sweep attacking the removed keypoints (it defaulted to all)."""
    from occlusion.attacks import AttackGridConfig, attack_grid

    cfg = AttackGridConfig(keypoints=("nose", "left_eye"), parts=("head",), radius_sweep=(3,))
    assert cfg.sweep_keypoints == ("nose", "left_eye")
    assert {s.target for s in attack_grid(cfg) if s.target_kind == "keypoint"} == {"nose", "left_eye"}


def _write_gt_valid(path, boxes):
    """A ``gt_valid.mat`` of HRNet's structure (1-based ``headboxes_src``: corner x (x, y) x person)."""
    import numpy as np
    from scipy.io import savemat

    b = np.asarray(boxes, dtype=np.float64) + 1
    src = np.stack([b[:, :2].T, b[:, 2:].T])
    savemat(path, {"headboxes_src": src, "jnt_missing": np.zeros((16, len(b))), "pos_gt_src": np.zeros((16, 2, len(b))),
                   "dataset_joints": np.array([["rank"]], dtype=object)})


def test_mpii_head_boxes_come_from_gt_valid_mat(shared_data, tmp_path):
    """HRNet's valid.json has no head boxes (PCKh once failed with 'cannot reshape array of size 5'); they are read
    from gt_valid.mat in the json's person order, as HRNet's evaluation reads them."""
    import numpy as np

    from occlusion.data import load_mpii_records, read_mpii_head_boxes
    from occlusion.evaluate import pckh

    sample = shared_data / "mpii_sample"
    ann, images = sample / "test_mpii.json", sample
    plain = load_mpii_records(ann, images)
    assert all(r.head_box is None for r in plain)
    boxes = np.array([[10 + i, 20, 60 + i, 80] for i in range(len(plain))], dtype=np.float64)
    _write_gt_valid(tmp_path / "gt_valid.mat", boxes)
    np.testing.assert_allclose(read_mpii_head_boxes(tmp_path / "gt_valid.mat"), boxes)
    records = load_mpii_records(ann, images, head_boxes=tmp_path / "gt_valid.mat")
    assert [r.head_box for r in records] == [tuple(b) for b in boxes]
    joints = np.stack([r.joints for r in records])
    table = pckh(joints, joints, joints[:, :, 2] > 0, np.array([r.head_box for r in records]))
    assert table["Mean"] == 100.0
    with pytest.raises(ValueError, match=r"short.mat: 2 boxes for \d+ persons"):
        _write_gt_valid(tmp_path / "short.mat", boxes[:2])
        load_mpii_records(ann, images, head_boxes=tmp_path / "short.mat")
    (tmp_path / "bad.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match=r"bad.mat: expected a MATLAB file with 'headboxes_src'"):
        read_mpii_head_boxes(tmp_path / "bad.mat")


def test_the_old_attack_run_sweep_key_is_named_as_unknown(tmp_path):
    """``attack_runs.<run>.radius_sweep`` (a bool beside the list ``attack.radius_sweep``) is now ``sweep``."""
    import yaml

    from occlusion.config import ConfigError
    from occlusion.params import load_params, repo_root

    params = yaml.safe_load((repo_root() / "params.yaml").read_text())
    params["attack_runs"]["coco_hrnet_half_body"] = {"model": "hrnet", "radius_sweep": True}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match=r"attack_runs\.coco_hrnet_half_body\.radius_sweep"):
        load_params(tmp_path / "params.yaml")
