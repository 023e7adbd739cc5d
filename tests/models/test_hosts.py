"""The image-host contract: built from a HostContext exactly as by hand, one ``schedule_for``
for every host (equal to the per-host call forms it replaces), default block sites."""

from __future__ import annotations

import pytest
import torch

from vadlib.models.cutpaste import CutPaste
from vadlib.models.draem import DRAEM
from vadlib.models.draem3d import DRAEM3d
from vadlib.models.nsa import NSA, mvtec_category
from vadlib.models.registry import HostContext, create_host

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MVTEC = HostContext(size="tiny", in_channels=3, seed=3, dataset="mvtec_ad", category="screw")
BRATS = HostContext(size="tiny", in_channels=1, seed=3, dataset="brats", category="brats")


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_from_context_equals_the_constructor_call():
    source = object()  # passed through untouched (DRAEM only reads it while training)
    draem = create_host("draem", HostContext(**{**MVTEC.__dict__, "anomaly_source": source}))
    assert draem.anomaly_source is source and same_weights(draem, DRAEM("tiny", 3, seed=3))
    volume = create_host("draem3d", BRATS)
    assert volume.anomaly_source is None and same_weights(volume, DRAEM3d("tiny", 1, seed=3))
    torch.manual_seed(0)
    nsa = create_host("nsa", MVTEC)
    torch.manual_seed(0)
    assert nsa.category == "screw" and same_weights(nsa, NSA("tiny", 3, seed=3, category="screw"))
    assert create_host("nsa", BRATS).category is None  # NSA's per-class settings are MVTec AD's
    assert same_weights(create_host("cutpaste", MVTEC), CutPaste("tiny", 3, seed=3))
    with pytest.raises(ValueError, match="pretrained"):
        create_host("draem", HostContext(**{**MVTEC.__dict__, "pretrained": True}))
    tweaked = create_host("draem", HostContext(**{**MVTEC.__dict__, "options": (("rotate_p", 0.0),)}))
    assert tweaked.rotate_p == 0.0


@pytest.mark.parametrize("size", ["tiny", "paper"])
def test_schedule_for_equals_the_per_host_calls(size):
    mvtec, brats = (HostContext(**{**c.__dict__, "size": size}) for c in (MVTEC, BRATS))
    assert DRAEM.schedule_for(mvtec) == DRAEM.schedule(size)
    assert DRAEM3d.schedule_for(brats) == DRAEM3d.schedule(size) != DRAEM.schedule(size)
    assert CutPaste.schedule_for(mvtec) == CutPaste.schedule(size)
    assert NSA.schedule_for(mvtec) == NSA.schedule(size, category="screw")
    assert NSA.schedule_for(mvtec).epochs == 560
    assert NSA.schedule_for(brats) == NSA.schedule(size)
    assert mvtec_category(mvtec) == "screw" and mvtec_category(brats) is None


def test_default_block_sites_serve_both_blocks():
    nsa, cutpaste = NSA("tiny"), CutPaste("tiny")
    assert nsa.block_sites_for("ssmctb") == nsa.block_sites == ("head.0",)
    assert cutpaste.block_sites_for("sspcab") == ("backbone.layer4.1.conv1",)
    with pytest.raises(ValueError, match="unknown block kind"):
        nsa.block_sites_for("cbam")
