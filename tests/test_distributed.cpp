// torchimage::distributed with real processes over c10d's Gloo: the test
// starts 2 or 3 copies of this binary (each a rank, TORCHIMAGE_DIST_WORKER
// set), which meet through a FileStore in a temporary folder. Checked against
// one process's torchimage::save_image / save_images of the same samples
// (byte equality), and the errors every rank must report.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/version.h>
#include <torchimage/distributed.h>
#include <torchimage/torchimage.h>

#include "test_util.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace dist = torchimage::distributed;
using torchimage::SaveImageOptions;
using torchimage_test::bytes_of;
using torchimage_test::TempDir;

std::vector<int64_t> parse_counts(const std::string& s) {
  std::vector<int64_t> counts;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) counts.push_back(std::stoll(item));
  return counts;
}

// Every rank's samples, as one batch: what one process would save.
torch::Tensor all_samples(int64_t total, int64_t height = 8) {
  torch::manual_seed(26);
  return torch::rand({total, 3, height, 8}) * 2 - 1;
}

SaveImageOptions sheet_options() {
  return SaveImageOptions().nrow(4).normalize(true).value_range({-1.0, 1.0});
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// ---- the worker: one rank ----------------------------------------------

int run_worker() {
  const std::string dir = std::getenv("TI_DIST_DIR");
  const std::string scenario = std::getenv("TORCHIMAGE_DIST_WORKER");
  const int rank = std::atoi(std::getenv("TI_DIST_RANK"));
  const std::vector<int64_t> counts = parse_counts(std::getenv("TI_DIST_COUNTS"));
  const int world = static_cast<int>(counts.size());
  const std::string err_file = dir + "/error." + std::to_string(rank);
  try {
    auto store = c10::make_intrusive<c10d::FileStore>(dir + "/store", world);
    auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(8000));
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);

    int64_t offset = 0, total = 0;
    for (int r = 0; r < world; ++r) {
      if (r < rank) offset += counts[static_cast<size_t>(r)];
      total += counts[static_cast<size_t>(r)];
    }
    torch::Tensor local = all_samples(total).narrow(0, offset, counts[static_cast<size_t>(rank)]);
    if (scenario == "mismatch" && rank == 1) local = all_samples(total, 9).narrow(0, 0, 1);
    if (scenario == "killed" && rank == 1) _exit(0);  // gone before the collective

    if (scenario == "sheet" || scenario == "mismatch" || scenario == "killed") {
      const torch::Tensor gathered = dist::gather_batch(pg, local, 0);
      if (rank == 0 && !torch::equal(gathered, all_samples(total))) {
        write_text(err_file, "gather_batch: not the concatenation in rank order");
        return 4;
      }
      if (rank != 0 && gathered.defined()) {
        write_text(err_file, "gather_batch: a defined tensor on a rank other than root");
        return 4;
      }
      // Any dtype travels (as bytes): bool, uint8, double.
      for (const torch::Tensor& kind : {torch::Tensor(local > 0), local.mul(100).to(torch::kUInt8),
                                        local.to(torch::kDouble)}) {
        const torch::Tensor g = dist::gather_batch(pg, kind, 0);
        const torch::Tensor whole = all_samples(total);
        const torch::Tensor want = kind.scalar_type() == torch::kBool ? torch::Tensor(whole > 0)
                                   : kind.scalar_type() == torch::kUInt8
                                       ? whole.mul(100).to(torch::kUInt8)
                                       : whole.to(torch::kDouble);
        if (rank == 0 && (g.scalar_type() != want.scalar_type() || !torch::equal(g, want))) {
          write_text(err_file, "gather_batch: wrong values for " +
                                   std::string(c10::toString(kind.scalar_type())));
          return 4;
        }
      }
      dist::save_image(pg, local, dir + "/sheet.png", sheet_options(), 0);
      // The writer's face, rooted on the last rank.
      torchimage::ImageWriter writer;
      dist::save_image(pg, writer, local, dir + "/sheet_writer.png", sheet_options(), world - 1)
          .get();
      dist::save_images(pg, local, dir + "/each/{index:03}.png",
                        sheet_options().create_directories(true), 10);
    } else if (scenario == "bad_options") {
      // Rank 0 alone asks for an impossible quality: every rank throws.
      SaveImageOptions o = sheet_options().format(torchimage::ImageFormat::JPEG);
      if (rank == 0) o.quality(500);
      dist::save_image(pg, local, dir + "/sheet.jpg", o, 0);
    } else if (scenario == "no_placeholder") {
      dist::save_images(pg, local, dir + "/same.png", sheet_options());
    } else if (scenario == "bad_root") {
      dist::save_image(pg, local, dir + "/sheet.png", sheet_options(), world);
    }
  } catch (const c10::Error& e) {
    write_text(err_file, e.what_without_backtrace());
    return 3;
  } catch (const std::exception& e) {
    write_text(err_file, std::string("not a c10::Error: ") + e.what());
    return 5;
  }
  return 0;
}

// Runs before gtest's main: a worker process does its rank's part and exits.
const int kWorker = [] {
  if (std::getenv("TORCHIMAGE_DIST_WORKER") != nullptr) std::exit(run_worker());
  return 0;
}();

// ---- the parent: starts the ranks -----------------------------------------

struct RankRun {
  std::vector<int> status;  // exit codes, -signal if killed
  std::vector<std::string> errors;
  double seconds = 0;
};

RankRun run_ranks(const TempDir& dir, const std::string& scenario, const std::string& counts) {
  const int world = static_cast<int>(parse_counts(counts).size());
  std::vector<pid_t> pids;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.push_back("TORCHIMAGE_DIST_WORKER=" + scenario);
    env.push_back("TI_DIST_DIR=" + dir.path.string());
    env.push_back("TI_DIST_RANK=" + std::to_string(r));
    env.push_back("TI_DIST_COUNTS=" + counts);
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(&s[0]);
    envp.push_back(nullptr);
    std::string self = fs::read_symlink("/proc/self/exe").string();
    char* argv[] = {&self[0], nullptr};
    pid_t pid = 0;
    EXPECT_EQ(posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, envp.data()), 0);
    pids.push_back(pid);
  }
  RankRun run;
  // Bounded: the group's timeout is 8 s; a hang is killed at 120 s.
  const auto deadline = start + std::chrono::seconds(120);
  for (pid_t pid : pids) {
    int status = 0;
    for (;;) {
      const pid_t got = waitpid(pid, &status, WNOHANG);
      if (got == pid) break;
      if (std::chrono::steady_clock::now() > deadline) {
        for (pid_t p : pids) kill(p, SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    run.status.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
  }
  run.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int r = 0; r < world; ++r) run.errors.push_back(read_text(dir / ("error." + std::to_string(r))));
  return run;
}

std::string describe(const RankRun& run) {
  std::ostringstream s;
  for (size_t r = 0; r < run.status.size(); ++r) {
    s << "rank " << r << " exit " << run.status[r] << ": " << run.errors[r] << "\n";
  }
  return s.str();
}

class Distributed : public ::testing::TestWithParam<std::string> {};

// Uneven batches (a rank with 0 samples too): the sheet is byte-identical to
// one process's save_image of the concatenation (root 0 and the last rank,
// through the writer), and the per-sample files cover every index once.
TEST_P(Distributed, SheetAndExportEqualOneProcess) {
  const std::string counts = GetParam();
  std::vector<int64_t> c = parse_counts(counts);
  int64_t total = 0;
  for (int64_t n : c) total += n;
  TempDir dir("dist");
  const RankRun run = run_ranks(dir, "sheet", counts);
  for (int s : run.status) ASSERT_EQ(s, 0) << describe(run);

  const torch::Tensor all = all_samples(total);
  TempDir one("dist-one");
  torchimage::save_image(all, one / "sheet.png", sheet_options());
  EXPECT_EQ(bytes_of(dir / "sheet.png"), bytes_of(one / "sheet.png"));
  EXPECT_EQ(bytes_of(dir / "sheet_writer.png"), bytes_of(one / "sheet.png"));
  torchimage::save_images(all, one / "{index:03}.png", sheet_options(), 10);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path / "each")) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> expected;
  for (int64_t i = 0; i < total; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%03lld.png", static_cast<long long>(10 + i));
    expected.push_back(name);
  }
  EXPECT_EQ(names, expected);  // every index once, no other file
  for (const std::string& n : expected) {
    EXPECT_EQ(bytes_of((dir.path / "each" / n).string()), bytes_of(one / n)) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Counts, Distributed,
                         ::testing::Values("5,7", "6,0,9", "1,4,2", "0,3"));

// A shape mismatch (rank 1's samples are 9 rows high): an error on every
// rank, naming the rank and the shapes; nothing written.
TEST(DistributedErrors, MismatchIsReportedOnEveryRank) {
  TempDir dir("dist");
  const RankRun run = run_ranks(dir, "mismatch", "2,3,1");
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(run.status[r], 3) << describe(run);
    EXPECT_NE(run.errors[r].find("rank 1: (1, 3, 9, 8)"), std::string::npos) << describe(run);
    EXPECT_NE(run.errors[r].find("rank 0: (2, 3, 8, 8)"), std::string::npos) << describe(run);
  }
  EXPECT_FALSE(fs::exists(dir / "sheet.png"));
}

// Bad options on one rank: every rank throws; that rank names the value.
TEST(DistributedErrors, BadOptionsOnOneRankStopEveryRank) {
  TempDir dir("dist");
  const RankRun run = run_ranks(dir, "bad_options", "2,2");
  for (int s : run.status) EXPECT_EQ(s, 3) << describe(run);
  EXPECT_NE(run.errors[0].find("500"), std::string::npos) << describe(run);
  EXPECT_NE(run.errors[1].find("rank 0 refused its input or options"), std::string::npos)
      << describe(run);
  EXPECT_FALSE(fs::exists(dir / "sheet.jpg"));
}

// A pattern without {index} fails on every rank, the rank with one sample too.
TEST(DistributedErrors, PatternIsCheckedAgainstTheGlobalCount) {
  TempDir dir("dist");
  const RankRun run = run_ranks(dir, "no_placeholder", "1,3");
  for (int s : run.status) EXPECT_EQ(s, 3) << describe(run);
  for (const std::string& e : run.errors) EXPECT_NE(e.find("same.png"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "same.png"));
}

TEST(DistributedErrors, RootOutsideTheGroup) {
  TempDir dir("dist");
  const RankRun run = run_ranks(dir, "bad_root", "1,1");
  for (size_t r = 0; r < 2; ++r) {
    EXPECT_EQ(run.status[r], 3) << describe(run);
    EXPECT_NE(run.errors[r].find("root 2 is not a rank of this group"), std::string::npos);
  }
}

// c10d's registry of groups by name (what the Python operators use): since
// LibTorch 2.2; before, a c10::Error that says so.
TEST(DistributedErrors, ResolveGroupByName) {
  try {
    dist::resolve_group("no-such-group");
    FAIL() << "resolve_group did not throw";
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
    EXPECT_NE(message.find("no process group is registered under the name 'no-such-group'"),
              std::string::npos) << message;
#else
    EXPECT_NE(message.find("needs torch >= 2.2"), std::string::npos) << message;
#endif
  }
}

// A rank gone before the collective: the others fail with a clear error
// within the group's timeout (8 s), never hang.
TEST(DistributedErrors, ARankGoneIsAnErrorNotAHang) {
  TempDir dir("dist");
  const RankRun run = run_ranks(dir, "killed", "2,2,2");
  EXPECT_EQ(run.status[1], 0);
  for (size_t r : {0u, 2u}) {
    EXPECT_EQ(run.status[r], 3) << describe(run);
    EXPECT_NE(run.errors[r].find("failed"), std::string::npos) << describe(run);
  }
  EXPECT_LT(run.seconds, 60.0) << describe(run);
}

}  // namespace
