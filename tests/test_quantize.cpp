// torchimage::quantize (src/quantize.h) against torchvision's quantization,
// `t.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)`, computed here with
// the same LibTorch ops in the tensor's own dtype. Float32 is sampled densely
// (a strided walk over every float in [-0.01, 1.01] plus every float near a
// rounding boundary), float16 and bfloat16 exhaustively (all 65536 patterns).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <torchimage/save_image.h>

#include "test_util.h"

#include "grid/fused_quantize.h"
#include "grid/grid_shape.h"
#include "grid/quantize.h"

namespace {


uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// torchvision's quantization of a (C, H, W) tensor to uint8 (C, H, W).
// NaN -> uint8 is undefined in C++ and so in ATen's cast: those entries are
// set to the documented 0. torch 1.13 has no CPU clamp for float16
// ("clamp_scalar_cpu" not implemented for 'Half'): float16 clamps through
// float32, which is exact (0 and 255 are float16 values and every float16 in
// [0, 255] is a float32), as scripts/make_golden.py does; mul and add still
// round in float16.
at::Tensor reference(const at::Tensor& t) {
  at::Tensor r = t.mul(255).add_(0.5);
  if (r.scalar_type() == at::kHalf) r = r.to(at::kFloat);
  r = r.clamp_(0, 255).to(at::kByte);
  return r.masked_fill_(t.isnan(), 0);
}

// Float32 tensor of the given bit patterns.
at::Tensor floats_from_bits(const std::vector<uint32_t>& bits) {
  at::Tensor out = at::empty({static_cast<int64_t>(bits.size())}, at::kFloat);
  std::memcpy(out.data_ptr<float>(), bits.data(), bits.size() * sizeof(uint32_t));
  return out;
}

// Checks quantize(values as (1, 1, N)) against the reference, reporting the
// first few mismatching inputs.
void expect_matches_reference(const at::Tensor& values) {
  const at::Tensor chw = values.reshape({1, 1, -1});
  const at::Tensor got = torchimage::quantize(chw);
  ASSERT_EQ(got.scalar_type(), at::kByte);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{1, values.numel(), 1}));
  const at::Tensor want = reference(chw).permute({1, 2, 0});
  const at::Tensor bad = got.ne(want).reshape(-1).nonzero().reshape(-1);
  EXPECT_EQ(bad.numel(), 0) << bad.numel() << " of " << values.numel() << " values differ";
  const at::Tensor flat_in = values.reshape(-1).to(at::kDouble);
  const at::Tensor flat_got = got.reshape(-1);
  const at::Tensor flat_want = want.reshape(-1);
  for (int64_t i = 0; i < std::min<int64_t>(bad.numel(), 5); ++i) {
    const int64_t k = bad[i].item<int64_t>();
    ADD_FAILURE() << "input " << std::hexfloat << flat_in[k].item<double>() << std::defaultfloat
                  << " (" << values.scalar_type() << "): got "
                  << int(flat_got[k].item<uint8_t>()) << ", want "
                  << int(flat_want[k].item<uint8_t>());
  }
}

TEST(Quantize, Float32DenseStridedWalkOverMinus001To101) {
  // Every 199th float pattern of [0, 1.01] and of [-0.01, -0.0]: ~10.4 million
  // values, all exponents and (the stride being prime) all low mantissa bits.
  const int64_t stride = 199;
  const int64_t pos_end = float_bits(1.01f);
  const int64_t neg_end = float_bits(-0.01f);
  const at::Tensor pos = at::arange(0, pos_end + 1, stride, at::kLong);
  const at::Tensor neg = at::arange(int64_t{0x80000000}, neg_end + 1, stride, at::kLong);
  // Reinterpret the uint32 patterns as floats via int32 (two's complement).
  const at::Tensor bits = at::cat({pos, neg - (int64_t{1} << 32)}).to(at::kInt);
  const at::Tensor values = bits.view(at::kFloat);
  ASSERT_GT(values.numel(), 10000000);
  EXPECT_TRUE(values.ge(-0.01f).logical_and(values.le(1.01f)).all().item<bool>());
  expect_matches_reference(values);
}

TEST(Quantize, Float32EveryFloatNearEachRoundingBoundary) {
  // x * 255 + 0.5 crosses the integer k at x ~ (k - 0.5) / 255: take the 4001
  // floats around each such point, where a double-rounded or fused
  // implementation would differ.
  std::vector<uint32_t> bits;
  for (int k = 0; k <= 256; ++k) {
    const float center = (static_cast<float>(k) - 0.5f) / 255.0f;
    const uint32_t c = float_bits(center);
    for (int d = -2000; d <= 2000; ++d) {
      // Negative floats grow in magnitude with their pattern; stay on one sign.
      const int64_t b = static_cast<int64_t>(c) + d;
      if ((static_cast<uint32_t>(b) & 0x80000000u) != (c & 0x80000000u)) continue;
      bits.push_back(static_cast<uint32_t>(b));
    }
  }
  // Exactly representable points where the result must be the textbook one.
  expect_matches_reference(floats_from_bits(bits));
  const at::Tensor exact = at::tensor({0.0f, 0.5f, 1.0f, 1.0f / 255, 254.5f / 255}).reshape({1, 1, 5});
  const at::Tensor q = torchimage::quantize(exact).reshape(-1);
  EXPECT_EQ(q[0].item<uint8_t>(), 0);
  EXPECT_EQ(q[1].item<uint8_t>(), 128);
  EXPECT_EQ(q[2].item<uint8_t>(), 255);
  EXPECT_EQ(q[3].item<uint8_t>(), 1);
}

TEST(Quantize, Float32Random) {
  torch::manual_seed(1234);
  expect_matches_reference(torch::rand({1000000}) * 1.2 - 0.1);
  expect_matches_reference(torch::randn({1000000}) * 3);
  // Random bit patterns: every exponent, NaNs and infinities included.
  const at::Tensor bits = torch::randint(std::numeric_limits<int32_t>::min(),
                                         std::numeric_limits<int32_t>::max(), {1000000},
                                         at::kInt);
  expect_matches_reference(bits.view(at::kFloat));
}

TEST(Quantize, Float64) {
  torch::manual_seed(99);
  expect_matches_reference(at::linspace(-0.01, 1.01, 2000001, at::kDouble));
  expect_matches_reference(torch::rand({500000}, at::kDouble) * 1.2 - 0.1);
  std::vector<double> near;
  for (int k = 0; k <= 256; ++k) {
    double x = (k - 0.5) / 255.0;
    for (int i = 0; i < 200; ++i) x = std::nextafter(x, -1.0);
    for (int i = 0; i < 400; ++i, x = std::nextafter(x, 2.0)) near.push_back(x);
  }
  expect_matches_reference(at::tensor(near, at::kDouble));
}

// All 65536 patterns of a 16-bit float type.
at::Tensor all_16bit(at::ScalarType type) {
  return at::arange(-32768, 32768, at::kInt).to(at::kShort).view(type);
}

TEST(Quantize, Float16Exhaustive) {
  const at::Tensor all = all_16bit(at::kHalf);
  ASSERT_EQ(all.numel(), 65536);
  expect_matches_reference(all);
  // The arithmetic is half's, one rounding per op (torchvision's): 0.99951171875
  // (the largest half below 1) * 255 rounds to 254.875, + 0.5 -> 255.375 -> 255.
  const at::Tensor q = torchimage::quantize(at::full({1, 1, 1}, 0.99951171875, at::kHalf));
  EXPECT_EQ(q.item<uint8_t>(), 255);
  // 0.00196 * 255 = 0.4998 in float32 but rounds to 0.5 in float16: + 0.5 -> 1.
  const at::Tensor h = at::full({1, 1, 1}, 0.00196075439453125, at::kHalf);
  EXPECT_EQ(torchimage::quantize(h).item<uint8_t>(), reference(h).item<uint8_t>());
}

TEST(Quantize, BFloat16Exhaustive) {
  const at::Tensor all = all_16bit(at::kBFloat16);
  ASSERT_EQ(all.numel(), 65536);
  expect_matches_reference(all);
}

template <typename T>
std::vector<uint8_t> quantize_values(const std::vector<T>& v, at::ScalarType type) {
  at::Tensor t = at::tensor(std::vector<double>(v.begin(), v.end()), at::kDouble).to(type);
  at::Tensor q = torchimage::quantize(t.reshape({1, 1, -1})).reshape(-1);
  return std::vector<uint8_t>(q.data_ptr<uint8_t>(), q.data_ptr<uint8_t>() + q.numel());
}

TEST(Quantize, SpecialValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (auto type : {at::kFloat, at::kDouble, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(type));
    const std::vector<double> in = {nan, -nan, inf, -inf, -0.0, 0.0, 1e38, -1e38, 1.0, 2.0, -1.0};
    const std::vector<uint8_t> want = {0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 0};
    EXPECT_EQ(quantize_values(in, type), want);
  }
  // Float32 specials by pattern: quiet and signalling NaNs of both signs,
  // denormals, the extremes.
  const std::vector<uint32_t> bits = {
      0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu,  // NaN -> 0
      0x7f800000u,                                                      // +Inf -> 255
      0xff800000u,                                                      // -Inf -> 0
      0x80000000u,                                                      // -0.0 -> 0
      0x00000001u, 0x007fffffu, 0x80000001u, 0x807fffffu,               // denormals -> 0
      0x7f7fffffu,                                                      // FLT_MAX -> 255
      0xff7fffffu,                                                      // -FLT_MAX -> 0
      float_bits(1e38f), float_bits(-1e38f)};
  const std::vector<uint8_t> want = {0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255, 0, 255, 0};
  const at::Tensor q = torchimage::quantize(floats_from_bits(bits).reshape({1, 1, -1})).reshape(-1);
  EXPECT_EQ(std::vector<uint8_t>(q.data_ptr<uint8_t>(), q.data_ptr<uint8_t>() + q.numel()), want);
  // Float64 denormals and the extremes.
  EXPECT_EQ(quantize_values<double>({std::numeric_limits<double>::denorm_min(),
                                     -std::numeric_limits<double>::denorm_min(),
                                     std::numeric_limits<double>::max(),
                                     -std::numeric_limits<double>::max()},
                                    at::kDouble),
            (std::vector<uint8_t>{0, 0, 255, 0}));
}

TEST(Quantize, Float16SpecialValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(quantize_values<double>({nan, -nan, inf, -inf, -0.0, 0.0, 1.0, 2.0, -1.0}, at::kHalf),
            (std::vector<uint8_t>{0, 0, 255, 0, 0, 0, 255, 255, 0}));
  // Its largest finite value overflows to +Inf when multiplied by 255; the
  // smallest denormal is 0.
  EXPECT_EQ(quantize_values<double>({65504.0, -65504.0, 5.960464477539063e-08}, at::kHalf),
            (std::vector<uint8_t>{255, 0, 0}));
}

TEST(Quantize, Uint8PassesThrough) {
  torch::manual_seed(7);
  const at::Tensor img = torch::randint(0, 256, {3, 5, 7}, at::kByte);
  const at::Tensor q = torchimage::quantize(img);
  EXPECT_TRUE(torch::equal(q, img.permute({1, 2, 0})));
  // Every value maps to itself.
  const at::Tensor all = at::arange(0, 256, at::kInt).to(at::kByte).reshape({1, 16, 16});
  EXPECT_TRUE(torch::equal(torchimage::quantize(all), all.permute({1, 2, 0})));
}

TEST(Quantize, BoolIsZeroOr255) {
  const at::Tensor img = at::tensor({1, 0, 0, 1, 1, 0}).to(at::kBool).reshape({2, 1, 3});
  const at::Tensor q = torchimage::quantize(img);
  ASSERT_EQ(q.scalar_type(), at::kByte);
  EXPECT_TRUE(torch::equal(q, img.permute({1, 2, 0}).to(at::kByte) * 255));
  // The input is untouched.
  EXPECT_EQ(img.scalar_type(), at::kBool);
  EXPECT_EQ(img.sum().item<int64_t>(), 3);
}

TEST(Quantize, OutputIsContiguousCpuUint8Hwc) {
  torch::manual_seed(3);
  // (float16 has its own tests above.)
  for (auto type : {at::kFloat, at::kDouble, at::kBFloat16, at::kByte, at::kBool}) {
    for (int64_t c = 1; c <= 4; ++c) {
      SCOPED_TRACE(c10::str(type, " C=", c));
      at::Tensor base = torch::rand({c, 6, 9});
      at::Tensor in = type == at::kByte   ? (base * 256).to(at::kByte)
                      : type == at::kBool ? base.gt(0.5)
                                          : base.to(type);
      // Contiguous, transposed (non-contiguous), channels-last and expanded.
      const std::vector<at::Tensor> layouts = {
          in, in.transpose(1, 2).contiguous().transpose(1, 2),
          in.unsqueeze(0).contiguous(at::MemoryFormat::ChannelsLast).squeeze(0),
          in.narrow(2, 0, 1).expand({c, 6, 9})};
      for (const at::Tensor& x : layouts) {
        const at::Tensor q = torchimage::quantize(x);
        EXPECT_EQ(q.scalar_type(), at::kByte);
        EXPECT_EQ(q.device(), at::Device(at::kCPU));
        EXPECT_EQ(q.sizes(), (std::vector<int64_t>{6, 9, c}));
        EXPECT_TRUE(q.is_contiguous());
        const at::Tensor want = type == at::kByte   ? x
                                : type == at::kBool ? x.to(at::kByte) * 255
                                                    : reference(x);
        EXPECT_TRUE(torch::equal(q, want.permute({1, 2, 0})));
      }
    }
  }
}

TEST(Quantize, GradAndInputUntouched) {
  at::Tensor x = torch::rand({3, 4, 5}, torch::requires_grad());
  const at::Tensor before = x.detach().clone();
  const at::Tensor q = torchimage::quantize(x);
  EXPECT_FALSE(q.requires_grad());
  EXPECT_TRUE(torch::equal(x.detach(), before));
  EXPECT_TRUE(torch::equal(q, reference(before).permute({1, 2, 0})));
}

TEST(Quantize, RejectsNon3D) {
  EXPECT_THROW_MSG(torchimage::quantize(at::zeros({4, 4})), "quantize: expected a (C, H, W) image");
  EXPECT_THROW_MSG(torchimage::quantize(at::zeros({1, 3, 4, 4})), "[1, 3, 4, 4]");
}

// The public face of the same quantization: to_pixels of an image is
// quantize(image) (make_grid of one image is the image itself).
TEST(Quantize, ToPixelsAgreesOnDenseSample) {
  const int64_t stride = 997;
  const at::Tensor bits =
      at::arange(0, int64_t{float_bits(1.01f)} + 1, stride, at::kLong).to(at::kInt);
  at::Tensor values = bits.view(at::kFloat);
  values = values.narrow(0, 0, values.numel() / 3 * 3).reshape({3, 1, -1});
  const at::Tensor px = torchimage::to_pixels(values);
  EXPECT_TRUE(torch::equal(px, reference(values).permute({1, 2, 0})));
  EXPECT_TRUE(torch::equal(px, torchimage::quantize(values)));
}

// ---------------------------------------------------------------------------
// The fused CPU float32/float64 pass (src/fused_quantize.h) that to_pixels and
// save_image take: bit for bit quantize(make_grid(...)), the ATen op sequence
// (which test_make_grid checks against torchvision's make_grid).
// ---------------------------------------------------------------------------

using torchimage::MakeGridOptions;
using torchimage::ValueRange;

void expect_fused_matches_aten(const at::Tensor& x, const MakeGridOptions& o, const std::string& what) {
  SCOPED_TRACE(what);
  const at::Tensor fused = torchimage::fused_grid_pixels(x, o);
  ASSERT_TRUE(fused.defined()) << "the fused path declined";
  const at::Tensor aten = torchimage::quantize(torchimage::make_grid(x, o));
  ASSERT_EQ(fused.sizes(), aten.sizes());
  EXPECT_TRUE(fused.is_contiguous());
  EXPECT_EQ(fused.scalar_type(), at::kByte);
  const at::Tensor bad = fused.ne(aten).nonzero();
  EXPECT_EQ(bad.size(0), 0) << bad.size(0) << " of " << fused.numel() << " pixels differ, first at "
                            << (bad.size(0) ? bad[0] : at::Tensor());
}

std::vector<std::pair<std::string, MakeGridOptions>> fused_option_sets() {
  std::vector<std::pair<std::string, MakeGridOptions>> sets;
  sets.push_back({"plain", MakeGridOptions().nrow(3).padding(2).pad_value(0.3)});
  sets.push_back({"minmax", MakeGridOptions().nrow(3).normalize(true)});
  sets.push_back({"minmax scale_each", MakeGridOptions().nrow(2).padding(1).normalize(true).scale_each(true)});
  for (auto r : {ValueRange{-1.0, 1.0}, ValueRange{0.0, 1.0}, ValueRange{-0.01, 1.01},
                 ValueRange{0.1, 0.9}, ValueRange{0.3, 0.3}, ValueRange{-0.3, 0.7 + 1e-9},
                 ValueRange{0.123456789, 0.987654321}}) {
    sets.push_back({c10::str("range (", r.low, ", ", r.high, ")"),
                    MakeGridOptions().nrow(4).normalize(true).value_range(r).pad_value(0.7)});
    sets.push_back({c10::str("range (", r.low, ", ", r.high, ") scale_each"),
                    MakeGridOptions().nrow(4).normalize(true).value_range(r).scale_each(true)});
  }
  sets.push_back({"colour pad", MakeGridOptions().nrow(2).pad_value(std::vector<double>{0.1, 0.5, 2.0})});
  return sets;
}

TEST(FusedQuantize, Float32DenseValuesEveryOption) {
  // ~1.6 million floats of [-0.01, 1.01] (strided walk over the patterns)
  // in 8 images of 3 x 256 x 256.
  const int64_t n = 8 * 3 * 256 * 256;
  const int64_t pos_end = float_bits(1.01f), neg_end = float_bits(-0.01f);
  const int64_t total = pos_end + (neg_end - int64_t{0x80000000}) + 2;
  const int64_t stride = total / n;  // floor: at least n patterns
  const at::Tensor pos = at::arange(0, pos_end + 1, stride, at::kLong);
  const at::Tensor neg = at::arange(int64_t{0x80000000}, neg_end + 1, stride, at::kLong);
  at::Tensor values = at::cat({pos, neg - (int64_t{1} << 32)}).to(at::kInt).view(at::kFloat);
  ASSERT_GE(values.numel(), n);
  values = values.index_select(0, torch::randperm(values.numel(), at::kLong).narrow(0, 0, n));
  const at::Tensor x = values.reshape({8, 3, 256, 256});
  for (const auto& [name, o] : fused_option_sets()) expect_fused_matches_aten(x, o, name);
  // Every float near a quantization boundary, after a (-1, 1) normalization:
  // x = 2 * (k - 0.5) / 255 - 1 +- 2000 ulps.
  std::vector<uint32_t> bits;
  for (int k = 0; k <= 256; ++k) {
    const uint32_t c = float_bits(2.0f * (static_cast<float>(k) - 0.5f) / 255.0f - 1.0f);
    for (int d = -2000; d <= 2000; ++d) {
      const int64_t b = static_cast<int64_t>(c) + d;
      if ((static_cast<uint32_t>(b) & 0x80000000u) != (c & 0x80000000u)) continue;
      bits.push_back(static_cast<uint32_t>(b));
    }
  }
  at::Tensor near = floats_from_bits(bits);
  near = near.narrow(0, 0, near.numel() / 3 * 3).reshape({3, 1, -1});
  for (const auto& [name, o] : fused_option_sets()) expect_fused_matches_aten(near, o, "near " + name);
}

TEST(FusedQuantize, Float64AndShapes) {
  torch::manual_seed(21);
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{
             {5, 7}, {1, 5, 7}, {3, 5, 7}, {2, 5, 7}, {4, 5, 7}, {1, 3, 5, 7}, {6, 1, 5, 7},
             {7, 2, 5, 7}, {5, 3, 5, 7}, {9, 4, 5, 7}, {17, 3, 2, 3}}) {
      const at::Tensor x = (torch::randn(shape, at::kDouble) * 0.7 + 0.4).to(dtype);
      for (auto [name, o] : fused_option_sets()) {
        const int64_t c = shape.size() == 2 ? 1 : shape[shape.size() - 3];
        if (o.pad_value().size() == 3 && !(c == 3 || c == 1)) continue;
        expect_fused_matches_aten(x, o, c10::str(dtype, " ", c10::IntArrayRef(shape), " ", name));
        if (c == 1 && o.pad_value().size() == 1) {
          expect_fused_matches_aten(x, o.grayscale(true),
                                    c10::str(dtype, " ", c10::IntArrayRef(shape), " gray ", name));
        }
      }
    }
  }
}

TEST(FusedQuantize, StridedInputs) {
  torch::manual_seed(22);
  const at::Tensor base = torch::randn({6, 3, 9, 11}) * 0.6 + 0.5;
  const std::vector<std::pair<std::string, at::Tensor>> inputs = {
      {"transposed", base.transpose(2, 3)},
      {"sliced", base.slice(3, 0, 11, 3)},
      {"channels_last", base.contiguous(at::MemoryFormat::ChannelsLast)},
      {"expanded", base.narrow(0, 0, 1).expand({4, 3, 9, 11})},
      {"expanded pixels", torch::rand({2, 3, 1, 1}).expand({2, 3, 9, 11})},
      {"3-D permuted", base[0].permute({0, 2, 1})},
      {"2-D column", base[0][0].select(1, 2).unsqueeze(1).expand({9, 4})},
      {"batch-minor", base.transpose(0, 1).contiguous().transpose(0, 1)}};
  for (const auto& [name, x] : inputs) {
    for (const auto& [oname, o] : fused_option_sets()) expect_fused_matches_aten(x, o, name + " " + oname);
  }
}

TEST(FusedQuantize, SpecialValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  at::Tensor x = torch::rand({4, 3, 5, 5});
  x[0][0][0][0] = inf;
  x[1][1][1][1] = -inf;
  x[2][2][2][2] = -0.0f;
  x[3][0][4][4] = 1e38f;
  x[3][1][4][4] = std::numeric_limits<float>::denorm_min();
  for (const auto& [name, o] : fused_option_sets()) expect_fused_matches_aten(x, o, "inf " + name);
  // NaN: without normalize, or with a value_range, NaN pixels are 0.
  x[0][1][2][3] = nan;
  expect_fused_matches_aten(x, MakeGridOptions(), "nan plain");
  expect_fused_matches_aten(x, MakeGridOptions().normalize(true).value_range({0.0, 1.0}), "nan range");
  const at::Tensor px = torchimage::fused_grid_pixels(x[0].unsqueeze(0), MakeGridOptions());
  EXPECT_EQ(px[2][3][1].item<uint8_t>(), 0);
  EXPECT_EQ(px[0][0][0].item<uint8_t>(), 255);
}

TEST(FusedQuantize, DeclinesWhatItDoesNotHandle) {
  // Other dtypes take the ATen path.
  for (auto dtype : {at::kHalf, at::kBFloat16, at::kByte, at::kBool}) {
    EXPECT_FALSE(torchimage::fused_grid_pixels(torch::zeros({2, 3, 4, 4}, dtype), MakeGridOptions()).defined())
        << dtype;
  }
  // min/max of a tensor holding NaN is NaN.
  at::Tensor x = torch::rand({2, 3, 4, 4});
  x[1][2][3][3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(torchimage::fused_grid_pixels(x, MakeGridOptions().normalize(true)).defined());
  // More than 4 channels.
  EXPECT_FALSE(torchimage::fused_grid_pixels(torch::rand({2, 5, 4, 4}), MakeGridOptions()).defined());
}

}  // namespace
