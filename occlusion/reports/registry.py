"""The figure and table stages: ``FIGURES[name]`` says everything the DVC stage of figure or table ``name``
declares, and builds it.

Each entry names its notebook (``notebooks/<name>.ipynb``), the files it reads (``inputs``, relative to the
project root; ``{data}`` is ``data.root``), the params keys it reads (``keys``; its stage adds ``profile``), the
files it writes (``outputs``: ``reports/figures/<name>.{png,csv}`` or ``reports/tables/<name>.{csv,md}``, and
the ``.meta.json`` provenance beside them) and the package code it runs (``code``). ``make(name)`` builds it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from ..io import file_fingerprint, provenance, write_json
from ..params import Params, params_hash, repo_root
from . import attacks, augmented, boxes, examples, occluders, realocc, tables
from .examples import FIG9_PRESETS
from .results import attack_table, attack_with_boot, evaluated
from .style import save_figure, setup_matplotlib

__all__ = ["FIGURES", "FigureSpec", "Output", "make", "inputs_of"]


@dataclass
class Output:
    """What a figure stage made: the figure (or None for a table), its data, and the written files."""

    name: str
    data: pd.DataFrame
    files: list[Path]
    figure: Any = None

    def show(self) -> Any:
        if self.figure is not None:
            return self.figure
        return self.data


@dataclass(frozen=True)
class FigureSpec:
    """One figure or table of the paper and its stage."""

    name: str
    title: str
    inputs: tuple[str, ...]
    """Files the figure reads, relative to the project root; ``{data}`` is ``data.root``."""
    keys: tuple[str, ...]
    """The params keys it reads (dotted: ``models.hrnet``); ``profile`` is read by every stage besides."""
    build: Callable[[Params, list[Path]], tuple[Any, pd.DataFrame]]
    """(params, the ``inputs`` as paths) -> (figure, its data) or, for a table, (None, the table)."""
    table: bool = False
    optional: tuple[str, ...] = ()
    """Files it also reads where the profile produces them (a third model of Fig. 3); its stage depends on those."""
    extra: tuple[str, ...] = ()
    """Files its build writes besides the figure or table (Fig. 16: its table and the report's answers)."""

    @property
    def notebook(self) -> str:
        return f"notebooks/{self.name}.ipynb"

    @property
    def outputs(self) -> tuple[str, ...]:
        """``reports/figures/<name>.{png,csv,meta.json}`` or ``reports/tables/<name>.{csv,md,meta.json}``."""
        stem = f"reports/tables/{self.name}" if self.table else f"reports/figures/{self.name}"
        own = tuple(stem + s for s in ((".csv", ".md") if self.table else (".png", ".csv")))
        return own + self.extra + (stem + ".meta.json",)


_HRNET_ATTACK = (attack_table("hrnet"),)
_ATTACK = ("attack",)
_EVAL = ("data", "eval")

FIGURES: dict[str, FigureSpec] = {spec.name: spec for spec in (
    FigureSpec("fig01_attacks", "Fig. 1: attacks on one crop", ("{data}",), ("data", "models", "attack"),
               examples.build_fig01_attacks),
    FigureSpec("fig03_models", "Fig. 3: HRNet vs SimpleBaseline (and ViTPose) under attack",
               attack_with_boot("hrnet", "sb"), _ATTACK, attacks.build_fig03_models,
               optional=attack_with_boot("vitpose")),
    FigureSpec("fig04_radius", "Fig. 4: radius sweep", attack_with_boot("hrnet"), _ATTACK, attacks.build_fig04_radius,),
    FigureSpec("fig05_keypoints", "Fig. 5: keypoint targets", _HRNET_ATTACK, _ATTACK, attacks.build_fig05_keypoints),
    FigureSpec("fig06_keypoint_detail", "Fig. 6: per-keypoint ΔAP of keypoint attacks", _HRNET_ATTACK, _ATTACK,
               attacks.build_fig06_keypoint_detail),
    FigureSpec("fig07_parts", "Fig. 7: part targets", _HRNET_ATTACK, _ATTACK, attacks.build_fig07_parts),
    FigureSpec("fig08_part_detail", "Fig. 8: per-keypoint ΔAP of part attacks", _HRNET_ATTACK, _ATTACK,
               attacks.build_fig08_part_detail),
    FigureSpec("fig09_augmentations", "Fig. 9: augmentations on one crop", ("{data}",),
               ("data", "models", *(f"augs.{p}" for p in FIG9_PRESETS.values())), examples.build_fig09_augmentations),
    FigureSpec("fig10_boxes", "Fig. 10: clean AP per box source", evaluated("hrnet"), _EVAL, boxes.build_fig10_boxes,),
    FigureSpec("fig11_augmented_attacks", "Fig. 11: augmented models under attack", ("results/attack/hrnet",),
               _ATTACK, augmented.build_fig11_augmented_attacks),
    FigureSpec("fig12_boxes_hires", "Fig. 12: higher-resolution HRNet per box source", evaluated("hrnethr"), _EVAL,
               boxes.build_fig12_boxes_hires),
    FigureSpec("fig13_boxes_simplebaseline", "Fig. 13: SimpleBaseline per box source", evaluated("sb"), _EVAL,
               boxes.build_fig13_boxes_simplebaseline),
    FigureSpec("fig14_qualitative", "Fig. 14: baseline vs PartMix predictions",
               ("runs/coco_hrnet_half_body", "runs/coco_hrnet_partmix_05_keep", "{data}"),
               ("data", "models.hrnet", "runs.coco_hrnet_half_body", "runs.coco_hrnet_partmix_05_keep"),
               examples.build_fig14_qualitative),
    FigureSpec("fig15_occluders", "Fig. 15: object attacks and worst-case occluders", ("results/occluders",), (),
               occluders.build_fig15_occluders),
    FigureSpec("fig16_realocc", "Fig. 16 (beyond the paper): attack robustness against real occlusion",
               realocc.REALOCC_INPUTS, ("attack", "attack_runs", "runs", "realocc"), realocc.build_fig16_realocc,
               optional=realocc.REALOCC_OPTIONAL, extra=realocc.REALOCC_EXTRA),
    FigureSpec("table1", "Table I: training variants on detector boxes", evaluated("hrnet"), _EVAL,
               tables.build_table1, table=True),
    FigureSpec("table2", "Table II: MPII PCKh@0.5", evaluated("hrnet_mpii"), _EVAL, tables.build_table2, table=True,),
    FigureSpec("table3", "Table III: HigherHRNet (bottom-up) variants", tables.TABLE3_INPUTS,
               (*_EVAL, "bottomup.runs", "bottomup.baseline"), tables.build_table3, table=True),
)}


def inputs_of(name: str, params: Params) -> list[Path]:
    """The files figure ``name`` reads, as absolute paths under ``params``' data root: its ``inputs`` and those of
    its ``optional`` inputs that the profile produces (what its stage depends on: a file another profile left
    behind is not read)."""
    from ..dvcfile import produced_by

    spec = FIGURES[name]
    optional = [o for o in spec.optional if produced_by(params, o)]
    return [repo_root() / p.replace("{data}", params.data.root) for p in (*spec.inputs, *optional)]


def make(name: str) -> Output:
    """Build figure or table ``name`` and write its ``outputs`` under ``reports/``."""
    from ..dvcfile import check_dvc_stage
    from ..params import load_params
    from ..pipeline import stage_params

    if name not in FIGURES:
        raise KeyError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    spec = FIGURES[name]
    check_dvc_stage()  # under dvc repro: never run under a dvc.yaml that params.yaml no longer generates
    full = load_params()
    params = stage_params(list(spec.keys), full)
    setup_matplotlib()
    figure, data = spec.build(params, inputs_of(name, full))
    root = repo_root()
    if spec.table:
        files = list(tables.write_table(data, root / spec.outputs[0][: -len(".csv")]))
    else:
        files = [save_figure(figure, root / spec.outputs[0], data), root / spec.outputs[1]]
    inputs = [p for p in inputs_of(name, full) if p.exists()]
    files.append(write_json(root / spec.outputs[-1], provenance(
        params_hash=params_hash({k: _lookup(full, k) for k in spec.keys}), data_fingerprint=file_fingerprint(*inputs),
        device="cpu", seed=0, figure=name, inputs=[str(p.relative_to(root)) for p in inputs],
    )))
    return Output(name, data, files, figure)


def _lookup(params: Params, key: str) -> Any:
    value: Any = params
    for part in key.split("."):
        value = value[part] if isinstance(value, Mapping) else getattr(value, part)
    return value
