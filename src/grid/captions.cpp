// Captions under the cells of a grid: one FreeType rendering of each caption
// into its cell's strip, blended onto the 8-bit pixels.
#include "grid/captions.h"

#include <algorithm>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "draw/text.h"
#include "grid/quantize.h"

namespace torchimage {
namespace {

// x / 255 rounded to nearest, for x in [0, 255 * 255] (8-bit compositing).
inline uint8_t div255(unsigned x) {
  x += 128;
  return static_cast<uint8_t>(((x >> 8) + x) >> 8);
}

// Where the cells of the grid of `tensor` lie.
struct CellLayout {
  int64_t images = 1;
  int64_t height = 0;   // of an image
  int64_t width = 0;
  int64_t padding = 0;  // none around a single image, as make_grid
  int64_t strip = 0;
  int64_t xmaps = 1;
};

CellLayout cell_layout(const torch::Tensor& tensor, const MakeGridOptions& o) {
  CellLayout c;
  c.images = tensor.dim() == 4 ? tensor.size(0) : 1;
  c.height = tensor.size(tensor.dim() - 2);
  c.width = tensor.size(tensor.dim() - 1);
  c.padding = c.images > 1 ? o.padding() : 0;
  c.strip = caption_strip(o);
  c.xmaps = std::min(o.nrow(), c.images);
  return c;
}

// The text's coverage over the whole grid ((H, W) uint8, CPU): zero outside
// the strips, each caption cut at its own cell's edges.
at::Tensor caption_coverage(int64_t grid_height, int64_t grid_width, const torch::Tensor& tensor,
                            const MakeGridOptions& o, const char* what) {
  const CellLayout c = cell_layout(tensor, o);
  at::Tensor coverage = at::zeros({grid_height, grid_width}, at::kByte);
  uint8_t* cov = coverage.data_ptr<uint8_t>();
  draw_detail::Font font(draw_detail::default_font_path(), static_cast<int>(o.caption_size()),
                         what);
  std::vector<uint8_t> mask;
  const int mw = static_cast<int>(c.width);
  const int mh = static_cast<int>(c.strip);
  for (int64_t k = 0; k < c.images; ++k) {
    const std::string& text = o.captions()[static_cast<size_t>(k)];
    if (text.empty()) continue;
    const int64_t top = (k / c.xmaps) * (c.height + c.padding + c.strip) + c.padding + c.height;
    const int64_t left = (k % c.xmaps) * (c.width + c.padding) + c.padding;
    // Centred when it fits, else from the left edge (its start readable).
    const int advance = font.advance(text);
    const int x = advance <= mw ? (mw - advance) / 2 : 0;
    mask.assign(static_cast<size_t>(mw) * static_cast<size_t>(mh), 0);
    font.render(mask.data(), mw, mh, x, /*y=*/2, text);
    for (int r = 0; r < mh; ++r) {
      std::copy(mask.begin() + static_cast<long>(r) * mw, mask.begin() + static_cast<long>(r + 1) * mw,
                cov + (top + r) * grid_width + left);
    }
  }
  return coverage;
}

// Blends white (black over a light strip) text of `coverage` onto the uint8
// (H, W, C) pixels; an alpha channel gets the text opaque.
void blend(at::Tensor& hwc, const at::Tensor& coverage, const torch::Tensor& tensor,
           const MakeGridOptions& o) {
  const CellLayout c = cell_layout(tensor, o);
  const int64_t width = hwc.size(1);
  const int64_t channels = hwc.size(2);
  uint8_t* px = hwc.data_ptr<uint8_t>();
  const uint8_t* cov = coverage.data_ptr<uint8_t>();
  // The strip's colour (the padding's), at the first cell's strip.
  const uint8_t* bg = px + ((c.padding + c.height) * width + c.padding) * channels;
  const unsigned luma = channels >= 3 ? (299u * bg[0] + 587u * bg[1] + 114u * bg[2] + 500u) / 1000u
                                      : bg[0];
  const unsigned tone = luma >= 128 ? 0u : 255u;
  const bool alpha = channels == 2 || channels == 4;
  const int64_t pixels = hwc.size(0) * width;
  for (int64_t i = 0; i < pixels; ++i) {
    const unsigned a = cov[i];
    if (a == 0) continue;
    uint8_t* p = px + i * channels;
    for (int64_t ch = 0; ch < channels; ++ch) {
      const unsigned ink = alpha && ch == channels - 1 ? 255u : tone;
      p[ch] = div255(unsigned{p[ch]} * (255u - a) + ink * a);
    }
  }
}

}  // namespace

void check_captions(const torch::Tensor& tensor, const MakeGridOptions& o, const char* what,
                    int sample_bits) {
  if (o.captions().empty()) return;
  // What captions exclude first: a label map's tensor is checked after this.
  TORCH_CHECK_VALUE(!o.palette(), what,
                    ": captions are drawn in RGB, not on a label map's class ids (palette)");
  TORCH_CHECK_VALUE(sample_bits == 8, what, ": captions are drawn on 8-bit pixels, not ",
                    sample_bits, "-bit samples");
  TORCH_CHECK_VALUE(o.caption_size() >= 1 && o.caption_size() <= 1024, what,
                    ": caption_size must be in 1-1024 pixels, got ", o.caption_size());
  const int64_t images = tensor.dim() == 4 ? tensor.size(0) : 1;
  TORCH_CHECK_VALUE(static_cast<int64_t>(o.captions().size()) == images, what,
                    ": captions must hold one caption per image (", images, "), got ",
                    o.captions().size(), " (\"\" leaves an image's strip blank)");
  TORCH_CHECK(draw_detail::have_freetype(), what,
              ": captions need FreeType, and this torchimage was built without it "
              "(install libfreetype-dev and rebuild)");
  TORCH_CHECK(draw_detail::default_font_path()[0] != '\0', what,
              ": captions are drawn in DejaVuSans.ttf, which was not found when torchimage was "
              "built (install fonts-dejavu-core and rebuild)");
}

void draw_captions(torch::Tensor& hwc, const torch::Tensor& tensor, const MakeGridOptions& o,
                   const char* what) {
  if (o.captions().empty()) return;
  TORCH_CHECK(hwc.scalar_type() == at::kByte && hwc.dim() == 3 && hwc.is_contiguous() &&
                  hwc.device().is_cpu(),
              what, ": internal: captions expect contiguous uint8 (H, W, C) CPU pixels");
  const at::Tensor coverage = caption_coverage(hwc.size(0), hwc.size(1), tensor, o, what);
  blend(hwc, coverage, tensor, o);
}

torch::Tensor draw_captions_on_grid(const torch::Tensor& grid, const torch::Tensor& tensor,
                                    const MakeGridOptions& o, const char* what) {
  if (o.captions().empty()) return grid;
  at::NoGradGuard no_grad;
  const at::Tensor coverage = caption_coverage(grid.size(1), grid.size(2), tensor, o, what);
  const auto dtype = grid.scalar_type();
  at::Tensor hwc = quantize(grid);  // the 8-bit pixels save_image writes
  blend(hwc, coverage, tensor, o);
  at::Tensor text = hwc.permute({2, 0, 1}).to(grid.device());
  const at::Tensor covered = coverage.to(grid.device()).unsqueeze(0);
  if (dtype == at::kByte) return at::where(covered > 0, text, grid);
  if (dtype == at::kBool) return at::where(covered >= 128, text >= 128, grid);
  text = text.to(at::kFloat).div_(255).to(dtype);
  return at::where(covered > 0, text, grid);
}

}  // namespace torchimage
