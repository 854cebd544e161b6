// Benchmark-time proof of the fused quantizer: every float32 in [-1, 1]
// (about 2.1 billion values), normalized with value_range (-1, 1) and
// without normalization, through the fused pass and through the ATen op
// sequence torchvision runs; prints the number of differing pixels (0).
//
//   build/benchmarks/check_quantize
#include <torchimage/torchimage.h>

#include <cstring>
#include <iostream>

#include <ATen/ATen.h>

#include "grid/fused_quantize.h"
#include "grid/quantize.h"

int main() {
  using torchimage::MakeGridOptions;
  const MakeGridOptions ranged = MakeGridOptions().normalize(true).value_range({-1.0, 1.0});
  const MakeGridOptions plain;
  const uint32_t one = 0x3f800000u;  // bits of 1.0f; [0, 1] is bits 0..one
  const int64_t chunk = int64_t{3} << 22;  // 3 * 4M values: a (1, 3, 1, 4M) "image"
  int64_t checked = 0, differing = 0;
  at::Tensor x = at::empty({chunk}, at::kFloat);
  for (int sign = 0; sign < 2; ++sign) {
    for (uint64_t start = 0; start <= one; start += static_cast<uint64_t>(chunk)) {
      float* p = x.data_ptr<float>();
      for (int64_t i = 0; i < chunk; ++i) {
        uint64_t bits = std::min<uint64_t>(start + static_cast<uint64_t>(i), one);
        bits |= static_cast<uint64_t>(sign) << 31;
        const uint32_t b = static_cast<uint32_t>(bits);
        std::memcpy(&p[i], &b, 4);
      }
      const at::Tensor img = x.view({1, 3, 1, chunk / 3});
      for (const MakeGridOptions* o : {&ranged, &plain}) {
        const at::Tensor fused = torchimage::fused_grid_pixels(img, *o);
        const at::Tensor ref = torchimage::quantize(torchimage::make_grid(img, *o));
        differing += fused.ne(ref).sum().item<int64_t>();
      }
      checked += chunk;
    }
  }
  std::cout << "checked " << checked << " float32 values in [-1, 1] (value_range (-1, 1) and "
            << "plain): " << differing << " differing pixels\n";
  return differing == 0 ? 0 : 1;
}
