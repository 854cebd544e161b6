#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchimage/export.h>
#include <torchimage/save_image.h>

namespace torchimage {

/// Options of SummaryWriter.
/// Example: `SummaryWriter writer("runs/x", SummaryWriterOptions().threads(2).durable(true))`
class SummaryWriterOptions {
 public:
  /// Worker threads that render images and histograms; 0 means the
  /// hardware's concurrency. Records reach the file in call order whatever
  /// the number.
  SummaryWriterOptions& threads(int v) { threads_ = v; return *this; }
  int threads() const noexcept { return threads_; }

  /// Bound on the bytes of snapshots waiting or in work: when reached, a call
  /// blocks until there is room (a single larger call is let through alone).
  SummaryWriterOptions& max_pending_bytes(int64_t v) { max_pending_bytes_ = v; return *this; }
  int64_t max_pending_bytes() const noexcept { return max_pending_bytes_; }

  /// Run the workers at background priority (Linux: SCHED_BATCH and nice 10).
  /// Default true.
  SummaryWriterOptions& background_priority(bool v) { background_priority_ = v; return *this; }
  bool background_priority() const noexcept { return background_priority_; }

  /// Seconds between fsyncs of the event file while records are appended,
  /// when durable (torch.utils.tensorboard's flush_secs; default 120). The
  /// records themselves are written to the file (visible to TensorBoard, and
  /// kept if the process dies) as soon as they are rendered in order.
  SummaryWriterOptions& flush_every(double seconds) { flush_every_ = seconds; return *this; }
  double flush_every() const noexcept { return flush_every_; }

  /// fsync the event file on flush() (and its folder when it is created), and
  /// every flush_every seconds, so that what was flushed survives a power
  /// loss, not only a crash of the process. Default false.
  SummaryWriterOptions& durable(bool v) { durable_ = v; return *this; }
  bool durable() const noexcept { return durable_; }

 private:
  int threads_ = 0;
  int64_t max_pending_bytes_ = int64_t{256} << 20;
  bool background_priority_ = true;
  double flush_every_ = 120.0;
  bool durable_ = false;
};

/// Writes a TensorBoard event file, as torch.utils.tensorboard.SummaryWriter
/// does, from C++: scalars, images (the pixels save_image writes), text and
/// histograms. `log_dir` (and its parents) is created; the file is
/// `log_dir/events.out.tfevents.<seconds>.<hostname>.<pid>.<n>`, a new one
/// per writer, starting with the "brain.Event:2" version record.
///
/// Each call checks its arguments (a c10::Error now), snapshots the tensor
/// as ImageWriter does (the caller may overwrite it at once) and returns;
/// images are rendered and encoded on worker threads. Records are appended
/// in call order, each batch of whole records in one write; a process killed
/// at any moment leaves a file that TensorBoard reads up to its last whole
/// record. A failed render or append (disk full, folder removed) is reported
/// once, thrown from the next call or flush(). Several threads may share one
/// writer. The destructor flushes (a failure then goes to stderr).
/// Steps are >= 0; tags are non-empty UTF-8.
class SummaryWriter {
 public:
  TORCHIMAGE_API explicit SummaryWriter(const std::string& log_dir,
                                        const SummaryWriterOptions& options = {});
  TORCHIMAGE_API ~SummaryWriter();
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  /// A scalar (logged as a 32-bit float, as torch.utils.tensorboard does).
  /// `walltime`: seconds since the epoch, default now.
  TORCHIMAGE_API void add_scalar(const std::string& tag, double value, int64_t step,
                                 std::optional<double> walltime = std::nullopt);

  /// An image: exactly what encode_image(tensor, options) returns (PNG, or
  /// JPEG when options.format() says so), so its pixels are save_image's. Any
  /// device and any shape save_image takes; a batch becomes its grid.
  TORCHIMAGE_API void add_image(const std::string& tag, const torch::Tensor& tensor, int64_t step,
                                const SaveImageOptions& options = {},
                                std::optional<double> walltime = std::nullopt);

  /// The same for a tensor handed over (kept instead of copied when nothing
  /// else reaches its memory; see ImageWriter::save_image(torch::Tensor&&)).
  TORCHIMAGE_API void add_image(const std::string& tag, torch::Tensor&& tensor, int64_t step,
                                const SaveImageOptions& options = {},
                                std::optional<double> walltime = std::nullopt);

  /// A list of same-shape images, as one grid (save_image of a list).
  TORCHIMAGE_API void add_image(const std::string& tag, const std::vector<torch::Tensor>& images,
                                int64_t step, const SaveImageOptions& options = {},
                                std::optional<double> walltime = std::nullopt);

  /// Text, under `tag + "/text_summary"` with the text plugin's metadata, as
  /// torch.utils.tensorboard logs it.
  TORCHIMAGE_API void add_text(const std::string& tag, const std::string& text, int64_t step,
                               std::optional<double> walltime = std::nullopt);

  /// A histogram of the values with torch.utils.tensorboard's default
  /// ("tensorflow") bins; the values must be real and finite.
  TORCHIMAGE_API void add_histogram(const std::string& tag, const torch::Tensor& values,
                                    int64_t step, std::optional<double> walltime = std::nullopt);

  /// Waits until every record queued so far is in the file (and, when
  /// durable, synced); throws the failures not yet reported.
  TORCHIMAGE_API void flush();

  /// Calls queued or running.
  TORCHIMAGE_API int64_t pending() const;

  /// The folder, as given.
  TORCHIMAGE_API std::string log_dir() const;
  /// The event file's path.
  TORCHIMAGE_API std::string file_path() const;

 private:
  void queue_image(const std::string& tag, torch::Tensor tensor, bool handed_over, int64_t step,
                   const SaveImageOptions& options, std::optional<double> walltime);

  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace torchimage
