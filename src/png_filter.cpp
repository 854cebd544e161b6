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

}  // namespace filters

RowFilter::RowFilter(size_t row_bytes, int bytes_per_pixel, FilterStrategy strategy)
    : n_(row_bytes),
      bpp_(static_cast<size_t>(bytes_per_pixel)),
      strategy_(strategy),
      zero_(row_bytes, 0) {
  if (strategy == FilterStrategy::Pillow) scratch_.resize(row_bytes);
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

// Pillow's choice (src/libImaging/ZipEncode.c). Candidates are computed
// into whichever of two buffers does not hold the best row so far. Sums are
// int in Pillow; 64-bit here changes nothing but overflow.
void RowFilter::filter_pillow(const uint8_t* cur, const uint8_t* prev, uint8_t* out) {
  uint8_t* buffers[2] = {out + 1, scratch_.data()};
  int free_buffer = 0;
  const uint8_t* best = cur;  // None: the row itself
  PngFilter best_type = PngFilter::None;
  uint64_t sum = filters::cost(cur, n_);

  auto consider = [&](PngFilter type) {
    const uint64_t s = filters::cost(buffers[free_buffer], n_);
    if (s < sum) {
      sum = s;
      best_type = type;
      best = buffers[free_buffer];
      free_buffer ^= 1;
    }
  };
  if (sum > 0) {
    filters::up(cur, prev, n_, buffers[free_buffer]);
    consider(PngFilter::Up);
  }
  if (sum > 0) {
    filters::sub(cur, n_, bpp_, buffers[free_buffer]);
    consider(PngFilter::Sub);
  }
  if (sum > 0) {
    filters::paeth(cur, prev, n_, bpp_, buffers[free_buffer]);
    consider(PngFilter::Paeth);
  }
  out[0] = static_cast<uint8_t>(best_type);
  if (best != out + 1) std::memcpy(out + 1, best, n_);
}

}  // namespace torchimage
