// make_grid: torchvision.utils.make_grid (0.14), branch for branch.
#include <torchimage/make_grid.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "core/prepare.h"
#include "core/torch_compat.h"
#include "grid/captions.h"
#include "grid/colormap.h"
#include "grid/grid_shape.h"
#include "grid/labels.h"
#include "grid/quantize.h"

namespace torchimage {
namespace {

bool is_float(c10::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

// torchvision's norm_ip: clamp to [low, high], subtract low, divide by
// max(high - low, 1e-5). The difference is taken in double (Python floats);
// the tensor ops then run in the tensor's dtype.
void norm_ip(at::Tensor& img, double low, double high) {
  if (img.scalar_type() == at::kHalf && img.device().is_cpu()) {
    // ATen 1.13 has no CPU clamp for float16 (torchvision raises there):
    // clamp in float32, round back to float16.
    img.copy_(img.to(at::kFloat).clamp_(low, high));
  } else {
    img.clamp_(low, high);
  }
  img.sub_(low).div_(std::max(high - low, 1e-5));
}

void norm_range(at::Tensor& t, const std::optional<ValueRange>& range) {
  if (range) {
    norm_ip(t, range->low, range->high);
  } else {
    norm_ip(t, t.min().item<double>(), t.max().item<double>());
  }
}

}  // namespace

void check_grid_input(const torch::Tensor& tensor, const MakeGridOptions& o, const char* what,
                      int sample_bits) {
  if (o.palette()) {
    check_captions(tensor, o, what, sample_bits);
    check_label_input(tensor, o, what);
    TORCH_CHECK_VALUE(sample_bits == 8, what, ": a label map is written with 8-bit indices, not ",
                      sample_bits, "-bit samples");
    return;
  }
  TORCH_CHECK(tensor.defined(), what, ": expected a tensor, got an undefined one");
  check_tensor_kind(tensor, what);
  const auto dtype = tensor.scalar_type();
  if (!(is_float(dtype) || dtype == at::kByte || dtype == at::kBool ||
        (sample_bits == 16 && compat::is_sample16(dtype)))) {
    // Integers a palette takes (uint8 is accepted above) are most often
    // class indices (a segmentation net's argmax): say how to write those.
    const char* labels =
        "class indices: set palette, e.g. palette(\"voc\"), to write them in its colours";
    const bool signed_int = is_label_dtype(dtype);
    std::string hint;
    if (compat::is_sample16(dtype)) {
      hint = c10::str(" (", compat::kSample16Names,
                      " tensors are 16-bit samples: pass bit_depth(16)",
                      signed_int ? c10::str("; for ", labels) : std::string(), ")");
    } else if (signed_int) {
      hint = c10::str(" (integer tensors are ", labels, ")");
    }
    TORCH_CHECK(false, what,
                ": expected a float32, float64, float16, bfloat16, uint8 or bool tensor, got ",
                dtype, hint);
  }
  TORCH_CHECK(tensor.dim() >= 2 && tensor.dim() <= 4, what,
              ": expected a 2-D (H, W), 3-D (C, H, W) or 4-D (B, C, H, W) tensor, got ",
              tensor.dim(), "-D with shape ", tensor.sizes());
  TORCH_CHECK(tensor.numel() > 0, what, ": expected a non-empty tensor, got shape ",
              tensor.sizes());
  TORCH_CHECK(o.nrow() >= 1, what, ": nrow must be at least 1, got ", o.nrow());
  TORCH_CHECK(o.padding() >= 0, what, ": padding must be non-negative, got ", o.padding());
  check_captions(tensor, o, what, sample_bits);
  // value_range only counts with normalize: torchvision ignores it otherwise
  // (whatever it holds), and so does every face of torchimage.
  if (o.value_range() && o.normalize()) {
    const auto& r = *o.value_range();
    TORCH_CHECK(std::isfinite(r.low) && std::isfinite(r.high), what,
                ": value_range must be finite, got (", r.low, ", ", r.high, ")");
    TORCH_CHECK(r.low <= r.high, what, ": value_range must have low <= high, got (", r.low,
                ", ", r.high, ")");
  }
  TORCH_CHECK(!o.normalize() || is_float(dtype), what,
              ": normalize needs a floating-point tensor, got ", dtype,
              " (uint8 and bool tensors are taken as finished pixels)");
  // Values the dtype cannot hold are refused (torchvision raises too).
  const double dtype_max = dtype == at::kHalf       ? 65504.0
                           : dtype == at::kBFloat16 ? 3.3895313892515355e38
                           : dtype == at::kFloat    ? 3.4028234663852886e38
                                                    : std::numeric_limits<double>::max();
  auto representable = [&](double v) { return !std::isfinite(v) || std::abs(v) <= dtype_max; };
  if (o.value_range() && o.normalize()) {
    const auto& r = *o.value_range();
    TORCH_CHECK(representable(r.low) && representable(r.high), what, ": value_range (", r.low,
                ", ", r.high, ") is outside what ", dtype, " can hold");
  }
  const auto& pad = o.pad_value();
  TORCH_CHECK(!pad.empty(), what, ": pad_value must hold one value or one per channel, got none");
  const int64_t in_channels = tensor.dim() == 2 ? 1 : tensor.size(tensor.dim() - 3);
  if (!o.colormap().empty()) {
    colormap_table(o.colormap(), what);
    TORCH_CHECK_VALUE(in_channels == 1, what, ": colormap '", o.colormap(),
                      "' applies to one-channel images, got ", in_channels, " channels (shape ",
                      tensor.sizes(), ")");
    TORCH_CHECK_VALUE(sample_bits == 8, what, ": colormap '", o.colormap(),
                      "' makes 8-bit RGB pixels, not ", sample_bits, "-bit samples");
  }
  // Under a colormap the padding is a gray value, like the pixels it joins.
  const int64_t channels = o.colormap().empty() ? grid_channels(in_channels, o) : 1;
  TORCH_CHECK(pad.size() == 1 || static_cast<int64_t>(pad.size()) == channels, what,
              ": pad_value must hold one value or one per channel (", channels, "), got ",
              pad.size());
  for (double v : pad) {
    TORCH_CHECK(representable(v), what, ": pad_value ", v, " is outside what ", dtype,
                " can hold");
    if (compat::is_sample16(dtype)) {
      TORCH_CHECK(v >= 0 && v <= 65535, what, ": pad_value of a ", dtype,
                  " (16-bit) tensor must be in [0, 65535], got ", v);
    } else if (dtype == at::kByte) {
      TORCH_CHECK(v >= 0 && v <= 255, what,
                  ": pad_value of a uint8 tensor must be in [0, 255], got ", v);
    } else if (dtype == at::kBool) {
      TORCH_CHECK(v == 0 || v == 1, what, ": pad_value of a bool tensor must be 0 or 1, got ", v);
    }
  }
}

namespace {

// This machine's physical memory in bytes (0 when it cannot be told).
double physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0 ? static_cast<double>(pages) * static_cast<double>(page_size)
                                    : 0.0;
}

std::string gigabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
  return text;
}

}  // namespace

void check_output_memory(const GridShape& s, int64_t bytes_per_sample, const char* what,
                         const char* kind) {
  // In double: C * H * W can exceed 2^63 (each side is below 2^40).
  const double bytes = static_cast<double>(s.channels) * static_cast<double>(s.height) *
                       static_cast<double>(s.width) * static_cast<double>(bytes_per_sample);
  static const double memory = physical_memory();
  TORCH_CHECK(memory == 0.0 || bytes <= memory, what, ": the ", s.height, "x", s.width, " ",
              kind, " of ", s.channels, " channel", s.channels == 1 ? "" : "s", " needs ",
              gigabytes(bytes), ", more than this machine's ", gigabytes(memory),
              " of memory (check the tensor's shape, padding and nrow)");
}

GridShape grid_shape(const torch::Tensor& tensor, const MakeGridOptions& o, const char* what) {
  GridShape s;
  const auto sizes = tensor.sizes();
  int64_t b = 1, c = 1, h, w;
  if (tensor.dim() == 2) {
    h = sizes[0], w = sizes[1];
  } else if (tensor.dim() == 3) {
    c = sizes[0], h = sizes[1], w = sizes[2];
  } else {
    b = sizes[0], c = sizes[1], h = sizes[2], w = sizes[3];
  }
  s.channels = grid_channels(c, o);
  // Captions add a strip below each image (a single image too, unpadded).
  const int64_t strip = caption_strip(o);
  if (b == 1) {
    s.height = h + strip, s.width = w;
    s.xmaps = s.ymaps = 1;
    return s;
  }
  s.xmaps = std::min(o.nrow(), b);
  s.ymaps = (b + s.xmaps - 1) / s.xmaps;
  // Overflow-safe: refuse before multiplying past what any format can hold.
  const int64_t limit = int64_t{1} << 40;
  TORCH_CHECK(o.padding() < limit && h < limit && w < limit &&
                  h + o.padding() + strip < limit / s.ymaps && w + o.padding() < limit / s.xmaps,
              what, ": the grid of ", b, " images of ", h, "x", w, " with padding ",
              o.padding(), " is too large");
  s.height = (h + o.padding() + strip) * s.ymaps + o.padding();
  s.width = (w + o.padding()) * s.xmaps + o.padding();
  return s;
}

Layout parse_layout(const std::string& name, const char* what) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "CHW" || upper == "NCHW") return Layout::CHW;
  if (upper == "HWC") return Layout::HWC;
  if (upper == "NHWC") return Layout::NHWC;
  if (upper == "HW") return Layout::HW;
  TORCH_CHECK_VALUE(false, what, ": unknown layout '", name,
                    "' (expected CHW, NCHW, HWC, NHWC or HW)");
  return Layout::CHW;
}

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::CHW: return "CHW";
    case Layout::HWC: return "HWC";
    case Layout::NHWC: return "NHWC";
    case Layout::HW: return "HW";
  }
  return "?";
}

std::vector<std::string> colormaps() { return colormap_names(); }

torch::Tensor apply_layout(const torch::Tensor& tensor, Layout layout, const char* what) {
  if (layout == Layout::CHW || !tensor.defined()) return tensor;
  if (layout == Layout::HW) {
    TORCH_CHECK_VALUE(tensor.dim() == 2 || tensor.dim() == 3, what,
                      ": layout HW expects an (H, W) map or a (B, H, W) batch of maps, got ",
                      tensor.dim(), "-D with shape ", tensor.sizes());
    return tensor.dim() == 3 ? tensor.unsqueeze(1) : tensor;
  }
  TORCH_CHECK_VALUE(tensor.dim() >= 2 && tensor.dim() <= 4, what, ": layout ",
                    layout_name(layout), " expects (H, W, C) or (B, H, W, C) (or (H, W)), got ",
                    tensor.dim(), "-D with shape ", tensor.sizes());
  if (tensor.dim() == 3) return tensor.permute({2, 0, 1});
  if (tensor.dim() == 4) return tensor.permute({0, 3, 1, 2});
  return tensor;
}

std::vector<torch::Tensor> apply_layout(const std::vector<torch::Tensor>& tensors, Layout layout,
                                        const char* what) {
  std::vector<torch::Tensor> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) out.push_back(apply_layout(t, layout, what));
  return out;
}

MakeGridOptions gray_grid_options(const MakeGridOptions& o) {
  MakeGridOptions g = o;
  g.colormap("").grayscale(true);
  g.palette(std::nullopt);
  return g;
}

torch::Tensor make_grid(const torch::Tensor& tensor, const MakeGridOptions& o) {
  const torch::Tensor input = apply_layout(tensor, o.layout(), "make_grid");
  if (o.palette()) {
    check_grid_input(input, o, "make_grid");
    // The colours of the grid of class indices, uint8, on the input's device.
    return palette_colors(label_grid(input, o, "make_grid"), *o.palette())
        .permute({2, 0, 1})
        .contiguous()
        .to(input.device());
  }
  check_grid_input(input, o, "make_grid");
  if (o.colormap().empty()) {
    // Captions: the text's 8-bit pixels over the strips (value / 255 for floats).
    return draw_captions_on_grid(make_grid_impl(input, o, "make_grid"), input,
                                 o, "make_grid");
  }
  // The 8-bit gray grid save_image would write, through the table; floating
  // inputs get entry / 255 (in float32, then their dtype), on their device.
  const torch::Tensor gray = make_grid_impl(input, gray_grid_options(o), "make_grid");
  torch::Tensor colored = apply_colormap(quantize(gray), o.colormap(), "make_grid");
  draw_captions(colored, input, o, "make_grid");
  const torch::Tensor rgb = colored.permute({2, 0, 1}).contiguous();
  const auto dtype = input.scalar_type();
  if (dtype == at::kByte || dtype == at::kBool) return rgb.to(input.device());
  return rgb.to(input.device()).to(at::kFloat).div_(255).to(dtype);
}

torch::Tensor make_grid_impl(const torch::Tensor& input, const MakeGridOptions& o,
                             const char* what) {
  const GridShape shape = grid_shape(input, o, what);
  // A single image without normalize comes back as a view of the input: only
  // a grid, a normalized copy or a gray image made RGB is allocated.
  const int64_t images = input.dim() == 4 ? input.size(0) : 1;
  const int64_t in_channels = input.dim() == 2 ? 1 : input.size(input.dim() - 3);
  if (images > 1 || o.normalize() || in_channels != shape.channels) {
    check_output_memory(shape, static_cast<int64_t>(input.element_size()), what, "grid");
  }
  at::NoGradGuard no_grad;
  // A single image comes back as a view: with its values in its memory.
  at::Tensor tensor = readable(input.detach());

  if (tensor.dim() == 2) tensor = tensor.unsqueeze(0);
  if (tensor.dim() == 3) {
    if (tensor.size(0) == 1 && !o.grayscale()) tensor = at::cat({tensor, tensor, tensor}, 0);
    tensor = tensor.unsqueeze(0);
  }
  if (tensor.dim() == 4 && tensor.size(1) == 1 && !o.grayscale()) {
    tensor = at::cat({tensor, tensor, tensor}, 1);
  }

  if (o.normalize()) {
    tensor = tensor.clone();
    if (o.scale_each()) {
      for (int64_t i = 0; i < tensor.size(0); ++i) {
        at::Tensor t = tensor[i];
        norm_range(t, o.value_range());
      }
    } else {
      norm_range(tensor, o.value_range());
    }
  }

  // Captions make a strip of `strip` rows below each image, filled as the
  // padding is (a single image gets its strip, still without padding).
  const int64_t strip = caption_strip(o);
  if (tensor.size(0) == 1 && strip == 0) return tensor.squeeze(0);

  const int64_t nmaps = tensor.size(0);
  const int64_t num_channels = tensor.size(1);
  const auto& pad = o.pad_value();
  TORCH_CHECK(pad.size() == 1 || static_cast<int64_t>(pad.size()) == num_channels,
              "make_grid: pad_value must hold one value or one per channel (", num_channels,
              "), got ", pad.size());
  const int64_t padding = nmaps > 1 ? o.padding() : 0;
  const int64_t height = tensor.size(2) + padding + strip;
  const int64_t width = tensor.size(3) + padding;
  at::Tensor grid;
  if (pad.size() == 1) {
    grid = at::full({num_channels, shape.height, shape.width}, pad[0], tensor.options());
  } else {
    grid = at::empty({num_channels, shape.height, shape.width}, tensor.options());
    for (int64_t ch = 0; ch < num_channels; ++ch) grid[ch].fill_(pad[ch]);
  }
  int64_t k = 0;
  for (int64_t y = 0; y < shape.ymaps; ++y) {
    for (int64_t x = 0; x < shape.xmaps; ++x) {
      if (k >= nmaps) break;
      grid.narrow(1, y * height + padding, tensor.size(2))
          .narrow(2, x * width + padding, tensor.size(3))
          .copy_(tensor[k]);
      ++k;
    }
  }
  return grid;
}

torch::Tensor make_grid(const std::vector<torch::Tensor>& tensors, const MakeGridOptions& o) {
  return make_grid(stack_images(tensors, "make_grid"), o);
}

torch::Tensor stack_images(const std::vector<torch::Tensor>& tensors, const char* what) {
  TORCH_CHECK(!tensors.empty(), what, ": expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    TORCH_CHECK(tensors[i].defined(), what, ": tensor ", i, " of the list is undefined");
    check_tensor_kind(tensors[i], what);
    TORCH_CHECK(tensors[i].sizes() == tensors[0].sizes(), what,
                ": all tensors of the list must have one shape; tensor 0 has ",
                tensors[0].sizes(), ", tensor ", i, " has ", tensors[i].sizes());
    TORCH_CHECK(tensors[i].scalar_type() == tensors[0].scalar_type(), what,
                ": all tensors of the list must have one dtype; tensor 0 is ",
                tensors[0].scalar_type(), ", tensor ", i, " is ", tensors[i].scalar_type());
    TORCH_CHECK(tensors[i].device() == tensors[0].device(), what,
                ": all tensors of the list must be on one device; tensor 0 is on ",
                tensors[0].device(), ", tensor ", i, " on ", tensors[i].device());
  }
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> detached;
  detached.reserve(tensors.size());
  for (const auto& t : tensors) detached.push_back(t.detach());
  return at::stack(detached, 0);
}

}  // namespace torchimage
