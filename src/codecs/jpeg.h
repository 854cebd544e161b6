// Private: JPEG through libjpeg-turbo's libjpeg API.
#pragma once

#include <cstdint>

#include <torch/types.h>

#include "core/byte_buffer.h"
#include "core/pixel_view.h"

namespace torchimage {

// The largest side libjpeg(-turbo) encodes (its JPEG_MAX_DIMENSION), below
// the format's 65535. Checked up front by save_image and encode_jpeg.
constexpr int64_t kJpegMaxSide = 65500;

// Baseline JPEG of 8-bit gray (1 channel) or RGB (3 channels) pixels, with
// Pillow's settings: jpeg_set_defaults, jpeg_set_quality(quality, TRUE),
// 4:2:0, accurate integer DCT, no optimize/progressive, JFIF header.
Bytes encode_jpeg_pixels(const PixelView& pixels, int quality);

// Decodes JPEG bytes to uint8 (C, H, W), C = 1 for gray and 3 otherwise.
torch::Tensor decode_jpeg_bytes(const uint8_t* data, size_t size, int64_t max_pixels);

}  // namespace torchimage
