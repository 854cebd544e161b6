#include "core/prepare.h"

#include <c10/util/Exception.h>

namespace torchimage {

void check_tensor_kind(const at::Tensor& t, const char* what) {
  if (!t.defined()) return;
  TORCH_CHECK(!t.is_nested(), what,
              ": expected a dense tensor, got a nested tensor; pass its images as a list "
              "(tensor.unbind())");
  TORCH_CHECK(t.layout() == at::kStrided, what,
              ": expected a dense (strided) tensor, got one of layout ", t.layout(),
              "; convert it with to_dense()");
  TORCH_CHECK(!t.is_quantized(), what, ": expected a tensor of plain values, got a quantized ",
              t.scalar_type(), " tensor; convert it with dequantize()");
  TORCH_CHECK(!t.is_meta(), what,
              ": expected a tensor with values, got one on the meta device (it holds none)");
}

at::Tensor readable(const at::Tensor& t) {
  if (memory_is_values(t)) return t;
  return t.resolve_conj().resolve_neg();
}

}  // namespace torchimage
