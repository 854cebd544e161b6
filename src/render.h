// Private: the stages of save_image that the writer and save_images share.
#pragma once

#include <string>

#include <torchimage/save_image.h>

#include "byte_buffer.h"

namespace torchimage {

// Validates options and shape for `format`, before any work ("what" starts
// each message).
void check_save(const torch::Tensor& tensor, ImageFormat format, const SaveImageOptions& options,
                const char* what);

// make_grid, quantize and encode: the file's bytes. Validates first.
Bytes render(const torch::Tensor& tensor, ImageFormat format, const SaveImageOptions& options,
             const char* what);

// Atomic write with the options' create_directories/durable.
void write_bytes(const std::string& path, const Bytes& bytes, const SaveImageOptions& options);

}  // namespace torchimage
