"""Tests of vadlib.metrics.pixel against scikit-learn (exact) and its histogram error bound."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from vadlib.metrics import StreamingBinaryMetrics, image_auroc, pixel_ap, pixel_auroc


@pytest.fixture(scope="module")
def mvtec_like():
    rng = np.random.default_rng(0)
    masks = np.zeros((24, 64, 64), dtype=bool)
    for i in range(12):
        y, x = rng.integers(0, 48, 2)
        masks[i, y:y + rng.integers(4, 16), x:x + rng.integers(4, 16)] = True
    maps = 1 / (1 + np.exp(-(rng.normal(0, 1, masks.shape) + 1.5 * masks)))
    return masks, maps


def test_image_auroc_equals_sklearn(mvtec_like):
    masks, maps = mvtec_like
    labels = masks.any(axis=(1, 2))
    scores = maps.max(axis=(1, 2))
    assert image_auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
    with pytest.raises(ValueError, match="single class"):
        image_auroc(np.ones(3), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="length mismatch"):
        image_auroc([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        image_auroc([0, 1], [0.1, np.nan])


def test_pixel_metrics_exact_and_streaming(mvtec_like):
    masks, maps = mvtec_like
    y, s = masks.ravel(), maps.ravel()
    ref_auc, ref_ap = roc_auc_score(y, s), average_precision_score(y, s)
    assert pixel_auroc(masks, maps) == pytest.approx(ref_auc, abs=1e-12)  # small -> exact
    assert pixel_ap(list(masks), list(maps)) == pytest.approx(ref_ap, abs=1e-12)

    acc = StreamingBinaryMetrics(score_range=(0.0, 1.0))
    for m, v in zip(masks, maps):
        acc.update(m, v)
    assert acc.n_pos == y.sum() and acc.n_neg == (~y).sum() and acc.n_clipped == 0
    # stated tolerance: 1e-4 with the default 65,536 bins; the AUROC error is within its bound
    assert abs(acc.auroc() - ref_auc) <= min(1e-4, acc.auroc_error_bound())
    assert abs(acc.average_precision() - ref_ap) <= 1e-4
    # the histogram metrics are exactly sklearn's on the bin-quantised scores
    q = acc.bin_index(s)
    assert acc.auroc() == pytest.approx(roc_auc_score(y, q), abs=1e-12)
    assert acc.average_precision() == pytest.approx(average_precision_score(y, q), abs=1e-12)
    # same through the functional API: forced histogram, and a lazy generator (constant memory)
    assert abs(pixel_auroc(masks, maps, method="hist") - ref_auc) <= 1e-4
    gen = ((m, v) for m, v in zip(masks, maps))
    ms, vs = zip(*gen)
    assert pixel_ap(iter(ms), iter(vs), score_range=(0, 1)) == pytest.approx(acc.average_precision())
    assert pixel_auroc(masks, maps, exact_max=10) == pytest.approx(ref_auc, abs=1e-4)


def test_streaming_coarse_bins_and_quantised_maps(mvtec_like):
    masks, maps = mvtec_like
    y = masks.ravel()
    coarse = StreamingBinaryMetrics((0, 1), n_bins=64).update(masks, maps)
    assert abs(coarse.auroc() - roc_auc_score(y, maps.ravel())) <= coarse.auroc_error_bound()
    u8 = np.round(maps * 255).astype(np.uint8)  # already quantised maps are exact
    acc = StreamingBinaryMetrics((0, 256), n_bins=256).update(masks, u8)
    assert acc.auroc() == pytest.approx(roc_auc_score(y, u8.ravel()), abs=1e-12)
    assert acc.average_precision() == pytest.approx(average_precision_score(y, u8.ravel()),
                                                    abs=1e-12)
    clip = StreamingBinaryMetrics((0.2, 0.8)).update(masks, maps)
    assert clip.n_clipped == int(((maps < 0.2) | (maps > 0.8)).sum())


def test_pixel_bad_input(mvtec_like):
    masks, maps = mvtec_like
    with pytest.raises(ValueError, match="shape mismatch"):
        pixel_auroc(masks, maps[:, :10])
    with pytest.raises(ValueError, match="NaN"):
        pixel_ap(masks, np.where(masks, np.nan, maps))
    with pytest.raises(ValueError, match="single class"):
        pixel_auroc(np.zeros_like(masks), maps)
    with pytest.raises(ValueError, match="score_range"):
        pixel_auroc(iter(masks), iter(maps))
    with pytest.raises(ValueError, match="different lengths"):
        pixel_auroc(list(masks), list(maps[:-1]))
    with pytest.raises(ValueError, match="0/1"):
        pixel_auroc(masks * 2.0, maps)
    with pytest.raises(ValueError, match="both classes"):
        StreamingBinaryMetrics().update(np.zeros(4), np.ones(4) * 0.5).auroc()
