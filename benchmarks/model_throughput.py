"""Forward and training-step throughput of the registered pose models on synthetic tensors.

    python benchmarks/model_throughput.py --models hrnet_w32 simplebaseline_r50 --device cuda --batch 128 \
        --dtype bf16 --channels-last --compile

Forward: eval mode, inference mode, crops/s. Training step: forward + JointsMSELoss-style masked MSE + backward +
Adam, samples/s. Inputs are each model's default size (``model_info(name).input_size``) unless ``--size`` is given.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import torch

from occlusion.models import create_model, list_models, model_info


def _timed(step: Callable[[], object], device: torch.device, warmup: int, iters: int) -> float:
    """Seconds per call of ``step`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / iters


def benchmark(name: str, args: argparse.Namespace) -> tuple[float, float]:
    """(forward crops/s, training samples/s) of model ``name``."""
    device = torch.device(args.device)
    width, height = args.size or model_info(name).input_size
    stride = model_info(name).stride
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")

    model = create_model(name, num_joints=args.joints, seed=0).to(device, memory_format=fmt)
    net = torch.compile(model) if args.compile else model
    x = torch.randn(args.batch, 3, height, width, device=device).to(memory_format=fmt)
    target = torch.rand(args.batch, args.joints, height // stride, width // stride, device=device)
    weight = torch.ones(args.batch, args.joints, 1, 1, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=device.type == "cuda")

    def forward() -> None:
        with torch.inference_mode(), autocast:
            net(x)

    def train_step() -> None:
        with autocast:
            out = net(x)
        loss = 0.5 * ((out.float() - target) * weight).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.eval()
    fwd = args.batch / _timed(forward, device, args.warmup, args.iters)
    model.train()
    train = args.batch / _timed(train_step, device, args.warmup, args.iters)
    return fwd, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["hrnet_w32", "simplebaseline_r50"], choices=list_models())
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"), help="default: the model's own")
    parser.add_argument("--joints", type=int, default=17)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device={args.device} batch={args.batch} dtype={args.dtype} channels_last={args.channels_last} "
          f"compile={args.compile}")
    print(f"{'model':<26}{'input (w x h)':>15}{'params':>10}{'forward crops/s':>18}{'train samples/s':>18}")
    for name in args.models:
        width, height = args.size or model_info(name).input_size
        params = sum(p.numel() for p in create_model(name, num_joints=args.joints).parameters()) / 1e6
        fwd, train = benchmark(name, args)
        print(f"{name:<26}{f'{width} x {height}':>15}{f'{params:.1f}M':>10}{fwd:>18.1f}{train:>18.1f}", flush=True)


if __name__ == "__main__":
    main()
