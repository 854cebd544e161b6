// Captions under the cells of a grid (GridArgs::captions): the geometry (a
// strip of caption_strip_height(size) rows below each cell), the cells'
// pixels (those of the grid without captions, re-placed), text only inside
// each cell's own strip, blank strips, and the errors. (Against torchvision
// and Pillow: python/tests/test_captions.py.)
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torchimage/torchimage.h>

#include "test_util.h"

using torchimage_test::error_of;

namespace {

using torchimage::MakeGridOptions;
using torchimage::SaveImageOptions;
using torch::indexing::Slice;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Where cell k of a grid lies: (top, left) of the image, with `strip` rows
// below each image (0: torchvision's grid).
struct Cell {
  int64_t top, left;
};
Cell cell_at(int64_t k, int64_t nrow, int64_t h, int64_t w, int64_t padding, int64_t strip) {
  return {(k / nrow) * (h + padding + strip) + padding, (k % nrow) * (w + padding) + padding};
}

constexpr int64_t kStrip = 17;  // caption_strip_height(10)

// Whether this torchimage draws captions (built with FreeType and its font);
// else every captioned call is the error that says so.
bool have_captions() {
  static const bool yes = error_of([] {
                            torchimage::make_grid(torch::zeros({1, 4, 4}),
                                                  MakeGridOptions().captions({"x"}));
                          }).empty();
  return yes;
}

#define REQUIRE_CAPTIONS() \
  if (!have_captions()) GTEST_SKIP() << "torchimage was built without FreeType"

TEST(Captions, WithoutFreeTypeTheyAreAnError) {
  const std::string msg = error_of([] {
    torchimage::make_grid(torch::zeros({2, 3, 4, 4}), MakeGridOptions().captions({"a", "b"}));
  });
  if (have_captions()) {
    EXPECT_EQ(msg, "");
  } else {
    EXPECT_TRUE(contains(msg, "make_grid: captions need FreeType, and this torchimage was built "
                              "without it") ||
                contains(msg, "DejaVuSans.ttf, which was not found"))
        << msg;
  }
}

TEST(Captions, StripHeight) {
  EXPECT_EQ(torchimage::caption_strip_height(10), 17);
  EXPECT_EQ(torchimage::caption_strip_height(12), 20);
  EXPECT_EQ(torchimage::caption_strip_height(1), 3);
}

TEST(Captions, CellsAreTheGridsCellsAndTextStaysInItsStrip) {
  REQUIRE_CAPTIONS();
  torch::manual_seed(1);
  const int64_t b = 5, h = 9, w = 30, p = 2, nrow = 2;
  const auto batch = torch::rand({b, 3, h, w});
  const std::vector<std::string> captions = {"cat", "", "a very long caption indeed, cut", "Ég",
                                             "dog"};
  const auto plain = torchimage::make_grid(batch, MakeGridOptions().nrow(nrow).padding(p));
  const auto grid =
      torchimage::make_grid(batch, MakeGridOptions().nrow(nrow).padding(p).captions(captions));
  const int64_t rows = (b + nrow - 1) / nrow;
  ASSERT_EQ(grid.sizes(), (torch::IntArrayRef{3, (h + p + kStrip) * rows + p, (w + p) * nrow + p}));
  // The expected grid without text: padding (0) everywhere, each image at
  // its place (from the batch itself, and from the un-captioned grid).
  auto expected = torch::zeros_like(grid);
  for (int64_t k = 0; k < b; ++k) {
    const Cell c = cell_at(k, nrow, h, w, p, kStrip);
    const Cell u = cell_at(k, nrow, h, w, p, 0);
    const auto cell = grid.index({Slice(), Slice(c.top, c.top + h), Slice(c.left, c.left + w)});
    EXPECT_TRUE(torch::equal(cell, batch[k])) << "cell " << k;
    EXPECT_TRUE(torch::equal(
        cell, plain.index({Slice(), Slice(u.top, u.top + h), Slice(u.left, u.left + w)})));
    expected.index_put_({Slice(), Slice(c.top, c.top + h), Slice(c.left, c.left + w)}, batch[k]);
  }
  // Every difference is text, inside the strip of a cell with a caption.
  auto text = grid.ne(expected).any(0);
  for (int64_t k = 0; k < b; ++k) {
    const Cell c = cell_at(k, nrow, h, w, p, kStrip);
    const auto strip =
        text.index({Slice(c.top + h, c.top + h + kStrip), Slice(c.left, c.left + w)});
    if (captions[static_cast<size_t>(k)].empty()) {
      EXPECT_EQ(strip.sum().item<int64_t>(), 0) << "the blank strip of cell " << k;
    } else {
      EXPECT_GT(strip.sum().item<int64_t>(), 5) << "no text under cell " << k;
      // The long caption is cut at its cell's right edge: text up to it.
      if (k == 2) EXPECT_TRUE(strip.index({Slice(), Slice(w - 3, w)}).any().item<bool>());
    }
    text.index_put_({Slice(c.top + h, c.top + h + kStrip), Slice(c.left, c.left + w)}, false);
  }
  EXPECT_EQ(text.sum().item<int64_t>(), 0) << "text outside its cell's strip";
  // White text over black: gray float values that are 8-bit pixels / 255.
  const auto changed = grid.ne(expected).any(0);
  const auto scaled = grid[0].masked_select(changed) * 255;
  EXPECT_TRUE(torch::allclose(scaled, scaled.round(), 0, 1e-3));
  EXPECT_TRUE(torch::equal(grid[0].masked_select(changed), grid[2].masked_select(changed)));
}

TEST(Captions, ShortCaptionIsCentred) {
  REQUIRE_CAPTIONS();
  const auto batch = torch::zeros({2, 3, 8, 60});
  const auto grid = torchimage::make_grid(batch, MakeGridOptions().padding(0).captions({"ab", ""}));
  const auto strip = grid[0].index({Slice(8, 8 + kStrip), Slice(0, 60)}).gt(0).any(0);
  const auto cols = strip.nonzero();
  ASSERT_GT(cols.size(0), 0);
  const int64_t left = cols.min().item<int64_t>();
  const int64_t right = 59 - cols.max().item<int64_t>();
  EXPECT_LE(std::abs(left - right), 2) << left << " " << right;
  EXPECT_GT(left, 20);
}

TEST(Captions, SingleImageGetsItsStripWithoutPadding) {
  REQUIRE_CAPTIONS();
  const auto image = torch::rand({3, 12, 40});
  const auto grid = torchimage::make_grid(image, MakeGridOptions().captions({"one"}));
  ASSERT_EQ(grid.sizes(), (torch::IntArrayRef{3, 12 + kStrip, 40}));
  EXPECT_TRUE(torch::equal(grid.index({Slice(), Slice(0, 12)}), image));
  EXPECT_GT(grid.index({Slice(), Slice(12)}).gt(0).sum().item<int64_t>(), 5);
  // (H, W): made RGB, as make_grid does.
  const auto map = torchimage::make_grid(torch::rand({12, 40}), MakeGridOptions().captions({"x"}));
  EXPECT_EQ(map.sizes(), (torch::IntArrayRef{3, 12 + kStrip, 40}));
}

TEST(Captions, PixelsAreTheGridsQuantizedWithNormalize) {
  REQUIRE_CAPTIONS();
  torch::manual_seed(2);
  const int64_t b = 4, h = 10, w = 24, p = 3;
  const auto batch = torch::randn({b, 3, h, w}) * 4;
  const std::vector<std::string> captions = {"0", "1", "", "3"};
  for (const bool each : {false, true}) {
    const auto o = SaveImageOptions().nrow(3).padding(p).normalize(true).scale_each(each);
    const auto plain = torchimage::to_pixels(batch, o);
    const auto pixels = torchimage::to_pixels(batch, SaveImageOptions(o).captions(captions));
    ASSERT_EQ(pixels.size(0), (h + p + kStrip) * 2 + p);
    for (int64_t k = 0; k < b; ++k) {
      const Cell c = cell_at(k, 3, h, w, p, kStrip);
      const Cell u = cell_at(k, 3, h, w, p, 0);
      EXPECT_TRUE(torch::equal(pixels.index({Slice(c.top, c.top + h), Slice(c.left, c.left + w)}),
                               plain.index({Slice(u.top, u.top + h), Slice(u.left, u.left + w)})))
          << "cell " << k << " scale_each " << each;
    }
    // save_image's pixels are make_grid's, quantized (text included).
    const auto grid = torchimage::make_grid(
        batch, MakeGridOptions().nrow(3).padding(p).normalize(true).scale_each(each).captions(
                   captions));
    EXPECT_TRUE(torch::equal(pixels, grid.mul(255).add(0.5).clamp(0, 255).to(torch::kByte)
                                         .permute({1, 2, 0})));
    // And the file holds them.
    const auto png = torchimage::encode_image(batch, SaveImageOptions(o).captions(captions));
    EXPECT_TRUE(torch::equal(torchimage::decode_image(png).permute({1, 2, 0}), pixels));
  }
}

TEST(Captions, BlankStripIsPadValue) {
  REQUIRE_CAPTIONS();
  const auto batch = torch::rand({3, 3, 6, 20});
  const auto grid = torchimage::make_grid(
      batch, MakeGridOptions().pad_value(std::vector<double>{0.25, 0.5, 0.75}).captions({"", "", ""}));
  for (int64_t ch = 0; ch < 3; ++ch) {
    const auto strip = grid[ch].index({Slice(2 + 6, 2 + 6 + kStrip)});
    EXPECT_TRUE(strip.eq(0.25 * (ch + 1)).all().item<bool>()) << "channel " << ch;
  }
}

TEST(Captions, LightPaddingGetsDarkText) {
  REQUIRE_CAPTIONS();
  const auto batch = torch::zeros({2, 3, 6, 30}, torch::kByte);
  const auto grid = torchimage::make_grid(batch, MakeGridOptions().pad_value(255).captions({"Hi", "Hi"}));
  EXPECT_EQ(grid.scalar_type(), torch::kByte);
  const auto strip = grid.index({Slice(), Slice(2 + 6, 2 + 6 + kStrip)});
  EXPECT_LT(strip.min().item<int64_t>(), 64);  // dark text
  EXPECT_EQ(strip.max().item<int64_t>(), 255);
  // Black padding: white text, the same coverage.
  const auto dark = torchimage::make_grid(batch, MakeGridOptions().captions({"Hi", "Hi"}));
  EXPECT_TRUE(torch::equal(dark.index({Slice(), Slice(2 + 6, 2 + 6 + kStrip)}), 255 - strip));
}

TEST(Captions, ColormapAndGrayscaleAndBool) {
  REQUIRE_CAPTIONS();
  torch::manual_seed(3);
  const auto maps = torch::rand({2, 1, 8, 30});
  const auto o = SaveImageOptions().colormap("viridis");
  const auto plain = torchimage::to_pixels(maps, o);
  const auto pixels = torchimage::to_pixels(maps, SaveImageOptions(o).captions({"a", "b"}));
  ASSERT_EQ(pixels.size(2), 3);
  for (int64_t k = 0; k < 2; ++k) {
    const Cell c = cell_at(k, 8, 8, 30, 2, kStrip);
    const Cell u = cell_at(k, 8, 8, 30, 2, 0);
    EXPECT_TRUE(torch::equal(pixels.index({Slice(c.top, c.top + 8), Slice(c.left, c.left + 30)}),
                             plain.index({Slice(u.top, u.top + 8), Slice(u.left, u.left + 30)})));
  }
  // make_grid's floats are the file's pixels / 255.
  const auto grid = torchimage::make_grid(
      maps, MakeGridOptions().colormap("viridis").captions({"a", "b"}));
  EXPECT_TRUE(torch::equal(grid, pixels.permute({2, 0, 1}).to(torch::kFloat).div(255)));

  const auto gray = torchimage::to_pixels(maps, SaveImageOptions().grayscale(true).captions({"a", "b"}));
  EXPECT_EQ(gray.size(2), 1);
  EXPECT_GT(gray.index({Slice(10, 10 + kStrip)}).gt(0).sum().item<int64_t>(), 5);

  const auto bits = torch::rand({2, 1, 8, 30}).gt(2.0);  // all false
  const auto bgrid = torchimage::make_grid(bits, MakeGridOptions().captions({"W", ""}));
  EXPECT_EQ(bgrid.scalar_type(), torch::kBool);
  EXPECT_GT(bgrid.sum().item<int64_t>(), 3);
  EXPECT_EQ(bgrid.index({Slice(), Slice(0, 10)}).sum().item<int64_t>(), 0);
}

TEST(Captions, RgbaTextIsOpaque) {
  REQUIRE_CAPTIONS();
  const auto batch = torch::zeros({2, 4, 6, 20});
  const auto pixels =
      torchimage::to_pixels(batch, SaveImageOptions().captions({"M", "M"}));
  ASSERT_EQ(pixels.size(2), 4);
  const auto strip = pixels.index({Slice(8, 8 + kStrip)});
  // Where the colour has text, alpha has at least as much.
  EXPECT_TRUE(strip.select(2, 3).ge(strip.select(2, 0)).all().item<bool>());
  EXPECT_GT(strip.select(2, 3).max().item<int64_t>(), 200);
}

TEST(Captions, WithoutCaptionsNothingChanges) {
  torch::manual_seed(4);
  const auto batch = torch::rand({3, 3, 7, 9});
  EXPECT_TRUE(torch::equal(torchimage::encode_image(batch, SaveImageOptions().caption_size(30)),
                           torchimage::encode_image(batch)));
  EXPECT_TRUE(torch::equal(torchimage::make_grid(batch, MakeGridOptions().captions({})),
                           torchimage::make_grid(batch)));
}

TEST(Captions, Errors) {
  const auto batch = torch::rand({3, 3, 6, 20});
  auto msg = error_of([&] {
    torchimage::make_grid(batch, MakeGridOptions().captions({"a", "b"}));
  });
  EXPECT_TRUE(contains(msg, "make_grid: captions must hold one caption per image (3), got 2"))
      << msg;
  msg = error_of([&] {
    torchimage::encode_image(batch, SaveImageOptions().captions({"a", "b", "c", "d"}));
  });
  EXPECT_TRUE(contains(msg, "encode_image: captions must hold one caption per image (3), got 4"))
      << msg;
  msg = error_of([&] {
    torchimage::make_grid(batch, MakeGridOptions().captions({"a", "b", "c"}).caption_size(0));
  });
  EXPECT_TRUE(contains(msg, "caption_size must be in 1-1024 pixels, got 0")) << msg;
  msg = error_of([&] {
    torchimage::make_grid(torch::zeros({3, 1, 4, 4}, torch::kLong),
                          MakeGridOptions().palette("voc").captions({"a", "b", "c"}));
  });
  EXPECT_TRUE(contains(msg, "not on a label map's class ids (palette)")) << msg;
  msg = error_of([&] {
    torchimage::encode_image(batch, SaveImageOptions().bit_depth(16).captions({"a", "b", "c"}));
  });
  EXPECT_TRUE(contains(msg, "captions are drawn on 8-bit pixels, not 16-bit samples")) << msg;
  msg = error_of([&] {
    torchimage::save_images(batch, "/tmp/torchimage_captions_{index}.png",
                            SaveImageOptions().captions({"a", "b", "c"}));
  });
  EXPECT_TRUE(contains(msg, "save_images: captions label the images of one grid")) << msg;
}

}  // namespace
