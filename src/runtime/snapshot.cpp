#include "runtime/snapshot.h"

#include <algorithm>
#include <atomic>

#include <c10/core/CPUAllocator.h>
#include <c10/core/GradMode.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include "core/cpu_dispatch.h"
#include "runtime/chunked_copy.h"
#include "runtime/work_queue.h"

namespace torchimage {
namespace {

int64_t tensor_bytes(const at::Tensor& t) {
  return t.numel() * static_cast<int64_t>(t.element_size());
}

// A copy of `t` that holds each element once: the dimensions it expands
// (stride 0) are copied at size 1 and expanded again. The clone resolves a
// negative or conjugate bit.
at::Tensor compact_clone(const at::Tensor& t) {
  at::Tensor base = t;
  bool expanded = false;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.stride(d) == 0 && t.size(d) > 1) {
      base = base.narrow(d, 0, 1);
      expanded = true;
    }
  }
  at::Tensor copy = base.clone(at::MemoryFormat::Contiguous);
  return expanded ? copy.expand(t.sizes()) : copy;
}

// Counted for tests.
std::atomic<int64_t> g_snapshot_copies{0};
std::atomic<int64_t> g_snapshot_reuses{0};

}  // namespace

bool sole_owner(const at::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu() || !t.has_storage()) return false;
  const c10::Storage& storage = t.storage();
  // One handle to the TensorImpl, no weak ones (weak_use_count counts the
  // strong ones as 1), one TensorImpl on the storage (views, detach() and
  // autograd's saved outputs all hold the storage), and memory that LibTorch
  // allocated (not from_blob over someone else's buffer, not shared memory).
  return t.use_count() == 1 && t.weak_use_count() == 1 && storage.use_count() == 1 &&
         storage.allocator() == c10::GetCPUAllocator();
}

int64_t snapshot_bytes(const at::Tensor& t) {
  int64_t n = 1;
  for (int64_t d = 0; d < t.dim(); ++d) n *= t.stride(d) == 0 ? std::min<int64_t>(t.size(d), 1) : t.size(d);
  return n * static_cast<int64_t>(t.element_size());
}

int64_t snapshot_copies() { return g_snapshot_copies.load(); }
int64_t snapshot_reuses() { return g_snapshot_reuses.load(); }

at::Tensor Snapshots::take(const at::Tensor& t, bool handed_over, WorkQueue& helpers,
                           std::shared_ptr<c10::Event>* ready, bool* own_copy) {
  c10::NoGradGuard no_grad;
  *own_copy = false;
  if (handed_over && sole_owner(t)) return t.detach();  // detach: drop any graph
  g_snapshot_copies.fetch_add(1, std::memory_order_relaxed);
  *own_copy = true;
  if (t.device().is_cpu() && t.layout() == at::kStrided && t.is_contiguous() && !t.is_neg() &&
      !t.is_conj()) {
    return copy_contiguous(t, helpers);
  }
  at::Tensor copy = compact_clone(t.detach());
  if (!copy.device().is_cpu()) {
    const auto type = copy.device().type();
    auto event = std::make_shared<c10::Event>(type);
    const auto* impl = c10::impl::getDeviceGuardImpl(type);
    event->record(impl->getStream(copy.device()));
    *ready = std::move(event);
  }
  return copy;
}

at::Tensor Snapshots::copy_contiguous(const at::Tensor& t, WorkQueue& helpers) {
  const size_t size = static_cast<size_t>(tensor_bytes(t));
  at::Tensor out = size >= kShareCopyFrom ? take_spare(t) : at::Tensor();
  if (!out.defined()) {
    out = at::empty(t.sizes(), t.options().memory_format(at::MemoryFormat::Contiguous));
  }
  // Alone where help cannot come sooner than the copy is done: under
  // 512 KiB (about 70 us here, the time a sleeping worker takes to wake
  // up), or on one core (the workers, at background priority, would run
  // only when this thread waits for them).
  if (size < kShareCopyFrom || hardware_threads() < 2) {
    copy_bytes(out.data_ptr(), t.data_ptr(), size);
    return out;
  }
  // The task is shared with the workers, who may still hold it after the
  // copy is done (their run() then takes no chunk).
  auto task = std::make_shared<ChunkedCopy>(t.data_ptr(), out.data_ptr(), size);
  helpers.run_shared([task] { task->run(); });
  task->wait();
  return out;
}

at::Tensor Snapshots::take_spare(const at::Tensor& t) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = spare_.size(); i-- > 0;) {
    if (spare_[i].scalar_type() == t.scalar_type() && spare_[i].sizes().equals(t.sizes())) {
      at::Tensor out = std::move(spare_[i]);
      g_snapshot_reuses.fetch_add(1, std::memory_order_relaxed);
      spare_.erase(spare_.begin() + static_cast<std::ptrdiff_t>(i));
      return out;
    }
  }
  return at::Tensor();
}

void Snapshots::recycle(at::Tensor snapshot) {
  if (!snapshot.defined() || !snapshot.is_contiguous() ||
      static_cast<size_t>(tensor_bytes(snapshot)) < kShareCopyFrom || !sole_owner(snapshot)) {
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (spare_.size() == kMaxSpare) spare_.erase(spare_.begin());
  spare_.push_back(std::move(snapshot));
}

}  // namespace torchimage
