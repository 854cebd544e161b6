// Private: float/uint8/bool (C, H, W) image -> uint8 (H, W, C) CPU pixels.
#pragma once

#include <torch/types.h>

namespace torchimage {

// torchvision's quantization, `img * 255 + 0.5`, clamped to [0, 255] and
// truncated, computed where the tensor lives in its own dtype, one rounding
// per operation. NaN -> 0, +Inf -> 255, -Inf -> 0. uint8 is passed through,
// bool becomes 0/255. Returns a contiguous uint8 (H, W, C) CPU tensor; only
// that uint8 result crosses from an accelerator to the CPU.
torch::Tensor quantize(const torch::Tensor& chw);

}  // namespace torchimage
