"""Forward crops/s of ViTPose-B against HRNet-W32 (issue #21): does the transformer fit the attack grid's budget?

    python benchmarks/vitpose.py                                  # CPU, fp32, batch 8, each model's 256x192 input
    python benchmarks/vitpose.py --device cuda --batch 256 --dtype bf16 --channels-last --compile --write

Eval mode, inference mode, random crops at each model's default input; the parameter count is the model's own
(17 joints). ``--write`` appends the table, the machine, the date and the command to ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path

import torch
from machine import machine

from occlusion.models import create_model, list_models, model_info

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def forward_crops_per_s(name: str, args: argparse.Namespace) -> float:
    """Crops per second of ``name``'s forward pass (after ``args.warmup`` untimed batches)."""
    device = torch.device(args.device)
    width, height = model_info(name).input_size
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = create_model(name, seed=0).eval().to(device, memory_format=fmt)
    net = torch.compile(model) if args.compile else model
    x = torch.randn(args.batch, 3, height, width, device=device).contiguous(memory_format=fmt)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")

    def forward() -> None:
        with torch.inference_mode(), autocast:
            net(x)

    for _ in range(args.warmup):
        forward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(args.iters):
        forward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return args.batch * args.iters / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["vitpose_b", "hrnet_w32"], choices=list_models())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--write", action="store_true", help=f"append the results to {RESULTS}")
    parser.add_argument("--note", default="", help="a caveat written with the results")
    parser.add_argument("--date", default=datetime.date.today().isoformat())
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    setup = (f"device {args.device}, batch {args.batch}, {args.dtype}, channels_last {args.channels_last}, "
             f"compile {args.compile}, {args.iters} timed batches after {args.warmup}, "
             f"{torch.get_num_threads()} torch threads")
    lines = ["| model | input (w x h) | parameters | forward crops/s |", "|---|---|---|---|"]
    for name in args.models:
        width, height = model_info(name).input_size
        with torch.device("meta"):
            params = sum(p.numel() for p in create_model(name).parameters())
        rate = forward_crops_per_s(name, args)
        lines.append(f"| {name} | {width} x {height} | {params / 1e6:.1f}M | {rate:,.1f} |")
        print(lines[-1], flush=True)
    report = f"{setup}.\n\n" + "\n".join(lines)
    print(report)
    if args.write:
        command = "python benchmarks/vitpose.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        note = f"\n{args.note}\n" if args.note else ""
        with RESULTS.open("a") as f:
            f.write(f"\n## vitpose, {args.date}\n\nMachine: {machine()}.\n{note}\n`{command}`\n\n{report}\n")


if __name__ == "__main__":
    main()
