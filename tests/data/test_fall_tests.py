"""Paper B's fall test sets (vadlib.data.fall_tests) and their twins (vadlib.data.synthetic.
fall_tests): samples in the shapes the classifiers take, labels aligned with frames (checked
against the renderer's own per-frame labels and against a hand-made set), the thesis's counts,
determinism, and a clear error for every bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vadlib.data import fall_tests
from vadlib.data.errors import DatasetError
from vadlib.data.harbour import HARBOUR_VIEW, warp_roi
from vadlib.data.synthetic import fall_tests as twin
from vadlib.data.synthetic import generate
from vadlib.data.synthetic.thermal import render_clip

RECORD = ".vadlib-record.json"
VALUES = (10, 120, 240, 60)  # one constant grey value per frame of the hand-made clip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    data_root = tmp_path_factory.mktemp("fall")
    return {name: generate(name, size="tiny", seed=0, data_root=data_root) for name in fall_tests.NAMES}


def _raises(dataset: str, thing: str):
    return pytest.raises(DatasetError, match=rf"(?s)^{dataset}: .*{thing}.*vadlib data status {dataset}")


def _hand_made(tmp_path: Path, rows: str = "clip,start,label\nc,1,1\nc,0,0\n", roi: bool = True) -> Path:
    """intentional_fall/ with one clip of four constant frames named image_8 .. image_11 (so the
    order by number differs from the order by name) and a roi.json covering the whole frame."""
    root = tmp_path / "intentional_fall"
    clip = root / "frames" / "c"
    clip.mkdir(parents=True)
    for number, value in zip(range(8, 12), VALUES):
        cv2.imwrite(str(clip / f"image_{number}.png"), np.full((30, 40), value, np.uint8))
    (root / "samples.csv").write_text(rows)
    if roi:
        (root / "roi.json").write_text(json.dumps({"corners": [[0, 0], [39, 0], [39, 29], [0, 29]]}))
    return root


# ----------------------------------------------------------------------------- twins

@pytest.mark.parametrize("name", fall_tests.NAMES)
def test_tiny_twin_loads_as_classifier_samples(name, tiny):
    data = fall_tests.load(tiny[name])
    sizes = twin.TWIN_SPECS[name].sizes["tiny"]
    assert data.samples.shape == (sizes.fall + sizes.no_fall, 3, 115, 185)
    assert data.samples.dtype == np.uint8 and data.labels.dtype == np.int64
    assert set(data.labels) == {0, 1} and int(data.labels.sum()) == sizes.fall
    assert {"sequence_id", "clip", "start", "frame_ids", "label"} <= set(data.meta.columns)
    assert list(data.meta["sequence_id"]) == list(data.meta["clip"])
    assert all(ids == (s, s + 1, s + 2) for ids, s in zip(data.meta["frame_ids"], data.meta["start"]))
    assert fall_tests.counts(tiny[name]) == {"samples": len(data), "fall": sizes.fall,
                                             "no_fall": sizes.no_fall,
                                             "thesis": fall_tests.THESIS_COUNTS[name]}


@pytest.mark.parametrize("name", fall_tests.NAMES)
def test_labels_and_frames_follow_the_renderer(name, tiny):
    """The oracle is the generator's plan: per-frame labels and the frames it renders in memory."""
    data = fall_tests.load(tiny[name])
    plans = {plan.name: plan for plan in twin.fall_plan(name, "tiny", 0)}
    sizes = twin.TWIN_SPECS[name].sizes["tiny"]
    corners = HARBOUR_VIEW.roi_corners((sizes.height, sizes.width))
    warped = {clip: [warp_roi(frame, corners).astype(float)
                     for frame in render_clip(plan, sizes.width, sizes.height)]
              for clip, plan in plans.items()}
    for sample, label, row in zip(data.samples, data.labels, data.meta.itertuples()):
        assert label == plans[row.clip].labels[row.start:row.start + 3].max()  # the "any" rule
        for channel in range(3):
            errors = [np.abs(sample[channel] - frame).mean() for frame in warped[row.clip]]
            assert int(np.argmin(errors)) == row.start + channel and errors[row.start + channel] < 4
    events = {plan.event for plan in plans.values()}
    assert events == {"jump" if name == "intentional_fall" else "doll", "normal"}


def test_fall_windows_show_the_event_and_no_fall_windows_precede_it():
    for name in fall_tests.NAMES:
        plans = {plan.name: plan for plan in twin.fall_plan(name, "smoke", 0)}
        for row in twin.truth(name, "smoke", 0).itertuples():
            labels = plans[row.clip].labels
            assert row.label == max(row.frame_labels) == labels[row.start:row.start + 3].max()
            if row.label == 0 and labels.any():  # event clip: only windows before the event
                assert row.start + 2 < np.flatnonzero(labels)[0]


def test_smoke_intentional_fall_has_the_thesis_counts(tmp_path):
    data = fall_tests.load(generate("intentional_fall", size="smoke", seed=0, data_root=tmp_path))
    assert len(data) == 77 and int(data.labels.sum()) == 18
    assert data.samples.shape == (77, 3, 115, 185)


@pytest.mark.parametrize("name, size, fall, no_fall", [
    ("intentional_fall", "smoke", 18, 59), ("intentional_fall", "large", 18, 59),
    ("dummy_fall", "smoke", 58, 105), ("dummy_fall", "large", 580, 1046)])
def test_twin_sizes_match_the_thesis(name, size, fall, no_fall):
    for seed in (0, 1, 2):
        labels = twin.truth(name, size, seed)["label"]
        assert (int(labels.sum()), int((labels == 0).sum())) == (fall, no_fall)
    if size == "large":
        assert (fall, no_fall) == (fall_tests.THESIS_COUNTS[name]["fall"],
                                   fall_tests.THESIS_COUNTS[name]["no_fall"])


@pytest.mark.parametrize("name", fall_tests.NAMES)
def test_twins_are_deterministic(name, tmp_path):
    def files(root):
        return {p.relative_to(root).as_posix(): p.read_bytes()
                for p in sorted(root.rglob("*")) if p.is_file() and p.name != RECORD}
    first = files(generate(name, size="tiny", seed=0, data_root=tmp_path / "a"))
    assert first == files(generate(name, size="tiny", seed=0, data_root=tmp_path / "b"))
    assert first != files(generate(name, size="tiny", seed=1, data_root=tmp_path / "c"))


# ------------------------------------------------------------------------ hand-made set

def test_hand_made_set_stacks_its_frames_in_time_order(tmp_path):
    data = fall_tests.load(_hand_made(tmp_path))
    assert data.samples.shape == (2, 3, 115, 185) and list(data.labels) == [1, 0]
    for sample, start in zip(data.samples, (1, 0)):
        assert [int(np.unique(channel)[0]) for channel in sample] == list(VALUES[start:start + 3])
        assert all(len(np.unique(channel)) == 1 for channel in sample)
    assert list(data.meta["frame_ids"]) == [(1, 2, 3), (0, 1, 2)]
    assert Path(data.meta["path"][0]).name == "image_9.png"


def test_without_roi_json_a_real_set_is_refused_naming_the_file(tmp_path):
    """No silent fallback to the twin's crop (review D2): the error names the set and roi.json."""
    root = _hand_made(tmp_path, "clip,start,label\nc,0,0\n", roi=False)
    with pytest.raises(DatasetError, match=r"intentional_fall[\s\S]*roi\.json"):
        fall_tests.load(root)


def test_the_twins_write_their_crop_and_the_loader_reads_it(tiny):
    """The twin's roi.json holds HARBOUR_VIEW's crop at the twin's size, so smoke exercises the
    reader real sets go through."""
    for name, root in tiny.items():
        corners = np.asarray(json.loads((root / "roi.json").read_text())["corners"], np.float32)
        sizes = twin.TWIN_SPECS[name].sizes["tiny"]
        assert np.array_equal(corners, HARBOUR_VIEW.roi_corners((sizes.height, sizes.width)))


def test_extra_columns_and_an_explicit_name(tmp_path):
    root = _hand_made(tmp_path, "clip,start,label,note\nc,1,1,jump\n")
    moved = root.rename(tmp_path / "my_copy")
    with pytest.raises(ValueError, match="cannot tell which fall test set"):
        fall_tests.load(moved)
    data = fall_tests.load(moved, name="dummy_fall")
    assert list(data.meta["note"]) == ["jump"]
    with pytest.raises(ValueError, match="name must be one of"):
        fall_tests.load(moved, name="avenue")


# ----------------------------------------------------------------------------- bad input

def test_missing_root_and_samples_file(tmp_path):
    with _raises("intentional_fall", "no dataset directory"):
        fall_tests.load(tmp_path / "intentional_fall")
    root = _hand_made(tmp_path)
    (root / "samples.csv").unlink()
    with _raises("intentional_fall", "no samples.csv"):
        fall_tests.load(root)


@pytest.mark.parametrize("rows, problem", [
    ("clip,first,label\nc,0,1\n", "samples.csv lacks column.s. start"),
    ("clip,start,label\n", "samples.csv has no rows"),
    ("clip,start,label\nc,0,2\n", "row 2: label '2' is not 0 .no fall. or 1 .fall."),
    ("clip,start,label\nc,0,1\nc,-1,0\n", "row 3: start '-1' is not a non-negative integer"),
    ("clip,start,label\nc,2,1\n", "row 2: clip c start 2 needs frames 2-4, the clip has 4 frames"),
    ("clip,start,label\nd,0,1\n", "names clip 'd', but there is no folder frames/d/"),
])
def test_bad_samples_csv(tmp_path, rows, problem):
    with _raises("intentional_fall", problem):
        fall_tests.load(_hand_made(tmp_path, rows))


def test_bad_frames(tmp_path):
    root = _hand_made(tmp_path)
    frames = root / "frames" / "c"
    cv2.imwrite(str(frames / "image_10.png"), np.zeros((31, 40), np.uint8))
    with _raises("intentional_fall", "frames differ in size: frames/c/image_10.png is 40×31, "
                 "earlier frames are 40×30"):
        fall_tests.load(root)
    cv2.imwrite(str(frames / "image_10.png"), np.zeros((30, 40), np.uint16))
    with _raises("intentional_fall", "frame frames/c/image_10.png is uint16, not 8-bit"):
        fall_tests.load(root)
    (frames / "image_10.png").write_bytes(b"not an image")
    with _raises("intentional_fall", "cannot read frame frames/c/image_10.png"):
        fall_tests.load(root)
    shutil.rmtree(frames)
    frames.mkdir()
    with _raises("intentional_fall", "no .*frames in .*c"):
        fall_tests.load(root)


@pytest.mark.parametrize("content, problem", [
    (json.dumps({"corners": [[0, 0], [39, 0], [39, 29]]}), "must hold 4 corners .* shape \\(3, 2\\)"),
    (json.dumps({"points": [[0, 0]] * 4}), "roi.json must hold \\{\"corners\""),
    ("{not json", "roi.json must hold \\{\"corners\""),
])
def test_bad_roi_json(tmp_path, content, problem):
    root = _hand_made(tmp_path)
    (root / "roi.json").write_text(content)
    with _raises("intentional_fall", problem):
        fall_tests.load(root)


def test_colour_frames_are_read_as_grey(tmp_path):
    root = _hand_made(tmp_path)
    for path, value in zip(sorted((root / "frames" / "c").iterdir(), key=lambda p: int(p.stem[6:])), VALUES):
        cv2.imwrite(str(path), np.full((30, 40, 3), value, np.uint8))
    sample = fall_tests.load(root).samples[1]
    assert [int(channel.mean()) for channel in sample] == list(VALUES[:3])
