"""Every registered host builds from a HostContext, says who it is, offers block sites, trains a
step and scores a tiny batch; the registry's lookups and its refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from vadlib.models.blocks import BlockSite, block_loss, make_block, place_block, replace_layer
from vadlib.models.hosts import ImageHost
from vadlib.models.object_hosts import ObjectHost
from vadlib.models.registry import (
    HOST_KINDS,
    HostContext,
    create_host,
    host_names,
    register_host,
)
from vadlib.models.registry import host_class as registered_class
from vadlib.models.video_hosts import VideoHost

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: the printed names of Tables C.x / D.x (the HOST_LABELS dicts of the runners before)
LABELS = {"draem": "DRAEM", "draem3d": "3D DRAEM", "nsa": "NSA", "cutpaste": "CutPaste 3-way",
          "plain_ae": "Plain auto-encoder", "ffp": "FFP", "mnad": "MNAD", "mae": "He et al. (MAE)",
          "georgescu": "Georgescu et al.", "hf2vad": "Liu et al. (HF2-VAD)", "ssmtl": "Bărbălău et al. (SSMTL++)",
          "object_ae": "Object auto-encoder (test fixture)"}
FRAME_HOSTS = host_names("image") + host_names("video")


def context(name: str, **changes) -> HostContext:
    cls = registered_class(name)
    grey = cls.kind == "image" and cls.dims == 3
    ctx = HostContext(size="tiny", in_channels=1 if grey else 3, seed=0,
                      dataset="brats" if grey else ("mvtec_ad" if cls.kind == "image" else "avenue"),
                      category="bottle" if cls.kind == "image" and not grey else None)
    return dataclasses.replace(ctx, **changes)


def frame_side(host) -> int:
    """32 pixels, or the frames a host's fixed position embedding was built for (MAE's tiny ViT)."""
    return host.mae.img_size[0] if hasattr(host, "mae") else 32


def tiny_batch(host, ctx: HostContext) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    if host.kind == "video":
        side = frame_side(host)
        return torch.rand(2, host.window, ctx.in_channels, side, side, generator=g)
    depth = (6,) if host.dims == 3 else ()
    return torch.rand(2, ctx.in_channels, *depth, 32, 32, generator=g)


def test_names_kinds_and_labels():
    assert host_names("image") == ("draem", "draem3d", "nsa", "cutpaste")
    assert host_names("video") == ("plain_ae", "ffp", "mnad", "mae")
    assert host_names("object") == ("georgescu", "hf2vad", "ssmtl", "object_ae")
    assert host_names() == host_names("image") + host_names("video") + host_names("object")
    bases = {"image": ImageHost, "video": VideoHost, "object": ObjectHost}
    for name in host_names():
        cls = registered_class(name)
        assert cls.name == name and cls.label == LABELS[name] and cls.kind in HOST_KINDS
        assert issubclass(cls, bases[cls.kind])
    assert [n for n in FRAME_HOSTS if registered_class(n).dims == 3] == ["draem3d"]
    assert [n for n in FRAME_HOSTS if getattr(registered_class(n), "needs_anomaly_source", False)] == ["draem"]
    assert [n for n in FRAME_HOSTS if getattr(registered_class(n), "needs_category", False)] == ["nsa"]
    assert {n: registered_class(n).steps_per_epoch for n in FRAME_HOSTS
            if registered_class(n).steps_per_epoch} == {"cutpaste": 256, "ffp": 1000}


@pytest.mark.parametrize("name", FRAME_HOSTS)
def test_every_host_builds_from_a_context_and_runs(name):
    ctx = context(name)
    torch.manual_seed(0)
    host = create_host(name, ctx)
    assert type(host) is registered_class(name) and create_host(name, ctx, kind=host.kind).kind == host.kind
    assert host.label == LABELS[name] and host.dims in (2, 3)
    assert host.block_sites and host.block_weight > 0
    assert isinstance(host.steps_per_epoch, (int, type(None)))
    x = tiny_batch(host, ctx)
    loss, logs = host.training_loss(x)
    assert torch.isfinite(loss) and logs
    schedule = type(host).schedule_for(ctx)
    assert schedule.epochs > 0 and schedule.batch_size > 0 and schedule.source
    host.eval()
    if host.kind == "image":
        host.fit_normal([x, x])
        scores, maps = host.score(x)
        assert scores.shape == (2,) and torch.isfinite(scores).all()
        assert (maps is None) == (not host.localizes)
        if host.dims == 3:
            slices, voxels = host.score_slices(x)
            assert slices.shape == (2, 6) and voxels.shape == (2, 6, 32, 32)
        else:  # per-slice scoring is the volumes' protocol only
            with pytest.raises(NotImplementedError, match="dims == 3"):
                host.score_slices(x)
        assert isinstance(host.needs_anomaly_source, bool) and isinstance(host.needs_category, bool)
    else:
        assert isinstance(host.updates_at_test, bool)
        host.prepare_test()
        parts, maps = host.frame_evidence(x)
        assert maps.shape == (2, frame_side(host), frame_side(host))
        scores = host.video_scores({k: v.numpy() for k, v in parts.items()})
        assert scores.shape == (2,) and np.isfinite(scores).all()


@pytest.mark.parametrize("name", FRAME_HOSTS)
@pytest.mark.parametrize("block", ["sspcab", "ssmctb"])
def test_every_host_offers_block_sites_a_block_fits(name, block):
    ctx = context(name)
    torch.manual_seed(0)
    host = create_host(name, ctx)
    kind = block + ("3d" if host.dims == 3 else "")
    sites = host.block_sites_for(kind)
    assert sites and set(sites) <= set(host.block_sites)
    assert host.block_sites_for(block) == sites  # the 3D suffix does not change the layers
    for site in sites:
        if BlockSite.parse(site).mode != "replace":  # MAE: around a module, channels from the site
            place_block(host, site, lambda channels: make_block(kind, channels))
            continue
        conv = host.get_submodule(site)
        assert isinstance(conv, nn.modules.conv._ConvNd) and conv.in_channels == conv.out_channels
        assert set(conv.stride) == {1}
        replace_layer(host, site, make_block(kind, conv.out_channels))
    x = tiny_batch(host, ctx)
    loss, _ = host.training_loss(x)
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="unknown block kind"):
        host.block_sites_for("cbam")


def test_lookups_by_kind_and_the_views_of_the_registry():
    assert host_names("image") == ("draem", "draem3d", "nsa", "cutpaste")
    assert host_names("video") == ("plain_ae", "ffp", "mnad", "mae")
    assert host_names() == host_names("image") + host_names("video") + host_names("object")
    for kind in HOST_KINDS:
        for name in host_names(kind):
            assert registered_class(name, kind=kind) is registered_class(name)
    with pytest.raises(ValueError, match="unknown image host 'ffp'"):
        registered_class("ffp", kind="image")
    with pytest.raises(ValueError, match="unknown video host 'draem'"):
        registered_class("draem", kind="video")
    with pytest.raises(ValueError, match="unknown video host 'draem'"):
        create_host("draem", context("draem"), kind="video")
    with pytest.raises(ValueError, match="unknown host 'nope'; hosts: draem, draem3d"):
        create_host("nope", context("draem"))
    with pytest.raises(ValueError, match="kind"):
        host_names("audio")


def test_register_host_refuses_incomplete_or_clashing_classes():
    class Unnamed(ImageHost):
        label = "Unnamed"

    class Inherited(registered_class("draem")):  # a subclass does not inherit the parent's entry
        pass

    class Clash(VideoHost):
        name, label = "draem", "Clash"

    class NotAHost(nn.Module):
        name, label = "plain", "Plain"

    for cls in (Unnamed, Inherited):
        with pytest.raises(TypeError, match="must set its own"):
            register_host(cls)
    with pytest.raises(ValueError, match="taken"):
        register_host(Clash)
    with pytest.raises(TypeError, match="not an ImageHost or a VideoHost"):
        register_host(NotAHost)
    assert registered_class("draem").__name__ == "DRAEM"


def object_batch(host, ctx: HostContext) -> dict:
    g = torch.Generator().manual_seed(0)
    side, window = host.side, host.window
    batch = {"appearance": torch.rand(3, window, ctx.in_channels, side, side, generator=g),
             "boxes": torch.tensor([[0.0, 0.0, 9.0, 19.0]] * 3)}
    if host.needs_flow:
        batch["flow"] = torch.randn(3, window - 1, 2, side, side, generator=g)
    return batch


@pytest.mark.parametrize("name", host_names("object"))
def test_every_object_host_trains_scores_objects_and_takes_its_blocks(name):
    ctx = context(name)
    torch.manual_seed(0)
    host = create_host(name, ctx)
    assert host.label == LABELS[name] and host.window % 2 == 1 and host.block_weight > 0
    batch = object_batch(host, ctx)
    loss, logs = host.training_loss(batch)
    assert torch.isfinite(loss) and logs
    schedule = type(host).schedule_for(ctx)
    assert schedule.epochs > 0 and schedule.batch_size > 0 and schedule.source
    host.eval()
    host.calibrate([batch])
    scores = host.object_scores(batch)
    assert scores.shape == (3,) and torch.isfinite(scores).all()
    kinds = getattr(host, "block_kinds", ("sspcab", "ssmctb"))
    host.train()
    for site in host.sites_for(host.default_position):
        place_block(host, site, lambda channels: make_block(kinds[-1], channels))
    loss, _ = host.training_loss(batch)
    assert torch.isfinite(loss) and float(block_loss(host)) > 0
