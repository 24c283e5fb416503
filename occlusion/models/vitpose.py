"""ViTPose (Xu et al., "ViTPose: Simple Vision Transformer Baselines for Human Pose Estimation", NeurIPS 2022).

A plain ViT on the crop, as in ``ViTAE-Transformer/ViTPose`` (``mmpose/models/backbones/vit.py``): a patch embedding
``Conv2d(3, C, kernel 16, stride 16, padding 2)`` (a 256x192 crop gives a 16x12 token grid), an absolute position
embedding and no class token, ``depth`` pre-norm blocks and a final LayerNorm; the tokens are reshaped into a
``(N, C, H/16, W/16)`` map for a heatmap decoder at stride 4 (the paper, Sec. 3.1):

- **classic**: two ConvTranspose2d(C -> 256, kernel 4, stride 2, padding 1, no bias) + BN + ReLU blocks and a 1x1
  conv to K heatmaps (mmpose's ``TopdownHeatmapSimpleHead``, ``num_deconv_layers=2``);
- **simple**: ReLU, bilinear x4 upsampling and a 3x3 conv (padding 1) to K heatmaps. The paper writes "upsampling,
  ReLU, conv"; the official head applies the ReLU *before* the upsampling (``F.relu`` inside ``resize`` in
  ``_transform_inputs``), and so does this one, so official weights give the official heatmaps.

Registered sizes (the paper's Table 1 and the official configs): ViTPose-B (768 dim, 12 blocks, 12 heads),
L (1024, 24, 16), H (1280, 32, 16), each with either decoder (``vitpose_b`` classic, ``vitpose_b_simple``), and
``vitpose_tiny`` (192 dim, 6 blocks, 3 heads, two 64-channel deconvolutions, 96x128 input) for the embedded CPU
default. The backbone is timm's :class:`~timm.models.vision_transformer.VisionTransformer` (its parameter names
under ``backbone.``) built with ``dynamic_img_size``: at the registered input size the position embedding is used
as it is; other sizes (multiples of 16) resample it bicubically, as timm does.

>>> from occlusion.models import create_model, model_info
>>> model = create_model("vitpose_tiny", seed=0).eval()
>>> w, h = model_info("vitpose_tiny").input_size
>>> model(torch.zeros(1, 3, h, w)).shape
torch.Size([1, 17, 32, 24])
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .zoo import PoseHead, PoseNet, init_head_weights, register_model

__all__ = ["ViTSpec", "VIT_SPECS", "SimpleDecoder", "ViTPoseNet", "build_vitpose",
           "layer_decay_param_groups", "vitpose_train_overrides"]

PATCH_SIZE = 16
PATCH_PADDING = 2
"""The official patch embedding pads by 2 (``padding=4 + 2 * (ratio // 2 - 1)`` with ``ratio=1``)."""


@dataclass(frozen=True)
class ViTSpec:
    """One ViT size and the training values its official ViTPose config gives it."""

    embed_dim: int
    depth: int
    num_heads: int
    drop_path_rate: float
    """Stochastic depth at the last block (linear from 0), the model's default (``drop_path_rate`` overrides it)."""
    layer_decay: float
    """Layer-wise learning-rate decay of the official config (``paramwise_cfg.layer_decay_rate``)."""
    deconv_channels: tuple[int, ...] = (256, 256)
    """The classic decoder's deconvolution channels."""


VIT_SPECS: dict[str, ViTSpec] = {
    # ViTAE-Transformer/ViTPose configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/ViTPose_{base,large,huge}_
    # coco_256x192.py: drop_path_rate 0.3 / 0.5 / 0.55, layer_decay_rate 0.75 / 0.8 / 0.85.
    "b": ViTSpec(768, 12, 12, 0.3, 0.75),
    "l": ViTSpec(1024, 24, 16, 0.5, 0.8),
    "h": ViTSpec(1280, 32, 16, 0.55, 0.85),
    # The embedded CPU stand-in: ViT-Tiny's width at half its depth, ViTPose-S's drop path (0.1).
    "tiny": ViTSpec(192, 6, 3, 0.1, 0.75, deconv_channels=(64, 64)),
}


class SimpleDecoder(nn.Module):
    """ViTPose's simple decoder: ReLU, bilinear x``scale`` (align_corners=False), 3x3 conv to one map per joint.

    The conv is named ``final`` (as :class:`~occlusion.models.zoo.PoseHead`'s), initialised normal(std=0.001).
    """

    def __init__(self, in_channels: int, num_joints: int, scale: int = 4):
        super().__init__()
        self.scale = scale
        self.final = nn.Conv2d(in_channels, num_joints, kernel_size=3, padding=1)
        init_head_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(F.relu(x), scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.final(x)


class ViTPoseNet(PoseNet):
    """:class:`PoseNet` with a timm ViT ``backbone``: tokens -> ``(N, C, H/16, W/16)`` -> ``head``."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's feature map ``(N, C, H/16, W/16)`` after the final LayerNorm."""
        vit = self.backbone
        tokens = vit.patch_embed(x)  # (N, H/16, W/16, C): timm's dynamic_img_size keeps the grid
        n, h, w, c = tokens.shape
        tokens = vit.norm(vit.blocks(vit.norm_pre(vit._pos_embed(tokens))))
        return tokens.transpose(1, 2).reshape(n, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self._input_multiple
        if h % m or w % m:
            raise ValueError(f"input of width {w} and height {h}: this model needs both sides to be multiples of {m}")
        return self.head(self.features(x))


def build_vitpose(
    spec: ViTSpec, decoder: Literal["classic", "simple"], num_joints: int, input_size: tuple[int, int],
    pretrained: bool | str | Path = False, **kwargs: Any,
) -> ViTPoseNet:
    """ViTPose of size ``spec`` with the ``decoder`` for ``input_size`` (width, height); ``kwargs`` go to timm's
    ``VisionTransformer`` (e.g. ``drop_path_rate``, default ``spec.drop_path_rate``)."""
    from timm.models.vision_transformer import VisionTransformer  # timm loads torchvision: only when building

    if pretrained:
        raise NotImplementedError(
            "ViTPose starts from MAE weights, not timm's ImageNet classifiers: import an official ViTPose checkpoint "
            "(load_pose_checkpoint) or pretrain with `source: train`")
    if decoder not in ("classic", "simple"):
        raise ValueError(f"decoder = {decoder!r}: expected 'classic' or 'simple'")
    kwargs.setdefault("drop_path_rate", spec.drop_path_rate)
    width, height = input_size
    vit = VisionTransformer(
        img_size=(height, width), patch_size=PATCH_SIZE, embed_dim=spec.embed_dim, depth=spec.depth,
        num_heads=spec.num_heads, mlp_ratio=4.0, qkv_bias=True, class_token=False, global_pool="", num_classes=0,
        fc_norm=False, dynamic_img_size=True, **kwargs,
    )
    timm_proj = vit.patch_embed.proj
    proj = nn.Conv2d(3, spec.embed_dim, kernel_size=PATCH_SIZE, stride=PATCH_SIZE, padding=PATCH_PADDING)
    with torch.no_grad():  # keep timm's initialisation, add the official padding
        proj.weight.copy_(timm_proj.weight)
        proj.bias.copy_(timm_proj.bias)
    vit.patch_embed.proj = proj
    head: nn.Module
    if decoder == "classic":
        head = PoseHead(spec.embed_dim, num_joints, spec.deconv_channels)
    else:
        head = SimpleDecoder(spec.embed_dim, num_joints)
    return ViTPoseNet(vit, head, input_multiple=PATCH_SIZE)  # type: ignore[arg-type]


def _register(name: str, size: str, decoder: Literal["classic", "simple"], input_size: Sequence[int],
              doc: str) -> None:
    spec = VIT_SPECS[size]
    size_wh = (int(input_size[0]), int(input_size[1]))

    def fn(num_joints: int = 17, pretrained: bool | str | Path = False, **kwargs: Any) -> PoseNet:
        return build_vitpose(spec, decoder, num_joints, size_wh, pretrained, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    register_model(family="vitpose", color="rgb", input_multiple=PATCH_SIZE, input_size=size_wh)(fn)
    globals()[name] = fn


def layer_decay_param_groups(
    model: nn.Module, lr: float, weight_decay: float = 0.0, layer_decay: float = 1.0, num_layers: int | None = None,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups with ViTPose's layer-wise learning-rate decay and weight-decay exclusions.

    As ``LayerDecayOptimizerConstructor`` (ViTAE-Transformer/ViTPose, ``mmcv_custom/layer_decay_optimizer_
    constructor.py``): layer id 0 for ``backbone.pos_embed`` and ``backbone.patch_embed``, ``i + 1`` for
    ``backbone.blocks.{i}``, ``num_layers + 1`` for everything else (final norm, decoder); each group trains at
    ``lr * layer_decay ** (num_layers + 1 - id)`` (its ``lr_scale``), so the patch embedding gets
    ``lr * layer_decay ** (depth + 1)``, the last block ``lr * layer_decay`` and the head ``lr``. 1-D tensors,
    biases and the position embedding get no weight decay. ``num_layers`` defaults to the ViT's depth (the
    official ViTPose-L config gives 16 for its 24 blocks, which puts blocks 17-23, 0-based, above ``lr``). A model
    without ``backbone.blocks`` (HRNet, SimpleBaseline) takes only ``layer_decay`` 1.

    >>> from occlusion.models import create_model
    >>> groups = layer_decay_param_groups(create_model("vitpose_tiny"), 5e-4, weight_decay=0.1, layer_decay=0.5)
    >>> [(g["name"], g["lr_scale"]) for g in groups if g["weight_decay"]]  # doctest: +NORMALIZE_WHITESPACE
    [('layer_0_decay', 0.0078125), ('layer_1_decay', 0.015625), ('layer_2_decay', 0.03125),
     ('layer_3_decay', 0.0625), ('layer_4_decay', 0.125), ('layer_5_decay', 0.25), ('layer_6_decay', 0.5),
     ('layer_7_decay', 1.0)]
    """
    blocks = getattr(getattr(model, "backbone", None), "blocks", None)
    depth = len(blocks) if isinstance(blocks, nn.Sequential) else 0
    if layer_decay != 1.0 and depth == 0:
        raise ValueError(f"layer_decay = {layer_decay}: layer-wise decay needs a ViT backbone (backbone.blocks); "
                         f"{type(model).__name__} has none: use 1.0")
    top = (depth if num_layers is None else num_layers) + 1
    groups: dict[str, dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name in ("backbone.pos_embed", "backbone.cls_token") or name.startswith("backbone.patch_embed."):
            layer = 0
        elif name.startswith("backbone.blocks."):
            layer = int(name.split(".")[2]) + 1
        else:
            layer = top
        decay = not (param.ndim == 1 or name.endswith(".bias") or "pos_embed" in name)
        key = f"layer_{layer}_{'decay' if decay else 'no_decay'}"
        if key not in groups:
            scale = layer_decay ** (top - layer)
            groups[key] = {"name": key, "params": [], "lr": lr * scale, "lr_scale": scale,
                           "weight_decay": weight_decay if decay else 0.0}
        groups[key]["params"].append(param)
    return list(groups.values())


def vitpose_train_overrides(size: Literal["b", "l", "h", "tiny"] = "b") -> dict[str, Any]:
    """ViTPose's training recipe for ``size`` as ``train`` overrides (``runs.<run>.train`` in params.yaml).

    The official configs (``ViTPose_{base,large,huge}_coco_256x192.py``): AdamW (betas 0.9, 0.999), lr 5e-4,
    weight decay 0.1, layer-wise lr decay 0.75 / 0.8 / 0.85, gradient clipping at norm 1, linear warm-up over 500
    iterations from 0.001 of the lr, 210 epochs with x0.1 drops at 170 and 200 (mmcv's step policy: no legacy
    shift). Their batch is 64 crops on each of 8 GPUs; drop path (0.3 / 0.5 / 0.55) is the model's default
    (:data:`VIT_SPECS`, ``models.<key>.drop_path``).

    >>> vitpose_train_overrides("b")["layer_decay"], vitpose_train_overrides("h")["layer_decay"]
    (0.75, 0.85)
    """
    return {"optimizer": "adamw", "lr": 5e-4, "weight_decay": 0.1, "layer_decay": VIT_SPECS[size].layer_decay,
            "warmup_iters": 500, "warmup_ratio": 0.001, "clip_grad": 1.0, "epochs": 210, "milestones": [170, 200],
            "gamma": 0.1, "legacy_scheduler_order": False}


_PAPER = (192, 256)
_register("vitpose_b", "b", "classic", _PAPER, "ViTPose-B, classic decoder (90.0M parameters with 17 joints).")
_register("vitpose_l", "l", "classic", _PAPER, "ViTPose-L, classic decoder (308.5M parameters).")
_register("vitpose_h", "h", "classic", _PAPER, "ViTPose-H, classic decoder (637.2M parameters).")
_register("vitpose_b_simple", "b", "simple", _PAPER, "ViTPose-B, simple decoder (85.9M parameters).")
_register("vitpose_l_simple", "l", "simple", _PAPER, "ViTPose-L, simple decoder (303.5M parameters).")
_register("vitpose_h_simple", "h", "simple", _PAPER, "ViTPose-H, simple decoder (631.1M parameters).")
_register("vitpose_tiny", "tiny", "classic", (96, 128),
          "ViT 192-dim x 6 blocks + two 64-channel deconvolutions at 96x128: the embedded CPU stand-in.")
