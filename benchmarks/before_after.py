#!/usr/bin/python3
"""Before/after: the same workloads on two builds of torchimage, interleaved.

A change that must not slow anything (a refactoring) is measured here: each
round runs the old build, then the new one, on the same inputs, so that the
shared machine's drift hits both alike; the result is the ratio of medians
(old / new: above 1 means the new build is faster), and whether the two
builds wrote the same bytes.

    /usr/bin/python3 benchmarks/before_after.py OLD_BUILD NEW_BUILD [--rounds 5]

Workloads: benchmarks/compare.py's sheets (64x3x64x64 PNG by default, at
level 6, and JPEG q75; 16x3x256x256 PNG), through torchimage_compare, and the
per-sample export of --export-n 3x64x64 samples (save_images), through
torchimage_export. Both builds need their benchmarks/ targets.
"""

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (photo_crops: the inputs compare.py times)


def run(exe, *args):
    return subprocess.run([exe, *map(str, args)], check=True, capture_output=True,
                          text=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=15, help="timed calls per sheet workload")
    ap.add_argument("--export-n", type=int, default=5000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    builds = {"old": args.old, "new": args.new}
    work = tempfile.mkdtemp(prefix="torchimage-before-after-")
    torch.save(compare.photo_crops(64, 64, seed=0), os.path.join(work, "sheet64.pt"))
    torch.save(compare.photo_crops(16, 256, seed=1), os.path.join(work, "big16.pt"))
    torch.save(compare.photo_crops(args.export_n, 64, seed=2), os.path.join(work, "export.pt"))
    norm = "normalize=1 value_range=-1,1"
    workloads = {
        "64-sheet PNG (default)": f"sheet64.pt {{}}.png {args.repeats} nrow=8 {norm} format=png",
        "64-sheet PNG level 6": f"sheet64.pt {{}}.png {args.repeats} nrow=8 {norm} format=png "
                                "compression_level=6",
        "64-sheet JPEG q75": f"sheet64.pt {{}}.jpg {args.repeats} nrow=8 {norm} format=jpeg",
        "16x256 nrow 4 PNG": f"big16.pt {{}}.png {args.repeats} nrow=4 {norm} format=png",
    }
    times = {(w, b): [] for w in list(workloads) + ["export"] for b in builds}
    outputs = {}
    for r in range(args.rounds):
        for b, build in builds.items():
            d = os.path.join(work, b)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "workloads.txt"), "w") as f:
                for i, spec in enumerate(workloads.values()):
                    line = spec.replace("{}", f"w{i}").split(" ", 1)
                    f.write(f"w{i} ../{line[0]} {line[1]}\n")
            out = run(os.path.join(build, "benchmarks", "torchimage_compare"), d)
            ms = {l.split()[0]: float(l.split()[1]) for l in out.splitlines() if l.strip()}
            for i, w in enumerate(workloads):
                times[(w, b)].append(ms[f"w{i}"])
                ext = workloads[w].split()[1].rsplit(".", 1)[1]
                outputs[(w, b)] = os.path.join(d, f"w{i}.{ext}")
            exp = os.path.join(work, f"export-{b}")
            shutil.rmtree(exp, ignore_errors=True)
            out = run(os.path.join(build, "benchmarks", "torchimage_export"), "export",
                      os.path.join(work, "export.pt"), exp, "--repeats", 1)
            ips = [float(l.split()[7]) for l in out.splitlines() if l.startswith("run ")]
            times[("export", b)].append(1000.0 * args.export_n / ips[0])
            outputs[("export", b)] = [l.split(" ", 1)[1] for l in out.splitlines()
                                      if l.startswith("dir ")][0]
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    print(f"median of {args.rounds} interleaved rounds (each sheet: the median of "
          f"{args.repeats} calls); ratio = old / new (> 1: new is faster)\n")
    print("| workload | old ms | new ms | old / new | same bytes |")
    print("|---|---:|---:|---:|---|")
    for w in list(workloads) + ["export"]:
        old, new = statistics.median(times[(w, "old")]), statistics.median(times[(w, "new")])
        if w == "export":
            a, b = outputs[(w, "old")], outputs[(w, "new")]
            names = sorted(n for n in os.listdir(a) if n.endswith(".png"))
            same = names == sorted(n for n in os.listdir(b) if n.endswith(".png")) and all(
                filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False)
                for n in names)
            label = f"export {args.export_n} x 3x64x64 PNG (save_images)"
        else:
            same = filecmp.cmp(outputs[(w, "old")], outputs[(w, "new")], shallow=False)
            label = w
        print(f"| {label} | {old:.3f} | {new:.3f} | {old / new:.3f} | {'yes' if same else 'NO'} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
