"""Label maps (palette=): integer class indices written as indexed-colour PNG
(read back by Pillow as mode "P" and by libpng's PLTE), other formats in the
palette's colours; keep_indices gives the ids back."""
import io

import numpy as np
import pytest
import torch
import torchvision.utils as tvu
from PIL import Image

import torchimage
from conftest import cli_path


def voc(n=256):
    """The Pascal VOC devkit's colour map (bitget of the class id)."""
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.append((r, g, b))
    return out


def expected_ids(labels, **kw):
    """The grid of class ids: torchvision's make_grid of the ids as floats."""
    return tvu.make_grid(labels.float(), **kw)[0].to(torch.uint8)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_voc_label_map_is_indexed_png(dtype):
    gen = torch.Generator().manual_seed(5)
    labels = torch.randint(0, 21, (5, 1, 9, 13), generator=gen).to(dtype)
    kw = dict(nrow=3, padding=2, pad_value=255 if dtype == torch.uint8 else 0)
    data = torchimage.encode_image(labels, palette="voc", **kw)
    img = Image.open(io.BytesIO(bytes(data.numpy())))
    assert img.mode == "P"
    ids = expected_ids(labels, **kw)
    assert np.array_equal(np.array(img), ids.numpy())
    pal = img.getpalette()
    assert [tuple(pal[i:i + 3]) for i in range(0, 3 * 256, 3)] == voc()
    assert torch.equal(torchimage.decode_image(data, keep_indices=True), ids[None])
    # Without keep_indices, the colours; to_pixels and make_grid give them too.
    colours = torch.tensor(voc(), dtype=torch.uint8)[ids.long()]
    assert torch.equal(torchimage.decode_image(data), colours.permute(2, 0, 1))
    assert torch.equal(torchimage.to_pixels(labels, palette="voc", **kw), colours)
    assert torch.equal(torchimage.make_grid(labels, palette="voc", **kw), colours.permute(2, 0, 1))
    # JPEG has no palette: the colours, encoded.
    jpeg = torchimage.encode_image(labels, format="jpeg", palette="voc", **kw)
    assert Image.open(io.BytesIO(bytes(jpeg.numpy()))).mode == "RGB"


def test_user_palette_save_images_and_errors(tmp_path):
    palette = ["black", "#ff0000", (0, 255, 0)]
    labels = torch.tensor([[[0, 1, 2], [2, 1, 0]]])  # (1, 2, 3)
    torchimage.save_image(labels, tmp_path / "a.png", palette=palette)
    img = Image.open(tmp_path / "a.png")
    assert img.mode == "P" and np.array_equal(np.array(img), labels[0].numpy())
    assert img.getpalette()[:9] == [0, 0, 0, 255, 0, 0, 0, 255, 0]
    maps = torch.randint(0, 3, (3, 4, 5))
    torchimage.save_images(maps, str(tmp_path / "m{index}.png"), dataformats="HW",
                           palette=palette)
    for i in range(3):
        assert np.array_equal(np.array(Image.open(tmp_path / f"m{i}.png")), maps[i].numpy())
        assert torch.equal(torchimage.read_image(tmp_path / f"m{i}.png", keep_indices=True)[0],
                           maps[i].to(torch.uint8))
    with pytest.raises(ValueError, match="holds class 3, but the palette has 3 colours"):
        torchimage.encode_image(torch.tensor([[0, 3]]), palette=palette)
    with pytest.raises(ValueError, match="257 classes"):
        torchimage.encode_image(torch.tensor([[0, 1]]), palette=[(0, 0, 0)] * 257)
    with pytest.raises(ValueError, match="integer class indices"):
        torchimage.encode_image(torch.rand(1, 4, 4), palette="voc")
    with pytest.raises(ValueError, match="one channel"):
        torchimage.encode_image(torch.zeros(3, 4, 4, dtype=torch.int64), palette="voc")


def test_cli_palette(tmp_path):
    import subprocess
    cli = cli_path()
    if cli is None:
        pytest.skip("the CLI is not built beside the package")
    labels = torch.randint(0, 3, (2, 1, 5, 6), generator=torch.Generator().manual_seed(2))
    torch.save(labels, tmp_path / "labels.pt")
    subprocess.run([cli, "save", str(tmp_path / "labels.pt"), str(tmp_path / "voc.png"),
                    "--palette", "voc", "--nrow", "1"], check=True)
    img = Image.open(tmp_path / "voc.png")
    assert img.mode == "P"
    assert np.array_equal(np.array(img), expected_ids(labels, nrow=1).numpy())
    # The same class indices from NumPy (np.save's int64 .npy).
    np.save(tmp_path / "labels.npy", labels.numpy())
    subprocess.run([cli, "save", str(tmp_path / "labels.npy"), str(tmp_path / "voc_npy.png"),
                    "--palette", "voc", "--nrow", "1"], check=True)
    assert (tmp_path / "voc_npy.png").read_bytes() == (tmp_path / "voc.png").read_bytes()
    (tmp_path / "pal.txt").write_text("black\n#ff0000\n\nrgb(0, 0, 255)\n")
    subprocess.run([cli, "save-each", str(tmp_path / "labels.pt"), str(tmp_path / "s{index}.png"),
                    "--palette", str(tmp_path / "pal.txt"), "--quiet"], check=True)
    for i in range(2):
        img = Image.open(tmp_path / f"s{i}.png")
        assert img.getpalette()[:9] == [0, 0, 0, 255, 0, 0, 0, 0, 255]
        assert np.array_equal(np.array(img), labels[i, 0].numpy())
    r = subprocess.run([cli, "save", str(tmp_path / "labels.pt"), str(tmp_path / "x.png"),
                        "--palette", str(tmp_path / "missing.txt")], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "cannot read the palette file" in r.stderr
