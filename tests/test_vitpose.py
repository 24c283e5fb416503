"""ViTPose in the registry (occlusion/models/vitpose.py): sizes, parameter counts, decoders and the conventions the
engine and training rely on. The large models are counted on the meta device (no memory, no init time); real
forwards run on ViTPose-B and the tiny stand-in only."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from occlusion.models import VIT_SPECS, ViTPoseNet, build_vitpose, create_model, list_models, model_info
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
