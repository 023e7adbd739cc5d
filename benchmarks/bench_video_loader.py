"""Benchmark: frames per second delivered by ClipDataset from Avenue video files vs frame folders.

The "large" synthetic Avenue twin holds the same rendered frames (360×640, Avenue's resolution) in
both Avenue layouts: MJPEG AVI files (``testing_videos/01.avi``, the official release) and JPEG
frame folders (``testing/frames/01/0000.jpg``, the FFP/MNAD layout). For each layout and each
``num_workers`` setting a torch DataLoader draws shuffled batches of 16-frame clips (the same
clips in the same order for both layouts, checked) and the script reports decoded frames per
second, excluding the first batch (worker start-up), and the video/frames ratio. A "decode" row
times the decoder alone (uint8 frames, one process, no float conversion or collation).

    python benchmarks/bench_video_loader.py           # large twin (generated once, ~40 s)
    python benchmarks/bench_video_loader.py --quick   # smoke twin (120×160), a few batches
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402

from vadlib.data import avenue, synthetic  # noqa: E402


def run(root: Path, layout: str, workers: int, batches: int, batch_size: int, length: int,
        step: int, seed: int):
    """(frames per second after the first batch, labels of every batch, seconds in total)."""
    dataset = avenue.clips(root, "test", length, step=step, layout=layout)
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                         generator=generator, num_workers=workers)
    labels, frames = [], 0
    start = time.perf_counter()
    first = None
    for i, batch in enumerate(loader):
        if i == 0:
            first = time.perf_counter()
        else:
            frames += batch["clip"].shape[0] * batch["clip"].shape[1]
        labels.append(batch["labels"])
        if i + 1 >= batches:
            break
    end = time.perf_counter()
    del loader
    return frames / (end - first), torch.cat(labels), end - start, tuple(batch["clip"].shape)


def decode_only(root: Path, layout: str, clips: int, length: int, step: int, seed: int) -> float:
    """Frames per second of the decoder alone: uint8 clips read in this process, no tensors."""
    dataset = avenue.clips(root, "test", length, step=step, layout=layout)
    order = np.random.default_rng(seed).permutation(len(dataset))[:clips]
    start = time.perf_counter()
    frames = sum(len(dataset._read_rows(dataset._rows[i])) for i in order)
    return frames / (time.perf_counter() - start)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke twin (120×160), 4 batches")
    ap.add_argument("--data-root", type=Path, default=None,
                    help="where the twin is written/reused (default: the vadlib data root)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batches", type=int, default=None, help="batches per configuration")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--length", type=int, default=16, help="frames per clip")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = ap.parse_args(argv)
    size = "smoke" if args.quick else "large"
    batches = args.batches or (4 if args.quick else 25)
    step = 4
    t0 = time.perf_counter()
    root = synthetic.generate("avenue", size=size, seed=args.seed, data_root=args.data_root)
    print(f"twin: {root} ({size}, ready in {time.perf_counter() - t0:.1f} s)")
    index = avenue.index(root, "test", layout="videos")
    h, w = avenue.clips(root, "test", 1, layout="frames")[0]["clip"].shape[-2:]
    print(f"test split: {index['video'].nunique()} videos, {len(index)} frames at {h}×{w}; "
          f"batches of {args.batch_size} clips × {args.length} frames, {batches} batches "
          f"(first excluded), torch threads {torch.get_num_threads()}")

    results = {}
    for workers in args.workers:
        reference = None
        for layout in ("videos", "frames"):
            run(root, layout, workers, 2, args.batch_size, args.length, step, args.seed)  # warm-up
            fps, labels, total, shape = run(root, layout, workers, batches, args.batch_size,
                                            args.length, step, args.seed)
            if reference is None:
                reference = labels
            assert torch.equal(labels, reference), "the two layouts delivered different clips"
            results[(layout, workers)] = fps
    decode = {layout: decode_only(root, layout, (batches - 1) * args.batch_size, args.length, step,
                                  args.seed) for layout in ("videos", "frames")}
    print()
    print(f"{'source':<28}{'workers':>8}{'frames/s':>12}")
    for layout, fps in decode.items():
        source = "AVI (cv2.VideoCapture)" if layout == "videos" else "JPEG folders (cv2.imread)"
        print(f"{source:<28}{'decode':>8}{fps:>12.0f}")
    for (layout, workers), fps in results.items():
        source = "AVI (cv2.VideoCapture)" if layout == "videos" else "JPEG folders (cv2.imread)"
        print(f"{source:<28}{workers:>8}{fps:>12.0f}")
    print()
    print(f"decode only (uint8, no tensors): video files / frame folders = "
          f"{decode['videos'] / decode['frames']:.2f}x")
    for workers in args.workers:
        ratio = results[("videos", workers)] / results[("frames", workers)]
        print(f"num_workers={workers}: video files / frame folders = {ratio:.2f}x")
    return results


if __name__ == "__main__":
    main()
