// File-system and writer faults beyond test_file_sink (docs/reliability.md):
// - a full disk: a 64 KiB tmpfs mounted in a child process's own mount
//   namespace (unshare); skipped, with the reason, where mounting is refused;
// - a destination replaced concurrently: other threads rename files over the
//   target, remove it, or write it too; the target is always one complete file;
// - ImageWriter under faults: failing workers, a full queue, destruction with
//   pending work, failures thrown while other threads flush: nothing lost,
//   nothing duplicated, every failure surfaced exactly once.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <torchimage/torchimage.h>

#include "test_util.h"

namespace fs = std::filesystem;
using namespace torchimage;

namespace {

using torchimage_test::bytes_of;
using torchimage_test::error_of;
using torchimage_test::TempDir;

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// A (3, 8, 8) image whose every pixel encodes `id` (id % 251 in all channels).
torch::Tensor tagged(int id) {
  return torch::full({3, 8, 8}, static_cast<float>(id % 251) / 250.0f);
}
uint8_t tag_pixel(int id) { return to_pixels(tagged(id))[0][0][0].item<uint8_t>(); }

// ---------------------------------------------------------------------------
// A full disk, in a child process.
//
// The child is this test program re-executed (fork + exec, so that no
// LibTorch thread pool is inherited) with TORCHIMAGE_FAULTS_CHILD naming the
// scenario and TORCHIMAGE_FAULTS_DIR the mount point; between fork and exec
// it unshares its mount namespace and mounts a 64 KiB tmpfs there. A static
// initializer runs the scenario before GoogleTest starts and exits with 0
// (all checks passed) or 1.

int child_failures = 0;
#define CHILD_CHECK(cond, ...)                                                                 \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      ++child_failures;                                                                        \
      std::cerr << "child check failed at line " << __LINE__ << ": " #cond " " << __VA_ARGS__ \
                << std::endl;                                                                  \
    }                                                                                          \
  } while (0)

std::string set_string(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return "{" + out + "}";
}

void disk_full_scenario(const fs::path& dir) {
  const std::string old_path = (dir / "img.png").string();
  save_image(torch::rand({3, 8, 8}), old_path);
  const auto old_bytes = bytes_of(old_path);
  CHILD_CHECK(!old_bytes.empty(), "the small image did not fit");
  // Noise does not compress: far more than 64 KiB.
  const auto big = torch::rand({3, 256, 256});
  const std::set<std::string> only_old = {"img.png"};

  for (const std::string ext : {"png", "jpg"}) {
    for (const bool durable : {false, true}) {
      const auto o = SaveImageOptions().durable(durable).quality(100);
      const std::string what = c10::str(ext, durable ? " durable" : "");
      // Replacing the old file: refused, the old file intact.
      std::string msg = error_of([&] { save_image(big, (dir / ("img." + ext)).string(), o); });
      if (ext == "png") {
        CHILD_CHECK(msg.find("No space left on device") != std::string::npos, what << ": " << msg);
      }
      // A new file: refused, nothing left.
      msg = error_of([&] { save_image(big, (dir / ("new." + ext)).string(), o); });
      CHILD_CHECK(msg.find("No space left on device") != std::string::npos, what << ": " << msg);
      CHILD_CHECK(entries(dir) == only_old, what << ": left " << set_string(entries(dir)));
      CHILD_CHECK(bytes_of(old_path) == old_bytes, what << ": the old file changed");
    }
  }

  // The writer: the future and one flush carry the error; later work succeeds.
  {
    ImageWriter writer(ImageWriterOptions().threads(2));
    auto bad = writer.save_image(big, (dir / "w.png").string());
    std::string msg;
    try {
      bad.get();
    } catch (const c10::Error& e) {
      msg = e.what_without_backtrace();
    }
    CHILD_CHECK(msg.find("No space left on device") != std::string::npos, "future: " << msg);
    msg = error_of([&] { writer.flush(); });
    CHILD_CHECK(msg.find("w.png") != std::string::npos &&
                    msg.find("No space left on device") != std::string::npos,
                "flush: " << msg);
    CHILD_CHECK(error_of([&] { writer.flush(); }).empty(), "the failure was reported twice");
    CHILD_CHECK(entries(dir) == only_old, "writer left " << set_string(entries(dir)));
    // Room again: the same writer keeps working.
    fs::remove(old_path);
    writer.save_image(torch::rand({3, 8, 8}), (dir / "after.png").string()).get();
    writer.flush();
    CHILD_CHECK(entries(dir) == std::set<std::string>{"after.png"},
                "after: " << set_string(entries(dir)));
  }

  // Filling the disk to the last byte: even a tiny file cannot be created.
  {
    std::vector<uint8_t> block(4096, 1);
    for (int i = 0;; ++i) {
      if (!error_of([&] { write_file((dir / c10::str("fill", i)).string(), block.data(), block.size()); })
               .empty()) {
        break;
      }
      CHILD_CHECK(i < 64, "64 KiB held more than 64 blocks of 4 KiB");
      if (i >= 64) break;
    }
    const auto before = entries(dir);
    const std::string msg = error_of([&] { save_image(big, (dir / "last.png").string()); });
    CHILD_CHECK(msg.find("No space left on device") != std::string::npos, "full: " << msg);
    CHILD_CHECK(entries(dir) == before, "full: left " << set_string(entries(dir)));
  }
}

struct ChildEntry {
  ChildEntry() {
    const char* scenario = std::getenv("TORCHIMAGE_FAULTS_CHILD");
    const char* dir = std::getenv("TORCHIMAGE_FAULTS_DIR");
    if (!scenario || !dir) return;
    try {
      if (std::string(scenario) == "disk_full") {
        disk_full_scenario(dir);
      } else {
        std::cerr << "unknown scenario " << scenario << std::endl;
        ++child_failures;
      }
    } catch (const std::exception& e) {
      std::cerr << "child: unexpected exception: " << e.what() << std::endl;
      ++child_failures;
    }
    std::cerr << "child: " << child_failures << " failed checks" << std::endl;
    std::_Exit(child_failures == 0 ? 0 : 1);
  }
} child_entry;

// Runs `scenario` in a child with a tmpfs of `size` at `mount_point`.
// Returns an empty string after running it (its exit status in *status), or
// why it could not be set up (then the test is skipped).
std::string run_with_small_fs(const std::string& scenario, const std::string& mount_point,
                              const std::string& size, int* status) {
  // Everything the child needs is prepared before fork: after it, only
  // system calls until exec.
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "cannot read /proc/self/exe";
  exe[n] = '\0';
  const std::string env_child = "TORCHIMAGE_FAULTS_CHILD=" + scenario;
  const std::string env_dir = "TORCHIMAGE_FAULTS_DIR=" + mount_point;
  const std::string options = "size=" + size + ",mode=0755";
  std::vector<std::string> env_strings = {env_child, env_dir, "OMP_NUM_THREADS=1"};
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "TORCHIMAGE_FAULTS_", 18) != 0) env_strings.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char* argv[] = {exe, const_cast<char*>("--gtest_list_tests"), nullptr};

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return "pipe2 failed";
  const pid_t pid = ::fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::close(pipefd[0]);
    int stage = 0, err = 0;
    if (::unshare(CLONE_NEWNS) != 0) {
      stage = 1, err = errno;
    } else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      stage = 2, err = errno;
    } else if (::mount("tmpfs", mount_point.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                       options.c_str()) != 0) {
      stage = 3, err = errno;
    } else {
      ::execve(exe, argv, envp.data());
      stage = 4, err = errno;
    }
    const int report[2] = {stage, err};
    ssize_t ignored = ::write(pipefd[1], report, sizeof report);
    (void)ignored;
    ::_exit(127);
  }
  ::close(pipefd[1]);
  int report[2] = {0, 0};
  const ssize_t got = ::read(pipefd[0], report, sizeof report);
  ::close(pipefd[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  if (got == static_cast<ssize_t>(sizeof report)) {
    static const char* kStage[] = {"", "unshare(CLONE_NEWNS)", "making / private",
                                   "mount -t tmpfs", "exec"};
    return c10::str(kStage[report[0]], ": ", std::strerror(report[1]),
                    " (needs CAP_SYS_ADMIN, e.g. root in a container that allows mounts)");
  }
  *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return "";
}

TEST(DiskFull, SmallTmpfsRefusesCleanlyAndKeepsTheOldFile) {
  TempDir d;
  const std::string mount_point = d / "small";
  fs::create_directory(mount_point);
  int status = -1;
  const std::string why = run_with_small_fs("disk_full", mount_point, "64k", &status);
  if (!why.empty()) GTEST_SKIP() << "cannot mount a small tmpfs: " << why;
  EXPECT_EQ(status, 0) << "the child's checks failed (its stderr says which)";
  // The mount lived in the child's namespace only.
  EXPECT_TRUE(entries(mount_point).empty());
}

// ---------------------------------------------------------------------------
// The destination replaced concurrently.

// Another thread renames complete files over the target (and removes it)
// while save_image replaces it: every read sees one complete image, one of
// those written, and no temporary file survives.
TEST(ConcurrentDestination, RenamedOverWhileWriting) {
  TempDir d;
  const std::string target = d / "t.png";
  const auto theirs = torch::rand({3, 40, 40});
  save_image(theirs, d / "theirs.png");
  const auto their_bytes = bytes_of(d / "theirs.png");
  std::set<std::vector<uint8_t>> candidates = {their_bytes};
  std::vector<torch::Tensor> ours;
  for (int i = 0; i < 8; ++i) {
    ours.push_back(torch::rand({3, 40, 40}));
    const torch::Tensor b = encode_image(ours.back());
    candidates.insert(std::vector<uint8_t>(b.data_ptr<uint8_t>(), b.data_ptr<uint8_t>() + b.numel()));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> renames{0}, removes{0}, reads{0}, bad_reads{0};
  std::thread renamer([&] {
    for (int i = 0; !stop; ++i) {
      const std::string side = d / c10::str("side", i % 4);
      std::ofstream(side, std::ios::binary)
          .write(reinterpret_cast<const char*>(their_bytes.data()), their_bytes.size());
      if (i % 5 == 4) {
        if (::unlink(target.c_str()) == 0) ++removes;
        ::unlink(side.c_str());
      } else if (::rename(side.c_str(), target.c_str()) == 0) {
        ++renames;
      }
    }
  });
  std::thread reader([&] {
    while (!stop) {
      const int fd = ::open(target.c_str(), O_RDONLY);
      if (fd < 0) continue;  // removed just now
      ::close(fd);
      const auto bytes = bytes_of(target);
      if (bytes.empty()) continue;  // removed between open and read
      ++reads;
      if (!candidates.count(bytes)) ++bad_reads;
    }
  });
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(error_of([&] { save_image(ours[i % ours.size()], target); }), "") << i;
  }
  stop = true;
  renamer.join();
  reader.join();
  EXPECT_EQ(bad_reads.load(), 0) << "a read saw an incomplete or unknown file";
  EXPECT_GT(reads.load(), 0);
  std::cout << "[ race ] " << renames << " renames and " << removes << " removals over the target, "
            << reads << " complete reads\n";
  for (const auto& name : entries(d.path)) {
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << "temporary file left: " << name;
  }
  if (fs::exists(target)) EXPECT_TRUE(candidates.count(bytes_of(target)));
}

// Several threads save different images to one path: the result is exactly
// one of them, whole.
TEST(ConcurrentDestination, ManyWritersOnePath) {
  TempDir d;
  const std::string target = d / "same.png";
  const int writers = 4, rounds = 60;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < rounds; ++i) {
        if (!error_of([&] { save_image(tagged(w * rounds + i), target); }).empty()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(entries(d.path), std::set<std::string>{"same.png"});
  const auto img = read_image(target);
  const uint8_t v = img[0][0][0].item<uint8_t>();
  EXPECT_TRUE(img.eq(v).all().item<bool>()) << "a mix of two images";
  bool known = false;
  for (int w = 0; w < writers; ++w) known |= v == tag_pixel(w * rounds + rounds - 1);
  EXPECT_TRUE(known) << "the file is not one of the last images written";
}

// The target becomes a directory, or its directory disappears, while the
// writer works: a c10::Error each time, never a stray temporary file.
TEST(ConcurrentDestination, TargetTurnsIntoDirectoryOrVanishes) {
  TempDir d;
  const std::string sub = d / "sub";
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    for (int i = 0; !stop; ++i) {
      std::error_code ec;
      if (i % 2) {
        fs::remove_all(sub, ec);
      } else {
        fs::create_directories(fs::path(sub) / "t.png", ec);  // the target as a directory
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      fs::remove_all(fs::path(sub) / "t.png", ec);
      fs::create_directories(sub, ec);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  int ok = 0, refused = 0;
  for (int i = 0; i < 400; ++i) {
    try {
      save_image(tagged(i), (fs::path(sub) / "t.png").string());
      ++ok;
    } catch (const c10::Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what_without_backtrace()).find("t.png"), std::string::npos);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a c10::Error: " << e.what();
    }
  }
  stop = true;
  flipper.join();
  std::cout << "[ race ] " << ok << " written, " << refused << " refused\n";
  std::error_code ec;
  if (fs::exists(sub, ec)) {
    for (const auto& e : fs::recursive_directory_iterator(sub, ec)) {
      EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos)
          << "temporary file left: " << e.path();
    }
  }
}

// ---------------------------------------------------------------------------
// ImageWriter under faults.

// "ImageWriter: 3 images failed: ..." -> 3; "1 image failed" -> 1.
int64_t failures_in(const std::string& message) {
  static const std::regex re("(\\d+) images? failed");
  std::smatch m;
  if (!std::regex_search(message, m, re)) return 0;
  return std::stoll(m[1]);
}

// Many producers, a queue bound smaller than one image (every call waits),
// a share of jobs failing in the workers, and other threads flushing all the
// time: every good file is written once with its own content, every failure
// is surfaced exactly once (by a call, a flush, or the final flush), and
// every future carries its own outcome.
TEST(WriterFaults, FailuresWhileOthersFlushAndTheQueueIsFull) {
  TempDir d;
  fs::create_directory(d / "isdir.png");  // a path that always fails (a directory)
  const int producers = 3, per_producer = 150;
  ImageWriter writer(ImageWriterOptions().threads(3).max_pending_bytes(512));
  std::mutex mu;
  int64_t surfaced = 0;
  std::map<std::string, int> paths_surfaced;
  auto record = [&](const std::string& msg) {
    std::lock_guard<std::mutex> lock(mu);
    surfaced += failures_in(msg);
    // Each failure reads "'<path>': cannot write '<path>': <why>".
    static const std::regex path_re("'([^']*)': cannot write");
    for (auto it = std::sregex_iterator(msg.begin(), msg.end(), path_re);
         it != std::sregex_iterator(); ++it) {
      ++paths_surfaced[(*it)[1]];
    }
  };
  std::atomic<bool> stop{false};
  std::atomic<int> flushes{0};
  std::vector<std::thread> flushers;
  for (int f = 0; f < 2; ++f) {
    flushers.emplace_back([&] {
      while (!stop) {
        try {
          writer.flush();
        } catch (const c10::Error& e) {
          record(e.what_without_backtrace());
        }
        ++flushes;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
  }
  std::atomic<int> injected{0};
  std::vector<std::vector<std::pair<std::string, std::shared_future<void>>>> futures(producers);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        const int id = p * per_producer + i;
        std::string path;
        switch (id % 10) {
          case 3: path = d / c10::str("missing/", id, ".png"); break;
          case 7: path = d / "isdir.png"; break;
          default: path = d / c10::str(id, ".png"); break;
        }
        if (id % 10 == 3 || id % 10 == 7) ++injected;
        try {
          futures[p].emplace_back(path, writer.save_image(tagged(id), path));
        } catch (const c10::Error& e) {
          // An earlier failure surfaced here; this call's job was still queued.
          record(e.what_without_backtrace());
          futures[p].emplace_back(path, std::shared_future<void>());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  for (auto& t : flushers) t.join();
  try {
    writer.flush();
  } catch (const c10::Error& e) {
    record(e.what_without_backtrace());
  }
  EXPECT_EQ(error_of([&] { writer.flush(); }), "");
  EXPECT_EQ(writer.pending(), 0);
  EXPECT_EQ(surfaced, injected.load()) << "failures surfaced (by count) vs injected";
  for (const auto& [path, n] : paths_surfaced) {
    if (path.find("missing/") != std::string::npos) EXPECT_EQ(n, 1) << path << " surfaced " << n << " times";
  }
  // Every good file once, with its own content; every future its outcome.
  size_t good = 0;
  for (int p = 0; p < producers; ++p) {
    for (int i = 0; i < per_producer; ++i) {
      const int id = p * per_producer + i;
      const auto& [path, future] = futures[p][static_cast<size_t>(i)];
      const bool should_fail = id % 10 == 3 || id % 10 == 7;
      if (future.valid()) {
        bool threw = false;
        try {
          future.get();
        } catch (const c10::Error&) {
          threw = true;
        }
        EXPECT_EQ(threw, should_fail) << path;
      }
      if (!should_fail) {
        ++good;
        const auto img = read_image(path);
        EXPECT_TRUE(img.eq(tag_pixel(id)).all().item<bool>()) << path;
      }
    }
  }
  size_t files = 0;
  for (const auto& name : entries(d.path)) {
    files += name != "isdir.png";
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
  }
  EXPECT_EQ(files, good);
  EXPECT_TRUE(entries(d / "isdir.png").empty());
  std::cout << "[ faults ] " << injected << " injected failures surfaced once each; " << flushes
            << " concurrent flushes\n";
}

// Destroying a writer with work queued writes it all; failures nobody
// collected are printed once, at destruction.
TEST(WriterFaults, DestructionWithPendingWork) {
  TempDir d;
  const int n = 40;
  std::string early;
  testing::internal::CaptureStderr();
  {
    ImageWriter writer(ImageWriterOptions().threads(2).max_pending_bytes(int64_t{64} << 20));
    for (int i = 0; i < n; ++i) {
      // Level 9 on noise: slow enough that most jobs are still queued below.
      writer.save_image(torch::rand({3, 96, 96}), d / c10::str(i, ".png"),
                        SaveImageOptions().compression_level(9));
    }
    writer.save_image(tagged(1), d / "missing/a.png");
    // (Should a.png have failed already, this call reports it.)
    early = error_of([&] { writer.save_image(tagged(2), d / "missing/b.png"); });
    EXPECT_GT(writer.pending(), 0);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  size_t files = 0;
  for (const auto& name : entries(d.path)) {
    ++files;
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
  }
  EXPECT_EQ(files, static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(error_of([&] { read_image(d / c10::str(i, ".png")); }), "") << i;
  }
  // Each failure once: at destruction (or, for a.png, from the later call).
  const std::string all = early + "\n" + err;
  EXPECT_EQ(failures_in(early) + failures_in(err), 2) << all;
  // Each path named once in its failure ("cannot write 'P': ...", not "'P': cannot write 'P'").
  for (const std::string name : {"missing/a.png'", "missing/b.png'"}) {
    EXPECT_NE(all.find(name), std::string::npos) << all;
    EXPECT_EQ(all.find(name), all.rfind(name)) << all;
  }
  EXPECT_NE(err.find("at destruction"), std::string::npos) << err;
}

// A destroyed writer whose failures were all collected prints nothing.
TEST(WriterFaults, NothingPrintedWhenEverythingWasReported) {
  TempDir d;
  testing::internal::CaptureStderr();
  {
    ImageWriter writer(ImageWriterOptions().threads(1));
    writer.save_image(tagged(1), d / "missing/a.png");
    EXPECT_NE(error_of([&] { writer.flush(); }), "");
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// save_images through the writer with some samples failing: the batch's
// future fails, the other samples are written, the failures surface once.
TEST(WriterFaults, BatchWithFailingSamples) {
  TempDir d;
  for (int i : {2, 5}) fs::create_directory(d / c10::str(i, ".png"));
  ImageWriter writer(ImageWriterOptions().threads(3).max_pending_bytes(1024));
  auto f = writer.save_images(torch::rand({8, 3, 6, 6}), d / "{index}.png");
  EXPECT_THROW(f.get(), c10::Error);
  const std::string msg = error_of([&] { writer.flush(); });
  EXPECT_EQ(failures_in(msg), 2) << msg;
  EXPECT_NE(msg.find("2.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5.png"), std::string::npos) << msg;
  EXPECT_EQ(error_of([&] { writer.flush(); }), "");
  for (int i = 0; i < 8; ++i) {
    if (i == 2 || i == 5) continue;
    EXPECT_EQ(error_of([&] { read_image(d / c10::str(i, ".png")); }), "") << i;
  }
}

// save_images (no writer) with failing samples from several workers: every
// other sample written, one exception counting all failures.
TEST(WriterFaults, SaveImagesCountsEveryFailure) {
  TempDir d;
  for (int i = 0; i < 20; i += 3) fs::create_directory(d / c10::str(i, ".png"));
  const std::string msg = error_of([&] { save_images(torch::rand({20, 3, 5, 5}), d / "{index}.png", {}, 0, 4); });
  EXPECT_EQ(failures_in(msg), 7) << msg;
  EXPECT_NE(msg.find("and 2 more"), std::string::npos) << msg;
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(d.path)) files += e.is_regular_file();
  EXPECT_EQ(files, 13u);
}

// ---------------------------------------------------------------------------
// Issue 17: forks, thread limits, paths and indices.

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TORCHIMAGE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TORCHIMAGE_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TORCHIMAGE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TORCHIMAGE_TSAN 1
#endif
#endif

// Runs `body` in a forked child and returns its exit code, -1 when it was
// killed by a signal, or -2 when it was still running after `seconds` (then
// it is killed): a hang is a failure, not a stuck suite.
int run_in_child(const std::function<int()>& body, int seconds = 30) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -3;
  if (pid == 0) ::_exit(body());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Whether f() throws a c10::Error that contains `needle`.
bool throws_with(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
  } catch (const c10::Error& e) {
    return std::string(e.what_without_backtrace()).find(needle) != std::string::npos;
  }
  return false;
}

// Bug 3: a child forked while a writer exists (a data loader's workers)
// hung in the writer's destructor. There the writer refuses every call with
// a clear error and its destructor returns at once; a new writer works.
TEST(WriterFork, ChildRefusesCallsAndDoesNotHang) {
  TempDir d;
  for (bool busy : {false, true}) {
    SCOPED_TRACE(busy ? "forked while writing" : "forked while idle");
    auto writer = std::make_unique<ImageWriter>(ImageWriterOptions().threads(2));
    writer->save_image(tagged(1), d / "parent.png");
    writer->flush();
    if (busy) {
      for (int i = 0; i < 64; ++i) {
        writer->save_image(torch::rand({3, 64, 64}), d / c10::str("busy", i, ".png"));
      }
    }
    const int code = run_in_child([&] {
      const std::string child_png = d / "child.png";
      if (!throws_with([&] { writer->save_image(tagged(2), child_png); }, "forked child")) return 2;
      if (!throws_with([&] { writer->save_images(torch::rand({2, 3, 4, 4}), child_png); },
                       "forked child")) {
        return 3;
      }
      if (!throws_with([&] { writer->flush(); }, "forked child")) return 4;
      if (!throws_with([&] { writer->pending(); }, "create a new ImageWriter")) return 5;
      writer.reset();  // hung here
#if !defined(TORCHIMAGE_TSAN)  // (TSan does not support threads after a fork)
      ImageWriter fresh(ImageWriterOptions().threads(1));
      fresh.save_image(tagged(3), child_png);
      fresh.flush();
      if (!fs::exists(child_png)) return 6;
#endif
      return 0;
    });
    EXPECT_EQ(code, 0) << "-2: the child hung; -1: it crashed";
    writer->flush();  // the parent's writer is unaffected
    EXPECT_TRUE(fs::exists(d / "parent.png"));
  }
}

// Bug 4: when threads cannot be created (a process or memory limit), the
// writer and save_images go on with those that could start; nothing aborts.
TEST(ThreadLimits, WriterAndSaveImagesGoOnWithTheThreadsThatStarted) {
#if defined(TORCHIMAGE_SANITIZED)
  GTEST_SKIP() << "an address-space limit cannot hold a sanitizer's shadow memory";
#else
  TempDir d;
  const torch::Tensor batch = torch::rand({40, 3, 8, 8});
  const int code = run_in_child([&] {
    // Address space now + 160 MiB: a few dozen 8 MiB thread stacks fit.
    long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) +
                         (rlim_t{160} << 20);
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_AS, &rl) != 0) return 10;
    try {
      ImageWriter writer(ImageWriterOptions().threads(4096));
      writer.save_images(batch, d / "w{index}.png");
      writer.flush();
      save_images(batch, d / "f{index}.png", {}, 0, /*threads=*/1000);
    } catch (const c10::Error& e) {
      std::fprintf(stderr, "child: %s\n", e.what_without_backtrace());
      return 2;
    }
    for (int i = 0; i < 40; ++i) {
      if (!fs::exists(d / c10::str("w", i, ".png")) || !fs::exists(d / c10::str("f", i, ".png"))) {
        return 3;
      }
    }
    return 0;
  });
  EXPECT_EQ(code, 0) << "-1: the child was killed (std::terminate's abort)";
#endif
}

// Bug 2 on the writer's and save_images' faces, and bug 7: a start_index
// whose last file would pass INT64_MAX. Both are refused before anything is
// queued or written.
TEST(WriterPaths, NulAndIndexOverflowAreRefusedUpFront) {
  TempDir d;
  const std::string nul = d / "a.png" + std::string(1, '\0') + ".jpg";
  ImageWriter writer(ImageWriterOptions().threads(1));
  const torch::Tensor batch = torch::rand({3, 3, 4, 4});
  const int64_t max = std::numeric_limits<int64_t>::max();
  for (const auto& call : std::vector<std::function<void()>>{
           [&] { save_image(tagged(1), nul); },
           [&] { writer.save_image(tagged(1), nul); },
           [&] { writer.save_image(std::vector<torch::Tensor>{tagged(1)}, nul); },
           [&] { writer.save_images(batch, nul + "{index}"); },
           [&] { save_images(batch, nul + "{index}"); }}) {
    try {
      call();
      ADD_FAILURE() << "a NUL byte in the path was taken";
    } catch (const c10::ValueError& e) {
      EXPECT_NE(std::string(e.what_without_backtrace()).find("NUL"), std::string::npos);
    }
  }
  const std::string pattern = d / "{index}.png";
  EXPECT_THROW_MSG(save_images(batch, pattern, {}, max), "passes the largest index");
  EXPECT_THROW_MSG(save_images(batch, pattern, {}, max - 1), "passes the largest index");
  EXPECT_THROW_MSG(writer.save_images(batch, pattern, {}, max - 1), "passes the largest index");
  EXPECT_THROW_MSG(writer.save_images(std::vector<torch::Tensor>{tagged(1), tagged(2)}, pattern,
                                      {}, max),
                   "passes the largest index");
  writer.flush();
  EXPECT_TRUE(entries(d.path).empty());
  // The largest index itself is fine.
  writer.save_images(batch, pattern, {}, max - 2);
  save_images(batch.narrow(0, 0, 1), d / "f{index}.png", {}, max);
  writer.flush();
  EXPECT_EQ(entries(d.path), (std::set<std::string>{"9223372036854775805.png",
                                                    "9223372036854775806.png",
                                                    "9223372036854775807.png",
                                                    "f9223372036854775807.png"}));
}

// Failures name each path once, and a pattern that cannot make a file name
// fails up front in one short message (it made 8 KB of one failure per file).
TEST(WriterPaths, FailureMessagesAreShort) {
  TempDir d;
  const torch::Tensor batch = torch::rand({20, 3, 4, 4});
  std::string msg = error_of([&] { save_images(batch, d / "{index:999}.png"); });
  EXPECT_LT(msg.size(), 300u) << msg;
  EXPECT_NE(msg.find("255"), std::string::npos) << msg;
  msg = error_of([&] { save_images(batch, d / "missing/{index}.png"); });
  const std::string first = d / "missing/0.png";
  size_t count = 0;
  for (size_t at = msg.find(first); at != std::string::npos; at = msg.find(first, at + 1)) ++count;
  EXPECT_EQ(count, 1u) << msg;
  EXPECT_LT(msg.size(), 1500u) << msg;
  EXPECT_TRUE(entries(d.path).empty());
}

}  // namespace
