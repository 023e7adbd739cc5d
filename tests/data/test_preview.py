"""The dataset galleries the notebooks show read every twin through its loader."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from vadlib.data import preview, synthetic  # noqa: E402


@pytest.mark.parametrize("name", preview.previewable())
def test_gallery_shows_samples_with_their_annotations(name, tmp_path):
    root = synthetic.generate(name, size="tiny", seed=0, data_root=tmp_path)
    fig = preview.gallery(name, root, n=3)
    axes = [ax for ax in fig.axes if ax.images]
    assert 1 <= len(axes) <= 3
    if name in ("avenue", "shanghaitech", "ucsd_ped2", "mvtec_ad", "brats"):
        assert any(ax.collections for ax in axes)  # a mask contour is drawn on an abnormal sample
    if name.startswith("mot"):
        assert any(ax.patches for ax in axes)  # boxes
    plt.close(fig)


def test_gallery_of_an_unknown_dataset():
    with pytest.raises(ValueError, match="no preview for 'nope'"):
        preview.gallery("nope", ".")
