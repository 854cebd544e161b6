// One pass from a float batch to the padded uint8 HWC grid.
//
// Exactness: torchvision computes, each op rounded in the tensor's dtype,
//   normalize:  v = clamp(x, low, high); v = v - low; v = v / max(high - low, 1e-5)
//   quantize:   q = clamp(v * 255 + 0.5, 0, 255) truncated to uint8
// with low, high and the divisor converted from Python floats (double) to the
// dtype. This file is compiled with -ffp-contract=off (see CMakeLists.txt), so
// each expression below is one IEEE operation, as ATen's CPU kernels are;
// test_quantize proves bit-identity against the ATen op sequence.
#include "grid/fused_quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "core/cpu_dispatch.h"
#include "core/parallel_parts.h"
#include "core/prepare.h"

#ifdef TORCHIMAGE_X86_INTRINSICS
#include <immintrin.h>
#endif

#include "grid/grid_shape.h"

namespace torchimage {
namespace {

template <typename T>
struct Affine {
  bool normalize = false;
  T low = 0, high = 0, divisor = 1;
  // When the divisor is a power of two (the ranges (-1, 1) and (0, 1)),
  // v / divisor and v * (1 / divisor) are the same correctly rounded value
  // of the same real number, for every v (subnormal results, NaN and Inf
  // included): the multiplication replaces a division that costs 5-10 times
  // more (vdivps), with identical bits.
  bool power_of_two = false;
  T inverse = 1;
};

// How the normalized value is scaled: no normalization, a division, or the
// exact multiplication of a power-of-two divisor.
enum class Scale { None, Divide, Multiply };

template <typename T, Scale S>
TORCHIMAGE_INLINE uint8_t quantize_value(T v, T low, T high, T divisor) {
  if (S != Scale::None) {
    v = v < low ? low : v;  // NaN stays NaN, as in ATen's clamp
    v = v > high ? high : v;
    v = v - low;
    v = S == Scale::Divide ? v / divisor : v * divisor;  // divisor: 1/divisor for Multiply
  }
  T r = v * T(255);
  r = r + T(0.5);
  r = r > T(0) ? r : T(0);  // also NaN -> 0
  r = r < T(255) ? r : T(255);
  return static_cast<uint8_t>(static_cast<int>(r));
}

template <typename T>
TORCHIMAGE_INLINE uint8_t quantize_value(T v, const Affine<T>& a) {
  if (!a.normalize) return quantize_value<T, Scale::None>(v, a.low, a.high, a.divisor);
  if (a.power_of_two) return quantize_value<T, Scale::Multiply>(v, a.low, a.high, a.inverse);
  return quantize_value<T, Scale::Divide>(v, a.low, a.high, a.divisor);
}

// n values at src (element stride `stride`) to n bytes; the contiguous,
// branch-free loop vectorizes.
template <typename T, Scale S>
TORCHIMAGE_INLINE void span(const T* src, int64_t stride, int64_t n, uint8_t* dst, T low, T high,
                            T divisor) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) dst[i] = quantize_value<T, S>(src[i], low, high, divisor);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = quantize_value<T, S>(src[i * stride], low, high, divisor);
    }
  }
}

template <typename T>
TORCHIMAGE_INLINE void span_any(const T* src, int64_t stride, int64_t n, uint8_t* dst,
                                const Affine<T>& a) {
  if (!a.normalize) return span<T, Scale::None>(src, stride, n, dst, a.low, a.high, a.divisor);
  if (a.power_of_two) {
    return span<T, Scale::Multiply>(src, stride, n, dst, a.low, a.high, a.inverse);
  }
  span<T, Scale::Divide>(src, stride, n, dst, a.low, a.high, a.divisor);
}

#ifdef TORCHIMAGE_X86_INTRINSICS
// Contiguous float32 with AVX2, each step the IEEE operation the scalar
// quantize_value does, in the same order (no FMA). The clamps map exactly
// onto vmaxps/vminps, which return their second operand when either is NaN:
//   max(low, v)  = low > v ? low : v    (v < low ? low : v; NaN stays)
//   min(high, v) = high < v ? high : v  (v > high ? high : v; NaN stays)
//   max(r, 0)    = r > 0 ? r : 0        (NaN -> 0)
//   min(r, 255)  = r < 255 ? r : 255
// GCC's auto-vectorized loop compiles the last two to compares and blends,
// and spills: the whole fused pass of the 64-sheet took 0.6 ms with it and
// 0.43 ms with this (bench_png snapshot_fused/sheet64).
//
// 8 values -> 8 int32 in [0, 255].
template <Scale S>
__attribute__((target("avx2"), always_inline)) inline __m256i quantize8_avx2(
    const float* p, __m256 vlow, __m256 vhigh, __m256 vdiv) {
  const __m256 k255 = _mm256_set1_ps(255.0f), khalf = _mm256_set1_ps(0.5f);
  __m256 v = _mm256_loadu_ps(p);
  if (S != Scale::None) {
    v = _mm256_max_ps(vlow, v);
    v = _mm256_min_ps(vhigh, v);
    v = _mm256_sub_ps(v, vlow);
    v = S == Scale::Divide ? _mm256_div_ps(v, vdiv) : _mm256_mul_ps(v, vdiv);
  }
  __m256 r = _mm256_mul_ps(v, k255);
  r = _mm256_add_ps(r, khalf);
  r = _mm256_max_ps(r, _mm256_setzero_ps());
  r = _mm256_min_ps(r, k255);
  return _mm256_cvttps_epi32(r);
}

template <Scale S>
__attribute__((target("avx2"))) void span_f32_avx2(const float* src, int64_t n, uint8_t* dst,
                                                   float low, float high, float divisor) {
  const __m256 vlow = _mm256_set1_ps(low), vhigh = _mm256_set1_ps(high);
  const __m256 vdiv = _mm256_set1_ps(divisor);
  // The packs work within 128-bit lanes: after them the dwords hold
  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7; the permute puts them in order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i ab = _mm256_packus_epi32(quantize8_avx2<S>(src + i, vlow, vhigh, vdiv),
                                           quantize8_avx2<S>(src + i + 8, vlow, vhigh, vdiv));
    const __m256i cd = _mm256_packus_epi32(quantize8_avx2<S>(src + i + 16, vlow, vhigh, vdiv),
                                           quantize8_avx2<S>(src + i + 24, vlow, vhigh, vdiv));
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), bytes);
  }
  for (; i < n; ++i) dst[i] = quantize_value<float, S>(src[i], low, high, divisor);
}
#endif

TORCHIMAGE_CLONES void span_f32_generic(const float* src, int64_t stride, int64_t n, uint8_t* dst,
                                        const Affine<float>& a) {
  span_any(src, stride, n, dst, a);
}

void span_f32(const float* src, int64_t stride, int64_t n, uint8_t* dst, const Affine<float>& a) {
#ifdef TORCHIMAGE_X86_INTRINSICS
  if (stride == 1 && cpu_has_avx2()) {
    if (!a.normalize) return span_f32_avx2<Scale::None>(src, n, dst, a.low, a.high, a.divisor);
    if (a.power_of_two) {
      return span_f32_avx2<Scale::Multiply>(src, n, dst, a.low, a.high, a.inverse);
    }
    return span_f32_avx2<Scale::Divide>(src, n, dst, a.low, a.high, a.divisor);
  }
#endif
  span_f32_generic(src, stride, n, dst, a);
}

TORCHIMAGE_CLONES void span_f64(const double* src, int64_t stride, int64_t n, uint8_t* dst,
                                const Affine<double>& a) {
  span_any(src, stride, n, dst, a);
}

inline void quantize_span(const float* src, int64_t stride, int64_t n, uint8_t* dst,
                          const Affine<float>& a) {
  span_f32(src, stride, n, dst, a);
}
inline void quantize_span(const double* src, int64_t stride, int64_t n, uint8_t* dst,
                          const Affine<double>& a) {
  span_f64(src, stride, n, dst, a);
}

// Three planes of n bytes to n RGB pixels. Where the CPU has SSSE3 (every
// x86-64 CPU since 2006, but not the x86-64 baseline, hence the check),
// 16 pixels at a time with byte shuffles: the scalar loop moves one byte a
// cycle and was a fifth of the fused pass on the 64-sheet.
void interleave3_scalar(const uint8_t* r, const uint8_t* g, const uint8_t* b, int64_t n,
                        uint8_t* dst) {
  for (int64_t w = 0; w < n; ++w) dst[3 * w] = r[w], dst[3 * w + 1] = g[w], dst[3 * w + 2] = b[w];
}

#ifdef TORCHIMAGE_X86_INTRINSICS
// masks[k][c][j]: output byte 16k + j takes byte (16k + j) / 3 of channel c
// when (16k + j) % 3 == c, else zero (0x80).
// Constant-initialized (constexpr): code that runs from another static
// initializer may use it before dynamic initialization would have reached it.
struct Interleave3Masks {
  alignas(16) uint8_t m[3][3][16] = {};
  constexpr Interleave3Masks() {
    for (int k = 0; k < 3; ++k) {
      for (int c = 0; c < 3; ++c) {
        for (int j = 0; j < 16; ++j) {
          const int at = 16 * k + j;
          m[k][c][j] = at % 3 == c ? static_cast<uint8_t>(at / 3) : 0x80;
        }
      }
    }
  }
};
constexpr Interleave3Masks kInterleave3{};

__attribute__((target("ssse3"))) void interleave3_ssse3(const uint8_t* r, const uint8_t* g,
                                                        const uint8_t* b, int64_t n,
                                                        uint8_t* dst) {
  int64_t w = 0;
  for (; w + 16 <= n; w += 16) {
    const __m128i planes[3] = {_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + w)),
                               _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + w)),
                               _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + w))};
    for (int k = 0; k < 3; ++k) {
      __m128i out = _mm_setzero_si128();
      for (int c = 0; c < 3; ++c) {
        const __m128i mask =
            _mm_load_si128(reinterpret_cast<const __m128i*>(kInterleave3.m[k][c]));
        out = _mm_or_si128(out, _mm_shuffle_epi8(planes[c], mask));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * w + 16 * k), out);
    }
  }
  interleave3_scalar(r + w, g + w, b + w, n - w, dst + 3 * w);
}

inline void interleave3(const uint8_t* r, const uint8_t* g, const uint8_t* b, int64_t n,
                        uint8_t* dst) {
  if (cpu_has_ssse3()) return interleave3_ssse3(r, g, b, n, dst);
  interleave3_scalar(r, g, b, n, dst);
}
#else
inline void interleave3(const uint8_t* r, const uint8_t* g, const uint8_t* b, int64_t n,
                        uint8_t* dst) {
  interleave3_scalar(r, g, b, n, dst);
}
#endif

// One row of pixels from its channels' quantized bytes.
void interleave_row(const uint8_t* const* planes, int channels, int64_t width, uint8_t* dst) {
  switch (channels) {
    case 1:
      std::memcpy(dst, planes[0], static_cast<size_t>(width));
      break;
    case 2:
      for (int64_t w = 0; w < width; ++w) dst[2 * w] = planes[0][w], dst[2 * w + 1] = planes[1][w];
      break;
    case 3:
      interleave3(planes[0], planes[1], planes[2], width, dst);
      break;
    default:
      for (int64_t w = 0; w < width; ++w) {
        dst[4 * w] = planes[0][w], dst[4 * w + 1] = planes[1][w];
        dst[4 * w + 2] = planes[2][w], dst[4 * w + 3] = planes[3][w];
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
    int exponent = 0;
    const T mantissa = std::frexp(a.divisor, &exponent);
    // 2^(exponent-1), with its inverse a normal number of T.
    a.power_of_two = mantissa == T(0.5) &&
                     std::abs(exponent - 1) < std::numeric_limits<T>::max_exponent - 2;
    if (a.power_of_two) a.inverse = T(1) / a.divisor;
  }
  return a;
}

// One (C, H, W) image at `src` (strides st[1..3]) quantized into the HWC
// rows at `dst` (out_row bytes apart), `channels` of them (a one-channel
// image repeated where channels is 3). A band of rows at a time, each channel
// into its plane of `scratch`, then interleaved row by row. Where an image's
// rows are contiguous in memory (the usual layout) a channel's band is one
// span: per-row calls on 64-pixel rows cost more in setup than in work.
template <typename T>
void quantize_image(const T* src0, const int64_t* st, int64_t in_channels, int64_t channels,
                    int64_t height, int64_t width, const Affine<T>& a, uint8_t* dst,
                    int64_t out_row, std::vector<uint8_t>& scratch) {
  const bool plane_contiguous = st[3] == 1 && st[2] == width;
  const int64_t band = std::max<int64_t>(1, std::min<int64_t>(height, (int64_t{16} << 10) / width));
  scratch.resize(static_cast<size_t>(band * width * channels));
  for (int64_t h0 = 0; h0 < height; h0 += band) {
    const int64_t rows = std::min(band, height - h0);
    for (int64_t c = 0; c < channels; ++c) {
      const T* src = src0 + (in_channels == 1 ? 0 : c) * st[1] + h0 * st[2];
      uint8_t* plane = scratch.data() + c * band * width;
      if (plane_contiguous) {
        quantize_span(src, 1, rows * width, plane, a);
      } else {
        for (int64_t h = 0; h < rows; ++h) {
          quantize_span(src + h * st[2], st[3], width, plane + h * width, a);
        }
      }
    }
    for (int64_t h = 0; h < rows; ++h) {
      const uint8_t* planes[4];
      for (int64_t c = 0; c < channels; ++c) planes[c] = scratch.data() + (c * band + h) * width;
      interleave_row(planes, static_cast<int>(channels), width, dst + (h0 + h) * out_row);
    }
  }
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

  const T* data = x4.data_ptr<T>();
  const auto st = x4.strides();
  // Samples [k0, k1) into their cells of the grid.
  auto quantize_samples = [&](int64_t k0, int64_t k1) {
    std::vector<uint8_t> scratch;
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t top = (k / shape.xmaps) * (height + padding) + padding;
      const int64_t left = (k % shape.xmaps) * (width + padding) + padding;
      const auto& r = ranges[ranges.size() == 1 ? 0 : k];
      quantize_image(data + k * st[0], st.data(), in_channels, channels, height, width,
                     affine_for<T>(o.normalize(), r.first, r.second),
                     base + top * out_row + left * channels, out_row, scratch);
    }
  };
  // A sheet of 512 KiB of pixels and more (a 64-sample sheet of 64x64 RGB
  // samples is 825 KiB: 0.2-0.4 ms here): half of the samples on each of two
  // threads (run_parts: this one and the helper, or one after the other
  // where the encoder keeps to one thread). The cells do not overlap.
  // Smaller sheets stay on one thread: at 225 KiB (64 samples of 32x32) the
  // helper's wake-up and the wait for it cost about what they save.
  const int parts = batch > 1 && out.numel() >= (int64_t{512} << 10) ? 2 : 1;
  run_parts(parts, [&](int p) { quantize_samples(batch * p / parts, batch * (p + 1) / parts); });
  return out;
}

}  // namespace

torch::Tensor fused_grid_pixels(const torch::Tensor& input, const MakeGridOptions& o) {
  const auto dtype = input.scalar_type();
  // The pass reads raw memory: a negative or conjugate view's holds other
  // values (readable() resolves it first).
  if (!input.device().is_cpu() || (dtype != at::kFloat && dtype != at::kDouble) ||
      !memory_is_values(input)) {
    return {};
  }
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

bool SampleQuantizer::applies(const torch::Tensor& batch, const MakeGridOptions& o) {
  const auto dtype = batch.scalar_type();
  if (!batch.device().is_cpu() || (dtype != at::kFloat && dtype != at::kDouble) ||
      batch.dim() != 4 || batch.size(0) < 1 || !memory_is_values(batch)) {
    return false;
  }
  if (grid_channels(batch.size(1), o) > 4) return false;
  if (!o.normalize()) return true;
  // Normalization over the data's own min and max needs a pass over it:
  // that case keeps fused_grid_pixels (NaN bounds too, as there).
  return o.value_range() && !std::isnan(o.value_range()->low) &&
         !std::isnan(o.value_range()->high);
}

SampleQuantizer::SampleQuantizer(const torch::Tensor& batch, const MakeGridOptions& o)
    : data_(batch.data_ptr()),
      is_double_(batch.scalar_type() == at::kDouble),
      in_channels_(batch.size(1)),
      height_(batch.size(2)),
      width_(batch.size(3)),
      channels_(grid_channels(batch.size(1), o)),
      normalize_(o.normalize()) {
  TORCH_CHECK(applies(batch, o), "SampleQuantizer: not applicable to this batch");
  for (int d = 0; d < 4; ++d) strides_[d] = batch.stride(d);
  if (normalize_) low_ = o.value_range()->low, high_ = o.value_range()->high;
}

void SampleQuantizer::pixels(int64_t i, uint8_t* out, std::vector<uint8_t>& scratch) const {
  const int64_t out_row = width_ * channels_;
  if (is_double_) {
    quantize_image(static_cast<const double*>(data_) + i * strides_[0], strides_, in_channels_,
                   channels_, height_, width_, affine_for<double>(normalize_, low_, high_), out,
                   out_row, scratch);
  } else {
    quantize_image(static_cast<const float*>(data_) + i * strides_[0], strides_, in_channels_,
                   channels_, height_, width_, affine_for<float>(normalize_, low_, high_), out,
                   out_row, scratch);
  }
}

}  // namespace torchimage
