// PNG filters. The loops are written so that the compiler vectorizes them
// (no carried dependency: encoding reads only raw bytes), and each hot
// function is cloned for AVX2 with a runtime CPU check (target_clones), so
// the library still runs where AVX2 is missing.
#include "codecs/png/png_filter.h"

#include <cstdlib>
#include <cstring>

#include "core/cpu_dispatch.h"

#ifdef TORCHIMAGE_X86_INTRINSICS
#include <immintrin.h>
#endif

namespace torchimage {
namespace filters {

static TORCHIMAGE_CLONES
void sub_clones(const uint8_t* cur, size_t n, size_t bpp, uint8_t* out) {
  const size_t head = bpp < n ? bpp : n;
  for (size_t i = 0; i < head; ++i) out[i] = cur[i];
  for (size_t i = head; i < n; ++i) out[i] = static_cast<uint8_t>(cur[i] - cur[i - bpp]);
}

static TORCHIMAGE_CLONES
void up_clones(const uint8_t* cur, const uint8_t* prev, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(cur[i] - prev[i]);
}

static TORCHIMAGE_CLONES
void paeth_clones(const uint8_t* cur, const uint8_t* prev, size_t n, size_t bpp, uint8_t* out) {
  const size_t head = bpp < n ? bpp : n;
  // With a = c = 0 the predictor is b: Up.
  for (size_t i = 0; i < head; ++i) out[i] = static_cast<uint8_t>(cur[i] - prev[i]);
  for (size_t i = head; i < n; ++i) {
    const int16_t a = cur[i - bpp], b = prev[i], c = prev[i - bpp];
    const int16_t pa = static_cast<int16_t>(std::abs(b - c));
    const int16_t pb = static_cast<int16_t>(std::abs(a - c));
    const int16_t pc = static_cast<int16_t>(std::abs(a + b - 2 * c));
    const int16_t pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
    out[i] = static_cast<uint8_t>(cur[i] - pred);
  }
}

static TORCHIMAGE_CLONES
uint64_t cost_clones(const uint8_t* data, size_t n) {
  uint64_t total = 0;
  // Blocks of 2^16 bytes keep the 32-bit partial sums from overflowing.
  for (size_t start = 0; start < n; start += 65536) {
    const size_t end = n - start < 65536 ? n : start + 65536;
    uint32_t s = 0;
    for (size_t i = start; i < end; ++i) {
      const uint8_t v = data[i];
      const uint8_t neg = static_cast<uint8_t>(-v);
      s += v < neg ? v : neg;  // |signed v|: v for v < 128, 256 - v above
    }
    total += s;
  }
  return total;
}

#ifdef TORCHIMAGE_X86_INTRINSICS
namespace {

// |signed byte| of each byte: min(v, 256 - v).
inline __m128i signed_magnitude(__m128i v) {
  return _mm_min_epu8(v, _mm_sub_epi8(_mm_setzero_si128(), v));
}

// The candidates of the 16 bytes at i (i >= bpp): stores Up, Sub and Paeth,
// and returns the four costs' bytes in `costs` (None, Up, Sub, Paeth). The
// Paeth predictor is computed in 16-bit lanes, as the scalar loop does.
__attribute__((target("avx2"), always_inline)) inline void candidates16(
    const uint8_t* cur, const uint8_t* prev, size_t i, size_t bpp, uint8_t* up, uint8_t* sub,
    uint8_t* paeth, __m128i costs[4]) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cur + i));
  const __m128i a8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cur + i - bpp));
  const __m128i b8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(prev + i));
  const __m128i c8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(prev + i - bpp));
  const __m256i a = _mm256_cvtepu8_epi16(a8), b = _mm256_cvtepu8_epi16(b8);
  const __m256i c = _mm256_cvtepu8_epi16(c8);
  const __m256i bc = _mm256_sub_epi16(b, c), ac = _mm256_sub_epi16(a, c);
  const __m256i pa = _mm256_abs_epi16(bc), pb = _mm256_abs_epi16(ac);
  const __m256i pc = _mm256_abs_epi16(_mm256_add_epi16(bc, ac));
  // (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
  const __m256i b_or_c = _mm256_blendv_epi8(b, c, _mm256_cmpgt_epi16(pb, pc));
  const __m256i not_a = _mm256_or_si256(_mm256_cmpgt_epi16(pa, pb), _mm256_cmpgt_epi16(pa, pc));
  const __m256i pred16 = _mm256_blendv_epi8(a, b_or_c, not_a);
  // 16 words in [0, 255] to 16 bytes (the pack works per 128-bit lane).
  const __m256i packed = _mm256_packus_epi16(pred16, pred16);
  const __m128i pred = _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
  const __m128i u = _mm_sub_epi8(x, b8), sb = _mm_sub_epi8(x, a8), p = _mm_sub_epi8(x, pred);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(up + i), u);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(sub + i), sb);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(paeth + i), p);
  costs[0] = signed_magnitude(x), costs[1] = signed_magnitude(u);
  costs[2] = signed_magnitude(sb), costs[3] = signed_magnitude(p);
}

// Bytes [start, end) of the candidates (start >= bpp, end - start >= 16)
// with AVX2, 16 at a time, and the last 16 again where the bytes do not
// divide by 16 (the stores repeat the same values; only the new bytes are
// counted). Each cost is summed by vpsadbw against zero: the same integer
// sum the scalar loop makes.
__attribute__((target("avx2"))) void pillow_candidates_avx2(const uint8_t* cur,
                                                            const uint8_t* prev, size_t start,
                                                            size_t end, size_t bpp, uint8_t* up,
                                                            uint8_t* sub, uint8_t* paeth,
                                                            uint64_t sums[4]) {
  const __m128i zero = _mm_setzero_si128();
  __m128i acc[4] = {zero, zero, zero, zero};
  __m128i costs[4];
  size_t i = start;
  for (; i + 16 <= end; i += 16) {
    candidates16(cur, prev, i, bpp, up, sub, paeth, costs);
    for (int k = 0; k < 4; ++k) acc[k] = _mm_add_epi64(acc[k], _mm_sad_epu8(costs[k], zero));
  }
  if (i < end) {
    // kTail + n: the last n of 16 bytes set.
    alignas(16) static const uint8_t kTail[32] = {0,    0,    0,    0,    0,    0,    0,    0,
                                                  0,    0,    0,    0,    0,    0,    0,    0,
                                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const __m128i keep = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kTail + (end - i)));
    candidates16(cur, prev, end - 16, bpp, up, sub, paeth, costs);
    for (int k = 0; k < 4; ++k) {
      acc[k] = _mm_add_epi64(acc[k], _mm_sad_epu8(_mm_and_si128(costs[k], keep), zero));
    }
  }
  for (int k = 0; k < 4; ++k) {
    sums[k] += static_cast<uint64_t>(_mm_cvtsi128_si64(acc[k])) +
               static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc[k], acc[k])));
  }
}

}  // namespace
#endif

static TORCHIMAGE_CLONES
void pillow_candidates_clones(const uint8_t* __restrict cur, const uint8_t* __restrict prev,
                              size_t n, size_t bpp, uint8_t* __restrict up,
                              uint8_t* __restrict sub, uint8_t* __restrict paeth,
                              uint64_t sums[4]) {
  auto c8 = [](uint8_t v) -> uint32_t {
    const uint8_t neg = static_cast<uint8_t>(-v);
    return v < neg ? v : neg;
  };
  uint64_t s_none = 0, s_up = 0, s_sub = 0, s_paeth = 0;
  const size_t head = bpp < n ? bpp : n;
  for (size_t i = 0; i < head; ++i) {
    const uint8_t u = static_cast<uint8_t>(cur[i] - prev[i]);
    up[i] = u, sub[i] = cur[i], paeth[i] = u;
    s_none += c8(cur[i]), s_up += c8(u), s_sub += c8(cur[i]), s_paeth += c8(u);
  }
  size_t first = head;
#ifdef TORCHIMAGE_X86_INTRINSICS
  if (cpu_has_avx2() && n >= head + 16) {
    uint64_t simd[4] = {0, 0, 0, 0};
    pillow_candidates_avx2(cur, prev, head, n, bpp, up, sub, paeth, simd);
    s_none += simd[0], s_up += simd[1], s_sub += simd[2], s_paeth += simd[3];
    first = n;
  }
#endif
  // Blocks of 2^16 bytes keep the 32-bit partial sums from overflowing.
  for (size_t start = first; start < n; start += 65536) {
    const size_t end = n - start < 65536 ? n : start + 65536;
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = start; i < end; ++i) {
      const int16_t a = cur[i - bpp], b = prev[i], c = prev[i - bpp];
      const int16_t pa = static_cast<int16_t>(std::abs(b - c));
      const int16_t pb = static_cast<int16_t>(std::abs(a - c));
      const int16_t pc = static_cast<int16_t>(std::abs(a + b - 2 * c));
      const int16_t pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
      const uint8_t x = cur[i];
      const uint8_t u = static_cast<uint8_t>(x - b);
      const uint8_t sb = static_cast<uint8_t>(x - a);
      const uint8_t p = static_cast<uint8_t>(x - pred);
      up[i] = u, sub[i] = sb, paeth[i] = p;
      a0 += c8(x), a1 += c8(u), a2 += c8(sb), a3 += c8(p);
    }
    s_none += a0, s_up += a1, s_sub += a2, s_paeth += a3;
  }
  sums[0] = s_none, sums[1] = s_up, sums[2] = s_sub, sums[3] = s_paeth;
}


// The exported-to-tests entry points. The clones themselves are static:
// GCC gives the ifunc of a non-static target_clones function default
// visibility whatever -fvisibility says, which would export it from the
// shared library (tests/abi/check_exports.sh).
void sub(const uint8_t* cur, size_t n, size_t bpp, uint8_t* out) { sub_clones(cur, n, bpp, out); }
void up(const uint8_t* cur, const uint8_t* prev, size_t n, uint8_t* out) {
  up_clones(cur, prev, n, out);
}
void paeth(const uint8_t* cur, const uint8_t* prev, size_t n, size_t bpp, uint8_t* out) {
  paeth_clones(cur, prev, n, bpp, out);
}
uint64_t cost(const uint8_t* data, size_t n) { return cost_clones(data, n); }
void pillow_candidates(const uint8_t* cur, const uint8_t* prev, size_t n, size_t bpp, uint8_t* up,
                       uint8_t* sub, uint8_t* paeth, uint64_t sums[4]) {
  pillow_candidates_clones(cur, prev, n, bpp, up, sub, paeth, sums);
}

}  // namespace filters

RowFilter::RowFilter(size_t row_bytes, int bytes_per_pixel, FilterStrategy strategy)
    : n_(row_bytes),
      bpp_(static_cast<size_t>(bytes_per_pixel)),
      strategy_(strategy),
      zero_(row_bytes, 0) {
  if (strategy == FilterStrategy::Pillow) scratch_.resize(3 * row_bytes);
}

void RowFilter::filter(const uint8_t* cur, uint8_t* out) {
  const bool first = prev_ == nullptr;
  const uint8_t* prev = first ? zero_.data() : prev_;
  prev_ = cur;
  switch (strategy_) {
    case FilterStrategy::Pillow:
      return filter_pillow(cur, prev, out);
    case FilterStrategy::Paeth:
      if (!first) {
        out[0] = static_cast<uint8_t>(PngFilter::Paeth);
        return filters::paeth(cur, prev, n_, bpp_, out + 1);
      }
      break;
    case FilterStrategy::Up:
      if (!first) {
        out[0] = static_cast<uint8_t>(PngFilter::Up);
        return filters::up(cur, prev, n_, out + 1);
      }
      break;
    case FilterStrategy::Sub:
      break;
  }
  out[0] = static_cast<uint8_t>(PngFilter::Sub);
  filters::sub(cur, n_, bpp_, out + 1);
}

// Pillow's choice (src/libImaging/ZipEncode.c): None, then Up, Sub and Paeth
// in that order, each considered only while the best sum is above zero and
// taken only when strictly smaller. All candidates and sums come from one
// pass over the row; the choice is a function of the sums alone, so this is
// the same decision Pillow makes. Sums are int in Pillow; 64-bit here
// changes nothing but overflow.
void RowFilter::filter_pillow(const uint8_t* cur, const uint8_t* prev, uint8_t* out) {
  uint8_t* up = scratch_.data();
  uint8_t* sub = up + n_;
  uint8_t* paeth = sub + n_;
  uint64_t sums[4];
  filters::pillow_candidates(cur, prev, n_, bpp_, up, sub, paeth, sums);
  const uint8_t* best = cur;
  PngFilter type = PngFilter::None;
  uint64_t sum = sums[0];
  if (sum > 0 && sums[1] < sum) best = up, type = PngFilter::Up, sum = sums[1];
  if (sum > 0 && sums[2] < sum) best = sub, type = PngFilter::Sub, sum = sums[2];
  if (sum > 0 && sums[3] < sum) best = paeth, type = PngFilter::Paeth, sum = sums[3];
  out[0] = static_cast<uint8_t>(type);
  std::memcpy(out + 1, best, n_);
}

}  // namespace torchimage
