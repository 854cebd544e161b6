// Private: PNG row filtering (PNG spec section 9).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace torchimage {

enum class PngFilter : uint8_t { None = 0, Sub = 1, Up = 2, Average = 3, Paeth = 4 };

// How rows choose their filter.
enum class FilterStrategy {
  // Pillow's ZipEncode: try None, then Up, Sub and Paeth (in that order, each
  // only while the best sum is above zero), keep a candidate only when its sum
  // of |signed bytes| is strictly smaller. Needed for Pillow-identical bytes.
  Pillow,
  // Paeth on every row but the first (Sub there, as Paeth reduces to it).
  Paeth,
  // Up on every row but the first (Sub there).
  Up,
  // Sub on every row.
  Sub,
};

// Filters rows one at a time. The previous row of the first row is all zero,
// as the PNG spec says.
class RowFilter {
 public:
  RowFilter(size_t row_bytes, int bytes_per_pixel, FilterStrategy strategy);

  // Filters `row` (row_bytes bytes) against the row given to the previous
  // call, which must still be valid. Writes row_bytes + 1 bytes, the filter
  // type and the filtered data, to `out`.
  void filter(const uint8_t* row, uint8_t* out);

  // Makes `row` the previous row of the next call (to start mid-image).
  void set_previous(const uint8_t* row) { prev_ = row; }

 private:
  void filter_pillow(const uint8_t* cur, const uint8_t* prev, uint8_t* out);

  size_t n_;
  size_t bpp_;
  FilterStrategy strategy_;
  const uint8_t* prev_ = nullptr;
  std::vector<uint8_t> zero_;
  std::vector<uint8_t> scratch_;
};

// Pillow's filter choice with its own output buffer (tests, the zlib engine).
class PillowRowFilter {
 public:
  PillowRowFilter(size_t row_bytes, int bytes_per_pixel)
      : filter_(row_bytes, bytes_per_pixel, FilterStrategy::Pillow), out_(row_bytes + 1) {}
  // Returns row_bytes + 1 bytes (filter type, data), valid until the next call.
  const uint8_t* filter(const uint8_t* row) {
    filter_.filter(row, out_.data());
    return out_.data();
  }

 private:
  RowFilter filter_;
  std::vector<uint8_t> out_;
};

namespace filters {
// The individual filters: out[i] = row[i] - predictor, for i in [0, n).
void sub(const uint8_t* cur, size_t n, size_t bpp, uint8_t* out);
void up(const uint8_t* cur, const uint8_t* prev, size_t n, uint8_t* out);
void paeth(const uint8_t* cur, const uint8_t* prev, size_t n, size_t bpp, uint8_t* out);
// Up, Sub and Paeth of a row in one pass, with the four costs (None, Up,
// Sub, Paeth) in `sums`.
void pillow_candidates(const uint8_t* cur, const uint8_t* prev, size_t n, size_t bpp,
                       uint8_t* up, uint8_t* sub, uint8_t* paeth, uint64_t sums[4]);
// Sum of |v| over bytes read as signed (libpng's and Pillow's cost measure).
uint64_t cost(const uint8_t* data, size_t n);
}  // namespace filters

}  // namespace torchimage
