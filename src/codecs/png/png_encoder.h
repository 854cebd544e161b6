// Private: the PNG writer. Rows -> filter -> deflate engine -> chunks.
#pragma once

#include <cstdint>

#include <optional>

#include "core/byte_buffer.h"
#include "core/pixel_view.h"
#include "codecs/png/png_chunks.h"  // write_png_chunk
#include "codecs/png/png_filter.h"

namespace torchimage {

enum class DeflateEngine {
  // zlib with Pillow's settings and IDAT chunking: Pillow-identical bytes.
  PillowZlib,
  // ISA-L's igzip (zlib wrapper), levels 0-3.
  Isal,
  // torchimage's run-length deflate (deflate_rle.h) alone.
  Rle,
  // torchimage's LZ77 deflate (deflate_lz.h) alone.
  Lz,
  // The default: the run-length or the LZ77 engine, whichever a probe of
  // the filtered rows expects to pay (idat_default.cpp).
  Auto,
};

struct PngEncoding {
  DeflateEngine engine = DeflateEngine::PillowZlib;
  int level = 6;  // zlib 0-9, ISA-L 0-3; unused by torchimage's engines
  FilterStrategy filter = FilterStrategy::Pillow;
};

// What an unset compression_level means.
PngEncoding default_png_encoding();

// Whether this build has the ISA-L engine.
bool have_isal();

// compression_level 0-9: Pillow's settings; unset: default_png_encoding().
PngEncoding png_encoding_for(const std::optional<int>& compression_level);

// A complete PNG file.
Bytes encode_png_pixels(const PixelView& pixels, const PngEncoding& encoding);
// The same into `out` (replacing its contents, reusing its capacity).
void encode_png_pixels(const PixelView& pixels, const PngEncoding& encoding, Bytes& out);
inline Bytes encode_png_pixels(const PixelView& pixels, const std::optional<int>& level) {
  return encode_png_pixels(pixels, png_encoding_for(level));
}

}  // namespace torchimage
