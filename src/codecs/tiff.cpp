// TIFF's row in the table of formats, through libtiff: lossless, 1-4
// channels (gray, gray + alpha, RGB, RGBA; alpha as unassociated
// ExtraSamples, as Pillow writes it), 8- or 16-bit integer samples and float32
// samples (keep_values). Uncompressed by default (Pillow's default, one
// strip, as Pillow's own writer lays it out); deflate, LZW or zstd in strips
// of about 64 KiB (Pillow's libtiff path).
//
// libtiff reports errors through handlers that return: each call here gets
// its own (TIFFOpenOptionsSetErrorHandlerExtR, libtiff 4.5), which keeps the
// first message; the C++ side turns a failed call into a c10::Error with it.
// No longjmp, and no C++ exception crosses libtiff (the stream procedures
// catch their own).
#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "codecs/codec.h"
#include "core/torch_compat.h"

#if TORCHIMAGE_HAVE_TIFF
#include <tiffio.h>
#endif

namespace torchimage {

TiffCompression parse_tiff_compression(const std::string& name, const char* what) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "none" || n == "raw") return TiffCompression::None;
  if (n == "deflate" || n == "tiff_deflate" || n == "tiff_adobe_deflate") {
    return TiffCompression::Deflate;
  }
  if (n == "lzw" || n == "tiff_lzw") return TiffCompression::Lzw;
  if (n == "zstd") return TiffCompression::Zstd;
  TORCH_CHECK(false, what, ": unknown TIFF compression '", name,
              "'; expected none, deflate, lzw or zstd (Pillow's raw, tiff_deflate, tiff_lzw, "
              "zstd)");
}

namespace {

// The largest file classic TIFF addresses (32-bit offsets), less room for the
// header and the directory.
constexpr int64_t kTiffMaxBytes = (int64_t{1} << 32) - (int64_t{1} << 20);

void check_tiff_options(const EncodeOptions& o, const char* what) {
  const auto c = static_cast<int>(o.tiff().compression());
  TORCH_CHECK(c >= 0 && c <= 3, what, ": TIFF compression must be none, deflate, lzw or zstd, got ",
              c);
}

void check_tiff_shape(int64_t height, int64_t width, int64_t channels, int bit_depth,
                      const char* what) {
  // (A float32 image is checked at 8 bits here: the plan's depth. Its samples
  // are 4 bytes; count them so.)
  (void)bit_depth;
  const int64_t bytes = height * width * channels * 4;
  TORCH_CHECK(bytes <= kTiffMaxBytes, what, ": a ", height, "x", width, " image of ", channels,
              " channels exceeds classic TIFF's limit of 4 GiB a file (torchimage writes no "
              "BigTIFF)");
}

#if TORCHIMAGE_HAVE_TIFF

// The first error (or, for errors, the message) libtiff reports on one handle.
struct TiffMessages {
  char error[512] = {0};
};

extern "C" int on_tiff_error(TIFF*, void* user, const char* module, const char* fmt,
                             va_list ap) {
  auto* m = static_cast<TiffMessages*>(user);
  if (m->error[0] == '\0') {
    char text[400];
    std::vsnprintf(text, sizeof(text), fmt, ap);
    std::snprintf(m->error, sizeof(m->error), "%s%s%s", module ? module : "",
                  module ? ": " : "", text);
  }
  return 1;  // handled: nothing printed
}

extern "C" int on_tiff_warning(TIFF*, void*, const char*, const char*, va_list) {
  return 1;  // warnings (unknown tags, ...) are not printed
}

// A file in memory for libtiff: growing bytes to write, or fixed bytes to read.
struct MemoryFile {
  Bytes* out = nullptr;  // writing
  const uint8_t* data = nullptr;  // reading
  size_t size = 0;
  size_t pos = 0;
};

extern "C" tmsize_t mem_read(thandle_t h, void* buf, tmsize_t n) {
  auto* f = static_cast<MemoryFile*>(h);
  if (n < 0) return -1;
  const size_t avail = f->pos < f->size ? f->size - f->pos : 0;
  const size_t k = std::min(avail, static_cast<size_t>(n));
  const uint8_t* src = f->data != nullptr ? f->data : (f->out != nullptr ? f->out->data() : nullptr);
  if (k > 0) std::memcpy(buf, src + f->pos, k);
  f->pos += k;
  return static_cast<tmsize_t>(k);
}

extern "C" tmsize_t mem_write(thandle_t h, void* buf, tmsize_t n) {
  auto* f = static_cast<MemoryFile*>(h);
  if (f->out == nullptr || n < 0) return -1;
  try {
    const size_t end = f->pos + static_cast<size_t>(n);
    if (end > f->out->size()) f->out->resize(end);
    std::memcpy(f->out->data() + f->pos, buf, static_cast<size_t>(n));
    f->pos = end;
    f->size = std::max(f->size, end);
  } catch (...) {
    return -1;  // out of memory: libtiff reports a failed write
  }
  return n;
}

extern "C" toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  auto* f = static_cast<MemoryFile*>(h);
  uint64_t base = 0;
  if (whence == SEEK_CUR) base = f->pos;
  if (whence == SEEK_END) base = f->size;
  const uint64_t to = base + off;
  if (to > (uint64_t{1} << 40)) return static_cast<toff_t>(-1);
  if (f->out != nullptr && to > f->out->size()) {
    try {
      f->out->resize(static_cast<size_t>(to));
    } catch (...) {
      return static_cast<toff_t>(-1);
    }
    f->size = std::max<size_t>(f->size, static_cast<size_t>(to));
  }
  f->pos = static_cast<size_t>(to);
  return to;
}

extern "C" int mem_close(thandle_t) { return 0; }

extern "C" toff_t mem_size(thandle_t h) { return static_cast<MemoryFile*>(h)->size; }

extern "C" int mem_map(thandle_t h, void** base, toff_t* size) {
  auto* f = static_cast<MemoryFile*>(h);
  if (f->data == nullptr) return 0;
  *base = const_cast<uint8_t*>(f->data);
  *size = f->size;
  return 1;
}

extern "C" void mem_unmap(thandle_t, void*, toff_t) {}

// An open handle with its own error handler; closed on destruction.
class TiffHandle {
 public:
  TiffHandle(MemoryFile& file, const char* mode) {
    TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
    TORCH_CHECK(opts != nullptr, "torchimage: out of memory (TIFFOpenOptionsAlloc)");
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_tiff_error, &messages_);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_tiff_warning, nullptr);
    tif_ = TIFFClientOpenExt("torchimage", mode, &file, mem_read, mem_write, mem_seek, mem_close,
                             mem_size, mem_map, mem_unmap, opts);
    TIFFOpenOptionsFree(opts);
  }
  ~TiffHandle() {
    if (tif_ != nullptr) TIFFClose(tif_);
  }
  TiffHandle(const TiffHandle&) = delete;
  TiffHandle& operator=(const TiffHandle&) = delete;

  TIFF* get() const { return tif_; }
  // Closes (flushing what is buffered); false on a failed write.
  bool close() {
    bool ok = true;
    if (tif_ != nullptr) {
      ok = TIFFFlush(tif_) == 1;
      TIFFClose(tif_);
      tif_ = nullptr;
    }
    return ok && messages_.error[0] == '\0';
  }
  std::string error() const {
    return messages_.error[0] != '\0' ? std::string(messages_.error) : std::string("unknown error");
  }

 private:
  TiffMessages messages_;
  TIFF* tif_ = nullptr;
};

uint16_t tiff_compression_tag(TiffCompression c) {
  switch (c) {
    case TiffCompression::Deflate: return COMPRESSION_ADOBE_DEFLATE;
    case TiffCompression::Lzw: return COMPRESSION_LZW;
    case TiffCompression::Zstd: return COMPRESSION_ZSTD;
    case TiffCompression::None: break;
  }
  return COMPRESSION_NONE;
}

void encode_tiff_row(const PixelView& px, const EncodeOptions& o, Bytes& out) {
  const char* what = "encode TIFF";
  const uint16_t compression = tiff_compression_tag(o.tiff().compression());
  TORCH_CHECK(TIFFIsCODECConfigured(compression), what,
              ": this libtiff has no codec for compression ", compression);
  out.clear();
  MemoryFile file;
  file.out = &out;
  TiffHandle tif(file, "wl");
  TORCH_CHECK(tif.get() != nullptr, what, ": libtiff failed: ", tif.error());
  TIFF* t = tif.get();
  const int sample_bytes = px.bit_depth / 8;
  const size_t stride = px.row_bytes();
  // Pillow: one strip uncompressed; 64 KiB strips through libtiff.
  uint32_t rows_per_strip = static_cast<uint32_t>(px.height);
  if (compression != COMPRESSION_NONE) {
    rows_per_strip = static_cast<uint32_t>(
        std::max<int64_t>(1, std::min<int64_t>(65536 / static_cast<int64_t>(stride), px.height)));
  }
  bool ok = TIFFSetField(t, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(px.width)) &&
            TIFFSetField(t, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(px.height)) &&
            TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(px.channels)) &&
            TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(px.bit_depth)) &&
            TIFFSetField(t, TIFFTAG_SAMPLEFORMAT,
                         px.float_samples ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT) &&
            TIFFSetField(t, TIFFTAG_PHOTOMETRIC,
                         px.channels >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK) &&
            TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
            TIFFSetField(t, TIFFTAG_COMPRESSION, compression) &&
            TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
  if (ok && (px.channels == 2 || px.channels == 4)) {
    const uint16_t extra[1] = {EXTRASAMPLE_UNASSALPHA};
    ok = TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, extra);
  }
  TORCH_CHECK(ok, what, ": libtiff failed: ", tif.error());
  // Each strip is copied first: libtiff may change the buffer it encodes
  // (byte order, predictors). 16-bit samples arrive big-endian.
  std::vector<uint8_t> strip;
  for (int64_t y0 = 0, s = 0; y0 < px.height; y0 += rows_per_strip, ++s) {
    const int64_t rows = std::min<int64_t>(rows_per_strip, px.height - y0);
    const size_t n = stride * static_cast<size_t>(rows);
    const uint8_t* src = px.data + stride * static_cast<size_t>(y0);
    strip.resize(n);
    if (sample_bytes == 2) {
      for (size_t i = 0; i < n; i += 2) {
        const uint16_t v = static_cast<uint16_t>((src[i] << 8) | src[i + 1]);
        std::memcpy(strip.data() + i, &v, 2);
      }
    } else {
      std::memcpy(strip.data(), src, n);
    }
    TORCH_CHECK(TIFFWriteEncodedStrip(t, static_cast<uint32_t>(s), strip.data(),
                                      static_cast<tmsize_t>(n)) >= 0,
                what, ": libtiff failed: ", tif.error());
  }
  TORCH_CHECK(TIFFWriteDirectory(t) == 1, what, ": libtiff failed: ", tif.error());
  TORCH_CHECK(tif.close(), what, ": libtiff failed: ", tif.error());
  out.resize(file.size);
}

torch::Tensor decode_tiff_row(const uint8_t* data, size_t size, const DecodeOptions& o) {
  MemoryFile file;
  file.data = data;
  file.size = size;
  TiffHandle tif(file, "r");
  TORCH_CHECK(tif.get() != nullptr, "decode_image: invalid TIFF: ", tif.error());
  TIFF* t = tif.get();
  uint32_t width = 0, height = 0;
  uint16_t spp = 1, bps = 1, format = SAMPLEFORMAT_UINT, photometric = 0,
           planar = PLANARCONFIG_CONTIG;
  TORCH_CHECK(TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &width) == 1 &&
                  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &height) == 1,
              "decode_image: invalid TIFF: no image size (", tif.error(), ")");
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
  TORCH_CHECK(TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photometric) == 1,
              "decode_image: invalid TIFF: no PhotometricInterpretation");
  TORCH_CHECK(width > 0 && height > 0, "decode_image: invalid TIFF: an image of ", height, "x",
              width, " pixels");
  TORCH_CHECK(static_cast<int64_t>(width) * height <= o.max_pixels(), "decode_image: invalid TIFF: image of ",
              height, "x", width, " pixels exceeds max_pixels ", o.max_pixels());
  const bool gray = photometric == PHOTOMETRIC_MINISBLACK && (spp == 1 || spp == 2);
  const bool rgb = photometric == PHOTOMETRIC_RGB && (spp == 3 || spp == 4);
  TORCH_CHECK(gray || rgb, "decode_image: unsupported TIFF: photometric ", photometric, " with ",
              spp, " samples a pixel (expected gray, gray + alpha, RGB or RGBA)");
  const bool is_float = format == SAMPLEFORMAT_IEEEFP && bps == 32;
  TORCH_CHECK(is_float || (format == SAMPLEFORMAT_UINT && (bps == 8 || bps == 16)),
              "decode_image: unsupported TIFF: ", bps, "-bit samples of format ", format,
              " (expected 8- or 16-bit unsigned, or 32-bit float)");
  TORCH_CHECK(planar == PLANARCONFIG_CONTIG || spp == 1,
              "decode_image: unsupported TIFF: separate planes (expected contiguous samples)");
  TORCH_CHECK(!TIFFIsTiled(t), "decode_image: unsupported TIFF: tiled (expected strips)");
  const int64_t h = height, w = width, c = spp;
  const torch::ScalarType dtype = is_float ? torch::kFloat : bps == 16 ? torch::kShort : torch::kUInt8;
  // (16-bit samples are read into int16 storage, then reinterpreted.)
  torch::Tensor hwc = torch::empty({h, w, c}, dtype);
  const tmsize_t line = TIFFScanlineSize(t);
  const size_t want = static_cast<size_t>(w * c * (bps / 8));
  TORCH_CHECK(line > 0 && static_cast<size_t>(line) == want,
              "decode_image: invalid TIFF: scanline of ", line, " bytes, expected ", want);
  auto* base = static_cast<uint8_t*>(hwc.data_ptr());
  for (uint32_t y = 0; y < height; ++y) {
    TORCH_CHECK(TIFFReadScanline(t, base + want * y, y, 0) == 1, "decode_image: invalid TIFF: ",
                tif.error());
  }
  hwc = hwc.permute({2, 0, 1}).contiguous();
  if (bps != 16) return hwc;
  // 16-bit samples: kept (uint16: the int16 storage reinterpreted, where
  // LibTorch has it; int32 on 1.13), else reduced to 8 bits as libpng's
  // png_set_scale_16 does for PNG: (v * 255 + 32895) >> 16.
#if TORCHIMAGE_HAS_UINT16
  if (o.keep_16_bit()) return hwc.view(compat::kSample16);
#endif
  const torch::Tensor wide = hwc.to(torch::kInt).bitwise_and(0xffff);
  if (o.keep_16_bit()) return wide;
  return (wide * 255 + 32895).div(65536, "floor").to(torch::kUInt8);
}

#endif  // TORCHIMAGE_HAVE_TIFF

}  // namespace

Codec tiff_codec() {
  Codec c;
  c.info.format = ImageFormat::TIFF;
  c.info.name = "tiff";
  c.info.display_name = "TIFF";
  c.info.aliases = {"tif"};
  c.info.extensions = {"tif", "tiff"};
  c.info.channels = {1, 2, 3, 4};
  c.info.bit_depths = {8, 16};
  c.info.float_samples = true;
  c.info.max_side = 0x7fffffff;
  c.signatures = {std::string("II*\0", 4), std::string("MM\0*", 4)};
  c.check_options = check_tiff_options;
  c.check_shape = check_tiff_shape;
#if TORCHIMAGE_HAVE_TIFF
  c.encode = encode_tiff_row;
  c.decode = decode_tiff_row;
#else
  c.info.available = false;
#endif
  return c;
}

}  // namespace torchimage
