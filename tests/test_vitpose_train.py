"""The tiny ViTPose trains: it fits generated crops with ViTPose's recipe (AdamW, layer-wise decay, warm-up,
clipping), and ``occlusion.train`` runs it from params with the recipe's fields (optimizer groups, lr scales)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from occlusion import train as train_mod
from occlusion.data import TopDownDataset
from occlusion.keypoints import get_skeleton
from occlusion.models import create_model, vitpose_train_overrides
from occlusion.params import DatasetPaths, TrainConfig, load_params, with_overrides
from occlusion.runtime import flush_denormals, set_lr, warmup_factor
from occlusion.spec import RunSpec
from occlusion.splits import read_split
from occlusion.train import build_optimizer, joints_mse_loss

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def crops(data_root):
    """8 generated training persons: their crops at 96x128 (no augmentation), targets and weights, and the
    engine's evaluation set of the same persons (the same crops, scored against the training annotations)."""
    from occlusion import engine

    paths = DatasetPaths(train_annotations=str(data_root / "annotations" / "person_keypoints_train.json"),
                         train_images=str(data_root / "images" / "train"), val_annotations="", val_images="")
    split = read_split(paths, "coco", "train")
    records = split.records[:8]
    ds = TopDownDataset(records, image_size=(96, 128), heatmap_size=(24, 32), sigma=2.0, skeleton=get_skeleton("coco"))
    items = [ds[i] for i in range(len(records))]
    tensors = tuple(torch.stack([torch.as_tensor(it[k]) for it in items]) for k in ("image", "target", "target_weight"))
    return (*tensors, engine.build_eval_set(records, (96, 128), dataset="coco", coco_gt=split.coco_gt))


def fitted_ap(model: torch.nn.Module, eval_set) -> float:
    """COCO AP (ground-truth boxes, no flip) of ``model`` on the evaluation set."""
    from occlusion import engine

    skeleton = get_skeleton("coco")
    preds, maxvals = engine.predict(model, eval_set, skeleton, flip_test=False, batch_size=8)
    model.train()
    return engine.score(eval_set, preds, maxvals, skeleton)["all"]["AP"]


def keypoint_error(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> float:
    """Mean distance (heatmap pixels) between the heatmaps' and the targets' maxima over the labelled joints."""
    model.eval()
    with torch.no_grad():
        out = model(x)
    model.train()

    def argmax(h: torch.Tensor) -> torch.Tensor:
        flat = h.flatten(2).argmax(-1)
        return torch.stack([flat % h.shape[-1], flat // h.shape[-1]], -1).float()

    dist = (argmax(out) - argmax(target)).norm(dim=-1)
    return dist[weight.reshape(dist.shape) > 0].mean().item()


def test_tiny_vitpose_learns_generated_crops(crops):
    """30 steps of the ViTPose recipe (lr 1e-3, 5 warm-up steps) on 8 crops: the loss falls to under half, the
    predicted keypoints move from ~12 heatmap pixels off (untrained) to within a few, and the AP on these persons
    rises above the untrained model's (measured: loss x0.3, error 11.9 -> 1.6, AP 0 -> 7.6). A fit of the
    training persons, not a generalisation claim."""
    x, target, weight, eval_set = crops
    flush_denormals()
    model = create_model("vitpose_tiny", seed=0).train()
    cfg = with_overrides(TrainConfig(), {**vitpose_train_overrides("tiny"), "lr": 1e-3, "warmup_iters": 5}, "train")
    optimizer = build_optimizer(model, cfg)
    before, ap_before = keypoint_error(model, x, target, weight), fitted_ap(model, eval_set)
    losses = []
    for it in range(30):
        set_lr(optimizer, cfg.lr * warmup_factor(cfg, it))
        loss = joints_mse_loss(model(x), target, weight)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]
    assert keypoint_error(model, x, target, weight) < 0.5 * before
    assert fitted_ap(model, eval_set) > ap_before


def test_training_runs_the_vitpose_recipe_from_params(data_root, tmp_path):
    """A run of the tiny ViTPose with ViTPose's train overrides: AdamW groups with their lr scales (the epoch's lr
    times layer_decay ** (depth + 1 - layer)), the model recipe's drop path taken by the model, the outputs."""
    y = yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text())
    y["data"]["root"] = str(data_root)
    y["models"]["vit"] = {"arch": "vitpose_tiny", "input_size": [96, 128], "sigma": 2.0, "color": "rgb",
                          "drop_path": 0.2}
    recipe = {**vitpose_train_overrides("tiny"), "epochs": 2, "milestones": [1], "warmup_iters": 3, "batch_size": 4,
              "workers": 0, "max_iters_per_epoch": 2, "eval_every": 2}
    y["runs"]["t_vit"] = {"dataset": "coco", "model": "vit", "preset": "no_aug", "train": recipe}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(y))
    out = tmp_path / "runs" / "t_vit"
    summary = train_mod.train(RunSpec.for_run(load_params(tmp_path / "params.yaml"), "t_vit", out_dir=out),
                              progress=False)
    assert summary["arch"] == "vitpose_tiny" and summary["train_config"]["optimizer"] == "adamw"
    assert (out / "model.pt").is_file() and (out / "train_log.csv").is_file()
    state = torch.load(out / "ckpt" / "last.pt", map_location="cpu", weights_only=True)
    groups = {g["name"]: g for g in state["optimizer"]["param_groups"]}
    lr = 5e-4 * 0.1  # the second epoch, after the drop at 1 (no legacy shift)
    assert groups["layer_0_decay"]["lr"] == pytest.approx(lr * 0.75 ** 7)
    assert groups["layer_6_decay"]["lr"] == pytest.approx(lr * 0.75)
    assert groups["layer_7_decay"]["lr"] == pytest.approx(lr) and groups["layer_7_no_decay"]["weight_decay"] == 0
    assert groups["layer_7_decay"]["weight_decay"] == 0.1


@pytest.mark.parametrize("flip_test", [False, True])
def test_the_engine_predicts_and_scores_vitpose_unchanged(data_root, flip_test):
    """The evaluation engine runs a ViTPose as any registered model: crops at its input size, heatmaps at stride 4,
    flip test, COCO scoring."""
    from occlusion import engine

    paths = DatasetPaths(train_annotations="", train_images="",
                         val_annotations=str(data_root / "annotations" / "person_keypoints_val.json"),
                         val_images=str(data_root / "images" / "val"))
    split = read_split(paths, "coco", "val")
    eval_set = engine.build_eval_set(split.records, (96, 128), dataset="coco", coco_gt=split.coco_gt)
    skeleton = get_skeleton("coco")
    model = create_model("vitpose_tiny", seed=0).to(memory_format=torch.channels_last)
    preds, maxvals = engine.predict(model, eval_set, skeleton, color="rgb", flip_test=flip_test, batch_size=8)
    assert preds.shape == (len(split.records), 17, 2) and maxvals.shape == (len(split.records), 17, 1)
    assert 0.0 <= engine.score(eval_set, preds, maxvals, skeleton)["all"]["AP"] <= 100.0
