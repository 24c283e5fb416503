"""Import of the official HigherHRNet checkpoint (``pose_higher_hrnet_w32_512.pth``) by an explicit key table, or of
a saved :class:`~occlusion.bottomup.model.BottomUpNet` ``state_dict``."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..models import LAYOUTS, CheckpointError, LoadReport, read_state_dict
from .model import BottomUpNet

__all__ = ["OFFICIAL_CHECKPOINT", "load_bottomup_checkpoint", "export_bottomup_checkpoint"]

OFFICIAL_CHECKPOINT = "pose_higher_hrnet_w32_512.pth"
"""The official HigherHRNet-W32 512 COCO checkpoint (github.com/HRNet/HigherHRNet-Human-Pose-Estimation model zoo,
Google Drive / OneDrive only): Table III's baseline row (67.1 AP)."""

_BACKBONE_ROOTS = LAYOUTS["official_hrnet"].backbone_roots
_OFFICIAL_RULES: tuple[tuple[str, str], ...] = (
    (r"final_layers\.([01])\.(weight|bias)", r"head.final.\1.\2"),
    (r"deconv_layers\.0\.0\.([01])\.(\w+)", r"head.deconv.0.\1.\2"),
    (r"deconv_layers\.0\.([1-9]\d*)\.0\.(.+)", r"head.deconv.\1.\2"),
)
"""Official head names -> this module's: ``final_layers.i`` is ``head.final.i``; the deconvolution module
``deconv_layers.0`` is ``Sequential(Sequential(ConvTranspose, BN, ReLU), Sequential(BasicBlock) x 4)``, so its
basic blocks carry an extra ``.0``."""
_NATIVE_RULES: tuple[tuple[str, str], ...] = (
    (r"head\.final\.([01])\.(weight|bias)", r"final_layers.\1.\2"),
    (r"head\.deconv\.0\.([01])\.(\w+)", r"deconv_layers.0.0.\1.\2"),
    (r"head\.deconv\.([1-9]\d*)\.(.+)", r"deconv_layers.0.\1.0.\2"),
)


def _rename(key: str, rules: Sequence[tuple[str, str]], prefix_from: str, prefix_to: str) -> str | None:
    for pattern, repl in rules:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, repl, key)
    if key.startswith(prefix_from) and key[len(prefix_from):].split(".", 1)[0] in _BACKBONE_ROOTS:
        return prefix_to + key[len(prefix_from):]
    return None


def load_bottomup_checkpoint(model: BottomUpNet, path_or_state_dict: str | Path | Mapping[str, Any]) -> LoadReport:
    """Strictly load an official HigherHRNet checkpoint (``final_layers.*``, ``deconv_layers.*`` and the HRNet
    backbone at top level with timm's names) or a saved :class:`BottomUpNet` ``state_dict`` into ``model``.

    The file is read with ``torch.load(..., weights_only=True)``; ``state_dict``/``model`` wrappers and a
    ``module.`` prefix are removed. Every model tensor must be given with the model's shape (BN
    ``num_batches_tracked`` excepted) and no checkpoint tensor may be left over; otherwise
    :class:`~occlusion.models.CheckpointError` names the missing, unexpected and mis-shaped keys.
    """
    state, source = read_state_dict(path_or_state_dict)
    official = any(k.startswith(("final_layers.", "deconv_layers.")) for k in state)
    native = any(k.startswith("head.") for k in state)
    if official == native:
        raise CheckpointError(
            f"{source}: neither the official HigherHRNet layout (final_layers.*, deconv_layers.*) nor a native "
            f"BottomUpNet state_dict (head.*, backbone.*); first keys: {', '.join(list(state)[:5])}"
        )
    layout = "official_higherhrnet" if official else "native"

    def to_model(key: str) -> str | None:
        return _rename(key, _OFFICIAL_RULES, "", "backbone.") if official else key

    def to_source(key: str) -> str:
        return (_rename(key, _NATIVE_RULES, "backbone.", "") or key) if official else key

    target = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    mismatched: dict[str, str] = {}
    unexpected = []
    for key, value in state.items():
        dest = to_model(key)
        if dest is None or dest not in target:
            unexpected.append(key)
        elif value.shape != target[dest].shape:
            mismatched[dest] = f"{key} {tuple(value.shape)} vs model {tuple(target[dest].shape)}"
        else:
            mapped[dest] = value
    absent = [to_source(k) for k in target if k not in mapped and k not in mismatched]
    missing = [k for k in absent if not k.endswith(".num_batches_tracked")]
    shapes = list(mismatched.values())
    problems = []
    for what, keys in (("with another shape", shapes), ("missing", missing), ("unexpected", unexpected)):
        if keys:
            more = f", ... ({len(keys)} in all)" if len(keys) > 5 else ""
            problems.append(f"{len(keys)} {what}: {'; '.join(keys[:5])}{more}")
    if problems:
        raise CheckpointError(f"{source} ({layout} layout) does not fit the model: " + "; ".join(problems))
    model.load_state_dict(mapped, strict=False)
    return LoadReport(source=source, layout=layout, loaded=len(mapped), missing=tuple(absent))


def export_bottomup_checkpoint(model: BottomUpNet) -> dict[str, torch.Tensor]:
    """``model``'s tensors under the official HigherHRNet names (what :func:`load_bottomup_checkpoint` reads back):
    official-layout files for tests and rehearsals without the real weights."""
    return {(_rename(k, _NATIVE_RULES, "backbone.", "") or k): v.detach().clone()
            for k, v in model.state_dict().items()}
