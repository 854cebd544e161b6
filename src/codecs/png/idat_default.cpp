// PNG IDAT chunks by torchimage's own deflate engines, the default: the
// run-length engine (deflate_rle.h) or the LZ77 one (deflate_lz.h), chosen
// per part of the image by a probe of its filtered rows (probe_lz), or one
// of them forced (DeflateEngine::Rle, DeflateEngine::Lz).
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include <zlib.h>

#include "codecs/png/deflate_bits.h"
#include "codecs/png/deflate_lz.h"
#include "codecs/png/deflate_rle.h"
#include "codecs/png/idat.h"
#include "codecs/png/png_chunks.h"
#include "core/encode_context.h"
#include "core/parallel_parts.h"
#include "core/thread_scratch.h"

namespace torchimage {
namespace {

// Filtered bytes deflated at a time: about 128 KiB of rows for the
// run-length engine (they stay in cache between the filter and the
// deflater), about 1 MiB for LZ77, whose matches reach across a chunk's
// rows and, through the last 32 KiB kept before the next chunk, into the
// previous chunk's.
constexpr size_t kRleChunk = size_t{128} << 10;
constexpr size_t kLzChunk = size_t{1} << 20;
constexpr size_t kLzHistory = size_t{32} << 10;

// A part's filtered rows: a thread's, kept between images.
struct Staging {
  std::unique_ptr<uint8_t[]> bytes;
  size_t size = 0;
};

// One part of the zlib stream: where it went, its Adler-32 and input size.
struct Part {
  Bytes* out = nullptr;  // appended to
  uint32_t adler = 1;
  size_t input = 0;
};

// Filters rows [y0, y1) and deflates them as one part of a zlib stream
// (part 0 carries the header, the last part the final block).
void encode_part(const PixelView& px, const PngEncoding& encoding, int64_t y0, int64_t y1,
                 bool first, bool last, Part* part) {
  const size_t row_bytes = px.row_bytes();
  const size_t stride = row_bytes + 1;
  const int bpp = static_cast<int>(px.channels * (px.bit_depth / 8));
  auto row = [&](int64_t y) { return px.data + static_cast<size_t>(y) * row_bytes; };
  const size_t rows = static_cast<size_t>(y1 - y0);
  part->input = rows * stride;
  Bytes& out = *part->out;
  if (rows == 0) {  // an empty part: a header if it is the first, an empty block
    RleDeflater deflater(/*zlib_header=*/first);
    deflater.end(out, last);
    part->adler = deflater.adler();
    return;
  }
  RowFilter filter(row_bytes, bpp, encoding.filter);
  if (y0 > 0) filter.set_previous(row(y0 - 1));
  // Room for a chunk of LZ77's size (or the whole part, if smaller: a small
  // image must not pay for a large buffer, which malloc would map and unmap
  // on every call), and the history before it.
  const size_t lz_rows = std::min(rows, std::max<size_t>(1, kLzChunk / stride));
  const size_t rle_rows = std::max<size_t>(1, kRleChunk / stride);
  const size_t history = rows > lz_rows || y0 > 0 ? kLzHistory : 0;
  // The thread's buffer, kept between images (ThreadScratch) up to 4 MiB
  // (rows of over 1 MiB get their own); never cleared: every byte is
  // written by the filter before it is read.
  const ThreadScratch<Staging> staging;
  std::unique_ptr<uint8_t[]> own;
  const size_t staging_size = history + lz_rows * stride;
  uint8_t* buffer = nullptr;
  if (staging_size > (size_t{4} << 20)) {
    own.reset(new uint8_t[staging_size]);
    buffer = own.get();
  } else {
    if (staging->size < staging_size) {
      staging->bytes.reset(new uint8_t[staging_size]);
      staging->size = staging_size;
    }
    buffer = staging->bytes.get();
  }
  uint8_t* const chunk = buffer + history;
  int64_t y = y0;
  // Filters the next n rows (fewer at the part's end) to chunk + at.
  auto filter_rows = [&](size_t n, size_t at) {
    size_t used = 0;
    for (size_t r = 0; r < n && y < y1; ++r, ++y) {
      filter.filter(row(y), chunk + at + used);
      used += stride;
    }
    return used;
  };
  // The probe reads the first run-length chunk: the run-length engine
  // deflates it while it is still in cache, the LZ77 one gets the rest of
  // its chunk after it.
  size_t used = filter_rows(std::min(lz_rows, rle_rows), 0);
  LzProbe choice = LzProbe::Runs;
  if (encoding.engine == DeflateEngine::Lz) choice = LzProbe::Everywhere;
  if (encoding.engine == DeflateEngine::Auto) choice = probe_lz(chunk, used);
  if (choice == LzProbe::Runs) {
    RleDeflater deflater(/*zlib_header=*/first);
    for (;;) {
      if (y == y1) {
        deflater.add_and_end(chunk, used, out, last);
        break;
      }
      deflater.add(chunk, used, out);
      used = filter_rows(rle_rows, 0);
    }
    part->adler = deflater.adler();
    return;
  }
  if (first) {
    // CMF 0x78: deflate, 32 KiB window; FLG 0x01: fastest, check bits.
    out.push_back(0x78);
    out.push_back(0x01);
  }
  // Flat content (LzProbe::Everywhere) repeats far and long: a longer walk
  // finds much longer matches, and costs little there, where a search
  // covers many bytes. Elsewhere matches are short and searches many.
  LzDeflater::Params params;
  params.pixel_aligned = choice == LzProbe::Pixels;
  params.max_chain = choice == LzProbe::Pixels ? 4 : 32;
  params.nice_length = choice == LzProbe::Pixels ? 258 : 128;
  params.stride = stride;
  params.bytes_per_pixel = bpp;
  used += filter_rows(lz_rows - used / stride, used);
  LzDeflater deflater(params);
  uint32_t adler = 1;
  size_t kept = 0;  // bytes of history before the chunk
  if (y0 > 0) {
    // The stream is one, and so is its window: this part's matches may
    // reach into the rows before it, filtered here as the part before
    // filtered them (whole rows, 32 KiB at most).
    const int64_t before = std::min<int64_t>(y0, static_cast<int64_t>(kLzHistory / stride));
    RowFilter previous(row_bytes, bpp, encoding.filter);
    if (y0 - before > 0) previous.set_previous(row(y0 - before - 1));
    kept = static_cast<size_t>(before) * stride;
    for (int64_t k = 0; k < before; ++k) {
      previous.filter(row(y0 - before + k), chunk - kept + static_cast<size_t>(k) * stride);
    }
  }
  for (;;) {
    adler = deflate_detail::adler32_update(adler, chunk, used);
    deflater.add(chunk - kept, kept, used, out);
    if (y == y1) break;
    // The chunk's last 32 KiB become the next one's history.
    kept = std::min(history, used);
    std::memmove(chunk - kept, chunk + used - kept, kept);
    used = filter_rows(lz_rows, 0);
  }
  deflater.end(out, last);
  part->adler = adler;
}

}  // namespace

void write_idat_default(const PixelView& px, const PngEncoding& encoding, Bytes& out) {
  const size_t row_bytes = px.row_bytes();
  const size_t raw = (row_bytes + 1) * static_cast<size_t>(px.height);
  // Images of 64 KiB of rows and more (a 64-sample sheet of 32x32 RGB
  // samples is 225 KiB, PyTorch-GAN's 25 samples of 32x32 gray written as
  // RGB 89 KiB) are cut into two horizontal parts (each part's first row
  // is filtered against the row above it, so the filtered data is the
  // same; each part's deflate blocks end byte-aligned and the Adler-32s
  // combine), compressed by run_parts: on this thread and the process's
  // helper thread where the encoder may use threads, one after the other
  // here otherwise (the writer's and save_images' workers, one core). The
  // cut depends on the image alone, so that the bytes do too. Measured
  // (session 16, save_image A/B against 128 KiB): the 89 KiB sheet 0.86x
  // the time on LZ77 content, the same on photos (0.45 ms, run-length).
  const int parts = raw >= (size_t{64} << 10) && px.height >= 2 ? 2 : 1;
  std::vector<int64_t> bounds = {0};
  for (int p = 1; p < parts; ++p) bounds.push_back(px.height * p / parts);
  bounds.push_back(px.height);
  // Part 0 is deflated straight into the IDAT chunk of `out`. Where the
  // parts may run on two threads the others go into their own buffers,
  // appended after it; on one thread run_parts runs them in order, each
  // straight after the one before.
  const size_t chunk_start = out.size();
  out.resize(chunk_start + 8);
  const bool buffered = parts > 1 && encoder_may_use_threads();
  std::vector<Bytes> buffers(buffered ? static_cast<size_t>(parts - 1) : 0);
  std::vector<Part> results(static_cast<size_t>(parts));
  for (int p = 0; p < parts; ++p) results[p].out = &out;
  for (size_t k = 0; k < buffers.size(); ++k) {
    const size_t rows = static_cast<size_t>(bounds[k + 2] - bounds[k + 1]);
    buffers[k].reserve(deflate_bound((row_bytes + 1) * rows));
    results[k + 1].out = &buffers[k];
  }
  run_parts(parts, [&](int p) {
    encode_part(px, encoding, bounds[p], bounds[p + 1], p == 0, p == parts - 1, &results[p]);
  });
  uLong adler = results[0].adler;
  for (int p = 1; p < parts; ++p) {
    adler = adler32_combine(adler, results[p].adler, static_cast<z_off_t>(results[p].input));
  }
  for (const auto& b : buffers) out.insert(out.end(), b.begin(), b.end());
  append_be32(out, static_cast<uint32_t>(adler));
  close_idat_chunks(out, chunk_start);
}

}  // namespace torchimage
