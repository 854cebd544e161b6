// 16-bit PNG: float tensors quantized to 0-65535 with torchvision's rule at 16
// bits, uint8 scaled by 257, 16-bit samples (uint16 on LibTorch 2.3+, int32
// everywhere: 1.13's stand-in) written as they are; libpng's own decoder reads
// them back, and so does decode_image with keep_16_bit (uint16 where LibTorch
// has it, as torchvision 0.19+; int32 on 1.13).
#include <gtest/gtest.h>

#include <filesystem>

#include <torchimage/torchimage.h>

#include "reference_png.h"
#include "test_util.h"
#include "core/torch_compat.h"

using namespace torchimage;

namespace {

// Independent decode: libpng (reference_png.h), the samples as stored.
torchimage_test::ReferencePng libpng_16(const torch::Tensor& file) {
  auto ref = torchimage_test::decode_reference_png(file);
  EXPECT_TRUE(ref.ok()) << ref.describe();
  EXPECT_TRUE(ref.warnings.empty()) << ref.describe();
  EXPECT_EQ(ref.file_bit_depth, 16);
  EXPECT_EQ(ref.bit_depth, 16);
  return ref;
}

// A (C, H, W) tensor of 16-bit samples as (H, W, C) values, in any dtype.
std::vector<uint16_t> hwc_values(const torch::Tensor& chw) {
  const torch::Tensor v = chw.to(torch::kInt).permute({1, 2, 0}).contiguous();
  const int32_t* p = v.data_ptr<int32_t>();
  return std::vector<uint16_t>(p, p + v.numel());
}

// The file's samples as libpng decodes them, checked against `chw`.
void expect_file_holds(const torch::Tensor& file, const torch::Tensor& chw, const std::string& ctx) {
  const auto ref = libpng_16(file);
  ASSERT_EQ(ref.channels, chw.size(0)) << ctx;
  ASSERT_EQ(ref.height, chw.size(1)) << ctx;
  ASSERT_EQ(ref.width, chw.size(2)) << ctx;
  EXPECT_EQ(ref.samples(), hwc_values(chw)) << ctx;
}

TEST(Png16, FloatQuantizedAt16Bits) {
  torch::manual_seed(0);
  const auto x = torch::rand({4, 3, 9, 7}) * 2.2 - 1.1;
  const auto o = SaveImageOptions().bit_depth(16).normalize(true).value_range({-1.0, 1.0}).nrow(2);
  const auto file = encode_image(x, o);
  // Reference: torchvision's op sequence at 16 bits, on make_grid's grid.
  const auto grid = make_grid(x, o.grid_options());
  const auto ref = grid.mul(65535).add_(0.5).clamp_(0, 65535).to(torch::kInt).permute({1, 2, 0}).contiguous();
  const auto png = libpng_16(file);
  ASSERT_EQ(png.channels, 3);
  ASSERT_EQ(png.height, grid.size(1));
  ASSERT_EQ(png.width, grid.size(2));
  const auto samples = png.samples();
  ASSERT_EQ(static_cast<int64_t>(samples.size()), ref.numel());
  const int32_t* r = ref.data_ptr<int32_t>();
  for (size_t i = 0; i < samples.size(); ++i) ASSERT_EQ(samples[i], r[i]) << "sample " << i;
  // decode_image keeps them with keep_16_bit, CHW: uint16 on LibTorch 2.3+,
  // int32 on 1.13.
  const auto back = decode_image(file, DecodeOptions().keep_16_bit(true));
  EXPECT_EQ(back.scalar_type(), compat::kSample16);
  EXPECT_TRUE(torch::equal(back.to(torch::kInt), ref.permute({2, 0, 1})));
  // Without it, 8 bits (rounded by libpng).
  EXPECT_EQ(decode_image(file).scalar_type(), torch::kUInt8);
}

TEST(Png16, Int32SamplesAndUint8Scaling) {
  const auto samples = torch::randint(0, 65536, {2, 5, 6}, torch::kInt);
  for (int level : {-1, 0, 6, 9}) {
    auto o = SaveImageOptions().bit_depth(16);
    if (level >= 0) o.compression_level(level);
    const auto file = encode_image(samples, o);
    expect_file_holds(file, samples, c10::str("int32, level ", level));  // gray + alpha
    const auto back = decode_image(file, DecodeOptions().keep_16_bit(true));
    EXPECT_EQ(back.scalar_type(), compat::kSample16);
    EXPECT_TRUE(torch::equal(back.to(torch::kInt), samples)) << "level " << level;
  }
  const auto u8 = torch::randint(0, 256, {1, 4, 4}, torch::kUInt8);
  const auto back = decode_image(encode_image(u8, SaveImageOptions().bit_depth(16).grayscale(true)),
                                 DecodeOptions().keep_16_bit(true));
  EXPECT_TRUE(torch::equal(back.to(torch::kInt), u8.to(torch::kInt) * 257));
}

#if TORCHIMAGE_HAS_UINT16
// LibTorch 2.3+: uint16 is first-class. save_image, encode_image and
// encode_png take uint16 tensors as 16-bit samples; decode_image and
// read_image return uint16. Every value 0-65535 survives (the extremes and
// values whose bytes differ, so a byte-order slip shows).
TEST(Png16, Uint16RoundTrip) {
  const torch::Tensor wide = torch::cat({torch::tensor({0, 1, 255, 256, 0x1234, 0xfedc, 65534, 65535}, torch::kInt),
                                         torch::randint(0, 65536, {3 * 6 * 7 - 8}, torch::kInt)})
                                 .view({3, 6, 7});
  const torch::Tensor x = wide.to(torch::kUInt16);
  ASSERT_EQ(x.scalar_type(), torch::kUInt16);
  for (int level : {-1, 0, 6, 9}) {
    const std::string ctx = c10::str("level ", level);
    PngOptions po;
    auto so = SaveImageOptions().bit_depth(16);
    if (level >= 0) {
      po.compression_level(level);
      so.compression_level(level);
    }
    // encode_png: the image as it is.
    const torch::Tensor png = encode_png(x, po);
    expect_file_holds(png, wide, "encode_png " + ctx);
    const torch::Tensor back = decode_image(png, DecodeOptions().keep_16_bit(true));
    EXPECT_EQ(back.scalar_type(), torch::kUInt16) << ctx;
    EXPECT_TRUE(torch::equal(back.to(torch::kInt), wide)) << ctx;
    // save_image of a batch: make_grid's grid of the samples.
    const torch::Tensor batch = x.unsqueeze(0).expand({2, 3, 6, 7});
    const torchimage_test::TempDir dir("png16");
    save_image(batch, (dir.path / "b.png").string(), so.nrow(2));
    // (make_grid takes no 16-bit samples; float32 holds 0-65535 exactly.)
    const torch::Tensor grid =
        make_grid(batch.to(torch::kFloat), MakeGridOptions().nrow(2)).to(torch::kInt);
    const torch::Tensor file = read_file((dir.path / "b.png").string());
    expect_file_holds(file, grid, "save_image " + ctx);
    EXPECT_TRUE(torch::equal(file, encode_image(batch, so.nrow(2)))) << ctx;
    const torch::Tensor read = read_image((dir.path / "b.png").string(), DecodeOptions().keep_16_bit(true));
    EXPECT_EQ(read.scalar_type(), torch::kUInt16) << ctx;
    EXPECT_TRUE(torch::equal(read.to(torch::kInt), grid)) << ctx;
  }
  // The same samples as int32 (the stand-in) give the same file.
  EXPECT_TRUE(torch::equal(encode_image(x, SaveImageOptions().bit_depth(16)),
                           encode_image(wide, SaveImageOptions().bit_depth(16))));
  // Without keep_16_bit, 8 bits, as torchvision's default.
  EXPECT_EQ(decode_image(encode_png(x)).scalar_type(), torch::kUInt8);
}
#else
// LibTorch 1.13 has no uint16: int32 stands in for it (checked above against
// libpng's decoder); decode_image with keep_16_bit returns int32.
TEST(Png16, Int32IsTheStandIn) {
  const auto samples =
      torch::tensor({0, 1, 255, 256, 0x1234, 0xfedc, 65534, 65535, 7, 8, 9, 10}, torch::kInt).view({3, 2, 2});
  const auto file = encode_image(samples, SaveImageOptions().bit_depth(16));
  expect_file_holds(file, samples, "int32");
  EXPECT_EQ(decode_image(file, DecodeOptions().keep_16_bit(true)).scalar_type(), torch::kInt);
}
#endif

TEST(Png16, Errors) {
  auto msg = [](const std::function<void()>& f) {
    try { f(); } catch (const c10::Error& e) { return std::string(e.what_without_backtrace()); }
    return std::string();
  };
  EXPECT_NE(msg([] { encode_image(torch::rand({3, 4, 4}), SaveImageOptions().bit_depth(12)); }).find("bit_depth must be 8 or 16"), std::string::npos);
  EXPECT_NE(msg([] { encode_image(torch::rand({3, 4, 4}), SaveImageOptions().bit_depth(16).format(ImageFormat::JPEG)); }).find("needs PNG"), std::string::npos);
  EXPECT_NE(msg([] { encode_image(torch::full({3, 4, 4}, 70000, torch::kInt), SaveImageOptions().bit_depth(16)); }).find("[0, 65535]"), std::string::npos);
  EXPECT_NE(msg([] { encode_image(torch::zeros({3, 4, 4}, torch::kInt)); }).find("bit_depth(16)"), std::string::npos);
  // encode_png takes uint8 (and uint16 on 2.3+), never the int32 stand-in.
  EXPECT_NE(msg([] { encode_png(torch::zeros({3, 4, 4}, torch::kInt)); }).find("expected a uint8 tensor"), std::string::npos);
#if TORCHIMAGE_HAS_UINT16
  EXPECT_NE(msg([] { encode_image(torch::zeros({3, 4, 4}, torch::kUInt16)); }).find("uint16 or int32 tensors are 16-bit samples: pass bit_depth(16)"), std::string::npos);
  EXPECT_NE(msg([] { encode_jpeg(torch::zeros({3, 4, 4}, torch::kUInt16)); }).find("expected a uint8 tensor, got UInt16"), std::string::npos);
  EXPECT_NE(msg([] { encode_png(torch::zeros({5, 4, 4}, torch::kUInt16)); }).find("expected 1, 2, 3 or 4 channels, got 5"), std::string::npos);
#endif
}

}  // namespace
