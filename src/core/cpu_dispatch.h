// Private: what the CPU offers. Compile a hot function twice, for AVX2 and
// for the baseline, and pick one at load time by the CPU's features
// (GCC/Clang target_clones): the library thus runs where AVX2 is missing.
// Sanitizer builds skip the clones. Also the core count and a spin-wait step.
#pragma once

#include <thread>

// Clang (14) defines neither __SANITIZE_ADDRESS__ nor __SANITIZE_THREAD__: ask
// it. Under TSan an instrumented ifunc resolver crashes at load time, before
// the TSan runtime is up.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TORCHIMAGE_NO_CLONES 1
#endif
#endif

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__) && !defined(TORCHIMAGE_NO_CLONES)
#define TORCHIMAGE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TORCHIMAGE_CLONES
#endif

#if defined(__GNUC__)
#define TORCHIMAGE_INLINE inline __attribute__((always_inline))
#else
#define TORCHIMAGE_INLINE inline
#endif

// Hand-written SIMD (intrinsics in functions with a target attribute),
// called only where the running CPU has the feature.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TORCHIMAGE_X86_INTRINSICS 1

// __builtin_cpu_init first: the first call may come from another static
// initializer, before libgcc's own has run.
inline bool cpu_has_avx2() {
  static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("avx2"));
  return yes;
}

inline bool cpu_has_bmi2() {
  static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("bmi2"));
  return yes;
}

inline bool cpu_has_ssse3() {
  static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("ssse3"));
  return yes;
}
#endif

namespace torchimage {

// std::thread::hardware_concurrency(), asked once: glibc answers it by
// reading /sys/devices/system/cpu/online on every call (an open, a read and
// a close: tens of microseconds on a VM), too slow for a per-call decision.
inline int hardware_threads() {
  static const int n = static_cast<int>(std::thread::hardware_concurrency());
  return n;
}

// A spin-wait step: tells the core this thread is polling (x86 PAUSE).
inline void cpu_relax() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_ia32_pause();
#endif
}

}  // namespace torchimage
