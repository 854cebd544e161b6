#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchimage/export.h>
#include <torchimage/save_image.h>

namespace torchimage {

/// The path of sample `index` in a `save_images` pattern: `{index}` becomes
/// the number, `{index:05}` the number zero-padded to 5 digits; other text is
/// kept verbatim. A pattern without a placeholder is an error when `count` > 1.
TORCHIMAGE_API std::string format_index_path(const std::string& pattern, int64_t index,
                                             int64_t count = 2);

/// Checks, before anything is written, that `pattern` names `count` files
/// from `start_index` on: a placeholder when count > 1, no NUL byte, indices
/// that do not pass INT64_MAX, file names a file system can hold (255
/// bytes). Returns the last file's path. `what` starts each message.
TORCHIMAGE_API std::string check_index_pattern(const std::string& pattern, int64_t start_index,
                                               int64_t count, const char* what = "save_images");

/// One file per sample of a (B, C, H, W) batch or a list of images: file i is what
/// `save_image(batch[i], path_i, options)` writes, path_i the pattern with
/// `start_index + i`. Encoding runs on `threads` workers (0: the hardware's).
/// All files are attempted; then the first failure is thrown, naming its path
/// and how many failed.
/// Example: `save_images(x, "fid/{index:05}.png", SaveImageOptions().normalize(true).value_range({-1.0, 1.0}))`
TORCHIMAGE_API void save_images(const torch::Tensor& batch, const std::string& pattern,
                                const SaveImageOptions& options = {}, int64_t start_index = 0,
                                int threads = 0);
TORCHIMAGE_API void save_images(const std::vector<torch::Tensor>& images,
                                const std::string& pattern, const SaveImageOptions& options = {},
                                int64_t start_index = 0, int threads = 0);

/// Options of ImageWriter.
/// Example: `ImageWriter writer(ImageWriterOptions().threads(2).max_pending_bytes(64 << 20))`
class ImageWriterOptions {
 public:
  /// Worker threads; 0 means the hardware's concurrency.
  ImageWriterOptions& threads(int v) { threads_ = v; return *this; }
  int threads() const noexcept { return threads_; }

  /// Bound on the bytes of snapshots waiting or in work: when reached, a call
  /// blocks until there is room (a single larger job is let through alone).
  ImageWriterOptions& max_pending_bytes(int64_t v) { max_pending_bytes_ = v; return *this; }
  int64_t max_pending_bytes() const noexcept { return max_pending_bytes_; }

  /// Run the workers at background priority (Linux: SCHED_BATCH and nice 10),
  /// so that a worker never preempts the training thread on a busy machine.
  /// Default true.
  ImageWriterOptions& background_priority(bool v) { background_priority_ = v; return *this; }
  bool background_priority() const noexcept { return background_priority_; }

 private:
  int threads_ = 0;
  int64_t max_pending_bytes_ = int64_t{256} << 20;
  bool background_priority_ = true;
};

/// Writes images in the background so that a training loop never waits on
/// encoding. Each call snapshots the tensor (the caller may overwrite it at
/// once) and returns; quantization, encoding and the atomic write happen on
/// worker threads. Errors are never lost: every failed write is reported once,
/// thrown (as c10::Error, with its path) from the next call or from flush();
/// each call's future also carries its own outcome. Several threads may share
/// one writer. The destructor waits for all pending work.
class TORCHIMAGE_API ImageWriter {
 public:
  explicit ImageWriter(const ImageWriterOptions& options = {});
  ~ImageWriter();
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;

  /// Queues save_image(tensor, path, options). The tensor is copied first (on
  /// its device), so the caller may overwrite it as soon as this returns. A
  /// large contiguous CPU tensor (>= 512 KiB) is copied by this thread and the
  /// idle workers together, a chunk each at a time, into the memory of an
  /// earlier copy of the same shape and type once that one is written (the
  /// writer keeps up to two such copies for reuse, outside max_pending_bytes).
  std::shared_future<void> save_image(const torch::Tensor& tensor, const std::string& path,
                                      const SaveImageOptions& options = {});

  /// The same for a tensor handed over: a temporary (`writer.save_image(
  /// generator->forward(z), path)`) or `std::move` of a handle. When nothing
  /// else can reach its memory (a CPU tensor whose storage no other tensor,
  /// view or autograd node shares, allocated by LibTorch's CPU allocator),
  /// the writer keeps it instead of copying it, and the call returns in
  /// microseconds; otherwise it is copied as above.
  std::shared_future<void> save_image(torch::Tensor&& tensor, const std::string& path,
                                      const SaveImageOptions& options = {});

  /// Queues save_images(batch, pattern, options, start_index): one job per sample.
  std::shared_future<void> save_images(const torch::Tensor& batch, const std::string& pattern,
                                       const SaveImageOptions& options = {},
                                       int64_t start_index = 0);

  /// The same for a batch handed over (see save_image(torch::Tensor&&, ...)).
  std::shared_future<void> save_images(torch::Tensor&& batch, const std::string& pattern,
                                       const SaveImageOptions& options = {},
                                       int64_t start_index = 0);

  /// A list of same-shape images, as save_image(images, path, options) writes
  /// them (a grid of the stacked list). The stacking copies the images: on
  /// the CPU that copy is the snapshot (it is not copied again).
  std::shared_future<void> save_image(const std::vector<torch::Tensor>& images,
                                      const std::string& path,
                                      const SaveImageOptions& options = {});

  /// One file per image of a list, as save_images(images, pattern, options,
  /// start_index) writes them (the images may differ in shape); each image is
  /// copied as save_image copies it.
  std::shared_future<void> save_images(const std::vector<torch::Tensor>& images,
                                       const std::string& pattern,
                                       const SaveImageOptions& options = {},
                                       int64_t start_index = 0);

  /// Waits until everything queued so far is written; throws the failures not
  /// yet reported.
  void flush();

  /// Jobs queued or running.
  int64_t pending() const;

 private:
  // `tensor`/`batch` is this call's own handle, released before the jobs
  // are queued.
  std::shared_future<void> queue_image(torch::Tensor tensor, bool handed_over,
                                       const std::string& path, const SaveImageOptions& options);
  std::shared_future<void> queue_images(torch::Tensor batch, bool handed_over,
                                        const std::string& pattern,
                                        const SaveImageOptions& options, int64_t start_index);

  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace torchimage
