"""Attack-evaluation and training throughput: the reference-style per-crop pipeline against the batched engine.

    python benchmarks/attack_engine.py --device cuda --models hrnet_w32 --crops 4096 --batch 256 --workers 16 \
        --compile --write
    python benchmarks/attack_engine.py --quick --device cpu           # tiny models, CPU-sized

In one process, per model, on the same person crops and the same attack (``--attack``, default ``nose blur``):

* **reference-style**: a ``DataLoader`` with ``--workers`` workers whose dataset decodes the JPEG with OpenCV for
  every crop, warps it with ``cv2.warpAffine``, attacks it with :func:`occlusion.attacks.occlude` and normalises it;
  fp32 model, flip test via :func:`occlusion.evaluate.predict_heatmaps`, HRNet decoding on the host;
* **engine**: each image decoded once and every crop warped on the device (:func:`occlusion.warp.build_crops_batched`),
  then one attack pass of :func:`occlusion.engine.predict` (:func:`~occlusion.attacks.occlude_batch` on whole batches,
  bf16 autocast + channels_last on CUDA, ``--compile``, flip in the same batch);
* **ceiling**: the model alone on a device-resident batch, flip included, same batch, dtype and compilation
  (the fastest of ``--iters`` synchronised calls, as are the stage timings and the training-step ceiling);
* **training**: :class:`~occlusion.data.TopDownDataset` (``train=True``) in a ``--workers`` ``DataLoader`` feeding the
  training step of :mod:`occlusion.train` (bf16 + channels_last on CUDA), against the same step on a fixed batch.

Images are synthetic 640 x 480 JPEGs with several people each (a COCO-like json is written beside them and read
with :func:`occlusion.data.load_coco_records`) unless ``--coco DIR`` points at a COCO root with
``annotations/person_keypoints_val2017.json`` and ``val2017/``. The full-grid projection is one model on COCO val
(6,352 persons) times every attack of ``attack_grid(AttackGridConfig())``: crops built once, then one engine pass
and one COCO scoring per attack (scoring time measured here and extrapolated linearly in persons).
``--write`` appends the tables, the machine and the command to ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import io
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch
from machine import machine
from pycocotools.coco import COCO
from torch.utils.data import DataLoader, Dataset, RandomSampler

from occlusion.attacks import AttackGridConfig, AttackSpec, attack_grid, occlude, occlude_batch
from occlusion.data import PersonRecord, TopDownDataset, load_coco_records, normalize
from occlusion.engine import EvalSet, predict, score
from occlusion.evaluate import get_final_preds, predict_heatmaps
from occlusion.keypoints import COCO as SKELETON
from occlusion.models import create_model, list_models, model_info
from occlusion.train import joints_mse_loss
from occlusion.warp import build_crops_batched

COCO_VAL_PERSONS = 6352
"""Ground-truth persons of COCO val2017 that HRNet evaluates (non-crowd, at least one labelled keypoint)."""
TARGETS = {"engine_vs_reference": 20.0, "engine_of_ceiling": 0.85, "train_of_ceiling": 0.70, "grid_minutes": 5.0}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


# --------------------------------------------------------------------------------------------- data


def write_synthetic_coco(root: Path, persons: int, rng: np.random.Generator) -> tuple[Path, Path]:
    """COCO-like JPEGs (640 x 480 or 480 x 640, 1-4 people each, about 2.7 on average like COCO val) and their json.

    The pixels are upsampled colour noise plus fine noise, so files have COCO-like sizes and decode times.
    Returns ``(annotation json, image folder)``.
    """
    image_dir = root / "val2017"
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    while len(annotations) < persons:
        image_id = len(images) + 1
        w, h = (640, 480) if rng.random() < 0.7 else (480, 640)
        coarse = rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)
        pixels = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
        pixels = np.clip(pixels + rng.normal(0, 6, pixels.shape), 0, 255).astype(np.uint8)
        name = f"{image_id:012d}.jpg"
        cv2.imwrite(str(image_dir / name), pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for _ in range(min(int(rng.integers(1, 5)), persons - len(annotations))):
            bw, bh = rng.uniform(40, 0.5 * w), rng.uniform(80, 0.8 * h)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            v = np.where(rng.random(17) < 0.75, 2, 0)
            kps = np.stack([rng.uniform(x, x + bw, 17) * (v > 0), rng.uniform(y, y + bh, 17) * (v > 0), v], 1)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                "bbox": [x, y, bw, bh], "area": 0.6 * bw * bh, "num_keypoints": int((v > 0).sum()),
                "keypoints": kps.round(2).ravel().tolist(),
            })  # fmt: skip
    ann_file = root / "person_keypoints_val2017.json"
    categories = [{"id": 1, "name": "person", "keypoints": list(SKELETON.names), "skeleton": []}]
    ann_file.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return ann_file, image_dir


class ReferenceStyle(Dataset):
    """The reference's per-crop test path with this project's code: decode, warp, attack, normalise per crop."""

    def __init__(self, records: list[PersonRecord], image_size: tuple[int, int], spec: AttackSpec, rgb: bool):
        self.crops = TopDownDataset(records, image_size=image_size, skeleton=SKELETON, rgb=rgb)
        self.spec = spec

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        crop, joints = self.crops.crop(index)  # cv2 decode + cv2.warpAffine of this one person
        if self.spec.target_kind != "none":
            crop = occlude(crop, joints, self.spec.target, self.spec.filler, radius=self.spec.radius or 6,
                           paper_bounds=self.spec.paper_bounds)
        record = self.crops.records[index]
        return {"image": normalize(crop), "center": torch.from_numpy(record.center),
                "scale": torch.from_numpy(record.scale)}


# --------------------------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device, warmup: int, iters: int) -> float:
    """Seconds of the fastest of ``iters`` calls (each synchronised) after ``warmup`` untimed calls: a ceiling."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(iters):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def reference_pass(model: torch.nn.Module, records: list[PersonRecord], spec: AttackSpec, info: Any,
                   args: argparse.Namespace, device: torch.device) -> float:
    """Crops/s of the reference-style pipeline, timed from its first batch (worker start-up excluded)."""
    dataset = ReferenceStyle(records, info.input_size, spec, rgb=info.color == "rgb")
    loader = DataLoader(dataset, batch_size=args.batch, num_workers=args.workers, pin_memory=device.type == "cuda")
    model.eval()
    counted, start = 0, 0.0
    for i, batch in enumerate(loader):
        heatmaps = predict_heatmaps(model, batch["image"].to(device, non_blocking=True), SKELETON.flip_pairs)
        get_final_preds(heatmaps.cpu().numpy(), batch["center"].numpy(), batch["scale"].numpy())
        if i == 0:
            start = time.perf_counter()
        else:
            counted += len(batch["image"])
    return counted / max(time.perf_counter() - start, 1e-9)


def _subset(eval_set: EvalSet, rows: slice) -> EvalSet:
    return EvalSet(eval_set.name, eval_set.dataset, eval_set.records[rows], eval_set.crops[rows],
                   eval_set.joints[rows], eval_set.coco_gt)


def engine_pass(net: torch.nn.Module, eval_set: EvalSet, spec: AttackSpec, info: Any, args: argparse.Namespace,
                device: torch.device, amp: torch.dtype | None) -> tuple[float, float]:
    """(crops/s of one attack pass of :func:`occlusion.engine.predict`, seconds of its COCO scoring)."""
    kw = dict(spec=spec, color=info.color, batch_size=args.batch, device=device, amp_dtype=amp)
    n = len(eval_set)
    warm = [slice(0, min(args.batch, n))] + ([slice(0, n % args.batch)] if n % args.batch else [])
    for rows in warm:  # compile / autotune for the full and the last batch shapes
        predict(net, _subset(eval_set, rows), SKELETON, **kw)
    _sync(device)
    start = time.perf_counter()
    preds, maxvals = predict(net, eval_set, SKELETON, **kw)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        score(eval_set, preds, maxvals, SKELETON)
    return n / seconds, time.perf_counter() - start


def engine_stages(eval_set: EvalSet, spec: AttackSpec, info: Any, args: argparse.Namespace,
                  device: torch.device) -> tuple[float, float]:
    """Milliseconds per full batch of the engine's two non-model stages: ``occlude_batch`` on the device and the
    host-side heatmap decoding (``get_final_preds`` of a ``(batch, K, h/4, w/4)`` array)."""
    b = args.batch
    crops, joints = eval_set.crops[:b].to(device), eval_set.joints[:b]
    occlude_s = _timed(lambda: occlude_batch(crops, joints, spec, SKELETON), device, args.warmup, args.iters)
    w, h = info.input_size
    heatmaps = np.random.default_rng(0).random((b, SKELETON.num_joints, h // info.stride, w // info.stride),
                                               dtype=np.float32)
    centers, scales = eval_set.centers[:b], eval_set.scales[:b]
    decode_s = _timed(lambda: get_final_preds(heatmaps, centers, scales), torch.device("cpu"), args.warmup, args.iters)
    return 1000 * occlude_s, 1000 * decode_s


def train_throughput(name: str, records: list[PersonRecord], args: argparse.Namespace, device: torch.device,
                     amp: bool) -> tuple[float, float]:
    """(samples/s of TopDownDataset + DataLoader + training step, samples/s of the step on a fixed batch)."""
    info = model_info(name)
    w, h = info.input_size
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    model = create_model(name, num_joints=SKELETON.num_joints, seed=0).to(device, memory_format=fmt).train()
    net = torch.compile(model) if args.compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(images: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = net(images.contiguous(memory_format=fmt))
        loss = joints_mse_loss(out, target, weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    b = args.train_batch
    x = torch.randn(b, 3, h, w, device=device)
    target = torch.rand(b, SKELETON.num_joints, h // info.stride, w // info.stride, device=device)
    weight = torch.ones(b, SKELETON.num_joints, 1, device=device)
    ceiling = b / _timed(lambda: step(x, target, weight), device, args.warmup, args.train_steps)

    dataset = TopDownDataset(records, image_size=(w, h), heatmap_size=(w // info.stride, h // info.stride),
                             sigma=info.sigma, train=True, skeleton=SKELETON, rgb=info.color == "rgb")
    sampler = RandomSampler(dataset, replacement=True, num_samples=b * (args.warmup + args.train_steps),
                            generator=torch.Generator().manual_seed(0))
    loader = DataLoader(dataset, batch_size=b, sampler=sampler, num_workers=args.workers,
                        pin_memory=device.type == "cuda", drop_last=True)
    start, counted = 0.0, 0
    for i, batch in enumerate(loader):
        step(*(batch[k].to(device, non_blocking=True) for k in ("image", "target", "target_weight")))
        if i + 1 == args.warmup:
            _sync(device)
            start = time.perf_counter()
        elif i >= args.warmup:
            counted += b
    _sync(device)
    return counted / max(time.perf_counter() - start, 1e-9), ceiling


def bench_model(name: str, records: list[PersonRecord], coco_gt: COCO, args: argparse.Namespace,
                device: torch.device) -> dict[str, float]:
    info = model_info(name)
    kind = SKELETON.target_kind(args.attack[0])
    spec = AttackSpec(args.attack[0], kind, args.attack[1], args.radius if kind == "keypoint" else None)
    cuda = device.type == "cuda"
    amp = torch.bfloat16 if cuda and not args.fp32 else None
    row: dict[str, float] = {}

    reference = create_model(name, num_joints=SKELETON.num_joints, seed=0).to(device)
    row["reference"] = reference_pass(reference, records, spec, info, args, device)
    del reference

    model = create_model(name, num_joints=SKELETON.num_joints, seed=0).to(device).eval()
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if args.compile else model
    _sync(device)
    start = time.perf_counter()
    crops, joints = build_crops_batched(records, info.input_size, device=device, batch_size=args.batch,
                                        decoder=args.decoder)
    _sync(device)
    row["build"] = len(records) / (time.perf_counter() - start)
    eval_set = EvalSet("gt", "coco", records, crops, joints, coco_gt)
    row["engine"], row["score_s"] = engine_pass(net, eval_set, spec, info, args, device, amp)

    row["occlude_ms"], row["decode_ms"] = engine_stages(eval_set, spec, info, args, device)

    w, h = info.input_size
    x = torch.randn(args.batch, 3, h, w, device=device).contiguous(memory_format=torch.channels_last)
    forward = _timed(functools.partial(predict_heatmaps, net, x, SKELETON.flip_pairs, autocast_dtype=amp), device,
                     args.warmup, args.iters)
    row["ceiling"] = args.batch / forward
    del model, net, crops, eval_set
    if cuda:
        torch.cuda.empty_cache()

    if args.train_steps:
        row["train"], row["train_ceiling"] = train_throughput(name, records, args, device, amp is not None)

    persons, grid = COCO_VAL_PERSONS, len(attack_grid(AttackGridConfig()))
    predict_s = persons / row["build"] + grid * persons / row["engine"]
    row["grid_predict_min"] = predict_s / 60
    row["grid_scored_min"] = (predict_s + grid * row["score_s"] * persons / len(records)) / 60
    return row


# --------------------------------------------------------------------------------------------- report


def tables(rows: dict[str, dict[str, float]], args: argparse.Namespace, persons: int) -> str:
    dtype = "fp32" if args.device == "cpu" or args.fp32 else "bf16 + channels_last"
    dtype += " + compile" if args.compile else ""
    grid = len(attack_grid(AttackGridConfig()))
    lines = [
        f"Attack `{' '.join(args.attack)}` (radius {args.radius}) on {persons} persons, batch {args.batch}, "
        f"{args.workers} DataLoader workers, device {args.device}; engine and ceiling {dtype}, reference fp32; "
        "flip test everywhere. Crops/s count attacked person crops (a flip pass is two forward samples).",
        "",
        "| model | reference-style crops/s | engine crops/s | engine / reference | engine build crops/s "
        "| model-only ceiling crops/s | engine / ceiling | occlude_batch ms/batch | heatmap decoding ms/batch "
        "| COCO scoring s/pass |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['reference']:,.0f} | {r['engine']:,.0f} | {r['engine'] / r['reference']:.1f}x "
            f"| {r['build']:,.0f} | {r['ceiling']:,.0f} | {r['engine'] / r['ceiling']:.0%} | {r['occlude_ms']:.1f} "
            f"| {r['decode_ms']:.1f} | {r['score_s']:.2f} |"
        )
    lines += [
        "",
        f"| model | training samples/s (batch {args.train_batch}) | fwd + bwd ceiling samples/s | training / ceiling "
        f"| projected grid, predict only (min) | projected grid, + COCO scoring (min) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        train = (f"{r['train']:,.0f} | {r['train_ceiling']:,.0f} | {r['train'] / r['train_ceiling']:.0%}"
                 if "train" in r else "- | - | -")
        lines.append(f"| {name} | {train} | {r['grid_predict_min']:.1f} | {r['grid_scored_min']:.1f} |")
    lines += [
        "",
        f"Projected grid: {COCO_VAL_PERSONS:,} COCO val persons x {grid} attacks (`attack_grid(AttackGridConfig())`), "
        "crops built once; scoring extrapolated linearly from this run's persons.",
    ]
    return "\n".join(lines)


def verdicts(rows: dict[str, dict[str, float]]) -> str:
    out = []
    for name, r in rows.items():
        checks = [
            ("engine >= 20x reference", r["engine"] / r["reference"] >= TARGETS["engine_vs_reference"]),
            ("engine >= 85% of ceiling", r["engine"] / r["ceiling"] >= TARGETS["engine_of_ceiling"]),
            ("grid (predict) < 5 min", r["grid_predict_min"] < TARGETS["grid_minutes"]),
        ]
        if "train" in r:
            ok = r["train"] / r["train_ceiling"] >= TARGETS["train_of_ceiling"]
            checks.append(("training >= 70% of ceiling", ok))
        out.append(f"{name}: " + ", ".join(f"{what} {'met' if ok else 'NOT met'}" for what, ok in checks))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list_models(),
                        help="default hrnet_w32 simplebaseline_r50 (--quick: hrnet_w18_small simplebaseline_r18_small)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--crops", type=int, help="persons to evaluate (default 4096, --quick 64)")
    parser.add_argument("--batch", type=int, help="evaluation batch (default 256, --quick 16)")
    parser.add_argument("--workers", type=int, help="DataLoader workers (default 8, --quick 2)")
    parser.add_argument("--train-batch", type=int, help="training batch (default 128, --quick 8)")
    parser.add_argument("--train-steps", type=int, help="timed training steps, 0 to skip (default 20, --quick 3)")
    parser.add_argument("--iters", type=int, help="timed ceiling iterations (default 10, --quick 3)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations before each timing")
    parser.add_argument("--quick", action="store_true", help="CPU-sized defaults and the tiny models")
    parser.add_argument("--compile", action="store_true", help="torch.compile the engine, ceiling and training models")
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast for the engine on CUDA")
    parser.add_argument("--decoder", choices=("auto", "opencv", "torchvision"), default="auto",
                        help="engine JPEG decoder (auto: nvJPEG on CUDA, OpenCV on the CPU)")
    parser.add_argument("--attack", nargs=2, default=("nose", "blur"), metavar=("TARGET", "FILLER"))
    parser.add_argument("--radius", type=int, default=6, help="disc radius of a keypoint attack (input px)")
    parser.add_argument("--coco", type=Path, help="COCO root with annotations/ and val2017/ instead of synthetic data")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--write", action="store_true", help=f"append the results to {RESULTS}")
    parser.add_argument("--note", default="", help="a caveat written with the results")
    parser.add_argument("--date", default=datetime.date.today().isoformat())
    args = parser.parse_args(argv)
    quick = {"models": ["hrnet_w18_small", "simplebaseline_r18_small"], "crops": 64, "batch": 16, "workers": 2,
             "train_batch": 8, "train_steps": 3, "iters": 3}
    full = {"models": ["hrnet_w32", "simplebaseline_r50"], "crops": 4096, "batch": 256, "workers": 8,
            "train_batch": 128, "train_steps": 20, "iters": 10}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.crops < 2 * args.batch or args.warmup < 1:
        parser.error(f"--crops {args.crops} --warmup {args.warmup}: need at least two batches and one warm-up step")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.backends.cudnn.benchmark = True
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory(prefix="attack_engine_") as tmp:
        if args.coco:
            ann_file = args.coco / "annotations" / "person_keypoints_val2017.json"
            records = load_coco_records(ann_file, args.coco / "val2017")[: args.crops]
        else:
            ann_file, image_dir = write_synthetic_coco(Path(tmp), args.crops, np.random.default_rng(0))
            records = load_coco_records(ann_file, image_dir)
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO(str(ann_file))
        print(f"{len(records)} persons on {len({r.image for r in records})} images; {machine()}", flush=True)
        rows = {}
        for name in args.models:
            rows[name] = bench_model(name, records, coco_gt, args, device)
            print(f"{name}: " + ", ".join(f"{k} {v:,.2f}" for k, v in rows[name].items()), flush=True)

    report = tables(rows, args, len(records))
    print()
    print(report)
    print()
    print(verdicts(rows))
    if args.write:
        command = "python benchmarks/attack_engine.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        head = "" if RESULTS.is_file() else "# Benchmark results\n"
        note = f"\n{args.note}\n" if args.note else ""
        with RESULTS.open("a") as f:
            f.write(f"{head}\n## attack_engine, {args.date}\n\nMachine: {machine()}.\n{note}\n`{command}`\n\n"
                    f"{report}\n\n{verdicts(rows)}\n")


if __name__ == "__main__":
    main()
