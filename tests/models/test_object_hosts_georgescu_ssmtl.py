"""The object-centric hosts of Georgescu et al. (TPAMI) and SSMTL++: the batch contract, where the
blocks sit, what the adversarial step and the proxy tasks learn, and their state."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
import torch

from vadlib.models.blocks import block_loss, make_block, replace_layer
from vadlib.models.georgescu import Georgescu
from vadlib.models.object_hosts import ObjectHost
from vadlib.models.registry import HostContext, create_host
from vadlib.models.ssmtl import (
    PERMUTATIONS,
    SSMTLPlusPlus,
    intermittent_indices,
    jigsaw,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HOSTS = {"georgescu": Georgescu, "ssmtl": SSMTLPlusPlus}


def random_batch(host: ObjectHost, n: int = 2, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    t, s = host.window, host.side
    batch = {"appearance": torch.rand(n, t, host.in_channels, s, s, generator=g),
             "boxes": torch.tensor([[10.0, 20.0, 50.0, 90.0]]).repeat(n, 1)}
    if host.needs_flow:
        batch["flow"] = torch.randn(n, t - 1, 2, s, s, generator=g)
    return batch


# ------------------------------------------------------------------------ synthetic objects

def moving_objects(n: int, window: int, side: int, speed: float, g: torch.Generator,
                   shuffle: bool = False) -> dict:
    """Cubes of a coloured Gaussian blob crossing a noisy background at ``speed`` pixels per
    frame through the crop's centre at the centre frame; ``shuffle`` permutes the frames (and the
    flow follows the permuted positions, as a flow network would see them)."""
    c = window // 2
    angle = torch.rand(n, generator=g) * 2 * math.pi
    direction = torch.stack((torch.cos(angle), torch.sin(angle)), 1)               # n × 2 (x, y)
    steps = torch.arange(window, dtype=torch.float32) - c
    centre = side / 2 + (torch.rand(n, 2, generator=g) - 0.5) * 2
    positions = centre[:, None] + steps[None, :, None] * speed * direction[:, None]  # n × T × 2
    if shuffle:
        order = torch.stack([torch.randperm(window, generator=g) for _ in range(n)])
        positions = positions[torch.arange(n)[:, None], order]
    yy, xx = torch.meshgrid(torch.arange(side, dtype=torch.float32),
                            torch.arange(side, dtype=torch.float32), indexing="ij")
    sigma = side / 8
    blob = torch.exp(-((xx - positions[..., 0, None, None]) ** 2 + (yy - positions[..., 1, None, None]) ** 2)
                     / (2 * sigma ** 2))                                               # n × T × S × S
    colour = 0.5 + 0.5 * torch.rand(n, 1, 3, 1, 1, generator=g)
    background = 0.1 + 0.05 * torch.rand(n, 1, 3, side, side, generator=g)
    appearance = (background + blob[:, :, None] * colour).clamp(0, 1)
    motion = positions[:, 1:] - positions[:, :-1]                                      # n × (T−1) × 2
    flow = motion[..., None, None] * (blob[:, :-1, None] > 0.2)
    return {"appearance": appearance, "flow": flow, "boxes": torch.zeros(n, 4)}


def train(host: ObjectHost, make_batch, steps: int, lr: float = 2e-3) -> None:
    optimizer = torch.optim.Adam(host.parameters(), lr=lr)
    host.train()
    for step in range(steps):
        loss, _ = host.training_loss(make_batch(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


class SmallSSMTL(SSMTLPlusPlus):
    """SSMTL++ on 16-pixel crops, so that a few hundred CPU steps stay well under the time box."""

    crop_size: ClassVar[dict[str, int]] = {"tiny": 16, "paper": 64}


class SmallGeorgescu(Georgescu):
    """Georgescu et al.'s framework on 16-pixel crops (same reason)."""

    crop_size: ClassVar[dict[str, int]] = {"tiny": 16, "paper": 64}


# ------------------------------------------------------------------------ contract and shapes

@pytest.mark.parametrize("size", ["tiny", "paper"])
@pytest.mark.parametrize("name", ["georgescu", "ssmtl"])
def test_loss_and_scores_follow_the_batch_contract(name, size):
    host = HOSTS[name](size, 3, seed=0)
    assert host.kind == "object" and host.window % 2 == 1 and host.side == host.crop_size[size]
    n = 2 if size == "tiny" else 1                                  # the paper 3D network is heavy on CPU
    batch = random_batch(host, n=n)
    loss, logs = host.training_loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss) and logs
    assert all(isinstance(v, float) and math.isfinite(v) for v in logs.values())
    loss.backward()
    assert all(p.grad is not None for p in host.parameters() if p.requires_grad)
    host.train()
    scores = host.object_scores(batch)
    assert scores.shape == (n,) and torch.isfinite(scores).all() and (scores >= 0).all()
    assert host.training, "scoring restores the training mode"
    # a cube of the wrong length, or a missing flow, is refused
    with pytest.raises(ValueError):
        host.object_scores({**batch, "appearance": batch["appearance"][:, 1:]})
    if host.needs_flow:
        with pytest.raises(ValueError, match="flow"):
            host.training_loss({k: v for k, v in batch.items() if k != "flow"})


def test_georgescu_details():
    host = Georgescu("tiny", 3, seed=0)
    assert Georgescu.needs_flow and host.needs_flow and host.window == 3
    scores = host.object_scores(random_batch(host, 3))
    assert ((scores >= 0) & (scores <= 1)).all()                    # mean of two probabilities
    gradients = Georgescu("tiny", 1, seed=0, motion="gradients")     # image gradients, no flow
    assert not gradients.needs_flow
    batch = random_batch(gradients, 2)
    assert "flow" not in batch and gradients.training_loss(batch)[0].isfinite()
    assert Georgescu("tiny", 3, score="reconstruction").object_scores(random_batch(host, 2)).shape == (2,)
    with pytest.raises(ValueError):
        Georgescu("tiny", 3, motion="optical")


def test_ssmtl_task_samples():
    g = torch.Generator().manual_seed(0)
    idx = intermittent_indices(500, 12, g)
    assert idx.shape == (500, 7) and (idx[:, 3] == 12).all()
    gaps = idx.diff(dim=1)
    assert gaps.min() >= 1 and gaps.max() <= 4 and (gaps > 1).any(1).all()
    assert idx.min() >= 0 and idx.max() <= 24
    cube = torch.rand(3, 7, 3, 16, 16)
    assert torch.equal(jigsaw(cube, torch.zeros(3, dtype=torch.long)), cube)
    swapped = jigsaw(cube, torch.full((3,), PERMUTATIONS.index((1, 0, 2, 3))))
    assert torch.equal(swapped[..., :8, :8], cube[..., :8, 8:]) and torch.equal(swapped[..., 8:, :], cube[..., 8:, :])
    host = SSMTLPlusPlus("tiny", 3, seed=0, tasks=("arrow", "irregularity", "middle"))
    assert set(host.task_scores(random_batch(host)).keys()) == {"arrow", "irregularity", "middle"}
    distilled = SSMTLPlusPlus("tiny", 3, seed=0, distill_dim=5)
    batch = random_batch(distilled)
    with pytest.raises(ValueError, match="teacher"):
        distilled.training_loss(batch)
    _, logs = distilled.training_loss({**batch, "teacher": torch.rand(2, 5)})
    assert "distill" in logs and "distill" in distilled.task_scores({**batch, "teacher": torch.rand(2, 5)})
    assert "distill" not in SSMTLPlusPlus("tiny").tasks             # off unless asked for


def test_registry_context_and_schedule():
    for name, cls in HOSTS.items():
        for size in ("tiny", "paper"):
            ctx = HostContext(size=size, in_channels=3, seed=1, dataset="avenue")
            assert cls.schedule_for(ctx) == cls.schedule(size)
        host = create_host(name, HostContext(size="tiny", in_channels=3, seed=1, dataset="avenue"), kind="object")
        assert type(host) is cls
    host = create_host("georgescu", HostContext(size="tiny", in_channels=1, seed=0, dataset="avenue",
                                                options=(("motion", "gradients"),)))
    assert host.motion == "gradients" and not host.needs_flow and host.in_channels == 1
    with pytest.raises(ValueError, match="from scratch"):
        Georgescu.from_context(HostContext(size="tiny", in_channels=3, seed=0, dataset="avenue", pretrained=True))


# ------------------------------------------------------------------------ blocks

def _forward_order(host: ObjectHost, batch: dict) -> list[str]:
    """Names of the host's leaf modules (and blocks) in the order their forward hooks fire."""
    order: list[str] = []
    handles = [m.register_forward_hook(lambda mod, inp, out, name=name: order.append(name))
               for name, m in host.named_modules() if name]
    try:
        host.training_loss(batch)
    finally:
        for h in handles:
            h.remove()
    return order


@pytest.mark.parametrize("name,kinds", [("georgescu", ("sspcab", "ssmctb")), ("ssmtl", ("sspcab3d", "ssmctb3d"))])
def test_blocks_replace_the_declared_convolutions(name, kinds):
    for kind in kinds:
        for position in HOSTS[name].block_positions:
            host = HOSTS[name]("tiny", 3, seed=0)
            sites = host.sites_for(position)
            blocks = {}
            for site in sites:
                layer = host.get_submodule(site)
                blocks[site] = make_block(kind, layer.out_channels)
                replace_layer(host, site, blocks[site])
                assert host.get_submodule(site) is blocks[site]
            order = _forward_order(host, random_batch(host))
            for site, block in blocks.items():
                assert site in order, f"{kind} at {site} never ran"
                assert block.loss is not None and torch.isfinite(block.loss)
                parent = site.rsplit(".", 1)[0]
                index = int(site.rsplit(".", 1)[1])
                # the block runs where the conv it replaced ran: after its predecessor, before its successor
                before, after = f"{parent}.{index - 1}", f"{parent}.{index + 1}"
                if index > 0:
                    assert order.index(before) < order.index(site)
                assert order.index(site) < order.index(after)
            assert block_loss(host) > 0


def test_block_dimensionality_is_enforced():
    for cls, conv, wrong in ((Georgescu, torch.nn.Conv2d, "ssmctb3d"), (SSMTLPlusPlus, torch.nn.Conv3d, "ssmctb")):
        host = cls("tiny")
        assert host.block_sites == cls.block_positions["late"]
        for position in cls.block_positions:
            for site in host.sites_for(position):
                layer = host.get_submodule(site)
                assert type(layer) is conv and layer.in_channels == layer.out_channels
                assert all(stride == 1 for stride in layer.stride)
                with pytest.raises(ValueError, match="2D|3D"):
                    replace_layer(host, site, make_block(wrong, layer.out_channels))
    assert SSMTLPlusPlus.block_positions["late"] == ("backbone.stage3.3",)
    assert all(kind.endswith("3d") for kind in SSMTLPlusPlus.block_kinds)
    with pytest.raises(ValueError, match="2D"):
        Georgescu("tiny").block_sites_for("sspcab3d")


def test_georgescu_blocks_are_in_the_auto_encoders_not_the_classifiers():
    host = Georgescu("tiny", 3, seed=0)
    for site in host.sites_for("late"):
        replace_layer(host, site, make_block("ssmctb", host.get_submodule(site).out_channels))
    host.training_loss(random_batch(host))
    host.zero_grad()
    block_loss(host).backward()
    for classifier in (host.appearance_classifier, host.motion_classifier):
        assert all(p.grad is None or not p.grad.any() for p in classifier.parameters())
    assert all(any(p.grad is not None and p.grad.any() for p in ae.decoder.parameters())
               for ae in host.autoencoders.values())
    # nor does the classifiers' cross-entropy shape the auto-encoders (their inputs are detached)
    batch = random_batch(host)
    inputs = host.inputs(batch)
    outputs = host._run(inputs)
    app_in, mot_in = host._classifier_inputs(outputs, inputs)
    host.zero_grad()
    (host.appearance_classifier(app_in).sum() + host.motion_classifier(mot_in).sum()).backward()
    assert all(p.grad is None for ae in host.autoencoders.values() for p in ae.parameters())


# ------------------------------------------------------------------------ learning

def test_ssmtl_learns_smooth_motion():
    host = SmallSSMTL("tiny", 3, seed=0)
    g = torch.Generator().manual_seed(0)
    train(host, lambda step: moving_objects(8, host.window, host.side, 0.5, g), steps=120)
    test = torch.Generator().manual_seed(99)
    smooth = host.object_scores(moving_objects(48, host.window, host.side, 0.5, test)).mean()
    shuffled = host.object_scores(moving_objects(48, host.window, host.side, 0.5, test, shuffle=True)).mean()
    fast = host.object_scores(moving_objects(48, host.window, host.side, 2.5, test)).mean()
    assert shuffled > smooth and fast > smooth


def test_georgescu_learns_smooth_motion():
    host = SmallGeorgescu("tiny", 3, seed=0)
    g = torch.Generator().manual_seed(0)
    train(host, lambda step: moving_objects(16, host.window, host.side, 1.0, g), steps=150)
    test = torch.Generator().manual_seed(99)
    smooth = host.object_scores(moving_objects(48, host.window, host.side, 1.0, test)).mean()
    shuffled = host.object_scores(moving_objects(48, host.window, host.side, 1.0, test, shuffle=True)).mean()
    fast = host.object_scores(moving_objects(48, host.window, host.side, 4.0, test)).mean()
    assert shuffled > smooth and fast > smooth


@torch.no_grad()
def _pseudo_to_normal_error_ratio(host: Georgescu, normal: dict, pseudo: dict) -> dict[str, float]:
    """Per auto-encoder: mean squared error on the pseudo-anomalies / on the normal objects."""
    host.eval()
    ratio = {}
    for key, ae in host.autoencoders.items():
        e_normal = (ae(normal[key])[0] - normal[key]).pow(2).mean()
        e_pseudo = (ae(pseudo[key])[0] - pseudo[key]).pow(2).mean()
        ratio[key] = float(e_pseudo / e_normal)
    host.train()
    return ratio


def test_georgescu_adversarial_step_pushes_pseudo_anomalies_out():
    g = torch.Generator().manual_seed(3)
    data = [moving_objects(16, 3, 16, 1.0, g) for _ in range(20)]
    hosts = {adv: SmallGeorgescu("tiny", 3, seed=0, adversarial=adv) for adv in (True, False)}
    normal = hosts[True].inputs(moving_objects(32, 3, 16, 1.0, torch.Generator().manual_seed(7)))
    pseudo = SmallGeorgescu("tiny", 3, seed=5).pseudo_anomalies(normal)
    start = _pseudo_to_normal_error_ratio(hosts[True], normal, pseudo)
    for host in hosts.values():
        train(host, lambda step: data[step % len(data)], steps=120)
    with_ascent = _pseudo_to_normal_error_ratio(hosts[True], normal, pseudo)
    without = _pseudo_to_normal_error_ratio(hosts[False], normal, pseudo)
    for key in start:
        # the pseudo-anomalies end up reconstructed worse, relative to normal objects, than at the
        # start and than by the same auto-encoder trained without the ascent
        assert with_ascent[key] > start[key] and with_ascent[key] > without[key], key


# ------------------------------------------------------------------------ state

@pytest.mark.parametrize("name", ["georgescu", "ssmtl"])
def test_state_dict_round_trip(name):
    cls = HOSTS[name]
    kind = "ssmctb" if name == "georgescu" else "ssmctb3d"

    def with_block(seed):
        host = cls("tiny", 3, seed=seed)
        for site in host.block_sites_for(kind):
            replace_layer(host, site, make_block(kind, host.get_submodule(site).out_channels))
        return host

    trained = with_block(0)
    batch = random_batch(trained, n=4, seed=1)
    train(trained, lambda step: batch, steps=2)
    copy = with_block(1)
    assert not torch.allclose(copy.object_scores(batch), trained.object_scores(batch))
    copy.load_state_dict(trained.state_dict())
    torch.testing.assert_close(copy.object_scores(batch), trained.object_scores(batch))
