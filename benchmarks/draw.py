#!/usr/bin/python3
"""Same-process benchmark of the drawing functions: torchvision.utils (0.14,
Pillow 9.4 underneath) vs torchimage, on one 512x512 RGB uint8 image with 100
boxes (width 2, outline and filled) and 10 masks (alpha 0.5), fixed seed.
Prints the median milliseconds of each call, the ratio, and whether the
results are equal.

    /usr/bin/python3 benchmarks/draw.py --build build [--repeats 30] [--threads 1]
"""
import argparse
import os
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.abspath(args.build), "python"))
    import torch
    import torchvision
    import torchvision.utils as tvu

    import torchimage

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (3, 512, 512), dtype=torch.uint8, generator=gen)
    xy = torch.rand(100, 2, generator=gen) * 460
    wh = torch.rand(100, 2, generator=gen) * 150 + 2
    boxes = torch.cat([xy, xy + wh], dim=1)
    masks = torch.rand(10, 512, 512, generator=gen) < 0.3
    cases = [
        ("100 boxes, width 2", "draw_bounding_boxes", (image, boxes), dict(width=2)),
        ("100 boxes, filled", "draw_bounding_boxes", (image, boxes), dict(width=2, fill=True)),
        ("10 masks, alpha 0.5", "draw_segmentation_masks", (image, masks), dict(alpha=0.5)),
    ]
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"{args.threads} thread(s), median of {args.repeats}")
    print(f"| case | torchvision ms | torchimage ms | speed-up | equal |")
    print(f"|---|---:|---:|---:|---|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, name, a, kw in cases:
            tv = getattr(tvu, name)
            ti = getattr(torchimage, name)
            equal = torch.equal(tv(*a, **kw), ti(*a, **kw))
            t_tv = median_ms(lambda: tv(*a, **kw), args.repeats)
            t_ti = median_ms(lambda: ti(*a, **kw), args.repeats)
            print(f"| {label} | {t_tv:.2f} | {t_ti:.2f} | {t_tv / t_ti:.1f}x | {equal} |")


if __name__ == "__main__":
    main()
