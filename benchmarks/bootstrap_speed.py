"""Time the paired image bootstrap of COCO keypoint AP on a synthetic COCO-val-sized problem.

5,000 images, 6,000 persons, up to 20 detections per image (about 100,000 with the defaults), two models,
1,000 resamples. Prints the seconds of pycocotools' per-image matching (once per model) and of the resamples.
Not run by the tests::

    python benchmarks/bootstrap_speed.py [--images 5000] [--persons 6000] [--dets 20] [--resamples 1000]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np
from pycocotools.coco import COCO

from occlusion.stats import match_table, metric_from_weights, paired_bootstrap_ap, resample_indices


def synthetic_gt(n_images: int, n_persons: int, rng: np.random.Generator) -> COCO:
    """COCO person-keypoint ground truth with persons spread at random over the images."""
    images = [{"id": i + 1, "width": 640, "height": 480} for i in range(n_images)]
    owners = rng.integers(1, n_images + 1, n_persons)
    anns = []
    for j, img_id in enumerate(owners):
        w, h = rng.uniform(30, 250), rng.uniform(60, 350)
        x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
        v = rng.choice([0, 2], size=17, p=[0.3, 0.7])
        kps = np.stack([rng.uniform(x, x + w, 17) * (v > 0), rng.uniform(y, y + h, 17) * (v > 0), v], axis=1)
        anns.append({
            "id": j + 1, "image_id": int(img_id), "category_id": 1, "iscrowd": 0, "bbox": [x, y, w, h],
            "area": 0.7 * w * h, "num_keypoints": int((v > 0).sum()), "keypoints": kps.ravel().tolist(),
        })  # fmt: skip
    coco = COCO()
    coco.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def synthetic_results(gt: COCO, dets_per_image: int, noise: float, rng: np.random.Generator) -> list[dict]:
    """A noisy detection of every GT person plus random false positives, up to ``dets_per_image`` per image."""
    results = []
    for img_id in gt.getImgIds():
        anns = gt.loadAnns(gt.getAnnIds(imgIds=img_id))
        for ann in anns:
            kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)[:, :2]
            kps = kps + rng.normal(0, noise * np.sqrt(ann["area"]), (17, 2))
            results.append({"image_id": img_id, "category_id": 1, "keypoints": _kps(kps), "score": rng.uniform()})
        for _ in range(max(0, dets_per_image - len(anns))):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            kps = np.stack([rng.uniform(x, x + 140, 17), rng.uniform(y, y + 130, 17)], axis=1)
            results.append({"image_id": img_id, "category_id": 1, "keypoints": _kps(kps), "score": rng.uniform(0, 0.3)})
    return results


def _kps(xy: np.ndarray) -> list[float]:
    return np.concatenate([xy, np.ones((len(xy), 1))], axis=1).ravel().tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--persons", type=int, default=6000)
    parser.add_argument("--dets", type=int, default=20, help="detections per image (GT persons + false positives)")
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    gt = synthetic_gt(args.images, args.persons, rng)
    res_a = synthetic_results(gt, args.dets, 0.05, rng)
    res_b = synthetic_results(gt, args.dets, 0.045, rng)
    print(f"{args.images} images, {args.persons} persons, {len(res_a)} + {len(res_b)} detections")

    tic = time.perf_counter()
    table = match_table(gt, res_a)
    match_s = time.perf_counter() - tic
    tic = time.perf_counter()
    idx = resample_indices(args.images, args.resamples)
    weights = np.stack([np.bincount(row, minlength=args.images) for row in idx])
    metric_from_weights(table, weights)
    resample_s = time.perf_counter() - tic
    print(f"one model: evaluate() {match_s:.1f} s; {args.resamples} resamples of AP {resample_s:.1f} s")

    tic = time.perf_counter()
    res = paired_bootstrap_ap(gt, res_a, res_b, n_resamples=args.resamples)
    total = time.perf_counter() - tic
    print(f"paired_bootstrap_ap, {args.resamples} resamples, two models: {total:.1f} s")
    print(f"AP a {res.a:.4f}  b {res.b:.4f}  diff {res.diff:+.4f}  95% CI [{res.ci_low:+.4f}, {res.ci_high:+.4f}]  "
          f"p {res.p_value:.4f}")


if __name__ == "__main__":
    main()
