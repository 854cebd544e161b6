// The drawing functions from C++: geometry checked against its definition
// (an outline `width` pixels inside the box, a disc within its radius), the
// blend's limits, colours, and the errors. Exactness against torchvision
// itself is python/tests/test_draw.py (in process, random cases).
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torchimage/draw.h>
#include <torchimage/torchimage.h>

#include "draw/raster.h"

#include "test_util.h"

using torchimage_test::error_of;

namespace {

using torchimage::Color;

torch::Tensor gray_image(int64_t h, int64_t w, int value = 40) {
  return torch::full({3, h, w}, value, torch::kUInt8);
}

TEST(Draw, OutlineIsWidthPixelsInsideTheBox) {
  for (int width = 1; width <= 7; ++width) {
    const auto img = gray_image(40, 50);
    const int x0 = 5, y0 = 7, x1 = 40, y1 = 33;
    const auto boxes = torch::tensor({{x0, y0, x1, y1}}, torch::kFloat);
    const auto out = torchimage::draw_bounding_boxes(
        img, boxes, torchimage::DrawBoundingBoxesOptions().width(width).colors({Color("red")}));
    ASSERT_EQ(out.sizes(), img.sizes());
    const auto acc = out.accessor<uint8_t, 3>();
    for (int y = 0; y < 40; ++y) {
      for (int x = 0; x < 50; ++x) {
        const bool inside = x >= x0 && x <= x1 && y >= y0 && y <= y1;
        const int depth = std::min(std::min(x - x0, x1 - x), std::min(y - y0, y1 - y));
        const bool outline = inside && depth < width;
        EXPECT_EQ(acc[0][y][x], outline ? 255 : 40) << "width " << width << " at " << x << "," << y;
        EXPECT_EQ(acc[1][y][x], outline ? 0 : 40);
      }
    }
  }
}

TEST(Draw, FilledBoxBlendsAtAlpha100) {
  const auto img = gray_image(20, 20, 200);
  const auto out = torchimage::draw_bounding_boxes(
      img, torch::tensor({{2, 2, 17, 17}}),
      torchimage::DrawBoundingBoxesOptions().fill(true).width(1).colors({Color(0, 0, 0)}));
  // Inside the outline: 200 * (255 - 100) / 255, rounded.
  const int expected = static_cast<int>(std::lround(200.0 * 155.0 / 255.0));
  EXPECT_EQ(out[0][10][10].item<int>(), expected);
  EXPECT_EQ(out[0][2][10].item<int>(), 0);
  EXPECT_EQ(out[0][0][0].item<int>(), 200);
}

TEST(Draw, OneChannelIsTiledAndInputUntouched) {
  const auto img = torch::full({1, 10, 10}, 7, torch::kUInt8);
  const auto out = torchimage::draw_bounding_boxes(img, torch::tensor({{0, 0, 9, 9}}));
  EXPECT_EQ(out.size(0), 3);
  EXPECT_TRUE(torch::equal(out[1].slice(0, 1, 9).slice(1, 1, 9),
                           torch::full({8, 8}, 7, torch::kUInt8)));
  EXPECT_EQ(img.sum().item<int64_t>(), 7 * 100);
}

TEST(Draw, DiscIsWithinItsRadiusAndSymmetric) {
  const auto img = gray_image(41, 41, 0);
  for (int radius = 1; radius <= 12; ++radius) {
    const auto out = torchimage::draw_keypoints(
        img, torch::tensor({{{20.0, 20.0}}}),
        torchimage::DrawKeypointsOptions().radius(radius).colors(Color("white")));
    const auto on = out[0].to(torch::kBool);
    EXPECT_TRUE(on[20][20].item<bool>());
    EXPECT_TRUE(torch::equal(on, on.flip({0})));
    EXPECT_TRUE(torch::equal(on, on.flip({1})));
    EXPECT_TRUE(torch::equal(on, on.t()));
    const auto idx = torch::arange(41) - 20;
    const auto d2 = idx.view({41, 1}).pow(2) + idx.view({1, 41}).pow(2);
    EXPECT_FALSE((on & (d2 > (radius + 1) * (radius + 1))).any().item<bool>()) << radius;
    EXPECT_TRUE(on.index({(d2 <= (radius - 1) * (radius - 1))}).all().item<bool>()) << radius;
  }
}

TEST(Draw, KeypointLinesAreWhiteAndConnectThePoints) {
  const auto img = gray_image(30, 30, 0);
  const auto out = torchimage::draw_keypoints(
      img, torch::tensor({{{2.0, 15.0}, {27.0, 15.0}}}),
      torchimage::DrawKeypointsOptions().connectivity({{0, 1}}).width(3));
  for (int x = 2; x <= 27; ++x) EXPECT_EQ(out[0][15][x].item<int>(), 255) << x;
  EXPECT_EQ(out.sum().item<int64_t>(), int64_t{255} * 3 * 3 * 26);
}

TEST(Draw, MasksAlphaLimits) {
  const auto img = torch::randint(0, 256, {3, 8, 9}, torch::kUInt8);
  const auto masks = torch::rand({2, 8, 9}) > 0.5;
  const auto opts = torchimage::DrawSegmentationMasksOptions().colors({Color("red"), Color("#0000ff")});
  EXPECT_TRUE(torch::equal(torchimage::draw_segmentation_masks(
                               img, masks, torchimage::DrawSegmentationMasksOptions(opts).alpha(0)),
                           img));
  const auto full = torchimage::draw_segmentation_masks(
      img, masks, torchimage::DrawSegmentationMasksOptions(opts).alpha(1));
  const auto second = masks[1];
  const auto first_only = masks[0] & ~masks[1];
  EXPECT_TRUE((full[2].masked_select(second) == 255).all().item<bool>());
  EXPECT_TRUE((full[0].masked_select(second) == 0).all().item<bool>());
  EXPECT_TRUE((full[0].masked_select(first_only) == 255).all().item<bool>());
  const auto neither = ~(masks[0] | masks[1]);
  EXPECT_TRUE(torch::equal(full.masked_select(neither.expand({3, 8, 9})),
                           img.masked_select(neither.expand({3, 8, 9}))));
}

TEST(Draw, FlowShapes) {
  const auto flow = torch::randn({2, 5, 7});
  const auto one = torchimage::flow_to_image(flow);
  EXPECT_EQ(one.sizes(), (std::vector<int64_t>{3, 5, 7}));
  const auto batch = torchimage::flow_to_image(torch::stack({flow, flow}));
  EXPECT_EQ(batch.sizes(), (std::vector<int64_t>{2, 3, 5, 7}));
  EXPECT_TRUE(torch::equal(batch[1], one));
  // No motion is white.
  EXPECT_TRUE((torchimage::flow_to_image(torch::zeros({2, 3, 3})) == 255).all().item<bool>());
}

TEST(Draw, Colors) {
  EXPECT_EQ(Color("RED").rgb(), (std::array<uint8_t, 3>{255, 0, 0}));
  EXPECT_EQ(Color("#0a0B0c").rgb(), (std::array<uint8_t, 3>{10, 11, 12}));
  EXPECT_EQ(Color("#abc").rgb(), (std::array<uint8_t, 3>{0xaa, 0xbb, 0xcc}));
  EXPECT_EQ(Color("rgb(1, 2, 3)").rgb(), (std::array<uint8_t, 3>{1, 2, 3}));
  EXPECT_EQ(Color(300, -4, 9).rgb(), (std::array<uint8_t, 3>{255, 0, 9}));
  EXPECT_NE(error_of([] { Color("nocolour"); }).find("'nocolour'"), std::string::npos);
  const auto palette = torchimage::default_colors(3);
  ASSERT_EQ(palette.size(), 3u);
  EXPECT_EQ(palette[0].rgb(), (std::array<uint8_t, 3>{0, 0, 0}));
  // (2^25 - 1) % 255, (2^15 - 1) % 255, (2^21 - 1) % 255.
  EXPECT_EQ(palette[1].rgb(),
            (std::array<uint8_t, 3>{((1 << 25) - 1) % 255, ((1 << 15) - 1) % 255,
                                    ((1 << 21) - 1) % 255}));
}

// Float images in [0, 1] (torchvision >= 0.19): drawn on as the uint8
// pixels `image * 255.999` truncated, returned as `out / 255` in their dtype.
TEST(Draw, FloatImagesAreDrawnAsTheirPixels) {
  torch::manual_seed(5);
  const auto img = torch::rand({3, 20, 30});
  const auto pixels = img.mul(255.999).to(torch::kUInt8);
  const auto boxes = torch::tensor({{2.0, 3.0, 17.0, 15.0}});
  const auto o = torchimage::DrawBoundingBoxesOptions().colors({Color("red")}).width(2).fill(true);
  const auto got = torchimage::draw_bounding_boxes(img, boxes, o);
  EXPECT_EQ(got.scalar_type(), torch::kFloat);
  const auto drawn = torchimage::draw_bounding_boxes(pixels, boxes, o);
  EXPECT_TRUE(torch::equal(got, drawn.to(torch::kFloat).mul(1.0 / 255)));
  // Exact multiples of 1/255 where nothing was drawn: the pixels themselves.
  EXPECT_TRUE(torch::allclose(got.mul(255).round(), drawn.to(torch::kFloat)));
  const auto kp = torch::tensor({{{5.0, 5.0}, {25.0, 15.0}}});
  const auto ko = torchimage::DrawKeypointsOptions().connectivity({{0, 1}}).colors(Color("blue"));
  const auto kgot = torchimage::draw_keypoints(img.to(torch::kDouble), kp, ko);
  EXPECT_EQ(kgot.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(kgot, torchimage::draw_keypoints(pixels, kp, ko)
                                     .to(torch::kDouble)
                                     .mul(1.0 / 255)));
  // Masks blend in the image's dtype with the colour / 255.
  auto mask = torch::zeros({20, 30}, torch::kBool);
  mask.index_put_({torch::indexing::Slice(0, 5)}, true);
  const auto mgot = torchimage::draw_segmentation_masks(
      img, mask, torchimage::DrawSegmentationMasksOptions().alpha(0.5).colors({Color("white")}));
  EXPECT_EQ(mgot.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(mgot.index({torch::indexing::Slice(), torch::indexing::Slice(5)}),
                           (img * 0.5 + img * 0.5).index({torch::indexing::Slice(),
                                                          torch::indexing::Slice(5)})));
  EXPECT_TRUE(torch::allclose(mgot.index({torch::indexing::Slice(), torch::indexing::Slice(0, 5)}),
                              img.index({torch::indexing::Slice(), torch::indexing::Slice(0, 5)}) *
                                      0.5 + 0.5));
}

TEST(Draw, Errors) {
  const auto img = gray_image(5, 5);
  EXPECT_NE(error_of([&] {
              torchimage::draw_bounding_boxes(img.to(torch::kInt), torch::zeros({1, 4}));
            }).find("must be uint8, or floating point with values in [0, 1], got Int"),
            std::string::npos);
  EXPECT_NE(error_of([&] { torchimage::draw_bounding_boxes(img, torch::zeros({1, 3})); })
                .find("(N, 4)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              torchimage::draw_keypoints(img, torch::zeros({1, 2, 2}),
                                         torchimage::DrawKeypointsOptions().connectivity({{0, 5}}));
            }).find("keypoint 5 of 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { torchimage::flow_to_image(torch::zeros({3, 4, 4})); }).find("(2, H, W)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              torchimage::draw_bounding_boxes(
                  img, torch::zeros({1, 4}),
                  torchimage::DrawBoundingBoxesOptions().labels({"a"}).font("/nonexistent.ttf"));
            }).find("/nonexistent.ttf"),
            std::string::npos);
}


// Batches: image i of the result is the one-image function's result for
// image i (the one-image functions are checked against torchvision in
// python/tests/test_draw.py), a gray image tiled, an image without items
// left as it is.
TEST(Draw, BatchesDrawEachImageAsAlone) {
  torch::manual_seed(3);
  const auto images = torch::randint(0, 256, {3, 3, 24, 30}, torch::kUInt8);
  const std::vector<torch::Tensor> boxes = {torch::tensor({{1, 2, 20, 15}, {5, 5, 9, 30}}),
                                            torch::zeros({0, 4}),
                                            torch::tensor({{0.5, 3.7, 28.2, 22.9}})};
  using torchimage::DrawBoundingBoxesOptions;
  const std::vector<DrawBoundingBoxesOptions> per_image = {
      DrawBoundingBoxesOptions().width(2), DrawBoundingBoxesOptions(),
      DrawBoundingBoxesOptions().fill(true).colors({Color("#102030")})};
  const auto out = torchimage::draw_bounding_boxes(images, boxes, per_image);
  ASSERT_EQ(out.sizes(), images.sizes());
  EXPECT_TRUE(out[0].equal(torchimage::draw_bounding_boxes(images[0], boxes[0], per_image[0])));
  EXPECT_TRUE(out[1].equal(images[1]));
  EXPECT_TRUE(out[2].equal(torchimage::draw_bounding_boxes(images[2], boxes[2], per_image[2])));
  // One options for every image.
  const auto shared = torchimage::draw_bounding_boxes(images, boxes, {per_image[0]});
  EXPECT_TRUE(shared[2].equal(torchimage::draw_bounding_boxes(images[2], boxes[2], per_image[0])));

  // Gray images come back as RGB, with or without boxes.
  const auto gray = images.narrow(1, 0, 1);
  const auto gray_out = torchimage::draw_bounding_boxes(gray, boxes);
  ASSERT_EQ(gray_out.sizes(), images.sizes());
  EXPECT_TRUE(gray_out[0].equal(torchimage::draw_bounding_boxes(gray[0], boxes[0])));
  EXPECT_TRUE(gray_out[1].equal(gray[1].repeat({3, 1, 1})));

  const auto masks = std::vector<torch::Tensor>{torch::rand({2, 24, 30}) > 0.5,
                                                torch::zeros({0, 24, 30}, torch::kBool),
                                                torch::rand({24, 30}) > 0.3};
  const auto blended = torchimage::draw_segmentation_masks(
      images, masks, {torchimage::DrawSegmentationMasksOptions().alpha(0.4)});
  for (int64_t i = 0; i < 3; ++i) {
    const auto alone = i == 1 ? images[1]
                              : torchimage::draw_segmentation_masks(
                                    images[i], masks[static_cast<size_t>(i)],
                                    torchimage::DrawSegmentationMasksOptions().alpha(0.4));
    EXPECT_TRUE(blended[i].equal(alone)) << "image " << i;
  }

  const auto kps = std::vector<torch::Tensor>{torch::tensor({{{3, 4}, {20, 10}}}),
                                              torch::tensor({{{10, 10}, {2, 22}}, {{0, 0}, {29, 23}}}),
                                              torch::zeros({0, 2, 2})};
  const auto opts = torchimage::DrawKeypointsOptions().connectivity({{0, 1}}).colors(Color("blue"));
  const auto drawn = torchimage::draw_keypoints(images, kps, {opts});
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(drawn[i].equal(
        torchimage::draw_keypoints(images[i], kps[static_cast<size_t>(i)], opts)))
        << "image " << i;
  }

  // Floating images keep their dtype.
  const auto floats = images.to(torch::kFloat) / 255;
  const auto float_out = torchimage::draw_bounding_boxes(floats, boxes);
  EXPECT_EQ(float_out.scalar_type(), torch::kFloat);
  EXPECT_TRUE(float_out[1].equal(floats[1]));
  EXPECT_TRUE(float_out[2].equal(torchimage::draw_bounding_boxes(floats[2], boxes[2])));
}

TEST(Draw, BatchErrorsNameTheImage) {
  const auto images = torch::zeros({2, 3, 10, 10}, torch::kUInt8);
  EXPECT_NE(error_of([&] {
              torchimage::draw_bounding_boxes(images,
                                              std::vector<torch::Tensor>{torch::tensor({{1, 1, 5, 5}})});
            }).find("2 images and 1 tensors of boxes"),
            std::string::npos);
  const auto bad = error_of([&] {
    torchimage::draw_bounding_boxes(images,
                                    {torch::tensor({{1, 1, 5, 5}}), torch::tensor({{5, 1, 2, 5}})});
  });
  EXPECT_NE(bad.find("image 1 of the batch of 2"), std::string::npos) << bad;
  EXPECT_NE(bad.find("xmin <= xmax"), std::string::npos) << bad;
  // A braced list of one tensor is that tensor: the one-image function says so.
  EXPECT_NE(error_of([&] {
              torchimage::draw_bounding_boxes(images, {torch::tensor({{1, 1, 5, 5}})});
            }).find("std::vector"),
            std::string::npos);
  // An empty tensor of the wrong shape is still refused.
  EXPECT_NE(error_of([&] {
              torchimage::draw_segmentation_masks(
                  images, {torch::zeros({0, 9, 10}, torch::kBool), torch::zeros({0, 10, 10}, torch::kBool)});
            }).find("same height and width"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              torchimage::draw_bounding_boxes(images[0], std::vector<torch::Tensor>{});
            }).find("(B, C, H, W)"),
            std::string::npos);
  using torchimage::DrawBoundingBoxesOptions;
  EXPECT_NE(error_of([&] {
              torchimage::draw_bounding_boxes(images, {torch::zeros({0, 4}), torch::zeros({0, 4})},
                                              {DrawBoundingBoxesOptions(), DrawBoundingBoxesOptions(),
                                               DrawBoundingBoxesOptions()});
            }).find("2 images and 3 options"),
            std::string::npos);
}

}  // namespace
