"""HigherHRNet (docs/METHODS.md §5, §7 item 8) on the timm HRNet backbone of :mod:`occlusion.models`.

The stride-4 HRNet branch, a 1x1 conv to K heatmaps + K tag maps at 1/4 resolution, one deconvolution module
(features concatenated with the first-stage output -> ConvTranspose 4x4 stride 2 -> BN -> ReLU -> 4 basic residual
blocks) and a 1x1 conv to K heatmaps at 1/2 resolution. ``higherhrnet_w32`` (28.6M parameters) is the paper's Table
III model, ``higherhrnet_w18_small`` its CPU stand-in. timm is imported only when a network is built.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..models import create_model, init_head_weights

__all__ = ["BottomUpSpec", "BOTTOMUP_MODELS", "HigherHead", "BottomUpNet", "create_bottomup_model"]


@dataclass(frozen=True)
class BottomUpSpec:
    """A registered bottom-up model: the top-down model whose HRNet backbone it uses and its default input side."""

    backbone: str
    """A :func:`occlusion.models.create_model` name with an HRNet backbone (its stride-4 branch is used)."""
    input_size: int = 512
    num_basic_blocks: int = 4


BOTTOMUP_MODELS: dict[str, BottomUpSpec] = {
    "higherhrnet_w32": BottomUpSpec("hrnet_w32", input_size=512),
    "higherhrnet_w18_small": BottomUpSpec("hrnet_w18_small", input_size=256),
}
"""HigherHRNet-W32 512 (the paper's Table III model, 28.6M parameters) and a CPU stand-in on HRNet-W18-small."""


class HigherHead(nn.Module):
    """HigherHRNet's head: ``final[0]`` (1x1 conv to K heatmaps + K tags at 1/4), ``deconv`` (the first-stage
    output concatenated to the features, ConvTranspose 4x4 stride 2 + BN + ReLU, then basic residual blocks) and
    ``final[1]`` (1x1 conv to K heatmaps at 1/2). The deconvolution keeps the branch's channel count (32 for W32).
    Initialised as HigherHRNet: conv weights normal(std=0.001), biases 0, BN weight 1 and bias 0.
    """

    def __init__(self, channels: int, num_joints: int, num_basic_blocks: int = 4):
        from timm.models.resnet import BasicBlock  # here, not at the top: reading params.yaml need not load timm

        super().__init__()
        self.num_joints = num_joints
        self.final = nn.ModuleList([nn.Conv2d(channels, 2 * num_joints, 1), nn.Conv2d(channels, num_joints, 1)])
        self.deconv = nn.Sequential(
            nn.Sequential(
                nn.ConvTranspose2d(channels + 2 * num_joints, channels, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ),
            *[BasicBlock(channels, channels) for _ in range(num_basic_blocks)],
        )
        init_head_weights(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        first = self.final[0](x)
        return [first, self.final[1](self.deconv(torch.cat([x, first], dim=1)))]


class BottomUpNet(nn.Module):
    """``(N, 3, H, W) -> [(N, 2K, H/4, W/4) heatmaps + tags, (N, K, H/2, W/2) heatmaps]``; sides multiples of 32."""

    input_multiple = 32

    def __init__(self, backbone: nn.Module, head: HigherHead):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, w = x.shape[-2:]
        m = self.input_multiple
        if h % m or w % m:
            raise ValueError(f"input of width {w} and height {h}: this model needs both sides to be multiples of {m}")
        return self.head(self.backbone(x)[0])


def _spec(name: str) -> BottomUpSpec:
    if name not in BOTTOMUP_MODELS:
        raise KeyError(f"unknown bottom-up model {name!r}; registered: {', '.join(sorted(BOTTOMUP_MODELS))}")
    return BOTTOMUP_MODELS[name]


def create_bottomup_model(
    name: str, *, num_joints: int = 17, pretrained: bool = False, seed: int | None = None
) -> BottomUpNet:
    """Build a :data:`BOTTOMUP_MODELS` model; ``pretrained`` loads timm's ImageNet backbone weights.

    With ``seed``, initialisation draws from a forked torch CPU RNG seeded with it (the global RNG is untouched).
    """
    spec = _spec(name)

    def build() -> BottomUpNet:
        backbone = create_model(spec.backbone, num_joints=num_joints, pretrained=pretrained).backbone
        head = HigherHead(backbone.feature_info.channels()[0], num_joints, spec.num_basic_blocks)
        return BottomUpNet(backbone, head)

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
