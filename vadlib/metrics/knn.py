"""Paper F's "zero-shot" evaluation: k-NN on frozen encoder features, plus a linear probe.

The thesis reports "zero-shot" Acc@1 / Acc@5 on the 100 ImageNet classes, "where we are not using
any labeled data, just the representation" (thesis ``000_f794b37c98b9d304.txt`` T 800, 1254;
Tables F.1–F.6), without defining the protocol (spec ``papers_E_F.md`` §2.6). We follow the later
CL-MAE code's ``engine_zeroshot.py`` [X, read, not copied]: a k-nearest-neighbour classifier with
**k = 5**, the training split as the gallery, the validation split as the queries.

* **Similarity** (:func:`knn_neighbours`): ``metric="cosine"`` (default) L2-normalises both feature
  sets and ranks the gallery by cosine similarity (on normalised features the same ranking as
  Euclidean distance); ``metric="euclidean"`` ranks by Euclidean distance on the raw features (what
  the cl-mae code does). Equal similarities are ordered by gallery index (a stable sort), so the
  result is deterministic.
* **Acc@1** (:func:`majority_vote`): the predicted label is the most frequent label among the k
  neighbours [X: cl-mae takes the mode]. **Ties** (e.g. 2-2-1 with k = 5): ``tie_break="nearest"``
  (default) takes, among the tied labels, the one held by the best-ranked neighbour;
  ``"smallest"`` takes the smallest label (what a plain ``mode`` does).
* **"Acc@5"** as the thesis uses it: a query counts as correct when **any** of its k = 5 nearest
  neighbours has the true label [X: cl-mae's "Acc@NN"]. This is *not* the usual top-5 accuracy of a
  classifier's five best classes (five neighbours may hold fewer than five distinct labels). The key
  is ``f"acc@{k}"``, i.e. ``"acc@5"`` for k = 5.
* **Linear probe** (:func:`linear_probe_accuracy`), an extra column the thesis does not report:
  scikit-learn's multinomial logistic regression (L-BFGS, C = 1, ``max_iter`` 1000) on the frozen
  features standardised with the training split's mean / std (MAE's linear probe normalises its
  features with a non-affine BatchNorm, the same affine map); Acc@1 and the usual top-5 accuracy
  from the predicted probabilities.

Accuracies are in percent by default (the thesis's tables); ``percent=False`` gives fractions.
Functions take ``(train_features, train_labels, test_features, test_labels)``: N×D arrays or tensors
and N labels (any integer or string labels). :func:`extract_features` collects features and labels
from a model with a ``features(images)`` method (:class:`vadlib.models.mae.MAE`,
:class:`vadlib.models.curriculum_masking.CMMAE`) and an iterable of batches;
:func:`dataset_features` does it for chosen items of a dataset, keeping small sets decoded in
memory so that evaluations repeated along training decode the images once.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Subset

__all__ = [
    "knn_neighbours",
    "majority_vote",
    "knn_accuracy",
    "linear_probe_accuracy",
    "evaluate_features",
    "extract_features",
    "dataset_features",
]

METRICS = ("cosine", "euclidean")
IN_MEMORY_BYTES = 512 * 2 ** 20  # evaluation images held decoded in memory up to this size
TIE_BREAKS = ("nearest", "smallest")


def _features(x, name: str) -> Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x.detach().cpu())
    if t.dim() != 2:
        raise ValueError(f"{name} must be N×D, got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if not t.is_floating_point():
        t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t.to(torch.float64)


def _labels(y, n: int, name: str) -> np.ndarray:
    a = np.asarray(y.detach().cpu() if isinstance(y, Tensor) else y)
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with {n} entries (one per feature row), got shape {a.shape}")
    return a


def _check(train_features, train_labels, test_features, test_labels):
    xtr, xte = _features(train_features, "train_features"), _features(test_features, "test_features")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train and test features differ in width: {xtr.shape[1]} vs {xte.shape[1]}")
    return xtr, _labels(train_labels, xtr.shape[0], "train_labels"), xte, \
        _labels(test_labels, xte.shape[0], "test_labels")


def knn_neighbours(train_features, test_features, k: int = 5, metric: str = "cosine",
                   chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, similarities)`` of the k nearest gallery rows of every query, best first
    (N_test×k each; for ``"euclidean"`` the second array holds the negated distances)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    xtr, xte = _features(train_features, "train_features"), _features(test_features, "test_features")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train and test features differ in width: {xtr.shape[1]} vs {xte.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= xtr.shape[0]:
        raise ValueError(f"k must be an int in [1, {xtr.shape[0]}] (the gallery size), got {k!r}")
    if metric == "cosine":
        xtr = torch.nn.functional.normalize(xtr, dim=1)
        xte = torch.nn.functional.normalize(xte, dim=1)
    idx, sim = [], []
    for q in xte.split(chunk):
        s = q @ xtr.T if metric == "cosine" else -torch.cdist(q, xtr)
        order = torch.argsort(s, dim=1, descending=True, stable=True)[:, :k]
        idx.append(order)
        sim.append(torch.gather(s, 1, order))
    return torch.cat(idx).numpy(), torch.cat(sim).numpy()


def majority_vote(neighbour_labels, tie_break: str = "nearest") -> np.ndarray:
    """The most frequent label of each row of ``neighbour_labels`` (N×k, best neighbour first);
    ties to the label of the best-ranked neighbour (``"nearest"``) or the smallest (``"smallest"``)."""
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    lab = np.asarray(neighbour_labels)
    if lab.ndim != 2 or lab.shape[1] == 0:
        raise ValueError(f"neighbour_labels must be N×k, got shape {lab.shape}")
    classes, inv = np.unique(lab, return_inverse=True)
    inv = inv.reshape(lab.shape)
    n, k = lab.shape
    counts = np.zeros((n, classes.size), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(n), k), inv.ravel()), 1)
    if tie_break == "smallest":
        return classes[np.argmax(counts, axis=1)]  # first maximum = smallest label
    first = np.full((n, classes.size), k, dtype=np.int64)
    for pos in range(k - 1, -1, -1):  # earliest position wins
        first[np.arange(n), inv[:, pos]] = pos
    return classes[np.argmax(counts * (k + 1) + (k - first), axis=1)]


def knn_accuracy(train_features, train_labels, test_features, test_labels, k: int = 5, *,
                 metric: str = "cosine", tie_break: str = "nearest", percent: bool = True) -> dict:
    """``{"acc@1": majority-vote accuracy, f"acc@{k}": any-of-k accuracy, "k": k}``."""
    xtr, ytr, xte, yte = _check(train_features, train_labels, test_features, test_labels)
    idx, _ = knn_neighbours(xtr, xte, k, metric)
    neighbours = ytr[idx]
    pred = majority_vote(neighbours, tie_break)
    scale = 100.0 if percent else 1.0
    return {"acc@1": float(np.mean(pred == yte)) * scale,
            f"acc@{k}": float(np.mean((neighbours == yte[:, None]).any(axis=1))) * scale,
            "k": k}


def linear_probe_accuracy(train_features, train_labels, test_features, test_labels, *,
                          C: float = 1.0, max_iter: int = 1000, seed: int = 0,
                          percent: bool = True) -> dict:
    """Logistic regression on standardised frozen features: ``{"acc@1", "acc@5"}`` (the usual
    top-1 / top-5 of the predicted class probabilities; classes unseen in training count wrong)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, ytr, xte, yte = _check(train_features, train_labels, test_features, test_labels)
    if np.unique(ytr).size < 2:
        raise ValueError("the linear probe needs at least two classes in train_labels")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    clf.fit(xtr.numpy(), ytr)
    proba = clf.predict_proba(xte.numpy())
    classes = clf.classes_
    order = np.argsort(-proba, axis=1, kind="stable")
    top1 = classes[order[:, 0]]
    top5 = classes[order[:, :5]]
    scale = 100.0 if percent else 1.0
    return {"acc@1": float(np.mean(top1 == yte)) * scale,
            "acc@5": float(np.mean((top5 == yte[:, None]).any(axis=1))) * scale}


def evaluate_features(train_features, train_labels, test_features, test_labels, k: int = 5, *,
                      metric: str = "cosine", tie_break: str = "nearest", linear_probe: bool = True,
                      percent: bool = True) -> dict:
    """The table columns: ``knn_acc@1``, ``knn_acc@{k}`` (the thesis's Acc@1 / Acc@5) and, with
    ``linear_probe``, ``linear_acc@1`` / ``linear_acc@5``."""
    knn = knn_accuracy(train_features, train_labels, test_features, test_labels, k, metric=metric,
                       tie_break=tie_break, percent=percent)
    out = {"knn_acc@1": knn["acc@1"], f"knn_acc@{k}": knn[f"acc@{k}"]}
    if linear_probe:
        lin = linear_probe_accuracy(train_features, train_labels, test_features, test_labels,
                                    percent=percent)
        out.update({"linear_acc@1": lin["acc@1"], "linear_acc@5": lin["acc@5"]})
    return out


def extract_features(model, batches: Iterable, *, pool: str = "mean",
                     device: str | torch.device | None = None) -> tuple[Tensor, np.ndarray]:
    """``(features N×D on the CPU, labels N)`` of every batch (dicts with ``"image"`` and
    ``"label"``, or ``(images, labels)`` pairs) through ``model.features``, without gradients."""
    feats, labels = [], []
    for batch in batches:
        if isinstance(batch, dict):
            images, y = batch["image"], batch["label"]
        elif isinstance(batch, (tuple, list)) and len(batch) >= 2:
            images, y = batch[0], batch[1]
        else:
            raise ValueError("batches must be dicts with 'image' and 'label' or (images, labels) pairs")
        if device is not None:
            images = images.to(device)
        with torch.no_grad():
            feats.append(model.features(images, pool=pool).detach().cpu())
        labels.append(np.asarray(y.cpu() if isinstance(y, Tensor) else y))
    if not feats:
        raise ValueError("no batches")
    return torch.cat(feats), np.concatenate(labels)


def decoded_images(dataset, indices: list[int], max_bytes: int = IN_MEMORY_BYTES
                   ) -> tuple[Tensor, np.ndarray] | None:
    """``(images N×C×H×W, labels N)`` of ``dataset[indices]``, decoded once and kept on the dataset
    object for the next call with the same indices; ``None`` when the images, as float32, would
    take more than ``max_bytes``."""
    first = dataset[indices[0]]["image"]
    if len(indices) * first.numel() * 4 > max_bytes:
        return None
    cache = dataset.__dict__.setdefault("_decoded", {})
    key = tuple(indices)
    if key not in cache:
        items = [dataset[i] for i in indices]
        cache[key] = (torch.stack([item["image"] for item in items]), np.array([int(item["label"]) for item in items]))
    return cache[key]


def dataset_features(model, dataset, indices: list[int], *, device: str | torch.device | None = None,
                     max_bytes: int = IN_MEMORY_BYTES) -> tuple[Tensor, np.ndarray]:
    """:func:`extract_features` of the items ``indices`` of a dataset of ``{"image", "label"}``
    dicts: from the images held decoded in memory (:func:`decoded_images`) in chunks of 256, or,
    for sets too large for ``max_bytes``, through a DataLoader of batches of 64 decoding as it goes."""
    decoded = decoded_images(dataset, indices, max_bytes)
    if decoded is None:
        return extract_features(model, DataLoader(Subset(dataset, indices), batch_size=64), device=device)
    images, labels = decoded
    chunks = ((images[start:start + 256], labels[start:start + 256]) for start in range(0, len(images), 256))
    return extract_features(model, chunks, device=device)
