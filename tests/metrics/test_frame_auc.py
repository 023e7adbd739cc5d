"""Tests of vadlib.metrics.frame_auc against scikit-learn's ROC-AUC (pooled, per video, padded)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vadlib.metrics import SINGLE_CLASS_POLICIES, frame_auc, per_video_auc


def test_frame_auc_single_video_equals_sklearn():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.3
    s = rng.normal(size=300) + y
    ref = roc_auc_score(y, s)
    assert frame_auc({"v": s}, {"v": y}) == pytest.approx(ref, abs=1e-12)
    assert frame_auc(s, y.astype(int)) == pytest.approx(ref, abs=1e-12)  # bare arrays
    for policy in ("skip", "error", "pad_single"):
        assert frame_auc({"v": s}, {"v": y}, "macro", single_class=policy) == pytest.approx(ref)
    # the default "pad" adds a normal frame scored 0 and an abnormal frame scored 1
    padded = roc_auc_score(np.r_[0, y, 1], np.r_[0.0, s, 1.0])
    assert frame_auc({"v": s}, {"v": y}, "macro") == pytest.approx(padded, abs=1e-12)


def test_micro_and_macro_differ_as_defined():
    scores = {1: np.array([0.1, 0.2, 0.3, 0.4]), 2: np.array([0.5, 0.6, 0.7, 0.8])}
    labels = {1: np.array([0, 0, 1, 1]), 2: np.array([0, 0, 1, 1])}
    # each video is perfectly ranked; pooled, the abnormal 0.3/0.4 lose to the normal 0.5/0.6
    assert frame_auc(scores, labels, "macro") == pytest.approx(1.0)
    assert frame_auc(scores, labels, "micro") == pytest.approx(12 / 16)
    pooled = roc_auc_score(np.r_[labels[1], labels[2]], np.r_[scores[1], scores[2]])
    assert frame_auc(scores, labels, "micro") == pytest.approx(pooled)
    per = {v: roc_auc_score(labels[v], scores[v]) for v in scores}
    assert frame_auc(scores, labels, "macro", single_class="skip") == pytest.approx(
        np.mean(list(per.values())))


def _avenue_like():
    rng = np.random.default_rng(1)
    scores, labels = {}, {}
    for v, (n, kind) in enumerate([(50, "mixed"), (36, "all1"), (40, "all0"), (60, "mixed")]):
        y = {"all1": np.ones(n), "all0": np.zeros(n)}.get(kind)
        if y is None:
            y = (np.arange(n) > n // 2).astype(float)
        scores[v] = np.clip(rng.normal(0.4, 0.15, n) + 0.3 * y, 0.01, 0.99)
        labels[v] = y.astype(int)
    return scores, labels


def test_single_class_policies():
    scores, labels = _avenue_like()
    pad = lambda v: roc_auc_score(np.r_[0, labels[v], 1], np.r_[0.0, scores[v], 1.0])  # noqa: E731
    raw = lambda v: roc_auc_score(labels[v], scores[v])  # noqa: E731

    aucs = per_video_auc(scores, labels)  # default: pad every video (the authors' convention)
    assert set(aucs) == {0, 1, 2, 3}
    for v in aucs:
        assert aucs[v] == pytest.approx(pad(v))
    assert aucs[1] == 1.0 and aucs[2] == 1.0  # padded single-class videos with scores in (0, 1)

    aucs = per_video_auc(scores, labels, single_class="pad_single")
    assert aucs[0] == pytest.approx(raw(0)) and aucs[3] == pytest.approx(raw(3))
    assert aucs[1] == pytest.approx(pad(1)) and aucs[2] == pytest.approx(pad(2))

    aucs = per_video_auc(scores, labels, single_class="skip")
    assert set(aucs) == {0, 3}
    assert frame_auc(scores, labels, "macro", single_class="skip") == pytest.approx(
        (raw(0) + raw(3)) / 2)

    with pytest.raises(ValueError, match=r"single class.*\[1, 2\]"):
        frame_auc(scores, labels, "macro", single_class="error")

    assert frame_auc(scores, labels, "macro") == pytest.approx(np.mean([pad(v) for v in range(4)]))
    # micro pools frames and never pads
    pooled = roc_auc_score(np.concatenate(list(labels.values())),
                           np.concatenate(list(scores.values())))
    assert frame_auc(scores, labels, "micro") == pytest.approx(pooled)
    for policy in ("pad", "pad_single", "skip"):
        assert np.isfinite(frame_auc(scores, labels, "macro", single_class=policy))
    assert SINGLE_CLASS_POLICIES[0] == "pad"


def test_frame_auc_undefined_cases_raise():
    with pytest.raises(ValueError, match="single class"):
        frame_auc({0: [0.1, 0.2]}, {0: [1, 1]}, "micro")
    with pytest.raises(ValueError, match="skipped"):
        frame_auc({0: [0.1, 0.2]}, {0: [1, 1]}, "macro", single_class="skip")


def test_frame_auc_bad_input():
    s, y = {0: [0.1, 0.2, 0.3]}, {0: [0, 1, 1]}
    with pytest.raises(ValueError, match="length mismatch"):
        frame_auc(s, {0: [0, 1]})
    with pytest.raises(ValueError, match="NaN"):
        frame_auc({0: [0.1, np.nan, 0.3]}, y)
    with pytest.raises(ValueError, match="unknown video ids"):
        frame_auc({0: [0.1, 0.2, 0.3], 7: [0.5]}, y)
    with pytest.raises(ValueError, match="0/1"):
        frame_auc(s, {0: [0, 2, 1]})
    with pytest.raises(ValueError, match="average"):
        frame_auc(s, y, "weighted")
    with pytest.raises(ValueError, match="policy"):
        frame_auc(s, y, "macro", single_class="nan")
