// PNG filters. The loops are written so that the compiler vectorizes them
// (no carried dependency: encoding reads only raw bytes), and each hot
// function is cloned for AVX2 with a runtime CPU check (target_clones), so
// the library still runs where AVX2 is missing.
#include "png_filter.h"

#include <cstdlib>
#include <cstring>

#include "cpu_dispatch.h"

namespace torchimage {
namespace filters {

TORCHIMAGE_CLONES
void sub(const uint8_t* cur, size_t n, size_t bpp, uint8_t* out) {
  const size_t head = bpp < n ? bpp : n;
  for (size_t i = 0; i < head; ++i) out[i] = cur[i];
  for (size_t i = head; i < n; ++i) out[i] = static_cast<uint8_t>(cur[i] - cur[i - bpp]);
}

TORCHIMAGE_CLONES
void up(const uint8_t* cur, const uint8_t* prev, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(cur[i] - prev[i]);
}

TORCHIMAGE_CLONES
void paeth(const uint8_t* cur, const uint8_t* prev, size_t n, size_t bpp, uint8_t* out) {
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

TORCHIMAGE_CLONES
uint64_t cost(const uint8_t* data, size_t n) {
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

TORCHIMAGE_CLONES
void pillow_candidates(const uint8_t* __restrict cur, const uint8_t* __restrict prev, size_t n,
                       size_t bpp, uint8_t* __restrict up, uint8_t* __restrict sub,
                       uint8_t* __restrict paeth, uint64_t sums[4]) {
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
  // Blocks of 2^16 bytes keep the 32-bit partial sums from overflowing.
  for (size_t start = head; start < n; start += 65536) {
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
