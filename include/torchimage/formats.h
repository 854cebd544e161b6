#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torchimage/export.h>

namespace torchimage {

/// Image file formats. The values are fixed: they may be stored or sent.
enum class ImageFormat : uint8_t { PNG = 0, JPEG = 1, TIFF = 2, WEBP = 3, BMP = 4, GIF = 5 };

/// One row of torchimage's table of formats: what every face (C++, the CLI,
/// Python) knows of a format. Messages that list formats, `parse_format`,
/// `resolve_format` and `decode_image` all read this table; there is no other.
struct FormatInfo {
  ImageFormat format;
  /// Canonical name, lower case: "png", "jpeg".
  std::string name;
  /// How messages write it: "PNG", "JPEG".
  std::string display_name;
  /// Other names `parse_format` takes (any case): {"jpg"}.
  std::vector<std::string> aliases;
  /// File name extensions, lower case, without the dot; the first is the usual
  /// one. Pillow's list for the format, so that a path means the same format
  /// in C++ as in torchvision's save_image.
  std::vector<std::string> extensions;
  /// Channel counts it writes: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
  std::vector<int64_t> channels;
  /// Bits per integer sample it writes: {8} or {8, 16}.
  std::vector<int> bit_depths;
  /// Whether it writes float32 samples as they are (`keep_values(true)`).
  bool float_samples = false;
  /// The largest width or height it writes.
  int64_t max_side = 0;
  /// Whether encoding loses information (quality settings apply).
  bool lossy = false;
  /// Whether it holds several frames: AnimationWriter and save_animation
  /// write it (PNG as APNG, WebP, GIF).
  bool animated = false;
  /// Whether this build has its library. A format built without it stays in
  /// the table; using it is an error that says so.
  bool available = true;
  /// Whether it writes indexed colour (a palette and 8-bit indices): label
  /// maps keep their class ids there; other formats get their colours.
  bool indexed = false;
};

/// The table of formats, in the order messages list them.
TORCHIMAGE_API const std::vector<FormatInfo>& formats();

/// The row of `format` (an error for a value outside the enum).
TORCHIMAGE_API const FormatInfo& format_info(ImageFormat format);

/// A format's name or alias (any case) to the format; anything else is an
/// error that lists the supported formats. `what` names the caller.
TORCHIMAGE_API ImageFormat parse_format(const std::string& name,
                                        const char* what = "parse_format");

/// The format a path's extension names (any case), if any.
TORCHIMAGE_API std::optional<ImageFormat> format_of_path(const std::string& path);

/// The explicit `format` when given, else the one the path's extension names;
/// an error when neither says (or the path holds a NUL byte).
TORCHIMAGE_API ImageFormat resolve_format(const std::string& path,
                                          const std::optional<ImageFormat>& format,
                                          const char* what = "save_image");

/// Options of the PNG encoder.
/// Example: `SaveImageOptions().png(PngOptions().compression_level(9))`
class PngOptions {
 public:
  /// zlib level 0-9, byte-identical to Pillow's `compress_level`; unset: the
  /// fast default engine (see docs/performance.md).
  PngOptions& compression_level(std::optional<int> v) { compression_level_ = v; return *this; }
  const std::optional<int>& compression_level() const noexcept { return compression_level_; }

 private:
  std::optional<int> compression_level_;
};

/// Options of the JPEG encoder: Pillow's settings (4:2:0, accurate integer
/// DCT, baseline), so that the bytes are the ones Pillow writes.
/// Example: `SaveImageOptions().jpeg(JpegOptions().quality(90))`
class JpegOptions {
 public:
  /// 1-100, default 75 (Pillow's).
  JpegOptions& quality(int v) { quality_ = v; return *this; }
  int quality() const noexcept { return quality_; }

 private:
  int quality_ = 75;
};

/// TIFF's compression: Pillow's `compression` values are `raw`, `tiff_deflate`,
/// `tiff_lzw` and `zstd` (`parse_tiff_compression` takes both spellings).
enum class TiffCompression : uint8_t { None = 0, Deflate = 1, Lzw = 2, Zstd = 3 };

/// "none", "deflate", "lzw" or "zstd", or Pillow's "raw", "tiff_deflate",
/// "tiff_adobe_deflate", "tiff_lzw" (any case); anything else is an error
/// that lists them. `what` names the caller.
TORCHIMAGE_API TiffCompression parse_tiff_compression(const std::string& name,
                                                      const char* what = "tiff compression");

/// Options of the TIFF encoder (libtiff).
/// Example: `SaveImageOptions().tiff(TiffOptions().compression(TiffCompression::Lzw))`
class TiffOptions {
 public:
  /// Default none (uncompressed), as Pillow writes.
  TiffOptions& compression(TiffCompression v) { compression_ = v; return *this; }
  TiffOptions& compression(const std::string& name) {
    compression_ = parse_tiff_compression(name, "compression");
    return *this;
  }
  TiffCompression compression() const noexcept { return compression_; }

 private:
  TiffCompression compression_ = TiffCompression::None;
};

/// Options of the WebP encoder (libwebp), Pillow's settings: a preset of the
/// quality, the method, RGB(A) imported as ARGB, `exact` off.
/// Example: `SaveImageOptions().webp(WebpOptions().lossless(true))`
class WebpOptions {
 public:
  /// 1-100, default 80 (Pillow's). For lossless files, the effort.
  WebpOptions& quality(int v) { quality_ = v; return *this; }
  int quality() const noexcept { return quality_; }
  /// Lossless instead of lossy. Default false.
  WebpOptions& lossless(bool v) { lossless_ = v; return *this; }
  bool lossless() const noexcept { return lossless_; }
  /// 0 (fast) to 6 (slow, smaller), default 4 (Pillow's).
  WebpOptions& method(int v) { method_ = v; return *this; }
  int method() const noexcept { return method_; }

 private:
  int quality_ = 80;
  bool lossless_ = false;
  int method_ = 4;
};

namespace detail {

/// The encoding arguments shared by EncodeOptions and SaveImageOptions: the
/// format, the sample depth and each format's own options, nested. Every
/// format's options are checked whatever the format written (a quality of 0
/// is a mistake even where it is not used).
template <typename Derived>
class EncodeArgs {
 public:
  /// File format; unset means "from the path's extension" (PNG for bytes).
  Derived& format(std::optional<ImageFormat> v) { format_ = v; return self(); }
  Derived& format(const std::string& name) {
    format_ = parse_format(name, "format");
    return self();
  }
  const std::optional<ImageFormat>& format() const noexcept { return format_; }

  /// Bits per sample, 8 (torchvision's) or 16 where the format has it (see
  /// `formats()`): floats are quantized to 0-65535 with torchvision's rule
  /// (`* 65535 + 0.5`, clamp, truncate), uint8 is scaled by 257, and uint16
  /// (LibTorch 2.3+) or int32 tensors (values 0-65535: 1.13's stand-in for
  /// uint16) are taken as finished 16-bit samples. Default 8.
  Derived& bit_depth(int v) { bit_depth_ = v; return self(); }
  int bit_depth() const noexcept { return bit_depth_; }

  /// Write the grid's values as float32 samples, as they are: no `* 255`, no
  /// clamp, no quantization (the padding is `pad_value` itself), for formats
  /// with float samples (`FormatInfo::float_samples`: TIFF). `normalize` and
  /// `value_range` still apply, as in make_grid. Excludes bit_depth(16).
  /// Default false.
  Derived& keep_values(bool v) { keep_values_ = v; return self(); }
  bool keep_values() const noexcept { return keep_values_; }

  /// PNG's options.
  Derived& png(const PngOptions& v) { png_ = v; return self(); }
  const PngOptions& png() const noexcept { return png_; }

  /// JPEG's options.
  Derived& jpeg(const JpegOptions& v) { jpeg_ = v; return self(); }
  const JpegOptions& jpeg() const noexcept { return jpeg_; }

  /// TIFF's options.
  Derived& tiff(const TiffOptions& v) { tiff_ = v; return self(); }
  const TiffOptions& tiff() const noexcept { return tiff_; }

  /// WebP's options.
  Derived& webp(const WebpOptions& v) { webp_ = v; return self(); }
  const WebpOptions& webp() const noexcept { return webp_; }

  /// Shorthand for `png(PngOptions().compression_level(v))`.
  Derived& compression_level(std::optional<int> v) { png_.compression_level(v); return self(); }
  const std::optional<int>& compression_level() const noexcept { return png_.compression_level(); }

  /// The quality of every lossy format (JPEG's and WebP's), whichever is
  /// written: shorthand for `jpeg(JpegOptions().quality(v))` and
  /// `webp(WebpOptions().quality(v))`. Unset, each keeps its default (JPEG 75,
  /// WebP 80, as Pillow).
  Derived& quality(int v) {
    jpeg_.quality(v);
    webp_.quality(v);
    return self();
  }
  /// JPEG's quality.
  int quality() const noexcept { return jpeg_.quality(); }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  std::optional<ImageFormat> format_;
  int bit_depth_ = 8;
  bool keep_values_ = false;
  PngOptions png_;
  JpegOptions jpeg_;
  TiffOptions tiff_;
  WebpOptions webp_;
};

}  // namespace detail

/// The encoding part of `SaveImageOptions`, on its own.
class EncodeOptions : public detail::EncodeArgs<EncodeOptions> {};

/// Checks encoding options as every encoding call does before any work:
/// `bit_depth` one that some format writes, and every format's own options
/// (quality 1-100, compression_level 0-9) whatever the format written.
/// Throws c10::Error starting with `what`. The faces that hand a format to
/// another encoder (Python's Pillow formats) check their options here, so
/// that a bad value is refused with the library's message everywhere.
TORCHIMAGE_API void check_encode_options(const EncodeOptions& options,
                                         const char* what = "check_encode_options");

}  // namespace torchimage
