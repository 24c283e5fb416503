"""Writing the dataset: JPEG images, COCO and MPII annotation files, the simulated detections and a manifest
with the sha256 of every file (see the layout in :mod:`occlusion.synthetic`)."""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from ..config import to_dict
from ..progress import progress_bar
from .config import MPII_SPLIT_NAMES, SPLITS, SyntheticConfig
from .detector import simulated_detections
from .files import write_jpeg, write_json
from .labels import coco_categories
from .realsplits import write_crowdpose, write_ochuman
from .scene import SyntheticImage, render_image

__all__ = ["generate_dataset", "main"]

_COUNTS = ("persons", "persons_with_keypoints", "crowd", "zero_keypoints", "keypoints_v1", "keypoints_v2",
           "self_occluded")  # fmt: skip
"""The per-split person and keypoint counts of the summary."""


def _count(counts: dict[str, int], scene: SyntheticImage) -> None:
    """Add the people, crowd regions and keypoints of ``scene`` to ``counts``."""
    for a, occ in zip(scene.annotations, scene.self_occluded):
        v = np.asarray(a["keypoints"][2::3])
        if a["iscrowd"]:
            counts["crowd"] += 1
            continue
        counts["persons"] += 1
        counts["persons_with_keypoints"] += int(a["num_keypoints"] > 0)
        counts["zero_keypoints"] += int(a["num_keypoints"] == 0)
        counts["keypoints_v1"] += int((v == 1).sum())
        counts["keypoints_v2"] += int((v == 2).sum())
        counts["self_occluded"] += int(occ.sum())


def _write_split(root: Path, cfg: SyntheticConfig, split: str, bar: tqdm) -> tuple[dict[str, Any], int]:
    """Render and write every image and label file of ``split``; its summary and number of detections."""
    images, annotations, mpii, dets = [], [], [], []
    counts = dict.fromkeys(_COUNTS, 0)
    (root / "images" / split).mkdir(parents=True)
    for index in range(cfg.num_images(split)):
        scene = render_image(cfg, split, index)
        image_id = index + 1
        file_name = f"{image_id:06d}.jpg"
        write_jpeg(root / "images" / split / file_name, scene.image, cfg.jpeg_quality)
        h, w = scene.image.shape[:2]
        images.append({"id": image_id, "file_name": file_name, "width": w, "height": h})
        annotations += [{"id": len(annotations) + i, "image_id": image_id, **a}
                        for i, a in enumerate(scene.annotations, start=1)]  # fmt: skip
        _count(counts, scene)
        mpii += [{"image": f"{split}/{file_name}", **m} for m in scene.mpii]
        if split == "val":
            det_rng = np.random.default_rng([cfg.seed, len(SPLITS), index])
            dets += simulated_detections(det_rng, cfg, image_id, scene.annotations)
        bar.update()
    coco = {"info": {"description": "occlusion synthetic people", "version": "1.0"}, "licenses": [],
            "images": images, "annotations": annotations, "categories": coco_categories()}  # fmt: skip
    write_json(root / "annotations" / f"person_keypoints_{split}.json", coco)
    write_json(root / "mpii" / f"{MPII_SPLIT_NAMES[split]}.json", mpii)
    if split == "val":
        write_json(root / "detections" / "val_detections.json", dets)
    return {"images": len(images), **counts, "mpii_persons": len(mpii)}, len(dets)


def _write_manifest(root: Path, cfg: SyntheticConfig) -> str:
    """``manifest.json`` (config, sha256 of every file written so far, fingerprint); returns the fingerprint."""
    files = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip
    fingerprint = hashlib.sha256("".join(f"{k} {v}\n" for k, v in files.items()).encode()).hexdigest()
    write_json(root / "manifest.json", {"generator": "occlusion.synthetic", "config": to_dict(cfg),
                                         "fingerprint": fingerprint, "files": files})  # fmt: skip
    return fingerprint


def generate_dataset(out_dir: str | Path, cfg: SyntheticConfig | None = None, *, progress: bool = True) -> dict:
    """Generate the dataset into ``out_dir`` (which must not exist) and return a summary.

    Files are written into ``.<name>.partial`` beside ``out_dir`` and renamed at the end, so an interrupted
    run never leaves a directory that looks complete. The same config gives bit-identical files.
    The summary holds per-split counts, ``seconds`` and ``fingerprint`` (sha256 over every file's sha256).
    """
    cfg = cfg or SyntheticConfig()
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; remove it or choose another output directory")
    tmp = out_dir.parent / f".{out_dir.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    start = time.perf_counter()
    summary: dict[str, Any] = {}
    total = cfg.train_images + cfg.val_images + cfg.ochuman_images + cfg.crowdpose_images
    bar = progress_bar(total=total, desc="synthetic", disable=not progress)
    for split in SPLITS:
        summary[split], detections = _write_split(tmp, cfg, split, bar)
        if split == "val":
            summary["detections"] = detections
    if cfg.ochuman_images:  # the real-occlusion stand-ins (docs/METHODS.md §13), after the files they leave alone
        summary["ochuman"] = write_ochuman(tmp, cfg, bar)
    if cfg.crowdpose_images:
        summary["crowdpose"] = write_crowdpose(tmp, cfg, bar)
    bar.close()
    fingerprint = _write_manifest(tmp, cfg)
    tmp.rename(out_dir)
    summary |= {"seconds": round(time.perf_counter() - start, 3), "fingerprint": fingerprint, "out_dir": str(out_dir)}
    return summary


def main(argv: Sequence[str] | None = None) -> dict:
    """``python -m occlusion.synthetic OUT_DIR [--seed N] [--train-images N] [--val-images N]``."""
    description = sys.modules[__package__].__doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m occlusion.synthetic", description=description)
    parser.add_argument("out_dir", type=Path, help="output directory (must not exist)")
    defaults = SyntheticConfig()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--train-images", type=int, default=defaults.train_images)
    parser.add_argument("--val-images", type=int, default=defaults.val_images)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    cfg = SyntheticConfig(seed=args.seed, train_images=args.train_images, val_images=args.val_images)
    summary = generate_dataset(args.out_dir, cfg, progress=not args.quiet)
    print(json.dumps(summary, indent=2))
    return summary
