"""Captions under the cells of a grid (captions=, caption_size=): the image
rows of a captioned grid are torchvision's make_grid, the strips are
pad_value but for the text, and the text is Pillow's rendering of
DejaVuSans at the same size (FreeType either way)."""
import os
import random
import string
import subprocess

import numpy as np
import pytest
import torch
import torchvision.utils as tvu
from PIL import Image, ImageDraw, ImageFont

import torchimage
from conftest import cli_path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _have_captions():
    try:
        torchimage.make_grid(torch.zeros(1, 4, 4), captions=["x"])
        return True
    except RuntimeError as e:
        if "FreeType" in str(e) or "DejaVuSans" in str(e):
            return False
        raise


pytestmark = pytest.mark.skipif(not _have_captions(),
                                reason="torchimage was built without FreeType")


def strip_height(size):
    return size * 3 // 2 + 2


def image_rows(b, nrow, h, padding, strip):
    """The rows of a captioned grid that torchvision's grid has (all but the
    strips), in order; and the strips' rows, one range a grid row."""
    rows = -(-b // nrow)
    keep, strips = [], []
    for y in range(rows):
        top = y * (h + padding + strip)
        keep += range(top, top + padding + h)
        strips.append(range(top + padding + h, top + padding + h + strip))
    keep += range(rows * (h + padding + strip), rows * (h + padding + strip) + padding)
    return keep, strips


def tv_pixels(grid):
    return grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8)


@pytest.mark.parametrize("seed", range(8))
def test_image_rows_are_torchvisions_grid(seed, tmp_path):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    b, c = rng.randint(2, 7), rng.choice([1, 3])
    h, w = rng.randint(3, 20), rng.randint(8, 40)
    nrow, padding, size = rng.randint(1, 4), rng.randint(0, 3), rng.choice([8, 10, 12])
    x = torch.randn(b, c, h, w, generator=gen)
    kw = dict(nrow=nrow, padding=padding, normalize=True, scale_each=bool(seed % 2),
              pad_value=rng.choice([0.0, 0.3, 1.0]))
    captions = [rng.choice(["", "cat", "dog 12", "Wg", "a long caption cut at the edge"])
                for _ in range(b)]
    expected = tvu.make_grid(x, **kw)
    ours = torchimage.make_grid(x, captions=captions, caption_size=size, **kw)
    strip = strip_height(size)
    keep, strips = image_rows(b, min(nrow, b), h, padding, strip)
    assert ours.shape == (3, len(keep) + len(strips) * strip, expected.shape[2])
    assert torch.equal(ours[:, keep], expected)
    # The file's pixels: torchvision's where it has pixels, text only in strips.
    pixels = torchimage.to_pixels(x, captions=captions, caption_size=size, **kw)
    assert torch.equal(pixels[keep], tv_pixels(expected))
    torchimage.save_image(x, tmp_path / "a.png", captions=captions, caption_size=size, **kw)
    assert np.array_equal(np.array(Image.open(tmp_path / "a.png")), pixels.numpy())
    # Each strip is pad_value but under the cells with a caption.
    pad = ours[:, strips[0]][:, :, :1].flatten()[0]
    for y, rows in enumerate(strips):
        for xcell in range(min(nrow, b)):
            k = y * min(nrow, b) + xcell
            left = xcell * (w + padding) + padding
            cell = ours[:, rows, left:left + w]
            if k >= b or not captions[k]:
                assert (cell == pad).all(), (y, xcell)
            else:
                assert (cell != pad).any(), (y, xcell)
            # Between and beside the cells: padding only.
            assert (ours[:, rows, left - padding:left] == pad).all()
        assert (ours[:, rows, (w + padding) * min(nrow, b):] == pad).all()


def pillow_text(text, size, width, height):
    """Pillow's rendering (basic layout) in white on black, at (10, 2)."""
    font = ImageFont.truetype(FONT, size, layout_engine=ImageFont.Layout.BASIC)
    im = Image.new("L", (width, height), 0)
    ImageDraw.Draw(im).text((10, 2), text, fill=255, font=font, anchor="la")
    return np.array(im)


def crop(a):
    ys, xs = np.nonzero(a)
    return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1], ys.min()


@pytest.mark.skipif(not os.path.exists(FONT), reason="DejaVuSans.ttf (fonts-dejavu-core) absent")
@pytest.mark.parametrize("size", [8, 10, 12, 17])
def test_text_is_pillows_rendering(size):
    # White on black: the strip holds the text's coverage, which Pillow's
    # draw.text gives on an "L" image. Pillow's basic layout (FreeType, the
    # same hinting) gives the same glyphs, at the same height below the
    # anchor; compared cropped to the ink, as the horizontal centring is ours.
    words = ["cat", "owl 123", "sample 12", "epoch 7", "Ég"] + list(string.ascii_letters +
                                                                   string.digits)
    strip = strip_height(size)
    for text in words:
        g = torchimage.make_grid(torch.zeros(1, 3, 4, 300, dtype=torch.uint8), captions=[text],
                                 caption_size=size)
        ours = g[0, 4:].numpy()
        assert ours.shape == (strip, 300)
        theirs = pillow_text(text, size, 320, strip + 10)
        a, top_a = crop(ours)
        b, top_b = crop(theirs)
        assert top_a == top_b, text
        assert a.shape == b.shape and np.array_equal(a, b), (text, size)
    # Kerned pairs: FreeType's kerning is applied by both, but Pillow rounds
    # the pen differently, so a glyph may sit one pixel apart: the same ink.
    g = torchimage.make_grid(torch.zeros(1, 3, 4, 300, dtype=torch.uint8),
                             captions=["Hello Wg, AV"], caption_size=size)
    a, _ = crop(g[0, 4:].numpy())
    b, _ = crop(pillow_text("Hello Wg, AV", size, 320, strip + 10))
    assert a.shape[0] == b.shape[0] and abs(a.shape[1] - b.shape[1]) <= 1
    assert a.astype(int).sum() == b.astype(int).sum()


def test_faces_and_errors(tmp_path):
    x = torch.rand(3, 3, 8, 30)
    caps = ["a", "b", "c"]
    expected = torchimage.encode_image(x, captions=caps)
    # TorchScript: the operators' arguments.
    @torch.jit.script
    def scripted(t: torch.Tensor) -> torch.Tensor:
        return torch.ops.torchimage.encode_image(t, captions=["a", "b", "c"], caption_size=10)
    assert torch.equal(scripted(x), expected)
    assert torch.equal(torchimage.decode_image(expected).permute(1, 2, 0),
                       torchimage.to_pixels(x, captions=caps))
    with torchimage.ImageWriter() as writer:
        writer.save_image(x, tmp_path / "w.png", captions=caps)
    assert (tmp_path / "w.png").read_bytes() == bytes(expected.numpy())
    with torchimage.SummaryWriter(str(tmp_path / "run")) as sw:
        sw.add_images("x", x, 0, captions=caps)
    # Without captions nothing changes.
    assert torch.equal(torchimage.encode_image(x, caption_size=30), torchimage.encode_image(x))
    with pytest.raises(ValueError, match=r"one caption per image \(3\), got 2"):
        torchimage.make_grid(x, captions=["a", "b"])
    with pytest.raises(ValueError, match="caption_size must be in 1-1024"):
        torchimage.make_grid(x, captions=caps, caption_size=0)
    with pytest.raises(ValueError, match="save_images: captions label the images of one grid"):
        torchimage.save_images(x, str(tmp_path / "s{index}.png"), captions=caps)
    with pytest.raises(ValueError, match="8-bit"):
        torchimage.encode_image(x, captions=caps, bit_depth=16)
    with pytest.raises(TypeError, match="list of str"):
        torchimage.make_grid(x, captions="abc")


@pytest.mark.skipif(cli_path() is None, reason="the CLI is not built beside the package")
def test_cli_captions(tmp_path):
    x = torch.rand(2, 3, 8, 30)
    torch.save(x, tmp_path / "x.pt")
    cli = cli_path()
    subprocess.run([cli, "save", str(tmp_path / "x.pt"), str(tmp_path / "a.png"),
                    "--caption", "one", "--caption", "", "--caption-size", "12"], check=True)
    assert np.array_equal(np.array(Image.open(tmp_path / "a.png")),
                          torchimage.to_pixels(x, captions=["one", ""], caption_size=12).numpy())
    r = subprocess.run([cli, "save", str(tmp_path / "x.pt"), str(tmp_path / "b.png"),
                        "--caption", "one"], capture_output=True, text=True)
    assert r.returncode == 1 and "one caption per image (2), got 1" in r.stderr
    assert not (tmp_path / "b.png").exists()
