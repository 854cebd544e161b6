#!/usr/bin/python3
"""Content classes for the PNG benchmarks, made here (no downloads), each a
batch of samples in the value range a training loop would hand to
save_image, with the grid options it would use.

    photos  3-channel photo crops (compare.photo_crops), [-1, 1]
    gray    1-channel photo crops (luma), [-1, 1]: written as RGB with R = G = B
    mnist   MNIST-like strokes: glyphs drawn from DejaVu fonts, blurred, on a
            near -1 background with slight noise, 1 channel, [-1, 1]
    flat    flat shapes (rectangles, ellipses, triangles) on gradients, 3 channels
    noise   uniform noise, 3 channels
    vae     pytorch/examples vae's sample_N.png: 64 x 1 x 28 x 28 sigmoid
            outputs in [0, 1] (blurred strokes), no normalization, nrow 8
    dcgan   PyTorch-GAN dcgan.py: 25 x 1 x 32 x 32 tanh outputs, nrow 5,
            normalize=True

contents(n, size, seed) returns {name: (tensor, grid kwargs)}.

    /usr/bin/python3 benchmarks/content.py --build build [--repeats 15] [--rounds 3]

prints docs/performance.md's table of content classes: per class (64-sample
sheets of 64x64 and 32x32, and the clients' sheets), torchvision.utils.
save_image's file size and time, and, as ratios to them, torchimage's
default PNG, its compression levels 1, 6 and 9, its two engines alone
(run-length, LZ77), libdeflate and ISA-L at their fast levels (same filter,
their deflate). torchvision is timed in this process, torchimage and the
other engines in benchmarks/torchimage_compare on the same tensors; time is
the median of --repeats calls. Each class is timed --rounds times, torchvision
then torchimage in each round, so that a ratio's two measurements are seconds
apart (this machine's speed drifts by a third over a minute); every ratio is
the median of its rounds. "identical" compares the decoded pixels of
torchimage's default file with torchvision's.

    /usr/bin/python3 benchmarks/content.py --save OUTDIR
only saves each class as OUTDIR/<name>.pt (torch.save).

    /usr/bin/python3 benchmarks/content.py --stages [--build build]
prints where the default save_image's wall time goes, per class: to_pixels,
the PNG in memory (encode_image), write_file of those bytes over the
previous file and to a new name, and save_image itself (medians of
--repeats rounds of torchimage_compare --stages, the median over --rounds),
beside torchvision's save_image and the issue's small-sheet limit (the
replacing write plus encoding the sheet's pixels at 1 GB/s).
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare import median_ms, photo_crops  # noqa: E402

FONTS = "/usr/share/fonts/truetype/dejavu"
NORM = {"normalize": True, "value_range": (-1, 1)}


def gray_crops(n, size, seed):
    x = photo_crops(n, size, seed)
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True).contiguous()


def glyphs(n, size, seed, blur=1.0):
    """n glyphs (digits and letters) in [0, 1], 1 channel, strokes near 1."""
    rng = np.random.default_rng(seed)
    fonts = sorted(f for f in os.listdir(FONTS) if f.endswith(".ttf"))
    chars = "0123456789ABCDEFGHKMNPRSWXYZ"
    out = np.zeros((n, 1, size, size), np.float32)
    for i in range(n):
        font = ImageFont.truetype(os.path.join(FONTS, fonts[rng.integers(len(fonts))]),
                                  int(size * rng.uniform(0.6, 0.85)))
        img = Image.new("L", (size, size), 0)
        d = ImageDraw.Draw(img)
        ch = chars[rng.integers(len(chars))]
        box = d.textbbox((0, 0), ch, font=font)
        x = (size - (box[2] - box[0])) / 2 - box[0] + rng.uniform(-size / 10, size / 10)
        y = (size - (box[3] - box[1])) / 2 - box[1] + rng.uniform(-size / 10, size / 10)
        d.text((x, y), ch, fill=255, font=font, stroke_width=int(rng.integers(0, 2)),
               stroke_fill=255)
        img = img.rotate(rng.uniform(-15, 15), resample=Image.BILINEAR)
        img = img.filter(ImageFilter.GaussianBlur(blur * size / 28))
        out[i, 0] = np.asarray(img, np.float32) / 255
    return torch.from_numpy(out)


def mnist_like(n, size, seed):
    g = torch.Generator().manual_seed(seed)
    x = glyphs(n, size, seed) * 2 - 1  # background -1, strokes up to 1
    x = x + 0.02 * torch.randn(x.shape, generator=g)  # a generator's slight noise
    return x.clamp(-1, 1).contiguous()


def flat_scenes(n, size, seed):
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 3, size, size), np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for i in range(n):
        c0, c1 = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)
        angle = rng.uniform(0, 2 * np.pi)
        t = (np.cos(angle) * xx + np.sin(angle) * yy + 1.5) / 3
        img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
        pil = Image.fromarray(np.zeros((size, size), np.uint8))
        for _ in range(rng.integers(2, 6)):
            mask = Image.new("L", (size, size), 0)
            d = ImageDraw.Draw(mask)
            a = rng.uniform(0, size, 2)
            b = a + rng.uniform(size / 8, size / 2, 2)
            kind = rng.integers(3)
            if kind == 0:
                d.rectangle([*a, *b], fill=255)
            elif kind == 1:
                d.ellipse([*a, *b], fill=255)
            else:
                d.polygon([tuple(a), (b[0], a[1]), tuple(rng.uniform(0, size, 2))], fill=255)
            m = np.asarray(mask, np.float32)[None] / 255
            img = img * (1 - m) + rng.uniform(-1, 1, 3)[:, None, None] * m
        del pil
        out[i] = img
    return torch.from_numpy(out).clamp(-1, 1).contiguous()


def noise(n, size, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((n, 3, size, size), generator=g) * 2 - 1).contiguous()


def contents(n=64, size=64, seed=0):
    return {
        "photos": (photo_crops(n, size, seed), dict(NORM)),
        "gray": (gray_crops(n, size, seed + 1), dict(NORM)),
        "mnist": (mnist_like(n, size, seed + 2), dict(NORM)),
        "flat": (flat_scenes(n, size, seed + 3), dict(NORM)),
        "noise": (noise(n, size, seed + 4), dict(NORM)),
    }


def clients(seed=0):
    """Sheets like the real clients': pytorch/examples vae, PyTorch-GAN dcgan."""
    vae = glyphs(64, 28, seed + 10, blur=1.3)  # decoder sigmoid: soft strokes in [0, 1]
    dcgan = (glyphs(25, 32, seed + 11, blur=0.8) * 2 - 1).clamp(-1, 1)
    g = torch.Generator().manual_seed(seed + 12)
    dcgan = (dcgan + 0.05 * torch.randn(dcgan.shape, generator=g)).clamp(-1, 1)
    return {
        "vae": (vae.contiguous(), {}),
        "dcgan": (dcgan.contiguous(), {"nrow": 5, "normalize": True}),
    }


def all_sheets(seed=0):
    """name -> (tensor, grid kwargs): every class at 64x64 and 32x32, the clients."""
    sheets = {}
    for name, v in contents(64, 64, seed).items():
        sheets[f"{name} 64x3x64x64"] = v
    for name, v in contents(64, 32, seed + 100).items():
        sheets[f"{name} 64x3x32x32"] = v
    sheets["vae sample 64x1x28x28"] = clients(seed)["vae"]
    sheets["dcgan 25x1x32x32 nrow 5"] = clients(seed)["dcgan"]
    return sheets


# Engines of the table: column title, torchimage_compare options.
ENGINES = [
    ("default", ""),
    ("level 1", "compression_level=1"),
    ("level 6", "compression_level=6"),
    ("level 9", "compression_level=9"),
    ("run-length only", "engine=rle"),
    ("LZ77 only", "engine=lz"),
    ("libdeflate 1", "engine=libdeflate:1"),
    ("libdeflate 2", "engine=libdeflate:2"),
    ("ISA-L 1", "engine=isal:1"),
]


def grid_options(kw):
    opts = [f"nrow={kw.get('nrow', 8)}", "format=png"]
    if kw.get("normalize"):
        opts.append("normalize=1")
    if "value_range" in kw:
        opts.append("value_range={},{}".format(*kw["value_range"]))
    return opts


def table(args):
    import numpy as np
    import statistics
    import torchvision
    import torchvision.utils as vutils
    torch.set_num_threads(1)
    work = tempfile.mkdtemp(prefix="torchimage-content-")
    sheets = all_sheets()
    exe = os.path.join(args.build, "benchmarks", "torchimage_compare")
    # Per round and class: torchvision timed here, then torchimage_compare on
    # the same class (its own workloads file), so that the two measurements
    # of a ratio are seconds apart: this machine's speed drifts by a third
    # over a minute. Each ratio is the median over the rounds of the
    # round's ratio.
    tv_bytes, tv_path = {}, {}
    ratios = {}  # (class, engine) -> [cpu ratio per round]; (class, 'wall') -> [...]
    tv_cpu_all = {}
    for _ in range(args.rounds):
        for i, (name, (x, kw)) in enumerate(sheets.items()):
            torch.save(x, os.path.join(work, f"in{i}.pt"))
            path = os.path.join(work, f"tv{i}.png")
            ms = median_ms(lambda: vutils.save_image(x, path, **kw), args.repeats)
            cpu0 = time.process_time()
            for _ in range(args.repeats):
                vutils.save_image(x, path, **kw)
            cpu = (time.process_time() - cpu0) * 1e3 / args.repeats
            tv_bytes[name], tv_path[name] = os.path.getsize(path), path
            tv_cpu_all.setdefault(name, []).append(cpu)
            cdir = os.path.join(work, f"c{i}")
            os.makedirs(cdir, exist_ok=True)
            lines = [f"w{i}_{j} ../in{i}.pt ../ti{i}_{j}.png {args.repeats} "
                     + " ".join(grid_options(kw) + ([extra] if extra else []))
                     for j, (_, extra) in enumerate(ENGINES)]
            with open(os.path.join(cdir, "workloads.txt"), "w") as f:
                f.write("\n".join(lines) + "\n")
            out = subprocess.run([exe, cdir], check=True, capture_output=True, text=True).stdout
            for l in out.splitlines():
                if not l.strip():
                    continue
                key, wall_ms, _, cpu_ms = l.split()[:4]
                j = int(key.split("_")[1])
                ratios.setdefault((name, j), []).append(cpu / float(cpu_ms))
                if j == 0:
                    ratios.setdefault((name, "wall"), []).append(ms / float(wall_ms))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"Pillow {Image.__version__}; median of {args.repeats} calls each, "
          f"median ratio over {args.rounds} rounds")
    print()
    print("Each torchimage cell: file size against torchvision's; speed-up in CPU time, "
          "one thread (torchvision's CPU time per save_image / the engine's, every stage "
          "on the calling thread); in brackets for the default, the speed-up in wall time "
          "(medians; torchimage deflates PNGs of 64 KiB of rows and more on two threads). "
          "Each ratio pairs measurements taken seconds apart and is the median over the rounds.")
    print()
    print("| content | torchvision bytes | torchvision ms (CPU) | "
          + " | ".join(t for t, _ in ENGINES) + " | default pixels |")
    print("|---|---:|---:|" + "---:|" * len(ENGINES) + "---|")
    for i, name in enumerate(sheets):
        cells = []
        for j in range(len(ENGINES)):
            b = os.path.getsize(os.path.join(work, f"ti{i}_{j}.png"))
            cell = (f"{100.0 * (b - tv_bytes[name]) / tv_bytes[name]:+.1f}% "
                    f"{statistics.median(ratios[(name, j)]):.1f}x")
            if j == 0:
                cell += f" ({statistics.median(ratios[(name, 'wall')]):.1f}x)"
            cells.append(cell)
        a = np.asarray(Image.open(tv_path[name]))
        b = np.asarray(Image.open(os.path.join(work, f"ti{i}_0.png")))
        same = "identical" if a.shape == b.shape and bool((a == b).all()) else "DIFFER"
        print(f"| {name} | {tv_bytes[name]} | {statistics.median(tv_cpu_all[name]):.2f} | "
              + " | ".join(cells) + f" | {same} |")


def stages(args):
    import statistics
    import torchvision.utils as vutils
    torch.set_num_threads(1)
    work = tempfile.mkdtemp(prefix="torchimage-stages-")
    sheets = all_sheets()
    exe = os.path.join(args.build, "benchmarks", "torchimage_compare")
    cells = {}  # (class, column) -> [per round]
    for _ in range(args.rounds):
        for i, (name, (x, kw)) in enumerate(sheets.items()):
            torch.save(x, os.path.join(work, f"in{i}.pt"))
            path = os.path.join(work, f"tv{i}.png")
            cells.setdefault((name, "tv"), []).append(
                median_ms(lambda: vutils.save_image(x, path, **kw), args.repeats))
            cdir = os.path.join(work, f"c{i}")
            os.makedirs(cdir, exist_ok=True)
            with open(os.path.join(cdir, "workloads.txt"), "w") as f:
                f.write(f"s{i} ../in{i}.pt ../ti{i}.png {args.repeats} "
                        + " ".join(grid_options(kw)) + "\n")
            out = subprocess.run([exe, cdir, "--stages"], check=True, capture_output=True,
                                 text=True).stdout.split()
            cells[(name, "bytes")] = [int(out[1])]
            for k, col in enumerate(("pixels", "encode", "replace", "new", "save")):
                cells.setdefault((name, col), []).append(float(out[2 + k]))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"torch {torch.__version__}; ms, medians of {args.repeats} calls, the median over "
          f"{args.rounds} rounds")
    print()
    print("| content | sheet pixels (KB) | file bytes | torchvision save_image | to_pixels | "
          "encode_image | write_file, replacing | write_file, new name | save_image | "
          "limit | save_image / limit | torchvision / save_image |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (x, kw) in sheets.items():
        m = {col: statistics.median(cells[(name, col)])
             for col in ("tv", "pixels", "encode", "replace", "new", "save")}
        n = vutils.make_grid(x, nrow=kw.get("nrow", 8)).numel()  # 3 channels, uint8 bytes
        limit = m["replace"] + n / 1e6  # 1 GB/s: a byte a nanosecond
        print(f"| {name} | {n / 1e3:.0f} | {cells[(name, 'bytes')][0]} | {m['tv']:.2f} | "
              f"{m['pixels']:.3f} | {m['encode']:.3f} | {m['replace']:.3f} | {m['new']:.3f} | "
              f"{m['save']:.3f} | {limit:.3f} | {m['save'] / limit:.2f} | "
              f"{m['tv'] / m['save']:.1f}x |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3,
                    help="torchvision-then-torchimage rounds per class; ratios are their medians")
    ap.add_argument("--save", metavar="OUTDIR", help="only save the classes' tensors there")
    ap.add_argument("--stages", action="store_true",
                    help="where the default save_image's time goes, beside torchvision's")
    args = ap.parse_args()
    if args.stages:
        stages(args)
        return
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        for name, (x, _) in {**contents(), **clients()}.items():
            torch.save(x, os.path.join(args.save, f"{name}.pt"))
        return
    table(args)


if __name__ == "__main__":
    main()
