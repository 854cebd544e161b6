// Every row of torchimage's table of formats (torchimage::formats()) gets
// these tests: a new row is tested with no new test code. Per row: its
// extensions and names resolve to it in any case; every channel count and bit
// depth it lists writes a file that decodes back (lossless rows exactly, lossy
// ones closely), and what it does not list is refused before any file is
// written; the file starts with a signature decode_image knows; a side beyond
// max_side is refused without making the image. PNG files are also decoded by
// libpng (reference_png.h), independently of torchimage's decoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <torchimage/torchimage.h>

#include "codecs/codec.h"
#include "core/torch_compat.h"
#include "reference_png.h"
#include "test_util.h"

namespace torchimage {
// gtest prints a failed test's parameter: the row's name, not its bytes.
void PrintTo(const FormatInfo& f, std::ostream* os) { *os << f.name; }
}  // namespace torchimage

namespace {

using torchimage::FormatInfo;
using torchimage::SaveImageOptions;
using torchimage_test::TempDir;

// `s` as written, in upper case, and capitalised: the cases a name or an
// extension must be taken in.
std::vector<std::string> case_variants(const std::string& s) {
  std::string upper = s, capital = s;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (!capital.empty())
    capital[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(capital[0])));
  return {s, upper, capital};
}

template <typename T, typename U>
bool has(const std::vector<T>& v, const U& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// A smooth uint8 (C, H, W) image, different in every channel: what a lossy
// format keeps within a few levels.
torch::Tensor smooth_u8(int64_t c, int64_t h, int64_t w) {
  const auto y = torch::linspace(0, 1, h).view({1, h, 1});
  const auto x = torch::linspace(0, 1, w).view({1, 1, w});
  const auto k = torch::linspace(0.1, 0.9, c).view({c, 1, 1});
  return ((0.45 * y + 0.35 * x + 0.2 * k) * 255).round().clamp(0, 255).to(torch::kUInt8);
}

// Noise, for lossless rows: every sample must survive.
torch::Tensor noise_u8(int64_t c, int64_t h, int64_t w, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, 256, {c, h, w}, torch::kUInt8);
}

// The image the row's tests write in `channels`, kept as `channels` (no gray
// to RGB) by save_image for uint8 input.
torch::Tensor test_image(const FormatInfo& f, int64_t channels) {
  return f.lossy ? smooth_u8(channels, 24, 40) : noise_u8(channels, 13, 17, 100 + channels);
}

SaveImageOptions options_for(const FormatInfo& f) {
  return SaveImageOptions().format(f.format).grayscale(true);
}

// `got` (decoded, any integer dtype) against `want`: equal for lossless rows,
// a mean absolute error under 3 levels (of `scale`) for lossy ones.
void expect_pixels(const FormatInfo& f, const torch::Tensor& got, const torch::Tensor& want,
                   double scale, const std::string& ctx) {
  ASSERT_EQ(got.sizes(), want.sizes()) << ctx;
  const auto g = got.to(torch::kDouble), w = want.to(torch::kDouble);
  if (!f.lossy) {
    EXPECT_TRUE(torch::equal(g, w)) << ctx << ": a lossless format changed pixels";
  } else {
    const double mae = (g - w).abs().mean().item<double>() / scale;
    const double worst = (g - w).abs().max().item<double>() / scale;
    EXPECT_LT(mae, 3.0) << ctx << ": mean absolute error of the lossy round trip";
    EXPECT_LT(worst, 32.0) << ctx << ": largest error of the lossy round trip";
  }
}

// For PNG rows: libpng reads the file as holding exactly `chw` (8 or 16 bits).
void expect_libpng_reads(const FormatInfo& f, const torch::Tensor& file, const torch::Tensor& chw,
                         int bit_depth, const std::string& ctx) {
  if (f.format != torchimage::ImageFormat::PNG) return;
  const auto ref = torchimage_test::decode_reference_png(file);
  ASSERT_TRUE(ref.ok()) << ctx << ": " << ref.describe();
  EXPECT_TRUE(ref.warnings.empty()) << ctx << ": " << ref.describe();
  EXPECT_EQ(ref.file_bit_depth, bit_depth) << ctx;
  ASSERT_EQ(ref.channels, chw.size(0)) << ctx;
  EXPECT_TRUE(torch::equal(ref.hwc().to(torch::kInt), chw.permute({1, 2, 0}).to(torch::kInt)))
      << ctx << ": libpng decodes other samples";
}

class Formats : public ::testing::TestWithParam<FormatInfo> {
 protected:
  void SetUp() override {
    if (!GetParam().available) {
      // A row built without its library: using it is an error that says so.
      const auto x = torch::zeros({3, 4, 4}, torch::kUInt8);
      EXPECT_THROW(torchimage::encode_image(x, SaveImageOptions().format(GetParam().format)),
                   c10::Error);
      GTEST_SKIP() << GetParam().name << " is not in this build";
    }
  }
  TempDir dir{"formats"};
};

// The row is well formed: what the other tests iterate over is there.
TEST_P(Formats, RowIsWellFormed) {
  const FormatInfo& f = GetParam();
  const auto& table = torchimage::formats();
  EXPECT_EQ(std::count_if(table.begin(), table.end(),
                          [&](const FormatInfo& r) { return r.format == f.format; }),
            1);
  EXPECT_EQ(torchimage::format_info(f.format).name, f.name);
  EXPECT_FALSE(f.name.empty());
  EXPECT_FALSE(f.display_name.empty());
  ASSERT_FALSE(f.extensions.empty());
  for (const auto& e : f.extensions) {
    EXPECT_FALSE(e.empty());
    EXPECT_EQ(e.find('.'), std::string::npos) << e;
    EXPECT_TRUE(std::none_of(e.begin(), e.end(), [](char ch) { return std::isupper(static_cast<unsigned char>(ch)); }))
        << e;
  }
  ASSERT_FALSE(f.channels.empty());
  for (const auto c : f.channels) EXPECT_TRUE(c >= 1 && c <= 4) << c;
  EXPECT_TRUE(has(f.bit_depths, 8)) << "torchvision writes 8 bits: every row must";
  EXPECT_GT(f.max_side, 0);
  // No extension or name belongs to two rows.
  for (const auto& other : torchimage::formats()) {
    if (other.format == f.format) continue;
    for (const auto& e : f.extensions) EXPECT_FALSE(has(other.extensions, e)) << e << " in " << other.name;
  }
}

// Each extension, in any case, names the row: format_of_path, resolve_format
// and save_image, which writes the bytes encode_image gives for the format.
TEST_P(Formats, ExtensionsResolveToTheRow) {
  const FormatInfo& f = GetParam();
  torch::manual_seed(7);
  const torch::Tensor x = torch::rand({2, 3, 9, 10});
  const std::vector<uint8_t> want = torchimage_test::to_bytes(
      torchimage::encode_image(x, SaveImageOptions().format(f.format)));
  ASSERT_FALSE(want.empty());
  for (const auto& ext : f.extensions) {
    for (const auto& v : case_variants(ext)) {
      const std::string path = dir / ("image." + v);
      SCOPED_TRACE(path);
      EXPECT_EQ(torchimage::format_of_path(path), std::optional<torchimage::ImageFormat>(f.format));
      EXPECT_EQ(torchimage::resolve_format(path, std::nullopt), f.format);
      torchimage::save_image(x, path);
      EXPECT_EQ(torchimage_test::bytes_of(path), want) << "save_image differs from encode_image";
      EXPECT_EQ(dir.list(), std::vector<std::string>{"image." + v});
      dir.clear();
    }
  }
}

// The name and each alias parse to the row in any case; the display name too
// where it is the name in capitals.
TEST_P(Formats, NamesParse) {
  const FormatInfo& f = GetParam();
  std::vector<std::string> names = f.aliases;
  names.push_back(f.name);
  for (const auto& n : names) {
    for (const auto& v : case_variants(n)) {
      EXPECT_EQ(torchimage::parse_format(v), f.format) << v;
      EXPECT_EQ(SaveImageOptions().format(v).format(), std::optional<torchimage::ImageFormat>(f.format)) << v;
    }
  }
  EXPECT_THROW(torchimage::parse_format(f.name + "x"), c10::Error);
  EXPECT_THROW(torchimage::parse_format("." + f.name), c10::Error);
}

// Every channel count the row lists writes a file that decodes back to the
// same shape (and pixels: exactly for lossless rows), through save_image and
// decode_image / read_image.
TEST_P(Formats, EveryListedChannelCountRoundTrips) {
  const FormatInfo& f = GetParam();
  for (const int64_t c : f.channels) {
    const std::string ctx = c10::str(f.name, " ", c, " channels");
    const torch::Tensor x = test_image(f, c);
    const std::string path = dir / ("image." + f.extensions.front());
    torchimage::save_image(x, path, SaveImageOptions().grayscale(true));
    const torch::Tensor file = torchimage::read_file(path);
    EXPECT_TRUE(torch::equal(file, torchimage::encode_image(x, options_for(f)))) << ctx;
    const torch::Tensor back = torchimage::decode_image(file);
    EXPECT_EQ(back.scalar_type(), torch::kUInt8) << ctx;
    ASSERT_NO_FATAL_FAILURE(expect_pixels(f, back, x, 1.0, ctx));
    EXPECT_TRUE(torch::equal(torchimage::read_image(path), back)) << ctx;
    ASSERT_NO_FATAL_FAILURE(expect_libpng_reads(f, file, x, 8, ctx));
    dir.clear();
  }
}

// A channel count the row does not list is a c10::Error before any file is
// written, through save_image and encode_image.
TEST_P(Formats, UnlistedChannelCountsRefused) {
  const FormatInfo& f = GetParam();
  int refused = 0;
  for (int64_t c = 1; c <= 6; ++c) {
    if (has(f.channels, c)) continue;
    const std::string ctx = c10::str(f.name, " ", c, " channels");
    const torch::Tensor x = test_image(f, c);
    const std::string path = dir / ("image." + f.extensions.front());
    EXPECT_THROW(torchimage::save_image(x, path, SaveImageOptions().grayscale(true)), c10::Error) << ctx;
    EXPECT_EQ(dir.list(), std::vector<std::string>{}) << ctx << ": a file was left";
    EXPECT_THROW(torchimage::encode_image(x, options_for(f)), c10::Error) << ctx;
    ++refused;
    dir.clear();
  }
  EXPECT_GT(refused, 0) << "channels 1-6 all listed";
}

// Each listed bit depth is written and read back (16 bits: uint8 scaled by
// 257, decode_image with keep_16_bit); a depth not listed is refused with no
// file left.
TEST_P(Formats, BitDepths) {
  const FormatInfo& f = GetParam();
  const int64_t c = f.channels.back();
  const torch::Tensor x = test_image(f, c);
  const std::string path = dir / ("image." + f.extensions.front());
  for (const int depth : f.bit_depths) {
    const std::string ctx = c10::str(f.name, " ", depth, " bits");
    torchimage::save_image(x, path, SaveImageOptions().grayscale(true).bit_depth(depth));
    const torch::Tensor file = torchimage::read_file(path);
    EXPECT_TRUE(torch::equal(file, torchimage::encode_image(x, options_for(f).bit_depth(depth)))) << ctx;
    const int64_t scale = depth == 16 ? 257 : 1;
    const torch::Tensor want = x.to(torch::kInt) * scale;
    const torch::Tensor back = torchimage::decode_image(file, torchimage::DecodeOptions().keep_16_bit(true));
    EXPECT_EQ(back.scalar_type(), depth == 16 ? torchimage::compat::kSample16 : torch::kUInt8) << ctx;
    ASSERT_NO_FATAL_FAILURE(expect_pixels(f, back, want, static_cast<double>(scale), ctx));
    ASSERT_NO_FATAL_FAILURE(expect_libpng_reads(f, file, want, depth, ctx));
    dir.clear();
  }
  for (const int depth : {0, 1, 2, 4, 8, 12, 16, 24, 32}) {
    if (has(f.bit_depths, depth)) continue;
    const std::string ctx = c10::str(f.name, " ", depth, " bits");
    EXPECT_THROW(torchimage::save_image(x, path, SaveImageOptions().grayscale(true).bit_depth(depth)),
                 c10::Error)
        << ctx;
    EXPECT_EQ(dir.list(), std::vector<std::string>{}) << ctx << ": a file was left";
    EXPECT_THROW(torchimage::encode_image(x, options_for(f).bit_depth(depth)), c10::Error) << ctx;
  }
}

// keep_values: a row with float samples writes make_grid's values as float32
// samples, as they are (no * 255, no clamp; the padding is pad_value; +-Inf
// kept), and decode_image gives them back exactly as float32; double input is
// rounded to float32 once. bit_depth(16) with it is refused. A row without
// float samples refuses keep_values with no file left.
TEST_P(Formats, FloatSamples) {
  const FormatInfo& f = GetParam();
  const int64_t c = f.channels.back();
  torch::manual_seed(11);
  torch::Tensor x = torch::randn({3, c, 5, 7}, torch::kDouble) * 1000;
  x[0][0][0][0] = std::numeric_limits<double>::infinity();
  x[1][0][2][3] = -std::numeric_limits<double>::infinity();
  x[2][0][4][6] = 1e-42;  // a float32 denormal
  const auto o = options_for(f).keep_values(true).nrow(2).pad_value(-7.25);
  const std::string path = dir / ("float." + f.extensions.front());
  if (!f.float_samples) {
    const std::string msg = torchimage_test::error_of([&] { torchimage::save_image(x, path, o); });
    EXPECT_NE(msg.find("keep_values"), std::string::npos) << msg;
    EXPECT_EQ(dir.list(), std::vector<std::string>{});
    EXPECT_THROW(torchimage::encode_image(x, o), c10::Error);
    return;
  }
  for (const auto& input : {x, x.to(torch::kFloat), x.to(torch::kFloat).contiguous(at::MemoryFormat::ChannelsLast)}) {
    const std::string ctx = c10::str(f.name, " ", input.scalar_type());
    torchimage::save_image(input, path, o);
    const torch::Tensor back = torchimage::read_image(path);
    EXPECT_EQ(back.scalar_type(), torch::kFloat) << ctx;
    const torch::Tensor want = torchimage::make_grid(input, o.grid_options()).to(torch::kFloat);
    ASSERT_EQ(back.sizes(), want.sizes()) << ctx;
    EXPECT_TRUE(torch::equal(back, want)) << ctx << ": float samples changed";
    EXPECT_EQ(back[0][0][0].item<float>(), -7.25f) << ctx << ": the padding is pad_value";
    EXPECT_TRUE(torch::equal(torchimage::read_file(path), torchimage::encode_image(input, o))) << ctx;
    dir.clear();
  }
  EXPECT_THROW(torchimage::save_image(x, path, SaveImageOptions(o).bit_depth(16)), c10::Error);
  EXPECT_EQ(dir.list(), std::vector<std::string>{});
}

// The file starts with one of the row's signatures, by which decode_image
// knows it, and no other row's.
TEST_P(Formats, FileStartsWithItsSignature) {
  const FormatInfo& f = GetParam();
  const torchimage::Codec& codec = torchimage::codec_of(f.format);
  ASSERT_FALSE(codec.signatures.empty());
  const std::vector<uint8_t> file = torchimage_test::to_bytes(
      torchimage::encode_image(test_image(f, f.channels.back()), options_for(f)));
  // ('?' in a signature is any byte: WebP's "RIFF", a size, "WEBP".)
  const auto starts_with = [&](const std::string& sig) {
    return file.size() >= sig.size() && std::equal(sig.begin(), sig.end(), file.begin(), [](char a, uint8_t b) {
             return a == '?' || static_cast<uint8_t>(a) == b;
           });
  };
  EXPECT_TRUE(std::any_of(codec.signatures.begin(), codec.signatures.end(), starts_with));
  for (const auto& other : torchimage::codecs()) {
    if (other.info.format == f.format) continue;
    EXPECT_TRUE(std::none_of(other.signatures.begin(), other.signatures.end(), starts_with))
        << "also starts like " << other.info.name;
  }
  EXPECT_EQ(torchimage::codec_of_data(file.data(), file.size()), &codec);
  // decode_image takes it, and not its signature alone.
  EXPECT_NO_THROW(torchimage::decode_image(torchimage_test::to_tensor(file)));
  EXPECT_THROW(torchimage::decode_image(torchimage_test::to_tensor(
                   std::vector<uint8_t>(file.begin(), file.begin() + 8))),
               c10::Error);
}

// A side of max_side + 1 is refused before the image is made: the inputs are
// expanded views of one byte (gigabytes if made), refused within a second,
// with no file left.
TEST_P(Formats, SideBeyondMaxSideRefusedUpFront) {
  const FormatInfo& f = GetParam();
  ASSERT_LT(f.max_side, std::numeric_limits<int64_t>::max());
  const int64_t side = f.max_side + 1;
  const int64_t c = f.channels.back();
  const torch::Tensor one = torch::zeros({1, 1, 1}, torch::kUInt8);
  const std::string path = dir / ("big." + f.extensions.front());
  const auto start = std::chrono::steady_clock::now();
  for (const auto& shape : {std::vector<int64_t>{c, 1, side}, std::vector<int64_t>{c, side, 1}}) {
    const torch::Tensor x = one.expand(shape);
    const std::string ctx = c10::str(f.name, " ", x.sizes());
    const std::string msg = torchimage_test::error_of(
        [&] { torchimage::save_image(x, path, SaveImageOptions().grayscale(true)); });
    EXPECT_NE(msg.find(std::to_string(f.max_side)), std::string::npos) << ctx << ": " << msg;
    EXPECT_EQ(dir.list(), std::vector<std::string>{}) << ctx << ": a file was left";
    EXPECT_THROW(torchimage::encode_image(x, options_for(f)), c10::Error) << ctx;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}

std::string RowName(const ::testing::TestParamInfo<FormatInfo>& info) {
  std::string n = info.param.name;
  for (auto& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Table, Formats, ::testing::ValuesIn(torchimage::formats()), RowName);

}  // namespace

// A format whose library the build lacks stays in the table and says so when
// used (the row below is PNG's, marked unavailable as a build without libpng
// would mark it), and the table has no other way in: an ImageFormat value
// outside the enum is an error, never a fallback to PNG.
TEST(FormatTable, UnavailableRowAndUnknownValueAreErrors) {
  torchimage::Codec missing = torchimage::png_codec();
  missing.info.available = false;
  missing.info.display_name = "WebP";
  EXPECT_THROW_MSG(torchimage::check_available(missing, "save_image"),
                   "save_image: torchimage was built without WebP support");
  EXPECT_NO_THROW(torchimage::check_available(torchimage::png_codec(), "save_image"));
  const auto bogus = static_cast<torchimage::ImageFormat>(200);
  EXPECT_THROW_MSG(torchimage::format_info(bogus), "unknown ImageFormat value 200");
  const torch::Tensor x = torch::rand({3, 4, 4});
  EXPECT_THROW_MSG(torchimage::encode_image(x, torchimage::SaveImageOptions().format(bogus)),
                   "unknown ImageFormat value 200");
}

// check_encode_options (public since issue 29: the Python package checks the
// options of the formats it hands to Pillow with it) refuses exactly what an
// encoding call refuses, with the same message but for the name it starts with.
TEST(FormatTable, CheckEncodeOptionsIsWhatEncodingChecks) {
  const torch::Tensor x = torch::rand({3, 4, 4});
  std::vector<SaveImageOptions> bad = {SaveImageOptions().quality(0),
                                       SaveImageOptions().quality(101),
                                       SaveImageOptions().compression_level(10),
                                       SaveImageOptions().compression_level(-1),
                                       SaveImageOptions().bit_depth(12)};
  for (const SaveImageOptions& o : bad) {
    const std::string direct = torchimage_test::error_of(
        [&] { torchimage::check_encode_options(o.encode_options(), "save_image"); });
    ASSERT_EQ(direct.rfind("save_image: ", 0), 0u) << direct;
    for (const torchimage::ImageFormat f : {torchimage::ImageFormat::PNG,
                                            torchimage::ImageFormat::JPEG}) {
      TempDir d;
      SaveImageOptions with_format = o;
      with_format.format(f);
      EXPECT_EQ(torchimage_test::error_of([&] { torchimage::save_image(x, d / "x", with_format); }),
                direct);
    }
  }
  // Good options pass, whatever the format they concern.
  torchimage::check_encode_options(SaveImageOptions().quality(1).compression_level(9).bit_depth(16)
                                       .encode_options());
  EXPECT_EQ(torchimage_test::error_of([] {
              torchimage::check_encode_options(torchimage::EncodeOptions().quality(0));
            }).rfind("check_encode_options: quality must be in 1-100, got 0", 0),
            0u);
}
