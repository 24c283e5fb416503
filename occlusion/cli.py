"""``occlusion`` command line: switch the pipeline's profile, list what is registered.

    occlusion profile paper        # params.yaml <- profiles/paper.yaml (COCO/MPII, paper models, GPU); dvc.yaml follows
    occlusion profile embedded     # back to the generated dataset and tiny CPU models
    occlusion list models|attacks|augs
"""
from __future__ import annotations

import argparse
import shutil
import sys

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="occlusion", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("profile", help="switch params.yaml to profiles/NAME.yaml and regenerate dvc.yaml")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="replace a params.yaml with edits (kept as params.yaml.bak)")
    lst = sub.add_parser("list", help="list registered models, attack targets or augmentation presets")
    lst.add_argument("what", choices=["models", "attacks", "augs"])
    args = parser.parse_args(argv)
    if args.command == "profile":
        print(f"params.yaml now holds the {set_profile(args.name, force=args.force)!r} profile and dvc.yaml follows "
              "it; run `dvc repro`")
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
