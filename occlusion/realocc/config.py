"""The ``realocc`` section of ``params.yaml``: where the real-occlusion data is and how it is scored
(docs/METHODS.md §13).

>>> RealOccConfig().pck_alpha
0.1
>>> RealOccConfig(pck_alpha=2.0)
Traceback (most recent call last):
...
occlusion.config.FieldError: pck_alpha = 2.0: expected a fraction of the box side in (0, 1]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import check

__all__ = ["RealFiles", "RealOccConfig", "coco_runs", "realocc_keys"]


@dataclass(frozen=True)
class RealFiles:
    """One real-occlusion split on disk (paper profile); the embedded default generates its stand-ins."""

    annotations: str
    """The annotation file (OCHuman: its COCO-format file; CrowdPose: ``crowdpose_<split>.json``)."""
    images: str
    """The folder its ``file_name`` entries are relative to."""
    detections: str | None = None
    """A COCO-format person detection file of the same images (AP on detector boxes too); None: ground-truth boxes
    only."""


@dataclass(frozen=True)
class RealOccConfig:
    """The ``realocc`` stage: OCHuman and CrowdPose AP, COCO's ``v=1`` / ``v=2`` keypoint accuracy and AP by overlap
    of every COCO run's main model (its first seed), with image-bootstrap resamples of each."""

    ochuman: RealFiles | None = None
    """``data.source: files``: the OCHuman split (the paper profile: test, as mmpose reports). Synthetic: None (the
    data stage's ``ochuman/``)."""
    crowdpose: RealFiles | None = None
    """``data.source: files``: the CrowdPose split (test). Synthetic: None (the data stage's ``crowdpose/``)."""
    pck_alpha: float = 0.1
    """PCK threshold as a fraction of the longer side of the person's box."""
    bootstrap_resamples: int = 200
    """Image-bootstrap resamples of every metric (the intervals of the correlation, of effective robustness and of
    the augmentation tests); with the attack grid's count and seed 0, the COCO draws are the attack bootstrap's."""
    image_thre: float = 0.0
    """Detector score threshold on the OCHuman and CrowdPose detection files."""
    detections: bool = True
    """Also score on the detection files (OCHuman's, where one is given, and CrowdPose's); the embedded default
    leaves it off for CPU time (ground-truth boxes only)."""

    def __post_init__(self) -> None:
        check(0 < self.pck_alpha <= 1, "pck_alpha", self.pck_alpha, "a fraction of the box side in (0, 1]")
        check(isinstance(self.bootstrap_resamples, int) and self.bootstrap_resamples >= 1, "bootstrap_resamples",
              self.bootstrap_resamples, "an integer >= 1")
        check(0 <= self.image_thre <= 1, "image_thre", self.image_thre, "a score in [0, 1]")


def coco_runs(params: Any) -> list[str]:
    """The runs the ``realocc`` stage evaluates: every COCO run of ``params`` (:class:`occlusion.params.Params`), its
    main model (the first seed); MPII models predict another skeleton."""
    return [run_id for run_id, run in params.runs.items() if run.dataset == "coco"]


def realocc_keys(params: Any) -> list[str]:
    """The params keys the ``realocc`` stage reads: the device, data, eval and ``realocc`` sections, the model recipes
    and the entries of :func:`coco_runs`."""
    runs = coco_runs(params)
    models = sorted({params.runs[r].model for r in runs})
    return ["device", "data", "eval", "realocc", *(f"models.{m}" for m in models), *(f"runs.{r}" for r in runs)]
