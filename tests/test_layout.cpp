// Layouts (channels last, maps) and colormaps from C++: a (B, H, W, C) tensor
// gives what its permutation to (B, C, H, W) gives, through every function;
// a colormapped map is three channels that the gray pixels index. (Against
// torchvision and matplotlib themselves: python/tests/test_layout_colormap.py.)
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torchimage/torchimage.h>

#include "reference_png.h"
#include "test_util.h"

using torchimage_test::error_of;

namespace {

using torchimage::Layout;
using torchimage::SaveImageOptions;

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string temp_dir() {
  char pattern[] = "/tmp/torchimage_layout_XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  EXPECT_NE(dir, nullptr);
  return dir ? dir : "/tmp";
}

TEST(Layout, ParseNames) {
  EXPECT_EQ(torchimage::parse_layout("CHW"), Layout::CHW);
  EXPECT_EQ(torchimage::parse_layout("nchw"), Layout::CHW);
  EXPECT_EQ(torchimage::parse_layout("Hwc"), Layout::HWC);
  EXPECT_EQ(torchimage::parse_layout("NHWC"), Layout::NHWC);
  EXPECT_EQ(torchimage::parse_layout("hw"), Layout::HW);
  EXPECT_NE(error_of([] { torchimage::parse_layout("WHC", "save_image"); })
                .find("save_image: unknown layout 'WHC'"),
            std::string::npos);
  EXPECT_STREQ(torchimage::layout_name(Layout::NHWC), "NHWC");
}

TEST(Layout, ChannelsLastIsItsPermutationEverywhere) {
  const auto nchw = torch::rand({5, 3, 9, 7}) * 2 - 1;
  const auto nhwc = nchw.permute({0, 2, 3, 1}).contiguous();
  const auto o = SaveImageOptions().nrow(2).normalize(true).value_range({-1.0, 1.0});
  const auto nhwc_o = SaveImageOptions(o).layout(Layout::NHWC);
  EXPECT_TRUE(torch::equal(
      torchimage::make_grid(nhwc, torchimage::MakeGridOptions().normalize(true).layout("NHWC")),
      torchimage::make_grid(nchw, torchimage::MakeGridOptions().normalize(true))));
  EXPECT_TRUE(torch::equal(torchimage::to_pixels(nhwc, nhwc_o), torchimage::to_pixels(nchw, o)));
  EXPECT_TRUE(
      torch::equal(torchimage::encode_image(nhwc, nhwc_o), torchimage::encode_image(nchw, o)));
  // A list of (H, W, C) images, and one image.
  std::vector<torch::Tensor> list;
  for (int i = 0; i < 5; ++i) list.push_back(nhwc[i]);
  EXPECT_TRUE(torch::equal(torchimage::encode_image(list, SaveImageOptions(o).layout("HWC")),
                           torchimage::encode_image(nchw, o)));
  EXPECT_TRUE(torch::equal(torchimage::encode_image(nhwc[1], SaveImageOptions(o).layout("HWC")),
                           torchimage::encode_image(nchw[1], o)));

  const std::string dir = temp_dir();
  torchimage::save_images(nhwc, dir + "/a{index}.png", nhwc_o);
  torchimage::save_images(nchw, dir + "/b{index}.png", o);
  {
    torchimage::ImageWriter writer;
    writer.save_images(nhwc, dir + "/c{index}.png", nhwc_o);
    writer.save_image(nhwc, dir + "/grid_c.png", nhwc_o);
    writer.flush();
  }
  torchimage::save_image(nchw, dir + "/grid_b.png", o);
  for (int i = 0; i < 5; ++i) {
    const auto b = file_bytes(dir + "/b" + std::to_string(i) + ".png");
    ASSERT_FALSE(b.empty());
    EXPECT_EQ(file_bytes(dir + "/a" + std::to_string(i) + ".png"), b) << i;
    EXPECT_EQ(file_bytes(dir + "/c" + std::to_string(i) + ".png"), b) << i;
  }
  EXPECT_EQ(file_bytes(dir + "/grid_c.png"), file_bytes(dir + "/grid_b.png"));
}

TEST(Layout, MapsAndErrors) {
  const auto maps = torch::rand({4, 6, 8});
  EXPECT_TRUE(torch::equal(torchimage::to_pixels(maps, SaveImageOptions().layout(Layout::HW)),
                           torchimage::to_pixels(maps.unsqueeze(1))));
  // A 3-D tensor is (C, H, W) by default, whatever its sizes.
  const auto looks_hwc = torch::rand({5, 5, 3});
  EXPECT_EQ(torchimage::make_grid(looks_hwc).sizes(), looks_hwc.sizes());
  EXPECT_NE(error_of([&] {
              torchimage::to_pixels(torch::rand({1, 2, 3, 4}),
                                    SaveImageOptions().layout(Layout::HW));
            }).find("layout HW expects"),
            std::string::npos);
}

TEST(Colormap, IndexesTheGrayPixels) {
  const auto x = torch::rand({3, 1, 10, 12});
  const auto o = SaveImageOptions().nrow(2).padding(1);
  const auto gray = torchimage::to_pixels(x, SaveImageOptions(o).grayscale(true));
  ASSERT_EQ(gray.size(2), 1);
  for (const std::string& name : torchimage::colormaps()) {
    const auto rgb = torchimage::to_pixels(x, SaveImageOptions(o).colormap(name));
    ASSERT_EQ(rgb.size(2), 3);
    // Equal gray values get equal colours, and the colour is a function of
    // the gray value that is one table of 256 entries.
    const auto flat_gray = gray.reshape({-1});
    const auto flat_rgb = rgb.reshape({-1, 3});
    auto table = torch::full({256, 3}, -1, torch::kLong);
    for (int64_t i = 0; i < flat_gray.size(0); ++i) {
      const int64_t q = flat_gray[i].item<int64_t>();
      if (table[q][0].item<int64_t>() < 0) table[q] = flat_rgb[i].to(torch::kLong);
      EXPECT_TRUE(torch::equal(table[q], flat_rgb[i].to(torch::kLong))) << name << " " << q;
    }
    // make_grid: the same entries / 255.
    const auto grid = torchimage::make_grid(
        x, torchimage::MakeGridOptions().nrow(2).padding(1).colormap(name));
    EXPECT_TRUE(torch::equal(grid, rgb.permute({2, 0, 1}).to(torch::kFloat) / 255)) << name;
  }
  EXPECT_NE(error_of([&] {
              torchimage::to_pixels(torch::rand({3, 4, 4}), SaveImageOptions().colormap("jet"));
            }).find("applies to one-channel images, got 3 channels"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              torchimage::to_pixels(x, SaveImageOptions().colormap("rainbow"));
            }).find("unknown colormap 'rainbow'"),
            std::string::npos);
}

TEST(LabelMap, IndexedPngHasPlteAndKeepsIds) {
  const auto labels = torch::randint(0, 21, {2, 1, 6, 7}, torch::kLong);
  const auto o = SaveImageOptions().palette("voc").padding(1).nrow(2);
  const auto file = torchimage::encode_image(labels, o);
  // libpng (the tests' independent decoder): colour type 3, the palette's colours.
  const auto ref = torchimage_test::decode_reference_png(file);
  ASSERT_TRUE(ref.ok()) << ref.describe();
  EXPECT_EQ(ref.color_type, 3);
  const auto ids = torchimage::decode_image(file, torchimage::DecodeOptions().keep_indices(true));
  ASSERT_EQ(ids.size(0), 1);
  const auto palette = torchimage::voc_palette();
  const auto rgb = ref.hwc();
  ASSERT_EQ(rgb.size(2), 3);
  for (int64_t y = 0; y < ids.size(1); ++y) {
    for (int64_t x = 0; x < ids.size(2); ++x) {
      const auto c = palette[static_cast<size_t>(ids[0][y][x].item<int64_t>())];
      for (int k = 0; k < 3; ++k) EXPECT_EQ(rgb[y][x][k].item<int>(), c[static_cast<size_t>(k)]);
    }
  }
  // The ids of the grid: the tiles' own, and class 0 in the padding.
  EXPECT_TRUE(torch::equal(ids[0].slice(0, 1, 7).slice(1, 1, 8), labels[0][0].to(torch::kByte)));
  EXPECT_TRUE(torch::equal(ids[0].slice(0, 1, 7).slice(1, 9, 16), labels[1][0].to(torch::kByte)));
  EXPECT_EQ(ids[0][0].sum().item<int64_t>(), 0);
  // 257 classes are refused, naming the count.
  EXPECT_NE(error_of([&] {
              torchimage::encode_image(labels,
                                       SaveImageOptions().palette(torchimage::Palette(257)));
            }).find("257 classes"),
            std::string::npos);
}

// Every signed integer dtype is a label map (int8 included: NumPy's and
// torch's small label maps), the same grid as int64's; without a palette,
// the error says how to write class indices.
TEST(LabelMap, SignedIntegersAreClassIndices) {
  const auto labels = torch::randint(0, 21, {3, 1, 5, 6}, torch::kLong);
  const auto o = SaveImageOptions().palette("voc").nrow(2);
  const auto want = torchimage::encode_image(labels, o);
  for (auto dtype : {torch::kChar, torch::kShort, torch::kInt}) {
    EXPECT_TRUE(torch::equal(torchimage::encode_image(labels.to(dtype), o), want)) << dtype;
  }
  for (auto dtype : {torch::kChar, torch::kShort, torch::kInt, torch::kLong}) {
    const std::string m = error_of([&] { torchimage::encode_image(labels.to(dtype)); });
    EXPECT_NE(m.find("class indices: set palette, e.g. palette(\"voc\")"), std::string::npos)
        << dtype << ": " << m;
  }
  // Negative indices (int8's range) are refused, naming the value.
  EXPECT_NE(error_of([&] {
              torchimage::encode_image(torch::full({4, 4}, -3, torch::kChar), o);
            }).find("class indices must be >= 0, got -3"),
            std::string::npos);
}

}  // namespace
