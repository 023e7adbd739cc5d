"""Paper E's tables: which runs fill Tables E.1, E.2 and 5.5, and how the branches are joined."""

from __future__ import annotations

import numpy as np
import pytest

from vadlib import profiles, reported
from vadlib.papers import e_trajectories
from vadlib.runs.trajectories import TrajectoryRun
from vadlib.runs.video_ad import VideoAnomalyRun

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_plan_tracks_real_data_with_paper_a_s_explicit_tracker():
    full = e_trajectories.plan(profiles.resolve("full"))
    temporal = [r for r in full if isinstance(r, TrajectoryRun)]
    spatial = [r for r in full if isinstance(r, VideoAnomalyRun)]
    assert [r.dataset for r in temporal] == ["avenue", "shanghaitech"] and len(spatial) == 6
    assert all(r.detector == "tracker" and r.tracker.attention == "explicit" and r.frame_step == 10 for r in temporal)
    assert all(r.tracker.train_data == "jde_mixture" and r.budget.model_size == "paper" for r in temporal)
    assert {dict(r.host_options).get("variant", "reconstruction") for r in spatial if r.host == "mnad"} == \
        {"prediction", "reconstruction"}
    smoke = e_trajectories.plan(profiles.resolve("smoke"))
    assert all(r.detector == "oracle" and r.tracker is None for r in smoke if isinstance(r, TrajectoryRun))


def test_reproduced_rows_are_printed_rows(smoke_runs):
    settings = profiles.resolve("smoke")
    e1 = e_trajectories.table_e1(settings)
    printed = reported.load_table("E.1")
    assert set(zip(e1.Method, e1.Ref)) <= set(zip(printed.Method, printed.Ref))
    assert len(e1) == 7 and e1[["Avenue AUC (%)", "SH-Tech AUC (%)"]].notna().all().all()
    e2 = e_trajectories.table_e2(settings)
    assert list(e2["Proposed Train to Test"]) == list(reported.load_table("E.2")["Proposed Train to Test"])
    # the E.2 baseline is the same number as E.1's Liu et al. row on each dataset
    liu = e1.set_index("Method").loc["Spatial Only: Liu et. al."]
    assert e2["Baseline AUC (%)"].tolist() == pytest.approx([liu["Avenue AUC (%)"], liu["SH-Tech AUC (%)"]])


def test_branches_are_joined_frame_by_frame_and_normalised(smoke_runs):
    settings = profiles.resolve("smoke")
    frames = e_trajectories.branch_scores(settings, "Liu et. al.", "avenue")
    assert not frames.duplicated(["video", "frame"]).any()
    assert frames.spatial.between(0, 1).all() and frames.temporal.between(0, 1).all()
    temporal = e_trajectories.temporal_scores(settings, "avenue")
    assert temporal.temporal.min() == 0.0  # the largest error of the dataset is the least normal frame
    # the fusion's held-out variant scores every frame, and the protocols table reports both fits
    protocols = e_trajectories.fusion_protocols(settings)
    assert len(protocols) == 6 and protocols["fused, held out micro"].notna().all()
    assert (protocols["best mixing micro"] >= protocols[["spatial micro", "temporal micro"]].max(axis=1) - 1e-9).all()


def test_auc_of_a_normalcy_score_is_that_of_its_negation_as_anomaly_score():
    import pandas as pd
    frames = pd.DataFrame({"video": ["a"] * 4 + ["b"] * 4, "label": [0, 0, 1, 1, 0, 1, 0, 1]})
    normal_first = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.3, 0.6, 0.4])
    assert e_trajectories.auc(normal_first, frames) == 100.0
    assert e_trajectories.auc(1 - normal_first, frames) == 0.0


def test_regions_scored_by_the_truth_beat_regions_scored_by_an_inverted_truth(monkeypatch):
    """RBDC/TBDC of the temporal branch's regions: windows scored 1 for the twin's anomalous people
    and 0 for the others detect more anomalous regions per false positive than the reverse."""
    from vadlib.data.synthetic import video_anomaly
    from vadlib.runs import trajectories

    settings = profiles.resolve("smoke")
    run = e_trajectories.temporal_run(settings, "avenue")
    windows = trajectories.load_windows(run)
    tracks = trajectories.load_tracks(run)
    abnormal_ids = set()
    for video, rows in tracks.groupby("video"):
        people = video_anomaly.people("avenue", "smoke", 0, "test", video)
        truth = rows.merge(people, on=["frame"], suffixes=("", "_p"))
        near = (truth.bb_left - truth.bb_left_p).abs() + (truth.bb_top - truth.bb_top_p).abs() < 4
        abnormal_ids |= {(video, i) for i in truth[near & truth.abnormal].id}
    truth_scores = np.array([float((v, i) in abnormal_ids) for v, i in zip(windows.video, windows.id)])
    assert 0 < truth_scores.sum() < len(truth_scores)

    def scored(values):
        monkeypatch.setattr(trajectories, "load_windows", lambda config: windows.assign(error=values))
        return e_trajectories.temporal_regions(settings, "avenue")

    right, wrong = scored(truth_scores), scored(1 - truth_scores)
    assert right[0] > wrong[0] and right[1] >= wrong[1]
    assert all(0 <= v <= 100 for v in right + wrong)
