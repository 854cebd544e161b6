// Private: one memory copy shared out among threads, a chunk at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace torchimage {

// A copy of `size` bytes that any number of threads work on together: each
// run() takes the next chunk until none is left. The writer's caller copies a
// snapshot this way while idle workers help, so that a large tensor is copied
// by every core at once; whoever takes no chunk (a busy worker) costs nothing.
class ChunkedCopy {
 public:
  static constexpr size_t kChunk = size_t{64} << 10;

  ChunkedCopy(const void* src, void* dst, size_t size)
      : src_(static_cast<const uint8_t*>(src)), dst_(static_cast<uint8_t*>(dst)), size_(size) {}
  ChunkedCopy(const ChunkedCopy&) = delete;
  ChunkedCopy& operator=(const ChunkedCopy&) = delete;

  // Copies chunks until none is left to take (others may still be copying
  // theirs).
  void run();

  // Returns once every chunk has been copied, whoever took it; the copied
  // bytes are then visible to this thread.
  void wait() const;

 private:
  const uint8_t* src_;
  uint8_t* dst_;
  size_t size_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> copied_{0};
};

// memcpy, with non-temporal stores for large copies where the CPU has AVX2:
// a snapshot is read back by a worker later, not by this core now, and
// streaming stores skip reading the destination into the cache first.
void copy_bytes(void* dst, const void* src, size_t size);

}  // namespace torchimage
