"""Paper C's tables from the image and video runs (vadlib.papers.c_sspcab): which run fills which
printed cell of Tables C.1–C.5, and the notebook's plan."""

from __future__ import annotations

import pytest
from ablation_checks import check_every_row_maps_to_a_buildable_run

from vadlib import artifacts, profiles, reported
from vadlib.papers import c_sspcab as paper
from vadlib.runs import image_ad, video_ad

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_reproduced_columns_are_the_printed_columns():
    c2 = set(reported.load_table("C.2").columns) - {"Group", "Class"}
    made = {image_ad.column_name(h, b, m) for h, b, m in paper.TABLE_C2.cells}
    made |= {image_ad.ensemble_column(b) for b in (None, "sspcab")}
    assert made == c2


def test_the_comparison_rows_and_dataset_columns_are_printed_ones():
    printed = reported.load_table("C.3")
    assert {label for label, _, _ in paper.C3.rows} <= set(printed.Method)
    assert all(prefix + "AUC Micro" in printed.columns for _, prefix in paper.C3.datasets)
    with pytest.raises(KeyError, match="C.3"):
        paper.comparison_table(profiles.resolve("smoke"), "D.5")


def test_plans_count_every_cell_once_and_dry_runs_once_per_model():
    settings = profiles.resolve("full")
    c2 = image_ad.mvtec_runs(settings, paper.TABLE_C2)
    assert len(c2) == 15 * (2 + 2 * len(image_ad.ENSEMBLE_SEEDS))  # DRAEM ± block, 5 CutPaste ± block
    assert len({run.dry_run_key() for run in c2}) == 4


def test_the_plan_lists_the_image_runs_then_each_video_run_once():
    settings = profiles.resolve("smoke", device="cpu")
    plan = paper.plan(settings)
    kinds = [run.kind for run in plan]
    assert kinds[0] == "image_ad" and kinds.index("video_ad") > max(i for i, k in enumerate(kinds) if k == "image_ad")
    assert set(kinds) == {"image_ad", "video_ad", "object_vad"}  # image runs first, then the video tables
    assert len(set(plan)) == len(plan)
    video = {run for run in plan if run.kind in ("video_ad", "object_vad")}
    # every host SSPCAB was added to is run, with and without it; other papers' rows stay printed
    printed = list(reported.load_table("C.3").Method)
    with_block = [m for m in printed if " + SSPCAB" in m]
    run_rows = {label for label, _, _ in paper.C3.rows}
    assert run_rows == set(with_block) | {m.split(" + ")[0] for m in with_block}
    assert set(video_ad.comparison_runs(settings, paper.C3)) <= video
    assert set(video_ad.ablation_runs(settings, paper.ABLATIONS["C.1"])) <= video


def test_every_printed_ablation_row_maps_to_a_run_of_the_right_block():
    settings = profiles.resolve("full")
    check_every_row_maps_to_a_buildable_run(settings, paper.ABLATIONS, repeated=("C.4", "C.5"))
    c1 = dict((tuple(row[["Loss type", "d", "k'", "r", "Attention type"]]), run)
              for row, run in video_ad.ablation_rows(settings, paper.ABLATIONS["C.1"]))
    assert dict(c1[("MSE", "1", "1", "4", "CA")].block_options) == {"reduction": 4}  # the rest are defaults
    assert dict(c1[("MAE", "2", "1", "-", "-")].block_options) == {"attention": "none", "dilation": 2, "loss": "mae"}
    c4 = [run.position for _, run in video_ad.ablation_rows(settings, paper.ABLATIONS["C.4"])]
    assert c4 == ["late", "early", "middle", "late", "early+middle", "early+late", "middle+late",
                  "early+middle+late"] and c4[0] == paper.BASELINE.position
    # the "Late" row of C.4 is the CA r=8 row of C.1: the same cached run
    assert video_ad.ablation_rows(settings, paper.ABLATIONS["C.4"])[3][1] == \
        video_ad.ablation_rows(settings, paper.ABLATIONS["C.1"])[13][1]


def test_ablation_limit_cuts_rows_and_the_table_marks_the_rest_not_run():
    settings = profiles.resolve("smoke", ablation_limit=2, max_steps=1, eval_limit=8)
    frame = paper.ablation_table(settings, "C.5")
    status = artifacts.compare(reported.load_table("C.5"), frame).status.tolist()
    assert status == ["reproduced", "reproduced", "not run"]
