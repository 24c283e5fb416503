"""Official checkpoints: import (HRNet / SimpleBaseline, ViTPose, and mmpose 0.x / 1.x layouts), export, and the
known files.

:func:`load_pose_checkpoint` maps each layout onto the registry's module names (``backbone.*``, ``head.deconv.*``,
``head.final``) through an explicit table, and refuses anything that does not fit exactly.
"""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import torch

from ..keypoints import get_skeleton
from .zoo import PoseNet, create_model

__all__ = ["LAYOUTS", "CheckpointError", "LoadReport", "detect_layout", "read_state_dict", "load_pose_checkpoint",
           "export_checkpoint", "Checkpoint", "CHECKPOINTS", "download_checkpoint", "load_pretrained"]


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
    backbone_names: tuple[tuple[str, str], ...] = ()
    """ViT layouts: ``(checkpoint name, model name)`` templates of every backbone tensor (``{i}`` a block index,
    ``{p}`` ``weight`` / ``bias``), used instead of ``backbone_prefix`` and ``backbone_roots``."""
    pos_embed_cls: Literal["", "add", "drop"] = ""
    """ViT layouts whose ``backbone.pos_embed`` may hold a class-token slot at index 0 (shape ``(1, 1 + N, C)``):
    ``add`` it to every patch's embedding (the official ViTPose forward) or ``drop`` it (mmpretrain's loader)."""


def _vit_names(patch: str, blocks: str, parts: Sequence[str], final_norm: str) -> tuple[tuple[str, str], ...]:
    """The ``(checkpoint, model)`` name templates of a ViT backbone; ``parts``: the checkpoint's names for timm's
    ``norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2`` inside block ``{i}``."""
    timm_parts = ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")
    return (
        (f"backbone.{patch}.{{p}}", "backbone.patch_embed.proj.{p}"),
        ("backbone.pos_embed", "backbone.pos_embed"),
        *((f"backbone.{blocks}.{{i}}.{a}.{{p}}", f"backbone.blocks.{{i}}.{b}.{{p}}")
          for a, b in zip(parts, timm_parts)),
        (f"backbone.{final_norm}.{{p}}", "backbone.norm.{p}"),
    )


# ViTAE-Transformer/ViTPose, mmpose/models/backbones/vit.py (class ViT): ``patch_embed.proj`` (Conv2d, padding 2),
# ``pos_embed`` of shape (1, num_patches + 1, C) "since the pretraining model has class token", added in
# forward_features as ``x + pos_embed[:, 1:] + pos_embed[:, :1]``; ``blocks.{i}.norm1 / attn.qkv / attn.proj /
# norm2 / mlp.fc1 / mlp.fc2``; ``last_norm``. Head: TopdownHeatmapSimpleHead under ``keypoint_head.``.
_VITPOSE_OFFICIAL = _vit_names("patch_embed.proj", "blocks",
                               ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2"), "last_norm")
# mmpose 1.x ViTPose configs use ``mmpretrain.VisionTransformer`` (mmpretrain/models/backbones/vision_transformer.py,
# with_cls_token=False, patch_cfg=dict(padding=2)): mmcv's PatchEmbed ``patch_embed.projection``; ``pos_embed`` of
# shape (1, num_patches, C), a (1, 1 + num_patches, C) one losing its first slot in ``_prepare_pos_embed``;
# TransformerEncoderLayer ``layers.{i}.ln1 / attn.qkv / attn.proj / ln2 / ffn.layers.0.0 / ffn.layers.1``;
# the final norm ``ln1`` (final_norm=True; ViTPose has no ``pre_norm``). Head: HeatmapHead under ``head.``.
_VITPOSE_MMPOSE1 = _vit_names("patch_embed.projection", "layers",
                              ("ln1", "attn.qkv", "attn.proj", "ln2", "ffn.layers.0.0", "ffn.layers.1"), "ln1")


LAYOUTS: Mapping[str, _Layout | None] = {
    "native": None,  # this module's own names (a saved ``PoseNet.state_dict()``)
    "official_hrnet": _Layout("", _HRNET_ROOTS, ""),
    "official_simplebaseline": _Layout("", _RESNET_ROOTS, ""),
    "mmpose0": _Layout("backbone.", tuple(dict.fromkeys(_HRNET_ROOTS + _RESNET_ROOTS)), "keypoint_head."),
    "mmpose1": _Layout("backbone.", tuple(dict.fromkeys(_HRNET_ROOTS + _RESNET_ROOTS)), "head."),
    "official_vitpose": _Layout("backbone.", (), "keypoint_head.", _VITPOSE_OFFICIAL, "add"),
    "mmpose1_vitpose": _Layout("backbone.", (), "head.", _VITPOSE_MMPOSE1, "drop"),
}
"""Recognised checkpoint layouts: official HRNet (``pose_hrnet_*.pth``), official SimpleBaseline
(``pose_resnet_*.pth``), mmpose 0.x (``backbone.`` / ``keypoint_head.``), mmpose 1.x (``backbone.`` / ``head.``),
the official ViTPose files (mmpose 0.x based: ``backbone.blocks.*`` / ``keypoint_head.``) and mmpose 1.x's ViTPose
files (``backbone.layers.*`` / ``head.``)."""


def detect_layout(keys: Sequence[str]) -> str:
    """The one layout whose marker keys ``keys`` hold; :class:`CheckpointError` when none or several match."""
    keys = list(keys)
    top = {k.split(".", 1)[0] for k in keys}
    mmpose1_head = any(k.startswith(("head.final_layer.", "head.deconv_layers.")) for k in keys)
    vit0 = any(k.startswith("backbone.blocks.") for k in keys)  # the official ViTPose backbone
    vit1 = any(k.startswith("backbone.layers.") for k in keys)  # mmpretrain's VisionTransformer
    markers = {
        "native": any(k.startswith(("head.final.", "head.deconv.")) for k in keys),
        "mmpose1": mmpose1_head and not vit1,
        "mmpose1_vitpose": mmpose1_head and vit1,
        "mmpose0": "keypoint_head" in top and not vit0,
        "official_vitpose": "keypoint_head" in top and vit0,
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
    if spec.backbone_names:
        return _rename(key, spec.backbone_names)
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
    if spec.backbone_names:
        source = _rename(key, tuple((b, a) for a, b in spec.backbone_names))
        if source is None:
            raise CheckpointError(f"model tensor {key} has no name in the {layout} layout")
        return source
    assert key.startswith("backbone."), key
    return spec.backbone_prefix + key[len("backbone."):]


def _template_regex(template: str) -> str:
    return re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)").replace(r"\{p\}", r"(?P<p>weight|bias)")


def _rename(key: str, names: Sequence[tuple[str, str]]) -> str | None:
    """``key`` renamed by the first ``(from, to)`` template pair whose ``from`` matches it; None if none does."""
    for src, dst in names:
        m = re.fullmatch(_template_regex(src), key)
        if m:
            return dst.format(**m.groupdict())
    return None


def _to_model_value(key: str, value: torch.Tensor, layout: str, shape: torch.Size) -> torch.Tensor:
    """A checkpoint tensor as model tensor ``key`` of ``shape`` holds it: a ViT position embedding with a
    class-token slot loses it, added to every patch (official ViTPose) or dropped (mmpose 1.x)."""
    spec = LAYOUTS[layout]
    if (spec is None or key != "backbone.pos_embed" or not spec.pos_embed_cls or value.ndim != 3
            or value.shape[1] != shape[1] + 1):
        return value
    return value[:, 1:] + value[:, :1] if spec.pos_embed_cls == "add" else value[:, 1:]


def _to_source_value(key: str, value: torch.Tensor, layout: str) -> torch.Tensor:
    """The inverse of :func:`_to_model_value`: the official ViTPose position embedding gets a zero class slot."""
    spec = LAYOUTS[layout]
    if spec is not None and key == "backbone.pos_embed" and spec.pos_embed_cls == "add":
        return torch.cat([value.new_zeros(value.shape[0], 1, value.shape[2]), value], dim=1)
    return value


def export_checkpoint(model: PoseNet, layout: str) -> dict[str, torch.Tensor]:
    """``model``'s tensors under the names of a checkpoint of ``layout`` (``official_hrnet``,
    ``official_simplebaseline``, ``mmpose0``, ``mmpose1``, ``official_vitpose``, ``mmpose1_vitpose`` or ``native``):
    what :func:`load_pose_checkpoint` reads back into the same tensors. Writes official-layout files for tests and
    rehearsals without the real weights (an official ViTPose file gets a zero class-token position slot)."""
    if layout not in LAYOUTS:
        raise KeyError(f"unknown checkpoint layout {layout!r}; known: {', '.join(LAYOUTS)}")
    return {_to_source_key(k, layout): _to_source_value(k, v.detach().clone(), layout)
            for k, v in model.state_dict().items()}


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


def _numpy_globals() -> list[Any]:
    """numpy arrays and scalars as ``weights_only`` may rebuild them, under the names numpy 1.x and 2.x pickle
    them with: mmcv / mmengine files keep some in their ``meta`` (mmpose 1.x: ``dataset_meta`` sigmas)."""
    import numpy as np

    multiarray = (np._core if hasattr(np, "_core") else np.core).multiarray
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25 rebuilds a dtype from its class (Float32DType, ...)
    found: list[Any] = [np.ndarray, np.dtype, *(getattr(dtypes, n) for n in getattr(dtypes, "__all__", ()))]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        found += [(multiarray._reconstruct, f"{module}._reconstruct"), (multiarray.scalar, f"{module}.scalar")]
    return found


def read_state_dict(path_or_state_dict: str | Path | Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """The tensors of a checkpoint file (read with ``weights_only=True``, numpy arrays and scalars allowed besides
    tensors and plain data) or mapping, and a name for messages.

    A ``state_dict`` (or ``model``) wrapper and a ``module.`` prefix on every key are removed; anything that is not
    a dict of tensors raises :class:`CheckpointError`.
    """
    if isinstance(path_or_state_dict, Mapping):
        obj: Any = path_or_state_dict
        source = "<state_dict>"
    else:
        source = str(path_or_state_dict)
        with torch.serialization.safe_globals(_numpy_globals()):
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
    """Load an official HRNet / SimpleBaseline / ViTPose, mmpose 0.x / 1.x or native checkpoint into ``model``.

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
        if dest is not None and dest in target:
            value = _to_model_value(dest, value, layout, target[dest].shape)
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
_MMPOSE_V1 = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"


def _openmmlab(model: str, dataset: Literal["coco", "mpii"], input_size: tuple[int, int], layout: str,
               url: str) -> tuple[str, Checkpoint]:
    """An OpenMMLab model-zoo file: its name is the URL's last part, its sha256 prefix the 8 hex digits the name
    carries before the date (``...-c78dce93_20200708.pth``)."""
    name = url.rsplit("/", 1)[1]
    found = re.fullmatch(r".*-([0-9a-f]{8})_\d{8}\.pth", name)
    assert found is not None, name
    return name, Checkpoint(model, dataset, input_size, layout, url, sha256_prefix=found.group(1))


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
    **dict(_openmmlab(*entry) for entry in (
        ("hrnet_w32", "coco", (192, 256), "mmpose0", _MMPOSE + "hrnet/hrnet_w32_coco_256x192-c78dce93_20200708.pth"),
        ("hrnet_w32", "coco", (288, 384), "mmpose0", _MMPOSE + "hrnet/hrnet_w32_coco_384x288-d9f0d786_20200708.pth"),
        ("hrnet_w48", "coco", (192, 256), "mmpose0", _MMPOSE + "hrnet/hrnet_w48_coco_256x192-b9e0b3ab_20200708.pth"),
        ("hrnet_w32", "mpii", (256, 256), "mmpose0", _MMPOSE + "hrnet/hrnet_w32_mpii_256x256-6c4f923f_20200812.pth"),
        ("simplebaseline_r50", "coco", (192, 256), "mmpose0",
         _MMPOSE + "resnet/res50_coco_256x192-ec54d7f3_20200709.pth"),
        ("simplebaseline_r101", "coco", (192, 256), "mmpose0",
         _MMPOSE + "resnet/res101_coco_256x192-6e6babf0_20200708.pth"),
        ("simplebaseline_r152", "coco", (192, 256), "mmpose0",
         _MMPOSE + "resnet/res152_coco_256x192-f6e307c2_20200709.pth"),
        # mmpose 1.x model zoo (configs/body_2d_keypoint/topdown_heatmap/coco/vitpose_coco.md), classic decoder.
        ("vitpose_b", "coco", (192, 256), "mmpose1_vitpose",
         _MMPOSE_V1 + "td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth"),
        ("vitpose_l", "coco", (192, 256), "mmpose1_vitpose",
         _MMPOSE_V1 + "td-hm_ViTPose-large_8xb64-210e_coco-256x192-53609f55_20230314.pth"),
        ("vitpose_h", "coco", (192, 256), "mmpose1_vitpose",
         _MMPOSE_V1 + "td-hm_ViTPose-huge_8xb64-210e_coco-256x192-e32adcd4_20230314.pth"),
    )),
}
"""Known checkpoints by file name. The official HRNet / SimpleBaseline files (github.com/leoxiaobin/
deep-high-resolution-net.pytorch, model zoo) have no direct URL: put them into ``cache_dir`` by hand. No full
sha256 is recorded for any file (none is known for certain); the mmpose files are checked against the sha256
prefix in their names. The official ViTPose files (ViTAE-Transformer/ViTPose README, OneDrive) have no direct URL
either and are not listed: import them with :func:`load_pose_checkpoint` (layout ``official_vitpose``)."""


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
