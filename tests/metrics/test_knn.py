"""Paper F's k-NN evaluation (vadlib.metrics.knn): k-NN Acc@1 / "Acc@5" on a hand-made feature
set, the linear probe, features from a model, from a dataset (decoded in memory or through a loader,
bit-identical), end to end on the synthetic ImageNet twin, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mae_helpers import structured

from vadlib.metrics.knn import (
    IN_MEMORY_BYTES,
    dataset_features,
    decoded_images,
    evaluate_features,
    extract_features,
    knn_accuracy,
    knn_neighbours,
    linear_probe_accuracy,
    majority_vote,
)
from vadlib.models.curriculum_masking import CMMAE, CurriculumSchedule
from vadlib.models.mae import MAE
from vadlib.runs.train import endless, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)


def _knn_set():
    """Unit directions (with varied norms) at hand-chosen angles; labels A-D."""
    train_deg = [0, 10, 20, 30, 40, 90, 100, 110, 120, 180]
    train_lab = ["A", "A", "B", "B", "C", "C", "C", "B", "A", "D"]
    test_deg = [16, 97, 170, 252]
    test_lab = ["B", "C", "A", "C"]
    norms = np.linspace(0.5, 3.0, len(train_deg))

    def vec(deg, scale=1.0):
        r = np.deg2rad(deg)
        return scale * np.array([np.cos(r), np.sin(r)])

    xtr = np.stack([vec(d, s) for d, s in zip(train_deg, norms)])
    xte = np.stack([vec(d, 2.0) for d in test_deg])
    return xtr, np.array(train_lab), xte, np.array(test_lab)


def test_knn_acc1_and_any_of_5_on_a_hand_made_set():
    xtr, ytr, xte, yte = _knn_set()
    idx, _ = knn_neighbours(xtr, xte, k=5)
    # by angular distance: 16° -> 20, 10, 30, 0, 40; 97° -> 100, 90, 110, 120, 40;
    # 170° -> 180, 120, 110, 100, 90; 252° -> 180, 0, 10, 20, 120
    assert idx.tolist() == [[2, 1, 3, 0, 4], [6, 5, 7, 8, 4], [9, 8, 7, 6, 5], [9, 0, 1, 2, 8]]
    # votes: B,A,B,A,C -> tie A/B, nearest B (true B, hit); C,C,B,A,C -> C (hit);
    # D,A,B,C,C -> C (true A, miss); D,A,A,B,A -> A (true C, miss)
    assert majority_vote(ytr[idx]).tolist() == ["B", "C", "C", "A"]
    assert majority_vote(ytr[idx], tie_break="smallest").tolist() == ["A", "C", "C", "A"]
    res = knn_accuracy(xtr, ytr, xte, yte)
    assert res["acc@1"] == pytest.approx(50.0) and res["acc@5"] == pytest.approx(75.0)  # 2/4, 3/4
    assert knn_accuracy(xtr, ytr, xte, yte, tie_break="smallest")["acc@1"] == pytest.approx(25.0)
    assert knn_accuracy(xtr, ytr, xte, yte, percent=False)["acc@5"] == pytest.approx(0.75)
    # k = 1: nearest neighbour 20°(B), 100°(C), 180°(D), 180°(D) -> 2 of 4 for both numbers
    one = knn_accuracy(xtr, ytr, xte, yte, k=1)
    assert one == {"acc@1": 50.0, "k": 1}  # with k = 1 the two numbers coincide
    # torch tensors and integer labels work the same
    codes = {c: i for i, c in enumerate("ABCD")}
    res_t = knn_accuracy(torch.tensor(xtr), torch.tensor([codes[c] for c in ytr]), torch.tensor(xte),
                         [codes[c] for c in yte])
    assert (res_t["acc@1"], res_t["acc@5"]) == (50.0, 75.0)
    # cosine ignores the norms; Euclidean on raw features does not
    assert not np.array_equal(knn_neighbours(xtr, xte, k=5, metric="euclidean")[0], idx)


def test_linear_probe_and_evaluate_features():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 4
    ytr, yte = np.repeat(np.arange(3), 20), np.repeat(np.arange(3), 5)
    xtr = centres[ytr] + rng.normal(size=(60, 8))
    xte = centres[yte] + rng.normal(size=(15, 8))
    lin = linear_probe_accuracy(xtr, ytr, xte, yte)
    assert lin == {"acc@1": 100.0, "acc@5": 100.0}
    table = evaluate_features(xtr, ytr, xte, yte)
    assert set(table) == {"knn_acc@1", "knn_acc@5", "linear_acc@1", "linear_acc@5"}
    assert table["knn_acc@1"] == 100.0


def test_extract_features_from_a_model():
    mae = MAE("tiny")
    imgs = structured(6)
    batches = [{"image": imgs[:4], "label": torch.tensor([0, 1, 0, 1])},
               (imgs[4:], torch.tensor([1, 0]))]
    feats, labels = extract_features(mae, batches)
    assert feats.shape == (6, 64) and labels.tolist() == [0, 1, 0, 1, 1, 0]
    assert torch.allclose(feats, mae.features(imgs), atol=1e-6)
    res = knn_accuracy(feats[:4], labels[:4], feats[4:], labels[4:], k=3)
    assert set(res) == {"acc@1", "acc@3", "k"}


class _Images(torch.utils.data.Dataset):
    """Dict items as the ImageNet loader gives them, counting how often an item is decoded."""

    def __init__(self, images: torch.Tensor):
        self.images, self.reads = images, 0

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        self.reads += 1
        return {"image": self.images[i], "label": torch.tensor(i % 3, dtype=torch.int64)}


def test_dataset_features_are_bit_identical_in_memory_and_through_a_loader():
    """The pre-training run's evaluation must not change its numbers: the features from the images
    held in memory, from the loader (sets over the memory limit) and from ``model.features`` on
    the stacked images in chunks of 256 (what the run did before this function existed) agree
    exactly, and so do the labels."""
    model = CMMAE("tiny").eval()
    images = structured(300)
    indices = list(range(0, 300, 2)) + [299]
    with torch.no_grad():
        stacked = images[indices]
        expected = np.concatenate([model.features(stacked[s:s + 256]).float().numpy() for s in range(0, len(stacked), 256)])
    labels = np.array([i % 3 for i in indices])
    memory, memory_labels = dataset_features(model, _Images(images), indices)
    loader, loader_labels = dataset_features(model, _Images(images), indices, max_bytes=0)
    assert np.array_equal(memory.numpy(), expected) and np.array_equal(loader.numpy(), expected)
    assert np.array_equal(memory_labels, labels) and np.array_equal(loader_labels, labels)
    assert memory_labels.dtype == loader_labels.dtype == np.int64
    # k-NN accuracies from either path are the same numbers
    assert knn_accuracy(memory[:100], memory_labels[:100], memory[100:], memory_labels[100:]) == \
        knn_accuracy(loader[:100], loader_labels[:100], loader[100:], loader_labels[100:])


def test_small_sets_are_decoded_once_and_large_ones_not_kept():
    data = _Images(structured(6))
    first = decoded_images(data, [0, 2, 4])
    reads = data.reads
    again = decoded_images(data, [0, 2, 4])
    assert again is first and data.reads == reads + 1  # only the size probe reads an item again
    assert torch.equal(first[0], data.images[[0, 2, 4]]) and first[1].tolist() == [0, 2, 1]
    assert decoded_images(data, [0, 1], max_bytes=2 * 3 * 32 * 32 * 4 - 1) is None
    assert IN_MEMORY_BYTES == 512 * 2 ** 20


def test_end_to_end_on_the_synthetic_imagenet_twin(tmp_path):
    """The real loader's dict batches through the project's loop, then frozen-feature k-NN."""
    from torch.utils.data import DataLoader

    from vadlib.data import synthetic
    from vadlib.data.imagenet import ImageNetFolder

    root = synthetic.generate("imagenet100", size="tiny", seed=0, data_root=tmp_path)
    train_set = ImageNetFolder(root, "train", resize=32)
    val_set = ImageNetFolder(root, "val", resize=32)
    loader = DataLoader(train_set, batch_size=8, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    model = CMMAE("tiny", curriculum=CurriculumSchedule(eta=1), steps_per_epoch=len(loader))
    history = train(model, model.training_loss, endless(loader), schedule=CMMAE.schedule("tiny"),
                    total_steps=2 * len(loader), progress=False)
    assert len(history) == 2 * len(loader) and model.epoch == 1 and model.stage == 1
    xtr, ytr = extract_features(model, DataLoader(train_set, batch_size=16))
    xte, yte = extract_features(model, DataLoader(val_set, batch_size=16))
    assert xtr.shape == (len(train_set), 64) and xte.shape == (len(val_set), 64)
    table = evaluate_features(xtr, ytr, xte, yte, k=5)
    assert all(0.0 <= v <= 100.0 for v in table.values())
    assert table["knn_acc@5"] >= table["knn_acc@1"]


def test_bad_input_raises_value_error():
    xtr, ytr, xte, yte = _knn_set()
    with pytest.raises(ValueError, match="k must be"):
        knn_accuracy(xtr, ytr, xte, yte, k=11)
    with pytest.raises(ValueError, match="width"):
        knn_accuracy(xtr, ytr, xte[:, :1], yte)
    with pytest.raises(ValueError, match="entries"):
        knn_accuracy(xtr, ytr[:-1], xte, yte)
