// libjpeg reports errors through error_exit, which must not return; we
// longjmp out of it. No C++ object with a destructor lives in a frame that
// the longjmp crosses: the setjmp functions below hold only plain data, and
// all C++ work (allocation of tensors, TORCH_CHECK) happens after they return.
#include "codecs/jpeg.h"

#include "codecs/codec.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <c10/util/Exception.h>

extern "C" {
#include <jpeglib.h>
}

namespace torchimage {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// Nothing is printed to stderr.
extern "C" void on_output_message(j_common_ptr) {}

// Decoding is strict: a warning (a truncated file, corrupt data that libjpeg
// would paper over with grey) is an error, as Pillow treats a truncated file.
extern "C" void on_emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0) on_error_exit(cinfo);
}

void install(ErrorManager& err, bool strict) {
  jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error_exit;
  err.pub.output_message = on_output_message;
  if (strict) err.pub.emit_message = on_emit_message;
  err.message[0] = '\0';
}

// Returns 0 on success, else fills err.message. *out is malloc'ed by
// jpeg_mem_dest and owned by the caller (also on failure, when non-null).
// `c` lives in the caller's frame so that nothing this frame modifies after
// setjmp is read after the longjmp.
int compress_raw(jpeg_compress_struct* c, const uint8_t* pixels, JDIMENSION width,
                 JDIMENSION height, int channels, int quality, unsigned char** out,
                 unsigned long* out_size, ErrorManager* err) {
  c->err = &err->pub;
  if (setjmp(err->jump)) {
    jpeg_destroy_compress(c);
    return 1;
  }
  jpeg_create_compress(c);
  jpeg_compress_struct& cinfo = *c;
  jpeg_mem_dest(&cinfo, out, out_size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.optimize_coding = FALSE;
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = static_cast<size_t>(width) * static_cast<size_t>(channels);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return 0;
}

struct DecodedJpeg {
  unsigned char* pixels;  // malloc'ed, HWC
  JDIMENSION width, height;
  int channels;
};

int decompress_raw(jpeg_decompress_struct* d, const uint8_t* data, size_t size,
                   int64_t max_pixels, DecodedJpeg* result, ErrorManager* err) {
  d->err = &err->pub;
  result->pixels = nullptr;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(d);
    std::free(result->pixels);
    result->pixels = nullptr;
    return 1;
  }
  jpeg_create_decompress(d);
  jpeg_decompress_struct& cinfo = *d;
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      std::snprintf(err->message, sizeof(err->message),
                    "CMYK/YCCK JPEG is not supported (expected gray or colour)");
      jpeg_destroy_decompress(&cinfo);
      return 1;
    default:
      cinfo.out_color_space = JCS_RGB;
      break;
  }
  cinfo.dct_method = JDCT_ISLOW;
  if (static_cast<int64_t>(cinfo.image_width) * cinfo.image_height > max_pixels) {
    std::snprintf(err->message, sizeof(err->message),
                  "image of %ux%u pixels exceeds max_pixels %lld", cinfo.image_height,
                  cinfo.image_width, static_cast<long long>(max_pixels));
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  jpeg_start_decompress(&cinfo);
  result->width = cinfo.output_width;
  result->height = cinfo.output_height;
  result->channels = cinfo.output_components;
  const size_t stride = static_cast<size_t>(cinfo.output_width) * cinfo.output_components;
  result->pixels = static_cast<unsigned char*>(std::malloc(stride * cinfo.output_height + 1));
  if (!result->pixels) {
    std::snprintf(err->message, sizeof(err->message), "out of memory");
    jpeg_destroy_decompress(&cinfo);
    return 1;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = result->pixels + cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return 0;
}

}  // namespace

Bytes encode_jpeg_pixels(const PixelView& px, int quality) {
  TORCH_CHECK(px.bit_depth == 8, "encode_jpeg: expected 8-bit samples, got ", px.bit_depth);
  TORCH_CHECK(px.channels == 1 || px.channels == 3,
              "encode_jpeg: expected 1 (gray) or 3 (RGB) channels, got ", px.channels,
              px.channels == 2 || px.channels == 4 ? " (JPEG has no alpha channel)" : "");
  TORCH_CHECK(quality >= 1 && quality <= 100, "encode_jpeg: quality must be in 1-100, got ",
              quality);
  TORCH_CHECK(px.height >= 1 && px.width >= 1 && px.height <= kJpegMaxSide &&
                  px.width <= kJpegMaxSide,
              "encode_jpeg: image of ", px.height, "x", px.width, " is outside JPEG's limits (1 to ",
              kJpegMaxSide, " pixels a side, libjpeg's)");
  ErrorManager err;
  install(err, /*strict=*/false);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_compress_struct cinfo;
  const int failed = compress_raw(&cinfo, px.data, static_cast<JDIMENSION>(px.width),
                                  static_cast<JDIMENSION>(px.height), static_cast<int>(px.channels),
                                  quality, &buffer, &size, &err);
  if (failed) {
    std::free(buffer);
    TORCH_CHECK(false, "encode_jpeg: libjpeg failed: ", err.message);
  }
  Bytes out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

torch::Tensor decode_jpeg_bytes(const uint8_t* data, size_t size, int64_t max_pixels) {
  ErrorManager err;
  install(err, /*strict=*/true);
  DecodedJpeg img{};
  jpeg_decompress_struct cinfo;
  const int failed = decompress_raw(&cinfo, data, size, max_pixels, &img, &err);
  TORCH_CHECK(!failed, "decode_image: invalid JPEG: ", err.message);
  auto hwc = torch::from_blob(
      img.pixels, {static_cast<int64_t>(img.height), static_cast<int64_t>(img.width), img.channels},
      [](void* p) { std::free(p); }, torch::kUInt8);
  return hwc.permute({2, 0, 1}).contiguous();
}

namespace {

void check_jpeg_options(const EncodeOptions& o, const char* what) {
  TORCH_CHECK(o.jpeg().quality() >= 1 && o.jpeg().quality() <= 100, what,
              ": quality must be in 1-100, got ", o.jpeg().quality());
}

void encode_jpeg_row(const PixelView& pixels, const EncodeOptions& o, Bytes& out) {
  out = encode_jpeg_pixels(pixels, o.jpeg().quality());
}

torch::Tensor decode_jpeg_row(const uint8_t* data, size_t size, const DecodeOptions& o) {
  return decode_jpeg_bytes(data, size, o.max_pixels());
}

}  // namespace

// JPEG's row: lossy, gray or RGB, 8 bits, libjpeg's largest side.
Codec jpeg_codec() {
  Codec c;
  c.info.format = ImageFormat::JPEG;
  c.info.name = "jpeg";
  c.info.display_name = "JPEG";
  c.info.aliases = {"jpg"};
  c.info.extensions = {"jpg", "jpeg", "jpe", "jfif"};
  c.info.channels = {1, 3};
  c.info.bit_depths = {8};
  c.info.max_side = kJpegMaxSide;
  c.info.lossy = true;
  c.signatures = {std::string("\xff\xd8\xff", 3)};
  c.check_options = check_jpeg_options;
  c.encode = encode_jpeg_row;
  c.decode = decode_jpeg_row;
  return c;
}

}  // namespace torchimage
