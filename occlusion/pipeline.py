"""The DVC stages: each notebook in ``notebooks/`` calls one function here.

Every stage declares the ``params.yaml`` keys it reads (``STAGE_KEYS``) and gets a view of the params that
holds only those keys: reading anything else raises, and ``tests/test_pipeline.py`` checks that the keys
match the stage's ``params:`` in ``dvc.yaml``, so DVC re-runs a stage exactly when what it reads changes.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .config import ConfigError
from .io import file_fingerprint, provenance, write_csv, write_json
from .params import Params, load_params, params_hash, repo_root

__all__ = ["STAGE_KEYS", "stage_params", "data_stage", "train_stage", "evaluate_stage", "attack_stage"]


def _train_keys(run_id: str) -> list[str]:
    run = load_params().run(run_id)
    return ["device", "data", "train", "eval", f"models.{run.model}", f"augs.{run.preset}", f"runs.{run_id}"]


def _pretrain_keys(name: str) -> list[str]:
    pre = load_params().pretrain[name]
    return ["device", "data", "train", "eval", f"models.{pre.model}", f"augs.{pre.preset}", f"pretrain.{name}"]


def _evaluate_keys(run_id: str) -> list[str]:
    return ["device", "data", "eval", f"models.{load_params().run(run_id).model}", f"runs.{run_id}"]


def _attack_keys(run_id: str) -> list[str]:
    return [*_evaluate_keys(run_id), "attack", f"attack_runs.{run_id}"]


STAGE_KEYS: dict[str, Callable[..., list[str]]] = {
    "data": lambda: ["data"],
    "pretrain": _pretrain_keys,
    "train": _train_keys,
    "evaluate": _evaluate_keys,
    "attack": _attack_keys,
}
"""For each stage, the params keys it reads (a function of the stage's matrix item)."""


class _Undeclared:
    """Stands in for a params section the stage did not declare: any use raises."""

    def __init__(self, key: str):
        self._key = key

    def __getattr__(self, name: str) -> Any:
        raise ConfigError(f"this stage reads params key {self._key!r} but does not declare it in dvc.yaml")

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __iter__(self):
        return self.__getattr__("__iter__")


def stage_params(keys: list[str], params: Params | None = None) -> Params:
    """A view of ``params`` with only ``keys`` (``"train"`` or ``"models.hrnet"``); other sections raise on use."""
    params = params or load_params()
    view = object.__new__(Params)
    for f in dataclasses.fields(Params):
        wanted = [k.split(".", 1)[1] for k in keys if k.startswith(f.name + ".")]
        value = getattr(params, f.name)
        if f.name in keys or f.name == "profile":
            pass
        elif wanted and isinstance(value, Mapping):
            value = {k: value[k] for k in wanted if k in value}
        else:
            value = _Undeclared(f.name)
        object.__setattr__(view, f.name, value)
    return view


def _out(*parts: str) -> Path:
    return repo_root().joinpath(*parts)


def data_stage() -> dict[str, Any]:
    """Generate the embedded dataset (``data.source: synthetic``) or check that the configured files exist."""
    params = stage_params(STAGE_KEYS["data"]())
    data = params.data
    if data.source == "synthetic":
        from .synthetic import generate_dataset

        return generate_dataset(_out(data.root), data.synthetic)
    missing = []
    for name in ("coco", "mpii"):
        paths = getattr(data, name)
        if paths is None:
            continue
        for field in ("train_annotations", "train_images", "val_annotations", "val_images"):
            p = _out(getattr(paths, field))
            if not p.exists():
                missing.append(f"data.{name}.{field}: {p}")
        missing += [f"data.{name}.detections.{k}: {v}" for k, v in paths.detections.items() if not _out(v).exists()]
    if missing:
        raise FileNotFoundError("configured data files are missing (see `python -m occlusion.download`):\n  "
                                + "\n  ".join(missing))
    # data.root (the stage's output, which later stages depend on) records what the configured files were
    manifest = {"source": "files"}
    for name in ("coco", "mpii"):
        paths = getattr(data, name)
        if paths is not None:
            files = [paths.train_annotations, paths.val_annotations, *paths.detections.values()]
            manifest[name] = {f: file_fingerprint(_out(f)) for f in files}
    write_json(_out(data.root, "manifest.json"), manifest)
    return manifest


def pretrain_stage(name: str, *, progress: bool = True) -> dict[str, Any]:
    """The backbone every run starts from -> ``runs/pretrain_<name>/model.pt``.

    ``source: imagenet`` (the paper) saves timm's ImageNet weights; ``source: train`` (the embedded default,
    which has no ImageNet) trains the model on the configured dataset with ``preset``, as a run of its own.
    """
    import torch

    from .io import torch_save
    from .keypoints import get_skeleton
    from .models import create_model
    from .params import RunConfig
    from .train import train

    params = stage_params(STAGE_KEYS["pretrain"](name))
    pre = params.pretrain[name]
    out = _out("runs", f"pretrain_{name}")
    if pre.source == "imagenet":
        recipe = params.models[pre.model]
        model = create_model(recipe.arch, num_joints=get_skeleton(pre.dataset).num_joints, pretrained=True)
        torch_save({"model": model.state_dict(), "meta": {"pretrain": name, "source": "imagenet"}}, out / "model.pt")
        summary = {"pretrain": name, "source": "imagenet", "arch": recipe.arch, "torch": torch.__version__}
        write_json(out / "train.json", summary)
        write_csv(out / "train_log.csv", pd.DataFrame([{"epoch": 0}]))
        return summary
    run_id = f"pretrain_{name}"
    run = RunConfig(dataset=pre.dataset, model=pre.model, preset=pre.preset, seed=pre.seed, train=pre.train)
    object.__setattr__(params, "runs", {run_id: run})
    return train(params, run_id, out, progress=progress)


def train_stage(run_id: str, *, progress: bool = True) -> dict[str, Any]:
    """Train (or import) run ``run_id`` into ``runs/<run_id>``, resuming from its checkpoint."""
    from .train import train

    params = stage_params(STAGE_KEYS["train"](run_id))
    return train(params, run_id, _out("runs", run_id), progress=progress)


def _load_model(params: Params, run_id: str):
    import torch

    from .keypoints import get_skeleton
    from .models import create_model
    from .train import resolve_device

    run = params.run(run_id)
    recipe = params.models[run.model]
    skeleton = get_skeleton(run.dataset)
    path = _out("runs", run_id, "model.pt")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trained model for run {run_id!r} (run its train stage first)")
    device = resolve_device(params.device)
    model = create_model(recipe.arch, num_joints=skeleton.num_joints)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
    return model.to(device).eval(), recipe, skeleton, device


def _gpu(device):
    """The device for the batched crop path: decode and warp on the GPU; on the CPU use the OpenCV crop cache."""
    return device if device.type == "cuda" else None


def _predict_kwargs(params: Params, recipe, device) -> dict[str, Any]:
    import torch

    e = params.eval
    amp = torch.bfloat16 if device.type == "cuda" else None
    return dict(color=recipe.color, flip_test=e.flip_test, shift_heatmap=e.shift_heatmap, post_process=e.post_process,
                batch_size=e.batch_size, device=device, amp_dtype=amp)


def evaluate_stage(run_id: str) -> pd.DataFrame:
    """Clean accuracy of a trained run on ground-truth boxes and every detection file -> ``results/eval/<run>.csv``.

    COCO predictions are kept as COCO results files (``results/predictions/<run>/<boxes>.json``) for the
    bootstrap; MPII keeps per-person predictions (``.npz``).
    """
    from . import engine
    from .evaluate import to_coco_results
    from .splits import dataset_paths, load_detections, load_split

    params = stage_params(STAGE_KEYS["evaluate"](run_id))
    run = params.run(run_id)
    model, recipe, skeleton, device = _load_model(params, run_id)
    kw = _predict_kwargs(params, recipe, device)
    splits = [("gt", load_split(params, run.dataset, "val"))]
    if run.dataset == "coco":
        splits += [(name, load_detections(params, name)) for name in dataset_paths(params, "coco").detections]
    rows = []
    pred_dir = _out("results", "predictions", run_id)
    for boxes, split in splits:
        cache = _out("runs", ".cache", f"{run.dataset}_{boxes}_{recipe.input_size[0]}x{recipe.input_size[1]}.npz")
        eval_set = engine.build_eval_set(split.records, recipe.input_size, name=boxes, dataset=run.dataset,
                                         coco_gt=split.coco_gt, cache_file=cache, device=_gpu(device))
        preds, maxvals = engine.predict(model, eval_set, skeleton, progress=True, **kw)
        metrics = engine.score(eval_set, preds, maxvals, skeleton, in_vis_thre=params.eval.in_vis_thre,
                               oks_thre=params.eval.oks_thre)["all"]
        if run.dataset == "coco":
            results = to_coco_results(
                preds, maxvals, eval_set.centers, eval_set.scales,
                np.array([r.score for r in eval_set.records], dtype=np.float32),
                np.array([r.image_id for r in eval_set.records]),
                in_vis_thre=params.eval.in_vis_thre, oks_thre=params.eval.oks_thre, sigmas=skeleton.sigmas,
            )
            write_json(pred_dir / f"{boxes}.json", results)
        else:
            pred_dir.mkdir(parents=True, exist_ok=True)
            np.savez(pred_dir / f"{boxes}.npz", preds=preds, maxvals=maxvals)
        rows.append({"run": run_id, "model": run.model, "preset": run.preset, "dataset": run.dataset,
                     "boxes": boxes, "seed": run.seed, "n_persons": len(eval_set), **metrics})
    table = pd.DataFrame(rows)
    write_csv(_out("results", "eval", f"{run_id}.csv"), table)
    _write_meta(_out("results", "eval", f"{run_id}.meta.json"), params, run_id, splits[0][1].fingerprint, device)
    return table


def attack_stage(run_id: str) -> pd.DataFrame:
    """The attack grid on ground-truth boxes -> ``results/attack/<run>.csv`` (REFERENCE_SPEC §2)."""
    from . import engine
    from .attacks import attack_grid
    from .splits import load_split

    params = stage_params(STAGE_KEYS["attack"](run_id))
    run = params.run(run_id)
    if run.dataset != "coco":
        raise ConfigError(f"attack_runs: {run_id!r} is a {run.dataset} run; the attack grid needs COCO-format AP")
    model, recipe, skeleton, device = _load_model(params, run_id)
    split = load_split(params, run.dataset, "val")
    cache = _out("runs", ".cache", f"{run.dataset}_gt_{recipe.input_size[0]}x{recipe.input_size[1]}.npz")
    eval_set = engine.build_eval_set(split.records, recipe.input_size, name="gt", dataset=run.dataset,
                                     coco_gt=split.coco_gt, cache_file=cache, device=_gpu(device))
    sweep = params.attack_runs[run_id].radius_sweep
    grid_cfg = params.attack if sweep else dataclasses.replace(params.attack, radius_sweep=())
    grid = attack_grid(grid_cfg)
    t0 = time.perf_counter()
    table = engine.attack_table(
        model, eval_set, grid, skeleton, per_keypoint_targets=params.attack.per_keypoint_targets,
        meta={"run": run_id, "model": run.model, "preset": run.preset, "seed": run.seed},
        in_vis_thre=params.eval.in_vis_thre, oks_thre=params.eval.oks_thre,
        **_predict_kwargs(params, recipe, device),
    )
    write_csv(_out("results", "attack", f"{run_id}.csv"), table)
    _write_meta(_out("results", "attack", f"{run_id}.meta.json"), params, run_id, split.fingerprint, device,
                attacks=len(grid), seconds=round(time.perf_counter() - t0, 1))
    return table


def _write_meta(path: Path, params: Params, run_id: str, fingerprint: str, device, **extra: Any) -> None:
    run = params.run(run_id)
    model_file = _out("runs", run_id, "model.pt")
    write_json(path, provenance(
        params_hash=params_hash({"run": run, "eval": params.eval}), data_fingerprint=fingerprint,
        device=str(device), seed=run.seed, model_fingerprint=file_fingerprint(model_file), run=run_id,
        **extra,
    ))
