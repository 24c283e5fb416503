"""Bad inputs fail early with a message naming the key path or file; writes are atomic; nothing unsafe is run."""
from __future__ import annotations

import ast
import copy
import io
import json
import pickle
import re
import shutil
import tokenize
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from occlusion import io as oio
from occlusion import runtime
from occlusion import train as train_mod
from occlusion.config import ConfigError
from occlusion.data import load_coco_records, read_image
from occlusion.models import CheckpointError, create_model, load_pose_checkpoint
from occlusion.params import load_params
from occlusion.spec import RunSpec
from occlusion.splits import load_detections, load_split

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def bad_params(tmp_path: Path, edit) -> Path:
    data = copy.deepcopy(PARAMS)
    edit(data)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def config_error(tmp_path: Path, edit) -> str:
    path = bad_params(tmp_path, edit)
    with pytest.raises(ConfigError) as exc:
        load_params(path)
    message = str(exc.value)
    assert str(path) in message
    return message


# --------------------------------------------------------------------------------------------- params


def test_params_yaml_and_profiles_load():
    for path in [REPO / "params.yaml", *sorted((REPO / "profiles").glob("*.yaml"))]:
        load_params(path)


def test_params_unknown_top_level_key(tmp_path):
    msg = config_error(tmp_path, lambda p: p.update(trian={"epochs": 3}))
    assert "unknown key trian" in msg and "train" in msg


def test_params_unknown_nested_key(tmp_path):
    msg = config_error(tmp_path, lambda p: p["train"].update(epochz=3))
    assert "unknown key train.epochz" in msg and "epochs" in msg


def test_params_unknown_key_in_a_run_override(tmp_path):
    msg = config_error(tmp_path, lambda p: p["runs"]["coco_hrnet_no_aug"].update(train={"epochz": 3}))
    assert "runs.coco_hrnet_no_aug.train.epochz" in msg


def test_params_wrong_type(tmp_path):
    msg = config_error(tmp_path, lambda p: p["train"].update(epochs="ten"))
    assert "train.epochs = 'ten'" in msg and "integer" in msg


def test_params_wrong_value_in_a_run_override(tmp_path):
    msg = config_error(tmp_path, lambda p: p["runs"]["coco_hrnet_no_aug"].update(train={"epochs": 0}))
    assert "runs.coco_hrnet_no_aug.train.epochs = 0" in msg


def test_params_probability_out_of_range(tmp_path):
    msg = config_error(tmp_path, lambda p: p["augs"]["blur_k_05"]["augment"]["blurring"].update(prob=1.5))
    assert "augs.blur_k_05.augment.blurring.prob = 1.5" in msg and "[0, 1]" in msg


def test_params_preset_transform_value(tmp_path):
    msg = config_error(tmp_path, lambda p: p["augs"]["no_aug"]["transform"].update(half_body_prob=2.0))
    assert "augs.no_aug.transform.half_body_prob = 2.0" in msg


@pytest.mark.parametrize(("key", "value", "bad"), [
    ("keypoints", ["nose", "l_foot"], "l_foot"),
    ("sweep_keypoints", ["l_hand"], "l_hand"),
    ("parts", ["head", "tail"], "tail"),
    ("fillers", ["blur", "pinkout"], "pinkout"),
    ("per_keypoint_targets", ["nose", "torso"], "torso"),
])
def test_params_unknown_attack_name(tmp_path, key, value, bad):
    msg = config_error(tmp_path, lambda p: p["attack"].update({key: value}))
    assert f"attack.{key} = '{bad}'" in msg


def test_params_unknown_model_arch(tmp_path):
    msg = config_error(tmp_path, lambda p: p["models"]["hrnet"].update(arch="hrnet_w99"))
    assert "models.hrnet.arch = 'hrnet_w99'" in msg and "hrnet_w32" in msg


def test_params_unknown_preset_of_a_run(tmp_path):
    msg = config_error(tmp_path, lambda p: p["runs"]["coco_hrnet_half_body"].update(preset="halfbody"))
    assert "runs.coco_hrnet_half_body.preset = 'halfbody'" in msg and "half_body" in msg


def test_params_unknown_model_of_a_run(tmp_path):
    msg = config_error(tmp_path, lambda p: p["runs"]["coco_sb_partmix_05_keep"].update(model="simplebaseline"))
    assert "runs.coco_sb_partmix_05_keep.model = 'simplebaseline'" in msg


@pytest.mark.parametrize(("edit", "where"), [
    (lambda p: p["attack"].update(radius=0), "attack.radius = 0"),
    (lambda p: p["attack"].update(radius=-3), "attack.radius = -3"),
    (lambda p: p["attack"].update(radius_sweep=[3, 0]), "attack.radius_sweep = 0"),
    (lambda p: p["augs"]["blur_k_05"]["augment"].update(radius=0), "augs.blur_k_05.augment.radius = 0"),
])
def test_params_radius_not_positive(tmp_path, edit, where):
    assert where in config_error(tmp_path, edit)


def test_params_input_size_not_a_multiple(tmp_path):
    msg = config_error(tmp_path, lambda p: p["models"]["sb"].update(input_size=[100, 128]))
    assert "models.sb.input_size = [100, 128]" in msg and "multiples of 16" in msg
    msg = config_error(tmp_path, lambda p: p["models"]["hrnet"].update(input_size=[96, 144]))
    assert "models.hrnet.input_size = [96, 144]" in msg and "multiples of 32" in msg


def test_params_attack_run_model_mismatch(tmp_path):
    msg = config_error(tmp_path, lambda p: p["attack_runs"]["coco_sb_flip_rot_scale"].update(model="hrnet"))
    assert "attack_runs.coco_sb_flip_rot_scale.model = 'hrnet'" in msg and "'sb'" in msg


def test_params_attack_run_unknown_run(tmp_path):
    msg = config_error(tmp_path, lambda p: p["attack_runs"].update(coco_hrnet_nope={"model": "hrnet"}))
    assert "attack_runs.coco_hrnet_nope" in msg


def test_params_negative_seed(tmp_path):
    msg = config_error(tmp_path, lambda p: p["runs"]["coco_hrnet_half_body"].update(seeds=[0, -1]))
    assert "runs.coco_hrnet_half_body.seeds.1 = -1" in msg


def test_params_seeds_must_be_distinct_and_non_empty(tmp_path):
    assert "runs.coco_hrnet_half_body.seeds = [1, 1]: expected distinct seeds" in config_error(
        tmp_path, lambda p: p["runs"]["coco_hrnet_half_body"].update(seeds=[1, 1]))
    assert "runs.coco_hrnet_no_aug.seeds = []" in config_error(
        tmp_path, lambda p: p["runs"]["coco_hrnet_no_aug"].update(seeds=[]))


def test_params_old_single_seed_key_is_refused_with_the_new_name(tmp_path):
    msg = config_error(tmp_path, lambda p: p["runs"]["coco_hrnet_no_aug"].update(seed=1))
    assert "unknown key runs.coco_hrnet_no_aug.seed" in msg and "seeds" in msg


def test_training_a_run_of_several_seeds_needs_the_seed(tmp_path):
    params = load_params(REPO / "profiles" / "embedded.yaml")
    with pytest.raises(ConfigError, match=r"runs.coco_hrnet_blur_k_05.seeds = \[0, 1\]: name the seed"):
        train_mod.train(RunSpec.for_run(params, "coco_hrnet_blur_k_05", out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_params_imported_checkpoint_takes_a_single_seed(tmp_path):
    msg = config_error(tmp_path, lambda p: p["runs"]["coco_hrnet_half_body"].update(
        checkpoint="data/checkpoints/pose_hrnet_w32_256x192.pth", seeds=[0, 1]))
    assert "runs.coco_hrnet_half_body.seeds = [0, 1]: expected a single seed" in msg


def test_run_spec_narrows_one_run_to_one_seed(tmp_path):
    params = load_params(REPO / "profiles" / "embedded.yaml")
    assert params.run("coco_hrnet_half_body").seeds == (0, 1)
    one = RunSpec.for_run(params, "coco_hrnet_half_body", 1, out_dir=tmp_path / "out")
    assert one.run.seeds == (1,) and one.run.seed == 1 and one.seed == 1
    assert params.run("coco_hrnet_half_body").seeds == (0, 1)  # the original is untouched
    msg = r"runs.coco_hrnet_half_body.seeds = \[0, 1\]: expected a list that contains seed 2"
    with pytest.raises(ConfigError, match=msg):
        RunSpec.for_run(params, "coco_hrnet_half_body", 2, out_dir=tmp_path / "out")


def test_params_files_source_without_the_dataset(tmp_path):
    msg = config_error(tmp_path, lambda p: p["data"].update(source="files"))
    assert "data.coco" in msg


def test_params_missing_and_malformed_file(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "nope.yaml"))):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("train: [epochs: 3\n")
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "bad.yaml")) + ".*not valid YAML"):
        load_params(tmp_path / "bad.yaml")


# --------------------------------------------------------------------------------------------- data


def test_missing_annotation_file_is_named(tmp_path):
    data = copy.deepcopy(PARAMS)
    data["data"]["root"] = str(tmp_path / "empty")  # an absolute root
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    params = load_params(tmp_path / "p.yaml")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "empty" / "annotations" /
                                                                "person_keypoints_val.json"))):
        load_split(params, "coco", "val")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "empty" / "mpii" / "train.json"))):
        load_split(params, "mpii", "train")


def test_malformed_annotation_file_is_named(data_root, tmp_path):
    ann = tmp_path / "person_keypoints_val.json"
    ann.write_text('{"images": [')
    with pytest.raises(ValueError, match=re.escape(str(ann)) + ".*not valid JSON"):
        load_coco_records(ann, data_root / "images" / "val")


def test_corrupt_jpeg(tmp_path):
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_image(path)
    path.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        read_image(path)


def test_truncated_jpeg(data_root, tmp_path):
    good = data_root / "images" / "val" / "000001.jpg"
    assert read_image(good).shape == (240, 320, 3)
    data = good.read_bytes()  # OpenCV 4 decodes a truncated JPEG (grey bottom rows): read_image must notice
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*truncated"):
        read_image(path)


def test_missing_image(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "gone.jpg"))):
        read_image(tmp_path / "gone.jpg")


def _detections(path: Path, payload: object) -> Path:
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


@pytest.mark.parametrize(("payload", "message"), [
    ([{"image_id": 999, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9}], "image ids not in the annotation"),
    ([], "is empty"),
    ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2', "not valid JSON"),
    ({"image_id": 1}, "expected a JSON list"),
    ([{"image_id": 1, "category_id": 1, "score": 0.9}], "entry 0 lacks bbox"),
    ([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 0.9}], "is not \\[x, y, w, h\\]"),
])
def test_bad_detection_file_is_named(data_root, tmp_path, payload, message):
    det = _detections(tmp_path / "dets.json", payload)
    ann = data_root / "annotations" / "person_keypoints_val.json"
    with pytest.raises(ValueError, match=re.escape(str(det)) + ".*" + message):
        load_coco_records(ann, data_root / "images" / "val", detections=det)


def test_bad_detection_file_through_params(data_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(data_root, root)
    data = copy.deepcopy(PARAMS)
    data["data"]["root"] = str(root)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    params = load_params(tmp_path / "p.yaml")
    assert len(load_detections(params, "detector").records) > 0
    det = _detections(root / "detections" / "val_detections.json", [])
    with pytest.raises(ValueError, match=re.escape(str(det))):
        load_detections(params, "detector")
    with pytest.raises(ConfigError, match="data.coco.detections.yolo"):
        load_detections(params, "yolo")


# --------------------------------------------------------------------------------------------- checkpoints


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "sb.pt"
    torch.save({"model": create_model("simplebaseline_r18_small", seed=0).state_dict()}, path)
    with pytest.raises(CheckpointError) as exc:
        load_pose_checkpoint(create_model("hrnet_w18_small", seed=0), path)
    msg = str(exc.value)
    assert str(path) in msg and "missing" in msg and "unexpected" in msg
    assert "head.deconv.0.0.weight" in msg or "backbone." in msg


def test_checkpoint_for_another_joint_count_is_refused(tmp_path):
    path = tmp_path / "mpii.pt"
    torch.save({"model": create_model("hrnet_w18_small", num_joints=16, seed=0).state_dict()}, path)
    with pytest.raises(CheckpointError) as exc:
        load_pose_checkpoint(create_model("hrnet_w18_small", num_joints=17, seed=0), path)
    msg = str(exc.value)
    assert str(path) in msg and "head.final.weight (16, 16, 1, 1) vs model head.final.weight (17, 16, 1, 1)" in msg


class _Payload:
    """Unpickling this runs ``Path.touch(marker)``: what a malicious checkpoint could do with any callable."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_checkpoints_load_with_weights_only(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pt"
    model = create_model("hrnet_w18_small", seed=0)
    torch.save({"model": model.state_dict(), "extra": _Payload(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_pose_checkpoint(model, path)
    with pytest.raises(pickle.UnpicklingError):
        runtime.load_checkpoint(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is real: a full unpickle does run it
    assert marker.exists()


def test_training_refuses_a_malicious_resume_checkpoint(tmp_path, data_root):
    data = copy.deepcopy(PARAMS)
    data["data"]["root"] = str(data_root)
    data["train"].update(epochs=1, batch_size=2, workers=0, max_iters_per_epoch=1)
    data["runs"]["coco_sb_flip_rot_scale"]["pretrain"] = None  # from scratch: no pretrain stage in this test
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    marker = tmp_path / "code_ran"
    out = tmp_path / "runs" / "coco_sb_flip_rot_scale"
    (out / "ckpt").mkdir(parents=True)
    torch.save({"epoch": 0, "extra": _Payload(marker)}, out / "ckpt" / "last.pt")
    with pytest.raises(pickle.UnpicklingError):
        train_mod.train(RunSpec.for_run(load_params(tmp_path / "p.yaml"), "coco_sb_flip_rot_scale", out_dir=out),
                        progress=False)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------- atomic writes


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_writes_replace_the_file(tmp_path):
    oio.write_json(tmp_path / "a.json", {"b": 1, "a": np.float32(0.5), "p": tmp_path})
    assert json.loads((tmp_path / "a.json").read_text()) == {"a": 0.5, "b": 1, "p": str(tmp_path)}
    oio.write_csv(tmp_path / "t.csv", pd.DataFrame({"x": [1.0, 1 / 3]}))
    assert (tmp_path / "t.csv").read_text() == "x\n1\n0.333333\n"
    oio.write_text(tmp_path / "u.txt", "Ökonomie ✓")
    assert (tmp_path / "u.txt").read_bytes() == "Ökonomie ✓".encode()
    assert _files(tmp_path) == ["a.json", "t.csv", "u.txt"]
    mode = 0o666 & ~oio._umask()
    assert all((tmp_path / f).stat().st_mode & 0o777 == mode for f in _files(tmp_path))  # not mkstemp's 0o600


def test_write_json_failing_serializer_leaves_the_old_file(tmp_path):
    path = oio.write_json(tmp_path / "r.json", {"ok": 1})
    with pytest.raises(TypeError, match="object"):
        oio.write_json(path, {"ok": 2, "bad": object()})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert _files(tmp_path) == ["r.json"]


def test_write_csv_failing_midway_leaves_the_old_file(tmp_path, monkeypatch):
    path = oio.write_csv(tmp_path / "r.csv", pd.DataFrame({"x": [1]}))

    def half_then_fail(self, text, *args, **kwargs):
        with open(self, "w") as fh:
            fh.write(text[: len(text) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        oio.write_csv(path, pd.DataFrame({"x": list(range(100))}))
    monkeypatch.undo()
    assert path.read_text() == "x\n1\n"
    assert _files(tmp_path) == ["r.csv"]


def test_torch_save_failing_midway_leaves_the_old_file(tmp_path):
    path = oio.torch_save({"w": torch.ones(3)}, tmp_path / "m.pt")
    before = path.read_bytes()

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle this")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        oio.torch_save({"w": torch.zeros(1000), "x": Unpicklable()}, path)
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["m.pt"]


@pytest.mark.parametrize("write", [
    lambda p: oio.write_json(p, {"new": True}),
    lambda p: oio.write_csv(p, pd.DataFrame({"new": [1]})),
    lambda p: oio.torch_save({"new": torch.ones(2)}, p),
])
def test_failed_rename_leaves_the_old_file(tmp_path, monkeypatch, write):
    path = tmp_path / "result"
    path.write_bytes(b"old")

    def fail(*args):
        raise OSError("rename failed")

    monkeypatch.setattr(oio.os, "replace", fail)
    with pytest.raises(OSError, match="rename failed"):
        write(path)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert _files(tmp_path) == ["result"]


def test_torch_save_is_byte_stable(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "meta": {"epoch": 3}}
    a = oio.torch_save(state, tmp_path / "a.pt").read_bytes()
    b = oio.torch_save(state, tmp_path / "sub" / "b.pt").read_bytes()
    assert a == b  # the archive is not named after the random temporary file
    assert torch.equal(torch.load(tmp_path / "a.pt", weights_only=True)["w"], state["w"])


# --------------------------------------------------------------------------------------------- static guarantee

_CALL = re.compile(r"(?<![\w.])(eval|exec)\s*\(|shell\s*=\s*True|os\.system\s*\(|os\.popen\s*\(")


def code_only(source: str) -> str:
    """``source`` with every string literal and comment blanked out (line and column positions kept)."""
    rows = [list(line) for line in source.splitlines(keepends=True)]
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.STRING, tokenize.COMMENT):
            continue
        (r0, c0), (r1, c1) = tok.start, tok.end
        for r in range(r0, r1 + 1):
            row = rows[r - 1]
            for c in range(c0 if r == r0 else 0, c1 if r == r1 else len(row)):
                if row[c] != "\n":
                    row[c] = " "
    return "".join("".join(row) for row in rows)


_SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader"}


def _safe_yaml_loader(node: ast.expr | None) -> bool:
    """``Loader=`` names PyYAML's safe loader, or picks between its C and Python builds (``a if c else b``)."""
    if isinstance(node, ast.IfExp):
        return _safe_yaml_loader(node.body) and _safe_yaml_loader(node.orelse)
    return node is not None and ast.unparse(node) in _SAFE_YAML_LOADERS


def unsafe_calls(source: str, name: str = "<source>") -> list[str]:
    """Code that evaluates strings, runs a shell, or unpickles without ``weights_only`` / with ``allow_pickle``."""
    found = [f"{name}:{i}: {line.strip()}" for i, line in enumerate(code_only(source).splitlines(), 1)
             if _CALL.search(line)]
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = ast.unparse(node.func)
        kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
        loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
        bad = (
            func in ("eval", "exec", "os.system", "os.popen", "pickle.load", "pickle.loads", "yaml.unsafe_load",
                     "marshal.loads")
            or (func == "yaml.load" and not _safe_yaml_loader(loader))
            or kw.get("shell") == "True"
            or (func == "torch.load" and kw.get("weights_only") != "True")
            or (func in ("np.load", "numpy.load") and kw.get("allow_pickle") == "True")
        )
        if bad:
            found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_unsafe_call_finder_finds_them():
    snippet = (
        "import os, subprocess, torch, yaml, numpy as np\n"
        "eval('1')\nexec('x = 1')\nos.system('ls')\nsubprocess.run('ls', shell=True)\n"
        "torch.load('m.pt')\nyaml.load(open('a'))\nnp.load('a.npy', allow_pickle=True)\n"
        "yaml.load(open('a'), Loader=yaml.CSafeLoader)\nyaml.load(open('a'), Loader=yaml.Loader)\n"
        "yaml.load(t, Loader=yaml.CSafeLoader if c else yaml.SafeLoader)\n"
        "yaml.load(t, Loader=yaml.Loader if c else yaml.SafeLoader)\n"
        "model.eval()\ncoco_keypoint_eval(gt)\ntorch.load('m.pt', weights_only=True)\n"
        "x = 'a string with eval(y) in it'  # or exec(y) in a comment\n"
    )
    flagged = {int(f.split(":")[1]) for f in unsafe_calls(snippet)}
    assert flagged == {2, 3, 4, 5, 6, 7, 8, 10, 12}


def test_package_has_no_eval_exec_shell_or_unsafe_unpickling():
    sources = sorted((REPO / "occlusion").rglob("*.py"))
    assert len(sources) > 10
    found = [f for path in sources for f in unsafe_calls(path.read_text(), path.relative_to(REPO).as_posix())]
    assert found == []


def test_a_run_must_name_a_defined_pretrain_of_its_own_arch(tmp_path):
    data = copy.deepcopy(PARAMS)
    data["runs"]["coco_hrnet_half_body"]["pretrain"] = "nope"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"runs\.coco_hrnet_half_body\.pretrain = 'nope'"):
        load_params(tmp_path / "a.yaml")
    data["runs"]["coco_hrnet_half_body"]["pretrain"] = "simplebaseline_r18_small"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"same arch \(hrnet_w18_small\)"):
        load_params(tmp_path / "b.yaml")
