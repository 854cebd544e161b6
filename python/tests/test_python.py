"""torchimage's Python package and TorchScript operators against torchvision
(0.14 with Debian's torch 1.13, 0.29.1 with pip's torch 2.14.1, 0.28 with
stand-ins beside pip's CPU torch 2.13: conftest.py), in one process.

Run with Debian's interpreter and the build tree's package on the path:

    PYTHONPATH=<build>/python /usr/bin/python3 -m pytest -q python/tests

(ctest's python_tests does this). TORCHIMAGE_RUN_SCRIPTED names the C++
round-trip program (default: <build>/python/tests/run_scripted); without it
that test is skipped. TORCHIMAGE_PHOTOS names the photo folder.
"""
import io
import os
import pathlib
import random
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
import torchvision.io
import torchvision.utils as tv
from PIL import Image

import torchimage
import torchimage as ti
from conftest import TORCHVISION_REFERENCE  # "real", or "stand-ins" (see conftest.py)

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTOS = os.environ.get("TORCHIMAGE_PHOTOS",
                        os.path.join(HERE, "..", "..", "tests", "data", "photos"))


# ---------------------------------------------------------------------------
# Inputs


def rand(*shape, seed=0, dtype=torch.float32, low=0.0, high=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * (high - low) + low).to(dtype)


def _load_photos():
    if not os.path.isdir(PHOTOS):
        return []
    out = []
    for name in sorted(os.listdir(PHOTOS)):
        if name.endswith((".png", ".jpg")):
            out.append(Image.open(os.path.join(PHOTOS, name)).convert("RGB"))
    return out


_PHOTOS = _load_photos()


def photo_batch(n, size, seed=0, signed=True):
    """n square crops of the photos, resized to size x size by Pillow, in
    [-1, 1] (signed) or [0, 1]."""
    if not _PHOTOS:
        pytest.skip(f"no photos in {PHOTOS}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        im = _PHOTOS[rng.integers(len(_PHOTOS))]
        w, h = im.size
        side = int(rng.integers(min(w, h) // 4, min(w, h) + 1))
        x, y = int(rng.integers(w - side + 1)), int(rng.integers(h - side + 1))
        crop = im.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)
        out.append(torch.from_numpy(np.asarray(crop).copy()).permute(2, 0, 1))
    t = torch.stack(out).float() / 255
    return t * 2 - 1 if signed else t


NORM = {"normalize": True, "value_range": (-1, 1)}

# id, tensor factory, make_grid/save_image keyword arguments
CASES = [
    ("batch16", lambda: rand(16, 3, 12, 12), {}),
    ("batch5-nrow2-pad3-padval", lambda: rand(5, 3, 9, 7, seed=1), {"nrow": 2, "padding": 3, "pad_value": 0.5}),
    ("batch3-nrow8", lambda: rand(3, 3, 8, 8, seed=2), {"nrow": 8}),
    ("batch7-nrow1-pad0", lambda: rand(7, 3, 5, 6, seed=3), {"nrow": 1, "padding": 0}),
    ("batch1", lambda: rand(1, 3, 10, 11, seed=4), {}),
    ("2d", lambda: rand(13, 17, seed=5), {}),
    ("3d-1ch", lambda: rand(1, 9, 14, seed=6), {}),
    ("3d-2ch", lambda: rand(2, 9, 14, seed=7), {}),
    ("3d-3ch", lambda: rand(3, 9, 14, seed=8), {}),
    ("3d-4ch", lambda: rand(4, 9, 14, seed=9), {}),
    ("batch-1ch", lambda: rand(6, 1, 8, 8, seed=10), {"nrow": 3}),
    ("batch-2ch", lambda: rand(4, 2, 8, 8, seed=11), {}),
    ("batch-4ch", lambda: rand(4, 4, 8, 8, seed=12), {"pad_value": 1.0}),
    ("out-of-range", lambda: rand(8, 3, 8, 8, seed=13, low=-1.5, high=2.5), {}),
    ("normalize-minmax", lambda: rand(8, 3, 8, 8, seed=14, low=-3, high=7), {"normalize": True}),
    ("normalize-range", lambda: rand(8, 3, 8, 8, seed=15, low=-1.2, high=1.2), NORM),
    ("normalize-range-list", lambda: rand(8, 3, 8, 8, seed=15, low=-1.2, high=1.2),
     {"normalize": True, "value_range": (-0.5, 2)}),
    ("scale-each", lambda: rand(8, 3, 8, 8, seed=16, low=-2, high=3) * torch.arange(1, 9).view(8, 1, 1, 1),
     {"normalize": True, "scale_each": True}),
    ("scale-each-range", lambda: rand(8, 3, 8, 8, seed=17, low=-2, high=3),
     {"normalize": True, "scale_each": True, "value_range": (-1, 1)}),
    ("scale-each-no-normalize", lambda: rand(4, 3, 8, 8, seed=18), {"scale_each": True}),
    ("normalize-constant", lambda: torch.full((4, 3, 6, 6), 0.3), {"normalize": True}),
    ("normalize-2d", lambda: rand(10, 12, seed=19, low=-5, high=5), {"normalize": True}),
    ("float64", lambda: rand(6, 3, 10, 10, seed=20, dtype=torch.float64), {"nrow": 4}),
    ("float64-normalize", lambda: rand(6, 3, 10, 10, seed=21, dtype=torch.float64, low=-1, high=1), NORM),
    ("bfloat16", lambda: rand(6, 3, 10, 10, seed=22, dtype=torch.bfloat16), {}),
    ("bfloat16-normalize", lambda: rand(6, 3, 10, 10, seed=23, dtype=torch.bfloat16, low=-1, high=1), NORM),
    ("channels-last", lambda: rand(6, 3, 10, 12, seed=24).contiguous(memory_format=torch.channels_last), {}),
    ("strided-view", lambda: rand(8, 3, 20, 20, seed=25)[::2, :, 1::2, ::3], {"nrow": 2}),
    ("non-square", lambda: rand(3, 3, 31, 70, seed=26), {"padding": 5, "pad_value": 0.25}),
    ("requires-grad", lambda: rand(4, 3, 8, 8, seed=27).requires_grad_(), {}),
    ("photos-64", lambda: photo_batch(64, 32, seed=0), NORM),
    ("photos-nrow4", lambda: photo_batch(10, 40, seed=1), dict(NORM, nrow=4, padding=4, pad_value=1.0)),
    ("photos-unit", lambda: photo_batch(6, 24, seed=2, signed=False), {}),
    ("photo-3d", lambda: photo_batch(1, 48, seed=3)[0], NORM),
    ("photo-gray", lambda: photo_batch(4, 24, seed=4, signed=False).mean(1, keepdim=True), {"nrow": 2}),
]
CASE_IDS = [c[0] for c in CASES]


@pytest.fixture(params=CASES, ids=CASE_IDS)
def case(request):
    _, make, kw = request.param
    return make(), dict(kw)


def channels_out(x):
    c = 1 if x.dim() == 2 else x.shape[-3]
    return 3 if c == 1 else c


# ---------------------------------------------------------------------------
# Helpers


def tv_bytes(x, fmt, **kw):
    buf = io.BytesIO()
    tv.save_image(x, buf, format=fmt, **kw)
    return buf.getvalue()


def tv_pixels(x, **kw):
    return np.asarray(Image.open(io.BytesIO(tv_bytes(x, "png", **kw))))


def pil_pixels(data):
    return np.asarray(Image.open(io.BytesIO(data)))


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------
# Conformance


def test_make_grid_equals_torchvision(case):
    x, kw = case
    ours = ti.make_grid(x, **kw)
    theirs = tv.make_grid(x, **kw)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert torch.equal(ours, theirs)


def test_png_pixels_equal_torchvision(case, tmp_path):
    x, kw = case
    path = tmp_path / "ours.png"
    ti.save_image(x, str(path), **kw)
    ours, theirs = pil_pixels(read(path)), tv_pixels(x, **kw)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)
    assert Image.open(path).mode == Image.open(io.BytesIO(tv_bytes(x, "png", **kw))).mode


def test_png_bytes_equal_torchvision_at_level_6(case, tmp_path):
    x, kw = case
    path = tmp_path / "ours.png"
    ti.save_image(x, str(path), compression_level=6, **kw)
    assert read(path) == tv_bytes(x, "png", **kw)


def test_jpeg_bytes_equal_torchvision(case, tmp_path):
    x, kw = case
    if channels_out(x) not in (1, 3):
        pytest.skip("JPEG has no alpha")
    path = tmp_path / "ours.jpg"
    ti.save_image(x, str(path), **kw)
    assert read(path) == tv_bytes(x, "jpeg", **kw)


def random_call(rng, gen):
    """A random save_image call of the kinds torchvision takes: the input (a
    tensor of 2-4 dimensions or a list), its keywords and the format."""
    dtype = rng.choice([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8])
    c, h, w, b = rng.choice([1, 2, 3, 4]), rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 7)
    shape = rng.choice([(h, w), (c, h, w), (b, c, h, w), (b, c, h, w)])
    if dtype == torch.uint8:
        x = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
    else:
        scale, shift = rng.choice([0.3, 1.0, 2.0]), rng.choice([0.0, 0.5])
        x = (torch.randn(shape, generator=gen) * scale + shift).to(dtype)
        if rng.random() < 0.1:
            x.view(-1)[rng.randrange(x.numel())] = rng.choice([float("inf"), -float("inf")])
    if x.dim() == 4 and rng.random() < 0.2:
        x = x.transpose(2, 3)  # not contiguous
    if x.dim() >= 3 and rng.random() < 0.15:
        x = list(x) if x.dim() == 4 else [x, x]
    kw = {}
    if rng.random() < 0.5:
        kw["nrow"] = rng.randint(1, 10)
    if rng.random() < 0.5:
        kw["padding"] = rng.randint(0, 4)
    if rng.random() < 0.5:
        kw["normalize"] = True
    if rng.random() < 0.4:
        low = rng.uniform(-2, 1)
        kw["value_range"] = (low, low + rng.choice([0.0, rng.uniform(0.1, 3)]))
    if rng.random() < 0.3:
        kw["scale_each"] = True
    if rng.random() < 0.4:
        kw["pad_value"] = rng.choice([0.5, 1, 0.3, -1, 2, 0.25])
    return x, kw, rng.choice(["png", "png", "jpeg"])


@pytest.mark.parametrize("seed", range(4))
def test_random_calls_match_torchvision(seed, tmp_path):
    """Where torchvision makes a grid, torchimage makes the same tensor; where
    it writes an image, torchimage writes the same pixels (JPEG: the same
    bytes); where torchvision raises, so does torchimage, but for the inputs
    torchimage takes beyond it (docs/formats.md: float16 on the CPU, uint8 as finished
    pixels)."""
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    compared = 0
    for k in range(150):
        x, kw, fmt = random_call(rng, gen)
        copy = (lambda: [t.clone() for t in x]) if isinstance(x, list) else x.clone
        dtype = x[0].dtype if isinstance(x, list) else x.dtype
        shape = [tuple(t.shape) for t in x] if isinstance(x, list) else tuple(x.shape)
        where = f"call {k}: {dtype}, {shape}, {kw}, {fmt}"
        try:
            theirs_grid = tv.make_grid(copy(), **kw)
        except Exception:
            theirs_grid = None
        # (A pad_value the dtype cannot hold is an error in torchimage: docs/formats.md.)
        if theirs_grid is not None and not (dtype == torch.uint8 and kw.get("pad_value", 0) < 0):
            grid = ti.make_grid(copy(), **kw)
            assert grid.dtype == theirs_grid.dtype and grid.shape == theirs_grid.shape, where
            # inf - inf in a normalized image is NaN in both
            same = (grid == theirs_grid) | (grid.isnan() & theirs_grid.isnan())
            assert bool(same.all()), where
        try:
            theirs = tv_bytes(copy(), fmt, **kw)
        except Exception:
            if dtype not in (torch.float16, torch.uint8):
                with pytest.raises(Exception):
                    ti.save_image(copy(), tmp_path / f"{k}.{fmt}", **kw)
            continue
        path = tmp_path / f"{k}.{fmt}"
        ti.save_image(copy(), path, **kw)
        if fmt == "jpeg":
            assert read(path) == theirs, where
        else:
            ours, ref = Image.open(path), Image.open(io.BytesIO(theirs))
            assert ours.mode == ref.mode, where
            assert np.array_equal(np.asarray(ours), np.asarray(ref)), where
        compared += 1
    assert compared >= 50  # about half the calls are ones torchvision can make


@pytest.mark.parametrize("quality", [1, 50, 90, 100])
def test_jpeg_quality_equals_pillow(quality, tmp_path):
    x = photo_batch(8, 32, seed=5)
    ti.save_image(x, tmp_path / "q.jpg", quality=quality, **NORM)
    grid = tv.make_grid(x, **NORM)
    arr = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    assert read(tmp_path / "q.jpg") == buf.getvalue()


@pytest.mark.parametrize("level", range(10))
def test_png_levels_equal_pillow(level, tmp_path):
    x = photo_batch(8, 32, seed=6)
    ti.save_image(x, tmp_path / "l.png", compression_level=level, **NORM)
    grid = tv.make_grid(x, **NORM)
    arr = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=level)
    assert read(tmp_path / "l.png") == buf.getvalue()


def test_list_input(tmp_path):
    images = [rand(3, 10, 12, seed=i) for i in range(5)]
    assert torch.equal(ti.make_grid(images, nrow=2), tv.make_grid(images, nrow=2))
    ti.save_image(images, tmp_path / "l.jpg", nrow=2)
    assert read(tmp_path / "l.jpg") == tv_bytes(images, "jpeg", nrow=2)
    ti.save_image(images, tmp_path / "l.png", nrow=2, compression_level=6)
    assert read(tmp_path / "l.png") == tv_bytes(images, "png", nrow=2)
    buf = io.BytesIO()
    ti.save_image(images, buf, format="png", nrow=2, compression_level=6)
    assert buf.getvalue() == tv_bytes(images, "png", nrow=2)


def test_positional_arguments_as_torchvision(tmp_path):
    x = rand(6, 3, 8, 8, seed=30, low=-1, high=1)
    # make_grid(tensor, nrow, padding, normalize, value_range, scale_each, pad_value)
    args = (3, 1, True, (-1, 1), False, 0.7)
    assert torch.equal(ti.make_grid(x, *args), tv.make_grid(x, *args))
    # save_image(tensor, fp, format)
    buf = io.BytesIO()
    ti.save_image(x, buf, "JPEG")
    assert buf.getvalue() == tv_bytes(x, "JPEG")


# ---------------------------------------------------------------------------
# Paths, file objects, formats


def test_pathlib_path(tmp_path):
    x = rand(4, 3, 8, 8, seed=31)
    ti.save_image(x, tmp_path / "p.jpg")
    assert read(tmp_path / "p.jpg") == tv_bytes(x, "jpeg")
    ti.save_image(x, pathlib.Path(tmp_path) / "p.PNG")
    assert np.array_equal(pil_pixels(read(tmp_path / "p.PNG")), tv_pixels(x))


def test_file_objects(tmp_path):
    x = rand(4, 3, 8, 8, seed=32)
    buf = io.BytesIO()
    ti.save_image(x, buf, format="jpeg")
    assert buf.getvalue() == tv_bytes(x, "jpeg")
    buf = io.BytesIO()
    ti.save_image(x, buf, format="PNG", compression_level=6)
    assert buf.getvalue() == tv_bytes(x, "png")
    # A real file without format: the format comes from its name, as in Pillow.
    with open(tmp_path / "f.jpeg", "wb") as f:
        ti.save_image(x, f)
    assert read(tmp_path / "f.jpeg") == tv_bytes(x, "jpeg")
    # Appending after existing bytes, as Pillow does.
    buf = io.BytesIO()
    buf.write(b"head")
    ti.save_image(x, buf, format="png")
    assert buf.getvalue()[:4] == b"head"
    assert np.array_equal(pil_pixels(buf.getvalue()[4:]), tv_pixels(x))


def test_file_object_without_format_is_a_value_error_as_in_torchvision():
    x = rand(2, 3, 4, 4)
    with pytest.raises(ValueError):
        tv.save_image(x, io.BytesIO())
    with pytest.raises(ValueError, match="unknown file extension"):
        ti.save_image(x, io.BytesIO())


@pytest.mark.parametrize("ext", ["jpe", "jfif", "JPG", "apng"])
def test_pillow_extensions_of_png_and_jpeg(ext, tmp_path):
    x = rand(4, 3, 8, 8, seed=33)
    path = tmp_path / f"x.{ext}"
    ti.save_image(x, path, compression_level=6)
    tv.save_image(x, tmp_path / f"tv.{ext}")
    assert read(path) == read(tmp_path / f"tv.{ext}")


@pytest.mark.parametrize("ext,fmt", [("ppm", None), ("pcx", None),
                                      ("data", "PPM"), ("tga", None)])
def test_other_formats_go_through_pillow(ext, fmt, tmp_path):
    x = rand(4, 3, 8, 8, seed=34)
    ti.save_image(x, tmp_path / f"ti.{ext}", format=fmt)
    tv.save_image(x, tmp_path / f"tv.{ext}", format=fmt)
    assert read(tmp_path / f"ti.{ext}") == read(tmp_path / f"tv.{ext}")


def test_unknown_extension_is_a_value_error_as_in_torchvision(tmp_path):
    x = rand(2, 3, 4, 4)
    with pytest.raises(ValueError):
        tv.save_image(x, tmp_path / "a.nope")
    with pytest.raises(ValueError, match="unknown file extension"):
        ti.save_image(x, tmp_path / "b.nope")
    assert os.listdir(tmp_path) == []


def test_format_overrides_extension(tmp_path):
    x = rand(4, 3, 8, 8, seed=35)
    ti.save_image(x, tmp_path / "x.png", format="jpeg")
    assert read(tmp_path / "x.png") == tv_bytes(x, "jpeg")


# ---------------------------------------------------------------------------
# Extras


def test_grayscale(tmp_path):
    x = rand(4, 1, 8, 8, seed=36)
    ti.save_image(x, tmp_path / "g.png", grayscale=True)
    im = Image.open(tmp_path / "g.png")
    assert im.mode == "L"
    assert np.array_equal(np.asarray(im), tv_pixels(x)[:, :, 0])
    g = ti.make_grid(x, grayscale=True)
    assert g.shape[0] == 1 and torch.equal(g[0], tv.make_grid(x)[0])
    ti.save_image(x, tmp_path / "g.jpg", grayscale=True)
    assert Image.open(tmp_path / "g.jpg").mode == "L"


def test_pad_value_colour():
    x = rand(4, 3, 6, 6, seed=37)
    g = ti.make_grid(x, nrow=2, pad_value=(1.0, 0.5, 0.0))
    assert torch.equal(g[:, 0, 0], torch.tensor([1.0, 0.5, 0.0]))
    for c, v in enumerate((1.0, 0.5, 0.0)):
        assert torch.equal(g[c], tv.make_grid(x, nrow=2, pad_value=v)[c])
    g = torch.ops.torchimage.make_grid(x, nrow=2, pad_color=[1.0, 0.5, 0.0])
    assert torch.equal(g[:, 0, 0], torch.tensor([1.0, 0.5, 0.0]))


def test_uint8_input_is_pixels(tmp_path):
    x = (rand(4, 3, 8, 8, seed=38) * 255).to(torch.uint8)
    ti.save_image(x, tmp_path / "u.png")
    expected = tv.make_grid(x).permute(1, 2, 0).numpy()
    assert np.array_equal(pil_pixels(read(tmp_path / "u.png")), expected)


def test_unknown_keywords_are_ignored_with_a_warning(tmp_path):
    x = rand(4, 3, 8, 8, seed=39)
    try:
        tv.save_image(x, tmp_path / "tv.jpg", range=(0, 1))  # ignored by torchvision 0.14
    except TypeError:  # refused by newer torchvision; torchimage keeps 0.14's warning
        tv.save_image(x, tmp_path / "tv.jpg")
    with pytest.warns(UserWarning, match="range"):
        ti.save_image(x, tmp_path / "ti.jpg", range=(0, 1))
    assert read(tmp_path / "ti.jpg") == read(tmp_path / "tv.jpg")
    with pytest.warns(UserWarning, match="bogus"):
        ti.make_grid(x, bogus=1)


def test_torchvision_is_true_semantics():
    # torchvision normalizes only when `normalize is True`.
    x = rand(4, 3, 8, 8, seed=40, low=-3, high=3)
    assert torch.equal(ti.make_grid(x, normalize=1), tv.make_grid(x, normalize=1))
    assert torch.equal(ti.make_grid(x, normalize=True, scale_each=1),
                       tv.make_grid(x, normalize=True, scale_each=1))


def test_value_range_must_be_a_pair():
    x = rand(4, 3, 8, 8)
    with pytest.raises(TypeError, match="value_range"):
        ti.make_grid(x, normalize=True, value_range=0.5)
    # Without normalize torchvision ignores value_range; so does torchimage.
    assert torch.equal(ti.make_grid(x, value_range=0.5), tv.make_grid(x, value_range=0.5))


# ---------------------------------------------------------------------------
# Errors


BAD = [
    ("5-channels", lambda: rand(2, 5, 4, 4), {}, "5 channels"),
    ("1-d", lambda: rand(7), {}, "2-D"),
    ("5-d", lambda: rand(1, 2, 3, 4, 4), {}, "4-D"),
    ("empty", lambda: torch.zeros(0, 3, 4, 4), {}, "non-empty"),
    ("int32", lambda: torch.zeros(2, 3, 4, 4, dtype=torch.int32), {}, "Int"),
    ("nrow-0", lambda: rand(2, 3, 4, 4), {"nrow": 0}, "nrow"),
    ("padding-neg", lambda: rand(2, 3, 4, 4), {"padding": -1}, "padding"),
    ("range-reversed", lambda: rand(2, 3, 4, 4), {"normalize": True, "value_range": (1, -1)}, "value_range"),
    ("range-nan", lambda: rand(2, 3, 4, 4), {"normalize": True, "value_range": (0, float("nan"))}, "finite"),
    ("compression-level", lambda: rand(2, 3, 4, 4), {"compression_level": 10}, "compression_level"),
    ("pad-colour-size", lambda: rand(2, 3, 4, 4), {"pad_value": (1.0, 0.0)}, "pad_value"),
]


@pytest.mark.parametrize("make,kw,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_and_leaves_no_file(make, kw, message, tmp_path):
    with pytest.raises(RuntimeError, match=message) as err:
        ti.save_image(make(), tmp_path / "bad.png", **kw)
    assert "Exception raised from" not in str(err.value)  # no C++ backtrace
    assert os.listdir(tmp_path) == []


def test_bad_jpeg_inputs(tmp_path):
    with pytest.raises(RuntimeError, match="alpha"):
        ti.save_image(rand(2, 4, 4, 4), tmp_path / "a.jpg")
    with pytest.raises(RuntimeError, match="quality"):
        ti.save_image(rand(2, 3, 4, 4), tmp_path / "a.jpg", quality=0)
    assert os.listdir(tmp_path) == []


def test_failure_keeps_existing_file(tmp_path):
    path = tmp_path / "keep.png"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        ti.save_image(rand(2, 5, 4, 4), path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["keep.png"]


def test_missing_directory(tmp_path):
    with pytest.raises(RuntimeError, match="nodir.*set create_directories"):
        ti.save_image(rand(2, 3, 4, 4), tmp_path / "nodir" / "x.png")
    assert os.listdir(tmp_path) == []
    ti.save_image(rand(2, 3, 4, 4), tmp_path / "made" / "x.png", create_directories=True)
    assert (tmp_path / "made" / "x.png").exists()


def test_type_errors_as_torchvision():
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        ti.make_grid(np.zeros((3, 4, 4)))
    with pytest.raises(TypeError, match="list containing"):
        ti.save_image([rand(3, 4, 4), 5], "never.png")
    with pytest.raises(TypeError, match="nrow"):
        ti.make_grid(rand(2, 3, 4, 4), nrow="2")


def test_list_errors(tmp_path):
    with pytest.raises(RuntimeError, match="one shape"):
        ti.save_image([rand(3, 4, 4), rand(3, 5, 4)], tmp_path / "x.png")
    with pytest.raises(RuntimeError, match="non-empty"):
        ti.make_grid([])
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# Codecs and the batch writer


def test_encode_decode():
    img = (photo_batch(1, 40, seed=7, signed=False)[0] * 255).to(torch.uint8)
    png = ti.encode_png(img, compression_level=6)
    buf = io.BytesIO()
    Image.fromarray(img.permute(1, 2, 0).numpy()).save(buf, format="PNG", compress_level=6)
    assert bytes(png.numpy()) == buf.getvalue()
    assert torch.equal(ti.decode_image(png), img)
    assert torch.equal(ti.decode_image(ti.encode_png(img)), img)
    if TORCHVISION_REFERENCE == "real":
        assert torch.equal(torchvision.io.decode_png(ti.encode_png(img)), img)
    else:  # pip's CUDA torchvision beside a CPU torch: conftest.py's stand-ins
        with pytest.raises(RuntimeError, match="image extension"):
            torchvision.io.decode_png(ti.encode_png(img))

    jpg = ti.encode_jpeg(img, quality=85)
    buf = io.BytesIO()
    Image.fromarray(img.permute(1, 2, 0).numpy()).save(buf, format="JPEG", quality=85)
    assert bytes(jpg.numpy()) == buf.getvalue()
    decoded = ti.decode_image(jpg)
    assert decoded.shape == img.shape
    assert np.array_equal(decoded.permute(1, 2, 0).numpy(), pil_pixels(bytes(jpg.numpy())))

    for c in (1, 2, 4):
        im = (rand(c, 9, 11, seed=c) * 255).to(torch.uint8)
        assert torch.equal(ti.decode_image(ti.encode_png(im)), im)
    with pytest.raises(RuntimeError, match="decode_image"):
        ti.decode_image(torch.tensor([1, 2, 3], dtype=torch.uint8))
    with pytest.raises(RuntimeError, match="channels"):
        ti.encode_jpeg(torch.zeros(4, 8, 8, dtype=torch.uint8))


def test_encode_image_and_to_pixels():
    x = photo_batch(8, 24, seed=8)
    assert bytes(ti.encode_image(x, format="jpeg", **NORM).numpy()) == tv_bytes(x, "jpeg", **NORM)
    assert np.array_equal(ti.to_pixels(x, **NORM).numpy(), tv_pixels(x, **NORM))


def test_read_image(tmp_path):
    x = rand(4, 3, 8, 8, seed=41)
    ti.save_image(x, tmp_path / "r.png")
    assert np.array_equal(ti.read_image(tmp_path / "r.png").permute(1, 2, 0).numpy(), tv_pixels(x))
    with pytest.raises(RuntimeError, match="missing.png"):
        ti.read_image(tmp_path / "missing.png")


def test_save_images(tmp_path):
    x = photo_batch(12, 24, seed=9)
    ti.save_images(x, tmp_path / "s{index:03}.jpg", start_index=5, threads=3, **NORM)
    names = sorted(os.listdir(tmp_path))
    assert names == [f"s{i:03}.jpg" for i in range(5, 17)]
    for i in range(12):
        assert read(tmp_path / f"s{i + 5:03}.jpg") == tv_bytes(x[i], "jpeg", **NORM)
    ti.save_images([x[0], x[1]], str(tmp_path / "p{index}.png"), compression_level=6, **NORM)
    for i in range(2):
        assert read(tmp_path / f"p{i}.png") == tv_bytes(x[i], "png", **NORM)


def test_save_images_failure(tmp_path):
    with pytest.raises(RuntimeError):
        ti.save_images(rand(3, 5, 4, 4), tmp_path / "{index}.png")
    assert os.listdir(tmp_path) == []


def test_threads_share_the_library(tmp_path):
    x = photo_batch(16, 24, seed=10)
    expected = tv_bytes(x, "jpeg", **NORM)
    errors = []

    def work(k):
        try:
            for i in range(5):
                path = tmp_path / f"t{k}-{i}.jpg"
                ti.save_image(x, path, **NORM)
                assert read(path) == expected
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------------------
# ImageWriter


def test_writer_writes_what_save_image_writes(tmp_path):
    x = photo_batch(16, 24, seed=13)
    with ti.ImageWriter(threads=2) as w:
        w.save_image(x, tmp_path / "sheet.png", nrow=4, **NORM)
        w.save_image(x, str(tmp_path / "sheet.jpg"), quality=90, **NORM)
        w.save_images(x[:5], tmp_path / "s{index:02}.png", start_index=3, **NORM)
        w.save_images([x[0], x[1]], tmp_path / "l{index}.jpeg", **NORM)
        w.save_image([x[2], x[3]], tmp_path / "pair.png", **NORM)
        w.save_images([x[4], x[5, :, :10], x[6, :1]], tmp_path / "m{index}.png", **NORM)
    assert w.pending() == 0
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["sheet.png", "sheet.jpg", "l0.jpeg", "l1.jpeg", "pair.png", "m0.png", "m1.png", "m2.png"]
        + [f"s{i:02}.png" for i in range(3, 8)])
    ti.save_image(x, tmp_path / "direct.png", nrow=4, **NORM)
    assert read(tmp_path / "sheet.png") == read(tmp_path / "direct.png")
    assert np.array_equal(pil_pixels(read(tmp_path / "sheet.png")), tv_pixels(x, nrow=4, **NORM))
    assert read(tmp_path / "sheet.jpg") == bytes(
        ti.encode_image(x, "jpeg", quality=90, **NORM).numpy())
    for i in range(5):
        assert np.array_equal(pil_pixels(read(tmp_path / f"s{i + 3:02}.png")),
                              tv_pixels(x[i], **NORM))
    for i in range(2):
        assert read(tmp_path / f"l{i}.jpeg") == tv_bytes(x[i], "jpeg", **NORM)
    assert np.array_equal(pil_pixels(read(tmp_path / "pair.png")), tv_pixels([x[2], x[3]], **NORM))
    for i, image in enumerate([x[4], x[5, :, :10], x[6, :1]]):
        assert np.array_equal(pil_pixels(read(tmp_path / f"m{i}.png")), tv_pixels(image, **NORM))


def test_writer_snapshots_so_the_caller_may_overwrite(tmp_path):
    # Each call is followed at once by an in-place overwrite, as a training
    # step overwrites its output: every file holds the values at call time.
    x = photo_batch(64, 32, seed=14)
    buffer = x.clone()
    expected = []
    with ti.ImageWriter(threads=2, max_pending_bytes=1 << 20) as w:
        for i in range(12):
            buffer.copy_(x.roll(i, 0))
            expected.append(tv_pixels(buffer, **NORM))
            w.save_image(buffer, tmp_path / f"e{i}.png", **NORM)
            buffer.mul_(-1)
    for i in range(12):
        assert np.array_equal(pil_pixels(read(tmp_path / f"e{i}.png")), expected[i]), i


def test_writer_small_queue_many_images(tmp_path):
    x = rand(300, 3, 8, 8, seed=15)
    with ti.ImageWriter(threads=2, max_pending_bytes=2048) as w:
        for i in range(0, 300, 30):
            w.save_images(x[i:i + 30], tmp_path / "{index:03}.png", start_index=i)
    assert len(os.listdir(tmp_path)) == 300
    for i in (0, 29, 30, 151, 299):
        assert np.array_equal(pil_pixels(read(tmp_path / f"{i:03}.png")), tv_pixels(x[i]))


def test_writer_failure_is_raised_once(tmp_path):
    w = ti.ImageWriter(threads=1)
    x = rand(2, 3, 8, 8, seed=16)
    w.save_image(x, tmp_path / "missing" / "a.png")
    with pytest.raises(RuntimeError, match="missing/a.png"):
        w.flush()
    w.flush()  # reported already
    w.save_image(x, tmp_path / "ok.png")
    w.flush()
    assert os.listdir(tmp_path) == ["ok.png"]
    # Raised by the next call if the worker has failed it by then (that call
    # still queues its own image), else by flush().
    w.save_image(x, tmp_path / "missing" / "b.png")
    with pytest.raises(RuntimeError, match="missing/b.png"):
        w.save_image(x, tmp_path / "again.png")
        w.flush()
    w.flush()
    assert sorted(os.listdir(tmp_path)) == ["again.png", "ok.png"]


def test_writer_jobs_carry_their_own_outcome(tmp_path):
    x = rand(4, 3, 8, 8, seed=19)
    w = ti.ImageWriter(threads=2)
    good = w.save_images(x, tmp_path / "g{index}.png")
    jpeg = w.save_image(x, tmp_path / "g.jpg")
    # Queued last: a call after it could raise its failure (the writer's own report).
    bad = w.save_image(x, tmp_path / "missing" / "b.png")
    good.wait()
    assert good.done()
    for i in range(4):  # written when wait() returns
        assert np.array_equal(pil_pixels(read(tmp_path / f"g{i}.png")), tv_pixels(x[i]))
    with pytest.raises(RuntimeError, match="missing/b.png"):
        bad.wait()
    with pytest.raises(RuntimeError, match="missing/b.png"):
        bad.wait()  # a job's outcome stays
    jpeg.wait()
    assert read(tmp_path / "g.jpg") == tv_bytes(x, "jpeg")
    # The writer still reports the failure once by itself.
    with pytest.raises(RuntimeError, match="missing/b.png"):
        w.flush()
    w.flush()


def test_writer_bad_arguments(tmp_path):
    with pytest.raises(RuntimeError, match="threads"):
        ti.ImageWriter(threads=-1)
    with pytest.raises(RuntimeError, match="max_pending_bytes"):
        ti.ImageWriter(max_pending_bytes=0)
    w = ti.ImageWriter(threads=1)
    with pytest.raises(RuntimeError, match="5 channels"):
        w.save_image(rand(2, 5, 4, 4), tmp_path / "x.png")
    with pytest.raises(RuntimeError, match="placeholder|index"):
        w.save_images(rand(2, 3, 4, 4), tmp_path / "same.png")
    with pytest.raises(TypeError, match="path"):
        w.save_image(rand(3, 4, 4), io.BytesIO())
    with pytest.raises(ValueError, match="PNG and JPEG"):
        w.save_image(rand(3, 4, 4), tmp_path / "x.ppm")
    with pytest.raises(TypeError):
        w.save_image("not a tensor", tmp_path / "x.png")
    w.flush()
    assert os.listdir(tmp_path) == []


def test_writer_in_torchscript(tmp_path):
    @torch.jit.script
    def log(w: torch.classes.torchimage.ImageWriter, x: torch.Tensor, path: str):
        w.save_image(x, path, normalize=True, value_range=[-1.0, 1.0])
        job = w.save_images(x, path + "-{index}.jpg", start_index=1)
        job.wait()
        assert job.done()
        w.flush()

    x = rand(3, 3, 8, 8, seed=17, low=-1, high=1)
    w = ti.ImageWriter(threads=2)
    for _ in range(3):  # past the profiling runs of the executor
        log(w.scripted, x, str(tmp_path / "t.png"))
    assert np.array_equal(pil_pixels(read(tmp_path / "t.png")), tv_pixels(x, **NORM))
    for i in range(3):
        assert read(tmp_path / f"t.png-{i + 1}.jpg") == tv_bytes(x[i], "jpeg")


class Logger(torch.nn.Module):
    """A module that owns a writer."""

    def __init__(self, writer):
        super().__init__()
        self.writer = writer

    def forward(self, x: torch.Tensor, path: str) -> int:
        self.writer.save_image(x, path, normalize=True, value_range=[-1.0, 1.0])
        self.writer.flush()
        return self.writer.pending()


def test_writer_in_a_saved_module(tmp_path):
    # The loaded module gets a new writer of the same configuration.
    module = torch.jit.script(Logger(ti.ImageWriter(threads=1, max_pending_bytes=1 << 20).scripted))
    torch.jit.save(module, str(tmp_path / "logger.pt"))
    loaded = torch.jit.load(str(tmp_path / "logger.pt"))
    # Python's pickle protocol sees the state the module saved.
    assert loaded.writer.__getstate__()[0] == [1, 1 << 20]
    x = rand(5, 3, 8, 8, seed=18, low=-1, high=1)
    for i in range(3):
        assert loaded(x, str(tmp_path / f"l{i}.png")) == 0
        assert np.array_equal(pil_pixels(read(tmp_path / f"l{i}.png")), tv_pixels(x, **NORM))


# ---------------------------------------------------------------------------
# TorchScript


class Sampler(torch.nn.Module):
    """Writes a fixed batch with the operator; returns the pixels it wrote."""

    def __init__(self, x):
        super().__init__()
        self.register_buffer("x", x)

    def forward(self, path: str) -> torch.Tensor:
        torch.ops.torchimage.save_image(self.x, path, nrow=4, normalize=True,
                                        value_range=[-1.0, 1.0], pad_value=1.0)
        return torch.ops.torchimage.to_pixels(self.x, nrow=4, normalize=True,
                                              value_range=[-1.0, 1.0], pad_value=1.0)


def sampler_expected(x):
    return tv_pixels(x, nrow=4, normalize=True, value_range=(-1, 1), pad_value=1.0)


def test_torchscript_in_process(tmp_path):
    x = photo_batch(10, 20, seed=11)
    module = torch.jit.script(Sampler(x))
    torch.jit.save(module, str(tmp_path / "sampler.pt"))
    loaded = torch.jit.load(str(tmp_path / "sampler.pt"))
    for i in range(3):  # past the profiling runs of the executor
        out = tmp_path / f"s{i}.png"
        pixels = loaded(str(out))
        assert np.array_equal(pil_pixels(read(out)), sampler_expected(x))
        assert np.array_equal(pixels.numpy(), sampler_expected(x))


def test_torchscript_builtins(tmp_path):
    # In scripted code the package's functions compile to the operators.
    @torch.jit.script
    def log(x: torch.Tensor, path: str) -> torch.Tensor:
        torchimage.save_image(x, path, normalize=True, value_range=[-1.0, 1.0])
        torchimage.save_image([x[0], x[1]], path + ".jpg", nrow=1)
        return torchimage.make_grid(x, nrow=2, padding=1)

    x = rand(4, 3, 8, 8, seed=42, low=-1, high=1)
    for _ in range(3):
        grid = log(x, str(tmp_path / "f.png"))
    assert torch.equal(grid, tv.make_grid(x, nrow=2, padding=1))
    assert np.array_equal(pil_pixels(read(tmp_path / "f.png")), tv_pixels(x, **NORM))
    assert read(tmp_path / "f.png.jpg") == tv_bytes([x[0], x[1]], "jpeg", nrow=1)


def test_torchscript_errors_pass_through(tmp_path):
    @torch.jit.script
    def bad(x: torch.Tensor, path: str):
        torch.ops.torchimage.save_image(x, path)

    with pytest.raises(RuntimeError, match="5 channels"):
        bad(rand(2, 5, 4, 4), str(tmp_path / "x.png"))
    assert os.listdir(tmp_path) == []


def _run_scripted():
    exe = os.environ.get("TORCHIMAGE_RUN_SCRIPTED") or os.path.join(
        os.path.dirname(os.path.abspath(torchimage.__file__)), "..", "tests", "run_scripted")
    return exe if os.path.isfile(exe) else None


class WriterSampler(torch.nn.Module):
    """Sampler's contract, written through a writer the module holds."""

    def __init__(self, x, writer):
        super().__init__()
        self.register_buffer("x", x)
        self.writer = writer

    def forward(self, path: str) -> torch.Tensor:
        self.writer.save_image(self.x, path, nrow=4, normalize=True, value_range=[-1.0, 1.0],
                               pad_value=1.0)
        self.writer.flush()
        return torch.ops.torchimage.to_pixels(self.x, nrow=4, normalize=True,
                                              value_range=[-1.0, 1.0], pad_value=1.0)


@pytest.mark.parametrize("through_writer", [False, True], ids=["operator", "writer"])
def test_torchscript_round_trip_through_cpp(through_writer, tmp_path):
    exe = _run_scripted()
    if exe is None:
        pytest.skip("run_scripted not built (CMake target run_scripted; TORCHIMAGE_RUN_SCRIPTED)")
    x = photo_batch(10, 20, seed=12)
    module = WriterSampler(x, ti.ImageWriter(threads=2).scripted) if through_writer else Sampler(x)
    torch.jit.save(torch.jit.script(module), str(tmp_path / "sampler.pt"))
    out = tmp_path / "from_cpp.png"
    r = subprocess.run([exe, str(tmp_path / "sampler.pt"), str(out)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok " in r.stdout
    assert np.array_equal(pil_pixels(read(out)), sampler_expected(x))


def test_operator_schemas():
    schema = str(torch.ops.torchimage.save_image.default._schema)
    assert schema.startswith(
        "torchimage::save_image(Tensor tensor, str fp, int nrow=8, int padding=2, "
        "bool normalize=False, float[]? value_range=None, bool scale_each=False, "
        "float pad_value=0., str? format=None, int? quality=None, int? compression_level=None, "
        "bool grayscale=False")
    assert torchimage.__version__ == torch.ops.torchimage.version()


# ---------------------------------------------------------------------------
# Hostile and careless calls (issue 17)


@pytest.mark.parametrize("ext,fmt", [("ppm", "PPM"), ("pcx", "PCX"), ("tga", "TGA")])
def test_pillow_formats_keep_the_old_file_on_failure(ext, fmt, tmp_path, monkeypatch):
    """Pillow's encoder failing part way (disk full, as in the issue: here an
    encoder that writes some bytes and raises) leaves the old file whole; it
    used to be truncated, as Pillow writes into the opened file."""
    if not Image.registered_extensions().get(f".{ext}"):
        pytest.skip(f"Pillow without {fmt}")
    path = tmp_path / f"old.{ext}"
    path.write_bytes(b"the old image")

    def failing(im, fp, filename):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(Image.SAVE, fmt, failing)
    with pytest.raises(OSError, match="No space left"):
        ti.save_image(rand(3, 16, 16), path)
    assert path.read_bytes() == b"the old image"
    assert os.listdir(tmp_path) == [f"old.{ext}"]


def test_pillow_formats_are_written_whole_and_honour_the_file_options(tmp_path):
    x = rand(3, 9, 9, seed=71)
    ti.save_image(x, tmp_path / "new" / "x.ppm", create_directories=True)
    tv.save_image(x, tmp_path / "tv.ppm")
    assert read(tmp_path / "new" / "x.ppm") == read(tmp_path / "tv.ppm")
    # A mode the format cannot hold: Pillow's error, and no file.
    with pytest.raises(OSError):
        ti.save_image(rand(1, 2, 5, 5), tmp_path / "la.ppm", grayscale=True)
    assert not (tmp_path / "la.ppm").exists()


def test_nul_in_a_path_is_a_value_error_on_every_face(tmp_path):
    """'a.png\\0.jpg' was cut at the NUL by the system call: a.png got JPEG
    bytes. Every face refuses it as Python's open() does."""
    bad = str(tmp_path / "a.png") + "\0.jpg"
    bad_pattern = str(tmp_path / "a.png") + "\0{index}.jpg"
    x = rand(3, 4, 4)
    with pytest.raises(ValueError):
        open(bad, "wb")
    calls = [
        lambda: ti.save_image(x, bad),
        lambda: ti.save_image(x, str(tmp_path / "b.bmp") + "\0.png"),
        lambda: ti.save_images(x[None], bad_pattern),
        lambda: ti.read_image(bad),
        lambda: torch.ops.torchimage.save_image(x, bad),
    ]
    with ti.ImageWriter(threads=1) as writer:
        calls.append(lambda: writer.save_image(x, bad))
        calls.append(lambda: writer.save_images(x[None], bad_pattern))
        for call in calls:
            with pytest.raises(ValueError, match="NUL"):
                call()
    assert os.listdir(tmp_path) == []


_FORK_SCRIPT = r"""
import os, sys, time, torch, torchimage
out = sys.argv[1]
w = torchimage.ImageWriter(threads=2)
w.save_image(torch.rand(3, 8, 8), os.path.join(out, "p.png"))
w.flush()
for i in range(32):  # and busy at the fork
    w.save_image(torch.rand(3, 64, 64), os.path.join(out, f"busy{i}.png"))
pid = os.fork()
if pid == 0:
    try:
        w.save_image(torch.rand(3, 8, 8), os.path.join(out, "c.png"))
        os._exit(3)
    except RuntimeError as e:
        if "forked child" not in str(e):
            os._exit(4)
    del w  # the writer's destructor: it hung here
    import gc
    gc.collect()
    sys.exit(0)
deadline = time.time() + 30
while time.time() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        w.flush()
        sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode")
                 else status >> 8)
    time.sleep(0.01)
os.kill(pid, 9)
sys.exit(9)
"""


def _run_script(script, *args, timeout=120):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_a_forked_child_neither_hangs_nor_uses_the_writer(tmp_path):
    r = _run_script(_FORK_SCRIPT, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (tmp_path / "c.png").exists()
    assert (tmp_path / "busy31.png").exists()


_THREADS_SCRIPT = r"""
import os, resource, sys, torch, torchimage
out = sys.argv[1]
pages = int(open("/proc/self/statm").read().split()[0])
limit = pages * os.sysconf("SC_PAGE_SIZE") + (192 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
batch = torch.rand(40, 3, 8, 8)
with torchimage.ImageWriter(threads=4096) as w:
    w.save_images(batch, os.path.join(out, "w{index}.png"))
torchimage.save_images(batch, os.path.join(out, "f{index}.png"), threads=1000)
print(len(os.listdir(out)))
"""


def test_thread_limits_do_not_abort(tmp_path):
    """Threads that cannot start (here: an address-space limit) used to
    abort the interpreter ('terminate called without an active exception')."""
    r = _run_script(_THREADS_SCRIPT, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "80"


def test_int_arguments_past_64_bits(tmp_path):
    x = rand(5, 3, 4, 4, seed=72)
    # nrow: min(nrow, B) a row in torchvision, whatever its size.
    assert torch.equal(ti.make_grid(x, nrow=2**63), tv.make_grid(x, nrow=2**63))
    assert torch.equal(ti.make_grid(x, nrow=2**100), tv.make_grid(x, nrow=5))
    for kwargs in ({"padding": 2**63}, {"quality": 2**70}, {"padding": -2**64}):
        name = next(iter(kwargs))
        with pytest.raises(ValueError, match=f"{name} must be in"):
            ti.save_image(x, tmp_path / "x.jpg", **kwargs)
    with pytest.raises(ValueError, match="start_index must be in"):
        ti.save_images(x, tmp_path / "{index}.png", start_index=2**63)
    with pytest.raises(RuntimeError, match="passes the largest index"):
        ti.save_images(x, tmp_path / "{index}.png", start_index=2**63 - 2)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# The table of formats (issue 16): one table, read by every face


def test_formats_are_the_library_table_with_pillows_extensions():
    """formats() is the C++ table; each row's extensions are exactly the ones
    Pillow registers for that format, so that a path means the same format
    here as in torchvision's save_image."""
    rows = ti.formats()
    assert [f.name for f in rows] == list(torch.ops.torchimage.formats())
    assert {f.name for f in rows} >= {"png", "jpeg"}
    pillow = Image.registered_extensions()
    for f in rows:
        assert sorted("." + e for e in f.extensions) == sorted(
            e for e, fmt in pillow.items() if fmt.upper() == f.display_name.upper()), f
        assert f.available
    png = next(f for f in rows if f.name == "png")
    assert 16 in png.bit_depths and not png.lossy
    with pytest.raises(RuntimeError, match="unsupported format 'ppm'"):
        torch.ops.torchimage.format_info("ppm")


def test_bit_depth_16_gray_equals_reference_quantization(tmp_path):
    """bit_depth=16: torchvision's rule at 16 bits (* 65535 + 0.5, clamp,
    truncate), read back by Pillow (mode I;16)."""
    x = rand(1, 1, 9, 7, seed=41, low=-0.1, high=1.1)
    ti.save_image(x, tmp_path / "g16.png", bit_depth=16, grayscale=True, padding=0)
    assert read(tmp_path / "g16.png")[24:26] == bytes([16, 0])  # IHDR: 16-bit gray
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode in ("I", "I;16", "I;16B")  # Pillow 9 reads 16-bit gray as I
        got = np.asarray(im).astype(np.int64)
    want = x[0, 0].mul(65535).add_(0.5).clamp_(0, 65535).to(torch.int32).numpy()  # float32 ops
    assert np.array_equal(got, want)
    # The same bytes from encode_image and from the writer.
    data = read(tmp_path / "g16.png")
    assert bytes(ti.encode_image(x, bit_depth=16, grayscale=True, padding=0).numpy()) == data
    with ti.ImageWriter() as w:
        w.save_image(x, tmp_path / "w16.png", bit_depth=16, grayscale=True, padding=0)
    assert read(tmp_path / "w16.png") == data
    # JPEG has no 16-bit samples; nor do the formats Pillow writes here.
    with pytest.raises(RuntimeError, match="bit_depth 16 needs PNG"):
        ti.save_image(x, tmp_path / "g16.jpg", bit_depth=16)
    deep = " and ".join(f.display_name for f in ti.formats() if 16 in f.bit_depths)
    with pytest.raises(ValueError, match=f"bit_depth 16 is written for {deep} only"):
        ti.save_image(x, tmp_path / "g16.ppm", bit_depth=16)
    assert sorted(os.listdir(tmp_path)) == ["g16.png", "w16.png"]


def test_replace_read_only(tmp_path):
    x = rand(2, 3, 4, 4, seed=42)
    for name in ("ro.png", "ro.ppm"):
        path = tmp_path / name
        path.write_bytes(b"old")
        path.chmod(0o444)
        if os.geteuid() != 0:  # root may write any file: nothing to refuse
            with pytest.raises(RuntimeError, match="read-only"):
                ti.save_image(x, path)
            assert read(path) == b"old"
        ti.save_image(x, path, replace_read_only=True)
        tv.save_image(x, tmp_path / ("tv" + name[2:]))
        expected = pil_pixels(read(tmp_path / ("tv" + name[2:])))
        assert np.array_equal(pil_pixels(read(path)), expected)
    assert sorted(os.listdir(tmp_path)) == ["ro.png", "ro.ppm", "tv.png", "tv.ppm"]


def test_out_of_int_range_values_are_refused_by_name(tmp_path):
    x = rand(2, 3, 4, 4, seed=43)
    with pytest.raises(RuntimeError, match="quality must fit a 32-bit int, got 4294967296"):
        torch.ops.torchimage.save_image(x, str(tmp_path / "a.jpg"), quality=2**32)
    with pytest.raises(RuntimeError, match="quality must be in 1-100, got 0"):
        torch.ops.torchimage.encode_image(x, format="jpeg", quality=0)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# Issue 29: Pillow's formats as torchvision writes them, and the faces agree


def _pillow_save_extensions():
    """Every extension Pillow maps to a format it can save."""
    exts = Image.registered_extensions()
    return sorted(e for e, f in exts.items() if f.upper() in Image.SAVE)


_TABLE_EXTENSIONS = {"." + e for f in ti.formats() for e in f.extensions}
_ROW_OF_EXTENSION = {"." + e: f for f in ti.formats() for e in f.extensions}


def _system_libwebp():
    """The version of the libwebp torchimage links (the system's), as 'a.b.c'."""
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library("webp")
    if name is None:
        return None
    v = ctypes.CDLL(name).WebPGetEncoderVersion()
    return f"{v >> 16}.{(v >> 8) & 0xff}.{v & 0xff}"


def _same_libwebp():
    """Whether Pillow's libwebp is the one torchimage links: pip's Pillow
    bundles its own, whose bytes (not pixels' closeness) may differ."""
    from PIL import features
    return features.version("webp") is not None and features.version("webp") == _system_libwebp()


_LIBWEBP_REASON = "Pillow's libwebp is not the system's (pip's Pillow bundles its own)"


def _outcome(save, path):
    """The bytes save(path) leaves at path, or the exception it raised."""
    try:
        save(path)
    except Exception as e:  # noqa: BLE001 - the refusal is the outcome compared
        return e
    return path.read_bytes()


def _comparable(ext, data):
    # A PDF holds the second it was written (/CreationDate, /ModDate): the
    # only bytes two runs of the same call may differ in.
    if ext == ".pdf":
        import re
        return re.sub(rb"D:\d{14}Z", b"D:(time)", data)
    return data


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("ext", _pillow_save_extensions())
def test_every_pillow_extension_writes_torchvisions_bytes(ext, channels, tmp_path):
    """save_image(x, "<dir>/image<ext>") gives the file torchvision's call
    gives (both with the same file name: some formats write it into the
    file), or, where the format refuses the image, the same refusal and no
    file. Extensions torchimage encodes itself (its table) are PNG and JPEG:
    JPEG's bytes are Pillow's; PNG's are with compression_level=6 (the
    default is a faster encoder of the same pixels)."""
    x = rand(2, channels, 9, 7, seed=29)
    (tmp_path / "tv").mkdir()
    (tmp_path / "ti").mkdir()
    extra = {"compression_level": 6} if ext in _TABLE_EXTENSIONS else {}
    want = _outcome(lambda p: tv.save_image(x, p), tmp_path / "tv" / f"image{ext}")
    got = _outcome(lambda p: ti.save_image(x, p, **extra), tmp_path / "ti" / f"image{ext}")
    if isinstance(want, Exception):
        assert isinstance(got, Exception), f"torchvision refuses ({want!r}); torchimage wrote a file"
        assert not (tmp_path / "ti" / f"image{ext}").exists()
        if ext not in _TABLE_EXTENSIONS:
            # Pillow's own refusal, raised as torchvision raises it.
            assert type(got) is type(want) and str(got) == str(want)
        return
    row = _ROW_OF_EXTENSION.get(ext)
    if row is not None and row.name == "gif" and channels == 4:
        # torchimage's GIF refuses alpha (Pillow drops it, but for one
        # transparent index): docs/formats.md.
        assert isinstance(got, Exception) and "GIF has no alpha channel" in str(got)
        assert not (tmp_path / "ti" / f"image{ext}").exists()
        return
    assert not isinstance(got, Exception), f"torchvision writes {ext}; torchimage raised {got!r}"
    if row is not None and row.name == "gif":
        # Palettes differ (torchimage's own quantizer); at most 256 colours,
        # as here, both hold the pixels exactly.
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(got)).convert("RGB")),
                              np.asarray(Image.open(io.BytesIO(want)).convert("RGB")))
        return
    if row is not None and not row.lossy and got != want:
        # A lossless row may lay its file out otherwise (TIFF: libtiff's
        # writer, not Pillow's): the same pixels, as Pillow reads them.
        assert np.array_equal(pil_pixels(got), pil_pixels(want))
        return
    if row is not None and row.name == "webp" and not _same_libwebp():
        pytest.skip(_LIBWEBP_REASON)
    assert _comparable(ext, got) == _comparable(ext, want)


def test_j2k_is_a_raw_codestream_like_torchvision(tmp_path):
    """The issue's case: .j2k is a raw JPEG 2000 codestream (SOC marker
    FF 4F FF 51), .jp2 a JP2 container (a signature box), as Pillow writes
    for a path; with an explicit format too; and through a file object whose
    name says .j2k."""
    if ".j2k" not in _pillow_save_extensions():
        pytest.skip("Pillow without JPEG 2000")
    x = rand(3, 3, 16, 16, seed=5)
    ti.save_image(x, tmp_path / "a.j2k")
    ti.save_image(x, tmp_path / "b.jp2")
    ti.save_image(x, tmp_path / "c.j2k", format="JPEG2000")
    assert read(tmp_path / "a.j2k")[:4] == b"\xff\x4f\xff\x51"
    assert read(tmp_path / "b.jp2")[4:8] == b"jP  "
    tv.save_image(x, tmp_path / "tv.j2k", format="JPEG2000")
    assert read(tmp_path / "c.j2k") == read(tmp_path / "tv.j2k")
    with open(tmp_path / "d.j2k", "wb") as f:
        ti.save_image(x, f, format="JPEG2000")
    assert read(tmp_path / "d.j2k") == read(tmp_path / "tv.j2k")


@pytest.mark.parametrize("ext", [".ppm", ".pcx", ".tga"])
@pytest.mark.parametrize("option,value", [("quality", 0), ("quality", 101), ("quality", -5),
                                          ("compression_level", 10),
                                          ("compression_level", -1), ("bit_depth", 12)])
def test_pillow_formats_check_options_as_the_library(ext, option, value, tmp_path):
    """A bad option is refused for a Pillow format with the library's rule
    and message (those of PNG and JPEG, which torchimage encodes), before
    anything is written; the same call through the TorchScript operator's
    check says the same."""
    if ext not in _pillow_save_extensions():
        pytest.skip(f"Pillow without {ext}")
    x = rand(2, 3, 8, 8, seed=3)
    with pytest.raises(RuntimeError) as native:
        ti.save_image(x, tmp_path / "n.png", **{option: value})
    with pytest.raises(RuntimeError) as pillow:
        ti.save_image(x, tmp_path / f"p{ext}", **{option: value})
    assert str(pillow.value).splitlines()[0] == str(native.value).splitlines()[0]
    assert f"{option} must be" in str(pillow.value) and str(value) in str(pillow.value)
    assert os.listdir(tmp_path) == []


def test_value_range_without_normalize_is_ignored_in_every_face(tmp_path):
    """torchvision ignores value_range unless normalize=True, whatever it
    holds (reversed, NaN, infinite, not even a pair): so do the Python face,
    the TorchScript operators and the C++ library under them."""
    x = rand(4, 3, 6, 5, seed=9, low=-0.5, high=1.5)
    want = tv.make_grid(x)
    for bad in [(1.0, -1.0), (float("nan"), 0.0), (0.0, float("inf"))]:
        assert torch.equal(ti.make_grid(x, value_range=bad), want)
        assert torch.equal(tv.make_grid(x, value_range=bad), want)
        assert torch.equal(torch.ops.torchimage.make_grid(x, value_range=list(bad)), want)
        assert torch.equal(torch.ops.torchimage.make_grid(x, value_range=list(bad),
                                                          scale_each=True), want)
        ti.save_image(x, tmp_path / "a.png", value_range=bad)
        assert np.array_equal(pil_pixels(read(tmp_path / "a.png")), tv_pixels(x))
        torch.ops.torchimage.save_image(x, str(tmp_path / "b.png"), value_range=list(bad))
        assert np.array_equal(pil_pixels(read(tmp_path / "b.png")), tv_pixels(x))
    # With normalize it counts, and a bad one is refused in every face alike.
    msgs = set()
    for call in (lambda: ti.make_grid(x, normalize=True, value_range=(1.0, -1.0)),
                 lambda: torch.ops.torchimage.make_grid(x, normalize=True,
                                                        value_range=[1.0, -1.0])):
        with pytest.raises(RuntimeError, match="value_range must have low <= high") as e:
            call()
        msgs.add(str(e.value).splitlines()[0])
    assert len(msgs) == 1


def _png16(values, tmp_path):
    """A 16-bit gray PNG of uint16 `values` (H, W), written by Pillow: the
    independent side."""
    arr = values.numpy().astype("<u2")
    im = Image.frombytes("I;16", (arr.shape[1], arr.shape[0]), arr.tobytes())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_decode_image_keep_16_bit(tmp_path):
    """decode_image(keep_16_bit=True) as the C++ DecodeOptions: a 16-bit PNG
    (written by Pillow) keeps its samples, in torch's uint16 where it exists
    or int32 (1.13); by default they are reduced to 8 bits. read_image and
    the TorchScript operators take it too."""
    g = torch.Generator().manual_seed(16)
    values = torch.randint(0, 65536, (5, 7), generator=g)
    data = _png16(values, tmp_path)
    tensor = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    wide = getattr(torch, "uint16", torch.int32)
    kept = ti.decode_image(tensor, keep_16_bit=True)
    assert kept.dtype == wide and kept.shape == (1, 5, 7)
    assert torch.equal(kept.to(torch.int64)[0], values)
    narrow = ti.decode_image(tensor)
    assert narrow.dtype == torch.uint8 and narrow.shape == (1, 5, 7)
    assert torch.equal(torch.ops.torchimage.decode_image(tensor, keep_16_bit=True), kept)
    (tmp_path / "d.png").write_bytes(data)
    assert torch.equal(ti.read_image(tmp_path / "d.png", keep_16_bit=True), kept)
    assert torch.equal(torch.ops.torchimage.read_image(str(tmp_path / "d.png"), keep_16_bit=True),
                       kept)
    # A 16-bit PNG from torchimage itself round-trips its quantized samples
    # (torchvision's rule: * 65535 + 0.5, clamp, truncate).
    x = rand(1, 6, 4, seed=4)
    png = ti.encode_image(x, bit_depth=16, grayscale=True)
    want = (x * 65535 + 0.5).clamp(0, 65535).to(torch.int64)
    assert torch.equal(ti.decode_image(png, keep_16_bit=True).to(torch.int64), want)


# ---------------------------------------------------------------------------
# Issue 29: file names that are not UTF-8 (paths are bytes on Linux)


def _latin1_dir(tmp_path):
    """A folder whose name is Latin-1 (b"caf\xe9"), not UTF-8; as bytes."""
    d = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(d)
    return d


def test_bytes_paths_that_are_not_utf8(tmp_path):
    """save_image, save_images, the writer, read_image and the Pillow formats
    take bytes paths (and the str os.fsdecode makes of them), and write the
    file of exactly those bytes, holding torchvision's pixels."""
    d = _latin1_dir(tmp_path)
    x = rand(3, 3, 8, 6, seed=8)
    want = tv_pixels(x)
    ti.save_image(x, d + b"/\xe9t\xe9.png")
    assert np.array_equal(pil_pixels(read(d + b"/\xe9t\xe9.png")), want)
    ti.save_image(x, os.fsdecode(d + b"/s\xe9.jpg"))  # the surrogate-escaped str
    assert os.path.exists(d + b"/s\xe9.jpg")
    assert read(d + b"/s\xe9.jpg") == tv_bytes(x, "jpeg")
    ti.save_image(x, pathlib.Path(os.fsdecode(d)) / "p.png")
    assert np.array_equal(pil_pixels(read(d + b"/p.png")), want)
    # A Pillow format: torchvision writes the same bytes (given the format:
    # Pillow takes no extension from a bytes path).
    ti.save_image(x, d + b"/b\xe9.bmp")
    tv.save_image(x, d + b"/tv\xe9.bmp", format="BMP")
    assert read(d + b"/b\xe9.bmp") == read(d + b"/tv\xe9.bmp")
    ti.save_images(x, d + b"/n\xe9{index}.png")
    for i in range(3):
        assert np.array_equal(pil_pixels(read(d + b"/n\xe9%d.png" % i)), tv_pixels(x[i]))
    with ti.ImageWriter(threads=2) as w:
        w.save_image(x, d + b"/w\xe9.png")
        w.save_images(x, d + b"/v\xe9{index}.png")
    assert np.array_equal(pil_pixels(read(d + b"/w\xe9.png")), want)
    assert np.array_equal(pil_pixels(read(d + b"/v\xe92.png")), tv_pixels(x[2]))
    assert np.array_equal(ti.read_image(d + b"/\xe9t\xe9.png").permute(1, 2, 0).numpy(), want)
    # The TorchScript operators take the bytes as they are.
    torch.ops.torchimage.save_image(x, d + b"/o\xe9.png")
    assert np.array_equal(pil_pixels(read(d + b"/o\xe9.png")), want)
    assert sorted(os.listdir(d)) == sorted(
        [b"\xe9t\xe9.png", b"s\xe9.jpg", b"p.png", b"b\xe9.bmp", b"tv\xe9.bmp", b"w\xe9.png",
         b"o\xe9.png"] + [b"n\xe9%d.png" % i for i in range(3)] +
        [b"v\xe9%d.png" % i for i in range(3)])


def test_errors_about_non_utf8_paths_are_readable(tmp_path):
    """An error naming a path that is not UTF-8 is the library's error
    (RuntimeError, ValueError), readable, not a UnicodeDecodeError."""
    d = _latin1_dir(tmp_path)
    x = rand(3, 3, 8, 6, seed=8)
    missing = d + b"/no\xe9/x.png"
    for call in (lambda: ti.save_image(x, missing),
                 lambda: ti.save_image(x, d + b"/no\xe9/x.bmp"),
                 lambda: ti.read_image(missing),
                 lambda: ti.save_images(x, d + b"/no\xe9/{index}.png")):
        with pytest.raises((RuntimeError, ValueError)) as e:
            call()
        assert "no" in str(e.value) and "x" in str(e.value) or "index" in str(e.value)
    with pytest.raises(ValueError):
        ti.save_image(x, d + b"/a\0.png")


# ---------------------------------------------------------------------------
# Issue 29: views with the negative or conjugate bit (z.conj().imag,
# torch._neg_view(x)) hold -x in memory: every face must give x's pixels.


def _neg_views():
    base = rand(4, 3, 7, 6, seed=29, low=-1, high=1)
    z = torch.complex(rand(4, 3, 7, 6, seed=30, low=-1, high=1), base)
    conj_imag = z.conj().imag  # == -base, with is_neg() set
    neg = torch._neg_view(base)  # == -base, with is_neg() set
    assert conj_imag.is_neg() and neg.is_neg()
    return [("conj-imag", conj_imag), ("neg-view", neg),
            ("neg-view-noncontig", torch._neg_view(base.transpose(2, 3)))]


@pytest.mark.parametrize("name,view", _neg_views(), ids=[n for n, _ in _neg_views()])
@pytest.mark.parametrize("kw", [{}, NORM, {"normalize": True}, {"nrow": 2, "padding": 1}],
                         ids=["plain", "norm-range", "norm-minmax", "nrow2"])
def test_neg_and_conj_views_give_their_values_pixels(name, view, kw, tmp_path):
    """Python's save_image, make_grid, encode_image, to_pixels and the
    writer, and the TorchScript operators, against torchvision on the same
    view (torchvision computes with ATen, which honours the bit) and on its
    materialized copy."""
    plain = view.resolve_neg().clone()
    assert not plain.is_neg()
    want = tv_pixels(plain, **kw)
    assert np.array_equal(tv_pixels(view, **kw), want)
    assert torch.equal(ti.make_grid(view, **kw), tv.make_grid(plain, **kw))
    assert np.array_equal(ti.to_pixels(view, **kw).numpy(), want)
    ti.save_image(view, tmp_path / "s.png", **kw)
    assert np.array_equal(pil_pixels(read(tmp_path / "s.png")), want)
    assert np.array_equal(pil_pixels(ti.encode_image(view, **kw).numpy().tobytes()), want)
    assert ti.encode_image(view, format="jpeg", **kw).numpy().tobytes() == tv_bytes(plain, "jpeg", **kw)
    ti.save_image(view, tmp_path / "s.ppm", **kw)  # Pillow's format: to_pixels
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s.ppm")), want)
    with ti.ImageWriter(threads=2) as w:
        w.save_image(view, tmp_path / "w.png", **kw)
        w.save_images(view, tmp_path / "w{index}.png", **kw)
        w.save_image([view[0], view[1]], tmp_path / "l.png", **kw)
    assert np.array_equal(pil_pixels(read(tmp_path / "w.png")), want)
    for i in range(view.shape[0]):
        assert np.array_equal(pil_pixels(read(tmp_path / f"w{i}.png")), tv_pixels(plain[i], **kw))
    assert np.array_equal(pil_pixels(read(tmp_path / "l.png")), tv_pixels(plain[:2], **kw))
    ti.save_images(view, tmp_path / "f{index}.png", threads=2, **kw)
    for i in range(view.shape[0]):
        assert np.array_equal(pil_pixels(read(tmp_path / f"f{i}.png")), tv_pixels(plain[i], **kw))
    # The TorchScript operators, called directly and from a scripted function.
    op_kw = dict(kw)
    if "value_range" in op_kw:
        op_kw["value_range"] = [float(v) for v in op_kw["value_range"]]
    ops = torch.ops.torchimage
    assert torch.equal(ops.make_grid(view, **op_kw), tv.make_grid(plain, **kw))
    assert np.array_equal(ops.to_pixels(view, **op_kw).numpy(), want)
    ops.save_image(view, str(tmp_path / "o.png"), **op_kw)
    assert np.array_equal(pil_pixels(read(tmp_path / "o.png")), want)
    assert np.array_equal(pil_pixels(ops.encode_image(view, **op_kw).numpy().tobytes()), want)
    writer = ti.ImageWriter(threads=2).scripted
    writer.save_image(view, str(tmp_path / "ow.png"), **op_kw).wait()
    assert np.array_equal(pil_pixels(read(tmp_path / "ow.png")), want)

    @torch.jit.script
    def scripted(t: torch.Tensor, path: str):
        torch.ops.torchimage.save_image(t, path, nrow=2, padding=1)

    scripted(view, str(tmp_path / "js.png"))
    assert np.array_equal(pil_pixels(read(tmp_path / "js.png")),
                          tv_pixels(plain, nrow=2, padding=1))


@pytest.mark.parametrize("name,view", _neg_views()[:2], ids=[n for n, _ in _neg_views()[:2]])
def test_neg_views_at_16_bit(name, view, tmp_path):
    """16-bit output (bit_depth=16) of a neg view holds its values' samples:
    the same file as its materialized copy gives."""
    plain = view.resolve_neg().clone().abs()
    pos = torch._neg_view(-plain)  # values |x| in [0, 1], memory -|x|
    assert pos.is_neg() and torch.equal(pos.resolve_neg(), plain)
    want16 = ti.encode_image(plain, bit_depth=16)
    assert torch.equal(ti.encode_image(pos, bit_depth=16), want16)
    ti.save_image(pos, tmp_path / "a.png", bit_depth=16)
    assert read(tmp_path / "a.png") == want16.numpy().tobytes()
    torch.ops.torchimage.save_image(pos, str(tmp_path / "b.png"), bit_depth=16)
    assert read(tmp_path / "b.png") == want16.numpy().tobytes()


# ---------------------------------------------------------------------------
# Every row of the table against torchvision (issue 23): a new row is tested
# here with no new code. What a row promises comes from the row: lossless
# rows hold torchvision's pixels exactly (read back by Pillow, by
# torchimage's decoder, and for TIFF by tifffile); lossy rows write Pillow's
# bytes where both use the same library (JPEG; WebP on the system's libwebp).

_ROWS = [f.name for f in ti.formats()]


def _row(name):
    return next(f for f in ti.formats() if f.name == name)


def _random_call(seed, channels):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 17, (1,), generator=g))
    h, w = (int(v) for v in torch.randint(3, 20, (2,), generator=g))
    x = torch.rand(n, channels, h, w, generator=g) * 2 - 1
    kw = {"nrow": int(torch.randint(1, 9, (1,), generator=g)),
          "padding": int(torch.randint(0, 4, (1,), generator=g))}
    if seed % 2:
        kw.update(normalize=True, value_range=(-1, 1))
    elif seed % 3 == 0:
        kw.update(normalize=True)
    return x, kw


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("row", _ROWS)
def test_every_row_matches_torchvision(row, channels, seed, tmp_path):
    f = _row(row)
    if not f.available:
        pytest.skip(f"{f.display_name} is not in this build")
    x, kw = _random_call(1000 * seed + channels, channels)
    ext = "." + f.extensions[0]
    written = 3 if channels == 1 else channels  # make_grid repeats gray to RGB
    ours, theirs = tmp_path / f"ti{ext}", tmp_path / f"tv{ext}"
    if written not in f.channels:
        if f.name != "gif":  # Pillow writes RGBA GIFs (alpha dropped); torchimage refuses
            with pytest.raises(Exception):
                tv.save_image(x, theirs, **kw)
        with pytest.raises(RuntimeError, match="channels"):
            ti.save_image(x, ours, **kw)
        assert not ours.exists()
        return
    tv.save_image(x, theirs, **kw)
    ti.save_image(x, ours, **kw)
    want = tv_pixels(x, **kw)
    decoded = ti.read_image(ours).permute(1, 2, 0).numpy()
    if f.name == "gif":
        # torchimage's palette: exact up to 256 colours, else the 6x7x6
        # cube's nearest levels (docs/formats.md); Pillow reads the same.
        pil = np.asarray(Image.open(ours).convert("RGB"))
        decoded = np.repeat(decoded, 3, axis=2) if decoded.shape[2] == 1 else decoded
        assert np.array_equal(decoded, pil), "torchimage's decoder and Pillow"
        if len(np.unique(want.reshape(-1, 3), axis=0)) <= 256:
            assert np.array_equal(pil, want)
        else:
            err = np.abs(pil.astype(int) - want.astype(int))
            assert err[..., 0].max() <= 26 and err[..., 1].max() <= 22 and err[..., 2].max() <= 26
        return
    if not f.lossy:
        assert np.array_equal(decoded, want), "torchimage's decoder"
        assert np.array_equal(pil_pixels(read(ours)), pil_pixels(read(theirs))), "Pillow reads both"
        if f.name == "tiff":
            import tifffile
            assert np.array_equal(tifffile.imread(ours).reshape(want.shape), want), "tifffile"
        return
    if f.name == "webp" and not _same_libwebp():
        pytest.skip(_LIBWEBP_REASON)
    assert read(ours) == read(theirs), "Pillow's bytes on the same library"
    assert np.array_equal(decoded, pil_pixels(read(theirs)))


@pytest.mark.parametrize("row", _ROWS)
def test_every_row_through_every_python_face(row, tmp_path):
    """encode_image, the writer, save_images and format= name the row as
    save_image does: the same bytes."""
    f = _row(row)
    if not f.available:
        pytest.skip(f"{f.display_name} is not in this build")
    x = rand(3, 3, 7, 9, seed=77)
    ext = f.extensions[-1]
    ti.save_image(x, tmp_path / f"a.{ext}")
    data = read(tmp_path / f"a.{ext}")
    assert bytes(ti.encode_image(x, f.name).numpy()) == data
    ti.save_image(x, tmp_path / "b.bin", format=f.name.upper())
    assert read(tmp_path / "b.bin") == data
    with ti.ImageWriter(threads=2) as w:
        w.save_image(x, tmp_path / f"w.{ext}")
        w.save_images(x, tmp_path / f"s{{index}}.{ext}")
    assert read(tmp_path / f"w.{ext}") == data
    for i in range(3):
        assert read(tmp_path / f"s{i}.{ext}") == bytes(ti.encode_image(x[i], f.name).numpy())


@pytest.mark.parametrize("compression,tag", [("raw", 1), ("tiff_lzw", 5), ("tiff_deflate", 8),
                                             ("zstd", 50000), (None, 1)])
def test_tiff_compression_as_pillows_keyword(compression, tag, tmp_path):
    if not _row("tiff").available:
        pytest.skip("TIFF is not in this build")
    x = rand(5, 4, 20, 30, seed=13)
    kw = {} if compression is None else {"compression": compression}
    ti.save_image(x, tmp_path / "c.tif", **kw)
    with Image.open(tmp_path / "c.tif") as im:
        assert im.tag_v2[259] == tag
        try:
            pixels = np.asarray(im)
        except OSError:
            # pip's Pillow 11.3 bundles a libtiff built without ZSTD ("ZSTD
            # compression support is not configured"): the system's libtiff,
            # through torchimage's decoder, reads it instead.
            assert compression == "zstd"
            pixels = ti.read_image(tmp_path / "c.tif").permute(1, 2, 0).numpy()
        assert np.array_equal(pixels, tv_pixels(x))
    with pytest.raises(RuntimeError, match="unknown TIFF compression 'jpeg'"):
        ti.save_image(x, tmp_path / "d.tif", compression="jpeg")
    assert not (tmp_path / "d.tif").exists()


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_tiff_16_bit_and_float_read_back_exactly_by_tifffile(channels, tmp_path):
    """bit_depth=16 (torchvision's rule at 16 bits) and keep_values=True
    (make_grid's float32 values as they are) read back exactly by tifffile,
    an independent reader."""
    if not _row("tiff").available:
        pytest.skip("TIFF is not in this build")
    import tifffile
    x = rand(4, channels, 6, 5, seed=channels, low=-0.2, high=1.3)
    kw = {"nrow": 3, "pad_value": 0.25, "grayscale": True}
    grid = ti.make_grid(x, **kw)
    ti.save_image(x, tmp_path / "s16.tif", bit_depth=16, **kw)
    want16 = grid.mul(65535).add_(0.5).clamp_(0, 65535).to(torch.int32).permute(1, 2, 0).numpy()
    got = tifffile.imread(tmp_path / "s16.tif")
    assert got.dtype == np.uint16
    assert np.array_equal(got.reshape(want16.shape).astype(np.int64), want16)
    ti.save_image(x * 1000, tmp_path / "f32.tif", keep_values=True, **kw)
    want = ti.make_grid(x * 1000, **kw).permute(1, 2, 0).numpy()
    got = tifffile.imread(tmp_path / "f32.tif")
    assert got.dtype == np.float32
    assert np.array_equal(got.reshape(want.shape), want)
    back = ti.read_image(tmp_path / "f32.tif")
    assert back.dtype == torch.float32 and torch.equal(back, ti.make_grid(x * 1000, **kw))
    with pytest.raises(RuntimeError, match="keep_values"):
        ti.save_image(x, tmp_path / "f.png", keep_values=True)
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("kw", [{}, {"quality": 90}, {"quality": 5}, {"lossless": True},
                                {"lossless": True, "quality": 30}])
def test_webp_options_are_pillows(kw, tmp_path):
    """quality (unset: Pillow's 80) and lossless give Pillow's bytes on the
    same libwebp; lossless holds torchvision's pixels exactly."""
    if not _row("webp").available:
        pytest.skip("WebP is not in this build")
    x = rand(6, 4, 16, 16, seed=8)
    ti.save_image(x, tmp_path / "x.webp", **kw)
    pixels = tv_pixels(x)
    if kw.get("lossless"):
        assert np.array_equal(pil_pixels(read(tmp_path / "x.webp")), pixels)
    if not _same_libwebp():
        pytest.skip(_LIBWEBP_REASON)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="WEBP", **kw)
    assert read(tmp_path / "x.webp") == buf.getvalue()
