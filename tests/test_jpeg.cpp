// JPEG through torchimage: encode_jpeg's output is a well-formed baseline
// JPEG that decodes to the input's shape and, at high quality, close to its
// pixels; quality and channel errors are clear; decode_image of real and of
// hostile JPEG bytes either decodes or throws c10::Error, silently.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <c10/util/Exception.h>
#include <torch/torch.h>
#include <torchimage/io.h>

#include "test_util.h"

namespace {

using Bytes = std::vector<uint8_t>;

const torch::Tensor& photo(const std::string& name) {
  static std::map<std::string, torch::Tensor> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    it = cache.emplace(name, torchimage::read_image(std::string(TORCHIMAGE_PHOTOS) + "/" + name)).first;
  }
  return it->second;
}

// A smooth RGB crop of a photo, or its luma.
torch::Tensor photo_crop(int64_t c, int64_t h, int64_t w, int64_t y0 = 120, int64_t x0 = 140,
                         const std::string& name = "astronaut.png") {
  const torch::Tensor& src = photo(name);
  TORCH_CHECK(h <= src.size(1) && w <= src.size(2), "crop larger than ", name);
  y0 = std::min(y0, src.size(1) - h);
  x0 = std::min(x0, src.size(2) - w);
  torch::Tensor rgb = src.slice(1, y0, y0 + h).slice(2, x0, x0 + w);
  if (c == 3) return rgb.contiguous();
  torch::Tensor f = rgb.to(torch::kInt32);
  return ((f[0] * 299 + f[1] * 587 + f[2] * 114 + 500) / 1000)
      .clamp(0, 255)
      .to(torch::kUInt8)
      .unsqueeze(0)
      .contiguous();
}

using torchimage_test::to_bytes;
using torchimage_test::to_tensor;

double mean_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().mean().item<double>();
}

int max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kInt32) - b.to(torch::kInt32)).abs().max().item<int>();
}

double psnr(const torch::Tensor& a, const torch::Tensor& b) {
  const double mse = (a.to(torch::kDouble) - b.to(torch::kDouble)).pow(2).mean().item<double>();
  return mse == 0 ? 1e9 : 10 * std::log10(255.0 * 255.0 / mse);
}

using torchimage_test::StderrCapture;

void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a c10::Error";
  } catch (const c10::Error& e) {
    const std::string m = e.what_without_backtrace();
    for (const auto& part : parts) EXPECT_NE(m.find(part), std::string::npos) << "message: " << m;
  }
}

// Outcome of decoding hostile bytes: thrown c10::Error (message), a decoded
// image, or a non-c10 exception (a test failure). Checks nothing was printed.
struct DecodeOutcome {
  bool threw = false;
  std::string message;
  torch::Tensor image;
};

DecodeOutcome decode_quietly(const Bytes& data, const torchimage::DecodeOptions& o = {}) {
  DecodeOutcome r;
  StderrCapture capture;
  try {
    r.image = torchimage::decode_image(to_tensor(data), o);
  } catch (const c10::Error& e) {
    r.threw = true;
    r.message = e.what_without_backtrace();
  } catch (const std::exception& e) {
    r.threw = true;
    r.message = e.what();
    ADD_FAILURE() << "non-c10 exception: " << e.what();
  }
  const std::string printed = capture.finish();
  EXPECT_EQ(printed, "") << "the decoder printed to stderr (" << data.size() << " bytes)";
  return r;
}

// Walks the marker segments up to SOS: returns the markers seen (second byte).
std::vector<uint8_t> header_markers(const Bytes& j) {
  std::vector<uint8_t> markers;
  size_t pos = 2;
  while (pos + 4 <= j.size() && j[pos] == 0xff) {
    const uint8_t m = j[pos + 1];
    markers.push_back(m);
    const size_t len = (size_t{j[pos + 2]} << 8) | j[pos + 3];
    if (m == 0xda) break;
    pos += 2 + len;
  }
  return markers;
}

void check_jpeg_structure(const Bytes& j, int channels, int64_t h, int64_t w) {
  ASSERT_GE(j.size(), 4u);
  EXPECT_EQ(j[0], 0xff);
  EXPECT_EQ(j[1], 0xd8) << "SOI";
  EXPECT_EQ(j[j.size() - 2], 0xff);
  EXPECT_EQ(j[j.size() - 1], 0xd9) << "EOI";
  const std::vector<uint8_t> m = header_markers(j);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.front(), 0xe0) << "JFIF APP0 first";
  EXPECT_EQ(m.back(), 0xda) << "SOS ends the header";
  EXPECT_NE(std::find(m.begin(), m.end(), 0xc0), m.end()) << "baseline SOF0";
  EXPECT_EQ(std::find(m.begin(), m.end(), 0xc2), m.end()) << "no progressive SOF2";
  // SOF0 fields: precision 8, height, width, components.
  size_t pos = 2;
  while (pos + 4 <= j.size()) {
    const uint8_t marker = j[pos + 1];
    const size_t len = (size_t{j[pos + 2]} << 8) | j[pos + 3];
    if (marker == 0xc0) {
      EXPECT_EQ(j[pos + 4], 8);
      EXPECT_EQ((j[pos + 5] << 8) | j[pos + 6], h);
      EXPECT_EQ((j[pos + 7] << 8) | j[pos + 8], w);
      EXPECT_EQ(j[pos + 9], channels);
      if (channels == 3) {
        EXPECT_EQ(j[pos + 11], 0x22) << "4:2:0: luma sampled 2x2";
        EXPECT_EQ(j[pos + 14], 0x11);
        EXPECT_EQ(j[pos + 17], 0x11);
      }
      break;
    }
    pos += 2 + len;
  }
}

// ===========================================================================

TEST(JpegEncode, RgbAndGrayShapesAndMarkers) {
  struct Case { int64_t c, h, w; bool photo; };
  const std::vector<Case> cases = {
      {3, 96, 128, true}, {1, 96, 128, true}, {3, 1, 1, false}, {1, 1, 1, false},
      {3, 3, 5, false},   {1, 7, 2, false},   {3, 17, 9, true}, {1, 33, 65, true},
      {3, 15, 16, false}, {3, 300, 400, true}};
  for (const Case& k : cases) {
    SCOPED_TRACE(::testing::Message() << "C=" << k.c << " H=" << k.h << " W=" << k.w);
    torch::manual_seed(k.h * 1000 + k.w);
    const torch::Tensor img = k.photo ? photo_crop(k.c, k.h, k.w)
                                      : torch::randint(0, 256, {k.c, k.h, k.w}, torch::kUInt8);
    for (int q : {1, 50, 75, 95, 100}) {
      const torch::Tensor jpg = torchimage::encode_jpeg(img, torchimage::JpegOptions().quality(q));
      ASSERT_EQ(jpg.scalar_type(), torch::kUInt8);
      ASSERT_EQ(jpg.dim(), 1);
      ASSERT_NO_FATAL_FAILURE(check_jpeg_structure(to_bytes(jpg), static_cast<int>(k.c), k.h, k.w));
      const DecodeOutcome d = decode_quietly(to_bytes(jpg));
      ASSERT_FALSE(d.threw) << d.message;
      EXPECT_EQ(d.image.scalar_type(), torch::kUInt8);
      EXPECT_EQ(d.image.sizes(), img.sizes());
    }
  }
}

TEST(JpegEncode, DefaultQualityIs75AndDeterministic) {
  const torch::Tensor img = photo_crop(3, 64, 80);
  const torch::Tensor a = torchimage::encode_jpeg(img);
  EXPECT_TRUE(torch::equal(a, torchimage::encode_jpeg(img, torchimage::JpegOptions().quality(75))));
  EXPECT_TRUE(torch::equal(a, torchimage::encode_jpeg(img.clone())));
  EXPECT_EQ(torchimage::JpegOptions().quality(), 75);
  // Layout does not matter: a channels-last copy encodes the same bytes.
  const torch::Tensor cl = img.permute({1, 2, 0}).contiguous().permute({2, 0, 1});
  EXPECT_TRUE(torch::equal(a, torchimage::encode_jpeg(cl)));
}

TEST(JpegEncode, Quality100IsCloseOnSmoothPhotos) {
  for (const char* name : {"astronaut.png", "coffee.png", "chelsea.png"}) {
    for (int64_t c : {1, 3}) {
      SCOPED_TRACE(::testing::Message() << name << " C=" << c);
      const torch::Tensor img = photo_crop(c, 128, 160, 100, 100, name);
      const torch::Tensor back =
          torchimage::decode_image(torchimage::encode_jpeg(img, torchimage::JpegOptions().quality(100)));
      ASSERT_EQ(back.sizes(), img.sizes());
      EXPECT_LT(mean_abs_diff(back, img), c == 1 ? 0.75 : 2.0);
      EXPECT_GT(psnr(back, img), c == 1 ? 45.0 : 35.0);
      if (c == 1) {
        EXPECT_LE(max_abs_diff(back, img), 4) << "gray has no chroma subsampling";
      }
    }
  }
  // A flat image survives exactly at any quality above the lowest.
  const torch::Tensor flat = torch::full({3, 32, 48}, 128, torch::kUInt8);
  for (int q : {50, 75, 100}) {
    const torch::Tensor back =
        torchimage::decode_image(torchimage::encode_jpeg(flat, torchimage::JpegOptions().quality(q)));
    EXPECT_LE(max_abs_diff(back, flat), 1) << "quality " << q;
  }
}

TEST(JpegEncode, EveryQualityWorksAndSizeGrows) {
  const torch::Tensor img = photo_crop(3, 160, 200);
  const torch::Tensor gray = photo_crop(1, 160, 200);
  for (const torch::Tensor* src : {&img, &gray}) {
    std::vector<int64_t> size(101, 0);
    std::vector<double> err(101, 0);
    for (int q = 1; q <= 100; ++q) {
      const torch::Tensor jpg = torchimage::encode_jpeg(*src, torchimage::JpegOptions().quality(q));
      const torch::Tensor back = torchimage::decode_image(jpg);
      ASSERT_EQ(back.sizes(), src->sizes()) << "quality " << q;
      size[q] = jpg.numel();
      err[q] = mean_abs_diff(back, *src);
    }
    // Generally increasing: few decreases step to step, and strictly
    // increasing every ten steps.
    int decreases = 0;
    for (int q = 2; q <= 100; ++q) decreases += size[q] < size[q - 1];
    EXPECT_LE(decreases, 10);
    for (int q = 10; q <= 100; q += 10) EXPECT_GT(size[q], size[q - 9]) << "quality " << q;
    EXPECT_GT(size[100], 3 * size[10]);
    EXPECT_LT(err[100], err[50]);
    EXPECT_LT(err[50], err[5]);
  }
}

TEST(JpegEncode, Errors) {
  using torchimage::encode_jpeg;
  const torch::Tensor ok = torch::zeros({3, 8, 8}, torch::kUInt8);
  for (int q : {0, 101, -1, 1000}) {
    expect_error([&] { encode_jpeg(ok, torchimage::JpegOptions().quality(q)); },
                 {"encode_jpeg", "quality", "1-100", std::to_string(q)});
  }
  expect_error([] { encode_jpeg(torch::zeros({2, 8, 8}, torch::kUInt8)); },
               {"encode_jpeg", "alpha", "2"});
  expect_error([] { encode_jpeg(torch::zeros({4, 8, 8}, torch::kUInt8)); },
               {"encode_jpeg", "alpha", "4"});
  expect_error([] { encode_jpeg(torch::zeros({5, 8, 8}, torch::kUInt8)); }, {"encode_jpeg", "channels"});
  expect_error([] { encode_jpeg(torch::zeros({3, 8, 8}, torch::kFloat)); }, {"encode_jpeg", "uint8"});
  expect_error([] { encode_jpeg(torch::zeros({8, 8}, torch::kUInt8)); }, {"encode_jpeg", "3-D"});
  expect_error([] { encode_jpeg(torch::zeros({3, 0, 8}, torch::kUInt8)); }, {"encode_jpeg", "empty"});
  expect_error([] { encode_jpeg(torch::zeros({3, 8, 70000}, torch::kUInt8)); },
               {"encode_jpeg", "65500"});
}

TEST(JpegDecode, RocketPhoto) {
  const std::string path = std::string(TORCHIMAGE_PHOTOS) + "/rocket.jpg";
  const torch::Tensor img = torchimage::read_image(path);
  ASSERT_EQ(img.scalar_type(), torch::kUInt8);
  ASSERT_EQ(img.sizes(), torch::IntArrayRef({3, 427, 640}));
  EXPECT_GT(img.to(torch::kFloat).std().item<double>(), 10.0) << "real content";
  // read_image is decode_image(read_file(...)), and decoding is deterministic.
  const torch::Tensor bytes = torchimage::read_file(path);
  EXPECT_TRUE(torch::equal(torchimage::decode_image(bytes), img));
  EXPECT_TRUE(torch::equal(torchimage::decode_image(bytes), img));
  const Bytes b = to_bytes(bytes);
  EXPECT_EQ(b[0], 0xff);
  EXPECT_EQ(b[1], 0xd8);

  // Re-encoding round trips stably: at quality 95 close to the source, and
  // repeated generations converge (JPEG's idempotence at fixed settings).
  const torch::Tensor q95 =
      torchimage::decode_image(torchimage::encode_jpeg(img, torchimage::JpegOptions().quality(95)));
  ASSERT_EQ(q95.sizes(), img.sizes());
  EXPECT_GT(psnr(q95, img), 33.0);
  torch::Tensor gen = img;
  double last_step = 1e9;
  for (int g = 0; g < 4; ++g) {
    torch::Tensor next = torchimage::decode_image(torchimage::encode_jpeg(gen));
    ASSERT_EQ(next.sizes(), img.sizes());
    last_step = mean_abs_diff(next, gen);
    gen = next;
  }
  EXPECT_LT(last_step, 0.5) << "generation loss should settle";
  EXPECT_GT(psnr(gen, img), 28.0);
}

TEST(JpegDecode, GrayStaysGray) {
  const torch::Tensor gray = photo_crop(1, 50, 70);
  const torch::Tensor back = torchimage::decode_image(torchimage::encode_jpeg(gray));
  EXPECT_EQ(back.sizes(), torch::IntArrayRef({1, 50, 70}));
  // A gray image given as RGB decodes as RGB with near-equal channels.
  const torch::Tensor rgb = gray.expand({3, 50, 70}).contiguous();
  const torch::Tensor back3 = torchimage::decode_image(torchimage::encode_jpeg(rgb));
  ASSERT_EQ(back3.sizes(), torch::IntArrayRef({3, 50, 70}));
  EXPECT_LE(max_abs_diff(back3[0], back3[1]), 3);
}

TEST(JpegDecode, MaxPixels) {
  const torch::Tensor jpg = torchimage::encode_jpeg(photo_crop(3, 10, 12));
  EXPECT_EQ(torchimage::decode_image(jpg, torchimage::DecodeOptions().max_pixels(120)).size(2), 12);
  const DecodeOutcome d = decode_quietly(to_bytes(jpg), torchimage::DecodeOptions().max_pixels(119));
  ASSERT_TRUE(d.threw);
  EXPECT_NE(d.message.find("max_pixels"), std::string::npos) << d.message;
}

// (test_png.cpp checks that StderrCapture captures descriptor 2, which the
// "nothing printed" checks below rely on.)

// ---------------------------------------------------------------------------
// Hostile bytes.

Bytes small_jpeg() {
  return to_bytes(torchimage::encode_jpeg(photo_crop(3, 24, 40), torchimage::JpegOptions().quality(90)));
}

TEST(JpegHostile, TruncatedAtManyLengths) {
  const Bytes j = small_jpeg();
  ASSERT_FALSE(decode_quietly(j).threw);
  std::vector<size_t> accepted;
  for (size_t n = 0; n < j.size(); ++n) {
    const DecodeOutcome d = decode_quietly(Bytes(j.begin(), j.begin() + static_cast<std::ptrdiff_t>(n)));
    if (!d.threw) accepted.push_back(n);
    if (HasFatalFailure()) return;
  }
  size_t scan_start = 2;  // first byte of entropy-coded data, after the SOS segment
  while (j[scan_start + 1] != 0xda) scan_start += 2 + ((size_t{j[scan_start + 2]} << 8) | j[scan_start + 3]);
  scan_start += 2 + ((size_t{j[scan_start + 2]} << 8) | j[scan_start + 3]);
  EXPECT_TRUE(accepted.empty())
      << accepted.size() << " of " << j.size() << " truncated prefixes decoded without an error, "
      << "from the prefix of " << (accepted.empty() ? 0 : accepted.front()) << " to that of "
      << (accepted.empty() ? 0 : accepted.back()) << " bytes (the scan data starts at byte "
      << scan_start << ", the full file is " << j.size() << " bytes)";
}

TEST(JpegHostile, GarbageAfterSoi) {
  std::mt19937 rng(17);
  for (int iter = 0; iter < 200; ++iter) {
    Bytes b = {0xff, 0xd8, 0xff};
    const size_t n = 1 + rng() % 2000;
    for (size_t k = 0; k < n; ++k) b.push_back(static_cast<uint8_t>(rng()));
    const DecodeOutcome d = decode_quietly(b);
    EXPECT_TRUE(d.threw) << "iteration " << iter << ": garbage decoded to " << d.image.sizes();
    if (HasFailure()) return;
  }
  // Signature alone, SOI + EOI, and a header without scan data.
  for (const Bytes& b : {Bytes{0xff, 0xd8, 0xff}, Bytes{0xff, 0xd8, 0xff, 0xd9}}) {
    EXPECT_TRUE(decode_quietly(b).threw);
  }
  const Bytes j = small_jpeg();
  const std::vector<uint8_t> m = header_markers(j);
  ASSERT_EQ(m.back(), 0xda);
  Bytes header_only(j.begin(), j.begin() + 2);
  size_t pos = 2;
  while (j[pos + 1] != 0xda) pos += 2 + ((size_t{j[pos + 2]} << 8) | j[pos + 3]);
  header_only.assign(j.begin(), j.begin() + static_cast<std::ptrdiff_t>(pos));
  header_only.push_back(0xff);
  header_only.push_back(0xd9);
  EXPECT_TRUE(decode_quietly(header_only).threw);
}

TEST(JpegHostile, CorruptBytesNeverCrash) {
  // Random mutations anywhere: each input decodes (libjpeg conceals some
  // entropy-data damage) or throws c10::Error; never crashes, never prints.
  const Bytes j = small_jpeg();
  std::mt19937 rng(99);
  int threw = 0, decoded = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    Bytes b = j;
    const int flips = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < flips; ++k) b[3 + rng() % (b.size() - 3)] = static_cast<uint8_t>(rng());
    const DecodeOutcome d = decode_quietly(b, torchimage::DecodeOptions().max_pixels(1 << 20));
    if (d.threw) {
      ++threw;
    } else {
      ++decoded;
      ASSERT_EQ(d.image.dim(), 3);
      ASSERT_TRUE(d.image.size(0) == 1 || d.image.size(0) == 3);
    }
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(threw, 0);
  RecordProperty("decoded", decoded);
}

TEST(JpegHostile, HugeDimensionsRefused) {
  // SOF0 claiming 65500x65500: beyond max_pixels by default, refused cheaply.
  Bytes j = small_jpeg();
  size_t pos = 2;
  while (j[pos + 1] != 0xc0) pos += 2 + ((size_t{j[pos + 2]} << 8) | j[pos + 3]);
  j[pos + 5] = 0xff, j[pos + 6] = 0xdc;
  j[pos + 7] = 0xff, j[pos + 8] = 0xdc;
  const DecodeOutcome d = decode_quietly(j);
  ASSERT_TRUE(d.threw);
  EXPECT_NE(d.message.find("max_pixels"), std::string::npos) << d.message;
}

}  // namespace
