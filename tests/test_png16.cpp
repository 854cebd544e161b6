// 16-bit PNG: float tensors quantized to 0-65535 with torchvision's rule at 16
// bits, uint8 scaled by 257, int32 samples written as they are; libpng reads
// them back (decode_image with keep_16_bit, and libpng's simplified API).
#include <gtest/gtest.h>

#include <png.h>

#include <filesystem>

#include <torchimage/torchimage.h>

using namespace torchimage;

namespace {

// Independent decode: libpng's simplified API, 16-bit linear-free "sRGB" off:
// PNG_FORMAT_FLAG_LINEAR gives 16-bit samples as stored.
std::vector<uint16_t> libpng_16(const torch::Tensor& file, int* channels, int* w, int* h) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_memory(&img, file.data_ptr<uint8_t>(), file.numel()));
  *w = static_cast<int>(img.width), *h = static_cast<int>(img.height);
  *channels = PNG_IMAGE_SAMPLE_CHANNELS(img.format);
  // Read the stored samples through the low-level API instead: the simplified
  // API's linear format converts gamma. Return the raw big-endian samples.
  png_image_free(&img);
  std::vector<uint16_t> out;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  struct Src { const uint8_t* p; size_t n, off; } src{file.data_ptr<uint8_t>(), static_cast<size_t>(file.numel()), 0};
  png_set_read_fn(png, &src, [](png_structp s, png_bytep o, png_size_t n) {
    auto* x = static_cast<Src*>(png_get_io_ptr(s));
    std::memcpy(o, x->p + x->off, n);
    x->off += n;
  });
  png_read_info(png, info);
  EXPECT_EQ(png_get_bit_depth(png, info), 16);
  const size_t rowbytes = png_get_rowbytes(png, info);
  std::vector<uint8_t> row(rowbytes);
  for (int y = 0; y < *h; ++y) {
    png_read_row(png, row.data(), nullptr);
    for (size_t i = 0; i < rowbytes; i += 2) out.push_back(static_cast<uint16_t>(row[i] << 8 | row[i + 1]));
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return out;
}

TEST(Png16, FloatQuantizedAt16Bits) {
  torch::manual_seed(0);
  const auto x = torch::rand({4, 3, 9, 7}) * 2.2 - 1.1;
  const auto o = SaveImageOptions().bit_depth(16).normalize(true).value_range({-1.0, 1.0}).nrow(2);
  const auto file = encode_image(x, o);
  // Reference: torchvision's op sequence at 16 bits, on make_grid's grid.
  const auto grid = make_grid(x, o.grid_options());
  const auto ref = grid.mul(65535).add_(0.5).clamp_(0, 65535).to(torch::kInt).permute({1, 2, 0}).contiguous();
  int c = 0, w = 0, h = 0;
  const auto samples = libpng_16(file, &c, &w, &h);
  ASSERT_EQ(c, 3);
  ASSERT_EQ(h, grid.size(1));
  ASSERT_EQ(w, grid.size(2));
  const int32_t* r = ref.data_ptr<int32_t>();
  for (size_t i = 0; i < samples.size(); ++i) ASSERT_EQ(samples[i], r[i]) << "sample " << i;
  // decode_image keeps them with keep_16_bit, as int32 CHW.
  const auto back = decode_image(file, DecodeOptions().keep_16_bit(true));
  EXPECT_EQ(back.scalar_type(), torch::kInt);
  EXPECT_TRUE(torch::equal(back, ref.permute({2, 0, 1})));
  // Without it, 8 bits (rounded by libpng).
  EXPECT_EQ(decode_image(file).scalar_type(), torch::kUInt8);
}

TEST(Png16, Int32SamplesAndUint8Scaling) {
  const auto samples = torch::randint(0, 65536, {2, 5, 6}, torch::kInt);
  for (int level : {-1, 0, 6, 9}) {
    auto o = SaveImageOptions().bit_depth(16);
    if (level >= 0) o.compression_level(level);
    const auto back = decode_image(encode_image(samples, o), DecodeOptions().keep_16_bit(true));
    EXPECT_TRUE(torch::equal(back, samples)) << "level " << level;  // gray + alpha
  }
  const auto u8 = torch::randint(0, 256, {1, 4, 4}, torch::kUInt8);
  const auto back = decode_image(encode_image(u8, SaveImageOptions().bit_depth(16).grayscale(true)),
                                 DecodeOptions().keep_16_bit(true));
  EXPECT_TRUE(torch::equal(back, u8.to(torch::kInt) * 257));
}

TEST(Png16, Errors) {
  auto msg = [](const std::function<void()>& f) {
    try { f(); } catch (const c10::Error& e) { return std::string(e.what_without_backtrace()); }
    return std::string();
  };
  EXPECT_NE(msg([] { encode_image(torch::rand({3, 4, 4}), SaveImageOptions().bit_depth(12)); }).find("bit_depth must be 8 or 16"), std::string::npos);
  EXPECT_NE(msg([] { encode_image(torch::rand({3, 4, 4}), SaveImageOptions().bit_depth(16).format(ImageFormat::JPEG)); }).find("needs PNG"), std::string::npos);
  EXPECT_NE(msg([] { encode_image(torch::full({3, 4, 4}, 70000, torch::kInt), SaveImageOptions().bit_depth(16)); }).find("[0, 65535]"), std::string::npos);
  EXPECT_NE(msg([] { encode_image(torch::zeros({3, 4, 4}, torch::kInt)); }).find("bit_depth(16)"), std::string::npos);
}

}  // namespace
