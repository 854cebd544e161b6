// Private: torchimage's own deflate engine for filtered image rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace torchimage {

// A zlib-format (RFC 1950/1951) stream encoder specialised for PNG data:
// run-length matches (distance 1, as zlib's Z_RLE strategy) and dynamic
// Huffman blocks with codes built per block. Filtered photo rows compress
// within about 2% of zlib level 6 (which searches far more) at a small
// fraction of its time; see benchmarks/bench_png.cpp.
class RleDeflater {
 public:
  using Sink = void (*)(void* ctx, const uint8_t* data, size_t size);

  // Bytes of input per deflate block: each block gets its own Huffman codes.
  static constexpr size_t kBlockInput = size_t{1} << 15;

  // `zlib_header`: start with the 2-byte zlib header (false for the later
  // parts of a stream compressed in parts).
  explicit RleDeflater(bool zlib_header = true);

  // Appends the compressed form of `data` to `out` (whole blocks at a time;
  // bytes still pending stay buffered until the next call or finish()).
  void add(const uint8_t* data, size_t size, std::vector<uint8_t>& out);

  // add() then end(), without buffering `data` when nothing is pending:
  // the same bytes, one copy of the input fewer.
  void add_and_end(const uint8_t* data, size_t size, std::vector<uint8_t>& out, bool final);

  // Writes the remaining blocks, the final one marked, and the Adler-32.
  void finish(std::vector<uint8_t>& out);

  // Writes the remaining blocks and ends on a byte boundary: with `final`,
  // the last block is marked final; without, an empty stored block aligns
  // the stream so that another part's blocks can follow. No Adler-32.
  void end(std::vector<uint8_t>& out, bool final);

  // Adler-32 of all input so far.
  uint32_t adler() const { return adler_; }

 private:
  void encode_block(const uint8_t* data, size_t size, bool final, std::vector<uint8_t>& out);
  // Blocks shorter than this are always coded.
  static constexpr size_t kMinStored = 1024;
  void update_adler(const uint8_t* data, size_t size);
  // end()'s last step, after the last block: byte alignment.
  void align(std::vector<uint8_t>& out, bool final);

  struct Match {
    uint32_t position;  // in the block
    uint16_t length;    // 3-258, distance 1
  };

  std::vector<uint8_t> pending_;
  std::vector<Match> matches_;
  // Where a block's bits are written before they are appended to the
  // output: room for the worst case, not zero-filled (a resize of the output
  // would fill twice the block's size with zeros first).
  std::unique_ptr<uint8_t[]> bits_out_;
  size_t bits_out_size_ = 0;
  uint32_t adler_;
  uint64_t bits_ = 0;  // bits not yet written (fewer than 8), LSB first
  int nbits_ = 0;
  bool header_written_ = false;  // or not wanted
  bool have_prev_ = false;
  uint8_t prev_ = 0;
};

namespace deflate_detail {
// Huffman code lengths (0 for unused symbols) limited to `max_bits`, for
// `freq` of n symbols. At least two lengths are non-zero when n >= 2.
void huffman_lengths(const uint32_t* freq, int n, int max_bits, uint8_t* lengths);
// Canonical codes, bit-reversed for LSB-first output.
void canonical_codes(const uint8_t* lengths, int n, uint16_t* codes);
}  // namespace deflate_detail

}  // namespace torchimage
