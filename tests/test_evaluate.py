"""Tests of occlusion.evaluate: decoding, flip test, OKS-NMS, rescoring, COCO / per-keypoint AP, PCKh."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from occlusion.evaluate import (
    STAT_NAMES,
    coco_keypoint_eval,
    flip_back,
    get_final_preds,
    get_max_preds,
    oks_iou,
    oks_nms,
    pckh,
    per_keypoint_ap,
    per_keypoint_table,
    predict_heatmaps,
    to_coco_results,
)
from occlusion.keypoints import COCO as COCO_SKELETON
from occlusion.keypoints import MPII


# --------------------------------------------------------------------------------------------- decoding
def _identity_box(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre/scale whose inverse affine is the identity on a W x H heatmap (pixel_std 200)."""
    return np.array([[w / 2, h / 2]]), np.array([[w / 200, h / 200]])


def test_get_max_preds_peaks_and_nonpositive_maps():
    hm = np.zeros((2, 3, 6, 7), np.float32)
    hm[0, 0, 2, 5] = 0.7
    hm[0, 1, 4, 1] = 0.3
    hm[1, 0] = -1.0
    hm[1, 0, 3, 3] = -0.5  # argmax exists but is not positive: coords become (0, 0)
    coords, maxvals = get_max_preds(hm)
    assert coords.dtype == np.float32 and coords.shape == (2, 3, 2) and maxvals.shape == (2, 3, 1)
    np.testing.assert_array_equal(coords[0, 0], [5, 2])
    np.testing.assert_array_equal(coords[0, 1], [1, 4])
    np.testing.assert_array_equal(coords[1, 0], [0, 0])
    np.testing.assert_array_equal(coords[0, 2], [0, 0])  # all-zero map
    np.testing.assert_allclose(maxvals[:, :, 0], [[0.7, 0.3, 0.0], [-0.5, 0.0, 0.0]])


@pytest.mark.parametrize(
    ("neighbour", "shift"),
    [((1, 0), (0.25, 0.0)), ((-1, 0), (-0.25, 0.0)), ((0, 1), (0.0, 0.25)), ((0, -1), (0.0, -0.25))],
)
def test_quarter_offset_toward_higher_neighbour(neighbour, shift):
    w, h = 16, 12
    hm = np.zeros((1, 1, h, w), np.float32)
    x, y = 6, 5
    hm[0, 0, y, x] = 1.0
    hm[0, 0, y + neighbour[1], x + neighbour[0]] = 0.6
    center, scale = _identity_box(w, h)
    preds, maxvals = get_final_preds(hm, center, scale)
    np.testing.assert_allclose(preds[0, 0], [x + shift[0], y + shift[1]], atol=1e-5)
    assert maxvals[0, 0, 0] == pytest.approx(1.0)
    raw, _ = get_final_preds(hm, center, scale, post_process=False)
    np.testing.assert_allclose(raw[0, 0], [x, y], atol=1e-5)


@pytest.mark.parametrize(("x", "y"), [(0, 5), (1, 5), (15, 5), (14, 5), (6, 0), (6, 1), (6, 11), (6, 10)])
def test_offset_only_away_from_border(x, y):
    """HRNet shifts only when 1 < x < W-1 and 1 < y < H-1, so rows/columns 0, 1 and the last get no offset."""
    w, h = 16, 12
    hm = np.zeros((1, 1, h, w), np.float32)
    hm[0, 0, y, x] = 1.0
    for dx, dy in [(1, 0), (0, 1)]:  # a higher neighbour on the positive side, where one exists
        if x + dx < w and y + dy < h:
            hm[0, 0, y + dy, x + dx] = 0.5
    center, scale = _identity_box(w, h)
    preds, _ = get_final_preds(hm, center, scale)
    inside = 1 < x < w - 1 and 1 < y < h - 1
    expected = [x + 0.25, y + 0.25] if inside else [x, y]
    np.testing.assert_allclose(preds[0, 0], expected, atol=1e-5)


def test_interior_neighbour_of_border_row_is_shifted():
    hm = np.zeros((1, 1, 12, 16), np.float32)
    hm[0, 0, 2, 2] = 1.0
    hm[0, 0, 2, 1] = 0.5  # left higher than right, up higher than down
    hm[0, 0, 1, 2] = 0.5
    preds, _ = get_final_preds(hm, *_identity_box(16, 12))
    np.testing.assert_allclose(preds[0, 0], [1.75, 1.75], atol=1e-5)


def test_get_final_preds_maps_back_through_center_and_scale():
    """Box 240x320 px (scale 1.2 x 1.6) on a 48x64 heatmap: 5 image px per heatmap px around the box centre."""
    hm = np.zeros((2, 2, 64, 48), np.float32)
    hm[0, 0, 40, 10] = 1.0
    hm[0, 0, 40, 11] = 0.5  # +0.25 in x
    hm[0, 1, 0, 47] = 0.9
    hm[1, 0, 32, 24] = 0.8
    hm[1, 1, 5, 7] = 0.4
    centers = np.array([[100.0, 50.0], [300.0, 200.0]])
    scales = np.array([[1.2, 1.6], [0.48, 0.64]])  # second box: 96x128 px, 2 px per heatmap px
    preds, maxvals = get_final_preds(hm, centers, scales)
    expected = np.array(
        [
            [[100 + (10.25 - 24) * 5, 50 + (40 - 32) * 5], [100 + (47 - 24) * 5, 50 + (0 - 32) * 5]],
            [[300.0, 200.0], [300 + (7 - 24) * 2, 200 + (5 - 32) * 2]],
        ]
    )
    assert preds.dtype == np.float32
    np.testing.assert_allclose(preds, expected, atol=1e-4)
    np.testing.assert_allclose(maxvals[..., 0], [[1.0, 0.9], [0.8, 0.4]])
    # pixel_std only rescales the box
    again, _ = get_final_preds(hm, centers, scales * 2, pixel_std=100.0)
    np.testing.assert_allclose(again, preds, atol=1e-4)


# --------------------------------------------------------------------------------------------- flip test
def test_flip_back_mirrors_and_swaps_pairs():
    x = torch.arange(2 * 3 * 2 * 4, dtype=torch.float32).reshape(2, 3, 2, 4)
    out = flip_back(x, [(0, 2)])
    torch.testing.assert_close(out[:, 0], x[:, 2].flip(-1))
    torch.testing.assert_close(out[:, 1], x[:, 1].flip(-1))
    torch.testing.assert_close(out[:, 2], x[:, 0].flip(-1))
    assert out[0, 0, 1].tolist() == [23.0, 22.0, 21.0, 20.0]


_PAIRS = ((1, 2), (3, 4))


def _mirror_equivariant_model() -> torch.nn.Conv2d:
    """A stride-1 conv with model(flip(x)) == flip_back(model(x)): pair kernels are mirrors, the rest symmetric."""
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 5, kernel_size=3, padding=1, bias=False)
    w = torch.randn(5, 3, 3, 3, generator=gen)
    w[0] = (w[0] + w[0].flip(-1)) / 2
    w[2] = w[1].flip(-1)
    w[4] = w[3].flip(-1)
    with torch.no_grad():
        conv.weight.copy_(w)
    return conv.double().eval()


def test_flip_test_with_equivariant_model_matches_plain_and_shift_is_one_pixel_right():
    model = _mirror_equivariant_model()
    images = torch.randn(2, 3, 8, 10, generator=torch.Generator().manual_seed(1))  # float32; the model is float64
    plain = predict_heatmaps(model, images, _PAIRS, flip_test=False)
    assert plain.dtype == torch.float32 and plain.shape == (2, 5, 8, 10)
    torch.testing.assert_close(plain, model(images.double()).detach().float())
    flipped = predict_heatmaps(model, images, _PAIRS, shift_heatmap=False)
    torch.testing.assert_close(flipped, plain, atol=1e-6, rtol=0)
    # the same test fails if the pairs are not swapped back (pair kernels are not symmetric)
    assert not torch.allclose(predict_heatmaps(model, images, (), shift_heatmap=False), plain, atol=1e-3)
    # SHIFT_HEATMAP moves the flipped half right by one column; column 0 keeps its value
    shifted = predict_heatmaps(model, images, _PAIRS)
    moved = torch.cat([plain[..., :1], plain[..., :-1]], dim=-1)
    torch.testing.assert_close(shifted, (plain + moved) / 2, atol=1e-6, rtol=0)


def test_shift_heatmap_compensates_stride_two_misalignment():
    """Two stride-2 convs (k3, pad 1) centre heatmap column j on input pixel 4j; the flipped pass centres it on 4j+3.

    On a ramp image I(x) = x the plain heatmap reads 4j, the flipped-back one 4j+3 (0.75 heatmap px off), and the
    one-pixel right shift turns it into 4j-1 (0.25 px off), so the averaged flip test lands closer to 4j.
    """
    conv1 = torch.nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)
    conv2 = torch.nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)
    kernel = torch.tensor([[0.0, 0.0, 0.0], [0.25, 0.5, 0.25], [0.0, 0.0, 0.0]]).view(1, 1, 3, 3)
    with torch.no_grad():
        conv1.weight.copy_(kernel)
        conv2.weight.copy_(kernel)
    model = torch.nn.Sequential(conv1, conv2).eval()
    ramp = torch.arange(32, dtype=torch.float32).expand(1, 1, 8, 32).clone()
    j = torch.arange(2, 7, dtype=torch.float32)  # interior columns, away from the zero padding
    plain = predict_heatmaps(model, ramp, (), flip_test=False)[0, 0, 0, 2:7]
    no_shift = predict_heatmaps(model, ramp, (), shift_heatmap=False)[0, 0, 0, 2:7]
    shifted = predict_heatmaps(model, ramp, ())[0, 0, 0, 2:7]
    torch.testing.assert_close(plain, 4 * j)
    torch.testing.assert_close(no_shift, 4 * j + 1.5)
    torch.testing.assert_close(shifted, 4 * j - 0.5)


def test_predict_heatmaps_autocast_returns_float32():
    model = _mirror_equivariant_model().float()
    images = torch.randn(1, 3, 8, 10, generator=torch.Generator().manual_seed(2))
    ref = predict_heatmaps(model, images, _PAIRS)
    low = predict_heatmaps(model, images, _PAIRS, autocast_dtype=torch.bfloat16)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, ref, atol=0.1, rtol=0.05)
    assert not torch.equal(low, ref)  # it really ran in bfloat16


# --------------------------------------------------------------------------------------------- OKS and NMS
def _brute_oks(a: np.ndarray, b: np.ndarray, area_a: float, area_b: float, sigmas, in_vis_thre) -> float:
    terms = []
    for j, sigma in enumerate(sigmas):
        if in_vis_thre is not None and not (a[j, 2] > in_vis_thre and b[j, 2] > in_vis_thre):
            continue
        d2 = (a[j, 0] - b[j, 0]) ** 2 + (a[j, 1] - b[j, 1]) ** 2
        s = (area_a + area_b) / 2 + np.spacing(1)
        terms.append(math.exp(-d2 / (2 * sigma) ** 2 / s / 2))
    return sum(terms) / len(terms) if terms else 0.0


def _brute_nms(kpts, scores, areas, thr, sigmas, in_vis_thre) -> list[int]:
    keep: list[int] = []
    for i in sorted(range(len(scores)), key=lambda i: (-scores[i], i)):
        if all(_brute_oks(kpts[j], kpts[i], areas[j], areas[i], sigmas, in_vis_thre) <= thr for j in keep):
            keep.append(i)
    return keep


def _random_poses(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    base = rng.uniform(0, 200, size=(3, k, 2))
    kpts = np.empty((n, k, 3))
    kpts[..., :2] = base[rng.integers(0, 3, n)] + rng.normal(size=(n, k, 2)) * rng.uniform(0.2, 8, (n, 1, 1))
    kpts[..., 2] = rng.uniform(0, 1, (n, k))
    scores = rng.integers(0, 6, n) / 5.0  # ties on purpose
    areas = rng.uniform(500, 5000, n)
    return kpts, scores, areas


@pytest.mark.parametrize("in_vis_thre", [None, 0.3])
def test_oks_iou_against_scalar_loop(in_vis_thre):
    rng = np.random.default_rng(3)
    kpts, _, areas = _random_poses(rng, 6, 17)
    ious = oks_iou(kpts[0].ravel(), kpts[1:].reshape(5, -1), areas[0], areas[1:], in_vis_thre=in_vis_thre)
    sig = COCO_SKELETON.sigmas
    expected = [_brute_oks(kpts[0], kpts[i], areas[0], areas[i], sig, in_vis_thre) for i in range(1, 6)]
    np.testing.assert_allclose(ious, expected, rtol=1e-12)


def test_oks_nms_against_brute_force():
    suppressed = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        k = 17 if seed % 2 else 5
        sigmas = COCO_SKELETON.sigmas if k == 17 else rng.uniform(0.03, 0.1, k)
        kpts, scores, areas = _random_poses(rng, 14, k)
        for thr in (0.9, 0.5):
            for vis in (None, 0.2):
                keep = oks_nms(kpts, scores, areas, thr, sigmas=sigmas, in_vis_thre=vis)
                assert keep == _brute_nms(kpts, scores, areas, thr, sigmas, vis)
                suppressed += 14 - len(keep)
    assert suppressed > 50  # the random cases do exercise suppression
    assert oks_nms(np.zeros((0, 17, 3)), np.zeros(0), np.zeros(0)) == []


def test_to_coco_results_rescoring_nms_and_order():
    k = 17
    pose = np.stack([np.linspace(100, 180, k), np.linspace(50, 250, k)], axis=-1)
    preds = np.stack([pose + 40.0, pose, pose + 0.5, pose + 300.0])
    maxvals = np.zeros((4, k, 1))
    maxvals[0, :4, 0] = [0.9, 0.1, 0.5, 0.2]  # joints above 0.2: 0.9 and 0.5 -> mean 0.7
    maxvals[1, :, 0] = 0.6
    maxvals[2, :, 0] = 0.6
    maxvals[3, :3, 0] = [0.2, 0.15, 0.0]  # none above 0.2 -> score 0
    centers = np.array([[140.0, 150.0]] * 4)
    scales = np.array([[1.0, 1.5]] * 4)  # area 200*300
    box_scores = np.array([0.8, 0.9, 0.5, 1.0])
    image_ids = [7, 7, 7, 3]
    res = to_coco_results(preds, maxvals, centers, scales, box_scores, image_ids)
    # image 3 first; in image 7 person 2 (half a pixel from person 1, lower score) is suppressed
    assert [r["image_id"] for r in res] == [3, 7, 7]
    assert [r["score"] for r in res] == pytest.approx([0.0, 0.8 * 0.7, 0.9 * 0.6])
    assert res[1]["keypoints"][:9] == pytest.approx([140.0, 90.0, 0.9, 145.0, 102.5, 0.1, 150.0, 115.0, 0.5])
    assert set(res[0]) == {"image_id", "category_id", "keypoints", "score"} and res[0]["category_id"] == 1
    assert all(type(v) is float for v in res[2]["keypoints"]) and len(res[2]["keypoints"]) == 3 * k
    json.dumps(res)
    no_nms = to_coco_results(preds, maxvals, centers, scales, box_scores, image_ids, oks_thre=1.0)
    assert [r["score"] for r in no_nms] == pytest.approx([0.0, 0.56, 0.54, 0.3])
    strict = to_coco_results(preds, maxvals, centers, scales, box_scores, image_ids, in_vis_thre=0.55)
    assert strict[1]["score"] == pytest.approx(0.8 * 0.9)


# --------------------------------------------------------------------------------------------- COCO AP
def _quiet_stats(gt_file: Path, res_file: Path, sigmas: np.ndarray | None = None) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        dt = gt.loadRes(str(res_file))
        ev = COCOeval(gt, dt, iouType="keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = sigmas
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.fixture(scope="module")
def coco_val(shared_data: Path) -> tuple[Path, dict]:
    path = shared_data / "coco_mini" / "annotations" / "person_keypoints_val2017.json"
    return path, json.loads(path.read_text())


def _perturbed_results(gt_json: dict, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    results = []
    for ann in gt_json["annotations"]:
        if ann["num_keypoints"] == 0 or rng.uniform() < 0.1:
            continue
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        kp[:, :2] += rng.normal(size=(17, 2)) * np.sqrt(ann["area"]) * rng.uniform(0.01, 0.15)
        kp[:, 2] = rng.uniform(0, 1, 17)
        results.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(),
                        "score": float(rng.uniform())})  # fmt: skip
        if rng.uniform() < 0.3:  # a false positive elsewhere in the image
            fp = kp.copy()
            fp[:, :2] += rng.uniform(-100, 100, 2)
            results.append({**results[-1], "keypoints": fp.ravel().tolist(), "score": float(rng.uniform())})
    return results


def test_ground_truth_fed_back_scores_one(coco_val):
    path, gt_json = coco_val
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in gt_json["annotations"]
        if a["num_keypoints"] > 0 and not a["iscrowd"]
    ]
    stats = coco_keypoint_eval(path, results)
    assert list(stats) == list(STAT_NAMES)
    assert stats == pytest.approx(dict.fromkeys(STAT_NAMES, 1.0))
    assert "id" not in results[0] and "area" not in results[0]  # loadRes worked on copies


def test_perturbed_predictions_match_pycocotools(coco_val, tmp_path):
    path, gt_json = coco_val
    results = _perturbed_results(gt_json)
    res_file = tmp_path / "results.json"
    res_file.write_text(json.dumps(results))
    expected = _quiet_stats(path, res_file)
    assert 0.1 < expected[0] < 0.95  # a non-trivial AP
    stats = coco_keypoint_eval(path, results)
    np.testing.assert_array_equal([stats[n] for n in STAT_NAMES], expected)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
    assert coco_keypoint_eval(gt, res_file) == stats  # COCO object and results path give the same


def test_empty_results_and_bad_results(coco_val, tmp_path):
    path, _ = coco_val
    assert coco_keypoint_eval(path, []) == dict.fromkeys(STAT_NAMES, 0.0)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert coco_keypoint_eval(path, empty) == dict.fromkeys(STAT_NAMES, 0.0)
    assert per_keypoint_ap(path, [], 3) == dict.fromkeys(STAT_NAMES, 0.0)
    good = {"image_id": 999999999, "category_id": 1, "keypoints": [1.0] * 51, "score": 1.0}
    with pytest.raises(ValueError, match="999999999"):
        coco_keypoint_eval(path, [good])
    with pytest.raises(ValueError, match="48 keypoint values"):
        coco_keypoint_eval(path, [{**good, "keypoints": [1.0] * 48}])
    with pytest.raises(ValueError, match="score"):
        coco_keypoint_eval(path, [{k: v for k, v in good.items() if k != "score"}])
    with pytest.raises(FileNotFoundError, match="nope.json"):
        coco_keypoint_eval(tmp_path / "nope.json", [])


def _only_keypoint_files(gt_json, results, k, tmp_path, *, keep_num_keypoints: bool) -> tuple[Path, Path]:
    """GT and DT json with every keypoint but k zeroed, for a plain COCOeval.

    To equal the subclass (zeroing after the standard _prepare): GTs keep their original ``num_keypoints``
    (the ignore flag) and area; DTs carry the ``bbox`` of their original keypoints, so that ``loadRes`` gives
    them the same area as it does for the unzeroed results (the DT area decides area-range ignores).
    """
    gt = copy.deepcopy(gt_json)
    for ann in gt["annotations"]:
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        only = np.zeros_like(kp)
        only[k] = kp[k]
        ann["keypoints"] = only.ravel().tolist()
        if not keep_num_keypoints:
            ann["num_keypoints"] = int((only[:, 2] > 0).sum())
    dts = []
    for res in results:
        kp = np.asarray(res["keypoints"], dtype=np.float64).reshape(-1, 3)
        only = np.zeros_like(kp)
        only[k] = kp[k]
        x0, y0, x1, y1 = kp[:, 0].min(), kp[:, 1].min(), kp[:, 0].max(), kp[:, 1].max()
        dts.append({**res, "keypoints": only.ravel().tolist(), "bbox": [x0, y0, x1 - x0, y1 - y0]})
    tag = f"{k}_{keep_num_keypoints}"
    gt_file, dt_file = tmp_path / f"gt_{tag}.json", tmp_path / f"dt_{tag}.json"
    gt_file.write_text(json.dumps(gt))
    dt_file.write_text(json.dumps(dts))
    return gt_file, dt_file


def test_per_keypoint_ap_equals_direct_computation(coco_val, tmp_path):
    path, gt_json = coco_val
    results = _perturbed_results(gt_json, seed=1)
    table = per_keypoint_table(path, results, COCO_SKELETON.names)
    assert list(table) == list(COCO_SKELETON.names)
    differs_from_naive = 0
    for k in (0, 9, 15):
        expected = _only_keypoint_files(gt_json, results, k, tmp_path, keep_num_keypoints=True)
        direct = _quiet_stats(*expected)
        ours = per_keypoint_ap(path, results, k)
        np.testing.assert_array_equal([ours[n] for n in STAT_NAMES], direct)
        assert table[COCO_SKELETON.names[k]] == ours
        # ignore flags from the recomputed num_keypoints (GTs without k ignored) would give other numbers
        naive = _quiet_stats(*_only_keypoint_files(gt_json, results, k, tmp_path, keep_num_keypoints=False))
        differs_from_naive += not np.allclose(naive, direct)
    assert differs_from_naive == 3
    overall = coco_keypoint_eval(path, results)
    assert table["nose"]["AP"] != overall["AP"]


def _tiny_gt(k: int) -> COCO:
    rng = np.random.default_rng(5)
    images = [{"id": i, "width": 400, "height": 400, "file_name": f"{i}.jpg"} for i in (1, 2)]
    anns = []
    for i in range(6):
        kp = np.concatenate([rng.uniform(50, 350, (k, 2)), np.full((k, 1), 2.0)], axis=1)
        kp[i % k] = 0  # one unlabelled joint each
        x0, y0 = kp[kp[:, 2] > 0, :2].min(0)
        x1, y1 = kp[kp[:, 2] > 0, :2].max(0)
        anns.append({"id": i + 1, "image_id": 1 + i % 2, "category_id": 1, "iscrowd": 0, "num_keypoints": k - 1,
                     "area": float((x1 - x0) * (y1 - y0)), "bbox": [float(x0), float(y0), float(x1 - x0),
                     float(y1 - y0)], "keypoints": kp.ravel().tolist()})  # fmt: skip
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def test_custom_sigmas_for_other_skeletons(tmp_path):
    k = 4
    gt = _tiny_gt(k)
    rng = np.random.default_rng(6)
    results = []
    for ann in gt.dataset["annotations"]:
        kp = np.asarray(ann["keypoints"]).reshape(-1, 3).copy()
        kp[:, :2] += rng.normal(size=(k, 2)) * 6
        results.append({"image_id": ann["image_id"], "category_id": 1, "keypoints": kp.ravel().tolist(),
                        "score": float(rng.uniform())})  # fmt: skip
    sigmas = np.array([0.05, 0.08, 0.1, 0.12])
    gt_file, res_file = tmp_path / "gt.json", tmp_path / "res.json"
    gt_file.write_text(json.dumps(gt.dataset))
    res_file.write_text(json.dumps(results))
    stats = coco_keypoint_eval(gt, results, sigmas=sigmas)
    np.testing.assert_array_equal([stats[n] for n in STAT_NAMES], _quiet_stats(gt_file, res_file, sigmas))
    assert 0 < stats["AP"] < 1
    assert set(per_keypoint_table(gt, results, ["a", "b", "c", "d"], sigmas=sigmas)) == {"a", "b", "c", "d"}
    with pytest.raises(ValueError, match="17 OKS sigmas given for 4 keypoints"):
        coco_keypoint_eval(gt, results)


# --------------------------------------------------------------------------------------------- PCKh
def test_pckh_hand_computed():
    names = MPII.names
    idx = {n: i for i, n in enumerate(names)}
    joints = np.random.default_rng(7).integers(0, 300, (3, 16, 2)).astype(float)  # exact differences
    preds = joints.copy()
    visible = np.ones((3, 16), bool)
    head_boxes = np.array([[0, 0, 30, 40], [10, 10, 40, 50], [5, 5, 35, 45]], float)  # head size 0.6*50 = 30
    preds[0, idx["head_top"]] += [9.0, 12.0]  # exactly 0.5 head size: counts
    preds[0, idx["left_wrist"]] += [0.0, 16.0]  # 0.533: miss
    preds[0, idx["pelvis"]] += 100.0  # pelvis and thorax are left out of Mean
    preds[1, idx["thorax"]] += 100.0
    preds[1, idx["right_knee"]] += 50.0
    preds[1, idx["left_ankle"]] += 50.0  # invisible: excluded
    visible[1, [idx["left_ankle"], idx["right_wrist"], idx["pelvis"]]] = False
    visible[2] = False
    visible[2, [idx["head_top"], idx["left_shoulder"], idx["right_shoulder"]]] = True
    preds[2, idx["right_shoulder"]] += [-20.0, 0.0]
    preds[2, idx["left_ankle"]] += 80.0  # invisible: excluded
    out = pckh(preds, joints, visible, head_boxes)
    assert out["Head"] == pytest.approx(100.0)
    assert out["Shoulder"] == pytest.approx(0.5 * (100 + 200 / 3))
    assert out["Elbow"] == pytest.approx(100.0)
    assert out["Wrist"] == pytest.approx(0.5 * (50 + 100))
    assert out["Hip"] == pytest.approx(100.0)
    assert out["Knee"] == pytest.approx(0.5 * (100 + 50))
    assert out["Ankle"] == pytest.approx(100.0)
    # 14 joints: 14 + 12 + 3 = 29 visible, 3 misses; weighted, not the mean of the joint rates
    assert out["Mean"] == pytest.approx(100 * 26 / 29)
    assert out["Mean@0.1"] == pytest.approx(100 * 25 / 29)  # the head_top at 0.5 now misses too
    loose = pckh(preds, joints, visible, head_boxes, threshold=0.6)
    assert loose["Wrist"] == pytest.approx(100.0) and loose["Mean"] == pytest.approx(100 * 27 / 29)
    with pytest.raises(ValueError, match="head_top"):
        pckh(preds, joints, visible, head_boxes, names=[n for n in names if n != "head_top"] + ["top"])
