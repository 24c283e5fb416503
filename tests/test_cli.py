"""The `occlusion` command line: switching profiles keeps the user's edits and regenerates dvc.yaml."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from occlusion.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def project(tmp_path, monkeypatch):
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("profiles", "notebooks"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_profile_switch_regenerates_dvc_yaml(project, capsys):
    assert main(["profile", "paper"]) == 0
    assert (project / "params.yaml").read_text() == (project / "profiles" / "paper.yaml").read_text()
    assert "import@coco_hrnet_half_body" not in (REPO / "dvc.yaml").read_text()
    assert "coco_hrnet_half_body:\n        model: hrnet\n        preset: half_body\n        checkpoint:" in \
        (project / "dvc.yaml").read_text()
    assert "dvc.yaml follows it" in capsys.readouterr().out
    assert main(["profile", "embedded"]) == 0
    assert (project / "dvc.yaml").read_text() == (REPO / "dvc.yaml").read_text()


def test_profile_switch_keeps_an_edited_params_yaml(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["epochs"] = 7
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    edited = (project / "params.yaml").read_text()
    with pytest.raises(SystemExit, match="edits that no profile in profiles/ holds.*--force"):
        main(["profile", "paper"])
    assert (project / "params.yaml").read_text() == edited
    assert main(["profile", "paper", "--force"]) == 0
    assert (project / "params.yaml.bak").read_text() == edited


def test_unknown_profile_lists_the_known_ones(project):
    with pytest.raises(SystemExit, match="unknown profile 'papr'; known: embedded, paper, smoke"):
        main(["profile", "papr"])


def test_one_command_line_lists_its_subcommands():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "occlusion", "--help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for command in ("profile", "list", "download", "train", "evaluate", "attack", "report", "stages"):
        assert f"    {command} " in out.stdout, f"`occlusion --help` does not list {command}"


def test_stage_commands_name_an_unknown_run(project):
    for command in ("train", "evaluate", "attack"):
        with pytest.raises(Exception, match="coco_hrnet_nope"):
            main([command, "coco_hrnet_nope"])


def test_stages_check_passes_on_the_committed_files_and_download_needs_a_known_dataset(project, capsys):
    assert main(["stages", "--check"]) == 0
    with pytest.raises(SystemExit):
        main(["download", "h36m"])
    assert "invalid choice: 'h36m'" in capsys.readouterr().err


def test_download_checkpoints_fetches_and_verifies_what_the_runs_import(project, monkeypatch, capsys):
    """`occlusion download checkpoints`: every published checkpoint a run imports, from its URL (a local file
    here), checked against its sha256; a file of another hash and a checkpoint without a URL are named."""
    import dataclasses
    import hashlib

    from occlusion.models import checkpoint

    vit = "td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth"
    published = project / "mirror" / vit
    published.parent.mkdir()
    published.write_bytes(b"weights" * 1000)
    digest = hashlib.sha256(published.read_bytes()).hexdigest()
    entry = dataclasses.replace(checkpoint.CHECKPOINTS[vit], url=published.as_uri(), sha256=digest, sha256_prefix=None)
    monkeypatch.setitem(checkpoint.CHECKPOINTS, vit, entry)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["models"]["vitpose"] = yaml.safe_load((project / "profiles" / "paper.yaml").read_text())["models"]["vitpose"]
    params["runs"] = {"coco_vitpose_half_body": {"dataset": "coco", "model": "vitpose", "preset": "half_body",
                                                 "checkpoint": f"data/checkpoints/{vit}"}}
    params["attack_runs"] = {}
    params["attack"].pop("objects")  # the object attacks and the worst-case search name the replaced runs
    params.pop("worstcase")
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    assert main(["download", "checkpoints", "--quiet"]) == 0
    assert (project / "data" / "checkpoints" / vit).read_bytes() == published.read_bytes()
    assert capsys.readouterr().out.strip() == str(Path("data") / "checkpoints" / vit)

    (project / "data" / "checkpoints" / vit).write_bytes(b"another file")
    assert main(["download", "checkpoints", "--quiet"]) == 1
    assert f"sha256 does not start with {digest}" in capsys.readouterr().err

    params["runs"]["coco_hrnet_half_body"] = {"dataset": "coco", "model": "hrnet", "preset": "half_body",
                                              "checkpoint": "data/checkpoints/pose_hrnet_w32_256x192.pth"}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (project / "data" / "checkpoints" / vit).unlink()
    assert main(["download", "checkpoints", "--quiet"]) == 1
    assert "pose_hrnet_w32_256x192.pth has no direct download URL" in capsys.readouterr().err
