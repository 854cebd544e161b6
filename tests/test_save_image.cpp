// save_image end to end, into a fresh temporary directory per test. PNG files
// are decoded with libpng (reference_png.h), independent of
// torchimage's own decoder, and must hold exactly to_pixels(...); JPEG files
// are read back with torchimage::read_image. Every error leaves the directory
// as it was: no file, no temporary file, a pre-existing file byte-identical.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <torchimage/io.h>

#include "reference_png.h"
#include "test_util.h"
#include <torchimage/save_image.h>

namespace {

namespace fs = std::filesystem;
using torchimage::ImageFormat;
using torchimage::SaveImageOptions;
using Bytes = std::vector<uint8_t>;


using torchimage_test::TempDir;

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes tensor_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return Bytes(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
}

bool is_png(const Bytes& b) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return b.size() >= 8 && std::equal(sig, sig + 8, b.begin());
}

bool is_jpeg(const Bytes& b) {
  return b.size() >= 4 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff && b[b.size() - 2] == 0xff &&
         b[b.size() - 1] == 0xd9;
}

// IHDR: signature (8), length (4), "IHDR" (4), width (4), height (4),
// bit depth (offset 24), colour type (offset 25).
int png_color_type(const Bytes& b) {
  EXPECT_TRUE(is_png(b) && b.size() > 25 && std::memcmp(&b[12], "IHDR", 4) == 0);
  return b.size() > 25 ? b[25] : -1;
}
int png_bit_depth(const Bytes& b) { return b.size() > 24 ? b[24] : -1; }

// The number of components of a JPEG's frame header (SOF0/1/2), walking the
// marker segments from the start.
int jpeg_components(const Bytes& b) {
  size_t pos = 2;
  while (pos + 4 <= b.size() && b[pos] == 0xff) {
    const uint8_t marker = b[pos + 1];
    const size_t len = (size_t{b[pos + 2]} << 8) | b[pos + 3];
    if (marker >= 0xc0 && marker <= 0xc2) return pos + 9 < b.size() ? b[pos + 9] : -1;
    if (marker == 0xda) break;  // start of scan: no frame header before it
    pos += 2 + len;
  }
  ADD_FAILURE() << "no SOF marker";
  return -1;
}

// Decodes PNG bytes with libpng (reference_png.h) into uint8 (H, W, C), C the
// file's own channel count (gray 1, gray+alpha 2, RGB 3, RGBA 4).
torch::Tensor decode_png_libpng(const Bytes& bytes) {
  const torchimage_test::ReferencePng ref = torchimage_test::decode_reference_png(bytes);
  if (!ref.ok()) {
    ADD_FAILURE() << "libpng: " << ref.describe();
    return {};
  }
  EXPECT_NE(ref.color_type, 3) << "unexpected palette image";
  EXPECT_TRUE(ref.warnings.empty()) << ref.describe();
  if (ref.bit_depth != 8) {
    ADD_FAILURE() << "unexpected 16-bit image";
    return {};
  }
  return ref.hwc();
}

// A smooth, non-constant image (JPEG keeps it close).
torch::Tensor smooth_images(int64_t b, int64_t c, int64_t h, int64_t w) {
  auto y = torch::linspace(0, 1, h).reshape({1, 1, h, 1});
  auto x = torch::linspace(0, 1, w).reshape({1, 1, 1, w});
  auto ch = torch::linspace(0.2, 0.8, c).reshape({1, c, 1, 1});
  auto k = torch::linspace(0, 0.3, b).reshape({b, 1, 1, 1});
  return (0.5 * y + 0.3 * x + ch * 0.2 + k).clamp(0, 1).contiguous();
}

// The pixels save_image must write, computed independently of to_pixels (and
// of its fused CPU pass): torchimage::make_grid (checked against torchvision's
// make_grid in test_make_grid) then torchvision's quantization line
// `grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)`, NaN -> 0.
// torch 1.13 has no CPU clamp for float16: its clamp goes through float32,
// which is exact (as scripts/make_golden.py does).
torch::Tensor reference_pixels(const torch::Tensor& input, const SaveImageOptions& o) {
  torch::NoGradGuard no_grad;
  const torch::Tensor grid = torchimage::make_grid(input, o.grid_options());
  torch::Tensor q;
  if (grid.scalar_type() == torch::kUInt8) {
    q = grid;
  } else if (grid.scalar_type() == torch::kBool) {
    q = grid.to(torch::kUInt8) * 255;
  } else {
    q = grid.mul(255).add_(0.5);
    if (q.scalar_type() == torch::kHalf) q = q.to(torch::kFloat);
    q = q.clamp_(0, 255).to(torch::kUInt8).masked_fill_(grid.isnan(), 0);
  }
  return q.permute({1, 2, 0}).contiguous();
}

// Saves with PNG and checks the file is exactly the reference pixels (and
// to_pixels(...)) with the expected colour type; returns the file's bytes.
Bytes expect_png_roundtrip(const torch::Tensor& input, const SaveImageOptions& o,
                           const std::string& name = "out.png") {
  TempDir dir;
  const std::string path = dir.file(name);
  try {
    torchimage::save_image(input, path, o);
  } catch (const c10::Error& e) {
    ADD_FAILURE() << "save_image threw: " << e.what_without_backtrace();
    return {};
  }
  EXPECT_EQ(dir.list(), std::vector<std::string>{name});
  const Bytes bytes = read_bytes(path);
  EXPECT_TRUE(is_png(bytes));
  const torch::Tensor want = reference_pixels(input, o);
  const torch::Tensor got = decode_png_libpng(bytes);
  if (!got.defined()) return bytes;
  EXPECT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(got.sizes() == want.sizes() && torch::equal(got, want))
      << "the file's pixels differ from the reference";
  const torch::Tensor px = torchimage::to_pixels(input, o);
  EXPECT_TRUE(px.sizes() == want.sizes() && torch::equal(px, want))
      << "to_pixels differs from the reference";
  EXPECT_TRUE(px.is_contiguous());
  static const int kColorType[5] = {-1, 0, 4, 2, 6};
  EXPECT_EQ(png_color_type(bytes), kColorType[want.size(2)]);
  EXPECT_EQ(png_bit_depth(bytes), 8);
  // What encode_image returns is what save_image wrote.
  EXPECT_EQ(tensor_bytes(torchimage::encode_image(input, SaveImageOptions(o).format(ImageFormat::PNG))),
            bytes);
  return bytes;
}

// ---------------------------------------------------------------------------

TEST(SaveImage, PngDecodesToExactPixels) {
  torch::manual_seed(1);
  for (int64_t b : {1, 2, 5, 9}) {
    for (int64_t c : {1, 3}) {
      SCOPED_TRACE(c10::str("B=", b, " C=", c));
      const torch::Tensor x = torch::rand({b, c, 7, 5}) * 1.4 - 0.2;
      expect_png_roundtrip(x, SaveImageOptions());
      expect_png_roundtrip(x, SaveImageOptions().nrow(3).padding(1).pad_value(0.5));
      expect_png_roundtrip(x, SaveImageOptions().normalize(true));
      expect_png_roundtrip(x, SaveImageOptions().normalize(true).value_range({-1.0, 1.0}).scale_each(true));
      expect_png_roundtrip(x, SaveImageOptions().padding(0).pad_value(std::vector<double>{1.0, 0.0, 0.5}));
    }
  }
  // Every floating dtype of the spec (float16: Float16 below).
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const torch::Tensor x = (torch::rand({3, 3, 6, 4}) * 1.2 - 0.1).to(dtype);
    expect_png_roundtrip(x, SaveImageOptions().nrow(2));
    expect_png_roundtrip(x, SaveImageOptions().nrow(2).normalize(true).value_range({-0.3, 0.9}));
    expect_png_roundtrip(x, SaveImageOptions().normalize(true).scale_each(true));
  }
  // NaN and infinities: NaN -> 0, +Inf -> 255, -Inf -> 0.
  torch::Tensor special = torch::rand({2, 3, 4, 4});
  special[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  special[0][1][0][0] = std::numeric_limits<float>::infinity();
  special[0][2][0][0] = -std::numeric_limits<float>::infinity();
  const Bytes sb = expect_png_roundtrip(special, SaveImageOptions().padding(0));
  if (!sb.empty()) {
    const torch::Tensor px = decode_png_libpng(sb);
    EXPECT_EQ(px[0][0][0].item<uint8_t>(), 0);
    EXPECT_EQ(px[0][0][1].item<uint8_t>(), 255);
    EXPECT_EQ(px[0][0][2].item<uint8_t>(), 0);
  }
  expect_png_roundtrip(special, SaveImageOptions().normalize(true).value_range({0.0, 1.0}));
  // 2-D and 3-D inputs.
  expect_png_roundtrip(torch::rand({9, 11}), SaveImageOptions());
  expect_png_roundtrip(torch::rand({3, 9, 11}), SaveImageOptions());
}

TEST(SaveImage, OptionSweepMatchesReference) {
  torch::manual_seed(11);
  for (int64_t b : {1, 2, 3, 7, 12}) {
    for (int64_t nrow : {1, 3, 5}) {
      for (int64_t padding : {0, 1, 4}) {
        SCOPED_TRACE(c10::str("B=", b, " nrow=", nrow, " padding=", padding));
        const torch::Tensor x = torch::randn({b, 3, 5, 6}, torch::kDouble) * 0.6 + 0.4;
        const SaveImageOptions o = SaveImageOptions().nrow(nrow).padding(padding);
        expect_png_roundtrip(x, SaveImageOptions(o).pad_value(0.25));
        expect_png_roundtrip(x.to(torch::kFloat), SaveImageOptions(o).normalize(true).value_range({-0.77, 1.3}));
        expect_png_roundtrip(x.to(torch::kFloat), SaveImageOptions(o).normalize(true).scale_each(true));
      }
    }
  }
}

// float16 inputs (torch 1.13 cannot clamp float16 on CPU; torchimage must).
TEST(SaveImage, Float16) {
  torch::manual_seed(12);
  const torch::Tensor x = (torch::rand({3, 3, 6, 4}) * 1.2 - 0.1).to(torch::kHalf);
  expect_png_roundtrip(x, SaveImageOptions().nrow(2));
  expect_png_roundtrip(x[0], SaveImageOptions());
  expect_png_roundtrip(x.narrow(1, 0, 1), SaveImageOptions().grayscale(true));
}

TEST(SaveImage, PngEveryCompressionLevel) {
  torch::manual_seed(2);
  const torch::Tensor x = torch::rand({4, 3, 16, 16});
  Bytes level6;
  for (int level = 0; level <= 9; ++level) {
    SCOPED_TRACE(level);
    const Bytes bytes = expect_png_roundtrip(x, SaveImageOptions().compression_level(level));
    if (level == 6) level6 = bytes;
  }
  expect_png_roundtrip(x, SaveImageOptions().compression_level(std::nullopt));
}

TEST(SaveImage, PngChannelCountsAndColourTypes) {
  torch::manual_seed(3);
  struct Case {
    int64_t channels;
    bool grayscale;
    int color_type;
    int64_t out_channels;
  };
  for (const Case& k : {Case{1, false, 2, 3}, Case{1, true, 0, 1}, Case{2, false, 4, 2},
                        Case{3, false, 2, 3}, Case{4, false, 6, 4}, Case{3, true, 2, 3},
                        Case{2, true, 4, 2}, Case{4, true, 6, 4}}) {
    for (int64_t b : {1, 3}) {
      SCOPED_TRACE(c10::str("C=", k.channels, " grayscale=", k.grayscale, " B=", b));
      // Alpha values over the whole range, 0 and 255 included.
      const torch::Tensor x = torch::rand({b, k.channels, 6, 7}) * 1.2 - 0.1;
      const SaveImageOptions o = SaveImageOptions().grayscale(k.grayscale).nrow(2);
      const Bytes bytes = expect_png_roundtrip(x, o);
      EXPECT_EQ(png_color_type(bytes), k.color_type);
      EXPECT_EQ(torchimage::to_pixels(x, o).size(2), k.out_channels);
    }
  }
  // (H, W) with the opt-in: gray.
  EXPECT_EQ(png_color_type(expect_png_roundtrip(torch::rand({5, 6}), SaveImageOptions().grayscale(true))), 0);
  EXPECT_EQ(png_color_type(expect_png_roundtrip(torch::rand({5, 6}), SaveImageOptions())), 2);
}

TEST(SaveImage, FormatFromExtensionAnyCase) {
  TempDir dir;
  const torch::Tensor x = smooth_images(2, 3, 8, 8);
  for (const std::string name : {"a.png", "b.PNG", "c.Png", "d.pNg"}) {
    torchimage::save_image(x, dir.file(name));
    EXPECT_TRUE(is_png(read_bytes(dir.file(name)))) << name;
  }
  for (const std::string name : {"e.jpg", "f.Jpg", "g.JPG", "h.jpeg", "i.JPEG", "j.Jpeg"}) {
    torchimage::save_image(x, dir.file(name));
    const Bytes bytes = read_bytes(dir.file(name));
    EXPECT_TRUE(is_jpeg(bytes)) << name;
    EXPECT_EQ(bytes, tensor_bytes(torchimage::encode_image(x, SaveImageOptions().format(ImageFormat::JPEG))))
        << name;
  }
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"a.png", "b.PNG", "c.Png", "d.pNg", "e.jpg", "f.Jpg",
                                                  "g.JPG", "h.jpeg", "i.JPEG", "j.Jpeg"}));
  // A dotted directory name is not an extension; the last dot of the name counts.
  EXPECT_TRUE(fs::create_directory(dir.file("sub.png")));
  torchimage::save_image(x, dir.file("sub.png/k.tar.jpg"));
  EXPECT_TRUE(is_jpeg(read_bytes(dir.file("sub.png/k.tar.jpg"))));
}

TEST(SaveImage, ExplicitFormatOverridesOrFillsIn) {
  TempDir dir;
  const torch::Tensor x = smooth_images(3, 3, 8, 8);
  torchimage::save_image(x, dir.file("noext"), SaveImageOptions().format(ImageFormat::PNG));
  EXPECT_TRUE(is_png(read_bytes(dir.file("noext"))));
  torchimage::save_image(x, dir.file("noext2"), SaveImageOptions().format("JPEG"));
  EXPECT_TRUE(is_jpeg(read_bytes(dir.file("noext2"))));
  torchimage::save_image(x, dir.file("noext3"), SaveImageOptions().format("jpg"));
  EXPECT_TRUE(is_jpeg(read_bytes(dir.file("noext3"))));
  torchimage::save_image(x, dir.file("x.png"), SaveImageOptions().format(ImageFormat::JPEG));
  EXPECT_TRUE(is_jpeg(read_bytes(dir.file("x.png"))));
  torchimage::save_image(x, dir.file("y.jpg"), SaveImageOptions().format("png"));
  EXPECT_TRUE(is_png(read_bytes(dir.file("y.jpg"))));
  torchimage::save_image(x, dir.file("z.bmp"), SaveImageOptions().format("Png"));
  EXPECT_TRUE(is_png(read_bytes(dir.file("z.bmp"))));
  torchimage::save_image(x, dir.file("w."), SaveImageOptions().format(ImageFormat::PNG));
  EXPECT_TRUE(is_png(read_bytes(dir.file("w."))));
  EXPECT_EQ(read_bytes(dir.file("noext")), read_bytes(dir.file("y.jpg")));
  EXPECT_EQ(read_bytes(dir.file("noext2")), read_bytes(dir.file("x.png")));
  // An unknown format name is refused when the option is set.
  EXPECT_THROW_MSG(SaveImageOptions().format("ppm"), "unsupported format 'ppm'");
  EXPECT_THROW_MSG(SaveImageOptions().format("xyz"), "supported formats: png, jpeg");
}

TEST(SaveImage, JpegReadsBackCloseAndGrayIsOneComponent) {
  const torch::Tensor x = smooth_images(4, 3, 24, 32);
  for (bool grayscale : {false, true}) {
    for (int64_t c : {1, 3}) {
      if (grayscale && c == 3) continue;
      SCOPED_TRACE(c10::str("C=", c, " grayscale=", grayscale));
      TempDir dir;
      const torch::Tensor in = x.narrow(1, 0, c);
      const SaveImageOptions o = SaveImageOptions().grayscale(grayscale).quality(95).nrow(2);
      torchimage::save_image(in, dir.file("a.jpg"), o);
      const Bytes bytes = read_bytes(dir.file("a.jpg"));
      ASSERT_TRUE(is_jpeg(bytes));
      const int64_t want_c = grayscale ? 1 : 3;
      EXPECT_EQ(jpeg_components(bytes), want_c);
      const torch::Tensor back = torchimage::read_image(dir.file("a.jpg"));
      const torch::Tensor px = torchimage::to_pixels(in, o);
      ASSERT_EQ(back.sizes(), (std::vector<int64_t>{want_c, px.size(0), px.size(1)}));
      const double err = (back.permute({1, 2, 0}).to(torch::kFloat) - px.to(torch::kFloat))
                             .abs().mean().item<double>();
      EXPECT_LT(err, 2.0);
      EXPECT_EQ(bytes, tensor_bytes(torchimage::encode_image(
                           in, SaveImageOptions(o).format(ImageFormat::JPEG))));
    }
  }
}

TEST(SaveImage, Uint8AndBoolInputs) {
  torch::manual_seed(4);
  const torch::Tensor u8 = torch::randint(0, 256, {3, 3, 5, 6}, torch::kUInt8);
  expect_png_roundtrip(u8, SaveImageOptions().pad_value(200));
  // uint8 is taken as finished pixels.
  const Bytes one = expect_png_roundtrip(u8[0], SaveImageOptions());
  EXPECT_TRUE(torch::equal(decode_png_libpng(one), u8[0].permute({1, 2, 0})));
  const torch::Tensor b = torch::rand({2, 3, 5, 6}).gt(0.5);
  expect_png_roundtrip(b, SaveImageOptions().pad_value(1));
  // bool is 0 / 255.
  const Bytes bb = expect_png_roundtrip(b[1], SaveImageOptions());
  EXPECT_TRUE(torch::equal(decode_png_libpng(bb), b[1].permute({1, 2, 0}).to(torch::kUInt8) * 255));
  const Bytes bg = expect_png_roundtrip(b[1][0], SaveImageOptions().grayscale(true));
  EXPECT_EQ(png_color_type(bg), 0);
  // Through JPEG too.
  TempDir dir;
  torchimage::save_image(u8, dir.file("u.jpg"));
  torchimage::save_image(b, dir.file("b.jpg"));
  EXPECT_EQ(torchimage::read_image(dir.file("u.jpg")).size(0), 3);
  EXPECT_EQ(torchimage::read_image(dir.file("b.jpg")).size(0), 3);
}

TEST(SaveImage, RequiresGradInput) {
  torch::manual_seed(5);
  const torch::Tensor leaf = torch::rand({3, 3, 5, 5}, torch::requires_grad());
  const torch::Tensor before = leaf.detach().clone();
  expect_png_roundtrip(leaf, SaveImageOptions());
  expect_png_roundtrip(leaf, SaveImageOptions().normalize(true).scale_each(true));
  const torch::Tensor y = leaf * 2 - 0.5;  // a non-leaf
  expect_png_roundtrip(y, SaveImageOptions().normalize(true));
  EXPECT_TRUE(torch::equal(leaf.detach(), before));
  EXPECT_TRUE(leaf.requires_grad());
  EXPECT_FALSE(leaf.grad().defined());
  // The pixels are those of the detached values.
  EXPECT_TRUE(torch::equal(torchimage::to_pixels(leaf), torchimage::to_pixels(before)));
}

TEST(SaveImage, NonContiguousAndChannelsLastInputs) {
  torch::manual_seed(6);
  const torch::Tensor base = torch::rand({4, 3, 6, 10});
  const std::vector<torch::Tensor> inputs = {
      base.transpose(2, 3), base.slice(3, 0, 10, 2), base.contiguous(at::MemoryFormat::ChannelsLast),
      base.narrow(0, 0, 1).expand({3, 3, 6, 10}), base[0].transpose(1, 2),
      torch::rand({3, 1, 1}).expand({3, 6, 10})};
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(i);
    const torch::Tensor& x = inputs[i];
    for (bool normalize : {false, true}) {
      const SaveImageOptions o = SaveImageOptions().normalize(normalize).nrow(3);
      const Bytes bytes = expect_png_roundtrip(x, o);
      EXPECT_EQ(bytes, tensor_bytes(torchimage::encode_image(x.contiguous(), o)));
    }
  }
}

TEST(SaveImage, ListOverload) {
  torch::manual_seed(7);
  std::vector<torch::Tensor> list;
  for (int i = 0; i < 5; ++i) list.push_back(torch::rand({3, 6, 7}));
  const SaveImageOptions o = SaveImageOptions().nrow(2).padding(3);
  TempDir dir;
  torchimage::save_image(list, dir.file("list.png"), o);
  torchimage::save_image(torch::stack(list), dir.file("stacked.png"), o);
  const Bytes bytes = read_bytes(dir.file("list.png"));
  EXPECT_EQ(bytes, read_bytes(dir.file("stacked.png")));
  EXPECT_TRUE(torch::equal(decode_png_libpng(bytes), torchimage::to_pixels(torch::stack(list), o)));
  torchimage::save_image(list, dir.file("list.jpg"), o);
  EXPECT_TRUE(is_jpeg(read_bytes(dir.file("list.jpg"))));
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"list.jpg", "list.png", "stacked.png"}));
  // encode_image and to_pixels take the list too, with the checks under their own names.
  EXPECT_EQ(tensor_bytes(torchimage::encode_image(list, o)), bytes);
  EXPECT_TRUE(torch::equal(torchimage::to_pixels(list, o), decode_png_libpng(bytes)));
  const std::vector<torch::Tensor> mixed = {torch::zeros({3, 4, 4}), torch::zeros({3, 4, 5})};
  for (const char* what : {"encode_image", "to_pixels"}) {
    try {
      if (std::string(what) == "encode_image") torchimage::encode_image(mixed, o);
      else torchimage::to_pixels(mixed, o);
      ADD_FAILURE() << what << " took a list of two shapes";
    } catch (const c10::Error& e) {
      const std::string msg = e.what_without_backtrace();
      EXPECT_NE(msg.find(std::string(what) + ": all tensors of the list must have one shape"),
                std::string::npos)
          << msg;
    }
  }
}

TEST(SaveImage, EncodeImageEqualsFileBytes) {
  torch::manual_seed(8);
  const torch::Tensor x = torch::rand({6, 3, 9, 8});
  TempDir dir;
  // PNG is encode_image's default format.
  torchimage::save_image(x, dir.file("d.png"));
  EXPECT_EQ(tensor_bytes(torchimage::encode_image(x)), read_bytes(dir.file("d.png")));
  for (int q : {1, 50, 75, 95, 100}) {
    const SaveImageOptions o = SaveImageOptions().quality(q);
    torchimage::save_image(x, dir.file("q.jpg"), o);
    const torch::Tensor enc = torchimage::encode_image(x, SaveImageOptions(o).format(ImageFormat::JPEG));
    EXPECT_EQ(enc.scalar_type(), torch::kUInt8);
    EXPECT_EQ(enc.dim(), 1);
    EXPECT_EQ(tensor_bytes(enc), read_bytes(dir.file("q.jpg"))) << "quality " << q;
  }
  for (int level : {0, 1, 6, 9}) {
    const SaveImageOptions o = SaveImageOptions().compression_level(level).grayscale(true);
    torchimage::save_image(x.narrow(1, 0, 1), dir.file("c.png"), o);
    EXPECT_EQ(tensor_bytes(torchimage::encode_image(x.narrow(1, 0, 1), o)), read_bytes(dir.file("c.png")))
        << "level " << level;
  }
  // Quality only matters to JPEG; compression level only to PNG.
  EXPECT_EQ(tensor_bytes(torchimage::encode_image(x, SaveImageOptions().quality(10))),
            tensor_bytes(torchimage::encode_image(x, SaveImageOptions().quality(90))));
  EXPECT_NE(tensor_bytes(torchimage::encode_image(x, SaveImageOptions().quality(10).format(ImageFormat::JPEG))),
            tensor_bytes(torchimage::encode_image(x, SaveImageOptions().quality(90).format(ImageFormat::JPEG))));
}

TEST(SaveImage, OverwritesAnExistingFile) {
  TempDir dir;
  write_bytes(dir.file("a.png"), Bytes(1000, 0xab));
  const torch::Tensor x = smooth_images(2, 3, 4, 4);
  torchimage::save_image(x, dir.file("a.png"));
  EXPECT_EQ(read_bytes(dir.file("a.png")), tensor_bytes(torchimage::encode_image(x)));
  EXPECT_EQ(dir.list(), std::vector<std::string>{"a.png"});
}

// ---------------------------------------------------------------------------
// Errors: a c10::Error naming the value, and the directory left as it was.
// ---------------------------------------------------------------------------

template <typename Input>
void expect_save_error(const Input& input, const std::string& name, const SaveImageOptions& o,
                       const std::string& substring) {
  SCOPED_TRACE(c10::str("file ", name, ", expecting \"", substring, "\""));
  {
    TempDir dir;
    EXPECT_THROW_MSG(torchimage::save_image(input, dir.file(name), o), substring);
    EXPECT_EQ(dir.list(), std::vector<std::string>{}) << "a file was left behind";
  }
  {
    TempDir dir;
    Bytes previous(777);
    for (size_t i = 0; i < previous.size(); ++i) previous[i] = static_cast<uint8_t>(i * 31 + 7);
    write_bytes(dir.file(name), previous);
    EXPECT_THROW_MSG(torchimage::save_image(input, dir.file(name), o), substring);
    EXPECT_EQ(dir.list(), std::vector<std::string>{name}) << "a temporary file was left behind";
    EXPECT_EQ(read_bytes(dir.file(name)), previous) << "the existing file was changed";
  }
}

TEST(SaveImageErrors, Dtypes) {
  const SaveImageOptions o;
  expect_save_error(torch::zeros({3, 4, 4}, torch::kComplexFloat), "a.png", o, "ComplexFloat");
  expect_save_error(torch::zeros({3, 4, 4}, torch::kComplexDouble), "a.png", o, "ComplexDouble");
  expect_save_error(torch::zeros({3, 4, 4}, torch::kInt), "a.png", o, "got Int");
  expect_save_error(torch::zeros({3, 4, 4}, torch::kLong), "a.jpg", o, "got Long");
  expect_save_error(torch::zeros({3, 4, 4}, torch::kShort), "a.png", o, "got Short");
  expect_save_error(torch::zeros({3, 4, 4}, torch::kChar), "a.png", o, "got Char");
  expect_save_error(torch::zeros({3, 4, 4}, torch::kInt), "a.png", o, "save_image:");
  expect_save_error(torch::Tensor(), "a.png", o, "undefined");
}

TEST(SaveImageErrors, Dims) {
  const SaveImageOptions o;
  expect_save_error(torch::zeros({}), "a.png", o, "got 0-D");
  expect_save_error(torch::zeros({16}), "a.png", o, "got 1-D");
  expect_save_error(torch::zeros({2, 3, 4, 4, 1}), "a.png", o, "got 5-D");
  expect_save_error(torch::zeros({1, 1, 2, 3, 4, 4}), "a.jpg", o, "got 6-D");
}

TEST(SaveImageErrors, Channels) {
  const SaveImageOptions o;
  expect_save_error(torch::zeros({5, 4, 4}), "a.png", o, "got 5 channels");
  expect_save_error(torch::zeros({2, 5, 4, 4}), "a.png", o, "got 5 channels");
  expect_save_error(torch::zeros({2, 8, 4, 4}), "a.jpg", o, "got 8 channels");
  expect_save_error(torch::zeros({4, 4, 4}), "a.jpg", o, "JPEG has no alpha channel");
  expect_save_error(torch::zeros({3, 4, 4, 4}), "a.jpeg", o, "got 4");
  expect_save_error(torch::zeros({2, 4, 4}), "a.jpg", o, "got 2");
  expect_save_error(torch::zeros({4, 4, 4}), "a.png", SaveImageOptions().format(ImageFormat::JPEG),
                    "JPEG has no alpha channel");
}

TEST(SaveImageErrors, GridOptions) {
  const torch::Tensor x = torch::rand({2, 3, 4, 4});
  expect_save_error(x, "a.png", SaveImageOptions().nrow(0), "nrow must be at least 1, got 0");
  expect_save_error(x, "a.png", SaveImageOptions().nrow(-1), "got -1");
  expect_save_error(x, "a.png", SaveImageOptions().padding(-1), "padding must be non-negative, got -1");
  expect_save_error(x, "a.png", SaveImageOptions().normalize(true).value_range({1.0, 0.0}),
                    "low <= high, got (1, 0)");
  expect_save_error(x, "a.png",
                    SaveImageOptions().normalize(true).value_range(
                        {0.0, std::numeric_limits<double>::quiet_NaN()}),
                    "value_range");
  expect_save_error(torch::zeros({2, 3, 4, 4}, torch::kUInt8), "a.png", SaveImageOptions().normalize(true),
                    "normalize needs a floating-point tensor");
  expect_save_error(x, "a.png", SaveImageOptions().pad_value(std::vector<double>{1, 2}),
                    "pad_value must hold one value or one per channel");
}

TEST(SaveImageErrors, Empty) {
  const SaveImageOptions o;
  expect_save_error(torch::zeros({0, 3, 4, 4}), "a.png", o, "non-empty tensor, got shape [0, 3, 4, 4]");
  expect_save_error(torch::zeros({3, 0, 4}), "a.png", o, "non-empty");
  expect_save_error(torch::zeros({4, 0}), "a.jpg", o, "non-empty");
}

TEST(SaveImageErrors, QualityAndCompressionLevel) {
  const torch::Tensor x = torch::rand({3, 4, 4});
  expect_save_error(x, "a.jpg", SaveImageOptions().quality(0), "quality must be in 1-100, got 0");
  expect_save_error(x, "a.jpg", SaveImageOptions().quality(101), "got 101");
  expect_save_error(x, "a.jpg", SaveImageOptions().quality(-5), "got -5");
  expect_save_error(x, "a.png", SaveImageOptions().compression_level(-1),
                    "compression_level must be in 0-9, got -1");
  expect_save_error(x, "a.png", SaveImageOptions().compression_level(10), "got 10");
  EXPECT_THROW_MSG(torchimage::encode_image(x, SaveImageOptions().format(ImageFormat::JPEG).quality(0)),
                   "encode_image: quality must be in 1-100, got 0");
  EXPECT_THROW_MSG(torchimage::encode_image(x, SaveImageOptions().compression_level(10)),
                   "encode_image: compression_level must be in 0-9, got 10");
}

// Pillow's extensions of PNG and JPEG (Image.registered_extensions()), so that
// a path means the same format as in torchvision's save_image.
TEST(SaveImage, PillowExtensionsChooseTheFormat) {
  const torch::Tensor x = smooth_images(2, 3, 8, 8);
  const Bytes png = tensor_bytes(torchimage::encode_image(x));
  const Bytes jpeg = tensor_bytes(torchimage::encode_image(x, SaveImageOptions().format(ImageFormat::JPEG)));
  TempDir dir;
  for (const std::string name : {"a.apng", "a.PNG", "a.ApNg"}) {
    torchimage::save_image(x, dir.file(name));
    EXPECT_EQ(read_bytes(dir.file(name)), png) << name;
  }
  for (const std::string name : {"a.jpe", "a.jfif", "a.JFIF", "a.Jpeg", "a.jpg"}) {
    torchimage::save_image(x, dir.file(name));
    EXPECT_EQ(read_bytes(dir.file(name)), jpeg) << name;
  }
}

TEST(SaveImageErrors, UnsupportedExtensionListsFormats) {
  const torch::Tensor x = torch::rand({3, 4, 4});
  const SaveImageOptions o;
  // The message lists the table: every row's extensions, then its names.
  std::string exts, names;
  for (const torchimage::FormatInfo& f : torchimage::formats()) {
    for (const std::string& e : f.extensions) exts += (exts.empty() ? "." : ", .") + e;
    names += (names.empty() ? "" : ", ") + f.name;
  }
  const std::string supported = "supported: " + exts + ", or set the format option (" + names + ")";
  for (const std::string name : {"a.ppm", "a.xyz", "a.tga", "a.png.bak", "noext", "a.", "a.jp"}) {
    expect_save_error(x, name, o, supported);
    expect_save_error(x, name, o, "cannot tell the format of");
  }
  expect_save_error(x, "a.ppm", o, "'.ppm'");
  // The list overload checks the path first too.
  expect_save_error(std::vector<torch::Tensor>{x, x}, "a.ppm", o, supported);
  // A directory named like an image: the file inside has no extension.
  TempDir dir;
  ASSERT_TRUE(fs::create_directory(dir.file("d.png")));
  EXPECT_THROW_MSG(torchimage::save_image(x, dir.file("d.png/noext")), "cannot tell the format");
  EXPECT_TRUE(fs::is_empty(dir.file("d.png")));
}

TEST(SaveImageErrors, Lists) {
  const SaveImageOptions o;
  expect_save_error(std::vector<torch::Tensor>{torch::zeros({3, 4, 4}), torch::zeros({3, 4, 5})}, "a.png", o,
                    "tensor 0 has [3, 4, 4], tensor 1 has [3, 4, 5]");
  expect_save_error(std::vector<torch::Tensor>{torch::zeros({3, 4, 4}), torch::zeros({3, 4, 4}, torch::kDouble)},
                    "a.png", o, "one dtype");
  expect_save_error(std::vector<torch::Tensor>{}, "a.png", o, "non-empty list");
  expect_save_error(std::vector<torch::Tensor>{torch::zeros({3, 4, 4}, torch::kInt)}, "a.png", o, "got Int");
}

TEST(SaveImageErrors, JpegTooLargeRejectedBeforeAnyWork) {
  // Cheap expanded tensors: the check is on the shape, before make_grid.
  const torch::Tensor wide = torch::zeros({1, 1}).expand({3, 1, 70000});
  const torch::Tensor tall = torch::zeros({1, 1}).expand({3, 70000, 1});
  // A grid made too wide by the padding and the row of images alone.
  const torch::Tensor row = torch::zeros({1, 1, 1, 1}).expand({8, 3, 1, 8200});
  const auto start = std::chrono::steady_clock::now();
  expect_save_error(wide, "a.jpg", SaveImageOptions(), "exceeds JPEG's limit of 65500");
  expect_save_error(wide, "a.jpg", SaveImageOptions(), "1x70000");
  expect_save_error(tall, "a.jpeg", SaveImageOptions(), "70000x1");
  expect_save_error(row, "a.jpg", SaveImageOptions(), "65500");
  // A gigapixel-class grid (tens of GB if made) fails as fast.
  const torch::Tensor huge = torch::zeros({1, 1, 1, 1}).expand({64, 3, 70000, 70000});
  expect_save_error(huge, "a.jpg", SaveImageOptions(), "65500");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0);
  EXPECT_THROW_MSG(torchimage::encode_image(wide, SaveImageOptions().format(ImageFormat::JPEG)), "65500");
  // PNG takes 70000 pixels wide.
  expect_png_roundtrip(wide, SaveImageOptions());
}

TEST(SaveImageErrors, MissingDirectory) {
  TempDir dir;
  const torch::Tensor x = torch::rand({3, 4, 4});
  EXPECT_THROW_MSG(torchimage::save_image(x, dir.file("missing/a.png")), "create_directories");
  EXPECT_EQ(dir.list(), std::vector<std::string>{});
  torchimage::save_image(x, dir.file("made/a.png"), SaveImageOptions().create_directories(true));
  EXPECT_TRUE(is_png(read_bytes(dir.file("made/a.png"))));
}

// Options the dtype cannot hold are torchvision errors (new_full / clamp_
// overflow); save_image must refuse them as make_grid does, whichever
// internal path (fused CPU pass or ATen ops) it takes.
TEST(SaveImageErrors, OptionValuesNotRepresentableInDtype) {
  const torch::Tensor x = torch::rand({2, 3, 4, 4});
  expect_save_error(x, "a.png", SaveImageOptions().pad_value(1e300), "pad_value");
  expect_save_error(x.to(torch::kHalf), "a.png", SaveImageOptions().pad_value(1e5), "pad_value");
  expect_save_error(x, "a.png", SaveImageOptions().normalize(true).value_range({0.0, 1e300}), "value_range");
  expect_save_error(x.to(torch::kBFloat16), "a.png", SaveImageOptions().normalize(true).value_range({0.0, 1e300}),
                    "value_range");
}

TEST(SaveImageErrors, PaddingOverflow) {
  const torch::Tensor x = torch::rand({2, 3, 4, 4});
  expect_save_error(x, "a.jpg", SaveImageOptions().padding(std::numeric_limits<int64_t>::max()), "too large");
  expect_save_error(x, "a.png", SaveImageOptions().padding(std::numeric_limits<int64_t>::max() - 3), "too large");
}

}  // namespace
