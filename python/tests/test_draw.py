"""The drawing functions against torchvision.utils (0.14 with Pillow 9.4 on
Debian), in this process, on random cases: the same tensors, labels' text
aside."""
import random
import warnings

import pytest
import torch
import torchvision
import torchvision.utils as tvu
from PIL import ImageColor

import torchimage

# (major, minor) of the torchvision these tests compare with.
TV_VERSION = tuple(int("".join(c for c in part if c.isdigit()))
                   for part in torchvision.__version__.split(".")[:2])

NAMES = ["red", "Green", "blue", "white", "black", "yellow", "DarkOliveGreen", "aliceblue",
         "rebeccapurple", "gray", "grey", "orange", "teal", "navy", "lime", "fuchsia"]


def random_color(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return rng.choice(NAMES)
    if kind == 1:
        return "#%02X%02x%02X" % (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    if kind == 2:
        return "#%x%x%x" % (rng.randrange(16), rng.randrange(16), rng.randrange(16))
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def random_colors(rng, n):
    """None, one colour, or a list of n or more (mixed kinds)."""
    kind = rng.randrange(3)
    if kind == 0:
        return None
    if kind == 1:
        return random_color(rng)
    return [random_color(rng) for _ in range(n + rng.randrange(2))]


def image(gen, c, h, w):
    return torch.randint(0, 256, (c, h, w), dtype=torch.uint8, generator=gen)


def both(fn_name, *args, **kwargs):
    """(torchvision's result, torchimage's), warnings silenced in both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(tvu, fn_name)(*args, **kwargs)
        got = getattr(torchimage, fn_name)(*args, **kwargs)
    return expected, got


def assert_same(expected, got):
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    if not torch.equal(got, expected):
        diff = (got.int() - expected.int()).abs()
        where = diff.nonzero()[:10].tolist()
        raise AssertionError(f"{int((diff > 0).sum())} values differ, max {int(diff.max())}, "
                             f"first at {where}")


def random_boxes(rng, gen, n, h, w, integer):
    boxes = []
    for _ in range(n):
        # Partly (or wholly) outside the image, and of zero width or height.
        x0 = rng.uniform(-0.4 * w, 1.2 * w)
        y0 = rng.uniform(-0.4 * h, 1.2 * h)
        bw = 0.0 if rng.random() < 0.15 else rng.uniform(0, 0.8 * w)
        bh = 0.0 if rng.random() < 0.15 else rng.uniform(0, 0.8 * h)
        boxes.append([x0, y0, x0 + bw, y0 + bh])
    t = torch.tensor(boxes, dtype=torch.float32)
    if integer:
        t = t.round().to(rng.choice([torch.int64, torch.int32]))
        t[:, 2] = torch.maximum(t[:, 2], t[:, 0])
        t[:, 3] = torch.maximum(t[:, 3], t[:, 1])
    return t


@pytest.mark.parametrize("seed", range(120))
def test_bounding_boxes_random(seed):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    c = rng.choice([1, 3])
    h, w = rng.randint(1, 60), rng.randint(1, 60)
    img = image(gen, c, h, w)
    n = rng.randint(1, 8)
    boxes = random_boxes(rng, gen, n, h, w, integer=rng.random() < 0.3)
    kwargs = dict(colors=random_colors(rng, n), fill=rng.random() < 0.5, width=rng.randint(1, 7))
    expected, got = both("draw_bounding_boxes", img, boxes, **kwargs)
    assert_same(expected, got)


@pytest.mark.parametrize("width", range(0, 8))
@pytest.mark.parametrize("fill", [False, True])
def test_bounding_boxes_every_width(width, fill):
    gen = torch.Generator().manual_seed(width)
    img = image(gen, 3, 40, 50)
    boxes = torch.tensor([[2, 3, 30, 20], [10, 10, 10, 30], [5, 5, 40, 5], [-5, -7, 60, 45],
                          [20.7, 15.2, 44.9, 39.99], [3, 3, 4, 4], [-10, 2, -1, 8]])
    expected, got = both("draw_bounding_boxes", img, boxes, width=width, fill=fill,
                         colors=["red", "#00ff00", (0, 0, 255), "white", "navy", "#abc", "teal"])
    assert_same(expected, got)


def test_bounding_boxes_default_palette_and_single_color():
    gen = torch.Generator().manual_seed(1)
    img = image(gen, 3, 64, 64)
    boxes = torch.tensor([[i * 3.0, i * 2.0, i * 3.0 + 20, i * 2.0 + 25] for i in range(12)])
    for colors in (None, "orange", (12, 200, 7), "#123456"):
        expected, got = both("draw_bounding_boxes", img, boxes, colors=colors, width=2)
        assert_same(expected, got)


def test_bounding_boxes_labels_only_change_text():
    """With labels, the pixels differ from torchvision's only where the text
    is drawn (inside each box, from (x0 + width + 1, y0 + width + 1))."""
    gen = torch.Generator().manual_seed(3)
    img = image(gen, 3, 80, 120)
    boxes = torch.tensor([[5, 5, 70, 40], [50, 30, 115, 75]])
    labels = ["cat", "dog 2"]
    for width, fill in ((1, False), (3, True)):
        plain_tv = tvu.draw_bounding_boxes(img, boxes, width=width, fill=fill)
        got = torchimage.draw_bounding_boxes(img, boxes, labels=labels, width=width, fill=fill)
        plain = torchimage.draw_bounding_boxes(img, boxes, width=width, fill=fill)
        assert_same(plain_tv, plain)
        changed = (got != plain_tv).any(0)
        assert changed.any(), "the labels drew nothing"
        allowed = torch.zeros_like(changed)
        for (x0, y0, _, _), label in zip(boxes.tolist(), labels):
            m = width + 1
            allowed[y0 + m:y0 + m + 14, x0 + m:x0 + m + 8 * len(label) + 4] = True
        assert not (changed & ~allowed).any()


def test_bounding_boxes_labels_with_font_file():
    font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
    img = torch.zeros(3, 50, 100, dtype=torch.uint8)
    boxes = torch.tensor([[0, 0, 99, 49]])
    small = torchimage.draw_bounding_boxes(img, boxes, labels=["Hg"], font=font, font_size=8,
                                           colors="white")
    large = torchimage.draw_bounding_boxes(img, boxes, labels=["Hg"], font=font, font_size=30,
                                           colors="white")
    assert (large != 0).sum() > (small != 0).sum() > (tvu.draw_bounding_boxes(img, boxes, colors="white") != 0).sum()
    with pytest.raises(RuntimeError, match="cannot open the font"):
        torchimage.draw_bounding_boxes(img, boxes, labels=["x"], font="/nonexistent.ttf")


def test_bounding_boxes_checks():
    img = torch.zeros(3, 10, 10, dtype=torch.uint8)
    with pytest.raises(TypeError):
        torchimage.draw_bounding_boxes(img.numpy(), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="uint8, or floating point"):
        torchimage.draw_bounding_boxes(img.int(), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="xmin"):
        torchimage.draw_bounding_boxes(img, torch.tensor([[5.0, 0, 4, 3]]))
    with pytest.raises(ValueError, match="channels"):
        torchimage.draw_bounding_boxes(torch.zeros(2, 10, 10, dtype=torch.uint8), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="labels"):
        torchimage.draw_bounding_boxes(img, torch.zeros(2, 4), labels=["a"])
    with pytest.raises(ValueError, match="colors"):
        torchimage.draw_bounding_boxes(img, torch.zeros(2, 4), colors=["red"])
    with pytest.raises(ValueError, match="unknown color"):
        torchimage.draw_bounding_boxes(img, torch.zeros(1, 4), colors="no-such-colour")
    with pytest.warns(UserWarning):
        out = torchimage.draw_bounding_boxes(img, torch.zeros(0, 4))
    assert out is img or torch.equal(out, img)


def test_color_names_are_pillows():
    for name in ImageColor.colormap:
        for spelled in (name, name.upper()):
            assert torchimage._ops.color_rgb(spelled) == list(ImageColor.getrgb(spelled)[:3])
    for spec in ("#abc", "#ABCDEF", "#12345678", "#1234", "rgb(1, 2,3)", "rgb( 255 ,0, 10 )"):
        assert torchimage._ops.color_rgb(spec) == list(ImageColor.getrgb(spec)[:3]), spec


@pytest.mark.parametrize("seed", range(60))
def test_segmentation_masks_random(seed):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    h, w = rng.randint(1, 50), rng.randint(1, 50)
    img = image(gen, 3, h, w)
    n = rng.randint(1, 6)
    masks = torch.rand(n, h, w, generator=gen) < rng.uniform(0.1, 0.7)  # overlapping
    if rng.random() < 0.2:
        masks = masks[0]  # (H, W)
        n = 1
    alpha = rng.choice([0.0, 1.0, 0.5, rng.random(), rng.random()])
    kind = rng.randrange(3)
    colors = None if kind == 0 else [random_color(rng) for _ in range(n)] if kind == 1 else \
        rng.choice(["red", (10, 20, 30), "#fedcba"])
    if colors is not None and not isinstance(colors, list) and n > len(colors):
        colors = [colors] * n
    expected, got = both("draw_segmentation_masks", img, masks, alpha=alpha, colors=colors)
    assert_same(expected, got)


def test_segmentation_masks_checks():
    img = torch.zeros(3, 4, 5, dtype=torch.uint8)
    with pytest.raises(ValueError, match="bool"):
        torchimage.draw_segmentation_masks(img, torch.zeros(1, 4, 5))
    with pytest.raises(ValueError, match="height and width"):
        torchimage.draw_segmentation_masks(img, torch.zeros(1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="RGB"):
        torchimage.draw_segmentation_masks(img[:1], torch.zeros(1, 4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="more masks|Number of colors"):
        torchimage.draw_segmentation_masks(img, torch.zeros(3, 4, 5, dtype=torch.bool),
                                           colors=["red", "blue"])


@pytest.mark.parametrize("seed", range(80))
def test_keypoints_random(seed):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    h, w = rng.randint(1, 60), rng.randint(1, 60)
    img = image(gen, 3, h, w)
    instances, k = rng.randint(1, 3), rng.randint(1, 6)
    keypoints = torch.stack([torch.empty(instances, k).uniform_(-0.3 * w, 1.3 * w, generator=gen),
                             torch.empty(instances, k).uniform_(-0.3 * h, 1.3 * h, generator=gen)],
                            dim=-1)
    connectivity = [(rng.randrange(-k, k), rng.randrange(-k, k)) for _ in range(rng.randint(0, 5))]
    colors = rng.choice([None, random_color(rng), random_color(rng)])
    expected, got = both("draw_keypoints", img, keypoints, connectivity=connectivity or None,
                         colors=colors, radius=rng.randint(0, 7), width=rng.randint(0, 9))
    assert_same(expected, got)


# Float images in [0, 1], as torchvision >= 0.19 takes them (Debian's 0.14
# refuses them). Its rule, written out from its source: draw_bounding_boxes and
# draw_keypoints convert with to_dtype(image, uint8, scale=True), which is
# image.mul(255 + 1 - 1e-3).to(uint8), draw on that, and convert back with
# to_dtype(out, dtype, scale=True), out.to(dtype).mul_(1 / 255);
# draw_segmentation_masks blends in the image's dtype with the colours / 255.
def to_pixels_tv19(img):
    return img.mul(255 + 1.0 - 1e-3).to(torch.uint8)


def from_pixels_tv19(out, dtype):
    return out.to(dtype).mul_(1.0 / 255)


FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def tv_float(fn, img, *args, **kwargs):
    """torchvision's result for a float image: its own where it takes floats
    (0.19 and later), else its rule above around its uint8 function."""
    if TV_VERSION >= (0, 19):
        return getattr(tvu, fn)(img, *args, **kwargs)
    return from_pixels_tv19(getattr(tvu, fn)(to_pixels_tv19(img), *args, **kwargs), img.dtype)


@pytest.mark.parametrize("seed", range(24))
def test_float_images_as_torchvision_019(seed):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    dtype = FLOATS[seed % len(FLOATS)]
    h, w = rng.randint(1, 40), rng.randint(1, 40)
    c = rng.choice([1, 3])
    img = torch.rand(c, h, w, generator=gen).to(dtype)
    if rng.random() < 0.3:
        img[0, 0, 0] = 1.0  # the top value
    n = rng.randint(1, 5)
    boxes = random_boxes(rng, gen, n, h, w, integer=False)
    kwargs = dict(colors=random_colors(rng, n), fill=rng.random() < 0.5, width=rng.randint(1, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = tv_float("draw_bounding_boxes", img, boxes, **kwargs)
        got = torchimage.draw_bounding_boxes(img, boxes, **kwargs)
    assert got.dtype == dtype and torch.equal(got, expected)

    rgb = img.expand(3, h, w).contiguous()
    keypoints = torch.rand(2, 4, 2, generator=gen) * torch.tensor([w, h])
    kw = dict(connectivity=[(0, 1), (2, 3)], colors=rng.choice([None, "red", (1, 2, 3)]),
              radius=rng.randint(0, 4), width=rng.randint(1, 4))
    expected = tv_float("draw_keypoints", rgb, keypoints, **kw)
    got = torchimage.draw_keypoints(rgb, keypoints, **kw)
    assert got.dtype == dtype and torch.equal(got, expected)

    masks = torch.rand(n, h, w, generator=gen) < 0.4
    colors = [random_color(rng) for _ in range(n)]
    alpha = rng.choice([0.0, 1.0, rng.random()])
    if TV_VERSION >= (0, 19):
        expected = tvu.draw_segmentation_masks(rgb, masks, alpha=alpha, colors=colors)
    else:  # (the overlaps as torchimage draws them beside this torchvision: 0.14's rule)
        colored = rgb.clone()
        for mask, color in zip(masks, colors):
            rgb255 = ImageColor.getrgb(color) if isinstance(color, str) else color
            colored[:, mask] = torch.tensor(tuple(v / 255 for v in rgb255), dtype=dtype)[:, None]
        expected = (rgb * (1 - alpha) + colored * alpha).to(dtype)
    got = torchimage.draw_segmentation_masks(rgb, masks, alpha=alpha, colors=colors)
    assert got.dtype == dtype and torch.equal(got, expected)


def test_keypoints_every_radius_and_width():
    img = torch.zeros(3, 70, 70, dtype=torch.uint8)
    kp = torch.tensor([[[10, 10], [60, 15], [35, 60], [20, 40], [36, 36]]], dtype=torch.float32)
    links = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 4), (4, 2), (1, 1)]
    for radius in range(0, 12):
        for width in range(0, 12):
            expected, got = both("draw_keypoints", img, kp, connectivity=links, colors="red",
                                 radius=radius, width=width)
            assert_same(expected, got)


@pytest.mark.parametrize("seed", range(30))
def test_flow_to_image_random(seed):
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    shape = (2, rng.randint(1, 40), rng.randint(1, 40))
    if seed % 2:
        shape = (rng.randint(1, 3),) + shape
    flow = torch.randn(shape, generator=gen) * rng.choice([0.01, 1.0, 50.0])
    expected, got = both("flow_to_image", flow)
    assert_same(expected, got)


def test_flow_to_image_zero_and_checks():
    expected, got = both("flow_to_image", torch.zeros(2, 5, 6))
    assert_same(expected, got)
    with pytest.raises(ValueError, match="float32"):
        torchimage.flow_to_image(torch.zeros(2, 3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="shape"):
        torchimage.flow_to_image(torch.zeros(3, 3, 3))


def test_draw_functions_in_torchscript():
    @torch.jit.script
    def draw(img: torch.Tensor, boxes: torch.Tensor, masks: torch.Tensor, flow: torch.Tensor):
        a = torch.ops.torchimage.draw_bounding_boxes(img, boxes, colors=[255, 0, 0], width=2)
        b = torch.ops.torchimage.draw_segmentation_masks(img, masks, alpha=0.5)
        c = torch.ops.torchimage.draw_keypoints(img, boxes.view(1, -1, 2),
                                                connectivity=[0, 1], colors=[0, 255, 0])
        return a, b, c, torch.ops.torchimage.flow_to_image(flow)

    gen = torch.Generator().manual_seed(0)
    img = image(gen, 3, 30, 30)
    boxes = torch.tensor([[3.0, 4.0, 20.0, 25.0]])
    half = torch.rand(30, 30, generator=gen) > 0.5
    masks = torch.stack([half, ~half])  # no overlap: the operator has 0.14's rule for overlaps
    flow = torch.randn(2, 30, 30, generator=gen)
    a, b, c, d = draw(img, boxes, masks, flow)
    assert_same(tvu.draw_bounding_boxes(img, boxes, colors="red", width=2), a)
    assert_same(tvu.draw_segmentation_masks(img, masks, alpha=0.5), b)
    assert_same(tvu.draw_keypoints(img, boxes.view(1, -1, 2), connectivity=[(0, 1)],
                                   colors=(0, 255, 0)), c)
    assert_same(tvu.flow_to_image(flow), d)


def test_torchvision_import_replaced():
    from torchimage import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks, \
        flow_to_image  # noqa: F401
    for name in ("draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints",
                 "flow_to_image"):
        assert name in torchimage.__all__
    import inspect
    for name in ("draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints",
                 "flow_to_image"):
        ours = list(inspect.signature(getattr(torchimage, name)).parameters.values())
        theirs = list(inspect.signature(getattr(tvu, name)).parameters.values())
        # torchvision 0.14's parameters, in order and with their defaults; later
        # versions append keywords torchimage does not have yet (0.29:
        # label_colors, label_background_colors, fill_labels; visibility).
        assert [p.name for p in ours] == [p.name for p in theirs[:len(ours)]], name
        if TV_VERSION < (0, 15):
            assert len(ours) == len(theirs), name
        for p, q in zip(ours, theirs):
            assert p.default == q.default, (name, p.name)


def masks_reference(img, masks, alpha, colors, version):
    """torchvision's draw_segmentation_masks for a uint8 image, written out:
    0.14's rules, 0.16's single colour for every mask, 0.18's black overlaps."""
    if masks.dim() == 2:
        masks = masks[None]
    if isinstance(colors, (str, tuple)):
        colors = [colors] if version < (0, 16) else [colors] * masks.shape[0]
    rgb = [ImageColor.getrgb(c) if isinstance(c, str) else c for c in colors]
    colored = img.clone()
    for mask, c in zip(masks, rgb):
        colored[:, mask] = torch.tensor(c, dtype=torch.uint8)[:, None]
    if version >= (0, 18):
        colored[:, masks.sum(dim=0) > 1] = 0
    return (img * (1 - alpha) + colored * alpha).to(torch.uint8)


@pytest.mark.parametrize("version", [(0, 14), (0, 16), (0, 18), (0, 29)])
@pytest.mark.parametrize("seed", range(6))
def test_mask_rules_follow_the_installed_torchvision(version, seed, monkeypatch):
    """The wrapper's rules for each torchvision version (set as if installed),
    against the reference above; the random test compares with the real one."""
    monkeypatch.setattr(torchimage, "_TORCHVISION_VERSION", version)
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    h, w = rng.randint(1, 30), rng.randint(1, 30)
    img = image(gen, 3, h, w)
    n = rng.randint(2, 5)
    masks = torch.rand(n, h, w, generator=gen) < 0.5
    alpha = rng.choice([0.0, 0.5, 1.0, rng.random()])
    colors = rng.choice([[random_color(rng) for _ in range(n)], "red", (10, 200, 30)])
    if version < (0, 16) and not isinstance(colors, list) and n > len(colors):
        with pytest.raises(ValueError, match="more masks"):  # 0.14 counted a string's letters
            torchimage.draw_segmentation_masks(img, masks, alpha=alpha, colors=colors)
        return
    got = torchimage.draw_segmentation_masks(img, masks, alpha=alpha, colors=colors)
    assert_same(masks_reference(img, masks, alpha, colors, version), got)


def tv_alone(fn_name, img, items, **kwargs):
    """torchvision's function on one image, tiled to RGB, an image without
    items left as it is (the batch rule of torchimage)."""
    if items.dim() >= 2 and items.shape[0] == 0:
        out = img
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = getattr(tvu, fn_name)(img, items, **kwargs)
    return out.repeat(3, 1, 1) if out.shape[0] == 1 else out


@pytest.mark.parametrize("seed", range(12))
def test_batches_are_each_image_as_torchvision_draws_it(seed):
    """Beyond torchvision: a batch with one tensor of boxes, masks or
    keypoints per image (some empty) gives torchvision's result for each
    image, stacked."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    b, c = rng.randint(1, 4), rng.choice([1, 3])
    h, w = rng.randint(4, 40), rng.randint(4, 40)
    images = torch.randint(0, 256, (b, c, h, w), dtype=torch.uint8, generator=gen)
    counts = [rng.choice([0, 1, rng.randint(2, 6)]) for _ in range(b)]
    boxes = [random_boxes(rng, gen, n, h, w, integer=False) if n else torch.zeros(0, 4)
             for n in counts]
    labels = [[f"c{j}" for j in range(n)] for n in counts] if rng.random() < 0.3 else None
    kwargs = dict(fill=rng.random() < 0.5, width=rng.randint(1, 4), colors="red")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for an image without boxes
        got = torchimage.draw_bounding_boxes(images, boxes, labels=labels, **kwargs)
    assert got.shape == (b, 3, h, w)
    for i in range(b):
        if labels is None:
            assert_same(tv_alone("draw_bounding_boxes", images[i], boxes[i], **kwargs), got[i])
        else:  # the labels' text differs from torchvision's: compare with torchimage alone
            alone = torchimage.draw_bounding_boxes(images[i], boxes[i], labels=labels[i], **kwargs) \
                if counts[i] else images[i]
            assert_same(alone.repeat(3, 1, 1) if alone.shape[0] == 1 else alone, got[i])

    rgb = images.repeat(1, 3 // c, 1, 1)
    masks = [torch.rand(n, h, w, generator=gen) < 0.4 for n in counts]
    alpha = rng.random()
    got = torchimage.draw_segmentation_masks(rgb, masks, alpha=alpha)
    for i in range(b):
        assert_same(tv_alone("draw_segmentation_masks", rgb[i], masks[i], alpha=alpha), got[i])

    k = rng.randint(1, 4)
    keypoints = [torch.rand(n, k, 2, generator=gen) * torch.tensor([w, h]) for n in counts]
    kp_args = dict(connectivity=[(0, k - 1)], colors="yellow", radius=rng.randint(0, 3))
    got = torchimage.draw_keypoints(rgb, keypoints, **kp_args)
    for i in range(b):
        assert_same(tv_alone("draw_keypoints", rgb[i], keypoints[i], **kp_args), got[i])


def test_batch_checks():
    images = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    box = torch.tensor([[1, 1, 4, 4]])
    with pytest.raises(ValueError, match="2 images and 1 tensors of boxes"):
        torchimage.draw_bounding_boxes(images, [box])
    with pytest.raises(ValueError, match="one list .* per image"):
        torchimage.draw_bounding_boxes(images, [box, box], labels=["a", "b"])
    with pytest.raises(ValueError, match="image 1 of the batch of 2"):
        torchimage.draw_bounding_boxes(images, [box, torch.tensor([[5, 1, 2, 4]])])
    with pytest.raises(ValueError, match="image 0 of the batch of 2.*RGB"):
        torchimage.draw_segmentation_masks(images[:, :1], [torch.zeros(1, 8, 8, dtype=torch.bool)] * 2)
