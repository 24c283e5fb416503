"""Hidden-keypoint awareness on hand-made scores with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from occlusion.attacks import AttackSpec
from occlusion.awareness import (
    AwarenessCollector,
    attack_awareness,
    auroc,
    hidden_keypoints,
    visibility_awareness,
    visible_median,
)
from occlusion.keypoints import COCO

SIZE = (96, 128)


def _pairwise(pos, neg):
    """AUROC by counting every (positive, negative) pair, ties half."""
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def test_auroc_by_hand():
    assert auroc([3, 2, 1], [0]) == 1.0
    assert auroc([0], [3, 2, 1]) == 0.0
    assert auroc([1, 1], [1]) == 0.5
    assert auroc([0.9, 0.4], [0.5, 0.1]) == 0.75  # pairs: 0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1
    assert np.isnan(auroc([], [1.0])) and np.isnan(auroc([1.0], []))


def test_auroc_equals_the_pairwise_count_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        pos, neg = rng.integers(0, 6, rng.integers(1, 30)), rng.integers(0, 6, rng.integers(1, 30))
        assert auroc(pos, neg) == pytest.approx(_pairwise(pos, neg), abs=1e-12)


def _joints(n: int = 4) -> np.ndarray:
    """n standing persons in 96x128 crops, every keypoint visible (v = 2)."""
    base = np.array([[48, 20], [44, 16], [52, 16], [40, 18], [56, 18], [36, 36], [60, 36], [32, 52], [64, 52],
                     [30, 66], [66, 66], [40, 70], [56, 70], [40, 92], [56, 92], [40, 112], [56, 112]], np.float32)
    joints = np.zeros((n, 17, 3), np.float32)
    joints[..., :2], joints[..., 2] = base, 2
    return joints


def test_hidden_keypoints_of_keypoint_and_part_attacks():
    joints = _joints()
    joints[1, 0, 2] = 0  # person 1: nose unlabelled
    joints[2, 0, :2] = (100, 20)  # person 2: nose right of the 96-px crop
    nose = hidden_keypoints(AttackSpec("nose", "keypoint", "blackout", 6), joints, COCO, SIZE)
    assert nose[:, 0].tolist() == [True, False, False, True]
    assert not nose[:, 1:].any()  # the eyes 5.7 px away are inside the disc, but a keypoint attack hides its target
    upper = hidden_keypoints(AttackSpec("upper_body", "part", "blackout"), joints, COCO, SIZE)
    assert upper[0, :10].all() and not upper[0, 13:].any()  # head, arms; not the knees and ankles
    assert not upper[0, 10]  # the rightmost keypoint sits on the half-open rectangle's right edge
    assert not hidden_keypoints(AttackSpec("clean", "none", "none"), joints, COCO, SIZE).any()


def test_a_model_that_notices_and_one_that_does_not():
    rng = np.random.default_rng(1)
    clean = rng.uniform(0.6, 1.0, (50, 17))
    hidden = np.zeros((50, 17), bool)
    hidden[:, 0] = True
    aware = clean.copy()
    aware[:, 0] = rng.uniform(0.0, 0.5, 50)  # every hidden nose scores below every clean one
    result = attack_awareness(clean, aware, hidden, threshold=0.55)
    assert result["n_hidden"] == 50 and result["auroc"] == 1.0 and result["hallucination_rate"] == 0.0
    blind = attack_awareness(clean, clean, hidden, threshold=float(np.median(clean[:, 0])))
    assert blind["auroc"] == 0.5  # identical scores: every pair a tie
    assert blind["hallucination_rate"] == pytest.approx(0.5, abs=0.02)  # half are above their own median


def test_visibility_auroc_between_v1_and_v2():
    joints = _joints(3)
    joints[:, 3, 2] = 1  # the left ear labelled occluded in every person
    joints[0, 9, 2] = 1
    scores = np.full((3, 17), 0.8)
    scores[:, 3] = [0.9, 0.2, 0.1]  # one occluded ear scored above every visible keypoint
    scores[0, 9] = 0.8  # a tie with every visible one
    out = visibility_awareness(scores, joints, COCO.names, threshold=visible_median(scores, joints))
    pos, neg = scores[joints[..., 2] == 2], scores[joints[..., 2] == 1]
    assert out["n_visible"] == 47 and out["n_occluded"] == 4
    assert out["auroc"] == pytest.approx(_pairwise(pos, neg))
    assert out["auroc"] == pytest.approx((47 * 2 + 0 + 0.5 * 47) / (47 * 4))  # 2 won, 1 lost, 1 tied per visible
    assert out["occluded_above_median_rate"] == 0.25  # 0.9 only
    assert np.isnan(out["per_keypoint"][COCO.names[3]]["auroc"])  # no visible left ear to compare with
    assert out["per_keypoint"][COCO.names[9]] == {"n_visible": 2, "n_occluded": 1, "auroc": 0.5}  # left wrist


def test_collector_reports_every_attack_of_the_hook():
    joints = _joints()
    collect = AwarenessCollector(joints, COCO, SIZE)
    clean = np.full((4, 17, 1), 0.9)
    collect(AttackSpec("clean", "none", "none"), None, clean)
    attacked = clean.copy()
    attacked[:, 0] = 0.3
    collect(AttackSpec("nose", "keypoint", "blackout", 6), None, attacked)
    collect(AttackSpec("nose", "keypoint", "blur", 6), None, clean)
    report = collect.report()
    assert report["visible_median_score"] == pytest.approx(0.9)
    black, blur = report["attacks"]
    assert (black["attack"], black["n_hidden"], black["auroc"], black["hallucination_rate"]) == (
        "nose_blackout_r6", 4, 1.0, 0.0)
    assert (blur["auroc"], blur["hallucination_rate"]) == (0.5, 0.0)  # 0.9 is not above the median 0.9
    with pytest.raises(ValueError, match="no clean pass"):
        AwarenessCollector(joints, COCO, SIZE).report()
