#!/usr/bin/python3
"""Same-process benchmark: torchvision.utils.save_image vs torchimage.save_image.

Both are called from this Python process on the same tensors (random square
crops of tests/data/photos, fixed seed, resized and scaled to [-1, 1]) and
write files to a temporary folder; the table gives the median milliseconds of
each, the ratio, and whether the decoded pixels (and the bytes) are identical.
The last row is torchimage.ImageWriter: the time its save_image call keeps the
caller (the sheet is copied; encoding and writing happen on its workers).
torchimage's package is taken from <build>/python (the CMake target
torchimage_ops builds it there).

    /usr/bin/python3 benchmarks/compare_python.py --build build [--repeats 30] [--threads 1]

Run with Debian's interpreter (/usr/bin/python3): torch 1.13 and torchvision
0.14 live there.
"""
import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare import median_ms, photo_crops  # noqa: E402  (compare.py's inputs and timing)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"),
                    help="the CMake build folder (its python/ holds the torchimage package)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(os.path.abspath(args.build), "python"))
    import numpy as np
    import torch
    import torchvision
    import torchvision.utils as vutils
    from PIL import Image

    import torchimage

    torch.set_num_threads(args.threads)
    work = tempfile.mkdtemp(prefix="torchimage-pybench-")
    sheet64 = photo_crops(64, 64, seed=0)
    big16 = photo_crops(16, 256, seed=1)
    norm = {"normalize": True, "value_range": (-1, 1)}
    # name, tensor, save_image keywords, extension, torchimage's extras, bytes must match
    workloads = [
        ("64x3x64x64 sheet PNG", sheet64, norm, "png", {}, False),
        ("64x3x64x64 sheet PNG, compression_level=6", sheet64, norm, "png",
         {"compression_level": 6}, True),
        ("64x3x64x64 sheet JPEG", sheet64, norm, "jpg", {}, True),
        ("16x3x256x256 nrow 4 PNG", big16, dict(norm, nrow=4), "png", {}, False),
        ("16x3x256x256 nrow 4 JPEG", big16, dict(norm, nrow=4), "jpg", {}, True),
    ]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"torch {torch.__version__} ({args.threads} thread(s)), torchvision "
          f"{torchvision.__version__}, Pillow {Image.__version__}, torchimage "
          f"{torchimage.__version__}; median of {args.repeats}; same process, files on disk")
    print()
    print("| workload | torchvision ms | torchimage ms | speed-up | pixels identical | "
          "bytes identical |")
    print("|---|---:|---:|---:|---|---|")
    tv_times = {}
    for i, (name, x, kw, ext, extra, exact) in enumerate(workloads):
        tv_path = os.path.join(work, f"tv{i}.{ext}")
        ti_path = os.path.join(work, f"ti{i}.{ext}")
        tv_ms = median_ms(lambda: vutils.save_image(x, tv_path, **kw), args.repeats)
        tv_times[name] = (tv_ms, tv_path)
        ti_ms = median_ms(lambda: torchimage.save_image(x, ti_path, **kw, **extra), args.repeats)
        a = np.asarray(Image.open(tv_path))
        b = np.asarray(Image.open(ti_path))
        same_pixels = a.shape == b.shape and bool((a == b).all())
        with open(tv_path, "rb") as f1, open(ti_path, "rb") as f2:
            same_bytes = f1.read() == f2.read()
        bytes_note = "yes" if same_bytes else ("NO (must be)" if exact else "no (other encoder)")
        print(f"| {name} | {tv_ms:.2f} | {ti_ms:.2f} | {tv_ms / ti_ms:.1f}x | "
              f"{'yes' if same_pixels else 'NO'} | {bytes_note} |")

    # The in-memory path (file objects): encode and write bytes.
    buf_tv, buf_ti = io.BytesIO(), io.BytesIO()

    def tv_mem():
        buf_tv.seek(0), buf_tv.truncate()
        vutils.save_image(sheet64, buf_tv, format="jpeg", **norm)

    def ti_mem():
        buf_ti.seek(0), buf_ti.truncate()
        torchimage.save_image(sheet64, buf_ti, format="jpeg", **norm)

    tv_ms, ti_ms = median_ms(tv_mem, args.repeats), median_ms(ti_mem, args.repeats)
    same = buf_tv.getvalue() == buf_ti.getvalue()
    print(f"| 64x3x64x64 sheet JPEG into io.BytesIO | {tv_ms:.2f} | {ti_ms:.2f} | "
          f"{tv_ms / ti_ms:.1f}x | {'yes' if same else 'NO'} | {'yes' if same else 'NO'} |")

    # The background writer: how long the call keeps the caller (the sheet is copied; the
    # workers encode and write it). Between calls the writer is flushed, untimed, and the
    # caller sleeps 20 ms, as a training step would leave it idle.
    tv_ms, tv_path = tv_times["64x3x64x64 sheet PNG"]
    wr_path = os.path.join(work, "writer.png")
    blocked = []
    with torchimage.ImageWriter() as writer:
        for k in range(args.repeats + 1):
            t0 = time.perf_counter()
            writer.save_image(sheet64, wr_path, **norm)
            if k:
                blocked.append((time.perf_counter() - t0) * 1e3)
            writer.flush()
            time.sleep(0.02)
    ti_ms = statistics.median(blocked)
    a = np.asarray(Image.open(tv_path))
    b = np.asarray(Image.open(wr_path))
    same_pixels = a.shape == b.shape and bool((a == b).all())
    print(f"| 64x3x64x64 sheet PNG, ImageWriter.save_image: caller blocked | {tv_ms:.2f} | "
          f"{ti_ms:.3f} | {tv_ms / ti_ms:.0f}x | {'yes' if same_pixels else 'NO'} | "
          "no (other encoder) |")


if __name__ == "__main__":
    sys.exit(main())
