"""Neural-network building blocks of the thesis: the masked-convolution blocks SSPCAB (Paper C)
and SSMCTB (Paper D), 2D and 3D, plus helpers to put them into host models."""

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
