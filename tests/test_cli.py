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
        main(["download", "ochuman"])
    assert "invalid choice: 'ochuman'" in capsys.readouterr().err
