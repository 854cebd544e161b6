#include "core/byte_buffer.h"

namespace torchimage {

torch::Tensor to_tensor(Bytes&& bytes) {
  auto* holder = new Bytes(std::move(bytes));
  return torch::from_blob(
      holder->data(), {static_cast<int64_t>(holder->size())},
      [holder](void*) { delete holder; }, torch::kUInt8);
}

}  // namespace torchimage
