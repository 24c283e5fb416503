"""The README's paper-profile steps, rehearsed on CPU at the paper's model sizes: real COCO and MPII samples in
their official layouts (or, without ../shared/data, the generated data written in those layouts), detection files
under the paper's names, official-layout checkpoints of every model written by the package's own exporters,
ImageNet weights as local files, `occlusion profile paper` plus the small overlay tests/paper_rehearsal.yaml,
then `dvc repro` through every stage to reports/index.md."""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import copy_project

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHARED = Path(os.environ.get("OCCLUSION_SHARED_DATA", REPO.parent / "shared" / "data"))
REPLACED = ("runs", "attack_runs", "bottomup.runs", "data.coco.detections")


def merge(base: dict, overlay: dict, path: str = "") -> dict:
    """``overlay`` merged into ``base`` key by key; the mappings named in ``REPLACED`` are replaced whole."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict) and isinstance(out.get(key), dict) and where not in REPLACED:
            out[key] = merge(out[key], value, where)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _subset_coco(src_ann: Path, src_images: Path, dst_ann: Path, dst_images: Path, n_images: int) -> list[dict]:
    """The first ``n_images`` images that hold a person with keypoints, their annotations, the images copied."""
    data = json.loads(src_ann.read_text())
    with_people = {a["image_id"] for a in data["annotations"] if a.get("num_keypoints", 0) > 0 and not a["iscrowd"]}
    images = [im for im in data["images"] if im["id"] in with_people][:n_images]
    ids = {im["id"] for im in images}
    data["images"] = images
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    dst_ann.parent.mkdir(parents=True, exist_ok=True)
    dst_ann.write_text(json.dumps(data))
    dst_images.mkdir(parents=True, exist_ok=True)
    for im in images:
        shutil.copy(src_images / im["file_name"], dst_images / im["file_name"])
    return data["annotations"]


def _write_gt_valid(path: Path, entries: list[dict]) -> None:
    """HRNet's ``gt_valid.mat`` structure; head boxes around head top and upper neck (1-based, as the .mat)."""
    from scipy.io import savemat

    boxes = []
    for e in entries:
        top, neck = np.asarray(e["joints"][9], float), np.asarray(e["joints"][8], float)
        side = max(np.linalg.norm(top - neck), 10.0)
        centre = (top + neck) / 2
        boxes.append([centre - side / 2, centre + side / 2])
    src = np.transpose(np.asarray(boxes), (1, 2, 0))  # corner x (x, y) x person
    savemat(path, {"headboxes_src": src, "jnt_missing": np.zeros((16, len(entries))),
                   "pos_gt_src": np.zeros((16, 2, len(entries)))})


def _lay_out_data(root: Path, params: dict, overlay: dict) -> str:
    """COCO 2017 and HRNet MPII files where the paper profile expects them; returns where they came from."""
    coco, mpii = params["data"]["coco"], params["data"]["mpii"]
    if (SHARED / "coco_mini").is_dir() and (SHARED / "mpii_sample").is_dir():
        src = SHARED / "coco_mini"
        for split, n in (("train", 4), ("val", 2)):
            _subset_coco(src / "annotations" / f"person_keypoints_{split}2017.json", src / f"{split}2017",
                         root / coco[f"{split}_annotations"], root / coco[f"{split}_images"], n)
        entries = json.loads((SHARED / "mpii_sample" / "test_mpii.json").read_text())
        for image in {e["image"] for e in entries}:
            (root / mpii["val_images"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(SHARED / "mpii_sample" / image, root / mpii["val_images"] / image)
        origin = "real COCO 2017 and MPII samples (../shared/data)"
    else:
        from occlusion.synthetic import SyntheticConfig, generate_dataset

        gen = root / "generated"
        generate_dataset(gen, SyntheticConfig(train_images=4, val_images=2), progress=False)
        for split in ("train", "val"):
            _subset_coco(gen / "annotations" / f"person_keypoints_{split}.json", gen / "images" / split,
                         root / coco[f"{split}_annotations"], root / coco[f"{split}_images"], 4)
        entries = json.loads((gen / "mpii" / "valid.json").read_text())
        shutil.copytree(gen / "images", root / mpii["val_images"], dirs_exist_ok=True)
        origin = "generated data in the COCO 2017 and HRNet MPII layouts"
    for split in ("train_annotations", "val_annotations"):
        (root / mpii[split]).parent.mkdir(parents=True, exist_ok=True)
        (root / mpii[split]).write_text(json.dumps(entries))
    _write_gt_valid(root / mpii["head_boxes"], entries)
    gt = json.loads((root / coco["val_annotations"]).read_text())["annotations"]
    coco = {**coco, "detections": overlay["data"]["coco"]["detections"]}
    rng = np.random.default_rng(0)
    for i, path in enumerate(coco["detections"].values()):  # each "detector": the GT person boxes, jittered
        dets = [{"image_id": a["image_id"], "category_id": 1, "score": float(rng.uniform(0.5, 1.0)),
                 "bbox": [float(v) + float(rng.normal(0, 2.0 * i)) for v in a["bbox"]]}
                for a in gt if a["category_id"] == 1 and not a["iscrowd"]]
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(json.dumps(dets))
    return origin


def _lay_out_real_occlusion(root: Path, params: dict) -> None:
    """OCHuman and CrowdPose files where the paper profile's ``realocc:`` expects them: the real samples of
    ../shared/data, or else the generated stand-ins in the same formats."""
    ro = params["realocc"]
    if (SHARED / "ochuman_sample").is_dir() and (SHARED / "crowdpose_sample").is_dir():
        sources = {"ochuman": (SHARED / "ochuman_sample" / "test_ochuman.json", SHARED / "ochuman_sample", None),
                   "crowdpose": (SHARED / "crowdpose_sample" / "test_crowdpose.json", SHARED / "crowdpose_sample",
                                 SHARED / "crowdpose_sample" / "test_crowdpose_det_AP_40.json")}
    else:
        from occlusion.synthetic import SyntheticConfig, generate_dataset

        gen = root / "generated_realocc"
        generate_dataset(gen, SyntheticConfig(train_images=1, val_images=1, ochuman_images=2, crowdpose_images=2),
                         progress=False)
        sources = {name: (gen / name / "annotations" / f"{name}_val.json", gen / name / "images",
                          gen / name / "detections" / "val_detections.json") for name in ("ochuman", "crowdpose")}
    for name, (ann, images, dets) in sources.items():
        files = ro[name]
        (root / files["annotations"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ann, root / files["annotations"])
        (root / files["images"]).mkdir(parents=True, exist_ok=True)
        for image in json.loads(Path(ann).read_text())["images"]:
            shutil.copy(Path(images) / image["file_name"], root / files["images"] / image["file_name"])
        if files.get("detections"):
            shutil.copy(dets, root / files["detections"])


def _write_weights(root: Path, params: dict, overlay: dict) -> None:
    """Official-layout checkpoints of every imported run (random weights, the package's exporters) and timm's
    ImageNet weights of both backbones as local files."""
    import timm

    from occlusion.bottomup import create_bottomup_model
    from occlusion.bottomup.checkpoint import export_bottomup_checkpoint
    from occlusion.models import create_model, export_checkpoint

    models = params["models"]
    for run in overlay["runs"].values():
        if "checkpoint" in run:
            arch = models[run["model"]]["arch"]
            layout = "official_hrnet" if arch.startswith("hrnet") else "official_simplebaseline"
            model = create_model(arch, num_joints=16 if run["dataset"] == "mpii" else 17, seed=0)
            (root / run["checkpoint"]).parent.mkdir(parents=True, exist_ok=True)
            torch.save(export_checkpoint(model, layout), root / run["checkpoint"])
    baseline = overlay["bottomup"]["runs"]["higherhrnet_baseline"]["checkpoint"]
    torch.save(export_bottomup_checkpoint(create_bottomup_model(params["bottomup"]["model"]["arch"], seed=0)),
               root / baseline)
    for key, variant in (("hrnet_w32", "hrnet_w32"), ("resnet50", "resnet50")):
        path = root / overlay["pretrain"][key]["weights"]
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(timm.create_model(variant, pretrained=False).state_dict(), path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_paper_profile_runs_every_stage_on_real_files(tmp_path):
    copy_project(tmp_path)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HF_HUB_OFFLINE": "1"}

    def run(*cmd: str) -> str:
        out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
        return out.stdout

    # the README's steps: the files in place, `occlusion profile paper`, the overlay, `dvc repro`
    paper = yaml.safe_load((REPO / "profiles" / "paper.yaml").read_text())
    overlay = yaml.safe_load((REPO / "tests" / "paper_rehearsal.yaml").read_text())
    origin = _lay_out_data(tmp_path, paper, overlay)
    _lay_out_real_occlusion(tmp_path, paper)
    _write_weights(tmp_path, paper, overlay)
    run(str(BIN / "occlusion"), "profile", "paper")
    (tmp_path / "profiles" / "rehearsal.yaml").write_text(yaml.safe_dump(merge(paper, overlay), sort_keys=False))
    run(str(BIN / "occlusion"), "profile", "rehearsal")
    stages = run(str(BIN / "dvc"), "repro")

    for stage in ("data", "imagenet@hrnet_w32", "import@coco_hrnet_half_body", "train@coco_hrnet_partmix_05_keep",
                  "import@mpii_hrnet_flip_rot_scale", "evaluate@mpii_hrnet_partmix_05_keep",
                  "attack@coco_sb_flip_rot_scale", "bottomup_import@higherhrnet_baseline",
                  "bottomup_train@higherhrnet_partmix_05_keep", "table2", "table3", "realocc", "fig16_realocc",
                  "report"):
        assert f"Running stage '{stage}'" in stages, f"{stage} did not run ({origin})"
    assert "pretrain@" not in stages  # the paper starts from ImageNet, not from a trained pretrain
    evaluated = json.loads((tmp_path / "results" / "train" / "coco_hrnet_half_body.json").read_text())
    assert evaluated["per_seed"]["seed_0"]["imported_checkpoint"] == "data/checkpoints/pose_hrnet_w32_256x192.pth"
    boxes = set(__import__("pandas").read_csv(tmp_path / "results" / "eval" / "hrnet" / "coco_hrnet_half_body.csv")
                .boxes)
    assert boxes == {"gt", *overlay["data"]["coco"]["detections"]}
    table2 = (tmp_path / "reports" / "tables" / "table2.md").read_text()
    assert "partmix_05_keep" in table2
    index = (tmp_path / "reports" / "index.md").read_text()
    assert "- profile: `paper`" in index and "*missing" not in index
    assert run(str(BIN / "dvc"), "status").strip().endswith("Data and pipelines are up to date.")
