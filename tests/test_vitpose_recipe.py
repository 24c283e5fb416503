"""ViTPose's training recipe as data: TrainConfig's AdamW / weight decay / layer-wise lr decay / warm-up / clipping
fields, the layer-decay parameter groups, the optimizer the training builds, and the model recipe's drop path."""
from __future__ import annotations

import pytest
import torch

from occlusion.config import ConfigError, FieldError
from occlusion.models import create_model, layer_decay_param_groups, vitpose_train_overrides
from occlusion.params import ModelRecipe, TrainConfig, with_overrides
from occlusion.runtime import set_lr, warmup_factor
from occlusion.train import build_optimizer

LR, DECAY = 5e-4, 0.75


@pytest.fixture(scope="module")
def tiny():
    return create_model("vitpose_tiny", seed=0)


def group_of(groups: list[dict], param: torch.Tensor) -> dict:
    (group,) = [g for g in groups if any(p is param for p in g["params"])]
    return group


def test_layer_decay_groups_scale_the_lr_by_depth(tiny):
    depth = len(tiny.backbone.blocks)  # 6
    groups = layer_decay_param_groups(tiny, LR, weight_decay=0.1, layer_decay=DECAY)
    lr = {name: group_of(groups, p)["lr"] for name, p in tiny.named_parameters()}
    assert lr["backbone.patch_embed.proj.weight"] == pytest.approx(LR * DECAY ** (depth + 1))
    assert lr["backbone.pos_embed"] == pytest.approx(LR * DECAY ** (depth + 1))
    assert lr["backbone.blocks.0.attn.qkv.weight"] == pytest.approx(LR * DECAY ** depth)
    assert lr[f"backbone.blocks.{depth - 1}.mlp.fc2.weight"] == pytest.approx(LR * DECAY)
    assert lr["backbone.norm.weight"] == lr["head.final.weight"] == lr["head.deconv.0.0.weight"] == LR
    # every parameter exactly once
    assert sum(len(g["params"]) for g in groups) == len(list(tiny.parameters()))


def test_no_weight_decay_for_norms_biases_and_position_embedding(tiny):
    groups = layer_decay_param_groups(tiny, LR, weight_decay=0.1, layer_decay=DECAY)
    wd = {name: group_of(groups, p)["weight_decay"] for name, p in tiny.named_parameters()}
    assert wd["backbone.blocks.2.attn.qkv.weight"] == wd["head.deconv.1.0.weight"] == 0.1
    assert wd["backbone.pos_embed"] == wd["backbone.blocks.2.norm1.weight"] == wd["backbone.blocks.2.attn.qkv.bias"] \
        == wd["head.deconv.0.1.weight"] == wd["head.final.bias"] == 0.0


def test_num_layers_as_the_official_large_config():
    """ViTPose_large_coco_256x192.py gives num_layers=16 for 24 blocks: the top blocks get more than lr."""
    with torch.device("meta"):
        model = create_model("vitpose_l")
    groups = layer_decay_param_groups(model, LR, 0.1, 0.8, num_layers=16)
    assert group_of(groups, model.backbone.blocks[15].mlp.fc1.weight)["lr_scale"] == pytest.approx(0.8)
    assert group_of(groups, model.backbone.blocks[23].mlp.fc1.weight)["lr_scale"] == pytest.approx(0.8 ** -7)


def test_layer_decay_needs_a_vit():
    with torch.device("meta"):
        hrnet = create_model("hrnet_w18_small")
    with pytest.raises(ValueError, match="layer_decay = 0.75: layer-wise decay needs a ViT"):
        layer_decay_param_groups(hrnet, LR, layer_decay=0.75)
    groups = layer_decay_param_groups(hrnet, LR, weight_decay=1e-4)
    assert {g["lr_scale"] for g in groups} == {1.0} and {g["weight_decay"] for g in groups} == {0.0, 1e-4}


def test_the_reference_optimizer_is_unchanged(tiny):
    opt = build_optimizer(tiny, TrainConfig(lr=1e-3))
    assert type(opt) is torch.optim.Adam and len(opt.param_groups) == 1 and "lr_scale" not in opt.param_groups[0]
    assert opt.param_groups[0]["weight_decay"] == 0


def test_the_vitpose_recipe_builds_adamw_with_scaled_groups(tiny):
    cfg = with_overrides(TrainConfig(), vitpose_train_overrides("b"), "runs.vitpose_b.train")
    assert (cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.layer_decay, cfg.warmup_iters, cfg.warmup_ratio,
            cfg.clip_grad, cfg.epochs, cfg.milestones, cfg.legacy_scheduler_order) == (
        "adamw", 5e-4, 0.1, 0.75, 500, 0.001, 1.0, 210, (170, 200), False)
    opt = build_optimizer(tiny, cfg)
    assert type(opt) is torch.optim.AdamW
    set_lr(opt, 1e-4)  # as fit() sets each epoch's learning rate
    patch = group_of(opt.param_groups, tiny.backbone.patch_embed.proj.weight)
    assert patch["lr"] == pytest.approx(1e-4 * 0.75 ** 7) and patch["betas"] == (0.9, 0.999)
    assert group_of(opt.param_groups, tiny.head.final.weight)["lr"] == pytest.approx(1e-4)
    assert [vitpose_train_overrides(s)["layer_decay"] for s in ("b", "l", "h")] == [0.75, 0.8, 0.85]


def test_warmup_is_mmcvs_linear_policy():
    cfg = TrainConfig(warmup_iters=500, warmup_ratio=0.001)
    assert warmup_factor(cfg, 0) == pytest.approx(0.001)
    assert warmup_factor(cfg, 250) == pytest.approx(1 - 0.5 * 0.999)
    assert warmup_factor(cfg, 500) == warmup_factor(cfg, 10_000) == 1.0
    assert warmup_factor(TrainConfig(), 0) == 1.0


@pytest.mark.parametrize("key, value", [("optimizer", "sgd"), ("weight_decay", -0.1), ("layer_decay", 0.0),
                                        ("layer_decay", 1.5), ("warmup_iters", -1), ("warmup_ratio", 0.0),
                                        ("clip_grad", -1.0)])
def test_recipe_fields_are_validated_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"runs\.x\.train\.{key}"):
        with_overrides(TrainConfig(), {key: value}, "runs.x.train")


def test_model_recipe_drop_path():
    assert ModelRecipe(arch="vitpose_tiny", input_size=(96, 128)).model_kwargs == {}
    recipe = ModelRecipe(arch="vitpose_tiny", input_size=(96, 128), drop_path=0.2)
    model = create_model(recipe.arch, **recipe.model_kwargs)
    assert model.backbone.blocks[-1].drop_path1.drop_prob == pytest.approx(0.2)
    with pytest.raises(FieldError, match="drop_path.*ViTPose setting"):
        ModelRecipe(arch="hrnet_w18_small", input_size=(96, 128), drop_path=0.1)
