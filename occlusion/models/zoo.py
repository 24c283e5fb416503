"""The model registry: top-down heatmap pose models on timm backbones (docs/METHODS.md §5).

Every model maps an image batch ``(N, 3, H, W)`` to heatmaps ``(N, K, H/4, W/4)``. Two families, as in the paper:

- **HRNet** (``hrnet_w32``, ``hrnet_w48``, and ``hrnet_w18_small`` for the embedded CPU default): the stride-4
  high-resolution branch of timm's HRNet plus a 1x1 conv (HRNet's ``final_layer``). Like the official pose HRNet,
  the last stage-4 module fuses only into that branch: timm builds three more fuse paths that feed the
  lower-resolution outputs only; they are dropped, so the parameter count is the paper's (W32: 28.5M) and no
  parameter goes unused (DDP needs no ``find_unused_parameters``).
- **SimpleBaseline** (``simplebaseline_r50/r101/r152``, and ``simplebaseline_r18_small``): a timm ResNet, then
  ConvTranspose2d(k=4, s=2, p=1) + BN + ReLU blocks of 256 channels back to stride 4, then a 1x1 conv.
- **ViTPose** (``vitpose_b/l/h``, ``*_simple``, ``vitpose_tiny``): a plain timm ViT and a heatmap decoder,
  registered in :mod:`.vitpose`.

Module names: ``backbone.*`` (timm's own names), ``head.deconv.<block>.<0 conv | 1 bn | 2 relu>`` and
``head.final``. Per-model metadata (input size, colour order, sigma) lives in :class:`ModelInfo`, never on the
module.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence, TypeVar

import torch
from torch import nn

from ..config import check

__all__ = ["ModelInfo", "PoseNet", "PoseHead", "init_head_weights", "register_model", "create_model", "list_models",
           "model_info", "imagenet_weights_file"]

F = TypeVar("F", bound=Callable[..., "PoseNet"])


# --- registry ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What a registered model expects: its default input, heatmap stride, colour order and target sigma."""

    name: str
    family: Literal["hrnet", "simplebaseline", "vitpose"]
    input_size: tuple[int, int] = (192, 256)
    """Default network input (width, height), HRNet's ``IMAGE_SIZE``."""
    stride: int = 4
    """Input pixels per heatmap pixel."""
    input_multiple: int = 32
    """Both input sides must be multiples of this (HRNet fuses stride-32 maps; ResNets undo their stride)."""
    color: Literal["rgb", "bgr"] = "rgb"
    """Channel order of the input crop: RGB for HRNet, BGR for SimpleBaseline (docs/METHODS.md §2)."""
    sigma: float = 2.0
    """Recommended Gaussian sigma of the heatmap targets, in heatmap pixels."""

    def __post_init__(self) -> None:
        check(self.family in ("hrnet", "simplebaseline", "vitpose"), "family", self.family,
              "'hrnet', 'simplebaseline' or 'vitpose'")
        check(self.color in ("rgb", "bgr"), "color", self.color, "'rgb' or 'bgr'")
        check(self.stride > 0, "stride", self.stride, "a positive integer")
        check(self.input_multiple > 0 and self.input_multiple % self.stride == 0, "input_multiple",
              self.input_multiple, f"a positive multiple of the stride {self.stride}")
        ok = len(self.input_size) == 2 and all(s > 0 and s % self.input_multiple == 0 for s in self.input_size)
        check(ok, "input_size", self.input_size, f"(width, height), sides multiples of {self.input_multiple}")
        check(self.sigma > 0, "sigma", self.sigma, "a positive number")


_MODELS: dict[str, tuple[Callable[..., PoseNet], ModelInfo]] = {}


def register_model(
    *,
    family: Literal["hrnet", "simplebaseline", "vitpose"],
    color: Literal["rgb", "bgr"],
    input_multiple: int,
    input_size: tuple[int, int] = (192, 256),
    sigma: float = 2.0,
) -> Callable[[F], F]:
    """Decorator registering ``fn(num_joints, pretrained, **kwargs) -> PoseNet`` under its function name."""

    def decorate(fn: F) -> F:
        name = fn.__name__
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        info = ModelInfo(name=name, family=family, input_size=tuple(input_size), input_multiple=input_multiple,
                         color=color, sigma=sigma)
        _MODELS[name] = (fn, info)
        return fn

    return decorate


def _entry(name: str) -> tuple[Callable[..., PoseNet], ModelInfo]:
    if name not in _MODELS:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered models that match the fnmatch ``pattern``."""
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered model; ``KeyError`` listing the registered names otherwise."""
    return _entry(name)[1]


def create_model(
    name: str, *, num_joints: int = 17, pretrained: bool | str | Path = False, seed: int | None = None,
    **kwargs: Any
) -> PoseNet:
    """Build a registered model with ``num_joints`` heatmaps.

    ``pretrained`` loads timm's ImageNet weights into the backbone (the head is always freshly initialised): True
    takes them from the hub cache or downloads them (:func:`imagenet_weights_file`), a path reads that local file.
    With ``seed``, initialisation draws from a forked torch CPU RNG seeded with it, so the global RNG is left
    untouched and the same seed gives the same weights; without it, from the global torch RNG.
    ``kwargs`` go to ``timm.create_model`` for the backbone.
    """
    fn, _ = _entry(name)
    if not (isinstance(num_joints, int) and num_joints >= 1):
        raise ValueError(f"num_joints = {num_joints!r}: expected an integer >= 1")
    if seed is None:
        return fn(num_joints=num_joints, pretrained=pretrained, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fn(num_joints=num_joints, pretrained=pretrained, **kwargs)


# --- modules -------------------------------------------------------------------------------------------------


def init_head_weights(module: nn.Module) -> None:
    """HRNet's head initialisation: (de)convolutions normal with std 0.001 and zero bias, BatchNorm 1 and 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class PoseHead(nn.Module):
    """SimpleBaseline deconvolution blocks (none for HRNet) and the 1x1 ``final`` conv to one heatmap per joint.

    Each ``deconv`` block is ConvTranspose2d(k=4, s=2, p=1, no bias) + BatchNorm + ReLU and doubles the resolution.
    Initialised as HRNet: conv weights normal(std=0.001), BN weight 1 and bias 0, final bias 0.
    """

    def __init__(self, in_channels: int, num_joints: int, deconv_channels: Sequence[int] = ()):
        super().__init__()
        blocks = []
        for out in deconv_channels:
            blocks.append(nn.Sequential(
                nn.ConvTranspose2d(in_channels, out, kernel_size=4, stride=2, padding=1, output_padding=0, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ))
            in_channels = out
        self.deconv = nn.Sequential(*blocks)
        self.final = nn.Conv2d(in_channels, num_joints, kernel_size=1)
        init_head_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final(self.deconv(x))


class PoseNet(nn.Module):
    """A timm ``backbone`` returning one feature map, then a :class:`PoseHead`: ``(N, 3, H, W) -> (N, K, H/4, W/4)``.

    ``input_multiple`` is an architectural constraint (the deepest stride), checked on every call.
    """

    def __init__(self, backbone: nn.Module, head: PoseHead, input_multiple: int):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self._input_multiple = input_multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self._input_multiple
        if h % m or w % m:
            raise ValueError(f"input of width {w} and height {h}: this model needs both sides to be multiples of {m}")
        return self.head(self.backbone(x)[0])


def imagenet_weights_file(variant: str) -> Path:
    """timm's ImageNet weights of backbone ``variant`` as a local file: from the hub cache, else downloaded.

    Offline (``HF_HUB_OFFLINE=1``, or the hub not reachable within 3 s) and not cached, one immediate
    ``FileNotFoundError`` names the file to fetch and where to give it, instead of the hub client's minute of
    retries.
    """
    import timm
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    repo = timm.models.get_pretrained_cfg(variant).hf_hub_id
    for filename in ("model.safetensors", "pytorch_model.bin"):
        cached = try_to_load_from_cache(repo, filename)
        if isinstance(cached, str):
            return Path(cached)
    if not _hub_reachable():
        raise FileNotFoundError(
            f"timm's ImageNet weights for {variant} are not in the hub cache and the hub is unreachable: fetch "
            f"{repo}/model.safetensors on a connected machine and give its path as `weights:` of the pretrain entry "
            f"in params.yaml (pretrain.<key>.weights), or copy the hub cache (HF_HOME) over")
    return Path(hf_hub_download(repo, "model.safetensors"))


def _hub_reachable(timeout: float = 3.0) -> bool:
    import os
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _timm_backbone(variant: str, pretrained: bool | str | Path, **kwargs: Any) -> nn.Module:
    """timm's ``variant`` as a feature extractor; ``pretrained``: True for its ImageNet weights (hub cache or
    download, :func:`imagenet_weights_file`), or the path of a local file of them."""
    import timm  # imported where a model is built (timm loads torchvision): reading params.yaml stays light

    if pretrained:
        file = imagenet_weights_file(variant) if pretrained is True else Path(pretrained)
        if not file.is_file():
            raise FileNotFoundError(f"ImageNet weights {file} for {variant} not found")
        kwargs["pretrained_cfg_overlay"] = {"file": str(file)}
    return timm.create_model(variant, features_only=True, pretrained=bool(pretrained), **kwargs)


def _hrnet(variant: str, num_joints: int, pretrained: bool | str | Path, **kwargs: Any) -> PoseNet:
    backbone = _timm_backbone(variant, pretrained, feature_location="", out_indices=(1,), **kwargs)
    assert backbone.feature_info.reduction() == [4], backbone.feature_info.reduction()
    last = backbone.stage4[-1]
    # The pose HRNet's last module fuses into the high-resolution branch only (``multi_scale_output=False``).
    last.fuse_layers = nn.ModuleList([last.fuse_layers[0]])
    last.multi_scale_output = False
    head = PoseHead(backbone.feature_info.channels()[0], num_joints)
    return PoseNet(backbone, head, input_multiple=32)


def _simplebaseline(
    variant: str, out_index: int, deconv_channels: Sequence[int], input_multiple: int, num_joints: int,
    pretrained: bool | str | Path, **kwargs: Any,
) -> PoseNet:
    backbone = _timm_backbone(variant, pretrained, out_indices=(out_index,), **kwargs)
    reduction = backbone.feature_info.reduction()[0]
    assert reduction == 4 * 2 ** len(deconv_channels), (reduction, deconv_channels)
    head = PoseHead(backbone.feature_info.channels()[0], num_joints, deconv_channels)
    return PoseNet(backbone, head, input_multiple=input_multiple)


@register_model(family="hrnet", color="rgb", input_multiple=32)
def hrnet_w32(num_joints: int = 17, pretrained: bool | str | Path = False, **kwargs: Any) -> PoseNet:
    """HRNet-W32, the paper's main model (28.5M parameters with 17 joints)."""
    return _hrnet("hrnet_w32", num_joints, pretrained, **kwargs)


@register_model(family="hrnet", color="rgb", input_multiple=32)
def hrnet_w48(num_joints: int = 17, pretrained: bool | str | Path = False, **kwargs: Any) -> PoseNet:
    """HRNet-W48 (63.6M parameters)."""
    return _hrnet("hrnet_w48", num_joints, pretrained, **kwargs)


@register_model(family="hrnet", color="rgb", input_multiple=32, input_size=(96, 128))
def hrnet_w18_small(num_joints: int = 17, pretrained: bool | str | Path = False, **kwargs: Any) -> PoseNet:
    """timm's HRNet-W18-small, 16-channel high-resolution branch (1.3M parameters): the embedded CPU stand-in."""
    return _hrnet("hrnet_w18_small", num_joints, pretrained, **kwargs)


@register_model(family="simplebaseline", color="bgr", input_multiple=32)
def simplebaseline_r50(num_joints: int = 17, pretrained: bool | str | Path = False, **kwargs: Any) -> PoseNet:
    """SimpleBaseline on ResNet-50: 3 deconvolutions of 256 channels (34.0M parameters)."""
    return _simplebaseline("resnet50", 4, (256, 256, 256), 32, num_joints, pretrained, **kwargs)


@register_model(family="simplebaseline", color="bgr", input_multiple=32)
def simplebaseline_r101(num_joints: int = 17, pretrained: bool | str | Path = False, **kwargs: Any) -> PoseNet:
    """SimpleBaseline on ResNet-101 (53.0M parameters)."""
    return _simplebaseline("resnet101", 4, (256, 256, 256), 32, num_joints, pretrained, **kwargs)


@register_model(family="simplebaseline", color="bgr", input_multiple=32)
def simplebaseline_r152(num_joints: int = 17, pretrained: bool | str | Path = False, **kwargs: Any) -> PoseNet:
    """SimpleBaseline on ResNet-152 (68.6M parameters)."""
    return _simplebaseline("resnet152", 4, (256, 256, 256), 32, num_joints, pretrained, **kwargs)


@register_model(family="simplebaseline", color="bgr", input_multiple=16, input_size=(96, 128))
def simplebaseline_r18_small(num_joints: int = 17, pretrained: bool | str | Path = False, **kwargs: Any) -> PoseNet:
    """ResNet-18 cut after layer3 (stride 16) + 2 deconvolutions of 64 channels (3.1M): the embedded CPU stand-in."""
    return _simplebaseline("resnet18", 3, (64, 64), 16, num_joints, pretrained, **kwargs)
