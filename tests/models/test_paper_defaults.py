"""Every default hyperparameter Papers C and D state, pinned as literal values transcribed from
the seeds (seed 000 = the thesis, "T Lnnnn"; 001 = the SSMCTB journal version; 002 = the SSPCAB
supplementary). The ablation mapping (vadlib.runs.video_ad._without_defaults) drops options equal
to a block's defaults, so a changed default would silently re-map every ablation row and every
"default" host run (review D8); these tests make such a change loud."""

from __future__ import annotations

import pytest

from vadlib.models.blocks import SSMCTB, SSPCAB, default_options
from vadlib.models.registry import host_class

# ---------------------------------------------------------------- SSPCAB (Paper C)
SSPCAB_PAPER = {
    "kernel_size": 1,   # T L2096: "fix ... the sub-kernel size k' to 1"
    "dilation": 1,      # T L2096: "and the dilation rate d to 1"
    "loss": "mse",      # T L2096: "fix the loss to MSE"; Eq. C.2 (T L2023-2025)
    "attention": "ca",  # T L2096: "we selected the channel attention module"
    "reduction": 8,     # T L2096: "we keep the reduction rate of the SE module to r=8"
    "conv": "masked",   # Paper C's masked convolution (T L2001-2009)
    "mask_size": 1,     # T L2001-2009: a 1x1 masked centre M
}

# ---------------------------------------------------------------- SSMCTB (Paper D)
SSMCTB_PAPER = {
    "kernel_size": 1,     # T L2690: "SSMCTB configuration ... is based on d = 1, k' = 1"
    "dilation": 1,        # T L2690
    "attention": "ca",    # T L2690: "and channel attention"
    "loss": "huber",      # T L2421 (Huber replaces MSE); Eq. D.7 (T L2539-2545)
    "huber_delta": 1.0,   # T L2650: "we set the hyperparameter delta to the default value, i.e. delta = 1"
    "pooled_size": 1,     # T L2601: "activation map size after the average pooling layer to 1 x 1"
    "token_dim": 64,      # T L2601: "the token size d_t to 64"
    "heads": 4,           # T L2601: "the number of heads H to 4"
    "blocks": 2,          # T L2601 is cut after "as well" and journal 001 L104 lost its numbers
                          # ("the number of successive transformer blocks to ."); L = 2 is the
                          # default row of Table D.10 (T L2884 ff. / journal Table X, 001 L329)
    "conv": "masked",     # T L2488-2503
    "mask_size": 1,       # T L2488-2496
}

# ---------------------------------------------------------------- λ per host
LAMBDA = {
    "draem": 0.1,     # T L2084: "we decided to use lambda = 0.1 across all models and data sets"; T L2599
    "draem3d": 0.1,   # T L2599: "we keep lambda = 0.1 across all data sets"
    "cutpaste": 0.1,  # T L2084
    "plain_ae": 0.1,  # T L2084 (tuned "with a basic auto-encoder on Avenue")
    "ffp": 0.1,       # T L2084; T L2599
    "mnad": 0.1,      # T L2084; T L2599
    "nsa": 0.001,     # T L2599: "we decrease lambda to 0.001 ... [57, 59]" ([57] = NSA)
}


@pytest.mark.parametrize("block,paper", [("sspcab", SSPCAB_PAPER), ("ssmctb", SSMCTB_PAPER),
                                         ("ssmctb3d", SSMCTB_PAPER)])
def test_block_defaults_are_the_papers(block, paper):
    defaults = default_options(block)
    assert {k: defaults[k] for k in paper} == paper


def test_built_blocks_have_the_paper_geometry_and_widths():
    sspcab = SSPCAB(64)
    # k = 2k' + 2d + 1 = 5 (T L2001-2009)
    assert [m.receptive_field for m in sspcab.modules() if hasattr(m, "receptive_field")] == [5]
    # SE hidden width c / r = 64 / 8 (Eq. C.1, T L2011-2021; r = 8, T L2096)
    hidden = [m for m in sspcab.modules() if type(m).__name__ == "Linear"]
    assert hidden and hidden[0].out_features == 64 // 8
    ssmctb = SSMCTB(64)
    assert [m.receptive_field for m in ssmctb.modules() if hasattr(m, "receptive_field")] == [5]
    assert ssmctb.heads == 4  # T L2601
    linears = [m for m in ssmctb.modules() if type(m).__name__ == "Linear"]
    assert linears[0].in_features == 1 * 1 and linears[0].out_features == 64  # h'w' = 1 -> d_t = 64


@pytest.mark.parametrize("host,value", sorted(LAMBDA.items()))
def test_lambda_per_host(host, value):
    assert host_class(host).block_weight == value


def test_draem_schedule_and_single_block_placement():
    # schedule: the official README's example command (the seeds only say "inherit", T L2082, L2594):
    # Adam, lr 1e-4, batch 8, 700 epochs; train_DRAEM.py: MultiStepLR x0.2 at 80 % and 90 %
    schedule = host_class("draem").schedule("paper")
    assert (schedule.epochs, schedule.batch_size, schedule.lr, schedule.optimizer) == (700, 8, 1e-4, "adam")
    assert tuple(schedule.milestones) == (0.8, 0.9) and schedule.gamma == 0.2
    # T L2286 / seed 002 L83: "we add only one instance of SSPCAB"; T L2812: "only one instance of SSMCTB"
    draem = host_class("draem")("tiny")
    assert len(draem.block_sites_for("sspcab")) == len(draem.block_sites_for("ssmctb")) == 1


def test_plain_autoencoder_schedule_does_not_favour_the_tiny_model():
    # review D7: the tiny model must not train longer than the paper-size one
    plain = host_class("plain_ae")
    assert plain.schedule("tiny").epochs <= plain.schedule("paper").epochs
