// Private: PNG decoding through libpng.
#pragma once

#include <cstddef>
#include <cstdint>

#include <torch/types.h>

namespace torchimage {

// Decodes PNG bytes to uint8 (C, H, W); 16-bit samples are reduced to 8
// bits, or kept (uint16 where LibTorch has it, else int32 0-65535) with
// keep_16_bit; an indexed-colour image gives its indices with keep_indices.
torch::Tensor decode_png_bytes(const uint8_t* data, size_t size, int64_t max_pixels,
                               bool keep_16_bit = false, bool keep_indices = false);

}  // namespace torchimage
