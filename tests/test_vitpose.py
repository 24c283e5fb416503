"""ViTPose in the registry (occlusion/models/vitpose.py): sizes, parameter counts, decoders and the conventions the
engine and training rely on. The large models are counted on the meta device (no memory, no init time); real
forwards run on ViTPose-B and the tiny stand-in only."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from occlusion.models import (
    CHECKPOINTS,
    VIT_SPECS,
    CheckpointError,
    ViTPoseNet,
    build_vitpose,
    create_model,
    detect_layout,
    export_checkpoint,
    list_models,
    load_pose_checkpoint,
    model_info,
)
from occlusion.params import ModelRecipe

VITPOSE = ["vitpose_b", "vitpose_b_simple", "vitpose_h", "vitpose_h_simple", "vitpose_l", "vitpose_l_simple",
           "vitpose_tiny"]
# Measured with 17 joints (exact, a regression check).
PARAMS = {
    "vitpose_b": 89_993_745, "vitpose_l": 308_543_761, "vitpose_h": 637_207_569,
    "vitpose_b_simple": 85_911_569, "vitpose_l_simple": 303_452_177, "vitpose_h_simple": 631_106_577,
    "vitpose_tiny": 3_089_937,
}
# The ViTPose paper (Table 1 / Sec. 4) gives ViTPose-B 86M, L 307M, H 632M: the ViT-B/L/H backbone sizes as usually
# quoted (ImageNet ViTs at 224x224 with 197 position embeddings). Ours have 192 position embeddings and no class
# token; the backbones come within 1.5% (B -0.2%, L -1.2%, H -0.2%), the paper rounding to 1M. The decoders add
# 0.1-0.2M (simple) or 4.2-6.3M (classic: two 256-channel deconvolutions), which the paper's count leaves out.
PAPER_BACKBONE = {"b": 86e6, "l": 307e6, "h": 632e6}


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def meta_model(name: str) -> ViTPoseNet:
    with torch.device("meta"):
        return create_model(name)


@pytest.fixture(scope="module")
def vitpose_b():
    return create_model("vitpose_b", seed=0).eval()


@pytest.fixture(scope="module")
def tiny():
    return create_model("vitpose_tiny", seed=0).eval()


def test_registered_with_their_metadata():
    assert list_models("vitpose*") == VITPOSE
    for name in VITPOSE:
        info = model_info(name)
        assert (info.family, info.color, info.stride, info.input_multiple, info.sigma) == ("vitpose", "rgb", 4, 16, 2.0)
        assert info.input_size == ((96, 128) if name == "vitpose_tiny" else (192, 256))


@pytest.mark.parametrize("name", VITPOSE)
def test_parameter_count(name):
    model = meta_model(name)
    assert n_params(model) == PARAMS[name]
    size = name.split("_")[1]
    if size in PAPER_BACKBONE:
        assert abs(n_params(model.backbone) - PAPER_BACKBONE[size]) <= 0.015 * PAPER_BACKBONE[size]


@pytest.mark.parametrize("name, dim, depth, heads", [("vitpose_b", 768, 12, 12), ("vitpose_l", 1024, 24, 16),
                                                     ("vitpose_h", 1280, 32, 16), ("vitpose_tiny", 192, 6, 3)])
def test_backbone_shape(name, dim, depth, heads):
    vit = meta_model(name).backbone
    w, h = model_info(name).input_size
    proj = vit.patch_embed.proj
    assert (proj.kernel_size, proj.stride, proj.padding, proj.out_channels) == ((16, 16), (16, 16), (2, 2), dim)
    assert vit.cls_token is None and vit.pos_embed.shape == (1, (h // 16) * (w // 16), dim)
    assert len(vit.blocks) == depth and vit.blocks[0].attn.num_heads == heads
    assert vit.blocks[0].mlp.fc1.out_features == 4 * dim and vit.blocks[0].attn.qkv.bias is not None
    assert isinstance(vit.norm, torch.nn.LayerNorm) and vit.norm.eps == 1e-6
    drop = [getattr(b.drop_path1, "drop_prob", 0.0) for b in vit.blocks]
    assert drop[0] == 0.0 and drop[-1] == pytest.approx({"vitpose_b": 0.3, "vitpose_l": 0.5, "vitpose_h": 0.55,
                                                         "vitpose_tiny": 0.1}[name])


def test_vitpose_b_feature_map_and_heatmaps(vitpose_b):
    x = torch.randn(2, 3, 256, 192)
    with torch.no_grad():
        assert vitpose_b.features(x).shape == (2, 768, 16, 12)
        assert vitpose_b(x).shape == (2, 17, 64, 48)
    head = vitpose_b.head
    deconvs = [(b[0].in_channels, b[0].out_channels, b[0].kernel_size, b[0].stride, b[0].padding, b[0].bias)
               for b in head.deconv]
    assert deconvs == [(768, 256, (4, 4), (2, 2), (1, 1), None), (256, 256, (4, 4), (2, 2), (1, 1), None)]
    assert head.final.kernel_size == (1, 1) and head.final.in_channels == 256


def test_simple_decoder_is_relu_bilinear_x4_conv3x3():
    simple = build_vitpose(VIT_SPECS["tiny"], "simple", 5, (96, 128)).eval()  # the tiny ViT, simple decoder
    assert simple.head.final.kernel_size == (3, 3) and simple.head.final.padding == (1, 1)
    x = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        feat = simple.features(x)
        expected = simple.head.final(F.interpolate(feat.relu(), scale_factor=4, mode="bilinear", align_corners=False))
        assert torch.equal(simple(x), expected) and expected.shape == (1, 5, 32, 24)
    assert model_info("vitpose_b_simple").input_size == (192, 256)


def test_tiny_input_sizes_joints_and_channels_last(tiny):
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        out = tiny(x)
        assert out.shape == (2, 17, 32, 24)
        assert tiny(torch.randn(1, 3, 160, 128)).shape == (1, 17, 40, 32)  # another grid: position embedding resampled
        cl = tiny.to(memory_format=torch.channels_last)
        assert torch.allclose(cl(x.contiguous(memory_format=torch.channels_last)), out, atol=1e-5)
    with pytest.raises(ValueError, match="multiples of 16"):
        tiny(torch.zeros(1, 3, 120, 96))
    assert create_model("vitpose_tiny", num_joints=16).head.final.out_channels == 16


def test_every_parameter_gets_a_gradient():
    model = create_model("vitpose_tiny", seed=0).train()
    model(torch.randn(2, 3, 128, 96)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_same_seed_same_weights():
    a, b = create_model("vitpose_tiny", seed=3), create_model("vitpose_tiny", seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_pretrained_imagenet_is_refused_naming_the_alternative():
    with pytest.raises(NotImplementedError, match="official ViTPose checkpoint"):
        create_model("vitpose_tiny", pretrained=True)


def test_model_recipe_accepts_vitpose():
    recipe = ModelRecipe(arch="vitpose_tiny", input_size=(96, 128))
    assert recipe.heatmap_size == (24, 32)
    with pytest.raises(ValueError, match="multiples of 16"):
        ModelRecipe(arch="vitpose_tiny", input_size=(100, 128))


# --- official checkpoints ------------------------------------------------------------------------------------

# Names and shapes in the official files (ViTPose-B, 17 joints), written out from the official modules:
# ViTAE-Transformer/ViTPose mmpose/models/backbones/vit.py + heads/topdown_heatmap_simple_head.py (mmpose 0.x), and
# mmpretrain's VisionTransformer + mmpose 1.x HeatmapHead. They anchor export_checkpoint() to the real names.
OFFICIAL_VITPOSE_B = {
    "backbone.patch_embed.proj.weight": (768, 3, 16, 16),
    "backbone.pos_embed": (1, 193, 768),  # a class-token slot first
    "backbone.blocks.0.norm1.weight": (768,),
    "backbone.blocks.0.attn.qkv.bias": (2304,),
    "backbone.blocks.5.attn.proj.weight": (768, 768),
    "backbone.blocks.11.norm2.bias": (768,),
    "backbone.blocks.11.mlp.fc1.weight": (3072, 768),
    "backbone.blocks.11.mlp.fc2.weight": (768, 3072),
    "backbone.last_norm.weight": (768,),
    "keypoint_head.deconv_layers.0.weight": (768, 256, 4, 4),
    "keypoint_head.deconv_layers.1.running_var": (256,),
    "keypoint_head.deconv_layers.3.weight": (256, 256, 4, 4),
    "keypoint_head.deconv_layers.4.bias": (256,),
    "keypoint_head.final_layer.weight": (17, 256, 1, 1),
}
MMPOSE1_VITPOSE_B = {
    "backbone.patch_embed.projection.weight": (768, 3, 16, 16),
    "backbone.pos_embed": (1, 192, 768),  # with_cls_token=False
    "backbone.layers.0.ln1.weight": (768,),
    "backbone.layers.0.attn.qkv.weight": (2304, 768),
    "backbone.layers.7.attn.proj.bias": (768,),
    "backbone.layers.11.ln2.weight": (768,),
    "backbone.layers.11.ffn.layers.0.0.weight": (3072, 768),
    "backbone.layers.11.ffn.layers.1.weight": (768, 3072),
    "backbone.ln1.bias": (768,),
    "head.deconv_layers.0.weight": (768, 256, 4, 4),
    "head.deconv_layers.4.running_mean": (256,),
    "head.final_layer.bias": (17,),
}
VIT_LAYOUTS = ("official_vitpose", "mmpose1_vitpose")


@pytest.mark.parametrize("layout, expected", [("official_vitpose", OFFICIAL_VITPOSE_B),
                                              ("mmpose1_vitpose", MMPOSE1_VITPOSE_B)])
def test_export_writes_the_official_names(layout, expected):
    model = meta_model("vitpose_b")
    state = export_checkpoint(model, layout)
    assert len(state) == len(model.state_dict()) and detect_layout(list(state)) == layout
    assert {k: tuple(state[k].shape) for k in expected} == expected
    prefix = "keypoint_head." if layout == "official_vitpose" else "head."
    assert all(k.startswith(("backbone.", prefix)) for k in state)


def tiny_at(input_size: tuple[int, int], decoder: str = "classic", depth: int = 6, seed: int = 0) -> ViTPoseNet:
    """The tiny ViT with ``decoder`` built for ``input_size`` (256x192: the official 16x12 grid)."""
    spec = dataclasses.replace(VIT_SPECS["tiny"], depth=depth)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_vitpose(spec, decoder, 17, input_size).eval()


def randomise_bn(model: torch.nn.Module) -> None:
    """Non-trivial BatchNorm statistics, so that a lost running mean or variance would show in the heatmaps."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("layout", VIT_LAYOUTS)
@pytest.mark.parametrize("decoder", ["classic", "simple"])
def test_official_file_loads_and_gives_identical_heatmaps(layout, decoder, tmp_path):
    source, fresh = tiny_at((192, 256), decoder, seed=0), tiny_at((192, 256), decoder, seed=1)
    randomise_bn(source)
    path = tmp_path / f"{layout}.pth"
    torch.save({"state_dict": export_checkpoint(source, layout)}, path)  # mmpose / mmcv wrap the tensors
    report = load_pose_checkpoint(fresh, path)
    assert (report.layout, report.loaded, report.unexpected, report.mismatched) == (
        layout, len(source.state_dict()), (), ())
    x = torch.randn(2, 3, 256, 192)
    with torch.no_grad():
        assert torch.equal(fresh(x), source(x))


def test_official_class_token_position_slot_is_added_to_every_patch():
    """The official forward adds ``pos_embed[:, :1]`` to the patches' embeddings (vit.py, forward_features); a
    fine-tuned file's slot is not zero, so dropping it would change the heatmaps."""
    source = tiny_at((192, 256))
    state = export_checkpoint(source, "official_vitpose")
    pos = torch.randn_like(state["backbone.pos_embed"])
    state["backbone.pos_embed"] = pos
    model = tiny_at((192, 256), seed=1)
    load_pose_checkpoint(model, state)
    assert torch.equal(model.backbone.pos_embed, pos[:, 1:] + pos[:, :1])


def test_mmpose1_class_token_position_slot_is_dropped():
    """mmpretrain's ``_prepare_pos_embed`` removes a class slot when ``with_cls_token=False``."""
    state = export_checkpoint(tiny_at((192, 256)), "mmpose1_vitpose")
    pos = torch.randn(1, 193, 192)
    state["backbone.pos_embed"] = pos
    model = tiny_at((192, 256), seed=1)
    load_pose_checkpoint(model, state)
    assert torch.equal(model.backbone.pos_embed, pos[:, 1:])


@pytest.mark.parametrize("layout", VIT_LAYOUTS)
def test_file_of_another_size_fails_naming_the_keys(layout):
    state = export_checkpoint(tiny_at((96, 128)), layout)  # an 8x6 grid
    with pytest.raises(CheckpointError, match=r"backbone\.pos_embed \(1, 4[89], 192\) vs model backbone\.pos_embed "
                                              r"\(1, 192, 192\)"):
        load_pose_checkpoint(tiny_at((192, 256)), state)
    blocks = "backbone.blocks" if layout == "official_vitpose" else "backbone.layers"
    with pytest.raises(CheckpointError, match=rf"missing: {blocks}\.6\."):
        load_pose_checkpoint(tiny_at((96, 128), depth=8), state)  # a deeper ViT: blocks 6 and 7 missing
    deeper = export_checkpoint(tiny_at((96, 128), depth=8), layout)
    with pytest.raises(CheckpointError, match=rf"unexpected: {blocks}\.6\."):
        load_pose_checkpoint(tiny_at((96, 128)), deeper)


def test_a_vitpose_file_is_not_taken_for_a_cnn_layout():
    assert detect_layout(list(export_checkpoint(meta_model("vitpose_b"), "official_vitpose"))) == "official_vitpose"
    assert detect_layout(list(export_checkpoint(meta_model("vitpose_b"), "mmpose1_vitpose"))) == "mmpose1_vitpose"
    assert detect_layout(["backbone.conv1.weight", "keypoint_head.final_layer.weight"]) == "mmpose0"
    assert detect_layout(["backbone.layer1.0.conv1.weight", "head.final_layer.weight"]) == "mmpose1"


def test_mmpose1_vitpose_checkpoints_are_listed():
    names = [n for n, c in CHECKPOINTS.items() if c.model.startswith("vitpose")]
    assert sorted(CHECKPOINTS[n].model for n in names) == ["vitpose_b", "vitpose_h", "vitpose_l"]
    for name in names:
        entry = CHECKPOINTS[name]
        assert entry.layout == "mmpose1_vitpose" and entry.url.endswith(name) and entry.sha256_prefix in name


def test_a_file_with_numpy_metadata_loads_weights_only(tmp_path):
    """mmengine checkpoints keep numpy arrays and scalars in ``meta`` (mmpose 1.x: the dataset's sigmas): they load
    under ``weights_only``; any other object is still refused."""
    import argparse

    import numpy as np

    source = tiny_at((96, 128))
    meta = {"dataset_meta": {"sigmas": np.array([0.026, 0.025], dtype=np.float32), "flip_indices": [0, 2, 1]},
            "best_score": np.float64(0.75)}
    torch.save({"meta": meta, "state_dict": export_checkpoint(source, "mmpose1_vitpose")}, tmp_path / "mm.pth")
    model = tiny_at((96, 128), seed=1)
    assert load_pose_checkpoint(model, tmp_path / "mm.pth").layout == "mmpose1_vitpose"
    assert torch.equal(model.backbone.pos_embed, source.backbone.pos_embed)
    torch.save({"meta": argparse.Namespace(a=1), "state_dict": {}}, tmp_path / "bad.pth")
    with pytest.raises(Exception, match="Weights only load failed"):
        load_pose_checkpoint(model, tmp_path / "bad.pth")
