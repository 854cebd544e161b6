#include "png_filter.h"

#include <cstdlib>
#include <cstring>

namespace torchimage {
namespace {

// |v| of a filtered byte read as signed, libpng's and Pillow's cost measure.
inline int cost(uint8_t v) { return v < 128 ? v : 256 - v; }

inline uint8_t paeth_predictor(int a, int b, int c) {
  const int pa = std::abs(b - c);
  const int pb = std::abs(a - c);
  const int pc = std::abs(a + b - 2 * c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  if (pb <= pc) return static_cast<uint8_t>(b);
  return static_cast<uint8_t>(c);
}

}  // namespace

PillowRowFilter::PillowRowFilter(size_t row_bytes, int bytes_per_pixel)
    : n_(row_bytes),
      bpp_(bytes_per_pixel),
      zero_(row_bytes, 0),
      none_(row_bytes + 1),
      up_(row_bytes + 1),
      sub_(row_bytes + 1),
      paeth_(row_bytes + 1) {
  none_[0] = static_cast<uint8_t>(PngFilter::None);
  up_[0] = static_cast<uint8_t>(PngFilter::Up);
  sub_[0] = static_cast<uint8_t>(PngFilter::Sub);
  paeth_[0] = static_cast<uint8_t>(PngFilter::Paeth);
}

const uint8_t* PillowRowFilter::filter(const uint8_t* cur) {
  const uint8_t* prev = prev_ ? prev_ : zero_.data();
  prev_ = cur;
  const size_t n = n_;
  const size_t bpp = static_cast<size_t>(bpp_) < n ? static_cast<size_t>(bpp_) : n;

  // Sums are int in Pillow; a row is below 2^31 / 128 bytes for any image
  // PNG can hold at 4 channels, so int64 changes nothing but overflow.
  int64_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += cost(cur[i]);
  const uint8_t* best = nullptr;  // nullptr: None

  if (sum > 0) {
    uint8_t* up = up_.data() + 1;
    int64_t s = 0;
    for (size_t i = 0; i < n; ++i) {
      up[i] = static_cast<uint8_t>(cur[i] - prev[i]);
      s += cost(up[i]);
    }
    if (s < sum) best = up_.data(), sum = s;
  }
  if (sum > 0) {
    uint8_t* sub = sub_.data() + 1;
    int64_t s = 0;
    for (size_t i = 0; i < bpp; ++i) {
      sub[i] = cur[i];
      s += cost(sub[i]);
    }
    for (size_t i = bpp; i < n; ++i) {
      sub[i] = static_cast<uint8_t>(cur[i] - cur[i - bpp]);
      s += cost(sub[i]);
    }
    if (s < sum) best = sub_.data(), sum = s;
  }
  if (sum > 0) {
    uint8_t* paeth = paeth_.data() + 1;
    int64_t s = 0;
    for (size_t i = 0; i < bpp; ++i) {
      paeth[i] = static_cast<uint8_t>(cur[i] - prev[i]);
      s += cost(paeth[i]);
    }
    for (size_t i = bpp; i < n; ++i) {
      paeth[i] = static_cast<uint8_t>(cur[i] - paeth_predictor(cur[i - bpp], prev[i], prev[i - bpp]));
      s += cost(paeth[i]);
    }
    if (s < sum) best = paeth_.data(), sum = s;
  }
  if (best) return best;
  std::memcpy(none_.data() + 1, cur, n);
  return none_.data();
}

}  // namespace torchimage
