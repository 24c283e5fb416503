"""Real occlusion (docs/METHODS.md §13): OCHuman / CrowdPose loaders and scoring on the real samples in
../shared/data, CrowdPose's difficulty split against xtcocotools, COCO's v=1/v=2 accuracy and overlap bins on
hand-made cases, the correlation and effective robustness on planted data, the generated stand-ins, bad input."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA

from occlusion.data import PersonRecord
from occlusion.keypoints import COCO, COCO_TO_CROWDPOSE, CROWDPOSE, get_skeleton
from occlusion.realocc.analysis import augmentation_tests, effective_robustness, spearman, spearman_interval
from occlusion.realocc.crowding import crowd_index, crowd_level, max_overlap, overlap_bin
from occlusion.realocc.datasets import (
    DatasetFormatError,
    check_annotation_file,
    load_real_detections,
    load_real_split,
)
from occlusion.realocc.scoring import (
    accuracy_by_visibility,
    ap_by_overlap,
    crowdpose_eval,
    crowdpose_level_table,
    keypoint_scores,
    person_overlap,
    to_crowdpose_results,
)
from occlusion.stats import metric_from_weights

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools / xtcocotools under numpy 2

OCHUMAN = SHARED_DATA / "ochuman_sample"
CROWDPOSE_DIR = SHARED_DATA / "crowdpose_sample"


def _need(folder: Path) -> Path:
    if not folder.is_dir():
        pytest.skip(f"real sample {folder.name} not found at {folder} (set OCCLUSION_SHARED_DATA)")
    return folder


def _gt_results(data: dict, k: int, jitter: float = 0.0, seed: int = 0) -> list[dict]:
    """Every labelled person's ground truth as a result (score 1 - 0.01 i), keypoints jittered by ``jitter`` px."""
    rng = np.random.default_rng(seed)
    out = []
    for i, a in enumerate(a for a in data["annotations"] if not a.get("iscrowd") and a.get("num_keypoints", 0)):
        kps = np.asarray(a["keypoints"], dtype=float).reshape(k, 3).copy()
        kps[:, :2] += rng.normal(0, jitter, (k, 2)) * (kps[:, 2:] > 0)
        kps[:, 2] = 1.0
        out.append({"image_id": a["image_id"], "category_id": 1, "keypoints": kps.ravel().tolist(),
                    "score": 1.0 - 0.01 * i})
    return out


def _xtcocotools():
    """xtcocotools' ``COCO`` and ``COCOeval``. Its 1.14.3 wheel's compiled mask module is built against numpy 1 and
    does not load under numpy 2; keypoint evaluation never calls it, so it is stood in for by a module whose every
    function raises (the reference code itself runs unchanged)."""
    import importlib.util
    import sys
    import types

    if importlib.util.find_spec("xtcocotools") is None:
        pytest.skip("xtcocotools (the reference for CrowdPose's AP) is not installed: pip install -e '.[test]'")
    try:
        import xtcocotools.mask  # noqa: F401
    except (ImportError, ValueError):
        for name in [m for m in sys.modules if m.startswith("xtcocotools")]:
            del sys.modules[name]
        stub = types.ModuleType("xtcocotools._mask")

        def unavailable(*args, **kwargs):
            raise RuntimeError("xtcocotools' compiled mask module is not loadable here")

        stub.__getattr__ = lambda name: unavailable
        sys.modules["xtcocotools._mask"] = stub
    from xtcocotools.coco import COCO as XCOCO
    from xtcocotools.cocoeval import COCOeval as XCOCOeval

    return XCOCO, XCOCOeval


def _xtcocotools_stats(gt_file: Path, results: list[dict]) -> np.ndarray:
    """xtcocotools' own keypoints_crowd summary, called directly (the reference)."""
    XCOCO, XCOCOeval = _xtcocotools()

    with contextlib.redirect_stdout(io.StringIO()):
        gt = XCOCO(str(gt_file))
        ev = XCOCOeval(gt, gt.loadRes(json.loads(json.dumps(results))), "keypoints_crowd", CROWDPOSE.sigmas,
                       use_area=False)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats) * 100.0


# ------------------------------------------------------------------------------------------------ skeletons


def test_crowdpose_skeleton_and_its_coco_correspondence():
    sk = get_skeleton("crowdpose")
    assert sk.num_joints == 14 and sk.names[12:] == ("head", "neck")
    assert sk.flip_permutation().tolist() == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13]
    assert [COCO.names[i] for i in COCO_TO_CROWDPOSE] == list(sk.names[:12])
    assert np.allclose(sk.sigmas[:12], COCO.sigmas[COCO_TO_CROWDPOSE]) and np.allclose(sk.sigmas[12:], 0.079)
    assert sk.target_kind("upper_body") == "part" and sk.part_mapping["head"] == (12, 13)


# ------------------------------------------------------------------------------------------------ real samples


def test_ochuman_sample_loads_and_ground_truth_scores_ap_1(tmp_path):
    folder = _need(OCHUMAN)
    split = load_real_split("ochuman", folder / "test_ochuman.json", folder, tmp_path / "gt.json")
    assert len(split.records) == 5 and all(r.joints.shape == (17, 3) for r in split.records)
    from occlusion.evaluate import coco_keypoint_eval

    stats = coco_keypoint_eval(split.annotations, _gt_results(split.data, 17), sigmas=COCO.sigmas)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    overlap = person_overlap(split.data)
    # two pairs above OCHuman's 0.5; one image's other person is not in the sample (``range_0.00_1.00`` keeps all)
    assert sorted(overlap.values()) == pytest.approx([0.0, 0.58752, 0.58752, 0.78079, 0.78079], abs=1e-5)


def test_crowdpose_sample_ground_truth_scores_ap_1_through_the_coco_path(tmp_path):
    folder = _need(CROWDPOSE_DIR)
    split = load_real_split("crowdpose", folder / "test_crowdpose.json", folder, tmp_path / "gt.json")
    assert all(r.joints.shape == (14, 3) for r in split.records)
    assert all((r.joints[12:, 2] == 0).all() for r in split.records)  # head and neck unlabelled in the scored copy
    raw = json.loads((folder / "test_crowdpose.json").read_text())
    assert split.crowd_index() == {im["id"]: im["crowdIndex"] for im in raw["images"]}
    # a COCO-17 model's perfect answer: the 12 shared keypoints at their COCO places, face keypoints anywhere
    res17 = []
    for r in _gt_results(split.data, 14):
        kps = np.zeros((17, 3))
        kps[COCO_TO_CROWDPOSE] = np.asarray(r["keypoints"]).reshape(14, 3)[:12]
        kps[:5] = [3.0, 4.0, 0.5]
        res17.append({**r, "keypoints": kps.ravel().tolist()})
    stats = crowdpose_eval(split.annotations, to_crowdpose_results(res17))
    assert stats["AP"] == pytest.approx(100.0) and stats["AR"] == pytest.approx(100.0)


def test_crowdpose_ap_and_difficulty_split_equal_xtcocotools_on_perturbed_predictions(tmp_path, crowd_split):
    """AP, easy, medium and hard as xtcocotools computes them; the hard (and each) level's match table gives the
    same AP, so its bootstrap resamples are of xtcocotools' number."""
    gt_file, data = crowd_split
    levels = {crowd_level(im["crowdIndex"]) for im in data["images"]}
    assert levels == {"easy", "medium", "hard"}  # the generated split spans all three
    results = _gt_results(data, 14, jitter=3.0, seed=1)
    ours = crowdpose_eval(gt_file, results)
    reference = _xtcocotools_stats(gt_file, results)
    assert [ours[m] for m in ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard")] == \
        pytest.approx(reference.tolist(), abs=1e-9)
    assert 20.0 < ours["AP"] < 99.0  # the perturbation matters
    crowd = {im["id"]: im["crowdIndex"] for im in data["images"]}
    for level in ("easy", "medium", "hard"):
        table = crowdpose_level_table(gt_file, results, crowd, level)
        full = metric_from_weights(table, np.ones((1, len(table.image_ids)), dtype=np.int64))[0]
        assert 100.0 * round(full, 4) == pytest.approx(ours[f"AP_{level}"], abs=1e-9), level  # xtcocotools rounds


# ------------------------------------------------------------------------------------------------ COCO's signal


def _record(joints: list[list[float]], image_id: int = 1, bbox=(0.0, 0.0, 40.0, 40.0), area: float = 1000.0):
    return PersonRecord("x.jpg", image_id, np.zeros(2), np.ones(2), np.asarray(joints, np.float32), bbox, area)


def test_v1_v2_split_on_a_hand_made_case():
    sig = np.array([0.1, 0.1, 0.1])
    recs = [_record([[10, 10, 2], [20, 20, 1], [0, 0, 0]]), _record([[5, 5, 1], [8, 8, 2], [9, 9, 2]], image_id=2)]
    preds = np.array([[[10, 10], [23, 20], [7, 7]], [[5, 5], [8, 8], [9, 14]]], dtype=float)
    oks, hit, v = keypoint_scores(recs, preds, sig, pck_alpha=0.1)
    table = accuracy_by_visibility(oks, hit, v, ["a", "b", "c"]).set_index(["keypoint", "visibility"])
    # v=1: b of person 1 (3 px off: OKS exp(-9/80), within 4 px) and a of person 2 (exact)
    assert table.loc[("all", 1), "n"] == 2 and table.loc[("all", 2), "n"] == 3
    assert table.loc[("all", 1), "OKS"] == pytest.approx(100 * (np.exp(-9 / 80) + 1) / 2)
    assert table.loc[("all", 1), "PCK"] == 100.0
    # v=2: a of person 1 exact, b and c of person 2: exact and 5 px off (outside 4 px)
    assert table.loc[("all", 2), "PCK"] == pytest.approx(200 / 3)
    assert table.loc[("c", 2), "OKS"] == pytest.approx(100 * np.exp(-25 / 80))
    assert np.isnan(table.loc[("c", 1), "OKS"]) and table.loc[("c", 1), "n"] == 0  # unlabelled never counts


def _person(i: int, image_id: int, bbox: list[float], k: int = 17) -> dict:
    x, y, w, h = bbox
    kps = np.zeros((k, 3))
    kps[:, 0] = np.linspace(x + 2, x + w - 2, k)
    kps[:, 1] = np.linspace(y + 2, y + h - 2, k)
    kps[:, 2] = 2
    return {"id": i, "image_id": image_id, "category_id": 1, "iscrowd": 0, "bbox": bbox, "area": w * h * 0.6,
            "num_keypoints": k, "keypoints": kps.ravel().tolist()}


def test_overlap_bins_and_ap_by_overlap_on_a_hand_made_case():
    anns = [_person(1, 1, [0, 0, 40, 80]),                                   # alone: bin 0
            _person(2, 2, [0, 0, 40, 80]), _person(3, 2, [30, 0, 40, 80]),   # IoU 10/70: 0-0.3
            _person(4, 3, [0, 0, 40, 80]), _person(5, 3, [15, 0, 40, 80]),   # IoU 25/55: 0.3-0.5
            _person(6, 4, [0, 0, 40, 80]), _person(7, 4, [5, 0, 40, 80])]    # IoU 35/45: > 0.5
    data = {"images": [{"id": i, "width": 100, "height": 100, "file_name": f"{i}.jpg"} for i in (1, 2, 3, 4)],
            "annotations": anns, "categories": [{"id": 1, "name": "person", "keypoints": list(COCO.names)}]}
    overlap = person_overlap(data)
    assert [overlap_bin(overlap[i]) for i in range(1, 8)] == ["0", "0-0.3", "0-0.3", "0.3-0.5", "0.3-0.5", ">0.5",
                                                              ">0.5"]
    assert overlap[7] == pytest.approx(35 / 45)
    records = [PersonRecord(f"{a['image_id']}.jpg", a["image_id"], np.zeros(2), np.full(2, 0.5),
                            np.asarray(a["keypoints"], np.float32).reshape(17, 3), tuple(a["bbox"]), a["area"],
                            ann_id=a["id"]) for a in anns]
    preds = np.stack([r.joints[:, :2] for r in records]).astype(float)
    preds[5, :, 0] += 30  # person 6 (bin > 0.5) answered 30 px away; its prediction stays out of the other bins
    table = ap_by_overlap(data, records, preds, np.ones((7, 17, 1)), COCO, oks_thre=1.0).set_index("overlap")
    assert table.n_persons.tolist() == [1, 2, 2, 2]
    assert table.AP[["0", "0-0.3", "0.3-0.5"]].tolist() == pytest.approx([100.0, 100.0, 100.0])
    assert table.AP[">0.5"] < 100.0


def test_crowd_index_follows_crowdposes_definition():
    kps = np.array([[[1, 1, 2], [2, 2, 2], [0, 0, 0]], [[3, 3, 2], [30, 30, 1], [31, 31, 2]]], dtype=float)
    boxes = np.array([[0, 0, 4, 4], [0, 0, 40, 40]], dtype=float)
    # person 0: 1 of person 1's joints in its box, 2 own -> 1/2; person 1: both of person 0's, 3 own -> 2/3
    assert crowd_index(kps, boxes) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert crowd_index(kps[:1], boxes[:1]) == 0.0
    assert [crowd_level(x) for x in (0.0, 0.19, 0.2, 0.79, 0.8, 1.0)] == ["easy", "easy", "medium", "medium",
                                                                          "hard", "hard"]


# ------------------------------------------------------------------------------------------------ analysis


def test_spearman_interval_on_planted_draws_with_a_known_answer():
    x = np.array([-5.0, -4.0, -3.0, -2.0, -1.0])
    y = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    xs = np.repeat(x[:, None], 100, axis=1)
    ys = np.repeat(y[:, None], 100, axis=1)
    ys[[3, 4], :30] = ys[[4, 3], :30]  # in 30 of 100 draws the two best models swap: rho 0.9 there, 1.0 elsewhere
    rho, low, high, n = spearman_interval(x, y, xs, ys)
    assert (rho, n) == (1.0, 100) and low == pytest.approx(0.9) and high == pytest.approx(1.0)
    assert spearman(x, -y) == -1.0 and np.isnan(spearman(x[:2], y[:2]))


def test_effective_robustness_recovers_planted_residuals():
    clean = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    planted = np.array([1.0, -1.0, 0.0, -1.0, 1.0])  # orthogonal to 1 and to clean: the fit stays 2 x + 1
    real = 2 * clean + 1 + planted
    rng = np.random.default_rng(0)
    cs = clean[:, None] + rng.normal(0, 0.01, (5, 200))
    rs = 2 * cs + 1 + planted[:, None]
    e = effective_robustness(list("abcde"), clean, real, cs, rs)
    assert e.slope.iloc[0] == pytest.approx(2.0) and e.intercept.iloc[0] == pytest.approx(1.0)
    assert e.effective_robustness.tolist() == pytest.approx(planted.tolist())
    assert ((e.ci_low < planted) & (planted < e.ci_high)).all() and (e.ci_high - e.ci_low < 0.2).all()
    with pytest.raises(ValueError, match="at least 3 models"):
        effective_robustness(["a", "b"], clean[:2], real[:2], cs[:2], rs[:2])
    with pytest.raises(ValueError, match="different clean AP"):
        effective_robustness(list("abc"), np.zeros(3), real[:3], cs[:3], rs[:3])


def test_augmentation_tests_are_paired_and_holm_corrected():
    base = np.linspace(40, 60, 200)
    samples = {"base": base, "same": base + 0.0, "up": base + 2.0, "noisy": base + np.linspace(-1, 1.2, 200)}
    t = augmentation_tests({"base": 50.0, "same": 50.0, "up": 52.0, "noisy": 50.1}, samples, "base").set_index("run")
    assert t.loc["up", "significant"] and t.loc["up", "ci_low"] == pytest.approx(2.0)
    assert not t.loc["same", "significant"] and not t.loc["noisy", "significant"]
    assert t.loc["noisy", "p_holm"] >= t.loc["noisy", "p_value"]


# ------------------------------------------------------------------------------------------------ generated data


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    from occlusion.synthetic import SyntheticConfig, generate_dataset

    base = tmp_path_factory.mktemp("realocc")
    small = SyntheticConfig(train_images=3, val_images=3)
    generate_dataset(base / "plain", small, progress=False)
    generate_dataset(base / "with", SyntheticConfig(train_images=3, val_images=3, ochuman_images=6,
                                                    crowdpose_images=10), progress=False)
    return base / "plain", base / "with"


@pytest.fixture(scope="module")
def crowd_split(generated, tmp_path_factory) -> tuple[Path, dict]:
    root = generated[1] / "crowdpose"
    out = tmp_path_factory.mktemp("crowd") / "gt.json"
    split = load_real_split("crowdpose", root / "annotations" / "crowdpose_val.json", root / "images", out)
    return split.annotations, split.data


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_splits_leave_every_existing_generated_file_byte_identical(generated):
    plain, with_new = generated
    files = sorted(p.relative_to(plain) for p in plain.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert len(files) > 10
    assert [_digest(plain / f) for f in files] == [_digest(with_new / f) for f in files]
    new = {p.relative_to(with_new).parts[0] for p in with_new.rglob("*") if p.is_file()} - {f.parts[0] for f in files}
    assert new == {"ochuman", "crowdpose", "manifest.json"}
    # and they are what the generator wrote before these splits existed (commit a0a8a69; change this digest only
    # with a deliberate change of the train/val scenes, which changes every embedded result)
    listing = "".join(f"{f} {_digest(plain / f)}\n" for f in files)
    assert hashlib.sha256(listing.encode()).hexdigest() == PREVIOUS_GENERATOR


PREVIOUS_GENERATOR = "1faae8e35e5d0fa5cff4081827cd140b11743c3486f577b499b35675dbf46142"
"""sha256 over ``<path> <sha256>`` lines of every file but the manifest of SyntheticConfig(train_images=3,
val_images=3), as generated before the OCHuman-like and CrowdPose-format splits were added."""


def test_ochuman_like_split_is_heavily_overlapping_with_masks_and_depth_visibility(generated):
    root = generated[1] / "ochuman"
    data = check_annotation_file(root / "annotations" / "ochuman_val.json", "ochuman")
    assert len(data["images"]) == 6
    by_image: dict[int, list] = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
        assert a["segmentation"]["counts"] and a["num_keypoints"] > 0
    assert all(2 <= len(anns) <= 3 for anns in by_image.values())
    for anns in by_image.values():
        assert (max_overlap(np.array([a["bbox"] for a in anns])) > 0.5).all()
    v = np.concatenate([np.asarray(a["keypoints"][2::3]) for a in data["annotations"]])
    assert (v == 1).sum() > 0.1 * (v > 0).sum()  # people hide each other: many labelled-but-occluded keypoints


def test_crowdpose_export_has_14_keypoints_and_its_crowd_index(generated):
    root = generated[1] / "crowdpose"
    data = check_annotation_file(root / "annotations" / "crowdpose_val.json", "crowdpose")
    for im in data["images"]:
        anns = [a for a in data["annotations"] if a["image_id"] == im["id"]]
        kps = [np.asarray(a["keypoints"], float).reshape(14, 3) for a in anns]
        assert im["crowdIndex"] == pytest.approx(crowd_index(kps, np.array([a["bbox"] for a in anns])), abs=0.005)
    head = np.array([a["keypoints"][12 * 3 + 2] for a in data["annotations"]])
    assert (head > 0).mean() > 0.5 and "area" not in data["annotations"][0]


# ------------------------------------------------------------------------------------------------ bad input


def test_a_file_of_the_wrong_keypoint_count_fails_naming_the_file_and_what_was_expected(tmp_path):
    folder = _need(OCHUMAN)
    with pytest.raises(DatasetFormatError, match=r"test_ochuman.json: declared as crowdpose, but its person category "
                                                 r"lists 17 keypoints; expected 14 keypoints \(left_shoulder"):
        check_annotation_file(folder / "test_ochuman.json", "crowdpose")
    data = json.loads((folder / "test_ochuman.json").read_text())
    data["annotations"][0]["keypoints"] = data["annotations"][0]["keypoints"][:42]
    bad = tmp_path / "short.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DatasetFormatError, match=r"short.json: declared as ochuman, but annotation \d+ has 42 values; "
                                                 r"expected 51 values"):
        check_annotation_file(bad, "ochuman")
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(DatasetFormatError, match="short.json: declared as ochuman, but it is not a mapping"):
        check_annotation_file(bad, "ochuman")


def test_a_crowdpose_file_without_crowd_index_fails_naming_the_file(tmp_path):
    folder = _need(CROWDPOSE_DIR)
    data = json.loads((folder / "test_crowdpose.json").read_text())
    del data["images"][-1]["crowdIndex"]
    bad = tmp_path / "crowd.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DatasetFormatError, match=r"crowd.json: declared as crowdpose, but image \d+ has no "
                                                 r"'crowdIndex'; expected every image to carry its crowd index"):
        load_real_split("crowdpose", bad, folder, tmp_path / "gt.json")


def test_a_detection_file_with_foreign_image_ids_fails_naming_the_file(tmp_path):
    folder = _need(CROWDPOSE_DIR)
    split = load_real_split("crowdpose", folder / "test_crowdpose.json", folder, tmp_path / "gt.json")
    records = load_real_detections(split, folder / "test_crowdpose_det_AP_40.json")
    assert len(records) == 6 and records[0].joints.shape == (14, 3)
    dets = json.loads((folder / "test_crowdpose_det_AP_40.json").read_text())
    dets[0]["image_id"] = 4242
    bad = tmp_path / "dets.json"
    bad.write_text(json.dumps(dets))
    with pytest.raises(ValueError, match=r"detection file .*dets.json: image ids 4242 \(1 in all\) are not in the "
                                         r"crowdpose split"):
        load_real_detections(split, bad)


def test_manual_download_names_each_missing_file_and_where_to_get_it(tmp_path):
    from occlusion.download import DownloadError, fetch_manual

    with pytest.raises(DownloadError, match=r"ochuman: no direct download URL is known.*Missing under .*ochuman: "
                                            r"annotations/ochuman_coco_format_val_range_0.00_1.00.json.*OCHumanApi"):
        fetch_manual("ochuman", tmp_path)
    folder = tmp_path / "crowdpose"
    for f in ("annotations/crowdpose_train.json", "annotations/crowdpose_val.json", "annotations/crowdpose_test.json",
              "annotations/det_for_crowd_test_0.1_0.5.json"):
        (folder / f).parent.mkdir(parents=True, exist_ok=True)
        (folder / f).write_text("[]")
    (folder / "images").mkdir()
    assert fetch_manual("crowdpose", tmp_path, progress=False) == folder
    (folder / "annotations" / "crowdpose_val.json").write_text("[1]")
    with pytest.raises(DownloadError, match="crowdpose_val.json: sha256 .* differs from the recorded"):
        fetch_manual("crowdpose", tmp_path, progress=False)


def test_params_require_the_generated_splits_for_the_realocc_stage(tmp_path):
    import yaml

    from occlusion.config import ConfigError
    from occlusion.params import load_params

    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    raw["data"]["synthetic"]["ochuman_images"] = 0
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"data.synthetic.ochuman_images = 0: expected > 0"):
        load_params(path)


def test_coco_val_predictions_are_the_evaluate_stages_checked_person_by_person(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from occlusion.io import write_npz
    from occlusion.realocc import stage

    monkeypatch.setattr(stage, "repo_root", lambda: tmp_path)
    params = SimpleNamespace(runs={"r": SimpleNamespace(model="hrnet", seed=0)})
    records = [_record([[1, 1, 2]], image_id=i) for i in (1, 2)]
    records = [PersonRecord(r.image, r.image_id, r.center, r.scale, r.joints, r.bbox, r.area, ann_id=10 + i)
               for i, r in enumerate(records)]
    with pytest.raises(FileNotFoundError, match=r"gt.npz: no per-person predictions of run 'r' \(run its evaluate"):
        stage.evaluated_predictions(params, "r", records)
    path = tmp_path / stage.predictions_file(params, "r")
    assert stage.predictions_file(params, "r") == "results/predictions/hrnet/r/seed_0/gt.npz"
    write_npz(path, preds=np.ones((2, 1, 2)), maxvals=np.ones((2, 1, 1)), ann_ids=np.array([10, 11]))
    preds, maxvals = stage.evaluated_predictions(params, "r", records)
    assert preds.shape == (2, 1, 2) and maxvals.shape == (2, 1, 1)
    write_npz(path, preds=np.ones((2, 1, 2)), maxvals=np.ones((2, 1, 1)), ann_ids=np.array([11, 10]))
    with pytest.raises(ValueError, match="are not COCO val's 2 ground-truth people in order"):
        stage.evaluated_predictions(params, "r", records)
