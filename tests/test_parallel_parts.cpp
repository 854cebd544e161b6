// run_parts (src/core/parallel_parts.h): every part runs once, on the caller
// or the process's helper thread; errors come back to the caller; callers
// on several threads at once, and a forked child, each get their parts
// run. Then the two users of it, the PNG deflate halves and the fused
// quantizer's halves of a sheet, give the same bytes as on one thread; and
// ThreadScratch, the buffers an engine keeps per thread (this binary also
// runs under TSan: scripts/sanitize.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <torchimage/torchimage.h>

#include "core/encode_context.h"
#include "core/parallel_parts.h"
#include "core/thread_scratch.h"
#include "test_util.h"

namespace {

using torchimage::run_parts;

// Runs n parts that count their runs; returns the counts.
std::vector<int> count_runs(int n) {
  std::vector<std::atomic<int>> runs(static_cast<size_t>(n));
  run_parts(n, [&](int i) { runs[static_cast<size_t>(i)].fetch_add(1); });
  std::vector<int> out;
  for (auto& r : runs) out.push_back(r.load());
  return out;
}

TEST(ParallelParts, EveryPartRunsOnce) {
  for (int n : {0, 1, 2, 3, 7, 64}) {
    for (int repeat = 0; repeat < 50; ++repeat) {
      EXPECT_EQ(count_runs(n), std::vector<int>(static_cast<size_t>(n), 1)) << n << " parts";
    }
  }
}

// Under SerialEncodingScope (the writer's workers) no part leaves the caller.
TEST(ParallelParts, SerialScopeKeepsEveryPartHere) {
  torchimage::SerialEncodingScope serial;
  std::vector<std::thread::id> ran(5);
  run_parts(5, [&](int i) { ran[static_cast<size_t>(i)] = std::this_thread::get_id(); });
  for (const auto& id : ran) EXPECT_EQ(id, std::this_thread::get_id());
}

// Whether two parts ran at the same time: each waits (up to `patience`)
// for the other to start; one run after the other never sees the other
// begun and not yet ended.
bool parts_overlap(std::chrono::milliseconds patience) {
  std::atomic<int> started{0}, finished{0};
  std::atomic<bool> overlapped{false};
  run_parts(2, [&](int) {
    started.fetch_add(1);
    const auto until = std::chrono::steady_clock::now() + patience;
    while (started.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    if (started.load() == 2 && finished.load() == 0) overlapped = true;  // both began, none ended
    finished.fetch_add(1);
  });
  return overlapped.load();
}

// With more than one core, the helper takes a part while this thread runs
// the other (each waits for the other to start; 5 s covers a wake-up on a
// loaded machine).
TEST(ParallelParts, HelperRunsAPartBesideTheCaller) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one core: no helper";
  EXPECT_TRUE(parts_overlap(std::chrono::milliseconds(5000)));
}

// A part's exception reaches the caller, after the parts taken have
// returned; the helper then serves the next call.
TEST(ParallelParts, ErrorsReachTheCaller) {
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::atomic<int> finished{0};
    try {
      run_parts(4, [&](int i) {
        if (i == 1) throw std::runtime_error("part 1 failed");
        finished.fetch_add(1);
      });
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "part 1 failed");
    }
    EXPECT_LE(finished.load(), 3);
    EXPECT_EQ(count_runs(3), std::vector<int>(3, 1));
  }
}

// Several threads calling at once: one has the helper, the others run their
// parts themselves; each call runs its own parts once.
TEST(ParallelParts, ConcurrentCallers) {
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 200; ++k) {
        if (count_runs(1 + k % 5) != std::vector<int>(static_cast<size_t>(1 + k % 5), 1)) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// A child forked after the helper started has no helper thread (fork copies
// only the calling thread): run_parts there must neither wait for the
// parent's helper nor lose its second thread, so it starts its own.
TEST(ParallelParts, ForkedChildHasItsOwnHelper) {
#if defined(TORCHIMAGE_TEST_UNDER_TSAN)
  GTEST_SKIP() << "TSan does not support threads started after a multi-threaded fork";
#else
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one core: no helper";
  ASSERT_EQ(count_runs(2), std::vector<int>(2, 1));  // the helper exists now
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    bool ok = true;
    for (int k = 0; k < 20; ++k) ok = ok && count_runs(2) == std::vector<int>(2, 1);
    // A helper of its own runs the other part while this one waits for it
    // (5 s: a wake-up on a loaded machine; the parent's dead helper never would).
    ok = ok && parts_overlap(std::chrono::milliseconds(5000));
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  pid_t done = 0;
  for (int waited = 0; waited < 400 && done == 0; ++waited) {  // 20 s at most
    done = ::waitpid(child, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (done == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << "the forked child did not finish its parts";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's parts did not run on two threads";
#endif
}

// ThreadScratch: a thread's object is handed to the next ThreadScratch on
// that thread (with what was left in it), a second one alive at the same
// time on the thread gets its own, and other threads have their own.
TEST(ThreadScratch, KeptPerThreadAndNeverShared) {
  struct Buffer {
    std::vector<int> values;
  };
  const Buffer* kept = nullptr;
  {
    torchimage::ThreadScratch<Buffer> a;
    a->values.assign(1000, 7);
    kept = &*a;
    torchimage::ThreadScratch<Buffer> b;  // while a is in use
    EXPECT_NE(&*b, kept);
    EXPECT_TRUE(b->values.empty());
  }
  {
    torchimage::ThreadScratch<Buffer> again;
    EXPECT_EQ(&*again, kept);
    ASSERT_EQ(again->values.size(), 1000u);
    EXPECT_EQ(again->values[999], 7);
  }
  const Buffer* other = nullptr;
  std::thread t([&] {
    torchimage::ThreadScratch<Buffer> mine;
    other = &*mine;
    EXPECT_TRUE(mine->values.empty());
  });
  t.join();
  EXPECT_NE(other, kept);
}

// The users: a PNG large enough for two deflate parts, and a 64-sample
// sheet (the fused quantizer's halves), give the same bytes on two threads
// as on one, repeatedly (the parts race for the helper each time).
TEST(ParallelParts, PngAndSheetBytesDoNotDependOnThreads) {
  torch::manual_seed(3);
  const torch::Tensor img = (torch::rand({3, 300, 400}) * 40).to(torch::kByte).cumsum(2).to(torch::kByte);
  const torch::Tensor batch = torch::rand({64, 3, 32, 32}) * 2 - 1;
  const auto options = torchimage::SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
  torch::Tensor png_serial, sheet_serial;
  {
    torchimage::SerialEncodingScope serial;
    png_serial = torchimage::encode_png(img);
    sheet_serial = torchimage::encode_image(batch, options);
  }
  ASSERT_TRUE(torch::equal(torchimage::decode_image(png_serial), img));
  for (int repeat = 0; repeat < 10; ++repeat) {
    EXPECT_TRUE(torch::equal(torchimage::encode_png(img), png_serial));
    EXPECT_TRUE(torch::equal(torchimage::encode_image(batch, options), sheet_serial));
  }
}

}  // namespace
