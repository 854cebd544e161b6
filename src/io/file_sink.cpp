// Atomic file writes: a new file is written unnamed (O_TMPFILE) and then
// linked under its name; a file that exists is replaced by a temporary file
// in its directory, renamed over it.
#include <atomic>
#include <cerrno>
#include <random>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <c10/util/Exception.h>
#include <torchimage/io.h>

#include "io/file_path.h"

namespace torchimage {
namespace fs = std::filesystem;
namespace {

std::string os_error(int err) {
  std::error_code ec(err, std::generic_category());
  return ec.message();
}

// Closes a descriptor and removes a temporary file unless released.
class TempFile {
 public:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Closes the descriptor, reporting the error close() gives (NFS, quotas).
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void release() { path_.clear(); }

 private:
  int fd_;
  std::string path_;
};

// Creates a new file `.<name>.tmp-XXXXXX` beside the target with mode 0666
// less the umask (the kernel applies it, so no process-global umask read is
// needed). Returns the descriptor and fills `tmp`, or -1 with errno set.
int create_temp(const fs::path& dir, const std::string& name, std::string* tmp) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t seed = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd() ^ static_cast<uint64_t>(::getpid());
  }();
  for (int attempt = 0; attempt < 100; ++attempt) {
    uint64_t x = seed + 0x9e3779b97f4a7c15ull * (counter.fetch_add(1) + 1);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    // Six letters or digits, as mkstemp's XXXXXX (documented naming).
    static const char kAlphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char suffix[7];
    for (int i = 0; i < 6; ++i, x /= 62) suffix[i] = kAlphabet[x % 62];
    suffix[6] = '\0';
    *tmp = (dir / ("." + name + ".tmp-" + suffix)).string();
    const int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

bool write_all(int fd, const uint8_t* p, size_t n, int* err) {
  while (n > 0) {
    const size_t piece = n < (size_t{1} << 30) ? n : (size_t{1} << 30);
    const ssize_t w = ::write(fd, p, piece);
    if (w < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    if (w == 0) {
      *err = ENOSPC;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// A device, FIFO or socket at the path (e.g. /dev/null, /dev/full) is written
// in place: there is nothing to replace atomically, and renaming over a
// device node would destroy it.
void write_in_place(const std::string& path, const uint8_t* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  TORCH_CHECK(fd >= 0, "cannot write '", path, "': ", os_error(errno));
  int err = 0;
  const bool ok = write_all(fd, data, size, &err);
  const int rc = ::close(fd);
  TORCH_CHECK(ok, "cannot write '", path, "': ", os_error(err));
  TORCH_CHECK(rc == 0, "cannot write '", path, "': ", os_error(errno));
}

// Whether linkat through /proc/self/fd works here (false once it failed
// for want of /proc: then every write takes the named temporary file).
std::atomic<bool> g_link_unnamed{true};
// Whether linkat(fd, "", AT_EMPTY_PATH) may be tried: it names the file
// without a walk through /proc, but needs CAP_DAC_READ_SEARCH (false once
// it was refused).
std::atomic<bool> g_link_empty_path{true};

// Gives the unnamed file `fd` the name `path` (never replacing anything).
// Returns 0, or -1 with errno set by the /proc link.
int link_unnamed(int fd, const fs::path& path, const char* proc) {
#if defined(AT_EMPTY_PATH)
  if (g_link_empty_path.load(std::memory_order_relaxed)) {
    if (::linkat(fd, "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH) == 0) return 0;
    if (errno == EEXIST) return -1;
    // Refused (ENOENT or EPERM without the capability), or a failure the
    // /proc link meets again: that one decides, and says whether to stop
    // trying this way.
    const int rc = ::linkat(AT_FDCWD, proc, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
    if (rc == 0) g_link_empty_path.store(false, std::memory_order_relaxed);
    return rc;
  }
#endif
  return ::linkat(AT_FDCWD, proc, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
}

enum class Unnamed { Written, NotHere };

// A new file (nothing at `path`): written as an unnamed file in `dir`
// (O_TMPFILE) and then given its name with linkat, which fails rather than
// replace anything. One directory entry is made, where a named temporary
// costs three directory updates (create, and rename's remove + add); in a
// per-file export to one folder, creating files is about a third of the
// time. A killed process leaves nothing behind: an unnamed file vanishes
// with its descriptor. Returns NotHere, having written nothing under
// any name, where the file system or kernel lacks O_TMPFILE, /proc is not
// mounted, the directory cannot be opened (the caller's path reports why),
// or a file appeared at `path` meanwhile (the caller then replaces it).
Unnamed write_unnamed(const fs::path& dir, const fs::path& path, const std::string& path_in,
                      const uint8_t* bytes, size_t size, const WriteFileOptions& options) {
#if defined(O_TMPFILE)
  if (!g_link_unnamed.load(std::memory_order_relaxed)) return Unnamed::NotHere;
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) return Unnamed::NotHere;
  TempFile file(fd, std::string());  // closes; there is no name to remove
  int err = 0;
  TORCH_CHECK(write_all(fd, bytes, size, &err), "cannot write '", path_in, "': ", os_error(err));
  if (options.durable() && ::fsync(fd) != 0) {
    TORCH_CHECK(false, "cannot write '", path_in, "': fsync: ", os_error(errno));
  }
  char proc[48];
  std::snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  if (link_unnamed(fd, path, proc) != 0) {
    // EEXIST: another writer was first (the caller replaces its file).
    // Anything else (no /proc, a full directory, a security module) is left
    // to the named path, which reports its own errors.
    struct stat st;
    if (errno == ENOENT && ::stat(proc, &st) != 0) {
      g_link_unnamed.store(false, std::memory_order_relaxed);  // no /proc here
    }
    return Unnamed::NotHere;
  }
  // close() reports late write errors on some file systems (none of those
  // with O_TMPFILE is known to): then the name just made is removed again.
  if (file.close() != 0) {
    const int close_err = errno;
    ::unlink(path.c_str());
    TORCH_CHECK(false, "cannot write '", path_in, "': ", os_error(close_err));
  }
  return Unnamed::Written;
#else
  (void)dir, (void)path, (void)path_in, (void)bytes, (void)size, (void)options;
  return Unnamed::NotHere;
#endif
}

void sync_directory(const fs::path& dir) {
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

// An open file of a process rather than a name: /dev/stdout, /dev/fd/N,
// /proc/self/fd/N (or a link to one). Written in place, as a shell
// redirection would be: "replacing" it would rename over whatever file the
// descriptor happens to have been opened from.
bool names_descriptor(const std::string& path) {
  return starts_with(path, "/dev/fd/") || starts_with(path, "/proc/");
}

// Refuses to replace a file that the caller could not open for writing (a
// 0444 file, or one owned by another user): open() would refuse it too.
void check_replaceable(const fs::path& path, const std::string& path_in, mode_t mode,
                       const WriteFileOptions& options) {
  if (options.replace_read_only()) return;
  if (::access(path.c_str(), W_OK) == 0 || errno != EACCES) return;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  TORCH_CHECK(false, "cannot write '", path_in, "': the file exists and is read-only for this user "
              "(mode ", octal, "); it was left as it is (set replace_read_only to replace it)");
}

}  // namespace

void check_path(const std::string& path, const char* what) {
  const size_t nul = path.find('\0');
  if (nul == std::string::npos) return;
  std::string shown;
  for (char c : path) {
    if (c == '\0') shown += "\\0"; else shown += c;
  }
  TORCH_CHECK_VALUE(false, what, ": the path '", shown, "' holds a NUL byte (at offset ", nul,
                    "); a path cannot contain one");
}

void write_file(const std::string& path_in, const void* data, size_t size,
                const WriteFileOptions& options) {
  TORCH_CHECK(!path_in.empty(), "cannot write '': the path is empty");
  check_path(path_in, "write_file");
  const auto* bytes = static_cast<const uint8_t*>(data);
  fs::path path(path_in);

  struct stat st;
  const bool found = ::lstat(path.c_str(), &st) == 0;
  const bool missing = !found && errno == ENOENT;  // an export's case: one system call
  if (found && S_ISLNK(st.st_mode)) {
    // What the links lead to. A device, FIFO or socket (/dev/null, a pipe at
    // /dev/stdout) or an open descriptor (/dev/fd/N) is written in place; a
    // loop of links is an error that leaves every link as it is.
    struct stat end;
    if (::stat(path.c_str(), &end) == 0) {
      TORCH_CHECK(!S_ISDIR(end.st_mode), "cannot write '", path_in,
                  "': the path is a directory");
      if (!S_ISREG(end.st_mode) || names_descriptor(path_in)) {
        return write_in_place(path_in, bytes, size);
      }
    } else if (errno == ELOOP) {
      TORCH_CHECK(false, "cannot write '", path_in, "': ", os_error(ELOOP),
                  " (a loop of symbolic links); nothing was written");
    }
    // Written through: the file the links lead to is replaced, the links kept.
    std::error_code ec;
    fs::path target = fs::read_symlink(path, ec);
    bool resolved = false;
    for (int hops = 0; !ec && hops < 40; ++hops) {
      if (target.is_relative()) target = path.parent_path() / target;
      if (names_descriptor(target.string())) return write_in_place(path_in, bytes, size);
      path = target;
      if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
        resolved = true;
        break;
      }
      target = fs::read_symlink(path, ec);
    }
    // The links changed under us into a loop (or one could not be read).
    TORCH_CHECK(resolved, "cannot write '", path_in, "': ",
                ec ? ec.message() : os_error(ELOOP), " (following its symbolic links); nothing was written");
  }
  bool target_exists = false;
  mode_t target_mode = 0;
  if (!missing && ::stat(path.c_str(), &st) == 0) {
    TORCH_CHECK(!S_ISDIR(st.st_mode), "cannot write '", path_in, "': the path is a directory");
    if (!S_ISREG(st.st_mode)) return write_in_place(path.string(), bytes, size);
    target_exists = true;
    target_mode = st.st_mode;
    check_replaceable(path, path_in, target_mode, options);
  }

  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  if (options.create_directories()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    TORCH_CHECK(!ec, "cannot write '", path_in, "': cannot create directory '", dir.string(),
                "': ", ec.message());
  }
  if (!target_exists &&
      write_unnamed(dir, path, path_in, bytes, size, options) == Unnamed::Written) {
    if (options.durable()) sync_directory(dir);
    return;
  }
  if (!target_exists && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {  // appeared meanwhile
    target_exists = true;
    target_mode = st.st_mode;
    check_replaceable(path, path_in, target_mode, options);
  }
  if (::stat(dir.c_str(), &st) != 0) {
    const int err = errno;
    TORCH_CHECK(false, "cannot write '", path_in, "': directory '", dir.string(), "': ",
                os_error(err),
                err == ENOENT ? " (set create_directories to create it)"
                              : "");
  }
  TORCH_CHECK(S_ISDIR(st.st_mode), "cannot write '", path_in, "': '", dir.string(),
              "' is not a directory");

  // Temporary name: .<name>.tmp-XXXXXX beside the target (documented; a
  // process killed mid-write can leave only such files behind).
  std::string name = path.filename().string();
  if (name.size() > 200) name.resize(200);
  std::string tmp;
  const int fd = create_temp(dir, name, &tmp);
  TORCH_CHECK(fd >= 0, "cannot write '", path_in, "': cannot create a file in '", dir.string(),
              "': ", os_error(errno));
  TempFile file(fd, tmp);

  int err = 0;
  // Replacing a file keeps its permission bits, as writing into it would.
  if (target_exists && ::fchmod(fd, target_mode & 0777) != 0) err = errno;
  TORCH_CHECK(err == 0, "cannot write '", path_in, "': ", os_error(err));
  TORCH_CHECK(write_all(fd, bytes, size, &err), "cannot write '", path_in, "': ", os_error(err));
  if (options.durable() && ::fsync(fd) != 0) {
    TORCH_CHECK(false, "cannot write '", path_in, "': fsync: ", os_error(errno));
  }
  TORCH_CHECK(file.close() == 0, "cannot write '", path_in, "': ", os_error(errno));
  TORCH_CHECK(::rename(tmp.c_str(), path.c_str()) == 0, "cannot write '", path_in,
              "': rename: ", os_error(errno));
  file.release();
  if (options.durable()) sync_directory(dir);
}

void write_file(const std::string& path, const torch::Tensor& data,
                const WriteFileOptions& options) {
  TORCH_CHECK(data.defined() && data.scalar_type() == torch::kUInt8 && data.dim() == 1,
              "write_file: expected a 1-D uint8 tensor of bytes, got ",
              data.defined() ? c10::str(data.scalar_type(), " of shape ", data.sizes())
                             : std::string("an undefined tensor"));
  const torch::Tensor bytes = data.to(torch::kCPU).contiguous();
  write_file(path, bytes.data_ptr<uint8_t>(), static_cast<size_t>(bytes.numel()), options);
}

torch::Tensor read_file(const std::string& path) {
  check_path(path, "read_file");
  // O_NONBLOCK: opening a FIFO that has no writer would block forever; only
  // regular files are read (their reads never see O_NONBLOCK).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  TORCH_CHECK(fd >= 0, "read_file: cannot open '", path, "': ", os_error(errno));
  struct stat st;
  const bool stat_ok = ::fstat(fd, &st) == 0;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    const int err = stat_ok ? 0 : errno;
    ::close(fd);
    TORCH_CHECK(false, "read_file: '", path, "' is not a regular file",
                err ? ": " + os_error(err) : std::string());
  }
  torch::Tensor out = torch::empty({static_cast<int64_t>(st.st_size)}, torch::kUInt8);
  auto* p = out.data_ptr<uint8_t>();
  size_t left = static_cast<size_t>(st.st_size);
  while (left > 0) {
    const ssize_t r = ::read(fd, p, left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      const int err = r < 0 ? errno : 0;
      ::close(fd);
      TORCH_CHECK(false, "read_file: cannot read '", path, "': ",
                  err ? os_error(err) : std::string("file shrank while reading"));
    }
    p += r;
    left -= static_cast<size_t>(r);
  }
  ::close(fd);
  return out;
}

}  // namespace torchimage
