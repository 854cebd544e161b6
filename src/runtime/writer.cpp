// save_images (a parallel per-sample export) and ImageWriter (a background
// writer with a bounded queue).
#include <torchimage/writer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>

#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#endif

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/Event.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/util/Exception.h>

#include "runtime/chunked_copy.h"
#include "core/cpu_dispatch.h"
#include "io/file_path.h"
#include "grid/grid_shape.h"
#include "core/encode_context.h"
#include "pipeline/plan.h"
#include "runtime/snapshot.h"

namespace torchimage {
namespace {

int resolve_threads(int threads, int64_t jobs) {
  TORCH_CHECK(threads >= 0, "save_images: threads must be >= 0 (0: the hardware's), got ", threads);
  int n = threads > 0 ? threads : hardware_threads();
  n = std::max(1, n);
  return static_cast<int>(std::min<int64_t>(n, std::max<int64_t>(jobs, 1)));
}

std::string message_of(const std::exception& e) {
  if (const auto* c10e = dynamic_cast<const c10::Error*>(&e)) return c10e->what_without_backtrace();
  return e.what();
}

// A failure of the file at `path`, naming the path once: a message of the
// file sink already names it ("cannot write 'p': ...").
std::string failure_of(const std::string& path, const std::string& message) {
  if (message.find("'" + path + "'") != std::string::npos) return message;
  return c10::str("'", path, "': ", message);
}

// Starts up to `count` threads running `body`, as many as the system allows:
// a failure to start one (EAGAIN under a process or memory limit, or no
// memory for its state) is not fatal once one runs; an exception escaping
// here would destroy the started threads unjoined (std::terminate). Returns the threads started; `error` says why the
// first that could not start did not.
std::vector<std::thread> start_threads(int count, const std::function<void()>& body,
                                       std::string* error = nullptr) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i) {
    try {
      threads.emplace_back(body);
    } catch (const std::exception& e) {  // system_error (EAGAIN), or bad_alloc for its state
      if (error != nullptr) *error = e.what();
      break;
    }
  }
  return threads;
}

// "1 image failed: ..." / "3 images failed; first: ..." for a list of failures.
std::string failure_summary(const char* what, const std::vector<std::string>& failures) {
  if (failures.size() == 1) return c10::str(what, ": 1 image failed: ", failures[0]);
  std::string s = c10::str(what, ": ", failures.size(), " images failed: ", failures[0]);
  for (size_t i = 1; i < failures.size() && i < 5; ++i) s += "; " + failures[i];
  if (failures.size() > 5) s += c10::str("; and ", failures.size() - 5, " more");
  return s;
}

// The samples of a save_images call: a 4-D batch or a list of images.
struct Samples {
  at::Tensor batch;                 // defined for a batch
  const std::vector<at::Tensor>* list = nullptr;
  int64_t size() const { return batch.defined() ? batch.size(0) : static_cast<int64_t>(list->size()); }
  at::Tensor operator[](int64_t i) const { return batch.defined() ? batch[i] : (*list)[static_cast<size_t>(i)]; }
};

// Everything that can be checked before the first file is written.
ImageFormat check_samples(const Samples& s, const std::string& pattern,
                          const SaveImageOptions& options, int64_t start_index, const char* what) {
  TORCH_CHECK(s.size() >= 1, what, ": expected at least one image, got none");
  const std::string last = check_index_pattern(pattern, start_index, s.size(), what);
  const ImageFormat format = resolve_format(last, options.format(), what);
  for (int64_t i = 0; i < s.size(); ++i) {
    if (i > 0 && s.batch.defined()) break;  // one shape for a whole batch
    check_save(s[i], format, options, what);
  }
  return format;
}

void run_samples(const Samples& s, const std::string& pattern, const SaveImageOptions& options,
                 int64_t start_index, int threads) {
  const char* what = "save_images";
  const ImageFormat format = check_samples(s, pattern, options, start_index, what);
  const int64_t n = s.size();
  const int workers = resolve_threads(threads, n);
  std::atomic<int64_t> next{0};
  std::mutex mu;
  std::vector<std::pair<int64_t, std::string>> failures;
  auto work = [&] {
    SerialEncodingScope serial;  // the samples already use every worker
    RenderBuffers buffers;
    for (int64_t i; (i = next.fetch_add(1)) < n;) {
      const std::string path = format_index_path(pattern, start_index + i, n);
      try {
        if (s.batch.defined()) {
          write_bytes(path, render_sample(s.batch, i, format, options, what, buffers), options);
        } else {
          write_bytes(path, render(s[i], format, options, what), options);
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        failures.emplace_back(i, failure_of(path, message_of(e)));
      }
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

std::string format_index_path(const std::string& pattern, int64_t index, int64_t count) {
  std::string out;
  bool found = false;
  size_t pos = 0;
  while (pos < pattern.size()) {
    const size_t open = pattern.find("{index", pos);
    if (open == std::string::npos) break;
    const size_t close = pattern.find('}', open);
    TORCH_CHECK(close != std::string::npos, "save_images: unclosed placeholder in pattern '",
                pattern, "'; expected {index} or {index:05}");
    const std::string spec = pattern.substr(open + 6, close - open - 6);
    int width = 0;
    if (!spec.empty()) {
      const bool ok = spec.size() >= 2 && spec.size() <= 4 && spec[0] == ':' &&
                      std::all_of(spec.begin() + 1, spec.end(), ::isdigit);
      TORCH_CHECK(ok, "save_images: bad placeholder '{index", spec, "}' in pattern '", pattern,
                  "'; expected {index} or {index:0N} (e.g. {index:05})");
      width = std::stoi(spec.substr(1));
      TORCH_CHECK(width <= static_cast<int>(kMaxFileName), "save_images: placeholder '{index",
                  spec, "}' in pattern '", pattern, "' pads to ", width,
                  " digits; a file name holds at most ", kMaxFileName, " bytes");
    }
    std::string number = std::to_string(index);
    if (static_cast<int>(number.size()) < width) {
      number.insert(0, static_cast<size_t>(width) - number.size(), '0');
    }
    out.append(pattern, pos, open - pos);
    out += number;
    pos = close + 1;
    found = true;
  }
  out.append(pattern, pos, std::string::npos);
  TORCH_CHECK(found || count <= 1, "save_images: the pattern '", pattern,
              "' has no {index} placeholder, but there are ", count,
              " images (each needs its own path)");
  return out;
}

std::string check_index_pattern(const std::string& pattern, int64_t start_index, int64_t count,
                                const char* what) {
  check_path(pattern, what);
  TORCH_CHECK(start_index >= 0, what, ": start_index must be >= 0, got ", start_index);
  // The last index must not overflow (it would wrap to a negative number).
  TORCH_CHECK(count - 1 <= std::numeric_limits<int64_t>::max() - start_index, what,
              ": start_index ", start_index, " with ", count,
              " images passes the largest index, ", std::numeric_limits<int64_t>::max());
  // The longest path is the last one's; its file name must be one a file
  // system can hold, or every file would fail the same way.
  const std::string last = format_index_path(pattern, start_index + (count - 1), count);
  const size_t slash = last.find_last_of('/');
  const size_t name_size = last.size() - (slash == std::string::npos ? 0 : slash + 1);
  TORCH_CHECK(name_size <= kMaxFileName, what, ": the pattern '", pattern, "' makes file names of ",
              name_size, " bytes, longer than the ", kMaxFileName,
              " a file system allows (check the {index:0N} width)");
  return last;
}

void save_images(const torch::Tensor& batch, const std::string& pattern,
                 const SaveImageOptions& options, int64_t start_index, int threads) {
  TORCH_CHECK(batch.defined(), "save_images: expected a tensor, got an undefined one");
  TORCH_CHECK(batch.dim() == 4, "save_images: expected a 4-D (B, C, H, W) batch, got ",
              batch.dim(), "-D with shape ", batch.sizes(),
              " (for a single image use save_image)");
  Samples s;
  s.batch = batch.detach();
  run_samples(s, pattern, options, start_index, threads);
}

void save_images(const std::vector<torch::Tensor>& images, const std::string& pattern,
                 const SaveImageOptions& options, int64_t start_index, int threads) {
  Samples s;
  s.list = &images;
  run_samples(s, pattern, options, start_index, threads);
}

// ---------------------------------------------------------------------------
// ImageWriter

namespace {

struct Job {
  at::Tensor snapshot;  // a single image's
  // A batch's samples share one snapshot: each job holds the batch and its
  // index, and takes the sample view only while rendering. The last job to
  // finish frees the batch, after every other job has released it through
  // this shared_ptr, whose reference count is compiled here (and so visible
  // to ThreadSanitizer); a view per job would be released through LibTorch's
  // uninstrumented counts, which TSan cannot see order the free after the
  // other workers' reads.
  std::shared_ptr<const at::Tensor> batch;
  int64_t index = 0;
  std::string path;
  SaveImageOptions options;
  ImageFormat format;
  int64_t bytes = 0;
  std::shared_ptr<c10::Event> ready;  // a device snapshot's copy, when not on the CPU
  std::function<void(std::exception_ptr)> done;
  bool recycle = false;  // `snapshot` is the writer's copy: its memory may be reused
};

// The one future of a call, whatever number of jobs it queues: ready when
// all are done, failed with the first failure among them.
struct CallOutcome {
  struct Shared {
    std::mutex mu;
    int64_t left;
    std::exception_ptr first;
    std::promise<void> promise;
  };
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::shared_future<void> future;

  explicit CallOutcome(int64_t jobs) : future(shared->promise.get_future().share()) {
    shared->left = jobs;
  }

  // A job's `done`.
  std::function<void(std::exception_ptr)> callback() const {
    return [g = shared](std::exception_ptr e) {
      std::lock_guard<std::mutex> lock(g->mu);
      if (e && !g->first) g->first = e;
      if (--g->left == 0) {
        if (g->first) g->promise.set_exception(g->first);
        else g->promise.set_value();
      }
    };
  }

  // A job of this call: the file, how to write it, the bytes it holds of the
  // writer's bound, and this outcome to report to. Its image is set after.
  std::unique_ptr<Job> job(std::string path, const SaveImageOptions& options,
                           ImageFormat format, int64_t bytes) const {
    auto j = std::make_unique<Job>();
    j->path = std::move(path);
    j->options = options;
    j->format = format;
    j->bytes = bytes;
    j->done = callback();
    return j;
  }
};

}  // namespace

namespace {

// Lowers the calling thread's scheduling priority (best effort: neither call
// needs privileges, and failure only means normal priority).
void become_background_thread() {
#if defined(__linux__)
  sched_param param{};
  param.sched_priority = 0;
  (void)sched_setscheduler(0, SCHED_BATCH, &param);  // this thread, on Linux
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
#endif
}

}  // namespace

namespace {

int64_t tensor_bytes(const at::Tensor& t) {
  return t.numel() * static_cast<int64_t>(t.element_size());
}

// Counted for tests (snapshot.h).
std::atomic<int64_t> g_snapshot_copies{0};
std::atomic<int64_t> g_snapshot_reuses{0};
}  // namespace

struct ImageWriter::State {
  // The process whose threads these are. A forked child has a copy of this
  // state but none of the threads, and its mutexes and condition variables
  // may be copies of locked or waited-on ones: there, every call refuses
  // and the destructor leaves the state alone (see check_process).
  const pid_t owner = ::getpid();
  std::mutex mu;
  std::condition_variable work_ready;  // a job was queued, or stop
  std::condition_variable changed;     // a job finished (room, idle)
  std::deque<std::unique_ptr<Job>> queue;
  int64_t pending_bytes = 0;
  int64_t in_flight = 0;  // queued or running
  int64_t max_pending_bytes = 0;
  bool stop = false;
  std::vector<std::string> unreported;  // failures not yet thrown
  std::vector<std::thread> workers;
  // A snapshot copy a caller is waiting on, which idle workers help with
  // (before any queued job: the caller is stalled on it); `copy_number`
  // counts them, so that a worker helps each at most once.
  std::shared_ptr<ChunkedCopy> copy;
  uint64_t copy_number = 0;
  // Large snapshot copies that were written, kept for the next copy of the
  // same shape and type (newest last): a writer called every training step
  // with the same sheet copies into the same tensor, without the two ATen
  // calls that make one (about 35 us of the caller's stall here: the first
  // operator calls after a training step run with cold caches).
  std::vector<at::Tensor> spare;
  static constexpr size_t kMaxSpare = 2;
  static constexpr size_t kShareCopyFrom = size_t{512} << 10;
  std::atomic<uint64_t> enqueued{0};  // calls to enqueue

  void worker_loop() {
    SerialEncodingScope serial;  // the writer's threads are the parallelism
    RenderBuffers buffers;       // reused across this worker's batch samples
    uint64_t helped = 0;         // the last copy this worker took part in
    for (;;) {
      std::unique_ptr<Job> job;
      std::shared_ptr<ChunkedCopy> help;
      {
        std::unique_lock<std::mutex> lock(mu);
        work_ready.wait(lock, [&] {
          return stop || !queue.empty() || (copy && copy_number != helped);
        });
        if (copy && copy_number != helped) {
          help = copy;
          helped = copy_number;
        } else {
          if (queue.empty()) return;  // stop, and nothing left
          job = std::move(queue.front());
          queue.pop_front();
        }
      }
      if (help) {
        // The caller queues its job as soon as the copy is done: wait for it
        // awake a moment, so that queuing it wakes no one up (a futex wake and
        // an interrupt to this core, 10-15 us of the caller's stall on a VM).
        const uint64_t seen = enqueued.load(std::memory_order_relaxed);
        help->run();
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
        while (enqueued.load(std::memory_order_relaxed) == seen &&
               std::chrono::steady_clock::now() < give_up) {
          cpu_relax();
        }
        continue;
      }
      std::exception_ptr error;
      try {
        if (job->ready) {
          while (!job->ready->query()) std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        if (job->batch) {
          write_bytes(job->path,
                      render_sample(*job->batch, job->index, job->format, job->options,
                                    "ImageWriter", buffers),
                      job->options);
        } else {
          write_bytes(job->path, render(job->snapshot, job->format, job->options, "ImageWriter"),
                      job->options);
        }
      } catch (const std::exception& e) {
        error = std::current_exception();
        std::lock_guard<std::mutex> lock(mu);
        unreported.push_back(failure_of(job->path, message_of(e)));
      } catch (...) {
        error = std::current_exception();
        std::lock_guard<std::mutex> lock(mu);
        unreported.push_back(c10::str("'", job->path, "': unknown error"));
      }
      buffers.trim();
      const int64_t bytes = job->bytes;
      auto done = std::move(job->done);
      if (job->recycle) recycle(std::move(job->snapshot));
      job.reset();  // free the snapshot before making room
      if (done) done(error);
      {
        std::lock_guard<std::mutex> lock(mu);
        pending_bytes -= bytes;
        --in_flight;
      }
      changed.notify_all();
    }
  }

  // A contiguous CPU copy of a contiguous CPU tensor, made by the calling
  // thread and whichever workers are idle, a chunk each at a time.
  at::Tensor copy_contiguous(const at::Tensor& t) {
    const size_t size = static_cast<size_t>(tensor_bytes(t));
    at::Tensor out = size >= kShareCopyFrom ? take_spare(t) : at::Tensor();
    if (!out.defined()) {
      out = at::empty(t.sizes(), t.options().memory_format(at::MemoryFormat::Contiguous));
    }
    // Alone where help cannot come sooner than the copy is done: under
    // 512 KiB (about 70 us here, the time a sleeping worker takes to wake
    // up), or on one core (the workers, at background priority, would run
    // only when this thread waits for them).
    if (size < kShareCopyFrom || hardware_threads() < 2) {
      copy_bytes(out.data_ptr(), t.data_ptr(), size);
      return out;
    }
    auto task = std::make_shared<ChunkedCopy>(t.data_ptr(), out.data_ptr(), size);
    {
      std::lock_guard<std::mutex> lock(mu);
      copy = task;
      ++copy_number;
    }
    work_ready.notify_all();
    task->run();
    task->wait();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (copy == task) copy.reset();
    }
    return out;
  }

  // A spare contiguous tensor of t's shape and type, or an undefined one.
  at::Tensor take_spare(const at::Tensor& t) {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = spare.size(); i-- > 0;) {
      if (spare[i].scalar_type() == t.scalar_type() && spare[i].sizes().equals(t.sizes())) {
        at::Tensor out = std::move(spare[i]);
        g_snapshot_reuses.fetch_add(1, std::memory_order_relaxed);
        spare.erase(spare.begin() + static_cast<std::ptrdiff_t>(i));
        return out;
      }
    }
    return at::Tensor();
  }

  // Keeps a written snapshot (the writer's own copy) for take_spare, where
  // nothing else holds it and it is large enough to be worth keeping. Called
  // by the thread that dropped the last job reading it.
  void recycle(at::Tensor snapshot) {
    if (!snapshot.defined() || !snapshot.is_contiguous() ||
        static_cast<size_t>(tensor_bytes(snapshot)) < kShareCopyFrom ||
        !sole_owner(snapshot)) {
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    if (spare.size() == kMaxSpare) spare.erase(spare.begin());
    spare.push_back(std::move(snapshot));
  }

  // A copy the caller may not touch: the tensor itself when it was handed
  // over and nothing else reaches its memory, else a CPU copy (shared with
  // idle workers where the tensor is contiguous), or a device clone enqueued
  // on the current stream plus an event the worker waits on.
  // `own_copy` says whether it is a copy (which no one else has seen).
  at::Tensor snapshot(const at::Tensor& t, bool handed_over, std::shared_ptr<c10::Event>* ready,
                      bool* own_copy);

  // Blocks until `bytes` fit (or nothing else is pending), then reserves them.
  void reserve(int64_t bytes, int64_t jobs) {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return in_flight == 0 || pending_bytes + bytes <= max_pending_bytes; });
    pending_bytes += bytes;
    in_flight += jobs;
  }

  void release(int64_t bytes, int64_t jobs) {
    {
      std::lock_guard<std::mutex> lock(mu);
      pending_bytes -= bytes;
      in_flight -= jobs;
    }
    changed.notify_all();
  }

  void enqueue(std::vector<std::unique_ptr<Job>> jobs) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& j : jobs) queue.push_back(std::move(j));
    }
    enqueued.fetch_add(1, std::memory_order_relaxed);
    work_ready.notify_all();
  }

  // The failures not yet reported; each is taken once.
  std::vector<std::string> take_unreported() {
    std::vector<std::string> failures;
    std::lock_guard<std::mutex> lock(mu);
    failures.swap(unreported);
    return failures;
  }

  static void throw_failures(const std::vector<std::string>& failures) {
    TORCH_CHECK(failures.empty(), failure_summary("ImageWriter", failures));
  }

  void throw_unreported() { throw_failures(take_unreported()); }

  // Queues `jobs`, then throws the failures of earlier jobs. They are taken
  // before the new jobs are queued, so that a call never throws its own
  // job's failure (a worker may fail it at once): that one goes to the job's
  // future and to the next call or flush(), as documented.
  void enqueue_and_report(std::vector<std::unique_ptr<Job>> jobs) {
    const std::vector<std::string> earlier = take_unreported();
    enqueue(std::move(jobs));
    throw_failures(earlier);
  }

  void wait_idle() {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return in_flight == 0; });
  }

  bool in_owner_process() const { return ::getpid() == owner; }

  void check_process(const char* what) const {
    TORCH_CHECK(in_owner_process(), what, ": this ImageWriter was created in process ", owner,
                " and this is a forked child (pid ", ::getpid(),
                "), where its worker threads do not exist; create a new ImageWriter in the child");
  }
};

bool sole_owner(const at::Tensor& t) {
  if (!t.defined() || !t.device().is_cpu() || !t.has_storage()) return false;
  const c10::Storage& storage = t.storage();
  // One handle to the TensorImpl, no weak ones (weak_use_count counts the
  // strong ones as 1), one TensorImpl on the storage (views, detach() and
  // autograd's saved outputs all hold the storage), and memory that LibTorch
  // allocated (not from_blob over someone else's buffer, not shared memory).
  return t.use_count() == 1 && t.weak_use_count() == 1 && storage.use_count() == 1 &&
         storage.allocator() == c10::GetCPUAllocator();
}

int64_t snapshot_copies() { return g_snapshot_copies.load(); }
int64_t snapshot_reuses() { return g_snapshot_reuses.load(); }

at::Tensor ImageWriter::State::snapshot(const at::Tensor& t, bool handed_over,
                                        std::shared_ptr<c10::Event>* ready, bool* own_copy) {
  at::NoGradGuard no_grad;
  *own_copy = false;
  if (handed_over && sole_owner(t)) return t.detach();  // detach: drop any graph
  g_snapshot_copies.fetch_add(1, std::memory_order_relaxed);
  *own_copy = true;
  if (t.device().is_cpu() && t.layout() == at::kStrided && t.is_contiguous() && !t.is_neg() &&
      !t.is_conj()) {
    return copy_contiguous(t);
  }
  at::Tensor copy = t.detach().clone(at::MemoryFormat::Contiguous);
  if (!copy.device().is_cpu()) {
    const auto type = copy.device().type();
    auto event = std::make_shared<c10::Event>(type);
    const auto* impl = c10::impl::getDeviceGuardImpl(type);
    event->record(impl->getStream(copy.device()));
    *ready = std::move(event);
  }
  return copy;
}

ImageWriter::ImageWriter(const ImageWriterOptions& options) : state_(std::make_shared<State>()) {
  TORCH_CHECK(options.max_pending_bytes() > 0,
              "ImageWriter: max_pending_bytes must be positive, got ", options.max_pending_bytes());
  TORCH_CHECK(options.threads() >= 0, "ImageWriter: threads must be >= 0 (0: the hardware's), got ",
              options.threads());
  state_->max_pending_bytes = options.max_pending_bytes();
  const int n = options.threads() > 0
                    ? options.threads()
                    : std::max(1, hardware_threads());
  State* s = state_.get();
  const bool background = options.background_priority();
  // As many workers as the system lets start (a process or memory limit may
  // refuse some): the writer works with fewer, and says so once.
  std::string not_started;
  state_->workers = start_threads(
      n,
      [s, background] {
        if (background) become_background_thread();
        s->worker_loop();
      },
      &not_started);
  const size_t started = state_->workers.size();
  TORCH_CHECK(started > 0, "ImageWriter: cannot start a worker thread: ", not_started);
  if (started < static_cast<size_t>(n)) {
    TORCH_WARN("ImageWriter: started ", started, " of ", n, " worker threads (", not_started,
               "); writing with ", started);
  }
}

ImageWriter::~ImageWriter() {
  if (!state_->in_owner_process()) {
    // A forked child: the threads are not here to join, and destroying a
    // copied condition variable that had waiters hangs. The child keeps the
    // state, unused, until it exits.
    new std::shared_ptr<State>(std::move(state_));
    return;
  }
  state_->wait_idle();
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->work_ready.notify_all();
  for (auto& t : state_->workers) t.join();
  // A destructor cannot throw: failures nobody collected go to stderr.
  if (!state_->unreported.empty()) {
    std::fprintf(stderr, "torchimage: %s\n",
                 failure_summary("ImageWriter (at destruction)", state_->unreported).c_str());
  }
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
  state_->check_process("ImageWriter::save_image");
  const ImageFormat format = resolve_format(path, options.format(), "ImageWriter::save_image");
  check_save(tensor, format, options, "ImageWriter::save_image");
  CallOutcome outcome(1);
  auto job = outcome.job(path, options, format, tensor_bytes(tensor));
  state_->reserve(job->bytes, 1);
  try {
    job->snapshot = state_->snapshot(tensor, handed_over, &job->ready, &job->recycle);
  } catch (...) {
    state_->release(job->bytes, 1);
    throw;
  }
  // Released before the job is queued: a tensor kept without a copy is then
  // freed by the worker, after its reads, not by this thread at some later
  // moment (LibTorch's reference counts give that order, but ThreadSanitizer
  // cannot see them).
  tensor = torch::Tensor();
  std::vector<std::unique_ptr<Job>> jobs;
  jobs.push_back(std::move(job));
  state_->enqueue_and_report(std::move(jobs));
  return outcome.future;
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
  state_->check_process(what);
  TORCH_CHECK(batch.defined() && batch.dim() == 4, what,
              ": expected a 4-D (B, C, H, W) batch, got ",
              batch.defined() ? c10::str(batch.dim(), "-D with shape ", batch.sizes())
                              : std::string("an undefined tensor"));
  ImageFormat format;
  {
    Samples s;  // holds a handle only while checking (a second one defeats sole_owner)
    s.batch = batch;
    format = check_samples(s, pattern, options, start_index, what);
  }
  const int64_t n = batch.size(0);
  const int64_t total = tensor_bytes(batch);

  // One snapshot for the batch; each sample's job holds a view of it and
  // accounts for its share of the bytes.
  CallOutcome group(n);
  state_->reserve(total, n);
  std::shared_ptr<c10::Event> ready;
  at::Tensor copy;
  bool own_copy = false;
  try {
    copy = state_->snapshot(batch, handed_over, &ready, &own_copy);
  } catch (...) {
    state_->release(total, n);
    throw;
  }
  batch = torch::Tensor();  // released before queuing, as in queue_image
  // The last job to drop the batch recycles the writer's copy of it.
  State* state = state_.get();
  const std::shared_ptr<const at::Tensor> shared_copy(
      new at::Tensor(std::move(copy)), [state, own_copy](const at::Tensor* t) {
        at::Tensor last = *t;
        delete t;
        if (own_copy) state->recycle(std::move(last));
      });
  std::vector<std::unique_ptr<Job>> jobs;
  for (int64_t i = 0; i < n; ++i) {
    auto job = group.job(format_index_path(pattern, start_index + i, n), options, format,
                         total / n + (i == n - 1 ? total % n : 0));
    job->batch = shared_copy;
    job->index = i;
    job->ready = ready;
    jobs.push_back(std::move(job));
  }
  state_->enqueue_and_report(std::move(jobs));
  return group.future;
}

std::shared_future<void> ImageWriter::save_image(const std::vector<torch::Tensor>& images,
                                                 const std::string& path,
                                                 const SaveImageOptions& options) {
  state_->check_process("ImageWriter::save_image");
  // The stacked tensor is this call's own: handed over, it is not copied again.
  return queue_image(stack_images(images, "ImageWriter::save_image"), /*handed_over=*/true, path,
                     options);
}

std::shared_future<void> ImageWriter::save_images(const std::vector<torch::Tensor>& images,
                                                  const std::string& pattern,
                                                  const SaveImageOptions& options,
                                                  int64_t start_index) {
  const char* what = "ImageWriter::save_images";
  state_->check_process(what);
  Samples s;
  s.list = &images;
  const ImageFormat format = check_samples(s, pattern, options, start_index, what);
  const int64_t n = s.size();
  int64_t total = 0;
  for (const auto& t : images) total += tensor_bytes(t);

  // All the list's bytes at once, as for a batch: reserving image by image
  // could wait for room that only the images not yet queued would free.
  CallOutcome group(n);
  state_->reserve(total, n);
  std::vector<std::unique_ptr<Job>> jobs;
  try {
    for (int64_t i = 0; i < n; ++i) {
      auto job = group.job(format_index_path(pattern, start_index + i, n), options, format,
                           tensor_bytes(images[static_cast<size_t>(i)]));
      job->snapshot = state_->snapshot(images[static_cast<size_t>(i)], /*handed_over=*/false,
                                       &job->ready, &job->recycle);
      jobs.push_back(std::move(job));
    }
  } catch (...) {
    state_->release(total, n);
    throw;
  }
  state_->enqueue_and_report(std::move(jobs));
  return group.future;
}

void ImageWriter::flush() {
  state_->check_process("ImageWriter::flush");
  state_->wait_idle();
  state_->throw_unreported();
}

int64_t ImageWriter::pending() const {
  state_->check_process("ImageWriter::pending");
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->in_flight;
}

}  // namespace torchimage
