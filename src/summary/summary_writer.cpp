// SummaryWriter: TensorBoard event files written in the background.
//
// Each call checks its arguments, takes a number (its place in the file) and
// queues one job on the writer's own WorkQueue ("SummaryWriter"): a scalar's
// or a text's record is encoded by the caller (a hundred bytes); an image is
// snapshotted as ImageWriter snapshots it (Snapshots::take) and rendered by a
// worker with the call's SavePlan; a histogram is snapshotted and counted by
// a worker. The queue's jobs finish in any order, so a finished record goes
// into a reorder buffer, and whichever thread finds the next number there
// appends every record that is then in order, as one batch, while the
// others go on: the file holds the records in call order, scalars included.
#include <torchimage/summary_writer.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include <fcntl.h>

#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/util/Exception.h>

#include "core/cpu_dispatch.h"
#include "core/encode_context.h"
#include "core/prepare.h"
#include "grid/grid_shape.h"
#include "io/append_file.h"
#include "pipeline/plan.h"
#include "runtime/failures.h"
#include "runtime/snapshot.h"
#include "runtime/work_queue.h"
#include "summary/event.h"
#include "summary/histogram.h"

namespace torchimage {
namespace fs = std::filesystem;

namespace {

std::string os_error(int err) { return std::error_code(err, std::generic_category()).message(); }

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Where a UTF-8 string is malformed (an offset), or npos.
size_t invalid_utf8_at(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

// A tag TensorBoard can file: a non-empty UTF-8 string (protobuf's string
// fields must be UTF-8: one malformed tag would make the reader refuse the
// whole file).
void check_tag(const std::string& tag, const char* what) {
  TORCH_CHECK(!tag.empty(), what, ": expected a non-empty tag, got ''");
  const size_t bad = invalid_utf8_at(tag);
  TORCH_CHECK(bad == std::string::npos, what, ": the tag must be UTF-8; byte ", bad,
              " of the tag is not (", tag.size(), " bytes)");
}

void check_step(int64_t step, const char* what) {
  TORCH_CHECK(step >= 0, what, ": expected a step >= 0, got ", step);
}

// A double as the float32 that simple_value holds, rounded to nearest as
// IEEE conversion (and numpy's float32) does: past the largest float it is
// infinite, as in numpy, without the undefined behaviour of a C++ cast of an
// out-of-range value. NaN stays NaN.
float to_float32(double v) {
  const double max = static_cast<double>(std::numeric_limits<float>::max());
  if (std::fabs(v) <= max || std::isnan(v)) return static_cast<float>(v);
  // Below max + half its ulp (2^103) rounds down to max; from there, to infinity.
  const double halfway = max + std::ldexp(1.0, 103);
  const float out = std::fabs(v) < halfway ? std::numeric_limits<float>::max()
                                           : std::numeric_limits<float>::infinity();
  return v < 0 ? -out : out;
}

double wall_time_of(std::optional<double> walltime, const char* what) {
  if (!walltime) return now_seconds();
  TORCH_CHECK(std::isfinite(*walltime) && *walltime >= 0, what,
              ": expected a walltime of seconds since the epoch (finite, >= 0), got ", *walltime);
  return *walltime;
}

// Jobs' overhead in max_pending_bytes (as ImageWriter counts its own).
constexpr int64_t kJobOverhead = 256;

// Event files of this process get consecutive numbers (the file name's last
// part), so that two writers made in the same second have distinct files.
std::atomic<uint64_t> g_file_number{0};

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  TORCH_CHECK(fd >= 0, "SummaryWriter: cannot open the folder '", dir, "' to sync it: ",
              os_error(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  TORCH_CHECK(rc == 0, "SummaryWriter: cannot sync the folder '", dir, "': ", os_error(err));
}

// The event file with its reorder buffer: records are numbered in call order
// and appended strictly in that order.
class EventSink {
 public:
  EventSink(std::unique_ptr<AppendFile> file, const SummaryWriterOptions& options)
      : file_(std::move(file)), options_(options), last_sync_ns_(now_ns()) {}

  // The next call's number.
  uint64_t take_number() { return next_number_.fetch_add(1); }

  // Files record `number` (or its absence) and appends whatever is then in
  // order, unless another thread is appending (which then takes it too), as
  // one batch. Returns this thread's append failures (empty: none).
  std::string post(uint64_t number, std::optional<Record> record) {
    std::unique_lock<std::mutex> lock(mu_);
    finished_.emplace(number, std::move(record));
    if (appending_) return std::string();
    appending_ = true;
    std::string failure;
    for (;;) {
      std::vector<Record> batch;
      while (!finished_.empty() && finished_.begin()->first == next_append_) {
        auto node = finished_.extract(finished_.begin());
        if (node.mapped()) batch.push_back(std::move(*node.mapped()));
        ++next_append_;
      }
      if (batch.empty()) break;
      lock.unlock();
      try {
        append(batch);
      } catch (const std::exception& e) {
        const std::string m = c10::str(message_of(e), " (", batch.size(),
                                       batch.size() == 1 ? " record" : " records", " lost)");
        failure = failure.empty() ? m : failure + "; " + m;
      }
      batch.clear();  // the records' memory is freed outside the lock
      lock.lock();
    }
    appending_ = false;
    return failure;
  }

  // fsync (flush(): after the queue is empty, so no append is under way).
  void sync() {
    file_->sync();
    last_sync_ns_.store(now_ns());
  }

  const AppendFile& file() const { return *file_; }

 private:
  // By the appending thread only (appending_ set).
  void append(const std::vector<Record>& batch) {
    std::vector<AppendFile::Piece> pieces;
    pieces.reserve(batch.size());
    for (const Record& r : batch) pieces.push_back({r.data(), r.size()});
    file_->append(pieces);
    if (options_.durable()) {
      const int64_t now = now_ns();
      if (static_cast<double>(now - last_sync_ns_.load()) * 1e-9 >= options_.flush_every()) {
        file_->sync();
        last_sync_ns_.store(now);
      }
    }
  }

  const std::unique_ptr<AppendFile> file_;
  const SummaryWriterOptions options_;
  std::atomic<uint64_t> next_number_{0};
  std::mutex mu_;
  uint64_t next_append_ = 0;                            // guarded by mu_
  std::map<uint64_t, std::optional<Record>> finished_;  // guarded by mu_; nullopt: no record
  bool appending_ = false;                              // guarded by mu_
  // When the file was last synced (steady clock; an appending thread and
  // flush() may both sync).
  std::atomic<int64_t> last_sync_ns_;

  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

struct SummaryWriter::State {
  // Declared first, destroyed last: jobs give their snapshots back to it.
  Snapshots snapshots;
  std::string log_dir;
  SummaryWriterOptions options;
  std::unique_ptr<EventSink> sink;
  // Declared last, destroyed first: its destructor waits for the jobs, which
  // post into the sink.
  std::unique_ptr<WorkQueue> queue;

  WorkQueue& queue_for(const char* what) {
    queue->check_process(what);
    return *queue;
  }
};

namespace {

// One call's job: its record, made by run() (an image or a histogram) or
// before (a scalar, a text), then posted under the call's number.
class SummaryJob final : public WorkQueue::Job {
 public:
  enum class Kind { kReady, kImage, kHistogram };

  SummaryJob(Kind kind, std::string tag, int64_t step, double wall)
      : kind_(kind), tag_(std::move(tag)), step_(step), wall_(wall) {
    bytes = kJobOverhead + static_cast<int64_t>(tag_.size());
  }

  ~SummaryJob() override {
    if (recycle_into_ != nullptr) recycle_into_->recycle(std::move(snapshot_));
  }

  void set_record(Record r) { record_ = std::move(r); }
  void set_image(std::shared_ptr<const SavePlan> plan, const GridShape& shape) {
    plan_ = std::move(plan);
    shape_ = shape;
  }
  void take(const at::Tensor& t, bool handed_over, Snapshots& snapshots, WorkQueue& helpers) {
    bool own_copy = false;
    snapshot_ = snapshots.take(t, handed_over, helpers, &ready_, &own_copy);
    if (own_copy) recycle_into_ = &snapshots;
  }
  void set_number(EventSink* sink, uint64_t number) {
    sink_ = sink;
    number_ = number;
  }

  // Makes the record and posts it: a failed rendering leaves its number
  // empty (the records after it still go). The job's failure names the tag
  // and step for the rendering, the file for an append this thread made.
  void run() override {
    std::optional<Record> record;
    std::string failure;
    try {
      record = make();
    } catch (const std::exception& e) {
      failure = c10::str("tag '", tag_, "' at step ", step_, ": ", message_of(e));
    } catch (...) {
      failure = c10::str("tag '", tag_, "' at step ", step_, ": unknown error");
    }
    const std::string append_failure = sink_->post(number_, std::move(record));
    if (!append_failure.empty()) failure += (failure.empty() ? "" : "; ") + append_failure;
    TORCH_CHECK(failure.empty(), failure);
  }

 private:
  Record make() {
    if (kind_ == Kind::kReady) return std::move(*record_);
    if (ready_) {
      while (!ready_->query()) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    if (kind_ == Kind::kHistogram) {
      const Histogram h =
          make_histogram(snapshot_, default_histogram_bins(), "SummaryWriter::add_histogram");
      return histogram_record(tag_, h, step_, wall_);
    }
    SerialEncodingScope serial;  // the writer's threads are the parallelism
    const Bytes encoded = render(*plan_, snapshot_);
    return image_record(tag_, encoded.data(), encoded.size(), shape_.height, shape_.width,
                        shape_.channels, step_, wall_);
  }

  Kind kind_;
  std::string tag_;
  int64_t step_;
  double wall_;
  std::optional<Record> record_;
  std::shared_ptr<const SavePlan> plan_;
  GridShape shape_;
  at::Tensor snapshot_;
  std::shared_ptr<c10::Event> ready_;
  Snapshots* recycle_into_ = nullptr;
  EventSink* sink_ = nullptr;
  uint64_t number_ = 0;
};

// Numbers the job and queues it: the number is taken last, when nothing
// before the queueing can fail, so that no number is ever left without its
// record (the records after it would wait for it forever).
void queue_job(EventSink& sink, WorkQueue& queue, std::unique_ptr<SummaryJob> job) {
  job->set_number(&sink, sink.take_number());
  std::vector<std::unique_ptr<WorkQueue::Job>> jobs;
  jobs.push_back(std::move(job));
  queue.enqueue_and_report(std::move(jobs));
}

}  // namespace

SummaryWriter::SummaryWriter(const std::string& log_dir, const SummaryWriterOptions& options) {
  const char* what = "SummaryWriter";
  TORCH_CHECK(options.max_pending_bytes() > 0, what, ": max_pending_bytes must be positive, got ",
              options.max_pending_bytes());
  TORCH_CHECK(options.threads() >= 0, what, ": threads must be >= 0 (0: the hardware's), got ",
              options.threads());
  TORCH_CHECK(std::isfinite(options.flush_every()) && options.flush_every() >= 0, what,
              ": flush_every must be a number of seconds >= 0, got ", options.flush_every());
  TORCH_CHECK(!log_dir.empty(), what, ": expected a log_dir, got ''");
  TORCH_CHECK(log_dir.find('\0') == std::string::npos, what,
              ": the log_dir holds a NUL byte");
  auto state = std::make_shared<State>();
  state->log_dir = log_dir;
  state->options = options;
  std::error_code ec;
  fs::create_directories(log_dir, ec);
  TORCH_CHECK(!ec, what, ": cannot create the folder '", log_dir, "': ", ec.message());
  TORCH_CHECK(fs::is_directory(log_dir, ec), what, ": '", log_dir, "' is not a folder");

  // events.out.tfevents.<seconds>.<hostname>.<pid>.<n>, as torch.utils.tensorboard names it.
  const double wall = now_seconds();
  std::unique_ptr<AppendFile> file;
  for (int attempt = 0; !file; ++attempt) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%010lld", static_cast<long long>(wall));
    const std::string name = c10::str("events.out.tfevents.", seconds, ".", host_name(), ".",
                                      ::getpid(), ".", g_file_number.fetch_add(1));
    int err = 0;
    file = AppendFile::create((fs::path(log_dir) / name).string(), &err);
    TORCH_CHECK(file || (err == EEXIST && attempt < 1000), what, ": cannot create '",
                (fs::path(log_dir) / name).string(), "': ", os_error(err));
  }
  // The version record first, written now: the file is a valid event file
  // from the moment the constructor returns.
  const Record version = version_record(wall);
  file->append({{version.data(), version.size()}});
  if (options.durable()) {
    file->sync();
    sync_directory(log_dir);
  }
  state->sink = std::make_unique<EventSink>(std::move(file), options);

  WorkQueue::Options q;
  q.name = what;
  q.unit = "event";
  q.threads = options.threads() > 0 ? options.threads() : std::max(1, hardware_threads());
  q.max_pending_bytes = options.max_pending_bytes();
  q.background_priority = options.background_priority();
  state->queue = std::make_unique<WorkQueue>(q);
  state_ = std::move(state);
}

SummaryWriter::~SummaryWriter() {
  if (!state_->queue->in_owner_process()) {
    // A forked child: as ImageWriter, it keeps the state, unused.
    new std::shared_ptr<State>(std::move(state_));
    return;
  }
  try {
    flush();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s (at destruction)\n", message_of(e).c_str());
  }
  state_.reset();
}

void SummaryWriter::add_scalar(const std::string& tag, double value, int64_t step,
                               std::optional<double> walltime) {
  const char* what = "SummaryWriter::add_scalar";
  WorkQueue& queue = state_->queue_for(what);
  check_tag(tag, what);
  check_step(step, what);
  const double wall = wall_time_of(walltime, what);
  auto job = std::make_unique<SummaryJob>(SummaryJob::Kind::kReady, tag, step, wall);
  job->set_record(scalar_record(tag, to_float32(value), step, wall));
  queue.reserve(job->bytes, 1);
  queue_job(*state_->sink, queue, std::move(job));
}

void SummaryWriter::add_text(const std::string& tag, const std::string& text, int64_t step,
                             std::optional<double> walltime) {
  const char* what = "SummaryWriter::add_text";
  WorkQueue& queue = state_->queue_for(what);
  check_tag(tag, what);
  check_step(step, what);
  const size_t bad = invalid_utf8_at(text);
  TORCH_CHECK(bad == std::string::npos, what, ": the text must be UTF-8; byte ", bad,
              " of it is not (", text.size(), " bytes)");
  const double wall = wall_time_of(walltime, what);
  const std::string full_tag = tag + "/text_summary";
  auto job = std::make_unique<SummaryJob>(SummaryJob::Kind::kReady, full_tag, step, wall);
  job->bytes += static_cast<int64_t>(text.size());
  job->set_record(text_record(full_tag, text, step, wall));
  queue.reserve(job->bytes, 1);
  queue_job(*state_->sink, queue, std::move(job));
}

void SummaryWriter::add_histogram(const std::string& tag, const torch::Tensor& values,
                                  int64_t step, std::optional<double> walltime) {
  const char* what = "SummaryWriter::add_histogram";
  WorkQueue& queue = state_->queue_for(what);
  check_tag(tag, what);
  check_step(step, what);
  TORCH_CHECK(values.defined(), what, ": expected a tensor of values, got an undefined tensor");
  check_tensor_kind(values, what);
  TORCH_CHECK(!values.is_complex(), what, ": expected real values, got ", values.scalar_type());
  TORCH_CHECK(values.numel() > 0, what, ": expected at least one value, got shape ",
              values.sizes());
  const double wall = wall_time_of(walltime, what);
  auto job = std::make_unique<SummaryJob>(SummaryJob::Kind::kHistogram, tag, step, wall);
  job->bytes += snapshot_bytes(values);
  queue.reserve(job->bytes, 1);
  try {
    job->take(values, /*handed_over=*/false, state_->snapshots, queue);
  } catch (...) {
    queue.release(job->bytes, 1);
    throw;
  }
  queue_job(*state_->sink, queue, std::move(job));
}

void SummaryWriter::add_image(const std::string& tag, const torch::Tensor& tensor, int64_t step,
                              const SaveImageOptions& options, std::optional<double> walltime) {
  queue_image(tag, tensor, /*handed_over=*/false, step, options, walltime);
}

void SummaryWriter::add_image(const std::string& tag, torch::Tensor&& tensor, int64_t step,
                              const SaveImageOptions& options, std::optional<double> walltime) {
  queue_image(tag, std::move(tensor), /*handed_over=*/true, step, options, walltime);
}

void SummaryWriter::add_image(const std::string& tag, const std::vector<torch::Tensor>& images,
                              int64_t step, const SaveImageOptions& options,
                              std::optional<double> walltime) {
  const char* what = "SummaryWriter::add_image";
  state_->queue_for(what);
  check_tag(tag, what);
  // The stacked tensor is this call's own: handed over, it is not copied again.
  queue_image(tag, stack_images(images, what), /*handed_over=*/true, step, options, walltime);
}

void SummaryWriter::queue_image(const std::string& tag, torch::Tensor tensor, bool handed_over,
                                int64_t step, const SaveImageOptions& options,
                                std::optional<double> walltime) {
  const char* what = "SummaryWriter::add_image";
  WorkQueue& queue = state_->queue_for(what);
  check_tag(tag, what);
  check_step(step, what);
  const ImageFormat format = options.format().value_or(ImageFormat::PNG);
  TORCH_CHECK(format == ImageFormat::PNG || format == ImageFormat::JPEG, what,
              ": TensorBoard shows PNG or JPEG images, got format ", format_info(format).name);
  SavePlan plan = make_plan(options, format, what);
  check_input(plan, tensor);
  const GridShape shape = grid_shape(tensor, plan.grid, what);
  const double wall = wall_time_of(walltime, what);
  plan.what = "SummaryWriter";  // a failure in a worker reads "SummaryWriter: ..."
  auto job = std::make_unique<SummaryJob>(SummaryJob::Kind::kImage, tag, step, wall);
  job->set_image(std::make_shared<const SavePlan>(std::move(plan)), shape);
  job->bytes += snapshot_bytes(tensor);
  queue.reserve(job->bytes, 1);
  try {
    job->take(tensor, handed_over, state_->snapshots, queue);
  } catch (...) {
    queue.release(job->bytes, 1);
    throw;
  }
  // Released before queuing, as ImageWriter does: a tensor kept without a
  // copy is then freed by the worker after its reads.
  tensor = torch::Tensor();
  queue_job(*state_->sink, queue, std::move(job));
}

void SummaryWriter::flush() {
  WorkQueue& queue = state_->queue_for("SummaryWriter::flush");
  std::exception_ptr failures;
  try {
    queue.flush();  // every job done: every record posted, so appended
  } catch (...) {
    failures = std::current_exception();
  }
  if (state_->options.durable()) state_->sink->sync();
  if (failures) std::rethrow_exception(failures);
}

int64_t SummaryWriter::pending() const {
  return state_->queue_for("SummaryWriter::pending").in_flight();
}

std::string SummaryWriter::log_dir() const { return state_->log_dir; }

std::string SummaryWriter::file_path() const { return state_->sink->file().path(); }

}  // namespace torchimage
