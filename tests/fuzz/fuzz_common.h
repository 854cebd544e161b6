// Shared by the fuzz targets: checks that abort (so both libFuzzer and the
// replay program report them), a reader of fuzzer-chosen values, and the
// contract that every failure is a c10::Error with a message.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <typeinfo>

#include <c10/util/Exception.h>
#include <c10/util/StringUtil.h>

#define FUZZ_CHECK(cond, ...)                                                          \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d: %s\n", #cond, __FILE__,    \
                   __LINE__, std::string(::c10::str(__VA_ARGS__)).c_str());                         \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace fuzz {

// Runs f(). Returns true when it returned, false when it threw a c10::Error
// (which must carry a message); any other exception aborts.
template <typename F>
bool accepted(F&& f) {
  try {
    f();
    return true;
  } catch (const c10::Error& e) {
    const char* msg = e.what_without_backtrace();
    FUZZ_CHECK(msg != nullptr && std::strlen(msg) > 0, "c10::Error without a message");
    return false;
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "non-c10 exception ", typeid(e).name(), ": ", e.what());
  } catch (...) {
    FUZZ_CHECK(false, "unknown exception type");
  }
  return false;
}

// Consumes fuzzer bytes as small choices; past the end it yields zeros.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}

  uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
    return v;
  }
  uint64_t u64() { return (uint64_t{u32()} << 32) | u32(); }
  bool boolean() { return u8() & 1; }
  // Uniform-ish in [lo, hi].
  int64_t range(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t v = span <= 256 ? u8() : span <= (uint64_t{1} << 32) ? u32() : u64();
    return lo + static_cast<int64_t>(v % span);
  }
  double f64() {
    const uint64_t bits = u64();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  const uint8_t* p_;
  size_t n_;
};

}  // namespace fuzz
