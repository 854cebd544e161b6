// Private: the writer's snapshot policy. A call returns as soon as the
// writer holds a copy of the tensor that the caller cannot change: the
// tensor itself when it was handed over and nothing else reaches its
// memory, else a copy (made with the idle workers' help, into the memory of
// an earlier written copy where one fits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/Event.h>

namespace torchimage {

class WorkQueue;

class Snapshots {
 public:
  // Copies of at least this size are shared with idle workers and kept for
  // reuse.
  static constexpr size_t kShareCopyFrom = size_t{512} << 10;

  // A copy the caller may not touch: the tensor itself when it was handed
  // over and nothing else reaches its memory (sole_owner), else a CPU copy
  // (shared with `helpers`' idle workers where the tensor is contiguous), or
  // a device clone enqueued on the current stream plus an event, `ready`,
  // that the worker waits on. An expanded tensor (x.expand(B, ...), stride
  // 0) is copied compactly and expanded again: its snapshot costs what its
  // memory holds, not what its shape spans. A negative or conjugate view is
  // copied with its bit resolved. `own_copy` says whether it is a copy (which
  // no one else has seen, and which recycle may keep once written).
  at::Tensor take(const at::Tensor& t, bool handed_over, WorkQueue& helpers,
                  std::shared_ptr<c10::Event>* ready, bool* own_copy);

  // Keeps a written snapshot (the writer's own copy) for the next copy of the
  // same shape and type, where nothing else holds it and it is large enough
  // to be worth keeping: a writer called every training step with the same
  // sheet copies into the same tensor, without the two ATen calls that make
  // one (about 35 us of the caller's stall here: the first operator calls
  // after a training step run with cold caches). Called by the thread that
  // dropped the last job reading it.
  void recycle(at::Tensor snapshot);

 private:
  static constexpr size_t kMaxSpare = 2;

  // A contiguous CPU copy of a contiguous CPU tensor, made by the calling
  // thread and whichever workers are idle, a chunk each at a time.
  at::Tensor copy_contiguous(const at::Tensor& t, WorkQueue& helpers);
  // A spare contiguous tensor of t's shape and type, or an undefined one.
  at::Tensor take_spare(const at::Tensor& t);

  std::mutex mu_;
  std::vector<at::Tensor> spare_;  // newest last
};

// The bytes a snapshot of `t` holds: its elements, counting an expanded
// (stride-0) dimension once, as take() keeps it compact.
int64_t snapshot_bytes(const at::Tensor& t);

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
