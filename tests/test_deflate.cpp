// torchimage's deflate engines (run-length, LZ77), checked by zlib's inflate (an
// independent decoder) on inputs chosen to reach every path: runs longer
// than 258, runs across block and call boundaries, no runs at all, a single
// symbol, empty input, and filtered photo rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <random>

#include <zlib.h>

#include "codecs/png/deflate_lz.h"
#include "codecs/png/deflate_rle.h"
#include "codecs/png/png_encoder.h"
#include "core/encode_context.h"

#include <ATen/ATen.h>
#include <torchimage/io.h>

namespace {

using torchimage::RleDeflater;

std::vector<uint8_t> inflate_all(const std::vector<uint8_t>& z, size_t expected) {
  std::vector<uint8_t> out(expected + 16);
  uLongf n = static_cast<uLongf>(out.size());
  const int err = uncompress(out.data(), &n, z.data(), static_cast<uLong>(z.size()));
  EXPECT_EQ(err, Z_OK) << "zlib could not inflate the stream";
  out.resize(n);
  return out;
}

// Compresses `data`, fed in pieces of `piece` bytes, and checks the round trip.
void round_trip(const std::vector<uint8_t>& data, size_t piece, const std::string& what) {
  std::vector<uint8_t> z;
  RleDeflater d;
  for (size_t i = 0; i < data.size(); i += piece) {
    d.add(data.data() + i, std::min(piece, data.size() - i), z);
  }
  d.finish(z);
  const auto back = inflate_all(z, data.size());
  ASSERT_EQ(back.size(), data.size()) << what;
  EXPECT_TRUE(back == data) << what;
}

std::vector<uint8_t> runs_input(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v;
  std::uniform_int_distribution<int> len(1, 700), byte(0, 255), kind(0, 3);
  while (v.size() < n) {
    const int k = kind(rng);
    const int l = len(rng);
    const uint8_t b = static_cast<uint8_t>(k == 0 ? 0 : byte(rng));
    for (int i = 0; i < l && v.size() < n; ++i) v.push_back(k == 3 ? static_cast<uint8_t>(byte(rng)) : b);
  }
  return v;
}

TEST(RleDeflate, RoundTripsAcrossPiecesAndBlocks) {
  std::mt19937 rng(7);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{257}, size_t{259},
                   RleDeflater::kBlockInput - 1, RleDeflater::kBlockInput,
                   RleDeflater::kBlockInput + 1, size_t{200000}}) {
    const auto data = runs_input(rng, n);
    for (size_t piece : {size_t{1}, size_t{7}, size_t{1000}, size_t{1} << 20}) {
      if (piece == 1 && n > 5000) continue;
      round_trip(data, piece, "n=" + std::to_string(n) + " piece=" + std::to_string(piece));
    }
  }
}

TEST(RleDeflate, EdgeInputs) {
  round_trip(std::vector<uint8_t>(1 << 20, 0), 1 << 16, "a megabyte of zeros");
  round_trip(std::vector<uint8_t>(100000, 200), 999, "one other byte");
  std::vector<uint8_t> ramp(300000);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<uint8_t>(i);
  round_trip(ramp, 4096, "no runs");
  std::mt19937 rng(1);
  std::vector<uint8_t> noise(500000);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  round_trip(noise, 65536, "noise");
  // Runs that straddle the block boundary, of every length near it.
  for (size_t len = 1; len < 600; len += 37) {
    std::vector<uint8_t> v(RleDeflater::kBlockInput - len / 2, 1);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 7);
    v.insert(v.end(), len, 9);
    v.insert(v.end(), 1000, 3);
    round_trip(v, 5000, "straddle " + std::to_string(len));
  }
}

// Blocks that coding would not shrink (noise) are stored, as zlib stores
// them: 5 bytes of block header a block, and the bytes themselves. Noise
// with a compressible stretch in its middle keeps that stretch coded, and
// blocks of a skewed byte distribution stay coded. The streams inflate.
TEST(RleDeflate, IncompressibleBlocksAreStored) {
  std::mt19937 rng(11);
  std::vector<uint8_t> noise(300000);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  auto compress = [](const std::vector<uint8_t>& data) {
    std::vector<uint8_t> z;
    RleDeflater d;
    d.add(data.data(), data.size(), z);
    d.finish(z);
    EXPECT_TRUE(inflate_all(z, data.size()) == data);
    return z.size();
  };
  const size_t blocks = (noise.size() + RleDeflater::kBlockInput - 1) / RleDeflater::kBlockInput;
  // zlib header, a stored block header each (at most one padding byte
  // included), the Adler-32.
  EXPECT_LE(compress(noise), 2 + noise.size() + 6 * blocks + 4);
  std::vector<uint8_t> mixed = noise;
  std::fill(mixed.begin() + 100000, mixed.begin() + 200000, uint8_t{7});
  // (the two blocks that hold both noise and the run are coded: a few
  // hundred bytes over the noise's own size)
  EXPECT_LT(compress(mixed), 200000 + 1000);
  std::vector<uint8_t> skewed(300000);  // values 0-15 only: 4 bits a byte
  for (auto& b : skewed) b = static_cast<uint8_t>(rng() & 15);
  EXPECT_LT(compress(skewed), skewed.size() * 6 / 10);
}

TEST(RleDeflate, SkewedDistributionsKeepCodesWithin15Bits) {
  // Fibonacci-like frequencies force a deep Huffman tree that must be limited.
  std::vector<uint8_t> v;
  uint64_t a = 1, b = 1;
  for (int sym = 0; sym < 40 && v.size() < 3000000; ++sym) {
    for (uint64_t k = 0; k < a && v.size() < 3000000; ++k) v.push_back(static_cast<uint8_t>(sym * 5 + (k & 1)));
    const uint64_t c = a + b;
    a = b, b = c;
  }
  std::shuffle(v.begin(), v.end(), std::mt19937(3));
  round_trip(v, 1 << 18, "fibonacci frequencies");

  uint32_t freq[286];
  uint64_t f1 = 1, f2 = 1;
  for (int i = 0; i < 286; ++i) {
    freq[i] = static_cast<uint32_t>(std::min<uint64_t>(f1, 1u << 31));
    const uint64_t f3 = f1 + f2;
    f1 = f2, f2 = f3;
  }
  uint8_t len[286];
  torchimage::deflate_detail::huffman_lengths(freq, 286, 15, len);
  double kraft = 0;
  for (int i = 0; i < 286; ++i) {
    ASSERT_GE(len[i], 1);
    ASSERT_LE(len[i], 15);
    kraft += std::ldexp(1.0, -len[i]);
  }
  EXPECT_DOUBLE_EQ(kraft, 1.0);
}

// Where no code would be longer than the limit, huffman_lengths is an
// optimal prefix code: its cost (the sum of frequency x length) equals that
// of Huffman's algorithm run with a priority queue (the sum of the weights
// of the merged nodes). Frequencies from 1 to 2^30 take every pass of its
// radix sort; alphabets with unused symbols and many equal weights included.
TEST(RleDeflate, HuffmanLengthsAreOptimalWithinTheLimit) {
  std::mt19937 rng(21);
  int checked = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int n = trial % 2 ? 286 : 19;
    const uint32_t top = uint32_t{1} << (1 + trial % 30);
    uint32_t freq[286] = {0};
    for (int i = 0; i < n; ++i) {
      if (rng() % 4 == 0) continue;  // unused
      freq[i] = trial % 5 == 0 ? 7 : 1 + static_cast<uint32_t>(rng() % top);
    }
    std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> queue;
    int used = 0;
    for (int i = 0; i < n; ++i) {
      if (freq[i]) queue.push(freq[i]), ++used;
    }
    if (used < 2) continue;
    uint64_t optimal = 0;
    while (queue.size() > 1) {
      const uint64_t a = queue.top();
      queue.pop();
      const uint64_t b = queue.top();
      queue.pop();
      optimal += a + b;
      queue.push(a + b);
    }
    uint8_t len[286];
    torchimage::deflate_detail::huffman_lengths(freq, n, 15, len);
    uint64_t cost = 0;
    int longest = 0;
    double kraft = 0;
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(len[i] == 0, freq[i] == 0) << "symbol " << i << ", trial " << trial;
      cost += uint64_t{freq[i]} * len[i];
      longest = std::max<int>(longest, len[i]);
      if (len[i]) kraft += std::ldexp(1.0, -len[i]);
    }
    EXPECT_DOUBLE_EQ(kraft, 1.0) << "trial " << trial;
    if (longest < 15) {  // the limit did not change the code
      EXPECT_EQ(cost, optimal) << "trial " << trial << ", " << used << " symbols";
      ++checked;
    }
  }
  EXPECT_GT(checked, 300);
}

// A stream made of parts (as the two-thread PNG path makes it): part 0 with
// the header, byte-aligned non-final parts, combined Adler-32.
TEST(RleDeflate, PartsConcatenateIntoOneStream) {
  std::mt19937 rng(11);
  const auto data = runs_input(rng, 300000);
  for (size_t cut : {size_t{1}, size_t{1000}, size_t{150001}, size_t{299999}}) {
    std::vector<uint8_t> a, b;
    RleDeflater first(true), second(false);
    first.add(data.data(), cut, a);
    first.end(a, false);
    second.add(data.data() + cut, data.size() - cut, b);
    second.end(b, true);
    const uLong adler = adler32_combine(first.adler(), second.adler(), static_cast<z_off_t>(data.size() - cut));
    a.insert(a.end(), b.begin(), b.end());
    for (int k = 3; k >= 0; --k) a.push_back(static_cast<uint8_t>(adler >> (8 * k)));
    EXPECT_TRUE(inflate_all(a, data.size()) == data) << "cut " << cut;
  }
}

// The default PNG engine on an image large enough for two threads gives the
// same pixels, and the same bytes, as on one thread.
TEST(RleDeflate, TwoThreadPngMatchesOneThread) {
  at::manual_seed(5);
  const at::Tensor img = (at::rand({3, 40, 60}) * 255).to(at::kByte);
  const at::Tensor big = at::upsample_nearest2d(img.unsqueeze(0).to(at::kFloat), {400, 700})[0].to(at::kByte)
                             .add_((at::rand({3, 400, 700}) * 3).to(at::kByte));
  const at::Tensor parallel = torchimage::encode_png(big);
  at::Tensor serial;
  {
    torchimage::SerialEncodingScope scope;
    serial = torchimage::encode_png(big);
  }
  EXPECT_TRUE(torch::equal(torchimage::decode_image(parallel), big));
  EXPECT_TRUE(torch::equal(torchimage::decode_image(serial), big));
  // The same file either way: the cut into parts depends on the image alone
  // (save_image and save_images' workers must agree byte for byte).
  EXPECT_TRUE(torch::equal(parallel, serial));
}

TEST(RleDeflate, CompressesRunsWell) {
  std::vector<uint8_t> z;
  RleDeflater d;
  std::vector<uint8_t> zeros(1 << 20, 0);
  d.add(zeros.data(), zeros.size(), z);
  d.finish(z);
  EXPECT_LT(z.size(), 20000u);  // 1 MiB of zeros: runs of 258, a few bits each
}

}  // namespace

namespace {

// add_and_end writes what add() then end() write, with or without bytes
// pending from an earlier add(), final or not; and the stream inflates.
TEST(RleDeflate, AddAndEndIsAddThenEnd) {
  std::mt19937 rng(11);
  const size_t block = RleDeflater::kBlockInput;
  for (size_t size : {size_t{0}, size_t{1}, size_t{777}, block - 1, block, block + 1, 3 * block + 5}) {
    const auto data = runs_input(rng, size);
    for (size_t first : {size_t{0}, size_t{100}}) {  // bytes added before
      for (bool final : {true, false}) {
        const auto head = runs_input(rng, first);
        std::vector<uint8_t> a, b;
        RleDeflater x, y;
        x.add(head.data(), head.size(), a);
        x.add(data.data(), data.size(), a);
        x.end(a, final);
        y.add(head.data(), head.size(), b);
        y.add_and_end(data.data(), data.size(), b, final);
        EXPECT_TRUE(a == b) << size << " bytes after " << first << (final ? ", final" : "");
        EXPECT_EQ(x.adler(), y.adler());
        if (final) {
          std::vector<uint8_t> all = head;
          all.insert(all.end(), data.begin(), data.end());
          const uint32_t adler = y.adler();
          const uint8_t trailer[4] = {uint8_t(adler >> 24), uint8_t(adler >> 16),
                                      uint8_t(adler >> 8), uint8_t(adler)};
          b.insert(b.end(), trailer, trailer + 4);
          EXPECT_TRUE(inflate_all(b, all.size()) == all) << size << " bytes after " << first;
        }
      }
    }
  }
}

}  // namespace

namespace {

using torchimage::LzDeflater;

// A zlib stream of `data` by LzDeflater: header, the blocks of add() calls
// over consecutive pieces (each piece's `history` is the bytes before it,
// up to `keep`), the end, the Adler-32.
std::vector<uint8_t> lz_stream(const std::vector<uint8_t>& data, size_t piece, size_t keep,
                               const LzDeflater::Params& params) {
  std::vector<uint8_t> z = {0x78, 0x01};
  LzDeflater d(params);
  for (size_t i = 0; i < data.size() || i == 0; i += piece) {
    const size_t history = std::min(i, keep);
    d.add(data.data() + i - history, history, std::min(piece, data.size() - i), z);
    if (data.empty()) break;
  }
  d.end(z, true);
  const uLong adler = adler32(adler32(0L, Z_NULL, 0), data.data(), static_cast<uInt>(data.size()));
  for (int k = 3; k >= 0; --k) z.push_back(static_cast<uint8_t>(adler >> (8 * k)));
  return z;
}

// Rows of `stride` bytes that repeat at many distances (a pixel's bytes
// equal, as gray written as RGB; rows shifted copies of earlier ones; runs;
// noise), so that matches of every length and distance code occur.
std::vector<uint8_t> repeating_rows(std::mt19937& rng, size_t rows, size_t stride) {
  std::vector<uint8_t> v;
  std::uniform_int_distribution<int> byte(0, 255), kind(0, 4), shift(0, 40);
  for (size_t r = 0; r < rows; ++r) {
    const int k = kind(rng);
    const size_t start = v.size();
    for (size_t i = 0; i < stride; ++i) {
      uint8_t b;
      if (k == 0 && r >= 3) {
        b = v[start + i - stride * (1 + r % 3) + (i > 40 ? shift(rng) % 2 : 0)];  // an earlier row
      } else if (k == 1) {
        b = static_cast<uint8_t>(i / 3 % 5);  // equal triples
      } else if (k == 2) {
        b = static_cast<uint8_t>(i / 50);  // runs
      } else if (k == 3 && r > 20) {
        b = v[start + i - stride * 20];  // 20 rows up: a far distance
      } else {
        b = static_cast<uint8_t>(byte(rng) & (k == 4 ? 0x3 : 0xff));
      }
      v.push_back(b);
    }
  }
  return v;
}

TEST(LzDeflate, RoundTripsEveryShape) {
  std::mt19937 rng(17);
  for (size_t stride : {size_t{1}, size_t{7}, size_t{193}, size_t{1591}, size_t{6001}}) {
    for (size_t rows : {size_t{0}, size_t{1}, size_t{3}, size_t{40}, size_t{400}}) {
      const auto data = repeating_rows(rng, rows, stride);
      // Pixels of 1, 3 and 4 bytes (4 does not divide the rows of 7 and
      // 193 bytes: the match starts drift, and the stream must not care).
      for (int aligned_bpp : {0, 1, 3, 4}) {
        const bool aligned = aligned_bpp > 0;
        for (int chain : {1, 4, 64}) {
          LzDeflater::Params params;
          params.max_chain = chain;
          params.pixel_aligned = aligned;
          params.stride = stride;
          params.bytes_per_pixel = aligned ? aligned_bpp : 3;
          // Pieces of whole rows, with or without the bytes before them.
          for (size_t piece_rows : {size_t{1}, size_t{50}, size_t{1000}}) {
            for (size_t keep : {size_t{0}, size_t{32768}}) {
              const size_t piece = std::max<size_t>(1, piece_rows * stride);
              if (piece_rows == 1 && data.size() > 100000) continue;
              const auto z = lz_stream(data, piece, keep, params);
              EXPECT_TRUE(inflate_all(z, data.size()) == data)
                  << "stride " << stride << " rows " << rows << " pixel bytes " << aligned_bpp
                  << " chain " << chain << " piece " << piece << " keep " << keep;
            }
          }
        }
      }
    }
  }
}

TEST(LzDeflate, EdgeInputs) {
  const LzDeflater::Params params;
  for (size_t n = 0; n < 20; ++n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 3);
    EXPECT_TRUE(inflate_all(lz_stream(v, 1 << 20, 0, params), n) == v) << n << " bytes";
  }
  std::vector<uint8_t> zeros(3 << 20, 0);  // longest matches, many blocks
  const auto z = lz_stream(zeros, 1 << 20, 32768, params);
  EXPECT_TRUE(inflate_all(z, zeros.size()) == zeros);
  EXPECT_LT(z.size(), 40000u);
  std::mt19937 rng(2);
  std::vector<uint8_t> noise(700000);  // literals only: blocks end by symbol count
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  EXPECT_TRUE(inflate_all(lz_stream(noise, 1 << 20, 0, params), noise.size()) == noise);
  // Few distinct bytes (long minimum matches) and a skewed histogram.
  std::vector<uint8_t> skewed(400000);
  for (auto& b : skewed) b = static_cast<uint8_t>(rng() % 97 == 0 ? rng() % 256 : rng() % 4);
  EXPECT_TRUE(inflate_all(lz_stream(skewed, 150000, 32768, params), skewed.size()) == skewed);
}

// LZ77 finds what runs cannot: the same rows deflate smaller than by the
// run-length engine where they repeat at distances other than 1.
TEST(LzDeflate, FindsLongerDistancesThanRuns) {
  std::mt19937 rng(5);
  std::vector<uint8_t> row(999);
  for (auto& b : row) b = static_cast<uint8_t>(rng() % 16);
  std::vector<uint8_t> data;
  for (int r = 0; r < 300; ++r) data.insert(data.end(), row.begin(), row.end());
  const auto lz = lz_stream(data, 1 << 20, 0, LzDeflater::Params());
  std::vector<uint8_t> rle;
  RleDeflater d;
  d.add(data.data(), data.size(), rle);
  d.finish(rle);
  EXPECT_TRUE(inflate_all(lz, data.size()) == data);
  EXPECT_LT(lz.size() * 20, rle.size());
}

}  // namespace
