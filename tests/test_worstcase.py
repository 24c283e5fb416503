"""The worst-case occluder search (docs/METHODS.md §12): it finds a planted weakness under its query budget and
reports the planted area within one step of the grid; deterministic from its seed; curves and summaries exact."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from occlusion.config import ConfigError, from_dict
from occlusion.keypoints import get_skeleton
from occlusion.occluders import person_area, procedural_bank
from occlusion.worstcase import WorstCaseConfig, keypoint_oks, search_targets, worstcase_curves, worstcase_summary

COCO = get_skeleton("coco")
SIZE = 64
REGION = (slice(28, 36), slice(28, 36))  # the planted weakness: an 8x8 block around the nose at (32, 32)
AREAS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)


class PlantedModel:
    """Predicts every keypoint at (32, 32); the nose moves 2 px per unit of the block's blacked-out fraction, and
    40 px more once the whole block is black (the only way to break it)."""

    def __init__(self):
        self.crops = 0

    def __call__(self, crops: torch.Tensor) -> np.ndarray:
        self.crops += len(crops)
        black = (crops[:, REGION[0], REGION[1]] == 0).all(-1).float().mean((1, 2)).numpy()
        preds = np.full((len(crops), 17, 2), 32.0)
        preds[:, 0, 0] += 2.0 * black + 40.0 * (black == 1.0)
        return preds


def planted_inputs(n: int = 8):
    crops = np.full((n, SIZE, SIZE, 3), 128, np.uint8)
    joints = np.zeros((n, 17, 3), np.float32)
    joints[:, :, :2] = 32.0
    joints[:, :, 2] = 2
    return crops, joints, np.full(n, 2000.0)


def test_search_finds_a_planted_weakness_under_budget_within_one_grid_step():
    cfg = WorstCaseConfig(targets=("nose",), areas=AREAS, fills=("blackout",), candidates=8, rounds=3, seed=0)
    crops, joints, area = planted_inputs()
    model = PlantedModel()
    table = search_targets(model, crops, joints, area, COCO, cfg, progress=False)
    planted = 64 / person_area(SIZE, SIZE)  # 0.0244: the smallest grid area that can cover the block is 0.04
    smallest = min(a for a in AREAS if a > planted)
    assert smallest == 0.04
    assert set(table["breaking_area"]) <= {smallest, AREAS[AREAS.index(smallest) + 1]}
    assert (table["queries"] < cfg.budget()).all() and cfg.budget() == 3 * (8 + 4 + 2)
    assert model.crops == len(crops) + table["queries"].sum()  # the clean pass, then exactly the counted queries
    assert (table["fill"] == "blackout").all() and (table["clean_oks"] > 0.5).all()
    again = search_targets(PlantedModel(), crops, joints, area, COCO, cfg, progress=False)
    pd.testing.assert_frame_equal(table, again)


def test_an_unbreakable_target_spends_exactly_the_budget_and_a_broken_one_nothing():
    cfg = WorstCaseConfig(targets=("nose", "left_eye"), areas=AREAS, fills=("blackout", "object"), candidates=4,
                          rounds=2)
    crops, joints, area = planted_inputs(3)
    joints[:, 1, :2] = 5.0  # left eye predicted at (32, 32), 27 px off: broken before any occluder

    def robust(c: torch.Tensor) -> np.ndarray:
        return np.full((len(c), 17, 2), 32.0)

    table = search_targets(robust, crops, joints, area, COCO, cfg, bank=procedural_bank(0, 6), progress=False)
    nose, eye = table[table.target == "nose"], table[table.target == "left_eye"]
    assert nose["breaking_area"].isna().all() and (nose["queries"] == cfg.budget()).all()
    assert (eye["breaking_area"] == 0.0).all() and (eye["queries"] == 0).all()
    joints[1, 0, 2] = 0  # an unlabelled nose: no row
    table = search_targets(robust, crops, joints, area, COCO, cfg, bank=procedural_bank(0, 6), progress=False)
    assert list(table[table.target == "nose"]["person"]) == [0, 2]
    with pytest.raises(ValueError, match="no occluder bank"):
        search_targets(robust, crops, joints, area, COCO, cfg, progress=False)


def test_part_targets_score_the_mean_oks_of_their_keypoints():
    crops, joints, area = planted_inputs(2)
    joints[:, COCO.index("left_wrist"), :2] = (20.0, 40.0)
    cfg = WorstCaseConfig(targets=("left_arm",), areas=(0.1, 0.2), fills=("blackout",), candidates=2, rounds=1)
    table = search_targets(lambda c: np.full((len(c), 17, 2), 32.0), crops, joints, area, COCO, cfg, progress=False)
    oks = keypoint_oks(np.full((1, 17, 2), 32.0), joints[:1, :, :2], area[:1], COCO.sigmas)[0]
    arm = [COCO.index(n) for n in ("left_shoulder", "left_elbow", "left_wrist")]
    assert table["clean_oks"].tolist() == pytest.approx([oks[arm].mean()] * 2)


def test_curves_and_summary_are_exact_on_a_hand_made_table():
    cfg = WorstCaseConfig(areas=(0.01, 0.1), candidates=2, rounds=1)
    table = pd.DataFrame({"target": ["nose"] * 4, "breaking_area": [0.0, 0.01, 0.1, math.nan],
                          "queries": [0, 2, 4, 4]})
    curves = worstcase_curves(table, cfg.areas)
    assert curves["fraction_broken"].tolist() == [0.5, 0.75]
    summary = worstcase_summary(table, cfg).iloc[0]
    assert summary["median_breaking_area"] == pytest.approx(0.055)
    assert summary["broken_clean"] == 0.25 and summary["broken_at_max"] == 0.75
    assert summary["mean_queries"] == 2.5 and summary["max_queries"] == 4 and summary["budget"] == 2 * 2
    table.loc[1:2, "breaking_area"] = math.nan  # most never break: the median lies above the grid
    assert math.isnan(worstcase_summary(table, cfg).iloc[0]["median_breaking_area"])


def test_config_is_validated_with_its_key_path():
    with pytest.raises(ConfigError, match=r"worstcase\.areas"):
        from_dict(WorstCaseConfig, {"areas": [0.1, 0.05]}, "worstcase")
    with pytest.raises(ConfigError, match=r"worstcase\.fills"):
        from_dict(WorstCaseConfig, {"fills": ["paint"]}, "worstcase")
