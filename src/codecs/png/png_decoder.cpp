// PNG decoding through libpng. libpng reports errors by longjmp from the
// error callback; the setjmp function holds only plain data, the caller's
// C++ code turns the recorded message into a c10::Error.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <c10/util/Exception.h>
#include <png.h>

#include "codecs/png/png_decoder.h"
#include "core/torch_compat.h"

namespace torchimage {
namespace {

struct ReadContext {
  const uint8_t* data;
  size_t size;
  size_t offset;
  char message[256];
};

extern "C" void on_png_error(png_structp png, png_const_charp msg) {
  auto* ctx = static_cast<ReadContext*>(png_get_error_ptr(png));
  std::snprintf(ctx->message, sizeof(ctx->message), "%s", msg);
  png_longjmp(png, 1);
}

extern "C" void on_png_warning(png_structp, png_const_charp) {}

extern "C" void on_png_read(png_structp png, png_bytep out, png_size_t n) {
  auto* ctx = static_cast<ReadContext*>(png_get_io_ptr(png));
  if (n > ctx->size - ctx->offset) png_error(png, "unexpected end of data (truncated file)");
  std::memcpy(out, ctx->data + ctx->offset, n);
  ctx->offset += n;
}

struct DecodedPng {
  unsigned char* pixels;  // malloc'ed, HWC
  png_bytep* rows;        // malloc'ed row pointers
  png_uint_32 width, height;
  int channels;
  int bit_depth;          // 8, or 16 (native-endian uint16 samples)
};

// `png` and `info` are owned by the caller (destroyed there), so nothing this
// frame changes after setjmp is needed after the longjmp.
int read_png(png_structp png, png_infop info, int64_t max_pixels, bool keep_16_bit,
             bool keep_indices, DecodedPng* out, ReadContext* ctx) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_set_read_fn(png, ctx, on_png_read);
  // Check the CRCs of critical chunks strictly, ancillary ones leniently
  // (libpng's defaults), and allow large but sane images.
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  if (static_cast<int64_t>(width) * height > max_pixels) {
    std::snprintf(ctx->message, sizeof(ctx->message),
                  "image of %ux%u pixels exceeds max_pixels %lld", height, width,
                  static_cast<long long>(max_pixels));
    return 1;
  }
  if (keep_indices && png_get_color_type(png, info) == PNG_COLOR_TYPE_PALETTE) {
    png_set_packing(png);  // 1, 2 or 4-bit indices: one byte each
  } else {
    png_set_expand(png);
  }
  const bool sixteen = keep_16_bit && png_get_bit_depth(png, info) == 16;
  if (sixteen) {
    png_set_swap(png);  // little-endian host: native uint16 samples
  } else {
    png_set_scale_16(png);
  }
  out->bit_depth = sixteen ? 16 : 8;
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = width;
  out->height = height;
  out->channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  out->pixels = static_cast<unsigned char*>(std::malloc(row_bytes * height + 1));
  out->rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * height + 1));
  if (!out->pixels || !out->rows) {
    std::snprintf(ctx->message, sizeof(ctx->message), "out of memory");
    return 1;
  }
  for (png_uint_32 y = 0; y < height; ++y) out->rows[y] = out->pixels + y * row_bytes;
  png_read_image(png, out->rows);
  png_read_end(png, nullptr);
  return 0;
}

}  // namespace

torch::Tensor decode_png_bytes(const uint8_t* data, size_t size, int64_t max_pixels,
                               bool keep_16_bit, bool keep_indices) {
  ReadContext ctx{data, size, 0, {0}};
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
  TORCH_CHECK(png, "decode_image: cannot create a libpng read struct");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    TORCH_CHECK(false, "decode_image: cannot create a libpng info struct");
  }
  DecodedPng img{nullptr, nullptr, 0, 0, 0, 8};
  const int failed = read_png(png, info, max_pixels, keep_16_bit, keep_indices, &img, &ctx);
  png_destroy_read_struct(&png, &info, nullptr);
  std::free(img.rows);
  if (failed) {
    std::free(img.pixels);
    TORCH_CHECK(false, "decode_image: invalid PNG: ", ctx.message);
  }
  const std::vector<int64_t> shape = {static_cast<int64_t>(img.height),
                                      static_cast<int64_t>(img.width), img.channels};
  if (img.bit_depth == 16) {
#if TORCHIMAGE_HAS_UINT16
    // Native-endian uint16 samples, as torchvision (0.19+) returns them.
    auto hwc16 = torch::from_blob(
        img.pixels, shape, [](void* p) { std::free(p); }, compat::kSample16);
    return hwc16.permute({2, 0, 1}).contiguous();
#else
    // uint16 samples (LibTorch 1.13 has no uint16): widen to int32.
    at::Tensor out = torch::empty(shape, torch::kInt);
    const auto* src = reinterpret_cast<const uint16_t*>(img.pixels);
    int32_t* dst = out.data_ptr<int32_t>();
    for (int64_t i = 0; i < out.numel(); ++i) dst[i] = src[i];
    std::free(img.pixels);
    return out.permute({2, 0, 1}).contiguous();
#endif
  }
  auto hwc = torch::from_blob(
      img.pixels, shape, [](void* p) { std::free(p); }, torch::kUInt8);
  return hwc.permute({2, 0, 1}).contiguous();
}

}  // namespace torchimage
