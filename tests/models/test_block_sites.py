"""Block sites: BlockSite strings, insert_before / insert_after, the token <-> map reshape and
place_block dispatching to replace_layer (whose behaviour is unchanged)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vadlib.models.blocks import (
    SSMCTB,
    SSPCAB,
    BlockSite,
    InsertedBlock,
    block_loss,
    insert_after,
    insert_before,
    make_block,
    map_to_tokens,
    place_block,
    replace_layer,
    site_channels,
    tokens_to_map,
)
from vadlib.models.mae import make_block as vit_block

pytestmark = pytest.mark.usefixtures("one_torch_thread")

D, GRID = 16, (3, 4)


class Identity2d(nn.Module):
    """An identity "block" that records its input."""

    dims = 2

    def __init__(self):
        super().__init__()
        self.seen = None

    def forward(self, x):
        self.seen = x
        return x


class TinyViT(nn.Module):
    """[CLS] + a 3×4 grid of width-16 tokens through two timm ViT blocks."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(vit_block(D, 2) for _ in range(2))

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return x


def _tokens(prefix=1, b=2):
    return torch.randn(b, prefix + GRID[0] * GRID[1], D, generator=torch.Generator().manual_seed(0))


# ------------------------------------------------------------------------------- sites
def test_block_site_strings():
    assert BlockSite.parse("decoder.stage1.3") == BlockSite("decoder.stage1.3", "replace")
    assert BlockSite.parse("replace:a.b") == BlockSite("a.b", "replace")
    assert BlockSite.parse("before:encoder.blocks.0") == BlockSite("encoder.blocks.0", "before")
    assert BlockSite.parse("AFTER:mae.patch_embed").mode == "after"
    assert str(BlockSite("a.b")) == "a.b" and str(BlockSite("a.0", "before")) == "before:a.0"
    for site in ("decoder.stage1.3", "before:x.0", "after:y"):
        assert str(BlockSite.parse(site)) == site
    for bad in ("", "inside:x", "before:", 3):
        with pytest.raises(ValueError):
            BlockSite.parse(bad)


# ------------------------------------------------------------------------------- reshape
def test_tokens_to_map_layout_and_round_trip():
    x = _tokens(prefix=1)
    prefix, fmap = tokens_to_map(x, GRID)
    assert prefix.shape == (2, 1, D) and fmap.shape == (2, D, *GRID)
    for i in range(GRID[0]):
        for j in range(GRID[1]):                      # row-major: token 1 + i·W + j is (i, j)
            assert torch.equal(fmap[:, :, i, j], x[:, 1 + i * GRID[1] + j])
    assert torch.equal(map_to_tokens(prefix, fmap), x)
    with pytest.raises(ValueError, match="full patch grid"):
        tokens_to_map(x[:, :5], GRID)                 # e.g. MAE's visible tokens only


@pytest.mark.parametrize("prefix", [0, 1, 5])
def test_identity_block_round_trip_is_exact(prefix):
    inner = nn.Identity()
    wrapper = InsertedBlock(Identity2d(), inner, "before", grid=GRID)
    x = _tokens(prefix)
    assert torch.equal(wrapper(x), x)
    assert wrapper.block.seen.shape == (2, D, *GRID)
    assert torch.equal(InsertedBlock(Identity2d(), inner, "after", grid=GRID)(x), x)


def test_feature_maps_go_to_the_block_unchanged():
    wrapper = InsertedBlock(Identity2d(), nn.Conv2d(4, 4, 3, padding=1), "before")
    x = torch.randn(2, 4, 8, 8)
    wrapper(x)
    assert wrapper.block.seen is x


# ------------------------------------------------------------------------------- insert_before / after
def test_insert_before_runs_the_block_on_the_input_first():
    model = TinyViT()
    x = _tokens()
    reference = model(x)
    block = SSPCAB(D, reduction=4)
    order, inputs = [], {}
    wrapper = insert_before(model, "blocks.0", block, grid=GRID)
    assert isinstance(wrapper, InsertedBlock) and model.blocks[0] is wrapper
    first = wrapper.module

    def after_block(module, args, output):          # hooks must return None (or replace the output)
        order.append("block")
        inputs["block_out"] = output

    block.register_forward_hook(after_block)
    first.register_forward_pre_hook(lambda m, i: inputs.update(first_in=i[0]))
    first.register_forward_hook(lambda m, i, o: order.append("blocks.0"))
    out = model(x)
    assert order == ["block", "blocks.0"]
    assert torch.equal(inputs["first_in"][:, 0], x[:, 0])             # [CLS] passed through
    assert torch.equal(inputs["first_in"][:, 1:], inputs["block_out"].flatten(2).transpose(1, 2))
    assert out.shape == reference.shape and not torch.allclose(out, reference)
    assert block.loss is not None and block_loss(model) is block.loss
    assert dict(model.named_parameters()).keys() >= {"blocks.0.module.norm1.weight", "blocks.0.block.conv.weight"}


def test_insert_after_runs_the_block_on_the_output():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    order = []
    block = SSMCTB(8)
    insert_after(model, "0", block)
    block.register_forward_hook(lambda *a: order.append("block"))
    model[0].module.register_forward_hook(lambda *a: order.append("conv"))
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 8, 8, 8)
    assert order == ["conv", "block"]


def test_grid_comes_from_the_model_or_the_module():
    model = TinyViT()
    model.token_grid = GRID
    assert insert_before(model, "blocks.1", Identity2d()).grid == GRID
    from timm.layers import PatchEmbed
    host = nn.Module()
    host.embed = PatchEmbed(img_size=(12, 16), patch_size=4, in_chans=3, embed_dim=D)
    wrapper = insert_after(host, "embed", Identity2d())
    assert wrapper.grid == GRID
    assert torch.equal(host.embed(torch.zeros(1, 3, 12, 16)), wrapper.module(torch.zeros(1, 3, 12, 16)))


def test_insert_errors():
    model = TinyViT()
    with pytest.raises(ValueError, match="no submodule"):
        insert_before(model, "blocks.7", Identity2d(), grid=GRID)
    insert_before(model, "blocks.0", Identity2d())
    with pytest.raises(ValueError, match="no patch grid"):
        model(_tokens())
    with pytest.raises(ValueError, match="already"):
        insert_before(model, "blocks.0", Identity2d(), grid=GRID)
    with pytest.raises(ValueError, match="grid"):
        InsertedBlock(Identity2d(), nn.Identity(), grid=(2, 2, 2))


# ------------------------------------------------------------------------------- place_block
def test_site_channels():
    model = TinyViT()
    assert site_channels(model, "before:blocks.0") == D                  # norm1's width
    assert site_channels(model, "after:blocks.1") == D                   # mlp.fc2's out_features
    conv = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3))
    assert site_channels(conv, "1") == 8 and site_channels(conv, "before:0") == 3
    with pytest.raises(ValueError, match="cannot tell"):
        site_channels(nn.Sequential(nn.ReLU()), "before:0")


def test_place_block_replace_is_replace_layer():
    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))

    a, b = net(), net()
    torch.manual_seed(1)
    ba = SSPCAB(8)
    torch.manual_seed(1)
    placed = place_block(b, "1", lambda c: SSPCAB(c))
    replace_layer(a, "1", ba)
    assert isinstance(b[1], SSPCAB) and placed is b[1]
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(a(x), b(x))
    with pytest.raises(ValueError, match="equal in/out channels"):
        place_block(b, "0", SSPCAB(3, reduction=1))                       # replace_layer's checks


def test_place_block_dispatches_and_checks_channels():
    model = TinyViT()
    block = place_block(model, "before:blocks.0", lambda c: make_block("ssmctb", c), grid=GRID)
    assert isinstance(block, SSMCTB) and block.channels == D
    assert isinstance(model.blocks[0], InsertedBlock) and model.blocks[0].block is block
    model(_tokens())
    assert block.loss is not None
    with pytest.raises(ValueError, match="channel mismatch"):
        place_block(TinyViT(), "before:blocks.0", SSPCAB(8), grid=GRID)
    with pytest.raises(ValueError, match="callable"):
        place_block(TinyViT(), "before:blocks.0", 3)
