// ImageWriter: save_image and save_images on background threads. Each call
// makes its plan, takes a snapshot of the tensor and queues one job per file
// on the writer's WorkQueue.
#include <torchimage/writer.h>

#include <chrono>
#include <thread>

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/util/Exception.h>

#include "core/cpu_dispatch.h"
#include "core/encode_context.h"
#include "grid/grid_shape.h"
#include "io/file_path.h"
#include "pipeline/plan.h"
#include "runtime/failures.h"
#include "runtime/save_images.h"
#include "runtime/snapshot.h"
#include "runtime/work_queue.h"

namespace torchimage {

struct ImageWriter::State {
  // Declared first, destroyed last: the queue's jobs give their snapshots
  // back to it.
  Snapshots snapshots;
  WorkQueue queue;

  explicit State(const WorkQueue::Options& options) : queue(options) {}

  // The queue, for a call named `what` (an error in a forked child).
  WorkQueue& queue_for(const char* what) {
    queue.check_process(what);
    return queue;
  }
};

namespace {

// What a queued job holds beyond its snapshot: the job and its path, its
// place in the queue, the allocator's headers. Counted in max_pending_bytes,
// so that many tiny jobs cannot hold memory past the bound.
int64_t job_overhead(const std::string& path) {
  return 256 + static_cast<int64_t>(path.size());
}

// Memory that a worker thread reuses from one batch sample to the next.
RenderBuffers& worker_buffers() {
  thread_local RenderBuffers buffers;
  return buffers;
}

// One file: a single image's snapshot, or one sample of a batch's.
class ImageJob final : public WorkQueue::Job {
 public:
  // `snapshot_bytes`: the job's share of its call's snapshot.
  ImageJob(std::shared_ptr<const SavePlan> plan, std::string path, int64_t snapshot_bytes,
           const CallOutcome& outcome)
      : plan_(std::move(plan)), path_(std::move(path)) {
    bytes = snapshot_bytes + job_overhead(path_);
    done = outcome.callback();
    // One path's jobs run in call order: the file ends as the last call
    // wrote it, and a pipe gets whole images in that order.
    order_key = order_key_of(path_);
  }

  // Gives the writer's own copy back for reuse.
  ~ImageJob() override {
    if (recycle_into_ != nullptr) recycle_into_->recycle(std::move(snapshot_));
  }

  // The job's image: a snapshot of `t` (see Snapshots::take).
  friend void take_image(ImageJob& job, const at::Tensor& t, bool handed_over,
                         Snapshots& snapshots, WorkQueue& helpers) {
    bool own_copy = false;
    job.snapshot_ = snapshots.take(t, handed_over, helpers, &job.ready_, &own_copy);
    if (own_copy) job.recycle_into_ = &snapshots;
  }

  void set_sample(std::shared_ptr<const at::Tensor> batch, int64_t index,
                  std::shared_ptr<c10::Event> ready) {
    batch_ = std::move(batch);
    index_ = index;
    ready_ = std::move(ready);
  }

  void run() override {
    SerialEncodingScope serial;  // the writer's threads are the parallelism
    RenderBuffers& buffers = worker_buffers();
    struct Trim {
      RenderBuffers& b;
      ~Trim() { b.trim(); }
    } trim{buffers};
    if (ready_) {
      while (!ready_->query()) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    if (batch_) {
      write_bytes(*plan_, path_, render_sample(*plan_, *batch_, index_, buffers));
    } else {
      write_bytes(*plan_, path_, render(*plan_, snapshot_));
    }
  }

  std::string describe(const std::string& message) const override {
    return failure_of(path_, message);
  }

 private:
  std::shared_ptr<const SavePlan> plan_;  // the call's, shared by its jobs
  std::string path_;
  at::Tensor snapshot_;  // a single image's
  // A batch's samples share one snapshot: each job holds the batch and its
  // index, and takes the sample view only while rendering. The last job to
  // finish frees the batch, after every other job has released it through
  // this shared_ptr, whose reference count is compiled here (and so visible
  // to ThreadSanitizer); a view per job would be released through LibTorch's
  // uninstrumented counts, which TSan cannot see order the free after the
  // other workers' reads.
  std::shared_ptr<const at::Tensor> batch_;
  int64_t index_ = 0;
  std::shared_ptr<c10::Event> ready_;  // a device snapshot's copy, when not on the CPU
  Snapshots* recycle_into_ = nullptr;  // set when `snapshot_` is the writer's copy
};

// The plan the jobs of a call share: checked under the call's name, run
// under the writer's (a failure in a worker reads "ImageWriter: ...").
std::shared_ptr<const SavePlan> job_plan(SavePlan plan) {
  plan.what = "ImageWriter";
  return std::make_shared<const SavePlan>(std::move(plan));
}

}  // namespace

ImageWriter::ImageWriter(const ImageWriterOptions& options) {
  TORCH_CHECK(options.max_pending_bytes() > 0,
              "ImageWriter: max_pending_bytes must be positive, got ", options.max_pending_bytes());
  TORCH_CHECK(options.threads() >= 0, "ImageWriter: threads must be >= 0 (0: the hardware's), got ",
              options.threads());
  WorkQueue::Options q;
  q.name = "ImageWriter";
  q.threads = options.threads() > 0 ? options.threads() : std::max(1, hardware_threads());
  q.max_pending_bytes = options.max_pending_bytes();
  q.background_priority = options.background_priority();
  state_ = std::make_shared<State>(q);
}

ImageWriter::~ImageWriter() {
  if (!state_->queue.in_owner_process()) {
    // A forked child: the threads are not here to join, and destroying a
    // copied condition variable that had waiters hangs. The child keeps the
    // state, unused, until it exits.
    new std::shared_ptr<State>(std::move(state_));
    return;
  }
  state_.reset();  // waits for every job, then joins the workers
}

std::shared_future<void> ImageWriter::save_image(const torch::Tensor& tensor,
                                                 const std::string& path,
                                                 const SaveImageOptions& options) {
  return queue_image(tensor, /*handed_over=*/false, path, options);
}

std::shared_future<void> ImageWriter::save_image(torch::Tensor&& tensor, const std::string& path,
                                                 const SaveImageOptions& options) {
  // The caller's handle moves into queue_image's, so that it does not count
  // as a second owner.
  return queue_image(std::move(tensor), /*handed_over=*/true, path, options);
}

std::shared_future<void> ImageWriter::queue_image(torch::Tensor tensor, bool handed_over,
                                                  const std::string& path,
                                                  const SaveImageOptions& options) {
  const char* what = "ImageWriter::save_image";
  WorkQueue& queue = state_->queue_for(what);
  tensor = apply_layout(tensor, options.layout(), what);
  SavePlan plan = make_plan(options, resolve_format(path, options.format(), what), what);
  check_input(plan, tensor);
  CallOutcome outcome(1);
  auto job = std::make_unique<ImageJob>(job_plan(std::move(plan)), path, snapshot_bytes(tensor),
                                        outcome);
  queue.reserve(job->bytes, 1);
  try {
    take_image(*job, tensor, handed_over, state_->snapshots, queue);
  } catch (...) {
    queue.release(job->bytes, 1);
    throw;
  }
  // Released before the job is queued: a tensor kept without a copy is then
  // freed by the worker, after its reads, not by this thread at some later
  // moment (LibTorch's reference counts give that order, but ThreadSanitizer
  // cannot see them).
  tensor = torch::Tensor();
  std::vector<std::unique_ptr<WorkQueue::Job>> jobs;
  jobs.push_back(std::move(job));
  queue.enqueue_and_report(std::move(jobs));
  return outcome.future();
}

std::shared_future<void> ImageWriter::save_images(const torch::Tensor& batch,
                                                  const std::string& pattern,
                                                  const SaveImageOptions& options,
                                                  int64_t start_index) {
  return queue_images(batch, /*handed_over=*/false, pattern, options, start_index);
}

std::shared_future<void> ImageWriter::save_images(torch::Tensor&& batch, const std::string& pattern,
                                                  const SaveImageOptions& options,
                                                  int64_t start_index) {
  return queue_images(std::move(batch), /*handed_over=*/true, pattern, options, start_index);
}

std::shared_future<void> ImageWriter::queue_images(torch::Tensor batch, bool handed_over,
                                                   const std::string& pattern,
                                                   const SaveImageOptions& options,
                                                   int64_t start_index) {
  const char* what = "ImageWriter::save_images";
  WorkQueue& queue = state_->queue_for(what);
  batch = apply_layout(batch, options.layout(), what);
  TORCH_CHECK(batch.defined() && batch.dim() == 4, what,
              ": expected a 4-D (B, C, H, W) batch, got ",
              batch.defined() ? c10::str(batch.dim(), "-D with shape ", batch.sizes())
                              : std::string("an undefined tensor"));
  std::shared_ptr<const SavePlan> plan;
  {
    Samples s;  // holds a handle only while checking (a second one defeats sole_owner)
    s.batch = batch;
    plan = job_plan(plan_samples(s, pattern, options, start_index, what));
  }
  const int64_t n = batch.size(0);
  const int64_t snapshot = snapshot_bytes(batch);

  // One snapshot for the batch; each sample's job holds it with its index and
  // accounts for its share of the bytes.
  CallOutcome group(n);
  std::vector<std::unique_ptr<WorkQueue::Job>> jobs;
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    jobs.push_back(std::make_unique<ImageJob>(
        plan, format_index_path(pattern, start_index + i, n),
        snapshot / n + (i == n - 1 ? snapshot % n : 0), group));
    total += jobs.back()->bytes;
  }
  queue.reserve(total, n);
  std::shared_ptr<c10::Event> ready;
  at::Tensor copy;
  bool own_copy = false;
  try {
    copy = state_->snapshots.take(batch, handed_over, queue, &ready, &own_copy);
  } catch (...) {
    queue.release(total, n);
    throw;
  }
  batch = torch::Tensor();  // released before queuing, as in queue_image
  // The last job to drop the batch recycles the writer's copy of it.
  Snapshots* snapshots = &state_->snapshots;
  const std::shared_ptr<const at::Tensor> shared_copy(
      new at::Tensor(std::move(copy)), [snapshots, own_copy](const at::Tensor* t) {
        at::Tensor last = *t;
        delete t;
        if (own_copy) snapshots->recycle(std::move(last));
      });
  for (int64_t i = 0; i < n; ++i) {
    static_cast<ImageJob&>(*jobs[static_cast<size_t>(i)]).set_sample(shared_copy, i, ready);
  }
  queue.enqueue_and_report(std::move(jobs));
  return group.future();
}

std::shared_future<void> ImageWriter::save_image(const std::vector<torch::Tensor>& images,
                                                 const std::string& path,
                                                 const SaveImageOptions& options) {
  state_->queue_for("ImageWriter::save_image");
  // The stacked tensor is this call's own: handed over, it is not copied again.
  return queue_image(stack_images(images, "ImageWriter::save_image"), /*handed_over=*/true, path,
                     options);
}

std::shared_future<void> ImageWriter::save_images(const std::vector<torch::Tensor>& input,
                                                  const std::string& pattern,
                                                  const SaveImageOptions& options,
                                                  int64_t start_index) {
  const char* what = "ImageWriter::save_images";
  WorkQueue& queue = state_->queue_for(what);
  const std::vector<torch::Tensor> images = apply_layout(input, options.layout(), what);
  Samples s;
  s.list = &images;
  const std::shared_ptr<const SavePlan> plan =
      job_plan(plan_samples(s, pattern, options, start_index, what));
  const int64_t n = s.size();

  // All the list's bytes at once, as for a batch: reserving image by image
  // could wait for room that only the images not yet queued would free.
  CallOutcome group(n);
  std::vector<std::unique_ptr<WorkQueue::Job>> jobs;
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    jobs.push_back(std::make_unique<ImageJob>(plan, format_index_path(pattern, start_index + i, n),
                                              snapshot_bytes(images[static_cast<size_t>(i)]),
                                              group));
    total += jobs.back()->bytes;
  }
  queue.reserve(total, n);
  try {
    for (int64_t i = 0; i < n; ++i) {
      take_image(static_cast<ImageJob&>(*jobs[static_cast<size_t>(i)]),
                 images[static_cast<size_t>(i)], /*handed_over=*/false, state_->snapshots, queue);
    }
  } catch (...) {
    queue.release(total, n);
    throw;
  }
  queue.enqueue_and_report(std::move(jobs));
  return group.future();
}

void ImageWriter::flush() {
  state_->queue_for("ImageWriter::flush").flush();
}

int64_t ImageWriter::pending() const {
  return state_->queue_for("ImageWriter::pending").in_flight();
}

}  // namespace torchimage
