"""Animations (issue 23): torchimage.save_animation (the C++ save_animation,
whose AnimationWriter grows a file a frame at a time: tests/test_animation.cpp)
written as APNG, animated WebP and GIF, read back by Pillow's ImageSequence:
every frame equals the pixels save_image would write for it (to_pixels), GIF
exactly for frames of at most 256 colours; each frame lasts 1000 / fps ms and
the loop count is the one given. The CLI's `animate` writes the same bytes."""
import os
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

import torchimage as ti
from conftest import cli_path


def _row(name):
    return next(f for f in ti.formats() if f.name == name)


def frames_of(n, channels=3, shape=(2, 6, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    b, h, w = shape
    return [torch.rand(b, channels, h, w, generator=g) for _ in range(n)]


def pillow_frames(path, mode):
    im = Image.open(path)
    out = []
    for frame in ImageSequence.Iterator(im):
        out.append((np.asarray(frame.convert(mode)), frame.info.get("duration")))
    return im, out


def expected(frame, **kw):
    px = ti.to_pixels(frame, **kw).numpy()
    return px[..., 0] if px.shape[2] == 1 else px


CASES = [  # extension, save keywords, channels, Pillow mode, exact
    ("png", {}, 3, "RGB", True),
    ("apng", {"normalize": True}, 4, "RGBA", True),
    ("png", {"grayscale": True}, 1, "L", True),
    ("webp", {"lossless": True}, 3, "RGB", True),
    ("webp", {"lossless": True}, 4, "RGBA", True),
    ("webp", {}, 3, "RGB", False),
    ("gif", {}, 3, "RGB", True),
    ("gif", {"grayscale": True, "padding": 0}, 1, "L", True),
]


@pytest.mark.parametrize("ext,kw,channels,mode,exact", CASES)
def test_pillow_reads_every_frame(ext, kw, channels, mode, exact, tmp_path):
    row = next(f for f in ti.formats() if ext in f.extensions)
    if not row.available:
        pytest.skip(f"{row.display_name} is not in this build")
    assert row.animated
    frames = frames_of(4, channels, seed=len(ext) + channels)
    path = tmp_path / f"a.{ext}"
    ti.save_animation(frames, path, fps=5, loop=2, **kw)
    im, got = pillow_frames(path, mode)
    assert len(got) == 4 and getattr(im, "n_frames", 1) == 4
    assert im.info.get("loop") == 2
    for i, (px, duration) in enumerate(got):
        want = expected(frames[i], **{k: v for k, v in kw.items() if k != "lossless"})
        assert duration == 200, f"frame {i}"
        if exact and ext == "webp" and mode == "RGBA":
            # libwebp with `exact` off (Pillow's setting) keeps no colour
            # under alpha 0: those pixels compare by their alpha only.
            seen = want[..., 3] > 0
            assert np.array_equal(px[seen], want[seen]), f"frame {i}"
            assert np.array_equal(px[..., 3], want[..., 3]), f"frame {i}"
        elif exact:
            assert np.array_equal(px, want), f"frame {i}"
        else:
            # Lossy WebP: the frame is the single image's encoding (the same
            # libwebp call), decoded alike.
            single = tmp_path / "single.webp"
            ti.save_image(frames[i], single, **kw)
            assert np.array_equal(px, np.asarray(Image.open(single).convert(mode))), f"frame {i}"


def test_gif_of_many_colours_is_the_cube(tmp_path):
    """More than 256 colours: each sample is the nearest level of the 6x7x6
    cube (no dithering), so off by at most half a step."""
    if not _row("gif").available:
        pytest.skip("GIF is not in this build")
    frames = frames_of(2, 3, shape=(4, 16, 16), seed=3)
    ti.save_animation(frames, tmp_path / "a.gif", fps=4)
    _, got = pillow_frames(tmp_path / "a.gif", "RGB")
    for (px, duration), f in zip(got, frames):
        want = expected(f).astype(int)
        assert len(np.unique(want.reshape(-1, 3), axis=0)) > 256
        err = np.abs(px.astype(int) - want)
        assert err[..., 0].max() <= 26 and err[..., 1].max() <= 22 and err[..., 2].max() <= 26
        assert duration == 250
    # A single GIF image is the same quantization.
    ti.save_image(frames[0], tmp_path / "one.gif")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "one.gif").convert("RGB")), got[0][0])


def test_single_gif_of_few_colours_is_exact(tmp_path):
    """save_image(x, "x.gif"): at most 256 colours (gray always) decode in
    Pillow to exactly the pixels."""
    if not _row("gif").available:
        pytest.skip("GIF is not in this build")
    for channels, kw in [(3, {}), (1, {}), (1, {"grayscale": True})]:
        x = frames_of(1, channels, shape=(3, 5, 6), seed=channels)[0]
        ti.save_image(x, tmp_path / "x.gif", **kw)
        want = expected(x, **kw)
        mode = "L" if want.ndim == 2 else "RGB"
        assert np.array_equal(np.asarray(Image.open(tmp_path / "x.gif").convert(mode)), want)
        assert np.array_equal(ti.read_image(tmp_path / "x.gif").permute(1, 2, 0).numpy().squeeze(),
                              want.squeeze())


def test_frames_of_other_sizes_are_refused(tmp_path):
    frames = frames_of(2) + [torch.rand(3, 5, 5)]
    with pytest.raises(RuntimeError, match="3x5x5"):
        ti.save_animation(frames, tmp_path / "a.png")
    with pytest.raises(RuntimeError, match="holds one image"):
        ti.save_animation(frames_of(2), tmp_path / "a.jpg")
    with pytest.raises(RuntimeError, match="fps"):
        ti.save_animation(frames_of(2), tmp_path / "a.png", fps=0)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("ext", ["png", "webp", "gif"])
def test_cli_animate_writes_the_same_file(ext, tmp_path):
    cli = cli_path()
    if cli is None:
        pytest.skip("no torchimage command beside this package")
    if not next(f for f in ti.formats() if ext in f.extensions).available:
        pytest.skip(f"{ext} is not in this build")
    frames = frames_of(3)
    names = []
    for i, f in enumerate(frames):
        names.append(str(tmp_path / f"f{i}.pt"))
        torch.save(f, names[-1])
    subprocess.run([cli, "animate", str(tmp_path / f"cli.{ext}"), *names, "--fps", "10",
                    "--loop", "1", "--nrow", "1"], check=True)
    ti.save_animation(frames, tmp_path / f"py.{ext}", fps=10, loop=1, nrow=1)
    assert (tmp_path / f"cli.{ext}").read_bytes() == (tmp_path / f"py.{ext}").read_bytes()
