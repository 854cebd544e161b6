// The plan of a call and the stages it drives: check, make_grid, quantize,
// encode (through the format's row), write.
#include "pipeline/plan.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "core/prepare.h"
#include "core/torch_compat.h"
#include "grid/captions.h"
#include "grid/colormap.h"
#include "grid/fused_quantize.h"
#include "grid/labels.h"
#include "grid/grid_shape.h"
#include "grid/quantize.h"

namespace torchimage {
namespace {

PixelView view_of(const uint8_t* data, int64_t height, int64_t width, int64_t channels,
                  int bit_depth) {
  PixelView view;
  view.data = data;
  view.height = height;
  view.width = width;
  view.channels = channels;
  view.bit_depth = bit_depth;
  return view;
}

// A file of 16-bit samples of a (C, H, W) image (quantize16's dtypes).
Bytes encode16(const Codec& codec, const torch::Tensor& chw, const EncodeOptions& options,
               const char* what) {
  const Bytes samples = quantize16(chw, what);
  Bytes out;
  codec.encode(view_of(samples.data(), chw.size(1), chw.size(2), chw.size(0), 16), options, out);
  return out;
}

}  // namespace

namespace {

// grid_pixels without the captions' text (their strips included).
torch::Tensor cell_pixels(const torch::Tensor& tensor, const MakeGridOptions& grid,
                          const char* what) {
  if (grid.palette()) {
    return palette_colors(label_grid(tensor, grid, what), *grid.palette());
  }
  if (!grid.colormap().empty()) {
    // The gray pixels, then the colormap's entries for them.
    return apply_colormap(cell_pixels(tensor, gray_grid_options(grid), what), grid.colormap(),
                          what);
  }
  const torch::Tensor values = readable(tensor);
  // The fused pass knows no captions' strips: with captions, the ATen ops.
  torch::Tensor hwc;
  if (grid.captions().empty()) hwc = fused_grid_pixels(values, grid);
  if (!hwc.defined()) {
    hwc = quantize(make_grid_impl(values, grid, what));
  }
  return hwc;
}

}  // namespace

torch::Tensor grid_pixels(const torch::Tensor& tensor, const MakeGridOptions& grid,
                          const char* what) {
  torch::Tensor hwc = cell_pixels(tensor, grid, what);
  // The text goes onto the finished pixels (a fresh grid: captions always
  // make one).
  draw_captions(hwc, tensor, grid, what);
  return hwc;
}

SavePlan make_plan(const SaveImageOptions& options, ImageFormat format, const char* what) {
  SavePlan plan;
  plan.what = what;
  plan.codec = &codec_of(format);
  check_available(*plan.codec, what);
  plan.grid = options.grid_options();
  plan.encode = options.encode_options();
  plan.file = options.file_options();
  check_encode_options(plan.encode, what);
  // The depth is known before the tensor; the rest of the row's limits are
  // checked on its shape (check_input).
  check_depth(*plan.codec, plan.bit_depth(), what);
  if (plan.keep_values()) {
    TORCH_CHECK(plan.codec->info.float_samples, what,
                ": keep_values (float32 samples) needs ", formats_with_float_samples(), " (",
                plan.codec->info.display_name, " has no float samples)");
    TORCH_CHECK(plan.bit_depth() == 8, what,
                ": keep_values writes float32 samples: it excludes bit_depth ", plan.bit_depth());
  }
  return plan;
}

void check_input(const SavePlan& plan, const torch::Tensor& tensor) {
  const char* what = plan.what;
  check_grid_input(tensor, plan.grid, what, plan.bit_depth());
  const GridShape s = grid_shape(tensor, plan.grid, what);
  TORCH_CHECK(s.channels >= 1 && s.channels <= 4, what,
              ": expected images of 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels, got ",
              s.channels, " channels (shape ", tensor.sizes(), ")");
  check_image(*plan.codec, s.height, s.width, s.channels, plan.bit_depth(), what);
  // Then the memory the pixels need (after the format's own limits, whose
  // messages say more): 16-bit samples are made on an int32 grid, then
  // written as 2 bytes each; float32 samples are a grid and its HWC copy.
  check_output_memory(s, plan.keep_values() ? 4 + 4 : plan.bit_depth() == 16 ? 4 + 2 : 1, what,
                      "image");
}

void render_pixels(const SavePlan& plan, const torch::Tensor& tensor,
                   const std::function<void(const PixelView&)>& use) {
  check_input(plan, tensor);
  if (plan.keep_values()) {
    // The grid's values as float32 samples: make_grid's tensor, no quantization.
    const torch::Tensor grid = draw_captions_on_grid(
        make_grid_impl(readable(tensor), plan.grid, plan.what), tensor,
        plan.grid, plan.what);
    const torch::Tensor hwc =
        grid.to(torch::kCPU).to(torch::kFloat).permute({1, 2, 0}).contiguous();
    PixelView view = view_of(reinterpret_cast<const uint8_t*>(hwc.data_ptr<float>()),
                             hwc.size(0), hwc.size(1), hwc.size(2), 32);
    view.float_samples = true;
    use(view);
    return;
  }
  if (plan.grid.palette() && plan.codec->info.indexed) {
    // Indexed colour: the class ids are the samples, the palette the PLTE.
    const Palette& palette = *plan.grid.palette();
    const torch::Tensor ids = label_grid(tensor, plan.grid, plan.what).to(torch::kCPU).contiguous();
    std::vector<uint8_t> table;
    for (const auto& c : palette) table.insert(table.end(), c.begin(), c.end());
    PixelView view = view_of(ids.data_ptr<uint8_t>(), ids.size(0), ids.size(1), 1, 8);
    view.palette = table.data();
    view.palette_size = static_cast<int>(palette.size());
    use(view);
    return;
  }
  if (plan.bit_depth() == 16) {
    // uint16 samples are widened to int32 (the same values) before the grid:
    // ATen implements few operators for uint16.
    const torch::Tensor values = readable(tensor);
    const torch::Tensor wide =
        compat::is_uint16(values.scalar_type()) ? values.to(torch::kInt) : values;
    const torch::Tensor chw = make_grid_impl(wide, plan.grid, plan.what);
    const Bytes samples = quantize16(chw, plan.what);
    use(view_of(samples.data(), chw.size(1), chw.size(2), chw.size(0), 16));
    return;
  }
  const torch::Tensor hwc = grid_pixels(tensor, plan.grid, plan.what);
  use(view_of(hwc.data_ptr<uint8_t>(), hwc.size(0), hwc.size(1), hwc.size(2), 8));
}

Bytes render(const SavePlan& plan, const torch::Tensor& tensor) {
  Bytes out;
  render_pixels(plan, tensor,
                [&](const PixelView& pixels) { plan.codec->encode(pixels, plan.encode, out); });
  return out;
}

const Bytes& render_sample(const SavePlan& plan, const torch::Tensor& batch, int64_t i,
                           RenderBuffers& buffers) {
  if (plan.bit_depth() != 8 || plan.keep_values() || !plan.grid.colormap().empty() ||
      plan.grid.palette() || !plan.grid.captions().empty() ||
      !SampleQuantizer::applies(batch, plan.grid)) {
    buffers.bytes = render(plan, batch[i]);
    return buffers.bytes;
  }
  const SampleQuantizer quantizer(batch, plan.grid);
  buffers.pixels.resize(
      static_cast<size_t>(quantizer.height() * quantizer.width() * quantizer.channels()));
  quantizer.pixels(i, buffers.pixels.data(), buffers.scratch);
  plan.codec->encode(view_of(buffers.pixels.data(), quantizer.height(), quantizer.width(),
                             quantizer.channels(), 8),
                     plan.encode, buffers.bytes);
  return buffers.bytes;
}

void write_bytes(const SavePlan& plan, const std::string& path, const Bytes& bytes) {
  write_file(path, bytes.data(), bytes.size(), plan.file);
}

Bytes encode_chw(const torch::Tensor& image, ImageFormat format, const EncodeOptions& options,
                 const char* what) {
  const Codec& codec = codec_of(format);
  check_available(codec, what);
  check_encode_options(options, what);
  const bool has16 = has_depth(codec, 16);
  TORCH_CHECK(image.defined(), what, ": expected a tensor, got an undefined one");
  check_tensor_kind(image, what);
  const bool wide = compat::is_uint16(image.scalar_type());
  TORCH_CHECK(image.scalar_type() == torch::kUInt8 || (wide && has16), what,
              ": expected a uint8 tensor",
              TORCHIMAGE_HAS_UINT16 && has16
                  ? c10::str(" (or uint16 for 16-bit ", codec.info.display_name, ")")
                  : std::string(),
              ", got ", image.scalar_type());
  TORCH_CHECK(image.dim() == 3, what, ": expected a 3-D (C, H, W) tensor, got ", image.dim(),
              "-D with shape ", image.sizes());
  TORCH_CHECK(image.size(1) > 0 && image.size(2) > 0, what, ": expected a non-empty image, got ",
              image.sizes());
  const int bits = wide ? 16 : 8;
  // The format's limits, before the pixels are copied (an expanded view can
  // be far larger than its storage).
  check_image(codec, image.size(1), image.size(2), image.size(0), bits, what);
  const torch::Tensor values = readable(image.detach());
  if (wide) return encode16(codec, values.to(torch::kInt), options, what);
  const torch::Tensor hwc = values.permute({1, 2, 0}).contiguous().to(torch::kCPU);
  Bytes out;
  codec.encode(view_of(hwc.data_ptr<uint8_t>(), hwc.size(0), hwc.size(1), hwc.size(2), 8),
               options, out);
  return out;
}

}  // namespace torchimage
