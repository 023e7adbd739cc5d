"""Paper E's temporal branch: tracks of the twin's people, Social GAN windows, frame errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from vadlib import profiles
from vadlib.data import DataSource
from vadlib.models.social_gan import SocialGAN
from vadlib.runs import trajectories
from vadlib.runs.experiment import execute
from vadlib.runs.train import data_loader, endless, train
from vadlib.tracking.trajectories import TrajectoryWindows, collate_windows

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def smoke_run(dataset="avenue", **changes):
    return replace(trajectories.run_config(profiles.resolve("smoke"), dataset), **changes)


def test_the_oracle_tracks_follow_the_twin_s_people_with_one_identity_each():
    from vadlib.data.synthetic import video_anomaly
    run = smoke_run()
    tracks = run.track("test")
    people = video_anomaly.people("avenue", "smoke", 0, "test", "01")
    rows = tracks["01"]
    matched = []
    for row in rows.itertuples():  # the person each tracked box covers best (the track state is Kalman-smoothed)
        here = people[people.frame == row.frame]
        x1 = np.maximum(row.bb_left, here.bb_left)
        y1 = np.maximum(row.bb_top, here.bb_top)
        x2 = np.minimum(row.bb_left + row.bb_width, here.bb_left + here.bb_width)
        y2 = np.minimum(row.bb_top + row.bb_height, here.bb_top + here.bb_height)
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / (row.bb_width * row.bb_height + here.bb_width * here.bb_height - inter)
        matched.append((row.id, here.person.iloc[int(np.argmax(iou))], float(iou.max())))
    matched = pd.DataFrame(matched, columns=["id", "person", "iou"])
    assert len(matched) > 100 and matched.iou.median() > 0.9 and (matched.iou > 0.5).mean() > 0.85
    purity = matched.groupby("id").person.agg(lambda p: p.value_counts(normalize=True).iloc[0])
    assert purity.mean() > 0.95 and purity.min() > 0.75  # walkers crossing each other may swap a few boxes


def test_frame_errors_are_aligned_with_the_dataset_frames_and_labels():
    run = smoke_run(budget=replace(smoke_run().budget, max_steps=2))
    result = execute(run)
    index = run.frames("test")
    for video, scored in result["frame_errors"].items():
        expected = index[index.video == video].sort_values("frame")
        assert scored["frames"] == expected.frame.tolist()
        assert scored["labels"] == expected.label.astype(int).tolist()
        assert len(scored["errors"]) == len(scored["frames"])
    errors = [e for s in result["frame_errors"].values() for e in s["errors"] if e is not None]
    assert errors and all(e >= 0 for e in errors)
    tracks = trajectories.load_tracks(run)
    assert set(tracks.video) == set(result["frame_errors"]) and {"error", "id", "frame"} <= set(tracks.columns)


def test_a_walker_who_turns_back_scores_above_straight_walkers():
    """Social GAN trained on the twin's normal training trajectories predicts walkers going on;
    the same walkers turning back at the end of their observation get larger ADE + FDE."""
    run = smoke_run()
    train_windows = [w for ws in run.windows_of(run.track("train")).values() for w in ws]
    torch.manual_seed(0)
    model = SocialGAN(size="tiny", obs_len=run.obs_len, pred_len=run.pred_len, best_k=4, seed=0)
    schedule = replace(SocialGAN.schedule("tiny"), lr=5e-3)
    batches = endless(data_loader(TrajectoryWindows(train_windows), 32, shuffle=True, collate_fn=collate_windows))
    train(model, model.training_loss, batches, schedule=schedule, total_steps=250, progress=False)
    model.eval()
    straight = train_windows[::7][:20]
    turned = []
    for window in straight:
        last = window.obs[-1]
        future = last[None] - (window.future - last[None])  # the same path, mirrored back
        turned.append(replace(window, future=future.astype(window.future.dtype)))
    normal = run.window_errors(model, straight)["error"].to_numpy()
    reversed_ = run.window_errors(model, turned)["error"].to_numpy()
    assert np.median(reversed_) > 2 * np.median(normal)
    assert (reversed_ > normal).mean() > 0.8


def test_the_oracle_exists_only_on_the_twins_and_real_data_need_a_tracker():
    with pytest.raises(ValueError, match="oracle"):
        trajectories.TrajectoryRun(detector="oracle", data=DataSource("real"))
    with pytest.raises(ValueError, match="TrackerRun"):
        trajectories.TrajectoryRun(detector="tracker", data=DataSource("real"))
    with pytest.raises(ValueError, match="dataset"):
        trajectories.TrajectoryRun(dataset="ucsd_ped2")


def test_the_dry_run_trains_one_step_at_paper_size():
    run = smoke_run(budget=replace(smoke_run().budget, model_size="paper"))
    result = run.dry_run(None)
    assert result["parameters"] > 1e6 and result["step_time_s"] >= 0
