// Private: one call of save_image, resolved once. Every face (save_image,
// encode_image, save_images, the ImageWriter, and through them the CLI and
// the Python operators) turns its options into a plan when it is called;
// each image of the call is then checked, rendered and written by that plan
// (the writer's jobs share their call's).
//
//   tensor -> check_input -> render: make_grid -> quantize -> codec.encode -> write_bytes
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torchimage/files.h>
#include <torchimage/formats.h>
#include <torchimage/make_grid.h>
#include <torchimage/save_image.h>

#include "codecs/codec.h"
#include "core/byte_buffer.h"

namespace torchimage {

struct SavePlan {
  const char* what = "save_image";  // starts each message
  const Codec* codec = nullptr;     // the format's row
  MakeGridOptions grid;
  EncodeOptions encode;
  WriteFileOptions file;

  int bit_depth() const { return encode.bit_depth(); }
  bool keep_values() const { return encode.keep_values(); }
};

// Checks the options and resolves them for `format`; nothing about the
// tensor is known yet.
SavePlan make_plan(const SaveImageOptions& options, ImageFormat format, const char* what);

// Checks `tensor` against the plan before any work: dtype, dims, the grid's
// shape in the format's limits, and the memory the pixels need.
void check_input(const SavePlan& plan, const torch::Tensor& tensor);

// make_grid + quantize at 8 bits, as uint8 (H, W, C) CPU pixels: one fused
// pass where it applies, else the ATen ops. The input must have passed
// check_grid_input; `what` starts the messages of what is checked later.
torch::Tensor grid_pixels(const torch::Tensor& tensor, const MakeGridOptions& grid,
                          const char* what);

// make_grid, quantize and encode: the file's bytes. Checks the input first.
Bytes render(const SavePlan& plan, const torch::Tensor& tensor);

// render's stages before the encoder: checks the input, then hands the
// samples the plan's codec would encode (8-bit, 16-bit, float32 or indexed)
// to `use`. render is render_pixels followed by codec.encode; the
// AnimationWriter encodes them as a frame instead.
void render_pixels(const SavePlan& plan, const torch::Tensor& tensor,
                   const std::function<void(const PixelView&)>& use);

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

// The file's bytes for sample i of a 4-D batch: render(plan, batch[i])'s,
// into buffers.bytes (returned). Where the sample's pixels can be computed
// straight from the batch (SampleQuantizer) no tensor is made per sample.
// batch[0] must have passed check_input: the samples of a batch share its
// shape and dtype.
const Bytes& render_sample(const SavePlan& plan, const torch::Tensor& batch, int64_t i,
                           RenderBuffers& buffers);

// The atomic write, with the plan's file options.
void write_bytes(const SavePlan& plan, const std::string& path, const Bytes& bytes);

// Encodes a (C, H, W) image of finished samples (uint8; uint16, or int32 for
// 16 bits, where the format has 16-bit samples): encode_png, encode_jpeg.
Bytes encode_chw(const torch::Tensor& image, ImageFormat format, const EncodeOptions& options,
                 const char* what);

}  // namespace torchimage
