// Private: pixels as encoders take them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace torchimage {

// Row-packed pixels: `height` rows of width * channels samples, each sample
// one byte (bit_depth 8), two big-endian bytes (bit_depth 16), or a native
// float32 (bit_depth 32, float_samples: keep_values).
struct PixelView {
  const uint8_t* data = nullptr;
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  int bit_depth = 8;
  bool float_samples = false;
  // Indexed colour (PNG colour type 3): `channels` is 1 and each sample an
  // index into `palette_size` RGB triples.
  const uint8_t* palette = nullptr;
  int palette_size = 0;

  size_t row_bytes() const {
    return static_cast<size_t>(width * channels * (bit_depth / 8));
  }
};

}  // namespace torchimage
