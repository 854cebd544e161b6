#include "io/append_file.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <c10/util/Exception.h>

namespace torchimage {
namespace {

std::string os_error(int err) { return std::error_code(err, std::generic_category()).message(); }

#ifndef IOV_MAX
constexpr size_t kIovMax = 1024;
#else
constexpr size_t kIovMax = IOV_MAX;
#endif

}  // namespace

std::unique_ptr<AppendFile> AppendFile::create(const std::string& path, int* err) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    *err = errno;
    return nullptr;
  }
  *err = 0;
  return std::unique_ptr<AppendFile>(new AppendFile(fd, path));
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(const std::vector<Piece>& pieces) {
  std::vector<struct iovec> iov;
  iov.reserve(std::min(pieces.size(), kIovMax));
  const int64_t before = size_;
  size_t next = 0;
  int err = 0;
  while (next < pieces.size() && err == 0) {
    iov.clear();
    while (next < pieces.size() && iov.size() < kIovMax) {
      const Piece& p = pieces[next++];
      if (p.size > 0) iov.push_back({const_cast<void*>(p.data), p.size});
    }
    size_t first = 0;
    while (first < iov.size()) {
      const int count = static_cast<int>(iov.size() - first);
      const ssize_t w = ::writev(fd_, iov.data() + first, count);
      if (w < 0) {
        if (errno == EINTR) continue;
        err = errno;
        break;
      }
      if (w == 0) {
        err = ENOSPC;
        break;
      }
      size_ += w;
      // A short write: go on from where it stopped.
      size_t done = static_cast<size_t>(w);
      while (first < iov.size() && done >= iov[first].iov_len) {
        done -= iov[first].iov_len;
        ++first;
      }
      if (first < iov.size() && done > 0) {
        iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + done;
        iov[first].iov_len -= done;
      }
    }
  }
  if (err != 0) {
    // No half record stays in the file: cut it back to the last whole batch.
    int rc;
    do {
      rc = ::ftruncate(fd_, before);
    } while (rc < 0 && errno == EINTR);
    const int cut_err = rc < 0 ? errno : 0;
    if (rc == 0) size_ = before;
    TORCH_CHECK(false, "cannot append to '", path_, "': ", os_error(err),
                cut_err != 0 ? c10::str(" (and cannot cut it back to ", before, " bytes: ",
                                        os_error(cut_err), ")")
                             : std::string());
  }
}

void AppendFile::sync() {
  int rc;
  do {
    rc = ::fsync(fd_);
  } while (rc < 0 && errno == EINTR);
  TORCH_CHECK(rc == 0, "cannot sync '", path_, "': ", os_error(errno));
}

}  // namespace torchimage
