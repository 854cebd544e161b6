#include "codecs/png/png_encoder.h"

#include "codecs/png/deflate_rle.h"
#include "core/cpu_dispatch.h"
#include "core/encode_context.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <thread>

#include <c10/util/Exception.h>
#include <zlib.h>

#ifdef TORCHIMAGE_HAVE_ISAL
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#endif

namespace torchimage {
namespace {

constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t crc_of_chunk(const uint8_t* type_and_data, size_t size) {
#ifdef TORCHIMAGE_HAVE_ISAL
  return crc32_gzip_refl(0, type_and_data, size);  // the same CRC-32, faster
#endif
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

#ifdef TORCHIMAGE_HAVE_ISAL
// ISA-L's igzip in zlib format. Output goes straight into `out`, as IDAT
// chunks of at most kMaxChunk bytes; input arrives in batches of filtered rows.
class IsalIdat {
 public:
  static constexpr size_t kMaxChunk = size_t{1} << 30;

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
    if (written_ - chunk_start_ - 8 >= kMaxChunk) {
      end_chunk();
      begin_chunk();
    }
    const size_t room = std::min(grow_, kMaxChunk - (written_ - chunk_start_ - 8));
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
    chunk[0] = uint8_t(length >> 24), chunk[1] = uint8_t(length >> 16);
    chunk[2] = uint8_t(length >> 8), chunk[3] = uint8_t(length);
    append_be32(out_, crc_of_chunk(chunk + 4, length + 4));
  }

  Bytes& out_;
  isal_zstream z_;
  std::vector<uint8_t> level_buf_;
  size_t chunk_start_ = 0;
  size_t written_ = 0;
  size_t grow_ = 65536;
};
#endif

// The zlib stream written at chunk_start + 8 becomes IDAT chunks: one if it
// fits PNG's chunk length limit, else several (rare: > 2 GiB compressed).
void close_idat_chunks(Bytes& out, size_t chunk_start) {
  constexpr size_t kMaxChunk = size_t{1} << 30;
  const size_t length = out.size() - chunk_start - 8;
  if (length <= kMaxChunk) {
    uint8_t* chunk = out.data() + chunk_start;
    chunk[0] = uint8_t(length >> 24), chunk[1] = uint8_t(length >> 16);
    chunk[2] = uint8_t(length >> 8), chunk[3] = uint8_t(length);
    std::memcpy(chunk + 4, "IDAT", 4);
    append_be32(out, crc_of_chunk(chunk + 4, length + 4));
    return;
  }
  Bytes stream(out.begin() + static_cast<std::ptrdiff_t>(chunk_start + 8), out.end());
  out.resize(chunk_start);
  for (size_t done = 0; done < stream.size(); done += kMaxChunk) {
    write_png_chunk(out, "IDAT", stream.data() + done, std::min(kMaxChunk, stream.size() - done));
  }
}

// Filters rows [y0, y1) and deflates them as one part of a zlib stream
// (part 0 carries the header, the last part the final block).
struct RlePart {
  Bytes* out = nullptr;  // appended to
  uint32_t adler = 0;
  size_t input = 0;
};

// Room for the compressed form of `raw` filtered bytes: reserved, not
// touched, so it costs address space only (pages become resident as they are
// written); growing a vector instead would copy, touching twice the size.
// Incompressible rows take at most a few hundred bytes a 32 KiB block more
// than their size.
size_t deflate_bound(size_t raw) { return raw + raw / 64 + 4096; }

void encode_rle_part(const PixelView& px, const PngEncoding& encoding, int64_t y0, int64_t y1,
                     bool first, bool last, RlePart* part) {
  const size_t row_bytes = px.row_bytes();
  const int bpp = static_cast<int>(px.channels * (px.bit_depth / 8));
  auto row = [&](int64_t y) { return px.data + static_cast<size_t>(y) * row_bytes; };
  RowFilter filter(row_bytes, bpp, encoding.filter);
  if (y0 > 0) filter.set_previous(row(y0 - 1));
  // Filter into a staging block of about 128 KiB of rows (or the whole part,
  // if smaller: a small image must not pay for a 128 KiB buffer, which
  // malloc would map and unmap on every call), then deflate it.
  const size_t rows_per_block = std::min<size_t>(
      static_cast<size_t>(y1 - y0), std::max<size_t>(1, (size_t{128} << 10) / (row_bytes + 1)));
  // Not zero-filled: every byte is written by the filter before it is read.
  const std::unique_ptr<uint8_t[]> staging(new uint8_t[(row_bytes + 1) * rows_per_block]);
  RleDeflater deflater(/*zlib_header=*/first);
  for (int64_t y = y0; y < y1;) {
    size_t used = 0;
    for (size_t r = 0; r < rows_per_block && y < y1; ++r, ++y) {
      filter.filter(row(y), staging.get() + used);
      used += row_bytes + 1;
    }
    if (y < y1) {
      deflater.add(staging.get(), used, *part->out);
    } else {
      deflater.add_and_end(staging.get(), used, *part->out, last);
    }
  }
  if (y0 == y1) deflater.end(*part->out, last);  // no rows: an empty part
  part->adler = deflater.adler();
  part->input = static_cast<size_t>(y1 - y0) * (row_bytes + 1);
}

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

bool have_isal() {
#ifdef TORCHIMAGE_HAVE_ISAL
  return true;
#else
  return false;
#endif
}

PngEncoding default_png_encoding() {
  PngEncoding e;
  e.engine = DeflateEngine::Rle;
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
  ihdr[0] = uint8_t(w >> 24), ihdr[1] = uint8_t(w >> 16), ihdr[2] = uint8_t(w >> 8), ihdr[3] = uint8_t(w);
  ihdr[4] = uint8_t(h >> 24), ihdr[5] = uint8_t(h >> 16), ihdr[6] = uint8_t(h >> 8), ihdr[7] = uint8_t(h);
  ihdr[8] = static_cast<uint8_t>(px.bit_depth);
  ihdr[9] = color_type(px.channels);
  ihdr[10] = 0;  // deflate
  ihdr[11] = 0;  // adaptive filtering
  ihdr[12] = 0;  // no interlace
  write_png_chunk(out, "IHDR", ihdr, sizeof(ihdr));

  const int bpp = static_cast<int>(px.channels * (px.bit_depth / 8));
  RowFilter filter(row_bytes, bpp, encoding.filter);
  auto row = [&](int64_t y) { return px.data + static_cast<size_t>(y) * row_bytes; };
  if (encoding.engine == DeflateEngine::PillowZlib) {
    std::vector<uint8_t> filtered(row_bytes + 1);
    const size_t bufsize = std::max<size_t>(65536, 4 * static_cast<size_t>(px.width));
    PillowZlibIdat idat(out, encoding.level, bufsize);
    for (int64_t y = 0; y < px.height; ++y) {
      filter.filter(row(y), filtered.data());
      idat.add_row(filtered.data(), row_bytes + 1);
    }
    idat.finish();
  } else if (encoding.engine == DeflateEngine::Rle) {
    // Large images are cut into two horizontal parts (each part's first row
    // is filtered against the row above it, so the filtered data is the
    // same; each part's deflate blocks end byte-aligned and the Adler-32s
    // combine), compressed on two threads. The cut depends on the image
    // alone, so that the bytes do too: an image encoded on the writer's or
    // save_images' workers, or on one core, has its parts compressed one
    // after the other on this thread, into the same file.
    const int parts = raw >= (size_t{256} << 10) && px.height >= 2 ? 2 : 1;
    const bool parallel = parts > 1 && encoder_may_use_threads();
    std::vector<int64_t> bounds = {0};
    for (int p = 1; p < parts; ++p) bounds.push_back(px.height * p / parts);
    bounds.push_back(px.height);
    // Part 0 is deflated straight into the IDAT chunk of `out`; the other,
    // on the helper thread, into its own buffer, appended after (on one
    // thread it follows straight into `out`).
    const size_t chunk_start = out.size();
    out.resize(chunk_start + 8);
    std::vector<Bytes> buffers(parallel ? 1 : 0);
    std::vector<RlePart> results(static_cast<size_t>(parts));
    results[0].out = &out;
    if (parts > 1) {
      results[1].out = &out;
      if (parallel) {
        buffers[0].reserve(deflate_bound((row_bytes + 1) * static_cast<size_t>(bounds[2] - bounds[1])));
        results[1].out = &buffers[0];
      }
    }
    std::exception_ptr error;
    std::thread helper;
    if (parallel) {
      helper = std::thread([&] {
        try {
          encode_rle_part(px, encoding, bounds[1], bounds[2], false, true, &results[1]);
        } catch (...) {
          error = std::current_exception();
        }
      });
    }
    try {
      encode_rle_part(px, encoding, bounds[0], bounds[1], true, parts == 1, &results[0]);
    } catch (...) {
      if (helper.joinable()) helper.join();
      throw;
    }
    if (helper.joinable()) helper.join();
    if (error) std::rethrow_exception(error);
    if (parts > 1 && !parallel) {
      // One thread: part 1 follows part 0 straight into `out`.
      encode_rle_part(px, encoding, bounds[1], bounds[2], false, true, &results[1]);
    }
    uLong adler = results[0].adler;
    for (int p = 1; p < parts; ++p) {
      adler = adler32_combine(adler, results[p].adler, static_cast<z_off_t>(results[p].input));
    }
    for (const auto& b : buffers) out.insert(out.end(), b.begin(), b.end());
    append_be32(out, static_cast<uint32_t>(adler));
    close_idat_chunks(out, chunk_start);
  } else {
#ifdef TORCHIMAGE_HAVE_ISAL
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
#else
    TORCH_CHECK(false, "encode_png: this build has no ISA-L engine");
#endif
  }
  write_png_chunk(out, "IEND", nullptr, 0);
}

}  // namespace torchimage
