// Label maps: integer class indices drawn in a palette's colours. The grid
// of indices is make_grid's (tiles and padding, the padding a class index);
// a PNG keeps the indices (indexed colour), other formats get the colours.
#include "grid/labels.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "core/prepare.h"
#include "grid/grid_shape.h"

namespace torchimage {

Palette voc_palette() {
  // The Pascal VOC devkit's: the bits of the class id spread over the
  // colour's bits, highest first (class 1 is (128, 0, 0)).
  Palette p(256);
  for (int i = 0; i < 256; ++i) {
    int c = i;
    uint8_t rgb[3] = {0, 0, 0};
    for (int j = 0; j < 8; ++j) {
      for (int k = 0; k < 3; ++k) rgb[k] |= static_cast<uint8_t>(((c >> k) & 1) << (7 - j));
      c >>= 3;
    }
    p[static_cast<size_t>(i)] = {rgb[0], rgb[1], rgb[2]};
  }
  return p;
}

Palette named_palette(const std::string& name) {
  TORCH_CHECK_VALUE(name == "voc" || name == "VOC", "palette: unknown palette '", name,
                    "' (expected 'voc', or a list of colours)");
  return voc_palette();
}

bool is_label_dtype(c10::ScalarType t) {
  return t == at::kByte || t == at::kChar || t == at::kShort || t == at::kInt || t == at::kLong;
}

void check_label_input(const torch::Tensor& tensor, const MakeGridOptions& o, const char* what) {
  const Palette& palette = *o.palette();
  TORCH_CHECK_VALUE(!palette.empty() && palette.size() <= 256, what, ": a palette holds 1 to 256 "
                    "colours (8-bit indices), got ", palette.size(), " classes");
  TORCH_CHECK(tensor.defined(), what, ": expected a tensor, got an undefined one");
  check_tensor_kind(tensor, what);
  TORCH_CHECK_VALUE(is_label_dtype(tensor.scalar_type()), what,
                    ": a label map (palette) holds integer class indices (uint8, int8, int16, "
                    "int32 or int64), got ", tensor.scalar_type());
  TORCH_CHECK_VALUE(tensor.dim() >= 2 && tensor.dim() <= 4, what,
                    ": expected a 2-D (H, W), 3-D (1, H, W) or 4-D (B, 1, H, W) label map, got ",
                    tensor.dim(), "-D with shape ", tensor.sizes());
  TORCH_CHECK_VALUE(tensor.dim() == 2 || tensor.size(tensor.dim() - 3) == 1, what,
                    ": a label map has one channel, got ", tensor.size(tensor.dim() - 3),
                    " (shape ", tensor.sizes(), ")");
  TORCH_CHECK_VALUE(tensor.numel() > 0, what, ": expected a non-empty tensor, got shape ",
                    tensor.sizes());
  TORCH_CHECK_VALUE(o.nrow() >= 1, what, ": nrow must be at least 1, got ", o.nrow());
  TORCH_CHECK_VALUE(o.padding() >= 0, what, ": padding must be non-negative, got ", o.padding());
  TORCH_CHECK_VALUE(o.colormap().empty(), what, ": a label map takes a palette, not a colormap");
  TORCH_CHECK_VALUE(o.pad_value().size() == 1, what,
                    ": the padding of a label map is one class index, got ", o.pad_value().size(),
                    " values");
  const double pad = o.pad_value()[0];
  const auto n = static_cast<int64_t>(palette.size());
  TORCH_CHECK_VALUE(pad >= 0 && pad < static_cast<double>(n) && pad == static_cast<int64_t>(pad),
                    what, ": pad_value of a label map is a class index in [0, ", n - 1, "], got ",
                    pad);
  const at::Tensor values = readable(tensor);
  const int64_t low = values.min().item<int64_t>();
  const int64_t high = values.max().item<int64_t>();
  TORCH_CHECK_VALUE(low >= 0, what, ": class indices must be >= 0, got ", low);
  TORCH_CHECK_VALUE(high < n, what, ": the label map holds class ", high, ", but the palette has ",
                    n, " colours", n == 256 ? " (at most 256 classes)" : "");
}

torch::Tensor label_grid(const torch::Tensor& tensor, const MakeGridOptions& o, const char* what) {
  // Indices below 256 are exact in float32: make_grid's own tiling and
  // padding, then back to uint8.
  MakeGridOptions g = gray_grid_options(o);
  g.normalize(false);
  const at::Tensor values = readable(tensor).to(at::kFloat);
  return make_grid_impl(values, g, what).to(at::kByte)[0];
}

torch::Tensor palette_colors(const torch::Tensor& indices, const Palette& palette) {
  at::Tensor table = at::empty({static_cast<int64_t>(palette.size()), 3}, at::kByte);
  for (size_t i = 0; i < palette.size(); ++i) {
    for (int k = 0; k < 3; ++k) table[static_cast<int64_t>(i)][k] = palette[i][k];
  }
  const at::Tensor flat = indices.to(at::kCPU).to(at::kLong).reshape({-1});
  return table.index_select(0, flat).view({indices.size(0), indices.size(1), 3});
}

}  // namespace torchimage
