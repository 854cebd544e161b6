#include "grid/colormap.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

namespace torchimage {
namespace {

struct Colormap {
  const char* name;
  uint8_t rgb[256 * 3];
};

#define TORCHIMAGE_COLORMAP(name, ...) {name, __VA_ARGS__},
const Colormap kColormaps[] = {
#include "grid/colormaps.inc"
};
#undef TORCHIMAGE_COLORMAP

std::string names_list() {
  std::string out;
  for (const Colormap& c : kColormaps) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

}  // namespace

const uint8_t* colormap_table(const std::string& name, const char* what) {
  for (const Colormap& c : kColormaps) {
    if (name == c.name) return c.rgb;
  }
  TORCH_CHECK_VALUE(false, what, ": unknown colormap '", name, "' (expected one of ",
                    names_list(), ")");
  return nullptr;
}

std::vector<std::string> colormap_names() {
  std::vector<std::string> names;
  for (const Colormap& c : kColormaps) names.emplace_back(c.name);
  return names;
}

torch::Tensor apply_colormap(const torch::Tensor& gray_hwc, const std::string& name,
                             const char* what) {
  const uint8_t* table = colormap_table(name, what);
  TORCH_CHECK(gray_hwc.dim() == 3 && gray_hwc.size(2) == 1 &&
                  gray_hwc.scalar_type() == at::kByte,
              what, ": a colormap applies to one-channel 8-bit pixels, got ", gray_hwc.sizes());
  const at::Tensor in = gray_hwc.contiguous();
  at::Tensor out = at::empty({in.size(0), in.size(1), 3}, in.options());
  const uint8_t* src = in.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  const int64_t n = in.numel();
  at::parallel_for(0, n, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint8_t* e = table + 3 * src[i];
      dst[3 * i] = e[0];
      dst[3 * i + 1] = e[1];
      dst[3 * i + 2] = e[2];
    }
  });
  return out;
}

}  // namespace torchimage
