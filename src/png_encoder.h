// Private: the PNG writer. Rows -> filter -> deflate engine -> chunks.
#pragma once

#include <cstdint>

#include <c10/util/Optional.h>

#include "byte_buffer.h"

namespace torchimage {

// Row-packed pixels: `height` rows of width * channels samples, each sample
// one byte (bit_depth 8) or two big-endian bytes (bit_depth 16).
struct PixelView {
  const uint8_t* data = nullptr;
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  int bit_depth = 8;

  size_t row_bytes() const {
    return static_cast<size_t>(width * channels * (bit_depth / 8));
  }
};

// A complete PNG file. `compression_level` 0-9: Pillow's zlib settings and
// IDAT chunking, byte-identical to Pillow's `compress_level`. Unset: the
// default engine.
Bytes encode_png_pixels(const PixelView& pixels, const c10::optional<int>& compression_level);

// Appends one chunk (length, type, data, CRC-32) to `out`.
void write_png_chunk(Bytes& out, const char type[4], const uint8_t* data, size_t size);

}  // namespace torchimage
