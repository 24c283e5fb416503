"""Crops per second of one registry model through each estimator adapter, side by side in one run: the native
torch path (the engine's), TorchScript, ``torch.export`` and ONNX Runtime; and MediaPipe BlazePose where installed.

    python benchmarks/estimators.py --arch hrnet_w18_small --crops 256 --batch 32 --threads 1 --write

Each adapter predicts the same crops (real COCO crops from ``--coco`` when given, else random pixels) in batches
of ``--batch``, after one untimed warm-up batch, with the flip test unless ``--no-flip``; the table also gives the
largest keypoint difference from the native path (px). ``--write`` appends the table to ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from machine import cpu_name

from occlusion.estimators import PoseEstimator, create_estimator, load_estimator
from occlusion.models import create_model, model_info

HEATMAP = {"codec": "heatmap", "keypoints": "coco", "flip_test": True}


def _crops(args: argparse.Namespace, size: tuple[int, int]) -> torch.Tensor:
    if args.coco:
        from occlusion import engine
        from occlusion.data import load_coco_records

        root = Path(args.coco)
        records = load_coco_records(root / "annotations/person_keypoints_val2017.json", root / "val2017")
        crops = engine.build_eval_set(records, size).crops
        return crops[torch.arange(args.crops) % len(crops)]
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (args.crops, size[1], size[0], 3), dtype=torch.uint8, generator=g)


def _time(est: PoseEstimator, crops: torch.Tensor, batch: int, flip: bool) -> tuple[float, np.ndarray]:
    est.predict(crops[:batch], flip_test=flip)
    start = time.perf_counter()
    out = [est.predict(crops[s : s + batch], flip_test=flip).keypoints for s in range(0, len(crops), batch)]
    return len(crops) / (time.perf_counter() - start), np.concatenate(out)


def _adapters(args: argparse.Namespace, tmp: Path) -> dict[str, PoseEstimator]:
    model = create_model(args.arch, seed=0).eval()
    w, h = model_info(args.arch).input_size
    meta = {**HEATMAP, "input_size": [w, h], "color": model_info(args.arch).color}
    x = torch.zeros(2, 3, h, w)
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(model, x).save(tmp / "m.ts")
        torch.export.save(torch.export.export(model, (x,), dynamic_shapes=({0: batch},)), tmp / "m.pt2")
        torch.onnx.export(model, (x,), tmp / "m.onnx", dynamic_shapes=({0: batch},), verbose=False)
    return {"native (registry)": create_estimator("registry", arch=args.arch, model=model, device=args.device),
            "TorchScript": load_estimator({"kind": "torchscript", "file": str(tmp / "m.ts"), "device": args.device,
                                           **meta}),
            "torch.export": load_estimator({"kind": "torch_export", "file": str(tmp / "m.pt2"),
                                            "device": args.device, **meta}),
            "ONNX Runtime": load_estimator({"kind": "onnx", "file": str(tmp / "m.onnx"), "device": args.device,
                                            "threads": args.threads, **meta})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="hrnet_w18_small")
    parser.add_argument("--crops", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--coco", help="a COCO root (annotations/, val2017/): real crops instead of random pixels")
    parser.add_argument("--no-flip", action="store_true")
    parser.add_argument("--blazepose-crops", type=int, default=64, help="0: skip BlazePose")
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    flip = not args.no_flip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        adapters = _adapters(args, Path(tmp))
        crops = _crops(args, adapters["native (registry)"].info.input_size)
        reference = None
        for name, est in adapters.items():
            rate, keypoints = _time(est, crops, args.batch, flip)
            reference = keypoints if reference is None else reference
            rows.append((f"{args.arch} {name}", rate, float(np.abs(keypoints - reference).max())))
            print(f"{rows[-1][0]}: {rate:.1f} crops/s", flush=True)
    if args.blazepose_crops:
        try:
            est = create_estimator("blazepose")
        except ValueError as exc:
            print(f"BlazePose skipped: {exc}")
        else:
            bp = _crops(argparse.Namespace(**{**vars(args), "crops": args.blazepose_crops}), est.info.input_size)
            rate, _ = _time(est, bp, args.batch, False)
            est.close()
            rows.append(("BlazePose (pose_landmark_full, crop by crop)", rate, float("nan")))
            print(f"{rows[-1][0]}: {rate:.1f} crops/s", flush=True)
    table = _table(args, rows, flip)
    print(table)
    if args.write:
        with open(Path(__file__).with_name("RESULTS.md"), "a") as f:
            f.write("\n" + table)


def _table(args: argparse.Namespace, rows: list[tuple[str, float, float]], flip: bool) -> str:
    import os

    import onnxruntime

    date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [f"## estimators, {date}", "",
             f"Machine: {cpu_name()}, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} at the end: "
             f"shared), {torch.get_num_threads()} thread(s); device {args.device}; torch {torch.__version__}, "
             f"onnxruntime {onnxruntime.__version__}, Python {platform.python_version()}. {args.crops} "
             f"{'COCO' if args.coco else 'random-pixel'} crops, batch {args.batch}, flip test "
             f"{'on' if flip else 'off'} (BlazePose: {args.blazepose_crops} crops, no flip test). "
             "`python benchmarks/estimators.py` " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in
                                                               vars(args).items() if k not in ("write",) and v) + ".",
             "", "| adapter | crops/s | max keypoint difference from native (px) |", "|---|---|---|"]
    lines += [f"| {name} | {rate:.1f} | {'–' if np.isnan(diff) else f'{diff:.2g}'} |" for name, rate, diff in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
