#!/usr/bin/python3
"""Export benchmark: torchvision's per-sample save_image loop vs torchimage.

    /usr/bin/python3 benchmarks/export.py --build build-export [--parts abcd]

Parts (one markdown table each, after one machine line):
  (a) 50,000 3x64x64 photo crops in [0, 1] (fixed seed) saved as one .pt;
      torchvision's loop `for i in range(N): save_image(x[i], f"{d}/{i:05}.png")`
      timed on the first --tv64 samples (2,000 by default: the full loop takes
      minutes), torchimage's save_images (benchmarks/export.cpp, default
      threads) on all 50,000; images/s, bytes per file, and decoded pixels
      compared on a sample (against torchvision's files, and against
      torchvision's quantization of the tensor anywhere in the 50,000).
  (b) the same for 2,000 3x256x256 samples (torchvision on all of them).
  (c) the caller stall of ImageWriter::save_image on the 64-sheet
      (64x3x64x64, normalize, value_range (-1, 1)): median / p99 / max over
      --calls calls, 20 ms of sleep or of busy computation between calls,
      beside torchvision's full save_image of the same sheet.
  (d) load test: 100,000 3x16x16 images through one ImageWriter with
      max_pending_bytes 1 MiB from 2 producer threads; every file decoded
      (Pillow) and compared; peak RSS (getrusage); one injected failing path,
      which must be reported exactly once.

Each table ends with its target, checked as issue 4 states it and, for the two
absolute ones, as the ratio to torchvision measured beside it (TV_MS_PER_64 and
TV_MS_SHEET below: what torchvision took here when the issue was filed).

Everything is written under a temporary directory in /tmp (--out-dir), deleted only at
the end: on ext4 without a journal (this machine's /) the inode allocator
skips inodes freed within about the dirty-expire interval (30 s here), testing
each one (recently_deleted() in perf), so deleting tens of thousands of files
slows the file creations that follow, whoever makes them.

Run with Debian's interpreter (/usr/bin/python3: torch 1.13, torchvision
0.14), on a quiet machine: the script waits (--max-load) until
the 1-minute load average is low enough, and prints the load around each part.
"""
import argparse
import os
import platform
import random
import shutil
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
sys.path.insert(0, HERE)
import compare  # noqa: E402
from compare import photo_crops  # noqa: E402  (same photos, same crops)


def load1():
    return os.getloadavg()[0]


def wait_for_quiet(max_load, tries, interval):
    """Waits until the 1-minute load is <= max_load (at most `tries` checks)."""
    for attempt in range(tries):
        load = load1()
        if load <= max_load:
            return load
        print(f"# load {load:.2f} > {max_load}: waiting {interval} s ({attempt + 1}/{tries})",
              file=sys.stderr, flush=True)
        time.sleep(interval)
    return load1()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_state():
    try:
        head = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--", "../src",
                                "../include"], capture_output=True, text=True).stdout.strip()
        return head + (" (src/include modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_exe(exe, *args):
    out = subprocess.run([exe, *map(str, args)], check=True, capture_output=True, text=True)
    return out.stdout


def quantize(x):
    """torchvision's quantization of one (C, H, W) image: (H, W, C) uint8."""
    return x.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()


def decode(path):
    return np.asarray(Image.open(path).convert("RGB"))


def mean_bytes(paths):
    return statistics.mean(os.path.getsize(p) for p in paths)


def timed_torchvision_loop(x, d, n):
    """torchvision's per-sample loop over x[:n]; returns images/s and the
    CPU seconds (user + system, this process) per image."""
    os.makedirs(d, exist_ok=True)
    for i in range(min(n, 20)):  # warm-up (imports, allocator)
        vutils.save_image(x[i], f"{d}/warm{i:05}.png")
    for i in range(min(n, 20)):
        os.remove(f"{d}/warm{i:05}.png")
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        vutils.save_image(x[i], f"{d}/{i:05}.png")
    return n / (time.perf_counter() - t0), (time.process_time() - c0) / n


def export_part(label, exe, work, x, n_tv, repeats, n_check, seed):
    """Parts (a) and (b): returns the table row values."""
    pt = os.path.join(work, f"{label}.pt")
    torch.save(x, pt)
    # Write the input's pages out before timing anything: otherwise the
    # kernel flushes this benchmark's own GBs of input while the loops run.
    os.sync()
    load_before = load1()
    tv_dir = os.path.join(work, f"{label}-torchvision")
    tv_ips, tv_cpu = timed_torchvision_loop(x, tv_dir, n_tv)
    out = run_exe(exe, "export", pt, os.path.join(work, f"{label}-torchimage"),
                  "--repeats", repeats)
    runs = [float(l.split()[7]) for l in out.splitlines() if l.startswith("run ")]
    cpus = [float(l.split()[9]) for l in out.splitlines() if l.startswith("run ")]
    floor = [l.split() for l in out.splitlines() if l.startswith("floor ")][0]
    floor_ips, floor_cpu = float(floor[6]), float(floor[8]) / float(floor[2])
    ti_dir = [l.split(" ", 1)[1] for l in out.splitlines() if l.startswith("dir ")][0]
    load_after = load1()
    os.remove(pt)

    n = x.shape[0]
    rng = random.Random(seed)
    vs_tv = rng.sample(range(n_tv), min(n_check, n_tv))
    vs_q = rng.sample(range(n), min(n_check, n))
    same_tv = sum(bool((decode(f"{tv_dir}/{i:05}.png") == decode(f"{ti_dir}/{i:05}.png")).all())
                  for i in vs_tv)
    same_q = sum(bool((decode(f"{ti_dir}/{i:05}.png") == quantize(x[i])).all()) for i in vs_q)
    present = sum(1 for name in os.listdir(ti_dir) if name.endswith(".png"))
    tv_bytes = mean_bytes([f"{tv_dir}/{i:05}.png" for i in range(n_tv)])
    ti_bytes = mean_bytes([f"{ti_dir}/{i:05}.png" for i in range(n_tv)])
    return dict(n=n, n_tv=n_tv, tv_ips=tv_ips, runs=runs, ti_ips=statistics.median(runs),
                tv_cpu=tv_cpu, ti_cpu=statistics.median(cpus) / n,
                same_tv=same_tv, n_vs_tv=len(vs_tv), same_q=same_q, n_vs_q=len(vs_q),
                present=present, tv_bytes=tv_bytes, ti_bytes=ti_bytes,
                floor_ips=floor_ips, floor_cpu=floor_cpu,
                load=(load_before, load_after))


# Issue 4 states two targets in absolute terms on this machine, next to what
# torchvision took here then: 0.84 ms per 3x64x64 PNG, about 60 ms for the
# 64-sheet. The machine is shared and its speed swings by a factor of two over
# a day, so each is also checked as the ratio to torchvision measured in the
# same run: 20,000 images/s is 16.8x a 0.84 ms loop; 0.3 ms is 1/200 of 60 ms.
TV_MS_PER_64 = 0.84
TV_MS_SHEET = 60.0


def met(ok):
    return "met" if ok else "NOT met"


def print_export_table(title, shape, r, target):
    ratio = r["ti_ips"] / r["tv_ips"]
    print(f"### {title}")
    print()
    print("| workload | torchvision loop | torchimage save_images | speed-up "
          "| CPU µs/image tv / ti | ti CPU-bound ceiling, 2 cores | bytes/file tv / ti "
          "| files alone: CPU µs/file, ceiling | files | pixels identical |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    runs = ", ".join(f"{v:,.0f}" for v in r["runs"])
    ident = (f"{r['same_tv']}/{r['n_vs_tv']} vs torchvision's files, "
             f"{r['same_q']}/{r['n_vs_q']} vs torchvision's quantization")
    print(f"| {r['n']:,} x {shape} PNG | {r['tv_ips']:,.0f} images/s (first {r['n_tv']:,} timed) "
          f"| {r['ti_ips']:,.0f} images/s (all {r['n']:,}; median of {len(r['runs'])}: {runs}) "
          f"| {ratio:.1f}x | {r['tv_cpu'] * 1e6:,.0f} / {r['ti_cpu'] * 1e6:,.0f} "
          f"| {2 / r['ti_cpu']:,.0f} images/s "
          f"| {r['tv_bytes']:,.0f} / {r['ti_bytes']:,.0f} "
          f"| {r['floor_cpu'] * 1e6:,.0f}, {2 / r['floor_cpu']:,.0f} images/s "
          f"| {r['present']:,}/{r['n']:,} | {ident} |")
    print()
    if target.get("images_per_s"):
        goal = target["images_per_s"]
        goal_ratio = goal * TV_MS_PER_64 / 1000
        verdict = (f"Target: >= {goal:,} images/s for torchimage on 2 cores, {met(r['ti_ips'] >= goal)} "
                   f"({r['ti_ips']:,.0f}); as a ratio to torchvision's loop beside it (issue 4's "
                   f"{TV_MS_PER_64} ms per image: >= {goal_ratio:.1f}x), {met(ratio >= goal_ratio)} "
                   f"({ratio:.1f}x)")
    else:
        verdict = (f"Target: >= {target['ratio']}x torchvision, {met(ratio >= target['ratio'])} "
                   f"({ratio:.1f}x)")
    print(f"{verdict}. CPU µs/image: user + system CPU time per image (torchvision: "
          "this process over its timed loop; torchimage: all threads, median run); the ceiling "
          "is 2 cores / that, what an otherwise idle machine would allow. Files alone: the "
          "first file's bytes written as many times by torchimage::write_file (the same "
          "atomic sink, same threads, no tensor work): the file system's share, and the most "
          "any encoder could reach on these 2 cores. 1-minute load "
          f"before / after: {r['load'][0]:.2f} / {r['load'][1]:.2f}.")
    print()


def stall_verdict(rows, tv_ms, goal_ms=0.3):
    """Issue 4's stall target, absolute and as the ratio to torchvision's
    save_image of the same sheet, for the copied calls and the handed-over ones."""
    parts = []
    for kind, hands in (("copied", ("no", "rewrite")), ("handed over", ("yes",))):
        medians = [statistics.median(s) for _, hand, s, _ in rows if hand in hands]
        if not medians:
            continue
        worst = max(medians)
        parts.append(f"{kind}: worst median {worst:.3f} ms, {met(worst <= goal_ms)}; "
                     f"torchvision / stall {tv_ms / worst:,.0f}x against "
                     f"{TV_MS_SHEET / goal_ms:,.0f}x, {met(tv_ms / worst >= TV_MS_SHEET / goal_ms)}")
    return (f"Target: stall median <= {goal_ms} ms (issue 4, where torchvision took about "
            f"{TV_MS_SHEET:.0f} ms for the sheet: >= {TV_MS_SHEET / goal_ms:,.0f}x less than "
            f"torchvision's save_image beside it). " + "; ".join(parts) + ".")


def part_stall(exe, work, calls):
    sheet = photo_crops(64, 64, seed=0)  # compare.py's 64-sheet, in [-1, 1]
    pt = os.path.join(work, "sheet64.pt")
    torch.save(sheet, pt)
    os.sync()
    kw = dict(normalize=True, value_range=(-1, 1))
    load_before = load1()
    tv_path = os.path.join(work, "sheet-tv.png")
    vutils.save_image(sheet, tv_path, **kw)
    tv = []
    for _ in range(30):
        t0 = time.perf_counter()
        vutils.save_image(sheet, tv_path, **kw)
        tv.append((time.perf_counter() - t0) * 1e3)
    rows = []
    for gap, hand in (("sleep", "no"), ("busy", "no"), ("sleep", "rewrite"), ("busy", "rewrite"),
                      ("sleep", "yes"), ("busy", "yes")):
        out = run_exe(exe, "stall", pt, os.path.join(work, f"stall-{gap}-{hand}"), "--calls",
                      calls, "--gap-ms", 20, "--gap", gap,
                      "--hand-over", "yes" if hand == "yes" else "no",
                      "--rewrite", "yes" if hand == "rewrite" else "no")
        stalls = [float(v) for v in out.splitlines()[0].split()[1:]]
        last = out.splitlines()[1].split(" ", 1)[1]
        same = bool((decode(last) == decode(tv_path)).all())
        rows.append((gap, hand, stalls, same))
    load_after = load1()
    os.remove(pt)
    print("### (c) Caller stall: ImageWriter::save_image of the 64-sheet")
    print()
    tv_ms = statistics.median(tv)
    print("| call | between calls | calls | stall median ms | p99 ms | max ms | mean ms | "
          "torchvision save_image median ms | torchvision / stall | sheet pixels = torchvision's |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for gap, hand, stalls, same in rows:
        what = "20 ms sleep" if gap == "sleep" else "20 ms busy computation (1 core)"
        call = {"yes": "`save_image(std::move(output), ...)` (kept)",
                "rewrite": "`save_image(x, ...)` (copied, x rewritten by the step)",
                "no": "`save_image(x, ...)` (copied, x untouched since the last call)"}[hand]
        print(f"| {call} | {what} | {len(stalls)} | {statistics.median(stalls):.3f} | "
              f"{np.percentile(stalls, 99):.3f} | {max(stalls):.3f} | "
              f"{statistics.mean(stalls):.3f} | {tv_ms:.2f} | "
              f"{tv_ms / statistics.median(stalls):,.0f}x | {'yes' if same else 'NO'} |")
    print()
    print("64x3x64x64 in [-1, 1], normalize=True, value_range=(-1, 1); one ImageWriter (default "
          "options, one worker per core), 10 warm-up calls not counted; (copied): the same "
          "tensor every call, which the writer must copy, either untouched since the previous "
          "call or rewritten in place by the step just before the call (x.copy_(output), as a "
          "training step that writes the sheet does: the data is then in the cache); (kept): "
          "each step's output, a fresh tensor handed over, which the writer keeps; "
          "torchvision: median of "
          f"30 calls. {stall_verdict(rows, tv_ms)} 1-minute load before / after: "
          f"{load_before:.2f} / {load_after:.2f}.")
    print()


def part_load(exe, work, x64, n, producers, max_pending):
    # 3x16x16 images: the 64x64 crops pooled 4x4, and their mirror images.
    x16 = F.avg_pool2d(x64, 4)
    x16 = torch.cat([x16, x16.flip(-1)])[:n]
    assert x16.shape[0] == n, f"need {n} samples, have {x16.shape[0]}"
    u8 = x16.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).contiguous().numpy()
    del x16
    raw = os.path.join(work, "load.u8")
    u8.tofile(raw)
    out_dir = os.path.join(work, "load")
    load_before = load1()
    out = run_exe(exe, "load", raw, n, out_dir, "--producers", producers,
                  "--max-pending", max_pending, "--fail-at", n // (4 * producers))
    load_after = load1()
    os.remove(raw)
    lines = out.splitlines()
    f = lines[0].split()
    stats = dict(zip(f[0::2], f[1::2]))
    messages = [l.split(" ", 1)[1] for l in lines if l.startswith("failure_message ")]
    bad_path = [l.split(" ", 1)[1] for l in lines if l.startswith("bad_path ")][0]
    names = sorted(os.listdir(out_dir))
    expected = [f"{i:06}.png" for i in range(n)]
    present = len(set(names) & set(expected))
    extra = len(names) - present
    right = 0
    bad = []
    for i in range(n):
        try:
            ok = bool((decode(os.path.join(out_dir, expected[i])) ==
                       u8[i].transpose(1, 2, 0)).all())
        except (OSError, ValueError):
            ok = False
        right += ok
        if not ok and len(bad) < 5:
            bad.append(i)
    reported_once = len(messages) == 1 and bad_path in messages[0]
    rss_load = int(stats["rss_after_load_kib"]) / 1024
    rss_peak = int(stats["peak_rss_kib"]) / 1024
    hwm = int(stats["vmhwm_kib"]) / 1024
    print(f"### (d) Load test: {n:,} 3x16x16 images, one ImageWriter, {producers} producers, "
          f"max_pending_bytes {max_pending:,}")
    print()
    print("| images | seconds | images/s | files present | decoded, right pixels | extra files | "
          "RSS after input loaded | peak RSS (getrusage) | peak - loaded | "
          "injected failure reported |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(f"| {n:,} | {float(stats['seconds']):.2f} | {float(stats['images_per_s']):,.0f} | "
          f"{present:,}/{n:,} | {right:,}/{n:,} | {extra} | {rss_load:.0f} MiB | "
          f"{rss_peak:.0f} MiB | {rss_peak - rss_load:.1f} MiB | "
          f"{'exactly once' if reported_once else f'{len(messages)} times'} |")
    print()
    print(f"Inputs: {n * 3 * 16 * 16 / 2**20:.0f} MiB of uint8 pixels read into one tensor; peak "
          f"RSS is getrusage's ru_maxrss of the test's own process (VmHWM: {hwm:.0f} MiB); "
          "each producer hands the writer a fresh float image (pixels / 255). Every file decoded "
          "with Pillow and compared with its pixels. The injected job (a path in a missing "
          f"directory) was reported as: "
          + ("; ".join(f"`{m}`" for m in messages) if messages else "(never)")
          + (f". Wrong or missing: {bad}" if bad else "")
          + f". 1-minute load before / after: {load_before:.2f} / {load_after:.2f}.")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-export"))
    ap.add_argument("--photos", default=compare.PHOTOS, help="the photos the crops come from")
    ap.add_argument("--parts", default="abcd")
    ap.add_argument("--out-dir", default="/tmp",
                    help="where the files go (a temporary folder inside it): /tmp is this "
                         "machine's disk; /dev/shm (tmpfs) shows the work without the disk's")
    ap.add_argument("--n64", type=int, default=50000)
    ap.add_argument("--tv64", type=int, default=2000, help="torchvision samples timed in (a)")
    ap.add_argument("--n256", type=int, default=2000)
    ap.add_argument("--tv256", type=int, default=None, help="default: all of --n256")
    ap.add_argument("--repeats", type=int, default=3, help="torchimage runs (median)")
    ap.add_argument("--check", type=int, default=500, help="files compared per check")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--load-n", type=int, default=100000)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--max-pending", type=int, default=1 << 20)
    ap.add_argument("--max-load", type=float, default=2.5)
    ap.add_argument("--wait-tries", type=int, default=10)
    ap.add_argument("--wait-s", type=int, default=60)
    args = ap.parse_args()
    compare.PHOTOS = args.photos  # photo_crops reads it
    exe = os.path.join(args.build, "benchmarks", "torchimage_export")
    if not os.access(exe, os.X_OK):
        sys.exit(f"{exe} not found: build the target torchimage_export first")

    start_load = wait_for_quiet(args.max_load, args.wait_tries, args.wait_s)
    info = run_exe(exe, "info").split()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; torch {torch.__version__} "
          f"({torch.get_num_threads()} intra-op threads), torchvision {torchvision.__version__}, "
          f"Pillow {Image.__version__}; LibTorch {info[1]}, torchimage {info[3]} at {git_state()} "
          f"(save_images/ImageWriter threads: {info[5]}); 1-minute load at start {start_load:.2f}")
    print()
    print(f"command: `/usr/bin/python3 benchmarks/export.py {' '.join(sys.argv[1:])}`")
    print()

    work = tempfile.mkdtemp(prefix="torchimage-export-", dir=args.out_dir)
    fs_type = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", work], capture_output=True,
                             text=True).stdout.split("\n")[0].strip() or "file system unknown"
    print(f"files written under {args.out_dir} ({fs_type})")
    print()
    try:
        x64 = None
        if "a" in args.parts or "d" in args.parts:
            t0 = time.perf_counter()
            x64 = ((photo_crops(args.n64, 64, seed=4) + 1) / 2).clamp_(0, 1)
            print(f"# built {args.n64} 64x64 crops in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)
        if "a" in args.parts:
            wait_for_quiet(args.max_load, args.wait_tries, args.wait_s)
            r = export_part("x64", exe, work, x64, args.tv64, args.repeats, args.check, 10)
            print_export_table("(a) Per-sample export, 3x64x64", "3x64x64", r,
                               dict(images_per_s=20000))
        if "b" in args.parts:
            x256 = ((photo_crops(args.n256, 256, seed=5) + 1) / 2).clamp_(0, 1)
            wait_for_quiet(args.max_load, args.wait_tries, args.wait_s)
            r = export_part("x256", exe, work, x256, args.tv256 or args.n256, args.repeats,
                            args.check, 11)
            del x256
            print_export_table("(b) Per-sample export, 3x256x256", "3x256x256", r,
                               dict(ratio=15))
        if "c" in args.parts:
            wait_for_quiet(args.max_load, args.wait_tries, args.wait_s)
            part_stall(exe, work, args.calls)
        if "d" in args.parts:
            wait_for_quiet(args.max_load, args.wait_tries, args.wait_s)
            part_load(exe, work, x64, args.load_n, args.producers, args.max_pending)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"1-minute load at the end: {load1():.2f}")


if __name__ == "__main__":
    sys.exit(main())
