// Private: buffers an encoder keeps per thread between calls.
#pragma once

#include <memory>

namespace torchimage {

// The calling thread's T, kept for the next ThreadScratch<T> on this thread,
// so that the buffers in it stay allocated between images: a new one for
// each image costs the page faults of mapping it (malloc returns large
// blocks, and a thread's arena trims freed ones) and often its zero fill.
// Measured (session 16): a 25-sample sheet of 89 KiB spent some 15% of its
// save_image in the kernel's page faults and in clearing tables. If this
// thread's T is in use (a second ThreadScratch<T> in the same scope) the
// object gets a T of its own instead. T's owner keeps its size in check:
// the thread's T lives as long as the thread.
template <typename T>
class ThreadScratch {
 public:
  ThreadScratch() {
    Slot& slot = thread_slot();
    if (!slot.busy) {
      slot.busy = true;
      value_ = &slot.value;
    } else {
      own_ = std::make_unique<T>();
      value_ = own_.get();
    }
  }
  ~ThreadScratch() {
    if (!own_) thread_slot().busy = false;
  }
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;

  T& operator*() const { return *value_; }
  T* operator->() const { return value_; }

 private:
  struct Slot {
    T value;
    bool busy = false;
  };
  static Slot& thread_slot() {
    static thread_local Slot slot;
    return slot;
  }

  T* value_ = nullptr;
  std::unique_ptr<T> own_;
};

}  // namespace torchimage
