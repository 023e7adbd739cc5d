"""Tests of tracker rows to Social-GAN windows and back to frames (vadlib.tracking.trajectories):
known box centres, complete-people windows, frame_step subsampling, the collate batch and the
maximum-over-people frame scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vadlib.tracking.trajectories import (
    TrajectoryWindows,
    centres,
    collate_windows,
    frame_scores,
    prediction_spans,
    windows,
)


def _track(person: int, frames, x0: float = 0.0, vx: float = 1.0) -> pd.DataFrame:
    frames = np.asarray(list(frames))
    return pd.DataFrame({"frame": frames, "id": person, "x": x0 + vx * frames, "y": 10.0 * person})


def test_centres_of_known_boxes():
    rows = pd.DataFrame({"frame": [1, 1, 2], "id": [7, 3, 7], "bb_left": [10.0, 0.0, 12.0],
                         "bb_top": [20.0, 5.0, 20.0], "bb_width": [4.0, 10.0, 4.0],
                         "bb_height": [8.0, 2.0, 8.0], "conf": [1.0, 1.0, 1.0]})
    out = centres(rows)
    assert list(out.columns) == ["frame", "id", "x", "y"]
    assert out[["frame", "id"]].values.tolist() == [[1, 3], [1, 7], [2, 7]]
    np.testing.assert_allclose(out[["x", "y"]].to_numpy(), [[5.0, 6.0], [12.0, 24.0], [14.0, 24.0]])


def test_windows_keep_only_complete_people():
    obs_len, pred_len = 3, 2
    data = pd.concat([_track(1, range(1, 11)),                      # present throughout
                      _track(2, [f for f in range(1, 11) if f != 4]),  # missing frame 4
                      _track(3, range(6, 11))])                     # appears at frame 6
    out = windows(data, obs_len, pred_len)
    assert [w.start for w in out] == [1, 2, 3, 4, 5, 6]              # 10 frames, 5 steps
    by_start = {w.start: w for w in out}
    # person 2 misses frame 4: left out of every window covering frame 4 (starts 1..4)
    assert by_start[1].ids.tolist() == [1]
    assert by_start[4].ids.tolist() == [1]
    assert by_start[5].ids.tolist() == [1, 2]
    assert by_start[6].ids.tolist() == [1, 2, 3]
    w = by_start[6]
    np.testing.assert_array_equal(w.frames, [6, 7, 8, 9, 10])
    np.testing.assert_array_equal(w.predicted_frames, [9, 10])
    assert w.obs.shape == (obs_len, 3, 2) and w.future.shape == (pred_len, 3, 2)
    np.testing.assert_allclose(w.obs[:, 0, 0], [6.0, 7.0, 8.0])
    np.testing.assert_allclose(w.future[:, 2], [[9.0, 30.0], [10.0, 30.0]])


def test_windows_without_complete_people_are_dropped():
    data = pd.concat([_track(1, range(1, 5)), _track(2, range(8, 12))])
    out = windows(data, obs_len=2, pred_len=2)
    assert [w.start for w in out] == [1, 8]


def test_frame_step_and_stride():
    data = pd.concat([_track(1, range(30)), _track(2, range(0, 30, 2))])  # 2 seen on even frames
    out = windows(data, obs_len=2, pred_len=2, frame_step=3, stride=5)
    assert [w.start for w in out] == [0, 5, 10, 15, 20]              # last start 29 - 9 = 20
    np.testing.assert_array_equal(out[0].frames, [0, 3, 6, 9])
    assert out[0].ids.tolist() == [1]                                # frames 3, 9 odd: 2 missing
    np.testing.assert_array_equal(out[2].frames, [10, 13, 16, 19])
    np.testing.assert_allclose(out[0].obs[:, 0, 0], [0.0, 3.0])
    np.testing.assert_allclose(out[0].future[:, 0, 0], [6.0, 9.0])
    even = windows(data, obs_len=2, pred_len=2, frame_step=2, stride=2)
    assert all(w.ids.tolist() == [1, 2] for w in even)


def test_duplicate_rows_raise():
    data = pd.concat([_track(1, range(5)), _track(1, [2])])
    with pytest.raises(ValueError):
        windows(data, 2, 2)


def test_collate_and_dataset():
    data = pd.concat([_track(1, range(10)), _track(2, range(3, 10)), _track(3, range(10))])
    items = windows(data, obs_len=3, pred_len=2, stride=3)           # starts 0, 3
    dataset = TrajectoryWindows(items)
    assert len(dataset) == 2
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=collate_windows)
    batch = next(iter(loader))
    assert batch["obs"].shape == (3, 5, 2) and batch["obs"].dtype == torch.float32
    assert batch["future"].shape == (2, 5, 2)
    assert batch["seq_start_end"].tolist() == [[0, 2], [2, 5]]
    assert batch["seq_start_end"].dtype == torch.long
    assert batch["ids"].tolist() == [1, 3, 1, 2, 3]
    assert batch["frames"].shape == (2, 5)
    np.testing.assert_allclose(batch["future"][:, 3].numpy(), items[1].future[:, 1])


def test_frame_scores_max_over_people_and_nan_where_uncovered():
    spans = pd.DataFrame({"first_frame": [3, 5, 5, 12], "last_frame": [6, 8, 6, 12],
                          "error": [1.0, 2.0, 5.0, 0.5]})
    out = frame_scores(spans, 14, first_frame_number=1)    # frames 1..14
    expected = np.full(14, np.nan)
    expected[2:4] = 1.0          # frames 3, 4: only the first row
    expected[4:6] = 5.0          # frames 5, 6: rows 1, 2, 3 -> max 5
    expected[6:8] = 2.0          # frames 7, 8: only the second row
    expected[11] = 0.5           # frame 12
    np.testing.assert_array_equal(out, expected)
    zero_based = frame_scores(spans, 13, first_frame_number=0)
    assert zero_based[3] == 1.0 and np.isnan(zero_based[2])
    with pytest.raises(ValueError):
        frame_scores(spans, 11, first_frame_number=1)      # frame 12 outside


def test_prediction_spans_follow_collate_order():
    data = pd.concat([_track(1, range(20)), _track(2, range(20))])
    items = windows(data, obs_len=2, pred_len=2, frame_step=2, stride=10)   # starts 0, 10
    spans = prediction_spans(items, [1.0, 2.0, 3.0, 4.0])
    assert spans.values.tolist() == [[4, 6, 1, 1.0], [4, 6, 2, 2.0], [14, 16, 1, 3.0],
                                     [14, 16, 2, 4.0]]
    scores = frame_scores(spans, 20, first_frame_number=0)
    np.testing.assert_array_equal(scores[[4, 5, 6, 14, 15, 16]], [2, 2, 2, 4, 4, 4])
    assert np.isnan(scores[[0, 3, 7, 13, 17]]).all()
    with pytest.raises(ValueError):
        prediction_spans(items, [1.0, 2.0])


def test_frame_scores_at_given_frame_numbers():
    spans = pd.DataFrame({"first_frame": [3, 5], "last_frame": [6, 8], "error": [1.0, 2.0]})
    out = frame_scores(spans, np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
    np.testing.assert_array_equal(out, [np.nan, np.nan, np.nan, 1, 1, 2, 2, 2, 2, np.nan])
    np.testing.assert_array_equal(frame_scores(spans, np.array([8, 3])), [2.0, 1.0])
    empty = spans.iloc[:0]
    assert np.isnan(frame_scores(empty, 4)).all() and frame_scores(empty, 4).shape == (4,)
