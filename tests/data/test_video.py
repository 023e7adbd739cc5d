"""Frame-level video anomaly loaders (Avenue, ShanghaiTech, UCSD Ped2, vad_tracks) and ClipDataset,
checked against the synthetic twins' own rendering truth."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import loadmat, savemat

from vadlib.data import avenue, shanghaitech, synthetic, ucsd_ped2, vad_tracks
from vadlib.data.errors import DatasetError
from vadlib.data.synthetic import video_anomaly as va
from vadlib.data.video import (ClipDataset, intervals_from_labels, labels_from_intervals,
                               read_video_frames, video_frame_count)

torch = pytest.importorskip("torch")

NAMES = ("avenue", "shanghaitech", "ucsd_ped2", "vad_tracks")
LOADERS = {"avenue": avenue, "shanghaitech": shanghaitech, "ucsd_ped2": ucsd_ped2}


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    data_root = tmp_path_factory.mktemp("data")
    return {name: synthetic.generate(name, size="tiny", seed=0, data_root=data_root)
            for name in NAMES}


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def _truth(dataset, split="test"):
    return va.scene_truth(dataset, "tiny", 0, split)


# --------------------------------------------------------------------------------------------------
# Round trips against the generator's truth
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["avenue", "shanghaitech", "ucsd_ped2"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_index_counts_and_labels_match_truth(twins, dataset, split):
    frames = LOADERS[dataset].index(twins[dataset], split)
    truth = _truth(dataset, split)
    assert list(frames.columns[:4]) == ["video", "frame", "path", "label"]
    assert sorted(frames["video"].unique()) == sorted(truth)
    for video, info in truth.items():
        rows = frames[frames["video"] == video]
        assert len(rows) == info.num_frames
        assert rows["frame"].tolist() == list(range(info.num_frames))
        expected = info.labels if split == "test" else np.full(info.num_frames, -1)
        np.testing.assert_array_equal(rows["label"].to_numpy(), expected)
    if split == "test":
        assert frames["mask_path"].notna().all()
        assert {0, 1} <= set(frames["label"])  # both classes present


@pytest.mark.parametrize("dataset", ["avenue", "shanghaitech", "ucsd_ped2"])
def test_frame_labels_and_pixel_masks_match_rendering(twins, dataset):
    loader = LOADERS[dataset]
    labels = loader.frame_labels(twins[dataset])
    for video, info in _truth(dataset).items():
        np.testing.assert_array_equal(labels[video], info.labels)
        assert labels[video].dtype == np.int8
        masks = loader.pixel_masks(twins[dataset], video)
        rendered = va.render_video(dataset, "tiny", 0, "test", video).masks
        assert masks.dtype == bool and masks.shape == rendered.shape
        np.testing.assert_array_equal(masks, rendered)


@pytest.mark.parametrize("dataset", ["avenue", "shanghaitech", "ucsd_ped2"])
def test_anomaly_onset_is_aligned_frame_by_frame(twins, dataset):
    """Frame k where the first anomaly starts: label 1 and the object's mask at k, nothing at k-1.
    A loader reading one frame early or late fails here."""
    loader = LOADERS[dataset]
    video, info = next(iter(_truth(dataset).items()))
    k = int(np.flatnonzero(info.labels)[0])
    assert 0 < k < info.num_frames - 1
    rendered = va.render_video(dataset, "tiny", 0, "test", video).masks
    labels = loader.frame_labels(twins[dataset])[video]
    masks = loader.pixel_masks(twins[dataset], video)
    assert labels[k] == 1 and labels[k - 1] == 0
    assert masks[k].any() and not masks[k - 1].any()
    np.testing.assert_array_equal(masks[k], rendered[k])
    # the object moves, so the masks of neighbouring frames differ: a shift would not match
    assert not np.array_equal(masks[k + 1], rendered[k])
    index = loader.index(twins[dataset], "test")
    row = index[(index["video"] == video) & (index["frame"] == k)].iloc[0]
    assert row["label"] == 1
    previous = index[(index["video"] == video) & (index["frame"] == k - 1)].iloc[0]
    assert previous["label"] == 0


def test_avenue_layouts_agree(twins):
    root = twins["avenue"]
    for split in ("train", "test"):
        by_frames = avenue.index(root, split, layout="frames")
        by_videos = avenue.index(root, split, layout="videos")
        cols = ["video", "frame", "label"]
        pd.testing.assert_frame_equal(by_frames[cols], by_videos[cols])
        assert by_frames["path"].str.endswith(".jpg").all()
        assert by_videos["path"].str.endswith(".avi").all()
    assert avenue.detect_layout(root) == "frames"
    a = avenue.clips(root, "test", 6, stride=2, step=5, layout="frames")
    b = avenue.clips(root, "test", 6, stride=2, step=5, layout="videos")
    assert len(a) == len(b)
    for i in (0, len(a) - 1):
        x, y = a[i], b[i]
        assert x["video"] == y["video"]
        assert torch.equal(x["frames"], y["frames"]) and torch.equal(x["labels"], y["labels"])
        # JPEG files vs MJPEG video of the same rendered frames: equal up to compression
        assert float((x["clip"] - y["clip"]).abs().mean()) < 0.03
        rendered = va.render_video("avenue", "tiny", 0, "test", x["video"]).frames
        expected = torch.from_numpy(rendered[x["frames"].numpy()].transpose(0, 3, 1, 2) / 255.0)
        assert float((y["clip"] - expected).abs().mean()) < 0.03


def test_shanghaitech_training_sources_agree(twins):
    root = twins["shanghaitech"]
    by_frames = shanghaitech.index(root, "train", train_source="frames")
    by_videos = shanghaitech.index(root, "train", train_source="videos")
    cols = ["video", "frame", "label"]
    pd.testing.assert_frame_equal(by_frames[cols], by_videos[cols])
    assert by_frames["path"].str.endswith(".jpg").all()
    assert by_videos["path"].str.endswith(".avi").all()
    x = shanghaitech.clips(root, "train", 4, step=9, train_source="frames")[1]
    y = shanghaitech.clips(root, "train", 4, step=9, train_source="videos")[1]
    assert torch.equal(x["frames"], y["frames"])
    assert float((x["clip"] - y["clip"]).abs().mean()) < 0.03


def test_avenue_labels_from_masks_without_avenue_mat(twins, tmp_path):
    root = _copy(twins["avenue"], tmp_path)
    (root / "avenue.mat").unlink()
    labels = avenue.frame_labels(root)
    for video, info in _truth("avenue").items():
        np.testing.assert_array_equal(labels[video], info.labels)
    shutil.rmtree(root / "testing")
    shutil.rmtree(root / "training")
    assert avenue.detect_layout(root) == "videos"
    np.testing.assert_array_equal(avenue.index(root, "test")["label"],
                                  np.concatenate([i.labels for i in _truth("avenue").values()]))


def test_video_decoding_counts_and_seek(twins):
    root = twins["avenue"]
    for video, info in _truth("avenue").items():
        path = root / "testing_videos" / f"{video}.avi"
        assert video_frame_count(path) == info.num_frames
        assert video_frame_count(path, exact=True) == info.num_frames
    path = root / "testing_videos" / "02.avi"
    everything = read_video_frames(path)
    assert everything.shape == (26, 64, 96, 3) and everything.dtype == np.uint8
    part = read_video_frames(path, start=5, count=4, stride=3)
    np.testing.assert_array_equal(part, everything[5:15:3])
    with pytest.raises(ValueError, match="delivered"):
        read_video_frames(path, start=20, count=10)


# --------------------------------------------------------------------------------------------------
# ClipDataset
# --------------------------------------------------------------------------------------------------


def test_clip_dataset_windows_stride_and_boundaries(twins):
    frames = shanghaitech.index(twins["shanghaitech"], "test")
    lengths = frames.groupby("video").size().to_dict()
    length, stride, step = 5, 3, 2
    ds = ClipDataset(frames, length, stride=stride, step=step)
    span = (length - 1) * stride
    expected = sum(len(range(0, n - span, step)) for n in lengths.values())
    assert len(ds) == expected
    truth = _truth("shanghaitech")
    starts = {}
    for i in range(len(ds)):
        item = ds[i]
        assert item["clip"].shape == (length, 3, 64, 96)
        assert item["clip"].dtype == torch.float32
        assert 0.0 <= float(item["clip"].min()) and float(item["clip"].max()) <= 1.0
        assert item["labels"].dtype == torch.int64 and item["frames"].dtype == torch.int64
        f = item["frames"].numpy()
        assert (np.diff(f) == stride).all()
        assert f[-1] < lengths[item["video"]]  # never crosses into the next video
        np.testing.assert_array_equal(item["labels"].numpy(), truth[item["video"]].labels[f])
        starts.setdefault(item["video"], []).append(int(f[0]))
    for video, s in starts.items():
        assert s == list(range(0, lengths[video] - span, step))


def test_clip_dataset_options(twins):
    frames = avenue.index(twins["avenue"], "train", layout="videos")
    gray = ClipDataset(frames, 4, resize=(32, 48), grayscale=True)
    item = gray[3]
    assert item["clip"].shape == (4, 1, 32, 48)
    assert item["labels"].tolist() == [-1] * 4
    doubled = ClipDataset(frames, 2, transform=lambda clip: clip * 2, step=7)
    plain = ClipDataset(frames, 2, step=7)
    assert torch.allclose(doubled[1]["clip"], plain[1]["clip"] * 2)
    assert len(ClipDataset(frames, 1)) == len(frames)
    with pytest.raises(DatasetError, match="no clip of 30 frames"):
        ClipDataset(frames, 30)
    with pytest.raises(ValueError, match="missing column"):
        ClipDataset(frames.drop(columns="label"), 2)
    with pytest.raises(DatasetError, match="empty"):
        ClipDataset(frames.iloc[:0], 2)


def test_clip_dataset_works_in_dataloader_workers(twins):
    ds = avenue.clips(twins["avenue"], "test", 8, step=8, layout="videos")
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2)
    batches = list(loader)
    assert sum(b["clip"].shape[0] for b in batches) == len(ds)
    assert batches[0]["clip"].shape[1:] == (8, 3, 64, 96)


# --------------------------------------------------------------------------------------------------
# Annotation parsers
# --------------------------------------------------------------------------------------------------


def test_avenue_mat_parser_handles_matlab_nesting(tmp_path):
    gt = va.cell_row([np.array([[3.0, 10.0], [5.0, 12.0]]),   # two intervals, 2×K
                      np.array([[1.0], [4.0]]),                 # one interval
                      np.zeros((2, 0))])                        # none
    path = tmp_path / "avenue.mat"
    savemat(path, {"gt": gt})
    expected = [[(3, 5), (10, 12)], [(1, 4)], []]
    assert avenue.read_gt_mat(path) == expected
    raw = loadmat(path)["gt"]
    assert raw.shape == (1, 3) and raw.dtype == object
    assert avenue.parse_gt_intervals(raw) == expected
    squeezed = loadmat(path, squeeze_me=True)["gt"]  # cells become (2, K), (2,), (2, 0)
    assert avenue.parse_gt_intervals(squeezed) == expected
    nested = np.empty((3, 1), dtype=object)  # a column cell whose cells are wrapped once more
    for i, cell in enumerate(raw.reshape(-1)):
        wrapper = np.empty((1, 1), dtype=object)
        wrapper[0, 0] = cell
        nested[i, 0] = wrapper
    assert avenue.parse_gt_intervals(nested) == expected
    with pytest.raises(ValueError, match="2×K"):
        avenue.parse_gt_intervals(va.cell_row([np.ones((3, 3))]))
    np.testing.assert_array_equal(labels_from_intervals([(3, 5), (10, 12)], 12),
                                  [0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1])
    assert intervals_from_labels(labels_from_intervals([(3, 5), (10, 12)], 12)) == [(3, 5), (10, 12)]
    with pytest.raises(ValueError, match="does not fit"):
        labels_from_intervals([(10, 13)], 12)


def test_avenue_label_mask_reader(tmp_path):
    masks = np.zeros((3, 4, 5), np.uint8)
    masks[1, 2, 3] = 1
    savemat(tmp_path / "1_label.mat", {"volLabel": va.cell_row(list(masks))})
    np.testing.assert_array_equal(avenue.read_label_mask(tmp_path / "1_label.mat"), masks.astype(bool))
    savemat(tmp_path / "2_label.mat", {"volLabel": np.moveaxis(masks, 0, -1)})  # numeric H×W×T
    np.testing.assert_array_equal(avenue.read_label_mask(tmp_path / "2_label.mat"), masks.astype(bool))


def test_ucsd_m_parser():
    text = """% ground truth
TestVideoFile = {};
TestVideoFile{end+1}.gt_frame = [61:180];
TestVideoFile{end+1}.gt_frame = [1:52, 65:115];  % two events
% TestVideoFile{end+1}.gt_frame = [1:2];
TestVideoFile{end+1}.gt_frame = [5 7:9];
TestVideoFile{end+1}.gt_frame = [];
"""
    assert ucsd_ped2.parse_gt_m(text) == [[(61, 180)], [(1, 52), (65, 115)], [(5, 5), (7, 9)], []]


def test_shanghaitech_npy_ground_truth(twins):
    root = twins["shanghaitech"]
    for video, info in _truth("shanghaitech").items():
        frame_mask = np.load(root / "testing" / "test_frame_mask" / f"{video}.npy")
        pixel_mask = np.load(root / "testing" / "test_pixel_mask" / f"{video}.npy")
        assert frame_mask.shape == (info.num_frames,)
        assert pixel_mask.shape == (info.num_frames, info.height, info.width)
        np.testing.assert_array_equal(pixel_mask.any(axis=(1, 2)), frame_mask.astype(bool))


def test_vad_tracks_match_truth_and_score_perfectly(twins):
    from vadlib.metrics import rbdc_tbdc, regions_from_maps
    root = twins["vad_tracks"]
    for dataset in ("avenue", "shanghaitech"):
        gt = vad_tracks.tracks(root, dataset)
        assert list(gt.columns) == ["video", "track_id", "frame", "x1", "y1", "x2", "y2"]
        for video, info in _truth(dataset).items():
            mine = gt[gt["video"] == video].drop(columns="video").reset_index(drop=True)
            pd.testing.assert_frame_equal(mine, info.tracks)
        # boxes are the tight boxes of the pixel masks: scoring the masks themselves gives 1, 1
        loader = LOADERS[dataset]
        labels = loader.frame_labels(twins[dataset])
        maps = {v: loader.pixel_masks(twins[dataset], v).astype(float) for v in labels}
        pred = regions_from_maps(maps, 0.5)
        assert rbdc_tbdc(pred, gt, {v: len(l) for v, l in labels.items()}) == (1.0, 1.0)
    both = vad_tracks.index(root)
    assert set(both["dataset"]) == {"avenue", "shanghaitech"}
    first = (root / "annotations" / "ShanghaiTech" / "01_0001.txt").read_text().splitlines()[0]
    assert len(first.split(",")) == 6  # track_id,frame,x_min,y_min,x_max,y_max


# --------------------------------------------------------------------------------------------------
# Determinism and manifests
# --------------------------------------------------------------------------------------------------


def _digest(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file() and not p.name.startswith(".vadlib")}


def test_twins_are_deterministic(twins, tmp_path):
    va.render_cached.cache_clear()  # render again from scratch, not from the cache
    for name in NAMES:
        again = synthetic.generate(name, size="tiny", seed=0, data_root=tmp_path / "again")
        assert _digest(again) == _digest(twins[name]), name
    other = synthetic.generate("avenue", size="tiny", seed=1, data_root=tmp_path / "other")
    assert _digest(other).keys() == _digest(twins["avenue"]).keys()
    assert _digest(other) != _digest(twins["avenue"])
    assert not np.array_equal(va.scene_truth("avenue", "tiny", 1)["01"].labels,
                              va.scene_truth("avenue", "tiny", 0)["01"].labels) or \
        not va.scene_truth("avenue", "tiny", 1)["01"].tracks.equals(
            va.scene_truth("avenue", "tiny", 0)["01"].tracks)


def test_twin_event_kinds_and_sizes():
    kinds = set()
    for dataset in ("avenue", "shanghaitech", "ucsd_ped2"):
        for info in va.scene_truth(dataset, "smoke", 0).values():
            kinds |= set(info.events["kind"])
            assert 0 < info.labels.sum() < info.num_frames
        for info in va.scene_truth(dataset, "tiny", 0, "train").values():
            assert info.labels.sum() == 0 and info.tracks.empty
    assert kinds == set(va.EVENT_KINDS)
    assert va.plan("avenue", "large").height == 360 and va.plan("avenue", "large").width == 640


@pytest.mark.parametrize("name", NAMES)
def test_manifest_layouts_match_the_twin(twins, name):
    from vadlib.data.manifests import load_manifest
    try:
        manifest = load_manifest(name)
    except KeyError:
        pytest.skip(f"no manifest for {name} yet")
    assert twins[name].name == manifest.directory
    for variant, entries in manifest.layouts.items():
        for entry in entries:
            assert entry.matches(twins[name]), f"{name}/{variant}: {entry.pattern} matches nothing"


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------


def _raises(dataset: str, *fragments: str):
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(DatasetError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            message = str(self.info.value)
            assert message.startswith(f"{dataset}:"), message
            assert "vadlib data status" in message
            for fragment in fragments:
                assert fragment in message, (fragment, message)
            return handled
    return Check()


def test_missing_roots(tmp_path):
    for loader in LOADERS.values():
        with _raises(loader.DATASET, "does not exist"):
            loader.index(tmp_path / "nowhere", "test")
    with _raises("vad_tracks", "does not exist"):
        vad_tracks.tracks(tmp_path / "nowhere")


def test_wrong_layouts(tmp_path):
    (tmp_path / "something").mkdir()
    with _raises("avenue", "training/frames", "training_videos"):
        avenue.index(tmp_path, "test")
    with _raises("shanghaitech", "testing/frames"):
        shanghaitech.index(tmp_path, "test")
    with _raises("ucsd_ped2", "UCSDped2"):
        ucsd_ped2.index(tmp_path, "test")
    with _raises("vad_tracks", "annotations/ShanghaiTech"):
        vad_tracks.tracks(tmp_path, "shanghaitech")


def test_incomplete_avenue(twins, tmp_path):
    root = _copy(twins["avenue"], tmp_path)
    (root / "testing" / "frames" / "02" / "0003.jpg").unlink()
    with _raises("avenue", "gap", "0004.jpg"):
        avenue.index(root, "test", layout="frames")
    (root / "avenue.mat").unlink()
    (root / "ground_truth_demo" / "testing_label_mask" / "1_label.mat").unlink()
    with _raises("avenue", "avenue.mat", "1_label.mat"):
        avenue.frame_labels(root, layout="videos")
    with _raises("avenue", "pixel masks", "1_label.mat"):
        avenue.pixel_masks(root, "01")
    savemat(root / "avenue.mat", {"gt": va.cell_row([np.array([[1.0], [2.0]])])})
    with _raises("avenue", "1 cells", "2 test videos"):
        avenue.frame_labels(root, layout="videos")
    savemat(root / "avenue.mat", {"gt": va.cell_row([np.array([[1.0], [2.0]]),
                                                     np.array([[20.0], [99.0]])])})
    with _raises("avenue", "test video 02", "does not fit"):
        avenue.frame_labels(root, layout="videos")


def test_incomplete_shanghaitech(twins, tmp_path):
    root = _copy(twins["shanghaitech"], tmp_path)
    np.save(root / "testing" / "test_frame_mask" / "02_0001.npy", np.zeros(5, np.int64))
    with _raises("shanghaitech", "02_0001", "26 frames", "5 labels"):
        shanghaitech.index(root, "test")
    (root / "testing" / "test_frame_mask" / "02_0001.npy").unlink()
    with _raises("shanghaitech", "test_frame_mask/02_0001.npy"):
        shanghaitech.frame_labels(root)
    with _raises("shanghaitech", "test_pixel_mask/09_0009.npy"):
        shanghaitech.pixel_masks(root, "09_0009")
    shutil.rmtree(root / "training" / "videos")
    assert len(shanghaitech.index(root, "train")) > 0  # the extracted frames suffice
    with _raises("shanghaitech", "training/videos"):
        shanghaitech.index(root, "train", train_source="videos")
    shutil.rmtree(root / "training" / "frames")
    with _raises("shanghaitech", "training/videos", "training/frames"):
        shanghaitech.index(root, "train")


def test_incomplete_ucsd_ped2(twins, tmp_path):
    root = _copy(twins["ucsd_ped2"], tmp_path)
    test_dir = root / "UCSDped2" / "Test"
    (test_dir / "UCSDped2.m").write_text("TestVideoFile{end+1}.gt_frame = [1:3];\n")
    with _raises("ucsd_ped2", "lists 1 test videos", "2 test video folders"):
        ucsd_ped2.index(root, "test")
    (test_dir / "UCSDped2.m").unlink()  # falls back to the pixel masks
    for video, info in _truth("ucsd_ped2").items():
        np.testing.assert_array_equal(ucsd_ped2.frame_labels(root)[video], info.labels)
    shutil.rmtree(test_dir / "Test002_gt")
    with _raises("ucsd_ped2", "Test002", "UCSDped2.m", "Test002_gt"):
        ucsd_ped2.frame_labels(root)
    shutil.rmtree(root / "UCSDped2" / "Train")
    with _raises("ucsd_ped2", "UCSDped2/Train"):
        ucsd_ped2.index(root, "train")


def test_malformed_tracks(twins, tmp_path):
    root = _copy(twins["vad_tracks"], tmp_path)
    path = root / "annotations" / "Avenue" / "01.txt"
    path.write_text(path.read_text() + "0,99,5,5\n")
    with _raises("vad_tracks", "01.txt line", "0,99,5,5"):
        vad_tracks.tracks(root, "avenue")
    path.write_text("0,3,10,10,5,20\n")
    with _raises("vad_tracks", "max < min"):
        vad_tracks.tracks(root, "avenue")
    path.write_text("0,3,1,1,5,5\n0,3,2,2,6,6\n")
    with _raises("vad_tracks", "two regions in frame 3"):
        vad_tracks.tracks(root, "avenue")
