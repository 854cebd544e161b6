#include "runtime/chunked_copy.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "core/cpu_dispatch.h"

// Sanitizers see memcpy's accesses, not those of intrinsics: under them every
// copy is a memcpy, so that ThreadSanitizer checks the chunks' hand-off.
#if defined(TORCHIMAGE_X86_INTRINSICS) && !defined(TORCHIMAGE_NO_CLONES) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define TORCHIMAGE_STREAM_COPY 1
#include <immintrin.h>
#endif

namespace torchimage {
namespace {

#ifdef TORCHIMAGE_STREAM_COPY
// 128 bytes a step, `dst` 32-byte aligned, size a multiple of 128.
__attribute__((target("avx2"))) void stream_copy_avx2(uint8_t* dst, const uint8_t* src,
                                                      size_t size) {
  for (size_t i = 0; i < size; i += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 96), d);
  }
  _mm_sfence();  // order the streaming stores before whatever publishes them
}
#endif

}  // namespace

void copy_bytes(void* dst, const void* src, size_t size) {
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
#ifdef TORCHIMAGE_STREAM_COPY
  if (size >= (size_t{64} << 10) && cpu_has_avx2()) {
    // Up to the first 32-byte boundary of dst, the aligned middle, the tail.
    const size_t head = std::min(size, (32 - reinterpret_cast<uintptr_t>(d) % 32) % 32);
    std::memcpy(d, s, head);
    const size_t middle = (size - head) / 128 * 128;
    stream_copy_avx2(d + head, s + head, middle);
    std::memcpy(d + head + middle, s + head + middle, size - head - middle);
    return;
  }
#endif
  std::memcpy(d, s, size);
}

void ChunkedCopy::run() {
  for (;;) {
    const size_t at = next_.fetch_add(kChunk, std::memory_order_relaxed);
    if (at >= size_) return;
    const size_t n = std::min(kChunk, size_ - at);
    copy_bytes(dst_ + at, src_ + at, n);
    copied_.fetch_add(n, std::memory_order_release);
  }
}

void ChunkedCopy::wait() const {
  // At most one chunk per helper is still in flight (tens of microseconds):
  // spin, yielding now and then in case a helper was preempted.
  for (int spins = 0; copied_.load(std::memory_order_acquire) < size_; ++spins) {
    if (spins % 64 == 63) std::this_thread::yield();
  }
}

}  // namespace torchimage
