#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchimage/export.h>
#include <torchimage/formats.h>
#include <torchimage/save_image.h>

namespace torchimage {

/// Options of an animation (`AnimationWriter`, `save_animation`).
/// Example: `AnimationWriter anim("progress.png", AnimationOptions().fps(4).loop(0))`
class AnimationOptions {
 public:
  /// Frames a second, > 0: each frame shows round(1000 / fps) ms, 1-65535
  /// (GIF stores hundredths of a second: rounded to 10 ms). Default 4.
  AnimationOptions& fps(double v) { fps_ = v; return *this; }
  double fps() const noexcept { return fps_; }

  /// How many times the animation plays, 0-65535; 0 (the default) loops
  /// forever. Written as is, as Pillow's `loop` (APNG's num_plays, WebP's
  /// and GIF's loop count).
  AnimationOptions& loop(int v) { loop_ = v; return *this; }
  int loop() const noexcept { return loop_; }

  /// The format (one with `FormatInfo::animated`: PNG as APNG, WebP, GIF);
  /// unset: the path's extension (.png, .apng, .webp, .gif).
  AnimationOptions& format(std::optional<ImageFormat> v) { format_ = v; return *this; }
  AnimationOptions& format(const std::string& name) {
    format_ = parse_format(name, "format");
    return *this;
  }
  const std::optional<ImageFormat>& format() const noexcept { return format_; }

 private:
  double fps_ = 4.0;
  int loop_ = 0;
  std::optional<ImageFormat> format_;
};

/// Writes `frames` (each a tensor save_image takes, all giving grids of one
/// size) as one animation, encoding each frame once and writing the file
/// once, atomically.
TORCHIMAGE_API void save_animation(const std::vector<torch::Tensor>& frames,
                                   const std::string& path,
                                   const AnimationOptions& options = {},
                                   const SaveImageOptions& save_options = {});

/// An animation that grows a frame at a time, e.g. a GAN's fixed-latent
/// sample sheet per epoch:
///
///     AnimationWriter anim("progress.png", AnimationOptions().fps(4));
///     for (epoch ...) anim.add_frame(G(z), SaveImageOptions().normalize(true));
///
/// Each `add_frame` appends the grid that `save_image` would write with the
/// same options, encodes only that frame (the encoded frames are kept), and
/// replaces the file atomically (`write_file`) with the complete animation of
/// the frames so far: a run killed after frame 37 leaves a valid file of 37
/// frames. A failed add_frame leaves the file and the writer as they were.
/// Every frame has the first one's size, channels and bit depth. Nothing is
/// written before the first frame. Not thread-safe: one thread at a time.
class AnimationWriter {
 public:
  /// Checks the path's format (an animated row of the table, in this build)
  /// and the options; writes nothing yet.
  TORCHIMAGE_API explicit AnimationWriter(std::string path,
                                          const AnimationOptions& options = {});
  TORCHIMAGE_API ~AnimationWriter();
  TORCHIMAGE_API AnimationWriter(AnimationWriter&&) noexcept;
  TORCHIMAGE_API AnimationWriter& operator=(AnimationWriter&&) noexcept;
  AnimationWriter(const AnimationWriter&) = delete;
  AnimationWriter& operator=(const AnimationWriter&) = delete;

  /// Appends save_image's grid of `tensor` (a batch, one image, or (H, W))
  /// and rewrites the file. `options.format`, when set, must be the
  /// animation's.
  TORCHIMAGE_API void add_frame(const torch::Tensor& tensor,
                                const SaveImageOptions& options = {});

  /// The frames written so far.
  TORCHIMAGE_API int64_t frames() const noexcept;

  /// The file it writes.
  TORCHIMAGE_API const std::string& path() const noexcept;

  /// The format it writes.
  TORCHIMAGE_API ImageFormat format() const noexcept;

 private:
  friend void save_animation(const std::vector<torch::Tensor>&, const std::string&,
                             const AnimationOptions&, const SaveImageOptions&);
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace torchimage
