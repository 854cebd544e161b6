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
/// Symbolic links are written through (a loop of them is an error). A path
/// ending with '/' or holding a NUL byte is refused (c10::ValueError).
///
/// What has no file to replace is written in place, each image whole (one
/// writer at a time per target in this process, whatever name reaches it):
/// - this process's open descriptors named as paths (/dev/stdout, /dev/fd/N,
///   /proc/self/fd/N) through the descriptor itself, as a shell's `>&N`:
///   from its offset, or at the end in append mode. So `prog > f` leaves f
///   holding exactly the image and `prog >> log` appends it; a regular file
///   reached this way is neither truncated nor replaced;
/// - another process's descriptor (/proc/<pid>/fd/N) opened anew, as a
///   shell's `> /proc/<pid>/fd/N`: a regular file there is truncated, or
///   appended to when that descriptor is in append mode;
/// - devices, FIFOs and sockets (/dev/null). A FIFO that no process has open
///   for reading is waited for 10 s, then the write fails. A pipe whose reader
///   has gone fails with EPIPE ("the reading end was closed"); the SIGPIPE
///   the write raises is taken back, so it never ends the process.
TORCHIMAGE_API void write_file(const std::string& path, const void* data, size_t size,
                               const WriteFileOptions& options = {});
TORCHIMAGE_API void write_file(const std::string& path, const torch::Tensor& data,
                               const WriteFileOptions& options = {});

/// The bytes of a regular file as a 1-D uint8 tensor (a FIFO, device or
/// directory is refused without blocking).
TORCHIMAGE_API torch::Tensor read_file(const std::string& path);

}  // namespace torchimage
