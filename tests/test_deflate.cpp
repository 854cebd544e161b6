// torchimage's run-length deflate engine, checked by zlib's inflate (an
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
