// Round trips with fuzzer-chosen inputs:
// - an image: shape, dtype (float32, float64, uint8, bool), channels 1-4,
//   layout (contiguous, channels_last, transposed, strided, expanded), values
//   (raw bits: NaN, +-Inf, denormals, huge; or in-range) and options (nrow,
//   padding, normalize, value_range, scale_each, pad_value, grayscale,
//   compression_level, quality, including invalid ones). Invariants:
//   * to_pixels and make_grid accept or refuse the same inputs, and
//     to_pixels (the fused pass) equals quantize(make_grid) (the ATen path);
//   * encode_image to PNG with the default engine and with the chosen level
//     decodes to exactly to_pixels; JPEG encodes whenever it can (1 or 3
//     channels, quality 1-100) and decodes to the same shape;
//   * invalid options throw c10::Error; the input is never modified.
//   Some images are scaled up 16x so that the default engine's two-thread
//   path runs too.
// - RleDeflater (the default PNG engine) on arbitrary bytes, fed in
//   fuzzer-chosen pieces, as one stream or as two parts joined as the
//   two-thread path joins them: zlib's inflate gives the bytes back.
#include <torchimage/io.h>
#include <torchimage/make_grid.h>
#include <torchimage/save_image.h>

#include <zlib.h>

#include <vector>

#include "codecs/png/deflate_rle.h"
#include "fuzz_common.h"
#include "grid/quantize.h"

namespace {

using torchimage::ImageFormat;
using torchimage::SaveImageOptions;

double special(fuzz::Reader& r) {
  static const double kValues[] = {
      std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(), std::numeric_limits<float>::denorm_min(),
      std::numeric_limits<double>::denorm_min(), -0.0, 0.0, 1.0, 0.5, 1e30, -1e30, 1e300,
      254.5 / 255, 0.5 / 255, -1.0, 2.0, 3.4028234663852886e38};
  return kValues[r.u8() % (sizeof kValues / sizeof kValues[0])];
}

// Fills a contiguous tensor from the fuzzer's bytes.
void fill(torch::Tensor& t, fuzz::Reader& r) {
  const int mode = r.u8() % 4;
  const int64_t n = t.numel();
  if (t.scalar_type() == torch::kBool) {
    auto* p = t.data_ptr<bool>();
    for (int64_t i = 0; i < n; ++i) p[i] = r.u8() & 1;
    return;
  }
  if (t.scalar_type() == torch::kUInt8) {
    auto* p = t.data_ptr<uint8_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = r.u8();
    return;
  }
  const bool is_double = t.scalar_type() == torch::kDouble;
  for (int64_t i = 0; i < n && r.size() > 0; ++i) {
    double v;
    switch (mode) {
      case 0:  // raw bits
        if (is_double) {
          v = r.f64();
        } else {
          const uint32_t bits = r.u32();
          float f;
          std::memcpy(&f, &bits, 4);
          v = f;
        }
        break;
      case 1: v = r.u8() / 255.0; break;
      case 2: v = (r.u8() - 128) / 50.0; break;
      default: v = r.u8() < 200 ? r.u8() / 255.0 : special(r); break;
    }
    if (is_double) t.data_ptr<double>()[i] = v;
    else t.data_ptr<float>()[i] = static_cast<float>(v);
  }
}

double option_value(fuzz::Reader& r) {
  static const double kValues[] = {0.0, 1.0, 0.5, -1.0, 255.0, 256.0, 2.0, -0.5, 1e39,
                                   std::numeric_limits<double>::quiet_NaN(),
                                   std::numeric_limits<double>::infinity()};
  return kValues[r.u8() % (sizeof kValues / sizeof kValues[0])];
}

torch::Tensor hwc_of(const torch::Tensor& chw) { return chw.permute({1, 2, 0}).contiguous(); }

void image_roundtrip(fuzz::Reader& r) {
  static const c10::ScalarType kDtypes[] = {torch::kFloat, torch::kDouble, torch::kUInt8,
                                            torch::kBool};
  const auto dtype = kDtypes[r.u8() % 4];
  const int dims = 2 + r.u8() % 3;
  const int64_t b = 1 + r.u8() % 6, c = 1 + r.u8() % 4, h = 1 + r.u8() % 24, w = 1 + r.u8() % 24;
  std::vector<int64_t> shape;
  if (dims == 4) shape = {b, c, h, w};
  else if (dims == 3) shape = {c, h, w};
  else shape = {h, w};

  // The layout: the base tensor is what holds the fuzzer's values.
  const int layout = r.u8() % 5;
  torch::Tensor base, x;
  std::vector<int64_t> base_shape = shape;
  switch (layout) {
    case 1:  // transposed H and W
      std::swap(base_shape[dims - 1], base_shape[dims - 2]);
      break;
    case 2:  // every other column
      base_shape[dims - 1] *= 2;
      break;
    case 3:  // expanded over the first dimension
      base_shape[0] = 1;
      break;
    default:
      break;
  }
  base = torch::zeros(base_shape, torch::TensorOptions().dtype(dtype));
  fill(base, r);
  const torch::Tensor original = base.clone();
  switch (layout) {
    case 1: x = base.transpose(dims - 1, dims - 2); break;
    case 2: x = base.slice(dims - 1, 0, base_shape[dims - 1], 2); break;
    case 3: x = base.expand(shape); break;
    case 4: x = dims == 4 ? base.contiguous(at::MemoryFormat::ChannelsLast) : base; break;
    default: x = base; break;
  }
  FUZZ_CHECK(x.sizes() == c10::IntArrayRef(shape), "layout ", layout, " gave ", x.sizes());
  // Sometimes large (up to 384 x 384 a tile): the default engine then
  // compresses on two threads.
  if (r.u8() % 8 == 0) {
    x = x.repeat_interleave(16, dims - 1).repeat_interleave(16, dims - 2);
  }

  SaveImageOptions o;
  o.nrow(r.range(0, 9)).padding(r.range(-1, 5)).normalize(r.boolean()).scale_each(r.boolean())
      .grayscale(r.boolean());
  switch (r.u8() % 4) {
    case 0: break;
    case 1: o.value_range(torchimage::ValueRange{-1.0, 1.0}); break;
    case 2: o.value_range(torchimage::ValueRange{option_value(r), option_value(r)}); break;
    default: o.value_range(torchimage::ValueRange{0.25, 0.25}); break;
  }
  if (r.boolean()) {
    std::vector<double> pad;
    const int n = 1 + r.u8() % 4;
    for (int i = 0; i < n; ++i) pad.push_back(option_value(r));
    o.pad_value(pad);
  } else if (r.boolean()) {
    o.pad_value(option_value(r));
  }
  const int level_choice = static_cast<int>(r.range(-2, 10));  // -2: unset
  const std::optional<int> level =
      level_choice == -2 ? std::nullopt : std::optional<int>(level_choice);
  const int quality = static_cast<int>(r.range(0, 101));

  torch::Tensor px;
  const bool px_ok = fuzz::accepted([&] { px = torchimage::to_pixels(x, o); });
  torch::Tensor grid;
  const bool grid_ok = fuzz::accepted([&] { grid = torchimage::make_grid(x, o.grid_options()); });
  FUZZ_CHECK(px_ok == grid_ok, "to_pixels ", px_ok ? "accepted" : "refused", " what make_grid ",
             grid_ok ? "accepted" : "refused");

  // PNG, default engine.
  torch::Tensor png;
  const bool png_ok = fuzz::accepted([&] {
    png = torchimage::encode_image(x, SaveImageOptions(o).format(ImageFormat::PNG).compression_level(std::nullopt));
  });
  FUZZ_CHECK(png_ok == px_ok, "PNG encode ", png_ok ? "accepted" : "refused", " what to_pixels ",
             px_ok ? "accepted" : "refused");
  if (px_ok) {
    FUZZ_CHECK(px.scalar_type() == torch::kUInt8 && px.dim() == 3 && px.size(2) >= 1 &&
                   px.size(2) <= 4,
               "pixels ", px.sizes());
    const torch::Tensor reference = torchimage::quantize(grid);
    FUZZ_CHECK(reference.equal(px), "to_pixels differs from quantize(make_grid) for ", x.sizes(),
               " ", dtype, " layout ", layout);
    FUZZ_CHECK(hwc_of(torchimage::decode_image(png)).equal(px), "default-engine PNG differs");
  }
  // PNG at the chosen level.
  if (level) {
    const bool ok = fuzz::accepted([&] {
      png = torchimage::encode_image(x, SaveImageOptions(o).format(ImageFormat::PNG).compression_level(level));
    });
    FUZZ_CHECK(ok == (px_ok && *level >= 0 && *level <= 9), "level ", *level, " ",
               ok ? "accepted" : "refused");
    if (ok) FUZZ_CHECK(hwc_of(torchimage::decode_image(png)).equal(px), "level ", *level, " PNG differs");
  }
  // JPEG.
  torch::Tensor jpeg;
  const bool jpeg_ok = fuzz::accepted([&] {
    jpeg = torchimage::encode_image(x, SaveImageOptions(o).format(ImageFormat::JPEG).quality(quality));
  });
  const bool jpeg_expected =
      px_ok && (px.size(2) == 1 || px.size(2) == 3) && quality >= 1 && quality <= 100;
  FUZZ_CHECK(jpeg_ok == jpeg_expected, "JPEG ", jpeg_ok ? "accepted" : "refused", " quality ",
             quality);
  if (jpeg_ok) {
    const torch::Tensor decoded = torchimage::decode_image(jpeg);
    FUZZ_CHECK(hwc_of(decoded).sizes() == px.sizes(), "JPEG decodes to ", decoded.sizes(),
               " for pixels ", px.sizes());
  }
  FUZZ_CHECK(std::memcmp(base.data_ptr(), original.data_ptr(), base.nbytes()) == 0,
             "the input was modified");
}

void deflate_roundtrip(fuzz::Reader& r) {
  uint32_t plan = r.u32();
  const bool runs = r.boolean();
  std::vector<uint8_t> input;
  if (runs) {
    // (value, length) pairs: long runs exercise the matches and block limits.
    while (r.size() >= 2 && input.size() < (size_t{1} << 20)) {
      const uint8_t v = r.u8();
      const size_t len = 1 + size_t{r.u8()} * (r.size() % 3 == 0 ? 300 : 1);
      input.insert(input.end(), len, v);
    }
  } else {
    input.assign(r.data(), r.data() + r.size());
  }
  // One stream, or two parts (as the default PNG engine compresses large
  // images on two threads): the first with the zlib header, ended on a byte
  // boundary, the second without, then the combined Adler-32.
  const bool two_parts = plan & 1;
  const size_t split = two_parts && !input.empty() ? (plan >> 1) % (input.size() + 1) : input.size();
  std::vector<uint8_t> out;
  auto feed = [&](torchimage::RleDeflater& d, size_t from, size_t to) {
    size_t pos = from;
    while (pos < to) {
      plan = plan * 1664525u + 1013904223u;
      const size_t piece = std::min<size_t>(to - pos, (plan >> 8) % 70000);
      d.add(input.data() + pos, piece, out);
      pos += piece;
    }
  };
  if (!two_parts) {
    torchimage::RleDeflater d;
    feed(d, 0, input.size());
    d.finish(out);
  } else {
    torchimage::RleDeflater first(/*zlib_header=*/true), second(/*zlib_header=*/false);
    feed(first, 0, split);
    first.end(out, /*final=*/false);
    feed(second, split, input.size());
    second.end(out, /*final=*/true);
    const uLong adler = adler32_combine(first.adler(), second.adler(),
                                        static_cast<z_off_t>(input.size() - split));
    FUZZ_CHECK(adler == adler32(adler32(0L, Z_NULL, 0), input.data(), static_cast<uInt>(input.size())),
               "combined Adler-32 differs");
    for (int k = 3; k >= 0; --k) out.push_back(static_cast<uint8_t>(adler >> (8 * k)));
  }

  std::vector<uint8_t> back(input.size() + 1);
  z_stream zs{};
  FUZZ_CHECK(inflateInit(&zs) == Z_OK, "inflateInit");
  zs.next_in = out.data();
  zs.avail_in = static_cast<uInt>(out.size());
  zs.next_out = back.data();
  zs.avail_out = static_cast<uInt>(back.size());
  const int rc = inflate(&zs, Z_FINISH);
  const size_t produced = zs.total_out;
  const uInt left_in = zs.avail_in;
  const std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  FUZZ_CHECK(rc == Z_STREAM_END, "inflate: ", rc, " (", msg, ") for ",
             input.size(), " bytes");
  FUZZ_CHECK(left_in == 0, left_in, " bytes after the end of the zlib stream");
  FUZZ_CHECK(produced == input.size() && std::equal(input.begin(), input.end(), back.begin()),
             "inflated ", produced, " bytes, expected ", input.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader r(data, size);
  if (r.u8() % 4 == 3) {
    deflate_roundtrip(r);
  } else {
    image_roundtrip(r);
  }
  return 0;
}
