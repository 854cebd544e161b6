// PNG IDAT chunks by torchimage's run-length deflate (deflate_rle.h): the default engine.
#include <algorithm>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include <zlib.h>

#include "codecs/png/deflate_rle.h"
#include "codecs/png/idat.h"
#include "codecs/png/png_chunks.h"
#include "core/encode_context.h"

namespace torchimage {
namespace {

// One part of the zlib stream: where it went, its Adler-32 and input size.
struct RlePart {
  Bytes* out = nullptr;  // appended to
  uint32_t adler = 0;
  size_t input = 0;
};

// Filters rows [y0, y1) and deflates them as one part of a zlib stream
// (part 0 carries the header, the last part the final block).
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

}  // namespace

void write_idat_rle(const PixelView& px, const PngEncoding& encoding, Bytes& out) {
  const size_t row_bytes = px.row_bytes();
  const size_t raw = (row_bytes + 1) * static_cast<size_t>(px.height);
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
      const size_t rows = static_cast<size_t>(bounds[2] - bounds[1]);
      buffers[0].reserve(deflate_bound((row_bytes + 1) * rows));
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
}

}  // namespace torchimage
