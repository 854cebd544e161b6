"""Reads torchimage's TensorBoard event files back with the real tensorboard
package (its EventAccumulator and event file loader, which check both CRCs
of every record) and compares them with independent truth: torchvision's
save_image pixels, the C++ to_pixels, the scalar values as 32-bit floats,
and torch.utils.tensorboard's own make_histogram of the same values.

  check_tensorboard.py SUMMARY_FIXTURE OUT_DIR [PYTHON_PACKAGE_DIR]

With PYTHON_PACKAGE_DIR (the build's python/ folder), the Python face is
read back too: torchimage.SummaryWriter with torch.utils.tensorboard's
argument names (dataformats HWC/NHWC, add_images), and the TorchScript class
torch.classes.torchimage.SummaryWriter from a scripted function.
"""
import io
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision.utils as vutils
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator as ea_module
from tensorboard.backend.event_processing import event_file_loader

fixture, out = sys.argv[1], sys.argv[2]
package_dir = sys.argv[3] if len(sys.argv) > 3 else None
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def load(name):
    return torch.load(os.path.join(out, "tensors", name))


def accumulator(path):
    keep_all = {k: 0 for k in (ea_module.SCALARS, ea_module.IMAGES, ea_module.HISTOGRAMS,
                               ea_module.TENSORS, ea_module.COMPRESSED_HISTOGRAMS)}
    acc = ea_module.EventAccumulator(path, size_guidance=keep_all)
    acc.Reload()
    return acc


def png_pixels(data):
    img = Image.open(io.BytesIO(data))
    return np.asarray(img.convert("RGB") if img.mode not in ("RGB", "RGBA", "L") else img)


def torchvision_pixels(tensor, **kwargs):
    buf = io.BytesIO()
    vutils.save_image(tensor, buf, format="png", **kwargs)
    return png_pixels(buf.getvalue())


# ---- 1. scalars, images, histograms, text ----
subprocess.run([fixture, "write", out], check=True)
run = os.path.join(out, "run")
files = sorted(os.listdir(run))
check(len(files) == 2, f"two event files in {run}, got {files}")
acc = accumulator(run)
tags = acc.Tags()
print("tags:", {k: v for k, v in tags.items() if v})

scalars = torch.load(os.path.join(out, "scalars.pt")).numpy()
g = acc.Scalars("loss/g")
check([e.step for e in g] == list(range(4)), f"loss/g steps {[e.step for e in g]}")
for e in g:
    want = float(np.float32(scalars[e.step]))
    check(e.value == want, f"loss/g step {e.step}: {e.value!r} != {want!r}")
d = acc.Scalars("loss/d")  # the second writer's file, same folder
check([e.value for e in d] == [float(np.float32(-v)) for v in scalars], "loss/d values")

images = {"samples": dict(nrow=4, normalize=True, value_range=(-1, 1)), "gray": {}}
for tag, kwargs in images.items():
    evs = acc.Images(tag)
    check([e.step for e in evs] == list(range(4)), f"{tag} steps {[e.step for e in evs]}")
    for e in evs:
        got = png_pixels(e.encoded_image_string)
        pixels = load(f"{tag}_{e.step}.pixels.pt").numpy()  # C++ to_pixels, (H, W, C)
        tensor = load(f"{tag}_{e.step}.pt")
        reference = torchvision_pixels(tensor, **kwargs)
        check(got.shape == pixels.shape and np.array_equal(got, pixels),
              f"{tag} step {e.step}: PNG pixels {got.shape} != to_pixels {pixels.shape}")
        check(got.shape == reference.shape and np.array_equal(got, reference),
              f"{tag} step {e.step}: PNG pixels != torchvision save_image's")
        check((e.height, e.width) == reference.shape[:2],
              f"{tag} step {e.step}: height/width {(e.height, e.width)} != {reference.shape[:2]}")
    print(f"{tag}: {len(evs)} images, {evs[0].width}x{evs[0].height}, pixels equal torchvision's")

# The reference histogram: torch.utils.tensorboard's own, same default bins.
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter  # noqa: E402
import torch.utils.tensorboard.summary as torch_summary  # noqa: E402


def make_histogram(values, bins):
    try:
        return torch_summary.make_histogram(values, bins)
    except TypeError:
        # torch 1.13's make_histogram calls np.greater(counts, 0, dtype=np.int32),
        # which numpy >= 1.24 refuses: run the same function with that one
        # call spelled as numpy now takes it.
        import types

        class NumpyShim(types.ModuleType):
            def __getattr__(self, name):
                return getattr(np, name)

        shim = NumpyShim("numpy")
        shim.greater = lambda a, b, dtype=None: (np.greater(a, b).astype(dtype)
                                                 if dtype is not None else np.greater(a, b))
        torch_summary.np = shim
        return torch_summary.make_histogram(values, bins)


bins = TorchSummaryWriter(os.path.join(out, "torch-ref")).default_bins
hists = acc.Histograms("weights")
check([e.step for e in hists] == list(range(4)), "weights steps")
for e in hists:
    values = load(f"weights_{e.step}.pt").numpy().astype(float)
    ref = make_histogram(values, bins)
    h = e.histogram_value
    check(list(h.bucket) == list(ref.bucket), f"weights step {e.step}: bucket counts differ")
    check(list(h.bucket_limit) == list(ref.bucket_limit), f"weights step {e.step}: limits differ")
    check((h.min, h.max, h.num) == (ref.min, ref.max, ref.num), f"weights step {e.step}: min/max/num")
    check(np.isclose(h.sum, ref.sum, rtol=1e-12, atol=1e-12), f"weights step {e.step}: sum")
    check(np.isclose(h.sum_squares, ref.sum_squares, rtol=1e-12), f"weights step {e.step}: sum_squares")
    check(sum(h.bucket) == len(values), f"weights step {e.step}: counts add to {sum(h.bucket)}")
print(f"weights: {len(hists)} histograms, {len(hists[0].histogram_value.bucket)} buckets at step 0")

texts = acc.Tensors("note/text_summary")
check([t.tensor_proto.string_val[0].decode() for t in texts] ==
      [f"step {s} \u00e9t\u00e9" for s in range(4)], "text values")
check(acc.SummaryMetadata("note/text_summary").plugin_data.plugin_name == "text", "text plugin")

# Call order in the first writer's file: version, then per step its five calls.
main = [f for f in files if os.path.getsize(os.path.join(run, f)) > 10000]
check(len(main) == 1, "one large file")
order = []
for ev in event_file_loader.EventFileLoader(os.path.join(run, main[0])).Load():
    if ev.HasField("file_version"):
        order.append(("version", ev.file_version))
    for v in ev.summary.value:
        order.append((v.tag, ev.step))
want = [("version", "brain.Event:2")]
for s in range(4):
    want += [("loss/g", s), ("samples", s), ("gray", s), ("weights", s), ("note/text_summary", s)]
check(order == want, f"record order {order}")

# ---- 2. kill -9 mid-run: the file still loads, records in order ----
killed = os.path.join(out, "killed")
proc = subprocess.Popen([fixture, "forever", killed])
deadline = time.time() + 60
while time.time() < deadline:
    names = os.listdir(killed) if os.path.isdir(killed) else []
    if names and os.path.getsize(os.path.join(killed, names[0])) > 300000:
        break
    time.sleep(0.01)
proc.send_signal(signal.SIGKILL)
proc.wait()
acc = accumulator(killed)
sc = [e.step for e in acc.Scalars("scalar")]
im = [e.step for e in acc.Images("image")]
check(len(sc) > 10 and sc == list(range(len(sc))), f"killed: scalar steps 0..{len(sc) - 1} in order")
check(im == list(range(len(im))) and len(im) in (len(sc), len(sc) - 1),
      f"killed: {len(im)} images for {len(sc)} scalars")
print(f"killed mid-run: {len(sc)} scalars and {len(im)} images read back")

# ---- 3. the Python package and TorchScript ----
if package_dir:
    sys.path.insert(0, package_dir)
    import torchimage

    pydir = os.path.join(out, "python")
    torch.manual_seed(5)
    hwc = torch.rand(9, 13, 3)
    nhwc = torch.rand(5, 8, 6, 3) * 2 - 1
    with torchimage.SummaryWriter(pydir) as w:
        w.add_scalar("py/loss", torch.tensor(0.1), global_step=2, walltime=1000.5)
        w.add_image("py/hwc", hwc, global_step=2, dataformats="HWC")
        w.add_images("py/batch", nhwc, 2, dataformats="NHWC", nrow=2, normalize=True,
                     value_range=(-1, 1))
        w.add_text("py/text", "hello", 2)
        w.add_histogram("py/hist", np.arange(10.0), 2)
        check(w.get_logdir() == pydir, "get_logdir")

    @torch.jit.script
    def log(w: torch.classes.torchimage.SummaryWriter, x: torch.Tensor, step: int):
        w.add_scalar("jit/value", 2.5, step)
        w.add_image("jit/image", x, step, normalize=True)
        w.flush()

    log(torch.classes.torchimage.SummaryWriter(pydir), hwc.permute(2, 0, 1), 3)

    # A scripted module holding a writer survives torch.jit.save (def_pickle):
    # the loaded one opens a new event file in the same folder.
    class Logger(torch.nn.Module):
        def __init__(self, w: torch.classes.torchimage.SummaryWriter):
            super().__init__()
            self.w = w

        def forward(self, step: int) -> None:
            self.w.add_scalar("jit/saved", float(step), step)
            self.w.flush()

    saved = os.path.join(out, "logger.pt")
    torch.jit.save(torch.jit.script(Logger(torch.classes.torchimage.SummaryWriter(pydir))), saved)
    torch.jit.load(saved)(4)
    acc = accumulator(pydir)
    check([(e.step, e.value) for e in acc.Scalars("jit/saved")] == [(4, 4.0)], "jit/saved")
    s = acc.Scalars("py/loss")
    check([(e.step, e.wall_time, e.value) for e in s] == [(2, 1000.5, float(np.float32(0.1)))],
          f"py/loss {s}")
    img = acc.Images("py/hwc")[0]
    check(np.array_equal(png_pixels(img.encoded_image_string),
                         torchvision_pixels(hwc.permute(2, 0, 1))), "py/hwc pixels")
    img = acc.Images("py/batch")[0]
    check(np.array_equal(png_pixels(img.encoded_image_string),
                         torchvision_pixels(nhwc.permute(0, 3, 1, 2), nrow=2, normalize=True,
                                            value_range=(-1, 1))), "py/batch pixels")
    check(acc.Tensors("py/text/text_summary")[0].tensor_proto.string_val[0] == b"hello", "py text")
    h = acc.Histograms("py/hist")[0].histogram_value
    ref = make_histogram(np.arange(10.0), bins)
    check(list(h.bucket) == list(ref.bucket) and list(h.bucket_limit) == list(ref.bucket_limit),
          "py/hist buckets")
    check([e.value for e in acc.Scalars("jit/value")] == [2.5], "jit scalar")
    img = acc.Images("jit/image")[0]
    check(np.array_equal(png_pixels(img.encoded_image_string),
                         torchvision_pixels(hwc.permute(2, 0, 1), normalize=True)), "jit image")
    print("python package and TorchScript: read back")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("tensorboard", __import__("tensorboard").__version__, "read everything back: all checks passed")
