"""Benchmark: masked convolution of SSPCAB/SSMCTB, fast formulations vs the literal branch sum.

The masked convolution of Paper C (Fig. C.2) / Paper D (Figs. D.2-D.3) is, literally, the sum of
four (2D) or eight (3D) ordinary k' x k' convolutions applied to shifted crops of the zero-padded
input. ``LiteralMaskedConv`` below writes exactly that, one ``nn.ConvNd`` per corner, from the
papers' description. ``vadlib.models.blocks`` uses, for k' = 1, one 2x2 (2x2x2) convolution with
dilation 2d + 2; for k' > 1 it offers three exact formulations ("dense" masked k x k kernel,
"shifted" = the literal sum, "expand" = one conv to 2^n c channels + shift-and-add).

Measured side by side in one run, forward + backward (sum of the output as the loss): the compared
modules run round-robin (one of each per round, ``--repeat`` rounds after a warm-up round) and the
best time of each is reported, so that load on a shared machine hits all of them alike:

1. k' = 1, d = 1: the masked conv alone and the whole block (SSPCAB 2D, SSMCTB 3D), vadlib vs the
   literal branch sum (weights copied across, outputs asserted equal to 1e-5);
2. k' in {2, 3}, d in {0, 1, 2}: the formulations of ``MaskedConv2d/3d(impl=...)`` against each
   other.

Shapes: 2D N=8, C=64, 64x64; 3D N=2, C=32, T=8, 32x32 (``--quick``: 2D N=2, C=32, 32x32;
3D N=1, C=16, T=4, 16x16, and k' = 2 only).

    python benchmarks/bench_blocks.py            # full
    python benchmarks/bench_blocks.py --quick    # seconds
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vadlib.models.blocks import (  # noqa: E402
    SSMCTB3d,
    SSPCAB,
    MaskedConv2d,
    MaskedConv3d,
)


class LiteralMaskedConv(nn.Module):
    """Paper text, literally: pad by k' + d, one k'^n conv per corner on a shifted crop, sum."""

    def __init__(self, channels, kernel_size=1, dilation=1, dims=2):
        super().__init__()
        self.dims, self.p = dims, kernel_size + dilation
        self.b = kernel_size + 2 * dilation + 1  # crop offset of the far corners
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.convs = nn.ModuleList(conv(channels, channels, kernel_size)
                                   for _ in range(2 ** dims))

    def forward(self, x):
        xp, b = F.pad(x, (self.p,) * (2 * self.dims)), self.b
        out = 0
        for conv, us in zip(self.convs, itertools.product((0, 1), repeat=self.dims)):
            crop = xp[(..., *(slice(b, None) if u else slice(None, -b) for u in us))]
            out = out + conv(crop)
        return out

    @torch.no_grad()
    def copy_from(self, fast):
        """Take the corner kernels of a vadlib masked conv; its bias goes to the first branch."""
        for conv, w in zip(self.convs, fast.corners()):
            conv.weight.copy_(w)
            conv.bias.zero_()
        self.convs[0].bias.copy_(fast.bias)
        return self


def fwd_bwd_times(modules, x, repeat):
    """Best forward+backward time of each module, measured round-robin (one run of each per
    round) so that every module sees the same machine load; one warm-up round first."""
    x = x.clone().requires_grad_(True)

    def step(module):
        module.zero_grad(set_to_none=True)
        x.grad = None
        module(x).sum().backward()

    best = [float("inf")] * len(modules)
    for r in range(repeat + 1):
        for i, module in enumerate(modules):
            t0 = time.perf_counter()
            step(module)
            if r:
                best[i] = min(best[i], time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small shapes, k' = 2 only (seconds)")
    ap.add_argument("--repeat", type=int, default=10,
                    help="timed rounds per case, round-robin over the compared modules (best)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        s2, s3, kps, ds = (2, 32, 32, 32), (1, 16, 4, 16, 16), (2,), (0, 1, 2)
    else:
        s2, s3, kps, ds = (8, 64, 64, 64), (2, 32, 8, 32, 32), (2, 3), (0, 1, 2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"2D input {s2}, 3D input {s3}; forward+backward, best of {args.repeat}")

    # ---- 1. k' = 1, d = 1: vadlib vs literal branch sum -------------------------------------
    print("\nk'=1, d=1 (paper default): vadlib (one 2^n conv, dilation 2d+2) vs literal branch sum")
    print(f"{'case':34s} {'vadlib ms':>10s} {'literal ms':>11s} {'speed-up':>9s}")
    rows = []
    for dims, shape in ((2, s2), (3, s3)):
        c = shape[1]
        x = torch.randn(shape)
        fast = (MaskedConv2d if dims == 2 else MaskedConv3d)(c, 1, 1)
        lit = LiteralMaskedConv(c, 1, 1, dims).copy_from(fast)
        with torch.no_grad():
            err = (fast(x) - lit(x)).abs().max().item()
        assert err < 1e-5, err
        blk = SSPCAB(c) if dims == 2 else SSMCTB3d(c)
        blk_lit = SSPCAB(c) if dims == 2 else SSMCTB3d(c)
        blk_lit.load_state_dict(blk.state_dict())
        blk_lit.conv = LiteralMaskedConv(c, 1, 1, dims).copy_from(blk.conv)
        with torch.no_grad():
            err = max(err, (blk(x) - blk_lit(x)).abs().max().item())
        assert err < 1e-5, err
        name = "SSPCAB" if dims == 2 else "SSMCTB3d"
        for label, a, b in ((f"{dims}D masked conv", fast, lit),
                            (f"{dims}D {name} block (conv+gate+loss)", blk, blk_lit)):
            ta, tb = fwd_bwd_times([a, b], x, args.repeat)
            rows.append((label, ta, tb))
            print(f"{label:34s} {1e3 * ta:10.2f} {1e3 * tb:11.2f} {tb / ta:8.2f}x")
        print(f"{'':34s} max |difference| = {err:.1e}")

    # ---- 2. k' > 1: formulations against each other -----------------------------------------
    impls = ("dense", "shifted", "expand")
    print("\nk' > 1: exact formulations of MaskedConv2d/3d (ms; ratio = shifted / fastest)")
    print(f"{'case':22s} " + " ".join(f"{i:>9s}" for i in impls) + f" {'fastest':>8s} "
          f"{'vs shifted':>10s} {'vs dense':>9s}")
    for dims, shape in ((2, s2), (3, s3)):
        c = shape[1]
        x = torch.randn(shape)
        for kp, d in itertools.product(kps, ds):
            conv = (MaskedConv2d if dims == 2 else MaskedConv3d)(c, kp, d)
            mods, ref = [], None
            for impl in impls:
                m = (MaskedConv2d if dims == 2 else MaskedConv3d)(c, kp, d, impl=impl)
                m.load_state_dict(conv.state_dict())
                with torch.no_grad():
                    y = m(x)
                ref = y if ref is None else ref
                assert (y - ref).abs().max().item() < 1e-4
                mods.append(m)
            t = dict(zip(impls, fwd_bwd_times(mods, x, args.repeat)))
            best = min(t, key=t.get)
            print(f"{dims}D k'={kp} d={d:<12d} " + " ".join(f"{1e3 * t[i]:9.2f}" for i in impls)
                  + f" {best:>8s} {t['shifted'] / t[best]:9.2f}x {t['dense'] / t[best]:8.2f}x")
    worst = min(tb / ta for label, ta, tb in rows if label.endswith("masked conv"))
    print(f"\nk'=1 masked conv speed-up over the literal sum: min {worst:.2f}x (target >= 1.5x)")
    return rows


if __name__ == "__main__":
    main()
