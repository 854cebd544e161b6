// PNG files: signature, IHDR, the IDAT chunks of the encoding's deflate
// engine (idat.h), IEND.
#include "codecs/png/png_encoder.h"

#include <c10/util/Exception.h>

#include "codecs/png/idat.h"
#include "codecs/png/png_chunks.h"

namespace torchimage {
namespace {

constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint8_t color_type(int64_t channels) {
  switch (channels) {
    case 1: return 0;  // gray
    case 2: return 4;  // gray + alpha
    case 3: return 2;  // RGB
    default: return 6; // RGBA
  }
}

}  // namespace

bool have_isal() {
#ifdef TORCHIMAGE_HAVE_ISAL
  return true;
#else
  return false;
#endif
}

PngEncoding default_png_encoding() {
  PngEncoding e;
  e.engine = DeflateEngine::Auto;
  e.level = 0;
  e.filter = FilterStrategy::Pillow;
  return e;
}

PngEncoding png_encoding_for(const std::optional<int>& compression_level) {
  if (!compression_level) return default_png_encoding();
  const int level = *compression_level;
  TORCH_CHECK(level >= 0 && level <= 9, "encode_png: compression_level must be in 0-9, got ",
              level);
  PngEncoding e;
  e.engine = DeflateEngine::PillowZlib;
  e.level = level;
  e.filter = FilterStrategy::Pillow;
  return e;
}

Bytes encode_png_pixels(const PixelView& px, const PngEncoding& encoding) {
  Bytes out;
  encode_png_pixels(px, encoding, out);
  return out;
}

void encode_png_pixels(const PixelView& px, const PngEncoding& encoding, Bytes& out) {
  TORCH_CHECK(px.channels >= 1 && px.channels <= 4,
              "encode_png: expected 1, 2, 3 or 4 channels, got ", px.channels);
  TORCH_CHECK(px.bit_depth == 8 || px.bit_depth == 16,
              "encode_png: expected bit depth 8 or 16, got ", px.bit_depth);
  constexpr int64_t kMaxDim = 0x7fffffff;
  TORCH_CHECK(px.height >= 1 && px.width >= 1 && px.height <= kMaxDim && px.width <= kMaxDim,
              "encode_png: image of ", px.height, "x", px.width,
              " is outside PNG's limits (1 to 2^31-1 pixels a side)");
  const size_t row_bytes = px.row_bytes();
  TORCH_CHECK(row_bytes < (size_t{1} << 31), "encode_png: a row of ", row_bytes,
              " bytes is too long (width ", px.width, ")");

  out.clear();
  const size_t raw = (row_bytes + 1) * static_cast<size_t>(px.height);
  out.reserve(64 + (encoding.engine == DeflateEngine::PillowZlib ? raw / 2 : deflate_bound(raw)));
  append(out, kSignature, sizeof(kSignature));

  uint8_t ihdr[13];
  const auto w = static_cast<uint32_t>(px.width), h = static_cast<uint32_t>(px.height);
  put_be32(ihdr, w);
  put_be32(ihdr + 4, h);
  ihdr[8] = static_cast<uint8_t>(px.bit_depth);
  ihdr[9] = px.palette != nullptr ? 3 : color_type(px.channels);
  ihdr[10] = 0;  // deflate
  ihdr[11] = 0;  // adaptive filtering
  ihdr[12] = 0;  // no interlace
  write_png_chunk(out, "IHDR", ihdr, sizeof(ihdr));
  if (px.palette != nullptr) {
    TORCH_CHECK(px.channels == 1 && px.bit_depth == 8 && px.palette_size >= 1 &&
                    px.palette_size <= 256,
                "encode_png: an indexed image has one 8-bit channel and 1-256 colours, got ",
                px.channels, " channels of ", px.bit_depth, " bits and ", px.palette_size,
                " colours");
    write_png_chunk(out, "PLTE", px.palette, static_cast<size_t>(px.palette_size) * 3);
  }

  switch (encoding.engine) {
    case DeflateEngine::PillowZlib: write_idat_zlib(px, encoding, out); break;
    case DeflateEngine::Rle:
    case DeflateEngine::Lz:
    case DeflateEngine::Auto: write_idat_default(px, encoding, out); break;
    case DeflateEngine::Isal: write_idat_isal(px, encoding, out); break;
  }
  write_png_chunk(out, "IEND", nullptr, 0);
}

}  // namespace torchimage
