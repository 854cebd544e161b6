// Private: PNG row filtering (PNG spec section 9) with Pillow's filter choice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace torchimage {

enum class PngFilter : uint8_t { None = 0, Sub = 1, Up = 2, Average = 3, Paeth = 4 };

// Filters rows one at a time the way Pillow's ZipEncode does: it tries None,
// then Up, Sub and Paeth (in that order, each only while the best sum is
// above zero) and keeps a candidate only when its sum of |signed bytes| is
// strictly smaller. The first row's "previous" row is all zero.
class PillowRowFilter {
 public:
  PillowRowFilter(size_t row_bytes, int bytes_per_pixel);

  // Filters `row` (row_bytes bytes) against the previous row given to this
  // call (zeros for the first). Returns row_bytes + 1 bytes: the filter type
  // then the filtered data, valid until the next call.
  const uint8_t* filter(const uint8_t* row);

 private:
  size_t n_;
  int bpp_;
  const uint8_t* prev_ = nullptr;
  std::vector<uint8_t> zero_;
  std::vector<uint8_t> none_, up_, sub_, paeth_;
};

}  // namespace torchimage
