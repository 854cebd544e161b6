#!/usr/bin/python3
"""Writes the fixtures of tests/test_cli.cpp under tests/data/cli/.

Run with Debian's interpreter, which has torch 1.13 and numpy:

    /usr/bin/python3 scripts/make_cli_fixtures.py

Every array holds values the C++ test recomputes from the flat C-order index
i of its logical shape (see `pattern` in tests/test_cli.cpp):
  floating: ((i * 37) % 97 - 16) / 64   (exact in float16/32/64)
  uint8:    (i * 37) % 256
  bool:     (i * 37) % 5 < 2
  uint16:   (i * 4099) % 65536

torch 2.x writes a uint16 tensor with torch._utils._rebuild_tensor_v3, which
torch 1.13 cannot write: V3Tensor pickles what torch 2.x's
Tensor._reduce_ex_internal returns for one (see its docstring), through torch
1.13's own torch.save (its zip writer, its persistent ids for storages).
"""

import collections
import contextlib
import os
import pickle
import pickletools

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
    if dtype.kind == "u" and dtype.itemsize == 2:
        return ((i * 4099) % 65536).astype(dtype)
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


def _rebuild_tensor_v3(*args):
    """Stands for torch 2.x's torch._utils._rebuild_tensor_v3 while pickling
    (pickle writes a function as a reference to its module and name)."""
    raise RuntimeError("a stand-in: only pickled by reference")


class _Dtype:
    """Stands for torch 2.x's torch.uint16: a dtype pickles as the global
    torch.<name> (its __reduce__ returns its name)."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name


@contextlib.contextmanager
def torch2_globals():
    """torch._utils._rebuild_tensor_v3 and torch.uint16 exist while torch.save
    pickles (pickle checks that a global it writes is importable)."""
    _rebuild_tensor_v3.__module__ = "torch._utils"
    uint16 = _Dtype("uint16")
    uint16.__module__ = "torch"
    torch._utils._rebuild_tensor_v3 = _rebuild_tensor_v3
    torch.uint16 = uint16
    try:
        yield uint16
    finally:
        del torch._utils._rebuild_tensor_v3
        del torch.uint16


class V3Tensor:
    """Pickles as torch 2.x pickles a uint16 tensor of these sizes, strides
    and storage offset over `values` (a numpy uint16 array, its storage):

        (torch._utils._rebuild_tensor_v3,
         (untyped_storage, offset, size, stride, requires_grad,
          OrderedDict(), torch.uint16))

    The untyped storage is the values' bytes (little-endian, as this
    machine's); torch.save gives it the persistent id ('storage',
    torch.storage.UntypedStorage, key, 'cpu', nbytes), as torch 2.x's does."""

    def __init__(self, values, size, stride, offset=0):
        assert values.dtype == np.dtype("<u2")
        raw = torch.from_numpy(values.view(np.uint8).copy())
        self.storage = raw.storage()._storage  # the UntypedStorage
        self.size, self.stride, self.offset = tuple(size), tuple(stride), offset

    def __reduce_ex__(self, protocol):
        return (torch._utils._rebuild_tensor_v3,
                (self.storage, self.offset, self.size, self.stride, False,
                 collections.OrderedDict(), torch.uint16))


def save_v3(values, size, stride, offset, name):
    with torch2_globals():
        torch.save(V3Tensor(values, size, stride, offset), path(name))
    check_v3(path(name), values, size, stride, offset)


def check_v3(file, values, size, stride, offset):
    """The file read back by Python's own unpickler: the globals and
    arguments are the ones torch 2.x's torch.load expects."""
    import zipfile
    with zipfile.ZipFile(file) as z:
        names = z.namelist()
        prefix = names[0].split("/")[0]
        pkl = z.read(f"{prefix}/data.pkl")
        storage = z.read(f"{prefix}/data/0")
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(pkl)]
    globals_ = [arg for name, arg in ops if name == "GLOBAL"]
    # (The storage's class is torch.storage.UntypedStorage, exported as
    # torch.UntypedStorage: pickle names its defining module.)
    assert globals_ == ["torch._utils _rebuild_tensor_v3", "torch.storage UntypedStorage",
                        "collections OrderedDict", "torch uint16"], globals_
    assert storage == values.tobytes()

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            return {("torch._utils", "_rebuild_tensor_v3"): lambda *a: ("v3",) + a,
                    ("torch.storage", "UntypedStorage"): "UntypedStorage",
                    ("collections", "OrderedDict"): collections.OrderedDict,
                    ("torch", "uint16"): "uint16"}[(module, name)]

        def persistent_load(self, pid):
            return pid

    got = Reader(__import__("io").BytesIO(pkl)).load()
    assert got == ("v3", ("storage", "UntypedStorage", "0", "cpu", len(storage)), offset,
                   tuple(size), tuple(stride), False, collections.OrderedDict(), "uint16"), got


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
    # uint16, both byte orders (16-bit samples: --bit-depth 16).
    np.save(path("numpy_u16.npy"), pattern((2, 3, 4, 5), "<u2"))
    np.save(path("numpy_u16_be.npy"), pattern((3, 4, 5), ">u2"))

    # torch 2.x's torch.save of a uint16 tensor (_rebuild_tensor_v3): a batch,
    # a non-contiguous view (pattern((3, 6, 5)).transpose(1, 2) at offset 4 of
    # a longer storage), and a crafted one whose view leaves its storage.
    batch = pattern((2, 3, 4, 5), "<u2")
    save_v3(batch.ravel(), (2, 3, 4, 5), (60, 20, 5, 1), 0, "torch2_u16_batch.pt")
    view = np.concatenate([np.full(4, 65535, "<u2"), pattern((90,), "<u2")])
    save_v3(view, (3, 5, 6), (30, 1, 5), 4, "torch2_u16_view.pt")
    save_v3(pattern((12,), "<u2"), (3, 5), (5, 1), 0, "crafted_v3_oob.pt")

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
