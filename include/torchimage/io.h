#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/types.h>

#include <torchimage/export.h>

namespace torchimage {

/// Options of `encode_png`.
/// Example: `encode_png(img, PngOptions().compression_level(9))`
class PngOptions {
 public:
  /// zlib level 0-9, byte-identical to Pillow's `compress_level`; unset: the
  /// default engine.
  PngOptions& compression_level(std::optional<int> v) { compression_level_ = v; return *this; }
  const std::optional<int>& compression_level() const noexcept { return compression_level_; }

 private:
  std::optional<int> compression_level_;
};

/// Options of `encode_jpeg`.
/// Example: `encode_jpeg(img, JpegOptions().quality(90))`
class JpegOptions {
 public:
  /// 1-100, default 75 (Pillow's). 4:2:0, accurate integer DCT, baseline.
  JpegOptions& quality(int v) { quality_ = v; return *this; }
  int quality() const noexcept { return quality_; }

 private:
  int quality_ = 75;
};

/// Options of `decode_image`.
class DecodeOptions {
 public:
  /// Refuse images of more pixels than this (width x height). Default 2^30.
  DecodeOptions& max_pixels(int64_t v) { max_pixels_ = v; return *this; }
  int64_t max_pixels() const noexcept { return max_pixels_; }

  /// Keep 16-bit PNG samples 16-bit instead of reducing them to 8 bits: uint16
  /// where LibTorch has it (2.3+), as torchvision 0.19+ decodes them; int32
  /// values 0-65535 on LibTorch 1.13, which has no uint16. Default false.
  DecodeOptions& keep_16_bit(bool v) { keep_16_bit_ = v; return *this; }
  bool keep_16_bit() const noexcept { return keep_16_bit_; }

 private:
  int64_t max_pixels_ = int64_t{1} << 30;
  bool keep_16_bit_ = false;
};

/// PNG file bytes (1-D uint8 CPU tensor) of a uint8 (C, H, W) image,
/// C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA), as torchvision.io.encode_png.
/// Where LibTorch has uint16 (2.3+), a uint16 image gives a 16-bit PNG of its samples.
TORCHIMAGE_API torch::Tensor encode_png(const torch::Tensor& image, const PngOptions& options = {});

/// JPEG file bytes of a uint8 (C, H, W) image, C = 1 or 3: the bytes Pillow
/// writes with the same quality on the same libjpeg-turbo.
TORCHIMAGE_API torch::Tensor encode_jpeg(const torch::Tensor& image, const JpegOptions& options = {});

/// Decodes PNG or JPEG bytes (1-D uint8 tensor) to uint8 (C, H, W): gray is 1
/// channel, gray + alpha 2, colour 3, colour + alpha 4 (palettes expanded).
/// 16-bit PNG samples are reduced to 8 bits unless `keep_16_bit`.
TORCHIMAGE_API torch::Tensor decode_image(const torch::Tensor& data,
                                          const DecodeOptions& options = {});

/// The bytes of a regular file as a 1-D uint8 tensor (a FIFO, device or
/// directory is refused without blocking).
TORCHIMAGE_API torch::Tensor read_file(const std::string& path);

/// decode_image(read_file(path)).
TORCHIMAGE_API torch::Tensor read_image(const std::string& path,
                                        const DecodeOptions& options = {});

/// Options of `write_file`.
class WriteFileOptions {
 public:
  /// Create missing parent directories. Default false.
  WriteFileOptions& create_directories(bool v) { create_directories_ = v; return *this; }
  bool create_directories() const noexcept { return create_directories_; }
  /// fsync file and directory before returning. Default false.
  WriteFileOptions& durable(bool v) { durable_ = v; return *this; }
  bool durable() const noexcept { return durable_; }
  /// Replace an existing file that this user could not open for writing (a
  /// read-only file, 0444). Default false: such a file is an error and kept,
  /// as open() would refuse it.
  WriteFileOptions& replace_read_only(bool v) { replace_read_only_ = v; return *this; }
  bool replace_read_only() const noexcept { return replace_read_only_; }

 private:
  bool create_directories_ = false;
  bool durable_ = false;
  bool replace_read_only_ = false;
};

/// Writes bytes atomically: into a temporary file `.<name>.tmp-XXXXXX` in the
/// target's directory, renamed over `path` once complete. On failure neither a
/// partial nor a temporary file remains and an existing file is untouched.
/// Symbolic links are written through (a loop of them is an error); devices,
/// FIFOs and open descriptors (/dev/null, /dev/stdout, /dev/fd/N) are written
/// in place. A path holding a NUL byte is refused (c10::ValueError).
TORCHIMAGE_API void write_file(const std::string& path, const void* data, size_t size,
                               const WriteFileOptions& options = {});
TORCHIMAGE_API void write_file(const std::string& path, const torch::Tensor& data,
                               const WriteFileOptions& options = {});

}  // namespace torchimage
