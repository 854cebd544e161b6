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
#include <torchimage/save_images.h>

namespace torchimage {

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
/// Only the public members are exported (the library's ABI).
class ImageWriter {
 public:
  TORCHIMAGE_API explicit ImageWriter(const ImageWriterOptions& options = {});
  TORCHIMAGE_API ~ImageWriter();
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;

  /// Queues save_image(tensor, path, options). The tensor is copied first (on
  /// its device), so the caller may overwrite it as soon as this returns. A
  /// large contiguous CPU tensor (>= 512 KiB) is copied by this thread and the
  /// idle workers together, a chunk each at a time, into the memory of an
  /// earlier copy of the same shape and type once that one is written (the
  /// writer keeps up to two such copies for reuse, outside max_pending_bytes).
  TORCHIMAGE_API std::shared_future<void> save_image(
      const torch::Tensor& tensor, const std::string& path, const SaveImageOptions& options = {});

  /// The same for a tensor handed over: a temporary (`writer.save_image(
  /// generator->forward(z), path)`) or `std::move` of a handle. When nothing
  /// else can reach its memory (a CPU tensor whose storage no other tensor,
  /// view or autograd node shares, allocated by LibTorch's CPU allocator),
  /// the writer keeps it instead of copying it, and the call returns in
  /// microseconds; otherwise it is copied as above.
  TORCHIMAGE_API std::shared_future<void> save_image(
      torch::Tensor&& tensor, const std::string& path, const SaveImageOptions& options = {});

  /// Queues save_images(batch, pattern, options, start_index): one job per sample.
  TORCHIMAGE_API std::shared_future<void> save_images(
      const torch::Tensor& batch, const std::string& pattern, const SaveImageOptions& options = {},
      int64_t start_index = 0);

  /// The same for a batch handed over (see save_image(torch::Tensor&&, ...)).
  TORCHIMAGE_API std::shared_future<void> save_images(
      torch::Tensor&& batch, const std::string& pattern, const SaveImageOptions& options = {},
      int64_t start_index = 0);

  /// A list of same-shape images, as save_image(images, path, options) writes
  /// them (a grid of the stacked list). The stacking copies the images: on
  /// the CPU that copy is the snapshot (it is not copied again).
  TORCHIMAGE_API std::shared_future<void> save_image(
      const std::vector<torch::Tensor>& images, const std::string& path,
      const SaveImageOptions& options = {});

  /// One file per image of a list, as save_images(images, pattern, options,
  /// start_index) writes them (the images may differ in shape); each image is
  /// copied as save_image copies it.
  TORCHIMAGE_API std::shared_future<void> save_images(
      const std::vector<torch::Tensor>& images, const std::string& pattern,
      const SaveImageOptions& options = {}, int64_t start_index = 0);

  /// Waits until everything queued so far is written; throws the failures not
  /// yet reported.
  TORCHIMAGE_API void flush();

  /// Jobs queued or running.
  TORCHIMAGE_API int64_t pending() const;

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
