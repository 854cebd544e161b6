"""torchimage: torchvision.utils.save_image and make_grid, exact and faster.

A drop-in replacement::

    from torchimage import save_image, make_grid   # was: from torchvision.utils import ...

``save_image`` and ``make_grid`` keep torchvision 0.14's signatures, keyword
names and defaults, and write the same pixels (JPEG: the same bytes; PNG: the
same bytes when ``compression_level=6`` is passed, else a faster encoder's).
Extras: ``quality`` (every lossy format, 1-100; unset: JPEG 75, WebP 80), ``lossless``
(WebP), ``compression`` (TIFF: raw, tiff_lzw, tiff_deflate, zstd), ``keep_values`` (float32
TIFF samples), ``compression_level`` (PNG zlib
level 0-9, default: the fast engine), ``grayscale`` (keep one-channel images
one channel), ``pad_value`` as a colour (one value per channel),
``bit_depth`` (16: 16-bit PNG), ``create_directories``, ``durable`` (fsync) and
``replace_read_only``. ``formats()`` lists the formats torchimage encodes
itself (the C++ table); others go to Pillow, as in torchvision.

The work is done by the operators ``torch.ops.torchimage.*`` (loaded by
importing this package), which TorchScript code can call directly::

    @torch.jit.script
    def log(x: torch.Tensor, path: str):
        torch.ops.torchimage.save_image(x, path, normalize=True, value_range=[-1.0, 1.0])

Set ``TORCHIMAGE_OPS_LIBRARY`` to load the operators' library from elsewhere
than this folder.
"""
import collections as _collections
import glob as _glob
import io as _io
import operator as _operator
import os as _os
import warnings as _warnings

import torch as _torch

__all__ = [
    "save_image",
    "save_animation",
    "make_grid",
    "save_images",
    "ImageWriter",
    "SummaryWriter",
    "encode_image",
    "to_pixels",
    "encode_png",
    "encode_jpeg",
    "decode_image",
    "read_image",
    "formats",
    "colormaps",
    "FormatInfo",
    "library_path",
    "draw_bounding_boxes",
    "draw_segmentation_masks",
    "draw_keypoints",
    "flow_to_image",
]


def _find_library():
    env = _os.environ.get("TORCHIMAGE_OPS_LIBRARY")
    if env:
        return env
    here = _os.path.dirname(_os.path.abspath(__file__))
    for pattern in ("libtorchimage_ops.so", "libtorchimage_ops*.dylib", "torchimage_ops.dll",
                    "libtorchimage_ops*.so*"):
        found = sorted(_glob.glob(_os.path.join(here, pattern)))
        if found:
            return found[0]
    raise ImportError(
        f"torchimage: the operators' library (libtorchimage_ops) is not in {here}; build the "
        "CMake target torchimage_ops (it is written there), or set TORCHIMAGE_OPS_LIBRARY")


library_path = _find_library()
_torch.ops.load_library(library_path)
_ops = _torch.ops.torchimage
__version__ = _ops.version()

# ---------------------------------------------------------------------------
# Argument conversion: torchvision's rules first, then the operators' types.

FormatInfo = _collections.namedtuple(
    "FormatInfo", "name display_name aliases extensions channels bit_depths max_side lossy "
    "animated available float_samples")
FormatInfo.__doc__ = """A row of torchimage's table of formats (C++ ``torchimage::formats()``):
the formats torchimage encodes itself; others go to Pillow, as in torchvision."""


def colormaps():
    """The colormaps ``colormap=`` takes (matplotlib's tables): viridis,
    magma, inferno, plasma, cividis, turbo, gray, jet."""
    return list(_ops.colormaps())


def formats():
    """torchimage's table of formats, one FormatInfo per format, read from the
    library (there is no other table)."""
    return [FormatInfo(name, *_ops.format_info(name)) for name in _ops.formats()]


# The format names (and aliases, upper case) and extensions the table knows.
_FORMATS = {n.upper(): f.name for f in formats() for n in [f.name, *f.aliases]}
_EXTENSIONS = {"." + e: f.name for f in formats() for e in f.extensions}
# Pillow's keywords where they exist (quality, lossless, compression),
# torchimage's otherwise.
_ENCODE_EXTRAS = ("quality", "compression_level", "bit_depth", "lossless", "compression",
                  "keep_values")
_FILE_EXTRAS = ("create_directories", "durable", "replace_read_only")
_SAVE_EXTRAS = _ENCODE_EXTRAS + ("grayscale",) + _FILE_EXTRAS


def _check_tensor(tensor):
    """torchvision's make_grid checks: a tensor or a list of tensors."""
    if _torch.is_tensor(tensor):
        return tensor
    if isinstance(tensor, list):
        for t in tensor:
            if not _torch.is_tensor(t):
                raise TypeError(
                    f"tensor or list of tensors expected, got a list containing {type(t)}")
        return tensor
    raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _int(value, name, clamp=False):
    """An int argument as the operators take it (a 64-bit int). A value past
    that range is refused with its name (``clamp``: taken as the largest,
    where torchvision's result is the same for every larger value)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        value = _operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r}") from None
    if not _INT64_MIN <= value <= _INT64_MAX:
        if clamp and value > 0:
            return _INT64_MAX
        raise ValueError(f"{name} must be in [{_INT64_MIN}, {_INT64_MAX}], got {value}")
    return value


def _grid(nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
          pad_value=0.0, grayscale=False, dataformats="CHW", colormap=None, palette=None,
          captions=None, caption_size=10):
    """make_grid's keyword arguments as the operators take them (with
    torchimage's: grayscale, dataformats as the layout, colormap, palette,
    captions and caption_size)."""
    # torchvision tests `normalize is True` and `scale_each is True`: a truthy
    # non-bool does not normalize there, and does not here.
    normalize = normalize is True
    args = {
        # min(nrow, B) images a row: every nrow past 2**63 - 1 is the same.
        "nrow": _int(nrow, "nrow", clamp=True),
        "padding": _int(padding, "padding"),
        "normalize": normalize,
        "value_range": None,
        "scale_each": scale_each is True,
        "grayscale": bool(grayscale),
        "layout": str(dataformats),
        "colormap": None if colormap is None else str(colormap),
        "palette": _palette(palette),
        "captions": _captions(captions),
        "caption_size": _int(caption_size, "caption_size"),
    }
    if normalize and value_range is not None:
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise TypeError(
                "value_range has to be a tuple (min, max) if specified. min and max are numbers")
        args["value_range"] = [float(value_range[0]), float(value_range[1])]
    if isinstance(pad_value, (tuple, list)) or (
            _torch.is_tensor(pad_value) and pad_value.numel() != 1):
        # A colour: one value per channel (torchimage's extension).
        args["pad_value"] = 0.0
        args["pad_color"] = [float(v) for v in pad_value]
    else:
        args["pad_value"] = float(pad_value)
    return args


def _captions(captions):
    """Captions as the operators take them: a list of str (one per image), or
    None for none."""
    if captions is None:
        return None
    if isinstance(captions, (str, bytes)):
        raise TypeError("captions must be a list of str (one per image), got a single "
                        f"{type(captions).__name__}")
    out = []
    for i, caption in enumerate(captions):
        if not isinstance(caption, str):
            raise TypeError(f"captions[{i}] must be a str, got {type(caption).__name__}")
        out.append(caption)
    return out


def _palette(palette):
    """A label map's palette as the operators take it (flat RGB ints): "voc",
    or a sequence of colours (names, "#RRGGBB" or (R, G, B) tuples)."""
    if palette is None:
        return None
    if isinstance(palette, str):
        if palette.lower() != "voc":
            raise ValueError(f"palette: unknown palette {palette!r} (expected 'voc', or a list "
                             "of colours)")
        return list(_ops.voc_palette())
    flat = []
    for color in palette:
        if isinstance(color, str):
            flat.extend(_ops.color_rgb(color))
        else:
            flat.extend(int(v) for v in color)
    return flat


def _encode_args(extra):
    """The operators' encode arguments, from the extras (quality: unset keeps
    each lossy format's default, JPEG 75 and WebP 80; compression_level,
    bit_depth, lossless (WebP), compression (TIFF: Pillow's raw, tiff_lzw,
    tiff_deflate, zstd), keep_values (float32 TIFF))."""
    level = extra.get("compression_level")
    quality = extra.get("quality")
    compression = extra.get("compression")
    return {
        "quality": None if quality is None else _int(quality, "quality"),
        "compression_level": None if level is None else _int(level, "compression_level"),
        "bit_depth": _int(extra.get("bit_depth", 8), "bit_depth"),
        "lossless": bool(extra.get("lossless", False)),
        "compression": None if compression is None else str(compression),
        "keep_values": bool(extra.get("keep_values", False)),
    }


def _check_args(extra):
    """The encode arguments check_encode_options takes."""
    e = _encode_args(extra)
    return {k: e[k] for k in ("quality", "compression_level", "bit_depth")}


def _file_args(extra):
    """The operators' file arguments (create_directories, durable, replace_read_only)."""
    return {k: bool(extra.get(k, False)) for k in _FILE_EXTRAS}


def _save_args(extra):
    """The operators' encode and file arguments, from save_image's extras."""
    return dict(_encode_args(extra), **_file_args(extra))


def _unknown(fn, kwargs):
    if kwargs:
        _warnings.warn(
            f"torchimage.{fn}: ignoring unknown keyword argument(s) {', '.join(sorted(kwargs))} "
            "(torchvision ignores them too)", stacklevel=3)


def _split(fn, kwargs, extras):
    """make_grid's and `extras`' keyword arguments; the rest are ignored, as
    torchvision's make_grid(**kwargs) ignores them (with a warning here)."""
    grid_keys = ("nrow", "padding", "normalize", "value_range", "scale_each", "pad_value",
                 "grayscale", "dataformats", "colormap", "palette", "captions", "caption_size")
    grid = {k: kwargs.pop(k) for k in grid_keys if k in kwargs}
    extra = {k: kwargs.pop(k) for k in extras if k in kwargs}
    _unknown(fn, kwargs)
    return _grid(**grid), extra


def _format_of(format, filename):
    """The table's name of the format Pillow would pick (explicit format, else
    the file name's extension) where torchimage encodes it; None otherwise."""
    if format is not None:
        return _FORMATS.get(str(format).upper())
    return _EXTENSIONS.get(_os.path.splitext(filename or "")[1].lower())


def _is_path(fp):
    return isinstance(fp, (str, bytes, _os.PathLike))


def _name(fp):
    """A path (str, bytes or os.PathLike) as text: what messages, extensions
    and Pillow see. Bytes that are not UTF-8 become lone surrogates, as
    os.fsdecode makes them (PEP 383)."""
    return _os.fsdecode(_os.fspath(fp))


def _path(fp):
    """A path as the operators take it: its bytes (os.fsencode), which are
    what the file system names on Linux. Any name passes, UTF-8 or not (a
    Latin-1 b"caf\xe9.png", or the str os.fsdecode makes of it); the
    operators' `str` arguments take bytes as they are."""
    return _os.fsencode(_os.fspath(fp))


class _NamedBuffer(_io.BytesIO):
    """Pillow's output in memory under the target's name. Pillow's
    Image.save(path) hands its plugins the path as `filename` (and the file
    as `fp`), and some of them read it: JPEG 2000 writes a raw codestream for
    .j2k and a JP2 container otherwise; IM, SGI and PDF write the name into
    the file. A file object's `name` is what Pillow takes as `filename` when
    it is given no path, so this buffer gets the plugins' output for the path
    while the file itself is still written atomically."""

    def __init__(self, name):
        super().__init__()
        self.name = name


def _save_with_pillow(tensor, fp, format, grid, extra):
    """Formats torchimage does not encode (BMP, TIFF, WebP, ...), or an
    unknown extension: Pillow encodes torchimage's pixels, as in torchvision.
    To a path, Pillow encodes into memory and the bytes are written as every
    file is (atomically: a failure leaves no partial file and keeps an old
    one)."""
    from PIL import Image

    # The library's rules and messages for the encoding options, as for the
    # formats torchimage encodes (a quality of 0 is a mistake for WebP too).
    encode = _encode_args(extra)
    _ops.check_encode_options("save_image", **_check_args(extra))
    bit_depth = encode["bit_depth"]
    if bit_depth != 8:
        deep = [f.display_name for f in formats() if bit_depth in f.bit_depths]
        raise ValueError(f"bit_depth {bit_depth} is written for {' and '.join(deep) or 'no format'}"
                         f" only; format {format!r} of {fp!r} is 8-bit (Pillow)")
    params = {}
    if extra.get("quality") is not None:
        params["quality"] = extra["quality"]
    if extra.get("compression_level") is not None:
        params["compress_level"] = extra["compression_level"]
    path = _name(fp) if _is_path(fp) else None
    if path is not None:
        if format is None:
            # What Pillow's save(path) does: the format from the extension.
            ext = _os.path.splitext(path)[1].lower()
            format = Image.registered_extensions().get(ext)
            if format is None:
                raise ValueError(f"unknown file extension: {ext}")
    pixels = _ops.to_pixels(tensor, **grid).numpy()
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if path is None:
        Image.fromarray(pixels).save(fp, format=format, **params)
        return
    # torchvision calls im.save(path, format=format): Pillow's plugins see
    # the path's name (see _NamedBuffer), whether or not `format` is given.
    buffer = _NamedBuffer(path)
    Image.fromarray(pixels).save(buffer, format=format, **params)
    data = _torch.frombuffer(bytearray(buffer.getbuffer()), dtype=_torch.uint8)
    _ops.write_file(data, _path(fp), **_file_args(extra))


# ---------------------------------------------------------------------------
# torchvision.utils


@_torch.no_grad()
def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0, **kwargs):
    """torchvision.utils.make_grid: tiles a (B, C, H, W) batch, a list of
    (C, H, W) images, one image or an (H, W) map into one (C, H', W') image of
    the input's dtype and device (a batch of one: that image, unpadded).

    Extras: ``grayscale=True`` keeps one channel; ``pad_value`` may be a
    sequence (one value per channel); ``dataformats`` ("CHW" default, "HWC",
    "NHWC", "HW": TensorBoard's names; a permuted view, not a copy);
    ``colormap`` (one of ``colormaps()``, for one-channel images: the RGB
    entries / 255 of the 8-bit gray values save_image would write);
    ``captions`` (one str per image: a strip of caption_strip_height rows
    below each image, the text drawn at ``caption_size`` pixels, default 10,
    in DejaVuSans; floats get its 8-bit pixels / 255). Other keyword
    arguments are ignored, as torchvision ignores them."""
    grayscale = kwargs.pop("grayscale", False)
    dataformats = kwargs.pop("dataformats", "CHW")
    colormap = kwargs.pop("colormap", None)
    palette = kwargs.pop("palette", None)
    captions = kwargs.pop("captions", None)
    caption_size = kwargs.pop("caption_size", 10)
    _unknown("make_grid", kwargs)
    return _ops.make_grid(_check_tensor(tensor),
                          **_grid(nrow, padding, normalize, value_range, scale_each, pad_value,
                                  grayscale, dataformats, colormap, palette, captions,
                                  caption_size))


@_torch.no_grad()
def save_image(tensor, fp, format=None, **kwargs):
    """torchvision.utils.save_image: make_grid(tensor, **kwargs), quantized as
    torchvision does, written to ``fp`` (a path, str or pathlib.Path, or a
    binary file object) as PNG or JPEG by torchimage (other formats Pillow
    knows are encoded by Pillow). The format is ``format`` or the path's
    extension (a file object's ``name``).

    Extras (keywords): quality, compression_level, grayscale,
    create_directories, durable. A path is written atomically: on an error no
    file (and no partial file) is left."""
    tensor = _check_tensor(tensor)
    grid, extra = _split("save_image", kwargs, _SAVE_EXTRAS)
    if _is_path(fp):
        fmt = _format_of(format, _name(fp))
        if fmt is None:
            return _save_with_pillow(tensor, fp, format, grid, extra)
        _ops.save_image(tensor, _path(fp), format=fmt, **grid, **_save_args(extra))
        return None
    # A file object: Pillow takes the format from its name when not given.
    name = getattr(fp, "name", None)
    fmt = _format_of(format, _name(name) if _is_path(name) else "")
    if fmt is None:
        return _save_with_pillow(tensor, fp, format, grid, extra)
    data = _ops.encode_image(tensor, format=fmt, **grid, **_encode_args(extra))
    fp.write(data.numpy().tobytes())
    return None


# ---------------------------------------------------------------------------
# torchimage's own


@_torch.no_grad()
def save_images(batch, pattern, format=None, start_index=0, threads=0, **kwargs):
    """One file per sample of a (B, C, H, W) batch (or a list of images): file
    i is what ``save_image(batch[i], path_i, format, **kwargs)`` writes, path_i
    the pattern with ``{index}`` (or ``{index:05}``: zero-padded) replaced by
    ``start_index + i``; ``{{`` and ``}}`` are literal braces, any other brace
    is an error (the grammar: include/torchimage/save_images.h). The pattern
    may be str, bytes or os.PathLike. Encoded on ``threads`` workers (0: all
    cores) with the GIL released. Every file is attempted; then the first
    failure raises."""
    batch = _check_tensor(batch)
    grid, extra = _split("save_images", kwargs, _SAVE_EXTRAS)
    if format is not None:
        format = _FORMATS.get(str(format).upper(), str(format))
    _ops.save_images(batch, _path(pattern), format=format, **grid,
                     **_save_args(extra), start_index=_int(start_index, "start_index"),
                     threads=_int(threads, "threads"))


@_torch.no_grad()
def save_animation(frames, fp, fps=4, loop=0, format=None, **kwargs):
    """An animation of ``frames`` (a list: each frame what ``save_image``
    takes, each written as the grid ``save_image(frame, ..., **kwargs)``
    would write) at ``fp``: APNG (.png, .apng), animated WebP (.webp) or GIF
    (.gif), or ``format``. Each frame shows 1000 / ``fps`` ms (GIF: rounded
    to 10 ms); ``loop`` is how many times it plays (0: forever), as Pillow's
    ``loop``. Every frame must give a grid of the first one's size and
    channels. Written atomically, once; the C++ ``AnimationWriter`` grows a
    file a frame at a time."""
    frames = [_check_tensor(f) for f in frames]
    grid, extra = _split("save_animation", kwargs, _SAVE_EXTRAS)
    fmt = None if format is None else _FORMATS.get(str(format).upper(), str(format))
    _ops.save_animation(frames, _path(fp), fps=float(fps), loop=_int(loop, "loop"), format=fmt,
                        **grid, **_save_args(extra))


@_torch.no_grad()
def encode_image(tensor, format="png", **kwargs):
    """The bytes save_image would write, as a 1-D uint8 tensor."""
    tensor = _check_tensor(tensor)
    grid, extra = _split("encode_image", kwargs, _ENCODE_EXTRAS)
    fmt = _FORMATS.get(str(format).upper(), str(format))
    return _ops.encode_image(tensor, format=fmt, **grid, **_encode_args(extra))


@_torch.no_grad()
def to_pixels(tensor, **kwargs):
    """The uint8 (H, W, C) CPU pixels save_image would encode."""
    tensor = _check_tensor(tensor)
    grid, _ = _split("to_pixels", kwargs, ())
    return _ops.to_pixels(tensor, **grid)


class ImageWriter:
    """Writes images in the background, as the C++ ``torchimage::ImageWriter``:
    ``save_image`` and ``save_images`` return as soon as the tensor is copied
    (the caller may overwrite it at once); quantizing, encoding and the atomic
    write run on ``threads`` workers (0: all cores). ``max_pending_bytes``
    bounds the copies waiting: when reached, a call waits for room. A write
    that fails is raised (RuntimeError, with its path) by the next call or by
    ``flush()``, once. Each call returns a job (the C++ call's future):
    ``job.wait()`` returns once that call's images are written and raises
    its first failure; ``job.done()`` says whether it is over. Leaving a
    ``with`` block flushes::

        with torchimage.ImageWriter() as writer:
            for epoch in range(epochs):
                ...
                writer.save_image(fake, f"epoch_{epoch:03}.png", normalize=True,
                                  value_range=(-1, 1))

    Arguments as ``save_image``/``save_images`` take them (paths only, PNG
    and JPEG). TorchScript code takes the underlying object, ``.scripted``
    (a ``torch.classes.torchimage.ImageWriter``), whose methods have the
    operators' arguments."""

    def __init__(self, threads=0, max_pending_bytes=256 << 20):
        self.scripted = _torch.classes.torchimage.ImageWriter(
            _int(threads, "threads"), _int(max_pending_bytes, "max_pending_bytes"))

    @staticmethod
    def _args(fn, fp, format, kwargs):
        if not _is_path(fp):
            raise TypeError(f"ImageWriter.{fn} writes to a path (str or os.PathLike), got "
                            f"{type(fp)}")
        name = _name(fp)
        fmt = _format_of(format, name.replace("{", "").replace("}", ""))
        if fmt is None:
            names = " and ".join(f.display_name for f in formats())
            raise ValueError(f"ImageWriter.{fn} writes {names}; format {format!r} and path "
                             f"{name!r} name neither (torchimage.save_image hands other formats "
                             "to Pillow)")
        grid, extra = _split(f"ImageWriter.{fn}", kwargs, _SAVE_EXTRAS)
        return _path(fp), dict(format=fmt, **grid, **_save_args(extra))

    @_torch.no_grad()
    def save_image(self, tensor, fp, format=None, **kwargs):
        """Queues save_image(tensor, fp, format, **kwargs); returns its job."""
        tensor = _check_tensor(tensor)
        path, args = self._args("save_image", fp, format, kwargs)
        if isinstance(tensor, list):
            return self.scripted.save_image_list(tensor, path, **args)
        return self.scripted.save_image(tensor, path, **args)

    @_torch.no_grad()
    def save_images(self, batch, pattern, format=None, start_index=0, **kwargs):
        """Queues save_images(batch, pattern, format, start_index, **kwargs):
        one file per sample (of a batch, or of a list: its images may differ
        in shape). Returns one job for all of them."""
        batch = _check_tensor(batch)
        pattern, args = self._args("save_images", pattern, format, kwargs)
        start_index = _int(start_index, "start_index")
        if isinstance(batch, list):
            return self.scripted.save_images_list(batch, pattern, **args, start_index=start_index)
        return self.scripted.save_images(batch, pattern, **args, start_index=start_index)

    def flush(self):
        """Waits until everything queued is written; raises the failures not
        yet reported."""
        self.scripted.flush()

    def pending(self):
        """Images queued or being written."""
        return self.scripted.pending()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()
        return False


class SummaryWriter:
    """TensorBoard event files, as ``torch.utils.tensorboard.SummaryWriter``
    writes them, from the C++ ``torchimage::SummaryWriter``: the same method
    and argument names (``tag``, ``scalar_value``, ``img_tensor``,
    ``global_step``, ``walltime``, ``dataformats``, ``values``,
    ``text_string``), with save_image's keywords as extras of ``add_image``
    and ``add_images`` (``nrow``, ``normalize``, ``value_range``, ...)::

        with torchimage.SummaryWriter("runs/gan") as writer:
            writer.add_scalar("loss/g", loss_g, epoch)
            writer.add_images("samples", fake, epoch, normalize=True, value_range=(-1, 1))

    Calls return once the tensor is copied; images are rendered on
    ``threads`` workers and the records appended in call order. A failure is
    raised by the next call or ``flush()``, once.

    One difference: torch.utils.tensorboard quantizes a float image as
    ``(x * 255).astype(uint8)`` (no rounding, no clamp); torchimage logs the
    pixels save_image writes (``x * 255 + 0.5``, clamped), and a batch as
    make_grid's grid. ``max_queue`` is accepted and ignored: records reach the
    file as soon as they are rendered. ``flush_secs`` is how often a
    ``durable`` writer syncs the file. TorchScript code takes ``.scripted``
    (a ``torch.classes.torchimage.SummaryWriter``)."""

    def __init__(self, log_dir=None, comment="", max_queue=10, flush_secs=120, threads=0,
                 max_pending_bytes=256 << 20, durable=False):
        if log_dir is None:
            import datetime
            import socket
            stamp = datetime.datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = _os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.scripted = _torch.classes.torchimage.SummaryWriter(
            _os.fspath(log_dir), _int(threads, "threads"),
            _int(max_pending_bytes, "max_pending_bytes"), float(flush_secs), bool(durable))

    @staticmethod
    def _step(global_step):
        return None if global_step is None else _int(global_step, "global_step")

    @staticmethod
    def _wall(walltime):
        return None if walltime is None else float(walltime)

    @staticmethod
    def _tensor(t, name):
        if _torch.is_tensor(t):
            return t
        try:
            return _torch.as_tensor(t)
        except Exception:
            raise TypeError(f"SummaryWriter: {name} must be a tensor or an array, got {type(t)}")

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None):
        """A scalar, logged as a 32-bit float (Summary.Value.simple_value)."""
        if _torch.is_tensor(scalar_value):
            scalar_value = scalar_value.item()
        self.scripted.add_scalar(tag, float(scalar_value), self._step(global_step),
                                 self._wall(walltime))

    @_torch.no_grad()
    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW",
                  **kwargs):
        """An image (CHW, HWC or HW; a batch, NCHW or NHWC, as its grid): the PNG
        save_image writes (JPEG with ``format="jpeg"``)."""
        img = self._tensor(img_tensor, "img_tensor")
        format = kwargs.pop("format", None)
        fmt = None if format is None else _FORMATS.get(str(format).upper())
        if format is not None and fmt is None:
            raise ValueError(f"SummaryWriter.add_image logs PNG or JPEG, got format {format!r}")
        grid, extra = _split("SummaryWriter.add_image", kwargs, _ENCODE_EXTRAS + ("grayscale",))
        del grid["layout"]  # dataformats is the layout
        self.scripted.add_image(tag, img, self._step(global_step), self._wall(walltime),
                                str(dataformats).upper(), format=fmt, **grid,
                                **_encode_args(extra))

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW",
                   **kwargs):
        """A batch of images as one grid (make_grid's, ``nrow`` per row)."""
        self.add_image(tag, img_tensor, global_step, walltime, dataformats, **kwargs)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Text, under ``tag + "/text_summary"`` (the text plugin)."""
        self.scripted.add_text(tag, str(text_string), self._step(global_step),
                               self._wall(walltime))

    @_torch.no_grad()
    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """A histogram with torch.utils.tensorboard's default bins (only
        ``bins="tensorflow"``, no ``max_bins``)."""
        if bins != "tensorflow" or max_bins is not None:
            raise NotImplementedError(
                "torchimage.SummaryWriter.add_histogram takes bins='tensorflow' (the default) "
                f"and no max_bins, got bins={bins!r}, max_bins={max_bins!r}")
        self.scripted.add_histogram(tag, self._tensor(values, "values"), self._step(global_step),
                                    self._wall(walltime))

    def flush(self):
        """Waits until every record is in the file; raises failures not yet reported."""
        self.scripted.flush()

    def close(self):
        self.flush()

    def get_logdir(self):
        return self.scripted.get_logdir()

    @property
    def file_path(self):
        """The event file this writer appends to."""
        return self.scripted.file_path()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()
        return False


def encode_png(image, compression_level=None):
    """PNG bytes (1-D uint8 tensor) of a uint8 (C, H, W) image, C in 1-4.
    ``compression_level`` 0-9: Pillow's bytes at that level; None: the fast engine."""
    return _ops.encode_png(image, compression_level=compression_level)


def encode_jpeg(image, quality=75):
    """JPEG bytes of a uint8 (C, H, W) image, C = 1 or 3 (Pillow's bytes)."""
    return _ops.encode_jpeg(image, quality=_int(quality, "quality"))


def decode_image(data, max_pixels=1 << 30, keep_16_bit=False, keep_indices=False):
    """PNG or JPEG bytes (1-D uint8 tensor) to a uint8 (C, H, W) image.
    ``keep_16_bit``: a 16-bit PNG's samples stay 16-bit (uint16 where torch
    has it, 2.3+, as torchvision 0.19+ decodes them; int32 values 0-65535 on
    older torch) instead of being reduced to 8 bits (C++ DecodeOptions).
    ``keep_indices``: an indexed-colour PNG (a label map) gives its indices
    (one channel) instead of the palette's colours."""
    return _ops.decode_image(data, max_pixels=_int(max_pixels, "max_pixels"),
                             keep_16_bit=bool(keep_16_bit), keep_indices=bool(keep_indices))


def read_image(path, max_pixels=1 << 30, keep_16_bit=False, keep_indices=False):
    """decode_image of a file's bytes (the path: str, bytes or os.PathLike)."""
    return _ops.read_image(_path(path), max_pixels=_int(max_pixels, "max_pixels"),
                           keep_16_bit=bool(keep_16_bit), keep_indices=bool(keep_indices))


# ---------------------------------------------------------------------------
# torchvision.utils' drawing functions (0.14's signatures and checks; the
# pixels of torchvision 0.14 with Pillow 9.4, labels' text aside).


def _rgb(color, fn):
    """A colour as three ints: a name or string Pillow's ImageColor reads
    ("red", "#FF00FF", "rgb(1, 2, 3)") or an (R, G, B) tuple."""
    if isinstance(color, str):
        return list(_ops.color_rgb(color))
    if isinstance(color, (tuple, list)) and len(color) in (3, 4):
        # Pillow ignores a fourth (alpha) value of an RGB drawing's ink.
        return [int(v) for v in color[:3]]
    raise ValueError(f"{fn}: a colour is a string or an (R, G, B) tuple, got {color!r}")


def _flat_colors(colors, fn):
    out = []
    for color in colors:
        out.extend(_rgb(color, fn))
    return out


def _draw_batch(fn, images, items, kind, per_image=None, **kwargs):
    """A batch (beyond torchvision): images (B, C, H, W) and a list of one
    tensor of ``kind`` per image; ``per_image`` arguments (labels) are lists
    of one entry per image, the others apply to every image. Image i is
    ``fn(images[i], items[i], ...)``, a 1-channel result tiled to RGB, with
    no warning for an image without items; the results stacked (B, 3, H, W),
    as the C++ batch overloads do."""
    name = fn.__name__
    n = images.shape[0]
    if len(items) != n:
        raise ValueError(f"{name}: {n} images and {len(items)} tensors of {kind}; expected "
                         "one tensor per image")
    per_image = {k: v for k, v in (per_image or {}).items() if v is not None}
    for k, v in per_image.items():
        if isinstance(v, str) or len(v) != n or any(
                isinstance(e, str) or not (e is None or isinstance(e, (list, tuple))) for e in v):
            raise ValueError(f"{name}: a batch takes {k} as one list (or None) per image, for "
                             f"{n} images; got {v!r}")
    if n == 0:
        raise ValueError(f"{name}: the batch of images is empty")
    out = []
    with _warnings.catch_warnings():
        _warnings.filterwarnings("ignore", message=".*doesn't contain any")
        for i in range(n):
            extra = {k: v[i] for k, v in per_image.items()}
            try:
                drawn = fn(images[i], items[i], **extra, **kwargs)
            except (ValueError, TypeError, IndexError, RuntimeError) as e:
                raise type(e)(f"{name}: image {i} of the batch of {n}: {e}") from e
            if drawn.shape[0] == 1:
                drawn = drawn.repeat(3, 1, 1)
            # As one image: boxes and keypoints come back on the CPU, masks on its device.
            out.append(drawn if kind == "masks" else drawn.cpu())
    return _torch.stack(out)


@_torch.no_grad()
def draw_bounding_boxes(image, boxes, labels=None, colors=None, fill=False, width=1, font=None,
                        font_size=None):
    """torchvision.utils.draw_bounding_boxes: boxes (N, 4) as (xmin, ymin,
    xmax, ymax) drawn on a uint8 (C, H, W) image, C = 1 or 3; returns a new
    uint8 (3, H, W) tensor. A float image in [0, 1] (torchvision >= 0.19) is
    drawn on as ``(image * 255.999).to(uint8)`` and returned as ``out / 255``
    in its dtype. ``colors``: one colour (a name, "#RRGGBB" or an
    (R, G, B) tuple) or a list of at least one per box; by default
    torchvision's palette. Labels are drawn with FreeType in ``font`` (a
    font file, ``font_size`` pixels, default 10), or DejaVuSans at 10 pixels
    where torchvision uses Pillow's bitmap font: the text differs from
    torchvision's, the boxes do not.

    Beyond torchvision: a batch (B, C, H, W) with a list of B box tensors
    (and ``labels`` a list of B lists, or None) gives (B, 3, H, W), each
    image drawn as alone; an image without boxes is left as it is."""
    if not _torch.is_tensor(image):
        raise TypeError(f"Tensor expected, got {type(image)}")
    if image.dim() == 4 and isinstance(boxes, (list, tuple)):
        return _draw_batch(draw_bounding_boxes, image, boxes, "boxes", {"labels": labels},
                           colors=colors, fill=fill, width=width, font=font,
                           font_size=font_size)
    num_boxes = boxes.shape[0] if _torch.is_tensor(boxes) and boxes.dim() >= 1 else 0
    if (num_boxes == 0 and _torch.is_tensor(boxes) and boxes.dim() == 2 and boxes.shape[1] == 4
            and (image.dtype == _torch.uint8 or image.is_floating_point()) and image.dim() == 3
            and image.shape[0] in (1, 3)):
        # torchvision warns (in Python) and returns the image itself.
        _warnings.warn("boxes doesn't contain any box. No box was drawn", stacklevel=2)
        return image
    if labels is not None:
        labels = [str(label) for label in labels]
    flat = None
    if colors is not None:
        if isinstance(colors, list):
            if len(colors) < num_boxes:
                raise ValueError(f"Number of colors ({len(colors)}) is less than number of boxes "
                                 f"({num_boxes}). ")
            flat = _flat_colors(colors[:max(num_boxes, 1)], "draw_bounding_boxes")
        else:
            flat = _rgb(colors, "draw_bounding_boxes")
    if font is None:
        if font_size is not None:
            _warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.")
        font_size = None
    else:
        font = _os.fsdecode(_os.fspath(font))
        font_size = None if font_size is None else _int(font_size, "font_size")
    return _ops.draw_bounding_boxes(image, boxes, labels=labels, colors=flat, fill=bool(fill),
                                    width=_int(width, "width"), font=font, font_size=font_size)


@_torch.no_grad()
def draw_segmentation_masks(image, masks, alpha=0.8, colors=None):
    """torchvision.utils.draw_segmentation_masks: bool masks (N, H, W) or
    (H, W) blended onto a uint8 (3, H, W) image, ``image * (1 - alpha) +
    colored * alpha`` truncated to uint8 (a float image in [0, 1]: blended
    with the colours / 255 in its dtype, as torchvision >= 0.19).

    The rules follow the torchvision installed beside torchimage (its version
    as the package metadata says, without importing it; 0.14's rules where
    there is none): up to 0.15 a single colour (not a list) colours the first
    mask only and the last mask covering a pixel gives its colour; from 0.16
    a single colour colours every mask; from 0.18 pixels covered by more than
    one mask are blended with black (torchvision's pull request 8213).

    Beyond torchvision: a batch (B, 3, H, W) with a list of B mask tensors
    gives (B, 3, H, W), each image blended as alone."""
    if not _torch.is_tensor(image):
        raise TypeError(f"The image must be a tensor, got {type(image)}")
    if image.dim() == 4 and isinstance(masks, (list, tuple)):
        return _draw_batch(draw_segmentation_masks, image, masks, "masks", alpha=alpha,
                           colors=colors)
    num_masks = masks.shape[0] if _torch.is_tensor(masks) and masks.dim() == 3 else 1
    if (num_masks == 0 and masks.dtype == _torch.bool
            and (image.dtype == _torch.uint8 or image.is_floating_point()) and image.dim() == 3
            and image.shape[0] == 3 and masks.shape[1:] == image.shape[1:]):
        _warnings.warn("masks doesn't contain any mask. No mask was drawn", stacklevel=2)
        return image
    tv = _torchvision_version()
    flat = None
    if tv < (0, 16):
        if colors is not None:
            if num_masks > len(colors):
                raise ValueError(f"There are more masks ({num_masks}) than colors ({len(colors)})")
            if not isinstance(colors, list):
                # torchvision zips the masks with [colors]: only the first is coloured.
                colors = [colors]
                if _torch.is_tensor(masks) and masks.dim() == 3:
                    masks = masks[:1]
            if colors and not isinstance(colors[0], (tuple, str)):
                raise ValueError("colors must be a tuple or a string, or a list thereof")
            if colors and isinstance(colors[0], tuple) and len(colors[0]) != 3:
                raise ValueError(
                    "It seems that you passed a tuple of colors instead of a list of colors")
            flat = _flat_colors(colors[:max(num_masks, 1)], "draw_segmentation_masks")
    else:
        # torchvision's _parse_colors: None is the palette, one colour is every mask's.
        if colors is None:
            colors = [tuple(i * p % 255 for p in (2**25 - 1, 2**15 - 1, 2**21 - 1))
                      for i in range(num_masks)]
        elif isinstance(colors, list):
            if len(colors) < num_masks:
                raise ValueError("Number of colors must be equal or larger than the number of "
                                 f"objects, but got {len(colors)} < {num_masks}.")
        elif not isinstance(colors, (tuple, str)):
            raise ValueError(
                f"colors must be a tuple or a string, or a list thereof, but got {colors}.")
        elif isinstance(colors, tuple) and len(colors) != 3:
            raise ValueError(
                f"If passed as tuple, colors should be an RGB triplet, but got {colors}.")
        else:
            colors = [colors] * num_masks
        flat = _flat_colors(colors[:max(num_masks, 1)], "draw_segmentation_masks")
        if (tv >= (0, 18) and _torch.is_tensor(masks) and masks.dtype == _torch.bool
                and masks.dim() == 3 and num_masks > 1):
            # Black where masks overlap: one more mask, drawn last, of those pixels.
            overlapping = masks.sum(dim=0) > 1
            if bool(overlapping.any()):
                masks = _torch.cat([masks, overlapping[None]])
                flat = flat + [0, 0, 0]
    return _ops.draw_segmentation_masks(image, masks, alpha=float(alpha), colors=flat)


def _torchvision_version():
    """(major, minor) of the installed torchvision, from its metadata (no
    import); (0, 14), whose rules the C++ functions follow, where there is
    none."""
    global _TORCHVISION_VERSION
    if _TORCHVISION_VERSION is None:
        _TORCHVISION_VERSION = (0, 14)
        try:
            from importlib.metadata import version
            parts = version("torchvision").split(".")
            _TORCHVISION_VERSION = (int(parts[0]), int("".join(c for c in parts[1] if c.isdigit())))
        except Exception:  # not installed, or an unusual version string
            pass
    return _TORCHVISION_VERSION


_TORCHVISION_VERSION = None


@_torch.no_grad()
def draw_keypoints(image, keypoints, connectivity=None, colors=None, radius=2, width=3):
    """torchvision.utils.draw_keypoints: keypoints (num_instances, K, 2) as
    (x, y) drawn as discs of ``radius`` in ``colors`` (one colour; None: no
    disc, as Pillow draws none), joined by white lines of ``width`` for each
    (i, j) pair of ``connectivity``. A float image in [0, 1] as in
    draw_bounding_boxes (torchvision >= 0.19).

    Beyond torchvision: a batch (B, 3, H, W) with a list of B keypoint
    tensors gives (B, 3, H, W), each image drawn as alone."""
    if not _torch.is_tensor(image):
        raise TypeError(f"The image must be a tensor, got {type(image)}")
    if image.dim() == 4 and isinstance(keypoints, (list, tuple)):
        return _draw_batch(draw_keypoints, image, keypoints, "keypoints",
                           connectivity=connectivity, colors=colors, radius=radius, width=width)
    flat_links = None
    if connectivity:
        flat_links = []
        for link in connectivity:
            flat_links.extend([_int(link[0], "connectivity"), _int(link[1], "connectivity")])
    rgb = None if colors is None else _rgb(colors, "draw_keypoints")
    return _ops.draw_keypoints(image, keypoints, connectivity=flat_links, colors=rgb,
                               radius=_int(radius, "radius"), width=_int(width, "width"))


@_torch.no_grad()
def flow_to_image(flow):
    """torchvision.utils.flow_to_image: optical flow (2, H, W) or (N, 2, H, W),
    float32, to uint8 (3, H, W) or (N, 3, H, W) on the flow's device."""
    return _ops.flow_to_image(flow)


# In TorchScript, calls of these functions compile to the operators (keyword
# arguments as in the schemas: value_range and pad_color as lists).
try:
    from torch.jit import _builtins as _jit_builtins

    for _fn, _op in ((make_grid, "torchimage::make_grid"),
                     (save_image, "torchimage::save_image"),
                     (save_images, "torchimage::save_images"),
                     (encode_image, "torchimage::encode_image"),
                     (to_pixels, "torchimage::to_pixels"),
                     (encode_png, "torchimage::encode_png"),
                     (encode_jpeg, "torchimage::encode_jpeg"),
                     (decode_image, "torchimage::decode_image"),
                     (read_image, "torchimage::read_image"),
                     (draw_bounding_boxes, "torchimage::draw_bounding_boxes"),
                     (draw_segmentation_masks, "torchimage::draw_segmentation_masks"),
                     (draw_keypoints, "torchimage::draw_keypoints"),
                     (flow_to_image, "torchimage::flow_to_image")):
        _jit_builtins._register_builtin(_fn, _op)
    del _fn, _op
except Exception:  # private API; only a convenience
    pass
