#include "png_encoder.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <c10/util/Exception.h>
#include <zlib.h>

#include "png_filter.h"

namespace torchimage {
namespace {

constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t crc_of_chunk(const uint8_t* type_and_data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib's crc32 takes uInt lengths; feed in pieces for huge chunks.
  while (size > 0) {
    const uInt piece = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, type_and_data, piece);
    type_and_data += piece;
    size -= piece;
  }
  return static_cast<uint32_t>(crc);
}

// Pillow's PNG deflate, reproduced call for call so that the IDAT chunking
// matches as well as the stream: ImageFile._save pulls encoder.encode(bufsize)
// with bufsize = max(65536, 4 * width) and writes each result as one IDAT
// chunk (an empty one included); ZipEncode deflates each filtered row with
// Z_NO_FLUSH into that buffer and ends with Z_FINISH. zlib runs with Pillow's
// settings: windowBits 15, memLevel 9, Z_FILTERED.
class PillowZlibIdat {
 public:
  PillowZlibIdat(Bytes& out, int level, size_t bufsize) : out_(out), bufsize_(bufsize) {
    std::memset(&z_, 0, sizeof(z_));
    const int err = deflateInit2(&z_, level, Z_DEFLATED, 15, 9, Z_FILTERED);
    TORCH_CHECK(err == Z_OK, "encode_png: zlib deflateInit2 failed (", err, ") at level ", level);
    begin_chunk();
  }
  ~PillowZlibIdat() { deflateEnd(&z_); }
  PillowZlibIdat(const PillowZlibIdat&) = delete;
  PillowZlibIdat& operator=(const PillowZlibIdat&) = delete;

  void add_row(const uint8_t* data, size_t size) {
    z_.next_in = const_cast<Bytef*>(data);
    z_.avail_in = static_cast<uInt>(size);
    for (;;) {
      const int err = deflate(&z_, Z_NO_FLUSH);
      TORCH_CHECK(err == Z_OK, "encode_png: zlib deflate failed (", err, ")");
      if (z_.avail_out != 0) break;
      end_chunk();
      begin_chunk();
      if (z_.avail_in == 0) break;
    }
  }

  void finish() {
    for (;;) {
      const int err = deflate(&z_, Z_FINISH);
      TORCH_CHECK(err == Z_OK || err == Z_STREAM_END, "encode_png: zlib deflate failed (", err,
                  ")");
      if (err == Z_STREAM_END) break;
      if (z_.avail_out == 0) {
        end_chunk();
        begin_chunk();
      }
    }
    end_chunk();
  }

 private:
  void begin_chunk() {
    chunk_start_ = out_.size();
    out_.resize(chunk_start_ + 8 + bufsize_);
    std::memcpy(out_.data() + chunk_start_ + 4, "IDAT", 4);
    z_.next_out = out_.data() + chunk_start_ + 8;
    z_.avail_out = static_cast<uInt>(bufsize_);
  }

  void end_chunk() {
    const size_t length = bufsize_ - z_.avail_out;
    uint8_t* chunk = out_.data() + chunk_start_;
    chunk[0] = uint8_t(length >> 24), chunk[1] = uint8_t(length >> 16);
    chunk[2] = uint8_t(length >> 8), chunk[3] = uint8_t(length);
    const uint32_t crc = crc_of_chunk(chunk + 4, length + 4);
    out_.resize(chunk_start_ + 8 + length);
    append_be32(out_, crc);
  }

  Bytes& out_;
  size_t bufsize_;
  size_t chunk_start_ = 0;
  z_stream z_;
};

uint8_t color_type(int64_t channels) {
  switch (channels) {
    case 1: return 0;  // gray
    case 2: return 4;  // gray + alpha
    case 3: return 2;  // RGB
    default: return 6; // RGBA
  }
}

}  // namespace

void write_png_chunk(Bytes& out, const char type[4], const uint8_t* data, size_t size) {
  TORCH_CHECK(size <= 0x7fffffffu, "encode_png: chunk of ", size, " bytes exceeds PNG's limit");
  append_be32(out, static_cast<uint32_t>(size));
  const size_t start = out.size();
  append(out, type, 4);
  if (size) append(out, data, size);
  append_be32(out, crc_of_chunk(out.data() + start, size + 4));
}

Bytes encode_png_pixels(const PixelView& px, const c10::optional<int>& compression_level) {
  TORCH_CHECK(px.channels >= 1 && px.channels <= 4,
              "encode_png: expected 1, 2, 3 or 4 channels, got ", px.channels);
  TORCH_CHECK(px.bit_depth == 8 || px.bit_depth == 16,
              "encode_png: expected bit depth 8 or 16, got ", px.bit_depth);
  constexpr int64_t kMaxDim = 0x7fffffff;
  TORCH_CHECK(px.height >= 1 && px.width >= 1 && px.height <= kMaxDim && px.width <= kMaxDim,
              "encode_png: image of ", px.height, "x", px.width,
              " is outside PNG's limits (1 to 2^31-1 pixels a side)");
  const int level = compression_level.value_or(6);
  TORCH_CHECK(level >= 0 && level <= 9, "encode_png: compression_level must be in 0-9, got ",
              level);

  const size_t row_bytes = px.row_bytes();
  TORCH_CHECK(row_bytes < (size_t{1} << 31), "encode_png: a row of ", row_bytes,
              " bytes is too long (width ", px.width, ")");
  Bytes out;
  out.reserve(64 + row_bytes * static_cast<size_t>(px.height) / 2);
  append(out, kSignature, sizeof(kSignature));

  uint8_t ihdr[13];
  const auto w = static_cast<uint32_t>(px.width), h = static_cast<uint32_t>(px.height);
  ihdr[0] = uint8_t(w >> 24), ihdr[1] = uint8_t(w >> 16), ihdr[2] = uint8_t(w >> 8), ihdr[3] = uint8_t(w);
  ihdr[4] = uint8_t(h >> 24), ihdr[5] = uint8_t(h >> 16), ihdr[6] = uint8_t(h >> 8), ihdr[7] = uint8_t(h);
  ihdr[8] = static_cast<uint8_t>(px.bit_depth);
  ihdr[9] = color_type(px.channels);
  ihdr[10] = 0;  // deflate
  ihdr[11] = 0;  // adaptive filtering
  ihdr[12] = 0;  // no interlace
  write_png_chunk(out, "IHDR", ihdr, sizeof(ihdr));

  {
    const int bpp = static_cast<int>(px.channels * (px.bit_depth / 8));
    PillowRowFilter filter(row_bytes, bpp);
    const size_t bufsize = std::max<size_t>(65536, 4 * static_cast<size_t>(px.width));
    PillowZlibIdat idat(out, level, bufsize);
    for (int64_t y = 0; y < px.height; ++y) {
      const uint8_t* filtered = filter.filter(px.data + static_cast<size_t>(y) * row_bytes);
      idat.add_row(filtered, row_bytes + 1);
    }
    idat.finish();
  }
  write_png_chunk(out, "IEND", nullptr, 0);
  return out;
}

}  // namespace torchimage
