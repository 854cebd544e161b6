// Private: a growable byte buffer that hands its storage to a tensor without a copy.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include <torch/types.h>

namespace torchimage {

using Bytes = std::vector<uint8_t>;

inline void append(Bytes& out, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + n);
}

inline void append_be32(Bytes& out, uint32_t v) {
  const uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
  append(out, b, 4);
}

// A 1-D uint8 CPU tensor owning the bytes (moved, not copied).
torch::Tensor to_tensor(Bytes&& bytes);

}  // namespace torchimage
