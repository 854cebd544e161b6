// The bad-input matrix (docs/reliability.md): every dtype LibTorch has x
// ranks 0-5 x channels 0-6 x zero-size dims x NaN/Inf/denormal/huge values x
// layouts x option edges, through make_grid, save_image and save_images (to
// every format of torchimage::formats()), encode_image, encode_png/encode_jpeg and decode_image. Each
// call either succeeds (and what it wrote decodes to to_pixels) or throws a
// c10::Error with a message: never another exception type, a crash, or a
// file left behind. The cross product is sampled: a full structural sweep
// (dtype x rank x channels x zero-size) with default options, values x
// layouts on the accepted dtypes, each option edge on its own, then seeded
// random combinations of everything.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <torchimage/torchimage.h>

#include "test_util.h"
#include "core/torch_compat.h"

namespace fs = std::filesystem;
using namespace torchimage;

namespace {

using torchimage_test::TempDir;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The outcome of one call: true when it returned. A c10::Error must carry a
// message; any other exception is a failure of the test.
bool attempt(const std::string& context, const std::function<void()>& f,
             std::string* message = nullptr) {
  try {
    f();
    return true;
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    EXPECT_FALSE(msg.empty()) << context << ": c10::Error without a message";
    if (message) *message = msg;
    return false;
  } catch (const std::exception& e) {
    ADD_FAILURE() << context << ": threw " << typeid(e).name() << " (not c10::Error): " << e.what();
  } catch (...) {
    ADD_FAILURE() << context << ": threw a non-std exception";
  }
  return false;
}

bool is_image_dtype(c10::ScalarType t) {
  return t == torch::kFloat || t == torch::kDouble || t == torch::kHalf || t == torch::kBFloat16 ||
         t == torch::kUInt8 || t == torch::kBool;
}
bool is_float(c10::ScalarType t) {
  return t == torch::kFloat || t == torch::kDouble || t == torch::kHalf || t == torch::kBFloat16;
}

// Every ScalarType of the LibTorch this is built with, read from its enum
// (0 up to Undefined): bytes, ints, floats, complex, bool and quantized on
// 1.13; 2.x adds the unsigned, 1-7 bit, float8, float4 and bits types.
// Quantized tensors come from quantize_per_tensor; a dtype LibTorch cannot
// make a tensor of is reported and skipped.
std::vector<c10::ScalarType> all_dtypes() {
  std::vector<c10::ScalarType> out;
  for (int i = 0; i < static_cast<int>(c10::ScalarType::Undefined); ++i) {
    out.push_back(static_cast<c10::ScalarType>(i));
  }
  return out;
}

enum class Values { Ramp, Nan, Inf, NegInf, Denormal, Huge, Mixed };
const Values kAllValues[] = {Values::Ramp,     Values::Nan,  Values::Inf,  Values::NegInf,
                             Values::Denormal, Values::Huge, Values::Mixed};
const char* name_of(Values v) {
  switch (v) {
    case Values::Ramp: return "ramp";
    case Values::Nan: return "nan";
    case Values::Inf: return "inf";
    case Values::NegInf: return "-inf";
    case Values::Denormal: return "denormal";
    case Values::Huge: return "huge";
    default: return "mixed";
  }
}

// A double tensor of `shape` holding the pattern (specials at every third
// element over an in-range ramp), as the dtype can hold it.
torch::Tensor pattern(const std::vector<int64_t>& shape, Values v, c10::ScalarType dtype) {
  torch::Tensor t = torch::zeros(shape, torch::kDouble);
  const int64_t n = t.numel();
  if (n == 0) return t;
  auto flat = t.view({-1});
  auto* p = flat.data_ptr<double>();
  const bool floating = is_float(dtype) || c10::isComplexType(dtype);
  const double huge = dtype == torch::kHalf ? 65504.0
                      : dtype == torch::kBFloat16 || dtype == torch::kFloat || dtype == torch::kComplexFloat
                          ? 3.0e38
                          : 1e300;
  const double denormal = dtype == torch::kDouble || dtype == torch::kComplexDouble
                              ? std::numeric_limits<double>::denorm_min()
                              : std::numeric_limits<float>::denorm_min();
  for (int64_t i = 0; i < n; ++i) {
    double x = static_cast<double>(i % 17) / 16.0;
    if (i % 3 == 0) {
      Values k = v == Values::Mixed ? kAllValues[1 + (i / 3) % 5] : v;
      switch (k) {
        case Values::Nan: x = std::numeric_limits<double>::quiet_NaN(); break;
        case Values::Inf: x = std::numeric_limits<double>::infinity(); break;
        case Values::NegInf: x = -std::numeric_limits<double>::infinity(); break;
        case Values::Denormal: x = denormal; break;
        case Values::Huge: x = (i / 3) % 2 ? huge : -huge; break;
        default: break;
      }
      if (!floating && !std::isfinite(x)) x = (i / 3) % 2 ? 1.0 : 0.0;  // ints hold no NaN/Inf
      if (!floating && std::abs(x) > 1) x = 1.0;
    }
    p[i] = x;
  }
  if (dtype == torch::kUInt8 || c10::isIntegralType(dtype, false)) t.mul_(100).round_();
  return t;
}

// A tensor of `dtype` (any, quantized included) with the pattern's values.
// Returns an undefined tensor when LibTorch cannot make one.
torch::Tensor make_tensor(const std::vector<int64_t>& shape, c10::ScalarType dtype, Values v) {
  const torch::Tensor values = pattern(shape, v, dtype);
  try {
    if (c10::isQIntType(dtype)) {
      return torch::quantize_per_tensor(values.to(torch::kFloat).nan_to_num(0, 1, -1), 0.1, 2, dtype);
    }
    if (dtype == torch::kBool) return values.ne(0);
    return values.to(dtype);
  } catch (const c10::Error&) {
    return {};
  }
}

enum class Layout { Contiguous, Transposed, Strided, ChannelsLast, Expanded };
const Layout kAllLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Strided,
                              Layout::ChannelsLast, Layout::Expanded};
const char* name_of(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Strided: return "strided";
    case Layout::ChannelsLast: return "channels_last";
    default: return "expanded";
  }
}

torch::Tensor relayout_impl(const torch::Tensor& t, Layout l);

// The same logical tensor in another memory layout (unchanged where LibTorch
// cannot make that layout for the dtype, e.g. quantized tensors).
torch::Tensor relayout(const torch::Tensor& t, Layout l) {
  try {
    return relayout_impl(t, l);
  } catch (const c10::Error&) {
    return t;
  }
}

torch::Tensor relayout_impl(const torch::Tensor& t, Layout l) {
  const int64_t d = t.dim();
  switch (l) {
    case Layout::Transposed:
      if (d < 2) return t;
      return t.transpose(d - 1, d - 2).contiguous().transpose(d - 1, d - 2);
    case Layout::Strided: {
      if (d < 1) return t;
      auto sizes = t.sizes().vec();
      sizes[d - 1] *= 2;
      torch::Tensor wide = torch::zeros(sizes, t.options());
      wide.slice(d - 1, 0, sizes[d - 1], 2).copy_(t);
      return wide.slice(d - 1, 0, sizes[d - 1], 2);
    }
    case Layout::ChannelsLast:
      if (d == 4) return t.contiguous(at::MemoryFormat::ChannelsLast);
      if (d == 5) return t.contiguous(at::MemoryFormat::ChannelsLast3d);
      return t;
    case Layout::Expanded: {
      if (d < 1 || t.size(0) == 0) return t;
      // Every slice along dim 0 the same (the first), held once.
      auto sizes = t.sizes().vec();
      return t.narrow(0, 0, 1).expand(sizes);
    }
    default:
      return t;
  }
}

std::string describe(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream s;
  s << t.scalar_type() << t.sizes() << " strides " << t.strides();
  return s.str();
}

// A lossy file decodes to the image's size; its channels too, but for an
// alpha channel that is opaque everywhere, which a lossy format may leave out
// (libwebp does, and Pillow then reads RGB).
void expect_lossy_shape(const torch::Tensor& decoded, const torch::Tensor& pixels,
                        const std::string& ctx) {
  if (decoded.dim() == 3 && pixels.dim() == 3 && decoded.size(0) == 3 && pixels.size(0) == 4 &&
      pixels[3].eq(255).all().item<bool>()) {
    EXPECT_EQ(decoded.sizes().slice(1), pixels.sizes().slice(1)) << ctx;
    return;
  }
  EXPECT_EQ(decoded.sizes(), pixels.sizes()) << ctx;
}

// Whether the row's file holds `chw` (to_pixels, as a decoder returns it)
// exactly: lossless rows do; GIF up to 256 colours (more are mapped to its
// colour cube: src/codecs/gif.cpp).
bool exact_for(const FormatInfo& f, const torch::Tensor& chw) {
  if (f.lossy) return false;
  if (f.format != ImageFormat::GIF) return true;
  const torch::Tensor colours = chw.reshape({chw.size(0), -1}).t().contiguous();
  return std::get<0>(torch::unique_dim(colours, 0)).size(0) <= 256;
}

// to_pixels (H, W, C) as the (C, H, W) a decoder returns.
torch::Tensor expected_chw(const torch::Tensor& x, const SaveImageOptions& o) {
  return to_pixels(x, o).permute({2, 0, 1}).contiguous();
}

class Matrix : public ::testing::Test {
 protected:
  TempDir dir;
  int64_t calls = 0, successes = 0;

  // Checks the contract of a call that writes into `dir`: after success the
  // files named are there and nothing else; after a failure, nothing at all.
  void expect_clean_after_failure(const std::string& context) {
    const auto left = dir.list();
    EXPECT_TRUE(left.empty()) << context << ": left behind: " << join(left);
    dir.clear();
  }

  // make_grid, then per row of the table of formats (its first extension):
  // save_image, encode_image, to_pixels and save_images, with their
  // consistency. Returns whether any format wrote the file. `expect_ok`: the
  // outcome the rules predict, when known: false, every format refuses; true,
  // every format that writes all channel counts 1-4 at the options' depth
  // writes it (PNG).
  bool check_all(const torch::Tensor& x, const SaveImageOptions& o, const std::string& ctx,
                 std::optional<bool> expect_ok = std::nullopt,
                 std::optional<bool> expect_grid = std::nullopt) {
    // make_grid: same dtype, the shape grid_shape predicts.
    torch::Tensor grid;
    ++calls;
    const bool grid_ok = attempt(ctx + " make_grid", [&] { grid = make_grid(x, o.grid_options()); });
    if (expect_grid) EXPECT_EQ(grid_ok, *expect_grid) << ctx << " make_grid";
    if (grid_ok) {
      EXPECT_EQ(grid.scalar_type(), x.scalar_type()) << ctx;
      EXPECT_EQ(grid.dim(), 3) << ctx;
    }
    std::vector<const FormatInfo*> wrote;
    for (const FormatInfo& f : formats()) {
      if (check_format(f, x, o, ctx + " " + f.name, expect_ok)) wrote.push_back(&f);
    }
    // A format that writes every channel count and depth another writes
    // accepts whatever that one accepted.
    for (const FormatInfo* w : wrote) {
      for (const FormatInfo& f : formats()) {
        if (covers(f, *w)) {
          EXPECT_TRUE(std::find(wrote.begin(), wrote.end(), &f) != wrote.end())
              << ctx << ": " << w->display_name << " accepted what " << f.display_name << " refused";
        }
      }
    }
    return !wrote.empty();
  }

  // Whether `f` writes every channel count and depth `g` writes.
  static bool covers(const FormatInfo& f, const FormatInfo& g) {
    for (const auto c : g.channels)
      if (std::find(f.channels.begin(), f.channels.end(), c) == f.channels.end()) return false;
    for (const auto d : g.bit_depths)
      if (std::find(f.bit_depths.begin(), f.bit_depths.end(), d) == f.bit_depths.end()) return false;
    return f.max_side >= g.max_side;
  }

  // save_image to one format: succeeds and decodes to to_pixels (lossless
  // formats; lossy ones: its size), or leaves nothing and encode_image
  // refuses too; then save_images. Returns whether save_image wrote.
  bool check_format(const FormatInfo& f, const torch::Tensor& x, const SaveImageOptions& o,
                    const std::string& ctx, std::optional<bool> expect_ok) {
    const std::string name = "a." + f.extensions.front();
    const bool has_depth =
        std::find(f.bit_depths.begin(), f.bit_depths.end(), o.bit_depth()) != f.bit_depths.end();
    bool writes_all = has_depth;
    for (const int64_t c : {1, 2, 3, 4})
      writes_all = writes_all && std::find(f.channels.begin(), f.channels.end(), c) != f.channels.end();
    std::string msg;
    ++calls;
    const bool ok = attempt(ctx + " save_image", [&] { save_image(x, dir / name, o); }, &msg);
    if (expect_ok && (!*expect_ok || writes_all)) {
      EXPECT_EQ(ok, *expect_ok) << ctx << " save_image: " << msg;
    }
    if (ok) {
      ++successes;
      EXPECT_TRUE(has_depth) << ctx << ": a " << o.bit_depth() << "-bit " << f.display_name;
      EXPECT_EQ(dir.list(), std::vector<std::string>{name}) << ctx;
      torch::Tensor pixels;
      const bool pixels_ok = attempt(ctx + " to_pixels", [&] { pixels = expected_chw(x, o); });
      if (!compat::is_sample16(x.scalar_type())) {
        EXPECT_TRUE(pixels_ok) << ctx << ": save_image accepted what to_pixels refuses";
      }
      if (o.bit_depth() == 8) {
        const torch::Tensor decoded = read_image(dir / name);
        if (pixels_ok && exact_for(f, pixels)) {
          EXPECT_TRUE(decoded.equal(pixels)) << ctx << ": the file does not decode to to_pixels";
        } else if (pixels_ok) {
          expect_lossy_shape(decoded, pixels, ctx);
        }
      } else {
        // 16 bits: same geometry; uint8 is scaled by 257, 16-bit samples kept.
        // Decoded as uint16 where LibTorch has it, else int32.
        const torch::Tensor decoded =
            read_image(dir / name, DecodeOptions().keep_16_bit(true)).to(torch::kInt);
        EXPECT_EQ(read_image(dir / name, DecodeOptions().keep_16_bit(true)).scalar_type(),
                  compat::kSample16)
            << ctx;
        if (pixels_ok) {
          EXPECT_EQ(decoded.sizes(), pixels.sizes()) << ctx;
        }
        if (x.scalar_type() == torch::kUInt8 && !f.lossy) {
          const torch::Tensor grid = make_grid(x, o.grid_options());
          EXPECT_TRUE(decoded.equal(grid.to(torch::kInt) * 257)) << ctx << ": 16-bit uint8 samples";
        }
      }
      // encode_image writes the same bytes.
      const torch::Tensor bytes = encode_image(x, SaveImageOptions(o).format(f.format));
      EXPECT_TRUE(bytes.equal(read_file(dir / name))) << ctx;
      dir.clear();
    } else {
      expect_clean_after_failure(ctx + " save_image");
      ++calls;
      EXPECT_FALSE(attempt(ctx + " encode_image", [&] {
        encode_image(x, SaveImageOptions(o).format(f.format));
      })) << ctx << ": encode_image accepted what save_image refused";
    }

    // save_images: one file per sample of a 4-D batch.
    ++calls;
    const std::string pattern = "s{index}." + f.extensions.front();
    const bool many_ok = attempt(ctx + " save_images",
                                 [&] { save_images(x, dir / pattern, o, 0, 2); });
    const auto sample_file = [&](int64_t i) { return c10::str("s", i, ".", f.extensions.front()); };
    if (many_ok) {
      ++successes;
      EXPECT_EQ(x.dim(), 4) << ctx;
      EXPECT_EQ(static_cast<int64_t>(dir.list().size()), x.size(0)) << ctx;
      for (int64_t i = 0; i < x.size(0) && o.bit_depth() == 8; ++i) {
        const torch::Tensor decoded = read_image(dir / sample_file(i));
        if (exact_for(f, expected_chw(x[i], o))) {
          EXPECT_TRUE(decoded.equal(expected_chw(x[i], o))) << ctx << " sample " << i;
        } else {
          expect_lossy_shape(decoded, expected_chw(x[i], o), c10::str(ctx, " sample ", i));
        }
      }
      dir.clear();
    } else {
      // save_images attempts every sample: a sample that fails on its data
      // (an int32 sample out of 0-65535) leaves the others written. What is
      // left is complete files of other samples, never a temporary file.
      const size_t ext_len = f.extensions.front().size() + 1;
      for (const auto& left : dir.list()) {
        EXPECT_EQ(left.find(".tmp-"), std::string::npos) << ctx << ": left " << left;
        EXPECT_TRUE(attempt(ctx + " leftover", [&] { read_image(dir / left); })) << ctx << ": " << left;
        if (left.find(".tmp-") == std::string::npos && o.bit_depth() == 8) {
          const int64_t i = std::stoll(left.substr(1, left.size() - 1 - ext_len));
          const torch::Tensor decoded = read_image(dir / left);
          if (exact_for(f, expected_chw(x[i], o))) {
            EXPECT_TRUE(decoded.equal(expected_chw(x[i], o))) << ctx << ": " << left;
          } else {
            expect_lossy_shape(decoded, expected_chw(x[i], o), ctx + ": " + left);
          }
        }
      }
      dir.clear();
    }
    return ok;
  }

  // encode_png / encode_jpeg (uint8 (C, H, W) only) and decode_image of the
  // tensor as bytes.
  void check_codecs(const torch::Tensor& x, const std::string& ctx, int quality = 75,
                    std::optional<int> level = std::nullopt) {
    torch::Tensor png;
    ++calls;
    if (attempt(ctx + " encode_png", [&] { png = encode_png(x, PngOptions().compression_level(level)); })) {
      ++successes;
      if (compat::is_uint16(x.scalar_type())) {
        // A 16-bit PNG of the samples (LibTorch 2.3+).
        EXPECT_TRUE(decode_image(png, DecodeOptions().keep_16_bit(true))
                        .to(torch::kInt)
                        .equal(x.to(torch::kInt)))
            << ctx << ": 16-bit encode_png round trip";
      } else {
        EXPECT_EQ(x.scalar_type(), torch::kUInt8) << ctx;
        EXPECT_TRUE(decode_image(png).equal(x.contiguous())) << ctx << ": encode_png round trip";
      }
    }
    torch::Tensor jpg;
    ++calls;
    if (attempt(ctx + " encode_jpeg", [&] { jpg = encode_jpeg(x, JpegOptions().quality(quality)); })) {
      ++successes;
      EXPECT_TRUE(quality >= 1 && quality <= 100) << ctx;
      EXPECT_EQ(decode_image(jpg).sizes(), x.sizes()) << ctx;
    }
    ++calls;
    attempt(ctx + " decode_image", [&] { decode_image(x); });
  }
};

// Every dtype x rank 0-5 x channels 0-6 x (no zero-size dim, each dim zero)
// with default options; the outcome is predicted by the rules.
TEST_F(Matrix, StructuralSweep) {
  int64_t tensors = 0;
  const std::vector<c10::ScalarType> dtypes = all_dtypes();
  for (const auto dtype : dtypes) {
    for (int rank = 0; rank <= 5; ++rank) {
      const int max_c = rank >= 3 ? 6 : 0;
      for (int c = rank >= 3 ? 0 : 1; c <= std::max(max_c, 1); ++c) {
        if (rank < 3 && c > 1) break;
        std::vector<int64_t> shape;
        if (rank >= 5) shape.push_back(2);
        if (rank >= 4) shape.push_back(3);
        if (rank >= 3) shape.push_back(c);
        if (rank >= 2) shape.push_back(5);
        if (rank >= 1) shape.push_back(4);
        for (int zero = -1; zero < rank; ++zero) {
          std::vector<int64_t> s = shape;
          if (zero >= 0) {
            if (s[zero] == 0) continue;
            s[zero] = 0;
          }
          const torch::Tensor x = make_tensor(s, dtype, Values::Mixed);
          const std::string ctx = c10::str(dtype, " rank ", rank, " shape ", c10::IntArrayRef(s));
          if (!x.defined()) {
            std::cout << "[ skip ] LibTorch cannot make " << ctx << "\n";
            continue;
          }
          ++tensors;
          int64_t numel = 1;
          for (auto v : s) numel *= v;
          const bool grid_ok = is_image_dtype(dtype) && rank >= 2 && rank <= 4 && numel > 0;
          const int64_t channels = rank == 2 ? 1 : rank >= 3 ? c : 0;
          const int64_t out_c = channels == 1 ? 3 : channels;
          const bool ok = grid_ok && out_c >= 1 && out_c <= 4;
          check_all(x, SaveImageOptions(), ctx, ok, grid_ok);
          check_codecs(x, ctx);
        }
      }
    }
  }
  std::cout << "[ matrix ] " << dtypes.size() << " dtypes (LibTorch " << TORCH_VERSION << "), "
            << tensors << " tensors, " << calls << " calls, " << successes << " succeeded\n";
}

// Values x layouts x accepted dtypes, plain and normalized.
TEST_F(Matrix, ValuesAndLayouts) {
  const c10::ScalarType dtypes[] = {torch::kFloat, torch::kDouble, torch::kHalf,
                                    torch::kBFloat16, torch::kUInt8, torch::kBool};
  for (const auto dtype : dtypes) {
    for (const Values v : kAllValues) {
      for (const Layout l : kAllLayouts) {
        for (const std::vector<int64_t>& shape :
             {std::vector<int64_t>{3, 1, 5, 6}, std::vector<int64_t>{2, 3, 4, 3},
              std::vector<int64_t>{4, 7}}) {
          const torch::Tensor x = relayout(make_tensor(shape, dtype, v), l);
          const std::string ctx =
              c10::str(dtype, " ", name_of(v), " ", name_of(l), " ", describe(x));
          check_all(x, SaveImageOptions(), ctx, true, true);
          if (is_float(dtype)) {
            check_all(x, SaveImageOptions().normalize(true), ctx + " normalize", true, true);
            check_all(x, SaveImageOptions().normalize(true).scale_each(true).value_range({-1.0, 1.0}),
                      ctx + " normalize scale_each range", true, true);
          }
          if (dtype == torch::kUInt8 && shape.size() == 4) {
            check_codecs(x[0], ctx + " [0]");
          }
          check_all(x, SaveImageOptions().bit_depth(16), ctx + " 16-bit", true, true);
        }
      }
    }
  }
  std::cout << "[ matrix ] " << calls << " calls, " << successes << " succeeded\n";
}

// int32 tensors are 16-bit samples: accepted with bit_depth(16) only, and
// only within 0-65535.
TEST_F(Matrix, Int32SixteenBitSamples) {
  for (const Layout l : kAllLayouts) {
    const torch::Tensor x = relayout(torch::arange(2 * 3 * 4 * 5, torch::kInt).mul_(500).view({2, 3, 4, 5}), l);
    const std::string ctx = c10::str("int32 ", name_of(l));
    EXPECT_TRUE(check_all(x, SaveImageOptions().bit_depth(16), ctx, true, false));
    EXPECT_FALSE(check_all(x, SaveImageOptions(), ctx + " 8-bit", false, false));
    const torch::Tensor decoded =
        decode_image(encode_image(x, SaveImageOptions().bit_depth(16).padding(0).nrow(2)),
                     DecodeOptions().keep_16_bit(true));
    EXPECT_TRUE(decoded.to(torch::kInt).equal(torch::cat({torch::cat({x[0], x[1]}, 2)}, 1))) << ctx;
    for (const int bad : {-1, 65536}) {
      torch::Tensor y = x.clone();
      y[1][2][3][4] = bad;
      check_all(y, SaveImageOptions().bit_depth(16), c10::str(ctx, " value ", bad), false, false);
    }
  }
  // pad_value of int32 within 0-65535.
  const torch::Tensor x = torch::full({2, 1, 3, 3}, 7, torch::kInt);
  check_all(x, SaveImageOptions().bit_depth(16).pad_value(65535), "int32 pad 65535", true, false);
  check_all(x, SaveImageOptions().bit_depth(16).pad_value(65536), "int32 pad 65536", false, false);
  check_all(x, SaveImageOptions().bit_depth(16).pad_value(-1), "int32 pad -1", false, false);
}

#if TORCHIMAGE_HAS_UINT16
// uint16 tensors (LibTorch 2.3+) are 16-bit samples too: accepted with
// bit_depth(16) in every layout, refused at 8 bits; every value fits.
TEST_F(Matrix, Uint16SixteenBitSamples) {
  for (const Layout l : kAllLayouts) {
    const torch::Tensor wide = torch::arange(2 * 3 * 4 * 5, torch::kInt).mul_(546).view({2, 3, 4, 5});
    const torch::Tensor x = relayout(wide.to(torch::kUInt16), l);
    const std::string ctx = c10::str("uint16 ", name_of(l));
    EXPECT_TRUE(check_all(x, SaveImageOptions().bit_depth(16), ctx, true, false));
    EXPECT_FALSE(check_all(x, SaveImageOptions(), ctx + " 8-bit", false, false));
    const torch::Tensor decoded =
        decode_image(encode_image(x, SaveImageOptions().bit_depth(16).padding(0).nrow(2)),
                     DecodeOptions().keep_16_bit(true));
    EXPECT_EQ(decoded.scalar_type(), torch::kUInt16) << ctx;
    const torch::Tensor xi = x.to(torch::kInt);  // the layout's values (expanded: slice 0 twice)
    EXPECT_TRUE(decoded.to(torch::kInt).equal(torch::cat({xi[0], xi[1]}, 2))) << ctx;
  }
  const torch::Tensor x = torch::full({2, 1, 3, 3}, 7, torch::kInt).to(torch::kUInt16);
  check_all(x, SaveImageOptions().bit_depth(16).pad_value(65535), "uint16 pad 65535", true, false);
  check_all(x, SaveImageOptions().bit_depth(16).pad_value(65536), "uint16 pad 65536", false, false);
}
#endif

// Each option at its edges, on a float batch and a uint8 batch.
TEST_F(Matrix, OptionEdges) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t big = std::numeric_limits<int64_t>::max();
  struct Edge {
    std::string name;
    std::function<void(SaveImageOptions&)> set;
    // Whether save_image must succeed (to every format that writes channels
    // 1-4 at the depth: PNG), for (float, uint8) input.
    bool ok_float, ok_uint8;
  };
  const std::vector<Edge> edges = {
      {"nrow 0", [](SaveImageOptions& o) { o.nrow(0); }, false, false},
      {"nrow -1", [](SaveImageOptions& o) { o.nrow(-1); }, false, false},
      {"nrow huge", [&](SaveImageOptions& o) { o.nrow(big); }, true, true},
      {"nrow 1", [](SaveImageOptions& o) { o.nrow(1); }, true, true},
      {"padding -1", [](SaveImageOptions& o) { o.padding(-1); }, false, false},
      {"padding 0", [](SaveImageOptions& o) { o.padding(0); }, true, true},
      {"padding 2^31", [](SaveImageOptions& o) { o.padding(int64_t{1} << 31); }, false, false},
      {"padding 2^40", [](SaveImageOptions& o) { o.padding(int64_t{1} << 40); }, false, false},
      {"padding huge", [&](SaveImageOptions& o) { o.padding(big); }, false, false},
      {"pad_value NaN", [&](SaveImageOptions& o) { o.pad_value(nan); }, true, false},
      {"pad_value inf", [&](SaveImageOptions& o) { o.pad_value(inf); }, true, false},
      {"pad_value -inf", [&](SaveImageOptions& o) { o.pad_value(-inf); }, true, false},
      {"pad_value 1e300", [](SaveImageOptions& o) { o.pad_value(1e300); }, false, false},
      {"pad_value 255", [](SaveImageOptions& o) { o.pad_value(255.0); }, true, true},
      {"pad_value 256", [](SaveImageOptions& o) { o.pad_value(256.0); }, true, false},
      {"pad_value -1", [](SaveImageOptions& o) { o.pad_value(-1.0); }, true, false},
      {"pad_value empty", [](SaveImageOptions& o) { o.pad_value(std::vector<double>{}); }, false, false},
      {"pad_value 2 of 3", [](SaveImageOptions& o) { o.pad_value({0.0, 1.0}); }, false, false},
      {"pad_value rgb", [](SaveImageOptions& o) { o.pad_value({0.0, 1.0, 0.5}); }, true, true},
      {"pad_value rgb NaN", [&](SaveImageOptions& o) { o.pad_value({nan, 1.0, 0.0}); }, true, false},
      {"quality 0", [](SaveImageOptions& o) { o.quality(0); }, false, false},
      {"quality 101", [](SaveImageOptions& o) { o.quality(101); }, false, false},
      {"quality -5", [](SaveImageOptions& o) { o.quality(-5); }, false, false},
      {"quality 1", [](SaveImageOptions& o) { o.quality(1); }, true, true},
      {"quality 100", [](SaveImageOptions& o) { o.quality(100); }, true, true},
      {"level -2", [](SaveImageOptions& o) { o.compression_level(-2); }, false, false},
      {"level -1", [](SaveImageOptions& o) { o.compression_level(-1); }, false, false},
      {"level 10", [](SaveImageOptions& o) { o.compression_level(10); }, false, false},
      {"level 0", [](SaveImageOptions& o) { o.compression_level(0); }, true, true},
      {"level 9", [](SaveImageOptions& o) { o.compression_level(9); }, true, true},
      {"range inverted", [](SaveImageOptions& o) { o.normalize(true).value_range({1.0, -1.0}); }, false, false},
      {"range NaN", [&](SaveImageOptions& o) { o.normalize(true).value_range({nan, 1.0}); }, false, false},
      {"range inf", [&](SaveImageOptions& o) { o.normalize(true).value_range({0.0, inf}); }, false, false},
      {"range empty", [](SaveImageOptions& o) { o.normalize(true).value_range({0.5, 0.5}); }, true, false},
      {"range 1e300", [](SaveImageOptions& o) { o.normalize(true).value_range({-1e300, 1e300}); }, false, false},
      // value_range counts only with normalize (torchvision ignores it
      // otherwise, whatever it holds; issue 29): these are written.
      {"range without normalize", [](SaveImageOptions& o) { o.value_range({1.0, -1.0}); }, true, true},
      {"range NaN without normalize", [&](SaveImageOptions& o) { o.value_range({nan, inf}); }, true, true},
      {"normalize", [](SaveImageOptions& o) { o.normalize(true); }, true, false},
      {"normalize scale_each", [](SaveImageOptions& o) { o.normalize(true).scale_each(true); }, true, false},
      {"grayscale", [](SaveImageOptions& o) { o.grayscale(true); }, true, true},
      {"bit_depth 16", [](SaveImageOptions& o) { o.bit_depth(16); }, true, true},
      {"bit_depth 16 normalize", [](SaveImageOptions& o) { o.bit_depth(16).normalize(true); }, true, false},
      {"bit_depth 0", [](SaveImageOptions& o) { o.bit_depth(0); }, false, false},
      {"bit_depth 12", [](SaveImageOptions& o) { o.bit_depth(12); }, false, false},
      {"bit_depth -8", [](SaveImageOptions& o) { o.bit_depth(-8); }, false, false},
  };
  for (const auto dtype : {torch::kFloat, torch::kUInt8}) {
    for (const std::vector<int64_t>& shape :
         {std::vector<int64_t>{3, 3, 5, 4}, std::vector<int64_t>{1, 1, 5, 4}}) {
      const torch::Tensor x = make_tensor(shape, dtype, Values::Mixed);
      for (const auto& e : edges) {
        SaveImageOptions o;
        e.set(o);
        const std::string ctx = c10::str(dtype, c10::IntArrayRef(shape), " ", e.name);
        bool expect = dtype == torch::kFloat ? e.ok_float : e.ok_uint8;
        // A batch of one is the image itself: padding and pad_value unused.
        if (shape[0] == 1 && e.name.rfind("padding", 0) == 0) {
          expect = e.name == "padding -1" ? false : true;
        }
        check_all(x, o, ctx, expect);
        // quality: refused for every format (above), and taken by the lossy
        // ones when in range.
        if (e.name.rfind("quality", 0) == 0) {
          const bool q_ok = o.quality() >= 1 && o.quality() <= 100;
          for (const FormatInfo& f : formats()) {
            if (!f.lossy) continue;
            EXPECT_EQ(attempt(ctx + " " + f.name,
                              [&] { save_image(x, dir / ("q." + f.extensions.front()), o); }),
                      q_ok)
                << ctx << " " << f.name;
            dir.clear();
          }
          if (dtype == torch::kUInt8) check_codecs(x[0], ctx + " codecs", o.quality());
        }
        if (e.name.rfind("level", 0) == 0 && dtype == torch::kUInt8) {
          check_codecs(x[0], ctx + " codecs", 75, o.compression_level());
        }
      }
    }
  }
  // DecodeOptions edges.
  const torch::Tensor png = encode_png(torch::full({3, 4, 5}, 7, torch::kUInt8));
  EXPECT_TRUE(attempt("max_pixels 20", [&] { decode_image(png, DecodeOptions().max_pixels(20)); }));
  EXPECT_FALSE(attempt("max_pixels 19", [&] { decode_image(png, DecodeOptions().max_pixels(19)); }));
  EXPECT_FALSE(attempt("max_pixels 0", [&] { decode_image(png, DecodeOptions().max_pixels(0)); }));
  EXPECT_FALSE(attempt("max_pixels -1", [&] { decode_image(png, DecodeOptions().max_pixels(-1)); }));
  std::cout << "[ matrix ] " << calls << " calls, " << successes << " succeeded\n";
}

// Outputs beyond a format's limits (PNG's 2^31-1 a side and bytes a row,
// JPEG's 65500 a side, libjpeg's, WebP's 16383, TIFF's and BMP's file sizes)
// are refused before any work: the inputs are expanded views of one element,
// so touching their data would take gigabytes (and the test would not
// finish). Every row of formats() is tried (its first extension); its
// expected outcome comes from its row: the grid's channels and depth listed,
// both sides within max_side. Each case's grid is either small or over 2 GiB
// of samples, beyond every row's own limits (check_shape), or its
// arithmetic overflows (no grid: refused everywhere).
TEST_F(Matrix, FormatLimitsRefusedUpFront) {
  const auto one = torch::zeros({1});
  struct Case {
    std::vector<int64_t> shape;
    SaveImageOptions options;
    std::vector<int64_t> grid;  // the (C, H, W) written; empty: none can be
  };
  const std::vector<Case> cases = {
      {{3, 1, int64_t{1} << 31}, {}, {3, 1, int64_t{1} << 31}},
      {{3, int64_t{1} << 31, 1}, {}, {3, int64_t{1} << 31, 1}},
      {{1, int64_t{1} << 40, 1}, SaveImageOptions().grayscale(true), {1, int64_t{1} << 40, 1}},
      {{3, 1, 65536}, {}, {3, 1, 65536}},
      {{3, 65536, 1}, {}, {3, 65536, 1}},
      // libjpeg's limit is 65500, below the format's 65535.
      {{3, 1, 65501}, {}, {3, 1, 65501}},
      {{3, 65535, 1}, {}, {3, 65535, 1}},
      {{3, 1, 65500}, {}, {3, 1, 65500}},
      {{1, 65500, 1}, SaveImageOptions().grayscale(true), {1, 65500, 1}},
      {{3, 1, 16384}, {}, {3, 1, 16384}},
      {{4, 16383, 1}, {}, {4, 16383, 1}},
      // 16-bit rows are twice as long: 2 GiB.
      {{1, 1, int64_t{1} << 30}, SaveImageOptions().grayscale(true).bit_depth(16),
       {1, 1, int64_t{1} << 30}},
      // Within 2^31-1 pixels a side, beyond PNG's 2^31-1 bytes a row (and the
      // other rows' file limits): refused before 3 GiB of pixels are computed.
      {{3, 1, int64_t{1} << 30}, {}, {3, 1, int64_t{1} << 30}},
      // A grid wider than PNG allows: 2^20 images of width 2^11 in one row.
      {{int64_t{1} << 20, 3, 1, int64_t{1} << 11}, SaveImageOptions().nrow(int64_t{1} << 20),
       {3, 5, (int64_t{1} << 20) * ((int64_t{1} << 11) + 2) + 2}},
      // A grid higher than JPEG allows: 40000 images of height 2, one per row.
      {{40000, 3, 2, 1}, SaveImageOptions().nrow(1).padding(0), {3, 80000, 1}},
      // Padding that overflows the arithmetic.
      {{2, 3, 1, 1}, SaveImageOptions().padding(int64_t{1} << 62), {}},
      {{int64_t{1} << 40, 3, 1, 1}, SaveImageOptions().nrow(1), {}},
  };
  const auto listed = [](const auto& v, int64_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  for (const auto& c : cases) {
    const auto x = one.expand(c.shape);
    for (const FormatInfo& f : formats()) {
      if (!f.available) continue;
      const std::string ctx = c10::str("expanded ", x.sizes(), " ", f.name);
      const auto& g = c.grid;
      const bool expected = !g.empty() && listed(f.channels, g[0]) &&
                            listed(f.bit_depths, c.options.bit_depth()) && g[1] <= f.max_side &&
                            g[2] <= f.max_side &&
                            g[0] * g[1] * g[2] * (c.options.bit_depth() / 8) < (int64_t{1} << 31);
      const std::string path = dir / ("big." + f.extensions.front());
      // The cases that fit are small enough to write; the others must be
      // refused without allocating.
      std::string msg;
      const bool ok = attempt(ctx, [&] { save_image(x, path, c.options); }, &msg);
      EXPECT_EQ(ok, expected) << ctx << ": " << msg;
      if (!ok) {
        // Refused for its size (not its channels or depth): the message says
        // which limit.
        if (listed(f.bit_depths, c.options.bit_depth()) && (g.empty() || listed(f.channels, g[0]))) {
          EXPECT_TRUE(msg.find("limit") != std::string::npos ||
                      msg.find("too large") != std::string::npos)
              << ctx << ": " << msg;
        }
        expect_clean_after_failure(ctx);
        EXPECT_FALSE(attempt(ctx + " encode_image",
                             [&] { encode_image(x, SaveImageOptions(c.options).format(f.format)); }));
      }
      dir.clear();
    }
  }
  // encode_png/encode_jpeg of uint8 beyond the limits.
  const auto u8 = torch::zeros({1}, torch::kUInt8);
  std::string msg;
  EXPECT_FALSE(attempt("encode_jpeg 65501", [&] { encode_jpeg(u8.expand({3, 1, 65501})); }, &msg));
  EXPECT_NE(msg.find("65500"), std::string::npos) << msg;
  EXPECT_TRUE(attempt("encode_jpeg 65500", [&] { encode_jpeg(u8.expand({1, 65500, 1})); }));
  EXPECT_FALSE(attempt("encode_jpeg huge", [&] { encode_jpeg(u8.expand({3, 100000, 100000})); }, &msg));
  EXPECT_NE(msg.find("65500"), std::string::npos) << msg;
  EXPECT_FALSE(attempt("encode_png 2^31", [&] { encode_png(u8.expand({1, 1, int64_t{1} << 31})); }, &msg));
  EXPECT_NE(msg.find("limit"), std::string::npos) << msg;
  EXPECT_FALSE(attempt("encode_png 4 x 2^29", [&] { encode_png(u8.expand({4, 2, int64_t{1} << 29})); }, &msg));
  EXPECT_NE(msg.find("limit"), std::string::npos) << msg;
}

// decode_image on bytes that are not an image, or a broken one.
TEST_F(Matrix, DecodeGarbage) {
  // A file of each format (its first row's for the checks of the tensor).
  std::vector<torch::Tensor> files;
  for (const FormatInfo& f : formats()) {
    if (!f.available) continue;
    files.push_back(encode_image(torch::randint(0, 256, {3, 9, 11}, torch::kUInt8),
                                 SaveImageOptions().format(f.format)));
  }
  const torch::Tensor png = files.front();
  std::mt19937 rng(6);
  for (const auto& good : files) {
    const int64_t n = good.numel();
    for (int64_t cut : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{8}, n / 2, n - 1}) {
      EXPECT_FALSE(attempt(c10::str("truncated to ", cut), [&] { decode_image(good.narrow(0, 0, cut)); }));
    }
    for (int i = 0; i < 200; ++i) {
      torch::Tensor bad = good.clone();
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        bad[static_cast<int64_t>(rng() % n)] = static_cast<int64_t>(rng() % 256);
      }
      torch::Tensor out;
      if (attempt("corrupted", [&] { out = decode_image(bad); })) {
        EXPECT_EQ(out.dim(), 3);
        // uint8, or float32 where a format has float samples (a corrupted
        // TIFF may say so).
        EXPECT_TRUE(out.scalar_type() == torch::kUInt8 || out.scalar_type() == torch::kFloat)
            << out.scalar_type();
      }
    }
  }
  // Not uint8, not 1-D, undefined, non-contiguous.
  EXPECT_FALSE(attempt("float bytes", [&] { decode_image(png.to(torch::kFloat)); }));
  EXPECT_FALSE(attempt("2-D bytes", [&] { decode_image(png.view({1, -1})); }));
  EXPECT_FALSE(attempt("undefined", [&] { decode_image(torch::Tensor()); }));
  torch::Tensor strided = torch::zeros({png.numel() * 2}, torch::kUInt8);
  strided.slice(0, 0, png.numel() * 2, 2).copy_(png);
  EXPECT_TRUE(attempt("strided bytes", [&] { decode_image(strided.slice(0, 0, png.numel() * 2, 2)); }));
}

// Seeded random combinations of everything above: the generic contract only.
TEST_F(Matrix, RandomCombinations) {
  std::mt19937 rng(20240606);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  const auto dtypes = all_dtypes();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double pads[] = {0.0, 1.0, 0.5, -1.0, 255.0, nan, 1e300};
  int ok = 0;
  const int n = 500;
  for (int i = 0; i < n; ++i) {
    // Mostly accepted dtypes, so that successes get checked too.
    const auto dtype = pick(3) ? std::vector<c10::ScalarType>{torch::kFloat, torch::kDouble, torch::kHalf,
                                                              torch::kBFloat16, torch::kUInt8,
                                                              torch::kBool}[pick(6)]
                               : dtypes[pick(static_cast<int>(dtypes.size()))];
    const int rank = pick(8) == 0 ? pick(6) : 2 + pick(3);
    std::vector<int64_t> shape;
    for (int d = 0; d < rank; ++d) shape.push_back(1 + pick(5));
    if (rank >= 3) shape[rank - 3] = pick(8) == 0 ? pick(7) : 1 + pick(4);
    if (rank >= 1 && pick(20) == 0) shape[pick(rank)] = 0;
    torch::Tensor x = make_tensor(shape, dtype, kAllValues[pick(7)]);
    if (!x.defined()) continue;
    x = relayout(x, kAllLayouts[pick(5)]);
    SaveImageOptions o;
    if (pick(4) == 0) o.nrow(pick(3) == 0 ? 0 : 1 + pick(4));
    if (pick(4) == 0) o.padding(pick(4) == 0 ? -1 : pick(5));
    if (pick(3) == 0) o.normalize(true);
    if (pick(4) == 0) o.scale_each(true);
    if (pick(4) == 0) o.value_range(ValueRange{pick(2) ? -1.0 : nan, pick(3) ? 1.0 : -2.0});
    if (pick(4) == 0) o.pad_value(pads[pick(7)]);
    if (pick(4) == 0) o.quality(pick(3) ? 1 + pick(100) : pick(2) ? 0 : 101);
    if (pick(4) == 0) o.compression_level(pick(14) - 2);
    if (pick(4) == 0) o.grayscale(true);
    if (pick(6) == 0) o.bit_depth(pick(4) ? 16 : 12);
    const std::string ctx = c10::str("combination ", i, ": ", describe(x));
    ok += check_all(x, o, ctx);
  }
  std::cout << "[ matrix ] " << n << " combinations, " << ok << " written in at least one format\n";
}

}  // namespace
