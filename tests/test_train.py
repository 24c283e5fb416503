"""Training (docs/METHODS.md §5): the loss, the LR schedule, outputs, exact resumption and DDP equivalence.

Everything runs on a tiny generated dataset (8 training images, 20 people; 4 validation images) with
SimpleBaseline-R18-small at 96x128, batch 4 and a few iterations.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from occlusion import runtime
from occlusion import train as train_mod
from occlusion.config import ConfigError
from occlusion.io import file_fingerprint
from occlusion.keypoints import get_skeleton
from occlusion.models import create_model, load_pose_checkpoint
from occlusion.params import TrainConfig, load_params
from occlusion.runtime import lr_for_epoch
from occlusion.spec import RunSpec
from occlusion.train import joints_mse_loss

REPO = Path(__file__).resolve().parents[1]
RUN = "t_sb"
TRAIN = {  # 2 epochs of 3 iterations of 4 crops; the LR drops for the second epoch (legacy order)
    "epochs": 2, "batch_size": 4, "workers": 0, "max_iters_per_epoch": 3, "milestones": [2], "eval_every": 1,
    "checkpoint_every": 0,
}


def write_params(path: Path, data_root: Path, **train: object) -> Path:
    """profiles/smoke.yaml with the data at ``data_root`` (absolute), :data:`TRAIN` and the test runs."""
    y = yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text())
    y["data"]["root"] = str(data_root)
    y["train"].update({**TRAIN, **train})
    y["runs"][RUN] = {"dataset": "coco", "model": "sb", "preset": "cutblur_k_05"}  # transform + augmenter draws
    path.write_text(yaml.safe_dump(y))
    return path


def run_train(params_file: Path, out: Path, run: str = RUN) -> dict:
    return train_mod.train(RunSpec.for_run(load_params(params_file), run, out_dir=out), progress=False)


def final_state(out: Path) -> dict:
    return torch.load(out / "ckpt" / "last.pt", map_location="cpu", weights_only=True)


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def assert_same_optimizer(a: dict, b: dict) -> None:
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        for k, v in a["state"][i].items():
            assert torch.equal(v, b["state"][i][k]), (i, k)


def log_without_timing(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "train_log.csv").drop(columns=["samples_per_s", "seconds"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_root) -> Path:
    """One uninterrupted run: 2 epochs x 3 iterations, no mid-epoch checkpoints."""
    tmp = tmp_path_factory.mktemp("reference")
    out = tmp / "runs" / RUN
    run_train(write_params(tmp / "params.yaml", data_root), out)
    return out


# --------------------------------------------------------------------------------------------- loss, schedule


def test_joints_mse_loss_is_hrnets_formula():
    g = torch.Generator().manual_seed(0)
    pred, gt = torch.rand(3, 5, 8, 6, generator=g), torch.rand(3, 5, 8, 6, generator=g)
    weight = torch.randint(0, 2, (3, 5, 1), generator=g).float()
    by_hand = 0.0
    for j in range(5):  # HRNet JointsMSELoss: sum over joints of 0.5 * MSE(w*pred_j, w*gt_j), divided by joints
        w = weight[:, j].reshape(3, 1, 1)
        by_hand += 0.5 * torch.mean((pred[:, j] * w - gt[:, j] * w) ** 2)
    by_hand /= 5
    assert torch.allclose(joints_mse_loss(pred, gt, weight), by_hand, rtol=1e-6, atol=0)


def test_joints_mse_loss_ignores_zero_weight_joints():
    g = torch.Generator().manual_seed(1)
    pred, gt = torch.rand(2, 4, 8, 6, generator=g), torch.rand(2, 4, 8, 6, generator=g)
    weight = torch.ones(2, 4, 1)
    weight[1, 2] = 0
    changed = pred.clone()
    changed[1, 2] += 100.0  # a wildly wrong heatmap on the zero-weight joint
    assert joints_mse_loss(changed, gt, weight) == joints_mse_loss(pred, gt, weight)
    changed[0, 2] += 1.0  # the same joint of a weighted sample does count
    assert joints_mse_loss(changed, gt, weight) > joints_mse_loss(pred, gt, weight)


def test_lr_for_epoch_legacy_order_moves_drops_one_epoch_earlier():
    legacy = TrainConfig(lr=1e-3, milestones=(170, 200), gamma=0.1, legacy_scheduler_order=True)
    fixed = TrainConfig(lr=1e-3, milestones=(170, 200), gamma=0.1, legacy_scheduler_order=False)
    assert lr_for_epoch(legacy, 168) == pytest.approx(1e-3)
    assert lr_for_epoch(legacy, 169) == pytest.approx(1e-4)
    assert lr_for_epoch(fixed, 169) == pytest.approx(1e-3)
    assert lr_for_epoch(fixed, 170) == pytest.approx(1e-4)
    assert lr_for_epoch(legacy, 199) == pytest.approx(1e-5)
    assert lr_for_epoch(fixed, 199) == pytest.approx(1e-4)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")  # the legacy order on purpose
@pytest.mark.parametrize("legacy", [True, False])
def test_lr_for_epoch_matches_torch_multisteplr(legacy):
    """The reference steps MultiStepLR at the start of each epoch (legacy); the fixed order steps at the end."""
    cfg = TrainConfig(epochs=210, lr=1e-3, milestones=(170, 200), gamma=0.1, legacy_scheduler_order=legacy)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    for epoch in range(cfg.epochs):
        if legacy:
            sched.step()
        assert lr_for_epoch(cfg, epoch) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12), epoch
        opt.step()
        if not legacy:
            sched.step()


# --------------------------------------------------------------------------------------------- outputs


def test_training_run_writes_its_outputs(reference, data_root):
    assert {p.name for p in reference.iterdir()} >= {"ckpt", "model.pt", "train_log.csv", "train.json"}
    state = final_state(reference)
    assert (state["epoch"], state["iteration"]) == (2, 0)
    log = pd.read_csv(reference / "train_log.csv")
    assert log["epoch"].tolist() == [1, 2]
    assert log["lr"].tolist() == pytest.approx([2e-3, 2e-4])  # milestone 2, legacy order: drop for epoch index 1
    assert np.isfinite(log["loss"]).all() and (log["loss"] > 0).all()
    assert log["val_metric"].notna().all()

    summary = json.loads((reference / "train.json").read_text())
    prov = summary["provenance"]
    assert {"package_version", "git_commit", "params_hash", "data_fingerprint", "device", "seed"} <= prov.keys()
    assert prov["data_fingerprint"] == file_fingerprint(data_root / "annotations" / "person_keypoints_train.json")
    assert (prov["device"], prov["seed"]) == ("cpu", 0)
    assert len(prov["params_hash"]) == 16 and int(prov["params_hash"], 16) >= 0
    assert summary["best_val_metric"] == pytest.approx(log["val_metric"].max())
    assert summary["epochs"] == 2 and summary["arch"] == "simplebaseline_r18_small"

    model = create_model("simplebaseline_r18_small", num_joints=get_skeleton("coco").num_joints)
    report = load_pose_checkpoint(model, reference / "model.pt")  # strict: every tensor present, right shapes
    assert report.layout == "native" and not report.unexpected
    best = torch.load(reference / "model.pt", map_location="cpu", weights_only=True)
    assert best["meta"]["val_metric"] == pytest.approx(log["val_metric"].max())


# --------------------------------------------------------------------------------------------- resumption


def test_resume_after_a_shorter_run_gives_identical_weights(reference, data_root, tmp_path, caplog):
    out = tmp_path / "runs" / RUN
    run_train(write_params(tmp_path / "p1.yaml", data_root, epochs=1), out)
    assert final_state(out)["epoch"] == 1
    with caplog.at_level(logging.INFO, logger="occlusion"):
        run_train(write_params(tmp_path / "p2.yaml", data_root), out)  # the same run continued to 2 epochs
    assert [r.getMessage() for r in caplog.records if r.name == "occlusion.runtime"] == [
        f"resuming {RUN} from {out / 'ckpt' / 'last.pt'} at epoch 1, iteration 0"]
    a, b = final_state(reference), final_state(out)
    assert_same_tensors(a["model"], b["model"])
    assert_same_optimizer(a["optimizer"], b["optimizer"])
    pd.testing.assert_frame_equal(log_without_timing(reference), log_without_timing(out))
    assert_same_tensors(torch.load(reference / "model.pt", weights_only=True)["model"],
                        torch.load(out / "model.pt", weights_only=True)["model"])


class _Killed(Exception):
    pass


@pytest.mark.parametrize(("checkpoint_every", "fail_at_step", "saved_at"), [(2, 3, (0, 2)), (1, 5, (1, 1))])
def test_resume_mid_epoch_gives_identical_weights(reference, data_root, tmp_path, monkeypatch,
                                                   checkpoint_every, fail_at_step, saved_at):
    """Stop training inside step ``fail_at_step`` (after a mid-epoch checkpoint), start again: same end state."""
    params = write_params(tmp_path / "params.yaml", data_root, checkpoint_every=checkpoint_every)
    out = tmp_path / "runs" / RUN
    calls = []
    loss = train_mod.joints_mse_loss

    def failing_loss(*args):
        calls.append(1)
        if len(calls) == fail_at_step:
            raise _Killed
        return loss(*args)

    monkeypatch.setattr(train_mod, "joints_mse_loss", failing_loss)
    with pytest.raises(_Killed):
        run_train(params, out)
    state = final_state(out)
    assert (state["epoch"], state["iteration"]) == saved_at
    monkeypatch.setattr(train_mod, "joints_mse_loss", loss)
    run_train(params, out)
    a, b = final_state(reference), final_state(out)
    assert_same_tensors(a["model"], b["model"])
    assert_same_optimizer(a["optimizer"], b["optimizer"])
    pd.testing.assert_frame_equal(log_without_timing(reference), log_without_timing(out))  # the loss too
    assert not list(out.rglob("*.tmp"))


def test_checkpoint_of_other_settings_is_not_resumed(data_root, tmp_path):
    out = tmp_path / "runs" / RUN
    run_train(write_params(tmp_path / "p1.yaml", data_root, epochs=1, max_iters_per_epoch=1), out)
    first = final_state(out)
    # another learning rate: a finished 1-epoch checkpoint must not count as this run's result
    run_train(write_params(tmp_path / "p2.yaml", data_root, epochs=1, max_iters_per_epoch=1, lr=0.01), out)
    second = final_state(out)
    assert second["resume_key"] != first["resume_key"]
    assert not torch.equal(first["model"]["head.final.weight"], second["model"]["head.final.weight"])
    log = pd.read_csv(out / "train_log.csv")
    assert log["epoch"].tolist() == [1] and log["lr"].tolist() == pytest.approx([0.01])


def test_finished_run_restores_a_removed_model_file(reference, tmp_path):
    """DVC removes model.pt (not persisted) before re-running a stage whose ckpt/ it keeps."""
    out = tmp_path / "runs" / RUN
    shutil.copytree(reference, out)
    (out / "model.pt").unlink()
    before = (out / "ckpt" / "last.pt").read_bytes()
    run_train(reference.parents[1] / "params.yaml", out)
    assert (out / "ckpt" / "last.pt").read_bytes() == before  # nothing was trained again
    assert (out / "model.pt").read_bytes() == (reference / "model.pt").read_bytes()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                           "MASTER_PORT")}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _cli(params: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "occlusion.train", "--run", RUN, "--out", str(out), "--params", str(params),
            "--no-progress"]


def signal_after_first_checkpoint(params: Path, out: Path, sig: int) -> int:
    """Start ``python -m occlusion.train`` into ``out``, send ``sig`` once ``ckpt/last.pt`` appears; the exit code."""
    ckpt = out / "ckpt" / "last.pt"
    proc = subprocess.Popen(_cli(params, out), env=_env(), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(sig)
    finally:
        proc.wait(timeout=120)
    return proc.returncode


@pytest.mark.slow
def test_sigkill_mid_epoch_then_restart_gives_identical_weights(data_root, tmp_path):
    """Fault injection: SIGKILL the training process after its first mid-epoch checkpoint, then start it again."""
    params = write_params(tmp_path / "params.yaml", data_root, checkpoint_every=1, max_iters_per_epoch=0)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run_train(params, reference)  # in this process, on one thread like the subprocesses

    ckpt = killed / "ckpt" / "last.pt"
    assert signal_after_first_checkpoint(params, killed, signal.SIGKILL) == -signal.SIGKILL
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["iteration"] > 0, "the process was not killed mid-epoch"
    assert not (killed / "train.json").exists()
    (ckpt.parent / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")  # as if killed inside torch_save

    subprocess.run(_cli(params, killed), env=_env(), cwd=REPO, check=True, timeout=300, capture_output=True)
    a = torch.load(reference / "ckpt" / "last.pt", map_location="cpu", weights_only=True)
    b = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert (b["epoch"], b["iteration"]) == (2, 0)
    assert not list(killed.rglob("*.tmp"))  # a save the kill interrupted leaves nothing behind after the restart
    assert_same_tensors(a["model"], b["model"])
    assert_same_optimizer(a["optimizer"], b["optimizer"])
    pd.testing.assert_frame_equal(log_without_timing(reference), log_without_timing(killed))


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_run_resumes(data_root, tmp_path):
    """Ctrl-C (SIGINT) mid-epoch: the process stops, leaves a loadable checkpoint and no temporary file, and a
    restart ends with the same weights as an uninterrupted run."""
    # 4 epochs: the run must still be going when the signal lands, however fast the machine
    params = write_params(tmp_path / "params.yaml", data_root, checkpoint_every=1, max_iters_per_epoch=0, epochs=4)
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    run_train(params, reference)
    ckpt = stopped / "ckpt" / "last.pt"
    assert signal_after_first_checkpoint(params, stopped, signal.SIGINT) != 0
    assert not list(stopped.rglob("*.tmp"))
    torch.load(ckpt, map_location="cpu", weights_only=True)  # a whole, loadable checkpoint
    subprocess.run(_cli(params, stopped), env=_env(), cwd=REPO, check=True, timeout=300, capture_output=True)
    a = torch.load(reference / "ckpt" / "last.pt", map_location="cpu", weights_only=True)
    b = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert_same_tensors(a["model"], b["model"])


# --------------------------------------------------------------------------------------------- DDP

TINY_MODEL = '''
import sys

import torch
from torch import nn

from occlusion import train
from occlusion.models import register_model


@register_model(family="hrnet", color="rgb", input_multiple=32, input_size=(96, 128))
def tiny_conv_pose(num_joints: int = 17, pretrained: bool = False) -> nn.Module:
    """Convolutions only: no layer whose output depends on the rest of the batch (unlike BatchNorm)."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(),
                         nn.Conv2d(8, num_joints, 1))


if __name__ == "__main__":
    train.main(sys.argv[1:])
'''


def test_distributed_sampler_shards_union_to_the_single_process_batches():
    """The data-order argument behind the DDP test: rank r's batch t (size b) of DistributedSampler(2) is
    perm[r::2][t*b:(t+1)*b], and both ranks' batch t together are the single process's batch t of size 2b."""
    from torch.utils.data.distributed import DistributedSampler

    data, b = list(range(20)), 2
    for epoch in (0, 1):
        single = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
        single.set_epoch(epoch)
        perm = list(single)
        ranks = []
        for r in (0, 1):
            s = DistributedSampler(data, num_replicas=2, rank=r, shuffle=True, seed=3)
            s.set_epoch(epoch)
            ranks.append(list(s))
            assert ranks[r] == perm[r::2]
        for t in range(len(data) // (2 * b)):
            union = ranks[0][t * b:(t + 1) * b] + ranks[1][t * b:(t + 1) * b]
            assert sorted(union) == sorted(perm[t * 2 * b:(t + 1) * 2 * b])
    skipped = runtime.EpochSampler(single, skip=6)  # a resume skips the first batches of the epoch
    assert list(skipped) == perm[6:] and len(skipped) == 14


@pytest.mark.slow
def test_ddp_two_processes_equal_one_process_with_twice_the_batch(data_root, tmp_path):
    """2 gloo processes with batch 2 each == 1 process with batch 4, on a BatchNorm-free model."""
    script = tmp_path / "tiny_train.py"
    script.write_text(TINY_MODEL)

    def params(path: Path, batch: int) -> Path:
        # Adam divides by sqrt(v) + eps, so gradient rounding differences near zero move weights by up to ~lr / 1000
        write_params(path, data_root, batch_size=batch, max_iters_per_epoch=0, epochs=2, lr=2e-4)
        y = yaml.safe_load(path.read_text())
        y["models"]["tiny"] = {"arch": "tiny_conv_pose", "input_size": [96, 128], "sigma": 2.0, "color": "rgb"}
        y["runs"][RUN] = {"dataset": "coco", "model": "tiny", "preset": "cutblur_k_05"}
        path.write_text(yaml.safe_dump(y))
        return path

    single, multi = tmp_path / "single", tmp_path / "ddp"
    args = ["--run-id", RUN, "--no-progress"]  # torchrun would take --run for its own --run-path
    subprocess.run([sys.executable, str(script), *args, "--out", str(single), "--params",
                    str(params(tmp_path / "p4.yaml", 4))], env=_env(), cwd=REPO, check=True, timeout=300,
                   capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    proc = subprocess.run([*torchrun, str(script), *args, "--out", str(multi), "--params",
                           str(params(tmp_path / "p2.yaml", 2))], env=_env(), cwd=REPO, timeout=300,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]

    a = torch.load(single / "ckpt" / "last.pt", map_location="cpu", weights_only=True)
    b = torch.load(multi / "ckpt" / "last.pt", map_location="cpu", weights_only=True)
    assert (a["epoch"], a["iteration"]) == (b["epoch"], b["iteration"]) == (2, 0)
    for k in a["model"]:
        assert torch.allclose(a["model"][k], b["model"][k], rtol=0, atol=1e-6), k
    la, lb = pd.read_csv(single / "train_log.csv"), pd.read_csv(multi / "train_log.csv")
    assert la["loss"].to_numpy() == pytest.approx(lb["loss"].to_numpy(), rel=1e-5)  # all-reduced epoch loss
    assert json.loads((multi / "train.json").read_text())["epochs"] == 2  # written once, by rank 0


def test_load_backbone_copies_the_backbone_and_keeps_the_fresh_head(tmp_path):
    from occlusion.models import create_model

    source = create_model("hrnet_w18_small", num_joints=17, seed=1)
    torch.save({"model": source.state_dict()}, tmp_path / "model.pt")
    target = create_model("hrnet_w18_small", num_joints=16, seed=2)  # another joint count: only the head differs
    head_before = {k: v.clone() for k, v in target.head.state_dict().items()}
    fingerprint = train_mod.load_backbone(target, tmp_path / "model.pt")
    assert len(fingerprint) == 16
    for k, v in source.backbone.state_dict().items():
        assert torch.equal(target.backbone.state_dict()[k], v), k
    for k, v in head_before.items():
        assert torch.equal(target.head.state_dict()[k], v), k

    other = create_model("simplebaseline_r18_small", num_joints=17)
    with pytest.raises(ValueError, match="backbone does not fit"):
        train_mod.load_backbone(other, tmp_path / "model.pt")
    with pytest.raises(FileNotFoundError, match="pretrain stage"):
        train_mod.load_backbone(other, tmp_path / "missing.pt")


def test_load_backbone_with_head_takes_the_whole_model_where_the_keypoints_match(tmp_path):
    """``pretrain.<key>.init: model``: same keypoints -> the head too; another joint count -> backbone only."""
    from occlusion.models import create_model

    source = create_model("hrnet_w18_small", num_joints=17, seed=1)
    torch.save({"model": source.state_dict()}, tmp_path / "model.pt")
    same = create_model("hrnet_w18_small", num_joints=17, seed=2)
    train_mod.load_backbone(same, tmp_path / "model.pt", head=True)
    for k, v in source.state_dict().items():
        assert torch.equal(same.state_dict()[k], v), k
    mpii = create_model("hrnet_w18_small", num_joints=16, seed=2)
    head_before = {k: v.clone() for k, v in mpii.head.state_dict().items()}
    train_mod.load_backbone(mpii, tmp_path / "model.pt", head=True)
    assert all(torch.equal(mpii.head.state_dict()[k], v) for k, v in head_before.items())
    assert all(torch.equal(mpii.backbone.state_dict()[k], v) for k, v in source.backbone.state_dict().items())


def test_pretrain_init_model_needs_a_trained_pretrain(tmp_path):
    y = yaml.safe_load((REPO / "profiles" / "embedded.yaml").read_text())
    y["pretrain"]["hrnet_w18_small"].update(source="imagenet", init="model")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(y))
    msg = "pretrain.hrnet_w18_small.init = 'model': expected 'backbone' for source: imagenet"
    with pytest.raises(ConfigError, match=msg):
        load_params(tmp_path / "params.yaml")
