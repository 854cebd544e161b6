#!/usr/bin/python3
"""Writes the small seed corpora of tests/fuzz/corpus/<target>/ (committed;
rerun only to regenerate). Needs /usr/bin/python3 with Pillow, NumPy and torch.
Inputs the fuzzers found interesting may be added to the folders by hand
(libFuzzer's -merge=1 keeps the set small)."""
import io
import os
import shutil
import struct
import zlib

import numpy as np
from PIL import Image
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
rng = np.random.default_rng(6)


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pil_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


# --- decode_image: PNG and JPEG of each kind, and broken ones.
small = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
d = "fuzz_decode_image"
put(d, "png_gray", pil_bytes(Image.fromarray(small[..., 0], "L"), "PNG"))
put(d, "png_la", pil_bytes(Image.fromarray(small[..., :2], "LA"), "PNG"))
put(d, "png_rgb", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "PNG"))
put(d, "png_rgba", pil_bytes(Image.fromarray(small, "RGBA"), "PNG"))
put(d, "png_palette_trns",
    pil_bytes(Image.fromarray(small[..., :3], "RGB").quantize(8), "PNG", transparency=0))
put(d, "png_1bit", pil_bytes(Image.fromarray(small[..., 0] > 127), "PNG"))
put(d, "png_16bit", pil_bytes(Image.fromarray(small[..., 0].astype(np.uint16) * 257, "I;16"), "PNG"))
def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
def interlaced_png(img):  # Adam7, 8-bit RGB, filter 0 (Pillow writes no interlaced PNG)
    h, w, _ = img.shape
    raw = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                           (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
        sub = img[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1))
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
put(d, "png_interlaced", interlaced_png(small[..., :3]))
rgb = pil_bytes(Image.fromarray(small[..., :3], "RGB"), "PNG")
put(d, "png_truncated", rgb[:-20])
bad = bytearray(rgb)
bad[30] ^= 0xFF  # inside IHDR/IDAT: CRC mismatch
put(d, "png_bad_crc", bytes(bad))
# An IHDR claiming a huge image (refused by max_pixels before allocating).
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
huge = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(
    ">I", zlib.crc32(b"IHDR" + ihdr))
put(d, "png_huge_header", huge)
put(d, "jpeg_gray", pil_bytes(Image.fromarray(small[..., 0], "L"), "JPEG", quality=90))
put(d, "jpeg_rgb", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "JPEG"))
put(d, "jpeg_progressive",
    pil_bytes(Image.fromarray(small[..., :3], "RGB"), "JPEG", progressive=True))
put(d, "jpeg_cmyk", pil_bytes(Image.fromarray(small, "RGBA").convert("CMYK"), "JPEG"))
put(d, "jpeg_truncated", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "JPEG")[:-40])
put(d, "not_an_image", b"GIF89a\x01\x00\x01\x00")
# TIFF (8-bit, 16-bit, float32, compressed), WebP (lossy, lossless, alpha),
# BMP (Pillow's layouts, and a truncated one): issue 23's decoders. (No rng
# draws here: the seeds below stay the same bytes.)
put(d, "tiff_rgb", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "TIFF"))
put(d, "tiff_rgba_lzw", pil_bytes(Image.fromarray(small, "RGBA"), "TIFF", compression="tiff_lzw"))
put(d, "tiff_gray16", pil_bytes(Image.fromarray(small[..., 0].astype(np.uint16) * 257, "I;16"), "TIFF"))
put(d, "tiff_float", pil_bytes(Image.fromarray(small[..., 0].astype(np.float32) / 7, "F"), "TIFF"))
put(d, "webp_lossy", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "WEBP"))
put(d, "webp_lossless_rgba", pil_bytes(Image.fromarray(small, "RGBA"), "WEBP", lossless=True))
put(d, "bmp_rgb", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "BMP"))
put(d, "bmp_rgba", pil_bytes(Image.fromarray(small, "RGBA"), "BMP"))
put(d, "bmp_gray", pil_bytes(Image.fromarray(small[..., 0], "L"), "BMP"))
put(d, "bmp_truncated", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "BMP")[:-9])
# GIF (gray, RGB, interlaced, two frames, truncated) and an APNG: issue 23's
# GIF decoder (the first frame) and APNG files (their default image). No rng
# draws.
put(d, "gif_gray", pil_bytes(Image.fromarray(small[..., 0], "L"), "GIF"))
put(d, "gif_rgb", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "GIF"))
put(d, "gif_interlaced", pil_bytes(Image.fromarray(np.tile(small[..., :3], (4, 3, 1)), "RGB"),
                                   "GIF", interlace=True))
put(d, "gif_two_frames", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "GIF", save_all=True,
                                   append_images=[Image.fromarray(small[::-1, :, :3], "RGB")],
                                   duration=250, loop=0))
put(d, "gif_truncated", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "GIF")[:-12])
put(d, "png_apng", pil_bytes(Image.fromarray(small[..., :3], "RGB"), "PNG", save_all=True,
                             append_images=[Image.fromarray(small[::-1, :, :3], "RGB")],
                             duration=250, loop=0))

# --- npy: every supported dtype and order, versions, and broken headers.
d = "fuzz_npy"
def npy(arr, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, arr)
    else:
        np.lib.format.write_array(b, arr, version=version)
    return b.getvalue()
a = rng.random((2, 3, 4, 5)).astype(np.float32)
put(d, "f32_c", npy(a))
put(d, "f64_fortran", npy(np.asfortranarray(a[0].astype(np.float64))))
put(d, "f16_be", npy(a[0, 0].astype(">f2")))
put(d, "u8", npy((a[0] * 255).astype(np.uint8)))
put(d, "bool", npy(a[0] > 0.5))
put(d, "u16", npy((a[0] * 65535).astype("<u2")))
put(d, "u16_be_empty", npy(np.zeros((0, 3), ">u2")))
put(d, "v2", npy(a[0], version=(2, 0)))
put(d, "v3", npy(a[0], version=(3, 0)))
put(d, "empty", npy(np.zeros((0, 3), np.float32)))
put(d, "scalar", npy(np.float32(1.5)))
put(d, "u4_unsupported", npy(np.zeros((2, 2), np.uint32)))
# Integers: class indices (label maps for --palette).
put(d, "i1", npy((a[0] * 100 - 50).astype(np.int8)))
put(d, "i2_be", npy((a[0] * 1000 - 500).astype(">i2")))
put(d, "i4_labels", npy(np.arange(12, dtype="<i4").reshape(3, 4) % 5))
put(d, "i8_labels", npy(np.arange(12, dtype="<i8").reshape(1, 3, 4) % 21))
put(d, "truncated", npy(a)[:-7])

# --- tensor files: torch.save (zip), a legacy pickle and the .npy above.
d = "fuzz_tensor_file"
def tsave(obj, **kw):
    b = io.BytesIO()
    torch.save(obj, b, **kw)
    return b.getvalue()
t = torch.from_numpy(a[0, :2, :2, :2].copy())
put(d, "torch_f32", tsave(t))
put(d, "torch_u8", tsave((t * 255).to(torch.uint8)))
put(d, "torch_view", tsave(t.double()[:, ::2]))
put(d, "torch_dict", tsave({"x": t}))
put(d, "torch_legacy", tsave(t, _use_new_zipfile_serialization=False))
put(d, "npy_f32", npy(a[0, 0]))
put(d, "empty", b"")
# Files that reach LibTorch's tensor rebuild with sizes, strides and offsets
# written by hand (issue 17: one read past the heap), and a "cuda:0" device:
# the CLI's fixtures (scripts/make_cli_fixtures.py), so that the fuzzer
# mutates geometries from there.
CLI_DATA = os.path.join(HERE, "..", "data", "cli")
for name in ("oob_sheet", "leak_sheet", "negative_stride", "negative_offset", "huge_stride",
             "f64_rank3_by_one", "broadcast"):
    with open(os.path.join(CLI_DATA, f"crafted_{name}.pt"), "rb") as f:
        put(d, f"crafted_{name}", f.read())
with open(os.path.join(CLI_DATA, "torch_cuda_f32.pt"), "rb") as f:
    put(d, "torch_cuda", f.read())
# torch 2.x's uint16 (_rebuild_tensor_v3, read by the loader's own unpickler)
# and NumPy's <u2 (issue 29).
for name, seed in (("torch2_u16_view.pt", "torch2_u16_v3"), ("crafted_v3_oob.pt", "crafted_v3_oob"),
                   ("numpy_u16.npy", "npy_u16")):
    with open(os.path.join(CLI_DATA, name), "rb") as f:
        put(d, seed, f.read())

# --- roundtrip: the first byte picks image (0-2 mod 4) or deflate (3).
d = "fuzz_roundtrip"
for i in range(12):
    put(d, f"image_{i:02}", bytes([i % 3]) + bytes(rng.integers(0, 256, 40 + 30 * i, dtype=np.uint8)))
for dtype in range(4):
    # dtype, dims=4, b, c, h, w, layout 0, then options and values.
    put(d, f"dtype_{dtype}", bytes([0, dtype, 2, 3, 2, 7, 9, 0]) + bytes(rng.integers(0, 256, 600, dtype=np.uint8)))
put(d, "deflate_text", b"\x03\x01\x02\x03\x04\x00" + b"the quick brown fox " * 40)
put(d, "deflate_runs", b"\x03\x05\x06\x07\x08\x01" + bytes([7, 255, 0, 255, 9, 3] * 20))
put(d, "deflate_random", b"\x03\x09\x08\x07\x06\x00" + bytes(rng.integers(0, 256, 3000, dtype=np.uint8)))
