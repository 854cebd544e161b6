#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/types.h>

#include <torchimage/export.h>
#include <torchimage/files.h>
#include <torchimage/formats.h>

namespace torchimage {

/// Options of `decode_image`.
class DecodeOptions {
 public:
  /// Refuse images of more pixels than this (width x height). Default 2^30.
  DecodeOptions& max_pixels(int64_t v) { max_pixels_ = v; return *this; }
  int64_t max_pixels() const noexcept { return max_pixels_; }

  /// Keep 16-bit PNG and TIFF samples 16-bit instead of reducing them to 8 bits: uint16
  /// where LibTorch has it (2.3+), as torchvision 0.19+ decodes them; int32
  /// values 0-65535 on LibTorch 1.13, which has no uint16. Default false.
  DecodeOptions& keep_16_bit(bool v) { keep_16_bit_ = v; return *this; }
  bool keep_16_bit() const noexcept { return keep_16_bit_; }

  /// An indexed-colour PNG (a label map) gives its 8-bit indices, one
  /// channel, instead of the palette's colours. Default false.
  DecodeOptions& keep_indices(bool v) { keep_indices_ = v; return *this; }
  bool keep_indices() const noexcept { return keep_indices_; }

 private:
  int64_t max_pixels_ = int64_t{1} << 30;
  bool keep_16_bit_ = false;
  bool keep_indices_ = false;
};

/// PNG file bytes (1-D uint8 CPU tensor) of a uint8 (C, H, W) image,
/// C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA), as torchvision.io.encode_png.
/// Where LibTorch has uint16 (2.3+), a uint16 image gives a 16-bit PNG of its samples.
TORCHIMAGE_API torch::Tensor encode_png(const torch::Tensor& image, const PngOptions& options = {});

/// JPEG file bytes of a uint8 (C, H, W) image, C = 1 or 3: the bytes Pillow
/// writes with the same quality on the same libjpeg-turbo.
TORCHIMAGE_API torch::Tensor encode_jpeg(const torch::Tensor& image, const JpegOptions& options = {});

/// Decodes the bytes (1-D uint8 tensor) of any format of the table that reads
/// (PNG, JPEG, TIFF, WebP, BMP, GIF: told by their signature; GIF's first
/// frame, APNG's default image) to (C, H, W): gray is
/// 1 channel, gray + alpha 2, colour 3, colour + alpha 4 (palettes expanded
/// unless `keep_indices`). Samples are uint8, except 16-bit PNG and TIFF
/// samples with `keep_16_bit` (see there) and float32 TIFF samples, returned
/// as float32 values as they were written.
TORCHIMAGE_API torch::Tensor decode_image(const torch::Tensor& data,
                                          const DecodeOptions& options = {});

/// decode_image(read_file(path)).
TORCHIMAGE_API torch::Tensor read_image(const std::string& path,
                                        const DecodeOptions& options = {});

}  // namespace torchimage
