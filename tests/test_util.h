// Helpers shared by the tests: an assertion on c10::Error messages and a
// temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/types.h>

#if defined(__SANITIZE_ADDRESS__)
#define TORCHIMAGE_TEST_HAS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TORCHIMAGE_TEST_HAS_LSAN 1
#endif
#endif
#ifdef TORCHIMAGE_TEST_HAS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

// Under ThreadSanitizer, which cannot follow a thread started in a child
// forked from a process that has several.
#if defined(__SANITIZE_THREAD__)
#define TORCHIMAGE_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TORCHIMAGE_TEST_UNDER_TSAN 1
#endif
#endif

// LibTorch's zip reader (caffe2::serialize::PyTorchStreamReader, 1.13 at
// least) leaks miniz's reader state when its constructor throws after the
// archive opened (a malformed record, a bad version): the destructor that
// would free it never runs. That is LibTorch's leak, not torchimage's. A test
// that feeds it malformed archives on purpose holds this object around those
// calls only, so LeakSanitizer still checks every other allocation of the
// test (and of this thread outside the scope). Without ASan it does nothing.
class LibTorchZipLeaksIgnored {
 public:
  LibTorchZipLeaksIgnored() {
#ifdef TORCHIMAGE_TEST_HAS_LSAN
    __lsan_disable();
#endif
  }
  ~LibTorchZipLeaksIgnored() {
#ifdef TORCHIMAGE_TEST_HAS_LSAN
    __lsan_enable();
#endif
  }
  LibTorchZipLeaksIgnored(const LibTorchZipLeaksIgnored&) = delete;
  LibTorchZipLeaksIgnored& operator=(const LibTorchZipLeaksIgnored&) = delete;
};

// Expects `statement` to throw a c10::Error whose message (without the
// backtrace) contains `substring`; anything else is a failure.
#define EXPECT_THROW_MSG(statement, substring)                                              \
  do {                                                                                      \
    try {                                                                                   \
      statement;                                                                            \
      ADD_FAILURE() << "expected a c10::Error containing \"" << (substring)                 \
                    << "\" from: " #statement;                                              \
    } catch (const c10::Error& e_) {                                                        \
      const std::string msg_ = e_.what_without_backtrace();                                 \
      EXPECT_NE(msg_.find(substring), std::string::npos)                                    \
          << "message \"" << msg_ << "\" lacks \"" << (substring) << "\"";                  \
    } catch (const std::exception& e_) {                                                    \
      ADD_FAILURE() << "expected a c10::Error containing \"" << (substring)                \
                    << "\", got another exception: " << e_.what();                         \
    }                                                                                       \
  } while (0)

namespace torchimage_test {

// A fresh directory ($TMPDIR or /tmp, torchimage-<tag>-XXXXXX), removed
// with its contents at the end.
struct TempDir {
  std::filesystem::path path;

  explicit TempDir(const std::string& tag = "test") {
    const char* base = std::getenv("TMPDIR");
    std::string templ =
        std::string(base && *base ? base : "/tmp") + "/torchimage-" + tag + "-XXXXXX";
    const char* made = ::mkdtemp(&templ[0]);
    if (made == nullptr) throw std::runtime_error("mkdtemp failed for " + templ);
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string operator/(const std::string& name) const { return file(name); }

  // Every entry, hidden ones (temporary files) included, sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // Removes every entry.
  void clear() const {
    for (const auto& e : std::filesystem::directory_iterator(path)) {
      std::filesystem::remove_all(e.path());
    }
  }
};

// The bytes of a file (empty if it cannot be read).
inline std::vector<uint8_t> bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

// A tensor's bytes in row-major order (uint8 data), and bytes as a 1-D uint8
// tensor (a copy): what the encoders return and the decoders take.
inline std::vector<uint8_t> to_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  const uint8_t* p = c.data_ptr<uint8_t>();
  return std::vector<uint8_t>(p, p + c.numel());
}

inline torch::Tensor to_tensor(const std::vector<uint8_t>& b) {
  return torch::from_blob(const_cast<uint8_t*>(b.data()), {static_cast<int64_t>(b.size())},
                          torch::kUInt8)
      .clone();
}

// The message of the c10::Error that f() throws, or "" when it returns.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  }
  return "";
}

// Captures what is written to file descriptor 2 (libpng's and libjpeg's
// default handlers print there) between construction and finish().
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    std::cerr.flush();
    file_ = std::tmpfile();
    saved_ = ::dup(2);
    ::dup2(::fileno(file_), 2);
  }
  ~StderrCapture() {
    restore();
    if (file_) std::fclose(file_);
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  std::string finish() {
    restore();
    std::string out;
    std::rewind(file_);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), file_)) > 0) out.append(buf, n);
    std::fclose(file_);
    file_ = nullptr;
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    std::cerr.flush();
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  FILE* file_ = nullptr;
  int saved_ = -1;
};

}  // namespace torchimage_test
