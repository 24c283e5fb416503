"""Bottom-up HigherHRNet (Table III): grouping, targets and masks, checkpoint import, loss, per-instance
augmentations, the bottom-up attack and a perfect-map AP of 1.0 on generated data."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils
from torch import nn

from occlusion.augment import OcclusionAug
from occlusion.bottomup import (
    TABLE3_PRESETS,
    BottomUpAugConfig,
    BottomUpAugmenter,
    BottomUpDataset,
    BottomUpTransformConfig,
    GroupingConfig,
    ae_loss,
    bottomup_affine,
    bottomup_loss,
    create_bottomup_model,
    decode_bottomup,
    group_people,
    heatmap_loss,
    load_bottomup_checkpoint,
    multi_scale_size,
    occlude_image_instances,
    people_to_coco,
    predict_bottomup,
    predict_maps,
    tag_joints,
)
from occlusion.config import ConfigError, from_dict
from occlusion.evaluate import coco_keypoint_eval
from occlusion.keypoints import COCO
from occlusion.models import CheckpointError
from occlusion.synthetic import SyntheticConfig, generate_dataset
from occlusion.transforms import affine_points, get_affine_transform

K = 17
IDX = {name: i for i, name in enumerate(COCO.names)}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bu") / "data"
    generate_dataset(out, SyntheticConfig(train_images=4, val_images=4), progress=False)
    return out


def disc(h: int, w: int, x: float, y: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - y) ** 2 + (xx - x) ** 2 <= r * r


def mean_fill(image: np.ndarray) -> np.ndarray:
    return image.reshape(-1, 3).mean(axis=0).astype(np.uint8)


def person(**xy: tuple[float, float]) -> np.ndarray:
    kps = np.zeros((K, 3), np.float32)
    for name, (x, y) in xy.items():
        kps[IDX[name]] = (x, y, 2)
    return kps


# ----------------------------------------------------------------------------------------------- grouping


def planted_maps() -> tuple[np.ndarray, np.ndarray, dict[str, tuple[list[int], float, float]]]:
    """Three people on 48x64 maps: each joint a single-pixel peak with a half-height right and upper neighbour.

    A has every joint (value 1.0, tag 0), B lacks the nose and so starts at the left eye (0.8, tag 2), C has only
    the left leg, so it starts at the left hip, the 8th joint visited (0.6, tag 4). Joint k of the p-th person
    sits at column 4 + 3k, row 8 + 14p; the tag maps hold 100 elsewhere.
    """
    people = {"A": (list(range(K)), 1.0, 0.0), "B": (list(range(1, K)), 0.8, 2.0), "C": ([11, 13, 15], 0.6, 4.0)}
    heat = np.zeros((K, 48, 64), np.float32)
    tags = np.full((K, 48, 64, 2), 100.0, np.float32)  # L = 2, as with the flip test
    for p, (joints, value, tag) in enumerate(people.values()):
        for k in joints:
            x, y = 4 + 3 * k, 8 + 14 * p
            heat[k, y, x] = value
            heat[k, y, x + 1] = heat[k, y - 1, x] = value / 2
            tags[k, y, x] = tag
    return heat, tags, people


def test_grouping_returns_the_planted_people():
    heat, tags, planted = planted_maps()
    people, scores = group_people(torch.from_numpy(heat), torch.from_numpy(tags), GroupingConfig(refine=False))
    assert people.shape == (3, K, 5)
    for p, (joints, value, tag) in enumerate(planted.values()):
        expected = np.zeros((K, 5), np.float32)
        for k in joints:  # pixel centre + 0.5, then a quarter toward the higher right (x) and upper (y) neighbour
            expected[k] = (4 + 3 * k + 0.75, 8 + 14 * p + 0.25, value, tag, tag)
        np.testing.assert_array_equal(people[p], expected)
        assert scores[p] == pytest.approx(value * len(joints) / K)  # mean over all 17 joints, missing ones 0


def test_grouping_refine_fills_missing_joints_from_the_nearest_tag():
    heat, tags, _ = planted_maps()
    heat[16, 40, 50] = 0.05  # below the detection threshold, with C's tag: only refine can find it
    tags[16, 40, 50] = 4.0
    people, scores = group_people(heat, tags)
    a, b, c = people
    np.testing.assert_array_equal(c[16], np.float32([50.25, 40.25, 0.05, 0, 0]))  # tie on both axes: -0.25
    assert scores[2] == pytest.approx(0.6 * 3 / K)  # scored before refine
    # Every other joint C lacks: the peak whose tag is nearest C's, minus the rounded tag distance (B's, except
    # the nose, which only A has). B's missing nose is A's. Refine does not touch detected joints.
    for k in set(range(K)) - {11, 13, 15, 16}:
        np.testing.assert_array_equal(c[k, :3], np.float32([4 + 3 * k + 0.75, 22.25, 0.8] if k else [4.75, 8.25, 1]))
    np.testing.assert_array_equal(b[0, :3], np.float32([4.75, 8.25, 1.0]))
    np.testing.assert_array_equal(a[:, :3], group_people(heat, tags, GroupingConfig(refine=False))[0][0, :, :3])


def test_grouping_tag_threshold_and_people_limit():
    heat = np.zeros((K, 20, 20), np.float32)
    tags = np.zeros((K, 20, 20, 1), np.float32)
    heat[0, 5, 5], heat[1, 12, 14] = 1.0, 0.9  # a nose (tag 0) and a left eye (tag 0.9)
    tags[1, 12, 14] = 0.9
    people, _ = group_people(heat, tags, GroupingConfig(refine=False))
    assert len(people) == 1 and people[0, 1, 2] == pytest.approx(0.9)  # 0.9 < tag threshold 1: the same person
    people, _ = group_people(heat, tags, GroupingConfig(refine=False, tag_threshold=0.5))
    assert len(people) == 2 and people[1, 1, 2] == pytest.approx(0.9)
    # Joints are visited in HigherHRNet's COCO order (hips before elbows): the hip-only person comes first.
    heat = np.zeros((K, 20, 20), np.float32)
    heat[IDX["left_elbow"], 5, 5], heat[IDX["left_hip"], 12, 14] = 1.0, 0.9
    tags[IDX["left_hip"], 12, 14] = 5.0
    people, _ = group_people(heat, tags, GroupingConfig(refine=False))
    assert people[:, :, 2].tolist() == [[0.0] * 11 + [np.float32(0.9)] + [0.0] * 5, [0.0] * 7 + [1.0] + [0.0] * 9]
    # With max_people 2 and ignore_too_much, once A and B exist (after the left eye) every later joint is skipped.
    heat, tags, _ = planted_maps()
    people, _ = group_people(heat, tags, GroupingConfig(refine=False, max_people=2))
    assert len(people) == 2 and (people[:, 2:, 2] == 0).all() and people[1, 1, 2] == pytest.approx(0.8)
    people, _ = group_people(heat * 0.09, tags)
    assert people.shape == (0, K, 5)


# ---------------------------------------------------------------------------------- targets, masks, affine


def write_coco(tmp_path: Path, image: np.ndarray, annotations: list[dict]) -> tuple[Path, Path]:
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    cv2.imwrite(str(image_dir / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    h, w = image.shape[:2]
    anns = [{"id": i + 1, "image_id": 1, "category_id": 1, "area": 100.0, "bbox": [0, 0, 10, 10], **a}
            for i, a in enumerate(annotations)]  # fmt: skip
    data = {"images": [{"id": 1, "file_name": "a.png", "width": w, "height": h}], "annotations": anns,
            "categories": [{"id": 1, "name": "person"}]}  # fmt: skip
    ann_file = tmp_path / "ann.json"
    ann_file.write_text(json.dumps(data))
    return ann_file, image_dir


def hand_dataset(tmp_path: Path) -> tuple[Path, Path]:
    """An 80x64 image: one person (left wrist, nose), a crowd region (RLE) and a person with no keypoints (polygon)."""
    crowd = np.zeros((64, 80), np.uint8)
    crowd[40:64, 0:16] = 1
    rle = mask_utils.encode(np.asfortranarray(crowd))
    kps = person(left_wrist=(30.4, 20.7), nose=(50.0, 40.0))
    kps[IDX["nose"], 2] = 1
    image = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    return write_coco(tmp_path, image, [
        {"iscrowd": 0, "num_keypoints": 2, "keypoints": kps.ravel().tolist(),
         "segmentation": [[20, 10, 40, 10, 40, 50]]},
        {"iscrowd": 1, "num_keypoints": 0, "keypoints": [0] * 51,
         "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}},
        {"iscrowd": 0, "num_keypoints": 0, "keypoints": [0] * 51, "segmentation": [[60, 5, 70, 5, 70, 15, 60, 15]]},
    ])  # fmt: skip


def gaussian_map(size: int, x: int, y: int, sigma: float = 2.0) -> np.ndarray:
    """HigherHRNet's target for one joint at integer (x, y): the Gaussian within 7 px of it (15 x 15 window)."""
    yy, xx = np.mgrid[:size, :size]
    inside = (np.abs(xx - x) <= 7) & (np.abs(yy - y) <= 7)
    return (np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) * inside).astype(np.float32)


def test_targets_and_masks_of_a_known_image(tmp_path):
    ann_file, image_dir = hand_dataset(tmp_path)
    ds = BottomUpDataset(ann_file, image_dir, input_size=64, output_sizes=(16, 32), train=False)
    sample = ds[0]
    # Fixed transform: the 64x64 square of the short side centred on the image, i.e. columns 8..72, rows 0..64.
    # Output pixel = (x - 8, y) * size / 64; the left wrist (30.4, 20.7) -> (5.6, 5.175) and (11.2, 10.35).
    for s, size, (x, y), (nx, ny) in ((0, 16, (5, 5), (10, 10)), (1, 32, (11, 10), (21, 20))):
        hm = sample["heatmaps"][s].numpy()
        assert hm.shape == (K, size, size)
        np.testing.assert_allclose(hm[IDX["left_wrist"]], gaussian_map(size, x, y), atol=1e-6)
        np.testing.assert_allclose(hm[IDX["nose"]], gaussian_map(size, nx, ny), atol=1e-6)  # v = 1 counts
        assert not hm[[k for k in range(K) if k not in (IDX["left_wrist"], IDX["nose"])]].any()
    joints = sample["joints"].numpy()
    assert joints.shape == (30, K, 2)
    expected = np.zeros((30, K, 2), np.int64)
    expected[0, IDX["left_wrist"]] = (IDX["left_wrist"] * 256 + 5 * 16 + 5, 1)
    expected[0, IDX["nose"]] = (10 * 16 + 10, 1)
    np.testing.assert_array_equal(joints, expected)  # the no-keypoint person (slot 1) has no tag entries

    # Masks: False on the crowd RLE and on the no-keypoint person's polygon as pycocotools rasterises them. Output
    # pixel (i, j) samples the source at the integer point (8 + j * f, i * f), f = 64 / size, so the bilinear warp
    # reads exact source pixels.
    ignored = mask_utils.decode(mask_utils.frPyObjects([[60, 5, 70, 5, 70, 15, 60, 15]], 64, 80))[..., 0] > 0
    ignored[40:64, 0:16] = True
    for s, size in enumerate((16, 32)):
        f = 64 // size
        ys, xs = np.mgrid[:size, :size]
        expected = ~ignored[ys * f, xs * f + 8]
        assert 0 < (~expected).sum() < size * size / 4
        np.testing.assert_array_equal(sample["masks"][s].numpy(), expected.astype(np.float32))
    image = sample["image"]
    assert image.shape == (3, 64, 64)


def test_flip_mirrors_image_targets_masks_and_swaps_sides(tmp_path):
    ann_file, image_dir = hand_dataset(tmp_path)
    plain = BottomUpDataset(ann_file, image_dir, input_size=64, output_sizes=(16, 32), train=False)[0]
    flip = BottomUpTransformConfig(max_rotation=0, min_scale=1, max_scale=1, max_translate=0, flip_prob=1.0)
    flipped = BottomUpDataset(ann_file, image_dir, input_size=64, output_sizes=(16, 32), transform=flip)[0]
    torch.testing.assert_close(flipped["image"], plain["image"].flip(-1))
    for s, size in enumerate((16, 32)):
        torch.testing.assert_close(flipped["masks"][s], plain["masks"][s].flip(-1))
        # x -> size - x - 1 before truncation: 16 - 5.6 - 1 = 9.4 and 32 - 11.2 - 1 = 19.8
        x, y = ((9, 5), (19, 10))[s]
        np.testing.assert_allclose(flipped["heatmaps"][s][IDX["right_wrist"]].numpy(), gaussian_map(size, x, y),
                                   atol=1e-6)  # fmt: skip
        assert not flipped["heatmaps"][s][IDX["left_wrist"]].any()


def test_affine_agrees_with_the_hrnet_three_point_construction():
    for rotation in (0.0, 17.0, -30.0, 90.0):
        ours = bottomup_affine((130.5, 70.25), 1.7, 128, rotation)
        hrnet = get_affine_transform((130.5, 70.25), (1.7, 1.7), rotation, (128, 128))
        np.testing.assert_allclose(ours, hrnet, atol=1e-3)
    # +90 degrees: the source direction "right" becomes "up" in the output
    m = bottomup_affine((0.0, 0.0), 0.01, 2, 90.0)
    np.testing.assert_allclose(affine_points(np.array([[1.0, 0.0]]), m), [[1.0, 0.0]], atol=1e-12)


def test_training_samples_replay_per_epoch(synthetic):
    ann, images = synthetic / "annotations/person_keypoints_train.json", synthetic / "images/train"
    aug = BottomUpAugmenter(BottomUpAugConfig(cutout=OcclusionAug(prob=0.5, mode="parts")))
    ds = BottomUpDataset(ann, images, input_size=64, output_sizes=(16, 32), augmenter=aug, seed=3)
    a, b = ds[1], ds[1]
    torch.testing.assert_close(a["image"], b["image"])
    ds.set_epoch(1)
    assert not torch.equal(ds[1]["image"], a["image"])


# ------------------------------------------------------------------------------------------- checkpoints


def official_head(channels: int, joints: int = K, blocks: int = 4) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official HigherHRNet head (pose_higher_hrnet.py: final_layers, deconv_layers with
    Sequential(ConvTranspose, BN, ReLU) and Sequential(BasicBlock) x NUM_BASIC_BLOCKS)."""
    c = channels

    def bn(prefix: str) -> dict[str, tuple[int, ...]]:
        return {f"{prefix}.{n}": (c,) for n in ("weight", "bias", "running_mean", "running_var")} | {
            f"{prefix}.num_batches_tracked": ()}

    keys = {"final_layers.0.weight": (2 * joints, c, 1, 1), "final_layers.0.bias": (2 * joints,),
            "final_layers.1.weight": (joints, c, 1, 1), "final_layers.1.bias": (joints,),
            "deconv_layers.0.0.0.weight": (c + 2 * joints, c, 4, 4), **bn("deconv_layers.0.0.1")}  # fmt: skip
    for b in range(1, blocks + 1):
        block = f"deconv_layers.0.{b}.0"
        keys |= {f"{block}.conv1.weight": (c, c, 3, 3), f"{block}.conv2.weight": (c, c, 3, 3),
                 **bn(f"{block}.bn1"), **bn(f"{block}.bn2")}  # fmt: skip
    return keys


def random_official(model: nn.Module, channels: int) -> dict[str, torch.Tensor]:
    """A checkpoint in the official layout: the HRNet backbone at top level under timm's (= the official) names."""
    g = torch.Generator().manual_seed(0)
    shapes = {k: tuple(v.shape) for k, v in model.backbone.state_dict().items()} | official_head(channels)
    return {k: torch.randint(0, 1000, s, generator=g) if k.endswith("num_batches_tracked")
            else torch.randn(s, generator=g) for k, s in shapes.items()}  # fmt: skip


def test_official_checkpoint_import(tmp_path):
    model = create_bottomup_model("higherhrnet_w18_small", seed=0)
    official = random_official(model, 16)
    path = tmp_path / "pose_higher_hrnet_small.pth"
    torch.save(official, path)
    report = load_bottomup_checkpoint(model, path)
    assert (report.layout, report.loaded, report.missing, report.source) == (
        "official_higherhrnet", len(official), (), str(path))
    head = model.head
    placed = {
        "final_layers.0.weight": head.final[0].weight, "final_layers.1.bias": head.final[1].bias,
        "deconv_layers.0.0.0.weight": head.deconv[0][0].weight,
        "deconv_layers.0.0.1.running_var": head.deconv[0][1].running_var,
        "deconv_layers.0.1.0.conv1.weight": head.deconv[1].conv1.weight,
        "deconv_layers.0.4.0.bn2.bias": head.deconv[4].bn2.bias,
        "deconv_layers.0.3.0.bn1.num_batches_tracked": head.deconv[3].bn1.num_batches_tracked,
        "conv1.weight": model.backbone.conv1.weight,
        "stage4.0.fuse_layers.0.1.0.weight": model.backbone.stage4[0].fuse_layers[0][1][0].weight,
    }  # fmt: skip
    for key, tensor in placed.items():
        assert torch.equal(tensor, official[key]), key
    # every tensor landed somewhere: the multisets of tensor sums agree
    got = sorted(float(t.double().sum()) for t in model.state_dict().values())
    assert got == sorted(float(t.double().sum()) for t in official.values())


def test_export_writes_the_official_layout_and_reads_back():
    from occlusion.bottomup.checkpoint import export_bottomup_checkpoint

    model = create_bottomup_model("higherhrnet_w18_small", seed=0)
    official = random_official(model, 16)
    load_bottomup_checkpoint(model, official)
    exported = export_bottomup_checkpoint(model)
    assert exported.keys() == official.keys()
    assert all(torch.equal(exported[k], official[k]) for k in official)


def test_checkpoint_import_names_the_bad_keys():
    model = create_bottomup_model("higherhrnet_w18_small", seed=0)
    official = random_official(model, 16)
    broken = {k: v for k, v in official.items() if k != "deconv_layers.0.2.0.conv1.weight"}
    broken["final_layers.2.weight"] = torch.zeros(17, 16, 1, 1)
    bad = r"missing: deconv_layers\.0\.2\.0\.conv1\.weight.*unexpected: final_layers\.2"
    with pytest.raises(CheckpointError, match=bad):
        load_bottomup_checkpoint(model, broken)
    wrong = dict(official, **{"final_layers.0.bias": torch.zeros(17)})
    with pytest.raises(CheckpointError, match=r"another shape: final_layers\.0\.bias \(17,\)"):
        load_bottomup_checkpoint(model, wrong)
    top_down = {"final_layer.weight": torch.zeros(17, 16, 1, 1), "conv1.weight": official["conv1.weight"]}
    with pytest.raises(CheckpointError, match="neither"):
        load_bottomup_checkpoint(model, top_down)
    # A native state_dict (with a DataParallel prefix and a training wrapper) round-trips.
    other = create_bottomup_model("higherhrnet_w18_small", seed=1)
    report = load_bottomup_checkpoint(other, {"state_dict": {"module." + k: v for k, v in model.state_dict().items()}})
    assert report.layout == "native"
    assert all(torch.equal(a, b) for a, b in zip(other.state_dict().values(), model.state_dict().values()))


def test_higherhrnet_w32_parameters_and_official_shapes():
    model = create_bottomup_model("higherhrnet_w32", seed=0)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(28.6e6, rel=2e-3)  # HigherHRNet: 28.6M
    state = {k: v for k, v in model.backbone.state_dict().items()}
    state |= {k: torch.zeros(s) for k, s in official_head(32).items()}  # e.g. ConvTranspose (66, 32, 4, 4)
    assert load_bottomup_checkpoint(model, state).loaded == len(state)
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.zeros(1, 3, 64, 80))
    with pytest.raises(KeyError, match="higherhrnet_w18_small, higherhrnet_w32"):
        create_bottomup_model("higherhrnet_w48")


# -------------------------------------------------------------------------------------------------- loss


def test_ae_loss_hand_case():
    tags = torch.zeros(1, 2, 2, 2)  # K = 2 joints on 2x2 maps; flat index = k * 4 + y * 2 + x
    tags[0, 0, 0, 0], tags[0, 1, 0, 0] = 1.0, 1.0  # person 0: both joints tag 1 -> pull 0
    tags[0, 0, 1, 1], tags[0, 1, 1, 1] = 3.0, 3.0  # person 1: both joints tag 3
    joints = torch.tensor([[[[0, 1], [4, 1]], [[3, 1], [7, 1]], [[0, 0], [0, 0]]]])  # (N=1, M=3, K=2, 2)
    push, pull = ae_loss(tags, joints)
    assert pull.item() == 0.0
    assert push.item() == pytest.approx(0.5 * (2 + 2 * np.exp(-4.0) - 2) / 2)  # (sum exp(-d^2) - P) / (P(P-1)) / 2
    tags[0, 1, 1, 1] = 4.0  # person 1 now 3 and 4: mean 3.5, pull (0.25 + 0.25) / 2 / P
    push, pull = ae_loss(tags, joints)
    assert pull.item() == pytest.approx(0.25 / 2)
    assert push.item() == pytest.approx(0.5 * (2 * np.exp(-(2.5**2))) / 2)
    one = torch.tensor([[[[0, 1], [4, 1]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]]])
    assert ae_loss(tags, one)[0].item() == 0.0  # a single person: no push
    assert [v.item() for v in ae_loss(tags, torch.zeros_like(one))] == [0.0, 0.0]


def test_bottomup_loss_combines_stages_with_factors():
    stage1 = torch.zeros(2, 2 * K, 4, 4)
    stage1[:, :K] = 1.0  # heatmaps 1 vs target 0: squared error 1 where unmasked
    stage2 = torch.zeros(2, K, 8, 8)
    masks = [torch.ones(2, 4, 4), torch.ones(2, 8, 8)]
    masks[0][:, :2] = 0  # half of stage 1 masked
    heatmaps = [torch.zeros(2, K, 4, 4), torch.full((2, K, 8, 8), 0.5)]
    joints = torch.zeros(2, 30, K, 2, dtype=torch.int64)
    stage1[0, K + 0, 0, 0], stage1[0, K + 1, 3, 3] = 0.0, 2.0
    joints[0, 0, 0], joints[0, 1, 1] = torch.tensor([0, 1]), torch.tensor([16 + 15, 1])
    losses = bottomup_loss([stage1, stage2], heatmaps, masks, joints)
    assert losses["heatmaps_0"].item() == pytest.approx(0.5)
    assert losses["heatmaps_1"].item() == pytest.approx(0.25)
    assert losses["push"].item() == pytest.approx(1e-3 * 0.5 * (0.5 * 2 * np.exp(-4.0) / 2))  # image 1: no people
    assert losses["pull"].item() == 0.0
    assert losses["loss"].item() == pytest.approx(0.75 + losses["push"].item())
    per_sample = heatmap_loss(stage1[:, :K], heatmaps[0], masks[0])
    torch.testing.assert_close(per_sample, torch.tensor([0.5, 0.5]))


# ------------------------------------------------------------------------------------------ augmentations


def test_table3_presets_and_config_checks():
    cfgs = {name: from_dict(BottomUpAugConfig, preset) for name, preset in TABLE3_PRESETS.items()}
    assert {name: cfg.enabled for name, cfg in cfgs.items()} == {
        "baseline": (), "blur_k_05": ("blurring",), "cutout_p_05_keep": ("cutout",), "partmix_05_keep": ("partmix",)}
    assert cfgs["cutout_p_05_keep"].cutout == OcclusionAug(prob=0.5, mode="parts")
    assert cfgs["partmix_05_keep"].augment_config().remove is False
    with pytest.raises(ConfigError, match="radius = 0"):
        from_dict(BottomUpAugConfig, {"radius": 0})
    with pytest.raises(ConfigError, match="nms_kernel = 4"):
        from_dict(GroupingConfig, {"nms_kernel": 4})


def test_cutout_per_instance_uses_the_running_mean_and_keeps_labels():
    image = np.random.default_rng(1).integers(0, 120, (40, 60, 3), dtype=np.uint8)
    people = np.stack([person(left_elbow=(12.5, 10.25)), person(right_knee=(30.5, 25.25)),
                       np.zeros((K, 3), np.float32)])
    before = people.copy()
    aug = BottomUpAugmenter(BottomUpAugConfig(cutout=OcclusionAug(prob=1.0, mode="keypoint")))
    out = aug(image, people, np.random.default_rng(0))
    expected = image.copy()
    expected[disc(40, 60, 12.5, 10.25, 6)] = mean_fill(expected)
    assert not np.array_equal(mean_fill(expected), mean_fill(image))
    expected[disc(40, 60, 30.5, 25.25, 6)] = mean_fill(expected)  # the mean of the image the first one left
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(people, before)


def test_per_instance_draws_replay_and_order():
    image = np.random.default_rng(2).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    people = np.stack([person(left_elbow=(12.5, 10.25)), person(right_knee=(30.5, 25.25))])
    cfg = BottomUpAugConfig(blurring=OcclusionAug(prob=0.5), cutout=OcclusionAug(prob=0.5))
    aug = BottomUpAugmenter(cfg)
    assert aug.names == ("blurring", "cutout")
    fired = set()
    for seed in range(40):
        params = aug.sample(image, people, np.random.default_rng(seed))
        assert [len(s) for s in params.steps] == [2, 2]
        fired.add(tuple(p.fired for p in params.steps[1]))
        np.testing.assert_array_equal(aug.apply(image, people, params), aug(image, people, np.random.default_rng(seed)))
    assert fired == {(False, False), (False, True), (True, False), (True, True)}  # one U < p per instance


@pytest.mark.parametrize("paper_bounds", [True, False])
def test_full_image_swapped_bounds(paper_bounds):
    """On a 60 wide, 40 high image a keypoint at x = 45 >= height is skipped by the reference's check."""
    image = np.random.default_rng(3).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    people = person(nose=(45.5, 20.25))[None]
    cfg = BottomUpAugConfig(blurring=OcclusionAug(prob=1.0), paper_bounds=paper_bounds)
    out = BottomUpAugmenter(cfg)(image, people, np.random.default_rng(0))
    expected = image.copy()
    if not paper_bounds:
        region = disc(40, 60, 45.5, 20.25, 6)
        expected[region] = cv2.GaussianBlur(image, (11, 11), 0)[region]
    np.testing.assert_array_equal(out, expected)


# -------------------------------------------------------------------------------------------------- attack


def test_attack_occludes_every_instance_in_turn():
    image = np.random.default_rng(4).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    unlabelled = person(left_eye=(5.0, 5.0))
    keypoints = np.stack([person(nose=(10.5, 12.25)), unlabelled, person(nose=(40.5, 30.25))])
    out = occlude_image_instances(image, keypoints, "nose", "meanout")
    expected = image.copy()
    for x, y in ((10.5, 12.25), (40.5, 30.25)):
        expected[disc(50, 70, x, y, 6)] = mean_fill(expected)
    np.testing.assert_array_equal(out, expected)
    assert not np.array_equal(out, image)

    arms = np.stack([person(left_shoulder=(10, 5), left_elbow=(14, 15), left_wrist=(20, 22)),
                     person(left_shoulder=(40, 20), left_elbow=(45, 30), left_wrist=(52, 40))])  # fmt: skip
    out = occlude_image_instances(image, arms, "left_arm", "blackout")
    expected = image.copy()
    expected[5:22, 10:20] = 0  # minrect, half-open
    expected[20:40, 40:52] = 0
    np.testing.assert_array_equal(out, expected)
    # the swapped bounds check: x = 55 >= height 50 is skipped unless corrected
    far = person(nose=(55.5, 10.25))[None]
    np.testing.assert_array_equal(occlude_image_instances(image, far, "nose", "blackout"), image)
    fixed = occlude_image_instances(image, far, "nose", "blackout", paper_bounds=False, radius=3)
    assert (fixed[disc(50, 70, 55.5, 10.25, 3)] == 0).all()


# ----------------------------------------------------------------------------------------------- inference


def perfect_maps(people: np.ndarray, size: tuple[int, int], sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps and tags a perfect network would give: a Gaussian at each labelled joint's input position (pixel
    index = coordinate - 0.5, as the decoder reads index + 0.5), tags 3 * person index where that person's
    Gaussian is the highest."""
    w, h = size
    yy, xx = np.mgrid[:h, :w]
    heat = np.zeros((K, h, w))
    tags = np.zeros((K, h, w, 1))
    for p, kps in enumerate(people):
        for k, (x, y, v) in enumerate(kps):
            if v > 0:
                g = np.exp(-((xx - (x - 0.5)) ** 2 + (yy - (y - 0.5)) ** 2) / (2 * sigma**2))
                higher = g > heat[k]
                heat[k][higher] = g[higher]
                tags[k][higher] = 3.0 * p
    return heat.astype(np.float32), tags.astype(np.float32)


def test_perfect_maps_decode_to_ap_one(synthetic):
    ann_file = synthetic / "annotations/person_keypoints_val.json"
    data = json.loads(ann_file.read_text())
    results = []
    for img in data["images"]:
        anns = [a for a in data["annotations"] if a["image_id"] == img["id"] and a["num_keypoints"] > 0]
        kps = np.asarray([a["keypoints"] for a in anns], np.float64).reshape(-1, K, 3)
        size, center, scale = multi_scale_size(img["width"], img["height"], 256)
        assert size == (384, 256)  # 320x240: short side 256, long side 341.3 rounded up to a multiple of 64
        kps[..., :2] = affine_points(kps[..., :2].reshape(-1, 2), get_affine_transform(center, scale, 0, size)).reshape(
            kps.shape[:2] + (2,))
        heat, tags = perfect_maps(kps, size)
        people = decode_bottomup(heat, tags, center, scale)
        assert len(people) == len(anns)
        results += people_to_coco(img["id"], people)
    stats = coco_keypoint_eval(ann_file, results)
    assert stats["AP"] == 1.0 and stats["AR"] == 1.0


class ConstantModel(nn.Module):
    """Stage 1: heatmap k = k, tag k = 100 + k; stage 2: heatmap k = 2k (input-independent)."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        n, _, h, w = x.shape
        ks = torch.arange(K, dtype=torch.float32)[None, :, None, None]
        first = torch.cat([ks, 100 + ks], dim=1).expand(n, 2 * K, h // 4, w // 4)
        return [first + self.anchor, (2 * ks).expand(n, K, h // 2, w // 2) + self.anchor]


def test_predict_maps_flip_back_and_stage_average():
    image = np.zeros((64, 96, 3), np.uint8)
    heat, tags = predict_maps(ConstantModel(), image, flip_test=True)
    assert heat.shape == (K, 64, 96) and tags.shape == (K, 64, 96, 2)
    perm = COCO.flip_permutation()
    ks = np.arange(K)
    # stages averaged (k + 2k) / 2 = 1.5k; the flipped pass's channels come back permuted: (1.5k + 1.5 perm[k]) / 2
    np.testing.assert_allclose(heat[:, 10, 20].numpy(), 0.75 * (ks + perm))
    np.testing.assert_allclose(tags[:, 5, 7].numpy(), np.stack([100 + ks, 100 + perm], axis=1))
    heat, tags = predict_maps(ConstantModel(), image, flip_test=False)
    np.testing.assert_allclose(heat[:, 0, 0].numpy(), 1.5 * ks)
    assert tags.shape == (K, 64, 96, 1)


class SpotModel(nn.Module):
    """A "network" that sees noses: stage-1 and stage-2 nose heatmaps are the input's normalised red channel,
    average-pooled to 1/4 and 1/2; every other map and all tags are 0."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        red = x[:, :1] + self.anchor
        first = F.pad(F.avg_pool2d(red, 4), (0, 0, 0, 0, 0, 2 * K - 1))
        return [first, F.pad(F.avg_pool2d(red, 2), (0, 0, 0, 0, 0, K - 1))]


def test_predict_bottomup_maps_detections_back_to_the_image():
    """End to end: resize (short side 128), flip test, projection and the inverse affine put the nose on the spot."""
    yy, xx = np.mgrid[:240, :320]
    image = np.zeros((240, 320, 3), np.uint8)
    image[..., 0] = np.round(255 * np.exp(-((xx - 230.3) ** 2 + (yy - 70.6) ** 2) / (2 * 4.0**2)))
    people = predict_bottomup(SpotModel(), image, input_size=128)
    assert len(people) == 1
    (nose, *rest), score = people[0].keypoints, people[0].score
    assert abs(nose[0] - 230.3) < 2 and abs(nose[1] - 70.6) < 2 and nose[2] > 0.1
    assert score == pytest.approx(nose[2] / K) and not np.asarray(rest)[:, 2].any()
    results = people_to_coco(7, people)
    assert results[0]["image_id"] == 7 and len(results[0]["keypoints"]) == 3 * K


def test_tiny_model_forward_and_tag_indices():
    model = create_bottomup_model("higherhrnet_w18_small", seed=0).eval()
    first, second = model(torch.zeros(1, 3, 64, 96))
    assert first.shape == (1, 2 * K, 16, 24) and second.shape == (1, K, 32, 48)
    tagged = tag_joints(np.array([[[3.9, 2.2, 2]] + [[0, 0, 0]] * 16]), 8, max_people=2)
    assert tagged[0, 0].tolist() == [2 * 8 + 3, 1] and not tagged[1].any()
