#include "grid/quantize.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace torchimage {
namespace {

// torchvision's rule for floats at `top` (255 or 65535): `* top + 0.5`,
// clamped to [0, top], NaN to 0, in the tensor's own dtype; `to` truncates.
at::Tensor quantize_floats(const at::Tensor& chw, int top, at::ScalarType to) {
  at::Tensor t = chw.mul(top).add_(0.5);
  // ATen 1.13 has no CPU clamp for float16. Clamping to 0 and the top, both
  // exact in float16, never rounds, so clamping in float32 is the same.
  if (t.scalar_type() == at::kHalf && t.device().is_cpu()) t = t.to(at::kFloat);
  // nan_to_num after the clamp only touches NaN (infinities are clamped).
  return t.clamp_(0, top).nan_to_num_(0.0).to(to);
}

}  // namespace

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
    default:
      // The exact op sequence of torchvision.utils.save_image.
      u8 = quantize_floats(chw, 255, at::kByte);
      break;
  }
  return u8.permute({1, 2, 0}).contiguous().to(at::kCPU);
}

Bytes quantize16(const torch::Tensor& chw, const char* what) {
  TORCH_CHECK(chw.dim() == 3, "quantize16: expected a (C, H, W) image, got ", chw.sizes());
  at::NoGradGuard no_grad;
  at::Tensor q;
  switch (chw.scalar_type()) {
    case at::kInt:
      TORCH_CHECK(chw.min().item<int64_t>() >= 0 && chw.max().item<int64_t>() <= 65535, what,
                  ": int32 16-bit samples must be in [0, 65535], got [",
                  chw.min().item<int64_t>(), ", ", chw.max().item<int64_t>(), "]");
      q = chw;
      break;
    case at::kByte:
      q = chw.to(at::kInt).mul_(257);
      break;
    case at::kBool:
      q = chw.to(at::kInt).mul_(65535);
      break;
    default:
      q = quantize_floats(chw, 65535, at::kInt);
      break;
  }
  const at::Tensor hwc = q.permute({1, 2, 0}).contiguous().to(at::kCPU);
  const int32_t* v = hwc.data_ptr<int32_t>();
  Bytes out(static_cast<size_t>(hwc.numel()) * 2);
  for (int64_t i = 0; i < hwc.numel(); ++i) {
    out[2 * i] = static_cast<uint8_t>(v[i] >> 8);
    out[2 * i + 1] = static_cast<uint8_t>(v[i]);
  }
  return out;
}

}  // namespace torchimage
