// The fused float -> uint8 grid pass against the ATen reference path (the op
// sequence torchvision runs): bit-identical over a dense sample of float32
// values, every grid layout and option, and float64.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <ATen/ATen.h>
#include <torchimage/torchimage.h>

#include "grid/fused_quantize.h"
#include "grid/quantize.h"

namespace {

using torchimage::MakeGridOptions;

at::Tensor reference(const at::Tensor& x, const MakeGridOptions& o) {
  return torchimage::quantize(torchimage::make_grid(x, o));
}

void expect_same(const at::Tensor& x, const MakeGridOptions& o, const std::string& what) {
  const at::Tensor fused = torchimage::fused_grid_pixels(x, o);
  ASSERT_TRUE(fused.defined()) << what;
  const at::Tensor ref = reference(x, o);
  ASSERT_EQ(fused.sizes(), ref.sizes()) << what;
  const at::Tensor diff = fused.ne(ref);
  if (diff.any().item<bool>()) {
    const auto idx = diff.flatten().nonzero()[0].item<int64_t>();
    FAIL() << what << ": " << diff.sum().item<int64_t>() << " pixels differ; first at flat index "
           << idx << ": fused " << int(fused.flatten()[idx].item<uint8_t>()) << ", reference "
           << int(ref.flatten()[idx].item<uint8_t>());
  }
}

// Float32 values from bit patterns: start, start + step, ... (count values).
at::Tensor float_patterns(uint64_t start, uint64_t step, int64_t count) {
  at::Tensor t = at::empty({count}, at::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t bits = static_cast<uint32_t>(start + step * static_cast<uint64_t>(i));
    std::memcpy(&p[i], &bits, 4);
  }
  return t;
}

// Every 251st float32 bit pattern (all signs, NaNs, infinities, denormals):
// about 17 million values, as (B, 3, H, W) batches.
TEST(Fused, DenseSampleOfAllFloat32Plain) {
  const at::Tensor v = float_patterns(0, 251, int64_t{1} << 24).view({64, 4, 256, 256});
  for (int64_t c : {1, 3, 4}) {
    const at::Tensor x = v.narrow(1, 0, c);
    expect_same(x, MakeGridOptions(), "plain c=" + std::to_string(c));
    expect_same(x, MakeGridOptions().padding(0).nrow(3), "plain nrow 3 c=" + std::to_string(c));
  }
}

TEST(Fused, DenseSampleNormalizedRanges) {
  // All float32 in [-1.5, 1.5] with a stride, through several value ranges.
  const uint32_t lo_bits = 0x3fc00000u;  // 1.5
  at::Tensor pos = float_patterns(0, 61, lo_bits / 61);
  at::Tensor v = at::cat({pos, pos.neg()});
  const int64_t n = v.numel() / (3 * 64 * 64) * (3 * 64 * 64);
  v = v.narrow(0, 0, n).view({-1, 3, 64, 64});
  const std::pair<double, double> ranges[] = {{-1.0, 1.0}, {0.0, 1.0}, {-0.7, 0.9},
                                              {0.1, 0.1 + 1e-7}, {-1e-3, 2.5}, {0.25, 0.25}};
  for (const auto& r : ranges) {
    expect_same(v, MakeGridOptions().normalize(true).value_range({r.first, r.second}),
                "range " + std::to_string(r.first) + "," + std::to_string(r.second));
  }
}

// Power-of-two divisors take a multiplication by the exact inverse instead of
// the division (fused_quantize.cpp): every 251st float32 bit pattern (NaN,
// Inf, denormals, huge) through ranges whose divisor is 2^k, and their
// neighbours that are not powers of two.
TEST(Fused, DenseSamplePowerOfTwoRanges) {
  const at::Tensor v = float_patterns(0, 1021, int64_t{1} << 22).view({64, 1, 256, 256});
  const std::pair<double, double> ranges[] = {
      {-1.0, 1.0}, {0.0, 1.0},  {0.0, 0.5},      {-2.0, 2.0},     {-1.0, 3.0},
      {0.0, 0x1p-16}, {-0x1p100, 0x1p100}, {0.0, 0x1p127}, {0.0, 1.0 + 0x1p-23}, {-1.0, 1.0 - 0x1p-24}};
  for (const auto& r : ranges) {
    expect_same(v, MakeGridOptions().normalize(true).value_range({r.first, r.second}),
                "range " + std::to_string(r.first) + "," + std::to_string(r.second));
  }
  const at::Tensor d = v.narrow(0, 0, 16).to(at::kDouble) * 1e10;
  for (const auto& r : {std::make_pair(-1.0, 1.0), std::make_pair(0.0, 0x1p1000)}) {
    expect_same(d, MakeGridOptions().normalize(true).value_range({r.first, r.second}),
                "float64 range " + std::to_string(r.first) + "," + std::to_string(r.second));
  }
}

// Around every rounding boundary of value_range (-1, 1): the 64 floats on
// either side of each x with (x + 1) / 2 * 255 + 0.5 == k.
TEST(Fused, EveryRoundingBoundaryOfMinusOneToOne) {
  std::vector<float> values;
  for (int k = 0; k <= 256; ++k) {
    float x = static_cast<float>((k - 0.5) / 255.0 * 2.0 - 1.0);
    for (int i = 0; i < 64; ++i) x = std::nextafter(x, -2.0f);
    for (int i = 0; i < 129; ++i, x = std::nextafter(x, 2.0f)) values.push_back(x);
  }
  while (values.size() % 3) values.push_back(0.0f);
  const at::Tensor v = at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, at::kFloat)
                           .clone()
                           .view({1, 3, 1, -1});
  expect_same(v, MakeGridOptions().normalize(true).value_range({-1.0, 1.0}), "boundaries (-1,1)");
  expect_same((v + 1) / 2, MakeGridOptions(), "boundaries plain");
}

TEST(Fused, LayoutsAndOptions) {
  at::manual_seed(3);
  const at::Tensor base = at::randn({13, 3, 9, 11}) * 1.3;
  const at::Tensor cases[] = {
      base,
      base.transpose(2, 3),                                  // non-contiguous
      base.contiguous(at::MemoryFormat::ChannelsLast),       // channels_last
      base.narrow(0, 2, 7).narrow(3, 1, 8),                  // offset views
      at::randn({1, 3, 1, 1}).expand({5, 3, 6, 7}),          // stride 0
      base.narrow(1, 0, 1),                                  // one channel
      base[0],                                               // 3-D
      base[0][0],                                            // 2-D
      base.narrow(0, 0, 1),                                  // batch of one
      at::cat({base, base.narrow(1, 0, 1)}, 1),              // 4 channels
      base.narrow(1, 0, 2),                                  // 2 channels
  };
  int i = 0;
  for (const auto& x : cases) {
    const std::string tag = "case " + std::to_string(i++);
    for (int64_t nrow : {1, 3, 8, 20}) {
      for (int64_t padding : {0, 1, 4}) {
        const auto o = MakeGridOptions().nrow(nrow).padding(padding);
        expect_same(x, o, tag + " plain");
        expect_same(x, MakeGridOptions(o).normalize(true), tag + " minmax");
        expect_same(x, MakeGridOptions(o).normalize(true).scale_each(true), tag + " scale_each");
        expect_same(x, MakeGridOptions(o).normalize(true).value_range({-1.0, 1.0}).scale_each(true),
                    tag + " range scale_each");
        expect_same(x, MakeGridOptions(o).pad_value(0.5).normalize(true).value_range({-2.0, 2.0}),
                    tag + " pad 0.5");
      }
    }
    expect_same(x, MakeGridOptions().grayscale(true), tag + " grayscale");
  }
  expect_same(base, MakeGridOptions().pad_value(std::vector<double>{1.0, 0.0, 0.25}), "colour pad");
  expect_same(base, MakeGridOptions().pad_value(std::nan("")), "NaN pad");
  expect_same(base.to(at::kDouble), MakeGridOptions().normalize(true), "float64 minmax");
  expect_same(base.to(at::kDouble) / 3, MakeGridOptions(), "float64 plain");
}

TEST(Fused, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  at::Tensor x = at::tensor({0.f, -0.f, 1.f, inf, -inf, nan, 1e-45f, -1e-45f, 1e38f, -1e38f,
                             0.5f / 255, 254.5f / 255, 3.f, -3.f, 0.49999997f / 255, 0.25f, 0.75f,
                             1.f / 3});
  x = at::cat({x, x.flip(0)}).view({1, 2, 3, 6});
  const auto px = torchimage::fused_grid_pixels(x, MakeGridOptions());
  ASSERT_TRUE(px.defined());
  expect_same(x, MakeGridOptions(), "special plain");
  expect_same(x, MakeGridOptions().normalize(true).value_range({-1.0, 1.0}), "special range");
  // The spec's edges: NaN -> 0, +Inf -> 255, -Inf -> 0.
  EXPECT_EQ(px[0][3][0].item<uint8_t>(), 255);
  EXPECT_EQ(px[0][4][0].item<uint8_t>(), 0);
  EXPECT_EQ(px[0][5][0].item<uint8_t>(), 0);
  // Normalizing over a NaN minimum is left to the reference path.
  EXPECT_FALSE(torchimage::fused_grid_pixels(x, MakeGridOptions().normalize(true)).defined());
}

TEST(Fused, NotTakenForOtherDtypes) {
  for (auto dt : {at::kHalf, at::kBFloat16, at::kByte, at::kBool}) {
    EXPECT_FALSE(torchimage::fused_grid_pixels(at::zeros({2, 3, 4, 4}, dt), MakeGridOptions()).defined());
  }
}

}  // namespace
