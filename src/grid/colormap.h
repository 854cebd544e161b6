// Private: matplotlib's colormaps as 256-entry RGB tables (generated once by
// scripts/make_colormaps.py into colormaps.inc), applied to the 8-bit gray
// pixels save_image would write.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace torchimage {

// The table of `name` (256 x 3 bytes), or a c10::Error starting with `what`
// that lists the names there are.
const uint8_t* colormap_table(const std::string& name, const char* what);

// The names, in the order of colormaps.inc.
std::vector<std::string> colormap_names();

// (H, W, 1) uint8 gray pixels -> (H, W, 3) uint8 through the table of `name`.
torch::Tensor apply_colormap(const torch::Tensor& gray_hwc, const std::string& name,
                             const char* what);

}  // namespace torchimage
