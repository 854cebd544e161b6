// The prepare stage (src/core/prepare.*): every face reads a negative or
// conjugate view as its values (issue 29, bug 2: the fused paths read raw
// memory, which holds -x), and refuses sparse, quantized, meta and nested
// tensors first, naming the call. The truth for a view is the same call on
// a plain tensor of the same values (whose pixels the golden tests hold
// against torchvision).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <torchimage/torchimage.h>

#include "test_util.h"

namespace {

using namespace torchimage;
using torchimage_test::bytes_of;
using torchimage_test::TempDir;

struct View {
  std::string name;
  torch::Tensor view;   // has the negative bit
  torch::Tensor plain;  // the same values, no bit
};

// Negative views of float, double and uint8 data, as users meet them.
std::vector<View> views(std::vector<int64_t> shape) {
  torch::manual_seed(29);
  std::vector<View> out;
  // z.conj().imag: the imaginary part of a conjugate view is a negative view.
  const auto z = torch::complex(torch::rand(shape) * 2 - 1, torch::rand(shape) * 2 - 1);
  out.push_back({"conj_imag", torch::imag(z.conj()), (-torch::imag(z)).contiguous()});
  const auto d = torch::rand(shape, torch::kDouble) * -1;
  out.push_back({"neg_view_double", at::_neg_view(d), (-d).contiguous()});
  const auto f = torch::rand(shape) * -1;
  // A strided view of a negative view: the bit stays with the slices.
  out.push_back({"neg_view_transposed", at::_neg_view(f).transpose(-1, -2),
                 (-f).transpose(-1, -2).contiguous()});
  for (const auto& v : out) {
    EXPECT_TRUE(v.view.is_neg()) << v.name;
    EXPECT_FALSE(v.plain.is_neg()) << v.name;
    EXPECT_TRUE(torch::equal(v.view, v.plain)) << v.name;  // ATen honours the bit
  }
  return out;
}

std::vector<uint8_t> bytes_of_tensor(const torch::Tensor& t) {
  return std::vector<uint8_t>(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
}

TEST(Prepare, NegativeViewsGiveTheirValuesPixelsInEveryFace) {
  TempDir d;
  const std::vector<SaveImageOptions> options = {
      SaveImageOptions(), SaveImageOptions().normalize(true),
      SaveImageOptions().normalize(true).value_range({-1.0, 1.0}).nrow(2),
      SaveImageOptions().normalize(true).scale_each(true).padding(1)};
  for (const auto& shape : std::vector<std::vector<int64_t>>{{3, 9, 7}, {5, 3, 9, 7}, {4, 1, 6, 6}}) {
    for (const auto& v : views(shape)) {
      for (size_t k = 0; k < options.size(); ++k) {
        const auto& o = options[k];
        const std::string at = v.name + " options " + std::to_string(k) + " shape " +
                               std::to_string(shape.size()) + "-D";
        EXPECT_TRUE(torch::equal(to_pixels(v.view, o), to_pixels(v.plain, o))) << at;
        EXPECT_TRUE(torch::equal(make_grid(v.view, o.grid_options()),
                                 make_grid(v.plain, o.grid_options())))
            << at;
        EXPECT_EQ(bytes_of_tensor(encode_image(v.view, o)), bytes_of_tensor(encode_image(v.plain, o)))
            << at;
        save_image(v.view, d / "view.png", o);
        save_image(v.plain, d / "plain.png", o);
        EXPECT_EQ(bytes_of(d / "view.png"), bytes_of(d / "plain.png")) << at;
        {
          ImageWriter writer(ImageWriterOptions().threads(2));
          writer.save_image(v.view, d / "w_view.png", o);
          writer.save_image(torch::Tensor(v.view), d / "w_moved.png", o);  // handed over
          writer.flush();
        }
        EXPECT_EQ(bytes_of(d / "w_view.png"), bytes_of(d / "plain.png")) << at;
        EXPECT_EQ(bytes_of(d / "w_moved.png"), bytes_of(d / "plain.png")) << at;
        if (shape.size() == 4) {
          save_images(v.view, d / "s_view_{index}.png", o);
          save_images(v.plain, d / "s_plain_{index}.png", o);
          ImageWriter writer(ImageWriterOptions().threads(2));
          writer.save_images(v.view, d / "ws_view_{index}.png", o);
          writer.flush();
          for (int64_t i = 0; i < shape[0]; ++i) {
            const std::string n = std::to_string(i) + ".png";
            EXPECT_EQ(bytes_of(d / ("s_view_" + n)), bytes_of(d / ("s_plain_" + n))) << at << " " << i;
            EXPECT_EQ(bytes_of(d / ("ws_view_" + n)), bytes_of(d / ("s_plain_" + n))) << at << " " << i;
          }
        }
      }
    }
  }
}

TEST(Prepare, NegativeUint8AndSixteenBitViews) {
  TempDir d;
  torch::manual_seed(30);
  // uint8 pixels: -x wraps modulo 256 in both.
  const auto u8 = torch::randint(0, 256, {3, 8, 8}, torch::kUInt8);
  const auto view = at::_neg_view(u8);
  const auto plain = (-u8).contiguous();
  ASSERT_TRUE(torch::equal(view, plain));
  EXPECT_EQ(bytes_of_tensor(encode_png(view)), bytes_of_tensor(encode_png(plain)));
  EXPECT_EQ(bytes_of_tensor(encode_image(view)), bytes_of_tensor(encode_image(plain)));
  EXPECT_TRUE(torch::equal(to_pixels(view), to_pixels(plain)));
  // 16-bit from floats.
  const auto f = torch::rand({3, 8, 8}) * -1;
  const auto o16 = SaveImageOptions().bit_depth(16);
  EXPECT_EQ(bytes_of_tensor(encode_image(at::_neg_view(f), o16)),
            bytes_of_tensor(encode_image((-f).contiguous(), o16)));
}

// Tensors with no plain values are refused first, by the call's own name.
TEST(Prepare, TensorsWithoutPlainValuesAreRefusedByName) {
  TempDir d;
  const auto dense = torch::rand({3, 4, 4});
  struct Case {
    std::string name;
    torch::Tensor tensor;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"sparse", dense.to_sparse(), "expected a dense (strided) tensor"},
      {"quantized", torch::quantize_per_tensor(dense, 0.1, 0, torch::kQUInt8), "quantized"},
      {"meta", torch::empty({3, 4, 4}, torch::TensorOptions().device(torch::kMeta)), "meta device"},
  };
  using Call = std::function<void(const torch::Tensor&)>;
  const std::vector<std::pair<std::string, Call>> calls = {
      {"save_image", [&](const torch::Tensor& t) { save_image(t, d / "x.png"); }},
      {"encode_image", [&](const torch::Tensor& t) { encode_image(t); }},
      {"to_pixels", [&](const torch::Tensor& t) { to_pixels(t); }},
      {"make_grid", [&](const torch::Tensor& t) { make_grid(t); }},
      {"save_images", [&](const torch::Tensor& t) { save_images(t.unsqueeze(0), d / "{index}.png"); }},
      {"ImageWriter::save_image",
       [&](const torch::Tensor& t) { ImageWriter().save_image(t, d / "w.png"); }},
      {"encode_png", [&](const torch::Tensor& t) { encode_png(t); }},
  };
  for (const auto& c : cases) {
    for (const auto& [name, call] : calls) {
      try {
        call(c.tensor);
        ADD_FAILURE() << name << " took a " << c.name << " tensor";
      } catch (const c10::Error& e) {
        const std::string m = e.what_without_backtrace();
        EXPECT_EQ(m.rfind(name + ":", 0), 0u) << name << " / " << c.name << ": " << m;
        EXPECT_NE(m.find(c.expected), std::string::npos) << name << " / " << c.name << ": " << m;
      }
    }
  }
  EXPECT_TRUE(d.list().empty());
}

// Messages name the function the user called, not the stage that failed.
TEST(Prepare, MessagesNameTheCall) {
  TempDir d;
  const auto huge = torch::rand({1, 3, 1, 1}).expand({1 << 20, 3, 1 << 19, 1 << 19});
  for (const auto& [name, call] : std::vector<std::pair<std::string, std::function<void()>>>{
           {"save_image", [&] { save_image(huge, d / "x.png"); }},
           {"encode_image", [&] { encode_image(huge); }},
           {"to_pixels", [&] { to_pixels(huge); }},
           {"make_grid", [&] { make_grid(huge); }}}) {
    try {
      call();
      ADD_FAILURE() << name;
    } catch (const c10::Error& e) {
      const std::string m = e.what_without_backtrace();
      EXPECT_EQ(m.rfind(name + ":", 0), 0u) << m;
    }
  }
}

}  // namespace
