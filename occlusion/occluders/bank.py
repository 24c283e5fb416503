"""Banks of object occluders: RGBA cut-outs with binary alpha, one class name each (docs/METHODS.md §11).

* :func:`procedural_bank`: the embedded default, textured shapes of :data:`SHAPE_CLASSES` drawn in code,
  deterministic from a seed (about 5 ms for 48 objects, so stages build it instead of caching it);
* :func:`build_coco_bank`: the paper profile, non-person COCO instances cut out of ``train2017`` with their
  segmentation masks, skipping crowd, tiny and heavily occluded objects (:class:`CocoBankFilter`), written once to
  an ``.npz`` file by the ``occluder_bank`` stage and read back with :meth:`ObjectBank.load`.

Example:
    >>> bank = procedural_bank(seed=0, size=6)
    >>> len(bank), bank.images[0].shape[2], sorted(set(bank.images[0][..., 3].ravel().tolist())) == [0, 255]
    (6, 4, True)
    >>> procedural_bank(seed=0, size=6).fingerprint() == bank.fingerprint()
    True
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..config import check, to_dict
from ..io import write_json, write_npz

__all__ = ["ObjectBank", "SHAPE_CLASSES", "procedural_bank", "CocoBankFilter", "CocoBankConfig", "build_coco_bank",
           "load_bank"]

log = logging.getLogger(__name__)

SHAPE_CLASSES: tuple[str, ...] = ("ellipse", "box", "triangle", "star", "blob", "bar")
"""Classes of the procedural bank; textures are stripes, checks, noise or flat, two random colours."""
PROCEDURAL_SIDE = 48
"""Longest side of a procedural object, in pixels (objects are rescaled when placed)."""


@dataclass(frozen=True, eq=False)
class ObjectBank:
    """Object cut-outs: ``images[i]`` is uint8 ``(h, w, 4)`` RGBA with alpha 0 or 255, ``names[i]`` its class."""

    images: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    source: str = "procedural"

    def __post_init__(self) -> None:
        check(len(self.images) == len(self.names) > 0, "images", len(self.images), "one class name per image, >= 1")
        for i, image in enumerate(self.images):
            check(image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 4, f"images[{i}]",
                  f"{image.dtype} {image.shape}", "uint8 (h, w, 4) RGBA")
            check(bool((image[..., 3] > 0).any()), f"images[{i}]", "empty alpha", "at least one opaque pixel")

    def __len__(self) -> int:
        return len(self.images)

    def opaque_area(self, index: int) -> int:
        """Pixels of object ``index`` with alpha > 0."""
        return int((self.images[index][..., 3] > 0).sum())

    def fingerprint(self) -> str:
        """sha256 prefix of every object's pixels and class: equal banks give equal fingerprints."""
        digest = hashlib.sha256()
        for image, name in zip(self.images, self.names):
            digest.update(name.encode() + np.asarray(image.shape, np.int64).tobytes() + image.tobytes())
        return digest.hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        """One ``.npz``: the objects' pixels concatenated, their shapes, classes and the source."""
        shapes = np.array([im.shape[:2] for im in self.images], np.int64)
        flat = np.concatenate([im.reshape(-1, 4) for im in self.images])
        return write_npz(path, pixels=flat, shapes=shapes, names=np.array(self.names), source=np.array(self.source))

    @classmethod
    def load(cls, path: str | Path) -> ObjectBank:
        """Read a bank written by :meth:`save`; a missing file names the stage that builds it."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"occluder bank {path} not found (the occluder_bank stage builds it)")
        with np.load(path, allow_pickle=False) as z:
            shapes, flat = z["shapes"], z["pixels"]
            ends = np.cumsum(shapes[:, 0] * shapes[:, 1])
            images = tuple(p.reshape(h, w, 4) for p, (h, w) in zip(np.split(flat, ends[:-1]), shapes))
            return cls(images, tuple(str(n) for n in z["names"]), str(z["source"]))


# ------------------------------------------------------------------------------------------- procedural


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """uint8 (h, w, 3): stripes, checks, noise or flat in two random colours."""
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    kind = int(rng.integers(4))
    rows, cols = np.mgrid[:h, :w]
    period = int(rng.integers(3, 9))
    if kind == 0:
        pick = ((rows + cols) // period) % 2 == 0
    elif kind == 1:
        pick = ((rows // period) + (cols // period)) % 2 == 0
    elif kind == 2:
        pick = rng.random((h, w)) < 0.5
    else:
        pick = np.ones((h, w), bool)
    return np.where(pick[..., None], a, b).astype(np.uint8)


def _shape_mask(kind: str, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """uint8 (h, w) alpha 0/255 of one shape of class ``kind`` filling most of the canvas."""
    mask = np.zeros((h, w), np.uint8)
    c = (w // 2, h // 2)
    if kind == "ellipse":
        cv2.ellipse(mask, c, (w // 2 - 1, h // 2 - 1), 0, 0, 360, 255, -1)
    elif kind in ("box", "bar"):
        mask[1:-1, 1:-1] = 255
    elif kind == "triangle":
        pts = np.array([[w // 2, 0], [w - 1, h - 1], [0, h - 1]], np.int32)
        cv2.fillPoly(mask, [pts], 255)
    else:  # star and blob: a polygon around the centre, spiky or smooth
        n = 10 if kind == "star" else 9
        angles = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, np.pi)
        radii = np.where(np.arange(n) % 2 == 0, 1.0, 0.45) if kind == "star" else rng.uniform(0.6, 1.0, n)
        pts = np.stack([c[0] + radii * (w / 2 - 1) * np.cos(angles), c[1] + radii * (h / 2 - 1) * np.sin(angles)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    return mask


@lru_cache(maxsize=8)
def procedural_bank(seed: int = 0, size: int = 48) -> ObjectBank:
    """``size`` textured shapes cycling through :data:`SHAPE_CLASSES`, deterministic from ``seed`` (cached)."""
    check(size >= 1, "size", size, "an integer >= 1")
    rng = np.random.default_rng(seed)
    images, names = [], []
    for i in range(size):
        kind = SHAPE_CLASSES[i % len(SHAPE_CLASSES)]
        aspect = rng.uniform(0.25, 0.45) if kind == "bar" else rng.uniform(0.6, 1.0)
        h, w = PROCEDURAL_SIDE, max(8, int(round(PROCEDURAL_SIDE * aspect)))
        if rng.random() < 0.5:
            h, w = w, h
        rgb = _texture(rng, h, w)
        images.append(np.dstack([rgb, _shape_mask(kind, rng, h, w)]))
        names.append(kind)
    return ObjectBank(tuple(images), tuple(names), f"procedural(seed={seed}, size={size})")


# ------------------------------------------------------------------------------------------------- COCO


@dataclass(frozen=True)
class CocoBankFilter:
    """Which COCO instances become occluders (docs/METHODS.md §11).

    Skipped: ``person`` (category 1) and crowd annotations; instances whose mask has fewer than ``min_area``
    pixels or whose box is under ``min_side`` px on a side; instances whose mask fills under ``min_fill`` of its
    box (thin or fragmented, typical of heavily occluded objects); instances overlapped by another instance's box
    on more than ``max_overlap`` of their own box (occluded by a neighbour). At most ``max_objects`` are kept,
    in annotation-id order, each cropped to its box (``max_side`` px longest side, downscaled with INTER_AREA).
    """

    min_area: float = 1000.0
    min_side: int = 24
    min_fill: float = 0.3
    max_overlap: float = 0.3
    max_objects: int = 5000
    max_side: int = 128

    def __post_init__(self) -> None:
        check(0.0 <= self.min_fill <= 1.0, "min_fill", self.min_fill, "a fraction in [0, 1]")
        check(0.0 <= self.max_overlap <= 1.0, "max_overlap", self.max_overlap, "a fraction in [0, 1]")
        check(self.max_objects >= 1, "max_objects", self.max_objects, "an integer >= 1")
        check(self.max_side >= 8, "max_side", self.max_side, "an integer >= 8 (pixels)")


@dataclass(frozen=True)
class CocoBankConfig:
    """``occluder_bank:`` (paper profile): the COCO instance ``annotations`` (``instances_train2017.json``; the
    keypoint files hold persons only), the bank file ``out`` and the ``filter``. The images are the profile's
    ``data.coco.train_images``."""

    annotations: str
    out: str = "data/occluders/coco_train2017.npz"
    filter: CocoBankFilter = field(default_factory=CocoBankFilter)


def _overlap(box: list[float], others: list[list[float]]) -> float:
    """Largest fraction of ``box`` (x, y, w, h) covered by one of ``others``."""
    x, y, w, h = box
    best = 0.0
    for ox, oy, ow, oh in others:
        iw = max(0.0, min(x + w, ox + ow) - max(x, ox))
        ih = max(0.0, min(y + h, oy + oh) - max(y, oy))
        best = max(best, iw * ih / max(w * h, 1e-9))
    return best


def _keep(ann: dict, others: list[dict], cfg: CocoBankFilter) -> bool:
    x, y, w, h = ann["bbox"]
    if ann.get("iscrowd", 0) or ann["category_id"] == 1 or ann["area"] < cfg.min_area or min(w, h) < cfg.min_side:
        return False
    if ann["area"] / max(w * h, 1e-9) < cfg.min_fill:
        return False
    return _overlap(ann["bbox"], [o["bbox"] for o in others if o["id"] != ann["id"]]) <= cfg.max_overlap


def _cutout(image: np.ndarray, ann: dict, coco, max_side: int) -> np.ndarray | None:
    """RGBA cut-out of ``ann`` from an RGB ``image``, cropped to its box and shrunk to ``max_side``."""
    mask = coco.annToMask(ann).astype(bool)
    x, y, w, h = (int(round(v)) for v in ann["bbox"])
    x1, y1 = min(x + max(w, 1), image.shape[1]), min(y + max(h, 1), image.shape[0])
    alpha = np.where(mask[y:y1, x:x1], 255, 0).astype(np.uint8)
    if not alpha.any():
        return None
    rgba = np.dstack([image[y:y1, x:x1], alpha])
    scale = max_side / max(rgba.shape[:2])
    if scale < 1:
        size = (max(1, round(rgba.shape[1] * scale)), max(1, round(rgba.shape[0] * scale)))
        rgb = cv2.resize(rgba[..., :3], size, interpolation=cv2.INTER_AREA)
        a = cv2.resize(rgba[..., 3], size, interpolation=cv2.INTER_NEAREST)
        rgba = np.dstack([rgb, a])
    return rgba if (rgba[..., 3] > 0).any() else None


def build_coco_bank(annotations: str | Path, images: str | Path, out: str | Path | None = None,
                    cfg: CocoBankFilter = CocoBankFilter()) -> ObjectBank:
    """The bank of non-person instances of a COCO ``annotations`` file (``images``: its image folder), written to
    ``out`` when given. An image that is missing is skipped with a warning."""
    from pycocotools.coco import COCO

    coco = COCO(str(annotations))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    cutouts, classes = [], []
    for image_id in sorted(coco.getImgIds()):
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        kept = [a for a in sorted(anns, key=lambda a: a["id"]) if _keep(a, anns, cfg)]
        if not kept:
            continue
        info = coco.loadImgs(image_id)[0]
        bgr = cv2.imread(str(Path(images) / info["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            log.warning("occluder bank: image %s not found, skipped", Path(images) / info["file_name"])
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        for ann in kept:
            cut = _cutout(rgb, ann, coco, cfg.max_side)
            if cut is not None and len(cutouts) < cfg.max_objects:
                cutouts.append(cut)
                classes.append(names[ann["category_id"]])
    if not cutouts:
        raise ValueError(f"{annotations}: no COCO instance passed the occluder filter {cfg}")
    bank = ObjectBank(tuple(cutouts), tuple(classes), f"coco:{Path(annotations).name}")
    if out is not None:
        bank.save(out)
        write_json(str(out) + ".json", {"objects": len(bank), "fingerprint": bank.fingerprint(),
                                        "classes": sorted(set(classes)), "filter": to_dict(cfg)})
    return bank


def main() -> None:
    """``python -m occlusion.occluders.bank``: the ``occluder_bank`` stage outside DVC
    (:func:`occlusion.pipeline.occluder_bank_stage`)."""
    from ..pipeline import occluder_bank_stage

    log.info("occluder bank written to %s", occluder_bank_stage())


def load_bank(bank: str, seed: int = 0, size: int = 48) -> ObjectBank:
    """``"procedural"`` (:func:`procedural_bank` of ``seed``, ``size``) or a bank file, relative to the repository
    root (:meth:`ObjectBank.load`, cached per path)."""
    if bank == "procedural":
        return procedural_bank(seed, size)
    from ..params import repo_root

    path = Path(bank)
    return _load_file(str(path if path.is_absolute() else repo_root() / path))


@lru_cache(maxsize=4)
def _load_file(path: str) -> ObjectBank:
    return ObjectBank.load(path)


if __name__ == "__main__":
    main()
