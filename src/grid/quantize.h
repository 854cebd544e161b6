// Private: a (C, H, W) image -> the samples a file holds, at 8 or 16 bits.
#pragma once

#include <torch/types.h>

#include "core/byte_buffer.h"

namespace torchimage {

// torchvision's quantization, `img * 255 + 0.5`, clamped to [0, 255] and
// truncated, computed where the tensor lives in its own dtype, one rounding
// per operation. NaN -> 0, +Inf -> 255, -Inf -> 0. uint8 is passed through,
// bool becomes 0/255. Returns a contiguous uint8 (H, W, C) CPU tensor; only
// that uint8 result crosses from an accelerator to the CPU.
torch::Tensor quantize(const torch::Tensor& chw);

// The same rule at 16 bits (`* 65535 + 0.5`, clamp, truncate): (H, W, C)
// big-endian 16-bit samples. uint8 is scaled by 257, bool becomes 0/65535,
// and int32 is taken as finished samples (values 0-65535, else an error
// starting with `what`).
Bytes quantize16(const torch::Tensor& chw, const char* what);

}  // namespace torchimage
