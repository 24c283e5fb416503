"""``occlusion`` (or ``python -m occlusion``): the command line for what users do outside ``dvc repro``.

    occlusion profile paper        # params.yaml <- profiles/paper.yaml (COCO/MPII, paper models, GPU); dvc.yaml follows
    occlusion profile embedded     # back to the generated dataset and tiny CPU models
    occlusion download coco data   # COCO 2017 into data/coco (resumable, checksummed); `mpii` likewise
    occlusion download checkpoints # the published checkpoints the runs import, into data/checkpoints, sha256-checked
    occlusion train RUN            # a stage outside DVC: train, evaluate or attack one run of params.yaml
    torchrun --standalone --nproc_per_node=8 -m occlusion attack RUN   # the attack grid sharded over 8 GPUs
    occlusion report               # reports/index.md from what has been made
    occlusion stages [--check]     # dvc.yaml from params.yaml, after a structural edit
    occlusion list models|attacks|augs
    occlusion audit model.yaml --annotations ann.json --images val2017 --out audit/   # any model's scorecard
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .logs import show_status
from .params import load_params, repo_root

__all__ = ["main", "set_profile"]


def set_profile(name: str, *, force: bool = False) -> str:
    """Copy ``profiles/<name>.yaml`` over ``params.yaml`` after validating it, and regenerate ``dvc.yaml``; returns
    the new profile name. A ``params.yaml`` with edits that no profile holds is kept unless ``force`` (then it
    is saved as ``params.yaml.bak``)."""
    from .dvcfile import write

    root = repo_root()
    src = root / "profiles" / f"{name}.yaml"
    if not src.is_file():
        known = ", ".join(sorted(p.stem for p in (root / "profiles").glob("*.yaml")))
        raise SystemExit(f"unknown profile {name!r}; known: {known}")
    load_params(src)  # validate before touching params.yaml
    current = root / "params.yaml"
    if current.is_file():
        text = current.read_text()
        if not any(text == p.read_text() for p in (root / "profiles").glob("*.yaml")):
            if not force:
                raise SystemExit(f"{current} has edits that no profile in profiles/ holds; save them as "
                                 f"profiles/<name>.yaml, or run `occlusion profile {name} --force` (the current "
                                 "file is then kept as params.yaml.bak)")
            shutil.copyfile(current, root / "params.yaml.bak")
    shutil.copyfile(src, current)
    write(root)
    return name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="occlusion", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("profile", help="switch params.yaml to profiles/NAME.yaml and regenerate dvc.yaml")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="replace a params.yaml with edits (kept as params.yaml.bak)")
    lst = sub.add_parser("list", help="list registered models, attack targets, augmentation presets or "
                                           "estimator kinds")
    lst.add_argument("what", choices=["models", "attacks", "augs", "estimators"])
    d = sub.add_parser("download", help="fetch COCO 2017 or MPII (with HRNet's annotation files), resumable, or the "
                                        "published checkpoints params.yaml's runs import (verified by sha256)")
    d.add_argument("dataset", choices=["coco", "mpii", "checkpoints", "ochuman", "crowdpose"])
    d.add_argument("root", type=Path, nargs="?", default=Path("data"),
                   help="files go to ROOT/<dataset> (data; checkpoints: data/checkpoints)")
    d.add_argument("--no-train", action="store_true", help="COCO: skip the 18 GB train2017 images")
    d.add_argument("--keep-archives", action="store_true", help="keep the zip/tar files in ROOT/downloads")
    d.add_argument("--quiet", action="store_true", help="no progress output")
    for name, what in (("train", "train (or import) a run of runs: in params.yaml, every seed, resuming"),
                       ("evaluate", "clean accuracy of a run on every box source (torchrun shards the crops)"),
                       ("attack", "the attack grid of a run of attack_runs: (torchrun shards it)")):
        sub.add_parser(name, help=what).add_argument("run_id", metavar="RUN")
    sub.add_parser("report", help="write reports/index.md and reports/metrics.json from what has been made")
    stages = sub.add_parser("stages", help="regenerate dvc.yaml from params.yaml (after a structural edit)")
    stages.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml is out of date; write nothing")
    _audit_parser(sub)
    return parser


def _audit_parser(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("audit", help="the occlusion scorecard of any pose model on a COCO-format dataset")
    a.add_argument("model", help="a model spec YAML file, or an estimator kind (blazepose; others take --set)")
    a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model spec field (YAML value)")
    a.add_argument("--annotations", type=Path, required=True, help="COCO person-keypoint annotation json")
    a.add_argument("--images", type=Path, required=True, help="the images' folder")
    a.add_argument("--out", type=Path, required=True, help="output folder")
    a.add_argument("--detections", type=Path, help="a COCO detection results file: clean AP on its boxes too")
    a.add_argument("--grid", type=Path, help="YAML mapping of attack-grid fields (params.yaml's attack: keys)")
    for flag, what in (("keypoints", "keypoint targets"), ("parts", "part targets"), ("fillers", "fillers"),
                       ("radius-sweep", "radii of the sweep (empty: none)"), ("sweep-keypoints", "swept keypoints")):
        a.add_argument(f"--{flag}", type=_csv, help=f"comma-separated {what}")
    a.add_argument("--radius", type=int, help="disc radius of the keypoint attacks (input px, default 6)")
    a.add_argument("--bootstrap", type=int, help="image-bootstrap resamples (default 200)")
    a.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=None,
                   help="flip test (default: where the model supports it)")
    a.add_argument("--batch-size", type=int, default=64)
    a.add_argument("--device", default="cpu", help="cpu or cuda")
    a.add_argument("--max-persons", type=int, help="audit the first N persons only")
    a.add_argument("--name", help="the scorecard's title (default: the model's name)")
    a.add_argument("--quiet", action="store_true", help="no progress bars")


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _audit(args: argparse.Namespace) -> None:
    from .audit import grid_config, load_model, run_audit

    radii = [int(r) for r in args.radius_sweep] if args.radius_sweep is not None else None
    grid = grid_config(args.grid, keypoints=args.keypoints, parts=args.parts, fillers=args.fillers,
                       radius=args.radius, radius_sweep=radii, sweep_keypoints=args.sweep_keypoints,
                       bootstrap_resamples=args.bootstrap)
    estimator = load_model(args.model, args.set, device=args.device)
    try:
        summary = run_audit(estimator, args.annotations, args.images, args.out, grid=grid,
                            detections=args.detections, name=args.name, flip_test=args.flip_test,
                            batch_size=args.batch_size, device=args.device, max_persons=args.max_persons,
                            progress=not args.quiet)
    finally:
        estimator.close()
    print(f"{args.out}/scorecard.md: clean AP {summary['clean_AP']}, {summary['attacks']} attacks, "
          f"{summary['seconds']} s")


def _download_checkpoints(folder: Path, *, progress: bool) -> int:
    """Fetch (or verify) every published checkpoint that a run of ``params.yaml`` imports; 1 if one is missing."""
    from .models.checkpoint import CHECKPOINTS, download_checkpoint

    names = sorted({Path(r.checkpoint).name for r in load_params().runs.values() if r.checkpoint})
    failed = []
    for name in names:
        if name not in CHECKPOINTS:
            failed.append(f"{name}: not a published checkpoint this package knows (occlusion.models.CHECKPOINTS)")
            continue
        try:
            print(download_checkpoint(name, folder, progress=progress))
        except (FileNotFoundError, ValueError, RuntimeError) as exc:  # no URL; a hash that does not match
            failed.append(str(exc))
    for message in failed:
        print(message, file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``occlusion COMMAND ...``: what users do outside ``dvc repro`` (``occlusion --help`` lists the commands).
    The stage commands run with the stage's own code, outside DVC: nothing is recorded in ``dvc.lock``."""
    args = _parser().parse_args(argv)
    show_status()
    if args.command == "profile":
        print(f"params.yaml now holds the {set_profile(args.name, force=args.force)!r} profile and dvc.yaml follows "
              "it; run `dvc repro`")
    elif args.command == "list":
        print("\n".join(_registered(args.what)))
    elif args.command == "download" and args.dataset == "checkpoints":
        return _download_checkpoints(args.root / "checkpoints", progress=not args.quiet)
    elif args.command == "download" and args.dataset in ("ochuman", "crowdpose"):
        from .download import fetch_manual

        print(fetch_manual(args.dataset, args.root, progress=not args.quiet))
    elif args.command == "download":
        from .download import fetch_coco, fetch_mpii

        progress = not args.quiet
        print(fetch_coco(args.root, include_train=not args.no_train, keep_archives=args.keep_archives,
                         progress=progress) if args.dataset == "coco" else
              fetch_mpii(args.root, keep_archives=args.keep_archives, progress=progress))
    elif args.command in ("train", "evaluate", "attack"):
        _run_stage(args.command, args.run_id)
    elif args.command == "audit":
        _audit(args)
    elif args.command == "report":
        from .reports.report import write_report

        print(write_report())
    else:
        from . import dvcfile

        return dvcfile.main(["--check"] if args.check else [])
    return 0


def _registered(what: str) -> list[str]:
    if what == "models":
        from .models import list_models

        return list(list_models())
    if what == "estimators":  # the kinds `occlusion audit` takes
        from .estimators import list_estimators

        return list_estimators()
    if what == "attacks":
        from .attacks import attack_grid

        return [spec.name for spec in attack_grid(load_params().attack)]
    return list(load_params().augs)


def _run_stage(command: str, run_id: str) -> None:
    from . import pipeline
    from .runtime import close_distributed

    try:
        {"train": pipeline.train_stage, "evaluate": pipeline.evaluate_stage, "attack": pipeline.attack_stage}[
            command](run_id)
    finally:
        close_distributed()


if __name__ == "__main__":
    sys.exit(main())
