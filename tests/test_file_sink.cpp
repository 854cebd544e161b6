// write_file / read_file: atomic replacement through a temporary file in the
// target's directory, clear errors, no leftovers, symlinks written through,
// devices written in place, and survival of a SIGKILL mid-write.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <c10/util/Exception.h>
#include <torch/torch.h>
#include <torchimage/io.h>

#include "io/deferred_close.h"
#include "io/file_path.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

Bytes random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& v : b) v = static_cast<uint8_t>(rng());
  return b;
}

Bytes slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Names in `dir` that look like write_file's temporaries: .<name>.tmp-XXXXXX.
std::vector<std::string> temporaries(const std::string& dir) {
  static const std::regex kTemp(R"(^\..*\.tmp-.{6}$)");
  std::vector<std::string> out;
  for (const auto& n : entries(dir))
    if (std::regex_match(n, kTemp)) out.push_back(n);
  return out;
}

// The c10::Error message of f(), or "" (and a test failure) when it succeeds.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-c10 exception: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a c10::Error";
  return "";
}

void write(const std::string& path, const Bytes& b, const torchimage::WriteFileOptions& o = {}) {
  torchimage::write_file(path, b.data(), b.size(), o);
}

class FileSink : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/torchimage-sink-XXXXXX";
    ASSERT_NE(::mkdtemp(&templ[0]), nullptr) << std::strerror(errno);
    dir_ = templ;
    old_umask_ = ::umask(022);
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::error_code ec;
    // Restore permissions a test may have removed, then delete everything.
    for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory() && !it->is_symlink()) ::chmod(it->path().c_str(), 0755);
    }
    ::chmod(dir_.c_str(), 0755);
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
  mode_t old_umask_ = 022;
};

// ---------------------------------------------------------------------------

TEST_F(FileSink, NewFileExactBytes) {
  for (size_t n : {0, 1, 7, 4096, 4097, 1 << 20}) {
    const std::string p = path("new_" + std::to_string(n) + ".bin");
    const Bytes b = random_bytes(n, static_cast<unsigned>(n));
    write(p, b);
    EXPECT_TRUE(slurp(p) == b) << n << " bytes";
    EXPECT_EQ(fs::file_size(p), n);
  }
  EXPECT_TRUE(temporaries(dir_).empty());
}

TEST_F(FileSink, OverwriteReplacesAtomically) {
  const std::string p = path("img.png");
  const Bytes old_bytes = random_bytes(100000, 1);
  spit(p, old_bytes);
  // A reader that opened the old file keeps seeing the old bytes: the file
  // is replaced, never rewritten in place.
  const int reader = ::open(p.c_str(), O_RDONLY);
  ASSERT_GE(reader, 0);
  const Bytes new_bytes = random_bytes(300, 2);  // shorter: no stale tail
  write(p, new_bytes);
  EXPECT_TRUE(slurp(p) == new_bytes);
  Bytes seen(old_bytes.size() + 10);
  const ssize_t r = ::pread(reader, seen.data(), seen.size(), 0);
  ::close(reader);
  ASSERT_EQ(r, static_cast<ssize_t>(old_bytes.size()));
  seen.resize(static_cast<size_t>(r));
  EXPECT_TRUE(seen == old_bytes);
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"img.png"});
}

TEST_F(FileSink, ModeHonoursUmask) {
  ::umask(022);
  write(path("a.bin"), random_bytes(10, 3));
  struct stat st;
  ASSERT_EQ(::stat(path("a.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(FileSink, ModeFollowsUmaskChangedAtRunTime) {
  // open(O_CREAT, 0666) applies the umask current at the call; so should
  // write_file, also after the process changes its umask.
  write(path("first.bin"), random_bytes(10, 3));  // a write under umask 022
  ::umask(077);
  write(path("private.bin"), random_bytes(10, 4));
  struct stat st;
  ASSERT_EQ(::stat(path("private.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u) << "written under umask 077";
  ::umask(002);
  write(path("group.bin"), random_bytes(10, 5));
  ASSERT_EQ(::stat(path("group.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0664u) << "written under umask 002";
}

TEST_F(FileSink, OverwriteKeepsTheExistingFilesMode) {
  // torchvision's save_image (PIL: open(path, "wb")) keeps the permissions
  // of a file it overwrites; a private (0600) file must not become 0644.
  const std::string p = path("private.png");
  spit(p, {1, 2, 3});
  ASSERT_EQ(::chmod(p.c_str(), 0600), 0);
  write(p, random_bytes(10, 21));
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::chmod(p.c_str(), 0664), 0);
  write(p, random_bytes(10, 22));
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0664u);
}

TEST_F(FileSink, MissingParentIsAnErrorAndLeavesNothing) {
  const std::string p = path("missing/sub/out.png");
  const std::string m = error_of([&] { write(p, random_bytes(10, 5)); });
  EXPECT_NE(m.find(p), std::string::npos) << m;
  EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  EXPECT_TRUE(entries(dir_).empty()) << "nothing created";
  EXPECT_FALSE(fs::exists(path("missing")));
}

TEST_F(FileSink, CreateDirectories) {
  const std::string p = path("a/b/c/out.png");
  const Bytes b = random_bytes(1234, 6);
  write(p, b, torchimage::WriteFileOptions().create_directories(true));
  EXPECT_TRUE(slurp(p) == b);
  EXPECT_TRUE(fs::is_directory(path("a/b/c")));
  // Existing directories are fine too.
  write(p, b, torchimage::WriteFileOptions().create_directories(true));
  EXPECT_TRUE(slurp(p) == b);
  EXPECT_TRUE(temporaries(path("a/b/c")).empty());
}

TEST_F(FileSink, PathIsADirectory) {
  fs::create_directory(path("d"));
  spit(path("d/inside.txt"), {1, 2, 3});
  const std::string m = error_of([&] { write(path("d"), random_bytes(10, 7)); });
  EXPECT_NE(m.find(path("d")), std::string::npos) << m;
  EXPECT_NE(m.find("directory"), std::string::npos) << m;
  EXPECT_TRUE(fs::is_directory(path("d")));
  EXPECT_EQ(entries(path("d")), std::vector<std::string>{"inside.txt"});
  EXPECT_TRUE(slurp(path("d/inside.txt")) == Bytes({1, 2, 3}));
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"d"});
}

TEST_F(FileSink, ParentIsARegularFile) {
  spit(path("file.txt"), {9, 9});
  for (bool create : {false, true}) {
    const std::string p = path("file.txt/out.png");
    const std::string m = error_of(
        [&] { write(p, random_bytes(10, 8), torchimage::WriteFileOptions().create_directories(create)); });
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_TRUE(slurp(path("file.txt")) == Bytes({9, 9}));
    EXPECT_EQ(entries(dir_), std::vector<std::string>{"file.txt"});
  }
}

TEST_F(FileSink, EmptyPath) {
  const std::string m = error_of([&] { write("", random_bytes(3, 1)); });
  EXPECT_NE(m.find("empty"), std::string::npos) << m;
}

TEST_F(FileSink, SymlinkIsWrittenThrough) {
  fs::create_directory(path("real"));
  spit(path("real/target.png"), {1, 2, 3});
  // Absolute, relative, and a chain of links.
  fs::create_symlink(path("real/target.png"), path("abs.png"));
  fs::create_symlink("real/target.png", path("rel.png"));
  fs::create_symlink("abs.png", path("chain.png"));
  unsigned seed = 10;
  for (const char* link : {"abs.png", "rel.png", "chain.png"}) {
    SCOPED_TRACE(link);
    const fs::path before = fs::read_symlink(path(link));
    const Bytes b = random_bytes(5000, ++seed);
    write(path(link), b);
    EXPECT_TRUE(fs::is_symlink(path(link))) << "the link stays a link";
    EXPECT_EQ(fs::read_symlink(path(link)), before);
    EXPECT_TRUE(slurp(path("real/target.png")) == b) << "the target gets the bytes";
    EXPECT_TRUE(temporaries(dir_).empty());
    EXPECT_TRUE(temporaries(path("real")).empty());
  }
  EXPECT_EQ(entries(path("real")), std::vector<std::string>{"target.png"});
}

TEST_F(FileSink, DanglingSymlinkCreatesItsTarget) {
  fs::create_symlink("made.png", path("link.png"));
  const Bytes b = random_bytes(100, 33);
  write(path("link.png"), b);
  EXPECT_TRUE(fs::is_symlink(path("link.png")));
  EXPECT_TRUE(slurp(path("made.png")) == b);
}

TEST_F(FileSink, DevFullIsNoSpace) {
  struct stat st;
  if (::stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode)) GTEST_SKIP() << "no /dev/full";
  const std::string m = error_of([&] { write("/dev/full", random_bytes(100, 9)); });
  EXPECT_NE(m.find("/dev/full"), std::string::npos) << m;
  EXPECT_NE(m.find("No space left on device"), std::string::npos) << m;
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/full is still a character device";
  // Through a symlink too.
  fs::create_symlink("/dev/full", path("full"));
  const std::string m2 = error_of([&] { write(path("full"), random_bytes(100, 9)); });
  EXPECT_NE(m2.find("No space left on device"), std::string::npos) << m2;
  EXPECT_TRUE(fs::is_symlink(path("full")));
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"full"});
}

TEST_F(FileSink, DevNullWorks) {
  struct stat st;
  if (::stat("/dev/null", &st) != 0 || !S_ISCHR(st.st_mode)) GTEST_SKIP() << "no /dev/null";
  EXPECT_NO_THROW(write("/dev/null", random_bytes(1 << 16, 10)));
  EXPECT_NO_THROW(write("/dev/null", Bytes{}));
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_NO_THROW(write("/dev/null", random_bytes(10, 10), torchimage::WriteFileOptions().durable(true)));
}

TEST_F(FileSink, ReadOnlyDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root bypasses directory permissions";
  fs::create_directory(path("ro"));
  spit(path("ro/keep.png"), {4, 5, 6});
  ASSERT_EQ(::chmod(path("ro").c_str(), 0555), 0);
  for (const char* name : {"keep.png", "new.png"}) {
    const std::string p = path(std::string("ro/") + name);
    const std::string m = error_of([&] { write(p, random_bytes(10, 11)); });
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_NE(m.find("Permission denied"), std::string::npos) << m;
  }
  ::chmod(path("ro").c_str(), 0755);
  EXPECT_EQ(entries(path("ro")), std::vector<std::string>{"keep.png"});
  EXPECT_TRUE(slurp(path("ro/keep.png")) == Bytes({4, 5, 6}));
}

// Runs `body` in a forked child (so that limits, signal dispositions and
// dropped capabilities touch nothing else) and returns its exit code: body's
// value, or -1 if the child did not exit normally.
// Runs `body` in a forked child and returns its exit code (-1 if it did not
// exit). `meanwhile` runs here while the child runs; its nonzero result
// is returned instead.
int exit_code_in_child(const std::function<int()>& body,
                       const std::function<int()>& meanwhile = nullptr) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) ::_exit(body());
  const int here = meanwhile ? meanwhile() : 0;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return here != 0 ? here : WEXITSTATUS(status);
}

TEST_F(FileSink, FailureMidWriteKeepsOldBytesAndCleansUp) {
  // RLIMIT_FSIZE makes write() fail with EFBIG part way through the
  // temporary file, after it was created. In a child process, so that the
  // limit and the ignored SIGXFSZ touch nothing else.
  const std::string p = path("target.png");
  const Bytes old_bytes = random_bytes(777, 12);
  spit(p, old_bytes);
  const Bytes big = random_bytes(1 << 20, 13);
  const int code = exit_code_in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    ::getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = 100000;
    ::setrlimit(RLIMIT_FSIZE, &rl);
    try {
      torchimage::write_file(p, big.data(), big.size());
      return 2;  // no error
    } catch (const c10::Error& e) {
      const std::string m = e.what_without_backtrace();
      return m.find("File too large") != std::string::npos && m.find(p) != std::string::npos ? 0 : 3;
    } catch (...) {
      return 4;
    }
  });
  EXPECT_EQ(code, 0) << "-1: the child died, 2: no error, 3: message without the path or "
                        "'File too large'";
  EXPECT_TRUE(slurp(p) == old_bytes) << "the old file is untouched";
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"target.png"}) << "no temporary left";
}

// A new file is named with linkat(AT_EMPTY_PATH), which kernels before 6.10
// allow only with CAP_DAC_READ_SEARCH; without it (most users there) the
// /proc link names it. In a child that dropped the capability (as root; a
// user has none): new files, a file written again, and several in a row all
// come out whole, whichever way this kernel lets them be named.
TEST_F(FileSink, NewFilesWithoutTheLinkCapability) {
  const int code = exit_code_in_child([&] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return 5;
    const int bit = CAP_DAC_READ_SEARCH;
    data[bit / 32].effective &= ~(1u << (bit % 32));
    if (::syscall(SYS_capset, &header, data) != 0) return 6;
    int result = 0;
    try {
      for (int i = 0; i < 3; ++i) {
        const Bytes b = random_bytes(1000 + i, 40 + i);
        const std::string p = path("nocap_" + std::to_string(i) + ".bin");
        torchimage::write_file(p, b.data(), b.size());
        torchimage::write_file(p, b.data(), b.size());  // and again, replacing it
        if (slurp(p) != b) result = 2;
      }
    } catch (...) {
      result = 3;
    }
    return result;
  });
  EXPECT_EQ(code, 0) << "-1: the child died, 2: wrong bytes, 3: an error, 5/6: capget/capset "
                        "failed";
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"nocap_0.bin", "nocap_1.bin", "nocap_2.bin"}));
}

TEST_F(FileSink, NoTemporariesAfterAnyFailure) {
  spit(path("keep.png"), {7});
  fs::create_directory(path("d"));
  spit(path("plain"), {1});
  const std::vector<std::string> failing = {path("d"), path("nope/x.png"), path("plain/x.png"), ""};
  for (const auto& p : failing) {
    error_of([&] { write(p, random_bytes(50, 14)); });
    EXPECT_TRUE(temporaries(dir_).empty()) << p;
  }
  EXPECT_TRUE(temporaries(path("d")).empty());
  EXPECT_TRUE(slurp(path("keep.png")) == Bytes({7}));
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"d", "keep.png", "plain"}));
}

TEST_F(FileSink, RelativePathAndLongName) {
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  const Bytes b = random_bytes(64, 15);
  write("relative.bin", b);
  fs::create_directory("sub");
  write("sub/x.bin", b);
  fs::current_path(cwd);
  EXPECT_TRUE(slurp(path("relative.bin")) == b);
  EXPECT_TRUE(slurp(path("sub/x.bin")) == b);
  // A 255-byte name (NAME_MAX): the temporary's name must still fit.
  const std::string longname(251, 'n');
  write(path(longname + ".png"), b);
  EXPECT_TRUE(slurp(path(longname + ".png")) == b);
  EXPECT_TRUE(temporaries(dir_).empty());
}

TEST_F(FileSink, DurableWrite) {
  const Bytes b = random_bytes(10000, 16);
  write(path("d.png"), b, torchimage::WriteFileOptions().durable(true));
  EXPECT_TRUE(slurp(path("d.png")) == b);
  write(path("d.png"), random_bytes(5, 17), torchimage::WriteFileOptions().durable(true));
  EXPECT_EQ(fs::file_size(path("d.png")), 5u);
}

// 200 MB of patterned bytes: writing them takes long enough to be killed in
// the middle.
Bytes big_pattern(uint64_t salt) {
  const size_t kBig = size_t{200} << 20;
  Bytes bytes(kBig);
  for (size_t i = 0; i < kBig; i += 8) {
    const uint64_t v = (i * 0x9E3779B97F4A7C15ull) ^ salt;
    std::memcpy(&bytes[i], &v, 8);
  }
  return bytes;
}

// Forks a child that runs write_file(path, bytes) and SIGKILLs it after
// `delay_ms` (never, if negative: then the child must succeed).
void write_in_child_and_kill(const std::string& path, const Bytes& bytes, int delay_ms) {
  int sync_pipe[2];
  ASSERT_EQ(::pipe(sync_pipe), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(sync_pipe[0]);
    const char go = 'g';
    (void)!::write(sync_pipe[1], &go, 1);
    ::close(sync_pipe[1]);
    try {
      torchimage::write_file(path, bytes.data(), bytes.size());
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(sync_pipe[1]);
  char go = 0;
  ASSERT_EQ(::read(sync_pipe[0], &go, 1), 1);
  ::close(sync_pipe[0]);
  if (delay_ms >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  if (delay_ms < 0) {
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
  }
}

const int kKillDelaysMs[] = {0, 1, 3, 10, 30, 100, -1};

TEST_F(FileSink, KillNineMidWriteLeavesOldOrNew) {
  // A child overwrites a file with 200 MB and is SIGKILLed after a few ms:
  // the target must hold exactly the old or exactly the new bytes, and the
  // only possible leftover is a .<name>.tmp-XXXXXX file.
  const std::string name = "victim.png";
  const std::string p = path(name);
  const Bytes old_bytes = random_bytes(4096, 18);
  const Bytes new_bytes = big_pattern(0x5bd1e995u);
  const std::regex leftover("^\\.victim\\.png\\.tmp-.{6}$");
  int saw_old = 0, saw_new = 0;
  for (int delay_ms : kKillDelaysMs) {
    SCOPED_TRACE(::testing::Message() << "kill after " << delay_ms << " ms");
    spit(p, old_bytes);
    write_in_child_and_kill(p, new_bytes, delay_ms);
    const Bytes now = slurp(p);
    const bool is_old = now == old_bytes, is_new = now == new_bytes;
    EXPECT_TRUE(is_old || is_new) << "target holds " << now.size() << " bytes: neither old nor new";
    saw_old += is_old, saw_new += is_new;
    for (const auto& n : entries(dir_)) {
      if (n == name) continue;
      EXPECT_TRUE(std::regex_match(n, leftover)) << "unexpected leftover " << n;
      fs::remove(path(n));
    }
    if (delay_ms < 0) EXPECT_TRUE(is_new) << "the uninterrupted write completes";
  }
  EXPECT_GT(saw_old, 0) << "some kill should land before the rename";
  RecordProperty("saw_old", saw_old);
  RecordProperty("saw_new", saw_new);
}

TEST_F(FileSink, KillNineMidWriteOfNewFileLeavesNothingOrNew) {
  // A new file is written unnamed (O_TMPFILE) and linked when complete: a
  // child killed at any moment leaves nothing, or the whole file; no
  // temporary file either, where the file system has O_TMPFILE.
  bool unnamed_files = false;
#if defined(O_TMPFILE)
  const int probe = ::open(dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (probe >= 0) ::close(probe), unnamed_files = true;
#endif
  const std::string name = "fresh.png";
  const std::string p = path(name);
  const Bytes new_bytes = big_pattern(0x1b873593u);
  const std::regex leftover("^\\.fresh\\.png\\.tmp-.{6}$");
  int saw_nothing = 0;
  for (int delay_ms : kKillDelaysMs) {
    SCOPED_TRACE(::testing::Message() << "kill after " << delay_ms << " ms");
    fs::remove(p);
    write_in_child_and_kill(p, new_bytes, delay_ms);
    if (fs::exists(p)) {
      EXPECT_TRUE(slurp(p) == new_bytes) << "a file at the path must be complete";
    } else {
      ++saw_nothing;
      EXPECT_GE(delay_ms, 0) << "the uninterrupted write completes";
    }
    for (const auto& n : entries(dir_)) {
      if (n == name) continue;
      EXPECT_TRUE(!unnamed_files && std::regex_match(n, leftover)) << "unexpected leftover " << n;
      fs::remove(path(n));
    }
  }
  EXPECT_GT(saw_nothing, 0) << "some kill should land before the link";
}

// ---------------------------------------------------------------------------
// read_file and the tensor overload of write_file.

TEST_F(FileSink, ReadFileRoundTrip) {
  for (size_t n : {0, 1, 100, 1 << 20}) {
    const Bytes b = random_bytes(n, static_cast<unsigned>(n + 1));
    const std::string p = path("rt_" + std::to_string(n));
    write(p, b);
    const torch::Tensor t = torchimage::read_file(p);
    ASSERT_EQ(t.scalar_type(), torch::kUInt8);
    ASSERT_EQ(t.dim(), 1);
    ASSERT_EQ(t.numel(), static_cast<int64_t>(n));
    EXPECT_TRUE(n == 0 || std::memcmp(t.data_ptr<uint8_t>(), b.data(), n) == 0);
    // And back through the tensor overload.
    torchimage::write_file(p + ".copy", t);
    EXPECT_TRUE(slurp(p + ".copy") == b);
  }
}

TEST_F(FileSink, ReadFileErrors) {
  const std::string missing = path("missing.png");
  std::string m = error_of([&] { torchimage::read_file(missing); });
  EXPECT_NE(m.find(missing), std::string::npos) << m;
  EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  m = error_of([&] { torchimage::read_file(dir_); });
  EXPECT_NE(m.find(dir_), std::string::npos) << m;
  EXPECT_NE(m.find("not a regular file"), std::string::npos) << m;
  m = error_of([&] { torchimage::read_image(missing); });
  EXPECT_NE(m.find(missing), std::string::npos) << m;
}

TEST_F(FileSink, WriteTensorOverload) {
  const std::string p = path("t.bin");
  const torch::Tensor ok = torch::arange(0, 200, torch::kInt32).to(torch::kUInt8);
  torchimage::write_file(p, ok);
  const Bytes got = slurp(p);
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(got[i], i);
  // A strided 1-D view writes its values.
  torchimage::write_file(p, ok.slice(0, 0, 200, 2));
  const Bytes strided = slurp(p);
  ASSERT_EQ(strided.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(strided[i], 2 * i);

  const Bytes before = slurp(p);
  std::string m = error_of([&] { torchimage::write_file(p, torch::zeros({10}, torch::kFloat)); });
  EXPECT_NE(m.find("uint8"), std::string::npos) << m;
  m = error_of([&] { torchimage::write_file(p, torch::zeros({2, 5}, torch::kUInt8)); });
  EXPECT_NE(m.find("1-D"), std::string::npos) << m;
  m = error_of([&] { torchimage::write_file(p, torch::Tensor()); });
  EXPECT_NE(m.find("undefined"), std::string::npos) << m;
  EXPECT_TRUE(slurp(p) == before) << "a rejected tensor leaves the file alone";
  EXPECT_TRUE(temporaries(dir_).empty());
}

// Issue 17, bug 2: a NUL byte ended the path at the system call, so
// "a.png\0.jpg" wrote to "a.png". Every path is refused whole, as Python's
// open() refuses it (ValueError: c10::ValueError here).
TEST_F(FileSink, PathsWithNulAreRefused) {
  const std::string p = path("a.png") + std::string(1, '\0') + ".jpg";
  const Bytes b = random_bytes(10, 3);
  for (const auto& call : std::vector<std::function<void()>>{
           [&] { write(p, b); },
           [&] { torchimage::write_file(p, torch::zeros({3}, torch::kUInt8)); },
           [&] { torchimage::read_file(p); },
           [&] { torchimage::read_image(p); }}) {
    try {
      call();
      ADD_FAILURE() << "a path with a NUL byte was taken";
    } catch (const c10::ValueError& e) {
      const std::string m = e.what_without_backtrace();
      EXPECT_NE(m.find("NUL"), std::string::npos) << m;
      EXPECT_NE(m.find("a.png\\0.jpg"), std::string::npos) << m;
    }
  }
  EXPECT_TRUE(entries(dir_).empty());
}

// Bug 6: a loop of links at the output is ELOOP, and both links stay links.
TEST_F(FileSink, SymlinkLoopIsAnError) {
  ASSERT_EQ(::symlink("b", path("a").c_str()), 0);
  ASSERT_EQ(::symlink("a", path("b").c_str()), 0);
  ASSERT_EQ(::symlink("self", path("self").c_str()), 0);
  for (const std::string name : {"a", "b", "self"}) {
    const std::string m = error_of([&] { write(path(name), random_bytes(5, 1)); });
    EXPECT_NE(m.find("Too many levels of symbolic links"), std::string::npos) << m;
  }
  EXPECT_EQ(fs::read_symlink(path("a")), "b");
  EXPECT_EQ(fs::read_symlink(path("b")), "a");
  EXPECT_EQ(fs::read_symlink(path("self")), "self");
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"a", "b", "self"}));
  for (const std::string name : {"a", "b", "self"}) fs::remove(path(name));  // (TearDown's walk)
}

// Open descriptors named as paths (/dev/fd/N, /proc/self/fd/N) are written
// through the descriptor itself, as a shell's `>&N` is: from its offset, so
// that two images follow each other, and never by replacing the file they
// were opened from.
TEST_F(FileSink, DescriptorPathsAreWrittenThroughTheDescriptor) {
  const std::string p = path("opened.bin");
  spit(p, random_bytes(100, 4));
  const int fd = ::open(p.c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  struct stat before;
  ASSERT_EQ(::fstat(fd, &before), 0);
  const Bytes b1 = random_bytes(50, 5), b2 = random_bytes(33, 6);
  write("/dev/fd/" + std::to_string(fd), b1);
  write("/proc/self/fd/" + std::to_string(fd), b2);
  ::close(fd);
  struct stat after;
  ASSERT_EQ(::stat(p.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "the file was replaced";
  Bytes both = b1;
  both.insert(both.end(), b2.begin(), b2.end());
  // (Reopening the path wrote b2 over b1's start and left b1's tail.)
  EXPECT_TRUE(slurp(p) == both) << slurp(p).size() << " bytes";
  // A pipe gets exactly the bytes.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  write("/proc/self/fd/" + std::to_string(pipe_fds[1]), b2);
  ::close(pipe_fds[1]);
  Bytes got(64);
  const ssize_t n = ::read(pipe_fds[0], got.data(), got.size());
  ::close(pipe_fds[0]);
  ASSERT_EQ(n, 33);
  got.resize(33);
  EXPECT_TRUE(got == b2);
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"opened.bin"});
}

// Bug 1 of issue 29: `prog >> log` appends; `prog > f` leaves f holding
// exactly the image, through /dev/stdout (a link to /proc/self/fd/1).
TEST_F(FileSink, StandardOutputKeepsTheShellsRedirection) {
  const std::string log = path("log.txt"), out = path("out.bin");
  const Bytes head = {'l', 'o', 'g', '\n'};
  spit(log, head);
  spit(out, random_bytes(500, 7));  // longer than the image: a reopening kept its tail
  const Bytes image = random_bytes(200, 8);
  for (const auto& [file, flags] :
       std::vector<std::pair<std::string, int>>{{log, O_APPEND}, {out, O_TRUNC}}) {
    const int code = exit_code_in_child([&, file = file, flags = flags] {
      const int fd = ::open(file.c_str(), O_WRONLY | flags);
      if (fd < 0 || ::dup2(fd, 1) != 1) return 10;
      try {
        write("/dev/stdout", image);
        write("/dev/fd/1", image);
      } catch (const c10::Error&) {
        return 11;
      }
      return 0;
    });
    EXPECT_EQ(code, 0) << file;
  }
  Bytes want_log = head;
  for (int i = 0; i < 2; ++i) want_log.insert(want_log.end(), image.begin(), image.end());
  EXPECT_TRUE(slurp(log) == want_log) << slurp(log).size() << " bytes";
  Bytes want_out = image;
  want_out.insert(want_out.end(), image.begin(), image.end());
  EXPECT_TRUE(slurp(out) == want_out) << slurp(out).size() << " bytes";
}

// Another process's descriptor (/proc/<pid>/fd/N) is opened anew as a
// shell's redirection to it: truncated, or appended to in append mode.
TEST_F(FileSink, AnotherProcesssDescriptorIsTruncatedOrAppended) {
  const Bytes image = random_bytes(64, 9);
  for (const int flags : {0, O_APPEND}) {
    const std::string p = path(flags ? "append.bin" : "plain.bin");
    const Bytes old_bytes = random_bytes(300, 10);
    spit(p, old_bytes);
    int ready[2], quit[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(quit), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const int fd = ::open(p.c_str(), O_WRONLY | flags);
      const int32_t n = fd;
      if (::write(ready[1], &n, sizeof n) != sizeof n) ::_exit(1);
      char c;
      (void)!::read(quit[0], &c, 1);
      ::_exit(0);
    }
    int32_t fd = -1;
    ASSERT_EQ(::read(ready[0], &fd, sizeof fd), static_cast<ssize_t>(sizeof fd));
    ASSERT_GE(fd, 0);
    write("/proc/" + std::to_string(child) + "/fd/" + std::to_string(fd), image);
    (void)!::write(quit[1], "q", 1);
    ::waitpid(child, nullptr, 0);
    for (int f : {ready[0], ready[1], quit[0], quit[1]}) ::close(f);
    Bytes want = flags ? old_bytes : Bytes();
    want.insert(want.end(), image.begin(), image.end());
    EXPECT_TRUE(slurp(p) == want) << p << ": " << slurp(p).size() << " bytes";
  }
}

// Bug 4 of issue 29: writers sharing one pipe, under several names of it,
// each get their image through whole: the reader sees whole images only.
TEST_F(FileSink, OnePipeGetsWholeImagesFromManyThreads) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const int second = ::dup(pipe_fds[1]);
  ASSERT_GE(second, 0);
  constexpr int kThreads = 6, kEach = 4;
  constexpr size_t kSize = 150000;  // over the pipe's 64 KiB: written in pieces
  Bytes got;
  std::thread reader([&] {
    uint8_t buf[65536];
    for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) got.insert(got.end(), buf, buf + n);
  });
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const Bytes image(kSize, static_cast<uint8_t>(t + 1));
      const std::string name = t % 2 ? "/dev/fd/" + std::to_string(second)
                                     : "/proc/self/fd/" + std::to_string(pipe_fds[1]);
      for (int k = 0; k < kEach; ++k) {
        try {
          write(name, image);
        } catch (const c10::Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  ::close(pipe_fds[1]);
  ::close(second);
  reader.join();
  ::close(pipe_fds[0]);
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(got.size(), kSize * kThreads * kEach);
  for (size_t at = 0; at < got.size(); at += kSize) {
    const bool whole = std::all_of(got.begin() + at, got.begin() + at + kSize,
                                   [&](uint8_t v) { return v == got[at]; });
    ASSERT_TRUE(whole) << "image at byte " << at << " is mixed with another";
  }
}

// A pipe whose reader has gone is an error (EPIPE), never the end of the
// process by SIGPIPE; no SIGPIPE is left pending.
TEST_F(FileSink, ClosedPipeIsAnErrorNotASignal) {
  const int code = exit_code_in_child([&] {
    std::signal(SIGPIPE, SIG_DFL);
    int fds[2];
    if (::pipe(fds) != 0) return 10;
    ::close(fds[0]);
    try {
      write("/dev/fd/" + std::to_string(fds[1]), random_bytes(10, 1));
      return 2;
    } catch (const c10::Error& e) {
      if (std::string(e.what_without_backtrace()).find("reading end was closed") ==
          std::string::npos) {
        return 3;
      }
    }
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    return sigismember(&pending, SIGPIPE) ? 4 : 0;
  });
  EXPECT_EQ(code, 0) << "-1: killed (by SIGPIPE)";
}

// A FIFO with no reader: waited for a while, then an error (open() alone
// would block for ever); a reader that comes in time gets the bytes.
TEST_F(FileSink, FifoWaitsForAReaderThenFails) {
  const std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const Bytes b = random_bytes(100000, 11);
  const int code = exit_code_in_child([&] {
    ::alarm(20);  // a regression ends the child by SIGALRM, not the suite
    torchimage::set_fifo_reader_wait_ms(300);
    try {
      write(fifo, b);
      return 2;
    } catch (const c10::Error& e) {
      if (std::string(e.what_without_backtrace()).find("no process has open for reading") ==
          std::string::npos) {
        return 3;
      }
    }
    torchimage::set_fifo_reader_wait_ms(10000);
    // The reader is a process of its own: this child starts no thread
    // (TSan cannot follow one started after a fork of a process that has
    // several, as the file sink's closing thread makes this one).
    const int reader = exit_code_in_child([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const int fd = ::open(fifo.c_str(), O_RDONLY);
      Bytes got;
      uint8_t buf[4096];
      for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;) got.insert(got.end(), buf, buf + n);
      if (fd >= 0) ::close(fd);
      return got == b ? 0 : 5;
    }, [&] {
      try {
        write(fifo, b);
        return 0;
      } catch (const c10::Error&) {
        return 4;
      }
    });
    return reader;
  });
  EXPECT_EQ(code, 0) << "-1: the child hung (SIGALRM) or crashed";
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"fifo"});
}

// 'b.png/' made a folder named b.png: a path ending with '/' is refused.
TEST_F(FileSink, TrailingSlashIsRefused) {
  for (const auto& p : {path("b.png/"), path("sub/b.png/")}) {
    try {
      write(p, random_bytes(5, 1), torchimage::WriteFileOptions().create_directories(true));
      ADD_FAILURE() << p << " was written";
    } catch (const c10::ValueError& e) {
      EXPECT_NE(std::string(e.what_without_backtrace()).find("ends with '/'"), std::string::npos);
    }
  }
  EXPECT_TRUE(entries(dir_).empty());
}

// One target, one key: the writer keeps call order per key.
TEST_F(FileSink, OrderKeysNameTheTarget) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string fd = std::to_string(fds[1]);
  EXPECT_EQ(torchimage::order_key_of("/dev/fd/" + fd), torchimage::order_key_of("/proc/self/fd/" + fd));
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(torchimage::order_key_of("/dev/stdout"), torchimage::order_key_of("/proc/self/fd/1"));
  EXPECT_EQ(torchimage::order_key_of("./a/../b.png"), torchimage::order_key_of("b.png"));
  EXPECT_NE(torchimage::order_key_of("a.png"), torchimage::order_key_of("b.png"));
}

// Bug 8: reading a FIFO blocked forever; a FIFO is refused at once.
TEST_F(FileSink, ReadFileRefusesAFifoWithoutBlocking) {
  const std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int code = exit_code_in_child([&] {
    ::alarm(20);  // a regression ends the child by SIGALRM, not the suite
    try {
      torchimage::read_image(fifo);
    } catch (const c10::Error& e) {
      return std::string(e.what_without_backtrace()).find("not a regular file") !=
                     std::string::npos
                 ? 0
                 : 2;
    }
    return 3;
  });
  EXPECT_EQ(code, 0) << "-1: the child hung (SIGALRM) or crashed";
}

// A read-only file is kept unless replace_read_only (open() would refuse to
// write it). Root may write anything: as root, the check runs as nobody.
TEST_F(FileSink, ReadOnlyFileIsKeptUnlessAsked) {
  const std::string p = path("ro.png");
  const Bytes old_bytes = random_bytes(20, 6);
  spit(p, old_bytes);
  ASSERT_EQ(::chmod(p.c_str(), 0444), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0777), 0);
  const Bytes b = random_bytes(30, 7);
  const int code = exit_code_in_child([&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 10;
    try {
      write(p, b);
      return 2;  // replaced
    } catch (const c10::Error& e) {
      const std::string m = e.what_without_backtrace();
      if (m.find("read-only") == std::string::npos || m.find("0444") == std::string::npos) return 3;
    }
    if (slurp(p) != old_bytes) return 4;
    try {
      write(p, b, torchimage::WriteFileOptions().replace_read_only(true));
    } catch (const c10::Error&) {
      return 5;
    }
    return slurp(p) == b ? 0 : 6;
  });
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(temporaries(dir_).empty());
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
}

// The descriptors of this process open on files that have lost their last
// name (readlink shows "<path> (deleted)"), among those under `dir`.
int held_deleted_files(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = fs::read_symlink(e.path(), ec).string();
    if (!ec && target.rfind(dir + "/", 0) == 0 &&
        target.size() > 10 && target.compare(target.size() - 10, 10, " (deleted)") == 0) {
      ++n;
    }
  }
  return n;
}

size_t open_descriptors() {
  return static_cast<size_t>(std::distance(fs::directory_iterator("/proc/self/fd"),
                                           fs::directory_iterator()));
}

// A replaced file of 16 KiB or more is held open through the rename and
// closed on another thread (io/deferred_close.h), so that its blocks are
// freed there. Nothing of it is visible under a name, every descriptor is
// closed in the end (a burst of more than the 16 that may wait included),
// and each write leaves its own bytes.
TEST_F(FileSink, ReplacedFilesAreReleasedOffTheCallersThread) {
  const std::string p = path("sheet.png");
  const size_t before = open_descriptors();
  for (int i = 0; i < 150; ++i) {
    const Bytes b =
        random_bytes(size_t{20000} + static_cast<size_t>(i) * 1000, static_cast<unsigned>(i));
    write(p, b);
    ASSERT_TRUE(slurp(p) == b) << "write " << i;
    ASSERT_EQ(entries(dir_), std::vector<std::string>{"sheet.png"}) << "write " << i;
  }
  torchimage::finish_closes();
  EXPECT_EQ(held_deleted_files(dir_), 0);
  EXPECT_EQ(open_descriptors(), before);
}

// A forked child that replaces files (the parent's closing thread is not
// the child's) starts its own, and its exit leaves nothing open or named.
TEST_F(FileSink, ReplacingInAForkedChild) {
#if defined(TORCHIMAGE_TEST_UNDER_TSAN)
  GTEST_SKIP() << "TSan does not support threads started after a multi-threaded fork";
#endif
  const std::string p = path("sheet.png");
  write(p, random_bytes(50000, 1));
  write(p, random_bytes(50000, 2));
  torchimage::finish_closes();  // the parent's thread has run, and holds nothing
  const Bytes last = random_bytes(60000, 40);
  const int code = exit_code_in_child([&] {
    for (int i = 3; i <= 40; ++i) {
      write(p, random_bytes(i == 40 ? 60000 : 50000, static_cast<unsigned>(i)));
    }
    torchimage::finish_closes();
    return held_deleted_files(dir_) == 0 ? 0 : 1;
  });
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(slurp(p) == last);
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"sheet.png"});
  torchimage::finish_closes();
  EXPECT_EQ(held_deleted_files(dir_), 0);
}

}  // namespace
