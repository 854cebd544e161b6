// torchimage::make_grid against an independent reference: torchvision 0.14's
// make_grid (torchvision/utils.py) re-implemented below line by line in
// LibTorch ops, compared with torch::equal over many shapes and options.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <c10/util/Exception.h>
#include <optional>
#include <torch/torch.h>

#include <torchimage/make_grid.h>

#include "test_util.h"

namespace {

using torchimage::make_grid;
using torchimage::MakeGridOptions;
using torchimage::ValueRange;


// ---------------------------------------------------------------------------
// The reference: torchvision 0.14 make_grid, statement for statement.
// Two torchimage opt-ins are marked: `grayscale` skips the 1 -> 3 channel
// repeats, and a pad colour fills the grid channel by channel.
// ---------------------------------------------------------------------------
struct RefArgs {
  int64_t nrow = 8;
  int64_t padding = 2;
  bool normalize = false;
  std::optional<std::pair<double, double>> value_range;
  bool scale_each = false;
  std::vector<double> pad_value{0.0};
  bool grayscale = false;  // torchimage opt-in
};

void ref_norm_ip(torch::Tensor img, double low, double high) {
  if (img.scalar_type() == torch::kHalf) {
    // torch 1.13 has no CPU clamp for float16 ("clamp_scalar_cpu" not
    // implemented for 'Half'). ATen clamps every other dtype to the bounds
    // converted to that dtype (Scalar::to<scalar_t>), as its CUDA kernel does
    // float16: clamp to the float16 bounds, through float32 (exact).
    const float lo = static_cast<float>(c10::Scalar(low).to<c10::Half>());
    const float hi = static_cast<float>(c10::Scalar(high).to<c10::Half>());
    img.copy_(img.to(torch::kFloat).clamp_(lo, hi));
  } else {
    img.clamp_(low, high);
  }
  img.sub_(low).div_(std::max(high - low, 1e-5));
}

void ref_norm_range(torch::Tensor t, const std::optional<std::pair<double, double>>& value_range) {
  if (value_range) {
    ref_norm_ip(t, value_range->first, value_range->second);
  } else {
    ref_norm_ip(t, t.min().item<double>(), t.max().item<double>());
  }
}

torch::Tensor ref_make_grid(torch::Tensor tensor, const RefArgs& a) {
  torch::NoGradGuard no_grad;  // torchvision's result would carry grad; compare values
  tensor = tensor.detach();
  if (tensor.dim() == 2) {  // single image H x W
    tensor = tensor.unsqueeze(0);
  }
  if (tensor.dim() == 3) {  // single image
    if (tensor.size(0) == 1 && !a.grayscale) {  // if single-channel, convert to 3-channel
      tensor = torch::cat({tensor, tensor, tensor}, 0);
    }
    tensor = tensor.unsqueeze(0);
  }
  if (tensor.dim() == 4 && tensor.size(1) == 1 && !a.grayscale) {  // single-channel images
    tensor = torch::cat({tensor, tensor, tensor}, 1);
  }
  if (a.normalize) {
    tensor = tensor.clone();  // avoid modifying tensor in-place
    if (a.scale_each) {
      for (int64_t i = 0; i < tensor.size(0); ++i) {  // loop over mini-batch dimension
        ref_norm_range(tensor[i], a.value_range);
      }
    } else {
      ref_norm_range(tensor, a.value_range);
    }
  }
  if (tensor.size(0) == 1) {
    return tensor.squeeze(0);
  }
  // make the mini-batch of images into a grid
  const int64_t nmaps = tensor.size(0);
  const int64_t xmaps = std::min(a.nrow, nmaps);
  const int64_t ymaps = static_cast<int64_t>(std::ceil(static_cast<double>(nmaps) / xmaps));
  const int64_t height = tensor.size(2) + a.padding;
  const int64_t width = tensor.size(3) + a.padding;
  const int64_t num_channels = tensor.size(1);
  torch::Tensor grid = tensor.new_full(
      {num_channels, height * ymaps + a.padding, width * xmaps + a.padding}, a.pad_value[0]);
  if (a.pad_value.size() > 1) {  // torchimage opt-in: a colour
    for (int64_t c = 0; c < num_channels; ++c) grid[c].fill_(a.pad_value[c]);
  }
  int64_t k = 0;
  for (int64_t y = 0; y < ymaps; ++y) {
    for (int64_t x = 0; x < xmaps; ++x) {
      if (k >= nmaps) break;
      grid.narrow(1, y * height + a.padding, height - a.padding)
          .narrow(2, x * width + a.padding, width - a.padding)
          .copy_(tensor[k]);
      k = k + 1;
    }
  }
  return grid;
}

torch::Tensor ref_make_grid(const std::vector<torch::Tensor>& list, const RefArgs& a) {
  // if list of tensors, convert to a 4D mini-batch Tensor
  std::vector<torch::Tensor> detached;
  for (const auto& t : list) detached.push_back(t.detach());
  return ref_make_grid(torch::stack(detached, 0), a);
}

MakeGridOptions to_options(const RefArgs& a) {
  MakeGridOptions o;
  o.nrow(a.nrow).padding(a.padding).normalize(a.normalize).scale_each(a.scale_each)
      .pad_value(a.pad_value).grayscale(a.grayscale);
  if (a.value_range) o.value_range(ValueRange{a.value_range->first, a.value_range->second});
  return o;
}

std::string describe(const torch::Tensor& t, const RefArgs& a) {
  std::string vr = a.value_range ? c10::str("(", a.value_range->first, ", ",
                                            a.value_range->second, ")")
                                 : std::string("none");
  return c10::str("input ", t.scalar_type(), " ", t.sizes(), " strides ", t.strides(),
                  " nrow=", a.nrow, " padding=", a.padding, " normalize=", a.normalize,
                  " value_range=", vr, " scale_each=", a.scale_each, " pad_value=",
                  c10::ArrayRef<double>(a.pad_value), " grayscale=", a.grayscale);
}

// Same dtype, device, shape and values (NaN equal to NaN: torch::equal is not).
::testing::AssertionResult same(const torch::Tensor& got, const torch::Tensor& want) {
  if (got.scalar_type() != want.scalar_type()) {
    return ::testing::AssertionFailure() << "dtype " << got.scalar_type() << " != "
                                         << want.scalar_type();
  }
  if (got.device() != want.device()) {
    return ::testing::AssertionFailure() << "device " << got.device() << " != " << want.device();
  }
  if (got.sizes() != want.sizes()) {
    return ::testing::AssertionFailure() << "shape " << got.sizes() << " != " << want.sizes();
  }
  if (got.is_floating_point()) {
    const auto g = got.to(torch::kDouble), w = want.to(torch::kDouble);
    const auto both_nan = g.isnan().logical_and(w.isnan());
    const auto eq = g.eq(w).logical_or(both_nan);
    if (!eq.all().item<bool>()) {
      return ::testing::AssertionFailure()
             << eq.logical_not().sum().item<int64_t>() << " of " << eq.numel()
             << " values differ";
    }
  } else if (!torch::equal(got, want)) {
    return ::testing::AssertionFailure() << "values differ";
  }
  return ::testing::AssertionSuccess();
}

// Runs both on `input` and checks the result, that no grad is carried and
// that the input is unchanged.
void check(const torch::Tensor& input, const RefArgs& a) {
  SCOPED_TRACE(describe(input, a));
  const torch::Tensor before = input.detach().clone();
  const torch::Tensor want = ref_make_grid(input, a);
  torch::Tensor got;
  try {
    got = make_grid(input, to_options(a));
  } catch (const c10::Error& e) {
    ADD_FAILURE() << "make_grid threw: " << e.what_without_backtrace();
    return;
  }
  EXPECT_TRUE(same(got, want));
  EXPECT_FALSE(got.requires_grad());
  EXPECT_TRUE(same(input.detach(), before)) << "make_grid changed its input";
}

torch::Tensor random_images(std::vector<int64_t> shape, torch::ScalarType dtype) {
  if (dtype == torch::kByte) return torch::randint(0, 256, shape, torch::kByte);
  if (dtype == torch::kBool) return torch::randint(0, 2, shape, torch::kByte).to(torch::kBool);
  return (torch::randn(shape, torch::kDouble) * 1.5 + 0.25).to(dtype);
}

// ---------------------------------------------------------------------------

TEST(MakeGrid, ReferenceOverNrowBatchAndPadding) {
  torch::manual_seed(1);
  for (int64_t b = 1; b <= 17; ++b) {
    const torch::Tensor x = random_images({b, 3, 3, 4}, torch::kFloat);
    for (int64_t nrow = 1; nrow <= 10; ++nrow) {
      for (int64_t padding = 0; padding <= 3; ++padding) {
        RefArgs a;
        a.nrow = nrow;
        a.padding = padding;
        a.pad_value = {padding % 2 ? 0.5 : 0.0};
        check(x, a);
      }
    }
  }
}

TEST(MakeGrid, GridGeometry) {
  // 5 images of 4x6, nrow 2, padding 3: 3 rows of 2 (the last row short).
  const torch::Tensor x = torch::ones({5, 3, 4, 6});
  const torch::Tensor g = make_grid(x, MakeGridOptions().nrow(2).padding(3).pad_value(0.25));
  EXPECT_EQ(g.sizes(), (std::vector<int64_t>{3, (4 + 3) * 3 + 3, (6 + 3) * 2 + 3}));
  // The empty sixth cell is padding.
  EXPECT_TRUE(g.narrow(1, 2 * 7 + 3, 4).narrow(2, 9 + 3, 6).eq(0.25).all().item<bool>());
  EXPECT_TRUE(g.narrow(1, 2 * 7 + 3, 4).narrow(2, 3, 6).eq(1).all().item<bool>());
  // nrow above the batch: one row.
  EXPECT_EQ(make_grid(x, MakeGridOptions().nrow(10).padding(0)).sizes(),
            (std::vector<int64_t>{3, 4, 30}));
  // Default options: nrow 8, padding 2.
  EXPECT_EQ(make_grid(torch::zeros({9, 3, 2, 2})).sizes(), (std::vector<int64_t>{3, 2 * 4 + 2, 8 * 4 + 2}));
}

TEST(MakeGrid, InputRanksAndChannels) {
  torch::manual_seed(2);
  for (int64_t c : {1, 2, 3, 4, 5}) {
    for (int64_t b : {1, 2, 5}) {
      RefArgs a;
      a.nrow = 2;
      check(random_images({b, c, 3, 5}, torch::kFloat), a);
      a.normalize = true;
      check(random_images({b, c, 3, 5}, torch::kFloat), a);
    }
    check(random_images({c, 4, 6}, torch::kFloat), RefArgs{});
  }
  check(random_images({4, 6}, torch::kFloat), RefArgs{});
  check(random_images({1, 1}, torch::kFloat), RefArgs{});
  // Shapes after the repeats: (H, W) and (1, H, W) become RGB.
  EXPECT_EQ(make_grid(torch::zeros({4, 6})).sizes(), (std::vector<int64_t>{3, 4, 6}));
  EXPECT_EQ(make_grid(torch::zeros({1, 4, 6})).sizes(), (std::vector<int64_t>{3, 4, 6}));
  EXPECT_EQ(make_grid(torch::zeros({1, 1, 4, 6})).sizes(), (std::vector<int64_t>{3, 4, 6}));
  EXPECT_EQ(make_grid(torch::zeros({2, 1, 4, 6}), MakeGridOptions().padding(0)).sizes(),
            (std::vector<int64_t>{3, 4, 12}));
  EXPECT_EQ(make_grid(torch::zeros({2, 4, 6})).sizes(), (std::vector<int64_t>{2, 4, 6}));
}

TEST(MakeGrid, NormalizeOptions) {
  torch::manual_seed(3);
  const std::vector<std::optional<std::pair<double, double>>> ranges = {
      std::nullopt, std::make_pair(-1.0, 1.0), std::make_pair(0.0, 1.0),
      std::make_pair(0.2, 0.7), std::make_pair(0.5, 0.5), std::make_pair(-3.0, 10.0),
      std::make_pair(0.1, 0.1 + 1e-6)};
  for (int64_t b : {1, 3, 7}) {
    for (const auto& range : ranges) {
      for (bool scale_each : {false, true}) {
        RefArgs a;
        a.nrow = 3;
        a.normalize = true;
        a.value_range = range;
        a.scale_each = scale_each;
        a.pad_value = {0.75};
        check(random_images({b, 3, 4, 5}, torch::kFloat), a);
        check(random_images({b, 1, 4, 5}, torch::kFloat), a);
      }
    }
  }
  // Constant images: max - min is 0, the divisor 1e-5.
  RefArgs a;
  a.normalize = true;
  check(torch::full({3, 3, 2, 2}, 0.3), a);
  a.scale_each = true;
  torch::Tensor mixed = torch::full({3, 3, 2, 2}, 0.3);
  mixed[1].fill_(-2);
  check(mixed, a);
}

TEST(MakeGrid, NormalizeMapsRangeOntoUnitInterval) {
  // Without the reference: min -> 0, max -> 1, per image with scale_each.
  torch::Tensor x = torch::stack({torch::linspace(-2, 6, 12).reshape({3, 2, 2}),
                                  torch::linspace(10, 11, 12).reshape({3, 2, 2})});
  const auto g = make_grid(x, MakeGridOptions().normalize(true).scale_each(true).padding(0));
  EXPECT_FLOAT_EQ(g.narrow(2, 0, 2).min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(g.narrow(2, 0, 2).max().item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(g.narrow(2, 2, 2).min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(g.narrow(2, 2, 2).max().item<float>(), 1.0f);
  const auto r = make_grid(x, MakeGridOptions().normalize(true).value_range({0.0, 4.0}));
  EXPECT_FLOAT_EQ(r.min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(r.max().item<float>(), 1.0f);
}

// The normalize sweep for float16 is in Float16Normalize below.
TEST(MakeGrid, FloatingDtypes) {
  torch::manual_seed(4);
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
    for (int64_t b : {1, 2, 6}) {
      for (bool normalize : {false, true}) {
        if (normalize && dtype == torch::kHalf) continue;
        for (bool scale_each : {false, true}) {
          for (bool range : {false, true}) {
            RefArgs a;
            a.nrow = 4;
            a.padding = 1;
            a.normalize = normalize;
            a.scale_each = scale_each;
            if (range) a.value_range = std::make_pair(-0.5, 1.25);
            a.pad_value = {0.3};  // not exact in half/bfloat16: rounded the same way
            check(random_images({b, 3, 5, 4}, dtype), a);
            check(random_images({b, 1, 5, 4}, dtype), a);
          }
        }
      }
      const auto g = make_grid(random_images({b, 3, 5, 4}, dtype));
      EXPECT_EQ(g.scalar_type(), dtype);
      EXPECT_EQ(g.device(), torch::Device(torch::kCPU));
    }
  }
}

TEST(MakeGrid, Float16Normalize) {
  torch::manual_seed(14);
  for (int64_t b : {1, 2, 6}) {
    for (bool scale_each : {false, true}) {
      for (bool range : {false, true}) {
        RefArgs a;
        a.nrow = 4;
        a.padding = 1;
        a.normalize = true;
        a.scale_each = scale_each;
        if (range) a.value_range = std::make_pair(-0.5, 1.1);  // 1.1: not a float16
        a.pad_value = {0.3};
        for (int64_t c : {1, 3}) {
          const torch::Tensor x = random_images({b, c, 5, 4}, torch::kHalf);
          const torch::Tensor before = x.clone();
          check(x, a);
          EXPECT_TRUE(torch::equal(x, before));
        }
      }
    }
  }
  // Clamped to the range: the values land in [0, 1].
  const torch::Tensor g = make_grid(torch::linspace(-3, 3, 48, torch::kHalf).reshape({4, 3, 2, 2}),
                                    MakeGridOptions().normalize(true).value_range({-1.0, 1.0}));
  EXPECT_GE(g.to(torch::kFloat).min().item<float>(), 0.0f);
  EXPECT_LE(g.to(torch::kFloat).max().item<float>(), 1.0f);
}

TEST(MakeGrid, Uint8AndBool) {
  torch::manual_seed(5);
  for (int64_t b : {1, 2, 5, 9}) {
    for (int64_t c : {1, 3, 4}) {
      RefArgs a;
      a.nrow = 3;
      a.pad_value = {128};
      check(random_images({b, c, 3, 4}, torch::kByte), a);
      a.pad_value = {255};
      check(random_images({b, c, 3, 4}, torch::kByte), a);
      a.pad_value = {1};
      check(random_images({b, c, 3, 4}, torch::kBool), a);
      a.pad_value = {0};
      check(random_images({b, c, 3, 4}, torch::kBool), a);
    }
  }
  EXPECT_EQ(make_grid(random_images({3, 3, 2, 2}, torch::kByte)).scalar_type(), torch::kByte);
  EXPECT_EQ(make_grid(random_images({3, 3, 2, 2}, torch::kBool)).scalar_type(), torch::kBool);
}

TEST(MakeGrid, NanAndInfinityPassThroughWithoutNormalize) {
  torch::Tensor x = torch::rand({3, 3, 2, 2});
  x[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  x[1][1][1][1] = std::numeric_limits<float>::infinity();
  x[2][2][0][1] = -std::numeric_limits<float>::infinity();
  RefArgs a;
  check(x, a);
  a.normalize = true;
  a.value_range = std::make_pair(0.0, 1.0);
  check(x, a);
}

TEST(MakeGrid, NonContiguousChannelsLastAndExpanded) {
  torch::manual_seed(6);
  const torch::Tensor base = random_images({6, 3, 5, 7}, torch::kFloat);
  const std::vector<std::pair<std::string, torch::Tensor>> inputs = {
      {"transposed", base.transpose(2, 3)},
      {"sliced", base.slice(3, 0, 7, 2).slice(0, 0, 6, 2)},
      {"batch-minor", base.transpose(0, 1).contiguous().transpose(0, 1)},
      {"permuted", base.permute({0, 1, 3, 2}).contiguous().permute({0, 1, 3, 2})},
      {"channels_last", base.contiguous(at::MemoryFormat::ChannelsLast)},
      {"channels_last 1ch", base.narrow(1, 0, 1).contiguous(at::MemoryFormat::ChannelsLast)},
      {"expanded batch", base.narrow(0, 0, 1).expand({5, 3, 5, 7})},
      {"expanded pixels", torch::rand({3, 1, 1}).expand({3, 4, 6})},
      {"expanded all", torch::rand({1, 1, 1, 1}).expand({4, 3, 2, 3})},
      {"expanded 1ch", torch::rand({1, 1, 5, 1}).expand({3, 1, 5, 4})},
      {"3-D transposed", base[0].transpose(1, 2)},
      {"2-D strided", base[0][0].slice(1, 0, 7, 3)}};
  for (const auto& [name, x] : inputs) {
    SCOPED_TRACE(name);
    ASSERT_FALSE(x.is_contiguous() && name != "channels_last 1ch") << name;
    for (bool normalize : {false, true}) {
      for (bool scale_each : {false, true}) {
        RefArgs a;
        a.nrow = 2;
        a.normalize = normalize;
        a.scale_each = scale_each;
        check(x, a);
        // Same values as the contiguous copy.
        EXPECT_TRUE(same(make_grid(x, to_options(a)), make_grid(x.contiguous(), to_options(a))));
      }
    }
  }
}

TEST(MakeGrid, RequiresGradInputs) {
  torch::manual_seed(7);
  for (int64_t b : {1, 4}) {
    for (int64_t c : {1, 3}) {
      torch::Tensor x = torch::rand({b, c, 4, 4}, torch::requires_grad());
      for (bool normalize : {false, true}) {
        RefArgs a;
        a.normalize = normalize;
        check(x, a);
        const torch::Tensor g = make_grid(x, to_options(a));
        EXPECT_FALSE(g.requires_grad());
        EXPECT_EQ(g.grad_fn(), nullptr);
        EXPECT_TRUE(x.requires_grad());
        EXPECT_FALSE(x.grad().defined());
      }
    }
  }
  // A non-leaf: the result of an op on a grad-requiring tensor.
  torch::Tensor leaf = torch::rand({3, 3, 4, 4}, torch::requires_grad());
  torch::Tensor y = leaf * 2 - 0.5;
  RefArgs a;
  a.normalize = true;
  a.scale_each = true;
  check(y, a);
  // The list overload.
  const auto g = make_grid(std::vector<torch::Tensor>{leaf[0], y[1]});
  EXPECT_FALSE(g.requires_grad());
}

TEST(MakeGrid, NeverMutatesInput) {
  torch::manual_seed(8);
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kBFloat16}) {  // float16: above
    for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{
             {5, 3, 4, 4}, {1, 3, 4, 4}, {3, 4, 4}, {4, 4}, {1, 4, 4}, {2, 1, 4, 4}}) {
      for (bool scale_each : {false, true}) {
        for (bool range : {false, true}) {
          const torch::Tensor x = random_images(shape, dtype);
          const torch::Tensor before = x.clone();
          MakeGridOptions o;
          o.normalize(true).scale_each(scale_each);
          if (range) o.value_range(ValueRange{-0.25, 0.5});
          const torch::Tensor g = make_grid(x, o);
          EXPECT_TRUE(torch::equal(x, before)) << dtype << " " << c10::IntArrayRef(shape);
          // A batch of one comes back as the (normalized) image: not a view of the input.
          if (g.numel() == x.numel()) {
            EXPECT_NE(g.data_ptr(), x.data_ptr());
          }
        }
      }
    }
  }
}

TEST(MakeGrid, ListOverload) {
  torch::manual_seed(9);
  for (int64_t n : {1, 2, 5, 11}) {
    for (const std::vector<int64_t>& shape :
         std::vector<std::vector<int64_t>>{{3, 4, 5}, {1, 4, 5}, {4, 5}, {4, 3, 2}}) {
      std::vector<torch::Tensor> list;
      for (int64_t i = 0; i < n; ++i) list.push_back(random_images(shape, torch::kFloat));
      for (bool normalize : {false, true}) {
        RefArgs a;
        a.nrow = 3;
        a.normalize = normalize;
        SCOPED_TRACE(c10::str("n=", n, " shape ", c10::IntArrayRef(shape), " normalize=", normalize));
        const torch::Tensor want = ref_make_grid(list, a);
        EXPECT_TRUE(same(make_grid(list, to_options(a)), want));
        EXPECT_TRUE(same(make_grid(torch::stack(list), to_options(a)), want));
      }
    }
  }
  // Non-contiguous members, uint8.
  const torch::Tensor base = random_images({3, 3, 6, 6}, torch::kByte);
  std::vector<torch::Tensor> list = {base[0].transpose(1, 2), base[1].slice(2, 0, 6),
                                     base[2].flip({0})};
  EXPECT_TRUE(same(make_grid(list), ref_make_grid(list, RefArgs{})));
}

TEST(MakeGrid, GrayscaleOptInKeepsOneChannel) {
  torch::manual_seed(10);
  for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{
           {4, 6}, {1, 4, 6}, {1, 1, 4, 6}, {5, 1, 4, 6}, {3, 4, 6}, {2, 3, 4, 6}}) {
    for (bool normalize : {false, true}) {
      RefArgs a;
      a.grayscale = true;
      a.normalize = normalize;
      a.nrow = 2;
      a.pad_value = {0.5};
      const torch::Tensor x = random_images(shape, torch::kFloat);
      check(x, a);
      const torch::Tensor g = make_grid(x, to_options(a));
      const bool one_channel = shape.size() == 2 || shape[shape.size() - 3] == 1;
      EXPECT_EQ(g.size(0), one_channel ? 1 : 3) << c10::IntArrayRef(shape);
      if (one_channel) {
        // Without the opt-in the one channel is repeated three times.
        a.grayscale = false;
        const torch::Tensor rgb = make_grid(x, to_options(a));
        ASSERT_EQ(rgb.size(0), 3);
        for (int64_t ch = 0; ch < 3; ++ch) EXPECT_TRUE(torch::equal(rgb[ch], g[0]));
      }
    }
  }
  check(random_images({4, 1, 3, 3}, torch::kByte), [] {
    RefArgs a;
    a.grayscale = true;
    return a;
  }());
}

TEST(MakeGrid, ColourPadValue) {
  torch::manual_seed(11);
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
    RefArgs a;
    a.nrow = 2;
    a.pad_value = {1.0, 0.5, 0.25};
    check(random_images({3, 3, 4, 4}, dtype), a);
    check(random_images({3, 1, 4, 4}, dtype), a);  // 1 channel repeated to RGB
    a.pad_value = {1.0, 0.5, 0.25, 0.75};
    check(random_images({3, 4, 4, 4}, dtype), a);
    a.normalize = dtype != torch::kHalf;  // float16 normalize: Float16Normalize
    check(random_images({3, 4, 4, 4}, dtype), a);
  }
  RefArgs a;
  a.pad_value = {255, 0, 128};
  check(random_images({5, 3, 2, 3}, torch::kByte), a);
  // The pad pixels carry the colour, channel by channel.
  const torch::Tensor g =
      make_grid(torch::zeros({2, 3, 2, 2}), MakeGridOptions().padding(1).pad_value({0.1, 0.2, 0.3}));
  EXPECT_FLOAT_EQ(g[0][0][0].item<float>(), 0.1f);
  EXPECT_FLOAT_EQ(g[1][0][0].item<float>(), 0.2f);
  EXPECT_FLOAT_EQ(g[2][0][0].item<float>(), 0.3f);
  EXPECT_FLOAT_EQ(g[2][1][1].item<float>(), 0.0f);
  // One value: every channel.
  const torch::Tensor s =
      make_grid(torch::zeros({2, 3, 2, 2}), MakeGridOptions().padding(1).pad_value(0.6));
  for (int64_t ch = 0; ch < 3; ++ch) EXPECT_FLOAT_EQ(s[ch][0][0].item<float>(), 0.6f);
}

TEST(MakeGrid, BatchOfOneIsTheImage) {
  torch::manual_seed(12);
  const torch::Tensor x = torch::rand({1, 3, 5, 6});
  const auto g = make_grid(x, MakeGridOptions().padding(3).pad_value(0.5).nrow(1));
  EXPECT_TRUE(torch::equal(g, x[0]));  // no padding around a single image
  const auto n = make_grid(x, MakeGridOptions().normalize(true));
  EXPECT_TRUE(torch::allclose(n, (x[0] - x.min()) / (x.max() - x.min())));
  RefArgs a;
  a.normalize = true;
  check(x, a);
}

TEST(MakeGrid, KeepsDtypeAndDevice) {
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16, torch::kByte,
                     torch::kBool}) {
    for (int64_t b : {1, 3}) {
      const torch::Tensor g = make_grid(torch::zeros({b, 3, 2, 2}, dtype));
      EXPECT_EQ(g.scalar_type(), dtype);
      EXPECT_EQ(g.device(), torch::Device(torch::kCPU));
      EXPECT_FALSE(g.requires_grad());
    }
  }
}

TEST(MakeGrid, CudaKeepsDevice) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(13);
  for (bool normalize : {false, true}) {
    RefArgs a;
    a.normalize = normalize;
    a.nrow = 3;
    const torch::Tensor x = torch::rand({5, 3, 4, 4}).to(torch::kCUDA);
    const torch::Tensor g = make_grid(x, to_options(a));
    EXPECT_EQ(g.device(), x.device());
    EXPECT_TRUE(same(g, ref_make_grid(x, a)));
  }
}

// ---------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------

TEST(MakeGridErrors, UndefinedTensor) {
  EXPECT_THROW_MSG(make_grid(torch::Tensor()), "make_grid: expected a tensor, got an undefined one");
}

TEST(MakeGridErrors, Dtypes) {
  EXPECT_THROW_MSG(make_grid(torch::zeros({3, 2, 2}, torch::kComplexFloat)), "ComplexFloat");
  EXPECT_THROW_MSG(make_grid(torch::zeros({3, 2, 2}, torch::kComplexDouble)), "ComplexDouble");
  EXPECT_THROW_MSG(make_grid(torch::zeros({3, 2, 2}, torch::kInt)), "got Int");
  EXPECT_THROW_MSG(make_grid(torch::zeros({3, 2, 2}, torch::kLong)), "got Long");
  EXPECT_THROW_MSG(make_grid(torch::zeros({3, 2, 2}, torch::kShort)), "got Short");
  EXPECT_THROW_MSG(make_grid(torch::zeros({3, 2, 2}, torch::kChar)), "got Char");
  EXPECT_THROW_MSG(make_grid(torch::zeros({3, 2, 2}, torch::kInt)),
                   "expected a float32, float64, float16, bfloat16, uint8 or bool tensor");
}

TEST(MakeGridErrors, Ranks) {
  EXPECT_THROW_MSG(make_grid(torch::zeros({5})), "got 1-D");
  EXPECT_THROW_MSG(make_grid(torch::zeros({})), "got 0-D");
  EXPECT_THROW_MSG(make_grid(torch::zeros({1, 2, 3, 4, 5})), "got 5-D with shape [1, 2, 3, 4, 5]");
  EXPECT_THROW_MSG(make_grid(torch::zeros({1, 2, 3, 4, 5})), "make_grid:");
}

TEST(MakeGridErrors, Empty) {
  EXPECT_THROW_MSG(make_grid(torch::zeros({0, 3, 4, 4})), "non-empty tensor, got shape [0, 3, 4, 4]");
  EXPECT_THROW_MSG(make_grid(torch::zeros({3, 0, 4})), "non-empty");
  EXPECT_THROW_MSG(make_grid(torch::zeros({4, 0})), "non-empty");
}

TEST(MakeGridErrors, NrowAndPadding) {
  const torch::Tensor x = torch::zeros({2, 3, 4, 4});
  EXPECT_THROW_MSG(make_grid(x, MakeGridOptions().nrow(0)), "nrow must be at least 1, got 0");
  EXPECT_THROW_MSG(make_grid(x, MakeGridOptions().nrow(-3)), "got -3");
  EXPECT_THROW_MSG(make_grid(x, MakeGridOptions().padding(-1)), "padding must be non-negative, got -1");
}

TEST(MakeGridErrors, ValueRange) {
  const torch::Tensor x = torch::zeros({2, 3, 4, 4});
  EXPECT_THROW_MSG(make_grid(x, MakeGridOptions().normalize(true).value_range({1.0, 0.0})),
                   "value_range must have low <= high, got (1, 0)");
  EXPECT_THROW_MSG(
      make_grid(x, MakeGridOptions().normalize(true).value_range(
                       {std::numeric_limits<double>::quiet_NaN(), 1.0})),
      "value_range");
  EXPECT_THROW_MSG(
      make_grid(x, MakeGridOptions().normalize(true).value_range(
                       {0.0, std::numeric_limits<double>::quiet_NaN()})),
      "nan");
  EXPECT_THROW_MSG(
      make_grid(x, MakeGridOptions().normalize(true).value_range(
                       {0.0, std::numeric_limits<double>::infinity()})),
      "value_range must be finite");
}

TEST(MakeGridErrors, NormalizeOnUint8AndBool) {
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}, torch::kByte), MakeGridOptions().normalize(true)),
                   "normalize needs a floating-point tensor, got Byte");
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}, torch::kBool), MakeGridOptions().normalize(true)),
                   "got Bool");
}

TEST(MakeGridErrors, Lists) {
  EXPECT_THROW_MSG(make_grid(std::vector<torch::Tensor>{}), "make_grid: expected a non-empty list");
  EXPECT_THROW_MSG(make_grid(std::vector<torch::Tensor>{torch::zeros({3, 4, 4}), torch::zeros({3, 4, 5})}),
                   "tensor 0 has [3, 4, 4], tensor 1 has [3, 4, 5]");
  EXPECT_THROW_MSG(make_grid(std::vector<torch::Tensor>{torch::zeros({3, 4, 4}), torch::zeros({3, 4, 4}),
                                                        torch::zeros({1, 4, 4})}),
                   "one shape");
  EXPECT_THROW_MSG(make_grid(std::vector<torch::Tensor>{torch::zeros({3, 4, 4}),
                                                        torch::zeros({3, 4, 4}, torch::kDouble)}),
                   "tensor 0 is Float, tensor 1 is Double");
  EXPECT_THROW_MSG(make_grid(std::vector<torch::Tensor>{torch::zeros({3, 4, 4}), torch::Tensor()}),
                   "tensor 1 of the list is undefined");
}

TEST(MakeGridErrors, PadValue) {
  const torch::Tensor x = torch::zeros({2, 3, 4, 4});
  EXPECT_THROW_MSG(make_grid(x, MakeGridOptions().pad_value(std::vector<double>{0.1, 0.2})),
                   "pad_value must hold one value or one per channel (3), got 2");
  EXPECT_THROW_MSG(make_grid(x, MakeGridOptions().pad_value(std::vector<double>{1, 2, 3, 4})), "got 4");
  EXPECT_THROW_MSG(make_grid(x, MakeGridOptions().pad_value(std::vector<double>{})), "pad_value");
  // A 1-channel batch is RGB after the repeat: a colour of 3 fits, not of 1 + 1.
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 1, 4, 4}), MakeGridOptions().grayscale(true).pad_value(
                                                              std::vector<double>{0.1, 0.2, 0.3})),
                   "one per channel (1), got 3");
  // uint8 / bool pad values must be representable.
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}, torch::kByte), MakeGridOptions().pad_value(300)),
                   "got 300");
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}, torch::kBool), MakeGridOptions().pad_value(0.5)),
                   "got 0.5");
}

TEST(MakeGridErrors, HugeGridRefusedBeforeAllocating) {
  // 2^21 images of 2^20 x 2^20 (expanded: no memory) would overflow int64 areas.
  const torch::Tensor x = torch::zeros({1, 1, 1, 1}).expand({int64_t{1} << 21, 3, int64_t{1} << 20,
                                                             int64_t{1} << 20});
  EXPECT_THROW_MSG(make_grid(x, MakeGridOptions().nrow(1)), "too large");
}

// Options the tensor's dtype cannot hold: torchvision raises there (new_full
// and clamp_ refuse to overflow). torchimage must raise a c10::Error naming the
// option, not let c10's std::runtime_error ("value cannot be converted to type
// float without overflow") escape.
TEST(MakeGridErrors, OptionValuesNotRepresentableInDtype) {
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}), MakeGridOptions().pad_value(1e300)), "pad_value");
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}, torch::kHalf), MakeGridOptions().pad_value(1e5)),
                   "pad_value");
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}),
                             MakeGridOptions().pad_value(std::vector<double>{0.0, -1e300, 0.0})),
                   "pad_value");
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}), MakeGridOptions().normalize(true).value_range({0.0, 1e300})),
                   "value_range");
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}, torch::kBFloat16),
                             MakeGridOptions().normalize(true).value_range({-1e300, 1.0})),
                   "value_range");
  // float64 holds them.
  EXPECT_NO_THROW(make_grid(torch::zeros({2, 3, 4, 4}, torch::kDouble), MakeGridOptions().pad_value(1e300)));
}

// The grid-size guard must not overflow itself (h + padding near INT64_MAX).
TEST(MakeGridErrors, PaddingOverflow) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}), MakeGridOptions().padding(max)), "too large");
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}), MakeGridOptions().padding(max - 3)), "too large");
  EXPECT_THROW_MSG(make_grid(torch::zeros({2, 3, 4, 4}), MakeGridOptions().padding(int64_t{1} << 62)),
                   "too large");
}

}  // namespace
