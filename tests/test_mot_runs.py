"""Paper A's runs: training, tracking and evaluation behind Tables A.1–A.5."""

from __future__ import annotations

import pandas as pd
import pytest

from vadlib import profiles, reported
from vadlib.runs import experiment
from vadlib.runs.experiment import Budget
from vadlib.data import dataset_root, mot
from vadlib import mot_runs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_printed_rows_map_to_the_variants_they_name():
    for table_id, rows in mot_runs.ABLATION_ROWS.items():
        assert [label for label, _ in rows] == list(reported.load_table(table_id).Backbone)
    settings = profiles.resolve("full")
    a3 = [mot_runs.run_config(settings, options) for _, options in mot_runs.ABLATION_ROWS["A.3"]]
    assert [(r.attention, r.dense, r.gated) for r in a3] == [("none", False, True), ("implicit", True, False),
                                                              ("implicit", True, True)]
    a5 = [mot_runs.run_config(settings, options) for _, options in mot_runs.ABLATION_ROWS["A.5"]][1:]
    assert [(r.attention, r.explicit_stage) for r in a5] == [("explicit", 1), ("explicit", 2), ("explicit", 3)]
    assert {label for label, _ in mot_runs.PROPOSED} <= set(reported.load_table("A.1").Tracker)
    plan = mot_runs.plan_tracker(settings)
    assert len(plan) == 9  # A.4's dense row is A.3's
    assert len({r.dry_run_key() for r in plan}) == 5  # none/implicit/explicit on MOT17, implicit/explicit on JDE
    assert all(r.input_size == (608, 1088) for r in plan)


def test_evaluating_the_ground_truth_itself_scores_perfectly():
    root = dataset_root("mot17", profiles.resolve("smoke"))
    sequence = "MOT17-02-SDP"
    frames = mot_runs.evaluated_frames(root, sequence, "val", None)
    gt = mot.index(root, "train", "gt", [sequence])
    gt = gt[gt.frame.isin(frames) & (gt["conf"] != 0) & (gt["class"] == 1)]
    pred = gt[["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"]].assign(conf=1.0, x=-1, y=-1, z=-1)
    scores = mot_runs.evaluate(root, {sequence: pred}, "val", "MOT17")["metrics"]
    assert scores["MOTA"] == pytest.approx(100) and scores["IDF1"] == pytest.approx(100) and scores["IDSW"] == 0


def test_the_association_keeps_identities_of_noisy_ground_truth():
    summary, tracks = mot_runs.oracle_tracking(profiles.resolve("smoke"), sequence_limit=2)
    assert summary.loc["COMBINED", "IDF1"] >= 90 and summary.loc["COMBINED", "MOTA"] >= 80
    assert summary.loc["COMBINED", "IDSW"] <= 3


def test_a_run_trains_tracks_evaluates_and_keeps_its_model(tmp_path):
    run = mot_runs.TrackerRun(attention="explicit", explicit_stage=2, budget=Budget(max_steps=2, eval_limit=4))
    result = experiment.execute(run)
    assert result["train_steps"] == 2 and result["loss_last"] is not None
    assert set(result["per_sequence"]) == {"MOT17-02-SDP", "MOT17-04-SDP", "MOT17-05-SDP"}
    assert {"MOTA", "IDF1", "IDSW", "HOTA", "MT", "ML"} <= set(result["metrics"])
    model = mot_runs.load_model(run)
    assert model.attention == "explicit" and experiment.execute(run) == result
    files = mot_runs.write_submission(run, "MOT17", tmp_path / "MOT17")
    names = sorted(p.name for p in files)
    test = mot.sequences(dataset_root("mot17", profiles.resolve("smoke")), "test")
    assert names == sorted(f"{s}.txt" for s in test.sequence)
    contents = {p.read_text() for p in files}
    assert len(contents) == test.video.nunique()  # the detector copies of a video share their tracks


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="train_data must be one of"):
        mot_runs.TrackerRun(train_data="coco").training_set()
    with pytest.raises(ValueError, match="eval_data must be one of"):
        mot_runs.TrackerRun(eval_data="mot20").evaluation_sequences()
    with pytest.raises(ValueError, match="'MOT16' or 'MOT17'"):
        mot_runs.write_submission(mot_runs.TrackerRun(), "MOT20", "/tmp/x")
