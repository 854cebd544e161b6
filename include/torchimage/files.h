#pragma once

#include <cstddef>
#include <string>

#include <torch/types.h>

#include <torchimage/export.h>

namespace torchimage {

namespace detail {

/// How a file is written: the arguments shared by WriteFileOptions and
/// SaveImageOptions.
template <typename Derived>
class FileArgs {
 public:
  /// Create missing parent directories of the output path. Default false:
  /// a missing directory is an error.
  Derived& create_directories(bool v) { create_directories_ = v; return self(); }
  bool create_directories() const noexcept { return create_directories_; }

  /// fsync the file (and its directory) before returning, so that it
  /// survives a power loss, not only a crash of the process. Default false
  /// (torchvision never syncs; a sync costs milliseconds per file).
  Derived& durable(bool v) { durable_ = v; return self(); }
  bool durable() const noexcept { return durable_; }

  /// Replace an existing file that this user could not open for writing (a
  /// read-only file, 0444). Default false: such a file is an error and is
  /// kept, as torchvision's open() refuses it.
  Derived& replace_read_only(bool v) { replace_read_only_ = v; return self(); }
  bool replace_read_only() const noexcept { return replace_read_only_; }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  bool create_directories_ = false;
  bool durable_ = false;
  bool replace_read_only_ = false;
};

}  // namespace detail

/// Options of `write_file`, and the file part of `SaveImageOptions`.
/// Example: `write_file(path, bytes, WriteFileOptions().create_directories(true))`
class WriteFileOptions : public detail::FileArgs<WriteFileOptions> {};

/// Writes bytes atomically: into a temporary file `.<name>.tmp-XXXXXX` in the
/// target's directory, renamed over `path` once complete. On failure neither a
/// partial nor a temporary file remains and an existing file is untouched.
/// Symbolic links are written through (a loop of them is an error); devices,
/// FIFOs and open descriptors (/dev/null, /dev/stdout, /dev/fd/N) are written
/// in place. A path holding a NUL byte is refused (c10::ValueError).
TORCHIMAGE_API void write_file(const std::string& path, const void* data, size_t size,
                               const WriteFileOptions& options = {});
TORCHIMAGE_API void write_file(const std::string& path, const torch::Tensor& data,
                               const WriteFileOptions& options = {});

/// The bytes of a regular file as a 1-D uint8 tensor (a FIFO, device or
/// directory is refused without blocking).
TORCHIMAGE_API torch::Tensor read_file(const std::string& path);

}  // namespace torchimage
