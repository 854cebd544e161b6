"""torchimage.distributed: one sample sheet of every rank's samples, and
per-sample export with global indices, in data-parallel training
(torch.distributed, DDP).

Every rank of the group calls the same function with its own samples and
the same arguments::

    import torch.distributed as dist
    import torchimage.distributed as tid

    dist.init_process_group("gloo", ...)           # or "nccl"
    tid.save_image(local_samples, "sheet.png", nrow=8, normalize=True)   # written by rank 0
    tid.save_images(local_samples, "fid/{index:05}.png")                 # every rank its share

The work is done in C++ by torchimage::distributed over the group's own
c10d collectives (the operators torch.ops.torchimage.distributed_*, which
find the group by its ``group_name`` in c10d's registry): needs torch >= 2.2.
``group=None`` is the default group (``dist.group.WORLD``).

Batches are (B_i, C, H, W) with the same C, H, W, dtype and device type on
every rank; B_i may differ between ranks and be 0. A mismatch, or input or
options one rank refuses, raises on every rank (naming the rank), never
leaving one waiting in a collective. Write failures raise on the rank that
had them.
"""
import torch as _torch

import torchimage as _ti

__all__ = ["save_image", "save_images", "gather_batch", "group_name"]


def group_name(group=None):
    """The name c10d registered ``group`` under (None: the default group),
    which the operators take."""
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("torchimage.distributed: this torch was built without "
                           "torch.distributed (c10d)")
    if group is None:
        if not dist.is_initialized():
            raise RuntimeError("torchimage.distributed: the default process group is not "
                               "initialized (call torch.distributed.init_process_group first, "
                               "or pass group=)")
        group = dist.group.WORLD
    name = getattr(group, "group_name", None)  # torch >= 2.2
    if name is None:
        # Older torch: the name of its own table, which the operators refuse
        # with the reason (they need torch >= 2.2's registry of groups).
        names = getattr(dist.distributed_c10d, "_pg_names", {})
        name = names.get(group, "")
    return str(name)


def _check_batch(tensor, fn):
    if not _torch.is_tensor(tensor):
        raise TypeError(f"torchimage.distributed.{fn}: expected a (B, C, H, W) tensor of this "
                        f"rank's samples, got {type(tensor)}")
    return tensor


def _root(root):
    return _ti._int(root, "root")


@_torch.no_grad()
def gather_batch(tensor, group=None, root=0):
    """Every rank passes its (B_i, C, H, W) samples; returns their
    concatenation in rank order on ``root`` (on the tensor's device), None
    on the other ranks."""
    name = group_name(group)
    return _ti._ops.distributed_gather_batch(name, _check_batch(tensor, "gather_batch"),
                                             _root(root))


@_torch.no_grad()
def save_image(tensor, fp, group=None, root=0, **kwargs):
    """torchimage.save_image of the concatenation of every rank's samples
    (in rank order), written by ``root``: the same file, byte for byte, as
    one process's ``torchimage.save_image(torch.cat(all_samples), fp,
    **kwargs)``. The keywords are save_image's (format, nrow, normalize,
    value_range, ..., quality, create_directories, ...). ``fp`` is what root
    writes to; the others ignore it.

    The formats torchimage encodes go through torchimage::distributed (the
    options are checked on every rank before anything is exchanged); a
    format Pillow encodes, or a file object, is gathered to root and written
    there by torchimage.save_image (a bad option then raises on root only)."""
    tensor = _check_batch(tensor, "save_image")
    format = kwargs.pop("format", None)
    name = group_name(group)
    root = _root(root)
    fmt = _ti._format_of(format, _ti._name(fp)) if _ti._is_path(fp) else None
    if fmt is None:
        # A file object, or a format Pillow encodes: gathered, then written
        # on root as one process writes it.
        batch = _ti._ops.distributed_gather_batch(name, tensor, root)
        if batch is not None:
            _ti.save_image(batch, fp, format, **kwargs)
        return None
    grid, extra = _ti._split("distributed.save_image", kwargs, _ti._SAVE_EXTRAS)
    _ti._ops.distributed_save_image(name, tensor, _ti._path(fp), format=fmt, **grid,
                                    **_ti._save_args(extra), root=root)
    return None


@_torch.no_grad()
def save_images(batch, pattern, group=None, start_index=0, format=None, threads=0, **kwargs):
    """torchimage.save_images split across ranks: each rank writes its own
    samples, rank r's first as index ``start_index + B_0 + ... + B_{r-1}``,
    so that the files are exactly indices start_index ... start_index +
    sum(B_i) - 1, each written once, by the rank that holds the sample (no
    sample moves). A rank with no samples writes nothing. The pattern is
    checked against the global count on every rank. The keywords are
    save_images' (format, threads, nrow, normalize, ..., create_directories)."""
    batch = _check_batch(batch, "save_images")
    grid, extra = _ti._split("distributed.save_images", kwargs, _ti._SAVE_EXTRAS)
    if format is not None:
        format = _ti._FORMATS.get(str(format).upper(), str(format))
    name = group_name(group)
    _ti._ops.distributed_save_images(name, batch, _ti._path(pattern), format=format, **grid,
                                     **_ti._save_args(extra),
                                     start_index=_ti._int(start_index, "start_index"),
                                     threads=_ti._int(threads, "threads"))
