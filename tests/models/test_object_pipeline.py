"""The object pipeline of the object-centric hosts (vadlib.models.object_pipeline): the twins'
oracle boxes against the rendering, crops and flow crops against hand-made frames, the detector's
weights policy without network, the temporal filters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from vadlib.data.synthetic import video_anomaly
from vadlib.models import object_pipeline as pipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_oracle_boxes_are_the_rendered_objects():
    """Every anomalous pixel the renderer paints lies in an abnormal oracle box of its frame, and
    the oracle box of an anomalous object is its vad_tracks region (the tight box of its pixels)."""
    shapes, matched, total = set(), 0, 0
    for video in video_anomaly.video_names("avenue", "smoke", "test"):
        rendered = video_anomaly.render_video("avenue", "smoke", 0, "test", video)
        boxes = pipeline.oracle_detections("avenue", video, "test", size="smoke", seed=0)
        shapes |= set(boxes.label)
        assert (boxes.score == 1.0).all()
        assert (boxes.x1 >= 0).all() and (boxes.y1 >= 0).all() and (boxes.x1 <= boxes.x2).all()
        assert (boxes.x2 < rendered.truth.width).all() and (boxes.y2 < rendered.truth.height).all()
        for t, mask in enumerate(rendered.masks):
            covered = np.zeros_like(mask)
            for b in boxes[(boxes.frame == t) & boxes.abnormal].itertuples():
                covered[b.y1:b.y2 + 1, b.x1:b.x2 + 1] = True
            assert not (mask & ~covered).any(), f"video {video} frame {t}: anomalous pixels outside the oracle boxes"
        abnormal = {(b.frame, b.x1, b.y1, b.x2, b.y2) for b in boxes[boxes.abnormal].itertuples()}
        for track in rendered.truth.tracks.itertuples():
            total += 1
            matched += (track.frame, track.x1, track.y1, track.x2, track.y2) in abnormal
    assert {"person", "blob", "bike"} <= shapes  # people, thrown objects and cyclists
    assert matched / total > 0.9  # the rest: two anomalous objects overlapping


def test_rendered_people_lie_inside_their_figures_from_people():
    people = video_anomaly.people("avenue", "smoke", 0, "test", "01")
    objects = video_anomaly.objects("avenue", "smoke", 0, "test", "01")
    assert list(people.columns) == ["frame", "person", "bb_left", "bb_top", "bb_width", "bb_height", "kind", "abnormal"]
    # a person's painted pixels lie inside its figure extent (people() is computed from the scene)
    merged = objects.merge(people, left_on=["frame", "object"], right_on=["frame", "person"])
    assert len(merged) > 0.9 * len(people)
    assert (merged.x1 >= np.floor(merged.bb_left) - 1).all() and (merged.y1 >= np.floor(merged.bb_top) - 1).all()
    assert (merged.x2 <= merged.bb_left + merged.bb_width + 1).all()
    assert (merged.y2 <= merged.bb_top + merged.bb_height + 1).all()


def _square_frame(x: int, y: int, side: int = 16, colour=(200, 40, 90)) -> np.ndarray:
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[y:y + side, x:x + side] = colour
    return frame


def test_a_crop_of_a_coloured_square_is_the_square():
    frame = _square_frame(20, 10)
    crop = pipeline.crop_box(frame, (20, 10, 35, 25), 32)  # inclusive corners: 16 × 16 pixels
    assert crop.shape == (32, 32, 3) and (crop == (200, 40, 90)).all()
    wider = pipeline.crop_box(frame, (19, 10, 35, 25), 32)  # one black column more
    assert not (wider == (200, 40, 90)).all()
    with pytest.raises(ValueError, match="not inside"):
        pipeline.crop_box(frame, (70, 10, 80, 20), 32)


def test_object_cubes_crop_the_centre_frames_box_in_every_frame():
    frames = {t: _square_frame(20 + 4 * (t - 5), 10) for t in range(3, 8)}  # the square moves right
    cubes = pipeline.object_cubes(frames.__getitem__, np.array([[20, 10, 35, 25], [0, 0, 7, 7]]), 5, 3, 32)
    assert cubes.shape == (2, 3, 3, 32, 32) and cubes.dtype == torch.float32
    colour = torch.tensor([200, 40, 90]).view(3, 1, 1) / 255
    assert torch.allclose(cubes[0, 1], colour.expand(3, 32, 32))  # centre frame: exactly the square
    assert not torch.allclose(cubes[0, 0], colour.expand(3, 32, 32))  # the square has moved
    assert cubes[1].max() == 0  # an empty corner
    with pytest.raises(ValueError, match="odd"):
        pipeline.object_cubes(frames.__getitem__, np.zeros((1, 4)), 5, 2, 32)


def test_flow_cubes_are_in_pixels_of_the_crop():
    flow = np.zeros((2, 60, 80), np.float32)
    flow[0], flow[1] = 4.0, -2.0  # 4 px right, 2 px up, everywhere
    cubes = pipeline.flow_cubes(lambda j: flow, np.array([[10, 20, 25, 27]]), 5, 3, 32)  # a 16 × 8 box
    assert cubes.shape == (1, 2, 2, 32, 32)
    assert torch.allclose(cubes[0, :, 0], torch.full((2, 32, 32), 4.0 * 32 / 16))
    assert torch.allclose(cubes[0, :, 1], torch.full((2, 32, 32), -2.0 * 32 / 8))


def test_video_flow_gives_one_field_per_frame_pair_in_frame_pixels():
    rng = np.random.default_rng(0)
    frames = {t: rng.integers(0, 255, (60, 90, 3), dtype=np.uint8) for t in range(3)}
    flow = pipeline.VideoFlow(frames.__getitem__, "random", seed=0)
    field = flow(0)
    assert field.shape == (2, 60, 90) and np.isfinite(field).all()
    assert flow(0) is field  # kept, not recomputed


class _FakeDetector(nn.Module):
    """Two boxes per frame: a confident person and an unsure car (COCO labels 1 and 3)."""

    def forward(self, images):
        return [{"boxes": torch.tensor([[10.2, 5.0, 30.0, 40.7], [0.0, 0.0, 8.0, 8.0]]),
                 "scores": torch.tensor([0.95, 0.6]), "labels": torch.tensor([1, 3])} for _ in images]


def test_detect_keeps_confident_boxes_as_inclusive_pixel_corners():
    frames = [np.zeros((48, 64, 3), np.uint8)] * 3
    found = pipeline.detect(frames, _FakeDetector(), threshold=0.8, batch_size=2)
    assert list(found.columns) == pipeline.DETECTION_COLUMNS
    assert found.frame.tolist() == [0, 1, 2] and set(found.label) == {"person"}
    assert found[["x1", "y1", "x2", "y2"]].iloc[0].tolist() == [10, 5, 29, 40]  # columns 10..29, rows 5..40
    both = pipeline.detect(frames, _FakeDetector(), threshold=0.5)
    assert len(both) == 6
    assert set(pipeline.detect(frames, _FakeDetector(), threshold=0.5, classes=("car",)).label) == {"car"}


def test_a_missing_detector_weights_file_is_named_and_nothing_is_downloaded(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"
    assert pipeline.detector_weights_path("faster_rcnn") == expected
    with pytest.raises(FileNotFoundError) as error:
        pipeline.detect([np.zeros((32, 32, 3), np.uint8)], "faster_rcnn")
    assert str(expected) in str(error.value)
    assert "https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth" in str(error.value)
    with pytest.raises(FileNotFoundError, match="elsewhere.pth"):
        pipeline.load_detector("faster_rcnn_v2", weights=tmp_path / "elsewhere.pth")
    assert not expected.exists()
    with pytest.raises(ValueError, match="detector must be one of"):
        pipeline.load_detector("yolov3")


def test_temporal_filters():
    spike = np.array([1.0] * 10 + [9.0] + [1.0] * 10)
    assert np.allclose(pipeline.temporal_filter(np.full(8, 3.0), "gaussian", 3.0), 3.0)
    smoothed = pipeline.temporal_filter(spike, "gaussian", 2.0)
    assert smoothed.argmax() == 10 and smoothed.max() < 9.0 and np.isclose(smoothed.sum(), spike.sum())
    assert np.allclose(pipeline.temporal_filter(spike, "median", 17), 1.0)  # HF2-VAD's kernel removes a spike
    assert np.array_equal(pipeline.temporal_filter(spike, "none", 0), spike)
    # every 4th frame: σ = 8 frames is σ = 2 samples
    assert np.allclose(pipeline.temporal_filter(spike, "gaussian", 8.0, stride=4), smoothed)
    with pytest.raises(ValueError, match="frame filter"):
        pipeline.temporal_filter(spike, "mean", 3)
