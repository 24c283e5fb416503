"""The DVC stages: each notebook in ``notebooks/`` calls one function here.

Every stage declares the ``params.yaml`` keys it reads (``STAGE_KEYS``) and reads the file once, as a view that
holds only those keys (:func:`declared_params`): reading anything else raises, and ``tests/test_pipeline.py``
checks that the keys match the stage's ``params:`` in ``dvc.yaml``, so DVC re-runs a stage exactly when what it
reads changes. At its top a stage resolves what it works on (:mod:`occlusion.spec`) and passes that down.
"""
from __future__ import annotations

import dataclasses
import inspect
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .config import ConfigError
from .io import file_fingerprint, provenance, write_csv, write_json, write_npz
from .logs import show_status
from .params import Params, load_params, params_hash, repo_root, with_overrides
from .realocc.config import realocc_keys
from .spec import BottomUpRunSpec, EvalSpec, RunSpec, pretrain_dir, seed_dir

__all__ = ["STAGE_KEYS", "stage_params", "declared_params", "run_dir", "data_stage", "pretrain_stage", "train_stage",
           "evaluate_stage", "attack_stage", "bottomup_dir", "bottomup_train_stage", "bottomup_evaluate_stage",
           "occluders_stage", "occluder_bank_stage", "realocc_stage"]


def _train_keys(params: Params, run_id: str) -> list[str]:
    run = params.run(run_id)
    pretrain = [f"pretrain.{run.pretrain}"] if run.pretrain and not run.checkpoint else []
    return ["device", "data", "train", "eval", f"models.{run.model}", f"augs.{run.preset}", *pretrain, f"runs.{run_id}"]


def _pretrain_keys(params: Params, name: str) -> list[str]:
    pre = params.pretrain[name]
    if pre.source == "imagenet":  # timm's weights: no data, no recipe
        return [f"models.{pre.model}", f"pretrain.{name}"]
    return ["device", "data", "train", "eval", f"models.{pre.model}", f"augs.{pre.preset}", f"pretrain.{name}"]


def _evaluate_keys(params: Params, run_id: str) -> list[str]:
    return ["device", "data", "eval", f"models.{params.run(run_id).model}", f"runs.{run_id}"]


def _attack_keys(params: Params, run_id: str) -> list[str]:
    return [*_evaluate_keys(params, run_id), "attack", f"attack_runs.{run_id}"]


def _bottomup_train_keys(params: Params, run_id: str) -> list[str]:
    run = params.bottomup_run(run_id)
    return ["device", "data", "bottomup.model", "bottomup.train", f"bottomup.augs.{run.preset}",
            f"bottomup.runs.{run_id}"]


def _bottomup_evaluate_keys(params: Params, run_id: str) -> list[str]:
    params.bottomup_run(run_id)  # an unknown run fails here, naming the defined ones
    return ["device", "data", "bottomup.model", "bottomup.eval", f"bottomup.runs.{run_id}"]


def _audit_keys(params: Params, name: str) -> list[str]:
    if name not in params.audits:
        raise ConfigError(f"audits.{name}: no such audit; defined: {', '.join(params.audits) or '(none)'}")
    return ["device", "data", "attack", f"audits.{name}"]


def _occluders_keys(params: Params) -> list[str]:
    from .occluders.study import occluder_runs

    objects, worst = params.attack.objects, params.worstcase
    runs = occluder_runs(objects, worst)
    keys = ["device", "data", "eval", *(["attack.objects"] if objects else []), *(["worstcase"] if worst else [])]
    return [*keys, *sorted({f"models.{params.runs[r].model}" for r in runs}), *(f"runs.{r}" for r in runs)]


STAGE_KEYS: dict[str, Callable[..., list[str]]] = {
    "data": lambda params: ["data"],
    "pretrain": _pretrain_keys,
    "train": _train_keys,
    "evaluate": _evaluate_keys,
    "attack": _attack_keys,
    "bottomup_train": _bottomup_train_keys,
    "bottomup_evaluate": _bottomup_evaluate_keys,
    "audit": _audit_keys,
    "occluders": _occluders_keys,
    "occluder_bank": lambda params: ["data", "occluder_bank"],
    "realocc": realocc_keys,
}
"""For each stage, the params keys it reads: a function of the whole params and the stage's matrix item. The
``dvc.yaml`` groups ``imagenet``/``imagenet_hub`` (ImageNet pretrains), ``import`` (runs that import a checkpoint)
and ``bottomup_import`` run the ``pretrain``, ``train`` and ``bottomup_train`` stages."""
STAGE_KEYS |= {"imagenet": _pretrain_keys, "imagenet_hub": _pretrain_keys, "import": _train_keys,
               "bottomup_import": _bottomup_train_keys}


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


class _View:
    """A read-only view of a config dataclass with only the fields a stage declared (the others are
    :class:`_Undeclared`); the dataclass's methods and properties run against the view, so they see the same."""

    __slots__ = ("_type", "_fields")

    def __init__(self, config_type: type, fields: dict[str, Any]):
        self._type, self._fields = config_type, fields

    def __getattr__(self, name: str) -> Any:
        if name in _View.__slots__:  # not set yet (a copy under construction)
            raise AttributeError(name)
        fields = self._fields
        if name in fields:
            return fields[name]
        attr = inspect.getattr_static(self._type, name)  # a method or property, bound to the view
        return attr.__get__(self, self._type) if hasattr(attr, "__get__") else attr

    def __repr__(self) -> str:
        declared = [name for name, value in self._fields.items() if not isinstance(value, _Undeclared)]
        return f"{self._type.__name__}(view of {', '.join(declared)})"


def stage_params(keys: list[str], params: Params | None = None) -> Params:
    """A view of ``params`` with only ``keys`` (``"train"``, ``"models.hrnet"`` or ``"bottomup.runs.x"``); other
    sections raise on use."""
    params = params or load_params()
    return _restrict(params, [*keys, "profile"], "")


def declared_params(stage: str, *item: str) -> Params:
    """``params.yaml``, read once, as stage ``stage`` (of matrix item ``item``) declares it in ``dvc.yaml``. Every
    stage starts here, so this is also where the stage's status messages are switched on (:mod:`occlusion.logs`)."""
    from .dvcfile import check_dvc_stage

    show_status()
    check_dvc_stage()  # under dvc repro: never run under a dvc.yaml that params.yaml no longer generates
    params = load_params()
    return stage_params(STAGE_KEYS[stage](params, *item), params)


def _restrict(value: Any, keys: list[str], path: str) -> Any:
    """``value`` (a config dataclass or a mapping) with only the dotted ``keys`` below it: a mapping keeps only
    the declared entries, a dataclass becomes a :class:`_View` whose other fields raise on use."""
    is_mapping = isinstance(value, Mapping)
    names = list(value) if is_mapping else [f.name for f in dataclasses.fields(value)]
    kept: dict[str, Any] = {}
    for name in names:
        child = value[name] if is_mapping else getattr(value, name)
        below = [k.split(".", 1)[1] for k in keys if k.startswith(name + ".")]
        where = f"{path}.{name}" if path else name
        if name in keys:
            kept[name] = child
        elif below and (isinstance(child, Mapping) or dataclasses.is_dataclass(child)):
            kept[name] = _restrict(child, below, where)
        elif not is_mapping:
            kept[name] = _Undeclared(where)
    return kept if is_mapping else _View(type(value), kept)


def _out(*parts: str) -> Path:
    return repo_root().joinpath(*parts)


def run_dir(run_id: str, seed: int) -> Path:
    """Where seed ``seed`` of run ``run_id`` trains: ``runs/<run>/seed_<seed>/`` (``model.pt``, ``ckpt/``, logs)."""
    return seed_dir(_out("runs"), run_id, seed)


def data_stage() -> dict[str, Any]:
    """Generate the embedded dataset (``data.source: synthetic``) or check that the configured files exist."""
    params = declared_params("data")
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
        if paths.head_boxes and not _out(paths.head_boxes).exists():
            missing.append(f"data.{name}.head_boxes: {_out(paths.head_boxes)}")
    if missing:
        raise FileNotFoundError("configured data files are missing (see `occlusion download`):\n  "
                                + "\n  ".join(missing))
    # data.root (the stage's output) records what the configured files were: one manifest per dataset and role,
    # so a stage depends on the manifests of what it reads (occlusion.dvcfile.reads)
    from .dvcfile import configured_files, manifest

    manifests = {name: {role: {f: file_fingerprint(_out(f)) for f in files} for role, files in roles.items()}
                 for name, roles in configured_files(params).items()}
    for name, roles in manifests.items():
        for role, fingerprints in roles.items():
            write_json(_out(manifest(data.root, name, role)), {"source": "files", "files": fingerprints})
    return manifests


def pretrain_stage(name: str, *, progress: bool = True) -> dict[str, Any]:
    """The backbone every run starts from -> ``runs/pretrain_<name>/model.pt``.

    ``source: imagenet`` (the paper) saves timm's ImageNet weights; ``source: train`` (the embedded default,
    which has no ImageNet) trains the model on the configured dataset with ``preset``, as a run of its own.
    """
    import torch

    from .io import torch_save
    from .keypoints import get_skeleton
    from .models import create_model
    from .splits import resolve_path
    from .train import train

    params = declared_params("pretrain", name)
    pre = params.pretrain[name]
    if pre.source == "train":
        return train(RunSpec.for_pretrain(params, name, runs_dir=_out("runs")), progress=progress)
    out = pretrain_dir(_out("runs"), name)
    recipe = params.models[pre.model]
    try:
        model = create_model(recipe.arch, num_joints=get_skeleton(pre.dataset).num_joints,
                             pretrained=resolve_path(pre.weights) if pre.weights else True)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"pretrain.{name}: {exc}") from None
    torch_save({"model": model.state_dict(), "meta": {"pretrain": name, "source": "imagenet"}}, out / "model.pt")
    summary = {"pretrain": name, "source": "imagenet", "arch": recipe.arch, "torch": torch.__version__}
    write_json(out / "train.json", summary)
    write_csv(out / "train_log.csv", pd.DataFrame([{"epoch": 0}]))
    return summary


def train_stage(run_id: str, *, progress: bool = True) -> dict[str, Any]:
    """Train (or import) run ``run_id`` once per seed into ``runs/<run_id>/seed_<s>/``, each resuming from its
    checkpoint; the summary of every seed (configuration and provenance) goes to ``results/train/<run_id>.json``,
    its best validation metric alone to ``results/train/<run_id>.metrics.json`` (what ``dvc exp show`` lists)."""
    import shutil

    from .train import train

    params = declared_params("train", run_id)
    seeds = params.run(run_id).seeds
    specs = {s: RunSpec.for_run(params, run_id, s, out_dir=run_dir(run_id, s), runs_dir=_out("runs")) for s in seeds}
    for stale in _out("runs", run_id).glob("seed_*"):  # seeds since removed from the list (the folder persists)
        if stale.name not in {f"seed_{s}" for s in seeds}:
            shutil.rmtree(stale)
    summaries = {f"seed_{seed}": train(spec, progress=progress) for seed, spec in specs.items()}
    metrics = [s["best_val_metric"] for s in summaries.values() if s["best_val_metric"] is not None]
    summary = {"run": run_id, "seeds": list(seeds),
               "best_val_metric_mean": float(np.mean(metrics)) if metrics else None, "per_seed": summaries}
    write_json(_out("results", "train", f"{run_id}.json"), summary)
    per_seed = {seed: s["best_val_metric"] for seed, s in summaries.items() if s["best_val_metric"] is not None}
    write_json(_out("results", "train", f"{run_id}.metrics.json"),
               {"best_val_metric": {"mean": summary["best_val_metric_mean"], **per_seed}} if per_seed else {})
    return summary


def metrics_of(table: pd.DataFrame, metrics: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """The headline numbers of an evaluation table for ``dvc metrics`` / ``dvc exp show``: per box source, each
    ``name: column`` of ``metrics`` averaged over seeds.

    Example:
        >>> t = pd.DataFrame({"boxes": ["gt", "gt", "detector"], "seed": [0, 1, 0], "AP": [70.0, 72.0, 65.5]})
        >>> metrics_of(t, {"AP": "AP"})
        {'gt': {'AP': 71.0}, 'detector': {'AP': 65.5}}
    """
    return {str(boxes): {name: round(float(rows[col].mean()), 4) for name, col in metrics.items()}
            for boxes, rows in table.groupby("boxes", sort=False)}


def _load_model(spec: EvalSpec, seed: int, device) -> Any:
    """Seed ``seed``'s trained model, on ``device`` in eval mode."""
    import torch

    from .keypoints import get_skeleton
    from .models import create_model

    path = spec.model_files[seed]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no trained model for run {spec.run_id!r} (run its train stage first)")
    model = create_model(spec.recipe.arch, num_joints=get_skeleton(spec.run.dataset).num_joints)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
    return model.to(device).eval()


def _gpu(device):
    """The device for the batched crop path: decode and warp on the GPU; on the CPU use the OpenCV crop cache."""
    return device if device.type == "cuda" else None


def _predict_kwargs(spec: EvalSpec, device) -> dict[str, Any]:
    import torch

    e = spec.eval
    amp = torch.bfloat16 if device.type == "cuda" else None
    return dict(color=spec.recipe.color, flip_test=e.flip_test, shift_heatmap=e.shift_heatmap,
                post_process=e.post_process, batch_size=e.batch_size, device=device, amp_dtype=amp)


def _eval_set(spec: EvalSpec, boxes: str, split, device):
    """The crops of one box source (cached under ``runs/.cache``)."""
    from . import engine

    width, height = spec.recipe.input_size
    cache = _out("runs", ".cache", f"{spec.run.dataset}_{boxes}_{width}x{height}.npz")
    return engine.build_eval_set(split.records, spec.recipe.input_size, name=boxes, dataset=spec.run.dataset,
                                 coco_gt=split.coco_gt, cache_file=cache, device=_gpu(device))


def evaluate_stage(run_id: str) -> pd.DataFrame:
    """Clean accuracy of every seed of a run on ground-truth boxes and every detection file -> one row per seed
    and box source in ``results/eval/<model>/<run>.csv`` (one folder per model recipe, which the figures of that
    model read whatever runs the profile defines).

    COCO predictions are kept as COCO results files (``results/predictions/<model>/<run>/seed_<s>/<boxes>.json``)
    for the bootstrap; MPII keeps per-person predictions (``.npz``). Under ``torchrun`` the crops are sharded across the
    ranks (:func:`occlusion.engine.predict`); rank 0 writes the files, equal to a single process's.
    """
    from .keypoints import get_skeleton
    from .runtime import init_distributed, resolve_device
    from .splits import read_detections, read_split

    spec = EvalSpec.resolve(declared_params("evaluate", run_id), run_id, runs_dir=_out("runs"))
    run = spec.run
    splits = [("gt", read_split(spec.data, run.dataset, "val"))]
    if run.dataset == "coco":
        splits += [(name, read_detections(spec.data, name, spec.image_thre)) for name in spec.data.detections]
    device = resolve_device(spec.device)
    models = {seed: _load_model(spec, seed, device) for seed in run.seeds}  # a missing model fails first
    skeleton = get_skeleton(run.dataset)
    ddp = init_distributed(device)
    kw = {**_predict_kwargs(spec, device), "distributed": True}
    eval_sets = [_eval_set(spec, boxes, split, device) for boxes, split in splits]
    rows = []
    for seed, model in models.items():
        pred_dir = _out("results", "predictions", run.model, run_id, f"seed_{seed}")
        for eval_set in eval_sets:
            rows.append(_evaluate_split(spec, seed, model, eval_set, skeleton, pred_dir if ddp.main else None, kw))
    table = pd.DataFrame(rows)
    if ddp.main:
        write_csv(_out("results", "eval", run.model, f"{run_id}.csv"), table)
        write_json(_out("results", "eval", run.model, f"{run_id}.metrics.json"),
                   metrics_of(table, {"AP": "AP", "AR": "AR"} if run.dataset == "coco" else {"PCKh": "Mean"}))
        _write_meta(_out("results", "eval", run.model, f"{run_id}.meta.json"), spec, splits[0][1].fingerprint,
                    device, ranks=ddp.world)
    return table


def _evaluate_split(spec: EvalSpec, seed: int, model, eval_set, skeleton, pred_dir: Path | None,
                    kw: dict[str, Any]) -> dict[str, Any]:
    """Predict and score one seed's model on one box source; keep its predictions under ``pred_dir`` (if any)."""
    from . import engine
    from .evaluate import to_coco_results

    run, e = spec.run, spec.eval
    boxes = eval_set.name
    preds, maxvals = engine.predict(model, eval_set, skeleton, progress=True, **kw)
    metrics = engine.score(eval_set, preds, maxvals, skeleton, in_vis_thre=e.in_vis_thre, oks_thre=e.oks_thre)["all"]
    if run.dataset == "coco":
        results = to_coco_results(
            preds, maxvals, eval_set.centers, eval_set.scales,
            np.array([r.score for r in eval_set.records], dtype=np.float32),
            np.array([r.image_id for r in eval_set.records]),
            in_vis_thre=e.in_vis_thre, oks_thre=e.oks_thre, sigmas=skeleton.sigmas,
        )
        if pred_dir is not None:
            write_json(pred_dir / f"{boxes}.json", results)
        if pred_dir is not None and boxes == "gt":  # per person, for the realocc stage's v=1/v=2 accuracy (§13)
            ann_ids = np.array([r.ann_id for r in eval_set.records], dtype=np.int64)
            write_npz(pred_dir / "gt.npz", preds=preds, maxvals=maxvals, ann_ids=ann_ids)
    elif pred_dir is not None:
        pred_dir.mkdir(parents=True, exist_ok=True)
        np.savez(pred_dir / f"{boxes}.npz", preds=preds, maxvals=maxvals)
    return {"run": spec.run_id, "model": run.model, "preset": run.preset, "dataset": run.dataset,
            "boxes": boxes, "seed": seed, "n_persons": len(eval_set), **metrics}


def attack_stage(run_id: str) -> pd.DataFrame:
    """The attack grid on ground-truth boxes -> ``results/attack/<model>/<run>.csv`` (docs/METHODS.md §2) with each
    attack's bootstrap interval of ΔAP, and the resampled APs -> ``results/attack/<model>/<run>.boot.npz``.

    Under ``torchrun`` the attacks are sharded across the ranks (:func:`occlusion.engine.run_attack_grid`);
    rank 0 writes the files, equal to a single process's.
    """
    from . import engine
    from .attacks import attack_grid
    from .keypoints import get_skeleton
    from .runtime import init_distributed, resolve_device
    from .splits import read_split

    spec = EvalSpec.resolve(declared_params("attack", run_id), run_id, runs_dir=_out("runs"), attack=True)
    run, grid_cfg = spec.run, spec.attack
    if run.dataset != "coco":
        raise ConfigError(f"attack_runs: {run_id!r} is a {run.dataset} run; the attack grid needs COCO-format AP")
    device = resolve_device(spec.device)
    model, skeleton = _load_model(spec, run.seed, device), get_skeleton(run.dataset)
    ddp = init_distributed(device)
    split = read_split(spec.data, run.dataset, "val")
    eval_set = _eval_set(spec, "gt", split, device)
    grid = attack_grid(grid_cfg)
    t0 = time.perf_counter()
    result = engine.run_attack_grid(
        model, eval_set, grid, skeleton, per_keypoint_targets=grid_cfg.per_keypoint_targets,
        meta={"run": run_id, "model": run.model, "preset": run.preset, "seed": run.seed},
        in_vis_thre=spec.eval.in_vis_thre, oks_thre=spec.eval.oks_thre,
        bootstrap_resamples=grid_cfg.bootstrap_resamples, distributed=True, **_predict_kwargs(spec, device),
    )
    if ddp.main:
        write_csv(_out("results", "attack", run.model, f"{run_id}.csv"), result.table)
        result.bootstrap.write(_out("results", "attack", run.model, f"{run_id}.boot.npz"))
        _write_meta(_out("results", "attack", run.model, f"{run_id}.meta.json"), spec, split.fingerprint, device,
                    attacks=len(grid), seconds=round(time.perf_counter() - t0, 1), ranks=ddp.world,
                    bootstrap_resamples=grid_cfg.bootstrap_resamples)
    return result.table


def bottomup_dir(run_id: str) -> Path:
    """Where bottom-up run ``run_id`` trains: ``runs/bottomup/<run>/`` (``model.pt``, ``ckpt/``, logs)."""
    return _out("runs", "bottomup", run_id)


def bottomup_train_stage(run_id: str, *, progress: bool = True) -> dict[str, Any]:
    """Train (or import) Table III run ``run_id`` of ``bottomup.runs`` into ``runs/bottomup/<run>/``, resuming
    from its checkpoint; training starts from the backbone of ``runs/pretrain_<bottomup.model.pretrain>``."""
    from .bottomup.train import train_bottomup_run

    params = declared_params("bottomup_train", run_id)
    spec = BottomUpRunSpec.resolve(params, run_id, out_dir=bottomup_dir(run_id), runs_dir=_out("runs"))
    return train_bottomup_run(spec, progress=progress)


def bottomup_evaluate_stage(run_id: str) -> pd.DataFrame:
    """COCO keypoint AP (pycocotools) of a bottom-up run on every validation image -> one row of Table III's
    columns in ``results/eval_bottomup/<run>.csv`` (``boxes`` is ``none``: bottom-up finds the people itself);
    its COCO results -> ``results/predictions_bottomup/<run>.json`` for the paired bootstrap."""
    import json

    from .bottomup import evaluate_bottomup
    from .bottomup.train import load_bottomup_model
    from .engine import METRICS
    from .runtime import resolve_device
    from .splits import dataset_paths

    params = declared_params("bottomup_evaluate", run_id)
    bu = params.bottomup
    run = params.bottomup_run(run_id)
    path = bottomup_dir(run_id) / "model.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model for bottom-up run {run_id!r} (run its bottomup_train stage first)")
    device = resolve_device(params.device)
    model = load_bottomup_model(bu.model, path).to(device).eval()
    paths = dataset_paths(params, "coco")
    ann, images = _out(paths.val_annotations), _out(paths.val_images)
    t0 = time.perf_counter()
    stats, results = evaluate_bottomup(model, ann, images, input_size=bu.model.input_size, flip_test=bu.eval.flip_test,
                                       grouping=bu.eval.grouping)
    seconds = round(time.perf_counter() - t0, 1)
    write_json(_out("results", "predictions_bottomup", f"{run_id}.json"), results)
    n_images = len(json.loads(ann.read_text())["images"])
    table = pd.DataFrame([{"run": run_id, "model": bu.model.arch, "preset": run.preset, "dataset": "coco",
                           "boxes": "none", "seed": run.seed, "source": run.source, "n_images": n_images,
                           **{m: 100.0 * stats[m] for m in METRICS}}])
    write_csv(_out("results", "eval_bottomup", f"{run_id}.csv"), table)
    write_json(_out("results", "eval_bottomup", f"{run_id}.metrics.json"), metrics_of(table, {"AP": "AP", "AR": "AR"}))
    write_json(_out("results", "eval_bottomup", f"{run_id}.meta.json"), provenance(
        params_hash=params_hash({"run": run, "model": bu.model, "eval": bu.eval}),
        data_fingerprint=file_fingerprint(ann), device=str(device), seed=run.seed,
        model_fingerprint=file_fingerprint(path), run=run_id, seconds=seconds,
    ))
    return table


def audit_stage(name: str) -> dict[str, Any]:
    """``occlusion audit`` of ``audits.<name>`` (docs/METHODS.md §10) -> ``results/audit/<name>/``: the scorecard,
    the attack table and its bootstrap, the awareness metrics and the paper's Figs. 3-8 for that model. The grid is
    ``attack:`` with the audit's ``grid`` overrides; the data, the profile's COCO validation split unless the audit
    names files."""
    from .audit import load_model, run_audit
    from .runtime import resolve_device
    from .splits import dataset_paths

    params = declared_params("audit", name)
    audit = params.audits[name]
    if audit.annotations is None:
        paths = dataset_paths(params, "coco")
        annotations, images = Path(paths.val_annotations), Path(paths.val_images)
    else:
        annotations, images = _out(audit.annotations), _out(audit.images)
    grid = with_overrides(params.attack, audit.grid, f"audits.{name}.grid")
    device = str(resolve_device(params.device))
    estimator = load_model(str(_out(audit.spec)), [], device=device)
    try:
        return run_audit(estimator, annotations, images, _out("results", "audit", name), grid=grid,
                         detections=_out(audit.detections) if audit.detections else None, name=name,
                         flip_test=audit.flip_test, batch_size=audit.batch_size, device=device,
                         max_persons=audit.max_persons)
    finally:
        estimator.close()


def occluders_stage() -> dict[str, Any]:
    """Object attacks (``attack.objects``) and the worst-case occluder search (``worstcase``) on the ground-truth
    crops of each named run's first seed -> ``results/occluders/`` (docs/METHODS.md §11, §12)."""
    from .keypoints import get_skeleton
    from .occluders.attack import run_object_attacks
    from .occluders.study import occluder_runs, search_eval_set, write_study
    from .runtime import resolve_device
    from .splits import read_split

    params = declared_params("occluders")
    objects, worst = _declared(lambda: params.attack.objects), _declared(lambda: params.worstcase)
    device, skeleton = resolve_device(params.device), get_skeleton("coco")
    attacks, searches, seconds = [], [], {}
    for run_id in occluder_runs(objects, worst):
        spec = EvalSpec.resolve(params, run_id, runs_dir=_out("runs"))
        split = read_split(spec.data, "coco", "val")
        model, eval_set = _load_model(spec, spec.run.seed, device), _eval_set(spec, "gt", split, device)
        kw, meta = _predict_kwargs(spec, device), {"run": run_id, "model": spec.run.model, "seed": spec.run.seed}
        t0 = time.perf_counter()
        if objects is not None and run_id in objects.runs:
            attacks.append(run_object_attacks(model, eval_set, objects, skeleton, meta=meta,
                                              bootstrap_resamples=spec.eval.bootstrap_resamples,
                                              in_vis_thre=spec.eval.in_vis_thre, oks_thre=spec.eval.oks_thre, **kw))
        t1 = time.perf_counter()
        if worst is not None and run_id in worst.runs:
            searches.append(search_eval_set(model, eval_set, skeleton, worst, meta=meta, flip_test=kw["flip_test"],
                                            device=device, batch_size=kw["batch_size"], color=kw["color"],
                                            shift_heatmap=kw["shift_heatmap"], post_process=kw["post_process"],
                                            amp_dtype=kw["amp_dtype"]))
        seconds[run_id] = {"object_attacks": round(t1 - t0, 2), "worstcase": round(time.perf_counter() - t1, 2),
                           "persons": len(eval_set)}
    out = _out("results", "occluders")
    summary = write_study(out, attacks, searches, worst)
    write_json(out / "occluders.meta.json", provenance(
        params_hash=params_hash({"objects": objects, "worstcase": worst}), data_fingerprint=split.fingerprint,
        device=str(device), seed=0, seconds=seconds, budget=worst.budget() if worst else 0, **summary))
    return {**summary, "seconds": seconds}


def _declared(read: Callable[[], Any]) -> Any:
    """``read()``, or None where it reads a section the stage did not declare (a profile without it)."""
    try:
        value = read()
    except ConfigError:
        return None
    return None if isinstance(value, _Undeclared) else value


def occluder_bank_stage() -> Path:
    """The COCO object-occluder bank (``occluder_bank``; docs/METHODS.md §11) from the instance annotations and
    the profile's COCO training images."""
    from .occluders.bank import build_coco_bank
    from .splits import dataset_paths

    params = declared_params("occluder_bank")
    cfg = params.occluder_bank
    if cfg is None:
        raise ConfigError("occluder_bank: not configured in params.yaml (the paper profile defines it)")
    out = _out(cfg.out)
    build_coco_bank(_out(cfg.annotations), dataset_paths(params, "coco").train_images, out, cfg.filter)
    return out


def _write_meta(path: Path, spec: EvalSpec, fingerprint: str, device, **extra: Any) -> None:
    write_json(path, provenance(
        params_hash=params_hash({"run": spec.run, "eval": spec.eval}), data_fingerprint=fingerprint,
        device=str(device), seed=spec.run.seed, run=spec.run_id,
        model_fingerprints={f"seed_{s}": file_fingerprint(f) for s, f in spec.model_files.items()},
        **extra,
    ))


def realocc_stage() -> pd.DataFrame:
    """Every COCO run's main model on OCHuman, CrowdPose and COCO val's occlusion signal -> ``results/realocc/``
    (docs/METHODS.md §13; :func:`occlusion.realocc.stage.run_realocc`)."""
    from .realocc.stage import run_realocc

    return run_realocc(declared_params("realocc"))
