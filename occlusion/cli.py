"""``occlusion`` command line: switch the pipeline's profile, list what is registered.

    occlusion profile paper        # params.yaml <- profiles/paper.yaml (COCO/MPII, paper models, GPU)
    occlusion profile embedded     # back to the generated dataset and tiny CPU models
    occlusion list models|attacks|augs
"""
from __future__ import annotations

import argparse
import shutil
import sys

from .params import load_params, repo_root

__all__ = ["main", "set_profile"]


def set_profile(name: str) -> str:
    """Copy ``profiles/<name>.yaml`` over ``params.yaml`` after validating it; returns the new profile name."""
    root = repo_root()
    src = root / "profiles" / f"{name}.yaml"
    if not src.is_file():
        known = ", ".join(sorted(p.stem for p in (root / "profiles").glob("*.yaml")))
        raise SystemExit(f"unknown profile {name!r}; known: {known}")
    load_params(src)  # validate before touching params.yaml
    shutil.copyfile(src, root / "params.yaml")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="occlusion", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("profile", help="switch params.yaml to profiles/NAME.yaml")
    p.add_argument("name")
    lst = sub.add_parser("list", help="list registered models, attack targets or augmentation presets")
    lst.add_argument("what", choices=["models", "attacks", "augs"])
    args = parser.parse_args(argv)
    if args.command == "profile":
        print(f"params.yaml now holds the {set_profile(args.name)!r} profile; run `dvc repro`")
    elif args.what == "models":
        from .models import list_models

        print("\n".join(list_models()))
    elif args.what == "attacks":
        from .attacks import attack_grid

        print("\n".join(spec.name for spec in attack_grid(load_params().attack)))
    else:
        print("\n".join(load_params().augs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
