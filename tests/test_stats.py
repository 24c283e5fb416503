"""Bootstrap AP against pycocotools, paired draws, planted differences, PCKh, Holm and seed summaries."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from occlusion import stats
from occlusion.keypoints import COCO as SKELETON
from occlusion.keypoints import MPII
from occlusion.stats import (
    METRICS,
    bootstrap_ap,
    bootstrap_pckh,
    holm,
    match_table,
    metric_from_weights,
    paired_bootstrap_ap,
    resample_indices,
    seed_summary,
)

N_IMAGES = 30
EMPTY_IMAGE = 7
"""Image id with no person; it gets one false-positive detection."""
AREAS = ("all", "medium", "large")


def _coco(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = copy.deepcopy(dataset)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _make_gt(seed: int = 0) -> dict:
    """30 images with 1-3 persons each (one empty image, one person with no labelled keypoint), medium and large."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for img_id in range(1, N_IMAGES + 1):
        images.append({"id": img_id, "width": 640, "height": 480, "file_name": f"{img_id:03d}.jpg"})
        for _ in range(0 if img_id == EMPTY_IMAGE else rng.integers(1, 4)):
            w, h = rng.uniform(30, 200), rng.uniform(60, 300)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            xs, ys = rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17)
            v = rng.choice([0, 1, 2], size=17, p=[0.2, 0.3, 0.5])
            if len(anns) == 4:
                v[:] = 0
            kps = np.stack([np.where(v > 0, xs, 0), np.where(v > 0, ys, 0), v], axis=1)
            anns.append({
                "id": len(anns) + 1, "image_id": img_id, "category_id": 1, "iscrowd": 0,
                "bbox": [x, y, w, h], "area": 0.7 * w * h, "num_keypoints": int((v > 0).sum()),
                "keypoints": kps.ravel().tolist(),
            })  # fmt: skip
    categories = [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(SKELETON.names)}]
    return {"images": images, "annotations": anns, "categories": categories}


def _make_results(gt: dict, seed: int, noise: float = 0.04, tied_scores: bool = False) -> list[dict]:
    """Noisy copies of most GT persons plus false positives; ``tied_scores`` repeats scores across images only."""
    rng = np.random.default_rng(seed)
    by_image: dict[int, list[np.ndarray]] = {img["id"]: [] for img in gt["images"]}
    for ann in gt["annotations"]:
        if rng.uniform() < 0.85:
            kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3).copy()
            x, y, w, h = ann["bbox"]
            missing = kps[:, 2] == 0
            kps[missing, 0] = rng.uniform(x, x + w, missing.sum())
            kps[missing, 1] = rng.uniform(y, y + h, missing.sum())
            kps[:, :2] += rng.normal(0, noise * rng.uniform(0.2, 2.0) * math.sqrt(ann["area"]), (17, 2))
            by_image[ann["image_id"]].append(kps)
    for img_id in by_image:
        for _ in range(1 if img_id == EMPTY_IMAGE else rng.integers(0, 3)):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            by_image[img_id].append(np.stack([rng.uniform(x, x + 140, 17), rng.uniform(y, y + 130, 17)], axis=1))
    results = []
    for img_id, dets in by_image.items():
        if tied_scores:
            scores = rng.choice(np.linspace(0.1, 0.9, 9), len(dets), replace=False)
        else:
            scores = rng.uniform(size=len(dets))
        for kps, score in zip(dets, scores):
            kps = np.concatenate([kps[:, :2], np.ones((17, 1))], axis=1)
            results.append(
                {"image_id": img_id, "category_id": 1, "keypoints": kps.ravel().tolist(), "score": float(score)}
            )
    rng.shuffle(results)
    return results


def _pycoco_stats(gt: dict, results: list[dict]) -> np.ndarray:
    coco = _coco(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats)


def _fast_stats(gt: dict, results: list[dict], weights: np.ndarray) -> np.ndarray:
    """The ten pycocotools numbers from :func:`metric_from_weights`, one match table per area range."""
    tables = {area: match_table(_coco(gt), results, metric=m) for area, m in zip(AREAS, ("AP", "APM", "APL"))}
    return np.array([metric_from_weights(tables[stats._metric_spec(m)[2]], weights, m)[0] for m in METRICS])


def _duplicated(gt: dict, results: list[dict], indices: np.ndarray) -> tuple[dict, list[dict]]:
    """The resampled dataset: image ``i`` repeated as often as drawn, copies adjacent, in original image order."""
    images, anns, dets = [], [], []
    for new_id, i in enumerate(np.sort(indices), start=1):
        old_id = gt["images"][i]["id"]
        images.append({**gt["images"][i], "id": new_id})
        for ann in gt["annotations"]:
            if ann["image_id"] == old_id:
                anns.append({**ann, "id": len(anns) + 1, "image_id": new_id})
        dets += [{**r, "image_id": new_id} for r in results if r["image_id"] == old_id]
    return {**gt, "images": images, "annotations": anns}, dets


@pytest.fixture(scope="module")
def gt() -> dict:
    return _make_gt()


@pytest.mark.parametrize("seed, noise, tied", [(1, 0.02, False), (2, 0.05, False), (3, 0.03, True), (4, 0.08, True)])
def test_full_set_equals_pycocotools(gt, seed, noise, tied):
    results = _make_results(gt, seed, noise=noise, tied_scores=tied)
    expected = _pycoco_stats(gt, results)
    assert (expected[[3, 4]] > 0).all() and (expected > -1).all()  # medium and large both populated
    np.testing.assert_allclose(_fast_stats(gt, results, np.ones((1, N_IMAGES), int)), expected, rtol=0, atol=1e-12)


def test_resamples_equal_pycocotools_on_duplicated_images(gt):
    rng = np.random.default_rng(5)
    draws = [rng.integers(0, N_IMAGES, N_IMAGES) for _ in range(3)] + [np.full(N_IMAGES, EMPTY_IMAGE - 1)]
    for results in (_make_results(gt, 11, noise=0.03), _make_results(gt, 12, noise=0.06, tied_scores=True)):
        for idx in draws:
            weights = np.bincount(idx, minlength=N_IMAGES)[None]
            expected = _pycoco_stats(*_duplicated(gt, results, idx))
            np.testing.assert_allclose(_fast_stats(gt, results, weights), expected, rtol=0, atol=1e-9)
    assert (_pycoco_stats(*_duplicated(gt, results, draws[-1])) == -1).all()  # no GT at all: pycocotools' -1


def test_real_coco_val_sample(shared_data):
    """Real GT (crowd and zero-keypoint persons): full set and one resample equal pycocotools."""
    real = json.loads((shared_data / "coco_mini/annotations/person_keypoints_val2017.json").read_text())
    real["images"].sort(key=lambda img: img["id"])  # resampling units are in sorted-id order
    results = _make_results(real, 71, noise=0.03)
    n = len(real["images"])
    expected = _pycoco_stats(real, results)
    assert (expected > 0).all()
    np.testing.assert_allclose(_fast_stats(real, results, np.ones((1, n), int)), expected, rtol=0, atol=1e-12)
    idx = np.random.default_rng(8).integers(0, n, n)
    expected = _pycoco_stats(*_duplicated(real, results, idx))
    weights = np.bincount(idx, minlength=n)[None]
    np.testing.assert_allclose(_fast_stats(real, results, weights), expected, rtol=0, atol=1e-9)


def test_model_against_itself_is_exactly_zero(gt):
    results = _make_results(gt, 21)
    res = paired_bootstrap_ap(_coco(gt), results, results, n_resamples=100, seed=3)
    assert res.a == res.b == pytest.approx(_pycoco_stats(gt, results)[0], abs=1e-12)
    assert (res.diff, res.ci_low, res.ci_high, res.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert res.n_resamples == len(res.samples) == 100 and not res.samples.any()


def test_planted_difference_is_found(gt):
    perfect = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 0.5 + i / 1000}
        for i, a in enumerate(gt["annotations"])
    ]
    noisy = _make_results(gt, 31, noise=0.3)
    res = paired_bootstrap_ap(_coco(gt), noisy, perfect, n_resamples=200, seed=0)
    assert res.b > 0.95 and res.diff == res.b - res.a and res.ci_low > 0.2
    # every resampled difference is positive: p = 0, i.e. p < 1 / B
    assert (res.samples > 0).all() and res.p_value == 0.0


def test_paired_draws_seed_contract_and_chunking(gt, monkeypatch):
    ra, rb = _make_results(gt, 41, noise=0.04), _make_results(gt, 42, noise=0.04)
    res = paired_bootstrap_ap(_coco(gt), ra, rb, n_resamples=40, seed=7, metric="AP75")
    idx = resample_indices(N_IMAGES, 40, seed=7)
    weights = np.stack([np.bincount(row, minlength=N_IMAGES) for row in idx])
    ta, tb = (match_table(_coco(gt), r, metric="AP75") for r in (ra, rb))
    expected = metric_from_weights(tb, weights, "AP75") - metric_from_weights(ta, weights, "AP75")
    np.testing.assert_array_equal(res.samples, expected)
    assert (res.ci_low, res.ci_high) == tuple(np.quantile(expected, [0.025, 0.975]))
    assert 0 < res.p_value == 2 * min((expected <= 0).sum(), (expected >= 0).sum()) / 40 < 1
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 1)  # one resample per chunk: same draws, same values
    np.testing.assert_array_equal(
        paired_bootstrap_ap(_coco(gt), ra, rb, n_resamples=40, seed=7, metric="AP75").samples, expected
    )


def test_bootstrap_ap_single_model(gt):
    results = _make_results(gt, 51)
    res = bootstrap_ap(_coco(gt), results, n_resamples=30, seed=2, metric="AR", alpha=0.1)
    assert res.value == pytest.approx(_pycoco_stats(gt, results)[5], abs=1e-12)
    weights = np.stack([np.bincount(row, minlength=N_IMAGES) for row in resample_indices(N_IMAGES, 30, 2)])
    table = match_table(_coco(gt), results, metric="AR")
    np.testing.assert_array_equal(res.samples, metric_from_weights(table, weights, "AR"))
    assert (res.ci_low, res.ci_high) == tuple(np.quantile(res.samples, [0.05, 0.95])) and res.ci_low < res.ci_high


def test_image_subset_and_errors(gt):
    results = _make_results(gt, 61)
    subset = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    table = match_table(_coco(gt), results, image_ids=subset)
    coco = _coco(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), iouType="keypoints")
        ev.params.imgIds = subset
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert metric_from_weights(table, np.ones((1, 10), int))[0] == pytest.approx(ev.stats[0], abs=1e-12)
    with pytest.raises(ValueError, match="allowed: AP, AP50"):
        match_table(_coco(gt), results, metric="mAP")
    with pytest.raises(ValueError, match="area range 'medium'"):
        metric_from_weights(table, np.ones((1, 10), int), "APM")
    with pytest.raises(ValueError, match=r"shape \(B, 10\)"):
        metric_from_weights(table, np.ones((1, 9), int))
    with pytest.raises(ValueError, match="unknown: \\[999\\]"):
        match_table(_coco(gt), results, image_ids=[1, 999])


def test_bootstrap_pckh_hand_case():
    # 3 persons x 4 joints; joint 3 is masked out. Visible (in mask): 3 + 2 + 1 = 6 joints.
    visible = np.array([[1, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0]], bool)
    correct_a = np.array([[1, 0, 1, 1], [1, 1, 0, 1], [0, 0, 1, 1]], bool)  # hits 2 + 1 + 1 = 4 -> 66.67 %
    correct_b = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0]], bool)  # hits 3 + 2 + 0 = 5 -> 83.33 %
    mask = [True, True, True, False]
    res = bootstrap_pckh(correct_a, correct_b, visible, joint_mask=mask, n_resamples=50, seed=4)
    assert res.a == pytest.approx(400 / 6) and res.b == pytest.approx(500 / 6) and res.diff == pytest.approx(100 / 6)
    # resampled persons: [hits_a, hits_b, visible] per person = [2, 3, 3], [1, 2, 2], [1, 0, 1]
    per_person = np.array([[2, 3, 3], [1, 2, 2], [1, 0, 1]])
    totals = per_person[resample_indices(3, 50, 4)].sum(axis=1)
    np.testing.assert_allclose(res.samples, 100 * (totals[:, 1] - totals[:, 0]) / totals[:, 2], rtol=0, atol=1e-12)
    assert res.ci_low <= res.diff <= res.ci_high and res.metric == "PCKh"


def test_bootstrap_pckh_default_mpii_mask_ignores_pelvis_and_thorax():
    rng = np.random.default_rng(0)
    visible = rng.uniform(size=(20, 16)) < 0.8
    correct_a = rng.uniform(size=(20, 16)) < 0.7
    correct_b = correct_a.copy()
    correct_b[:, [MPII.index("pelvis"), MPII.index("thorax")]] ^= True
    res = bootstrap_pckh(correct_a, correct_b, visible, n_resamples=20)
    assert res.diff == 0 and res.p_value == 1 and (res.ci_low, res.ci_high) == (0, 0)
    with pytest.raises(ValueError, match="K = 16"):
        bootstrap_pckh(correct_a[:, :4], correct_b[:, :4], visible[:, :4])


def test_holm_known_values():
    # sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> running max 0.06)
    adjusted, reject = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02], rtol=0, atol=1e-15)
    assert reject.tolist() == [True, False, False, True]
    # capped at 1: 0.6 x 2 = 1.2 -> 1, then max(1, 0.7) = 1
    np.testing.assert_array_equal(holm([0.7, 0.6])[0], [1.0, 1.0])
    with pytest.raises(ValueError, match="probabilities"):
        holm([0.5, 1.5])


def test_seed_summary():
    mean, std = seed_summary([74.3, 74.5, 74.4])
    assert mean == pytest.approx(74.4) and std == pytest.approx(0.1)
    mean, std = seed_summary([74.3])
    assert mean == 74.3 and math.isnan(std)


def test_mean_interval_equals_a_slow_per_resample_recomputation(gt):
    """Three attacks and a clean pass on 30 images: the interval of the mean ΔAP over the attacks from the paired
    resampled APs equals recomputing every resample with pycocotools on the duplicated images."""
    clean = _make_results(gt, 81, noise=0.03)
    attacked = [_make_results(gt, 82 + i, noise=0.03 + 0.03 * i) for i in range(3)]
    n_resamples, seed = 12, 5
    weights = stats.resample_weights(N_IMAGES, n_resamples, seed)
    draws = resample_indices(N_IMAGES, n_resamples, seed)
    np.testing.assert_array_equal(weights, [np.bincount(row, minlength=N_IMAGES) for row in draws])

    def resampled(results):
        return metric_from_weights(match_table(_coco(gt), results), weights)

    low, high, p = stats.mean_interval(np.stack([resampled(a) - resampled(clean) for a in attacked]))
    means = []
    for idx in draws:
        clean_ap = _pycoco_stats(*_duplicated(gt, clean, idx))[0]
        means.append(np.mean([_pycoco_stats(*_duplicated(gt, a, idx))[0] - clean_ap for a in attacked]))
    means = np.array(means)
    assert (low, high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])), abs=1e-12)
    assert p == 2 * min((means <= 0).sum(), (means >= 0).sum()) / n_resamples
    assert low < high < 0  # more noise than the clean pass in every draw


def test_mean_interval_of_one_item_and_edge_cases():
    d = np.array([-3.0, -1.0, 0.0, 2.0, -2.0, -4.0, -1.5, -0.5])
    low, high, p = stats.mean_interval(d, alpha=0.5)
    assert (low, high) == tuple(np.quantile(d, [0.25, 0.75])) and p == 2 * 2 / 8  # #{d >= 0} = 2
    assert stats.mean_interval(np.stack([d, d + 1.0]), alpha=0.5)[:2] == tuple(np.quantile(d + 0.5, [0.25, 0.75]))
    assert all(math.isnan(v) for v in stats.mean_interval(np.zeros((3, 0))))  # no resamples
    with pytest.raises(ValueError, match="non-empty"):
        stats.mean_interval(np.zeros((0, 5)))
    with pytest.raises(ValueError, match="level"):
        stats.mean_interval(d, alpha=1.0)
    assert stats.resample_weights(4, 0).shape == (0, 4)


def test_match_table_of_an_evaluation_equals_match_table(gt):
    from occlusion.evaluate import coco_keypoint_evaluator

    results = _make_results(gt, 91)
    overall, evaluator = coco_keypoint_evaluator(_coco(gt), results)
    assert overall["AP"] == pytest.approx(_pycoco_stats(gt, results)[0], abs=1e-12)
    for metric in ("AP", "APM"):
        a, b = stats.match_table_of(evaluator, metric), match_table(_coco(gt), results, metric=metric)
        for name in ("image_ids", "num_gt", "det_image", "tp", "fp"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    with pytest.raises(ValueError, match="not been evaluated"):
        stats.match_table_of(COCOeval(_coco(gt), _coco(gt).loadRes(copy.deepcopy(results)), iouType="keypoints"))
