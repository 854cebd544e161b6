#!/usr/bin/python3
"""The cost of a channels-last tensor: torchimage.encode_image (PNG, the
default engine) and to_pixels of a (B, C, H, W) float batch, contiguous, beside
the same values stored (B, H, W, C) and passed with dataformats="NHWC" (read
through a permuted view). Median milliseconds, fixed seed.

    /usr/bin/python3 benchmarks/layout.py --build build [--repeats 20] [--threads 1]
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.abspath(args.build), "python"))
    import torch

    import torchimage

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")
    print("| batch | call | NCHW contiguous ms | NHWC storage, dataformats=NHWC ms | ratio |")
    print("|---|---|---:|---:|---:|")
    for shape in ((64, 3, 64, 64), (16, 3, 256, 256), (1, 3, 1024, 1024)):
        nchw = torch.rand(shape, generator=gen) * 2 - 1
        nhwc = nchw.permute(0, 2, 3, 1).contiguous()
        kw = dict(normalize=True, value_range=(-1, 1))
        for name in ("encode_image", "to_pixels"):
            fn = getattr(torchimage, name)
            assert torch.equal(fn(nchw, **kw), fn(nhwc, dataformats="NHWC", **kw))
            a = median_ms(lambda: fn(nchw, **kw), args.repeats)
            b = median_ms(lambda: fn(nhwc, dataformats="NHWC", **kw), args.repeats)
            print(f"| {tuple(shape)} | {name} | {a:.2f} | {b:.2f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
