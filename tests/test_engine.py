"""The batched evaluation engine: attacked predictions, the attack table, byte-stable output and scores."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from occlusion import engine, stats
from occlusion.attacks import AttackGridConfig, AttackSpec, attack_grid, occlude
from occlusion.data import load_mpii_records, normalize
from occlusion.evaluate import get_final_preds, per_keypoint_evaluators, predict_heatmaps, to_coco_results
from occlusion.io import write_csv
from occlusion.keypoints import get_skeleton
from occlusion.models import create_model
from occlusion.params import load_params
from occlusion.splits import load_split
from occlusion.transforms import generate_heatmaps

REPO = Path(__file__).resolve().parents[1]
COCO = get_skeleton("coco")
MPII = get_skeleton("mpii")
SIZE = (96, 128)  # input (w, h)


@pytest.fixture(scope="module")
def coco_val(data_root, tmp_path_factory):
    """The validation split through params (absolute ``data.root``) and its crops."""
    y = yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text())
    y["data"]["root"] = str(data_root)
    path = tmp_path_factory.mktemp("engine_params") / "params.yaml"
    path.write_text(yaml.safe_dump(y))
    split = load_split(load_params(path), "coco", "val")
    assert split.annotations == data_root / "annotations" / "person_keypoints_val.json"
    return engine.build_eval_set(split.records, SIZE, dataset="coco", coco_gt=split.coco_gt)


@pytest.fixture(scope="module")
def models():
    return {
        "rgb": create_model("hrnet_w18_small", num_joints=17, seed=0).eval(),
        "bgr": create_model("simplebaseline_r18_small", num_joints=17, seed=0).eval(),
    }


class BlackoutOracle(nn.Module):
    """The ground-truth heatmaps of an evaluation set, erased (4x4 max-pooled) wherever the input turned black.

    Clean crops score almost perfectly; a blackout attack on a keypoint moves that keypoint's prediction off it,
    other fillers change nothing. Called without flip test on the whole RGB set in one batch (row i is crop i).
    """

    def __init__(self, eval_set: engine.EvalSet):
        super().__init__()
        w, h = SIZE
        maps = [generate_heatmaps(j, SIZE, (w // 4, h // 4), 2.0)[0] for j in eval_set.joints]
        self.register_buffer("heatmaps", torch.from_numpy(np.stack(maps)))
        self.register_buffer("black", engine.normalize_batch(torch.zeros(1, 1, 1, 3, dtype=torch.uint8)))
        self.register_buffer("was_black", self._black(engine.normalize_batch(eval_set.crops)))  # e.g. outside the image

    def _black(self, x: torch.Tensor) -> torch.Tensor:
        return (x == self.black).all(1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[0] == len(self.heatmaps)
        erased = F.max_pool2d((self._black(x) & ~self.was_black).float(), 4)
        return self.heatmaps * (1 - erased)


# --------------------------------------------------------------------------------------------- predict


def test_normalize_batch_is_data_normalize_bit_for_bit():
    crops = np.random.default_rng(0).integers(0, 256, (3, 16, 12, 3), dtype=np.uint8)
    rgb = torch.stack([normalize(c) for c in crops])
    bgr = torch.stack([normalize(np.ascontiguousarray(c[..., ::-1])) for c in crops])  # training reads BGR crops
    assert torch.equal(engine.normalize_batch(torch.from_numpy(crops), "rgb"), rgb)
    assert torch.equal(engine.normalize_batch(torch.from_numpy(crops), "bgr"), bgr)


@pytest.mark.parametrize(("target", "kind", "bounds"), [
    ("nose", "keypoint", True),
    ("left_ankle", "keypoint", False),  # the paper's swapped bounds check skips ankles below y = crop width (96)
    ("upper_body", "part", True),
])
@pytest.mark.parametrize("filler", ["blackout", "meanout", "blur"])
@pytest.mark.parametrize("color", ["bgr", "rgb"])  # SimpleBaseline (BGR input), HRNet (RGB)
def test_predict_with_attack_equals_single_crop_occlude(coco_val, models, target, kind, bounds, filler, color):
    model = models[color]
    spec = AttackSpec(target, kind, filler, 6 if kind == "keypoint" else None, bounds)
    preds, maxvals = engine.predict(model, coco_val, COCO, spec=spec, color=color, flip_test=False,
                                    post_process=True, batch_size=64)

    crops, changed = [], 0
    for crop, joints in zip(coco_val.crops.numpy(), coco_val.joints):
        attacked = occlude(crop, joints, target, filler, radius=6, dataset="coco", paper_bounds=bounds)
        changed += not np.array_equal(attacked, crop)
        crops.append(normalize(np.ascontiguousarray(attacked if color == "rgb" else attacked[..., ::-1])))
    assert changed >= len(coco_val) // 2  # the attack does change most crops
    x = torch.stack(crops).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        heatmaps = model(x)
    expected = get_final_preds(heatmaps.numpy(), coco_val.centers, coco_val.scales, post_process=True)
    np.testing.assert_array_equal(preds, expected[0])
    np.testing.assert_array_equal(maxvals, expected[1])


def test_predict_with_flip_test_equals_predict_heatmaps(coco_val, models):
    spec = AttackSpec("upper_body", "part", "meanout")
    model = models["bgr"]
    preds, maxvals = engine.predict(model, coco_val, COCO, spec=spec, color="bgr", batch_size=4)
    crops = [normalize(np.ascontiguousarray(occlude(c, j, "upper_body", "meanout")[..., ::-1]))
             for c, j in zip(coco_val.crops.numpy(), coco_val.joints)]
    x = torch.stack(crops).contiguous(memory_format=torch.channels_last)
    heatmaps = torch.cat([predict_heatmaps(model, x[s:s + 4], COCO.flip_pairs, flip_test=True, shift_heatmap=True)
                          for s in range(0, len(x), 4)])  # the same batches of 4
    expected = get_final_preds(heatmaps.numpy(), coco_val.centers, coco_val.scales)
    np.testing.assert_array_equal(preds, expected[0])
    np.testing.assert_array_equal(maxvals, expected[1])


def test_build_eval_set_without_cache_equals_cached(coco_val, tmp_path):
    cached = engine.build_eval_set(coco_val.records, SIZE, cache_file=tmp_path / "crops.npz")
    assert (tmp_path / "crops.npz").is_file()
    assert torch.equal(cached.crops, coco_val.crops)
    np.testing.assert_array_equal(cached.joints, coco_val.joints)


# --------------------------------------------------------------------------------------------- attack table

GRID = AttackGridConfig(keypoints=("nose", "left_ankle"), parts=("upper_body", "left_arm"),
                        fillers=("blackout", "meanout"), radius_sweep=(3,), sweep_keypoints=("nose",),
                        per_keypoint_targets=("nose", "upper_body"))


@pytest.fixture(scope="module")
def table(coco_val):
    grid = attack_grid(GRID)
    t = engine.attack_table(BlackoutOracle(coco_val), coco_val, grid, COCO, per_keypoint_targets=("nose", "upper_body"),
                            meta={"run": "oracle"}, progress=False, flip_test=False, batch_size=64)
    return grid, t


def test_attack_table_rows(table):
    grid, t = table
    names = [s.name for s in grid]
    assert len(names) == 11  # clean, 2 keypoints x 2 fillers, nose r3 x 2 fillers, 2 parts x 2 fillers
    overall = t[t.keypoint == "all"]
    assert len(overall) == len(grid)
    keys = list(zip(overall.target, overall.filler, overall.radius.fillna(-1)))
    assert keys == [("clean" if s.target_kind == "none" else s.target, s.filler, s.radius or -1) for s in grid]
    per_kp = t[t.keypoint != "all"]
    assert set(per_kp.target) == {"clean", "nose", "upper_body"}
    # every spec of those targets (two nose radii, two fillers) has all 17 keypoint rows, in skeleton order
    for (target, filler, radius), rows in per_kp.groupby(["target", "filler", "radius"], dropna=False):
        assert rows.keypoint.tolist() == list(COCO.names), (target, filler, radius)
    assert len(per_kp) == 17 * (1 + 2 * 2 + 2)
    assert (t.run == "oracle").all() and (t.boxes == "gt").all() and (t.dataset == "coco").all()
    assert t[t.target == "clean"].target_kind.eq("none").all() and t[t.target == "clean"].radius.isna().all()


def test_attack_table_deltas(table):
    _, t = table
    for m in engine.METRICS:
        np.testing.assert_array_equal(t[f"delta_{m}"], t[m] - t[f"clean_{m}"])
    clean = t[t.target == "clean"]
    for m in engine.METRICS:
        assert (clean[f"delta_{m}"] == 0).all()
    for _, row in t.iterrows():  # clean_<m> is the clean pass's value for the same evaluated keypoint
        assert row["clean_AP"] == clean.set_index("keypoint").loc[row["keypoint"], "AP"]


def test_attack_table_measures_the_attacked_keypoint(table):
    """With the blackout oracle: clean AP is high, blacking out the nose costs nose AP, meanout costs nothing."""
    _, t = table
    clean_all = t[(t.target == "clean") & (t.keypoint == "all")].AP.item()
    assert clean_all > 80
    nose = t[(t.target == "nose") & (t.filler == "blackout") & (t.radius == 6)].set_index("keypoint")
    assert nose.loc["nose", "delta_AP"] < -10
    assert nose.loc["all", "delta_AP"] < 0
    meanout = t[(t.target == "nose") & (t.filler == "meanout")]
    assert (meanout.delta_AP == 0).all()  # the oracle sees only black pixels


def test_attack_table_is_byte_stable(coco_val, table, tmp_path):
    _, first = table
    second = engine.attack_table(BlackoutOracle(coco_val), coco_val, attack_grid(GRID), COCO,
                                 per_keypoint_targets=("nose", "upper_body"), meta={"run": "oracle"}, progress=False,
                                 flip_test=False, batch_size=64)
    a = write_csv(tmp_path / "a.csv", first).read_bytes()
    b = write_csv(tmp_path / "b.csv", second).read_bytes()
    assert a == b


def test_attack_table_is_byte_stable_with_a_real_model(coco_val, models, tmp_path):
    grid = attack_grid(AttackGridConfig(keypoints=("left_wrist",), parts=("head",), fillers=("blur",), radius_sweep=(),
                                        per_keypoint_targets=()))
    out = []
    for name in ("a", "b"):
        t = engine.attack_table(models["bgr"], coco_val, grid, COCO, progress=False, color="bgr", batch_size=4)
        out.append(write_csv(tmp_path / f"{name}.csv", t).read_bytes())
    assert out[0] == out[1]
    assert len(out[0].splitlines()) == 1 + len(grid)  # no per-keypoint rows without per_keypoint_targets


# --------------------------------------------------------------------------------------------- score


def test_score_coco_perfect_predictions_give_full_ap(coco_val):
    gt = np.stack([r.joints for r in coco_val.records])
    maxvals = np.where(gt[..., 2:] > 0, 1.0, 0.0).astype(np.float32)
    metrics = engine.score(coco_val, gt[..., :2].copy(), maxvals, COCO)
    assert set(metrics) == {"all"}
    assert list(metrics["all"]) == list(engine.METRICS)
    for m in ("AP", "AP50", "AP75", "AR"):
        assert metrics["all"][m] == pytest.approx(100.0), m
    per_kp = engine.score(coco_val, gt[..., :2].copy(), maxvals, COCO, per_keypoint=True)
    assert list(per_kp) == ["all", *COCO.names]


@pytest.fixture(scope="module")
def mpii_val(data_root):
    records = load_mpii_records(data_root / "mpii" / "valid.json", data_root / "images")
    return engine.build_eval_set(records, (128, 128), dataset="mpii")


def test_score_mpii_returns_pckh(mpii_val, models):
    gt = np.stack([r.joints for r in mpii_val.records])
    ones = np.ones(gt.shape[:2] + (1,), np.float32)
    perfect = engine.score(mpii_val, gt[..., :2].copy(), ones, MPII)["all"]
    assert list(perfect) == [*engine.PCKH_METRICS[:-1], "Mean", "Mean@0.1"]
    assert all(v == 100.0 for v in perfect.values() if not np.isnan(v))
    assert perfect["Mean"] == 100.0
    heads = np.array([r.head_box for r in mpii_val.records], np.float32)
    off = gt[..., :2] + 0.6 * np.linalg.norm(heads[:, 2:] - heads[:, :2], axis=1)[:, None, None]  # 1 head size away
    assert engine.score(mpii_val, off, ones, MPII)["all"]["Mean"] == 0.0

    model = create_model("hrnet_w18_small", num_joints=16, seed=0)
    preds, maxvals = engine.predict(model, mpii_val, MPII, flip_test=True, batch_size=64)
    got = engine.score(mpii_val, preds, maxvals, MPII)["all"]
    assert set(got) == set(engine.PCKH_METRICS) | {"Mean@0.1"}
    assert 0.0 <= got["Mean"] <= 100.0


def test_attack_table_on_mpii_has_pckh_deltas(mpii_val):
    model = create_model("hrnet_w18_small", num_joints=16, seed=0)
    grid = [AttackSpec("clean", "none", "none"), AttackSpec("head_top", "keypoint", "blackout", 6)]
    t = engine.attack_table(model, mpii_val, grid, MPII, progress=False, flip_test=False)
    assert t.keypoint.tolist() == ["all", "all"]
    for m in engine.PCKH_METRICS:
        np.testing.assert_array_equal(t[f"delta_{m}"], t[m] - t[f"clean_{m}"])
    assert t.loc[0, "delta_Mean"] == 0


def test_attack_reuses_clean_predictions_only_for_unchanged_crops(coco_val, models):
    """``clean=`` skips the forward pass where the attack left a crop untouched; the results do not change."""
    eval_set, model = coco_val, models["rgb"]
    clean = engine.predict(model, eval_set, COCO, batch_size=3)
    for spec in (AttackSpec("left_ankle", "keypoint", "blackout", radius=6),
                 AttackSpec("upper_body", "part", "meanout")):
        full = engine.predict(model, eval_set, COCO, spec=spec, batch_size=3)
        reused = engine.predict(model, eval_set, COCO, spec=spec, batch_size=3, clean=clean)
        np.testing.assert_allclose(reused[0], full[0], atol=1e-3)
        np.testing.assert_allclose(reused[1], full[1], atol=1e-5)


def test_batched_device_crops_match_the_opencv_crops(coco_val):
    """The GPU path (decode once, batched grid_sample) run on the CPU: within one level of the OpenCV crops."""
    batched = engine.build_eval_set(coco_val.records, SIZE, dataset="coco", coco_gt=coco_val.coco_gt, device="cpu")
    diff = (batched.crops.int() - coco_val.crops.int()).abs()
    assert diff.max() <= 1 and (diff == 0).float().mean() > 0.995
    np.testing.assert_array_equal(batched.joints, coco_val.joints)


# --------------------------------------------------------------------------------------------- attack bootstrap

RESAMPLES = 40


@pytest.fixture(scope="module")
def boot(coco_val):
    return engine.run_attack_grid(BlackoutOracle(coco_val), coco_val, attack_grid(GRID), COCO,
                                  per_keypoint_targets=("nose", "upper_body"), meta={"run": "oracle"}, progress=False,
                                  flip_test=False, batch_size=64, bootstrap_resamples=RESAMPLES, bootstrap_seed=3)


def _overall(t):
    return t[t.keypoint == "all"].set_index(["target", "filler", "radius"])


def test_attack_bootstrap_of_a_no_op_attack_is_exactly_zero_with_p_1(boot, table):
    """The oracle sees only black pixels: meanout attacks change no prediction, so every resample's ΔAP is 0."""
    t = _overall(boot.table)
    for key in [("clean", "none", np.nan), ("nose", "meanout", 6.0), ("upper_body", "meanout", np.nan)]:
        assert tuple(t.loc[key, list(engine.INTERVAL_COLUMNS)]) == (0.0, 0.0, 1.0), key
    pd.testing.assert_frame_equal(boot.table.drop(columns=list(engine.INTERVAL_COLUMNS)),
                                  table[1].drop(columns=list(engine.INTERVAL_COLUMNS)))  # the bootstrap adds columns


def test_attack_bootstrap_detects_a_planted_drop(boot):
    """Blacking out the upper body erases most of the oracle's keypoints: every resample loses AP."""
    row = _overall(boot.table).loc[("upper_body", "blackout", np.nan)]
    assert row.delta_AP < -30 and row.delta_AP_ci_low <= row.delta_AP <= row.delta_AP_ci_high < 0
    assert row.delta_AP_p == 0.0  # p < 1 / resamples


def _oracle_results(coco_val, spec: AttackSpec | None) -> list[dict]:
    """COCO results of the blackout oracle on ``coco_val`` under ``spec`` (None: clean), predicted afresh."""
    preds, maxvals = engine.predict(BlackoutOracle(coco_val), coco_val, COCO, spec=spec, flip_test=False,
                                    batch_size=64)
    return to_coco_results(preds, maxvals, coco_val.centers, coco_val.scales,
                           np.array([r.score for r in coco_val.records], np.float32),
                           np.array([r.image_id for r in coco_val.records]), sigmas=COCO.sigmas)


def test_attack_bootstrap_covers_the_per_keypoint_rows(coco_val, boot):
    """Per-keypoint rows (Figs. 6, 8) get the interval of their own keypoint's AP, attacked minus clean, from the
    same draws: equal to resampling a fresh per-keypoint matching of each pass."""
    t = boot.table
    assert t.loc[t.keypoint != "all", list(engine.INTERVAL_COLUMNS)].notna().all().all()
    weights = stats.resample_weights(len(boot.bootstrap.image_ids), RESAMPLES, 3)

    def resampled_nose_ap(spec):
        results = _oracle_results(coco_val, spec)
        _, ev = per_keypoint_evaluators(coco_val.coco_gt, results, COCO.names, sigmas=COCO.sigmas)["nose"]
        return 100 * stats.metric_from_weights(stats.match_table_of(ev), weights)

    spec = next(s for s in attack_grid(GRID) if s.target == "upper_body" and s.filler == "blackout")
    row = t[(t.target == "upper_body") & (t.filler == "blackout") & (t.keypoint == "nose")].iloc[0]
    expected = stats.mean_interval(resampled_nose_ap(spec) - resampled_nose_ap(None))
    assert (row.delta_AP_ci_low, row.delta_AP_ci_high, row.delta_AP_p) == pytest.approx(expected, abs=1e-9)
    assert row.delta_AP_ci_high < 0  # the blacked-out nose is lost in every resample


def test_attack_bootstrap_samples_are_each_attacks_resampled_pycocotools_ap(coco_val, boot):
    """Each row of ``ap`` is the attack's AP under the draws of resample_weights(seed), from a fresh matching of
    its predictions; the table's interval is mean_interval of attacked minus clean."""
    b = boot.bootstrap
    assert b.ap.shape == (len(attack_grid(GRID)), RESAMPLES) and b.ap.dtype == np.float32 and b.seed == 3
    np.testing.assert_array_equal(b.image_ids, sorted(coco_val.coco_gt.getImgIds()))
    weights = stats.resample_weights(len(b.image_ids), RESAMPLES, 3)
    overall = boot.table[boot.table.keypoint == "all"].reset_index(drop=True)
    pd.testing.assert_frame_equal(b.configs, overall[list(engine.CONFIG_COLUMNS)])
    for i, spec in enumerate(attack_grid(GRID)):
        table = stats.match_table(coco_val.coco_gt, _oracle_results(coco_val, None if spec.target == "clean" else spec))
        full = 100 * stats.metric_from_weights(table, np.ones((1, len(b.image_ids)), int))[0]
        assert full == pytest.approx(overall.loc[i, "AP"], abs=1e-9), spec.name
        np.testing.assert_allclose(b.ap[i], 100 * stats.metric_from_weights(table, weights), rtol=1e-6, atol=0)
    for i in range(len(overall)):  # grid row 0 is the clean pass; ap is float32, the table's interval float64
        expected = stats.mean_interval(b.ap[i].astype(np.float64) - b.ap[0])
        assert tuple(overall.loc[i, list(engine.INTERVAL_COLUMNS)]) == pytest.approx(expected, abs=1e-4)


def test_attack_table_interval_columns_are_nan_without_resamples(table, tmp_path):
    _, t = table
    assert t[list(engine.INTERVAL_COLUMNS)].isna().all().all()
    header = write_csv(tmp_path / "t.csv", t).read_text().splitlines()[0].split(",")
    assert header[-3:] == list(engine.INTERVAL_COLUMNS)


def test_attack_bootstrap_file_round_trips_byte_stably(boot, tmp_path):
    a = boot.bootstrap.write(tmp_path / "a.boot.npz")
    b = boot.bootstrap.write(tmp_path / "b.boot.npz")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as archive:  # no write time inside (numpy.savez stamps the current time)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    back = engine.AttackBootstrap.read(a)
    np.testing.assert_array_equal(back.ap, boot.bootstrap.ap)
    np.testing.assert_array_equal(back.image_ids, boot.bootstrap.image_ids)
    pd.testing.assert_frame_equal(back.configs, boot.bootstrap.configs)
    assert back.seed == 3


def test_attack_bootstrap_needs_coco(mpii_val):
    model = create_model("hrnet_w18_small", num_joints=16, seed=0)
    with pytest.raises(ValueError, match="0 for a PCKh"):
        engine.run_attack_grid(model, mpii_val, [AttackSpec("clean", "none", "none")], MPII, progress=False,
                               bootstrap_resamples=10)


# --------------------------------------------------------------------------------------------- torchrun sharding

SHARDED = '''
import sys
from pathlib import Path

import numpy as np
import torch
from pycocotools.coco import COCO
from torch import nn

from occlusion import engine
from occlusion.attacks import AttackGridConfig, attack_grid
from occlusion.data import load_coco_records
from occlusion.io import write_csv
from occlusion.keypoints import get_skeleton
from occlusion.runtime import close_distributed, init_distributed

root, out = Path(sys.argv[1]), Path(sys.argv[2])
ddp = init_distributed(torch.device("cpu"))  # torchrun: gloo; plain python: rank 0 of 1
torch.set_num_threads(1)
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 17, 1))
ann = root / "annotations" / "person_keypoints_val.json"
eval_set = engine.build_eval_set(load_coco_records(ann, root / "images" / "val"), (96, 128), coco_gt=COCO(str(ann)))
grid = attack_grid(AttackGridConfig(keypoints=("nose", "left_wrist"), parts=("upper_body", "left_arm"),
                                    fillers=("blackout", "blur"), radius_sweep=(3,), sweep_keypoints=("nose",)))
result = engine.run_attack_grid(model, eval_set, grid, get_skeleton("coco"), per_keypoint_targets=("nose",),
                                progress=False, bootstrap_resamples=16, distributed=True, batch_size=2)
preds, maxvals = engine.predict(model, eval_set, get_skeleton("coco"), batch_size=2, distributed=True)
if ddp.main:
    write_csv(out / "attack.csv", result.table)
    result.bootstrap.write(out / "attack.boot.npz")
    np.save(out / "preds.npy", np.concatenate([preds, maxvals], axis=2))
(out / f"rank_{ddp.rank}.txt").write_text(f"{ddp.rank} {ddp.world} {len(eval_set)} {len(grid)}")
close_distributed()  # as occlusion's entry points do: gloo's threads torn down at exit can abort a rank
'''


def _ranks(out: Path) -> list[list[int]]:
    """What each rank wrote (``rank_<r>.txt``: rank, world size, persons, attacks); files, not torchrun's stdout,
    which once came back without the workers' lines on a loaded 2-core machine."""
    return sorted([int(v) for v in p.read_text().split()] for p in out.glob("rank_*.txt"))


def test_torchrun_sharded_attack_grid_and_predictions_equal_one_process(data_root, tmp_path):
    """2 gloo ranks (attacks grid[r::2], batches r::2) give the single process's files byte for byte."""
    script = tmp_path / "sharded.py"
    script.write_text(SHARDED)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                           "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    single.mkdir(), sharded.mkdir()
    one = subprocess.run([sys.executable, str(script), str(data_root), str(single)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert one.returncode == 0, one.stderr[-3000:]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    two = subprocess.run([*torchrun, str(script), str(data_root), str(sharded)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert two.returncode == 0, two.stderr[-3000:]
    [(rank, world, n_persons, n_attacks)] = _ranks(single)
    assert (rank, world) == (0, 1) and [r[:2] for r in _ranks(sharded)] == [[0, 2], [1, 2]]
    assert n_persons > 2 * 2 and n_attacks > 2  # several batches of 2 and attacks per rank
    for name in ("attack.csv", "attack.boot.npz"):
        assert (sharded / name).read_bytes() == (single / name).read_bytes(), name
    np.testing.assert_array_equal(np.load(sharded / "preds.npy"), np.load(single / "preds.npy"))
    assert len(pd.read_csv(single / "attack.csv").query("keypoint == 'all'")) == n_attacks
