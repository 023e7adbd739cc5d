"""Paper A's tables: which runs fill Tables A.1–A.5, and the association alone."""

from __future__ import annotations

import pytest

from vadlib import profiles, reported
from vadlib.papers import a_tracker
from vadlib.runs.tracking import run_config


def test_printed_rows_map_to_the_variants_they_name():
    for table_id, rows in a_tracker.ABLATION_ROWS.items():
        assert [label for label, _ in rows] == list(reported.load_table(table_id).Backbone)
    settings = profiles.resolve("full")
    a3 = [run_config(settings, options) for _, options in a_tracker.ABLATION_ROWS["A.3"]]
    assert [(r.attention, r.dense, r.gated) for r in a3] == [("none", False, True), ("implicit", True, False),
                                                              ("implicit", True, True)]
    # dense links at the highest resolution only (L1561), consecutive ones at every resolution (L1424)
    assert [r.resolutions for r in a3] == ["all", "highest", "highest"]
    a4 = [run_config(settings, options) for _, options in a_tracker.ABLATION_ROWS["A.4"]]
    assert [(r.dense, r.resolutions) for r in a4[1:]] == [(True, "highest"), (False, "all")]
    dense = a_tracker.ablation_run(settings, a_tracker.DENSE).build_model(10)
    assert sorted(dense.links) == [(1, 2, 0), (1, 3, 0), (1, 4, 0), (2, 3, 0), (2, 4, 0), (3, 4, 0)]
    a5 = [run_config(settings, options) for _, options in a_tracker.ABLATION_ROWS["A.5"]][1:]
    assert [(r.attention, r.explicit_stage) for r in a5] == [("explicit", 1), ("explicit", 2), ("explicit", 3)]
    assert {label for label, _ in a_tracker.PROPOSED} <= set(reported.load_table("A.1").Tracker)
    plan = a_tracker.plan(settings)
    assert len(plan) == 9  # A.4's dense row is A.3's
    assert len({r.dry_run_key() for r in plan}) == 5  # none/implicit/explicit on MOT17, implicit/explicit on JDE
    assert all(r.input_size == (608, 1088) for r in plan)


@pytest.mark.usefixtures("one_torch_thread")
def test_the_association_keeps_identities_of_noisy_ground_truth():
    summary, tracks = a_tracker.oracle_tracking(profiles.resolve("smoke"), sequence_limit=2)
    assert summary.loc["COMBINED", "IDF1"] >= 90 and summary.loc["COMBINED", "MOTA"] >= 80
    assert summary.loc["COMBINED", "IDSW"] <= 3


def test_every_ablation_row_gets_the_same_optimiser_budget():
    for profile in ("quick", "full"):
        settings = profiles.resolve(profile)
        for table_id in a_tracker.ABLATION_ROWS:
            runs = a_tracker.ablation_runs(settings, table_id)
            schedules = {(r.schedule().epochs, r.schedule().batch_size, r.schedule().lr) for r in runs}
            assert len(schedules) == 1, (profile, table_id, schedules)
            steps = {r.total_steps(2650, r.schedule().batch_size, r.schedule().epochs) for r in runs}
            assert len(steps) == 1, (profile, table_id, steps)
    # the main explicit model keeps the thesis's own schedule (L1515: 100 epochs, batch 8)
    explicit = a_tracker.proposed_runs(profiles.resolve("full"))[1]
    assert (explicit.schedule().epochs, explicit.schedule().batch_size) == (100, 8)
    assert explicit.eval_data == "mot15_fairmot_val" and explicit.weighting == "per_task"
