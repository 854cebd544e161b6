#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchimage/export.h>
#include <torchimage/files.h>
#include <torchimage/formats.h>
#include <torchimage/make_grid.h>

namespace torchimage {

/// Options of `save_image`: torchvision.utils.save_image's keyword arguments
/// (the make_grid ones plus `format`) and torchimage's: the encoding
/// (`bit_depth`, each format's options nested: `png(...)`, `jpeg(...)`, with
/// `quality` and `compression_level` as shorthand) and the file
/// (`create_directories`, `durable`, `replace_read_only`).
/// Example:
/// `save_image(x, "s.png", SaveImageOptions().nrow(4).normalize(true).value_range({-1.0, 1.0}))`
/// `save_image(x, "s.jpg", SaveImageOptions().jpeg(JpegOptions().quality(90)))`
class SaveImageOptions : public detail::GridArgs<SaveImageOptions>,
                         public detail::EncodeArgs<SaveImageOptions>,
                         public detail::FileArgs<SaveImageOptions> {
 public:
  /// Opt-in: keep one-channel images one channel (gray PNG/JPEG) instead of
  /// repeating them to RGB as torchvision does. Default false.
  SaveImageOptions& grayscale(bool v) { grayscale_ = v; return *this; }
  bool grayscale() const noexcept { return grayscale_; }

  /// Sets the file options (create_directories, durable, replace_read_only)
  /// at once; the setters of the same names are shorthand for this.
  TORCHIMAGE_API SaveImageOptions& file(const WriteFileOptions& v);

  /// The make_grid part of these options.
  TORCHIMAGE_API MakeGridOptions grid_options() const;
  /// The encoding part: format, bit depth, each format's options.
  TORCHIMAGE_API EncodeOptions encode_options() const;
  /// The file part.
  TORCHIMAGE_API WriteFileOptions file_options() const;

 private:
  bool grayscale_ = false;
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
