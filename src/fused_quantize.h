// Private: make_grid + quantize in one pass for CPU float32/float64 tensors.
#pragma once

#include <torch/types.h>

#include <torchimage/make_grid.h>

namespace torchimage {

// The uint8 (H, W, C) grid that quantize(make_grid(input, options)) returns,
// bit for bit, computed in one pass over the input without the float grid.
// Returns an undefined tensor where this path does not apply (not a CPU
// float32/float64 tensor, or normalize over a range with NaN bounds); the
// caller then takes the ATen reference path. `input` must have passed
// check_grid_input.
torch::Tensor fused_grid_pixels(const torch::Tensor& input, const MakeGridOptions& options);

}  // namespace torchimage
