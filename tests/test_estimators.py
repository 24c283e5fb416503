"""Pose estimators: the registry adapter is the engine's old path bit for bit; ONNX, TorchScript and torch.export
copies of a registry model agree with it; SimCC and coordinate codecs; every bad input fails at load time."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from occlusion import engine
from occlusion.data import load_coco_records
from occlusion.estimators import (
    CoordCodec,
    EstimatorError,
    EstimatorInfo,
    HeatmapCodec,
    SimCCCodec,
    TorchEstimator,
    create_estimator,
    load_estimator,
)
from occlusion.evaluate import get_final_preds, predict_heatmaps
from occlusion.keypoints import COCO, MPII
from occlusion.models import create_model

SIZE = (96, 128)


@pytest.fixture(scope="module")
def coco_set(shared_data):
    root = shared_data / "coco_mini"
    ann = root / "annotations" / "person_keypoints_val2017.json"
    records = load_coco_records(ann, root / "val2017")[:24]
    return engine.build_eval_set(records, SIZE, coco_gt=ann)


@pytest.fixture(scope="module")
def nets():
    return {arch: create_model(arch, seed=0).eval() for arch in ("hrnet_w18_small", "simplebaseline_r18_small")}


def _old_path(model, eval_set, color, flip_test, batch_size=8):
    """What engine.predict did before estimators existed."""
    out = []
    for s in range(0, len(eval_set), batch_size):
        x = engine.normalize_batch(eval_set.crops[s:s + batch_size], color)
        x = x.contiguous(memory_format=torch.channels_last)
        heatmaps = predict_heatmaps(model, x, COCO.flip_pairs, flip_test=flip_test, shift_heatmap=True)
        out.append(get_final_preds(heatmaps.float().cpu().numpy(), eval_set.centers[s:s + batch_size],
                                   eval_set.scales[s:s + batch_size]))
    return np.concatenate([p for p, _ in out]), np.concatenate([m for _, m in out])


@pytest.mark.parametrize("flip_test", [False, True])
@pytest.mark.parametrize("arch", ["hrnet_w18_small", "simplebaseline_r18_small"])
def test_registry_adapter_is_the_old_engine_path_bit_for_bit(coco_set, nets, arch, flip_test):
    est = create_estimator("registry", arch=arch, model=nets[arch])
    assert est.info.color == ("rgb" if arch.startswith("hrnet") else "bgr")
    preds, maxvals = engine.predict(est, coco_set, COCO, flip_test=flip_test, batch_size=8)
    old = _old_path(nets[arch], coco_set, est.info.color, flip_test)
    np.testing.assert_array_equal(preds, old[0])
    np.testing.assert_array_equal(maxvals, old[1])
    module_preds = engine.predict(nets[arch], coco_set, COCO, color=est.info.color, flip_test=flip_test, batch_size=8)
    np.testing.assert_array_equal(module_preds[0], old[0])


def _spec(tmp_path: Path, name: str, **spec) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


HEATMAP_META = {"codec": "heatmap", "keypoints": "coco", "color": "bgr", "flip_test": True}


@pytest.fixture(scope="module")
def exported(nets, tmp_path_factory):
    """simplebaseline_r18_small (BGR input) as ONNX (torch.onnx's dynamo exporter), TorchScript and torch.export
    files, with a dynamic batch; and its torch estimator."""
    tmp = tmp_path_factory.mktemp("exported")
    model = nets["simplebaseline_r18_small"]
    x = torch.zeros(2, 3, SIZE[1], SIZE[0])
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), tmp / "model.onnx", dynamic_shapes=({0: batch},), verbose=False)
        torch.jit.trace(model, x).save(tmp / "model.ts")
        torch.export.save(torch.export.export(model, (x,), dynamic_shapes=({0: batch},)), tmp / "model.pt2")
        torch.export.save(torch.export.export(model, (x,)), tmp / "static2.pt2")  # batch fixed at 2
    files = {"onnx": tmp / "model.onnx", "torchscript": tmp / "model.ts", "torch_export": tmp / "model.pt2"}
    return tmp, files, create_estimator("registry", arch="simplebaseline_r18_small", model=model)


@pytest.mark.parametrize("kind", ["onnx", "torchscript", "torch_export"])
def test_exported_registry_model_gives_the_torch_keypoints(coco_set, exported, kind):
    if kind == "onnx":
        pytest.importorskip("onnxruntime", reason="the audit extra (onnxruntime) is not installed")
    tmp, files, reference = exported
    est = load_estimator(_spec(tmp, kind, kind=kind, file=files[kind].name, input_size=list(SIZE), **HEATMAP_META))
    crops = coco_set.crops[:12]
    for flip_test in (False, True):
        ours, theirs = est.predict(crops, flip_test=flip_test), reference.predict(crops, flip_test=flip_test)
        assert np.abs(ours.keypoints - theirs.keypoints).max() < 1e-3
        np.testing.assert_allclose(ours.scores, theirs.scores, atol=1e-5)
    preds = engine.predict(est, coco_set, COCO, flip_test=True, batch_size=7)[0]  # batches of 7 (14 with the mirror)
    assert np.abs(preds - engine.predict(reference, coco_set, COCO, flip_test=True)[0]).max() < 1e-3


def test_onnx_input_size_comes_from_a_static_model(exported, tmp_path):
    pytest.importorskip("onnxruntime", reason="the audit extra (onnxruntime) is not installed")
    model = create_model("simplebaseline_r18_small", seed=0).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 128, 96),), tmp_path / "one.onnx", dynamo=False)
    est = load_estimator(_spec(tmp_path, "one", kind="onnx", file="one.onnx", **HEATMAP_META))
    assert est.info.input_size == SIZE and est.batch == 1  # a static batch of one: run crop by crop, still decoded
    crops = torch.randint(0, 256, (3, 128, 96, 3), dtype=torch.uint8)
    ref = create_estimator("registry", arch="simplebaseline_r18_small", model=model).predict(crops)
    assert np.abs(est.predict(crops).keypoints - ref.keypoints).max() < 1e-3


def test_a_static_batch_runs_in_padded_chunks(exported):
    tmp, _, reference = exported
    est = load_estimator({"kind": "torch_export", "file": str(tmp / "static2.pt2"), "input_size": list(SIZE),
                          **HEATMAP_META})
    assert est.batch == 2
    crops = torch.randint(0, 256, (5, 128, 96, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert np.abs(est.predict(crops, flip_test=True).keypoints - reference.predict(crops, flip_test=True).keypoints
                  ).max() < 1e-3


# --------------------------------------------------------------------------------------------- SimCC, coordinates


class PlantedSimCC(nn.Module):
    """SimCC vectors with one planted maximum per keypoint (x index ``2 * k + 3``, y index ``3 * k + 1``) and their
    values, whatever the input (which still flows through, so exporters keep a batch dimension)."""

    def __init__(self, k: int = 17, size=SIZE, ratio: float = 2.0):
        super().__init__()
        x, y = torch.zeros(k, int(size[0] * ratio)), torch.zeros(k, int(size[1] * ratio))
        for i in range(k):
            x[i, 2 * i + 3], y[i, 3 * i + 1] = 0.9 - 0.01 * i, 0.5 + 0.01 * i
        self.register_buffer("x", x)
        self.register_buffer("y", y)

    def forward(self, image: torch.Tensor):
        zero = image.mean(dim=(1, 2, 3))[:, None, None] * 0
        return self.x[None] + zero, self.y[None] + zero


def test_simcc_onnx_model_decodes_planted_maxima(tmp_path):
    pytest.importorskip("onnxruntime", reason="the audit extra (onnxruntime) is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(PlantedSimCC(), (torch.zeros(2, 3, 128, 96),), tmp_path / "simcc.onnx", dynamo=False,
                          input_names=["input"], output_names=["simcc_x", "simcc_y"],
                          dynamic_axes={"input": {0: "n"}, "simcc_x": {0: "n"}, "simcc_y": {0: "n"}})
    spec = _spec(tmp_path, "rtm", kind="onnx", file="simcc.onnx", keypoints="coco", scale=1.0,
                 mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                 codec={"name": "simcc", "split_ratio": 2.0})
    est = load_estimator(spec)
    out = est.predict(torch.zeros(3, 128, 96, 3, dtype=torch.uint8))
    k = np.arange(17)
    np.testing.assert_array_equal(out.keypoints[0], np.stack([(2 * k + 3) / 2, (3 * k + 1) / 2], axis=1))
    np.testing.assert_allclose(out.scores[2], np.minimum(0.9 - 0.01 * k, 0.5 + 0.01 * k), rtol=1e-6)  # mmpose: min
    mean = load_estimator(spec, codec={"name": "simcc", "score": "mean"}).predict(torch.zeros(1, 128, 96, 3,
                                                                                              dtype=torch.uint8))
    np.testing.assert_allclose(mean.scores[0], 0.7, rtol=1e-6)  # rtlib: the mean of the two maxima


def test_simcc_flip_test_brings_the_mirror_back():
    """A model that sees a keypoint at column c of a mirrored crop reports W - 1 - c; merged, the location holds."""
    codec = SimCCCodec(split_ratio=1.0)
    x = torch.zeros(2, 2, 8)
    x[0, 0, 2] = 1.0  # plain half: keypoint 0 at column 2
    x[1, 1, 5] = 1.0  # mirrored half: its mirror image, the right-hand keypoint 1 at column 8 - 1 - 2
    y = torch.zeros(2, 2, 4)
    y[:, :, 1] = 1.0
    merged = codec.merge_flip([x, y], 1, [(0, 1)], (8, 4))
    assert codec.decode(merged, (8, 4)).keypoints[0, 0].tolist() == [2.0, 1.0]


def test_coordinate_codec_pixels_normalised_scores_and_flip():
    coords = torch.tensor([[[10.0, 20.0, 0.8], [30.0, 5.0, 0.1]]])
    out = CoordCodec().decode([coords], (96, 128))
    assert out.keypoints.tolist() == [[[10.0, 20.0], [30.0, 5.0]]]
    assert out.scores[0].tolist() == pytest.approx([0.8, 0.1])
    norm = CoordCodec(normalized=True).decode([torch.tensor([[[0.5, 0.25]]]), torch.tensor([[0.3]])], (96, 128))
    assert norm.keypoints.tolist() == [[[48.0, 32.0]]] and norm.scores[0].tolist() == pytest.approx([0.3])
    mirrored = torch.tensor([[[95.0 - 30.0, 5.0, 0.3], [95.0 - 10.0, 20.0, 0.6]]])  # keypoints swap in the mirror
    merged = CoordCodec().merge_flip([torch.cat([coords, mirrored])], 1, [(0, 1)], (96, 128))
    assert merged[0][0, :, :2].tolist() == [[10.0, 20.0], [30.0, 5.0]]
    assert merged[0][0, :, 2].tolist() == pytest.approx([0.7, 0.2])


def test_heatmap_codec_in_crop_pixels_is_get_final_preds_of_a_crop_box():
    hm = np.random.default_rng(0).random((3, 17, 32, 24)).astype(np.float32)
    out = HeatmapCodec().decode([torch.from_numpy(hm)], SIZE)
    center, scale = np.array([[48.0, 64.0]] * 3), np.array([[96 / 200, 128 / 200]] * 3)  # the box is the crop
    np.testing.assert_allclose(out.keypoints, get_final_preds(hm, center, scale)[0], atol=1e-4)
    np.testing.assert_array_equal(out.scores, hm.reshape(3, 17, -1).max(-1))


# --------------------------------------------------------------------------------------------- bad input


def test_a_file_that_does_not_load_names_the_file(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    (tmp_path / "broken.ts").write_bytes(b"not a model")
    for kind, name in (("onnx", "broken.onnx"), ("torchscript", "broken.ts")):
        if kind == "onnx":
            pytest.importorskip("onnxruntime", reason="the audit extra (onnxruntime) is not installed")
        with pytest.raises(EstimatorError, match=rf"broken\.{name.split('.')[1]}: file: does not load as"):
            load_estimator(_spec(tmp_path, kind, kind=kind, file=name, input_size=list(SIZE), **HEATMAP_META))
    with pytest.raises(EstimatorError, match=r"missing\.onnx: file: not found"):
        load_estimator({"kind": "onnx", "file": str(tmp_path / "missing.onnx"), **HEATMAP_META})


def test_outputs_that_do_not_fit_the_codec_or_keypoint_count_fail_at_load(exported, tmp_path):
    tmp, files, _ = exported
    base = {"kind": "torchscript", "file": str(files["torchscript"]), "input_size": list(SIZE), "color": "bgr"}
    with pytest.raises(EstimatorError, match=r"model\.ts: outputs: the model gives 1 outputs .* expected 2 for codec "
                                             r"'simcc'"):
        load_estimator({**base, "codec": "simcc", "keypoints": "coco"})
    with pytest.raises(EstimatorError, match=r"model\.ts: output 0: shape \(2, 17, 32, 24\) does not fit codec "
                                             r"'heatmap' with 16 keypoints.*expected \(2, 16, \*, \*\)"):
        load_estimator({**base, "codec": "heatmap", "keypoints": "mpii"})
    with pytest.raises(EstimatorError, match=r"output 0: shape \(2, 17, 32, 24\) does not fit codec 'coords'.*"
                                             r"expected \(2, 17, \*\)"):
        load_estimator({**base, "codec": "coords", "keypoints": "coco"})


def test_missing_metadata_fields_name_the_file_and_the_field(exported, tmp_path):
    tmp, files, _ = exported
    spec = {"kind": "torchscript", "file": str(files["torchscript"]), "input_size": list(SIZE), **HEATMAP_META}
    for field in ("keypoints", "codec", "input_size", "file"):
        path = _spec(tmp_path, f"no_{field}", **{k: v for k, v in spec.items() if k != field})
        with pytest.raises(EstimatorError, match=rf"no_{field}\.yaml: {field}: missing"):
            load_estimator(path)
    with pytest.raises(EstimatorError, match=r"bad\.yaml: color: 'hsv'; expected 'rgb' or 'bgr'"):
        load_estimator(_spec(tmp_path, "bad", **{**spec, "color": "hsv"}))
    with pytest.raises(EstimatorError, match=r"typo\.yaml: colour: unknown key"):
        load_estimator(_spec(tmp_path, "typo", **spec, colour="rgb"))


def test_dynamic_onnx_input_without_input_size_is_a_missing_field(exported):
    pytest.importorskip("onnxruntime", reason="the audit extra (onnxruntime) is not installed")
    tmp, files, _ = exported
    model = nn.Conv2d(3, 17, 4, stride=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 128, 96),), tmp / "dyn.onnx", dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
    with pytest.raises(EstimatorError, match=r"dyn\.onnx: input_size: missing from the metadata and the model's input "
                                             r"shape .* is dynamic; expected input_size: \[width, height\]"):
        load_estimator({"kind": "onnx", "file": str(tmp / "dyn.onnx"), **HEATMAP_META})


def test_dataset_keypoints_or_input_size_that_differ_fail_before_any_pass(coco_set, nets):
    info = EstimatorInfo(name="mpii_model", input_size=SIZE, keypoints=MPII.names)
    est = TorchEstimator(nets["hrnet_w18_small"], info, HeatmapCodec(), source="mpii_model.pt")
    calls = []
    est.run = lambda x: calls.append(x)  # never reached
    with pytest.raises(EstimatorError, match=r"mpii_model\.pt: keypoints: the model has 16 keypoints, the coco "
                                             r"evaluation set 17"):
        engine.predict(est, coco_set, COCO, flip_test=False)
    swapped = EstimatorInfo(name="m", input_size=SIZE, keypoints=(COCO.names[1], COCO.names[0], *COCO.names[2:]))
    with pytest.raises(EstimatorError, match=r"keypoints\[0\]: the model's keypoint 0 is 'left_eye', the coco "
                                             r"evaluation set's 'nose'"):
        engine.predict(TorchEstimator(nets["hrnet_w18_small"], swapped, HeatmapCodec()), coco_set, COCO)
    wide = EstimatorInfo(name="m", input_size=(192, 256), keypoints=COCO.names, flip_test=True)
    with pytest.raises(EstimatorError, match=r"input_size: crops are \(96, 128\); expected the model's input_size "
                                             r"\(192, 256\)"):
        engine.predict(TorchEstimator(nets["hrnet_w18_small"], wide, HeatmapCodec()), coco_set, COCO)
    no_flip = EstimatorInfo(name="m", input_size=SIZE, keypoints=COCO.names, flip_test=False)
    with pytest.raises(EstimatorError, match="flip_test"):
        engine.predict(TorchEstimator(nets["hrnet_w18_small"], no_flip, HeatmapCodec()), coco_set, COCO,
                       flip_test=True)
    assert not calls


def test_unknown_kind_and_codec_list_what_is_registered():
    with pytest.raises(EstimatorError, match="kind: unknown kind 'tflite'; expected one of blazepose, onnx, registry"):
        create_estimator("tflite")
    with pytest.raises(EstimatorError, match="codec: unknown codec 'dark'; registered: heatmap, simcc, coords"):
        load_estimator({"kind": "torch_export", "file": "x.pt2", "codec": "dark", "keypoints": "coco",
                        "input_size": [96, 128]})


def test_registry_spec_loads_a_trained_checkpoint(nets, tmp_path):
    model = nets["hrnet_w18_small"]
    torch.save({"model": model.state_dict()}, tmp_path / "model.pt")  # the train stage's model.pt layout
    est = load_estimator(_spec(tmp_path, "reg", kind="registry", arch="hrnet_w18_small", checkpoint="model.pt",
                               seed=1))  # other initial weights, replaced by the checkpoint's
    crops = torch.randint(0, 256, (4, 128, 96, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    ref = create_estimator("registry", arch="hrnet_w18_small", model=model)
    np.testing.assert_array_equal(est.predict(crops, flip_test=True).keypoints,
                                  ref.predict(crops, flip_test=True).keypoints)
    with pytest.raises(EstimatorError, match=r"gone\.pt: checkpoint: file not found"):
        load_estimator(_spec(tmp_path, "gone", kind="registry", arch="hrnet_w18_small", checkpoint="gone.pt"))
    with pytest.raises(EstimatorError, match=r"arch: unknown model 'hrnet_w99'"):
        load_estimator(_spec(tmp_path, "arch", kind="registry", arch="hrnet_w99"))
