// PNG IDAT chunks by ISA-L's igzip (levels 0-3): the benchmarks' comparison engine.
#include <algorithm>
#include <cstring>
#include <vector>

#include <c10/util/Exception.h>

#include "codecs/png/idat.h"
#include "codecs/png/png_chunks.h"

#ifdef TORCHIMAGE_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

namespace torchimage {

#ifdef TORCHIMAGE_HAVE_ISAL
namespace {

// ISA-L's igzip in zlib format. Output goes straight into `out`, as IDAT
// chunks of at most kMaxIdatChunk bytes; input arrives in batches of filtered rows.
class IsalIdat {
 public:
  IsalIdat(Bytes& out, int level, size_t expected_input) : out_(out) {
    isal_deflate_init(&z_);
    z_.level = static_cast<uint32_t>(level);
    switch (level) {
      case 0: level_buf_.resize(ISAL_DEF_LVL0_DEFAULT); break;
      case 1: level_buf_.resize(ISAL_DEF_LVL1_DEFAULT); break;
      case 2: level_buf_.resize(ISAL_DEF_LVL2_DEFAULT); break;
      default: level_buf_.resize(ISAL_DEF_LVL3_DEFAULT); break;
    }
    z_.level_buf = level_buf_.data();
    z_.level_buf_size = static_cast<uint32_t>(level_buf_.size());
    z_.gzip_flag = IGZIP_ZLIB;
    z_.flush = NO_FLUSH;
    z_.end_of_stream = 0;
    // Filtered photo content deflates to about a third; grow from there.
    grow_ = std::max<size_t>(65536, expected_input / 2);
    begin_chunk();
  }
  IsalIdat(const IsalIdat&) = delete;
  IsalIdat& operator=(const IsalIdat&) = delete;

  void add(const uint8_t* data, size_t size) {
    z_.next_in = const_cast<uint8_t*>(data);
    z_.avail_in = static_cast<uint32_t>(size);
    while (z_.avail_in > 0) step();
  }

  void finish() {
    z_.end_of_stream = 1;
    z_.next_in = nullptr;
    z_.avail_in = 0;
    while (z_.internal_state.state != ZSTATE_END) step();
    end_chunk();
  }

 private:
  void step() {
    if (z_.avail_out == 0) make_room();
    const int err = isal_deflate(&z_);
    TORCH_CHECK(err == COMP_OK, "encode_png: ISA-L deflate failed (", err, ")");
  }

  void begin_chunk() {
    chunk_start_ = out_.size();
    out_.resize(chunk_start_ + 8);
    std::memcpy(out_.data() + chunk_start_ + 4, "IDAT", 4);
    written_ = out_.size();
    z_.avail_out = 0;
  }

  // More output space at the end of the current chunk (or a new chunk).
  void make_room() {
    written_ = out_.size() - z_.avail_out;  // == out_.size() here
    if (written_ - chunk_start_ - 8 >= kMaxIdatChunk) {
      end_chunk();
      begin_chunk();
    }
    const size_t room = std::min(grow_, kMaxIdatChunk - (written_ - chunk_start_ - 8));
    out_.resize(written_ + room);
    z_.next_out = out_.data() + written_;
    z_.avail_out = static_cast<uint32_t>(room);
    grow_ = std::max(grow_, out_.size() / 2);
  }

  void end_chunk() {
    const size_t end = out_.size() - z_.avail_out;
    const size_t length = end - chunk_start_ - 8;
    out_.resize(end);
    z_.avail_out = 0;
    uint8_t* chunk = out_.data() + chunk_start_;
    put_be32(chunk, static_cast<uint32_t>(length));
    append_be32(out_, crc_of_chunk(chunk + 4, length + 4));
  }

  Bytes& out_;
  isal_zstream z_;
  std::vector<uint8_t> level_buf_;
  size_t chunk_start_ = 0;
  size_t written_ = 0;
  size_t grow_ = 65536;
};

}  // namespace

void write_idat_isal(const PixelView& px, const PngEncoding& encoding, Bytes& out) {
  const size_t row_bytes = px.row_bytes();
  const int bpp = static_cast<int>(px.channels * (px.bit_depth / 8));
  auto row = [&](int64_t y) { return px.data + static_cast<size_t>(y) * row_bytes; };
  const size_t raw = (row_bytes + 1) * static_cast<size_t>(px.height);
  RowFilter filter(row_bytes, bpp, encoding.filter);
  // Filter into a staging block of about 128 KiB of rows, then deflate it.
  const size_t rows_per_block = std::max<size_t>(1, (size_t{128} << 10) / (row_bytes + 1));
  std::vector<uint8_t> staging((row_bytes + 1) * rows_per_block);
  IsalIdat idat(out, encoding.level, raw);
  for (int64_t y = 0; y < px.height;) {
    size_t used = 0;
    for (size_t r = 0; r < rows_per_block && y < px.height; ++r, ++y) {
      filter.filter(row(y), staging.data() + used);
      used += row_bytes + 1;
    }
    idat.add(staging.data(), used);
  }
  idat.finish();
}
#else
void write_idat_isal(const PixelView&, const PngEncoding&, Bytes&) {
  TORCH_CHECK(false, "encode_png: this build has no ISA-L engine");
}
#endif

}  // namespace torchimage
