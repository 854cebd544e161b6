#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchimage/export.h>

namespace torchimage {

/// The (low, high) range that `normalize` maps onto [0, 1].
/// Example: `MakeGridOptions().normalize(true).value_range({-1.0, 1.0})`
struct ValueRange {
  double low;
  double high;
};

/// How a tensor's dimensions are ordered, named as TensorBoard's
/// `dataformats` strings. The layout is never guessed from the sizes: a 3-D
/// tensor is (C, H, W) unless the layout says channels last.
///  - CHW (default; "NCHW" parses as CHW): (H, W), (C, H, W) or (B, C, H, W), as torchvision.
///  - HWC and NHWC (channels last; the rank says whether there is a batch):
///    (H, W, C) or (B, H, W, C); (H, W) too.
///  - HW: a one-channel map (H, W), or a batch of maps (B, H, W).
/// The tensor is read through a permuted view of it, never copied for this:
/// a (B, H, W, C) tensor gives the same file as its permutation to (B, C, H, W).
enum class Layout { CHW, HWC, NHWC, HW };

/// The layout named `name` ("CHW", "NCHW", "HWC", "NHWC", "HW"; any case);
/// a c10::Error starting with `what` for any other.
TORCHIMAGE_API Layout parse_layout(const std::string& name, const char* what = "layout");

/// The layout's name ("CHW", "HWC", "NHWC", "HW").
TORCHIMAGE_API const char* layout_name(Layout layout);

/// The colormaps `colormap(...)` knows, matplotlib's: viridis, magma,
/// inferno, plasma, cividis, turbo, gray, jet.
TORCHIMAGE_API std::vector<std::string> colormaps();

/// The colours of a label map's classes: entry i is class i's RGB (at most 256).
using Palette = std::vector<std::array<uint8_t, 3>>;

/// The Pascal VOC palette: 256 colours, class 0 black, class 1 (128, 0, 0), ...
TORCHIMAGE_API Palette voc_palette();

/// The palette named `name`: "voc" (voc_palette()); a c10::Error otherwise.
TORCHIMAGE_API Palette named_palette(const std::string& name);

/// The height in pixels of the strip below each image that captions of
/// `caption_size` pixels take: caption_size * 3 / 2 + 2 (17 for 10 px). The
/// text's top (the font's ascender line) is 2 pixels below the image.
constexpr int64_t caption_strip_height(int64_t caption_size) { return caption_size * 3 / 2 + 2; }

namespace detail {

/// The grid arguments shared by MakeGridOptions and SaveImageOptions, with
/// chained setters that return the derived options type (so that
/// `SaveImageOptions().normalize(true).quality(90)` keeps its type).
template <typename Derived>
class GridArgs {
 public:
  /// Images per row of the grid (torchvision's `nrow`). Default 8.
  Derived& nrow(int64_t v) { nrow_ = v; return self(); }
  int64_t nrow() const noexcept { return nrow_; }

  /// Pixels of padding around and between images. Default 2.
  Derived& padding(int64_t v) { padding_ = v; return self(); }
  int64_t padding() const noexcept { return padding_; }

  /// Map value_range (or the tensor's min/max) onto [0, 1]. Default false.
  Derived& normalize(bool v) { normalize_ = v; return self(); }
  bool normalize() const noexcept { return normalize_; }

  /// Range used by `normalize`; unset means the tensor's own min and max.
  Derived& value_range(const ValueRange& v) { value_range_ = v; return self(); }
  Derived& value_range(std::optional<ValueRange> v) { value_range_ = v; return self(); }
  const std::optional<ValueRange>& value_range() const noexcept { return value_range_; }

  /// Normalize every image on its own min/max (or value_range). Default false.
  Derived& scale_each(bool v) { scale_each_ = v; return self(); }
  bool scale_each() const noexcept { return scale_each_; }

  /// Fill value of the padding, in the units of the normalized tensor
  /// (torchvision's `pad_value`). A vector gives one value per channel
  /// (an RGB or RGBA colour); a single value fills every channel.
  Derived& pad_value(double v) { pad_value_ = {v}; return self(); }
  Derived& pad_value(std::vector<double> v) { pad_value_ = std::move(v); return self(); }
  const std::vector<double>& pad_value() const noexcept { return pad_value_; }

  /// How the tensor's dimensions are ordered (see Layout). Default CHW.
  /// Example: `SaveImageOptions().layout(Layout::NHWC)` or `.layout("NHWC")`.
  Derived& layout(Layout v) { layout_ = v; return self(); }
  Derived& layout(const std::string& v) { layout_ = parse_layout(v); return self(); }
  Derived& layout(const char* v) { layout_ = parse_layout(v); return self(); }
  Layout layout() const noexcept { return layout_; }

  /// A colormap for one-channel images (see `colormaps()`; "" for none, the
  /// default). Applied after normalization and quantization: the 8-bit gray
  /// value save_image would write indexes the colormap's 256 RGB entries,
  /// so the file holds matplotlib's `cmap(q, bytes=True)[..., :3]` of that
  /// uint8 grid `q`; make_grid returns entry / 255 (a uint8 or bool input:
  /// the uint8 entries). The padding is coloured too (pad_value is a gray value).
  Derived& colormap(std::string v) { colormap_ = std::move(v); return self(); }
  const std::string& colormap() const noexcept { return colormap_; }

  /// Takes the tensor as a label map: integer class indices (uint8, int8,
  /// int16, int32 or int64; one channel), shown in the palette's colours (at most
  /// 256). A PNG is written as indexed colour (PLTE + 8-bit indices: the
  /// file keeps the class ids, read back with DecodeOptions().keep_indices(true));
  /// other formats get the colours; make_grid returns the uint8 colours.
  /// pad_value is the padding's class index. `palette("voc")`: voc_palette().
  Derived& palette(Palette v) { palette_ = std::move(v); return self(); }
  Derived& palette(const std::string& name) { palette_ = named_palette(name); return self(); }
  Derived& palette(const char* name) { palette_ = named_palette(name); return self(); }
  Derived& palette(std::nullopt_t) { palette_.reset(); return self(); }
  const std::optional<Palette>& palette() const noexcept { return palette_; }

  /// A caption under each image of the grid, one per image ("" leaves its
  /// strip blank; an empty list, the default, means no captions and changes
  /// nothing). Each cell gets a strip of `caption_strip_height(caption_size)`
  /// pixels below it, filled with pad_value like the padding; the text is
  /// drawn in DejaVuSans (FreeType) at caption_size pixels, white (black
  /// where the padding is light), centred in the cell's width when it fits,
  /// else from the cell's left edge and cut at its right edge: never outside
  /// its own strip. Drawn on the finished 8-bit pixels (after normalize,
  /// scale_each and a colormap), so the images' pixels are those without
  /// captions; make_grid returns the text as 8-bit value / 255 for floats.
  /// Not for label maps (palette), 16-bit samples or save_images; a
  /// c10::Error where torchimage was built without FreeType.
  /// Example: `MakeGridOptions().nrow(4).captions({"cat", "dog", "", "owl"})`
  Derived& captions(std::vector<std::string> v) { captions_ = std::move(v); return self(); }
  const std::vector<std::string>& captions() const noexcept { return captions_; }

  /// The captions' font size in pixels (FreeType's pixel size). Default 10,
  /// which makes a 17-pixel strip.
  Derived& caption_size(int64_t v) { caption_size_ = v; return self(); }
  int64_t caption_size() const noexcept { return caption_size_; }

 protected:
  Derived& self() { return static_cast<Derived&>(*this); }

  int64_t nrow_ = 8;
  int64_t padding_ = 2;
  bool normalize_ = false;
  std::optional<ValueRange> value_range_;
  bool scale_each_ = false;
  std::vector<double> pad_value_{0.0};
  Layout layout_ = Layout::CHW;
  std::string colormap_;
  std::optional<Palette> palette_;
  std::vector<std::string> captions_;
  int64_t caption_size_ = 10;
};

}  // namespace detail

/// Options of `make_grid`, torchvision.utils.make_grid's keyword arguments.
/// Example: `make_grid(batch, MakeGridOptions().nrow(4).normalize(true).value_range({-1.0, 1.0}))`
class MakeGridOptions : public detail::GridArgs<MakeGridOptions> {
 public:
  /// Opt-in beyond torchvision: keep one-channel input one channel instead of
  /// repeating it to RGB. Default false.
  MakeGridOptions& grayscale(bool v) { grayscale_ = v; return *this; }
  bool grayscale() const noexcept { return grayscale_; }

 private:
  bool grayscale_ = false;
};

/// Tiles a batch into one image exactly as torchvision.utils.make_grid does.
/// Accepts (H, W), (C, H, W) or (B, C, H, W) on any device and of any
/// floating, uint8 or bool dtype; returns (C, H', W') of the same dtype and
/// device. A batch of one is returned as that image alone, without padding.
TORCHIMAGE_API torch::Tensor make_grid(const torch::Tensor& tensor,
                                       const MakeGridOptions& options = {});

/// Stacks the tensors (all of one shape) and tiles them as above.
TORCHIMAGE_API torch::Tensor make_grid(const std::vector<torch::Tensor>& tensors,
                                       const MakeGridOptions& options = {});

}  // namespace torchimage
