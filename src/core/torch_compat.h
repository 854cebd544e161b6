// What differs between the LibTorch releases torchimage builds against (1.13
// to 2.x), in one place: the rest of the code asks here instead of testing
// versions itself.
#pragma once

#include <c10/core/ScalarType.h>
#include <torch/version.h>

// LibTorch 2.3 added the unsigned 16-bit dtype (torch::kUInt16); torchvision
// 0.19 decodes 16-bit PNG to it. Before, int32 stands in for it.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define TORCHIMAGE_HAS_UINT16 1
#else
#define TORCHIMAGE_HAS_UINT16 0
#endif

// LibTorch 2.2 added c10d's registry of process groups by name
// (torch/csrc/distributed/c10d/GroupRegistry.hpp, c10d::resolve_process_group):
// how a group Python's torch.distributed made reaches C++ (its group_name).
// Only where this LibTorch has c10d (USE_DISTRIBUTED) and ships the header.
#define TORCHIMAGE_HAS_GROUP_REGISTRY 0
#if defined(USE_DISTRIBUTED) && defined(__has_include) && \
    (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2))
#if __has_include(<torch/csrc/distributed/c10d/GroupRegistry.hpp>)
#undef TORCHIMAGE_HAS_GROUP_REGISTRY
#define TORCHIMAGE_HAS_GROUP_REGISTRY 1
#endif
#endif

namespace torchimage {
namespace compat {

// The dtype of 16-bit samples: what decode_image(keep_16_bit) returns.
constexpr c10::ScalarType kSample16 =
#if TORCHIMAGE_HAS_UINT16
    c10::ScalarType::UInt16;
#else
    c10::ScalarType::Int;
#endif

// A dtype that holds finished 16-bit samples (save_image with bit_depth(16)):
// uint16 where LibTorch has it, and int32 (values 0-65535) everywhere, the
// stand-in on LibTorch 1.13.
inline bool is_sample16(c10::ScalarType t) {
#if TORCHIMAGE_HAS_UINT16
  if (t == c10::ScalarType::UInt16) return true;
#endif
  return t == c10::ScalarType::Int;
}

inline bool is_uint16(c10::ScalarType t) {
#if TORCHIMAGE_HAS_UINT16
  return t == c10::ScalarType::UInt16;
#else
  (void)t;
  return false;
#endif
}

// How errors name the 16-bit sample dtypes this build takes.
constexpr const char* kSample16Names =
#if TORCHIMAGE_HAS_UINT16
    "uint16 or int32";
#else
    "int32";
#endif

}  // namespace compat
}  // namespace torchimage
