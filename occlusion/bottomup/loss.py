"""HigherHRNet's training loss (docs/METHODS.md §5): masked heatmap MSE at both stages and the associative-embedding
push/pull ('exp' type, weights 1e-3) on the stage-1 tags."""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["heatmap_loss", "ae_loss", "bottomup_loss"]


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample masked MSE ``(N,)``: ``mean over K, H, W of (pred - target)^2 * mask`` (HigherHRNet)."""
    if pred.shape != target.shape:
        raise ValueError(f"heatmaps of shape {tuple(pred.shape)} vs targets {tuple(target.shape)}")
    return (((pred.float() - target) ** 2) * mask[:, None]).mean(dim=(1, 2, 3))


def ae_loss(tags: torch.Tensor, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Associative-embedding push and pull ``(N,)`` ('exp' type) of tag maps ``(N, K, H, W)`` and indices
    ``(N, M, K, 2)`` from :func:`tag_joints`.

    For the P people with a labelled joint: reference tag ``t_p`` = mean of the person's tags;
    ``pull = sum_p mean_j (tag_pj - t_p)^2 / P``; ``push = sum_{p != q} exp(-(t_p - t_q)^2) / (P (P - 1)) / 2``
    (0 when P < 2; both 0 when P = 0). HigherHRNet sums over all pairs and subtracts P, the same value; summing
    the off-diagonal pairs avoids that cancellation in float32.
    """
    n = tags.shape[0]
    flat = tags.reshape(n, -1).float()
    pushes, pulls = [], []
    for i in range(n):
        idx, vis = joints[i, ..., 0].long(), joints[i, ..., 1] > 0
        keep = vis.any(dim=1)
        idx, vis = idx[keep], vis[keep].float()
        if not len(idx):
            zero = flat.new_zeros(())
            pushes.append(zero)
            pulls.append(zero)
            continue
        values = flat[i][idx]
        counts = vis.sum(dim=1)
        means = (values * vis).sum(dim=1) / counts
        pulls.append((((values - means[:, None]) ** 2 * vis).sum(dim=1) / counts).mean())
        p = len(means)
        if p < 2:
            pushes.append(flat.new_zeros(()))
        else:
            off_diagonal = ~torch.eye(p, dtype=torch.bool, device=means.device)
            diff = (means[:, None] - means[None, :])[off_diagonal]
            pushes.append(torch.exp(-(diff**2)).sum() / ((p - 1) * p) * 0.5)
    return torch.stack(pushes), torch.stack(pulls)


def bottomup_loss(
    outputs: Sequence[torch.Tensor],
    heatmaps: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    joints: torch.Tensor,
    *,
    push_factor: float = 1e-3,
    pull_factor: float = 1e-3,
    heatmap_factors: Sequence[float] = (1.0, 1.0),
) -> dict[str, torch.Tensor]:
    """HigherHRNet's training loss: heatmap MSE at both stages, AE push/pull on the stage-1 tags (docs/METHODS.md §5).

    ``outputs`` from :class:`BottomUpNet` (stage 1 holds K heatmaps then K tag maps); ``heatmaps``/``masks`` per
    stage; ``joints`` the stage-1 tag indices. Returns batch means ``heatmaps_0``, ``heatmaps_1``, ``push``, ``pull``
    and their sum ``loss``.
    """
    if not len(outputs) == len(heatmaps) == len(masks) == len(heatmap_factors):
        raise ValueError(f"{len(outputs)} outputs, {len(heatmaps)} heatmaps, {len(masks)} masks and "
                         f"{len(heatmap_factors)} heatmap factors: expected one of each per stage")  # fmt: skip
    k = outputs[-1].shape[1]
    losses = {f"heatmaps_{s}": (heatmap_loss(out[:, :k], hm, m) * f).mean()
              for s, (out, hm, m, f) in enumerate(zip(outputs, heatmaps, masks, heatmap_factors))}  # fmt: skip
    push, pull = ae_loss(outputs[0][:, k:], joints)
    losses["push"] = push.mean() * push_factor
    losses["pull"] = pull.mean() * pull_factor
    losses["loss"] = sum(losses.values())
    return losses
