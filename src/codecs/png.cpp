// PNG's row in the table of formats: lossless, 1-4 channels, 8 or 16 bits,
// and animated as APNG. The encoder (filter, deflate engines, chunks) and the
// decoder live in codecs/png/.
//
// APNG: each frame is encoded once as a PNG file of its own (kept); the
// animation is the first frame's IHDR (and PLTE), an acTL (frame count, plays),
// then per frame an fcTL (sequence number, full size at (0, 0), delay in ms
// over 1000, dispose none, blend source) and its IDAT data: as IDAT chunks
// for the first frame (the default image, what APNG-unaware readers show), as
// fdAT chunks (sequence number + the same data) for the others.
#include <cstring>

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

void encode_png_frame(const PixelView& pixels, const EncodeOptions& o, const AnimationParams&,
                      Bytes& frame) {
  encode_png_pixels(pixels, png_encoding_for(o.png().compression_level()), frame);
}

uint32_t get_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// A chunk of a PNG file that torchimage's encoder wrote.
struct Chunk {
  const uint8_t* start;  // its length field
  uint32_t length;
  const char* type() const { return reinterpret_cast<const char*>(start + 4); }
  const uint8_t* data() const { return start + 8; }
  size_t size() const { return size_t{length} + 12; }
  bool is(const char* t) const { return std::memcmp(type(), t, 4) == 0; }
};

std::vector<Chunk> chunks_of(const Bytes& png) {
  std::vector<Chunk> chunks;
  size_t at = 8;
  while (at + 12 <= png.size()) {
    const Chunk c{png.data() + at, get_be32(png.data() + at)};
    TORCH_CHECK(at + c.size() <= png.size(), "encode APNG: a frame's chunk overruns its file");
    chunks.push_back(c);
    at += c.size();
  }
  return chunks;
}

void put_be16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void assemble_apng(const std::vector<Bytes>& frames, const AnimationParams& a, Bytes& out) {
  const char* what = "encode APNG";
  size_t total = 64;
  for (const Bytes& f : frames) total += f.size() + 64;
  out.clear();
  out.reserve(total);
  const std::vector<Chunk> first = chunks_of(frames.front());
  TORCH_CHECK(!first.empty() && first.front().is("IHDR") && first.front().length == 13, what,
              ": the first frame's file does not start with IHDR");
  const Chunk& ihdr = first.front();
  const Chunk* plte = nullptr;
  for (const Chunk& c : first) {
    if (c.is("PLTE")) plte = &c;
  }
  append(out, frames.front().data(), 8);  // the signature
  append(out, ihdr.start, ihdr.size());
  uint8_t actl[8];
  put_be32(actl, static_cast<uint32_t>(frames.size()));
  put_be32(actl + 4, static_cast<uint32_t>(a.loop));
  write_png_chunk(out, "acTL", actl, sizeof(actl));
  if (plte != nullptr) append(out, plte->start, plte->size());
  uint32_t sequence = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const std::vector<Chunk> chunks = i == 0 ? first : chunks_of(frames[i]);
    TORCH_CHECK(!chunks.empty() && chunks.front().is("IHDR") && chunks.front().length == 13 &&
                    std::memcmp(chunks.front().data(), ihdr.data(), 13) == 0,
                what, ": frame ", i, "'s header (size, depth, colour type) differs from frame 0's");
    for (const Chunk& c : chunks) {
      if (!c.is("PLTE")) continue;
      TORCH_CHECK(plte != nullptr && c.length == plte->length &&
                      std::memcmp(c.data(), plte->data(), c.length) == 0,
                  what, ": frame ", i, "'s palette differs from frame 0's (an APNG has one PLTE)");
    }
    uint8_t fctl[26];
    put_be32(fctl, sequence++);
    std::memcpy(fctl + 4, ihdr.data(), 8);  // width, height
    put_be32(fctl + 12, 0);                 // x offset
    put_be32(fctl + 16, 0);                 // y offset
    put_be16(fctl + 20, static_cast<uint32_t>(a.duration_ms));
    put_be16(fctl + 22, 1000);
    fctl[24] = 0;  // APNG_DISPOSE_OP_NONE
    fctl[25] = 0;  // APNG_BLEND_OP_SOURCE
    write_png_chunk(out, "fcTL", fctl, sizeof(fctl));
    for (const Chunk& c : chunks) {
      if (!c.is("IDAT")) continue;
      if (i == 0) {
        append(out, c.start, c.size());
        continue;
      }
      TORCH_CHECK(c.length <= 0x7fffffffu - 4, what, ": an IDAT chunk of ", c.length,
                  " bytes leaves no room for fdAT's sequence number");
      append_be32(out, c.length + 4);
      const size_t start = out.size();
      append(out, "fdAT", 4);
      append_be32(out, sequence++);
      append(out, c.data(), c.length);
      append_be32(out, crc_of_chunk(out.data() + start, size_t{c.length} + 8));
    }
  }
  write_png_chunk(out, "IEND", nullptr, 0);
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
  c.info.animated = true;
  c.info.max_side = 0x7fffffff;
  c.signatures = {std::string("\x89PNG\r\n\x1a\n", 8)};
  c.check_options = check_png_options;
  c.check_shape = check_png_shape;
  c.encode = encode_png_row;
  c.decode = decode_png_row;
  c.encode_frame = encode_png_frame;
  c.assemble_animation = assemble_apng;
  return c;
}

}  // namespace torchimage
