"""Paper A's runs: training, tracking and evaluation behind Tables A.1–A.5."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from vadlib import profiles
from vadlib.data import dataset_root, mot
from vadlib.runs import experiment, tracking
from vadlib.runs.experiment import Budget
from vadlib.tracking import Tracker

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class WalkingPeople:
    """A stand-in for ``HRNetTracker.predict``: six people walking right at constant speed, their
    boxes drawn in the sequence's original pixels, about one in six missed at random. Returns
    what the network returns (tlbr boxes in its letterboxed input's pixels, scores, unit embeddings) and keeps
    what it detected, in original pixels, in ``detected``."""

    def __init__(self, original: tuple[int, int], size: tuple[int, int], seed: int = 0):
        self.original, self.size = original, size
        self.rng = np.random.default_rng(seed)
        self.identity = self.rng.normal(size=(6, 128))
        self.detected: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def predict(self, images, conf_thres=0.4):
        height, width = self.original
        t = len(self.detected)
        seen = self.rng.random(6) > 0.15
        left = (np.arange(6) * width / 7 + 2.0 * t)[seen] % (width - 20)
        tlwh = np.stack([left, np.full(len(left), height / 3), np.full(len(left), 16.0), np.full(len(left), 40.0)], 1)
        embeddings = self.identity[seen] + self.rng.normal(0, 0.05, (len(left), 128))
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        scores = np.full(len(left), 0.9)
        self.detected.append((tlwh, scores, embeddings))
        _, scale, offset = mot.placement(width, height, self.size, letterbox=True)
        tlbr = np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], 1) * np.array(scale * 2) + np.array(offset * 2)
        return [{"boxes": torch.tensor(tlbr, dtype=torch.float32), "scores": torch.tensor(scores, dtype=torch.float32),
                 "embeddings": torch.tensor(embeddings, dtype=torch.float32)}]


def test_tracking_a_model_is_its_detections_fed_frame_by_frame_to_the_tracker():
    root = dataset_root("mot17", profiles.resolve("smoke"))
    sequence, size = "MOT17-02-SDP", (96, 160)
    info = mot.sequences(root, "train").set_index("sequence").loc[sequence]
    model = WalkingPeople((int(info.imHeight), int(info.imWidth)), size)
    rows = tracking.track_sequence(model, root, sequence, size, "val")
    frames = tracking.evaluated_frames(root, sequence, "val", None)
    assert len(model.detected) == len(frames)

    tracker = Tracker(frame_rate=int(info.frameRate), conf_thres=0.4)  # the oracle: one update per frame
    expected = [(frame, out.track_id, *out.tlwh, out.score) for frame, (tlwh, scores, embeddings)
                in zip(frames, model.detected) for out in tracker.update(tlwh, scores, embeddings, frame=frame)]
    expected.sort(key=lambda row: row[:2])
    assert len(expected) > 100 and len({row[1] for row in expected}) >= 6
    assert list(rows.columns) == ["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "x", "y", "z"]
    assert [tuple(r[:2]) for r in rows.itertuples(index=False)] == [row[:2] for row in expected]
    boxes = rows[["bb_left", "bb_top", "bb_width", "bb_height", "conf"]].to_numpy()
    np.testing.assert_allclose(boxes, np.array([row[2:] for row in expected]), atol=1e-3)
    assert (rows[["x", "y", "z"]] == -1).all().all()


def test_evaluating_the_ground_truth_itself_scores_perfectly():
    root = dataset_root("mot17", profiles.resolve("smoke"))
    sequence = "MOT17-02-SDP"
    frames = tracking.evaluated_frames(root, sequence, "val", None)
    gt = mot.index(root, "train", "gt", [sequence])
    gt = gt[gt.frame.isin(frames) & (gt["conf"] != 0) & (gt["class"] == 1)]
    pred = gt[["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"]].assign(conf=1.0, x=-1, y=-1, z=-1)
    scores = tracking.evaluate(root, {sequence: pred}, "val", "MOT17")["metrics"]
    assert scores["MOTA"] == pytest.approx(100) and scores["IDF1"] == pytest.approx(100) and scores["IDSW"] == 0


def test_a_run_trains_tracks_evaluates_and_keeps_its_model(tmp_path):
    run = tracking.TrackerRun(attention="explicit", explicit_stage=2, budget=Budget(max_steps=2, eval_limit=4))
    result = experiment.execute(run)
    assert result["train_steps"] == 2 and result["loss_last"] is not None
    assert set(result["per_sequence"]) == {"MOT17-02-SDP", "MOT17-04-SDP", "MOT17-05-SDP"}
    assert {"MOTA", "IDF1", "IDSW", "HOTA", "MT", "ML"} <= set(result["metrics"])
    model = tracking.load_model(run)
    assert model.attention == "explicit" and experiment.execute(run) == result
    files = tracking.write_submission(run, "MOT17", tmp_path / "MOT17")
    names = sorted(p.name for p in files)
    test = mot.sequences(dataset_root("mot17", profiles.resolve("smoke")), "test")
    assert names == sorted(f"{s}.txt" for s in test.sequence)
    contents = {p.read_text() for p in files}
    assert len(contents) == test.video.nunique()  # the detector copies of a video share their tracks


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="train_data must be one of"):
        tracking.TrackerRun(train_data="coco").training_set()
    with pytest.raises(ValueError, match="eval_data must be one of"):
        tracking.TrackerRun(eval_data="mot20").evaluation_sequences()
    with pytest.raises(ValueError, match="'MOT16' or 'MOT17'"):
        tracking.write_submission(tracking.TrackerRun(), "MOT20", "/tmp/x")


def test_runs_train_with_the_thesis_uncertainty_weighting_by_default():
    run = tracking.TrackerRun(attention="explicit")
    model = run.build_model(10)
    assert run.weighting == "per_task" and set(model.uncertainty) == {"hm", "bbox", "id", "aux"}
    assert set(tracking.TrackerRun(weighting="fairmot").build_model(10).uncertainty) == {"det", "id"}


def test_an_evaluation_video_in_the_training_data_is_refused_by_name():
    # MOT16/17 detector copies and ETH-Pedcross2 (= MOT17-05) are one video each
    with pytest.raises(ValueError, match=r"ETH-Pedcross2, MOT16-02 \(as MOT17-05, MOT17-02\)"):
        tracking.check_disjoint(["MOT17-02-SDP", "MOT17-05-FRCNN", "jde_eth/eth01"],
                                ["KITTI-13", "ETH-Pedcross2", "MOT16-02", "TUD-Campus"])
    tracking.check_disjoint(["MOT17-02-SDP", "MOT17-05"], ["KITTI-13", "TUD-Campus", "MOT17-04-DPM"])
    # a model trained on the JDE mixture (all of MOT17) may not be scored on MOT17
    mixture = tracking.TrackerRun(train_data="jde_mixture", eval_data="mot17_half_val")
    with pytest.raises(ValueError, match="MOT17-02-SDP, MOT17-04-SDP, MOT17-05-SDP"):
        mixture.check_evaluation()
    # the half split is disjoint by frames; Table A.1's MOT15 subset by videos
    assert tracking.TrackerRun().check_evaluation() == ["MOT17-02-SDP", "MOT17-04-SDP", "MOT17-05-SDP"]
    a1 = tracking.TrackerRun(train_data="jde_mixture", eval_data="mot15_fairmot_val")
    names = a1.check_evaluation()
    assert names and set(names) <= set(tracking.MOT15_FAIRMOT_VAL)
    assert not {"ETH-Pedcross2", "ETH-Bahnhof", "ETH-Sunnyday", "Venice-2", "ADL-Rundle-8"} & set(
        tracking.MOT15_FAIRMOT_VAL)


def test_split_of_reads_fairmots_images_layout(tmp_path):
    smoke = dataset_root("mot17", profiles.resolve("smoke"))
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "images" / "train" / "MOT17-02-SDP").symlink_to(smoke / "train" / "MOT17-02-SDP")
    assert tracking.split_of(tmp_path, "MOT17-02-SDP") == "train"
    assert tracking.split_of(smoke, "MOT17-02-SDP") == "train"
    assert tracking.split_of(smoke, mot.sequences(smoke, "test").sequence.iloc[0]) == "test"


def test_training_items_are_letterboxed_and_augmented_as_jde_s():
    """The twin's 16:9-ish frames letterboxed into the tiny input; the augmentation redraws
    geometry and colour per item, ``augment=False`` gives the letterboxed frame itself."""
    settings = profiles.resolve("smoke")
    plain = tracking.run_config(settings, {"attention": "none"})
    assert plain.letterbox and plain.augment
    frames, _ = replace(plain, augment=False).training_set()
    item = frames[0]
    assert tuple(item["image"].shape[1:]) == plain.input_size
    assert item["offset"] != (0, 0) or item["scale"][0] == pytest.approx(item["scale"][1], rel=0.02)
    torch.manual_seed(0)
    augmented, _ = plain.training_set()
    drawn = augmented[0]
    assert drawn["image"].shape == item["image"].shape and not torch.equal(drawn["image"], item["image"])
    assert len(drawn["boxes"]) == len(drawn["ids"]) <= len(item["boxes"])
