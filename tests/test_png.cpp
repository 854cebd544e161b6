// The PNG writer is spec-conformant and Pillow-shaped, the decoder is robust.
//
// Every encoded file is parsed here independently of the library: signature,
// chunk sequence, lengths, CRC-32 of each chunk, IHDR fields, the zlib stream
// (inflated with zlib's `uncompress2`), the row filters (undone by an unfilter
// written here) and Pillow's filter choice and IDAT chunking (checked against
// a reimplementation written here). libpng (reference_png.h) decodes every file
// as a second, independent reader.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <c10/util/Exception.h>
#include <png.h>
#include <torch/torch.h>
#include <torchimage/io.h>

#include "reference_png.h"
#include "test_util.h"
#include <zlib.h>

#include "codecs/png/png_encoder.h"
#include "codecs/png/png_filter.h"
#include "core/encode_context.h"

namespace {

using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------
// Content.

const torch::Tensor& photo(const char* name) {
  static std::map<std::string, torch::Tensor> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    torch::Tensor t = torchimage::read_image(std::string(TORCHIMAGE_PHOTOS) + "/" + name);
    it = cache.emplace(name, t).first;
  }
  return it->second;
}

// Smooth photographic content: astronaut and coffee side by side (1112
// pixels wide, 400 high), cropped; gray is the luma, alpha another crop's
// blue channel.
torch::Tensor photo_image(int64_t c, int64_t h, int64_t w, int64_t y0 = 100, int64_t x0 = 50) {
  const torch::Tensor& a = photo("astronaut.png");  // 3x512x512
  const torch::Tensor& b = photo("coffee.png");     // 3x400x600
  TORCH_CHECK(a.size(0) == 3 && b.size(0) == 3, "photos are RGB");
  torch::Tensor strip = torch::cat({a.slice(1, 0, 400), b}, 2);  // 3x400x1112
  TORCH_CHECK(y0 + h <= 400 && x0 + w <= strip.size(2), "crop out of range");
  torch::Tensor rgb = strip.slice(1, y0, y0 + h).slice(2, x0, x0 + w);
  torch::Tensor alpha =
      strip.slice(1, 400 - h, 400).slice(2, strip.size(2) - w, strip.size(2)).select(0, 2).unsqueeze(0);
  torch::Tensor f = rgb.to(torch::kInt32);
  torch::Tensor luma =
      ((f[0] * 299 + f[1] * 587 + f[2] * 114 + 500) / 1000).clamp(0, 255).to(torch::kUInt8).unsqueeze(0);
  switch (c) {
    case 1: return luma.contiguous();
    case 2: return torch::cat({luma, alpha}).contiguous();
    case 3: return rgb.contiguous();
    default: return torch::cat({rgb, alpha}).contiguous();
  }
}

torch::Tensor random_image(int64_t c, int64_t h, int64_t w, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, 256, {c, h, w}, torch::kUInt8);
}

using torchimage_test::to_bytes;
using torchimage_test::to_tensor;

// (C, H, W) -> row-packed HWC bytes.
Bytes hwc_bytes(const torch::Tensor& chw) { return to_bytes(chw.permute({1, 2, 0})); }

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}

uint32_t crc_of(const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), p, static_cast<uInt>(n)));
}

// ---------------------------------------------------------------------------
// Independent reference: PNG filters and Pillow's choice among them.

int paeth_ref(int a, int b, int c) {
  // PNG spec, section 9.4.
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

// The prediction of filter `type` (0-4) for byte i of row `cur` (PNG spec
// section 9.2): a is the byte bpp to the left, b the one above, c above-left.
int predict_ref(int type, const uint8_t* cur, const uint8_t* prev, size_t i, size_t bpp) {
  const int a = i >= bpp ? cur[i - bpp] : 0;
  const int b = prev[i];
  const int c = i >= bpp ? prev[i - bpp] : 0;
  switch (type) {
    case 1: return a;
    case 2: return b;
    case 3: return (a + b) / 2;
    case 4: return paeth_ref(a, b, c);
    default: return 0;
  }
}

// Filters `cur` with filter `type` (0-4) against `prev`, bpp bytes a pixel.
Bytes filter_ref(int type, const uint8_t* cur, const uint8_t* prev, size_t n, size_t bpp) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<uint8_t>((cur[i] - predict_ref(type, cur, prev, i, bpp)) & 0xff);
  }
  return out;
}

long cost_ref(const Bytes& f) {
  long s = 0;
  for (uint8_t v : f) s += std::abs(static_cast<int>(static_cast<int8_t>(v)));
  return s;
}

// Pillow's rule: None, then Up, Sub, Paeth, each replacing the best only when
// strictly smaller, stopping once the best sum is 0. Returns filter byte +
// filtered row for every row (the whole IDAT payload before deflate).
Bytes pillow_filter_ref(const Bytes& pixels, size_t height, size_t row_bytes, size_t bpp) {
  Bytes out;
  out.reserve(height * (row_bytes + 1));
  const Bytes zeros(row_bytes, 0);
  for (size_t y = 0; y < height; ++y) {
    const uint8_t* cur = pixels.data() + y * row_bytes;
    const uint8_t* prev = y == 0 ? zeros.data() : cur - row_bytes;
    int best_type = 0;
    Bytes best = filter_ref(0, cur, prev, row_bytes, bpp);
    long best_sum = cost_ref(best);
    for (int type : {2, 1, 4}) {
      if (best_sum == 0) break;
      Bytes f = filter_ref(type, cur, prev, row_bytes, bpp);
      const long s = cost_ref(f);
      if (s < best_sum) best_type = type, best = std::move(f), best_sum = s;
    }
    out.push_back(static_cast<uint8_t>(best_type));
    out.insert(out.end(), best.begin(), best.end());
  }
  return out;
}

// Undoes the filters of an inflated IDAT stream (PNG spec section 9.2).
// Fails the test on an invalid filter type.
void unfilter(const Bytes& raw, size_t height, size_t row_bytes, size_t bpp, Bytes* pixels) {
  pixels->assign(height * row_bytes, 0);
  const Bytes zeros(row_bytes, 0);
  for (size_t y = 0; y < height; ++y) {
    const uint8_t type = raw[y * (row_bytes + 1)];
    const uint8_t* f = raw.data() + y * (row_bytes + 1) + 1;
    uint8_t* cur = pixels->data() + y * row_bytes;
    const uint8_t* prev = y == 0 ? zeros.data() : cur - row_bytes;
    ASSERT_LE(type, 4) << "row " << y;
    for (size_t i = 0; i < row_bytes; ++i) {
      cur[i] = static_cast<uint8_t>((f[i] + predict_ref(type, cur, prev, i, bpp)) & 0xff);
    }
  }
}

// ---------------------------------------------------------------------------
// Independent PNG parsing.

struct Chunk {
  std::string type;
  size_t offset;  // of the data
  uint32_t length;
};

struct ParsedPng {
  std::vector<Chunk> chunks;
  uint32_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  Bytes idat;  // concatenated IDAT data
};

// Parses and checks the chunk layer: signature, chunk lengths, type codes,
// CRCs, IHDR first, IDATs consecutive, IEND last with nothing after.
void parse_png(const Bytes& f, ParsedPng* out) {
  static const uint8_t kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  ASSERT_GE(f.size(), 8u + 25u + 12u + 12u);
  ASSERT_EQ(0, std::memcmp(f.data(), kSig, 8)) << "PNG signature";
  size_t pos = 8;
  while (pos < f.size()) {
    ASSERT_LE(pos + 12, f.size()) << "truncated chunk header at " << pos;
    const uint32_t len = be32(&f[pos]);
    ASSERT_LE(len, 0x7fffffffu) << "chunk length above 2^31-1";
    ASSERT_LE(pos + 12 + size_t{len}, f.size()) << "chunk overruns the file at " << pos;
    std::string type(reinterpret_cast<const char*>(&f[pos + 4]), 4);
    for (char ch : type) {
      ASSERT_TRUE((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')) << "chunk type " << type;
    }
    const uint32_t crc = be32(&f[pos + 8 + len]);
    ASSERT_EQ(crc, crc_of(&f[pos + 4], len + 4)) << "CRC of chunk " << type << " at " << pos;
    out->chunks.push_back({type, pos + 8, len});
    pos += 12 + size_t{len};
    if (type == "IEND") break;
  }
  ASSERT_EQ(pos, f.size()) << "bytes after IEND";
  const auto& c = out->chunks;
  ASSERT_GE(c.size(), 3u);
  ASSERT_EQ(c.front().type, "IHDR");
  ASSERT_EQ(c.back().type, "IEND");
  ASSERT_EQ(c.back().length, 0u);
  for (size_t i = 1; i + 1 < c.size(); ++i) {
    // torchimage writes no ancillary chunks: IHDR, IDAT..., IEND.
    ASSERT_EQ(c[i].type, "IDAT") << "chunk " << i;
  }
  ASSERT_EQ(c[0].length, 13u);
  const uint8_t* h = &f[c[0].offset];
  out->width = be32(h);
  out->height = be32(h + 4);
  out->bit_depth = h[8];
  out->color_type = h[9];
  EXPECT_EQ(h[10], 0) << "compression method";
  EXPECT_EQ(h[11], 0) << "filter method";
  out->interlace = h[12];
  for (size_t i = 1; i + 1 < c.size(); ++i) {
    out->idat.insert(out->idat.end(), f.begin() + c[i].offset,
                     f.begin() + c[i].offset + c[i].length);
  }
}

// Inflates the zlib stream, checking its header and that it is consumed
// exactly (no trailing bytes), to `expected_size` bytes.
void inflate_idat(const Bytes& idat, size_t expected_size, Bytes* raw) {
  ASSERT_GE(idat.size(), 2u);
  const uint8_t cmf = idat[0], flg = idat[1];
  ASSERT_EQ(cmf & 0x0f, 8) << "zlib method must be deflate";
  ASSERT_LE(cmf >> 4, 7) << "zlib window above 32K";
  ASSERT_EQ((cmf * 256 + flg) % 31, 0) << "zlib header check bits";
  ASSERT_EQ(flg & 0x20, 0) << "PNG forbids a preset dictionary";
  raw->assign(expected_size + 64, 0);
  uLongf dest_len = static_cast<uLongf>(raw->size());
  uLong src_len = static_cast<uLong>(idat.size());
  const int rc = uncompress2(raw->data(), &dest_len, idat.data(), &src_len);
  ASSERT_EQ(rc, Z_OK) << "uncompress2 failed";
  ASSERT_EQ(src_len, idat.size()) << "bytes after the end of the zlib stream";
  ASSERT_EQ(dest_len, expected_size) << "inflated size";
  raw->resize(dest_len);
}

// Full check of one encoded image. `pillow_exact`: also check Pillow's filter
// choice and IDAT chunking (explicit compression levels).
void check_png(const torch::Tensor& png, const torch::Tensor& chw, bool pillow_exact) {
  ASSERT_EQ(png.scalar_type(), torch::kUInt8);
  ASSERT_EQ(png.dim(), 1);
  const Bytes f = to_bytes(png);
  const int64_t c = chw.size(0), h = chw.size(1), w = chw.size(2);
  ParsedPng p;
  ASSERT_NO_FATAL_FAILURE(parse_png(f, &p));
  ASSERT_EQ(p.width, w);
  ASSERT_EQ(p.height, h);
  ASSERT_EQ(p.bit_depth, 8);
  static const int kColorType[5] = {-1, 0, 4, 2, 6};
  ASSERT_EQ(p.color_type, kColorType[c]);
  ASSERT_EQ(p.interlace, 0);

  const size_t row_bytes = static_cast<size_t>(w * c);
  const Bytes pixels = hwc_bytes(chw);
  Bytes raw;
  ASSERT_NO_FATAL_FAILURE(inflate_idat(p.idat, static_cast<size_t>(h) * (row_bytes + 1), &raw));
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t type = raw[y * (row_bytes + 1)];
    ASSERT_TRUE(type == 0 || type == 1 || type == 2 || type == 4)
        << "row " << y << " filter " << int(type) << " (Pillow never uses Average)";
  }
  Bytes unfiltered;
  ASSERT_NO_FATAL_FAILURE(unfilter(raw, h, row_bytes, c, &unfiltered));
  ASSERT_TRUE(unfiltered == pixels) << "unfiltered IDAT differs from the input pixels";

  if (pillow_exact) {
    const Bytes expected = pillow_filter_ref(pixels, h, row_bytes, c);
    for (int64_t y = 0; y < h; ++y) {
      ASSERT_EQ(raw[y * (row_bytes + 1)], expected[y * (row_bytes + 1)])
          << "filter choice of row " << y;
    }
    ASSERT_TRUE(raw == expected);
    // ImageFile._save: one IDAT chunk per encoder.encode(bufsize) call, every
    // one but the last exactly bufsize bytes.
    const size_t bufsize = std::max<size_t>(65536, 4 * static_cast<size_t>(w));
    for (size_t i = 1; i + 2 < p.chunks.size(); ++i) {
      ASSERT_EQ(p.chunks[i].length, bufsize) << "IDAT chunk " << i << " of " << p.chunks.size() - 2;
    }
    ASSERT_LE(p.chunks[p.chunks.size() - 2].length, bufsize) << "last IDAT chunk";
    ASSERT_EQ(p.chunks.size() - 2, std::max<size_t>(1, (p.idat.size() + bufsize - 1) / bufsize))
        << "number of IDAT chunks for " << p.idat.size() << " compressed bytes";
  }

  const torchimage_test::ReferencePng ref = torchimage_test::decode_reference_png(f);
  ASSERT_TRUE(ref.ok()) << ref.describe();
  EXPECT_TRUE(ref.warnings.empty()) << ref.describe();
  ASSERT_EQ(ref.color_type, kColorType[c]) << "libpng's view of the color type";
  ASSERT_EQ(ref.channels, c);
  ASSERT_EQ(ref.bit_depth, 8);
  EXPECT_EQ(ref.width, w);
  EXPECT_EQ(ref.height, h);
  ASSERT_TRUE(ref.bytes == pixels) << "libpng decodes different pixels";
}

// ---------------------------------------------------------------------------
// Capturing what a call writes to file descriptor 2.

using torchimage_test::StderrCapture;

// decode_image must throw c10::Error (and nothing else), print nothing.
// Returns the message.
std::string expect_decode_error(const Bytes& data, const torchimage::DecodeOptions& o = {}) {
  std::string message = "<no exception>";
  StderrCapture capture;
  try {
    torchimage::decode_image(to_tensor(data), o);
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
  } catch (const std::exception& e) {
    message = std::string("<non-c10 exception> ") + e.what();
  }
  const std::string printed = capture.finish();
  EXPECT_EQ(printed, "") << "decoder printed to stderr";
  EXPECT_NE(message, "<no exception>") << "decode_image accepted " << data.size() << " bytes";
  EXPECT_EQ(message.find("<non-c10 exception>"), std::string::npos) << message;
  return message;
}

// ---------------------------------------------------------------------------
// libpng's own writer (classic API), for inputs torchimage never writes.

struct PngSpec {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 8;
  int color_type = PNG_COLOR_TYPE_RGB;
  int interlace = PNG_INTERLACE_NONE;
  std::vector<png_color> palette;
  std::vector<png_byte> trans_alpha;  // palette tRNS
  bool gray_trans = false;
  png_color_16 trans_color{};  // gray/RGB tRNS
};

extern "C" void classic_write(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<Bytes*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
extern "C" void classic_flush(png_structp) {}

// Rows already packed as PNG stores them (big-endian 16-bit, packed low bit
// depths). Returns an empty vector on libpng error.
Bytes classic_png(const PngSpec& s, const Bytes& packed_rows, size_t row_bytes) {
  Bytes out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows(s.height);
  for (png_uint_32 y = 0; y < s.height; ++y)
    rows[y] = const_cast<png_bytep>(packed_rows.data() + y * row_bytes);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return {};
  }
  png_set_write_fn(png, &out, classic_write, classic_flush);
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type, s.interlace,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) {
    png_set_PLTE(png, info, const_cast<png_colorp>(s.palette.data()),
                 static_cast<int>(s.palette.size()));
  }
  if (!s.trans_alpha.empty()) {
    png_set_tRNS(png, info, const_cast<png_bytep>(s.trans_alpha.data()),
                 static_cast<int>(s.trans_alpha.size()), nullptr);
  }
  if (s.gray_trans) png_set_tRNS(png, info, nullptr, 0, const_cast<png_color_16p>(&s.trans_color));
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

// Packs 8-bit samples (values < 2^depth) into `depth`-bit rows, MSB first.
Bytes pack_low_depth(const Bytes& samples, size_t w, size_t h, int depth, size_t* row_bytes) {
  *row_bytes = (w * depth + 7) / 8;
  Bytes out(*row_bytes * h, 0);
  for (size_t y = 0; y < h; ++y) {
    for (size_t x = 0; x < w; ++x) {
      const size_t bit = x * depth;
      const int shift = 8 - depth - static_cast<int>(bit % 8);
      out[y * *row_bytes + bit / 8] |= static_cast<uint8_t>(samples[y * w + x] << shift);
    }
  }
  return out;
}

// ===========================================================================
// Tests.

// Sweep: every level (0-9 and unset), 1-4 channels, several widths and
// heights, random and photographic content.
class PngLevelSweep : public ::testing::TestWithParam<int> {};

TEST_P(PngLevelSweep, ConformantAndLossless) {
  const int level = GetParam();  // -1: unset
  torchimage::PngOptions o;
  if (level >= 0) o.compression_level(level);
  uint64_t seed = 1000 + static_cast<uint64_t>(level + 1) * 100000;
  for (int64_t c = 1; c <= 4; ++c) {
    for (int64_t w : {1, 2, 3, 7, 64, 1000}) {
      for (int64_t h : {1, 2, 50}) {
        for (int content = 0; content < 2; ++content) {
          const torch::Tensor img =
              content == 0 ? random_image(c, h, w, ++seed) : photo_image(c, h, w, 3 * h, w % 97);
          SCOPED_TRACE(::testing::Message() << "level " << level << " C=" << c << " H=" << h
                                            << " W=" << w << (content ? " photo" : " random"));
          const torch::Tensor png = torchimage::encode_png(img, o);
          ASSERT_NO_FATAL_FAILURE(check_png(png, img, level >= 0));
          ASSERT_FALSE(HasFailure());
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, PngLevelSweep, ::testing::Range(-1, 10),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return i.param < 0 ? std::string("Unset")
                                              : "Level" + std::to_string(i.param);
                         });

TEST(PngEncode, LargeImagesSpanManyIdatChunks) {
  // Random 1000x50x4 is ~200 KB of incompressible data, the full astronaut
  // ~300 KB (level 9) to ~800 KB (level 0): several 64 KiB IDAT chunks each.
  const torch::Tensor noise = random_image(4, 50, 1000, 7);
  const torch::Tensor astro = photo("astronaut.png").contiguous();
  for (int level = -1; level <= 9; ++level) {
    torchimage::PngOptions o;
    if (level >= 0) o.compression_level(level);
    for (const torch::Tensor* img : {&noise, &astro}) {
      SCOPED_TRACE(::testing::Message() << "level " << level << " shape " << img->sizes());
      const torch::Tensor png = torchimage::encode_png(*img, o);
      ParsedPng p;
      ASSERT_NO_FATAL_FAILURE(parse_png(to_bytes(png), &p));
      EXPECT_GT(p.idat.size(), 65536u);
      // The default engine may use chunks of any size; Pillow's are 64 KiB.
      if (level >= 0) EXPECT_GE(p.chunks.size() - 2, 2u) << "expected several IDAT chunks";
      ASSERT_NO_FATAL_FAILURE(check_png(png, *img, level >= 0));
    }
  }
}

TEST(PngEncode, WideImageChunksAreFourTimesWidth) {
  // Above 16384 pixels wide Pillow's buffer is 4 * width bytes, not 65536.
  const int64_t w = 20000;
  const torch::Tensor img = random_image(3, 4, w, 11);
  for (int level : {0, 1, 6, 9}) {
    SCOPED_TRACE(::testing::Message() << "level " << level);
    const torch::Tensor png = torchimage::encode_png(img, torchimage::PngOptions().compression_level(level));
    ParsedPng p;
    ASSERT_NO_FATAL_FAILURE(parse_png(to_bytes(png), &p));
    ASSERT_GE(p.chunks.size() - 2, 2u);
    EXPECT_EQ(p.chunks[1].length, 4u * w);
    ASSERT_NO_FATAL_FAILURE(check_png(png, img, true));
  }
}

TEST(PngEncode, NonContiguousInput) {
  // A channels-last view and a strided crop encode as their values.
  const torch::Tensor base = photo_image(4, 40, 60);
  const torch::Tensor cl = base.permute({1, 2, 0}).contiguous().permute({2, 0, 1});
  const torch::Tensor crop = base.slice(1, 3, 33, 2).slice(2, 1, 59, 3);
  for (const torch::Tensor* img : {&cl, &crop}) {
    const torch::Tensor png = torchimage::encode_png(*img, torchimage::PngOptions().compression_level(6));
    ASSERT_NO_FATAL_FAILURE(check_png(png, img->contiguous(), true));
  }
}

TEST(PngEncode, UnsetLevelIsValidAndDecodes) {
  const torch::Tensor img = photo_image(3, 120, 300);
  const torch::Tensor png = torchimage::encode_png(img);
  ASSERT_NO_FATAL_FAILURE(check_png(png, img, false));
  EXPECT_TRUE(torch::equal(torchimage::decode_image(png), img));
}

TEST(PngEncode, HigherLevelsCompressPhotosBetter) {
  const torch::Tensor img = photo_image(3, 200, 400);
  const int64_t stored = torchimage::encode_png(img, torchimage::PngOptions().compression_level(0)).numel();
  const int64_t fast = torchimage::encode_png(img, torchimage::PngOptions().compression_level(1)).numel();
  const int64_t best = torchimage::encode_png(img, torchimage::PngOptions().compression_level(9)).numel();
  EXPECT_GT(stored, 3 * 200 * 400) << "level 0 stores the filtered rows";
  EXPECT_LT(fast, stored);
  EXPECT_LE(best, fast);
}

TEST(PngEncode, Deterministic) {
  const torch::Tensor img = random_image(3, 30, 40, 5);
  for (int level = 0; level <= 9; ++level) {
    const auto o = torchimage::PngOptions().compression_level(level);
    EXPECT_TRUE(torch::equal(torchimage::encode_png(img, o), torchimage::encode_png(img.clone(), o)));
  }
}

// ---------------------------------------------------------------------------
// Pillow's filter choice, on the private filter directly.

struct FilterCase {
  const char* name;
  Bytes pixels;
  size_t height, row_bytes, bpp;
};

void check_filter_rows(const FilterCase& fc) {
  SCOPED_TRACE(::testing::Message() << fc.name << " rows=" << fc.height << " row_bytes="
                                    << fc.row_bytes << " bpp=" << fc.bpp);
  const Bytes expected = pillow_filter_ref(fc.pixels, fc.height, fc.row_bytes, fc.bpp);
  torchimage::PillowRowFilter filter(fc.row_bytes, static_cast<int>(fc.bpp));
  for (size_t y = 0; y < fc.height; ++y) {
    const uint8_t* got = filter.filter(fc.pixels.data() + y * fc.row_bytes);
    const uint8_t* want = expected.data() + y * (fc.row_bytes + 1);
    ASSERT_EQ(int(got[0]), int(want[0])) << "filter type of row " << y;
    ASSERT_EQ(0, std::memcmp(got + 1, want + 1, fc.row_bytes)) << "filtered bytes of row " << y;
  }
}

TEST(PngFilter, MatchesPillowRuleOnRandomRows) {
  std::mt19937 rng(1234);
  for (size_t bpp = 1; bpp <= 4; ++bpp) {
    for (size_t w : {1, 2, 3, 5, 17, 64, 333}) {
      const size_t n = w * bpp, h = 12;
      FilterCase fc{"random", Bytes(n * h), h, n, bpp};
      for (auto& v : fc.pixels) v = static_cast<uint8_t>(rng());
      ASSERT_NO_FATAL_FAILURE(check_filter_rows(fc));
    }
  }
}

TEST(PngFilter, MatchesPillowRuleOnTieProneRows) {
  // Small alphabets around 0 and the signed wrap make equal sums (ties) and
  // zero sums common: ties must keep the earlier filter.
  std::mt19937 rng(99);
  const uint8_t alphabets[][4] = {{0, 1, 255, 0}, {0, 128, 127, 129}, {1, 2, 3, 1}, {0, 0, 0, 1}};
  for (const auto& alpha : alphabets) {
    for (size_t bpp = 1; bpp <= 4; ++bpp) {
      for (size_t w : {1, 2, 4, 9, 31}) {
        const size_t n = w * bpp, h = 64;
        FilterCase fc{"tie-prone", Bytes(n * h), h, n, bpp};
        for (auto& v : fc.pixels) v = alpha[rng() % 4];
        ASSERT_NO_FATAL_FAILURE(check_filter_rows(fc));
      }
    }
  }
}

TEST(PngFilter, MatchesPillowRuleOnPhotoRows) {
  for (int64_t c = 1; c <= 4; ++c) {
    for (int64_t w : {1, 7, 300, 1000}) {
      const torch::Tensor img = photo_image(c, 60, w, 20, 3);
      FilterCase fc{"photo", hwc_bytes(img), 60, static_cast<size_t>(w * c), static_cast<size_t>(c)};
      ASSERT_NO_FATAL_FAILURE(check_filter_rows(fc));
    }
  }
}

TEST(PngFilter, ConstantZeroAndDuplicateRows) {
  for (size_t bpp = 1; bpp <= 4; ++bpp) {
    const size_t n = 10 * bpp;
    // All zero: None's sum is already 0, so None everywhere.
    FilterCase zeros{"zeros", Bytes(n * 5, 0), 5, n, bpp};
    ASSERT_NO_FATAL_FAILURE(check_filter_rows(zeros));
    {
      torchimage::PillowRowFilter f(n, static_cast<int>(bpp));
      for (size_t y = 0; y < 5; ++y) EXPECT_EQ(f.filter(zeros.pixels.data() + y * n)[0], 0);
    }
    // Constant 200: first row Sub (Up ties None against the zero row), then Up.
    FilterCase constant{"constant", Bytes(n * 5, 200), 5, n, bpp};
    ASSERT_NO_FATAL_FAILURE(check_filter_rows(constant));
    {
      torchimage::PillowRowFilter f(n, static_cast<int>(bpp));
      EXPECT_EQ(f.filter(constant.pixels.data())[0], 1) << "first constant row: Sub";
      for (size_t y = 1; y < 5; ++y) EXPECT_EQ(f.filter(constant.pixels.data() + y * n)[0], 2);
    }
    // Duplicate rows of noise: Up gives an all-zero row.
    std::mt19937 rng(static_cast<unsigned>(bpp));
    Bytes row(n);
    for (auto& v : row) v = static_cast<uint8_t>(rng() | 1);
    FilterCase dup{"duplicate", {}, 6, n, bpp};
    for (int y = 0; y < 6; ++y) dup.pixels.insert(dup.pixels.end(), row.begin(), row.end());
    ASSERT_NO_FATAL_FAILURE(check_filter_rows(dup));
    {
      torchimage::PillowRowFilter f(n, static_cast<int>(bpp));
      f.filter(dup.pixels.data());
      for (size_t y = 1; y < 6; ++y) {
        const uint8_t* r = f.filter(dup.pixels.data() + y * n);
        EXPECT_EQ(r[0], 2) << "duplicate row: Up";
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(r[1 + i], 0);
      }
    }
    // Horizontal ramps: Sub wins; vertical ramps (each row +1): Up wins.
    FilterCase ramp{"ramp", Bytes(n * 8), 8, n, bpp};
    for (size_t y = 0; y < 8; ++y)
      for (size_t i = 0; i < n; ++i) ramp.pixels[y * n + i] = static_cast<uint8_t>(y * 3 + i / bpp);
    ASSERT_NO_FATAL_FAILURE(check_filter_rows(ramp));
  }
}

TEST(PngFilter, PaethChosenWhenBest) {
  // A diagonal gradient is predicted exactly only by Paeth... or by none of
  // the others with a smaller sum: check Paeth shows up and matches the rule.
  const size_t w = 40, h = 20, bpp = 1;
  FilterCase fc{"paeth", Bytes(w * h), h, w, bpp};
  std::mt19937 rng(5);
  // Random first row and column, then x[i][j] = x[i-1][j] + x[i][j-1] - x[i-1][j-1]
  // (Paeth's a+b-c) which the Paeth predictor often hits.
  for (size_t x = 0; x < w; ++x) fc.pixels[x] = static_cast<uint8_t>(rng() % 64 + 96);
  for (size_t y = 1; y < h; ++y) {
    fc.pixels[y * w] = static_cast<uint8_t>(rng() % 64 + 96);
    for (size_t x = 1; x < w; ++x) {
      const uint8_t a = fc.pixels[y * w + x - 1], b = fc.pixels[(y - 1) * w + x],
                    c = fc.pixels[(y - 1) * w + x - 1];
      fc.pixels[y * w + x] = static_cast<uint8_t>(paeth_ref(a, b, c));
    }
  }
  ASSERT_NO_FATAL_FAILURE(check_filter_rows(fc));
  const Bytes ref = pillow_filter_ref(fc.pixels, h, w, bpp);
  int paeth_rows = 0;
  for (size_t y = 0; y < h; ++y) paeth_rows += ref[y * (w + 1)] == 4;
  EXPECT_GT(paeth_rows, 0) << "content meant to exercise Paeth";
}

TEST(PngFilter, FixedStrategies) {
  // The non-Pillow strategies: Sub on the first row (Paeth and Up reduce to
  // it there), then the strategy's filter on every row.
  std::mt19937 rng(77);
  const std::pair<torchimage::FilterStrategy, int> strategies[] = {
      {torchimage::FilterStrategy::Paeth, 4},
      {torchimage::FilterStrategy::Up, 2},
      {torchimage::FilterStrategy::Sub, 1}};
  for (const auto& st : strategies) {
    for (size_t bpp = 1; bpp <= 4; ++bpp) {
      for (size_t w : {1, 3, 40, 257}) {
        const size_t n = w * bpp, h = 5;
        Bytes px(n * h);
        for (auto& v : px) v = static_cast<uint8_t>(rng());
        torchimage::RowFilter f(n, static_cast<int>(bpp), st.first);
        const Bytes zeros(n, 0);
        Bytes out(n + 1);
        for (size_t y = 0; y < h; ++y) {
          const uint8_t* cur = px.data() + y * n;
          f.filter(cur, out.data());
          const int type = y == 0 ? 1 : st.second;
          ASSERT_EQ(out[0], type) << "row " << y;
          const Bytes want = filter_ref(type, cur, y == 0 ? zeros.data() : cur - n, n, bpp);
          ASSERT_TRUE(Bytes(out.begin() + 1, out.end()) == want) << "row " << y << " bpp " << bpp;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Errors of encode_png.

void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a c10::Error";
  } catch (const c10::Error& e) {
    const std::string m = e.what_without_backtrace();
    for (const auto& part : parts) EXPECT_NE(m.find(part), std::string::npos) << "message: " << m;
  }
}

TEST(PngEncodeErrors, ClearMessages) {
  using torchimage::encode_png;
  expect_error([] { encode_png(torch::zeros({3, 4, 4}, torch::kFloat)); },
               {"encode_png", "uint8", "Float"});
  expect_error([] { encode_png(torch::zeros({3, 4, 4}, torch::kInt16)); }, {"encode_png", "uint8"});
  expect_error([] { encode_png(torch::zeros({4, 4}, torch::kUInt8)); },
               {"encode_png", "3-D", "(C, H, W)"});
  expect_error([] { encode_png(torch::zeros({1, 3, 4, 4}, torch::kUInt8)); }, {"encode_png", "3-D"});
  expect_error([] { encode_png(torch::zeros({5, 4, 4}, torch::kUInt8)); },
               {"encode_png", "1, 2, 3 or 4 channels", "5"});
  expect_error([] { encode_png(torch::zeros({0, 4, 4}, torch::kUInt8)); }, {"encode_png", "channels"});
  expect_error([] { encode_png(torch::zeros({3, 0, 4}, torch::kUInt8)); }, {"encode_png", "empty"});
  expect_error([] { encode_png(torch::zeros({3, 4, 0}, torch::kUInt8)); }, {"encode_png", "empty"});
  expect_error([] { encode_png(torch::Tensor()); }, {"encode_png", "undefined"});
  const torch::Tensor ok = torch::zeros({3, 4, 4}, torch::kUInt8);
  expect_error([&] { encode_png(ok, torchimage::PngOptions().compression_level(10)); },
               {"encode_png", "compression_level", "0-9", "10"});
  expect_error([&] { encode_png(ok, torchimage::PngOptions().compression_level(-1)); },
               {"encode_png", "compression_level", "-1"});
}

// ---------------------------------------------------------------------------
// decode_image.

TEST(PngDecode, RoundTripAllChannelCounts) {
  for (int64_t c = 1; c <= 4; ++c) {
    for (int level : {-1, 0, 1, 6, 9}) {
      for (int content = 0; content < 2; ++content) {
        SCOPED_TRACE(::testing::Message() << "C=" << c << " level " << level << " content " << content);
        const torch::Tensor img =
            content ? photo_image(c, 37, 53) : random_image(c, 37, 53, 40 + static_cast<uint64_t>(c));
        torchimage::PngOptions o;
        if (level >= 0) o.compression_level(level);
        const torch::Tensor back = torchimage::decode_image(torchimage::encode_png(img, o));
        ASSERT_EQ(back.scalar_type(), torch::kUInt8);
        ASSERT_EQ(back.sizes(), img.sizes());
        EXPECT_TRUE(torch::equal(back, img));
      }
    }
  }
  // 1x1 and a photo at full size.
  const torch::Tensor one = torch::full({4, 1, 1}, 77, torch::kUInt8);
  EXPECT_TRUE(torch::equal(torchimage::decode_image(torchimage::encode_png(one)), one));
  const torch::Tensor& astro = photo("astronaut.png");
  EXPECT_TRUE(torch::equal(torchimage::decode_image(torchimage::encode_png(astro)), astro));
}

TEST(PngDecode, ReadImageOfPhotos) {
  for (const char* name : {"astronaut.png", "chelsea.png", "coffee.png"}) {
    const torch::Tensor img = photo(name);
    EXPECT_EQ(img.dim(), 3) << name;
    EXPECT_EQ(img.size(0), 3) << name;
    // libpng agrees on the file as stored (8-bit RGB).
    const auto ref = torchimage_test::decode_reference_png(
        torchimage::read_file(std::string(TORCHIMAGE_PHOTOS) + "/" + name));
    ASSERT_TRUE(ref.ok()) << name << ": " << ref.describe();
    ASSERT_EQ(ref.channels, 3) << name;
    ASSERT_EQ(ref.bit_depth, 8) << name;
    EXPECT_TRUE(ref.bytes == hwc_bytes(img)) << name;
  }
}

TEST(PngDecode, PaletteImages) {
  const png_uint_32 w = 23, h = 9;
  std::vector<png_color> palette;
  for (int i = 0; i < 200; ++i)
    palette.push_back({static_cast<png_byte>(i), static_cast<png_byte>(255 - i),
                       static_cast<png_byte>((i * 37) & 255)});
  Bytes idx(w * h);
  std::mt19937 rng(3);
  for (auto& v : idx) v = static_cast<uint8_t>(rng() % palette.size());
  for (bool with_trns : {false, true}) {
    SCOPED_TRACE(with_trns ? "with tRNS" : "opaque");
    PngSpec s;
    s.width = w, s.height = h, s.bit_depth = 8, s.color_type = PNG_COLOR_TYPE_PALETTE;
    s.palette = palette;
    if (with_trns)
      for (int i = 0; i < 50; ++i) s.trans_alpha.push_back(static_cast<png_byte>(i * 5));
    const Bytes file = classic_png(s, idx, w);
    ASSERT_FALSE(file.empty());
    const torch::Tensor img = torchimage::decode_image(to_tensor(file));
    const int64_t c = with_trns ? 4 : 3;
    ASSERT_EQ(img.sizes(), torch::IntArrayRef({c, h, w}));
    const auto a = img.accessor<uint8_t, 3>();
    for (png_uint_32 y = 0; y < h; ++y) {
      for (png_uint_32 x = 0; x < w; ++x) {
        const int i = idx[y * w + x];
        ASSERT_EQ(a[0][y][x], palette[i].red);
        ASSERT_EQ(a[1][y][x], palette[i].green);
        ASSERT_EQ(a[2][y][x], palette[i].blue);
        if (with_trns) {
          ASSERT_EQ(a[3][y][x], i < 50 ? i * 5 : 255);
        }
      }
    }
  }
  // A 4-bit palette image.
  PngSpec s;
  s.width = 13, s.height = 5, s.bit_depth = 4, s.color_type = PNG_COLOR_TYPE_PALETTE;
  for (int i = 0; i < 16; ++i) s.palette.push_back({static_cast<png_byte>(i * 16), 7, static_cast<png_byte>(255 - i)});
  Bytes small(13 * 5);
  for (size_t i = 0; i < small.size(); ++i) small[i] = static_cast<uint8_t>((i * 7) % 16);
  size_t row_bytes = 0;
  const Bytes packed = pack_low_depth(small, 13, 5, 4, &row_bytes);
  const torch::Tensor img = torchimage::decode_image(to_tensor(classic_png(s, packed, row_bytes)));
  ASSERT_EQ(img.sizes(), torch::IntArrayRef({3, 5, 13}));
  const auto a = img.accessor<uint8_t, 3>();
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 13; ++x) {
      const int i = small[y * 13 + x];
      ASSERT_EQ(a[0][y][x], i * 16);
      ASSERT_EQ(a[1][y][x], 7);
      ASSERT_EQ(a[2][y][x], 255 - i);
    }
}

TEST(PngDecode, SixteenBitReducedToEight) {
  // Every 16-bit value once: 256x256 gray, v = y * 256 + x. libpng's
  // png_set_scale_16 rounds v * 255 / 65535 to nearest.
  PngSpec s;
  s.width = 256, s.height = 256, s.bit_depth = 16, s.color_type = PNG_COLOR_TYPE_GRAY;
  Bytes rows(256 * 256 * 2);
  for (int v = 0; v < 65536; ++v) rows[2 * v] = uint8_t(v >> 8), rows[2 * v + 1] = uint8_t(v);
  const Bytes file = classic_png(s, rows, 512);
  ASSERT_FALSE(file.empty());
  const torch::Tensor img = torchimage::decode_image(to_tensor(file));
  ASSERT_EQ(img.sizes(), torch::IntArrayRef({1, 256, 256}));
  const uint8_t* p = img.data_ptr<uint8_t>();
  for (int v = 0; v < 65536; ++v) {
    const int expected = static_cast<int>((static_cast<int64_t>(v) * 255 + 32767) / 65535);
    ASSERT_EQ(p[v], expected) << "16-bit value " << v;
  }
  // 16-bit RGBA (and gray + alpha): channel order and alpha kept.
  for (int color_type : {PNG_COLOR_TYPE_RGB_ALPHA, PNG_COLOR_TYPE_GRAY_ALPHA}) {
    const int c = color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 2;
    PngSpec t;
    t.width = 17, t.height = 6, t.bit_depth = 16, t.color_type = color_type;
    std::mt19937 rng(8);
    std::vector<uint16_t> v(17 * 6 * c);
    Bytes packed(v.size() * 2);
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] = static_cast<uint16_t>(rng());
      packed[2 * i] = uint8_t(v[i] >> 8), packed[2 * i + 1] = uint8_t(v[i]);
    }
    const torch::Tensor d = torchimage::decode_image(to_tensor(classic_png(t, packed, 17 * c * 2)));
    ASSERT_EQ(d.sizes(), torch::IntArrayRef({c, 6, 17}));
    const Bytes got = hwc_bytes(d);
    for (size_t i = 0; i < v.size(); ++i)
      ASSERT_EQ(got[i], (uint32_t(v[i]) * 255 + 32767) / 65535) << "sample " << i;
  }
}

TEST(PngDecode, InterlacedImages) {
  std::mt19937 rng(21);
  for (int color_type : {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                         PNG_COLOR_TYPE_RGB_ALPHA}) {
    const int c = color_type == PNG_COLOR_TYPE_GRAY ? 1
                  : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                  : color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
    for (auto wh : std::vector<std::pair<int, int>>{{1, 1}, {2, 3}, {5, 1}, {13, 11}, {33, 17}, {64, 64}}) {
      SCOPED_TRACE(::testing::Message() << "C=" << c << " " << wh.first << "x" << wh.second);
      PngSpec s;
      s.width = wh.first, s.height = wh.second, s.bit_depth = 8, s.color_type = color_type;
      s.interlace = PNG_INTERLACE_ADAM7;
      Bytes px(static_cast<size_t>(wh.first * wh.second * c));
      for (auto& v : px) v = static_cast<uint8_t>(rng());
      const Bytes file = classic_png(s, px, static_cast<size_t>(wh.first * c));
      ASSERT_FALSE(file.empty());
      ASSERT_EQ(file[8 + 8 + 12], 1) << "the test file is interlaced";
      const torch::Tensor img = torchimage::decode_image(to_tensor(file));
      ASSERT_EQ(img.sizes(), torch::IntArrayRef({c, wh.second, wh.first}));
      EXPECT_TRUE(hwc_bytes(img) == px);
    }
  }
  // Interlaced 16-bit RGB.
  PngSpec s;
  s.width = 9, s.height = 10, s.bit_depth = 16, s.color_type = PNG_COLOR_TYPE_RGB;
  s.interlace = PNG_INTERLACE_ADAM7;
  std::vector<uint16_t> v(9 * 10 * 3);
  Bytes packed(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = static_cast<uint16_t>(rng());
    packed[2 * i] = uint8_t(v[i] >> 8), packed[2 * i + 1] = uint8_t(v[i]);
  }
  const torch::Tensor d = torchimage::decode_image(to_tensor(classic_png(s, packed, 9 * 3 * 2)));
  ASSERT_EQ(d.sizes(), torch::IntArrayRef({3, 10, 9}));
  const Bytes got = hwc_bytes(d);
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(got[i], (uint32_t(v[i]) * 255 + 32767) / 65535);
}

TEST(PngDecode, LowBitDepthGrayAndTransparency) {
  const size_t w = 19, h = 4;
  for (int depth : {1, 2, 4}) {
    SCOPED_TRACE(::testing::Message() << "depth " << depth);
    Bytes samples(w * h);
    for (size_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<uint8_t>((i * 5 + i / 3) % (1 << depth));
    size_t row_bytes = 0;
    const Bytes packed = pack_low_depth(samples, w, h, depth, &row_bytes);
    PngSpec s;
    s.width = w, s.height = h, s.bit_depth = depth, s.color_type = PNG_COLOR_TYPE_GRAY;
    const torch::Tensor img = torchimage::decode_image(to_tensor(classic_png(s, packed, row_bytes)));
    ASSERT_EQ(img.sizes(), torch::IntArrayRef({1, int64_t(h), int64_t(w)}));
    const int scale = 255 / ((1 << depth) - 1);
    const uint8_t* p = img.data_ptr<uint8_t>();
    for (size_t i = 0; i < samples.size(); ++i) ASSERT_EQ(p[i], samples[i] * scale) << i;
  }
  // Gray with a tRNS colour: becomes gray + alpha.
  PngSpec s;
  s.width = 6, s.height = 2, s.bit_depth = 8, s.color_type = PNG_COLOR_TYPE_GRAY;
  s.gray_trans = true;
  s.trans_color.gray = 42;
  const Bytes px = {0, 42, 43, 255, 42, 1, 42, 42, 9, 8, 7, 6};
  const torch::Tensor img = torchimage::decode_image(to_tensor(classic_png(s, px, 6)));
  ASSERT_EQ(img.sizes(), torch::IntArrayRef({2, 2, 6}));
  const Bytes got = hwc_bytes(img);
  for (size_t i = 0; i < px.size(); ++i) {
    EXPECT_EQ(got[2 * i], px[i]);
    EXPECT_EQ(got[2 * i + 1], px[i] == 42 ? 0 : 255);
  }
}

TEST(PngDecode, MaxPixels) {
  const torch::Tensor png = torchimage::encode_png(random_image(3, 10, 12, 1));
  EXPECT_EQ(torchimage::decode_image(png, torchimage::DecodeOptions().max_pixels(120)).size(2), 12);
  const std::string m = expect_decode_error(to_bytes(png), torchimage::DecodeOptions().max_pixels(119));
  EXPECT_NE(m.find("max_pixels"), std::string::npos) << m;
  EXPECT_NE(m.find("119"), std::string::npos) << m;
  // A header claiming 2^31-1 x 2^31-1 pixels is refused before any allocation.
  Bytes f = to_bytes(png);
  put_be32(&f[16], 0x7fffffffu);
  put_be32(&f[20], 0x7fffffffu);
  put_be32(&f[29], crc_of(&f[12], 17));
  const std::string big = expect_decode_error(f);
  EXPECT_NE(big.find("max_pixels"), std::string::npos) << big;
}

TEST(PngDecode, InputTensorErrors) {
  expect_error([] { torchimage::decode_image(torch::zeros({2, 8}, torch::kUInt8)); },
               {"decode_image", "1-D"});
  expect_error([] { torchimage::decode_image(torch::zeros({8}, torch::kInt32)); },
               {"decode_image", "uint8"});
  expect_error([] { torchimage::decode_image(torch::Tensor()); }, {"decode_image", "undefined"});
}

TEST(StderrCaptureSelfTest, CapturesDescriptorTwo) {
  // The "nothing printed" checks below rely on this capture working.
  StderrCapture capture;
  std::fprintf(stderr, "via stdio ");
  (void)!::write(2, "via fd", 6);
  EXPECT_EQ(capture.finish(), "via stdio via fd");
}

// ---------------------------------------------------------------------------
// Hostile bytes.

Bytes small_valid_png() {
  return to_bytes(torchimage::encode_png(random_image(3, 6, 7, 77),
                                         torchimage::PngOptions().compression_level(6)));
}

TEST(PngHostile, EmptyRandomAndSignatureOnly) {
  expect_decode_error({});
  std::mt19937 rng(4);
  for (size_t n : {1, 2, 3, 8, 100, 5000}) {
    Bytes b(n);
    for (auto& v : b) v = static_cast<uint8_t>(rng());
    b[0] = 0x12;  // not a signature
    const std::string m = expect_decode_error(b);
    EXPECT_NE(m.find("unsupported"), std::string::npos) << m;
  }
  const Bytes sig = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  expect_decode_error(sig);
  // Signature followed by random bytes.
  for (int i = 0; i < 50; ++i) {
    Bytes b = sig;
    for (int k = 0; k < 200; ++k) b.push_back(static_cast<uint8_t>(rng()));
    expect_decode_error(b);
  }
}

TEST(PngHostile, EveryTruncation) {
  const Bytes f = small_valid_png();
  ASSERT_NO_THROW(torchimage::decode_image(to_tensor(f)));
  for (size_t n = 0; n < f.size(); ++n) {
    SCOPED_TRACE(::testing::Message() << "prefix of " << n << " of " << f.size() << " bytes");
    expect_decode_error(Bytes(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n)));
    if (HasFailure()) return;
  }
}

TEST(PngHostile, CorruptIdatFailsCrc) {
  const Bytes f = small_valid_png();
  ParsedPng p;
  ASSERT_NO_FATAL_FAILURE(parse_png(f, &p));
  const Chunk& idat = p.chunks[1];
  ASSERT_EQ(idat.type, "IDAT");
  // A flipped data byte: zlib's Adler-32 may catch it before libpng reaches
  // the chunk's CRC; either way an error.
  for (uint32_t i = 0; i < idat.length; i += std::max<uint32_t>(1, idat.length / 17)) {
    Bytes g = f;
    g[idat.offset + i] ^= 0x5a;
    const std::string m = expect_decode_error(g);
    EXPECT_NE(m.find("invalid PNG"), std::string::npos) << m;
  }
  // Each CRC byte of IDAT, and of IHDR, and a flipped IHDR byte: CRC errors.
  for (int k = 0; k < 4; ++k) {
    Bytes g = f;
    g[idat.offset + idat.length + k] ^= 0x10;
    const std::string m = expect_decode_error(g);
    EXPECT_NE(m.find("CRC"), std::string::npos) << m;
    Bytes h = f;
    h[29 + k] ^= 0x01;
    const std::string mh = expect_decode_error(h);
    EXPECT_NE(mh.find("CRC"), std::string::npos) << mh;
  }
  Bytes h = f;
  h[16 + 3] ^= 1;
  const std::string mh = expect_decode_error(h);
  EXPECT_NE(mh.find("CRC"), std::string::npos) << mh;
}

TEST(PngHostile, CorruptDataWithValidCrcs) {
  // Mutations whose CRCs are recomputed reach zlib, the filters and the
  // header checks. Each input decodes or throws c10::Error; nothing printed.
  const Bytes f = to_bytes(torchimage::encode_png(photo_image(3, 16, 16), torchimage::PngOptions().compression_level(9)));
  ParsedPng p;
  ASSERT_NO_FATAL_FAILURE(parse_png(f, &p));
  std::mt19937 rng(2024);
  int decoded = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    Bytes g = f;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t pos = 8 + rng() % (g.size() - 8);
      g[pos] = static_cast<uint8_t>(rng());
    }
    // Recompute every chunk's CRC where the layout still parses.
    size_t pos = 8;
    while (pos + 12 <= g.size()) {
      const uint32_t len = be32(&g[pos]);
      if (len > g.size() - pos - 12) break;
      put_be32(&g[pos + 8 + len], crc_of(&g[pos + 4], len + 4));
      pos += 12 + size_t{len};
    }
    StderrCapture capture;
    try {
      const torch::Tensor img = torchimage::decode_image(to_tensor(g), torchimage::DecodeOptions().max_pixels(1 << 16));
      ASSERT_EQ(img.dim(), 3);
      ASSERT_GE(img.size(0), 1);
      ASSERT_LE(img.size(0), 4);
      ++decoded;
    } catch (const c10::Error&) {
      ++rejected;
    }
    ASSERT_EQ(capture.finish(), "") << "iteration " << iter;
  }
  EXPECT_GT(rejected, 0);
  RecordProperty("decoded", decoded);
}

TEST(PngHostile, NothingPrintedOnValidInputEither) {
  StderrCapture capture;
  const torch::Tensor img = photo_image(4, 30, 30);
  torchimage::decode_image(torchimage::encode_png(img));
  EXPECT_EQ(capture.finish(), "");
}

// ---------------------------------------------------------------------------
// Every deflate engine on every content class: the kinds of sheets training
// loops write (photos, gray written as RGB, strokes on a dark background,
// flat shapes on gradients, noise), made here.

// Gray (1, H, W) as RGB, as torchvision writes 1-channel tensors.
torch::Tensor as_rgb(const torch::Tensor& gray) { return gray.expand({3, -1, -1}).contiguous(); }

// Strokes: cells of `cell` pixels, each with a few thick blurred line
// segments near 255 on a background near 0 with slight noise.
torch::Tensor strokes_image(int64_t rows, int64_t cols, int64_t cell, uint64_t seed) {
  torch::manual_seed(seed);
  const auto yy = torch::arange(cell, torch::kFloat).view({cell, 1}).expand({cell, cell});
  const auto xx = torch::arange(cell, torch::kFloat).view({1, cell}).expand({cell, cell});
  std::vector<torch::Tensor> row_cells;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<torch::Tensor> cells;
    for (int64_t c = 0; c < cols; ++c) {
      torch::Tensor ink = torch::zeros({cell, cell});
      for (int k = 0; k < 3; ++k) {
        const auto e = (torch::rand({4}) * 0.7 + 0.15) * cell;
        const float ax = e[0].item<float>(), ay = e[1].item<float>();
        const float bx = e[2].item<float>(), by = e[3].item<float>();
        const float dx = bx - ax, dy = by - ay, len2 = std::max(dx * dx + dy * dy, 1.0f);
        const auto t = (((xx - ax) * dx + (yy - ay) * dy) / len2).clamp(0, 1);
        const auto d = ((xx - ax - t * dx).pow(2) + (yy - ay - t * dy).pow(2)).sqrt();
        ink = torch::maximum(ink, (1.5 - d / (cell / 14.0)).clamp(0, 1));
      }
      cells.push_back(ink);
    }
    row_cells.push_back(torch::cat(cells, 1));
  }
  const auto ink = torch::cat(row_cells, 0);
  const auto noisy = ink * 255 + torch::randn(ink.sizes()) * 2.5;
  return noisy.round().clamp(0, 255).to(torch::kUInt8).unsqueeze(0);
}

// Flat shapes (rectangles and discs of one colour) on linear gradients.
torch::Tensor flat_image(int64_t h, int64_t w, uint64_t seed) {
  torch::manual_seed(seed);
  const auto yy = torch::arange(h, torch::kFloat).view({1, h, 1}).expand({3, h, w});
  const auto xx = torch::arange(w, torch::kFloat).view({1, 1, w}).expand({3, h, w});
  const auto c0 = torch::rand({3, 1, 1}) * 255, c1 = torch::rand({3, 1, 1}) * 255;
  torch::Tensor img = c0 + (c1 - c0) * (xx * 0.6 + yy * 0.4) / (0.6 * w + 0.4 * h);
  for (int k = 0; k < 12; ++k) {
    const auto e = torch::rand({5});
    const float cy = e[0].item<float>() * h, cx = e[1].item<float>() * w;
    const float ry = 4 + e[2].item<float>() * h / 6, rx = 4 + e[3].item<float>() * w / 6;
    const auto inside =
        k % 2 ? ((yy - cy).abs() < ry).logical_and((xx - cx).abs() < rx)
              : ((yy - cy) / ry).pow(2) + ((xx - cx) / rx).pow(2) < 1;
    img = torch::where(inside, torch::rand({3, 1, 1}) * 255, img);
  }
  return img.round().clamp(0, 255).to(torch::kUInt8);
}

std::vector<std::pair<std::string, torch::Tensor>> content_classes() {
  return {
      {"photos", photo_image(3, 300, 520)},
      {"gray as RGB", as_rgb(photo_image(1, 300, 520, 60, 300))},
      {"strokes as RGB", as_rgb(strokes_image(8, 12, 28, 3))},
      {"flat shapes", flat_image(300, 520, 4)},
      {"noise", random_image(3, 120, 300, 9)},
      {"small strokes", as_rgb(strokes_image(2, 3, 28, 8))},
      {"gray 1 channel", photo_image(1, 200, 300)},
  };
}

// The zlib stream of a file by an engine inflates (zlib) back to the rows
// filtered by Pillow's rule (the reference above), and libpng decodes the
// pixels; the default's file is within 2% of zlib level 6's, Pillow's and
// torchvision's file.
TEST(PngEngines, EveryEngineInflatesToTheFilteredRowsOnEveryContent) {
  using torchimage::DeflateEngine;
  struct EngineCase {
    const char* name;
    DeflateEngine engine;
    int level;
  };
  std::vector<EngineCase> engines = {
      {"zlib level 1", DeflateEngine::PillowZlib, 1}, {"zlib level 6", DeflateEngine::PillowZlib, 6},
      {"zlib level 9", DeflateEngine::PillowZlib, 9}, {"run-length", DeflateEngine::Rle, 0},
      {"LZ77", DeflateEngine::Lz, 0},                 {"default", DeflateEngine::Auto, 0}};
  if (torchimage::have_isal()) engines.push_back({"ISA-L level 1", DeflateEngine::Isal, 1});
  for (const auto& [content, chw] : content_classes()) {
    const int64_t c = chw.size(0), h = chw.size(1), w = chw.size(2);
    const Bytes pixels = hwc_bytes(chw);
    const size_t row_bytes = static_cast<size_t>(w * c);
    const Bytes filtered = pillow_filter_ref(pixels, h, row_bytes, c);
    const torchimage::PixelView view{pixels.data(), h, w, c, 8};
    std::map<std::string, size_t> sizes;
    for (const auto& e : engines) {
      SCOPED_TRACE(::testing::Message() << content << ", " << e.name);
      torchimage::PngEncoding encoding;
      encoding.engine = e.engine;
      encoding.level = e.level;
      const Bytes file = torchimage::encode_png_pixels(view, encoding);
      ParsedPng p;
      ASSERT_NO_FATAL_FAILURE(parse_png(file, &p));
      Bytes raw;
      ASSERT_NO_FATAL_FAILURE(inflate_idat(p.idat, filtered.size(), &raw));
      ASSERT_TRUE(raw == filtered) << "the inflated stream is not the filtered rows";
      ASSERT_NO_FATAL_FAILURE(check_png(to_tensor(file), chw, false));
      sizes[e.name] = file.size();
    }
    EXPECT_LE(sizes["default"], sizes["zlib level 6"] * 1.02)
        << content << ": the default's file against zlib level 6's";
  }
}

// The default engine's two-part (two-thread) files of every content class
// are the same bytes as on one thread, and decode to the pixels.
TEST(PngEngines, DefaultEngineIsTheSameOnOneThread) {
  for (const auto& [content, chw] : content_classes()) {
    SCOPED_TRACE(content);
    const torch::Tensor big = torch::cat({chw, chw.flip(1)}, 1).contiguous();  // >= 256 KiB raw
    const torch::Tensor parallel = torchimage::encode_png(big);
    torch::Tensor serial;
    {
      torchimage::SerialEncodingScope scope;
      serial = torchimage::encode_png(big);
    }
    EXPECT_TRUE(torch::equal(parallel, serial));
    ASSERT_NO_FATAL_FAILURE(check_png(parallel, big, false));
  }
}

// The engines keep their tables and buffers per thread between images
// (core/thread_scratch.h): a file's bytes must not depend on what the thread
// encoded before. Every class encoded in order, then again in reverse order
// (after images of other sizes and content), gives the same bytes, with the
// default engine (both engines, two threads) and the LZ77 one forced.
TEST(PngEngines, BytesDoNotDependOnEarlierImages) {
  using torchimage::DeflateEngine;
  const auto classes = content_classes();
  for (DeflateEngine engine : {DeflateEngine::Auto, DeflateEngine::Lz}) {
    torchimage::PngEncoding encoding;
    encoding.engine = engine;
    std::vector<Bytes> pixels, first;
    for (const auto& [content, chw] : classes) {
      pixels.push_back(hwc_bytes(chw));
      const torchimage::PixelView view{pixels.back().data(), chw.size(1), chw.size(2), chw.size(0), 8};
      first.push_back(torchimage::encode_png_pixels(view, encoding));
    }
    for (size_t k = classes.size(); k-- > 0;) {
      const torch::Tensor& chw = classes[k].second;
      const torchimage::PixelView view{pixels[k].data(), chw.size(1), chw.size(2), chw.size(0), 8};
      EXPECT_TRUE(torchimage::encode_png_pixels(view, encoding) == first[k])
          << classes[k].first << (engine == DeflateEngine::Lz ? ", LZ77" : ", default");
    }
  }
}

// Smooth photos: crops scaled up 3x (bilinear), as compare.py's 16x3x256x256
// sheet of small crops. Their filtered rows are small residuals, not runs or
// repeats: the probe must give them the run-length engine (it took them for
// flat content until session 14: 3.8x slower and 1% larger than runs alone).
TEST(PngEngines, SmoothPhotosTakeTheRunLengthEngine) {
  const torch::Tensor small = photo_image(3, 100, 173).to(torch::kFloat).unsqueeze(0);
  namespace F = torch::nn::functional;
  const torch::Tensor smooth =
      F::interpolate(small, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{300, 520})
                                .mode(torch::kBilinear)
                                .align_corners(false))[0]
          .round()
          .clamp(0, 255)
          .to(torch::kUInt8);
  const Bytes pixels = hwc_bytes(smooth);
  const torchimage::PixelView view{pixels.data(), smooth.size(1), smooth.size(2), 3, 8};
  torchimage::PngEncoding runs, automatic;
  runs.engine = torchimage::DeflateEngine::Rle;
  automatic.engine = torchimage::DeflateEngine::Auto;
  EXPECT_TRUE(torchimage::encode_png_pixels(view, automatic) ==
              torchimage::encode_png_pixels(view, runs));
}

}  // namespace
