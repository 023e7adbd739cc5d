"""MOTChallenge and JDE loaders against their synthetic twins (vadlib.data.mot)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from vadlib.data import DatasetError, mot, synthetic
from vadlib.data.synthetic import mot as twin

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


def make(name: str, data_root: Path, seed: int = 0) -> Path:
    return synthetic.generate(name, size="tiny", seed=seed, data_root=data_root)


def copy_of(name: str, data_root: Path, tmp_path: Path) -> Path:
    """A private, editable copy of a twin (keeps its directory name)."""
    target = tmp_path / make(name, data_root).name
    shutil.copytree(make(name, data_root), target)
    return target


def _digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != ".vadlib-record.json":
            digest.update(path.relative_to(directory).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------ MOTChallenge


@pytest.mark.parametrize("name", ["mot15", "mot16", "mot17"])
def test_frames_round_trip_against_rendered_truth(name, data_root):
    root = make(name, data_root)
    truth = twin.mot_truth(name, size="tiny", seed=0)
    dataset = mot.MOTFrames(root, "train")
    seqs = mot.sequences(root, "train")
    expected_frames = sum(truth[v].length for v in seqs["video"])
    assert len(dataset) == expected_frames
    for position in range(len(dataset)):
        item = dataset[position]
        scene = truth[seqs.set_index("sequence").loc[item["sequence"], "video"]]
        gt = scene.gt[scene.gt["frame"] == item["frame"]].sort_values("id")
        assert item["image"].shape == (3, scene.height, scene.width)
        assert item["image"].dtype == torch.float32
        assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
        if item["frame"] in (1, scene.length):  # the pixels are the rendered frame (JPEG loss)
            rendered = torch.from_numpy(scene.render(item["frame"])).permute(2, 0, 1) / 255.0
            assert float((item["image"] - rendered).abs().mean()) < 0.03
        order = np.argsort(item["ids"].numpy(), kind="stable")
        assert item["ids"].dtype == torch.int64 and item["boxes"].dtype == torch.float32
        np.testing.assert_array_equal(item["ids"].numpy()[order], gt["id"].to_numpy())
        np.testing.assert_array_equal(
            item["boxes"].numpy()[order],
            gt[["bb_left", "bb_top", "bb_width", "bb_height"]].to_numpy(dtype=np.float32))
        if name == "mot15":  # no class/visibility columns in MOT15 gt
            assert (item["classes"] == 1).all() and (item["visibility"] == 1).all()
        else:
            np.testing.assert_array_equal(item["classes"].numpy()[order], gt["class"].to_numpy())
            np.testing.assert_allclose(item["visibility"].numpy()[order], gt["visibility"],
                                       atol=1e-6)
            np.testing.assert_array_equal(item["conf"].numpy()[order], gt["conf"].to_numpy())


def test_visibility_is_the_unoccluded_box_fraction(data_root):
    """Recompute visibility from the boxes alone: area inside the image not covered by the box
    of a nearer object (larger bottom edge), over the box area."""
    scene = twin.mot_truth("mot17", size="tiny", seed=0)["MOT17-02"]
    index = mot.index(make("mot17", data_root), "train", seqs=["MOT17-02-SDP"])
    for frame, rows in index.groupby("frame"):
        boxes = rows[["bb_left", "bb_top", "bb_width", "bb_height"]].to_numpy(int)
        for i, (x, y, w, h) in enumerate(boxes):
            canvas = np.zeros((scene.height + 2 * h, scene.width + 2 * w), bool)
            ox, oy = w, h  # canvas offset so boxes past the border fit
            canvas[oy + y:oy + y + h, ox + x:ox + x + w] = True
            canvas[:oy, :] = canvas[oy + scene.height:, :] = False
            canvas[:, :ox] = canvas[:, ox + scene.width:] = False
            for j, (x2, y2, w2, h2) in enumerate(boxes):
                nearer = (y2 + h2 > y + h) or (y2 + h2 == y + h and rows["id"].iloc[j] >
                                               rows["id"].iloc[i])
                if j != i and nearer:
                    canvas[max(0, oy + y2):max(0, oy + y2 + h2),
                           max(0, ox + x2):max(0, ox + x2 + w2)] = False
            assert rows["visibility"].iloc[i] == pytest.approx(canvas.sum() / (w * h), abs=1e-6)
    assert (index["visibility"] < 1).any() and (index["visibility"] == 1).any()


def test_files_are_one_based_and_gt_sorted_by_track(data_root):
    root = make("mot16", data_root)
    lines = (root / "train" / "MOT16-02" / "gt" / "gt.txt").read_text().splitlines()
    rows = np.array([[float(v) for v in line.split(",")] for line in lines])
    assert rows.shape[1] == 9 and rows[:, 0].min() == 1
    assert (np.diff(rows[:, 1]) >= 0).all()  # sorted by id, as the released files
    item = mot.MOTFrames(root, "train", sequences=["MOT16-02"])[0]
    assert item["frame"] == 1 and item["path"].endswith("img1/000001.jpg")
    assert len(item["ids"]) == (rows[:, 0] == 1).sum()
    mot15 = (make("mot15", data_root) / "train" / "KITTI-13" / "gt" / "gt.txt").read_text()
    assert all(line.endswith(",1,-1,-1,-1") for line in mot15.splitlines())


def test_gt_has_ignored_static_persons_and_distractors(data_root):
    index = mot.index(make("mot17", data_root))
    assert {1, 7} <= set(index["class"])
    assert (index.loc[index["class"] != 1, "conf"] == 0).all()
    assert (index.loc[index["class"] == 1, "conf"] == 1).all()
    kept = mot.MOTFrames(make("mot17", data_root), pedestrians_only=True)
    assert all((kept[i]["classes"] == 1).all() for i in range(0, len(kept), 7))


def test_seqinfo_fields(data_root):
    root = make("mot16", data_root)
    info = mot.read_seqinfo(root / "train" / "MOT16-04")
    assert info == {"name": "MOT16-04", "imDir": "img1", "frameRate": 30, "seqLength": 20,
                    "imWidth": 160, "imHeight": 96, "imExt": ".jpg"}
    table = mot.sequences(root, "test")
    assert list(table["sequence"]) == ["MOT16-01"]
    assert not table["has_gt"].any() and table["has_det"].all()
    frames = mot.frames(root, "test")
    assert list(frames["frame"]) == list(range(1, 21))


def test_mot17_ships_three_identical_copies(data_root):
    root = make("mot17", data_root)
    table = mot.sequences(root, "train")
    assert len(table) == 6 and set(table["detector"]) == {"DPM", "FRCNN", "SDP"}
    for video, copies in table.groupby("video"):
        assert len(copies) == 3
        paths = [Path(p) for p in copies["path"]]
        assert len({(p / "gt" / "gt.txt").read_bytes() for p in paths}) == 1
        assert len({(p / "img1" / "000007.jpg").read_bytes() for p in paths}) == 1
        assert len({(p / "det" / "det.txt").read_bytes() for p in paths}) == 3
        names = {mot.read_seqinfo(p)["name"] for p in paths}
        assert names == set(copies["sequence"])
    det = mot.index(root, "train", "det")
    assert (det["id"] == -1).all() and det["visibility"].isna().all()


def test_half_split_matches_fairmot():
    assert mot.half_split(600) == (list(range(1, 301)), list(range(301, 601)))
    train, val = mot.half_split(5)
    assert train == [1, 2] and val == [3, 4, 5]
    with pytest.raises(ValueError):
        mot.half_split(1)


def test_half_dataset(data_root):
    root = make("mot17", data_root)
    val = mot.MOTFrames(root, sequences=["MOT17-02-SDP"], half="val")
    assert list(val.frames["frame"]) == list(range(11, 21))


def test_resize_scales_boxes(data_root):
    root = make("mot16", data_root)
    full = mot.MOTFrames(root, sequences=["MOT16-02"])[5]
    small = mot.MOTFrames(root, sequences=["MOT16-02"], resize=(48, 40))[5]
    assert small["image"].shape == (3, 48, 40)
    np.testing.assert_allclose(small["boxes"].numpy(),
                               full["boxes"].numpy() * np.array([0.25, 0.5, 0.25, 0.5]),
                               rtol=1e-6)


def test_perfect_tracker_scores_mota_one(data_root):
    """The twin's gt is valid MOTChallenge input for TrackEval: gt against itself is perfect."""
    from vadlib.data.mot import read_mot
    from vadlib.metrics.tracking import evaluate_mot

    for name, benchmark in (("mot17", "MOT17"), ("mot15", "MOT15")):
        root = make(name, data_root)
        table = mot.sequences(root, "train")
        gt = {row.sequence: str(Path(row.path) / "gt" / "gt.txt") for row in table.itertuples()}
        pred = {}
        for seq, path in gt.items():
            rows = read_mot(path)
            if "class" in rows:
                rows = rows[(rows["class"] == 1) & (rows["conf"] != 0)]
            pred[seq] = rows[["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height"]]
        scores = evaluate_mot(gt, pred, benchmark,
                              seq_lengths=dict(zip(table["sequence"], table["seqLength"])))
        assert scores.loc["COMBINED", "MOTA"] == pytest.approx(1.0)
        assert scores.loc["COMBINED", "IDF1"] == pytest.approx(1.0)
        assert scores.loc["COMBINED", "IDSW"] == 0


def test_determinism(tmp_path):
    first = make("mot17", tmp_path / "a")
    again = make("mot17", tmp_path / "b")
    other = make("mot17", tmp_path / "c", seed=1)
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)
    jde_a, jde_b = make("jde_prw", tmp_path / "a"), make("jde_prw", tmp_path / "b")
    assert _digest(jde_a) == _digest(jde_b)


def _raises(match: str):
    return pytest.raises(DatasetError, match=match)


def test_missing_root_and_empty_root(tmp_path):
    with _raises(r"(?s)mot17: the dataset directory does not exist.*vadlib data status"):
        mot.sequences(tmp_path / "MOT17")
    (tmp_path / "MOT16").mkdir()
    with _raises(r"(?s)mot16: no sequences in train/.*vadlib data status"):
        mot.MOTFrames(tmp_path / "MOT16")


def test_missing_seqinfo(data_root, tmp_path):
    root = copy_of("mot16", data_root, tmp_path)
    (root / "train" / "MOT16-04" / "seqinfo.ini").unlink()
    with _raises(r"(?s)mot16: no seqinfo.ini in sequence MOT16-04.*vadlib data status"):
        mot.index(root)


def test_missing_gt(data_root, tmp_path):
    root = copy_of("mot17", data_root, tmp_path)
    (root / "train" / "MOT17-04-FRCNN" / "gt" / "gt.txt").unlink()
    with _raises(r"(?s)mot17: no gt/gt.txt in sequence MOT17-04-FRCNN.*vadlib data status"):
        mot.MOTFrames(root)
    with _raises("hidden"):
        mot.index(root, "test", "gt")
    assert len(mot.MOTFrames(root, "test", kind="det")) == 3 * 20  # -DPM, -FRCNN, -SDP


def test_missing_frame(data_root, tmp_path):
    root = copy_of("mot15", data_root, tmp_path)
    (root / "train" / "TUD-Campus" / "img1" / "000013.jpg").unlink()
    with _raises(r"(?s)mot15: missing frame 13 of sequence TUD-Campus.*vadlib data status"):
        mot.MOTFrames(root)


def test_fairmot_images_layout_is_read(data_root, tmp_path):
    root = tmp_path / "MOT16"
    shutil.copytree(make("mot16", data_root) / "train", root / "images" / "train")
    assert len(mot.MOTFrames(root)) == 40


@pytest.mark.parametrize("name", ["mot15", "mot16", "mot17", *sorted(twin.JDE_SOURCES)])
def test_manifest_layout_entries_match_the_twin(name, data_root):
    from vadlib.data.manifests import load_manifest

    directory = make(name, data_root)
    manifest = load_manifest(name)
    assert directory.name == manifest.directory
    for variant, entries in manifest.layouts.items():
        if name == "mot17" and variant == "jde":
            continue  # FairMOT's converted copy (see test_mot17_converted_to_jde)
        for entry in entries:
            assert entry.matches(directory), (variant, entry.pattern)


# ------------------------------------------------------------------------------ JDE mixture


@pytest.mark.parametrize("name", sorted(twin.JDE_SOURCES))
def test_jde_round_trip(name, data_root):
    directory = make(name, data_root)
    assert twin.JDE_SOURCES[name][:2] == mot.JDE_LIST_FILES[name]
    list_file = mot.jde_list_file(name, directory.parent)
    assert list_file.is_file()
    truth, images = twin.jde_truth(name, size="tiny", seed=0)
    index = mot.jde_index(directory.parent, list_file)
    index["image"] = [Path(p).relative_to(directory).as_posix() for p in index["image"]]
    assert len(index) == len(truth) and list(index["image"]) == list(truth["image"])
    np.testing.assert_array_equal(index["identity"], truth["identity"])
    assert (index["class"] == 0).all()
    W, H = truth["image_width"].to_numpy(), truth["image_height"].to_numpy()
    expected = np.stack([(truth["bb_left"] + truth["bb_width"] / 2) / W,
                         (truth["bb_top"] + truth["bb_height"] / 2) / H,
                         truth["bb_width"] / W, truth["bb_height"] / H], axis=1)
    np.testing.assert_allclose(index[["x_center", "y_center", "width", "height"]], expected,
                               atol=1e-6)
    if name in ("jde_eth", "jde_citypersons"):  # detection only
        assert (index["identity"] == -1).all()
    else:
        labelled = index.loc[index["identity"] >= 0, "identity"]
        assert sorted(labelled.unique()) == list(range(labelled.max() + 1))
    # the dataset directory itself is accepted as root, and every listed image loads
    dataset = mot.JDEMixture(directory, {name: list_file})
    assert len(dataset) == len(images)
    item = dataset[0]
    first = truth[truth["image"] == next(iter(images))]
    assert item["image"].shape == (3, int(first["image_height"].iloc[0]),
                                   int(first["image_width"].iloc[0]))
    np.testing.assert_allclose(item["boxes"].numpy(),
                               first[["bb_left", "bb_top", "bb_width", "bb_height"]], atol=1e-3)


def test_jde_identity_offsets(data_root):
    root = make("jde_caltech", data_root).parent
    sources = {key: mot.jde_list_file(key, root)
               for key in ("jde_eth", "jde_caltech", "jde_cuhksysu", "jde_prw")}
    for key in sources:
        make(key, data_root)
    mixture = mot.JDEMixture(root, sources)
    local = {key: int(mot.jde_index(root, path)["identity"].max()) + 1
             for key, path in sources.items()}
    assert local["jde_eth"] == 0 and mixture.num_identities == local
    assert mixture.id_offsets == {"jde_eth": 0, "jde_caltech": 0,
                                  "jde_cuhksysu": local["jde_caltech"],
                                  "jde_prw": local["jde_caltech"] + local["jde_cuhksysu"]}
    assert mixture.total_identities == sum(local.values()) and mixture.nID == sum(local.values()) + 1
    seen: dict[str, set[int]] = {key: set() for key in sources}
    for position in range(len(mixture)):
        item = mixture[position]
        ids, local_ids = item["ids"].numpy(), item["local_ids"].numpy()
        assert ((ids == -1) == (local_ids == -1)).all()
        np.testing.assert_array_equal(ids[local_ids >= 0],
                                      local_ids[local_ids >= 0] + mixture.id_offsets[item["source"]])
        seen[item["source"]] |= set(ids[ids >= 0].tolist())
    sets = [s for s in seen.values() if s]
    assert sum(len(s) for s in sets) == len(set().union(*sets))  # globally unique
    assert mixture.summary().loc["jde_prw", "offset"] == mixture.id_offsets["jde_prw"]


def test_mot17_converted_to_jde(data_root, tmp_path):
    mixture_root = tmp_path / "mix"
    mot_root = mixture_root / "MOT17"
    shutil.copytree(make("mot17", data_root) / "train", mot_root / "images" / "train")
    list_file = mot.mot_to_jde(mot_root, mixture_root / "mot17.half", part="train_half")
    lines = list_file.read_text().splitlines()
    assert lines[0] == "MOT17/images/train/MOT17-02-SDP/img1/000001.jpg" and len(lines) == 20
    index = mot.jde_index(mixture_root, list_file)
    gt = mot.index(mot_root, seqs=["MOT17-02-SDP", "MOT17-04-SDP"])
    kept = gt[(gt["class"] == 1) & (gt["conf"] == 1) & (gt["frame"] <= 10)]
    assert len(index) == len(kept)
    assert index["identity"].nunique() == kept.groupby(["sequence", "id"]).ngroups
    with _raises("images/train"):
        mot.mot_to_jde(make("mot17", data_root), tmp_path / "x.train")


def test_jde_bad_input(data_root, tmp_path):
    directory = copy_of("jde_prw", data_root, tmp_path)
    with _raises(r"(?s)jde_prw: no list file nothing.train.*vadlib data status"):
        mot.jde_index(directory, "nothing.train")
    with _raises("jde_eth: no list file"):
        mot.jde_index(tmp_path, "eth.train")
    label = sorted((directory / "labels_with_ids").glob("*.txt"))[3]
    label.unlink()
    with _raises(r"(?s)jde_prw: missing label file PRW/labels_with_ids/.*vadlib data status"):
        mot.JDEMixture(tmp_path, {"prw": directory / "prw.train"})
    sorted((directory / "images").glob("*.jpg"))[0].unlink()
    with _raises("jde_prw: missing image PRW/images/"):
        mot.jde_images(tmp_path, directory / "prw.train")
    (directory / "prw.train").write_text("")
    with _raises("names no image"):
        mot.jde_images(tmp_path, directory / "prw.train")


def test_letterbox_keeps_the_aspect_ratio_on_a_grey_canvas(data_root):
    """A 160×96 frame letterboxed into 96×96: scaled by 0.6 to 96×58 (JDE's rounding), centred
    19 rows down; the picture is the plain resize of the frame, the borders JDE's grey, the boxes
    scaled and shifted alike."""
    from PIL import Image

    root = make("mot16", data_root)
    full = mot.MOTFrames(root, sequences=["MOT16-02"])[5]
    boxed = mot.MOTFrames(root, sequences=["MOT16-02"], resize=(96, 96), letterbox=True)[5]
    assert full["image"].shape == (3, 96, 160) and boxed["image"].shape == (3, 96, 96)
    assert boxed["offset"] == (0, 19) and boxed["scale"] == pytest.approx((0.6, 58 / 96))
    with Image.open(full["path"]) as image:
        expected = np.asarray(image.convert("RGB").resize((96, 58), Image.BILINEAR), dtype=np.float32) / 255
    np.testing.assert_allclose(boxed["image"][:, 19:77].numpy().transpose(1, 2, 0), expected, atol=1e-6)
    assert (boxed["image"][:, :19] == mot.LETTERBOX_FILL).all() and (boxed["image"][:, 77:] == mot.LETTERBOX_FILL).all()
    scale = np.array([0.6, 58 / 96, 0.6, 58 / 96])
    np.testing.assert_allclose(boxed["boxes"].numpy(), full["boxes"].numpy() * scale + [0, 19, 0, 0], rtol=1e-5)


def test_placement_is_a_plain_resize_unless_letterboxed():
    assert mot.placement(160, 96, (48, 40)) == ((40, 48), (0.25, 0.5), (0, 0))
    assert mot.placement(160, 96, (96, 160), letterbox=True) == ((160, 96), (1.0, 1.0), (0, 0))
    # KITTI-13 into FairMOT's input: 1088×329 (each side rounded, so the scales differ by < 0.2 %),
    # (608 - 329) / 2 = 139.5 rounded down as JDE does
    canvas, scale, offset = mot.placement(1242, 375, (608, 1088), letterbox=True)
    assert canvas == (1088, 608) and offset == (0, 139) and scale[0] == pytest.approx(scale[1], rel=2e-3)


def test_a_video_frame_is_prepared_as_a_frame_file_is(data_root):
    """letterbox_array on the decoded frame gives the item MOTFrames builds from the file."""
    from PIL import Image

    root = make("mot16", data_root)
    item = mot.MOTFrames(root, sequences=["MOT16-02"], resize=(96, 96), letterbox=True)[5]
    with Image.open(item["path"]) as image:
        rgb = np.asarray(image.convert("RGB"))
    tensor, scale, offset = mot.letterbox_array(rgb, (96, 96))
    assert torch.equal(tensor, item["image"]) and (scale, offset) == (item["scale"], item["offset"])
