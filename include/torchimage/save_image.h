#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchimage/export.h>
#include <torchimage/make_grid.h>

namespace torchimage {

/// Image file formats torchimage writes.
enum class ImageFormat { PNG, JPEG };

/// "png" or "jpeg"/"jpg" (any case) to a format; anything else is an error
/// that lists the supported formats. `what` names the caller in the message.
TORCHIMAGE_API ImageFormat parse_format(const std::string& name,
                                        const char* what = "parse_format");

/// The format a path's extension names (.png, .jpg, .jpeg, any case), or the
/// explicit `format` when given; an error when neither says.
TORCHIMAGE_API ImageFormat resolve_format(const std::string& path,
                                          const std::optional<ImageFormat>& format,
                                          const char* what = "save_image");

/// Options of `save_image`: torchvision.utils.save_image's keyword arguments
/// (the make_grid ones plus `format`) and torchimage's opt-ins.
/// Example:
/// `save_image(x, "s.png", SaveImageOptions().nrow(4).normalize(true).value_range({-1.0, 1.0}))`
class SaveImageOptions : public detail::GridArgs<SaveImageOptions> {
 public:
  /// File format; unset means "from the path's extension".
  SaveImageOptions& format(std::optional<ImageFormat> v) { format_ = v; return *this; }
  SaveImageOptions& format(const std::string& name) { format_ = parse_format(name, "SaveImageOptions::format"); return *this; }
  const std::optional<ImageFormat>& format() const noexcept { return format_; }

  /// JPEG quality, 1-100 (Pillow's default 75).
  SaveImageOptions& quality(int v) { quality_ = v; return *this; }
  int quality() const noexcept { return quality_; }

  /// PNG zlib level 0-9, byte-identical to Pillow's `compress_level`.
  /// Unset: the fast default engine (see README).
  SaveImageOptions& compression_level(std::optional<int> v) { compression_level_ = v; return *this; }
  const std::optional<int>& compression_level() const noexcept { return compression_level_; }

  /// Opt-in: keep one-channel images one channel (gray PNG/JPEG) instead of
  /// repeating them to RGB as torchvision does. Default false.
  SaveImageOptions& grayscale(bool v) { grayscale_ = v; return *this; }
  bool grayscale() const noexcept { return grayscale_; }

  /// Create missing parent directories of the output path. Default false:
  /// a missing directory is an error.
  SaveImageOptions& create_directories(bool v) { create_directories_ = v; return *this; }
  bool create_directories() const noexcept { return create_directories_; }

  /// fsync the file (and its directory) before returning, so the image
  /// survives a power loss, not only a crash of the process. Default false
  /// (torchvision never syncs; a sync costs milliseconds per file).
  SaveImageOptions& durable(bool v) { durable_ = v; return *this; }
  bool durable() const noexcept { return durable_; }

  /// Replace an existing file that this user could not open for writing (a
  /// read-only file). Default false: such a file is an error and is kept, as
  /// torchvision's open() refuses it.
  SaveImageOptions& replace_read_only(bool v) { replace_read_only_ = v; return *this; }
  bool replace_read_only() const noexcept { return replace_read_only_; }

  /// PNG sample depth, 8 (torchvision's) or 16: floats are quantized to
  /// 0-65535 with the same rule (`* 65535 + 0.5`, clamp, truncate), uint8 is
  /// scaled by 257, and uint16 (LibTorch 2.3+) or int32 tensors (values
  /// 0-65535: 1.13's stand-in for uint16) are taken as finished 16-bit samples.
  SaveImageOptions& bit_depth(int v) { bit_depth_ = v; return *this; }
  int bit_depth() const noexcept { return bit_depth_; }

  /// The make_grid part of these options.
  TORCHIMAGE_API MakeGridOptions grid_options() const;

 private:
  std::optional<ImageFormat> format_;
  int quality_ = 75;
  std::optional<int> compression_level_;
  bool grayscale_ = false;
  bool create_directories_ = false;
  bool durable_ = false;
  bool replace_read_only_ = false;
  int bit_depth_ = 8;
};

/// Writes `tensor` (a batch, one image, or (H, W)) as torchvision.utils.save_image
/// would: make_grid, `* 255 + 0.5`, clamp to [0, 255], truncate to uint8, encode,
/// and write atomically (a temporary file in the target's directory renamed
/// over `path`). float16/32/64 and bfloat16 on any device, with or without
/// grad; uint8 is taken as finished pixels and bool as 0/255.
TORCHIMAGE_API void save_image(const torch::Tensor& tensor, const std::string& path,
                               const SaveImageOptions& options = {});
TORCHIMAGE_API void save_image(const std::vector<torch::Tensor>& tensors,
                               const std::string& path,
                               const SaveImageOptions& options = {});

/// What `save_image` would write, as a 1-D uint8 CPU tensor of file bytes.
/// The format is `options.format()`, PNG when unset.
TORCHIMAGE_API torch::Tensor encode_image(const torch::Tensor& tensor,
                                          const SaveImageOptions& options = {});
TORCHIMAGE_API torch::Tensor encode_image(const std::vector<torch::Tensor>& tensors,
                                          const SaveImageOptions& options = {});

/// The uint8 (H, W, C) CPU pixels that `save_image` would encode:
/// make_grid followed by torchvision's quantization.
TORCHIMAGE_API torch::Tensor to_pixels(const torch::Tensor& tensor,
                                       const SaveImageOptions& options = {});
TORCHIMAGE_API torch::Tensor to_pixels(const std::vector<torch::Tensor>& tensors,
                                       const SaveImageOptions& options = {});

}  // namespace torchimage
