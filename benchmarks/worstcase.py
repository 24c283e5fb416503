"""Cost of the worst-case occluder search (docs/METHODS.md §12): forward passes and seconds per person.

    python benchmarks/worstcase.py --models hrnet_w18_small simplebaseline_r18_small hrnet_w32 --persons 16

Each model (random weights) runs the search on ``--persons`` grey crops of its input size with keypoints spread
over the crop. The prediction handed to the search is the ground truth, so no occluder ever breaks a target and
every person spends the whole budget: the numbers are the search's upper bound (a trained model stops earlier
at every level some occluder breaks). The network still runs on every occluded crop, so the seconds are real.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from machine import machine

from occlusion.engine import normalize_batch
from occlusion.keypoints import get_skeleton
from occlusion.models import create_model, model_info
from occlusion.occluders import procedural_bank
from occlusion.worstcase import WorstCaseConfig, search_targets


def inputs(persons: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    crops = rng.integers(60, 200, (persons, height, width, 3), dtype=np.uint8)
    joints = np.zeros((persons, 17, 3), np.float32)
    joints[..., 0] = rng.uniform(0.2, 0.8, (persons, 17)) * width
    joints[..., 1] = rng.uniform(0.1, 0.9, (persons, 17)) * height
    joints[..., 2] = 2
    return crops, joints, np.full(persons, 0.5 * width * height)


def run(name: str, args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    width, height = model_info(name).input_size
    model = create_model(name, num_joints=17, seed=0).to(device).eval()
    crops, joints, area = inputs(args.persons, width, height)
    cfg = WorstCaseConfig(targets=tuple(args.targets), candidates=args.candidates, rounds=args.rounds)
    passes = 0

    def predict(batch: torch.Tensor) -> np.ndarray:
        nonlocal passes
        passes += len(batch)
        with torch.inference_mode():
            model(normalize_batch(batch.to(device)))
        return np.repeat(joints[:1, :, :2], len(batch), 0) if len(batch) else np.zeros((0, 17, 2))

    # every person shares person 0's keypoints, so the ground truth the search compares against is person 0's
    joints[:] = joints[:1]
    t0 = time.perf_counter()
    table = search_targets(predict, crops, joints, area, get_skeleton("coco"), cfg, bank=procedural_bank(0, 48),
                           batch_size=args.batch, progress=False)
    seconds = time.perf_counter() - t0
    return {"model": name, "input": f"{width}x{height}", "persons": args.persons, "targets": len(args.targets),
            "passes_per_person": passes / args.persons, "budget_per_target": cfg.budget(),
            "seconds_per_person": seconds / args.persons, "crops_per_s": passes / seconds,
            "rows": len(table)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["hrnet_w18_small", "simplebaseline_r18_small", "hrnet_w32"])
    parser.add_argument("--persons", type=int, default=16)
    parser.add_argument("--targets", nargs="+", default=["nose", "left_wrist", "right_ankle"])
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# worstcase, {time.strftime('%Y-%m-%d')}: {machine()}; {torch.get_num_threads()} threads")
    print("| model | input | persons | targets | forward passes / person | budget / person and target | "
          "s / person | crops/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        r = run(name, args)
        print(f"| {r['model']} | {r['input']} | {r['persons']} | {r['targets']} | {r['passes_per_person']:.0f} | "
              f"{r['budget_per_target']} | {r['seconds_per_person']:.2f} | {r['crops_per_s']:.0f} |")


if __name__ == "__main__":
    main()
