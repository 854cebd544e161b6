// Private: label maps (integer class indices with a palette).
#pragma once

#include <string>

#include <torch/types.h>

#include <torchimage/make_grid.h>

namespace torchimage {

// Whether `t` is a dtype of class indices (uint8, int16, int32, int64).
bool is_label_dtype(c10::ScalarType t);

// The checks of a label map under `o` (whose palette is set): dtype, one
// channel, indices within the palette (at most 256 classes), padding.
void check_label_input(const torch::Tensor& tensor, const MakeGridOptions& o, const char* what);

// The (H', W') uint8 grid of class indices (make_grid's tiling; the padding
// is class pad_value), on the CPU or the tensor's device.
torch::Tensor label_grid(const torch::Tensor& tensor, const MakeGridOptions& o, const char* what);

// (H, W) indices -> (H, W, 3) uint8 CPU colours.
torch::Tensor palette_colors(const torch::Tensor& indices, const Palette& palette);

}  // namespace torchimage
