// One pass from a float batch to the padded uint8 HWC grid.
//
// Exactness: torchvision computes, each op rounded in the tensor's dtype,
//   normalize:  v = clamp(x, low, high); v = v - low; v = v / max(high - low, 1e-5)
//   quantize:   q = clamp(v * 255 + 0.5, 0, 255) truncated to uint8
// with low, high and the divisor converted from Python floats (double) to the
// dtype. This file is compiled with -ffp-contract=off (see CMakeLists.txt), so
// each expression below is one IEEE operation, as ATen's CPU kernels are;
// test_quantize proves bit-identity against the ATen op sequence.
#include "fused_quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "cpu_dispatch.h"
#include "grid_shape.h"

namespace torchimage {
namespace {

template <typename T>
struct Affine {
  bool normalize = false;
  T low = 0, high = 0, divisor = 1;
};

template <typename T>
TORCHIMAGE_INLINE uint8_t quantize_value(T v, bool normalize, T low, T high, T divisor) {
  if (normalize) {
    v = v < low ? low : v;  // NaN stays NaN, as in ATen's clamp
    v = v > high ? high : v;
    v = v - low;
    v = v / divisor;
  }
  T r = v * T(255);
  r = r + T(0.5);
  r = r > T(0) ? r : T(0);  // also NaN -> 0
  r = r < T(255) ? r : T(255);
  return static_cast<uint8_t>(static_cast<int>(r));
}

template <typename T>
TORCHIMAGE_INLINE uint8_t quantize_value(T v, const Affine<T>& a) {
  return quantize_value(v, a.normalize, a.low, a.high, a.divisor);
}

// n values at src (element stride `stride`) to n bytes; the contiguous,
// branch-free loop vectorizes.
template <typename T, bool Normalize>
TORCHIMAGE_INLINE void span(const T* src, int64_t stride, int64_t n, uint8_t* dst, T low, T high,
                            T divisor) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) dst[i] = quantize_value(src[i], Normalize, low, high, divisor);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = quantize_value(src[i * stride], Normalize, low, high, divisor);
    }
  }
}

TORCHIMAGE_CLONES void span_f32(const float* src, int64_t stride, int64_t n, uint8_t* dst,
                                const Affine<float>& a) {
  if (a.normalize) return span<float, true>(src, stride, n, dst, a.low, a.high, a.divisor);
  span<float, false>(src, stride, n, dst, a.low, a.high, a.divisor);
}

TORCHIMAGE_CLONES void span_f64(const double* src, int64_t stride, int64_t n, uint8_t* dst,
                                const Affine<double>& a) {
  if (a.normalize) return span<double, true>(src, stride, n, dst, a.low, a.high, a.divisor);
  span<double, false>(src, stride, n, dst, a.low, a.high, a.divisor);
}

inline void quantize_span(const float* src, int64_t stride, int64_t n, uint8_t* dst,
                          const Affine<float>& a) {
  span_f32(src, stride, n, dst, a);
}
inline void quantize_span(const double* src, int64_t stride, int64_t n, uint8_t* dst,
                          const Affine<double>& a) {
  span_f64(src, stride, n, dst, a);
}

// One image row: each channel quantized into `planes` (contiguous), then
// interleaved into pixels.
template <typename T>
void quantize_row(const T* const* src, int channels, int64_t stride_w, int64_t width,
                  uint8_t* planes, uint8_t* dst, const Affine<T>& a) {
  for (int c = 0; c < channels; ++c) quantize_span(src[c], stride_w, width, planes + c * width, a);
  switch (channels) {
    case 1:
      std::memcpy(dst, planes, static_cast<size_t>(width));
      break;
    case 2:
      for (int64_t w = 0; w < width; ++w) {
        dst[2 * w] = planes[w], dst[2 * w + 1] = planes[width + w];
      }
      break;
    case 3:
      for (int64_t w = 0; w < width; ++w) {
        dst[3 * w] = planes[w], dst[3 * w + 1] = planes[width + w];
        dst[3 * w + 2] = planes[2 * width + w];
      }
      break;
    default:
      for (int64_t w = 0; w < width; ++w) {
        dst[4 * w] = planes[w], dst[4 * w + 1] = planes[width + w];
        dst[4 * w + 2] = planes[2 * width + w], dst[4 * w + 3] = planes[3 * width + w];
      }
      break;
  }
}

template <typename T>
Affine<T> affine_for(bool normalize, double low, double high) {
  Affine<T> a;
  a.normalize = normalize;
  if (normalize) {
    a.low = static_cast<T>(low);
    a.high = static_cast<T>(high);
    a.divisor = static_cast<T>(std::max(high - low, 1e-5));
  }
  return a;
}

template <typename T>
torch::Tensor fused(const at::Tensor& x4, const MakeGridOptions& o, const GridShape& shape,
                    const std::vector<std::pair<double, double>>& ranges) {
  const int64_t batch = x4.size(0), in_channels = x4.size(1);
  const int64_t height = x4.size(2), width = x4.size(3);
  const int64_t channels = shape.channels;
  const int64_t padding = batch == 1 ? 0 : o.padding();

  at::Tensor out = at::empty({shape.height, shape.width, channels}, at::kByte);
  uint8_t* base = out.data_ptr<uint8_t>();
  const int64_t out_row = shape.width * channels;

  if (batch > 1) {
    // The grid is filled with pad_value after normalization, then quantized.
    uint8_t pad[4];
    const Affine<T> plain;
    const auto& pv = o.pad_value();
    for (int64_t c = 0; c < channels; ++c) {
      pad[c] = quantize_value(static_cast<T>(pv.size() == 1 ? pv[0] : pv[c]), plain);
    }
    bool uniform = true;
    for (int64_t c = 1; c < channels; ++c) uniform = uniform && pad[c] == pad[0];
    if (uniform) {
      std::memset(base, pad[0], static_cast<size_t>(out.numel()));
    } else {
      for (int64_t i = 0; i < shape.width; ++i) std::memcpy(base + i * channels, pad, channels);
      for (int64_t y = 1; y < shape.height; ++y) std::memcpy(base + y * out_row, base, out_row);
    }
  }

  std::vector<uint8_t> scratch(static_cast<size_t>(width * channels));
  const T* data = x4.data_ptr<T>();
  const auto st = x4.strides();
  for (int64_t k = 0; k < batch; ++k) {
    const int64_t top = (k / shape.xmaps) * (height + padding) + padding;
    const int64_t left = (k % shape.xmaps) * (width + padding) + padding;
    const auto& r = ranges[ranges.size() == 1 ? 0 : k];
    const Affine<T> a = affine_for<T>(o.normalize(), r.first, r.second);
    for (int64_t h = 0; h < height; ++h) {
      const T* planes[4];
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t src_c = in_channels == 1 ? 0 : c;
        planes[c] = data + k * st[0] + src_c * st[1] + h * st[2];
      }
      quantize_row<T>(planes, static_cast<int>(channels), st[3], width, scratch.data(),
                      base + (top + h) * out_row + left * channels, a);
    }
  }
  return out;
}

}  // namespace

torch::Tensor fused_grid_pixels(const torch::Tensor& input, const MakeGridOptions& o) {
  const auto dtype = input.scalar_type();
  if (!input.device().is_cpu() || (dtype != at::kFloat && dtype != at::kDouble)) return {};
  at::NoGradGuard no_grad;
  at::Tensor x = input.detach();
  while (x.dim() < 4) x = x.unsqueeze(0);
  const GridShape shape = grid_shape(input, o);
  const int64_t batch = x.size(0);
  if (shape.channels > 4) return {};
  const int64_t pads = static_cast<int64_t>(o.pad_value().size());
  TORCH_CHECK(batch == 1 || pads == 1 || pads == shape.channels,
              "make_grid: pad_value must hold one value or one per channel (", shape.channels,
              "), got ", pads);

  // (low, high) for the whole batch, or per image with scale_each.
  std::vector<std::pair<double, double>> ranges;
  if (!o.normalize()) {
    ranges.emplace_back(0.0, 0.0);
  } else if (o.value_range()) {
    ranges.emplace_back(o.value_range()->low, o.value_range()->high);
  } else if (o.scale_each() && batch > 1) {
    const at::Tensor flat = x.reshape({batch, -1});
    const at::Tensor lo = flat.amin(1).to(at::kDouble), hi = flat.amax(1).to(at::kDouble);
    for (int64_t k = 0; k < batch; ++k) {
      ranges.emplace_back(lo[k].item<double>(), hi[k].item<double>());
    }
  } else {
    ranges.emplace_back(x.min().item<double>(), x.max().item<double>());
  }
  for (const auto& r : ranges) {
    // ATen's scalar and vector clamps disagree on NaN bounds: leave that
    // corner to the reference path, which is torchvision's by construction.
    if (std::isnan(r.first) || std::isnan(r.second)) return {};
  }
  return dtype == at::kFloat ? fused<float>(x, o, shape, ranges)
                             : fused<double>(x, o, shape, ranges);
}

}  // namespace torchimage
