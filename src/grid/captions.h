// Private: captions under the cells of a grid (GridArgs::captions). The grid
// makes room for them (make_grid_impl, grid_shape: a strip of
// caption_strip(o) rows below each cell, filled like the padding); the text
// is drawn here, on the finished 8-bit pixels.
#pragma once

#include <cstdint>

#include <torch/types.h>

#include <torchimage/make_grid.h>

namespace torchimage {

// The rows of the strip below each cell: 0 without captions.
inline int64_t caption_strip(const MakeGridOptions& o) {
  return o.captions().empty() ? 0 : caption_strip_height(o.caption_size());
}

// Checks the captions of a grid of `tensor` ((H, W), (C, H, W) or
// (B, C, H, W)): one per image, a caption_size in range, samples of 8 bits,
// FreeType and its font at hand. Nothing without captions.
void check_captions(const torch::Tensor& tensor, const MakeGridOptions& o, const char* what,
                    int sample_bits);

// Draws the captions onto `hwc`, the contiguous uint8 (H, W, C) CPU pixels of
// the captioned grid of `tensor`, in place.
void draw_captions(torch::Tensor& hwc, const torch::Tensor& tensor, const MakeGridOptions& o,
                   const char* what);

// The same for make_grid's (C, H, W) grid of any dtype (on any device): the
// pixels the text touches become its 8-bit pixels (quantized as save_image
// does) / 255 for floats, the 8-bit values for uint8, and for bool true or
// false where the text covers at least half a pixel. Returns the grid.
torch::Tensor draw_captions_on_grid(const torch::Tensor& grid, const torch::Tensor& tensor,
                                    const MakeGridOptions& o, const char* what);

}  // namespace torchimage
