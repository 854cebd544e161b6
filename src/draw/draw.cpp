// torchvision.utils' drawing functions (0.14, with Pillow 9.4 underneath):
// the checks and the order of torchvision's code, the rasterization of
// draw/raster.cpp, and ATen's operators where torchvision computes in torch.
#include <torchimage/draw.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include "core/prepare.h"
#include "draw/raster.h"
#include "draw/text.h"

namespace torchimage {
namespace {

using draw_detail::Canvas;
using draw_detail::Ink;

// A coordinate as Pillow receives it: torchvision's int64 (truncated
// towards zero), which Pillow's C code takes as a C int. Values beyond
// +-2^30 are clamped there (Pillow's conversion is undefined for them), far
// outside any raster.
int coordinate(int64_t v) {
  constexpr int64_t kLimit = int64_t{1} << 30;
  return static_cast<int>(std::max(-kLimit, std::min(kLimit, v)));
}

int int_argument(int64_t v, const char* what, const char* name) {
  TORCH_CHECK_VALUE(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(),
                    what, ": ", name, " must fit a 32-bit int, got ", v);
  return static_cast<int>(v);
}

void check_image(const at::Tensor& image, const char* what, bool gray_too) {
  TORCH_CHECK_TYPE(image.defined(), what, ": image is an undefined tensor");
  check_tensor_kind(image, what);
  TORCH_CHECK_VALUE(image.scalar_type() == at::kByte || at::isFloatingType(image.scalar_type()),
                    what, ": the image must be uint8, or floating point with values in [0, 1], got ",
                    image.scalar_type());
  TORCH_CHECK_VALUE(image.dim() == 3, what, ": the image must be (C, H, W), got ", image.dim(),
                    " dimensions ", image.sizes(),
                    image.dim() == 4 ? " (a batch (B, C, H, W) takes a std::vector of one tensor "
                                       "per image; a braced list of one tensor is one tensor)"
                                     : "");
  if (gray_too) {
    TORCH_CHECK_VALUE(image.size(0) == 1 || image.size(0) == 3, what,
                      ": the image must have 1 or 3 channels, got ", image.size(0));
  } else {
    TORCH_CHECK_VALUE(image.size(0) == 3, what, ": the image must have 3 (RGB) channels, got ",
                      image.size(0));
  }
  TORCH_CHECK_VALUE(image.size(1) <= std::numeric_limits<int>::max() / 4 &&
                        image.size(2) <= std::numeric_limits<int>::max() / 4,
                    what, ": the image is too large to draw on: ", image.sizes());
}

// The (H, W, 3) contiguous CPU copy drawn on, as torchvision's PIL image.
at::Tensor raster_copy(const at::Tensor& image) {
  return readable(image).permute({1, 2, 0}).to(at::kCPU).contiguous().clone();
}

// Back to (3, H, W): the view torchvision returns (from_numpy(...).permute).
at::Tensor from_raster(const at::Tensor& hwc) { return hwc.permute({2, 0, 1}); }

Ink opaque(const Color& c) { return Ink{c.rgb()[0], c.rgb()[1], c.rgb()[2], 255}; }

// One colour per item: `colors` unset (the default palette), one colour for
// all, or at least `n`.
std::vector<Color> colors_for(const std::optional<std::vector<Color>>& colors, int64_t n,
                              const char* what, const char* items) {
  if (!colors) return default_colors(n);
  TORCH_CHECK_VALUE(!colors->empty(), what, ": colors is an empty list");
  if (colors->size() == 1) return std::vector<Color>(static_cast<size_t>(n), colors->front());
  TORCH_CHECK_VALUE(static_cast<int64_t>(colors->size()) >= n, what, ": number of colors (",
                    colors->size(), ") is less than the number of ", items, " (", n, ")");
  return *colors;
}

at::Tensor int64_cpu(const at::Tensor& t) {
  return readable(t).to(at::kCPU).to(at::kLong).contiguous();
}

// Float images in [0, 1], as torchvision >= 0.19 takes them (its
// to_dtype(..., scale=True), with ATen's operators in its order): uint8
// pixels `image * (255 + 1 - 1e-3)` truncated, drawn on, then back as
// `out.to(dtype) * (1 / 255)`.
// Python hands a number to a tensor operator as a "wrapped number" (a 0-dim
// double tensor that takes part in the computation at the operation's own
// precision); LibTorch 2.x's C++ Scalar overloads may round it to a half or
// bfloat16 image's dtype first (1/255 as a half gives other pixels). So the
// numbers torchvision's Python multiplies by are passed as Python passes them.
at::Tensor number(double v) {
  at::Tensor t = at::scalar_tensor(v, at::kDouble);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}
at::Tensor float_to_pixels(const at::Tensor& image) {
  return image.mul(number(255.0 + 1.0 - 1e-3)).to(at::kByte);
}
at::Tensor pixels_to_float(const at::Tensor& pixels, at::ScalarType dtype) {
  return pixels.to(dtype).mul_(number(1.0 / 255));
}

}  // namespace

namespace {

// The one-image functions. `in_batch`: called by the batch functions below,
// where an image without items is common (no warning).
at::Tensor boxes_on(const at::Tensor& image, const at::Tensor& boxes,
                    const DrawBoundingBoxesOptions& options, bool in_batch) {
  constexpr const char* what = "draw_bounding_boxes";
  check_image(image, what, true);
  TORCH_CHECK_TYPE(boxes.defined(), what, ": boxes is an undefined tensor");
  check_tensor_kind(boxes, what);
  TORCH_CHECK_VALUE(boxes.dim() == 2 && boxes.size(1) == 4, what,
                    ": boxes must be (N, 4) as (xmin, ymin, xmax, ymax), got ", boxes.sizes());
  TORCH_CHECK_VALUE(!boxes.is_complex() && boxes.scalar_type() != at::kBool, what,
                    ": boxes must be real numbers, got ", boxes.scalar_type());
  const at::Tensor b = readable(boxes);
  TORCH_CHECK_VALUE(!(b.select(1, 0) > b.select(1, 2)).any().item<bool>() &&
                        !(b.select(1, 1) > b.select(1, 3)).any().item<bool>(),
                    what, ": boxes need to be in (xmin, ymin, xmax, ymax) format, with xmin <= "
                    "xmax and ymin <= ymax");
  const int64_t n = boxes.size(0);
  if (n == 0) {
    // (In a batch the images with boxes come back on the CPU: so does this one.)
    if (in_batch) return image.cpu();
    TORCH_WARN(what, ": boxes doesn't contain any box. No box was drawn");
    return image;
  }
  const auto& labels = options.labels();
  TORCH_CHECK_VALUE(!labels || static_cast<int64_t>(labels->size()) == n, what,
                    ": number of boxes (", n, ") and labels (", labels ? labels->size() : 0,
                    ") mismatch. Please specify labels for each box.");
  const std::vector<Color> colors = colors_for(options.colors(), n, what, "boxes");
  const int width = int_argument(options.width(), what, "width");

  std::unique_ptr<draw_detail::Font> font;
  if (labels) {
    bool any = false;
    for (const auto& l : *labels) any = any || !l.empty();
    if (any) {
      std::string path = options.font().value_or(draw_detail::default_font_path());
      TORCH_CHECK_VALUE(!path.empty(), what, ": labels need a font, and no default font "
                        "(DejaVuSans.ttf) was found when torchimage was built: pass font(...)");
      const int64_t size = options.font_size().value_or(10);
      font = std::make_unique<draw_detail::Font>(path, int_argument(size, what, "font_size"),
                                                 what);
    }
  }

  at::Tensor rgb = image.size(0) == 1 ? image.repeat({3, 1, 1}) : image;
  const bool floating = at::isFloatingType(image.scalar_type());
  if (floating) rgb = float_to_pixels(readable(rgb));
  at::Tensor hwc = raster_copy(rgb);
  Canvas canvas(hwc.data_ptr<uint8_t>(), static_cast<int>(hwc.size(1)),
                static_cast<int>(hwc.size(0)), options.fill());
  const at::Tensor coords = int64_cpu(boxes);
  const int64_t* c = coords.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int x0 = coordinate(c[i * 4]), y0 = coordinate(c[i * 4 + 1]);
    const int x1 = coordinate(c[i * 4 + 2]), y1 = coordinate(c[i * 4 + 3]);
    const Ink ink = opaque(colors[static_cast<size_t>(i)]);
    if (options.fill()) {
      canvas.rectangle(x0, y0, x1, y1, true, 0, Ink{ink.r, ink.g, ink.b, 100});
    }
    if (width != 0) canvas.rectangle(x0, y0, x1, y1, false, width, ink);
    if (font && !(*labels)[static_cast<size_t>(i)].empty()) {
      const int margin = width + 1;
      font->draw(canvas, x0 + margin, y0 + margin, (*labels)[static_cast<size_t>(i)], ink);
    }
  }
  if (floating) return pixels_to_float(from_raster(hwc), image.scalar_type());
  return from_raster(hwc);
}

at::Tensor masks_on(const at::Tensor& image, const at::Tensor& masks,
                    const DrawSegmentationMasksOptions& options, bool in_batch) {
  constexpr const char* what = "draw_segmentation_masks";
  check_image(image, what, false);
  TORCH_CHECK_TYPE(masks.defined(), what, ": masks is an undefined tensor");
  check_tensor_kind(masks, what);
  at::Tensor m = masks.dim() == 2 ? masks.unsqueeze(0) : masks;
  TORCH_CHECK_VALUE(m.dim() == 3, what, ": masks must be (H, W) or (N, H, W), got ",
                    masks.sizes());
  TORCH_CHECK_VALUE(m.scalar_type() == at::kBool, what, ": the masks must be bool, got ",
                    m.scalar_type());
  TORCH_CHECK_VALUE(m.size(1) == image.size(1) && m.size(2) == image.size(2), what,
                    ": the image and the masks must have the same height and width, got ",
                    image.sizes(), " and ", masks.sizes());
  const int64_t n = m.size(0);
  if (n == 0) {
    if (!in_batch) TORCH_WARN(what, ": masks doesn't contain any mask. No mask was drawn");
    return image;
  }
  const std::vector<Color> colors = colors_for(options.colors(), n, what, "masks");
  const at::Tensor img = readable(image);
  m = readable(m).to(img.device());
  const double alpha = options.alpha();
  const bool floating = at::isFloatingType(img.scalar_type());
  if (!floating && img.device().is_cpu() && alpha >= 0 && alpha <= 1) {
    // One pass with the same float operations ATen's kernels do (each a
    // separately rounded float32 op: x * float(1 - alpha), c * float(alpha),
    // their sum, truncated): the same bytes without the float tensors.
    const float keep = static_cast<float>(1 - alpha);
    const float take = static_cast<float>(alpha);
    const at::Tensor src = img.contiguous();
    const at::Tensor planes = m.contiguous();
    at::Tensor out = at::empty(src.sizes(), src.options());
    const int64_t hw = src.size(1) * src.size(2);
    const uint8_t* in = src.data_ptr<uint8_t>();
    const bool* mask = planes.data_ptr<bool>();
    uint8_t* dst = out.data_ptr<uint8_t>();
    at::parallel_for(0, hw, 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        int64_t last = -1;
        for (int64_t i = n - 1; i >= 0; --i) {
          if (mask[i * hw + p]) {
            last = i;
            break;
          }
        }
        for (int64_t c = 0; c < 3; ++c) {
          const uint8_t x = in[c * hw + p];
          const uint8_t col = last < 0 ? x : colors[static_cast<size_t>(last)].rgb()[c];
          const float kept = static_cast<float>(x) * keep;
          const float taken = static_cast<float>(col) * take;
          dst[c * hw + p] = static_cast<uint8_t>(kept + taken);
        }
      }
    });
    return out;
  }
  // torchvision: img_to_draw[:, mask] = color, mask after mask; then the
  // blend of the whole image in float, truncated to uint8. A float image
  // (torchvision >= 0.19) blends the colours / 255 in its dtype, and stays so.
  at::Tensor colored = img.clone();
  for (int64_t i = 0; i < n; ++i) {
    const auto& rgb = colors[static_cast<size_t>(i)].rgb();
    const at::Tensor color =
        (floating ? at::tensor({rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0}, at::kDouble)
                        .to(img.scalar_type())
                  : at::tensor({int64_t{rgb[0]}, int64_t{rgb[1]}, int64_t{rgb[2]}}, at::kLong)
                        .to(at::kByte))
            .to(img.device())
            .view({3, 1, 1});
    colored = at::where(m[i], color, colored);
  }
  const at::Tensor out = img * number(1 - alpha) + colored * number(alpha);
  return out.to(floating ? img.scalar_type() : at::kByte);
}

at::Tensor keypoints_on(const at::Tensor& image, const at::Tensor& keypoints,
                        const DrawKeypointsOptions& options, bool /*in_batch*/) {
  constexpr const char* what = "draw_keypoints";
  check_image(image, what, false);
  TORCH_CHECK_TYPE(keypoints.defined(), what, ": keypoints is an undefined tensor");
  check_tensor_kind(keypoints, what);
  TORCH_CHECK_VALUE(keypoints.dim() == 3 && keypoints.size(2) >= 2, what,
                    ": keypoints must be (num_instances, K, 2), got ", keypoints.sizes());
  TORCH_CHECK_VALUE(!keypoints.is_complex() && keypoints.scalar_type() != at::kBool, what,
                    ": keypoints must be real numbers, got ", keypoints.scalar_type());
  const int64_t k = keypoints.size(1);
  std::vector<std::pair<int64_t, int64_t>> links;
  for (const auto& link : options.connectivity()) {
    int64_t a = link.first, b = link.second;
    // Python's indexing: negative indices count from the end.
    for (int64_t* v : {&a, &b}) {
      const int64_t original = *v;
      if (*v < 0) *v += k;
      TORCH_CHECK_INDEX(keypoints.size(0) == 0 || (*v >= 0 && *v < k), what,
                        ": connectivity names keypoint ", original, " of ", k);
    }
    links.emplace_back(a, b);
  }
  const int radius = int_argument(options.radius(), what, "radius");
  const int width = int_argument(options.width(), what, "width");
  const bool floating = at::isFloatingType(image.scalar_type());
  at::Tensor hwc = raster_copy(floating ? float_to_pixels(readable(image)) : image);
  Canvas canvas(hwc.data_ptr<uint8_t>(), static_cast<int>(hwc.size(1)),
                static_cast<int>(hwc.size(0)), false);
  const at::Tensor points = int64_cpu(keypoints.narrow(2, 0, 2));
  const int64_t* p = points.data_ptr<int64_t>();
  const Ink white{255, 255, 255, 255};
  for (int64_t inst = 0; inst < points.size(0); ++inst) {
    const int64_t* kp = p + inst * k * 2;
    if (options.colors()) {
      const Ink ink = opaque(*options.colors());
      for (int64_t j = 0; j < k; ++j) {
        const int64_t x = kp[j * 2], y = kp[j * 2 + 1];
        canvas.filled_ellipse(coordinate(x - radius), coordinate(y - radius),
                              coordinate(x + radius), coordinate(y + radius), ink);
      }
    }
    for (const auto& link : links) {
      canvas.polyline_segment(coordinate(kp[link.first * 2]), coordinate(kp[link.first * 2 + 1]),
                              coordinate(kp[link.second * 2]),
                              coordinate(kp[link.second * 2 + 1]), width, white);
    }
  }
  if (floating) return pixels_to_float(from_raster(hwc), image.scalar_type());
  return from_raster(hwc);
}

// The batch functions: `draw` on each image with its items and options
// (none: the defaults, one for all, or one each), the results stacked.
template <typename Options>
at::Tensor draw_batch(const at::Tensor& images, const std::vector<at::Tensor>& items,
                      const std::vector<Options>& options, const char* what,
                      const char* items_name,
                      at::Tensor (*draw)(const at::Tensor&, const at::Tensor&, const Options&,
                                         bool)) {
  TORCH_CHECK_TYPE(images.defined(), what, ": images is an undefined tensor");
  check_tensor_kind(images, what);
  TORCH_CHECK_VALUE(images.dim() == 4, what, ": a list of ", items_name,
                    " (one tensor per image) needs a batch of images (B, C, H, W), got ",
                    images.sizes());
  const int64_t b = images.size(0);
  TORCH_CHECK_VALUE(static_cast<int64_t>(items.size()) == b, what, ": ", b,
                    " images and ", items.size(), " tensors of ", items_name,
                    "; expected one tensor per image");
  TORCH_CHECK_VALUE(options.size() <= 1 || static_cast<int64_t>(options.size()) == b, what,
                    ": ", b, " images and ", options.size(),
                    " options; expected one for every image or one per image");
  TORCH_CHECK_VALUE(b > 0, what, ": the batch of images is empty");
  const Options defaults;
  std::vector<at::Tensor> drawn;
  drawn.reserve(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    const Options& o = options.empty() ? defaults : options[options.size() == 1 ? 0 : i];
    const at::Tensor& t = items[static_cast<size_t>(i)];
    try {
      TORCH_CHECK_TYPE(t.defined(), what, ": ", items_name, " is an undefined tensor");
      at::Tensor out = draw(images[i], t, o, /*in_batch=*/true);
      if (out.size(0) == 1) out = out.repeat({3, 1, 1});
      drawn.push_back(std::move(out));
    } catch (c10::Error& e) {
      TORCH_RETHROW(e, what, ": image ", i, " of the batch of ", b);
    }
  }
  return at::stack(drawn);
}

}  // namespace

torch::Tensor draw_bounding_boxes(const torch::Tensor& image, const torch::Tensor& boxes,
                                  const DrawBoundingBoxesOptions& options) {
  return boxes_on(image, boxes, options, false);
}

torch::Tensor draw_segmentation_masks(const torch::Tensor& image, const torch::Tensor& masks,
                                      const DrawSegmentationMasksOptions& options) {
  return masks_on(image, masks, options, false);
}

torch::Tensor draw_keypoints(const torch::Tensor& image, const torch::Tensor& keypoints,
                             const DrawKeypointsOptions& options) {
  return keypoints_on(image, keypoints, options, false);
}

torch::Tensor draw_bounding_boxes(const torch::Tensor& images,
                                  const std::vector<torch::Tensor>& boxes,
                                  const std::vector<DrawBoundingBoxesOptions>& options) {
  return draw_batch(images, boxes, options, "draw_bounding_boxes", "boxes", &boxes_on);
}

torch::Tensor draw_segmentation_masks(const torch::Tensor& images,
                                      const std::vector<torch::Tensor>& masks,
                                      const std::vector<DrawSegmentationMasksOptions>& options) {
  return draw_batch(images, masks, options, "draw_segmentation_masks", "masks", &masks_on);
}

torch::Tensor draw_keypoints(const torch::Tensor& images,
                             const std::vector<torch::Tensor>& keypoints,
                             const std::vector<DrawKeypointsOptions>& options) {
  return draw_batch(images, keypoints, options, "draw_keypoints", "keypoints", &keypoints_on);
}

namespace {

// torchvision.utils._make_colorwheel: the Middlebury colour wheel (55 x 3),
// with the same operators.
at::Tensor make_colorwheel() {
  const int64_t RY = 15, YG = 6, GC = 4, CB = 11, BM = 13, MR = 6;
  const int64_t ncols = RY + YG + GC + CB + BM + MR;
  at::Tensor wheel = at::zeros({ncols, 3});
  const auto ramp = [](int64_t n) { return at::floor(255 * at::arange(0, n) / n); };
  int64_t col = 0;
  wheel.slice(0, 0, RY).select(1, 0).fill_(255);
  wheel.slice(0, 0, RY).select(1, 1).copy_(ramp(RY));
  col += RY;
  wheel.slice(0, col, col + YG).select(1, 0).copy_(255 - ramp(YG));
  wheel.slice(0, col, col + YG).select(1, 1).fill_(255);
  col += YG;
  wheel.slice(0, col, col + GC).select(1, 1).fill_(255);
  wheel.slice(0, col, col + GC).select(1, 2).copy_(ramp(GC));
  col += GC;
  wheel.slice(0, col, col + CB).select(1, 1).copy_(255 - ramp(CB));
  wheel.slice(0, col, col + CB).select(1, 2).fill_(255);
  col += CB;
  wheel.slice(0, col, col + BM).select(1, 2).fill_(255);
  wheel.slice(0, col, col + BM).select(1, 0).copy_(ramp(BM));
  col += BM;
  wheel.slice(0, col, col + MR).select(1, 2).copy_(255 - ramp(MR));
  wheel.slice(0, col, col + MR).select(1, 0).fill_(255);
  return wheel;
}

}  // namespace

torch::Tensor flow_to_image(const torch::Tensor& flow_in) {
  constexpr const char* what = "flow_to_image";
  TORCH_CHECK_TYPE(flow_in.defined(), what, ": flow is an undefined tensor");
  check_tensor_kind(flow_in, what);
  TORCH_CHECK_VALUE(flow_in.scalar_type() == at::kFloat, what,
                    ": flow should be of dtype float32, got ", flow_in.scalar_type());
  at::Tensor flow = readable(flow_in);
  const bool single = flow.dim() == 3;
  if (single) flow = flow.unsqueeze(0);
  TORCH_CHECK_VALUE(flow.dim() == 4 && flow.size(1) == 2, what,
                    ": flow should have shape (2, H, W) or (N, 2, H, W), got ", flow_in.sizes());
  // torchvision's steps, operator for operator (the same kernels, so the
  // same floats on the same LibTorch: ATen's atan2, not libm's).
  const at::Tensor max_norm = at::sum(flow.pow(2), 1).sqrt().max();
  const double epsilon = std::numeric_limits<float>::epsilon();
  const at::Tensor normalized = flow / (max_norm + epsilon);

  const int64_t n = normalized.size(0), h = normalized.size(2), w = normalized.size(3);
  at::Tensor image = at::zeros({n, 3, h, w}, normalized.options().dtype(at::kByte));
  const at::Tensor wheel = make_colorwheel().to(normalized.device());
  const int64_t num_cols = wheel.size(0);
  const at::Tensor norm = at::sum(normalized.pow(2), 1).sqrt();
  const at::Tensor a =
      at::atan2(-normalized.select(1, 1), -normalized.select(1, 0)) / 3.141592653589793;
  const at::Tensor fk = (a + 1) / 2 * (num_cols - 1);
  const at::Tensor k0 = at::floor(fk).to(at::kLong);
  at::Tensor k1 = k0 + 1;
  k1.masked_fill_(k1 == num_cols, 0);
  const at::Tensor f = fk - k0;
  for (int64_t c = 0; c < wheel.size(1); ++c) {
    const at::Tensor tmp = wheel.select(1, c);
    const at::Tensor col0 = tmp.index_select(0, k0.reshape({-1})).view(k0.sizes()) / 255.0;
    const at::Tensor col1 = tmp.index_select(0, k1.reshape({-1})).view(k1.sizes()) / 255.0;
    at::Tensor col = at::rsub(f, 1) * col0 + f * col1;
    col = at::rsub(norm * at::rsub(col, 1), 1);
    image.select(1, c).copy_(at::floor(255 * col));
  }
  return single ? image[0] : image;
}

}  // namespace torchimage
