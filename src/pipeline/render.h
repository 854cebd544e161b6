// Private: the stages of save_image that the writer and save_images share.
#pragma once

#include <string>
#include <vector>

#include <torchimage/save_image.h>

#include "core/byte_buffer.h"

namespace torchimage {

// Validates options and shape for `format`, before any work ("what" starts
// each message).
void check_save(const torch::Tensor& tensor, ImageFormat format, const SaveImageOptions& options,
                const char* what);

// make_grid, quantize and encode: the file's bytes. Validates first.
Bytes render(const torch::Tensor& tensor, ImageFormat format, const SaveImageOptions& options,
             const char* what);

// Memory that render_sample reuses from one sample to the next (one per
// thread).
struct RenderBuffers {
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> scratch;
  Bytes bytes;

  // Frees what a large sample left behind (a long-lived worker keeps at
  // most this much between jobs).
  void trim(size_t keep = size_t{1} << 20) {
    if (pixels.capacity() > keep) std::vector<uint8_t>().swap(pixels);
    if (scratch.capacity() > keep) std::vector<uint8_t>().swap(scratch);
    if (bytes.capacity() > keep) Bytes().swap(bytes);
  }
};

// The file's bytes for sample i of a 4-D batch: render(batch[i], ...)'s,
// into buffers.bytes (returned). Where the sample's pixels can be computed
// straight from the batch (SampleQuantizer) no tensor is made per sample;
// else this is render(batch[i]). batch[0] must have passed check_save: the
// samples of a batch share its shape and dtype.
const Bytes& render_sample(const torch::Tensor& batch, int64_t i, ImageFormat format,
                           const SaveImageOptions& options, const char* what,
                           RenderBuffers& buffers);

// Atomic write with the options' create_directories/durable.
void write_bytes(const std::string& path, const Bytes& bytes, const SaveImageOptions& options);

}  // namespace torchimage
