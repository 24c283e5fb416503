"""Figures and tables (occlusion.reports): aggregated numbers, paper values, byte-stable files, loud failures."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer

from occlusion.keypoints import COCO, FILLERS, PARTS
from occlusion.reports import style, tables
from occlusion.reports.attacks import (
    fig3_model_comparison,
    fig4_radius,
    fig5_keypoint_targets,
    fig6_per_keypoint,
    fig7_part_targets,
    fig8_part_per_keypoint,
)
from occlusion.reports.augmented import fig11_augmented_under_attack
from occlusion.reports.boxes import fig10_boxes
from occlusion.reports.examples import draw_pose, image_grid
from occlusion.reports.frames import Selection

DPI = 30
SMALL = (3.0, 2.0)
TABLE1_PRESETS = (
    "no_aug", "flip_rot_scale", "half_body", "blur_k_02", "blur_k_05", "cutout_k_02", "cutout_k_05", "cutblur_k_02",
    "cutblur_k_05", "blur_p_02", "blur_p_05", "blur_p_05_keep", "cutout_p_02", "cutout_p_05", "cutout_p_05_keep",
    "cutblur_p_02", "cutblur_p_05", "cutblur_p_05_keep", "multikeypoint_02", "partmix_05", "partmix_05_keep",
)  # fmt: skip


def _attack_row(model, preset, kind, target, filler, radius, keypoint, delta, clean=70.0, paper_bounds=True):
    row = {"model": model, "preset": preset, "dataset": "coco", "boxes": "gt", "target": target,
           "target_kind": kind, "filler": filler, "radius": radius, "paper_bounds": paper_bounds,
           "keypoint": keypoint}
    for m in style.COCO_METRICS:
        row.update({m: clean + delta, f"clean_{m}": clean, f"delta_{m}": delta})
    return row


def attack_table(models=("hrnet",), presets=("half_body",), radii=(6,), seed=0, per_keypoint=True) -> pd.DataFrame:
    """Every attack row of the schema, with random deltas (ties have probability zero)."""
    rng = np.random.default_rng(seed)
    keypoints = ("all", *COCO.names) if per_keypoint else ("all",)
    rows = []
    for model in models:
        for preset in presets:
            clean = 70.0 + rng.uniform(-2, 2)
            rows += [_attack_row(model, preset, "none", "clean", "none", math.nan, k, 0.0, clean) for k in keypoints]
            for kind, targets, kind_radii in (("keypoint", COCO.names, radii), ("part", PARTS, (math.nan,))):
                for radius in kind_radii:
                    for target in targets:
                        for filler in FILLERS:
                            rows += [_attack_row(model, preset, kind, target, filler, radius, k,
                                                 float(rng.uniform(-10, 3)), clean) for k in keypoints]
    return pd.DataFrame(rows)


def eval_table(boxes=("gt", "cascade_rcnn"), presets=style.CHOSEN_PRESETS, seeds=(0, 1), model="hrnet", seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for b in boxes:
        for p in presets:
            for s in seeds:
                rows.append({"model": model, "preset": p, "dataset": "coco", "boxes": b, "seed": s,
                             **{m: 74.0 + float(rng.uniform(-1, 1)) for m in style.COCO_METRICS}})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def attacks() -> pd.DataFrame:
    return attack_table(models=("hrnet", "simplebaseline"), radii=(6, 18))


def _value(df, **eq) -> float:
    mask = np.ones(len(df), dtype=bool)
    for col, val in eq.items():
        mask &= (df[col] == val).to_numpy()
    assert mask.sum() == 1, eq
    return float(df.loc[mask, "delta_AP"].iloc[0]) if "delta_AP" in df else math.nan


# ------------------------------------------------------------------------------------------------ paper values


def test_paper_results_hold_every_table_row_and_stated_value():
    pr = style.paper_results()
    rows = pr["table1"]["rows"]
    assert tuple(rows) == TABLE1_PRESETS
    assert all(set(style.COCO_METRICS) <= set(r) for r in rows.values())
    assert rows["blur_k_05"]["AP"] == 74.5 and rows["no_aug"]["AR"] == 70.2 and rows["partmix_05_keep"]["APM"] == 71.1
    assert pr["table2"]["rows"]["partmix_05_keep"]["Elbow"] == 91.0 and pr["table2"]["rows"]["baseline"]["Mean"] == 90.3
    assert pr["table3"]["rows"]["baseline"]["AP"] == 67.1 and pr["table3"]["rows"]["blur_k_05"]["AP75"] == 72.1
    fig5 = {(v["target"], v["filler"]): v["delta_AP"] for v in pr["figures"]["fig5"]["values"]}
    assert fig5[("nose", "blackout")] == -5.0 and fig5[("nose", "meanout")] == -4.4 and fig5[("nose", "blur")] == -1.2
    fig7 = {(v["target"], v["filler"]): v["delta_AP"] for v in pr["figures"]["fig7"]["values"]}
    assert fig7 == {("upper_body", "blackout"): -44.0, ("left_side", "blackout"): -24.0,
                    ("right_side", "blackout"): -24.0}
    assert list(pr["figures"]["fig10"]["AP"]["cascade_rcnn"].values()) == [74.3, 74.5, 74.5, 74.4]
    assert all("note" in v for v in pr["figures"]["fig7"]["values"])  # "more than": approximate
    pr["table1"]["rows"].clear()  # a copy: the cache is untouched
    assert style.paper_results()["table1"]["rows"]["half_body"]["AP"] == 74.3


# ------------------------------------------------------------------------------------------------ attack figures


def test_fig3_means_delta_ap_over_all_targets_per_model_and_filler(attacks):
    fig, data = fig3_model_comparison(attacks, figsize=(5, 2))
    assert set(data["model"]) == {"hrnet", "simplebaseline"} and len(data) == 2 * 2 * 3
    overall = attacks[(attacks["keypoint"] == "all") & (attacks["filler"] == "meanout")]
    kp = overall[(overall["target_kind"] == "keypoint") & (overall["radius"] == 6) & (overall["model"] == "hrnet")]
    part = overall[(overall["target_kind"] == "part") & (overall["model"] == "simplebaseline")]
    got = data.set_index(["kind", "model", "filler"])
    assert got.loc[("keypoint", "hrnet", "meanout"), "delta_AP"] == pytest.approx(np.mean(kp["delta_AP"]))
    assert got.loc[("part", "simplebaseline", "meanout"), "delta_AP"] == pytest.approx(np.mean(part["delta_AP"]))
    assert set(data["n_targets"]) == {17, 11}
    assert "Fig. 3" in fig._suptitle.get_text()


def test_fig4_means_over_targets_per_radius_and_marks_the_paper_point(attacks):
    fig, data = fig4_radius(attacks, Selection(model="hrnet", subtitle="smoke"), figsize=SMALL)
    assert list(data["radius"].unique()) == [6, 18]
    rows = attacks[(attacks["model"] == "hrnet") & (attacks["target_kind"] == "keypoint")
                   & (attacks["keypoint"] == "all") & (attacks["radius"] == 18) & (attacks["filler"] == "blackout")]
    assert len(rows) == 17
    got = data[(data["radius"] == 18) & (data["filler"] == "blackout")]
    assert got["delta_AP"].item() == pytest.approx(rows["delta_AP"].sum() / 17)
    assert (data.loc[data["radius"] == 18, "paper_delta_AP"] == -3.0).all()
    assert data.loc[data["radius"] == 6, "paper_delta_AP"].isna().all()
    title = fig._suptitle.get_text()
    assert "Fig. 4" in title and "hrnet" in title and "smoke" in title
    assert fig.axes[0].get_ylabel().endswith("over keypoint targets") and "ΔAP (points)" in fig.axes[0].get_ylabel()


def test_fig5_bars_are_the_overall_deltas_with_paper_markers(attacks):
    fig, data = fig5_keypoint_targets(attacks, Selection(model="hrnet"), figsize=SMALL)
    assert len(data) == 17 * 3 and list(data["target"].unique()) == list(COCO.names)
    expect = _value(attacks, model="hrnet", target="nose", filler="blackout", radius=6, keypoint="all")
    assert data.set_index(["target", "filler"]).loc[("nose", "blackout"), "delta_AP"] == expect
    paper = data.set_index(["target", "filler"])["paper_delta_AP"]
    assert (paper[("nose", "blackout")], paper[("nose", "meanout")], paper[("nose", "blur")]) == (-5.0, -4.4, -1.2)
    assert all(paper[("left_eye", f)] == -1.0 for f in FILLERS)  # "about 1% with each attack"
    stated = [(t, f) for t in ("nose", "left_eye", "right_eye") for f in FILLERS]
    assert paper.drop(stated).isna().all()
    heights = [p.get_height() for c in fig.axes[0].containers if isinstance(c, BarContainer) for p in c]
    assert sorted(heights) == pytest.approx(sorted(data["delta_AP"]))


def test_fig5_draws_error_bars_from_ci_columns(attacks):
    with_ci = attacks.assign(ci_low=attacks["delta_AP"] - 1.0, ci_high=attacks["delta_AP"] + 0.5)
    fig, data = fig5_keypoint_targets(with_ci, Selection(model="hrnet"), figsize=SMALL)
    assert {"ci_low", "ci_high"} <= set(data.columns)
    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    assert len(bars) == 3 and all(c.errorbar is not None for c in bars)
    segments = bars[0].errorbar.lines[2][0].get_segments()
    assert segments[0][1][1] - segments[0][0][1] == pytest.approx(1.5)  # ci_high - ci_low
    _, no_ci = fig5_keypoint_targets(attacks, Selection(model="hrnet"), figsize=SMALL)
    assert "ci_low" not in no_ci.columns


def test_fig6_picks_the_five_largest_drops_per_filler(attacks):
    _, data = fig6_per_keypoint(attacks, Selection(model="hrnet"), figsize=(6, 2))
    assert len(data) == 3 * 3 * 5
    for target in ("nose", "left_eye", "left_ankle"):
        for filler in FILLERS:
            rows = attacks[(attacks["model"] == "hrnet") & (attacks["target"] == target) & (attacks["radius"] == 6)
                           & (attacks["filler"] == filler) & (attacks["keypoint"] != "all")]
            expect = rows.sort_values("delta_AP")["keypoint"].head(5).tolist()
            got = data[(data["target"] == target) & (data["filler"] == filler)]
            assert got["keypoint"].tolist() == expect and got["rank"].tolist() == [1, 2, 3, 4, 5]
    stated = data.dropna(subset=["paper_delta_AP"])
    assert set(zip(stated["target"], stated["keypoint"])) <= {
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_eye")}


def test_fig6_ranks_by_drop_not_by_magnitude():
    df = attack_table(radii=(6,), seed=1)
    sel = (df["target"] == "nose") & (df["filler"] == "blur") & (df["radius"] == 6) & (df["keypoint"] != "all")
    df.loc[sel, "delta_AP"] = -1.0
    df.loc[sel & (df["keypoint"] == "right_hip"), "delta_AP"] = 50.0  # a gain is no drop
    df.loc[sel & df["keypoint"].isin(["left_ear", "right_knee"]), "delta_AP"] = [-3.0, -2.0]
    _, data = fig6_per_keypoint(df, Selection(targets=("nose",), fillers=("blur",)), figsize=SMALL)
    # ties keep COCO order
    assert data["keypoint"].tolist() == ["left_ear", "right_knee", "nose", "left_eye", "right_eye"]


def test_fig7_part_bars_and_paper_values(attacks):
    _, data = fig7_part_targets(attacks, Selection(model="simplebaseline"), figsize=SMALL)
    assert list(data["target"].unique()) == list(PARTS) and len(data) == 33
    got = data.set_index(["target", "filler"])
    expect = _value(attacks, model="simplebaseline", target="corpus", filler="blur", keypoint="all")
    assert got.loc[("corpus", "blur"), "delta_AP"] == expect
    assert got.loc[("upper_body", "blackout"), "paper_delta_AP"] == -44.0
    assert got.loc[("left_side", "blackout"), "paper_delta_AP"] == -24.0
    assert math.isnan(got.loc[("upper_body", "blur"), "paper_delta_AP"])


def test_fig8_ranks_by_magnitude_outside_the_part():
    df = attack_table(radii=(6,), seed=2)
    sel = (df["target"] == "left_side") & (df["filler"] == "blackout") & (df["keypoint"] != "all")
    df.loc[sel & (df["keypoint"] == "left_shoulder"), "delta_AP"] = -60.0  # inside the part: never shown
    df.loc[sel & (df["keypoint"] == "right_shoulder"), "delta_AP"] = 40.0  # an improvement with the largest |Δ|
    _, data = fig8_part_per_keypoint(df, figsize=(6, 2))
    for part in ("upper_body", "corpus", "left_side"):
        inside = {COCO.names[i] for i in COCO.part_mapping[part]}
        assert not inside & set(data.loc[data["target"] == part, "keypoint"])
    upper = data[(data["target"] == "upper_body") & (data["filler"] == "blackout")]
    # only 4 keypoints lie outside the upper body
    assert sorted(upper["keypoint"]) == ["left_ankle", "left_knee", "right_ankle", "right_knee"]
    assert (upper.loc[upper["keypoint"].isin(["left_ankle", "right_ankle"]), "paper_delta_AP"] == -3.0).all()
    side = data[(data["target"] == "left_side") & (data["filler"] == "blackout")]
    rows = df[sel & ~df["keypoint"].isin([COCO.names[i] for i in COCO.part_mapping["left_side"]])]
    expect = rows.assign(a=rows["delta_AP"].abs()).sort_values("a", ascending=False)["keypoint"].head(5).tolist()
    assert side["keypoint"].tolist() == expect and expect[0] == "right_shoulder"


def test_fig11_mean_ap_per_preset_and_delta_to_baseline():
    df = attack_table(presets=style.CHOSEN_PRESETS, per_keypoint=False, seed=3)
    fig, data = fig11_augmented_under_attack(df, figsize=(5, 2))
    assert len(data) == 2 * 4 * 3
    part = df[(df["target_kind"] == "part") & (df["filler"] == "blur") & (df["keypoint"] == "all")]
    mean = part.groupby("preset")["AP"].mean()
    got = data[(data["kind"] == "part") & (data["filler"] == "blur")].set_index("preset")
    assert got.loc["partmix_05_keep", "AP"] == pytest.approx(mean["partmix_05_keep"])
    gain = mean["partmix_05_keep"] - mean["half_body"]
    assert got.loc["partmix_05_keep", "delta_AP_vs_baseline"] == pytest.approx(gain)
    assert got.loc["partmix_05_keep", "paper_AP"] == pytest.approx(mean["half_body"] + 5.0)
    assert math.isnan(got.loc["blur_k_05", "paper_AP"])


# ------------------------------------------------------------------------------------------------ clean accuracy


def test_fig10_mean_over_seeds_deltas_and_paper_markers():
    ev = eval_table(boxes=("gt", "cascade.json", "retinanet"))
    ev["ci_low"], ev["ci_high"] = -0.1, 0.3
    fig, data = fig10_boxes(ev, paper_boxes={"cascade.json": "cascade_rcnn"}, figsize=(4, 2))
    got = data.set_index(["boxes", "preset"])
    mean = ev.groupby(["boxes", "preset"])["AP"].mean()
    assert got.loc[("gt", "blur_k_05"), "AP"] == pytest.approx(mean[("gt", "blur_k_05")])
    assert got.loc[("gt", "blur_k_05"), "seeds"] == 2
    delta = mean[("gt", "cutout_p_05_keep")] - mean[("gt", "half_body")]
    assert got.loc[("gt", "cutout_p_05_keep"), "delta"] == pytest.approx(delta)
    assert got.loc[("gt", "cutout_p_05_keep"), "paper_high"] == pytest.approx(mean[("gt", "half_body")] + 0.4)
    assert got.loc[("cascade.json", "partmix_05_keep"), "paper_AP"] == 74.4
    assert tuple(got.loc[("retinanet", "blur_k_05"), ["paper_delta_low", "paper_delta_high"]]) == (0.1, 0.2)
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert f"{delta:+.1f}" in labels
    _, data13 = fig10_boxes(ev, paper_figure="fig13", figsize=(4, 2))
    assert data13.set_index(["boxes", "preset"]).loc[("gt", "partmix_05_keep"), "paper_delta_low"] == 0.4


def test_tables_put_paper_values_beside_ours():
    ev = eval_table(boxes=("cascade_rcnn",), presets=("half_body", "blur_k_05", "my_new_aug"))
    t1 = tables.table1(ev)
    assert list(t1["preset"]) == [*TABLE1_PRESETS, "my_new_aug"]
    row = t1.set_index("preset").loc["blur_k_05"]
    assert row["AP (paper)"] == 74.5 and row["AR (paper)"] == 78.7 and row["seeds"] == 2
    assert row["AP"] == pytest.approx(ev.loc[ev["preset"] == "blur_k_05", "AP"].mean())
    assert row["AP sd"] == pytest.approx(ev.loc[ev["preset"] == "blur_k_05", "AP"].std(ddof=1))
    missing = t1.set_index("preset").loc["no_aug"]
    assert math.isnan(missing["AP"]) and missing["AP (paper)"] == 65.3 and missing["seeds"] == 0
    assert math.isnan(t1.set_index("preset").loc["my_new_aug", "AP (paper)"])
    assert [c for c in t1.columns if "AP50" in c] == ["AP50", "AP50 (paper)"]

    mpii = pd.DataFrame([{"model": "hrnet", "preset": p, "dataset": "mpii", "boxes": "gt", "seed": 0,
                          **{m: 90.0 for m in style.MPII_METRICS}} for p in ("flip_rot_scale", "partmix_05_keep")])
    t2 = tables.table2(mpii, baseline="flip_rot_scale").set_index("preset")
    assert t2.loc["flip_rot_scale", "Mean (paper)"] == 90.3 and t2.loc["flip_rot_scale", "label"] == "Baseline"
    assert t2.loc["partmix_05_keep", "Elbow (paper)"] == 91.0 and t2.loc["partmix_05_keep", "Elbow"] == 90.0

    higher = eval_table(boxes=("none",), presets=("half_body",), model="higher_hrnet")
    t3 = tables.table3(pd.concat([higher, ev]), model="higher_hrnet").set_index("preset")
    assert t3.loc["half_body", "AP (paper)"] == 67.1 and "AR" not in t3.columns


def test_markdown_table_format_and_significance_stars(tmp_path):
    df = pd.DataFrame({"preset": ["half_body", "a|b"], "AP": [74.25, math.nan], "AP (paper)": [74.3, 74.5],
                       "seeds": [2, 0], "p_holm": [0.01234, 0.5], "significant": [True, False]})
    text = tables.markdown_table(df)
    assert text.splitlines()[:4] == [
        "| preset | AP | AP (paper) | seeds | p_holm |",
        "|:---|---:|---:|---:|---:|",
        "| half_body | 74.2\\* | 74.3 | 2 | 0.0123 |",
        "| a\\|b | – | 74.5 | 0 | 0.5 |",
    ]
    assert text.rstrip().endswith("(Holm-corrected paired bootstrap).")
    plain = tables.markdown_table(df.drop(columns="significant"))
    assert "*" not in plain and "| 74.2 |" in plain
    csv_path, md_path = tables.write_table(df, tmp_path / "tables" / "table1")
    assert md_path.read_text() == text and md_path.name == "table1.md"
    assert pd.read_csv(csv_path)["AP (paper)"].tolist() == [74.3, 74.5]
    with pytest.raises(ValueError, match="star_column 'Mean'"):
        tables.markdown_table(df, star_column="Mean")


def test_table_markdown_has_the_caption_of_the_paper_table():
    text = tables.markdown_table(tables.table1(eval_table(boxes=("cascade_rcnn",))))
    assert text.startswith("HRNet-W32 256x192 variants on COCO val2017 with Cascade R-CNN R50 person boxes (Table I)")
    assert "| blur_k_05 | Blurring k ✗ 0.5 | 2 |" in text


# ------------------------------------------------------------------------------------------------ files


def test_save_figure_is_byte_stable_with_csv_beside(tmp_path, attacks):
    fig, data = fig5_keypoint_targets(attacks, Selection(model="hrnet"), figsize=SMALL)
    first = style.save_figure(fig, tmp_path / "a" / "fig5.png", data, dpi=DPI)
    matplotlib.rcParams["font.size"] = 23.0  # global state must not leak into the figures
    try:
        fig2, data2 = fig5_keypoint_targets(attacks, Selection(model="hrnet"), figsize=SMALL)
        second = style.save_figure(fig2, tmp_path / "b" / "fig5.png", data2, dpi=DPI)
    finally:
        matplotlib.rcParams["font.size"] = matplotlib.rcParamsDefault["font.size"]
    png = first.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == second.read_bytes()
    assert b"Software" not in png and b"matplotlib" not in png
    assert (tmp_path / "a" / "fig5.csv").read_bytes() == (tmp_path / "b" / "fig5.csv").read_bytes()
    assert pd.read_csv(tmp_path / "a" / "fig5.csv")["delta_AP"].to_numpy() == pytest.approx(data["delta_AP"], abs=1e-4)
    style.save_figure(fig, first, data, dpi=DPI)  # overwrite in place
    assert first.read_bytes() == png and sorted(p.name for p in first.parent.iterdir()) == ["fig5.csv", "fig5.png"]
    with pytest.raises(ValueError, match="must end in .png"):
        style.save_figure(fig, tmp_path / "fig5.pdf", data)


def test_setup_matplotlib_selects_agg_and_the_fixed_fonts():
    with matplotlib.rc_context():
        style.setup_matplotlib()
        assert matplotlib.get_backend().lower() == "agg"
        assert matplotlib.rcParams["font.size"] == 8.0 and matplotlib.rcParams["font.family"] == ["DejaVu Sans"]


# ------------------------------------------------------------------------------------------------ failures


def test_figures_fail_loudly_naming_what_is_missing(attacks):
    no_keypoints = attacks[attacks["target_kind"] != "keypoint"]
    with pytest.raises(ValueError, match=r"fig5_keypoint_targets: no rows with target_kind='keypoint'"):
        fig5_keypoint_targets(no_keypoints, Selection(model="hrnet"))
    no_ankle_blur = attacks[~((attacks["target"] == "left_ankle") & (attacks["filler"] == "blur"))]
    with pytest.raises(ValueError, match=r"missing rows for \(target, filler\): \('left_ankle', 'blur'\)"):
        fig5_keypoint_targets(no_ankle_blur, Selection(model="hrnet"))
    with pytest.raises(ValueError, match=r"lacks columns \['delta_AP'\]"):
        fig7_part_targets(attacks.drop(columns="delta_AP"), Selection(model="hrnet"))
    with pytest.raises(ValueError, match=r"model values \['hrnet', 'simplebaseline'\]; pass model="):
        fig4_radius(attacks)
    with pytest.raises(ValueError, match=r"no per-keypoint rows"):
        fig6_per_keypoint(attacks[attacks["keypoint"] == "all"], Selection(model="hrnet"))
    with pytest.raises(ValueError, match=r"repeat \(target, filler\)"):
        fig7_part_targets(pd.concat([attacks, attacks.assign(paper_bounds=False)]).query("model == 'hrnet'")
                                .assign(paper_bounds=True))
    with pytest.raises(ValueError, match=r"targets \['nose', 'neck'\] invalid \(\['neck'\]\)"):
        fig5_keypoint_targets(attacks, Selection(model="hrnet", targets=("nose", "neck")))
    ev = eval_table()
    with pytest.raises(ValueError, match=r"missing rows for \(boxes, preset\): \('gt', 'partmix_05_keep'\)"):
        fig10_boxes(ev[~((ev["boxes"] == "gt") & (ev["preset"] == "partmix_05_keep"))])
    with pytest.raises(ValueError, match=r"boxes values \['cascade_rcnn', 'gt'\]; pass boxes="):
        tables.table1(ev)
    with pytest.raises(ValueError, match=r"lacks columns \['Head'"):
        tables.table2(ev.assign(dataset="mpii"))
    bad_ci = ev.assign(ci_low=np.arange(len(ev), dtype=float))
    with pytest.raises(ValueError, match="ci_low differs between the seeds"):
        tables.table1(bad_ci, boxes="gt")


# ------------------------------------------------------------------------------------------------ qualitative


def test_draw_pose_draws_labelled_joints_and_edges_on_a_copy():
    image = np.zeros((40, 40, 3), np.uint8)
    kps = np.zeros((17, 3), np.float32)
    kps[13] = (10, 5, 2)  # left_knee
    kps[15] = (10, 30, 1)  # left_ankle; edge (15, 13)
    kps[0] = (30, 30, 0)  # unlabelled nose
    out = draw_pose(image, kps, COCO, (0, 255, 0), radius=2, thickness=3)
    assert image.max() == 0 and out.dtype == np.uint8
    assert tuple(out[5, 10]) == (0, 255, 0) and tuple(out[30, 10]) == (0, 255, 0)  # joints (y, x)
    assert tuple(out[17, 10]) == (0, 255, 0)  # on the left_knee-left_ankle line
    assert out[30, 30].max() == 0 and out[:, 20:].max() == 0  # nothing for the unlabelled nose
    with pytest.raises(ValueError, match=r"expected \(17, 3\)"):
        draw_pose(image, kps[:16], COCO)


def test_image_grid_lays_out_titled_panels():
    images = [np.full((8, 6, 3), i * 40, np.uint8) for i in range(5)]
    fig = image_grid(images, [f"crop {i}" for i in range(5)], ncols=3, panel_width=1.0)
    assert len(fig.axes) == 6 and [ax.get_title() for ax in fig.axes[:5]] == [f"crop {i}" for i in range(5)]
    assert (fig.axes[2].images[0].get_array() == images[2]).all()
    with pytest.raises(ValueError, match="2 titles for 5 images"):
        image_grid(images, ["a", "b"])


# ------------------------------------------------------------------------------------------------ bootstrap intervals

B = 30


def with_samples(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """``AP_samples`` and ``delta_AP_samples`` on the overall rows: each row's value plus resampling noise."""
    rng = np.random.default_rng(seed)
    overall = df["keypoint"] == "all"
    ap = [rng.normal(v, 1.0, B) if o else None for v, o in zip(df["AP"], overall)]
    delta = [rng.normal(v, 1.0, B) if o else None for v, o in zip(df["delta_AP"], overall)]
    return df.assign(AP_samples=ap, delta_AP_samples=delta)


def _slow_interval(per_target: list[np.ndarray]) -> tuple[float, float, float]:
    """Resample by resample: the mean over targets, then the percentile interval and the two-sided p-value."""
    means = np.array([np.mean([s[b] for s in per_target]) for b in range(B)])
    low, high = np.quantile(means, [0.025, 0.975])
    return low, high, min(1.0, 2 * min((means <= 0).sum(), (means >= 0).sum()) / B)


def _samples(df, column, **eq) -> list[np.ndarray]:
    mask = np.ones(len(df), dtype=bool)
    for col, val in eq.items():
        mask &= (df[col] == val).to_numpy()
    return list(df.loc[mask & (df["keypoint"] == "all").to_numpy(), column])


def test_fig3_error_bars_are_the_interval_of_the_mean_over_targets(attacks):
    df = with_samples(attacks)
    fig, data = fig3_model_comparison(df, figsize=(5, 2))
    got = data.set_index(["kind", "model", "filler"])
    per_target = _samples(df, "delta_AP_samples", model="hrnet", target_kind="keypoint", radius=6, filler="blur")
    assert len(per_target) == 17
    expected = _slow_interval(per_target)
    assert tuple(got.loc[("keypoint", "hrnet", "blur"), ["ci_low", "ci_high", "p_value"]]) == pytest.approx(expected)
    assert "delta_AP_samples" not in data.columns  # the data CSV holds the interval, not the arrays
    bars = [c for c in fig.axes[1].containers if isinstance(c, BarContainer)]
    assert len(bars) == 3 and all(c.errorbar is not None for c in bars)
    _, plain = fig3_model_comparison(attacks, figsize=(5, 2))
    assert "ci_low" not in plain.columns


def test_fig4_error_bars_per_radius(attacks):
    df = with_samples(attacks, seed=1)
    _, data = fig4_radius(df, Selection(model="hrnet"), figsize=SMALL)
    row = data[(data["radius"] == 18) & (data["filler"] == "meanout")]
    per_target = _samples(df, "delta_AP_samples", model="hrnet", target_kind="keypoint", radius=18, filler="meanout")
    assert tuple(row[["ci_low", "ci_high", "p_value"]].iloc[0]) == pytest.approx(_slow_interval(per_target))
    assert data[["ci_low", "ci_high"]].notna().all().all()


def test_fig11_error_bars_are_the_paired_difference_to_the_baseline():
    df = with_samples(attack_table(presets=style.CHOSEN_PRESETS, per_keypoint=False, seed=3), seed=2)
    _, data = fig11_augmented_under_attack(df, figsize=(5, 2))
    got = data.set_index(["kind", "preset", "filler"])
    mix = _samples(df, "AP_samples", preset="partmix_05_keep", target_kind="part", filler="blackout")
    base = _samples(df, "AP_samples", preset="half_body", target_kind="part", filler="blackout")
    expected = _slow_interval([m - b for m, b in zip(mix, base)])  # targets in the same order in both
    assert tuple(got.loc[("part", "partmix_05_keep", "blackout"), ["ci_low", "ci_high", "p_value"]]) == \
        pytest.approx(expected)
    assert data.loc[data["preset"] == "half_body", ["ci_low", "ci_high", "p_value"]].isna().all().all()
    empty = df.assign(AP_samples=[None if s is None else s[:0] for s in df["AP_samples"]])  # 0 resamples
    _, no_resamples = fig11_augmented_under_attack(empty, figsize=(5, 2))
    assert no_resamples[["ci_low", "ci_high"]].isna().all().all()


def test_fig6_says_it_has_no_error_bars(attacks):
    fig, _ = fig6_per_keypoint(attacks, Selection(model="hrnet"), figsize=(6, 2))
    assert "no error bars" in fig._suptitle.get_text()


def test_figure_inputs_join_the_attack_stage_bootstrap(tmp_path):
    """read_attacks reads results/attack/<run>.csv and .boot.npz as the plots expect: interval columns renamed, the
    resampled AP and ΔAP (attack minus clean) joined to each attack's overall row; unpaired draws raise."""
    from occlusion import engine
    from occlusion.io import write_csv
    from occlusion.reports.results import read_attacks

    table = attack_table(radii=(6,), seed=4)
    table = table[table["model"] == "hrnet"].reset_index(drop=True)
    overall = table[table["keypoint"] == "all"].reset_index(drop=True)
    rng = np.random.default_rng(0)
    ap = rng.uniform(50, 80, (len(overall), B)).astype(np.float32)
    table["delta_AP_ci_low"], table["delta_AP_ci_high"], table["delta_AP_p"] = -1.0, 1.0, 0.5
    boot = engine.AttackBootstrap(overall[list(engine.CONFIG_COLUMNS)].iloc[::-1].reset_index(drop=True), ap[::-1],
                                  np.arange(1, 11), seed=0)  # configs in another order than the table's rows
    csv = write_csv(tmp_path / "run.csv", table)
    npz = boot.write(tmp_path / "run.boot.npz")
    df = read_attacks([csv, npz])
    assert {"ci_low", "ci_high", "p_value"} <= set(df.columns) and "delta_AP_ci_low" not in df.columns
    rows = df[df["keypoint"] == "all"].reset_index(drop=True)
    clean = ap[0].astype(np.float64)
    for i in (0, 5, len(rows) - 1):
        np.testing.assert_array_equal(rows.loc[i, "AP_samples"], ap[i])
        np.testing.assert_array_equal(rows.loc[i, "delta_AP_samples"], ap[i].astype(np.float64) - clean)
    assert df.loc[df["keypoint"] != "all", "AP_samples"].isna().all()
    assert "AP_samples" not in read_attacks([csv]).columns  # Figs. 5, 7: the CSV's interval only
    other = tmp_path / "other"
    other.mkdir()
    write_csv(other / "run.csv", table)
    engine.AttackBootstrap(boot.configs, ap, np.arange(1, 11), seed=1).write(other / "run.boot.npz")
    with pytest.raises(ValueError, match="not paired"):
        read_attacks([csv, npz, other / "run.csv", other / "run.boot.npz"])


@pytest.mark.parametrize("models", [("hrnet", "sb"), ("hrnet", "sb", "vitpose")])
def test_fig3_stage_draws_every_attacked_baseline_in_order(tmp_path, models):
    """Fig. 3's stage reads HRNet's and SimpleBaseline's attack tables, and ViTPose's where the profile attacks it
    (its stage then depends on it), in that order; the grid's targets and fillers are the embedded profile's."""
    from pathlib import Path

    from occlusion.params import load_params
    from occlusion.reports.attacks import build_fig03_models
    from occlusion.reports.registry import FIGURES
    from occlusion.reports.results import attack_table as table_path

    paths = []
    for i, model in enumerate(reversed(models)):  # written in another order than drawn
        path = tmp_path / table_path(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        attack_table(models=(model,), radii=(6, 3, 18), seed=i, per_keypoint=False).to_csv(path, index=False)
        paths.append(path)
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    fig, data = build_fig03_models(params, paths)
    assert list(dict.fromkeys(data["model"])) == list(models)
    assert FIGURES["fig03_models"].optional == (table_path("vitpose"), table_path("vitpose")[:-4] + ".boot.npz")
    matplotlib.pyplot.close(fig)
