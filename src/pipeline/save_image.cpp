// save_image and the in-memory codecs: the pipeline's faces.
#include <torchimage/io.h>
#include <torchimage/save_image.h>

#include <algorithm>
#include <cctype>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "core/byte_buffer.h"
#include "io/file_path.h"
#include "grid/fused_quantize.h"
#include "grid/grid_shape.h"
#include "codecs/jpeg.h"
#include "codecs/png/png_encoder.h"
#include "grid/quantize.h"
#include "pipeline/render.h"
#include "core/torch_compat.h"

namespace torchimage {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void check_save_options(const SaveImageOptions& o, ImageFormat format, const char* what) {
  TORCH_CHECK(o.bit_depth() == 8 || o.bit_depth() == 16, what,
              ": bit_depth must be 8 or 16, got ", o.bit_depth());
  TORCH_CHECK(o.bit_depth() == 8 || format == ImageFormat::PNG, what,
              ": bit_depth 16 needs PNG (JPEG is 8-bit)");
  // Checked whatever the format, as every face checks it (the CLI and the
  // Python operators refuse quality 0 for a PNG too): it is a mistake even
  // where it is not used.
  TORCH_CHECK(o.quality() >= 1 && o.quality() <= 100, what, ": quality must be in 1-100, got ",
              o.quality());
  if (o.compression_level()) {
    TORCH_CHECK(*o.compression_level() >= 0 && *o.compression_level() <= 9, what,
                ": compression_level must be in 0-9, got ", *o.compression_level());
  }
}

// Everything about the output that can be known before touching the data.
void check_output_shape(const torch::Tensor& tensor, const SaveImageOptions& o,
                        ImageFormat format, const char* what) {
  const MakeGridOptions grid = o.grid_options();
  check_grid_input(tensor, grid, what, /*allow_int32=*/o.bit_depth() == 16);
  const GridShape s = grid_shape(tensor, grid);
  TORCH_CHECK(s.channels >= 1 && s.channels <= 4, what,
              ": expected images of 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels, got ",
              s.channels, " channels (shape ", tensor.sizes(), ")");
  if (format == ImageFormat::JPEG) {
    TORCH_CHECK(s.channels == 1 || s.channels == 3, what,
                ": JPEG has no alpha channel; expected 1 or 3 channels, got ", s.channels);
    TORCH_CHECK(s.height <= kJpegMaxSide && s.width <= kJpegMaxSide, what, ": a ", s.height, "x",
                s.width, " image exceeds JPEG's limit of ", kJpegMaxSide,
                " pixels a side (libjpeg's)");
  } else {
    TORCH_CHECK(s.height <= 0x7fffffff && s.width <= 0x7fffffff, what, ": a ", s.height, "x",
                s.width, " image exceeds PNG's limit of 2^31-1 pixels a side");
    // The encoder's own limit (encode_png_pixels), checked before the pixels
    // are computed.
    TORCH_CHECK(s.width * s.channels * (o.bit_depth() / 8) < (int64_t{1} << 31), what, ": a ",
                s.height, "x", s.width, " image of ", s.channels, " channels at ", o.bit_depth(),
                " bits exceeds the PNG encoder's limit of 2^31-1 bytes a row");
  }
  // Then the memory the pixels need (after the formats' own limits, whose
  // messages say more).
  check_output_memory(s, o.bit_depth() / 8, what, "image");
}

// 8-bit pixels to the file's bytes, into `out` (its capacity reused).
void encode_view(const PixelView& view, ImageFormat format, const SaveImageOptions& o, Bytes& out) {
  if (format == ImageFormat::JPEG) {
    out = encode_jpeg_pixels(view, o.quality());
  } else {
    encode_png_pixels(view, png_encoding_for(o.compression_level()), out);
  }
}

Bytes encode_pixels(const torch::Tensor& hwc, ImageFormat format, const SaveImageOptions& o) {
  PixelView view;
  view.data = hwc.data_ptr<uint8_t>();
  view.height = hwc.size(0);
  view.width = hwc.size(1);
  view.channels = hwc.size(2);
  view.bit_depth = 8;
  Bytes out;
  encode_view(view, format, o, out);
  return out;
}

// make_grid + quantize: one fused pass where it applies, else the ATen ops.
torch::Tensor grid_pixels(const torch::Tensor& tensor, const MakeGridOptions& grid) {
  torch::Tensor hwc = fused_grid_pixels(tensor, grid);
  if (!hwc.defined()) hwc = quantize(make_grid(tensor, grid));
  return hwc;
}


// A uint8 (C, H, W) image as contiguous (H, W, C) CPU pixels.
torch::Tensor chw_to_hwc(const torch::Tensor& image, const char* what, bool allow_alpha) {
  TORCH_CHECK(image.defined(), what, ": expected a tensor, got an undefined one");
  TORCH_CHECK(image.scalar_type() == torch::kUInt8, what, ": expected a uint8 tensor",
              TORCHIMAGE_HAS_UINT16 && allow_alpha ? " (or uint16 for 16-bit PNG)" : "",
              ", got ", image.scalar_type());
  TORCH_CHECK(image.dim() == 3, what, ": expected a 3-D (C, H, W) tensor, got ", image.dim(),
              "-D with shape ", image.sizes());
  const int64_t c = image.size(0);
  TORCH_CHECK(allow_alpha ? (c >= 1 && c <= 4) : (c == 1 || c == 3), what, ": expected ",
              allow_alpha ? "1, 2, 3 or 4" : "1 or 3", " channels, got ", c,
              !allow_alpha && (c == 2 || c == 4) ? " (JPEG has no alpha channel)" : "");
  TORCH_CHECK(image.size(1) > 0 && image.size(2) > 0, what, ": expected a non-empty image, got ",
              image.sizes());
  // The format's limits, before the pixels are copied (an expanded view can
  // be far larger than its storage).
  if (allow_alpha) {
    TORCH_CHECK(image.size(1) <= 0x7fffffff && image.size(2) <= 0x7fffffff &&
                    image.size(2) * c < (int64_t{1} << 31),
                what, ": image of ", image.size(1), "x", image.size(2), " and ", c,
                " channels exceeds PNG's limits (2^31-1 pixels a side and 2^31-1 bytes a row)");
  } else {
    TORCH_CHECK(image.size(1) <= kJpegMaxSide && image.size(2) <= kJpegMaxSide, what,
                ": image of ", image.size(1), "x", image.size(2), " exceeds JPEG's limit of ",
                kJpegMaxSide, " pixels a side (libjpeg's)");
  }
  return image.detach().permute({1, 2, 0}).contiguous().to(torch::kCPU);
}

}  // namespace

void check_save(const torch::Tensor& tensor, ImageFormat format, const SaveImageOptions& o,
                const char* what) {
  check_save_options(o, format, what);
  check_output_shape(tensor, o, format, what);
}

// 16-bit samples, (H, W, C) big-endian, from make_grid's grid.
Bytes pixels16(const torch::Tensor& grid) {
  at::NoGradGuard no_grad;
  at::Tensor q;
  switch (grid.scalar_type()) {
    case at::kInt:
      TORCH_CHECK(grid.min().item<int64_t>() >= 0 && grid.max().item<int64_t>() <= 65535,
                  "save_image: int32 16-bit samples must be in [0, 65535], got [",
                  grid.min().item<int64_t>(), ", ", grid.max().item<int64_t>(), "]");
      q = grid;
      break;
    case at::kByte:
      q = grid.to(at::kInt).mul_(257);
      break;
    case at::kBool:
      q = grid.to(at::kInt).mul_(65535);
      break;
    default: {
      // torchvision's rule at 16 bits: * 65535 + 0.5, clamp, truncate.
      at::Tensor t = grid.mul(65535).add_(0.5);
      if (t.scalar_type() == at::kHalf && t.device().is_cpu()) t = t.to(at::kFloat);
      q = t.clamp_(0, 65535).nan_to_num_(0.0).to(at::kInt);
      break;
    }
  }
  const at::Tensor hwc = q.permute({1, 2, 0}).contiguous().to(at::kCPU);
  const int32_t* v = hwc.data_ptr<int32_t>();
  Bytes out(static_cast<size_t>(hwc.numel()) * 2);
  for (int64_t i = 0; i < hwc.numel(); ++i) {
    out[2 * i] = static_cast<uint8_t>(v[i] >> 8);
    out[2 * i + 1] = static_cast<uint8_t>(v[i]);
  }
  return out;
}

// A 16-bit PNG of a (C, H, W) grid (pixels16's dtypes).
Bytes encode_png16(const torch::Tensor& grid, const std::optional<int>& compression_level) {
  const Bytes samples = pixels16(grid);
  PixelView view;
  view.data = samples.data();
  view.height = grid.size(1);
  view.width = grid.size(2);
  view.channels = grid.size(0);
  view.bit_depth = 16;
  return encode_png_pixels(view, compression_level);
}

Bytes render(const torch::Tensor& tensor, ImageFormat format, const SaveImageOptions& o,
             const char* what) {
  check_save(tensor, format, o, what);
  if (o.bit_depth() == 16) {
    // uint16 samples are widened to int32 (the same values) before the grid:
    // ATen implements few operators for uint16.
    const torch::Tensor wide =
        compat::is_uint16(tensor.scalar_type()) ? tensor.to(torch::kInt) : tensor;
    return encode_png16(make_grid_impl(wide, o.grid_options(), /*allow_int32=*/true),
                        o.compression_level());
  }
  return encode_pixels(grid_pixels(tensor, o.grid_options()), format, o);
}

const Bytes& render_sample(const torch::Tensor& batch, int64_t i, ImageFormat format,
                           const SaveImageOptions& o, const char* what, RenderBuffers& buffers) {
  const MakeGridOptions grid = o.grid_options();
  if (o.bit_depth() != 8 || !SampleQuantizer::applies(batch, grid)) {
    buffers.bytes = render(batch[i], format, o, what);
    return buffers.bytes;
  }
  const SampleQuantizer quantizer(batch, grid);
  PixelView view;
  view.height = quantizer.height();
  view.width = quantizer.width();
  view.channels = quantizer.channels();
  view.bit_depth = 8;
  buffers.pixels.resize(static_cast<size_t>(view.height * view.width * view.channels));
  quantizer.pixels(i, buffers.pixels.data(), buffers.scratch);
  view.data = buffers.pixels.data();
  encode_view(view, format, o, buffers.bytes);
  return buffers.bytes;
}

void write_bytes(const std::string& path, const Bytes& bytes, const SaveImageOptions& o) {
  write_file(path, bytes.data(), bytes.size(),
             WriteFileOptions()
                 .create_directories(o.create_directories())
                 .durable(o.durable())
                 .replace_read_only(o.replace_read_only()));
}

torch::Tensor to_tensor(Bytes&& bytes) {
  auto* holder = new Bytes(std::move(bytes));
  return torch::from_blob(
      holder->data(), {static_cast<int64_t>(holder->size())},
      [holder](void*) { delete holder; }, torch::kUInt8);
}

ImageFormat parse_format(const std::string& name, const char* what) {
  const std::string n = lower(name);
  if (n == "png") return ImageFormat::PNG;
  if (n == "jpeg" || n == "jpg") return ImageFormat::JPEG;
  TORCH_CHECK(false, what, ": unsupported format '", name,
              "'; supported formats: png, jpeg (jpg)");
}

ImageFormat resolve_format(const std::string& path, const std::optional<ImageFormat>& format,
                           const char* what) {
  check_path(path, what);  // every path-taking call resolves its format first
  if (format) return *format;
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  const std::string ext = has_ext ? lower(path.substr(dot + 1)) : std::string();
  if (ext == "png") return ImageFormat::PNG;
  if (ext == "jpg" || ext == "jpeg") return ImageFormat::JPEG;
  TORCH_CHECK(false, what, ": cannot tell the format of '", path, "' from its extension",
              has_ext ? c10::str(" '.", path.substr(dot + 1), "'") : std::string(),
              "; supported: .png, .jpg, .jpeg, or set the format option (png, jpeg)");
}

MakeGridOptions SaveImageOptions::grid_options() const {
  MakeGridOptions g;
  g.nrow(nrow_).padding(padding_).normalize(normalize_).value_range(value_range_)
      .scale_each(scale_each_).pad_value(pad_value_).grayscale(grayscale_);
  return g;
}

void save_image(const torch::Tensor& tensor, const std::string& path,
                const SaveImageOptions& options) {
  const ImageFormat format = resolve_format(path, options.format(), "save_image");
  write_bytes(path, render(tensor, format, options, "save_image"), options);
}

void save_image(const std::vector<torch::Tensor>& tensors, const std::string& path,
                const SaveImageOptions& options) {
  resolve_format(path, options.format(), "save_image");
  save_image(stack_images(tensors, "save_image"), path, options);
}

torch::Tensor encode_image(const torch::Tensor& tensor, const SaveImageOptions& options) {
  const ImageFormat format = options.format().value_or(ImageFormat::PNG);
  return to_tensor(render(tensor, format, options, "encode_image"));
}

torch::Tensor encode_image(const std::vector<torch::Tensor>& tensors,
                           const SaveImageOptions& options) {
  return encode_image(stack_images(tensors, "encode_image"), options);
}

torch::Tensor to_pixels(const torch::Tensor& tensor, const SaveImageOptions& options) {
  check_grid_input(tensor, options.grid_options(), "to_pixels");
  return grid_pixels(tensor, options.grid_options());
}

torch::Tensor to_pixels(const std::vector<torch::Tensor>& tensors,
                        const SaveImageOptions& options) {
  return to_pixels(stack_images(tensors, "to_pixels"), options);
}

torch::Tensor encode_png(const torch::Tensor& image, const PngOptions& options) {
  if (image.defined() && compat::is_uint16(image.scalar_type())) {
    // 16-bit samples: a 16-bit PNG of the same values.
    TORCH_CHECK(image.dim() == 3, "encode_png: expected a 3-D (C, H, W) tensor, got ", image.dim(),
                "-D with shape ", image.sizes());
    const int64_t c = image.size(0);
    TORCH_CHECK(c >= 1 && c <= 4, "encode_png: expected 1, 2, 3 or 4 channels, got ", c);
    TORCH_CHECK(image.size(1) > 0 && image.size(2) > 0,
                "encode_png: expected a non-empty image, got ", image.sizes());
    TORCH_CHECK(image.size(1) <= 0x7fffffff && image.size(2) * c * 2 < (int64_t{1} << 31),
                "encode_png: image of ", image.size(1), "x", image.size(2), " and ", c,
                " 16-bit channels exceeds PNG's limits (2^31-1 pixels a side and 2^31-1 bytes a row)");
    return to_tensor(encode_png16(image.detach().to(torch::kInt), options.compression_level()));
  }
  const torch::Tensor hwc = chw_to_hwc(image, "encode_png", /*allow_alpha=*/true);
  return to_tensor(encode_pixels(hwc, ImageFormat::PNG,
                                 SaveImageOptions().compression_level(options.compression_level())));
}

torch::Tensor encode_jpeg(const torch::Tensor& image, const JpegOptions& options) {
  const torch::Tensor hwc = chw_to_hwc(image, "encode_jpeg", /*allow_alpha=*/false);
  return to_tensor(encode_pixels(hwc, ImageFormat::JPEG, SaveImageOptions().quality(options.quality())));
}

torch::Tensor decode_image(const torch::Tensor& data, const DecodeOptions& options) {
  TORCH_CHECK(data.defined() && data.scalar_type() == torch::kUInt8 && data.dim() == 1,
              "decode_image: expected a 1-D uint8 tensor of file bytes, got ",
              data.defined() ? c10::str(data.scalar_type(), " of shape ", data.sizes())
                             : std::string("an undefined tensor"));
  const torch::Tensor bytes = data.to(torch::kCPU).contiguous();
  const auto* p = bytes.data_ptr<uint8_t>();
  const size_t n = static_cast<size_t>(bytes.numel());
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 8 && std::equal(kPng, kPng + 8, p)) {
    return decode_png_bytes(p, n, options.max_pixels(), options.keep_16_bit());
  }
  if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
    return decode_jpeg_bytes(p, n, options.max_pixels());
  }
  TORCH_CHECK(false, "decode_image: unsupported data: expected PNG or JPEG bytes (", n,
              " bytes, not starting with a PNG or JPEG signature)");
}

torch::Tensor read_image(const std::string& path, const DecodeOptions& options) {
  check_path(path, "read_image");
  try {
    return decode_image(read_file(path), options);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "read_image: '", path, "': ", e.what_without_backtrace());
  }
}

}  // namespace torchimage
