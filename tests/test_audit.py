"""``occlusion audit`` end to end on the real COCO samples with an ONNX export of a registry model."""
from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
import torch
import yaml

from occlusion import cli, engine
from occlusion.audit import grid_config, run_audit
from occlusion.config import ConfigError
from occlusion.estimators import EstimatorError, create_estimator
from occlusion.keypoints import COCO
from occlusion.models import create_model


@pytest.fixture(scope="module")
def coco_mini(shared_data):
    root = shared_data / "coco_mini"
    return root / "annotations" / "person_keypoints_val2017.json", root / "val2017"


@pytest.fixture(scope="module")
def onnx_spec(tmp_path_factory):
    pytest.importorskip("onnxruntime", reason="the audit extra (onnxruntime) is not installed")
    tmp = tmp_path_factory.mktemp("audit_model")
    model = create_model("hrnet_w18_small", seed=0).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 128, 96),), tmp / "hrnet.onnx", dynamo=False,
                          input_names=["image"], dynamic_axes={"image": {0: "n"}})
    spec = tmp / "hrnet.yaml"
    spec.write_text(yaml.safe_dump({"kind": "onnx", "file": "hrnet.onnx", "codec": "heatmap", "keypoints": "coco",
                                    "flip_test": True}))
    return spec


def test_audit_cli_writes_the_scorecard(coco_mini, onnx_spec, tmp_path):
    ann, images = coco_mini
    out = tmp_path / "audit"
    assert cli.main(["audit", str(onnx_spec), "--annotations", str(ann), "--images", str(images), "--out", str(out),
                     "--keypoints", "nose", "--parts", "upper_body", "--fillers", "blackout", "--radius-sweep", "3",
                     "--bootstrap", "20", "--max-persons", "30", "--quiet"]) == 0
    table = pd.read_csv(out / "attack_table.csv")
    metrics = [c for m in engine.METRICS for c in (f"clean_{m}", f"delta_{m}")]
    assert list(table.columns) == ["run", "model", "preset", "seed", "dataset", "boxes", *engine.CONFIG_COLUMNS,
                                   "keypoint", *engine.METRICS, *metrics, *engine.INTERVAL_COLUMNS]  # the pipeline's
    overall = table[table.keypoint == "all"]
    assert overall.target.tolist() == ["clean", "nose", "nose", "upper_body"]  # r6, the r3 sweep, the part
    assert table.delta_AP_p.notna().all()
    assert engine.AttackBootstrap.read(out / "attack_table.boot.npz").ap.shape == (4, 20)
    awareness = json.loads((out / "awareness.json").read_text())
    names = [a["attack"] for a in awareness["attacks"]]
    assert names == ["nose_blackout_r6", "nose_blackout_r3", "upper_body_blackout"]
    assert awareness["attacks"][0]["n_hidden"] > 10 and 0 <= awareness["attacks"][0]["auroc"] <= 1
    assert awareness["clean"]["n_occluded"] > 0 and set(awareness["clean"]["per_keypoint"]) == set(COCO.names)
    summary = json.loads((out / "audit.json").read_text())
    assert summary["persons"] == 30 and summary["flip_test"] is True and summary["metadata"]["input_size"] == [96, 128]
    card = (out / "scorecard.md").read_text()
    for heading in ("The ten worst attacks", "ΔAP per part", "ΔAP per keypoint attack", "disc radius",
                    "know a keypoint is hidden"):
        assert heading in card
    assert (out / "scorecard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for fig in ("fig3", "fig4", "fig5", "fig6", "fig7", "fig8"):  # the paper's figures for this model
        assert (out / "figures" / f"{fig}.png").is_file() and f"figures/{fig}.png" in card


def test_audit_of_the_onnx_copy_equals_the_registry_model(coco_mini, onnx_spec, tmp_path):
    """The same audit through the torch model: the same AP in every row (the keypoints agree within 1e-3 px)."""
    ann, images = coco_mini
    grid = grid_config(keypoints=["left_wrist"], parts=[], fillers=["blackout"], radius_sweep=[],
                       bootstrap_resamples=0)
    model = create_model("hrnet_w18_small", seed=0)
    a = run_audit(create_estimator("registry", arch="hrnet_w18_small", model=model), ann, images, tmp_path / "torch",
                  grid=grid, max_persons=20, progress=False)
    b = run_audit(cli_estimator(onnx_spec), ann, images, tmp_path / "onnx", grid=grid, max_persons=20, progress=False)
    assert a["clean_AP"] == pytest.approx(b["clean_AP"], abs=1e-6)
    ta, tb = (pd.read_csv(tmp_path / d / "attack_table.csv") for d in ("torch", "onnx"))
    pd.testing.assert_series_equal(ta["AP"], tb["AP"], atol=1e-4)


def cli_estimator(spec):
    from occlusion.audit import load_model

    return load_model(str(spec), [])


def test_bad_dataset_or_grid_fails_before_any_pass(coco_mini, onnx_spec, tmp_path):
    ann, images = coco_mini
    data = json.loads(ann.read_text())
    data["categories"][0]["keypoints"] = ["head_top", *data["categories"][0]["keypoints"][1:]]
    bad = tmp_path / "renamed.json"
    bad.write_text(json.dumps(data))
    est = cli_estimator(onnx_spec)
    with pytest.raises(ValueError, match=r"renamed\.json: the person category's keypoints .* are not COCO-17's"):
        run_audit(est, bad, images, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="image folder"):
        run_audit(est, ann, tmp_path / "no_images", tmp_path / "out")
    with pytest.raises(ConfigError, match=r"grid\.fillers = 'smoke'"):
        grid_config(fillers=["smoke"])
    with pytest.raises(EstimatorError, match=r"hrnet\.yaml: codec: unknown codec 'dark'"):
        cli.main(["audit", str(onnx_spec), "--set", "codec=dark", "--annotations", str(ann), "--images",
                  str(images), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_audit_stage_runs_under_dvc_and_follows_the_model_file(coco_mini, onnx_spec, tmp_path):
    """`audits:` in params.yaml -> the `audit@<name>` stage: `dvc repro` writes the scorecard under
    results/audit/<name>/, and a changed model file (which the spec names) makes it stale."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from conftest import copy_project

    copy_project(tmp_path)
    ann, images = coco_mini
    data = tmp_path / "data" / "coco_mini"
    shutil.copytree(images, data / "val2017")
    shutil.copy(ann, data / ann.name)
    models = tmp_path / "models"
    models.mkdir()
    for f in (onnx_spec, onnx_spec.with_name("hrnet.onnx")):
        shutil.copy(f, models / f.name)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["audits"] = {"hrnet_onnx": {
        "spec": "models/hrnet.yaml", "annotations": f"data/coco_mini/{ann.name}", "images": "data/coco_mini/val2017",
        "grid": {"keypoints": ["nose"], "parts": ["upper_body"], "fillers": ["blackout"], "radius_sweep": [3],
                 "sweep_keypoints": ["nose"], "per_keypoint_targets": ["nose"], "bootstrap_resamples": 20},
        "max_persons": 30}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run([sys.executable, "-m", "occlusion.dvcfile"], cwd=tmp_path, check=True, capture_output=True)
    stage = yaml.safe_load((tmp_path / "dvc.yaml").read_text())["stages"]["audit"]
    assert stage["foreach"]["hrnet_onnx"] == {"spec": "models/hrnet.yaml", "model": "models/hrnet.onnx",
                                              "data": f"data/coco_mini/{ann.name}",
                                              "detections": f"data/coco_mini/{ann.name}"}
    dvc = Path(sys.executable).with_name("dvc")

    def run(*args: str) -> str:
        env = {**os.environ, "PATH": f"{dvc.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        out = subprocess.run([str(dvc), *args], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out.stdout

    run("repro", "audit@hrnet_onnx")
    out = tmp_path / "results" / "audit" / "hrnet_onnx"
    assert "clean AP" in (out / "scorecard.md").read_text() and (out / "scorecard.png").is_file()
    assert set(pd.read_csv(out / "attack_table.csv").target) == {"clean", "nose", "upper_body"}
    assert json.loads(run("status", "--json", "audit@hrnet_onnx")) == {}
    (models / "hrnet.onnx").write_bytes((models / "hrnet.onnx").read_bytes() + b"\0")  # another model file
    assert "audit@hrnet_onnx" in json.loads(run("status", "--json", "audit@hrnet_onnx"))
