"""Layouts (dataformats=) and colormaps (colormap=) through every face,
against torchvision on the channels-first permutation and matplotlib's
colormap tables."""
import io
import random
import subprocess

import matplotlib
import numpy as np
import pytest
import torch
import torchvision.utils as tvu
from matplotlib import cm  # noqa: F401
from PIL import Image

import torchimage
from conftest import cli_path


def tv_pixels(x, **kw):
    """The uint8 (H, W, C) pixels torchvision's save_image writes."""
    grid = tvu.make_grid(x, **kw)
    return grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8)


def cmap(name, q):
    """matplotlib's colormap of uint8 values q, as RGB bytes."""
    return matplotlib.colormaps[name](np.asarray(q).astype(np.int64), bytes=True)[..., :3]


def png_pixels(data):
    return np.array(Image.open(io.BytesIO(bytes(data.numpy()))))


@pytest.mark.parametrize("seed", range(6))
def test_nhwc_is_its_permutation(seed, tmp_path):
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    b, c, h, w = rng.randint(1, 6), rng.choice([1, 3, 4]), rng.randint(1, 20), rng.randint(1, 20)
    nchw = torch.rand(b, c, h, w, generator=gen) * 2 - 1
    nhwc_view = nchw.permute(0, 2, 3, 1)
    nhwc = nhwc_view.contiguous()
    kw = dict(nrow=rng.randint(1, 4), padding=rng.randint(0, 3), normalize=True)
    expected = tvu.make_grid(nchw, **kw)
    for t in (nhwc, nhwc_view):
        assert torch.equal(torchimage.make_grid(t, dataformats="NHWC", **kw), expected)
        assert torch.equal(torchimage.encode_image(t, dataformats="NHWC", **kw),
                           torchimage.encode_image(nchw, **kw))
        assert torch.equal(torchimage.to_pixels(t, dataformats="NHWC", **kw), tv_pixels(nchw, **kw))
    torchimage.save_image(nhwc, tmp_path / "a.png", dataformats="NHWC", **kw)
    tvu.save_image(nchw, tmp_path / "b.png", **kw)
    assert np.array_equal(np.array(Image.open(tmp_path / "a.png")),
                          np.array(Image.open(tmp_path / "b.png")))
    # One file per sample, in a batch and in a list; and the writer.
    torchimage.save_images(nhwc, str(tmp_path / "n_{index}.png"), dataformats="NHWC", normalize=True)
    torchimage.save_images(list(nhwc), str(tmp_path / "l_{index}.png"), dataformats="HWC",
                           normalize=True)
    with torchimage.ImageWriter() as writer:
        writer.save_images(nhwc, str(tmp_path / "w_{index}.png"), dataformats="NHWC",
                           normalize=True)
        writer.save_image(nhwc, str(tmp_path / "w.png"), dataformats="NHWC", **kw)
    assert (tmp_path / "w.png").read_bytes() == (tmp_path / "a.png").read_bytes()
    for i in range(b):
        tvu.save_image(nchw[i], tmp_path / f"t_{i}.png", normalize=True)
        want = np.array(Image.open(tmp_path / f"t_{i}.png"))
        for prefix in ("n", "l", "w"):
            assert np.array_equal(np.array(Image.open(tmp_path / f"{prefix}_{i}.png")), want)


def test_hwc_and_hw():
    gen = torch.Generator().manual_seed(1)
    chw = torch.rand(3, 7, 9, generator=gen)
    assert torch.equal(torchimage.make_grid(chw.permute(1, 2, 0), dataformats="HWC"),
                       tvu.make_grid(chw))
    maps = torch.rand(5, 7, 9, generator=gen)
    assert torch.equal(torchimage.make_grid(maps, dataformats="HW", nrow=2),
                       tvu.make_grid(maps.unsqueeze(1), nrow=2))
    assert torch.equal(torchimage.make_grid(maps[0], dataformats="hw"), tvu.make_grid(maps[0]))
    # A 3-D tensor is (C, H, W) by default, whatever its sizes.
    hwc_looking = torch.rand(4, 4, 3, generator=gen)
    assert torch.equal(torchimage.make_grid(hwc_looking), tvu.make_grid(hwc_looking))
    with pytest.raises(ValueError, match="unknown layout 'CWH'"):
        torchimage.make_grid(chw, dataformats="CWH")
    with pytest.raises(ValueError, match="layout HW"):
        torchimage.make_grid(torch.rand(1, 2, 3, 4), dataformats="HW")


@pytest.mark.parametrize("name", ["viridis", "magma", "inferno", "plasma", "cividis", "turbo",
                                  "gray", "jet"])
def test_colormap_is_matplotlibs(name):
    gen = torch.Generator().manual_seed(len(name))
    x = torch.randn(4, 1, 13, 11, generator=gen)
    kw = dict(nrow=3, normalize=True, padding=1, pad_value=0.25)
    q = tv_pixels(x, **kw)[..., 0].numpy()  # torchvision's gray values
    want = cmap(name, q)
    got = torchimage.to_pixels(x, colormap=name, **kw).numpy()
    assert np.array_equal(got, want)
    assert np.array_equal(png_pixels(torchimage.encode_image(x, colormap=name, **kw)), want)
    jpeg = torchimage.encode_image(x, format="jpeg", colormap=name, **kw)
    assert Image.open(io.BytesIO(bytes(jpeg.numpy()))).mode == "RGB"
    grid = torchimage.make_grid(x, colormap=name, **kw)
    assert grid.dtype == x.dtype and grid.shape == (3,) + q.shape
    assert torch.equal(grid, torch.from_numpy(want).permute(2, 0, 1).float() / 255)
    # uint8 maps (and 2-D ones, and HW batches) take the same path.
    u8 = torch.from_numpy(q).clone()
    assert np.array_equal(torchimage.to_pixels(u8, colormap=name).numpy(), want)
    assert torch.equal(torchimage.make_grid(u8, colormap=name),
                       torch.from_numpy(want).permute(2, 0, 1))


def test_colormap_in_save_images_and_errors(tmp_path):
    gen = torch.Generator().manual_seed(7)
    maps = torch.rand(3, 6, 5, generator=gen)
    torchimage.save_images(maps, str(tmp_path / "{index}.png"), dataformats="HW",
                           colormap="turbo")
    for i in range(3):
        q = tv_pixels(maps[i:i + 1])[..., 0].numpy()
        want = cmap("turbo", q)
        assert np.array_equal(np.array(Image.open(tmp_path / f"{i}.png")), want)
    assert torchimage.colormaps() == ["viridis", "magma", "inferno", "plasma", "cividis",
                                      "turbo", "gray", "jet"]
    with pytest.raises(ValueError, match="one-channel"):
        torchimage.to_pixels(torch.rand(3, 4, 4), colormap="viridis")
    with pytest.raises(ValueError, match="unknown colormap 'nope'"):
        torchimage.to_pixels(torch.rand(1, 4, 4), colormap="nope")
    with pytest.raises(ValueError, match="8-bit"):
        torchimage.encode_image(torch.rand(1, 4, 4), colormap="jet", bit_depth=16)


@pytest.mark.skipif(cli_path() is None, reason="the CLI is not built beside the package")
def test_cli_layout_and_colormap(tmp_path):
    gen = torch.Generator().manual_seed(3)
    nchw = torch.rand(4, 1, 6, 7, generator=gen)
    torch.save(nchw.permute(0, 2, 3, 1).contiguous(), tmp_path / "nhwc.pt")
    torch.save(nchw, tmp_path / "nchw.pt")
    cli = cli_path()
    subprocess.run([cli, "save", str(tmp_path / "nhwc.pt"), str(tmp_path / "a.png"),
                    "--layout", "NHWC", "--colormap", "viridis"], check=True)
    subprocess.run([cli, "save", str(tmp_path / "nchw.pt"), str(tmp_path / "b.png"),
                    "--colormap", "viridis"], check=True)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    q = tv_pixels(nchw)[..., 0].numpy()
    assert np.array_equal(np.array(Image.open(tmp_path / "a.png")),
                          cmap("viridis", q))
    subprocess.run([cli, "save-each", str(tmp_path / "nhwc.pt"), str(tmp_path / "s{index}.png"),
                    "--layout", "NHWC", "--quiet"], check=True)
    for i in range(4):
        tvu.save_image(nchw[i], tmp_path / f"t{i}.png")
        assert np.array_equal(np.array(Image.open(tmp_path / f"s{i}.png")),
                              np.array(Image.open(tmp_path / f"t{i}.png")))
    r = subprocess.run([cli, "save", str(tmp_path / "nchw.pt"), str(tmp_path / "c.png"),
                        "--layout", "WHC"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown layout 'WHC'" in r.stderr
