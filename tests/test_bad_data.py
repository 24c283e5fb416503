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

    cfg = AttackGridConfig(keypoints=("nose", "l_eye"), parts=("head",), radius_sweep=(3,))
    assert cfg.sweep_keypoints == ("nose", "l_eye")
    assert {s.target for s in attack_grid(cfg) if s.target_kind == "keypoint"} == {"nose", "l_eye"}
