// Atomic file writes: a new file is written unnamed (O_TMPFILE) and then
// linked under its name; a file that exists is replaced by a temporary file
// in its directory, renamed over it.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <c10/util/Exception.h>
#include <torchimage/io.h>

#include "io/deferred_close.h"
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

// Writes all of `p` to `fd`, from its offset (or at its end, in append
// mode). A descriptor its opener left non-blocking (EAGAIN) is waited on.
bool write_all(int fd, const uint8_t* p, size_t n, int* err) {
  while (n > 0) {
    const size_t piece = n < (size_t{1} << 30) ? n : (size_t{1} << 30);
    const ssize_t w = ::write(fd, p, piece);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        if (::poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
      }
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

// One image at a time per device, FIFO, pipe or socket, whatever name or
// descriptor of this process reaches it: two writers' bytes never
// interleave there (a pipe takes at most PIPE_BUF bytes in one piece). The
// mutexes live as long as the process (one per such target written to).
std::mutex& target_lock(const struct stat& st) {
  static std::mutex mu;
  static auto* locks = new std::map<std::pair<dev_t, ino_t>, std::unique_ptr<std::mutex>>();
  std::lock_guard<std::mutex> guard(mu);
  auto& slot = (*locks)[{st.st_dev, st.st_ino}];
  if (!slot) slot = std::make_unique<std::mutex>();
  return *slot;
}

// SIGPIPE, which a write to a pipe or socket whose reader has gone raises,
// is held back on this thread while it writes: the write fails with EPIPE
// (an error naming the path) instead of ending the process. A SIGPIPE the
// write raised is taken back; one that was pending before stays pending.
class HoldSigpipe {
 public:
  HoldSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    was_pending_ = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    blocked_ = ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~HoldSigpipe() {
    if (!blocked_) return;
    if (raised_ && !was_pending_) {
      const struct timespec now = {0, 0};
      while (::sigtimedwait(&pipe_, nullptr, &now) < 0 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  HoldSigpipe(const HoldSigpipe&) = delete;
  HoldSigpipe& operator=(const HoldSigpipe&) = delete;
  void write_failed(int err) { raised_ = raised_ || err == EPIPE; }

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false, blocked_ = false, raised_ = false;
};

// Writes the bytes to an open descriptor that is not a regular file being
// replaced: whole, and one writer at a time per target.
void write_to_descriptor(int fd, const struct stat& st, const std::string& path,
                         const uint8_t* data, size_t size) {
  TORCH_CHECK(!S_ISDIR(st.st_mode), "cannot write '", path, "': the path is a directory");
  std::lock_guard<std::mutex> one_at_a_time(target_lock(st));
  HoldSigpipe hold;
  int err = 0;
  const bool ok = write_all(fd, data, size, &err);
  if (!ok) hold.write_failed(err);
  TORCH_CHECK(ok, "cannot write '", path, "': ", os_error(err),
              err == EPIPE ? " (the reading end was closed)" : "");
}

// How long a FIFO with no reader is waited for (see fifo_reader_wait).
std::atomic<int> g_fifo_wait_ms{kFifoReaderWaitMs};

// Opens a FIFO for writing, waiting for a reader at most the FIFO wait:
// open(O_WRONLY) alone would block until one comes, for ever.
int open_fifo(const std::string& target, const std::string& path) {
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(g_fifo_wait_ms.load());
  for (int pause_ms = 1;; pause_ms = std::min(pause_ms * 2, 50)) {
    const int fd = ::open(target.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      // Blocking writes from here on: the reader takes the bytes at its pace.
      const int flags = ::fcntl(fd, F_GETFL);
      if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
      return fd;
    }
    if (errno != ENXIO) return -1;
    if (std::chrono::steady_clock::now() >= give_up) {
      TORCH_CHECK(false, "cannot write '", path, "': it is a FIFO that no process has open for "
                  "reading (waited ", g_fifo_wait_ms.load(), " ms for a reader); nothing was written");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
}

// Whether another process's descriptor <pid>/fd/<n> is in append mode (its
// /proc/<pid>/fdinfo/<n> "flags:" line, in octal).
bool opened_for_append(const std::string& proc_fd_path) {
  const size_t at = proc_fd_path.rfind("/fd/");
  if (at == std::string::npos) return false;
  const std::string info =
      proc_fd_path.substr(0, at) + "/fdinfo/" + proc_fd_path.substr(at + 4);
  FILE* f = std::fopen(info.c_str(), "re");
  if (f == nullptr) return false;
  char line[128];
  unsigned long flags = 0;
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f) != nullptr) {
    found = std::sscanf(line, "flags: %lo", &flags) == 1;
  }
  std::fclose(f);
  return found && (flags & O_APPEND) != 0;
}

// A device, FIFO or socket at the path (e.g. /dev/null, /dev/full), or a
// descriptor named as a path, is written in place: there is nothing to
// replace atomically, and renaming over a device node would destroy it.
//  - This process's descriptors (/dev/fd/N, /dev/stdout, /proc/self/fd/N,
//    /proc/<this pid>/fd/N) are written through the descriptor itself, as
//    a shell's `>&N` is: from its offset, or appended in append mode (so
//    `> f` leaves f holding exactly the bytes, `>> log` appends them).
//  - Another process's descriptor (/proc/<pid>/fd/N) is opened anew, as a
//    shell's redirection to that path: a regular file behind it is
//    truncated, or appended to when that descriptor is in append mode.
//  - A FIFO waits for a reader at most fifo_reader_wait() (then an error).
// `target` is opened; `path` (the caller's) names it in messages.
void write_in_place(const std::string& target, const std::string& path, int own_fd,
                    const uint8_t* data, size_t size) {
  struct stat st;
  if (own_fd >= 0) {
    TORCH_CHECK(::fstat(own_fd, &st) == 0, "cannot write '", path, "': descriptor ", own_fd,
                " of this process: ", os_error(errno));
    return write_to_descriptor(own_fd, st, path, data, size);
  }
  TORCH_CHECK(::stat(target.c_str(), &st) == 0, "cannot write '", path, "': ", os_error(errno));
  int fd;
  if (S_ISFIFO(st.st_mode)) {
    fd = open_fifo(target, path);
  } else {
    int flags = O_WRONLY | O_CLOEXEC;
    if (S_ISREG(st.st_mode)) flags |= opened_for_append(target) ? O_APPEND : O_TRUNC;
    fd = ::open(target.c_str(), flags);
  }
  TORCH_CHECK(fd >= 0, "cannot write '", path, "': ", os_error(errno));
  struct Close {
    int fd;
    ~Close() {
      if (fd >= 0) ::close(fd);
    }
  } closer{fd};
  TORCH_CHECK(::fstat(fd, &st) == 0, "cannot write '", path, "': ", os_error(errno));
  write_to_descriptor(fd, st, path, data, size);
  const int rc = ::close(fd);
  closer.fd = -1;
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

// Parses a descriptor number: digits only, within int.
int parse_descriptor(const std::string& digits) {
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return -1;
  }
  return std::atoi(digits.c_str());
}

// An open file of a process rather than a name: /dev/fd/N, /dev/stdout (a
// link to /proc/self/fd/1), /proc/self/fd/N, /proc/<pid>/fd/N. Written in
// place (write_in_place): "replacing" it would rename over whatever file the
// descriptor happens to have been opened from.
struct Descriptor {
  bool named = false;  // the path names a descriptor
  int own = -1;        // this process's descriptor number, or -1
};

Descriptor descriptor_of(const std::string& path) {
  Descriptor d;
  const std::string proc = "/proc/";
  if (starts_with(path, "/dev/fd/")) {
    d.named = true;
    d.own = parse_descriptor(path.substr(8));
    return d;
  }
  if (!starts_with(path, proc.c_str())) return d;
  const size_t slash = path.find('/', proc.size());
  if (slash == std::string::npos) return d;
  const std::string who = path.substr(proc.size(), slash - proc.size());
  const std::string rest = path.substr(slash);
  std::string number;
  if (starts_with(rest, "/fd/")) {
    number = rest.substr(4);
  } else if (starts_with(rest, "/task/")) {  // /proc/<pid>/task/<tid>/fd/N
    const size_t fd_at = rest.find("/fd/", 6);
    if (fd_at == std::string::npos) return d;
    number = rest.substr(fd_at + 4);
  } else {
    return d;
  }
  d.named = true;  // anything under /proc/*/fd/ is written in place
  const bool ours = who == "self" || who == "thread-self" ||
                    (parse_descriptor(who) >= 0 && parse_descriptor(who) == ::getpid());
  if (ours) d.own = parse_descriptor(number);
  return d;
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

// Whether a file about to be replaced is worth holding open through the
// rename, so that its blocks are not freed on the caller's thread: a file
// of one name (with more, the rename frees nothing) and of 16 KiB or more
// (below, freeing costs about what the open and the hand-over do).
bool worth_holding(const struct stat& st) {
  return st.st_nlink == 1 && st.st_size >= (off_t{16} << 10);
}

}  // namespace

std::string order_key_of(const std::string& path) {
  struct stat st;
  if ((starts_with(path, "/dev/") || starts_with(path, "/proc/")) &&
      ::stat(path.c_str(), &st) == 0) {
    // NUL first: no path holds one (check_path), so no path is this key.
    return std::string(1, '\0') + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  }
  return fs::path(path).lexically_normal().string();
}

bool written_in_place(const std::string& path) {
  if (descriptor_of(path).named) return true;
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

void set_fifo_reader_wait_ms(int ms) { g_fifo_wait_ms.store(ms); }

void check_path(const std::string& path, const char* what) {
  TORCH_CHECK_VALUE(path.empty() || path.back() != '/', what, ": the path '", path,
                    "' ends with '/', which names a directory; expected the path of a file");
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

  const Descriptor named = descriptor_of(path_in);
  if (named.named) return write_in_place(path_in, path_in, named.own, bytes, size);

  struct stat st;
  const bool found = ::lstat(path.c_str(), &st) == 0;
  const bool missing = !found && errno == ENOENT;  // an export's case: one system call
  if (found && S_ISLNK(st.st_mode)) {
    // What the links lead to: an open descriptor (/dev/stdout is a link to
    // /proc/self/fd/1) is written in place; a loop of links is an error that
    // leaves every link as it is.
    struct stat end;
    if (::stat(path.c_str(), &end) == 0) {
      TORCH_CHECK(!S_ISDIR(end.st_mode), "cannot write '", path_in,
                  "': the path is a directory");
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
      const Descriptor d = descriptor_of(target.string());
      if (d.named) return write_in_place(target.string(), path_in, d.own, bytes, size);
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
  bool hold_old = false;  // the old file's blocks are freed off this thread (below)
  if (!missing && ::stat(path.c_str(), &st) == 0) {
    TORCH_CHECK(!S_ISDIR(st.st_mode), "cannot write '", path_in, "': the path is a directory");
    // A device, FIFO or socket (/dev/null, a named pipe).
    if (!S_ISREG(st.st_mode)) return write_in_place(path.string(), path_in, -1, bytes, size);
    target_exists = true;
    target_mode = st.st_mode;
    hold_old = worth_holding(st);
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
    hold_old = worth_holding(st);
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
  // The old file, held open through the rename, keeps its blocks until
  // another thread closes it (deferred_close.h). Where it cannot be opened
  // (gone meanwhile, no descriptors left), the rename frees them here.
#if defined(O_PATH)
  const int hold_flags = O_PATH | O_CLOEXEC;  // no permission needed, never blocks
#else
  const int hold_flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
#endif
  const int old_fd = hold_old ? ::open(path.c_str(), hold_flags) : -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_err = errno;
    if (old_fd >= 0) ::close(old_fd);
    TORCH_CHECK(false, "cannot write '", path_in, "': rename: ", os_error(rename_err));
  }
  file.release();
  if (old_fd >= 0) close_later(old_fd);
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
