// PNG IDAT chunks by zlib with Pillow's settings: compression_level 0-9.
#include <algorithm>
#include <cstring>
#include <vector>

#include <c10/util/Exception.h>
#include <zlib.h>

#include "codecs/png/idat.h"
#include "codecs/png/png_chunks.h"

namespace torchimage {
namespace {

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
    put_be32(chunk, static_cast<uint32_t>(length));
    const uint32_t crc = crc_of_chunk(chunk + 4, length + 4);
    out_.resize(chunk_start_ + 8 + length);
    append_be32(out_, crc);
  }

  Bytes& out_;
  size_t bufsize_;
  size_t chunk_start_ = 0;
  z_stream z_;
};

}  // namespace

void write_idat_zlib(const PixelView& px, const PngEncoding& encoding, Bytes& out) {
  const size_t row_bytes = px.row_bytes();
  const int bpp = static_cast<int>(px.channels * (px.bit_depth / 8));
  auto row = [&](int64_t y) { return px.data + static_cast<size_t>(y) * row_bytes; };
  RowFilter filter(row_bytes, bpp, encoding.filter);
  std::vector<uint8_t> filtered(row_bytes + 1);
  const size_t bufsize = std::max<size_t>(65536, 4 * static_cast<size_t>(px.width));
  PillowZlibIdat idat(out, encoding.level, bufsize);
  for (int64_t y = 0; y < px.height; ++y) {
    filter.filter(row(y), filtered.data());
    idat.add_row(filtered.data(), row_bytes + 1);
  }
  idat.finish();
}

}  // namespace torchimage
