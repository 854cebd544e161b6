#include "reference_png.h"

#include <png.h>

#include <csetjmp>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace torchimage_test {
namespace {

struct Source {
  const uint8_t* data;
  size_t size;
  size_t pos;
  ReferencePng* out;
};

void read_fn(png_structp png, png_bytep dst, png_size_t n) {
  auto* s = static_cast<Source*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) png_error(png, "unexpected end of the data");
  std::memcpy(dst, s->data + s->pos, n);
  s->pos += n;
}

void error_fn(png_structp png, png_const_charp message) {
  auto* s = static_cast<Source*>(png_get_error_ptr(png));
  s->out->error = message ? message : "libpng error";
  png_longjmp(png, 1);
}

void warning_fn(png_structp png, png_const_charp message) {
  auto* s = static_cast<Source*>(png_get_error_ptr(png));
  s->out->warnings.emplace_back(message ? message : "libpng warning");
}

// Every C++ object it touches lives in the caller, so that libpng's longjmp
// back to the setjmp below skips no destructor. Returns false on an error.
bool read_png(png_structp png, png_infop info, Source* src, std::vector<png_bytep>* rows) {
  ReferencePng& out = *src->out;
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  out.width = png_get_image_width(png, info);
  out.height = png_get_image_height(png, info);
  out.color_type = png_get_color_type(png, info);
  out.file_bit_depth = png_get_bit_depth(png, info);
  out.interlace = png_get_interlace_type(png, info);
  if (out.color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (out.color_type == PNG_COLOR_TYPE_GRAY && out.file_bit_depth < 8)
    png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out.channels = png_get_channels(png, info);
  out.bit_depth = png_get_bit_depth(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != size_t{out.width} * out.channels * (out.bit_depth / 8))
    png_error(png, "unexpected row size after the transforms");
  out.bytes.resize(row_bytes * out.height);
  rows->resize(out.height);
  for (uint32_t y = 0; y < out.height; ++y) (*rows)[y] = out.bytes.data() + y * row_bytes;
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);
  return true;
}

}  // namespace

ReferencePng decode_reference_png(const uint8_t* data, size_t size) {
  ReferencePng out;
  Source src{data, size, 0, &out};
  if (size < 8 || png_sig_cmp(const_cast<png_bytep>(data), 0, 8) != 0) {
    out.error = "not a PNG signature";
    return out;
  }
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, error_fn, warning_fn);
  if (png == nullptr) {
    out.error = "png_create_read_struct failed";
    return out;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    out.error = "png_create_info_struct failed";
    return out;
  }
  png_set_read_fn(png, &src, read_fn);
  std::vector<png_bytep> rows;
  if (!read_png(png, info, &src, &rows)) {
    out.bytes.clear();
    if (out.error.empty()) out.error = "libpng error";
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return out;
}

ReferencePng decode_reference_png(const std::vector<uint8_t>& file) {
  return decode_reference_png(file.data(), file.size());
}

ReferencePng decode_reference_png(const torch::Tensor& file) {
  if (!file.defined() || file.scalar_type() != torch::kUInt8 || file.dim() != 1) {
    ReferencePng out;
    out.error = "expected 1-D uint8 bytes";
    return out;
  }
  const torch::Tensor c = file.contiguous().cpu();
  return decode_reference_png(c.data_ptr<uint8_t>(), static_cast<size_t>(c.numel()));
}

std::vector<uint16_t> ReferencePng::samples() const {
  std::vector<uint16_t> v;
  if (bit_depth == 16) {
    v.reserve(bytes.size() / 2);
    for (size_t i = 0; i + 1 < bytes.size(); i += 2)
      v.push_back(static_cast<uint16_t>(bytes[i] << 8 | bytes[i + 1]));
  } else {
    v.assign(bytes.begin(), bytes.end());
  }
  return v;
}

torch::Tensor ReferencePng::hwc() const {
  if (!ok()) throw std::runtime_error("hwc() of a PNG libpng did not read: " + error);
  const std::vector<int64_t> shape{static_cast<int64_t>(height), static_cast<int64_t>(width),
                                   static_cast<int64_t>(channels)};
  if (bit_depth == 8) {
    return torch::from_blob(const_cast<uint8_t*>(bytes.data()), shape, torch::kUInt8).clone();
  }
  const std::vector<uint16_t> s = samples();
  std::vector<int32_t> wide(s.begin(), s.end());
  return torch::from_blob(wide.data(), shape, torch::kInt).clone();
}

std::string ReferencePng::describe() const {
  std::ostringstream m;
  m << width << "x" << height << ", " << channels << " channels, " << bit_depth << " bits";
  if (!ok()) m << ", libpng error: " << error;
  for (const auto& w : warnings) m << ", libpng warning: " << w;
  return m.str();
}

}  // namespace torchimage_test
