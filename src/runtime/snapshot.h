// Private: when the writer may keep a tensor instead of copying it.
#pragma once

#include <ATen/ATen.h>

namespace torchimage {

// Whether `t` (the caller's handle already given up) is the only way to its
// memory: a CPU tensor, its only handle, alone on its storage, which
// LibTorch's CPU allocator owns. Then nobody can change its values after the
// writer took it.
bool sole_owner(const at::Tensor& t);

// How many snapshots ImageWriter has copied in this process (for tests: a
// tensor handed over and kept is not counted).
int64_t snapshot_copies();

// How many of those copies went into the memory of an earlier, written
// snapshot (for tests).
int64_t snapshot_reuses();

}  // namespace torchimage
