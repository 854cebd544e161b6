// AnimationWriter and save_animation: save_image's plan and stages up to the
// samples (render_pixels), then the format's frame encoder; the file is
// assembled from the kept frames and written atomically.
#include <torchimage/animation.h>

#include <cmath>

#include <c10/util/Exception.h>

#include "grid/grid_shape.h"
#include "pipeline/plan.h"

namespace torchimage {
namespace {

// "3x64x128 (C, H, W) at 8 bits"
std::string describe(const AnimationParams& p) {
  return c10::str(p.channels, "x", p.height, "x", p.width, " (C, H, W) at ", p.bit_depth,
                  " bits");
}

// "PNG, WebP or GIF"
std::string animated_formats() {
  std::string s;
  std::vector<std::string> names;
  for (const Codec& c : codecs()) {
    if (c.info.animated) names.push_back(c.info.display_name);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += i + 1 == names.size() ? " or " : ", ";
    s += names[i];
  }
  return s;
}

}  // namespace

struct AnimationWriter::State {
  std::string path;
  ImageFormat format = ImageFormat::PNG;
  const Codec* codec = nullptr;
  AnimationParams params;  // the first frame's shape, once there is one
  std::vector<Bytes> frames;
  Bytes file;

  // Encodes the frame and keeps it (the file is not written).
  SavePlan add(const torch::Tensor& tensor, const SaveImageOptions& options, const char* what) {
    TORCH_CHECK(!options.format() || *options.format() == format, what, ": the frame's format ",
                format_info(*options.format()).display_name, " is not the animation's (",
                codec->info.display_name, ")");
    const SavePlan plan = make_plan(options, format, what);
    Bytes frame;
    AnimationParams p = params;
    render_pixels(plan, apply_layout(tensor, options.layout(), what), [&](const PixelView& px) {
      AnimationParams here = params;
      here.height = px.height;
      here.width = px.width;
      here.channels = px.channels;
      here.bit_depth = px.bit_depth;
      if (!frames.empty()) {
        TORCH_CHECK(here.height == params.height && here.width == params.width &&
                        here.channels == params.channels && here.bit_depth == params.bit_depth,
                    what, ": frame ", frames.size(), " is ", describe(here),
                    ", but the animation's frames are ", describe(params),
                    "; every frame must have the first one's size, channels and bit depth");
      }
      p = here;
      codec->encode_frame(px, plan.encode, p, frame);
    });
    params = p;
    frames.push_back(std::move(frame));
    return plan;
  }
};

AnimationWriter::AnimationWriter(std::string path, const AnimationOptions& options)
    : state_(std::make_unique<State>()) {
  const char* what = "AnimationWriter";
  State& s = *state_;
  s.format = resolve_format(path, options.format(), what);
  s.codec = &codec_of(s.format);
  TORCH_CHECK(s.codec->info.animated, what, ": ", s.codec->info.display_name,
              " holds one image; animations are ", animated_formats(), " (got '", path, "')");
  check_available(*s.codec, what);
  TORCH_CHECK(s.codec->encode_frame != nullptr && s.codec->assemble_animation != nullptr, what,
              ": torchimage was built without ", s.codec->info.display_name, " animations");
  const double fps = options.fps();
  TORCH_CHECK(std::isfinite(fps) && fps > 0, what, ": fps must be a positive number, got ", fps);
  const double ms = std::round(1000.0 / fps);
  TORCH_CHECK(ms >= 1 && ms <= 65535, what, ": fps ", fps, " gives frames of ", ms,
              " ms; expected 1-65535 ms a frame (fps from 1000/65535 to 1000)");
  TORCH_CHECK(options.loop() >= 0 && options.loop() <= 65535, what,
              ": loop must be in 0-65535 (0: forever), got ", options.loop());
  s.params.duration_ms = static_cast<int>(ms);
  s.params.loop = options.loop();
  s.path = std::move(path);
}

AnimationWriter::~AnimationWriter() = default;
AnimationWriter::AnimationWriter(AnimationWriter&&) noexcept = default;
AnimationWriter& AnimationWriter::operator=(AnimationWriter&&) noexcept = default;

void AnimationWriter::add_frame(const torch::Tensor& tensor, const SaveImageOptions& options) {
  const char* what = "AnimationWriter::add_frame";
  TORCH_CHECK(state_ != nullptr, what, ": the writer was moved from");
  State& s = *state_;
  const AnimationParams before = s.params;
  const SavePlan plan = s.add(tensor, options, what);
  try {
    s.codec->assemble_animation(s.frames, s.params, s.file);
    write_bytes(plan, s.path, s.file);
  } catch (...) {
    s.frames.pop_back();
    s.params = before;
    throw;
  }
  if (s.file.capacity() > 2 * s.file.size() + (size_t{1} << 20)) Bytes().swap(s.file);
}

int64_t AnimationWriter::frames() const noexcept {
  return state_ ? static_cast<int64_t>(state_->frames.size()) : 0;
}

const std::string& AnimationWriter::path() const noexcept {
  static const std::string none;
  return state_ ? state_->path : none;
}

ImageFormat AnimationWriter::format() const noexcept {
  return state_ ? state_->format : ImageFormat::PNG;
}

void save_animation(const std::vector<torch::Tensor>& frames, const std::string& path,
                    const AnimationOptions& options, const SaveImageOptions& save_options) {
  const char* what = "save_animation";
  AnimationWriter writer(path, options);
  TORCH_CHECK(!frames.empty(), what, ": expected at least one frame, got none");
  AnimationWriter::State& s = *writer.state_;
  SavePlan plan;
  for (const torch::Tensor& f : frames) plan = s.add(f, save_options, what);
  s.codec->assemble_animation(s.frames, s.params, s.file);
  write_bytes(plan, path, s.file);
}

}  // namespace torchimage
