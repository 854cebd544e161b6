// save_image, encode_image and to_pixels: a plan per call, then its stages.
#include <torchimage/save_image.h>

#include <c10/util/Exception.h>

#include "grid/grid_shape.h"
#include "pipeline/plan.h"

namespace torchimage {

SaveImageOptions& SaveImageOptions::file(const WriteFileOptions& v) {
  create_directories(v.create_directories());
  durable(v.durable());
  replace_read_only(v.replace_read_only());
  return *this;
}

MakeGridOptions SaveImageOptions::grid_options() const {
  MakeGridOptions g;
  g.nrow(nrow_).padding(padding_).normalize(normalize_).value_range(value_range_)
      .scale_each(scale_each_).pad_value(pad_value_).grayscale(grayscale_).layout(layout_)
      .colormap(colormap_).captions(captions_).caption_size(caption_size_);
  if (palette_) g.palette(*palette_);
  return g;
}

EncodeOptions SaveImageOptions::encode_options() const {
  EncodeOptions e;
  e.format(format()).bit_depth(bit_depth()).keep_values(keep_values()).png(png()).jpeg(jpeg())
      .tiff(tiff()).webp(webp());
  return e;
}

WriteFileOptions SaveImageOptions::file_options() const {
  WriteFileOptions f;
  f.create_directories(create_directories()).durable(durable())
      .replace_read_only(replace_read_only());
  return f;
}

void save_image(const torch::Tensor& tensor, const std::string& path,
                const SaveImageOptions& options) {
  const char* what = "save_image";
  const SavePlan plan = make_plan(options, resolve_format(path, options.format(), what), what);
  write_bytes(plan, path, render(plan, apply_layout(tensor, options.layout(), what)));
}

void save_image(const std::vector<torch::Tensor>& tensors, const std::string& path,
                const SaveImageOptions& options) {
  resolve_format(path, options.format(), "save_image");
  save_image(stack_images(tensors, "save_image"), path, options);
}

torch::Tensor encode_image(const torch::Tensor& tensor, const SaveImageOptions& options) {
  const SavePlan plan =
      make_plan(options, options.format().value_or(ImageFormat::PNG), "encode_image");
  return to_tensor(render(plan, apply_layout(tensor, options.layout(), "encode_image")));
}

torch::Tensor encode_image(const std::vector<torch::Tensor>& tensors,
                           const SaveImageOptions& options) {
  return encode_image(stack_images(tensors, "encode_image"), options);
}

torch::Tensor to_pixels(const torch::Tensor& input, const SaveImageOptions& options) {
  const MakeGridOptions grid = options.grid_options();
  const char* what = "to_pixels";
  const torch::Tensor tensor = apply_layout(input, options.layout(), what);
  check_grid_input(tensor, grid, what);
  check_output_memory(grid_shape(tensor, grid, what), 1, what, "image");
  return grid_pixels(tensor, grid, what);
}

torch::Tensor to_pixels(const std::vector<torch::Tensor>& tensors,
                        const SaveImageOptions& options) {
  return to_pixels(stack_images(tensors, "to_pixels"), options);
}

}  // namespace torchimage
