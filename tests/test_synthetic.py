"""The generated default dataset: determinism, COCO/MPII validity, visibility semantics, detections."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from occlusion import synthetic
from occlusion.config import ConfigError, FieldError, from_dict
from occlusion.keypoints import COCO as COCO_SK
from occlusion.keypoints import MPII as MPII_SK
from occlusion.synthetic import SyntheticConfig, generate_dataset, render_image

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")  # numpy 2 copy= notice

SMALL = SyntheticConfig(seed=3, train_images=20, val_images=10, crowd_fraction=0.2, cutoff_fraction=0.2)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("syn") / "ds"
    return out, generate_dataset(out, SMALL, progress=False)


def _coco(root: Path, split: str) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(root / "annotations" / f"person_keypoints_{split}.json"))


def _kps(ann: dict) -> np.ndarray:
    return np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)


def test_config_validation():
    with pytest.raises(FieldError, match=r"people_per_image = \(3, 1\)"):
        SyntheticConfig(people_per_image=(3, 1))
    with pytest.raises(FieldError, match="detector_jitter"):
        SyntheticConfig(detector_jitter=0.9)
    with pytest.raises(ConfigError, match=r"synthetic\.image_size = \(10, 10\): expected \(width, height\)"):
        from_dict(SyntheticConfig, {"image_size": [10, 10]}, "synthetic")
    assert from_dict(SyntheticConfig, {"train_images": 5}).num_images("train") == 5
    with pytest.raises(ValueError, match="unknown split 'test'; allowed: train, val"):
        render_image(SMALL, "test", 0)


def test_layout_summary_and_manifest(small):
    root, summary = small
    for split, n in (("train", 20), ("val", 10)):
        assert sorted(p.name for p in (root / "images" / split).iterdir()) == [f"{i:06d}.jpg" for i in range(1, n + 1)]
        coco = json.loads((root / "annotations" / f"person_keypoints_{split}.json").read_text())
        persons = [a for a in coco["annotations"] if not a["iscrowd"]]
        assert summary[split]["images"] == n == len(coco["images"])
        assert summary[split]["persons"] == len(persons)
        assert summary[split]["crowd"] == len(coco["annotations"]) - len(persons) == round(n * 0.2)
        assert summary[split]["keypoints_v1"] == sum(int((_kps(a)[:, 2] == 1).sum()) for a in persons)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["fingerprint"] == summary["fingerprint"] and manifest["config"]["seed"] == 3
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == digest
    assert set(manifest["files"]) >= {"detections/val_detections.json", "mpii/train.json", "mpii/valid.json"}
    assert not (root.parent / ".ds.partial").exists()
    image = cv2.imread(str(root / "images" / "val" / "000001.jpg"))
    assert image.shape == (240, 320, 3)
    with pytest.raises(FileExistsError, match="already exists"):
        generate_dataset(root, SMALL, progress=False)


def test_deterministic_bytes(small, tmp_path):
    root, summary = small
    again = generate_dataset(tmp_path / "again", SMALL, progress=False)
    assert again["fingerprint"] == summary["fingerprint"]
    for rel in ("annotations/person_keypoints_train.json", "images/val/000007.jpg", "detections/val_detections.json"):
        assert (tmp_path / "again" / rel).read_bytes() == (root / rel).read_bytes()
    other = generate_dataset(tmp_path / "other", SyntheticConfig(seed=4, train_images=20, val_images=10),
                             progress=False)  # fmt: skip
    assert other["fingerprint"] != summary["fingerprint"]
    assert (tmp_path / "other" / "images/val/000007.jpg").read_bytes() != (root / "images/val/000007.jpg").read_bytes()
    rendered = render_image(SMALL, "val", 6)
    assert np.array_equal(rendered.image, render_image(SMALL, "val", 6).image)


def test_interrupted_run_leaves_no_dataset(tmp_path, monkeypatch):
    calls = []

    def failing(cfg, split, index):
        calls.append(index)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(cfg, split, index)

    real = synthetic.render_image
    monkeypatch.setattr(synthetic.dataset, "render_image", failing)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path / "ds", SMALL, progress=False)
    assert not (tmp_path / "ds").exists()
    monkeypatch.setattr(synthetic.dataset, "render_image", real)
    cfg = SyntheticConfig(train_images=2, val_images=1)
    generate_dataset(tmp_path / "ds", cfg, progress=False)  # a stale partial dir does not get in the way
    assert (tmp_path / "ds" / "manifest.json").is_file() and not (tmp_path / ".ds.partial").exists()


@pytest.mark.parametrize("split", ["train", "val"])
def test_gt_as_results_scores_ap_one(small, split):
    coco = _coco(small[0], split)
    assert coco.dataset["categories"][0]["keypoints"][:3] == ["nose", "left_eye", "right_eye"]
    assert coco.dataset["categories"][0]["skeleton"][0] == [16, 14]
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in coco.dataset["annotations"] if a["num_keypoints"] > 0]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(coco, coco.loadRes(results), iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0) and ev.stats[5] == pytest.approx(1.0)  # AP and AR


def test_format_matches_real_coco(small, shared_data):
    real = json.loads((shared_data / "coco_mini" / "annotations" / "person_keypoints_val2017.json").read_text())
    ours = json.loads((small[0] / "annotations" / "person_keypoints_val.json").read_text())
    assert set(ours) == set(real)
    assert set(ours["images"][0]) <= set(real["images"][0])
    assert {frozenset(a) for a in ours["annotations"]} == {frozenset(real["annotations"][0])}
    assert ours["categories"] == real["categories"]


def test_mpii_format_matches_hrnet_json(small, shared_data):
    real = json.loads((shared_data / "mpii_sample" / "test_mpii.json").read_text())
    ours = json.loads((small[0] / "mpii" / "valid.json").read_text())
    assert set(ours[0]) == set(real[0]) | {"head_box"}
    assert [len(ours[0]["joints"]), len(ours[0]["joints"][0]), len(ours[0]["joints_vis"])] == [16, 2, 16]


def test_annotations_match_their_silhouettes(small):
    root = small[0]
    for split in ("train", "val"):
        coco = _coco(root, split)
        for ann in coco.dataset["annotations"]:
            img = coco.imgs[ann["image_id"]]
            mask = coco.annToMask(ann)
            assert mask.shape == (img["height"], img["width"])
            assert ann["area"] == mask.sum() >= 16
            rows, cols = np.nonzero(mask)
            x0, y0 = cols.min(), rows.min()
            assert ann["bbox"] == [x0, y0, cols.max() - x0 + 1, rows.max() - y0 + 1]
            k = _kps(ann)
            assert set(np.unique(k[:, 2])) <= {0, 1, 2} and ann["num_keypoints"] == int((k[:, 2] > 0).sum())
            off = k[:, 2] == 0
            assert np.all(k[off, :2] == 0)
            on = k[~off]
            assert np.all((on[:, 0] >= 0.5) & (on[:, 0] <= img["width"] - 1))
            assert np.all((on[:, 1] >= 0.5) & (on[:, 1] <= img["height"] - 1))


def test_visibility_semantics(small):
    """v=2: not under any nearer person; v=1: under a nearer person's silhouette or self-occluded; v=0: absent."""
    counts = {"nearer": 0, "self": 0}
    for split in ("train", "val"):
        coco = _coco(small[0], split)
        for image_id in coco.getImgIds():
            anns = sorted(coco.loadAnns(coco.getAnnIds(imgIds=image_id)), key=lambda a: a["id"])
            scene = render_image(SMALL, split, image_id - 1)
            assert [a["keypoints"] for a in scene.annotations] == [a["keypoints"] for a in anns]
            masks = [coco.annToMask(a).astype(bool) for a in anns]
            for i, (ann, self_occ) in enumerate(zip(anns, scene.self_occluded)):
                if ann["iscrowd"]:
                    continue
                nearer = np.any(np.stack([np.zeros_like(masks[i]), *masks[i + 1:]]), axis=0)
                k = _kps(ann)
                r, c = np.rint(k[:, 1]).astype(int), np.rint(k[:, 0]).astype(int)
                under = nearer[r, c] & (k[:, 2] > 0)
                assert not np.any(under & (k[:, 2] == 2)), (split, image_id, ann["id"])
                assert not np.any(self_occ & (k[:, 2] != 1))
                assert np.all(under | self_occ | (k[:, 2] != 1))
                # a self-occluded joint lies on the person's own silhouette (or under someone nearer)
                assert np.all((masks[i][r, c] | under)[self_occ])
                counts["nearer"] += int(under.sum())
                counts["self"] += int((self_occ & ~under).sum())
    assert counts["nearer"] >= 10 and counts["self"] >= 10


def test_face_points_hidden_behind_the_head_are_unlabelled():
    """In profile views the far eye and ear are v=0 although they would lie inside the image."""
    cfg = SyntheticConfig(seed=0)
    far_face = 0
    for index in range(10):
        scene = render_image(cfg, "train", index)
        for ann in scene.annotations:
            k = _kps(ann)
            if ann["iscrowd"] or k[0, 2] == 0 or k[5:, 2].min() == 0:
                continue  # a person fully in frame with a labelled nose
            far_face += int((k[1:5, 2] == 0).sum())
    assert far_face > 0


def test_crowd_and_zero_keypoint_annotations(small):
    for split in ("train", "val"):
        anns = _coco(small[0], split).dataset["annotations"]
        crowd = [a for a in anns if a["iscrowd"]]
        zero = [a for a in anns if not a["iscrowd"] and a["num_keypoints"] == 0]
        assert crowd and zero
        for a in crowd:
            assert a["num_keypoints"] == 0 and a["keypoints"] == [0] * 51 and a["area"] >= 16
            assert isinstance(a["segmentation"]["counts"], str)
        assert all(a["area"] >= 16 and a["bbox"][2] > 0 for a in zero)


def test_faces_are_drawn_dark_eyes_on_skin(small):
    """Eye keypoints sit on dark pupils: darker on average than the nose keypoints of the same faces."""
    eye, nose = [], []
    for index in range(10):
        scene = render_image(SMALL, "val", index)
        gray = cv2.cvtColor(scene.image, cv2.COLOR_RGB2GRAY).astype(float)
        for ann in scene.annotations:
            k = _kps(ann)
            big = ann["bbox"][3] > 120
            for j, out in ((1, eye), (2, eye), (0, nose)):
                if big and k[j, 2] == 2:
                    out.append(gray[int(np.rint(k[j, 1])), int(np.rint(k[j, 0]))])
    assert len(eye) >= 5 and np.mean(eye) < np.mean(nose) - 20


def test_detections(small):
    root = small[0]
    coco = _coco(root, "val")
    dets = json.loads((root / "detections" / "val_detections.json").read_text())
    assert {d["image_id"] for d in dets} == set(coco.getImgIds())
    assert all(d["category_id"] == 1 and 0 < d["score"] <= 1 for d in dets)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.loadRes(dets)
    for image_id in coco.getImgIds():
        boxes = [d["bbox"] for d in dets if d["image_id"] == image_id]
        for d in boxes:
            assert d[0] >= 0 and d[1] >= 0 and d[0] + d[2] <= 320 + 1e-6 and d[1] + d[3] <= 240 + 1e-6
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False)):
            iou = mask_utils.iou([ann["bbox"]], boxes, [0] * len(boxes))
            assert iou.max() > 0.5
    true_boxes = len(coco.getAnnIds(iscrowd=False))
    high = [d for d in dets if d["score"] >= 0.6]
    assert len(high) == true_boxes and len(dets) > true_boxes  # false positives all score below 0.6


def test_mpii_export(small):
    root = small[0]
    for split, name in (("train", "train"), ("val", "valid")):
        records = json.loads((root / "mpii" / f"{name}.json").read_text())
        coco = _coco(root, split)
        assert len(records) == sum(a["num_keypoints"] > 0 for a in coco.dataset["annotations"])
        for rec in records:
            assert (root / "images" / rec["image"]).is_file()
            joints, vis = np.asarray(rec["joints"]), np.asarray(rec["joints_vis"])
            assert joints.shape == (16, 2) and set(vis) <= {0, 1}
            assert np.all(joints[vis == 0] == -1) and np.all(joints[vis == 1] >= 1.5)
            image_id = int(rec["image"].split("/")[1][:6])
            matches = []
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False)):
                k = _kps(ann)
                limb = [(m, COCO_SK.index(MPII_SK.names[m])) for m in range(16) if MPII_SK.names[m] in COCO_SK.names]
                same = all((vis[m] == 1) == (k[c, 2] > 0) and (vis[m] == 0 or np.allclose(joints[m], k[c, :2] + 1))
                           for m, c in limb)  # fmt: skip
                matches.append(same)
            assert sum(matches) >= 1, rec  # the 12 limb joints are the COCO joints, 1-based
            hip = [MPII_SK.index(n) for n in ("left_hip", "right_hip")]
            sh = [MPII_SK.index(n) for n in ("left_shoulder", "right_shoulder")]
            for mid, pair in ((MPII_SK.index("pelvis"), hip), (MPII_SK.index("thorax"), sh)):
                if vis[mid] and vis[pair].all():
                    assert np.allclose(joints[mid], joints[pair].mean(axis=0), atol=0.011)
            top = MPII_SK.index("head_top")
            x1, y1, x2, y2 = rec["head_box"]
            if vis[top]:
                assert x1 <= joints[top, 0] <= x2 and y1 <= joints[top, 1] <= y2
            assert rec["scale"] > 0 and len(rec["center"]) == 2


def test_cli(tmp_path, capsys):
    summary = synthetic.main([str(tmp_path / "cli"), "--seed", "5", "--train-images", "2", "--val-images", "1",
                              "--quiet"])  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert printed["fingerprint"] == summary["fingerprint"] and printed["train"]["images"] == 2
    assert json.loads((tmp_path / "cli" / "manifest.json").read_text())["config"]["seed"] == 5
