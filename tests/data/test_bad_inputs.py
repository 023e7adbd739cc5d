"""Damaged dataset files: every loader names the dataset and the file, and the command prints one line.

Each case copies a synthetic twin (the loaders' real layout), damages one file in a way that
happens to real downloads (a truncated image or volume, garbage or pickled bytes in an
annotation, a file where a folder should be) and checks that the error names exactly that file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vadlib import cli
from vadlib.data import (avenue, brats, dtd, fall_tests, imagenet, mot, mvtec, shanghaitech,
                         status as status_module, thermal, ucsd_ped2, vad_tracks)
from vadlib.data.errors import DatasetError, DatasetFileError
from vadlib.data.files import decode_image, jpeg_is_complete
from vadlib.data.synthetic import generate
from vadlib.data.video import read_image

torch = pytest.importorskip("torch")

GARBAGE = b"\x89\xff\xfe\x00 not what the loader expects \x9c\xd1" * 64  # not UTF-8, not npy, not mat


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """The tiny twin of a dataset, generated once per module; copy before damaging."""
    data_root = tmp_path_factory.mktemp("twins")
    return lambda name: generate(name, size="tiny", seed=0, data_root=data_root)


def _copy(twins, name: str, tmp_path: Path) -> Path:
    source = twins(name)
    return Path(shutil.copytree(source, tmp_path / "damaged" / source.name))


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def _assert_names(error: DatasetError, dataset: str, path: Path, root: Path) -> None:
    """The error is about ``dataset`` and names ``path``: in full, or relative to the root it names."""
    assert error.dataset == dataset
    line = error.summary
    assert "\n" not in line
    if isinstance(error, DatasetFileError):
        assert error.path == path
    assert str(path) in line or (str(path.relative_to(root)) in line and str(root) in line), line


# ------------------------------------------------------------------ truncated images and volumes


def _first(paths) -> Path:
    return Path(sorted(str(p) for p in paths)[0])


def _avenue_clip(root):
    clips = avenue.clips(root, "test", length=2, layout="frames")
    return Path(clips.frames["path"].iloc[0]), lambda: clips[0]


def _shanghaitech_clip(root):
    clips = shanghaitech.clips(root, "train", length=2, train_source="frames")
    return Path(clips.frames["path"].iloc[0]), lambda: clips[0]


def _ucsd_clip(root):
    clips = ucsd_ped2.clips(root, "test", length=2)
    return Path(clips.frames["path"].iloc[0]), lambda: clips[0]


def _ucsd_mask(root):
    path = _first((root / "UCSDped2" / "Test" / "Test001_gt").glob("*.bmp"))
    return path, lambda: ucsd_ped2.pixel_masks(root, "Test001")


def _mvtec_image(root):
    dataset = mvtec.MVTecAD(root, "bottle", "train", resize=None)
    return Path(dataset.index["path"].iloc[0]), lambda: dataset[0]


def _mvtec_mask(root):
    dataset = mvtec.MVTecAD(root, "bottle", "test", resize=None)
    position = int(np.flatnonzero(dataset.index["mask_path"].notna())[0])
    return Path(dataset.index["mask_path"].iloc[position]), lambda: dataset[position]


def _dtd_image(root):
    dataset = dtd.DTDTextures(root, resize=None)
    return Path(dataset.index["path"].iloc[0]), lambda: dataset[0]


def _imagenet_image(root):
    dataset = imagenet.ImageNetFolder(root, "train", resize=None)
    return Path(dataset.samples[0][0]), lambda: dataset[0]


def _thermal_frame(root):
    frames = thermal.index(root, "train")
    dataset = thermal.ThermalFrames(frames, dataset=thermal.RARE_EVENT)
    return Path(frames["path"].iloc[0]), lambda: dataset[0]


def _mot_frame(root):
    dataset = mot.MOTFrames(root, "train", resize=(64, 96))
    return Path(dataset.frames["path"].iloc[0]), lambda: dataset[0]


def _jde_image(root):
    mixture = mot.JDEMixture(root.parent, {"prw": root / "prw.train"}, resize=(64, 96))
    return Path(mixture.items[0][1]), lambda: mixture[0]


def _fall_frame(root):
    first = fall_tests.read_samples(root, "intentional_fall").iloc[0]  # a frame a sample uses
    path = sorted((root / "frames" / first["clip"]).glob("*.jpg"))[int(first["start"])]
    return path, lambda: fall_tests.load(root, "intentional_fall")


def _brats_volume(root):
    table = brats.scans(root)  # headers only: the truncation is found when the voxels are read
    return Path(table["flair"].iloc[0]), lambda: brats.slice_index(root, table)


TRUNCATED = {
    "avenue": _avenue_clip, "shanghaitech": _shanghaitech_clip, "ucsd_ped2": _ucsd_clip,
    "ucsd_ped2 mask": _ucsd_mask, "mvtec_ad": _mvtec_image, "mvtec_ad mask": _mvtec_mask,
    "dtd": _dtd_image, "imagenet100": _imagenet_image, "thermal_rare_event": _thermal_frame,
    "mot17": _mot_frame, "jde_prw": _jde_image, "intentional_fall": _fall_frame,
    "brats": _brats_volume,
}


@pytest.mark.parametrize("case", sorted(TRUNCATED))
def test_truncated_file_names_dataset_and_file(twins, tmp_path, case):
    name = case.split()[0]
    root = _copy(twins, name, tmp_path)
    path, read = TRUNCATED[case](root)
    read()  # intact: reads
    _truncate(path)
    with pytest.raises(DatasetError) as caught:
        read()
    _assert_names(caught.value, name, path, root)


def test_brats_truncated_volume_in_the_item_reader(twins, tmp_path):
    root = _copy(twins, "brats", tmp_path)
    path = Path(brats.scans(root)["flair"].iloc[0])
    _truncate(path)
    with pytest.raises(DatasetFileError) as caught:
        brats.scan_scale(path)
    assert caught.value.dataset == "brats" and caught.value.path == path


def _jpeg(path: Path, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)
    return path.read_bytes()


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_jpeg_is_refused_where_opencv_alone_decodes_it(tmp_path, keep):
    path = tmp_path / "frame.jpg"
    data = _jpeg(path)
    path.write_bytes(data[:int(len(data) * keep)])
    assert cv2.imread(str(path)) is not None  # the silent grey fill this guards against
    with pytest.raises(DatasetFileError) as caught:
        read_image(path, dataset="avenue")
    assert caught.value.dataset == "avenue" and caught.value.path == path
    assert "truncated" in caught.value.summary


def test_complete_images_decode_as_opencv_does(tmp_path):
    jpeg = tmp_path / "a.jpg"
    data = _jpeg(jpeg)
    padded = tmp_path / "padded.jpg"  # bytes after the end marker: a complete image
    padded.write_bytes(data + b"\x00" * 100 + b"trailer")
    png = tmp_path / "a.png"
    Image.open(jpeg).save(png)
    for path in (jpeg, padded, png):
        for flag in (cv2.IMREAD_COLOR, cv2.IMREAD_GRAYSCALE, cv2.IMREAD_UNCHANGED):
            np.testing.assert_array_equal(decode_image(path, flag, "test"), cv2.imread(str(path), flag))
    assert jpeg_is_complete(data) and jpeg_is_complete(padded.read_bytes())
    assert not jpeg_is_complete(data[:-1])


def test_missing_and_empty_image_files_are_named(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path in (tmp_path / "absent.jpg", empty):
        with pytest.raises(DatasetFileError) as caught:
            read_image(path, dataset="avenue")
        assert caught.value.path == path and str(path) in caught.value.summary


# ------------------------------------------------------------------ garbage annotation files


def _pickled(path: Path) -> None:
    with open(path, "wb") as handle:  # np.save appends .npy to a name without it
        np.save(handle, np.array([{"frame": 1}], dtype=object), allow_pickle=True)


def _first_stem(folder: Path) -> str:
    return sorted(path.stem for path in folder.iterdir())[0]


ANNOTATIONS = {
    # case: (dataset, file relative to the twin's root, how it is damaged, the loader call)
    "avenue.mat garbage": ("avenue", "avenue.mat", "garbage",
                           lambda root: avenue.frame_labels(root, layout="frames")),
    "avenue.mat truncated": ("avenue", "avenue.mat", "truncate",
                             lambda root: avenue.frame_labels(root, layout="frames")),
    "avenue pixel masks": ("avenue", "ground_truth_demo/testing_label_mask/1_label.mat", "garbage",
                           lambda root: avenue.pixel_masks(root, "01")),
    "shanghaitech frame mask garbage": ("shanghaitech", "testing/test_frame_mask/{first}",
                                        "garbage", shanghaitech.frame_labels),
    "shanghaitech frame mask pickled": ("shanghaitech", "testing/test_frame_mask/{first}",
                                        "pickled", shanghaitech.frame_labels),
    "shanghaitech pixel mask": ("shanghaitech", "testing/test_pixel_mask/{first}", "truncate",
                                lambda root: shanghaitech.pixel_masks(root, _first_stem(root / "testing/test_pixel_mask"))),
    "thermal labels": ("thermal_rare_event", "testing/test_frame_mask/{first}", "pickled",
                       lambda root: thermal.index(root, "test")),
    "mot gt.txt": ("mot17", "train/{first}/gt/gt.txt", "garbage", lambda root: mot.index(root)),
    "mot seqinfo.ini": ("mot17", "train/{first}/seqinfo.ini", "garbage",
                        lambda root: mot.sequences(root)),
    "jde label file": ("jde_prw", "labels_with_ids/{first}", "garbage",
                       lambda root: mot.jde_index(root.parent, root / "prw.train")),
    "jde list file": ("jde_prw", "prw.train", "garbage",
                      lambda root: mot.jde_images(root.parent, root / "prw.train")),
    "dtd split file": ("dtd", "labels/train1.txt", "garbage", lambda root: dtd.index(root, "train", 1)),
    "imagenet class list": ("imagenet100", "classes.txt", "garbage", imagenet.select_classes),
    "vad_tracks track file": ("vad_tracks", "annotations/ShanghaiTech/{first}", "garbage",
                              lambda root: vad_tracks.tracks(root, "shanghaitech")),
    "fall samples.csv": ("intentional_fall", "samples.csv", "garbage",
                         lambda root: fall_tests.read_samples(root, "intentional_fall")),
}


@pytest.mark.parametrize("case", sorted(ANNOTATIONS))
def test_garbage_annotation_names_dataset_and_file(twins, tmp_path, case):
    name, relative, damage, read = ANNOTATIONS[case]
    root = _copy(twins, name, tmp_path)
    if "{first}" in relative:  # the first entry of the folder, whatever the twin names it
        folder = root / relative.split("{first}")[0]
        relative = relative.replace("{first}", sorted(p.name for p in folder.iterdir())[0])
    path = root / relative
    assert path.is_file(), f"the twin has no {relative}"
    read(root)  # intact: reads
    {"garbage": lambda: path.write_bytes(GARBAGE), "truncate": lambda: _truncate(path),
     "pickled": lambda: _pickled(path)}[damage]()
    with pytest.raises(DatasetError) as caught:
        read(root)
    _assert_names(caught.value, name, path, root)


# ------------------------------------------------------------------ a file where a folder should be


NOT_A_DIRECTORY = {
    "avenue": lambda root: avenue.index(root), "shanghaitech": lambda root: shanghaitech.index(root),
    "ucsd_ped2": lambda root: ucsd_ped2.index(root), "vad_tracks": lambda root: vad_tracks.index(root),
    "thermal_rare_event": lambda root: thermal.index(root), "mvtec_ad": lambda root: mvtec.index(root),
    "dtd": lambda root: dtd.index(root), "imagenet100": lambda root: imagenet.index(root),
    "brats": lambda root: brats.scans(root), "mot17": lambda root: mot.sequences(root, dataset="mot17"),
    "intentional_fall": lambda root: fall_tests.load(root, "intentional_fall"),
}


@pytest.mark.parametrize("name", sorted(NOT_A_DIRECTORY))
def test_loader_given_a_file_as_root_says_so(tmp_path, name):
    root = tmp_path / "dataset.tar"
    root.write_bytes(b"an archive not yet unpacked")
    with pytest.raises(DatasetError, match="is a file, not a directory") as caught:
        NOT_A_DIRECTORY[name](root)
    assert caught.value.dataset == name and str(root) in caught.value.summary


def test_status_and_verify_tell_a_file_from_a_missing_directory(tmp_path, capsys):
    data_root = tmp_path / "data"
    data_root.mkdir()
    assert status_module.status("avenue", data_root).state == "missing"
    (data_root / "avenue").write_bytes(b"Avenue_Dataset.zip, renamed")
    found = status_module.status("avenue", data_root)
    assert found.state == "not a directory" and not found.usable
    assert "is a file, not a directory" in found.details[0]
    with pytest.raises(DatasetError, match="is a file, not a directory"):
        status_module.require("avenue", data_root)
    for action in ("status", "verify"):
        assert cli.main(["data", action, "avenue", "--root", str(data_root)]) == 1
        out = capsys.readouterr().out
        assert "not a directory" in out and "is a file, not a directory" in out and "missing" not in out
    file_root = tmp_path / "data.txt"  # the data root itself is a file
    file_root.write_text("x")
    found = status_module.status("avenue", file_root)
    assert found.state == "not a directory" and str(file_root) in found.details[0]


# ------------------------------------------------------------------ the command: one line, no traceback


def test_synth_refuses_a_negative_seed(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["data", "synth", "avenue", "--seed", "-1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed" in err and "-1" in err


def test_cli_prints_one_line_for_a_dataset_error(tmp_path, capsys, monkeypatch):
    path = tmp_path / "avenue" / "testing" / "frames" / "01" / "0003.jpg"

    def damaged(*args, **kwargs):
        raise DatasetFileError("avenue", tmp_path / "avenue", path, "truncated JPEG image")

    monkeypatch.setattr("vadlib.data.data_commands.verify", damaged)
    with pytest.raises(SystemExit) as stop:
        cli.main(["data", "verify", "avenue", "--root", str(tmp_path)])
    assert stop.value.code == 1
    captured = capsys.readouterr()
    assert captured.err == f"vadlib: error: avenue: {path}: truncated JPEG image\n"
    assert captured.out == ""


def test_cli_subprocess_fetch_into_a_file_root_prints_one_line(tmp_path):
    data_root = tmp_path / "data_root_is_a_file"
    data_root.write_text("not a folder")
    result = subprocess.run([sys.executable, "-m", "vadlib.cli", "data", "fetch", "ucsd_ped2",
                             "--root", str(data_root)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vadlib: error: ")
    assert "ucsd_ped2" in lines[0] and str(data_root) in lines[0] and "is a file" in lines[0]
