// save_images: one file per sample, encoded on a pool of threads.
#include <torchimage/save_images.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <c10/util/Exception.h>

#include "core/cpu_dispatch.h"
#include "core/encode_context.h"
#include "io/file_path.h"
#include "runtime/failures.h"
#include "grid/grid_shape.h"
#include "runtime/save_images.h"
#include "runtime/threads.h"

namespace torchimage {
namespace {

int resolve_threads(int threads, int64_t jobs) {
  TORCH_CHECK(threads >= 0, "save_images: threads must be >= 0 (0: the hardware's), got ", threads);
  int n = threads > 0 ? threads : hardware_threads();
  n = std::max(1, n);
  return static_cast<int>(std::min<int64_t>(n, std::max<int64_t>(jobs, 1)));
}

// Where several samples' paths reach one pipe or device (/dev/stdout and
// /dev/fd/1, or links to one FIFO), the images must arrive in index order:
// a sample written in place waits until every earlier sample is done.
// Samples are taken in index order, so each earlier one is being worked on
// by a thread that is not waiting on a later one.
class IndexOrder {
 public:
  explicit IndexOrder(int64_t n) : done_(static_cast<size_t>(n), 0) {}

  void wait_for_earlier(int64_t i) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return prefix_ >= i; });
  }

  void finished(int64_t i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_[static_cast<size_t>(i)] = 1;
      while (prefix_ < static_cast<int64_t>(done_.size()) && done_[static_cast<size_t>(prefix_)]) {
        ++prefix_;
      }
    }
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<char> done_;
  int64_t prefix_ = 0;  // samples 0 .. prefix_ - 1 are done
};

void run_samples(const Samples& s, const std::string& pattern, const SaveImageOptions& options,
                 int64_t start_index, int threads) {
  const char* what = "save_images";
  const SavePlan plan = plan_samples(s, pattern, options, start_index, what);
  const int64_t n = s.size();
  const int workers = resolve_threads(threads, n);
  std::atomic<int64_t> next{0};
  IndexOrder order(workers > 1 ? n : 0);
  std::mutex mu;
  std::vector<std::pair<int64_t, std::string>> failures;
  auto work = [&] {
    SerialEncodingScope serial;  // the samples already use every worker
    RenderBuffers buffers;
    for (int64_t i; (i = next.fetch_add(1)) < n;) {
      const std::string path = format_index_path(pattern, start_index + i, n);
      try {
        const Bytes& bytes = s.batch.defined() ? render_sample(plan, s.batch, i, buffers)
                                               : (buffers.bytes = render(plan, s[i]));
        if (workers > 1 && written_in_place(path)) order.wait_for_earlier(i);
        write_bytes(plan, path, bytes);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        failures.emplace_back(i, failure_of(path, message_of(e)));
      }
      if (workers > 1) order.finished(i);
    }
  };
  // The calling thread works too; helpers that cannot be started (a process
  // limit) leave the work to those that could.
  std::vector<std::thread> pool = start_threads(workers - 1, work);
  work();
  for (auto& t : pool) t.join();
  if (!failures.empty()) {
    std::sort(failures.begin(), failures.end());
    std::vector<std::string> messages;
    for (auto& f : failures) messages.push_back(std::move(f.second));
    TORCH_CHECK(false, failure_summary(what, messages));
  }
}

}  // namespace

SavePlan plan_samples(const Samples& s, const std::string& pattern,
                      const SaveImageOptions& options, int64_t start_index, const char* what) {
  TORCH_CHECK(s.size() >= 1, what, ": expected at least one image, got none");
  const std::string last = check_index_pattern(pattern, start_index, s.size(), what);
  SavePlan plan = make_plan(options, resolve_format(last, options.format(), what), what);
  TORCH_CHECK_VALUE(plan.grid.captions().empty(), what,
                    ": captions label the images of one grid; ", what,
                    " writes one file per image (got ", plan.grid.captions().size(),
                    " captions): save each image with save_image and its caption");
  for (int64_t i = 0; i < s.size(); ++i) {
    if (i > 0 && s.batch.defined()) break;  // one shape for a whole batch
    check_input(plan, s[i]);
  }
  return plan;
}

void save_images(const torch::Tensor& input, const std::string& pattern,
                 const SaveImageOptions& options, int64_t start_index, int threads) {
  TORCH_CHECK(input.defined(), "save_images: expected a tensor, got an undefined one");
  const torch::Tensor batch = apply_layout(input, options.layout(), "save_images");
  TORCH_CHECK(batch.dim() == 4, "save_images: expected a 4-D (B, C, H, W) batch, got ",
              batch.dim(), "-D with shape ", batch.sizes(),
              " (for a single image use save_image)");
  Samples s;
  s.batch = batch.detach();
  run_samples(s, pattern, options, start_index, threads);
}

void save_images(const std::vector<torch::Tensor>& input, const std::string& pattern,
                 const SaveImageOptions& options, int64_t start_index, int threads) {
  const std::vector<torch::Tensor> images = apply_layout(input, options.layout(), "save_images");
  Samples s;
  s.list = &images;
  run_samples(s, pattern, options, start_index, threads);
}

}  // namespace torchimage
