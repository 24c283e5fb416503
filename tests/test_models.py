from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from occlusion.config import FieldError
from occlusion.models import (
    CHECKPOINTS,
    LAYOUTS,
    Checkpoint,
    CheckpointError,
    ModelInfo,
    PoseNet,
    create_model,
    detect_layout,
    download_checkpoint,
    list_models,
    load_pose_checkpoint,
    load_pretrained,
    model_info,
    register_model,
    zoo,
)

ALL = [
    "hrnet_w18_small", "hrnet_w32", "hrnet_w48",
    "simplebaseline_r101", "simplebaseline_r152", "simplebaseline_r18_small", "simplebaseline_r50",
]
SMALL = ("hrnet_w18_small", "simplebaseline_r18_small")
# Parameters with 17 joints: HRNet paper, Table 1 (HRNet-W32 28.5M, W48 63.6M; SimpleBaseline ResNet-50/101/152
# 34.0M, 53.0M, 68.6M); the CPU stand-ins as measured.
PARAMS = {
    "hrnet_w32": 28.5e6, "hrnet_w48": 63.6e6, "hrnet_w18_small": 1_284_961,
    "simplebaseline_r50": 34.0e6, "simplebaseline_r101": 53.0e6, "simplebaseline_r152": 68.6e6,
    "simplebaseline_r18_small": 3_111_825,
}

# Keys and shapes of the official checkpoints, written out from the official pose_hrnet.py / pose_resnet.py
# architectures (17 joints). They anchor official_tensors() below to the real official names.
OFFICIAL_HRNET_W32 = {
    "conv1.weight": (64, 3, 3, 3),
    "bn2.running_var": (64,),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer1.3.conv3.weight": (256, 64, 1, 1),
    "transition1.0.0.weight": (32, 256, 3, 3),
    "transition1.1.0.0.weight": (64, 256, 3, 3),
    "transition2.2.0.0.weight": (128, 64, 3, 3),
    "transition3.3.0.0.weight": (256, 128, 3, 3),
    "stage2.0.branches.1.3.bn2.weight": (64,),
    "stage2.0.fuse_layers.0.1.0.weight": (32, 64, 1, 1),
    "stage2.0.fuse_layers.1.0.0.0.weight": (64, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.1.0.weight": (128, 32, 3, 3),
    "stage4.2.branches.3.3.conv2.weight": (256, 256, 3, 3),
    "stage4.2.fuse_layers.0.3.0.weight": (32, 256, 1, 1),
    "final_layer.weight": (17, 32, 1, 1),
    "final_layer.bias": (17,),
}
OFFICIAL_SB_R50 = {
    "conv1.weight": (64, 3, 7, 7),
    "bn1.weight": (64,),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer3.5.conv2.weight": (256, 256, 3, 3),
    "layer4.2.conv3.weight": (2048, 512, 1, 1),
    "deconv_layers.0.weight": (2048, 256, 4, 4),
    "deconv_layers.1.running_mean": (256,),
    "deconv_layers.3.weight": (256, 256, 4, 4),
    "deconv_layers.4.weight": (256,),
    "deconv_layers.6.weight": (256, 256, 4, 4),
    "deconv_layers.7.bias": (256,),
    "final_layer.weight": (17, 256, 1, 1),
    "final_layer.bias": (17,),
}


@pytest.fixture(scope="module")
def built():
    """Models built once per module (seed 0), by name; the large ones only where a test asks for them."""
    cache: dict[str, PoseNet] = {}

    def get(name: str) -> PoseNet:
        if name not in cache:
            cache[name] = create_model(name, seed=0).eval()
        return cache[name]

    return get


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- registry ------------------------------------------------------------------------------------------------


def test_list_models_and_patterns():
    assert [n for n in list_models() if not n.startswith("vitpose")] == ALL  # ViTPose: tests/test_vitpose.py
    assert list_models("hrnet*") == ["hrnet_w18_small", "hrnet_w32", "hrnet_w48"]
    assert list_models("*_small") == ["hrnet_w18_small", "simplebaseline_r18_small"]
    assert list_models("resnet*") == []


def test_unknown_model_raises_key_error_listing_registered():
    for call in (lambda: create_model("hrnet_w33"), lambda: model_info("hrnet_w33")):
        with pytest.raises(KeyError, match="hrnet_w33.*registered: hrnet_w18_small, hrnet_w32, hrnet_w48, simple"):
            call()


def test_model_info_metadata():
    hr, sb = model_info("hrnet_w32"), model_info("simplebaseline_r50")
    assert (hr.family, hr.color, hr.input_size, hr.stride, hr.input_multiple, hr.sigma) == (
        "hrnet", "rgb", (192, 256), 4, 32, 2.0)
    assert (sb.family, sb.color, sb.input_size, sb.input_multiple) == ("simplebaseline", "bgr", (192, 256), 32)
    assert model_info("hrnet_w18_small").input_multiple == 32
    assert model_info("simplebaseline_r18_small").input_multiple == 16
    assert model_info("simplebaseline_r18_small").input_size == (96, 128)
    assert not hasattr(create_model("hrnet_w18_small"), "input_size")


def test_model_info_validates():
    with pytest.raises(FieldError, match="color = 'rgba'"):
        ModelInfo(name="x", family="hrnet", color="rgba")
    with pytest.raises(FieldError, match="input_size"):
        ModelInfo(name="x", family="hrnet", input_size=(192, 250))


def test_register_model_adds_and_refuses_duplicates(monkeypatch):
    monkeypatch.setattr(zoo, "_MODELS", dict(zoo._MODELS))

    @register_model(family="hrnet", color="rgb", input_multiple=32, input_size=(64, 64), sigma=1.5)
    def tiny_pose(num_joints=17, pretrained=False, **kwargs):
        return zoo.hrnet_w18_small(num_joints=num_joints, pretrained=pretrained, **kwargs)

    assert "tiny_pose" in list_models("tiny*")
    assert model_info("tiny_pose").sigma == 1.5
    assert create_model("tiny_pose", num_joints=5).head.final.out_channels == 5
    with pytest.raises(ValueError, match="'tiny_pose' is already registered"):
        register_model(family="hrnet", color="rgb", input_multiple=32)(tiny_pose)


# --- architecture --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_output_shape_and_parameter_count(name, built):
    small = name in SMALL
    model = built(name) if small or name in ("hrnet_w32", "simplebaseline_r50") else create_model(name).eval()
    h, w = (128, 96) if small else (64, 64)
    with torch.no_grad():
        out = model(torch.zeros(1, 3, h, w))
    assert out.shape == (1, 17, h // 4, w // 4)
    assert abs(n_params(model) - PARAMS[name]) <= 0.01 * PARAMS[name]
    if name.startswith("hrnet"):  # the head sits on the high-resolution branch: W channels
        assert model.head.final.in_channels == {"hrnet_w32": 32, "hrnet_w48": 48, "hrnet_w18_small": 16}[name]


@pytest.mark.parametrize("name", SMALL)
def test_joint_count_and_wider_inputs(name):
    model = create_model(name, num_joints=16).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 160, 128)).shape == (1, 16, 40, 32)


@pytest.mark.parametrize(("name", "channels"), [("hrnet_w32", 32), ("hrnet_w18_small", 16)])
def test_hrnet_uses_the_stride4_high_resolution_branch(name, channels, built):
    model = built(name)
    with torch.no_grad():
        (feat,) = model.backbone(torch.zeros(1, 3, 64, 64))
    assert feat.shape == (1, channels, 16, 16)
    assert model.head.final.in_channels == channels and model.head.final.kernel_size == (1, 1)
    assert len(model.head.deconv) == 0


def test_hrnet_drops_the_unused_stage4_fuse_paths(built):
    keys = built("hrnet_w32").state_dict()
    assert any(k.startswith("backbone.stage4.2.fuse_layers.0.3.") for k in keys)
    assert not any(k.startswith(f"backbone.stage4.2.fuse_layers.{i}.") for k in keys for i in (1, 2, 3))


def test_simplebaseline_head_structure(built):
    head = built("simplebaseline_r50").head
    assert len(head.deconv) == 3
    for i, (deconv, bn, relu) in enumerate(head.deconv):
        assert isinstance(deconv, torch.nn.ConvTranspose2d) and isinstance(bn, torch.nn.BatchNorm2d)
        assert isinstance(relu, torch.nn.ReLU)
        assert deconv.in_channels == (2048 if i == 0 else 256) and deconv.out_channels == 256
        assert (deconv.kernel_size, deconv.stride, deconv.padding, deconv.output_padding) == ((4, 4), (2, 2), (1, 1),
                                                                                              (0, 0))
        assert deconv.bias is None
    small = built("simplebaseline_r18_small")
    assert [b[0].out_channels for b in small.head.deconv] == [64, 64]
    assert small.head.deconv[0][0].in_channels == 256  # resnet18 layer3, stride 16


@pytest.mark.parametrize("name", SMALL)
def test_every_parameter_gets_a_gradient(name):
    model = create_model(name).train()
    model(torch.randn(2, 3, 64, 64)).square().mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


@pytest.mark.parametrize(("name", "h", "w", "multiple"), [
    ("hrnet_w18_small", 96, 72, 32), ("hrnet_w18_small", 100, 96, 32), ("simplebaseline_r18_small", 96, 72, 16),
])
def test_input_size_must_be_a_multiple(name, h, w, multiple, built):
    with pytest.raises(ValueError, match=f"width {w} and height {h}.*multiples of {multiple}"):
        built(name)(torch.zeros(1, 3, h, w))


def test_simplebaseline_small_accepts_multiples_of_16(built):
    with torch.no_grad():
        assert built("simplebaseline_r18_small")(torch.zeros(1, 3, 112, 80)).shape == (1, 17, 28, 20)


def test_head_initialisation(built):
    head = built("simplebaseline_r50").head
    big = head.deconv[0][0].weight  # 2048 x 256 x 4 x 4 draws
    assert abs(big.std().item() - 0.001) < 0.00002 and abs(big.mean().item()) < 0.00002
    assert abs(head.final.weight.std().item() - 0.001) < 0.0001
    assert torch.equal(head.final.bias, torch.zeros(17))
    for block in head.deconv:
        assert torch.equal(block[1].weight, torch.ones(256)) and torch.equal(block[1].bias, torch.zeros(256))
    final = built("hrnet_w32").head.final
    assert torch.equal(final.bias, torch.zeros(17)) and abs(final.weight.std().item() - 0.001) < 0.0002


def test_same_seed_same_init_and_global_rng_untouched():
    before = torch.get_rng_state()
    a, b, c = (create_model("simplebaseline_r18_small", seed=s).state_dict() for s in (3, 3, 4))
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["backbone.conv1.weight"], c["backbone.conv1.weight"])
    assert not torch.equal(a["head.final.weight"], c["head.final.weight"])
    torch.manual_seed(7)
    d = create_model("hrnet_w18_small").state_dict()
    torch.manual_seed(7)
    e = create_model("hrnet_w18_small").state_dict()
    assert all(torch.equal(d[k], e[k]) for k in d)


def test_num_joints_is_validated():
    with pytest.raises(ValueError, match="num_joints = 0"):
        create_model("hrnet_w18_small", num_joints=0)


# --- checkpoint import ---------------------------------------------------------------------------------------


def official_tensors(model: PoseNet) -> dict[str, torch.Tensor]:
    """The model's tensors under the official HRNet / SimpleBaseline names, composed module by module."""
    out = dict(model.backbone.state_dict())
    for i, block in enumerate(model.head.deconv):
        for j, layer in enumerate(block):
            for p, t in layer.state_dict().items():
                out[f"deconv_layers.{3 * i + j}.{p}"] = t
    for p, t in model.head.final.state_dict().items():
        out[f"final_layer.{p}"] = t
    return out


def scrambled(tensors: dict[str, torch.Tensor], seed: int = 1) -> dict[str, torch.Tensor]:
    """Fresh distinct values of the same shapes, so a tensor loaded into the wrong place shows."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(t.shape, generator=g) if t.is_floating_point() else torch.full_like(t, i + 1)
            for i, (k, t) in enumerate(tensors.items())}


def in_layout(official: dict[str, torch.Tensor], layout: str) -> dict:
    """The file contents of ``layout``: the official names as they are, or mmpose's prefixes and wrapper."""
    if layout == "official":
        return dict(official)
    head = {"mmpose0": "keypoint_head.", "mmpose1": "head."}[layout]
    state = {(head + k if k.startswith(("final_layer.", "deconv_layers.")) else "backbone." + k): v
             for k, v in official.items()}
    return {"meta": {"epoch": 210, "mmcv_version": "1.1.1", "config": "model = dict(type='TopDown')"},
            "state_dict": state}


def assert_holds(model: PoseNet, official: dict[str, torch.Tensor]) -> None:
    got = official_tensors(model)
    assert got.keys() == official.keys()
    wrong = [k for k in official if not torch.equal(got[k], official[k])]
    assert wrong == []


def save(tmp_path: Path, name: str, obj) -> Path:
    path = tmp_path / name
    torch.save(obj, path)
    return path


@pytest.mark.parametrize(("name", "expected", "layout"), [
    ("hrnet_w32", OFFICIAL_HRNET_W32, "official_hrnet"),
    ("simplebaseline_r50", OFFICIAL_SB_R50, "official_simplebaseline"),
])
def test_export_writes_the_official_names_and_reads_back(name, expected, layout, built):
    from occlusion.models import export_checkpoint

    exported = export_checkpoint(built(name), layout)
    assert {k: tuple(v.shape) for k, v in exported.items() if k in expected} == expected
    assert set(exported) == set(official_tensors(built(name)))
    model = create_model(name, seed=5)
    assert load_pose_checkpoint(model, exported).layout == layout
    assert_holds(model, official_tensors(built(name)))


@pytest.mark.parametrize(("name", "expected", "layout"), [
    ("hrnet_w32", OFFICIAL_HRNET_W32, "official_hrnet"),
    ("simplebaseline_r50", OFFICIAL_SB_R50, "official_simplebaseline"),
])
def test_official_checkpoint_imports_every_tensor(name, expected, layout, built, tmp_path):
    official = scrambled(official_tensors(built(name)))
    assert {k: tuple(official[k].shape) for k in expected} == expected
    assert not any(k.startswith(("stage4.2.fuse_layers.1.", "deconv_layers.2.", "deconv_layers.5.")) for k in official)
    assert abs(sum(t.numel() for k, t in official.items() if t.is_floating_point() and "running" not in k)
               - PARAMS[name]) <= 0.01 * PARAMS[name]
    path = save(tmp_path, f"{name}.pth", in_layout(official, "official"))
    model = create_model(name, seed=5)
    report = load_pose_checkpoint(model, path)
    assert (report.layout, report.loaded, report.missing, report.source) == (layout, len(official), (), str(path))
    assert_holds(model, official)
    if name == "simplebaseline_r50":
        assert torch.equal(model.head.deconv[1][0].weight, official["deconv_layers.3.weight"])
        assert torch.equal(model.head.deconv[2][1].running_var, official["deconv_layers.7.running_var"])


@pytest.mark.parametrize("layout", ["mmpose0", "mmpose1"])
@pytest.mark.parametrize("name", SMALL)
def test_mmpose_checkpoint_imports_every_tensor(name, layout, built, tmp_path):
    official = scrambled(official_tensors(built(name)))
    contents = in_layout(official, layout)
    assert "keypoint_head.final_layer.weight" in contents["state_dict"] or layout == "mmpose1"
    assert "head.final_layer.weight" in contents["state_dict"] or layout == "mmpose0"
    model = create_model(name, seed=5)
    report = load_pose_checkpoint(model, save(tmp_path, "mm.pth", contents))
    assert (report.layout, report.loaded) == (layout, len(official))
    assert_holds(model, official)


@pytest.fixture()
def small_official(built) -> dict[str, torch.Tensor]:
    return scrambled(official_tensors(built("hrnet_w18_small")))


def test_missing_key_raises_naming_it(small_official, tmp_path):
    del small_official["stage3.0.branches.0.1.conv1.weight"]
    with pytest.raises(CheckpointError, match=r"official_hrnet.*1 missing: stage3\.0\.branches\.0\.1\.conv1\.weight$"):
        load_pose_checkpoint(create_model("hrnet_w18_small"), save(tmp_path, "m.pth", small_official))


def test_missing_head_is_named_in_the_file_layout(small_official):
    state = in_layout(small_official, "mmpose0")["state_dict"]
    del state["keypoint_head.final_layer.bias"]
    with pytest.raises(CheckpointError, match=r"1 missing: keypoint_head\.final_layer\.bias$"):
        load_pose_checkpoint(create_model("hrnet_w18_small"), state)
    del small_official["final_layer.weight"], small_official["final_layer.bias"]
    with pytest.raises(CheckpointError, match=r"official_hrnet.*2 missing: final_layer\.weight, final_layer\.bias$"):
        load_pose_checkpoint(create_model("hrnet_w18_small"), small_official)


def test_missing_bn_counters_are_allowed_and_reported(small_official):
    counters = [k for k in small_official if k.endswith("num_batches_tracked")]
    assert len(counters) > 10
    state = {k: v for k, v in small_official.items() if k not in counters}
    model = create_model("hrnet_w18_small", seed=5)
    report = load_pose_checkpoint(model, state)
    assert sorted(report.missing) == sorted(counters) and report.loaded == len(state)
    got = official_tensors(model)
    assert all(torch.equal(got[k], v) for k, v in state.items())


def test_wrong_joint_count_raises_naming_final_layer(tmp_path):
    official = scrambled(official_tensors(create_model("hrnet_w18_small", num_joints=16)))
    path = save(tmp_path, "mpii.pth", official)
    with pytest.raises(CheckpointError, match=r"2 with another shape: final_layer\.weight \(16, 16, 1, 1\) vs model "
                                              r"head\.final\.weight \(17, 16, 1, 1\); final_layer\.bias \(16,\)"):
        load_pose_checkpoint(create_model("hrnet_w18_small"), path)
    model = create_model("hrnet_w18_small", seed=5)
    final_before = model.head.final.weight.clone()
    report = load_pose_checkpoint(model, path, strict=False)
    assert report.mismatched == ("final_layer.weight", "final_layer.bias")
    assert report.missing == ("final_layer.weight", "final_layer.bias") and report.loaded == len(official) - 2
    assert torch.equal(model.head.final.weight, final_before)
    assert torch.equal(model.backbone.conv1.weight, official["conv1.weight"])


def test_unexpected_key_raises(small_official, tmp_path):
    small_official["stage4.0.fuse_layers.1.0.0.0.weight"] = torch.zeros(32, 16, 3, 3)  # a path the pose HRNet lacks
    with pytest.raises(CheckpointError, match=r"1 unexpected: stage4\.0\.fuse_layers\.1\.0\.0\.0\.weight"):
        load_pose_checkpoint(create_model("hrnet_w18_small"), save(tmp_path, "x.pth", small_official))
    model = create_model("hrnet_w18_small")
    report = load_pose_checkpoint(model, small_official, strict=False)
    assert report.unexpected == ("stage4.0.fuse_layers.1.0.0.0.weight",) and report.missing == ()


def test_other_architecture_raises(built):
    official = official_tensors(built("simplebaseline_r18_small"))
    with pytest.raises(CheckpointError) as err:
        load_pose_checkpoint(create_model("hrnet_w18_small"), official)
    message = str(err.value)
    assert ("(official_simplebaseline layout) does not fit the model: 12 with another shape: "
            "conv1.weight (64, 3, 7, 7) vs model backbone.conv1.weight (64, 3, 3, 3);") in message
    assert "missing: conv2.weight, bn2.weight" in message and "unexpected: layer1.1.conv1.weight" in message


def test_module_prefix_and_state_dict_wrapper_load(small_official, tmp_path):
    for i, contents in enumerate([
        {"module." + k: v for k, v in small_official.items()},
        {"state_dict": small_official, "epoch": 3},
        {"state_dict": {"module." + k: v for k, v in small_official.items()}},
    ]):
        model = create_model("hrnet_w18_small", seed=5)
        assert load_pose_checkpoint(model, save(tmp_path, f"{i}.pth", contents)).layout == "official_hrnet"
        assert_holds(model, small_official)


def test_native_state_dict_round_trip(tmp_path):
    source = create_model("simplebaseline_r18_small", seed=1)
    path = save(tmp_path, "model.pt", {"model": source.state_dict(), "meta": {"run": "x"}})
    model = create_model("simplebaseline_r18_small", seed=2)
    assert load_pose_checkpoint(model, path).layout == "native"
    assert_holds(model, official_tensors(source))


def test_layout_detection():
    assert detect_layout(["backbone.conv1.weight", "head.final_layer.weight"]) == "mmpose1"
    assert detect_layout(["backbone.conv1.weight", "keypoint_head.final_layer.weight"]) == "mmpose0"
    assert detect_layout(["stage2.0.branches.0.0.conv1.weight", "final_layer.weight"]) == "official_hrnet"
    assert detect_layout(["deconv_layers.0.weight", "final_layer.weight"]) == "official_simplebaseline"
    assert detect_layout(["backbone.conv1.weight", "head.final.weight"]) == "native"
    assert detect_layout(["stage2.0.branches.0.0.conv1.weight"]) == "official_hrnet"
    with pytest.raises(CheckpointError, match="matches none.*first keys: encoder.weight"):
        detect_layout(["encoder.weight"])
    with pytest.raises(CheckpointError, match=r"matches several \(native, mmpose0\)"):
        detect_layout(["head.final.weight", "keypoint_head.final_layer.weight"])
    assert set(LAYOUTS) == {"native", "official_hrnet", "official_simplebaseline", "mmpose0", "mmpose1",
                            "official_vitpose", "mmpose1_vitpose"}  # the ViTPose layouts: tests/test_vitpose.py


def test_non_tensor_entries_raise():
    with pytest.raises(CheckpointError, match="not tensors: final_layer.bias"):
        load_pose_checkpoint(create_model("hrnet_w18_small"), {"final_layer.weight": torch.zeros(1),
                                                               "final_layer.bias": 1})


# --- known checkpoints and download --------------------------------------------------------------------------


def test_checkpoint_table_is_consistent():
    for name, entry in CHECKPOINTS.items():
        assert entry.model in list_models() and entry.layout in LAYOUTS
        assert entry.url is None or entry.url.endswith("/" + name)
        if entry.sha256_prefix:  # OpenMMLab names end in -<first 8 hex of sha256>_<date>.pth
            assert name.rsplit("_", 1)[0].endswith("-" + entry.sha256_prefix)
    assert CHECKPOINTS["pose_hrnet_w32_256x192.pth"].model == "hrnet_w32"
    assert CHECKPOINTS["pose_resnet_50_256x192.pth"].layout == "official_simplebaseline"


def test_load_pretrained_from_a_file_url(small_official, tmp_path, monkeypatch):
    src = save(tmp_path, "src.pth", small_official)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    entry = Checkpoint("hrnet_w18_small", "coco", (96, 128), "official_hrnet", src.as_uri(), sha256=digest)
    monkeypatch.setitem(CHECKPOINTS, "tiny.pth", entry)
    cache = tmp_path / "cache"
    model, report = load_pretrained("tiny.pth", cache, progress=False)
    assert (report.layout, report.source) == ("official_hrnet", str(cache / "tiny.pth"))
    assert_holds(model, small_official)
    src.unlink()  # the second call is served from the cache
    assert_holds(load_pretrained("tiny.pth", cache, progress=False)[0], small_official)


def test_download_checks_the_hash(small_official, tmp_path, monkeypatch):
    src = save(tmp_path, "src.pth", small_official)
    bad = Checkpoint("hrnet_w18_small", "coco", (96, 128), "official_hrnet", src.as_uri(), sha256_prefix="00000000")
    monkeypatch.setitem(CHECKPOINTS, "tiny.pth", bad)
    with pytest.raises(RuntimeError, match='invalid hash value \\(expected "00000000"'):
        download_checkpoint("tiny.pth", tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache" / "tiny.pth").exists()
    (tmp_path / "cache" / "tiny.pth").write_bytes(src.read_bytes())  # a cached file is checked too
    with pytest.raises(CheckpointError, match="sha256 does not start with 00000000"):
        download_checkpoint("tiny.pth", tmp_path / "cache")


def test_load_pretrained_checks_the_listed_layout(small_official, tmp_path, monkeypatch):
    src = save(tmp_path, "src.pth", in_layout(small_official, "mmpose1"))
    monkeypatch.setitem(CHECKPOINTS, "tiny.pth",
                        Checkpoint("hrnet_w18_small", "coco", (96, 128), "mmpose0", src.as_uri()))
    with pytest.warns(UserWarning, match="not verified"), pytest.raises(CheckpointError, match="expected the mmpose0"):
        load_pretrained("tiny.pth", tmp_path / "cache", progress=False)


def test_checkpoint_without_url_or_unknown_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="pose_hrnet_w32_256x192.pth has no direct download URL"):
        download_checkpoint("pose_hrnet_w32_256x192.pth", tmp_path)
    with pytest.raises(KeyError, match="unknown checkpoint 'nope.pth'; known: hrnet_w32_coco"):
        download_checkpoint("nope.pth", tmp_path)


def test_imagenet_weights_from_a_local_file(tmp_path):
    """Offline GPU nodes: timm's ImageNet weights given as a file load into the backbone, no hub involved."""
    import timm

    reference = timm.create_model("hrnet_w18_small", pretrained=False)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(1.0)
    path = tmp_path / "hrnet_w18_small.pth"
    torch.save(reference.state_dict(), path)
    model = create_model("hrnet_w18_small", pretrained=path)
    assert torch.equal(model.backbone.conv1.weight, reference.conv1.weight)
    assert torch.equal(model.backbone.stage3[0].branches[1][0].conv1.weight,
                       reference.stage3[0].branches[1][0].conv1.weight)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        create_model("hrnet_w18_small", pretrained=tmp_path / "missing.pth")


def test_imagenet_weights_offline_fail_at_once_naming_the_fix(tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match=r"timm/hrnet_w32\.\S+/model\.safetensors .*pretrain\.<key>\.weights"):
        create_model("hrnet_w32", pretrained=True)
    assert time.perf_counter() - start < 10
