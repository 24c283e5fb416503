"""Top-down heatmap pose models on timm backbones (REFERENCE_SPEC §5) and import of official checkpoints.

Every model maps an image batch ``(N, 3, H, W)`` to heatmaps ``(N, K, H/4, W/4)``. Two families, as in the paper:

- **HRNet** (``hrnet_w32``, ``hrnet_w48``, and ``hrnet_w18_small`` for the embedded CPU default): the stride-4
  high-resolution branch of timm's HRNet plus a 1x1 conv (HRNet's ``final_layer``). Like the official pose HRNet,
  the last stage-4 module fuses only into that branch: timm builds three more fuse paths that feed the
  lower-resolution outputs only; they are dropped, so the parameter count is the paper's (W32: 28.5M) and no
  parameter goes unused (DDP needs no ``find_unused_parameters``).
- **SimpleBaseline** (``simplebaseline_r50/r101/r152``, and ``simplebaseline_r18_small``): a timm ResNet, then
  ConvTranspose2d(k=4, s=2, p=1) + BN + ReLU blocks of 256 channels back to stride 4, then a 1x1 conv.

Module names: ``backbone.*`` (timm's own names), ``head.deconv.<block>.<0 conv | 1 bn | 2 relu>`` and
``head.final``. :func:`load_pose_checkpoint` maps the official HRNet / SimpleBaseline and mmpose 0.x / 1.x
layouts onto these names through an explicit table, and refuses anything that does not fit exactly.
Per-model metadata (input size, colour order, sigma) lives in :class:`ModelInfo`, never on the module.
"""
from __future__ import annotations

import fnmatch
import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence, TypeVar

import torch
from torch import nn

from .config import check
from .keypoints import get_skeleton

__all__ = [
    "ModelInfo",
    "PoseNet",
    "PoseHead",
    "init_head_weights",
    "register_model",
    "create_model",
    "list_models",
    "model_info",
    "LAYOUTS",
    "CheckpointError",
    "LoadReport",
    "detect_layout",
    "read_state_dict",
    "load_pose_checkpoint",
    "export_checkpoint",
    "Checkpoint",
    "CHECKPOINTS",
    "download_checkpoint",
    "load_pretrained",
    "imagenet_weights_file",
]

F = TypeVar("F", bound=Callable[..., "PoseNet"])


# --- registry ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """What a registered model expects: its default input, heatmap stride, colour order and target sigma."""

    name: str
    family: Literal["hrnet", "simplebaseline"]
    input_size: tuple[int, int] = (192, 256)
    """Default network input (width, height), HRNet's ``IMAGE_SIZE``."""
    stride: int = 4
    """Input pixels per heatmap pixel."""
    input_multiple: int = 32
    """Both input sides must be multiples of this (HRNet fuses stride-32 maps; ResNets undo their stride)."""
    color: Literal["rgb", "bgr"] = "rgb"
    """Channel order of the input crop: RGB for HRNet, BGR for SimpleBaseline (REFERENCE_SPEC §2)."""
    sigma: float = 2.0
    """Recommended Gaussian sigma of the heatmap targets, in heatmap pixels."""

    def __post_init__(self) -> None:
        check(self.family in ("hrnet", "simplebaseline"), "family", self.family, "'hrnet' or 'simplebaseline'")
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
    family: Literal["hrnet", "simplebaseline"],
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


# --- checkpoint import ---------------------------------------------------------------------------------------


class CheckpointError(ValueError):
    """A checkpoint's layout is not recognised or its tensors do not fit the model; the message names the keys."""


_HRNET_ROOTS = ("conv1", "bn1", "conv2", "bn2", "layer1", "transition1", "transition2", "transition3",
                "stage2", "stage3", "stage4")
_RESNET_ROOTS = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")


@dataclass(frozen=True)
class _Layout:
    backbone_prefix: str
    """Prepended to timm's backbone names (which the official and mmpose backbones share)."""
    backbone_roots: tuple[str, ...]
    head_prefix: str
    """Prepended to ``final_layer`` and ``deconv_layers.<3*block + j>`` (j: 0 conv, 1 bn; 2 is the ReLU, no tensors)."""


LAYOUTS: Mapping[str, _Layout | None] = {
    "native": None,  # this module's own names (a saved ``PoseNet.state_dict()``)
    "official_hrnet": _Layout("", _HRNET_ROOTS, ""),
    "official_simplebaseline": _Layout("", _RESNET_ROOTS, ""),
    "mmpose0": _Layout("backbone.", tuple(dict.fromkeys(_HRNET_ROOTS + _RESNET_ROOTS)), "keypoint_head."),
    "mmpose1": _Layout("backbone.", tuple(dict.fromkeys(_HRNET_ROOTS + _RESNET_ROOTS)), "head."),
}
"""Recognised checkpoint layouts: official HRNet (``pose_hrnet_*.pth``), official SimpleBaseline
(``pose_resnet_*.pth``), mmpose 0.x (``backbone.`` / ``keypoint_head.``) and mmpose 1.x (``backbone.`` / ``head.``)."""


def detect_layout(keys: Sequence[str]) -> str:
    """The one layout whose marker keys ``keys`` hold; :class:`CheckpointError` when none or several match."""
    keys = list(keys)
    top = {k.split(".", 1)[0] for k in keys}
    markers = {
        "native": any(k.startswith(("head.final.", "head.deconv.")) for k in keys),
        "mmpose1": any(k.startswith(("head.final_layer.", "head.deconv_layers.")) for k in keys),
        "mmpose0": "keypoint_head" in top,
        "official_hrnet": "stage2" in top,
        "official_simplebaseline": "deconv_layers" in top,
    }
    found = [name for name, hit in markers.items() if hit]
    if len(found) != 1:
        what = "matches none" if not found else f"matches several ({', '.join(found)})"
        raise CheckpointError(
            f"checkpoint layout {what} of the known layouts {', '.join(LAYOUTS)}; first keys: {_first(keys)}"
        )
    return found[0]


def _to_model_key(key: str, layout: str) -> str | None:
    """The model key a checkpoint ``key`` of ``layout`` maps to; None for keys outside the layout."""
    spec = LAYOUTS[layout]
    if spec is None:
        return key
    head = spec.head_prefix
    if key.startswith(head + "final_layer."):
        return "head.final." + key[len(head + "final_layer."):]
    m = re.fullmatch(re.escape(head) + r"deconv_layers\.(\d+)\.(\w+)", key)
    if m:
        index, param = int(m.group(1)), m.group(2)
        return None if index % 3 == 2 else f"head.deconv.{index // 3}.{index % 3}.{param}"
    if key.startswith(spec.backbone_prefix):
        rest = key[len(spec.backbone_prefix):]
        if rest.split(".", 1)[0] in spec.backbone_roots:
            return "backbone." + rest
    return None


def _to_source_key(key: str, layout: str) -> str:
    """The inverse of :func:`_to_model_key`: the name a model ``key`` has in a checkpoint of ``layout``."""
    spec = LAYOUTS[layout]
    if spec is None:
        return key
    if key.startswith("head.final."):
        return spec.head_prefix + "final_layer." + key[len("head.final."):]
    m = re.fullmatch(r"head\.deconv\.(\d+)\.(\d+)\.(\w+)", key)
    if m:
        return f"{spec.head_prefix}deconv_layers.{3 * int(m.group(1)) + int(m.group(2))}.{m.group(3)}"
    assert key.startswith("backbone."), key
    return spec.backbone_prefix + key[len("backbone."):]


def export_checkpoint(model: PoseNet, layout: str) -> dict[str, torch.Tensor]:
    """``model``'s tensors under the names of a checkpoint of ``layout`` (``official_hrnet``,
    ``official_simplebaseline``, ``mmpose0``, ``mmpose1`` or ``native``): what :func:`load_pose_checkpoint` reads
    back into the same tensors. Writes official-layout files for tests and rehearsals without the real weights."""
    if layout not in LAYOUTS:
        raise KeyError(f"unknown checkpoint layout {layout!r}; known: {', '.join(LAYOUTS)}")
    return {_to_source_key(k, layout): v.detach().clone() for k, v in model.state_dict().items()}


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_pose_checkpoint` did. Keys are named as in the checkpoint's own layout."""

    source: str
    layout: str
    loaded: int
    """Tensors copied into the model."""
    missing: tuple[str, ...] = ()
    """Model tensors the checkpoint lacks, left as they were (strict: only BN ``num_batches_tracked``)."""
    unexpected: tuple[str, ...] = ()
    """Checkpoint tensors with no place in the model (always empty when strict)."""
    mismatched: tuple[str, ...] = ()
    """Checkpoint tensors whose shape differs from the model's, skipped (always empty when strict)."""


def _first(keys: Sequence[str], n: int = 5) -> str:
    keys = list(keys)
    more = f", ... ({len(keys)} in all)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def read_state_dict(path_or_state_dict: str | Path | Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of a checkpoint file (read with ``weights_only=True``) or mapping, and a name for messages.

    A ``state_dict`` (or ``model``) wrapper and a ``module.`` prefix on every key are removed; anything that is not
    a dict of tensors raises :class:`CheckpointError`.
    """
    if isinstance(path_or_state_dict, Mapping):
        obj: Any = path_or_state_dict
        source = "<state_dict>"
    else:
        source = str(path_or_state_dict)
        obj = torch.load(path_or_state_dict, map_location="cpu", weights_only=True)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source}: expected a dict of tensors, got {type(obj).__name__}")
    for wrapper in ("state_dict", "model"):  # mmpose / mmcv and this project's training checkpoints
        if isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel / DDP
        state = {k[len("module."):]: v for k, v in state.items()}
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: entries that are not tensors: {_first(bad)}")
    return state, source


def load_pose_checkpoint(
    model: PoseNet, path_or_state_dict: str | Path | Mapping[str, Any], *, strict: bool = True
) -> LoadReport:
    """Load an official HRNet / SimpleBaseline, mmpose 0.x / 1.x or native checkpoint into ``model``.

    The file is read with ``weights_only=True``; a ``state_dict`` (or ``model``) wrapper and a ``module.`` prefix
    are removed; the layout is detected from marker keys (:func:`detect_layout`) and every key is renamed by
    that layout's table. With ``strict``, every model tensor must be given (BN ``num_batches_tracked`` excepted:
    PyTorch before 0.4.1 did not save it) with the model's shape, and no checkpoint tensor may be left over;
    otherwise :class:`CheckpointError` names the keys. ``strict=False`` skips missing, unexpected and
    shape-mismatched tensors (e.g. a head for another joint count) and lists them in the report.
    """
    state, source = read_state_dict(path_or_state_dict)
    layout = detect_layout(list(state))
    target = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    unexpected, mismatched, shapes = [], [], []
    for key, value in state.items():
        dest = _to_model_key(key, layout)
        if dest is None or dest not in target:
            unexpected.append(key)
        elif value.shape != target[dest].shape:
            mismatched.append(key)
            shapes.append(f"{key} {tuple(value.shape)} vs model {dest} {tuple(target[dest].shape)}")
        else:
            mapped[dest] = value
    missing = [_to_source_key(k, layout) for k in target if k not in mapped]
    if strict:
        skip = set(mismatched)
        required = [k for k in missing if k not in skip and not k.endswith(".num_batches_tracked")]
        problems = []
        if mismatched:
            problems.append(f"{len(mismatched)} with another shape: {'; '.join(shapes[:5])}")
        if required:
            problems.append(f"{len(required)} missing: {_first(required)}")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected: {_first(unexpected)}")
        if problems:
            raise CheckpointError(f"{source} ({layout} layout) does not fit the model: " + "; ".join(problems))
    model.load_state_dict(mapped, strict=False)
    return LoadReport(source=source, layout=layout, loaded=len(mapped), missing=tuple(missing),
                      unexpected=tuple(unexpected), mismatched=tuple(mismatched))


# --- known checkpoints ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A published pose checkpoint: which registered model it fits and where it comes from."""

    model: str
    dataset: Literal["coco", "mpii"]
    input_size: tuple[int, int]
    """Input (width, height) it was trained at."""
    layout: str
    url: str | None
    """Direct download URL; None where the file is only behind a Google Drive / OneDrive folder."""
    sha256: str | None = None
    """Full sha256 of the file where known for certain."""
    sha256_prefix: str | None = None
    """Leading hex digits of the sha256 (OpenMMLab file names carry the first 8)."""


_OFFICIAL = None  # official HRNet model zoo: Google Drive / OneDrive folders only, no verified hashes
_MMPOSE = "https://download.openmmlab.com/mmpose/top_down/"

CHECKPOINTS: dict[str, Checkpoint] = {
    "pose_hrnet_w32_256x192.pth": Checkpoint("hrnet_w32", "coco", (192, 256), "official_hrnet", _OFFICIAL),
    "pose_hrnet_w32_384x288.pth": Checkpoint("hrnet_w32", "coco", (288, 384), "official_hrnet", _OFFICIAL),
    "pose_hrnet_w48_256x192.pth": Checkpoint("hrnet_w48", "coco", (192, 256), "official_hrnet", _OFFICIAL),
    "pose_hrnet_w48_384x288.pth": Checkpoint("hrnet_w48", "coco", (288, 384), "official_hrnet", _OFFICIAL),
    "pose_hrnet_w32_256x256.pth": Checkpoint("hrnet_w32", "mpii", (256, 256), "official_hrnet", _OFFICIAL),
    "pose_resnet_50_256x192.pth": Checkpoint("simplebaseline_r50", "coco", (192, 256), "official_simplebaseline",
                                             _OFFICIAL),
    "pose_resnet_101_256x192.pth": Checkpoint("simplebaseline_r101", "coco", (192, 256), "official_simplebaseline",
                                              _OFFICIAL),
    "pose_resnet_152_256x192.pth": Checkpoint("simplebaseline_r152", "coco", (192, 256), "official_simplebaseline",
                                              _OFFICIAL),
    "hrnet_w32_coco_256x192-c78dce93_20200708.pth": Checkpoint(
        "hrnet_w32", "coco", (192, 256), "mmpose0", _MMPOSE + "hrnet/hrnet_w32_coco_256x192-c78dce93_20200708.pth",
        sha256_prefix="c78dce93"),
    "hrnet_w32_coco_384x288-d9f0d786_20200708.pth": Checkpoint(
        "hrnet_w32", "coco", (288, 384), "mmpose0", _MMPOSE + "hrnet/hrnet_w32_coco_384x288-d9f0d786_20200708.pth",
        sha256_prefix="d9f0d786"),
    "hrnet_w48_coco_256x192-b9e0b3ab_20200708.pth": Checkpoint(
        "hrnet_w48", "coco", (192, 256), "mmpose0", _MMPOSE + "hrnet/hrnet_w48_coco_256x192-b9e0b3ab_20200708.pth",
        sha256_prefix="b9e0b3ab"),
    "hrnet_w32_mpii_256x256-6c4f923f_20200812.pth": Checkpoint(
        "hrnet_w32", "mpii", (256, 256), "mmpose0", _MMPOSE + "hrnet/hrnet_w32_mpii_256x256-6c4f923f_20200812.pth",
        sha256_prefix="6c4f923f"),
    "res50_coco_256x192-ec54d7f3_20200709.pth": Checkpoint(
        "simplebaseline_r50", "coco", (192, 256), "mmpose0",
        _MMPOSE + "resnet/res50_coco_256x192-ec54d7f3_20200709.pth", sha256_prefix="ec54d7f3"),
    "res101_coco_256x192-6e6babf0_20200708.pth": Checkpoint(
        "simplebaseline_r101", "coco", (192, 256), "mmpose0",
        _MMPOSE + "resnet/res101_coco_256x192-6e6babf0_20200708.pth", sha256_prefix="6e6babf0"),
    "res152_coco_256x192-f6e307c2_20200709.pth": Checkpoint(
        "simplebaseline_r152", "coco", (192, 256), "mmpose0",
        _MMPOSE + "resnet/res152_coco_256x192-f6e307c2_20200709.pth", sha256_prefix="f6e307c2"),
}
"""Known checkpoints by file name. The official HRNet / SimpleBaseline files (github.com/leoxiaobin/
deep-high-resolution-net.pytorch, model zoo) have no direct URL: put them into ``cache_dir`` by hand. No full
sha256 is recorded for any file (none is known for certain); the mmpose files are checked against the sha256
prefix in their names."""


def _checkpoint(name: str) -> Checkpoint:
    if name not in CHECKPOINTS:
        raise KeyError(f"unknown checkpoint {name!r}; known: {', '.join(sorted(CHECKPOINTS))}")
    return CHECKPOINTS[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_checkpoint(name: str, cache_dir: str | Path, *, progress: bool = True) -> Path:
    """``cache_dir/name``, downloaded with ``torch.hub.download_url_to_file`` if absent and checked against its hash."""
    entry = _checkpoint(name)
    dest = Path(cache_dir) / name
    expected = entry.sha256 or entry.sha256_prefix
    if dest.is_file():
        if expected and not _sha256(dest).startswith(expected):
            raise CheckpointError(f"{dest}: sha256 does not start with {expected}; delete it to download again")
        return dest
    if entry.url is None:
        raise FileNotFoundError(
            f"{dest}: {name} has no direct download URL; get it from the official HRNet model zoo "
            "(github.com/leoxiaobin/deep-high-resolution-net.pytorch) and put it there"
        )
    if expected is None:
        warnings.warn(f"{name}: no known sha256, the download is not verified", stacklevel=2)
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(entry.url, str(dest), hash_prefix=expected, progress=progress)
    return dest


def load_pretrained(name: str, cache_dir: str | Path, *, progress: bool = True) -> tuple[PoseNet, LoadReport]:
    """The registered model for checkpoint ``name`` with its weights (strict import, layout as listed)."""
    entry = _checkpoint(name)
    path = download_checkpoint(name, cache_dir, progress=progress)
    model = create_model(entry.model, num_joints=get_skeleton(entry.dataset).num_joints)
    report = load_pose_checkpoint(model, path, strict=True)
    if report.layout != entry.layout:
        raise CheckpointError(f"{path}: expected the {entry.layout} layout for {name}, found {report.layout}")
    return model, report
