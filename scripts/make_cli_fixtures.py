#!/usr/bin/python3
"""Writes the fixtures of tests/test_cli.cpp under tests/data/cli/.

Run with Debian's interpreter, which has torch 1.13 and numpy:

    /usr/bin/python3 scripts/make_cli_fixtures.py

Every array holds values the C++ test recomputes from the flat C-order index
i of its logical shape (see `pattern` in tests/test_cli.cpp):
  floating: ((i * 37) % 97 - 16) / 64   (exact in float16/32/64)
  uint8:    (i * 37) % 256
  bool:     (i * 37) % 5 < 2
"""

import collections
import os

import numpy as np
import torch
import torch.serialization

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "cli")


def pattern(shape, dtype):
    """The fixture values as a numpy array of `dtype` (a numpy dtype)."""
    i = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return (i * 37) % 5 < 2
    if dtype == np.uint8:
        return ((i * 37) % 256).astype(np.uint8)
    return (((i * 37) % 97 - 16) / 64.0).astype(dtype)


def tpattern(shape, dtype):
    return torch.from_numpy(np.ascontiguousarray(pattern(shape, dtype)))


def path(name):
    return os.path.join(OUT, name)


class Crafted:
    """Pickles as the tensor torch.save would describe with these sizes,
    strides and storage offset over `storage`, whether or not they fit it
    (torch.save itself only writes tensors that do): the shape of a crafted
    file from someone else."""

    def __init__(self, storage, size, stride, offset=0):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce_ex__(self, protocol):
        return (torch._utils._rebuild_tensor_v2, self.args)


# Crafted geometries (tests/test_cli.cpp, CliTest.CraftedGeometry): name ->
# (dtype, storage elements, sizes, strides, offset, whether it fits).
CRAFTED = {
    "oob_sheet": (np.float32, 12, (1, 3, 2000, 2000), (12000000, 4000000, 2000, 1), 0, False),
    "leak_sheet": (np.float32, 12, (1, 3, 64, 64), (12288, 4096, 64, 1), 0, False),
    "one_past_end": (np.float32, 12, (3, 4), (4, 1), 1, False),
    "exact_fit": (np.float32, 12, (3, 4), (4, 1), 0, True),
    "broadcast": (np.float32, 12, (2, 3, 4), (0, 4, 1), 0, True),
    "negative_stride": (np.float32, 12, (3, 4), (-4, 1), 0, False),
    "negative_stride_fits": (np.float32, 12, (3, 4), (-4, 1), 8, True),
    "negative_offset": (np.float32, 12, (3, 4), (4, 1), -1, False),
    "u8_rank2": (np.uint8, 12, (100, 100), (100, 1), 0, False),
    "f64_rank3_by_one": (np.float64, 18, (2, 3, 3), (9, 3, 1), 1, False),
    "bool_rank4_fits": (np.bool_, 24, (2, 1, 3, 4), (12, 12, 4, 1), 0, True),
    "huge_stride": (np.float32, 12, (2, 2), (2**62, 1), 0, False),
}


def main():
    os.makedirs(OUT, exist_ok=True)

    # torch.save (zip format, the default since PyTorch 1.6).
    torch.save(tpattern((4, 3, 5, 6), np.float32), path("torch_f32_batch.pt"))
    torch.save(tpattern((3, 7, 9), np.uint8), path("torch_u8.pt"))
    # A non-contiguous view: pattern((3, 6, 5)).transpose(1, 2), shape (3, 5, 6).
    torch.save(tpattern((3, 6, 5), np.float64).transpose(1, 2), path("torch_f64_view.pt"))
    torch.save(tpattern((1, 8, 8), np.float16), path("torch_f16_gray.pt"))
    torch.save(tpattern((2, 1, 5, 5), np.bool_), path("torch_bool.pt"))
    # Not loadable: expected clean errors.
    torch.save(tpattern((2, 3), np.float32), path("torch_legacy.pt"),
               _use_new_zipfile_serialization=False)
    torch.save({"x": tpattern((2, 3), np.float32)}, path("torch_dict.pt"))

    # np.save: C order, Fortran order, each supported dtype, both byte orders.
    np.save(path("numpy_f32_c.npy"), pattern((2, 3, 4, 5), np.float32))
    f64 = np.asfortranarray(pattern((3, 4, 5), np.float64))
    assert f64.flags.f_contiguous and not f64.flags.c_contiguous
    np.save(path("numpy_f64_f.npy"), f64)
    np.save(path("numpy_bool.npy"), pattern((2, 1, 4, 6), np.bool_))
    np.save(path("numpy_u8.npy"), pattern((3, 4, 5), np.uint8))
    np.save(path("numpy_f16_be.npy"), pattern((3, 4, 4), ">f2"))
    for version in ((2, 0), (3, 0)):
        with open(path("numpy_f32_v%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, pattern((3, 2, 3), np.float32), version=version)
    np.save(path("numpy_i8.npy"), np.arange(6, dtype="<i8").reshape(2, 3))

    # Sizes, strides and offsets that do or do not fit their storage.
    for name, (dtype, elements, size, stride, offset, _) in CRAFTED.items():
        storage = tpattern((elements,), dtype).storage()
        torch.save(Crafted(storage, size, stride, offset), path("crafted_%s.pt" % name))
    # A tensor saved during GPU training names its device: "cuda:0".
    location_tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(tpattern((3, 5, 6), np.float32), path("torch_cuda_f32.pt"))
    finally:
        torch.serialization.location_tag = location_tag


if __name__ == "__main__":
    main()
