// Private: torchimage's LZ77 deflate engine for filtered image rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread_scratch.h"

namespace torchimage {

// A raw deflate (RFC 1951) encoder with a hash-chain match finder (chains
// of 8-byte hashes walked a bounded number of steps, the latest position of
// each 3- and 4-byte hash beside them), greedy parsing, a minimum match length chosen
// per block from how many byte values it uses) and dynamic Huffman blocks
// ended by symbol count. Where filtered rows
// repeat at distances other than 1 (gray written as RGB, strokes, flat
// shapes), it finds what the run-length engine (deflate_rle.h) cannot.
// No zlib header or checksum: the caller writes those (see idat_rle.cpp,
// which picks this engine or the run-length one per stretch of rows).
class LzDeflater {
 public:
  // Chain candidates examined per position, and the match length that ends
  // the search. The defaults are the default PNG engine's.
  struct Params {
    int max_chain = 4;
    int nice_length = 258;
    // Matches start only at a row's first byte (its filter type) or at a
    // pixel's, in rows of `stride` bytes (each chunk given to add() starts
    // a row) of `bytes_per_pixel`-byte pixels.
    bool pixel_aligned = false;
    size_t stride = 0;
    int bytes_per_pixel = 1;
  };

  LzDeflater() = default;
  explicit LzDeflater(Params params) : params_(params) {}
  ~LzDeflater();
  LzDeflater(const LzDeflater&) = delete;
  LzDeflater& operator=(const LzDeflater&) = delete;

  // Compresses base[history, history + size) as whole blocks; matches may
  // reach back into base[0, history) (at most 32 KiB of it is used).
  // Leaves the stream mid-byte: end() or another add() follows.
  void add(const uint8_t* base, size_t history, size_t size, std::vector<uint8_t>& out);

  // Ends the stream on a byte boundary: with `final`, an empty final block;
  // without, an empty stored block, so that other blocks can follow.
  void end(std::vector<uint8_t>& out, bool final);

 private:
  struct Match {
    uint32_t position;  // in base
    uint16_t length;    // 3-258
    uint16_t distance;  // 1-32768
  };
  // One block (not final) of base[begin, end): its matches, histograms.
  void encode_block(const uint8_t* base, size_t begin, size_t end, const Match* matches,
                    size_t n_matches, uint32_t* lit_freq, const uint32_t* dist_freq,
                    std::vector<uint8_t>& out);

  // The tables and buffers, the thread's (kept between images: see
  // ThreadScratch).
  struct Storage {
    std::vector<int32_t> head3;  // per 3-byte hash: the latest position, or -1
    std::vector<int32_t> head4;  // per 4-byte hash: the same
    std::vector<int32_t> head8;  // per 8-byte hash: the same
    std::vector<int32_t> chain;  // per position mod window: the previous one with its 8-byte hash
    std::unique_ptr<Match[]> matches;  // a block's
    size_t matches_size = 0;
    std::unique_ptr<uint8_t[]> bits_out;  // a block's bits
    size_t bits_out_size = 0;
  };

  Params params_;
  ThreadScratch<Storage> storage_;
  uint64_t bits_ = 0;
  int nbits_ = 0;
};

// Which engine a probe of `data` (filtered rows) expects to pay: slices of
// it are parsed both ways and their sizes estimated (literals at their
// entropy, matches at their codes' lengths). It reads 4 KiB at most: some
// 15 microseconds, a hundredth of compressing a 64-sample sheet.
enum class LzProbe {
  Runs,        // LZ77 saves little: the run-length engine (deflate_rle.h)
  Pixels,      // LZ77 saves: matches at pixel starts (Params::pixel_aligned)
  Everywhere,  // flat content (under 2.5 bits a byte as runs alone), whose long
               // repeats a slice does not show: matches at every position
};
LzProbe probe_lz(const uint8_t* data, size_t size);

}  // namespace torchimage
