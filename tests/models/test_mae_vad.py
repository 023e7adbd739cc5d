"""MAE as a frame-level video host (Paper D's "He et al. [60]"): shapes, scoring maskings,
evidence maps, block placement "before the first transformer block", learnability."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadlib.models.blocks import (
    InsertedBlock,
    block_loss,
    make_block,
    place_block,
    site_channels,
)
from vadlib.models.mae_vad import MAEVideo, complementary_maskings
from vadlib.models.registry import HostContext, create_host, host_class

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _clips(n=2, size=64, t=1, seed=0):
    return torch.rand(n, t, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _with_block(kind="ssmctb", **kwargs):
    """The tiny host with a block at its default position, placed as the video run does."""
    host = MAEVideo("tiny", 3, **kwargs)
    for site in host.sites_for(host.default_position):
        place_block(host, site, lambda c: make_block(kind, c))
    return host


# ------------------------------------------------------------------------------- host contract
def test_registered_and_built_from_context():
    assert host_class("mae", kind="video") is MAEVideo
    assert MAEVideo.label == "He et al. (MAE)" and MAEVideo.window == 1
    host = create_host("mae", HostContext(size="tiny", in_channels=1, seed=3, dataset="avenue",
                                          options=(("mask_ratio", 0.5),)), kind="video")
    assert host.in_channels == 1 and host.mae.mask_ratio == 0.5 and host.seed == 3
    assert host.block_weight == 0.1 and host.default_position == "before_first_block"
    assert host.block_sites == ("after:mae.patch_embed",)


def test_tiny_shapes_loss_and_evidence():
    host = MAEVideo("tiny", 3)
    assert host.mae.grid == (8, 8) and host.mae.embed_dim == 64 and len(host.mae.blocks) == 2
    clips = _clips(3, t=2)
    loss, logs = host.training_loss(clips)
    assert loss.dim() == 0 and torch.isfinite(loss) and logs["masked_fraction"] == pytest.approx(0.75)
    loss.backward()
    host.train()
    parts, maps = host.frame_evidence(clips)
    assert host.training                                               # mode restored
    assert parts["error"].shape == (3,) and maps.shape == (3, 64, 64)  # per pixel, frame size
    assert torch.all(maps >= 0)
    assert torch.allclose(parts["error"], maps.flatten(1).mean(1))
    scores = host.video_scores({"error": parts["error"].numpy()})
    assert scores.min() == 0.0 and scores.max() == 1.0
    assert torch.equal(maps, host.frame_evidence(clips)[1])            # fixed maskings


def test_paper_size_shapes():
    host = MAEVideo("paper", 3)
    mae = host.mae
    assert mae.img_size == (256, 256) and mae.patch_size == 16 and mae.grid == (16, 16)
    assert (mae.embed_dim, len(mae.blocks), mae.decoder_embed_dim, len(mae.decoder_blocks)) == (768, 12, 512, 8)
    assert mae.num_keep == 64 and host.test_visible.shape == (4, 64)
    assert site_channels(host, host.block_sites[0]) == 768
    parts, maps = host.frame_evidence(_clips(1, size=256))
    assert parts["error"].shape == (1,) and maps.shape == (1, 256, 256)


def test_wrong_frames_are_refused():
    host = MAEVideo("tiny", 3)
    with pytest.raises(ValueError, match="img_size"):
        host.frame_evidence(_clips(1, size=32))
    with pytest.raises(ValueError, match="N×T×C×H×W"):
        host.training_loss(torch.rand(1, 3, 64, 64))
    assert MAEVideo("tiny", 3, img_size=32).frame_evidence(_clips(1, size=32))[1].shape == (1, 32, 32)


# ------------------------------------------------------------------------------- scoring maskings
def test_scoring_maskings_cover_every_patch():
    host = MAEVideo("tiny", 3, seed=5)
    n, k = host.mae.num_patches, host.mae.num_keep
    assert host.test_visible.shape == (4, k) == (4, 16)
    assert torch.equal(host.test_masked.sum(0), torch.full((n,), 3.0))     # masked 3 times each
    assert torch.equal(torch.sort(host.test_visible.flatten()).values, torch.arange(n))
    for vis, restore, masked in zip(host.test_visible, host.test_restore, host.test_masked):
        assert torch.equal(masked[vis], torch.zeros(k))
        shuffle = torch.cat([vis, torch.nonzero(masked).flatten()])
        assert torch.equal(shuffle[restore], torch.arange(n))
    assert not torch.equal(host.test_visible, MAEVideo("tiny", 3, seed=6).test_visible)
    order = torch.arange(10)
    assert complementary_maskings(order, 4).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    with pytest.raises(ValueError, match="never masked"):
        MAEVideo("tiny", 3, mask_ratio=0.25, test_maskings=1)


def test_maps_average_the_masked_reconstructions():
    host = MAEVideo("tiny", 3).eval()
    clips = _clips(2)
    frames = clips[:, -1]
    with torch.no_grad():
        recon = host.reconstructions(frames)                           # 4×N×C×H×W
    _, maps = host.frame_evidence(clips)
    # patch (0, 0) = pixels [0:8, 0:8]: mean of its squared errors in the maskings that hide it
    hide = host.test_masked[:, 0].bool()
    expected = (recon[hide] - frames[None]).pow(2).mean(2).mean(0)[:, :8, :8]
    assert torch.allclose(maps[:, :8, :8], expected, atol=1e-6)


# ------------------------------------------------------------------------------- block placement
@pytest.mark.parametrize("kind", ["sspcab", "ssmctb"])
def test_block_before_the_first_transformer_block(kind):
    host = _with_block(kind)
    wrapper = host.mae.patch_embed
    assert isinstance(wrapper, InsertedBlock) and wrapper.mode == "after" and wrapper.grid == (8, 8)
    assert wrapper.block.channels == 64
    order = []
    wrapper.module.register_forward_hook(lambda *a: order.append("patch_embed"))
    wrapper.block.register_forward_hook(lambda *a: order.append("block"))
    host.mae.blocks[0].register_forward_hook(lambda *a: order.append("blocks.0"))
    assert wrapper.block.loss is None and float(block_loss(host)) == 0.0
    loss, _ = host.training_loss(_clips(2))
    assert order == ["patch_embed", "block", "blocks.0"]
    extra = block_loss(host)
    assert extra is wrapper.block.loss and extra.dim() == 0 and extra.item() > 0
    (loss + host.block_weight * extra).backward()
    assert wrapper.block.conv.weight.grad is not None
    assert host.frame_evidence(_clips(2))[1].shape == (2, 64, 64)


def test_the_first_transformer_block_itself_sees_no_grid():
    """MAE's encoder drops the masked tokens first: its first block gets [CLS] + K tokens."""
    host = MAEVideo("tiny", 3)
    place_block(host, "before:mae.blocks.0", lambda c: make_block("sspcab", c))
    with pytest.raises(ValueError, match="full patch grid"):
        host.training_loss(_clips(1))


# ------------------------------------------------------------------------------- learnability
def _scene(n, generator, square=False):
    """Static background (smooth pattern + faint noise); optionally a bright 16×16 square."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    background = torch.stack([0.3 + 0.2 * torch.sin(6 * xx), 0.3 + 0.2 * torch.cos(5 * yy),
                              0.25 + 0.15 * xx * yy])
    frames = background.expand(n, -1, -1, -1) + 0.01 * torch.randn(n, 3, 64, 64, generator=generator)
    if square:
        frames = frames.clone()
        frames[:, :, 24:40, 16:32] = 1.0
    return frames.clamp(0, 1)[:, None]


def test_learns_the_normal_scene():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    host = MAEVideo("tiny", 3)
    optimizer = torch.optim.Adam(host.parameters(), lr=1e-3)
    for _ in range(250):
        loss, _ = host.training_loss(_scene(8, g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    normal = host.frame_evidence(_scene(4, g))[0]["error"]
    anomalous, maps = host.frame_evidence(_scene(4, g, square=True))
    anomalous = anomalous["error"]
    assert anomalous.min() > 3 * normal.max()
    assert maps[:, 24:40, 16:32].mean() > 10 * maps[:, :16].mean()       # localised at the square


def test_schedule():
    tiny, paper = MAEVideo.schedule("tiny"), MAEVideo.schedule("paper")
    assert (tiny.optimizer, tiny.batch_size) == ("adam", 16)
    assert (paper.optimizer, paper.lr, paper.batch_size, paper.epochs) == ("adamw", 1.5e-4, 256, 200)
    assert "T 2594" in paper.source
    ctx = HostContext(size="tiny", in_channels=3, seed=0, dataset="avenue")
    assert MAEVideo.schedule_for(ctx) == tiny
    with pytest.raises(ValueError):
        MAEVideo.schedule("huge")
    assert isinstance(MAEVideo("tiny", 3).video_scores({"error": np.array([1.0, 2.0])}), np.ndarray)
