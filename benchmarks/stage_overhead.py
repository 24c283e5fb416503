"""Time the fixed cost of one pipeline stage on this machine: imports, interpreter shutdown, and the CPU blur filler.

The embedded `dvc repro` runs about 56 papermill kernels, so a second per kernel is about a minute of the run.
Each import is timed in a fresh interpreter (median of ``--repeats``); "exit" is the time from the end of the
script to the end of the process, with and without ``gc.freeze`` at exit (what ``import occlusion`` registers).
The blur row compares the two blur fillers of ``occlude_batch`` on one embedded attack batch (50 crops of
128 x 96, part kernel 31): OpenCV (used on CPU) and the float64 separable convolution (used on other devices).
Not run by the tests::

    python benchmarks/stage_overhead.py [--repeats 5] [--write --note "..."]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

IMPORTS = {
    "torch": "import torch",
    "timm (with torch)": "import timm",
    "occlusion.params (figure and table stages load it)": "import occlusion.params",
    "occlusion.figures (a figure stage)": "import occlusion.figures",
    "occlusion.pipeline + a model (train, evaluate, attack stages)":
        "import occlusion.pipeline, occlusion.models as m; m.create_model('hrnet_w18_small')",
}


def _run(code: str) -> tuple[float, float]:
    """(seconds inside ``code``, seconds from its end to the process's end) in a fresh interpreter."""
    script = f"import time; t0 = time.time()\n{code}\nprint(t0, time.time(), flush=True)"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    end = time.time()
    t0, t1 = map(float, proc.stdout.split()[-2:])
    return t1 - t0, end - t1


def time_imports(repeats: int) -> list[tuple[str, float, float, float]]:
    """Per import: median seconds to import, to exit with ``gc.freeze`` at exit, and to exit without it."""
    rows = []
    for name, code in IMPORTS.items():
        runs = [_run(code + "\nimport atexit, gc; atexit.register(gc.freeze)") for _ in range(repeats)]
        bare = [_run(code + "\nimport atexit, gc; atexit.unregister(gc.freeze)")[1] for _ in range(repeats)]
        rows.append((name, statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
                     statistics.median(bare)))
    return rows


def time_blur(repeats: int) -> tuple[float, float]:
    """Milliseconds per batch of 50 crops (128 x 96, kernel 31): OpenCV per crop, and the float64 convolution."""
    import cv2
    import torch

    from occlusion.attacks import _gaussian_blur

    torch.set_num_threads(1)
    crops = np.random.default_rng(0).integers(0, 256, (50, 128, 96, 3), dtype=np.uint8)
    tensor = torch.from_numpy(crops)

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1000 * min(times)

    opencv = best(lambda: [cv2.GaussianBlur(c, (31, 31), 0) for c in crops])
    conv = best(lambda: _gaussian_blur(tensor, 31))
    return opencv, conv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="append the tables to benchmarks/RESULTS.md")
    parser.add_argument("--note", default="", help="a line about the machine's state, written above the tables")
    args = parser.parse_args()
    lines = ["| import | import s | exit s (gc.freeze at exit) | exit s (without) |", "|---|---|---|---|"]
    lines += [f"| {n} | {a:.2f} | {b:.2f} | {c:.2f} |" for n, a, b, c in time_imports(args.repeats)]
    opencv, conv = time_blur(args.repeats)
    lines += ["", "| blur filler, 50 crops 128 x 96, kernel 31, 1 thread | ms per batch |", "|---|---|",
              f"| OpenCV `GaussianBlur` per crop (CPU) | {opencv:.1f} |", f"| float64 separable conv2d | {conv:.1f} |"]
    table = "\n".join(lines)
    print(table)
    if args.write:
        cores = len(os.sched_getaffinity(0))
        machine = platform.processor() or platform.machine()
        head = (f"\n## stage_overhead, {dt.date.today().isoformat()}\n\nMachine: {machine}, {cores} cores; "
                f"Python {platform.python_version()}. Medians of {args.repeats} fresh interpreters.\n\n")
        head += (args.note + "\n\n" if args.note else "")
        with open(Path(__file__).with_name("RESULTS.md"), "a") as fh:
            fh.write(head + f"`python benchmarks/stage_overhead.py --repeats {args.repeats}`\n\n" + table + "\n")


if __name__ == "__main__":
    main()
