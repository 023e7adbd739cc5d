"""Loaders and synthetic twins of BraTS (vadlib.data.brats) and the thermal harbour sets
(vadlib.data.thermal): round trips against the generators' own truth, determinism, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vadlib.data import brats, thermal
from vadlib.data.errors import DatasetError
from vadlib.data.synthetic import brats as brats_twin
from vadlib.data.synthetic import generate
from vadlib.data.synthetic import thermal as thermal_twin

RECORD = ".vadlib-record.json"


def _twin(name: str, tmp_path: Path, seed: int = 0) -> Path:
    return generate(name, size="tiny", seed=seed, data_root=tmp_path / "data")


def _copy(root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    return copy


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != RECORD}


def _raises(dataset: str, thing: str):
    return pytest.raises(DatasetError, match=rf"(?s)^{dataset}: .*{thing}.*vadlib data status")


@pytest.fixture(scope="module")
def brats_root(tmp_path_factory) -> Path:
    return generate("brats", size="tiny", seed=0, data_root=tmp_path_factory.mktemp("brats"))


@pytest.fixture(scope="module")
def brats_truth() -> pd.DataFrame:
    return brats_twin.truth("tiny", 0)


# ------------------------------------------------------------------------------------ BraTS

def test_brats_scans_list_every_modality_file(brats_root):
    table = brats.scans(brats_root)
    assert list(table["scan"]) == brats_twin.subject_ids("tiny")
    assert set(table["shape"]) == {(48, 48, 24)}
    for row in table.itertuples():
        for kind in (*brats.MODALITIES, "seg"):
            path = Path(getattr(row, kind))
            assert path.is_file() and path.name == f"{row.scan}_{kind}.nii.gz"


def test_brats_orientation_is_the_release_affine(brats_root):
    image = nib.load(brats.scans(brats_root)["flair"][0])
    assert nib.aff2axcodes(image.affine) == ("L", "P", "S")
    assert brats.axial_axis(image) == 2
    assert np.allclose(image.header.get_zooms(), 1.0)


def test_brats_slice_flags_match_the_generator(brats_root, brats_truth):
    slices = brats.slice_index(brats_root, min_brain_fraction=0.0)
    assert len(slices) == 5 * 24
    merged = slices.merge(brats_truth, on=["scan", "slice"], suffixes=("", "_truth"))
    assert len(merged) == len(slices)
    assert (merged["has_lesion"] == merged["has_lesion_truth"]).all()
    assert (merged["label"] == merged["has_lesion_truth"].astype(int)).all()
    assert (merged["lesion_pixels"] == merged["lesion_pixels_truth"]).all()
    assert np.allclose(merged["brain_fraction"], merged["brain_pixels"] / merged["slice_pixels"])
    # every subject has a tumour, lesion-free slices with brain, and empty top/bottom slices
    per_scan = merged.groupby("scan")
    assert per_scan["has_lesion"].any().all()
    assert per_scan.apply(lambda g: ((~g.has_lesion) & (g.brain_pixels > 0)).any()).all()
    assert (per_scan["brain_pixels"].min() == 0).all()
    kept = brats.slice_index(brats_root, min_brain_fraction=0.05)
    assert len(kept) == int((brats_truth["brain_pixels"] / brats_truth["slice_pixels"] >= 0.05).sum())


def test_brats_slices_are_the_axial_slices_drawn(brats_root):
    slices = brats.slice_index(brats_root, ["BraTS2021_00001"])
    dataset = brats.BraTSSlices(brats_root, slices)
    drawn = brats_twin.render(1, size="tiny", seed=0)
    flair = drawn["flair"].astype(np.float64)
    scale = np.percentile(flair[flair != 0], 99)
    for position in range(len(dataset)):
        item = dataset[position]
        k = item["slice"]
        assert item["image"].shape == (1, 48, 48) and item["image"].dtype.is_floating_point
        assert item["mask"].shape == (48, 48) and str(item["mask"].dtype) == "torch.uint8"
        assert float(item["image"].min()) >= 0 and float(item["image"].max()) <= 1
        assert np.array_equal(item["mask"].numpy(), (drawn["seg"][:, :, k] > 0).astype(np.uint8))
        assert np.allclose(item["image"][0].numpy(), np.clip(flair[:, :, k] / scale, 0, 1), atol=1e-5)
        assert int(item["label"]) == int(drawn["seg"][:, :, k].any())
    t2 = brats.BraTSSlices(brats_root, slices, modality="t2", resize=32)[0]
    assert t2["image"].shape == (1, 32, 32) and t2["mask"].shape == (32, 32)
    # T2 and FLAIR differ in contrast: CSF is bright in T2, dark in FLAIR
    csf = drawn["t2"].astype(float) > np.percentile(drawn["t2"][drawn["brain"]], 97)
    assert drawn["flair"][csf & (drawn["seg"] == 0)].mean() < drawn["flair"][drawn["brain"]].mean()


def test_brats_thesis_split(brats_root, brats_truth):
    train, test = brats.thesis_split(brats_root, seed=0)
    train_scans, test_scans = set(train["scan"]), set(test["scan"])
    assert (len(train_scans), len(test_scans)) == (2, 3)  # 5 scans × 125/305 → 2 train, 3 test
    assert not train_scans & test_scans
    assert not train["has_lesion"].any() and test["has_lesion"].any() and (~test["has_lesion"]).any()
    brainy = brats_truth[brats_truth["brain_pixels"] / brats_truth["slice_pixels"] >= 0.01]
    expected_train = brainy[brainy["scan"].isin(train_scans) & ~brainy["has_lesion"]]
    assert sorted(zip(train["scan"], train["slice"])) == sorted(zip(expected_train["scan"], expected_train["slice"]))
    assert len(test) == int(brainy["scan"].isin(test_scans).sum())
    again, _ = brats.thesis_split(brats_root, seed=0)
    assert again.equals(train)
    everything_train, everything_test = brats.thesis_split(brats_root, seed=0, min_brain_fraction=0.0)
    assert len(everything_test) == 3 * 24


def test_split_scans_scaling_and_determinism():
    ids = [f"s{i:03d}" for i in range(305)]
    train, test = brats.split_scans(ids, seed=1)
    assert (len(train), len(test)) == (125, 180) and not set(train) & set(test)
    assert brats.split_scans(ids, seed=1) == (train, test)
    assert brats.split_scans(ids, seed=2) != (train, test)
    assert tuple(map(len, brats.split_scans(ids[:61], seed=0))) == (25, 36)
    assert tuple(map(len, brats.split_scans(ids + [f"x{i}" for i in range(100)], seed=0))) == (125, 180)
    assert tuple(map(len, brats.split_scans(ids[:2], seed=0))) == (1, 1)


def test_brats_volume_chunks(brats_root):
    chunks = brats.volume_index(brats_root, ["BraTS2021_00000"], depth=10, stride=7)
    assert list(chunks["start"]) == [0, 7, 14]  # the last chunk ends at the final slice
    drawn = brats_twin.render(0, size="tiny", seed=0)
    dataset = brats.BraTSVolumes(brats_root, chunks, resize=(24, 32))
    for position in range(len(dataset)):
        item = dataset[position]
        start = item["start"]
        assert item["volume"].shape == (1, 10, 24, 32) and item["mask"].shape == (10, 24, 32)
        assert int(item["label"]) == int(drawn["seg"][:, :, start:start + 10].any())
    whole = brats.BraTSVolumes(brats_root, brats.volume_index(brats_root, ["BraTS2021_00000"], depth=None))[0]
    expected = np.moveaxis(drawn["seg"] > 0, 2, 0).astype(np.uint8)
    assert whole["volume"].shape == (1, 24, 48, 48) and np.array_equal(whole["mask"].numpy(), expected)


def test_brats_2020_layout_is_read(brats_root, tmp_path):
    root = tmp_path / "brats2020"
    subject = root / "MICCAI_BraTS2020_TrainingData" / "BraTS20_Training_001"
    subject.mkdir(parents=True)
    for kind in (*brats.MODALITIES, "seg"):  # uncompressed .nii, as the 2020 release ships them
        image = nib.load(brats_root / "BraTS2021_00003" / f"BraTS2021_00003_{kind}.nii.gz")
        nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj), image.affine, image.header),
                 str(subject / f"BraTS20_Training_001_{kind}.nii"))
    table = brats.scans(root)
    assert list(table["scan"]) == ["BraTS20_Training_001"] and table["seg"][0].endswith("_seg.nii")
    truth = brats_twin.truth("tiny", 0)
    flags = brats.slice_index(root, min_brain_fraction=0.0)["has_lesion"].to_numpy()
    assert np.array_equal(flags, truth[truth["scan"] == "BraTS2021_00003"]["has_lesion"].to_numpy())


def test_brats_bad_roots(brats_root, tmp_path):
    with _raises("brats", "no dataset directory"):
        brats.scans(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with _raises("brats", "no subject folder"):
        brats.scans(tmp_path / "empty")
    copy = _copy(brats_root, tmp_path)
    (copy / "BraTS2021_00002" / "BraTS2021_00002_t1ce.nii.gz").unlink()
    with _raises("brats", "no t1ce volume BraTS2021_00002/BraTS2021_00002_t1ce"):
        brats.scans(copy)
    shutil.rmtree(copy)
    copy = _copy(brats_root, tmp_path)
    (copy / "BraTS2021_00004" / "BraTS2021_00004_seg.nii.gz").unlink()
    with _raises("brats", "no seg volume BraTS2021_00004/BraTS2021_00004_seg"):
        brats.thesis_split(copy)


def test_brats_twin_is_deterministic(tmp_path):
    first = _files(generate("brats", size="tiny", seed=0, data_root=tmp_path / "a"))
    assert first == _files(generate("brats", size="tiny", seed=0, data_root=tmp_path / "b"))
    other = _files(generate("brats", size="tiny", seed=1, data_root=tmp_path / "c"))
    assert first.keys() == other.keys() and first != other


# ------------------------------------------------------------------------ Thermal Rare Event

def test_rare_event_labels_align_frame_by_frame(tmp_path):
    root = _twin("thermal_rare_event", tmp_path)
    truth = thermal_twin.rare_event_truth("tiny", 0)
    for split in ("train", "test"):
        frames = thermal.index(root, split)
        assert list(frames.columns) == ["video", "frame", "path", "label"]
        expected = truth[truth["split"] == split]
        assert list(zip(frames["video"], frames["frame"], frames["label"])) == \
            list(zip(expected["clip"], expected["frame"], expected["label"]))
        assert all(Path(p).name == f"{f:04d}.jpg" for p, f in zip(frames["path"], frames["frame"]))
    test = truth[truth["split"] == "test"]
    assert set(test["event"]) == {"jump", "pier_run", "vehicle", "normal"}
    per_clip = test.groupby("clip").agg(event=("event", "first"), abnormal=("label", "sum"), n=("label", "size"))
    assert ((per_clip["event"] == "normal") == (per_clip["abnormal"] == 0)).all()
    assert (per_clip["abnormal"] < per_clip["n"]).all()  # event clips also hold normal frames
    with Image.open(thermal.index(root, "test")["path"][0]) as image:
        assert image.mode == "L" and image.size == (96, 72)


def test_rare_event_clip_dataset(tmp_path):
    root = _twin("thermal_rare_event", tmp_path)
    dataset = thermal.clips(root, "test", length=4, step=2)
    truth = thermal_twin.rare_event_truth("tiny", 0)
    truth = truth[truth["split"] == "test"].set_index(["clip", "frame"])["label"]
    assert len(dataset) == 4 * 5  # 4 clips × windows starting at 0, 2, 4, 6, 8 of 12 frames
    for position in range(0, len(dataset), 3):
        item = dataset[position]
        assert item["clip"].shape == (4, 1, 72, 96)
        expected = [truth[(item["video"], int(f))] for f in item["frames"]]
        assert item["labels"].tolist() == expected


def test_rare_event_warm_bodies_are_bright(tmp_path):
    root = _twin("thermal_rare_event", tmp_path)
    plan = next(p for p in thermal_twin.rare_event_plan("tiny", 0) if p.event == "vehicle")
    frames = thermal.index(root, "test")
    clip = frames[frames["video"] == plan.name]
    with_vehicle = [np.asarray(Image.open(p), dtype=float) for p in clip[clip["label"] == 1]["path"]]
    assert max(frame.max() - np.median(frame) for frame in with_vehicle) > 60


def test_rare_event_bad_roots(tmp_path):
    with _raises("thermal_rare_event", "no dataset directory"):
        thermal.index(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with _raises("thermal_rare_event", "no training/frames/ folder"):
        thermal.index(tmp_path / "empty", "train")
    copy = _copy(_twin("thermal_rare_event", tmp_path), tmp_path)
    (copy / "testing" / "test_frame_mask" / "002.npy").unlink()
    with _raises("thermal_rare_event", "no frame-label file testing/test_frame_mask/002.npy"):
        thermal.index(copy, "test")
    np.save(copy / "testing" / "test_frame_mask" / "002.npy", np.zeros(5, np.uint8))
    with _raises("thermal_rare_event", "has 5 labels but clip 002 has 12 frames"):
        thermal.index(copy, "test")
    (copy / "training" / "frames" / "009").mkdir()
    with _raises("thermal_rare_event", "no .*frames in .*009"):
        thermal.index(copy, "train")


# --------------------------------------------------------------------- Seasons in Drift (LTD)

def test_seasons_clips_and_metadata(tmp_path):
    root = _twin("seasons_in_drift", tmp_path)
    truth = thermal_twin.seasons_truth("tiny", 0)
    table = thermal.sid_clips(root)
    assert list(table["clip"]) == list(truth["clip"])
    assert list(table["n_frames"]) == [10, 10, 10]
    assert list(table["datetime"]) == [pd.Timestamp(t) for t in truth["datetime"]]
    assert np.allclose(table["temperature"], truth["temperature"])
    assert list(table["humidity"]) == list(truth["Humidity"])
    assert all(c.startswith(f"{d:%Y%m%d}/clip_") and c.endswith(t.replace(":", ""))
               for c, d, t in zip(table["clip"], table["date"], table["time"]))
    frames = thermal.sid_index(root)
    assert len(frames) == 30 and set(frames["label"]) == {-1}
    one = thermal.sid_clip_frames(root, table["clip"][1])
    assert list(one["frame"]) == list(range(10)) and Path(one["path"][3]).name == "image_0003.jpg"
    item = thermal.ThermalFrames(one, resize=(36, 48))[3]
    assert item["image"].shape == (1, 36, 48) and int(item["label"]) == -1
    # the twin nests like the archive (LTD Dataset/LTD Dataset/); a flat copy is read too
    flat = tmp_path / "flat"
    shutil.copytree(root / "LTD Dataset" / "LTD Dataset", flat)
    assert list(thermal.sid_clips(flat)["clip"]) == list(truth["clip"])


def test_seasons_conditions_drift(tmp_path):
    truth = thermal_twin.seasons_truth("smoke", 0)
    assert truth["datetime"].dt.month.nunique() >= 4 and truth["temperature"].std() > 3
    assert (truth["sun"] == 0).any() and (truth["sun"] > 0.2).any()  # night and day clips


def test_seasons_bad_roots(tmp_path):
    root = _twin("seasons_in_drift", tmp_path)
    (tmp_path / "empty").mkdir()
    with _raises("seasons_in_drift", "no metadata.csv"):
        thermal.sid_clips(tmp_path / "empty")
    copy = _copy(root, tmp_path) / "LTD Dataset" / "LTD Dataset"
    first_clip = thermal_twin.seasons_truth("tiny", 0)["clip"][0]
    day = first_clip.split("/")[0]
    empty_clip = copy / "Image Dataset" / day / "clip_99_2359"
    empty_clip.mkdir()
    with _raises("seasons_in_drift", "no .*frames in .*clip_99_2359"):
        thermal.sid_clips(copy)
    for image in (copy / "Image Dataset" / first_clip).iterdir():
        shutil.copy(image, empty_clip / image.name)
    with _raises("seasons_in_drift", f"{day}/clip_99_2359 has no row"):
        thermal.sid_clips(copy)
    shutil.rmtree(copy / "Image Dataset")
    (copy / "Video Clips").mkdir()
    with _raises("seasons_in_drift", "no frame folder .*extract_images.py"):
        thermal.sid_clips(copy)


@pytest.mark.parametrize("name", ["seasons_in_drift", "thermal_rare_event"])
def test_thermal_twins_are_deterministic(name, tmp_path):
    first = _files(generate(name, size="tiny", seed=0, data_root=tmp_path / "a"))
    assert first == _files(generate(name, size="tiny", seed=0, data_root=tmp_path / "b"))
    assert first != _files(generate(name, size="tiny", seed=1, data_root=tmp_path / "c"))


def test_rare_event_alternative_spellings(tmp_path):
    copy = _copy(_twin("thermal_rare_event", tmp_path), tmp_path)
    (copy / "training").rename(copy / "train")
    (copy / "testing").rename(copy / "test")
    (copy / "test" / "test_frame_mask").rename(copy / "test" / "frame_labels")
    for frame in (copy / "test" / "frames" / "001").iterdir():
        frame.rename(frame.with_name(f"image_{frame.name}"))
    truth = thermal_twin.rare_event_truth("tiny", 0)
    frames = thermal.index(copy, "test")
    assert list(frames["label"]) == list(truth[truth["split"] == "test"]["label"])
    assert Path(frames["path"][5]).name == "image_0005.jpg"
    assert len(thermal.index(copy, "train")) == int((truth["split"] == "train").sum())
