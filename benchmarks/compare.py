#!/usr/bin/python3
"""Side-by-side benchmark: torchvision.utils.save_image vs torchimage.

Builds the inputs from tests/data/photos (fixed seed: random square
crops, resized, scaled to [-1, 1]), times torchvision in this process and
torchimage in its own process (benchmarks/compare.cpp) on the same tensors,
and prints one table: workload, both medians, ratio, both file sizes, and
whether the decoded pixels are identical (and the bytes, where they must be).

    /usr/bin/python3 benchmarks/compare.py --build build [--repeats 30]

Run with Debian's interpreter (/usr/bin/python3): torch 1.13 and torchvision
0.14 live there.
"""
import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.utils as vutils
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = os.path.join(HERE, "..", "tests", "data", "photos")


def photo_crops(n, size, seed):
    """n random square crops of the photos, resized to size, in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    photos = []
    for name in sorted(os.listdir(PHOTOS)):
        if name.endswith((".png", ".jpg")):
            img = np.asarray(Image.open(os.path.join(PHOTOS, name)).convert("RGB"))
            photos.append(torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 255)
    out = []
    for i in range(n):
        p = photos[int(torch.randint(len(photos), (1,), generator=g))]
        h, w = p.shape[1:]
        side = int(torch.randint(min(h, w) // 4, min(h, w) + 1, (1,), generator=g))
        y = int(torch.randint(h - side + 1, (1,), generator=g))
        x = int(torch.randint(w - side + 1, (1,), generator=g))
        crop = p[:, y:y + side, x:x + side].unsqueeze(0)
        out.append(F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False,
                                 antialias=True)[0])
    return (torch.stack(out).clamp(0, 1) * 2 - 1).contiguous()


def torchvision_save(x, path, kw, fmt, quality=None, level=None):
    """torchvision.utils.save_image, with Pillow's quality/level when asked
    (save_image itself passes none: then this is exactly save_image)."""
    if quality is None and level is None:
        vutils.save_image(x, path, format=fmt, **kw)
        return
    grid = vutils.make_grid(x, **kw)
    ndarr = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
    extra = {"quality": quality} if quality is not None else {"compress_level": level}
    Image.fromarray(ndarr).save(path, format=fmt, **extra)


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--levels", action="store_true", help="also every explicit level 0-9")
    args = ap.parse_args()
    torch.set_num_threads(1)

    work = tempfile.mkdtemp(prefix="torchimage-bench-")
    sheet64 = photo_crops(64, 64, seed=0)
    big16 = photo_crops(16, 256, seed=1)
    torch.save(sheet64, os.path.join(work, "sheet64.pt"))
    torch.save(big16, os.path.join(work, "big16.pt"))
    gray64 = sheet64.mean(1, keepdim=True)  # 1-channel samples (torchvision writes R = G = B)
    torch.save(gray64, os.path.join(work, "gray64.pt"))
    norm = {"normalize": True, "value_range": (-1, 1)}
    # name, input, tensor, grid kwargs, format, quality, level, bytes must match
    workloads = [
        ("64x3x64x64 sheet PNG", "sheet64", sheet64, dict(norm), "png", None, None, False),
        ("16x3x256x256 nrow 4 PNG", "big16", big16, dict(norm, nrow=4), "png", None, None, False),
        ("64x3x64x64 sheet JPEG q75", "sheet64", sheet64, dict(norm), "jpeg", None, None, True),
        # issue 23's rows, at torchvision's defaults (Pillow's: TIFF
        # uncompressed, WebP lossy q80 method 4).
        ("64x3x64x64 sheet TIFF", "sheet64", sheet64, dict(norm), "tiff", None, None, False),
        ("64x3x64x64 sheet WebP q80", "sheet64", sheet64, dict(norm), "webp", None, None, True),
        ("64x3x64x64 sheet BMP", "sheet64", sheet64, dict(norm), "bmp", None, None, True),
        # GIF: torchimage's own palette (docs/formats.md), Pillow's quantizer
        # in torchvision's file: the same pixels only up to 256 colours (gray).
        ("64x3x64x64 sheet GIF", "sheet64", sheet64, dict(norm), "gif", None, None, False),
        ("64x1x64x64 gray sheet GIF", "gray64", gray64, dict(norm), "gif", None, None, False),
    ]
    if args.levels:
        for level in range(10):
            workloads.append((f"64-sheet PNG level {level}", "sheet64", sheet64, dict(norm), "png",
                              None, level, True))

    lines = []
    rows = []
    for i, (name, inp, x, kw, fmt, quality, level, exact) in enumerate(workloads):
        ext = {"png": "png", "jpeg": "jpg", "tiff": "tif", "webp": "webp", "bmp": "bmp",
               "gif": "gif"}[fmt]
        tv_path = os.path.join(work, f"tv{i}.{ext}")
        ti_out = f"ti{i}.{ext}"
        tv_ms = median_ms(lambda: torchvision_save(x, tv_path, kw, fmt, quality, level), args.repeats)
        opts = [f"nrow={kw.get('nrow', 8)}", "normalize=1", "value_range=-1,1", f"format={fmt}"]
        if quality is not None:
            opts.append(f"quality={quality}")
        if level is not None:
            opts.append(f"compression_level={level}")
        lines.append(f"w{i} {inp}.pt {ti_out} {args.repeats} " + " ".join(opts))
        rows.append((f"w{i}", name, tv_ms, tv_path, os.path.join(work, ti_out), exact))
    with open(os.path.join(work, "workloads.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    exe = os.path.join(args.build, "benchmarks", "torchimage_compare")
    out = subprocess.run([exe, work], check=True, capture_output=True, text=True).stdout
    ti_ms = {l.split()[0]: float(l.split()[1]) for l in out.splitlines()}
    ti_one = {l.split()[0]: float(l.split()[2]) for l in out.splitlines()}
    memory = {}
    for key, name, *_ in rows[:2]:
        m = subprocess.run([exe, work, "--memory", key], check=True, capture_output=True,
                           text=True).stdout.split()
        memory[name] = (int(m[1]), int(m[2]), int(m[3]))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"Pillow {Image.__version__}; median of {args.repeats}")
    print()
    print("| workload | torchvision ms | torchimage ms | speed-up | torchimage ms, 1 thread | "
          "speed-up, 1 thread | torchvision bytes | torchimage bytes | size | identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for key, name, tv, tv_path, ti_path, exact in rows:
        a = np.asarray(Image.open(tv_path).convert("RGB"))  # (GIF: palette indices differ)
        b = np.asarray(Image.open(ti_path).convert("RGB"))
        same_pixels = a.shape == b.shape and bool((a == b).all())
        tv_bytes, ti_bytes = os.path.getsize(tv_path), os.path.getsize(ti_path)
        same_bytes = open(tv_path, "rb").read() == open(ti_path, "rb").read()
        ident = ("bytes" if same_bytes else "pixels") if same_pixels else "NO"
        if exact and not same_bytes:
            ident += " (bytes DIFFER)"
        print(f"| {name} | {tv:.2f} | {ti_ms[key]:.2f} | {tv / ti_ms[key]:.1f}x | "
              f"{ti_one[key]:.2f} | {tv / ti_one[key]:.1f}x | {tv_bytes} | "
              f"{ti_bytes} | {100.0 * (ti_bytes - tv_bytes) / tv_bytes:+.1f}% | {ident} |")
    print()
    print("torchimage ms: large PNGs (raw rows >= 64 KiB) deflate in two parts on two threads; "
          "1 thread: every stage on the calling thread. torchvision runs on one thread.")
    print()
    print("| workload | peak extra memory of save_image (first call, fresh process) | "
          "uint8 grid | file |")
    print("|---|---:|---:|---:|")
    for name, (extra, file_kib, pixels_kib) in memory.items():
        print(f"| {name} | {extra / 1024:.2f} MiB | {pixels_kib / 1024:.2f} MiB | "
              f"{file_kib / 1024:.2f} MiB |")


if __name__ == "__main__":
    sys.exit(main())
