// Private: shape arithmetic and validation shared by make_grid and save_image.
#pragma once

#include <cstdint>
#include <vector>

#include <torchimage/make_grid.h>

namespace torchimage {

struct GridShape {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t xmaps = 1;
  int64_t ymaps = 1;
};

// Channels of make_grid's output for images of `in_channels`: a gray image
// becomes RGB unless the grayscale option keeps it gray.
// A colormap makes one channel three.
inline int64_t grid_channels(int64_t in_channels, const MakeGridOptions& options) {
  if (!options.colormap().empty() || options.palette()) return 3;
  return in_channels == 1 && !options.grayscale() ? 3 : in_channels;
}

// `tensor` as (H, W), (C, H, W) or (B, C, H, W): a permuted (or unsqueezed)
// view for the other layouts, the tensor itself for CHW. `what` starts the
// message of a rank the layout does not have.
torch::Tensor apply_layout(const torch::Tensor& tensor, Layout layout, const char* what);
std::vector<torch::Tensor> apply_layout(const std::vector<torch::Tensor>& tensors, Layout layout,
                                        const char* what);

// The options of the one-channel grid a colormap is applied to (no
// colormap, grayscale kept).
MakeGridOptions gray_grid_options(const MakeGridOptions& options);

// Validates dtype, dims, emptiness and options; `what` starts each message.
// `sample_bits` is the depth of the samples the grid becomes: at 16, integer
// tensors of finished 16-bit samples (int32, uint16) are taken too.
void check_grid_input(const torch::Tensor& tensor, const MakeGridOptions& options,
                      const char* what, int sample_bits = 8);

// make_grid of an input that passed check_grid_input (8- or 16-bit samples
// alike: the grid keeps the input's dtype); `what` (the call the user made)
// starts each message.
torch::Tensor make_grid_impl(const torch::Tensor& tensor, const MakeGridOptions& options,
                             const char* what);

// The (C, H, W) make_grid will return, computed without touching the data.
GridShape grid_shape(const torch::Tensor& tensor, const MakeGridOptions& options,
                     const char* what = "make_grid");

// Refuses, before anything is allocated, an output of `shape` at
// `bytes_per_sample` that needs more memory than this machine has (an
// expanded view or a huge padding can describe terabytes): the message names
// the size, where the allocator's own would not. `what` starts it, `kind`
// names the buffer ("grid", "pixels").
void check_output_memory(const GridShape& shape, int64_t bytes_per_sample, const char* what,
                         const char* kind);

// torch.stack of a list of same-shape tensors (detached), with clear errors.
torch::Tensor stack_images(const std::vector<torch::Tensor>& tensors, const char* what);

}  // namespace torchimage
