"""Object occluders (docs/METHODS.md §11): banks, exact masks and compositing, replay, label updates, the COCO bank
builder on real annotations and images, object attacks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from occlusion.augment import TABLE1_PRESETS, AugmentConfig, build_augmenter
from occlusion.config import ConfigError, from_dict
from occlusion.keypoints import get_skeleton
from occlusion.occluders import (
    SHAPE_CLASSES,
    CocoBankFilter,
    ObjectBank,
    ObjectPaste,
    ObjectPasteAug,
    ObjectPlacement,
    apply_object,
    build_coco_bank,
    covered_joints,
    object_mask,
    person_area,
    procedural_bank,
    sample_placement,
    update_labels,
)
from occlusion.occluders.attack import ObjectAttack, ObjectAttackConfig, occlude_objects, sample_object_attack

COCO = get_skeleton("coco")


def square_bank(alpha: np.ndarray | None = None) -> ObjectBank:
    """One 4x4 object of colour (200, 100, 50) with the given alpha (default: opaque)."""
    obj = np.zeros((4, 4, 4), np.uint8)
    obj[..., :3] = (200, 100, 50)
    obj[..., 3] = 255 if alpha is None else alpha
    return ObjectBank((obj,), ("box",))


def test_compositing_and_mask_are_exact_on_a_hand_made_object():
    alpha = np.full((4, 4), 255, np.uint8)
    alpha[0, 0] = 0  # transparent corner
    alpha[3, 3] = 128  # half-transparent corner
    bank = square_bank(alpha)
    image = np.full((12, 12, 3), 10, np.uint8)
    p = ObjectPlacement(0, center=(5.5, 5.5), scale=1.0)  # object centre (1.5, 1.5) -> crop (5.5, 5.5): cols 4..7
    out = apply_object(image, p, bank)
    expected = image.copy()
    expected[4:8, 4:8] = (200, 100, 50)
    expected[4, 4] = 10
    expected[7, 7] = [(c * 128 + 10 * 127 + 127) // 255 for c in (200, 100, 50)]
    np.testing.assert_array_equal(out, expected)
    mask = np.zeros((12, 12), bool)
    mask[4:8, 4:8] = True
    mask[4, 4] = False
    np.testing.assert_array_equal(object_mask(p, bank, 12, 12), mask)
    np.testing.assert_array_equal(image, np.full((12, 12, 3), 10, np.uint8))  # input untouched
    np.testing.assert_array_equal(apply_object(image, None, bank), image)


def test_scale_and_rotation_place_the_object_exactly():
    bank = square_bank()
    p = ObjectPlacement(0, center=(9.5, 9.5), scale=2.0)  # 8x8 block, rows/cols 6..13
    mask = object_mask(p, bank, 20, 20)
    assert mask.sum() == 64 and mask[6:14, 6:14].all()
    bar = np.zeros((2, 6, 4), np.uint8)
    bar[..., 3] = 255
    rotated = object_mask(ObjectPlacement(0, center=(10.5, 10.5), scale=1.0, angle=90.0),
                          ObjectBank((bar,), ("bar",)), 20, 20)
    rows, cols = np.nonzero(rotated)
    assert rotated.sum() == 12 and rotated[8:14, 10:12].all()  # the horizontal bar turned upright


def test_procedural_bank_is_deterministic_with_every_class_and_binary_alpha():
    bank = procedural_bank(seed=3, size=12)
    assert bank.names == SHAPE_CLASSES * 2
    assert all(set(np.unique(im[..., 3])) <= {0, 255} for im in bank.images)
    assert procedural_bank.__wrapped__(3, 12).fingerprint() == bank.fingerprint()
    assert procedural_bank.__wrapped__(4, 12).fingerprint() != bank.fingerprint()


def test_bank_save_and_load_round_trip(tmp_path):
    bank = procedural_bank(seed=0, size=7)
    loaded = ObjectBank.load(bank.save(tmp_path / "bank.npz"))
    assert loaded.names == bank.names and loaded.fingerprint() == bank.fingerprint()
    with pytest.raises(FileNotFoundError, match="occluder_bank stage"):
        ObjectBank.load(tmp_path / "missing.npz")


def test_placements_centre_on_targets_with_the_requested_area():
    bank = procedural_bank(seed=0, size=12)
    joints = np.zeros((17, 3), np.float32)
    joints[0] = (40.0, 30.0, 2)
    for i, name in enumerate(("left_shoulder", "right_shoulder", "left_hip", "right_hip")):
        joints[COCO.index(name)] = (30 + 30 * (i % 2), 50 + 40 * (i // 2), 2)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        p = sample_placement(bank, joints, COCO, 96, 128, mode="keypoint", target="nose", area=0.05, rng=rng,
                             max_rotation=30.0)
        assert p.center == (40.0, 30.0) and abs(p.angle) <= 30.0
        covered = object_mask(ObjectPlacement(p.object_id, (48.0, 64.0), p.scale), bank, 128, 96).sum()
        assert covered == pytest.approx(0.05 * person_area(96, 128), rel=0.12)  # opaque pixels after resampling
    p = sample_placement(bank, joints, COCO, 96, 128, mode="part", target="corpus", area=0.1,
                         rng=np.random.default_rng(0))
    assert p.center == (45.0, 70.0)  # centre of the corpus box (shoulders and hips)
    assert sample_placement(bank, joints, COCO, 96, 128, mode="keypoint", target="left_eye", area=0.1,
                            rng=np.random.default_rng(0)) is None  # unlabelled
    a = sample_placement(bank, joints, COCO, 96, 128, mode="random", area=0.1, rng=np.random.default_rng(5))
    assert a == sample_placement(bank, joints, COCO, 96, 128, mode="random", area=0.1, rng=np.random.default_rng(5))


def test_visibility_update_and_removal_on_hand_made_joints():
    joints = np.array([[2.0, 2.0, 2], [2.9, 2.9, 2], [5.0, 5.0, 2], [2.5, 2.5, 0], [3.0, 1.0, 1]], np.float32)
    joints[3, :2] = 0  # unlabelled joint, at the origin
    mask = np.zeros((8, 8), bool)
    mask[1:3, 1:3] = True  # covers pixels (1..2, 1..2)
    np.testing.assert_array_equal(covered_joints(joints, mask), [True, True, False, False, False])
    vis = update_labels(joints, mask, "visibility")
    np.testing.assert_array_equal(vis[:, 2], [1, 1, 2, 0, 1])
    np.testing.assert_array_equal(vis[:, :2], joints[:, :2])
    removed = update_labels(joints, mask, "remove")
    np.testing.assert_array_equal(removed[:2], 0)
    np.testing.assert_array_equal(removed[2:], joints[2:])
    np.testing.assert_array_equal(update_labels(joints, mask, "keep"), joints)


def test_object_paste_replays_and_updates_labels_under_the_objects():
    skeleton = COCO
    crop = (np.arange(128 * 96 * 3) % 251).astype(np.uint8).reshape(128, 96, 3)
    joints = np.zeros((17, 3), np.float32)
    joints[:, :2] = np.stack([np.linspace(10, 86, 17), np.linspace(10, 118, 17)], 1)
    joints[:, 2] = 2
    for mode, labels in (("random", "visibility"), ("keypoint", "remove"), ("part", "keep")):
        aug = ObjectPaste(ObjectPasteAug(prob=1.0, mode=mode, labels=labels, max_objects=3), skeleton)
        for seed in range(4):
            params = aug.sample(crop, joints, np.random.default_rng(seed))
            assert params.fired and (len(params.placements) >= 1 or mode == "part")
            out1, j1 = aug.apply(crop, joints, params)
            out2, j2 = aug.apply(crop, joints, params)
            np.testing.assert_array_equal(out1, out2)
            np.testing.assert_array_equal(j1, j2)
            mask = np.zeros(crop.shape[:2], bool)
            for p in params.placements:
                mask |= object_mask(p, aug.bank, *crop.shape[:2])
            assert (out1 != crop).any(axis=2)[~mask].sum() == 0  # pixels change only under the objects
            under = covered_joints(joints, mask)
            if labels == "visibility":
                np.testing.assert_array_equal(j1[:, 2], np.where(under, 1, 2))
            elif labels == "remove":
                np.testing.assert_array_equal(j1[under], 0)
                np.testing.assert_array_equal(j1[~under], joints[~under])
            else:
                np.testing.assert_array_equal(j1, joints)
    never = ObjectPaste(ObjectPasteAug(prob=0.0), skeleton)
    assert not never.sample(crop, joints, np.random.default_rng(0)).fired


def test_augmenter_runs_objects_last_and_leaves_existing_presets_alone():
    cfg = from_dict(AugmentConfig, {"blurring": {"prob": 1.0, "mode": "keypoint"},
                                    "objects": {"prob": 1.0, "mode": "keypoint", "labels": "remove"}})
    augmenter = build_augmenter(cfg, COCO)
    assert augmenter.names == ("blurring", "objects")
    crop = np.full((128, 96, 3), 120, np.uint8)
    joints = np.zeros((17, 3), np.float32)
    joints[0] = (48, 40, 2)
    params = augmenter.sample(crop, joints, np.random.default_rng(1))
    out, labels = augmenter.apply(crop, joints, params)
    out2, labels2 = augmenter(crop, joints, np.random.default_rng(1))
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(labels, labels2)
    np.testing.assert_array_equal(labels[0], 0)  # the only keypoint: under its object, removed
    for name, preset in TABLE1_PRESETS.items():  # no paper preset gains a step
        assert "objects" not in build_augmenter(from_dict(AugmentConfig, preset), COCO, partmix_sources=[object()]
                                                ).names, name


def test_object_configs_reject_bad_values_with_their_key_path():
    with pytest.raises(ConfigError, match=r"augs\.x\.objects\.labels"):
        from_dict(AugmentConfig, {"objects": {"labels": "hide"}}, "augs.x")
    with pytest.raises(ConfigError, match=r"objects\.area"):
        from_dict(AugmentConfig, {"objects": {"area": [0.2, 0.1]}})
    with pytest.raises(ConfigError, match=r"attack\.objects\.keypoints"):
        from occlusion.attacks import AttackGridConfig

        from_dict(AttackGridConfig, {"objects": {"keypoints": ["snout"]}}, "attack")
    with pytest.raises(ConfigError, match=r"unknown key attack\.objects\.colour"):
        from_dict(AttackGridConfig, {"objects": {"colour": 1}}, "attack")


def test_object_attacks_give_every_model_the_same_pixels():
    bank = procedural_bank(seed=0, size=12)
    joints = np.zeros((3, 17, 3), np.float32)
    joints[:, 0] = [(30, 20, 2), (50, 60, 2), (0, 0, 0)]
    attack = ObjectAttack("nose", "keypoint", 0.1)
    crops = torch.from_numpy((np.arange(3 * 128 * 96 * 3) % 256).astype(np.uint8).reshape(3, 128, 96, 3))
    out = occlude_objects(crops, joints, attack, bank, COCO, seed=2, max_rotation=20.0)
    for i in range(3):
        p = sample_object_attack(attack, joints[i], i, bank, COCO, 96, 128, seed=2, max_rotation=20.0)
        np.testing.assert_array_equal(out[i].numpy(), apply_object(crops[i].numpy(), p, bank))
        assert (p is None) == (i == 2)
    again = occlude_objects(crops, joints, attack, bank, COCO, seed=2, max_rotation=20.0)
    assert torch.equal(out, again)
    other = occlude_objects(crops, joints, ObjectAttack("nose", "keypoint", 0.05), bank, COCO, seed=2)
    assert not torch.equal(out, other)
    assert [a.name for a in __import__("occlusion.occluders.attack", fromlist=["x"]).object_attack_grid(
        ObjectAttackConfig(keypoints=("nose",), parts=("head",), areas=(0.05, 0.1)))] == [
        "object_nose_a0.05", "object_nose_a0.1", "object_head_a0.05", "object_head_a0.1"]


def _instances(shared_data, tmp_path):
    """A COCO instance file from coco_mini's train persons: non-crowd persons relabelled as a non-person class
    (their real masks and images), one person left as a person."""
    data = json.loads((shared_data / "coco_mini" / "annotations" / "person_keypoints_train2017.json").read_text())
    anns = [a for a in data["annotations"]]
    for a in anns:
        a.pop("keypoints", None)
        a.pop("num_keypoints", None)
        a["category_id"] = 28
    anns[0]["category_id"] = 1
    data["categories"] = [{"id": 1, "name": "person", "supercategory": "person"},
                          {"id": 28, "name": "umbrella", "supercategory": "accessory"}]
    path = tmp_path / "instances_train2017.json"
    path.write_text(json.dumps(data))
    return path, data


def test_coco_bank_builder_cuts_out_exact_masks_and_skips_what_the_filter_says(shared_data, tmp_path):
    from pycocotools.coco import COCO as CocoApi

    path, data = _instances(shared_data, tmp_path)
    images = shared_data / "coco_mini" / "train2017"
    cfg = CocoBankFilter(min_area=1500, min_side=24, min_fill=0.3, max_overlap=0.3, max_side=100000)
    bank = build_coco_bank(path, images, tmp_path / "bank.npz", cfg)
    coco = CocoApi(str(path))
    kept = []
    for image_id in sorted(coco.getImgIds()):
        anns = sorted(coco.loadAnns(coco.getAnnIds(imgIds=image_id)), key=lambda a: a["id"])
        for a in anns:
            x, y, w, h = a["bbox"]
            if a["iscrowd"] or a["category_id"] == 1 or a["area"] < 1500 or min(w, h) < 24 or a["area"] < 0.3 * w * h:
                continue
            overlap = max([max(0, min(x + w, o["bbox"][0] + o["bbox"][2]) - max(x, o["bbox"][0]))
                           * max(0, min(y + h, o["bbox"][1] + o["bbox"][3]) - max(y, o["bbox"][1])) / (w * h)
                           for o in anns if o["id"] != a["id"]] or [0])
            if overlap <= 0.3:
                kept.append(a)
    assert 0 < len(bank) == len(kept) < len(data["annotations"])
    assert set(bank.names) == {"umbrella"}
    import cv2

    first = kept[0]
    info = coco.loadImgs(first["image_id"])[0]
    rgb = cv2.cvtColor(cv2.imread(str(images / info["file_name"])), cv2.COLOR_BGR2RGB)
    x, y, w, h = (int(round(v)) for v in first["bbox"])
    mask = coco.annToMask(first)[y : y + h, x : x + w].astype(bool)
    cut = bank.images[0]
    np.testing.assert_array_equal(cut[..., 3] > 0, mask)
    np.testing.assert_array_equal(cut[..., :3][mask], rgb[y : y + h, x : x + w][mask])
    assert ObjectBank.load(tmp_path / "bank.npz").fingerprint() == bank.fingerprint()
    assert json.loads((tmp_path / "bank.npz.json").read_text())["objects"] == len(bank)


def test_coco_bank_builder_skips_persons(shared_data, tmp_path):
    keypoints = shared_data / "coco_mini" / "annotations" / "person_keypoints_train2017.json"
    with pytest.raises(ValueError, match="no COCO instance passed"):
        build_coco_bank(keypoints, shared_data / "coco_mini" / "train2017")


@pytest.mark.parametrize("edit, where", [
    (lambda p: p["attack"]["objects"]["runs"].append("coco_hrnet_nope"), "attack.objects.runs"),
    (lambda p: p["worstcase"]["runs"].append("mpii_hrnet_flip_rot_scale"), "worstcase.runs"),
    (lambda p: p["worstcase"].update(targets=["snout"]), "worstcase.targets"),
    (lambda p: p["augs"]["object_paste"]["augment"]["objects"].update(mode="anywhere"),
     "augs.object_paste.augment.objects.mode"),
])
def test_params_name_bad_occluder_settings_with_their_key(tmp_path, edit, where):
    import yaml

    from occlusion.params import load_params, repo_root

    params = yaml.safe_load((repo_root() / "params.yaml").read_text())
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_params(path)


def test_paper_profile_builds_the_bank_before_the_stages_that_read_it():
    from occlusion.dvcfile import stage_groups
    from occlusion.params import load_params, repo_root

    params = load_params(repo_root() / "profiles" / "paper.yaml")
    groups = {g.name: g for g in stage_groups(params, figures=False)}
    bank = "data/occluders/coco_train2017.npz"
    assert groups["occluder_bank"].outputs()[:2] == [bank, bank + ".json"]
    assert groups["train"].items["coco_hrnet_object_paste"]["bank"] == bank
    assert "${item.bank}" in groups["train"].body["deps"]
    assert bank in groups["occluders"].body["deps"]
    embedded = {g.name: g for g in stage_groups(load_params(repo_root() / "params.yaml"), figures=False)}
    assert "occluder_bank" not in embedded and "${item.bank}" not in embedded["train"].body["deps"]


class TruthOracle(torch.nn.Module):
    """The ground-truth heatmaps of an evaluation set whatever the pixels (row i is crop i, one batch)."""

    def __init__(self, eval_set):
        super().__init__()
        from occlusion.transforms import generate_heatmaps

        maps = [generate_heatmaps(j, (96, 128), (24, 32), 2.0)[0] for j in eval_set.joints]
        self.register_buffer("heatmaps", torch.from_numpy(np.stack(maps)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heatmaps[: len(x)]


def test_object_attacks_and_the_search_run_through_the_engine(data_root):
    from pycocotools.coco import COCO as CocoApi

    from occlusion import engine
    from occlusion.data import load_coco_records
    from occlusion.occluders.attack import compare_to_baseline, run_object_attacks
    from occlusion.occluders.study import crop_object_areas, search_eval_set
    from occlusion.worstcase import WorstCaseConfig

    ann = data_root / "annotations" / "person_keypoints_val.json"
    eval_set = engine.build_eval_set(load_coco_records(ann, data_root / "images" / "val"), (96, 128),
                                     coco_gt=CocoApi(str(ann)))
    cfg = ObjectAttackConfig(keypoints=("nose",), parts=("upper_body",), areas=(0.1,))
    kw = dict(flip_test=False, batch_size=len(eval_set), bootstrap_resamples=8)
    result = run_object_attacks(TruthOracle(eval_set), eval_set, cfg, COCO, meta={"run": "oracle"}, **kw)
    table = result.table
    assert table["target"].tolist() == ["clean", "nose", "upper_body"] and (table["run"] == "oracle").all()
    assert table.loc[0, "AP"] > 80 and (table["delta_AP"] == 0).all()  # the oracle ignores the pixels
    assert result.ap_samples.shape == (3, 8) and (result.ap_samples == result.ap_samples[0]).all()
    same = compare_to_baseline([result, result])
    assert (same["AP_vs_baseline"] == 0).all() and len(same) == 3
    area = crop_object_areas(eval_set)
    records = eval_set.records
    scale = (96 / (200 * records[0].scale[0])) * (128 / (200 * records[0].scale[1]))
    assert area[0] == pytest.approx(records[0].area * scale)
    constant = torch.nn.Conv2d(3, 17, 4, 4)  # a model that finds nothing: every target broken before any occluder
    search = search_eval_set(constant, eval_set, COCO, WorstCaseConfig(targets=("nose",), fills=("blackout",)),
                             flip_test=False, device="cpu", meta={"run": "constant"})
    assert (search["breaking_area"] == 0).all() and (search["queries"] == 0).all()
    assert search["image_id"].tolist() == [records[i].image_id for i in search["person"]]


def test_fig15_draws_both_panels_from_the_stage_tables():
    import pandas as pd

    from occlusion.reports.occluders import fig15_occluders

    attacks = pd.DataFrame({"run": ["base"] * 3 + ["paste"] * 3, "target": ["clean", "nose", "upper_body"] * 2,
                            "target_kind": ["none", "keypoint", "part"] * 2, "area": [0.0, 0.1, 0.1] * 2,
                            "delta_AP": [0, -5.0, -9.0, 0, -2.0, -4.0], "delta_AP_ci_low": [np.nan, -7, -12] * 2,
                            "delta_AP_ci_high": [np.nan, -3, -6] * 2})
    curves = pd.DataFrame({"run": ["base"] * 2, "model": ["hrnet"] * 2, "target": ["nose"] * 2,
                           "area": [0.01, 0.1], "fraction_broken": [0.25, 0.5], "persons": [4, 4]})
    fig, data = fig15_occluders(attacks, curves, profile="test")
    a, b = fig.axes[:2]
    assert [round(p.get_height(), 1) for p in a.patches] == [-5.0, -9.0, -2.0, -4.0]
    assert b.lines[0].get_ydata().tolist() == [25.0, 50.0]
    assert sorted(data["panel"].unique()) == ["a", "b"] and (data[data.panel == "a"]["target_kind"] != "none").all()


def test_a_bad_bank_filter_value_names_its_own_key():
    from occlusion.occluders.bank import CocoBankFilter

    with pytest.raises(ValueError, match=r"^max_side = 4: expected an integer >= 8"):
        CocoBankFilter(max_side=4)
    with pytest.raises(ValueError, match=r"^max_objects = 0: expected an integer >= 1"):
        CocoBankFilter(max_objects=0)
