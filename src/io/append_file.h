// Private: an append-only file of whole records (TensorBoard's event files).
// The file is created exclusively and opened O_APPEND; each append() puts a
// batch of whole records at its end in one write (writev), continuing after
// short writes and EINTR. A failed append truncates the file back to its
// size before it, so that no half record stays between whole ones; a process
// killed mid-append leaves at most a partial last record, which readers
// (TensorBoard's) stop before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace torchimage {

class AppendFile {
 public:
  struct Piece {
    const void* data;
    size_t size;
  };

  // Creates `path`, which must not exist (O_EXCL), mode 0666 less the umask.
  // Returns null with *err set (errno) when it exists (EEXIST) or cannot be
  // created.
  static std::unique_ptr<AppendFile> create(const std::string& path, int* err);

  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Appends the pieces, in order, as one batch (one writev per IOV_MAX pieces,
  // each holding whole records when the caller's pieces are whole records).
  // On failure the file is cut back to its size before the call and a
  // c10::Error naming the path and the system's reason is thrown.
  void append(const std::vector<Piece>& pieces);

  // fsync of the file.
  void sync();

  const std::string& path() const { return path_; }
  // Bytes appended through this object since creation (the file's size).
  int64_t size() const { return size_; }

 private:
  AppendFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
  int64_t size_ = 0;
};

}  // namespace torchimage
