"""Image datasets: MVTec AD, DTD and ImageNet-100 loaders read their synthetic twins exactly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vadlib.data import DatasetError, dtd, imagenet, mvtec
from vadlib.data.integrity import RECORD_NAME
from vadlib.data.synthetic import dtd as dtd_twin
from vadlib.data.synthetic import generate
from vadlib.data.synthetic import imagenet as imagenet_twin
from vadlib.data.synthetic import mvtec as mvtec_twin


def _twin(name: str, tmp_path: Path, size: str = "tiny", seed: int = 0) -> Path:
    return generate(name, size=size, seed=seed, data_root=tmp_path / "data")


def _copy(root: Path, tmp_path: Path) -> Path:
    """A writable copy of a twin that a test may damage without touching the cached one."""
    return Path(shutil.copytree(root, tmp_path / "damaged" / root.name))


def _contents(directory: Path) -> dict[str, bytes]:
    return {path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(directory.rglob("*")) if path.is_file() and path.name != RECORD_NAME}


def _fails(dataset: str, what: str):
    """``pytest.raises`` for a DatasetError naming the dataset, ``what`` and the status hint."""
    return pytest.raises(DatasetError, match=rf"(?s)^{re.escape(dataset)}: .*{what}.*vadlib data status")


# --- determinism ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mvtec_ad", "dtd", "imagenet100"])
def test_twins_are_deterministic_in_their_seed(name, tmp_path):
    first = _contents(generate(name, size="tiny", seed=0, data_root=tmp_path / "a"))
    again = _contents(generate(name, size="tiny", seed=0, data_root=tmp_path / "b"))
    other = _contents(generate(name, size="tiny", seed=1, data_root=tmp_path / "c"))
    assert first and first == again
    assert first != other


# --- MVTec AD -----------------------------------------------------------------------------------

def test_mvtec_constants():
    assert len(mvtec.CATEGORIES) == 15 and len(mvtec.TEXTURE_CATEGORIES) == 5
    assert set(mvtec.GRAYSCALE_CATEGORIES) <= set(mvtec.CATEGORIES)
    assert set(mvtec_twin.GRAYSCALE) <= set(mvtec.GRAYSCALE_CATEGORIES)
    for plan in mvtec_twin.PLANS.values():
        assert set(plan.defects) <= set(mvtec.CATEGORIES)


def test_mvtec_index_counts_match_the_generator(tmp_path):
    root = _twin("mvtec_ad", tmp_path)
    truth = mvtec_twin.truth("tiny", 0)
    assert (root / "license.txt").is_file() and (root / "readme.txt").is_file()
    assert mvtec.categories_present(root) == sorted(mvtec_twin.PLANS["tiny"].defects)
    for split in ("train", "test"):
        table = mvtec.index(root, split=split)
        expected = truth[truth.split == split]
        assert list(table.columns) == list(mvtec.INDEX_COLUMNS)
        counts = table.groupby(["category", "defect"]).size().to_dict()
        assert counts == expected.groupby(["category", "defect"]).size().to_dict()
        relative = sorted(Path(p).relative_to(root.resolve()).as_posix() for p in table.path)
        assert relative == sorted(expected.image)
        assert (table.label == (table.defect != "good")).all()
        assert table.mask_path.isna().tolist() == (table.defect == "good").tolist()
    tiny = mvtec_twin.PLANS["tiny"]
    assert len(mvtec.index(root, "bottle", "train")) == tiny.train
    assert len(mvtec.index(root, "bottle", "test")) == tiny.test_good + 2 * tiny.per_defect


def test_mvtec_images_and_masks_are_those_the_generator_drew(tmp_path):
    root = _twin("mvtec_ad", tmp_path)
    resolution = mvtec_twin.PLANS["tiny"].resolution
    for category in mvtec_twin.PLANS["tiny"].defects:
        dataset = mvtec.MVTecAD(root, category, "test", resize=None)
        for position in range(len(dataset)):
            item = dataset[position]
            number = int(Path(item["path"]).stem)
            drawn = mvtec_twin.render(category, "test", item["defect"], number, size="tiny", seed=0)
            assert item["image"].shape == (3, resolution, resolution)
            assert item["image"].dtype == torch.float32
            assert item["mask"].shape == (resolution, resolution) and item["mask"].dtype == torch.uint8
            assert item["label"].dtype == torch.int64 and int(item["label"]) == (item["defect"] != "good")
            pixels = np.rint(item["image"].numpy() * 255).astype(np.uint8).transpose(1, 2, 0)
            stored = drawn.image if drawn.image.ndim == 3 else np.repeat(drawn.image[..., None], 3, 2)
            assert np.array_equal(pixels, stored)  # PNG is lossless: the very pixels drawn
            if drawn.mask is None:
                assert int(item["mask"].sum()) == 0
                continue
            assert np.array_equal(item["mask"].numpy().astype(bool), drawn.mask)
            # The mask covers the defect: every changed pixel is inside it, and nearly all of it changed.
            changed = np.any(stored != drawn.clean, axis=-1)
            assert not (changed & ~drawn.mask).any()
            assert (changed & drawn.mask).sum() >= 0.9 * drawn.mask.sum() > 0


def test_mvtec_masks_are_0_255_pngs_at_image_size_and_grayscale_categories_are_1_channel(tmp_path):
    root = _twin("mvtec_ad", tmp_path)
    table = mvtec.index(root, split="test")
    for row in table[table.label == 1].itertuples():
        with Image.open(row.path) as image, Image.open(row.mask_path) as mask:
            assert mask.mode == "L" and mask.size == image.size
            assert set(np.unique(np.asarray(mask))) <= {0, 255}
            assert image.mode == ("L" if row.category in mvtec.GRAYSCALE_CATEGORIES else "RGB")
    grid = mvtec.MVTecAD(root, "grid", "train", resize=None)[0]["image"]
    assert grid.shape[0] == 3 and torch.equal(grid[0], grid[1]) and torch.equal(grid[1], grid[2])


def test_mvtec_resize_keeps_masks_binary_and_aligned(tmp_path):
    root = _twin("mvtec_ad", tmp_path)
    dataset = mvtec.MVTecAD(root, "bottle", "test", resize=32)
    item = next(dataset[i] for i in range(len(dataset)) if dataset[i]["label"] == 1)
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (32, 32)
    assert set(item["mask"].unique().tolist()) <= {0, 1} and int(item["mask"].sum()) > 0
    assert mvtec.MVTecAD(root, "bottle", "train", resize=(24, 40))[0]["image"].shape == (3, 24, 40)
    flipped = mvtec.MVTecAD(root, "bottle", "test", resize=32,
                            transform=lambda s: {**s, "mask": s["mask"].flip(-1)})
    assert torch.equal(flipped[len(dataset) - 1]["mask"], dataset[len(dataset) - 1]["mask"].flip(-1))


def test_mvtec_errors_name_what_is_missing(tmp_path):
    root = _copy(_twin("mvtec_ad", tmp_path), tmp_path)
    with _fails("mvtec_ad", "no dataset directory"):
        mvtec.index(tmp_path / "nowhere")
    with _fails("mvtec_ad", "no category folder cable/"):
        mvtec.MVTecAD(root, "cable", "train")
    with pytest.raises(ValueError, match="split"):
        mvtec.index(root, "bottle", "validation")
    defect_mask = next(iter(sorted((root / "bottle" / "ground_truth").rglob("*_mask.png"))))
    defect_mask.unlink()
    missing = defect_mask.relative_to(root).as_posix()
    with _fails("mvtec_ad", f"no mask {re.escape(missing)}"):
        mvtec.index(root, "bottle", "test")
    for image in (root / "grid" / "train" / "good").iterdir():
        image.unlink()
    with _fails("mvtec_ad", r"no \.png image in grid/train/good/"):
        mvtec.index(root, "grid", "train")
    shutil.rmtree(root / "grid" / "test")
    with _fails("mvtec_ad", "no grid/test/ folder"):
        mvtec.index(root, "grid", "test")
    empty = tmp_path / "empty"
    empty.mkdir()
    with _fails("mvtec_ad", "no category folder"):
        mvtec.index(empty)


# --- DTD ----------------------------------------------------------------------------------------

def test_dtd_index_and_splits_match_the_generator(tmp_path):
    root = _twin("dtd", tmp_path)
    assert len(dtd.CATEGORIES) == 47 and list(dtd.CATEGORIES) == sorted(dtd.CATEGORIES)
    table = dtd.index(root)
    assert table.name.tolist() == dtd_twin.names("tiny")
    assert (table.label == [dtd.CATEGORIES.index(c) for c in table.category]).all()
    assert (table.label >= 0).all()
    splits = dtd_twin.splits("tiny", 0)
    for fold in (1, 10):
        listed = {split: dtd.index(root, split, fold).name.tolist() for split in dtd.SPLITS}
        assert listed == {split: splits[split, fold] for split in dtd.SPLITS}
        assert sorted(sum(listed.values(), [])) == sorted(dtd_twin.names("tiny"))
    assert (root / "imdb" / "imdb.mat").is_file()
    assert (root / "labels" / "labels_joint_anno.txt").is_file()


def test_dtd_dataset_items(tmp_path):
    root = _twin("dtd", tmp_path)
    truth = dtd_twin.truth("tiny", 0).set_index("name")
    native = dtd.DTDTextures(root, resize=None)
    assert len(native) == len(truth)
    for position in (0, len(native) - 1):
        item = native[position]
        name = f"{item['category']}/{Path(item['path']).name}"
        assert item["image"].shape == (3, truth.height[name], truth.width[name])
        drawn = dtd_twin.render(name, size="tiny", seed=0).astype(np.float32) / 255
        loaded = item["image"].numpy().transpose(1, 2, 0)
        assert np.abs(loaded - drawn).mean() < 0.08  # JPEG loss (4:2:0 chroma on sharp textures)
        assert np.corrcoef(loaded.ravel(), drawn.ravel())[0, 1] > 0.9
        assert int(item["label"]) == dtd.CATEGORIES.index(item["category"])
    resized = dtd.DTDTextures(root, resize=48, split="test", fold=2, transform=lambda x: 1 - x)
    assert resized[0]["image"].shape == (3, 48, 48) and resized[0]["image"].dtype == torch.float32


def test_dtd_accepts_the_archive_unpacked_one_level_up(tmp_path):
    twin = _twin("dtd", tmp_path)
    outer = tmp_path / "outer"
    shutil.copytree(twin, outer / "dtd")
    assert dtd.index(outer).name.tolist() == dtd.index(twin).name.tolist()


def test_dtd_errors_name_what_is_missing(tmp_path):
    root = _copy(_twin("dtd", tmp_path), tmp_path)
    with _fails("dtd", "no dataset directory"):
        dtd.DTDTextures(tmp_path / "nowhere")
    (root / "labels" / "val3.txt").unlink()
    with _fails("dtd", r"no split file labels/val3\.txt"):
        dtd.index(root, "val", 3)
    listed = (root / "labels" / "train1.txt").read_text().split()[0]
    (root / "images" / listed).unlink()
    with _fails("dtd", f"missing, e.g. images/{re.escape(listed)}"):
        dtd.index(root, "train", 1)
    for image in (root / "images").rglob("*.jpg"):
        image.unlink()
    with _fails("dtd", "no image in images/"):
        dtd.index(root)
    shutil.rmtree(root / "images")
    with _fails("dtd", "no images/ folder"):
        dtd.index(root)


# --- ImageNet-100 ---------------------------------------------------------------------------------

def test_shipped_imagenet100_list():
    classes = imagenet.IMAGENET100_CLASSES
    assert len(classes) == 100 == len(set(classes))
    assert all(re.fullmatch(r"n\d{8}", wnid) for wnid in classes)
    assert classes[:3] == ("n02869837", "n01749939", "n02488291")  # CMC's order
    assert imagenet.CLASS_LIST_FILE.read_text().startswith("# ")


def test_imagenet_index_matches_the_generator_and_imagefolder(tmp_path):
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS
    assert set(imagenet.IMAGE_EXTENSIONS) == set(IMG_EXTENSIONS)
    root = _twin("imagenet100", tmp_path)
    truth = imagenet_twin.files("tiny", 0)
    assert imagenet_twin.class_wnids("tiny") == list(imagenet.IMAGENET100_CLASSES[:4])
    for split in imagenet.SPLITS:
        table = imagenet.index(root, split)
        expected = truth[truth.split == split]
        relative = sorted(Path(p).relative_to(root).as_posix() for p in table.path)
        assert relative == sorted(expected.file)
        assert table.wnid.value_counts().sort_index().tolist() == \
            expected.wnid.value_counts().sort_index().tolist()
        reference = ImageFolder(str(root / split))
        ours = imagenet.ImageNetFolder(root, split, resize=32)
        assert ours.class_to_idx == reference.class_to_idx
        assert ours.samples == reference.samples
        assert list(zip(table.path, table.label)) == reference.samples
        item = ours[len(ours) - 1]
        assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
        assert item["label"].dtype == torch.int64
        assert reference.classes[int(item["label"])] == item["wnid"] == Path(item["path"]).parent.name


def test_imagenet_class_subsets(tmp_path):
    root = _copy(_twin("imagenet100", tmp_path), tmp_path)
    wnids = imagenet_twin.class_wnids("tiny")
    chosen = [wnids[3], wnids[1]]
    subset = imagenet.ImageNetFolder(root, "val", classes=chosen, resize=None)
    assert subset.classes == sorted(chosen)
    assert set(subset.targets) == {0, 1}
    assert {Path(path).parent.name for path, _ in subset.samples} == set(chosen)
    assert len(subset) == 2 * imagenet_twin.PLANS["tiny"].val
    listing = tmp_path / "two.txt"
    listing.write_text("# a subset\n" + "\n".join(chosen) + "\n")
    assert imagenet.index(root, "train", classes=listing).wnid.unique().tolist() == sorted(chosen)
    (root / "classes.txt").write_text(f"{wnids[0]}\n{wnids[2]}\n")  # the default when present
    assert imagenet.select_classes(root, "train") == sorted([wnids[0], wnids[2]])
    (root / "classes.txt").unlink()
    assert imagenet.select_classes(root, "train") == sorted(wnids)
    with _fails("imagenet100", r"96 of the 100 classes of the ImageNet-100 list have no folder in train/"):
        imagenet.index(root, "train", classes="imagenet100")
    with _fails("imagenet100", "n99999999"):
        imagenet.ImageNetFolder(root, "val", classes=[wnids[0], "n99999999"])


def test_imagenet_twin_has_learnable_classes(tmp_path):
    """A nearest-centroid classifier on raw pixels beats chance (10 %) by far on the smoke twin."""
    root = _twin("imagenet100", tmp_path, size="smoke")

    def pixels(split):
        table = imagenet.index(root, split)
        images = np.stack([np.asarray(Image.open(p), dtype=np.float32).ravel() for p in table.path])
        return images, table.label.to_numpy()

    train, train_labels = pixels("train")
    val, val_labels = pixels("val")
    centroids = np.stack([train[train_labels == k].mean(0) for k in range(train_labels.max() + 1)])
    predicted = np.argmin(((val[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert len(centroids) == 10
    assert (predicted == val_labels).mean() >= 0.6


def test_imagenet_errors_name_what_is_missing(tmp_path):
    root = _copy(_twin("imagenet100", tmp_path), tmp_path)
    with _fails("imagenet100", "no dataset directory"):
        imagenet.index(tmp_path / "nowhere")
    wnid = imagenet_twin.class_wnids("tiny")[0]
    for image in (root / "val" / wnid).iterdir():
        image.unlink()
    with _fails("imagenet100", f"no image in val/{wnid}/"):
        imagenet.ImageNetFolder(root, "val")
    shutil.rmtree(root / "val")
    with _fails("imagenet100", r"no val/ folder"):
        imagenet.index(root, "val")
    for folder in (root / "train").iterdir():
        shutil.rmtree(folder)
    (root / "classes.txt").unlink()
    with _fails("imagenet100", "no class folder in train/"):
        imagenet.index(root, "train")


def _ramp_folder(tmp_path: Path, width: int = 120, height: int = 90) -> Path:
    """An ImageNet-layout folder of one image whose red channel is x / (width - 1) and green y / (height - 1)."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    array = np.stack([x, y, np.zeros_like(x)], -1).round().astype(np.uint8)
    for split in imagenet.SPLITS:
        (tmp_path / "ramp" / split / "n00000001").mkdir(parents=True)
        Image.fromarray(array).save(tmp_path / "ramp" / split / "n00000001" / "a.png")
    return tmp_path / "ramp"


def test_imagenet_mae_augmentation_crops_20_to_100_percent_flips_and_is_seeded(tmp_path):
    folder = imagenet.ImageNetFolder(_ramp_folder(tmp_path), "train", resize=32, augment="mae")
    torch.manual_seed(0)
    draws = [folder[0]["image"] for _ in range(40)]
    torch.manual_seed(0)
    assert all(torch.equal(a, folder[0]["image"]) for a in draws)  # seeded by torch's generator
    assert len({d.numpy().tobytes() for d in draws}) == len(draws)  # every epoch another crop
    areas, flipped = [], []
    for image in draws:
        assert image.shape == (3, 32, 32)
        red, green = image[0].numpy(), image[1].numpy()
        # the ramps give the crop's extent in the source: its width and height fractions
        areas.append((red.max() - red.min()) * (green.max() - green.min()))
        flipped.append(red[:, 0].mean() > red[:, -1].mean())
    assert min(areas) >= 0.2 * 0.9 and max(areas) <= 1.0 and max(areas) - min(areas) > 0.2
    assert 5 <= sum(flipped) <= 35  # a flip with p = 1/2


def test_imagenet_evaluation_crop_is_deterministic_and_central(tmp_path):
    root = _ramp_folder(tmp_path)
    folder = imagenet.ImageNetFolder(root, "val", resize=30)
    first = folder[0]["image"]
    assert torch.equal(first, folder[0]["image"])
    red = first[0].numpy()
    assert red[:, 0].mean() < red[:, -1].mean()  # never flipped
    assert abs(red.mean() - 0.5) < 0.02 and first[1].max() - first[1].min() > 0.95  # the centre, full height
    with pytest.raises(ValueError, match="augment"):
        imagenet.ImageNetFolder(root, "train", augment="simclr")
