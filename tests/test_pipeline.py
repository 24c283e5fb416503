"""The DVC pipeline: every stage's declared params match what its notebook reads, the DAG resolves, and the
whole pipeline runs end to end on the smoke profile (every notebook under papermill, every figure and table)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from conftest import copy_project

from occlusion.params import load_params
from occlusion.pipeline import STAGE_KEYS
from occlusion.reports.registry import FIGURES

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _dvc_stages() -> dict[str, dict]:
    """dvc.yaml's stages with foreach expanded, the way DVC does for ``${key}`` / ``${item.x}``."""
    raw = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())

    def lookup(dotted: str):
        value = params
        for part in dotted.split("."):
            value = value[part]
        return value

    def sub(text: str, key: str | None, item: dict | None) -> str:
        if key is not None:
            text = text.replace("${key}", key)
            text = re.sub(r"\$\{item\.(\w+)\}", lambda m: str(item[m.group(1)]), text)
        text = re.sub(r"\$\{([\w.]+)\}", lambda m: str(lookup(m.group(1))), text)
        assert "${" not in text, text
        return text

    def expand(body, key=None, item=None):
        if isinstance(body, str):
            return sub(body, key, item)
        if isinstance(body, list):
            return [expand(b, key, item) for b in body]
        if isinstance(body, dict):
            return {sub(k, key, item): expand(v, key, item) for k, v in body.items()}
        return body

    stages = {}
    for name, body in raw.items():
        if "foreach" in body:
            source = body["foreach"]  # generated: the items themselves
            for key, item in source.items():
                stages[f"{name}@{key}"] = expand(body["do"], key, item)
        else:
            stages[name] = expand(body)
    return stages


def _names(entries: list) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries]


def _notebook_of(stage: dict) -> str:
    return re.search(r"notebooks run build/notebooks/(\S+)\.ipynb", stage["cmd"]).group(1)


def test_every_stage_declares_exactly_the_params_it_reads():
    stages = _dvc_stages()
    params = load_params()
    checked = 0
    for name, stage in stages.items():
        kind, _, item = name.partition("@")
        declared = set(stage.get("params", []))
        if kind in ("pretrain", "train", "evaluate", "attack", "bottomup_train", "bottomup_evaluate", "audit"):
            expected = set(STAGE_KEYS[kind](params, item))
        elif kind in ("data", "occluders", "occluder_bank", "realocc"):
            expected = set(STAGE_KEYS[kind](params))
        elif kind in FIGURES:
            expected = set(FIGURES[kind].keys) | {"profile"}
        elif kind == "report":
            expected = {"profile", "data", "attack"}
        else:
            assert kind in ("notebooks", "code") and not declared
            continue
        assert declared == expected, f"stage {name}: dvc.yaml declares {sorted(declared)}, it reads {sorted(expected)}"
        checked += 1
    assert checked > 40


def test_figure_stages_depend_on_every_input_they_read():
    stages = _dvc_stages()
    params = load_params()
    for name, spec in FIGURES.items():
        deps = set(_names(stages[name]["deps"]))
        for path in spec.inputs:
            assert path.replace("{data}", params.data.root) in deps, f"{name} reads {path} but does not depend on it"
        assert f"build/notebooks/{name}.ipynb" in deps


def test_each_stage_runs_its_own_notebook_with_string_parameters_only():
    for name, stage in _dvc_stages().items():
        if name in ("notebooks", "code"):
            continue
        cmd = stage["cmd"]
        assert cmd.startswith("python -m occlusion.notebooks run build/notebooks/"), name
        nb_name = _notebook_of(stage)
        nb = nbformat.read(REPO / "notebooks" / f"{nb_name}.ipynb", as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{nb_name}: needs exactly one cell tagged 'parameters'"
        for value in re.findall(r"-p \w+ (\S+)", cmd):
            assert value.lower() not in ("true", "false"), f"{name}: parameters are strings, never booleans"
        kind = name.partition("@")[0]
        if kind in FIGURES:
            assert f'name = "{kind}"' in tagged[0].source, f"{nb_name} must build figure {kind}"
        # executed notebooks are leaf outputs: no stage depends on reports/notebooks
    for stage in _dvc_stages().values():
        assert not any(d.startswith("reports/notebooks") for d in _names(stage.get("deps", [])))


def test_committed_params_are_the_embedded_profile():
    assert (REPO / "params.yaml").read_text() == (REPO / "profiles" / "embedded.yaml").read_text()
    for profile in (REPO / "profiles").glob("*.yaml"):
        load_params(profile)  # every profile validates


def test_environment_yml_installs_the_package_with_python_311():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert pip == ["-r requirements.lock", "-e ."]
    assert 'torch==2.14.1' in (REPO / "pyproject.toml").read_text()
    lock = (REPO / "requirements.lock").read_text().splitlines()
    pins = [line for line in lock if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), [line for line in pins if "==" not in line]
    for pin in ("torch==2.14.1", "torchvision==0.29.1", "timm==1.0.31"):
        assert pin in pins, f"requirements.lock does not pin {pin} as pyproject.toml does"


def test_dvc_dry_run_resolves_every_stage(tmp_path):
    out = subprocess.run([BIN / "dvc", "repro", "--dry", "--force"], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("data", "train@coco_hrnet_half_body", "attack@coco_hrnet_half_body", "table1",
                 "bottomup_train@higherhrnet_baseline", "bottomup_evaluate@higherhrnet_partmix_05_keep", "table3",
                 "report"):
        assert f"Running stage '{name}'" in out.stdout


def test_figure_stage_fails_loudly_on_missing_inputs(tmp_path, monkeypatch):
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    from occlusion.reports import registry

    with pytest.raises(FileNotFoundError, match="results/attack/hrnet/coco_hrnet_half_body.csv"):
        registry.make("fig05_keypoints")
    with pytest.raises(KeyError, match="unknown figure"):
        registry.make("fig99")


@pytest.mark.slow
def test_smoke_profile_runs_every_stage_end_to_end(tmp_path):
    """`dvc repro` on the smoke profile: every notebook executes, every figure and table is written, a second
    `dvc repro` does nothing, and editing one preset's probability invalidates only that run's training."""
    copy_project(tmp_path, "smoke")

    def dvc(*args: str) -> str:
        out = subprocess.run([BIN / "dvc", *args], cwd=tmp_path, env=ENV, capture_output=True, text=True)
        assert out.returncode == 0, f"dvc {' '.join(args)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
        return out.stdout

    dvc("repro")
    for seed in (0, 1):  # `seeds: [0, 1]`: one model per seed, each evaluated
        assert (tmp_path / "runs" / "coco_hrnet_half_body" / f"seed_{seed}" / "model.pt").is_file()
    evaluated = pd.read_csv(tmp_path / "results" / "eval" / "hrnet" / "coco_hrnet_half_body.csv")
    assert sorted(evaluated.seed.unique()) == [0, 1]
    for name, spec in FIGURES.items():
        folder = "tables" if spec.table else "figures"
        suffixes = (".csv", ".md") if spec.table else (".png", ".csv")
        for suffix in suffixes:
            assert (tmp_path / "reports" / folder / f"{name}{suffix}").is_file(), f"{name}{suffix} missing"
        assert (tmp_path / "reports" / "notebooks" / f"{name}.ipynb").is_file()
        meta = json.loads((tmp_path / "reports" / folder / f"{name}.meta.json").read_text())
        assert {"git_commit", "params_hash", "data_fingerprint", "package_version"} <= set(meta)
    assert "table1" in (tmp_path / "reports" / "index.md").read_text() or (tmp_path / "reports" / "index.md").is_file()
    json.loads((tmp_path / "reports" / "metrics.json").read_text())
    # `dvc metrics show` / `dvc exp show`: numbers only, a few per file (configuration and provenance live beside)
    shown = json.loads(dvc("metrics", "show", "--json"))[""]["data"]
    assert {"results/train/coco_hrnet_half_body.metrics.json", "results/eval/hrnet/coco_hrnet_half_body.metrics.json",
            "results/eval_bottomup/higherhrnet_baseline.metrics.json", "reports/metrics.json"} <= set(shown)

    def leaves(d):
        return [x for v in d.values() for x in (leaves(v) if isinstance(v, dict) else [v])]

    for path, entry in shown.items():
        values = leaves(entry["data"])
        assert values and len(values) <= 12 and all(isinstance(v, (int, float)) for v in values), (path, values)
    assert shown["results/eval/hrnet/coco_hrnet_half_body.metrics.json"]["data"].keys() == {"gt", "detector"}
    table1 = (tmp_path / "reports" / "tables" / "table1.md").read_text()
    assert "74.5" in table1  # the paper's Blur k 0.5 AP beside ours
    table3 = pd.read_csv(tmp_path / "reports" / "tables" / "table3.csv").set_index("preset")
    assert table3.loc["baseline", "AP (paper)"] == 67.1 and table3.loc["partmix_05_keep", "seeds"] == 1
    assert (tmp_path / "runs" / "bottomup" / "higherhrnet_partmix_05_keep" / "ckpt" / "last.pt").is_file()

    second = dvc("repro")
    assert "Running stage" not in second, second

    committed = (tmp_path / "params.yaml").read_text()
    params = yaml.safe_load(committed)
    params["augs"]["cutblur_p_05_keep"]["augment"]["blurring"]["prob"] = 0.4
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(dvc("status", "--json"))
    assert set(status) == {"train@coco_hrnet_cutblur_p_05_keep"}, sorted(status)
    params["bottomup"]["augs"]["partmix_05_keep"]["partmix"]["prob"] = 0.4  # a Table III preset: its run only
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(dvc("status", "--json"))
    assert set(status) == {"train@coco_hrnet_cutblur_p_05_keep", "bottomup_train@higherhrnet_partmix_05_keep"}, status

    # A sweep as DVC experiments (README): two values queued, run one after the other by a queue worker, each in a
    # fresh workspace that gets the cached outputs and a copy of the run folders: only the swept run trains again
    (tmp_path / "params.yaml").write_text(committed)
    for args in (["config", "user.name", "occlusion tests"], ["config", "user.email", "tests@occlusion.invalid"],
                 ["add", "-A"], ["commit", "-qm", "smoke profile, reproduced"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    swept = "augs.cutblur_p_05_keep.augment.blurring.prob"
    for prob in (0.3, 0.4):
        dvc("exp", "run", "--queue", "-S", f"{swept}={prob}", "-C", "runs")
    dvc("queue", "start", "-j", "1")
    deadline = time.monotonic() + 900
    while re.search(r"\b(Queued|Running)\b", queue := dvc("queue", "status")) and time.monotonic() < deadline:
        time.sleep(5)
    assert queue.count("Success") == 2, queue
    names = re.findall(r"^\w+\s+(\S+)\s+.*Success", queue, re.M)
    for name in names:
        log = dvc("queue", "logs", name)
        assert "Running stage 'train@coco_hrnet_cutblur_p_05_keep'" in log, log[-3000:]
        assert "Running stage 'train@coco_hrnet_half_body'" not in log, log[-3000:]
    experiments = [rev["data"] for entry in json.loads(dvc("exp", "show", "--json"))  # the workspace, then HEAD
                   for exp in entry.get("experiments") or [] for rev in exp["revs"]]
    probs = sorted(e["params"]["params.yaml"]["data"]["augs"]["cutblur_p_05_keep"]["augment"]["blurring"]["prob"]
                   for e in experiments)
    assert probs == [0.3, 0.4]
    for e in experiments:
        assert "results/train/coco_hrnet_cutblur_p_05_keep.metrics.json" in e["metrics"], sorted(e["metrics"])


def test_data_stage_with_files_writes_a_manifest_of_what_it_checked(tmp_path, monkeypatch):
    """The paper profile's data stage checks the configured files and records their fingerprints in data.root, one
    manifest per dataset and role (what each later stage depends on)."""
    from occlusion import dvcfile

    params = yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text())
    for dataset in ("coco", "mpii"):
        for name in ("train_annotations", "val_annotations"):
            (tmp_path / params["data"][dataset][name]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / params["data"][dataset][name]).write_text("{}")
        for name in ("train_images", "val_images"):
            (tmp_path / params["data"][dataset][name]).mkdir(parents=True, exist_ok=True)
    params["data"]["coco"]["detections"] = {}
    del params["data"]["mpii"]["head_boxes"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for folder in ("notebooks", "profiles"):  # the notebooks, and the model spec an audit names
        (tmp_path / folder).symlink_to(REPO / folder)
    dvcfile.write(tmp_path)
    monkeypatch.chdir(tmp_path)
    from occlusion.pipeline import data_stage

    manifest = data_stage()
    assert set(manifest["coco"]["train"]) | set(manifest["coco"]["val"]) == {
        params["data"]["coco"][k] for k in ("train_annotations", "val_annotations")}
    written = json.loads((tmp_path / params["data"]["root"] / "manifests" / "coco_val.json").read_text())
    assert written == {"source": "files", "files": manifest["coco"]["val"]}
    (tmp_path / params["data"]["coco"]["val_annotations"]).unlink()
    with pytest.raises(FileNotFoundError, match="data.coco.val_annotations"):
        data_stage()
