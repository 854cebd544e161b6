// PNG's row in the table of formats: lossless, 1-4 channels, 8 or 16 bits.
// The encoder (filter, deflate engines, chunks) and the decoder live in
// codecs/png/.
#include <c10/util/Exception.h>

#include "codecs/codec.h"
#include "codecs/png/png_decoder.h"
#include "codecs/png/png_encoder.h"

namespace torchimage {
namespace {

void check_png_options(const EncodeOptions& o, const char* what) {
  const std::optional<int>& level = o.png().compression_level();
  TORCH_CHECK(!level || (*level >= 0 && *level <= 9), what,
              ": compression_level must be in 0-9, got ", level.value_or(0));
}

void check_png_shape(int64_t height, int64_t width, int64_t channels, int bit_depth,
                     const char* what) {
  // The encoder's own limit (encode_png_pixels), checked before the pixels
  // are computed.
  TORCH_CHECK(width * channels * (bit_depth / 8) < (int64_t{1} << 31), what, ": a ", height, "x",
              width, " image of ", channels, " channels at ", bit_depth,
              " bits exceeds the PNG encoder's limit of 2^31-1 bytes a row");
}

void encode_png_row(const PixelView& pixels, const EncodeOptions& o, Bytes& out) {
  encode_png_pixels(pixels, png_encoding_for(o.png().compression_level()), out);
}

torch::Tensor decode_png_row(const uint8_t* data, size_t size, const DecodeOptions& o) {
  return decode_png_bytes(data, size, o.max_pixels(), o.keep_16_bit(), o.keep_indices());
}

}  // namespace

Codec png_codec() {
  Codec c;
  c.info.format = ImageFormat::PNG;
  c.info.name = "png";
  c.info.display_name = "PNG";
  c.info.extensions = {"png", "apng"};
  c.info.channels = {1, 2, 3, 4};
  c.info.bit_depths = {8, 16};
  c.info.indexed = true;
  c.info.max_side = 0x7fffffff;
  c.signatures = {std::string("\x89PNG\r\n\x1a\n", 8)};
  c.check_options = check_png_options;
  c.check_shape = check_png_shape;
  c.encode = encode_png_row;
  c.decode = decode_png_row;
  return c;
}

}  // namespace torchimage
