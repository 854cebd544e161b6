// Private: make_grid + quantize in one pass for CPU float32/float64 tensors.
#pragma once

#include <vector>

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

// The samples of a (B, C, H, W) batch quantized one at a time into memory the
// caller reuses: sample i's pixels are fused_grid_pixels(batch[i], options)'s,
// bit for bit, with no tensor made per sample (save_images renders tens of
// thousands of small samples, where a view, an output tensor and their
// dispatch cost a sizeable share of the work). Only where the range does not
// depend on the data: see applies().
class SampleQuantizer {
 public:
  // A CPU float32/float64 4-D batch of at most 4 channels (after make_grid's
  // gray -> RGB), with normalize off or a value_range without NaN. `batch`
  // must have passed check_grid_input for one sample.
  static bool applies(const torch::Tensor& batch, const MakeGridOptions& options);

  // `batch` must outlive this object.
  SampleQuantizer(const torch::Tensor& batch, const MakeGridOptions& options);

  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  int64_t channels() const { return channels_; }

  // Sample i's (H, W, C) pixels into `out` (height * width * channels
  // bytes); `scratch` is working memory, kept by the caller for reuse.
  void pixels(int64_t i, uint8_t* out, std::vector<uint8_t>& scratch) const;

 private:
  const void* data_;
  bool is_double_;
  int64_t strides_[4];
  int64_t in_channels_, height_, width_, channels_;
  bool normalize_;
  double low_ = 0, high_ = 0;
};

}  // namespace torchimage
