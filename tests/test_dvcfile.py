"""dvc.yaml is generated, and its code dependencies are the import closure of what each stage runs (the lists the
``code`` stage writes): touching a module re-runs exactly the stages that may import it."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_project

from occlusion import dvcfile
from occlusion.config import ConfigError
from occlusion.imports import code_deps, notebook_code, notebook_entries

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _stages(text: str) -> dict[str, dict]:
    """dvc.yaml's stages with each foreach group expanded (``${key}`` and ``${item.x}`` substituted)."""
    out = {}
    for name, body in yaml.safe_load(text)["stages"].items():
        if "foreach" not in body:
            out[name] = body
            continue
        for key, item in body["foreach"].items():
            blob = json.dumps(body["do"]).replace("${key}", key)
            for field, value in item.items():
                blob = blob.replace("${item.%s}" % field, str(value))
            assert "${" not in blob, blob
            out[f"{name}@{key}"] = json.loads(blob)
    return out


def _params(raw: dict):
    from occlusion.config import from_dict
    from occlusion.params import Params

    return from_dict(Params, raw)


def _paths(entries: list) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries]


def test_committed_dvc_yaml_is_the_generated_one():
    assert (REPO / "dvc.yaml").read_text() == dvcfile.generate(root=REPO), \
        "dvc.yaml is out of date: run `python -m occlusion.dvcfile`"


@pytest.mark.parametrize("profile", ["embedded", "paper", "smoke"])
def test_every_profile_generates_a_dvc_yaml_that_dvc_parses(tmp_path, profile):
    """`dvc stage list` parses the generated file under every profile (the paper profile's once failed with
    "Could not find 'item.preset'"); no stage depends on what it writes."""
    from occlusion.params import load_params

    text = dvcfile.generate(load_params(REPO / "profiles" / f"{profile}.yaml"), root=REPO)
    stages = _stages(text)
    assert "report" in stages and "data" in stages
    for name, stage in stages.items():
        assert not set(_paths(stage.get("outs", []))) & set(_paths(stage.get("deps", []))), name
    (tmp_path / "dvc.yaml").write_text(text)
    shutil.copy(REPO / "profiles" / f"{profile}.yaml", tmp_path / "params.yaml")
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, env=ENV, check=True)
    out = subprocess.run([BIN / "dvc", "stage", "list"], cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(line.split()[0] for line in out.stdout.splitlines()) == sorted(stages)


def test_paper_profile_imports_checkpoints_without_pretraining():
    from occlusion.params import load_params

    stages = _stages(dvcfile.generate(load_params(REPO / "profiles" / "paper.yaml"), root=REPO))
    imported = stages["import@coco_hrnet_half_body"]
    assert "data/checkpoints/pose_hrnet_w32_256x192.pth" in imported["deps"]
    assert not any(d.startswith("runs/pretrain_") for d in imported["deps"])
    assert not any(p.startswith("pretrain.") for p in imported["params"])
    bottomup = stages["bottomup_import@higherhrnet_baseline"]
    assert bottomup["deps"][2] == "data/checkpoints/pose_higher_hrnet_w32_512.pth"
    assert "imagenet_hub@hrnet_w32" in stages and "pretrain@hrnet_w32" not in stages
    assert stages["imagenet_hub@hrnet_w32"]["params"] == ["models.hrnet", "pretrain.hrnet_w32"]


def test_imagenet_weights_named_in_params_are_a_dependency():
    raw = yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text())
    raw["pretrain"]["hrnet_w32"]["weights"] = "data/imagenet/hrnet_w32.safetensors"
    stages = _stages(dvcfile.generate(_params(raw), root=REPO))
    assert "data/imagenet/hrnet_w32.safetensors" in stages["imagenet@hrnet_w32"]["deps"]
    assert "imagenet_hub@resnet50" in stages


def test_data_file_edits_reach_exactly_the_stages_that_read_them():
    """Paper profile: the data stage depends on every configured annotation and detection file and records one
    manifest per dataset and role; a stage depends on the manifests of what it reads."""
    from occlusion.params import load_params

    stages = _stages(dvcfile.generate(load_params(REPO / "profiles" / "paper.yaml"), root=REPO))
    assert "data/coco/person_detection_results/retinanet_val2017.json" in stages["data"]["deps"]
    assert "data/mpii/annot/valid.json" in stages["data"]["deps"]
    users = {name for name, s in stages.items() if "data/paper/manifests/coco_detections.json" in s.get("deps", [])}
    assert users and all(name.startswith("evaluate@coco_") for name in users)
    assert "data/paper/manifests/mpii_val.json" in stages["evaluate@mpii_hrnet_blur_k_05"]["deps"]
    assert "data/paper/manifests/coco_val.json" not in stages["evaluate@mpii_hrnet_blur_k_05"]["deps"]


def test_checkpoint_folders_are_not_copied_into_the_dvc_cache():
    stages = _stages((REPO / "dvc.yaml").read_text())
    outs = stages["train@coco_hrnet_half_body"]["outs"][0]
    assert outs == {"runs/coco_hrnet_half_body": {"persist": True, "cache": False}}
    assert stages["pretrain@hrnet_w18_small"]["outs"][0]["runs/pretrain_hrnet_w18_small/ckpt"]["cache"] is False


def test_code_deps_cover_what_importing_the_entry_modules_loads():
    """The static closure is a superset of what Python actually imports (no dynamic imports hide a module)."""
    by_modules: dict[tuple[str, ...], tuple[str, list]] = {}
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        entries = notebook_entries(notebook_code(notebook))
        by_modules.setdefault(tuple(sorted({m for m, _ in entries})), (notebook.name, entries))
    for modules, (notebook, entries) in by_modules.items():
        code = ("import sys, json\n" + "".join(f"import {m}\n" for m in modules)
                + "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'occlusion')))")
        loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                           check=True).stdout)
        deps = set(code_deps(entries))
        for module in loaded:
            rel = module.replace(".", "/")
            assert f"{rel}.py" in deps or f"{rel}/__init__.py" in deps, f"{notebook} loads {module}"


def test_the_package_imports_nothing_dynamically():
    for path in (REPO / "occlusion").rglob("*.py"):
        tree = ast.parse(path.read_text())
        calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert not calls & {"importlib.import_module", "import_module", "__import__"}, path


def test_entry_function_imports_only_its_own_lazy_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "occlusion"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "b.py").write_text("from . import a\n")
    (pkg / "c.py").write_text("")
    (pkg / "stages.py").write_text(
        "from . import a\n\ndef one():\n    return _helper()\n\ndef _helper():\n    from . import b\n\n"
        "def two():\n    from . import c\n")
    from occlusion import imports

    monkeypatch.setattr(imports, "package_dir", lambda: pkg)
    for cached in (imports.module_file, imports._module_imports, imports._code_deps):
        cached.cache_clear()
    try:
        assert code_deps([("occlusion.stages", "one")]) == [
            "occlusion/__init__.py", "occlusion/a.py", "occlusion/b.py", "occlusion/stages.py"]
        assert code_deps([("occlusion.stages", "two")]) == [
            "occlusion/__init__.py", "occlusion/a.py", "occlusion/c.py", "occlusion/stages.py"]
    finally:
        for cached in (imports.module_file, imports._module_imports, imports._code_deps):
            cached.cache_clear()


def test_stages_check_their_definition_only_under_dvc(tmp_path, monkeypatch):
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("notebooks", "profiles"):  # the notebooks, and the model spec an audit names
        (tmp_path / folder).symlink_to(REPO / folder)
    (tmp_path / "dvc.yaml").write_text((tmp_path / "dvc.yaml").read_text().replace("- augs.${item.preset}\n", "", 1))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    dvcfile.check_dvc_stage()  # outside DVC: nothing to check
    monkeypatch.setenv("DVC_STAGE", "evaluate@coco_hrnet_no_aug")
    dvcfile.check_dvc_stage()
    monkeypatch.setenv("DVC_STAGE", "pretrain@hrnet_w18_small")
    with pytest.raises(ConfigError, match=r"\(stages pretrain\)"):
        dvcfile.check_dvc_stage()


def test_check_current_names_the_fix(tmp_path):
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("notebooks", "profiles"):  # the notebooks, and the model spec an audit names
        (tmp_path / folder).symlink_to(REPO / folder)
    dvcfile.check_current(tmp_path)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["runs"]["coco_hrnet_extra"] = {**params["runs"]["coco_hrnet_no_aug"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ConfigError, match=r"out of date .*`python -m occlusion.dvcfile`"):
        dvcfile.check_current(tmp_path)
    with pytest.raises(ConfigError, match=r"\(stages train\)"):
        dvcfile.check_current(tmp_path, stage="train@coco_hrnet_extra")
    dvcfile.check_current(tmp_path, stage="pretrain@hrnet_w18_small")  # that stage's definition still holds
    dvcfile.write(tmp_path)
    assert "train@coco_hrnet_extra" in _stages((tmp_path / "dvc.yaml").read_text())
    dvcfile.check_current(tmp_path)


@pytest.mark.slow
def test_touching_a_module_invalidates_exactly_the_stages_that_import_it(tmp_path):
    """With every stage's outputs committed to dvc.lock, touching a package module re-runs the ``code`` stage,
    after which `dvc status` lists the stages whose import closure holds the module, and no other."""
    copy_project(tmp_path)
    stages = _stages((tmp_path / "dvc.yaml").read_text())

    def dvc(*args: str) -> str:
        out = subprocess.run([BIN / "dvc", *args], cwd=tmp_path, env=ENV, capture_output=True, text=True)
        assert out.returncode == 0, f"dvc {' '.join(args)}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    dvc("repro", "code")  # the clean notebooks and the real closure lists
    for name, stage in stages.items():  # stand-in outputs for the rest: DVC hashes them, nothing runs
        if name in ("notebooks", "code"):
            continue
        for out in _paths(stage.get("outs", [])) + _paths(stage.get("metrics", [])):
            path = tmp_path / out
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(out)
            else:
                path.mkdir(parents=True, exist_ok=True)
                (path / "stand-in").write_text(out)
    folders = [o for stage in stages.values() for o in _paths(stage.get("outs", [])) if (tmp_path / o).is_dir()]
    for stage in stages.values():  # deps inside an output folder (a run's seed_0/model.pt): stand-ins too
        for dep in _paths(stage.get("deps", [])):
            if not (tmp_path / dep).exists() and any(dep.startswith(f + "/") for f in folders):
                (tmp_path / dep).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / dep).write_text(dep)
    dvc("commit", "--force")
    assert json.loads(dvc("status", "--json")) == {}

    modules = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "occlusion").rglob("*.py"))
    users: dict[str, set[str]] = {}
    for name, stage in stages.items():
        for dep in _paths(stage.get("deps", [])):
            if dep.startswith("build/code/"):
                for line in (tmp_path / dep).read_text().splitlines()[1:]:
                    users.setdefault(line.split()[1], set()).add(name)
    assert users["occlusion/notebooks.py"] >= {"data", "report"}, "the runner is in every stage's list"
    assert "occlusion/models/zoo.py" in users and "occlusion/cli.py" not in users
    by_users: dict[frozenset, str] = {}
    for module in modules:
        by_users.setdefault(frozenset(users.get(module, ())), module)
    assert frozenset() in by_users, "some module (the CLI, this generator) is in no stage's list"
    for expected, module in by_users.items():  # one module of each distinct set of users
        path = tmp_path / module
        original = path.read_text()
        path.write_text(original + "\n# touched\n")
        assert set(json.loads(dvc("status", "--json"))) <= {"notebooks", "code"}  # stale: the lists' stage only
        dvc("repro", "code")
        status = set(json.loads(dvc("status", "--json")))
        path.write_text(original)
        dvc("repro", "code")
        assert status == set(expected), f"touching {module}: dvc status lists {sorted(status)}"
    bytecode = tmp_path / "occlusion" / "models" / "__pycache__" / "zoo.cpython-311.pyc"
    bytecode.parent.mkdir(exist_ok=True)
    bytecode.write_bytes(b"bytecode")
    assert json.loads(dvc("status", "--json")) == {}, "bytecode in the package folder made stages stale"


def test_plots_are_training_curves_per_run_and_seed_and_the_figure_images():
    """`dvc plots show` draws each trained model's loss and validation metric against the epoch (one line per
    run and seed) and the figures as images; a figure's data csv is never drawn as one x/y series."""
    plots = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    curves = {k: v for p in plots if isinstance(p, dict) for k, v in p.items()}
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    logs = {f"runs/{run}/seed_{seed}/train_log.csv" for run, cfg in params["runs"].items() if not cfg.get("checkpoint")
            for seed in cfg.get("seeds", [0])}
    assert curves["training_loss"]["x"] == "epoch"
    assert logs <= set(curves["training_loss"]["y"]) and set(curves["training_loss"]["y"].values()) == {"loss"}
    assert logs <= set(curves["validation_metric"]["y"])
    assert "runs/coco_hrnet_half_body/seed_1/train_log.csv" in logs
    images = [p for p in plots if isinstance(p, str)]
    assert images and all(p.startswith("reports/figures/") and p.endswith(".png") for p in images)
    assert "reports/figures/fig03_models.png" in images and "reports/figures" not in images
