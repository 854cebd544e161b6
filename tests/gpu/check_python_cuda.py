"""The Python drop-in on CUDA tensors, against torchvision (scripts/gpu-check.sh).

For CUDA float32, float16 and bfloat16 batches and several grid options:
  - torchimage.make_grid returns what torchvision.utils.make_grid returns
    (device, dtype, values; NaN where torchvision has NaN);
  - torchimage.save_image writes the pixels torchvision.utils.save_image
    writes (PNG, decoded by Pillow), and for JPEG the same bytes when Pillow's
    libjpeg-turbo encodes as torchimage's does, else pixels within 2 levels
    (said in the line);
  - torchimage.save_image of the CUDA tensor writes the same bytes as of the
    same tensor on the CPU, and torchimage.ImageWriter too;
  - torchimage.distributed over NCCL (1 rank, then 2 on one GPU or a skip
    where NCCL refuses that): the sheet is one process's bytes, every index
    written once.
Prints one line per check and "check_python_cuda: N passed, N failed".
Exit 0 when all passed, 1 otherwise, 77 without CUDA.
"""
import io
import os
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

if not torch.cuda.is_available():
    print("check_python_cuda: CUDA is not available: nothing run")
    sys.exit(77)

import torchvision  # noqa: E402
import torchvision.utils as tv  # noqa: E402

import torchimage as ti  # noqa: E402

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'PASS' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}", flush=True)


def batch(dtype, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(6, 3, 19, 23, generator=g, dtype=torch.float64) * 2.4 - 1.2
    return x.to(dtype)


def pixels(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


CASES = [
    ("plain", {}),
    ("normalize", {"normalize": True, "value_range": (-1, 1), "nrow": 3}),
    ("minmax-scale-each", {"normalize": True, "scale_each": True}),
    ("padding-padvalue", {"normalize": True, "value_range": (-1, 1), "padding": 5, "pad_value": 0.5}),
]

print(f"check_python_cuda: torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"Pillow {Image.__version__}, {torch.cuda.get_device_name(0)}")
out = tempfile.mkdtemp(prefix="torchimage-gpu-py-")
for dtype in (torch.float32, torch.float16, torch.bfloat16):
    dn = str(dtype).replace("torch.", "")
    cpu = batch(dtype)
    dev = cpu.cuda()
    for name, kw in CASES:
        what = f"{dn} {name}"
        try:
            g_ti = ti.make_grid(dev, **kw)
            g_tv = tv.make_grid(dev, **kw)
            same = (g_ti.device == g_tv.device and g_ti.dtype == g_tv.dtype and g_ti.shape == g_tv.shape
                    and torch.equal(g_ti.double().nan_to_num(-7), g_tv.double().nan_to_num(-7)))
            check(same, f"{what} make_grid == torchvision's", f"{g_ti.device} {g_ti.dtype} vs {g_tv.device} {g_tv.dtype}")
        except Exception as e:  # noqa: BLE001
            check(False, f"{what} make_grid", f"raised {e!r}")
        for fmt in ("png", "jpeg"):
            w = f"{what} {fmt}"
            try:
                buf_ti, buf_tv = io.BytesIO(), io.BytesIO()
                ti.save_image(dev, buf_ti, format=fmt, **kw)
                tv.save_image(dev, buf_tv, format=fmt, **kw)
                a, b = buf_ti.getvalue(), buf_tv.getvalue()
                if fmt == "png":
                    check(np.array_equal(pixels(a), pixels(b)), f"{w} save_image: torchvision's pixels")
                elif a == b:
                    check(True, f"{w} save_image: torchvision's bytes")
                else:
                    diff = np.abs(pixels(a) - pixels(b))
                    check(diff.max() <= 2, f"{w} save_image: bytes differ (another libjpeg-turbo), pixels within 2",
                          f"max {diff.max()}, mean {diff.mean():.4f}")
                buf_cpu = io.BytesIO()
                ti.save_image(cpu, buf_cpu, format=fmt, **kw)
                check(a == buf_cpu.getvalue(), f"{w} save_image: CUDA bytes == CPU bytes")
                p_dev = os.path.join(out, f"{dn}-{name}-writer.{fmt}")
                p_cpu = os.path.join(out, f"{dn}-{name}-cpu.{fmt}")
                writer = ti.ImageWriter()
                writer.save_image(dev, p_dev, **kw)
                writer.flush()
                ti.save_image(cpu, p_cpu, **kw)
                with open(p_dev, "rb") as f1, open(p_cpu, "rb") as f2:
                    check(f1.read() == f2.read(), f"{w} ImageWriter: CUDA file == CPU file")
            except Exception as e:  # noqa: BLE001
                check(False, w, f"raised {e!r}")


# torchimage.distributed over NCCL (issue 26): CUDA samples gathered through
# the group's own collectives (tests/gpu/nccl_rank.py, one process a rank).
# One GPU: a group of 1 rank, then 2 ranks on the same device, which NCCL may
# refuse ("Duplicate GPU detected"): then a skip with its reason.
def nccl_check(world):
    import shutil
    import subprocess
    if not torch.distributed.is_available() or not torch.distributed.is_nccl_available():
        print(f"SKIP nccl {world} rank(s): this torch has no NCCL")
        return
    folder = tempfile.mkdtemp(prefix=f"torchimage-nccl{world}-")
    rank_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nccl_rank.py")
    procs = [subprocess.Popen([sys.executable, rank_py, str(r), str(world), folder],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(world)]
    outs = []
    for r, proc in enumerate(procs):
        try:
            out, _ = proc.communicate(timeout=180)
            outs.append((r, proc.returncode, out))
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            check(False, f"nccl {world} rank(s)", f"rank {r} did not end within 180 s")
            return
    errors = [(r, out.strip()[-300:]) for r, rc, out in outs if rc != 0]
    if errors:
        if any("uplicate GPU" in out for _, out in errors):
            print(f"SKIP nccl {world} ranks on one GPU: NCCL refuses it ({errors[0][1]})")
        else:
            check(False, f"nccl {world} rank(s)", "; ".join(f"rank {r}: {o}" for r, o in errors))
        return
    ref = io.BytesIO()
    ti.save_image(batch(torch.float32, seed=11), ref, format="png", normalize=True, nrow=3)
    with open(os.path.join(folder, "sheet.png"), "rb") as f:
        check(f.read() == ref.getvalue(), f"nccl {world} rank(s): sheet == one process's bytes")
    names = sorted(os.listdir(os.path.join(folder, "each")))
    check(names == [f"{i:02}.png" for i in range(6)], f"nccl {world} rank(s): indices 0-5 once",
          str(names))
    shutil.rmtree(folder, ignore_errors=True)


for world in (1, 2):
    try:
        nccl_check(world)
    except Exception as e:  # noqa: BLE001
        check(False, f"nccl {world} rank(s)", f"raised {e!r}")

print(f"check_python_cuda: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
