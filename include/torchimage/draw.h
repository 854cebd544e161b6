#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include <torchimage/export.h>

namespace torchimage {

/// An RGB colour written as Pillow's ImageColor reads it: a name ("red",
/// "DarkOliveGreen": the CSS colour names, any case), "#RGB", "#RRGGBB",
/// "rgb(r, g, b)", or three values (clamped to 0-255 as Pillow clamps ink).
/// Throws c10::Error for a string it does not know.
TORCHIMAGE_API std::array<uint8_t, 3> parse_color(const std::string& spec);

/// A colour argument of the drawing functions: a string (see `parse_color`)
/// or three values. Example: `Color("red")`, `Color("#FF00FF")`, `Color(240, 10, 157)`.
class Color {
 public:
  Color(const char* spec) : rgb_(parse_color(spec)) {}         // NOLINT: implicit on purpose
  Color(const std::string& spec) : rgb_(parse_color(spec)) {}  // NOLINT
  Color(int64_t r, int64_t g, int64_t b) : rgb_{clip(r), clip(g), clip(b)} {}
  Color(const std::array<int64_t, 3>& v) : Color(v[0], v[1], v[2]) {}  // NOLINT
  const std::array<uint8_t, 3>& rgb() const noexcept { return rgb_; }

 private:
  static uint8_t clip(int64_t v) { return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }
  std::array<uint8_t, 3> rgb_;
};

/// torchvision's default colours for `n` boxes or masks
/// (`torchvision.utils._generate_color_palette`).
TORCHIMAGE_API std::vector<Color> default_colors(int64_t n);

/// Options of `draw_bounding_boxes`: torchvision.utils.draw_bounding_boxes's
/// keyword arguments.
class DrawBoundingBoxesOptions {
 public:
  /// One label per box (drawn inside the box's top-left corner), or none.
  DrawBoundingBoxesOptions& labels(std::vector<std::string> v) { labels_ = std::move(v); return *this; }
  const std::optional<std::vector<std::string>>& labels() const noexcept { return labels_; }

  /// One colour for every box, or at least one per box. Default: torchvision's palette.
  DrawBoundingBoxesOptions& colors(std::vector<Color> v) { colors_ = std::move(v); return *this; }
  const std::optional<std::vector<Color>>& colors() const noexcept { return colors_; }

  /// Fill each box with its colour at alpha 100/255 (Pillow's RGBA blend). Default false.
  DrawBoundingBoxesOptions& fill(bool v) { fill_ = v; return *this; }
  bool fill() const noexcept { return fill_; }

  /// Width of the outline in pixels, drawn inwards. Default 1.
  DrawBoundingBoxesOptions& width(int64_t v) { width_ = v; return *this; }
  int64_t width() const noexcept { return width_; }

  /// A TrueType/OpenType font file for the labels; default DejaVuSans
  /// (fonts-dejavu-core), where Pillow 9.4 uses its bitmap font.
  DrawBoundingBoxesOptions& font(std::string v) { font_ = std::move(v); return *this; }
  const std::optional<std::string>& font() const noexcept { return font_; }

  /// Size of the labels' font in pixels. Default 10 (torchvision's with a font).
  DrawBoundingBoxesOptions& font_size(int64_t v) { font_size_ = v; return *this; }
  const std::optional<int64_t>& font_size() const noexcept { return font_size_; }

 private:
  std::optional<std::vector<std::string>> labels_;
  std::optional<std::vector<Color>> colors_;
  bool fill_ = false;
  int64_t width_ = 1;
  std::optional<std::string> font_;
  std::optional<int64_t> font_size_;
};

/// Draws boxes (N, 4) in (xmin, ymin, xmax, ymax) pixel coordinates (any
/// real or integer dtype; truncated towards zero as torchvision does) on a
/// uint8 (1 or 3, H, W) image, as torchvision.utils.draw_bounding_boxes
/// (0.14) with Pillow 9.4 does: the same pixels, labels' text aside. Returns
/// a new uint8 (3, H, W) CPU tensor; the input is not modified. A floating
/// image with values in [0, 1] is taken as torchvision >= 0.19 takes it:
/// drawn on as `(image * (255 + 1 - 1e-3)).to(uint8)`, returned as
/// `out.to(dtype) * (1 / 255)` (ATen's operators, torchvision's order).
TORCHIMAGE_API torch::Tensor draw_bounding_boxes(const torch::Tensor& image,
                                                 const torch::Tensor& boxes,
                                                 const DrawBoundingBoxesOptions& options = {});

/// Options of `draw_segmentation_masks`.
class DrawSegmentationMasksOptions {
 public:
  /// 0: the image unchanged, 1: the masks' colours only. Default 0.8.
  DrawSegmentationMasksOptions& alpha(double v) { alpha_ = v; return *this; }
  double alpha() const noexcept { return alpha_; }

  /// One colour for every mask, or at least one per mask. Default: torchvision's palette.
  DrawSegmentationMasksOptions& colors(std::vector<Color> v) { colors_ = std::move(v); return *this; }
  const std::optional<std::vector<Color>>& colors() const noexcept { return colors_; }

 private:
  double alpha_ = 0.8;
  std::optional<std::vector<Color>> colors_;
};

/// Blends bool masks (N, H, W) or (H, W) onto a uint8 (3, H, W) image as
/// torchvision.utils.draw_segmentation_masks does (a later mask covers an
/// earlier one; `image * (1 - alpha) + colored * alpha` in float, truncated).
/// A floating image in [0, 1] (torchvision >= 0.19) is blended with the
/// colours / 255 in its own dtype and returned in it.
TORCHIMAGE_API torch::Tensor draw_segmentation_masks(
    const torch::Tensor& image, const torch::Tensor& masks,
    const DrawSegmentationMasksOptions& options = {});

/// Options of `draw_keypoints`.
class DrawKeypointsOptions {
 public:
  /// Pairs of keypoint indices joined by a white line of `width`.
  DrawKeypointsOptions& connectivity(std::vector<std::pair<int64_t, int64_t>> v) {
    connectivity_ = std::move(v);
    return *this;
  }
  const std::vector<std::pair<int64_t, int64_t>>& connectivity() const noexcept {
    return connectivity_;
  }

  /// The keypoints' colour. Unset: no disc is drawn (torchvision's default:
  /// Pillow draws neither fill nor a zero-width outline), only the lines.
  DrawKeypointsOptions& colors(Color v) { colors_ = v; return *this; }
  const std::optional<Color>& colors() const noexcept { return colors_; }

  /// Radius of each keypoint's disc. Default 2.
  DrawKeypointsOptions& radius(int64_t v) { radius_ = v; return *this; }
  int64_t radius() const noexcept { return radius_; }

  /// Width of the connecting lines. Default 3.
  DrawKeypointsOptions& width(int64_t v) { width_ = v; return *this; }
  int64_t width() const noexcept { return width_; }

 private:
  std::vector<std::pair<int64_t, int64_t>> connectivity_;
  std::optional<Color> colors_;
  int64_t radius_ = 2;
  int64_t width_ = 3;
};

/// Draws keypoints (num_instances, K, 2) as (x, y) (truncated towards zero)
/// on a uint8 (3, H, W) image as torchvision.utils.draw_keypoints does (a
/// floating image in [0, 1] as draw_bounding_boxes takes it).
TORCHIMAGE_API torch::Tensor draw_keypoints(const torch::Tensor& image,
                                            const torch::Tensor& keypoints,
                                            const DrawKeypointsOptions& options = {});

/// Batches, beyond torchvision (whose functions take one image): what a
/// detection or segmentation net gives per image. `images` is (B, C, H, W)
/// and the list holds one tensor per image, each as the one-image function
/// takes it: boxes (Nᵢ, 4), masks (Nᵢ, H, W) or (H, W), keypoints (Nᵢ, K, 2).
/// Nᵢ may be 0: that image is left as it is (without the one-image
/// function's warning). `options` holds one entry for every image (or none:
/// the defaults), or one per image (each image's labels or colours). Image i
/// of the result is the one-image function's result for image i, a
/// 1-channel image tiled to RGB; the result is (B, 3, H, W) of the images'
/// dtype (boxes and keypoints on the CPU, masks on the images' device), ready
/// for make_grid or save_image. Errors name the image's index.
TORCHIMAGE_API torch::Tensor draw_bounding_boxes(
    const torch::Tensor& images, const std::vector<torch::Tensor>& boxes,
    const std::vector<DrawBoundingBoxesOptions>& options = {});
TORCHIMAGE_API torch::Tensor draw_segmentation_masks(
    const torch::Tensor& images, const std::vector<torch::Tensor>& masks,
    const std::vector<DrawSegmentationMasksOptions>& options = {});
TORCHIMAGE_API torch::Tensor draw_keypoints(const torch::Tensor& images,
                                            const std::vector<torch::Tensor>& keypoints,
                                            const std::vector<DrawKeypointsOptions>& options = {});

/// Optical flow (2, H, W) or (N, 2, H, W), float32, to a uint8 (3, H, W) or
/// (N, 3, H, W) image on the flow's device: torchvision.utils.flow_to_image,
/// the same ATen operations in the same order (bit-identical on one LibTorch).
TORCHIMAGE_API torch::Tensor flow_to_image(const torch::Tensor& flow);

}  // namespace torchimage
