"""Paper D's tables from the image and video runs (vadlib.papers.d_ssmctb): which run fills which
printed cell of Tables D.2–D.12 and their chapter-5 copies, and the notebook's plan."""

from __future__ import annotations

import pandas as pd
import pytest
from ablation_checks import check_every_row_maps_to_a_buildable_run

from vadlib import profiles, reported
from vadlib.papers import d_ssmctb as paper
from vadlib.runs import image_ad, video_ad

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_reproduced_columns_and_rows_are_the_printed_ones():
    d3 = set(reported.load_table("D.3").columns) - {"Group", "Class"}
    assert {image_ad.column_name(h, b, m) for h, b, m in paper.TABLE_D3.cells} == d3
    assert [label for label, _, _ in paper.BRATS_ROWS] == list(reported.load_table("D.4").Method)


def test_brats_plan_has_a_run_per_printed_row():
    assert len(paper.brats_runs(profiles.resolve("full"))) == 8


def test_the_comparison_rows_are_printed_ones_and_chapter_5_renames_them():
    for table_id in paper.COMPARISON_DATASETS:
        spec = paper.comparison_spec(table_id)
        printed = reported.load_table(table_id)
        assert {label for label, _, _ in spec.rows} <= set(printed.Method)
        assert all(prefix + "AUC Micro" in printed.columns for _, prefix in spec.datasets)
    d5 = pd.DataFrame({"Method": [label for label, _, _ in paper.comparison_spec("D.5").rows]})
    assert len(d5) == 17 and set(paper.chapter5_labels(d5).Method) <= set(reported.load_table("5.4").Method)
    # every host the blocks were added to is run, with and without its block: the rows left
    # reported-only are other papers' methods
    printed = list(reported.load_table("D.5").Method)
    with_block = [m for m in printed if " + " in m]
    hosts = {m.split(" + ")[0] for m in with_block}
    assert set(with_block) | hosts == set(d5.Method)
    hosts_of = {label: host for label, host, _ in paper.comparison_spec("D.5").rows}
    assert {hosts_of[m] for m in hosts} == {"ffp", "mae", "mnad", "hf2vad", "georgescu", "ssmtl"}
    with pytest.raises(KeyError, match="D.5"):
        paper.comparison_spec("C.3")


def test_d5_hf2vad_rows_with_a_block_use_paper_d_lambda_and_c3_keeps_paper_c():
    """Paper D decreases λ to 0.001 for HF2-VAD (T L2599), Paper C used 0.01 (T L2084): D.5's
    HF2-VAD rows with a block carry paper="D" in their run config (so their cache key differs from
    C.3's), the built host weighs its block loss by 0.001, and the baseline stays C.3's run."""
    from vadlib.papers import c_sspcab
    settings = profiles.resolve("smoke", device="cpu")
    d5 = {label: video_ad.row_run(settings, host, "avenue", variant)
          for label, host, variant in paper.comparison_spec("D.5").rows if host == "hf2vad"}
    c3 = {label: video_ad.row_run(settings, host, "avenue", variant)
          for label, host, variant in c_sspcab.C3.rows if host == "hf2vad"}
    assert set(d5) == {"Liu et al. [59]", "Liu et al. [59] + SSPCAB [54]", "Liu et al. [59] + SSMCTB (Ours)"}
    for run in d5.values():
        if run.block:
            assert dict(run.host_options) == {"paper": "D"} and run.build_host().block_weight == 0.001
        else:
            assert run.host_options == () and run == c3["Liu et al. [17]"]
    assert c3["Liu et al. [17] + SSPCAB"].build_host().block_weight == 0.01
    assert c3["Liu et al. [17] + SSPCAB"].block == d5["Liu et al. [59] + SSPCAB [54]"].block == "sspcab"
    assert c3["Liu et al. [17] + SSPCAB"] != d5["Liu et al. [59] + SSPCAB [54]"]
    # the other hosts keep λ = 0.1 and no host options
    others = [(h, v) for _, h, v in paper.comparison_spec("D.5").rows if h != "hf2vad"]
    assert all(v.host_options == () for _, v in others)


def test_the_plan_lists_the_image_runs_then_each_video_run_once():
    settings = profiles.resolve("smoke", device="cpu")
    plan = paper.plan(settings)
    kinds = [run.kind for run in plan]
    assert set(kinds) == {"image_ad", "video_ad", "object_vad"}
    assert max(i for i, k in enumerate(kinds) if k == "image_ad") < kinds.index("video_ad")  # image runs first
    assert len(set(plan)) == len(plan)
    assert set(paper.brats_runs(settings)) <= set(plan)
    assert {run.dataset for run in plan if run.kind == "video_ad"} == {"avenue", "shanghaitech", "thermal_rare_event"}


def test_every_printed_ablation_row_maps_to_a_run_of_the_right_block():
    settings = profiles.resolve("full")
    check_every_row_maps_to_a_buildable_run(settings, paper.ABLATIONS, repeated=("D.10",))
    d8_all = video_ad.ablation_rows(settings, paper.ABLATIONS["D.8"])[-1][1]
    host = d8_all.build_host()
    dilations = [host.get_submodule(site).conv.dilation for site in host.sites_for("early+middle+late")]
    assert d8_all.position == "early+middle+late" and dilations == [4, 3, 1]


def test_inference_times_fill_the_image_row_of_table_d7():
    times = image_ad.inference_times("tiny", "cpu", pairs=[("draem3d", None), ("draem3d", "ssmctb")], repeats=1)
    assert list(times.Block) == ["—", "ssmctb"] and (times["ms per example"] > 0).all()
    base, with_block = times["ms per example"]
    assert times["Relative expansion (%)"].iloc[1] == pytest.approx(100 * (with_block - base) / base)
    row = paper.table_d7_image(times)
    assert set(row.columns) <= set(reported.load_table("D.7").columns)


def test_each_d6_macro_number_is_shown_with_its_policy(monkeypatch):
    """D1: beside every reproduced macro AUC of Table D.6, the single-class policy and the clips
    it averages (the Thermal Rare Event manifest's "skip")."""
    def fake(runs):
        return [{"auc_macro": 0.5 + 0.1 * i, "auc_micro": 0.5, "rbdc": None, "tbdc": None,
                 "macro_policy": video_ad.MACRO_POLICY[r.dataset], "macro_videos": 2,
                 "frame_scores": {"a": {}, "b": {}, "c": {}}} for i, r in enumerate(runs)]
    monkeypatch.setattr(video_ad, "run_experiments", fake)
    settings = profiles.resolve("smoke")
    table = paper.macro_policies(settings, "D.6")
    d6 = paper.comparison_table(settings, "D.6")
    assert list(table.Method) == list(d6.Method)
    assert table["reproduced"].tolist() == pytest.approx(d6["AUC Macro"].tolist())
    assert set(table["single-class policy"]) == {"skip"} and set(table["videos averaged"]) == {2}
    assert set(table["test videos"]) == {3}


SEEDS = __import__("pathlib").Path(__file__).resolve().parents[2].parent / "shared" / "seeds"


def test_the_ped2_extra_check_is_seed_003s_numbers_beside_ssmtl_on_ped2_under_quick_and_full(monkeypatch, tmp_path):
    """Seed 003's UCSD Ped2 numbers (Table 2 L210-212, Table 3 L235) against SSMTL (the ssmtl host
    on its three self-supervised tasks, no transformer) on Ped2 with the 0.5 detection threshold
    (L165); nothing runs under smoke, whose table shows the printed numbers as "not run"."""
    printed = paper.ped2_reported()
    assert printed.Level.tolist() == ["object level", "frame level", "late fusion"]
    assert printed.AUC.tolist() == [99.8, 92.4, 99.8] and printed.RBDC.iloc[0] == 72.8 and printed.TBDC.iloc[0] == 91.2
    if SEEDS.exists():  # independent oracle: the seed's own lines
        lines = next(SEEDS.glob("003_*.txt")).read_text(encoding="utf-8").splitlines()
        assert "Ours (object level)" in lines[209] and "99.8" in lines[209]
        assert "92.4" in lines[210] and "99.8" in lines[211]
        assert all(v in lines[234] for v in ("99.8", "72.8", "91.2"))
    smoke, full = profiles.resolve("smoke", device="cpu"), profiles.resolve("full", device="cpu")
    assert paper.ped2_runs(smoke) == [] and paper.ped2_runs(smoke) == [r for r in paper.plan(smoke) if r.dataset == "ucsd_ped2"]
    (run,) = paper.ped2_runs(full)
    assert (run.host, run.dataset, run.detector, run.threshold) == ("ssmtl", "ucsd_ped2", "faster_rcnn", 0.5)
    assert run.build_host().tasks == ("arrow", "irregularity", "middle") and run.block is None
    assert paper.plan(full)[-1] == run
    assert (paper.ped2_table(smoke).status == "not run").all()
    fake = {"auc_macro": 0.9, "auc_micro": 0.8, "rbdc": None, "tbdc": None}
    monkeypatch.setattr(paper, "run_experiments", lambda runs: [fake for _ in runs])
    table = paper.ped2_table(full)
    assert table["AUC | reproduced"].iloc[0] == pytest.approx(90.0) and table["AUC | Δ"].iloc[0] == pytest.approx(-9.8)
    assert table["AUC Micro | reproduced"].iloc[0] == pytest.approx(80.0)
    assert table.status.tolist() == ["partly reproduced", "not run", "not run"]  # no Ped2 tracks: no RBDC/TBDC
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no detector weights: the dry run names the file
    from vadlib.runs import experiment
    assert experiment.dry_run(run)["parameters"] > 0
