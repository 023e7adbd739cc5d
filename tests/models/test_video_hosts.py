"""The video-host contract: built from a HostContext (its options are the run's host options),
``schedule_for`` equal to the per-host call forms, state kept while testing."""

from __future__ import annotations

import pytest
import torch

from vadlib.models.ffp import FutureFramePrediction as FFP
from vadlib.models.mnad import MNAD, PUBLISHED
from vadlib.models.plain_ae import PlainAutoEncoder
from vadlib.models.registry import HostContext, create_host
from vadlib.models.video_hosts import VideoHost

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def ctx(dataset="avenue", size="tiny", **options) -> HostContext:
    return HostContext(size=size, in_channels=3, seed=2, dataset=dataset, options=tuple(options.items()))


def test_from_context_passes_the_options_and_refuses_pretrained():
    host = create_host("mnad", ctx(variant="prediction", alpha=0.5))
    reference = MNAD("tiny", 3, seed=2, variant="prediction", alpha=0.5)
    assert host.variant == "prediction" and host.window == 5 and host.alpha == 0.5
    assert all(torch.equal(a, b) for a, b in zip(host.state_dict().values(), reference.state_dict().values()))
    assert create_host("ffp", ctx(flow="none")).flow_net is None
    assert isinstance(create_host("plain_ae", ctx()), PlainAutoEncoder)
    for name in ("plain_ae", "ffp", "mnad"):
        with pytest.raises(ValueError, match="from scratch"):
            create_host(name, HostContext(size="tiny", in_channels=3, seed=0, dataset="avenue", pretrained=True))


@pytest.mark.parametrize("size", ["tiny", "paper"])
def test_schedule_for_equals_the_per_host_calls(size):
    for dataset in ("avenue", "shanghaitech"):
        assert FFP.schedule_for(ctx(dataset, size)) == FFP.schedule(size, dataset=dataset)
        for variant in ("prediction", "reconstruction"):
            want = MNAD.schedule(size, variant=variant, dataset=dataset)
            assert MNAD.schedule_for(ctx(dataset, size, variant=variant)) == want
            # the schedule and the host built from one context agree on the variant
            assert want.lr == PUBLISHED[create_host("mnad", ctx(dataset, size, variant=variant)).variant]["lr"]
        assert MNAD.schedule_for(ctx(dataset, size)) == MNAD.schedule(size, dataset=dataset)
    assert FFP.schedule_for(ctx("ped2", size)).lr == 1e-4
    assert PlainAutoEncoder.schedule_for(ctx("thermal_rare_event", size)) == PlainAutoEncoder.schedule(size)


def test_updates_at_test_and_prepare_test():
    assert VideoHost.updates_at_test is False
    assert not FFP("tiny", 3, flow="none").updates_at_test and not PlainAutoEncoder("tiny").updates_at_test
    assert not MNAD("tiny", 3, test_update=False).updates_at_test
    host = MNAD("tiny", 3, gamma=1.0)  # every frame counts as normal: the memory moves
    assert host.updates_at_test
    host.eval()
    host.frame_evidence(torch.rand(1, 1, 3, 16, 16))
    assert not torch.equal(host.test_items, host.items)
    host.prepare_test()
    assert torch.equal(host.test_items, host.items)
    PlainAutoEncoder("tiny").prepare_test()  # default: nothing to prepare


def test_video_block_sites_for_is_the_default_placement():
    host = MNAD("tiny", 3)
    assert host.block_sites_for("ssmctb") == host.block_sites == host.sites_for("late") == ("decoder.stage1.3",)
    with pytest.raises(ValueError, match="unknown block kind"):
        host.block_sites_for("cbam")
