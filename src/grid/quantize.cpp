#include "grid/quantize.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace torchimage {

torch::Tensor quantize(const torch::Tensor& chw) {
  TORCH_CHECK(chw.dim() == 3, "quantize: expected a (C, H, W) image, got ", chw.sizes());
  at::NoGradGuard no_grad;
  at::Tensor u8;
  switch (chw.scalar_type()) {
    case at::kByte:
      u8 = chw;
      break;
    case at::kBool:
      u8 = chw.to(at::kByte).mul_(255);
      break;
    default: {
      // The exact op sequence of torchvision.utils.save_image; nan_to_num
      // after the clamp only touches NaN (infinities are already clamped).
      at::Tensor t = chw.mul(255).add_(0.5);
      // ATen 1.13 has no CPU clamp for float16. Clamping to 0 and 255, both
      // exact in float16, never rounds, so clamping in float32 is the same.
      if (t.scalar_type() == at::kHalf && t.device().is_cpu()) t = t.to(at::kFloat);
      u8 = t.clamp_(0, 255).nan_to_num_(0.0).to(at::kByte);
      break;
    }
  }
  return u8.permute({1, 2, 0}).contiguous().to(at::kCPU);
}

}  // namespace torchimage
