"""The size and difficulty of the generated dataset (``data.synthetic`` of ``params.yaml``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import check

__all__ = ["SPLITS", "MPII_SPLIT_NAMES", "SyntheticConfig", "check_split"]

SPLITS: tuple[str, ...] = ("train", "val")
MPII_SPLIT_NAMES = {"train": "train", "val": "valid"}


def check_split(split: str) -> str:
    """``split`` when it is one of :data:`SPLITS`; anything else raises ``ValueError``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    return split


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and difficulty of the generated dataset.

    The defaults give about 2,000 annotated training people and 300 validation people on 320x240 images
    (925 images, 25 MB), generated in about 15 seconds on one CPU core.
    """

    seed: int = 0
    train_images: int = 800
    val_images: int = 125
    image_size: tuple[int, int] = (320, 240)
    """(width, height) in pixels."""
    people_per_image: tuple[int, int] = (1, 4)
    """Inclusive range of people painted per image (before the scheduled extras below)."""
    person_height: tuple[float, float] = (0.45, 0.95)
    """Standing height of a person as a fraction of the image height (uniform range)."""
    jpeg_quality: int = 90
    detector_false_positives: float = 1.0
    """Mean number of low-scored false-positive boxes per validation image (Poisson)."""
    detector_jitter: float = 0.06
    """Std of the simulated detector's box centre shift and log-size change, relative to the box size
    (normal, truncated at 2.5 std; at 0.06 every true box keeps IoU > 0.5 with its detection)."""
    crowd_fraction: float = 0.04
    """Fraction of images (spread evenly) with a far group of small people annotated as one ``iscrowd=1`` region."""
    cutoff_fraction: float = 0.05
    """Fraction of images (spread evenly) with an extra person almost entirely out of frame, so that the
    annotation has a visible silhouette but zero labelled keypoints."""
    ochuman_images: int = 0
    """Images of the OCHuman-like split (pairs and triples of heavily overlapping people, COCO format; 0: none).
    Drawn from RNG streams of their own: the train and val files are the same with or without it."""
    crowdpose_images: int = 0
    """Images of the CrowdPose-format split (14 keypoints, a crowd index per image): every other image an ordinary
    scene, the rest overlap scenes, so the crowd index spans easy to hard (0: none)."""

    def __post_init__(self) -> None:
        check(isinstance(self.seed, int) and self.seed >= 0, "seed", self.seed, "an integer >= 0")
        for name in ("train_images", "val_images"):
            value = getattr(self, name)
            check(isinstance(value, int) and value >= 1, name, value, "an integer >= 1")
        w, h = self.image_size
        check(64 <= w <= 4096 and 64 <= h <= 4096, "image_size", self.image_size, "(width, height) in [64, 4096]")
        lo, hi = self.people_per_image
        check(1 <= lo <= hi <= 16, "people_per_image", self.people_per_image, "(lo, hi) with 1 <= lo <= hi <= 16")
        lo, hi = self.person_height
        check(0.1 <= lo <= hi <= 1.5, "person_height", self.person_height, "(lo, hi) with 0.1 <= lo <= hi <= 1.5")
        check(1 <= self.jpeg_quality <= 100, "jpeg_quality", self.jpeg_quality, "an integer in [1, 100]")
        check(self.detector_false_positives >= 0, "detector_false_positives", self.detector_false_positives, ">= 0")
        check(0 <= self.detector_jitter <= 0.5, "detector_jitter", self.detector_jitter, "a number in [0, 0.5]")
        for name in ("ochuman_images", "crowdpose_images"):
            value = getattr(self, name)
            check(isinstance(value, int) and value >= 0, name, value, "an integer >= 0")
        for name in ("crowd_fraction", "cutoff_fraction"):
            value = getattr(self, name)
            check(0 <= value <= 1, name, value, "a fraction in [0, 1]")

    def num_images(self, split: str) -> int:
        """Number of images of ``split`` (``"train"`` or ``"val"``)."""
        return {"train": self.train_images, "val": self.val_images}[check_split(split)]
