#!/usr/bin/python3
"""A/B of the default PNG's deflate engines between two revisions, in one process.

    /usr/bin/python3 benchmarks/engine_ab.py [--a REV] [--b REV|worktree]
        [--pairs N] [--mode 0-3] [CLASS ...]

The default PNG's speed is its deflate engines' (src/codecs/png/deflate_*.cpp),
and this machine's speed drifts by a third between runs a minute apart, so
that two builds timed one after the other cannot show a 5% change. This
script:

1. dumps the filtered rows of every class of content.py (torchvision's own
   files, inflated: torchimage filters them the same way) to --work, with
   torchvision's IDAT size for each (once; kept for later runs);
2. builds engine_ab.cpp against the engine sources of --a (default HEAD) and
   --b (default: the working tree), each under its own namespace, into one
   binary;
3. runs it: per class, the two engines in alternation, --pairs times (the
   default engine's probe and two parts on one thread, as idat_default.cpp
   cuts them), and prints each one's size against torchvision's, its median
   time, and the median of the pairs' ratios B/A.

--mode 1, 2, 3 force the run-length engine, LZ77 at pixel starts, LZ77 at
every position. The parameters idat_default.cpp gives the engines (walks of
4 steps at pixel starts and 32 elsewhere, two parts from 64 KiB) are
engine_ab.cpp's own, not the revision's: a revision from before session 16
walked 8 steps at pixel starts (ENGINE_AB_A_PIXEL_CHAIN=8). Classes: photos, gray, mnist, flat, noise, each also as
...32 (the 32x32 sheets), vae, dcgan. Environment variables
ENGINE_AB_A_PIXEL_CHAIN, ENGINE_AB_B_FLAT_CHAIN and the like override
either side's walks. Needs Debian's python3-torch and python3-torchvision
(the interpreter /usr/bin/python3), g++ and zlib.
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def short_name(name):
    first = name.split()[0]
    if first in ("vae", "dcgan"):
        return first
    return first + ("" if "64x64" in name else "32")


def idat_rows(path):
    """The PNG's inflated IDAT, width, channels, and the IDAT's size."""
    data = open(path, "rb").read()
    pos, idat, width, channels = 8, b"", 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind == b"IHDR":
            width, _, depth, colour = struct.unpack(">IIBB", data[pos + 8:pos + 18])
            assert depth == 8, "8-bit PNGs only"
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    return zlib.decompress(idat), width, channels, len(idat)


def dump_rows(work):
    manifest = os.path.join(work, "manifest.txt")
    if os.path.exists(manifest):
        return manifest
    import torch
    import torchvision.utils as vutils
    sys.path.insert(0, HERE)
    from content import all_sheets
    torch.set_num_threads(1)
    lines = []
    for name, (x, kw) in all_sheets().items():
        short = short_name(name)
        png = os.path.join(work, f"tv_{short}.png")
        vutils.save_image(x, png, **kw)
        rows, width, channels, idat = idat_rows(png)
        raw = os.path.join(work, f"{short}.raw")
        open(raw, "wb").write(rows)
        lines.append(f"{short} {width * channels + 1} {channels} {raw} {idat}\n")
    open(manifest, "w").writelines(lines)
    return manifest


def sources(rev, work, side):
    """A directory holding src/ of `rev` ('worktree': this checkout's)."""
    if rev == "worktree":
        return ROOT
    out = os.path.join(work, f"src-{side}")
    subprocess.run(["rm", "-rf", out], check=True)
    os.makedirs(out)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", out], input=archive, check=True)
    return out


def build(a_root, b_root, work):
    import torch.utils.cpp_extension as ext
    includes = [f"-isystem{p}" for p in ext.include_paths()]
    libdir = os.path.join(os.path.dirname(ext.include_paths()[0]), "lib")
    flags = ["g++", "-O3", "-DNDEBUG", "-std=c++17", "-I" + os.path.join(ROOT, "include")] + includes
    cpp = os.path.join(HERE, "engine_ab.cpp")
    objects = []
    for side, root in (("A", a_root), ("B", b_root)):
        ns = f"-Dtorchimage=torchimage_ab_{side.lower()}"
        src = os.path.join(root, "src")
        for unit in ("deflate_lz.cpp", "deflate_rle.cpp"):
            obj = os.path.join(work, f"{side}-{unit}.o")
            subprocess.run(flags + ["-I" + src, ns, "-c", os.path.join(src, "codecs", "png", unit),
                                    "-o", obj], check=True)
            objects.append(obj)
        obj = os.path.join(work, f"{side}-side.o")
        subprocess.run(flags + ["-I" + src, ns, f"-DENCODE_NAME=encode_{side.lower()}",
                                f'-DSIDE="{side}"', "-c", cpp, "-o", obj], check=True)
        objects.append(obj)
    binary = os.path.join(work, "engine_ab")
    subprocess.run(flags + ["-DENGINE_AB_MAIN", cpp] + objects +
                   ["-o", binary, "-L" + libdir, "-Wl,-rpath," + libdir, "-lc10", "-lz"], check=True)
    return binary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", default="HEAD", help="revision of the A side (default HEAD)")
    ap.add_argument("--b", default="worktree", help="revision of the B side (default: the working tree)")
    ap.add_argument("--pairs", type=int, default=30)
    ap.add_argument("--mode", type=int, default=0, choices=range(4))
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "torchimage-engine-ab"))
    ap.add_argument("classes", nargs="*")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    manifest = dump_rows(args.work)
    binary = build(sources(args.a, args.work, "a"), sources(args.b, args.work, "b"), args.work)
    print(f"A: {args.a}, B: {args.b}; {args.pairs} pairs a class, mode {args.mode}\n", flush=True)
    subprocess.run([binary, manifest, str(args.pairs), str(args.mode)] + args.classes, check=True)


if __name__ == "__main__":
    main()
