"""The thesis's models.

* the masked-convolution blocks SSPCAB (Paper C) and SSMCTB (Paper D), 2D and 3D, and helpers to
  put them into host models (:mod:`vadlib.models.blocks`, re-exported here);
* the anomaly-detection hosts, one registry for image and video hosts
  (:mod:`vadlib.models.registry`: ``create_host(name, HostContext(...))``), their base classes
  (:mod:`~vadlib.models.hosts`, :mod:`~vadlib.models.video_hosts`), their training recipes
  (:mod:`~vadlib.models.schedule`) and the layers they share (:mod:`~vadlib.models.layers`);
* the HRNet tracker of Paper A and the (curriculum-masking) MAE of Paper F.
"""

from vadlib.models.blocks import (
    SSMCTB,
    SSPCAB,
    MaskedConv2d,
    MaskedConv3d,
    SSMCTB3d,
    SSPCAB3d,
    block_loss,
    make_block,
    replace_layer,
)

__all__ = ["MaskedConv2d", "MaskedConv3d", "SSPCAB", "SSPCAB3d", "SSMCTB", "SSMCTB3d",
           "block_loss", "make_block", "replace_layer"]
