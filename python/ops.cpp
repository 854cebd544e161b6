// torchimage's TorchScript operators: torch.ops.torchimage.*, for Python
// (`torch.ops.load_library`, or `import torchimage`) and for TorchScript
// programs run from Python or from C++ (`torch::jit::load`).
//
// Each operator is a thin adapter from schema arguments to the C++ options;
// the library's c10::Error messages pass through unchanged (RuntimeError in
// Python). Only API present in both LibTorch 1.13 and 2.x is used.
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <tuple>
#include <future>
#include <string>
#include <vector>

#include <c10/util/Exception.h>
#include <c10/util/Optional.h>
#include <torch/custom_class.h>
#include <torch/library.h>
#include <torch/types.h>

#include <torchimage/distributed.h>
#include <torchimage/draw.h>
#include <torchimage/files.h>
#include <torchimage/formats.h>
#include <torchimage/io.h>
#include <torchimage/make_grid.h>
#include <torchimage/animation.h>
#include <torchimage/save_image.h>
#include <torchimage/summary_writer.h>
#include <torchimage/version.h>
#include <torchimage/writer.h>

#define TORCHIMAGE_OPS_API __attribute__((visibility("default")))

namespace torchimage {
namespace ops {
namespace {

using FloatList = c10::optional<std::vector<double>>;

// ---- messages ------------------------------------------------------------------

// Paths are bytes on Linux, and a message names its path as it is: one that
// is not UTF-8 (a Latin-1 "caf\xe9.png") would make the message invalid
// UTF-8, which Python cannot decode (torch's translation then raises an
// empty RuntimeError). Such bytes are written as \xNN, as Python's repr of
// bytes writes them; a valid UTF-8 message is passed on untouched.
// The length of the valid UTF-8 sequence at s[i], or 0 where there is none
// (a stray byte, a truncated or overlong sequence, a surrogate).
size_t utf8_sequence(const std::string& s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1Fu;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if ((n == 3 && cp < 0x800) || (cp >= 0xD800 && cp <= 0xDFFF) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return 0;
  }
  return n;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string escape_non_utf8(const std::string& s) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i);
    if (n > 0) {
      out.append(s, i, n);
      i += n;
    } else {
      const auto c = static_cast<unsigned char>(s[i++]);
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

// Runs an operator's body; a c10::Error whose message is not UTF-8 is
// thrown again, of the same type (ValueError stays ValueError), with the
// message escaped.
template <typename F>
auto utf8_errors(F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const c10::Error& e) {
    const std::string& message = e.what_without_backtrace();
    if (valid_utf8(message)) throw;
    const c10::SourceLocation here{__func__, __FILE__, static_cast<uint32_t>(__LINE__)};
    if (dynamic_cast<const c10::ValueError*>(&e) != nullptr) {
      throw c10::ValueError(here, escape_non_utf8(message));
    }
    if (dynamic_cast<const c10::TypeError*>(&e) != nullptr) {
      throw c10::TypeError(here, escape_non_utf8(message));
    }
    if (dynamic_cast<const c10::IndexError*>(&e) != nullptr) {
      throw c10::IndexError(here, escape_non_utf8(message));
    }
    throw c10::Error(here, escape_non_utf8(message));
  }
}
using TensorList = std::vector<torch::Tensor>;

// The grid arguments, in schema order (torchvision's, then the extras).
struct Grid {
  int64_t nrow;
  int64_t padding;
  bool normalize;
  const FloatList& value_range;
  bool scale_each;
  double pad_value;
  const FloatList& pad_color;
  bool grayscale;
  const std::string& layout;
  const c10::optional<std::string>& colormap;
  const c10::optional<std::vector<int64_t>>& palette;
  const c10::optional<std::vector<std::string>>& captions;
  int64_t caption_size;
};

template <typename Options>
Options grid_options(const Grid& g, const char* what) {
  Options o;
  o.nrow(g.nrow).padding(g.padding).normalize(g.normalize).scale_each(g.scale_each);
  o.grayscale(g.grayscale);
  o.layout(parse_layout(g.layout, what));
  if (g.colormap) o.colormap(*g.colormap);
  if (g.captions) o.captions(*g.captions);
  o.caption_size(g.caption_size);
  if (g.palette) {
    // Flat RGB values, three a class (the Python package spells "voc" so).
    TORCH_CHECK_VALUE(g.palette->size() % 3 == 0, what,
                      ": palette must hold three values (R, G, B) per class, got ",
                      g.palette->size(), " values");
    Palette palette;
    for (size_t i = 0; i < g.palette->size(); i += 3) {
      std::array<uint8_t, 3> c{};
      for (size_t k = 0; k < 3; ++k) {
        const int64_t v = (*g.palette)[i + k];
        TORCH_CHECK_VALUE(v >= 0 && v <= 255, what, ": palette values must be in 0-255, got ", v);
        c[k] = static_cast<uint8_t>(v);
      }
      palette.push_back(c);
    }
    o.palette(std::move(palette));
  }
  if (g.value_range) {
    TORCH_CHECK(g.value_range->size() == 2, what,
                ": value_range must be (min, max), got ", g.value_range->size(), " values");
    o.value_range(ValueRange{(*g.value_range)[0], (*g.value_range)[1]});
  }
  if (g.pad_color) {
    TORCH_CHECK(!g.pad_color->empty(), what,
                ": pad_color must hold one value or one per channel, got none");
    o.pad_value(*g.pad_color);
  } else {
    o.pad_value(g.pad_value);
  }
  return o;
}

// An int argument of the schema (int64) as the C++ options take it (int).
// Only the type's range is checked here: the library checks the values.
int to_int(int64_t v, const char* what, const char* name) {
  TORCH_CHECK(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(), what,
              ": ", name, " must fit a 32-bit int, got ", v);
  return static_cast<int>(v);
}

// The encoding arguments, in schema order (TI_ENCODE_ARGS but the grid's).
struct Encode {
  const c10::optional<std::string>& format;
  c10::optional<int64_t> quality;
  c10::optional<int64_t> compression_level;
  int64_t bit_depth;
  bool lossless;
  const c10::optional<std::string>& compression;
  bool keep_values;
};

// The file arguments (TI_FILE_ARGS).
struct File {
  bool create_directories;
  bool durable;
  bool replace_read_only;
};

WriteFileOptions file_options(const File& f) {
  return WriteFileOptions()
      .create_directories(f.create_directories)
      .durable(f.durable)
      .replace_read_only(f.replace_read_only);
}

SaveImageOptions save_options(const Grid& g, const Encode& e, const File& f, const char* what) {
  SaveImageOptions o = grid_options<SaveImageOptions>(g, what);
  if (e.format) o.format(parse_format(*e.format, what));
  o.bit_depth(to_int(e.bit_depth, what, "bit_depth"));
  // Unset, each lossy format keeps its own default (JPEG 75, WebP 80).
  if (e.quality) o.quality(to_int(*e.quality, what, "quality"));
  o.webp(WebpOptions(o.webp()).lossless(e.lossless));
  if (e.compression) o.tiff(TiffOptions().compression(parse_tiff_compression(*e.compression, what)));
  o.keep_values(e.keep_values);
  if (e.compression_level) {
    const int level = to_int(*e.compression_level, what, "compression_level");
    o.png(PngOptions().compression_level(level));
  }
  o.file(file_options(f));
  return o;
}

// The C++ parameters of the schema fragments TI_GRID_ARGS, TI_ENCODE_ARGS and
// TI_FILE_ARGS (in that order), then TI_VIEW_ARGS, as the writing operators
// take them, and the SaveImageOptions they make (`what` names the call).
#define TI_SAVE_PARAMS                                                                        \
  int64_t nrow, int64_t padding, bool normalize, const FloatList& value_range,               \
      bool scale_each, double pad_value, const c10::optional<std::string>& format,             \
      c10::optional<int64_t> quality, c10::optional<int64_t> compression_level,               \
      bool grayscale, const FloatList& pad_color, int64_t bit_depth, bool lossless,           \
      const c10::optional<std::string>& compression, bool keep_values,                         \
      bool create_directories, bool durable, bool replace_read_only
#define TI_VIEW_PARAMS                                                                        \
  const std::string& layout, const c10::optional<std::string>& colormap,                       \
      const c10::optional<std::vector<int64_t>>& palette,                                      \
      const c10::optional<std::vector<std::string>>& captions, int64_t caption_size
#define TI_SAVE_OPTIONS(what)                                                                 \
  save_options(Grid{nrow, padding, normalize, value_range, scale_each, pad_value, pad_color,  \
                    grayscale, layout, colormap, palette, captions, caption_size},            \
               Encode{format, quality, compression_level, bit_depth, lossless, compression,   \
                      keep_values},                                                            \
               File{create_directories, durable, replace_read_only}, what)

// ---- make_grid ---------------------------------------------------------------

template <typename Input>
torch::Tensor make_grid_op(const Input& tensor, int64_t nrow, int64_t padding, bool normalize,
                           const FloatList& value_range, bool scale_each, double pad_value,
                           bool grayscale, const FloatList& pad_color,
                   const std::string& layout, const c10::optional<std::string>& colormap,
                   const c10::optional<std::vector<int64_t>>& palette,
                   const c10::optional<std::vector<std::string>>& captions, int64_t caption_size) {
  const Grid g{nrow, padding, normalize, value_range, scale_each, pad_value, pad_color, grayscale,
               layout, colormap, palette, captions, caption_size};
  return torchimage::make_grid(tensor, grid_options<MakeGridOptions>(g, "make_grid"));
}

// ---- save_image / encode_image / to_pixels ----------------------------------

template <typename Input>
void save_image_op(const Input& tensor, const std::string& fp, TI_SAVE_PARAMS, TI_VIEW_PARAMS) {
  utf8_errors([&] { torchimage::save_image(tensor, fp, TI_SAVE_OPTIONS("save_image")); });
}

template <typename Input>
torch::Tensor encode_image_op(const Input& tensor, int64_t nrow, int64_t padding, bool normalize,
                              const FloatList& value_range, bool scale_each, double pad_value,
                              const c10::optional<std::string>& format, c10::optional<int64_t> quality,
                              c10::optional<int64_t> compression_level, bool grayscale,
                              const FloatList& pad_color, int64_t bit_depth, bool lossless,
    const c10::optional<std::string>& compression, bool keep_values,
                   const std::string& layout, const c10::optional<std::string>& colormap,
                   const c10::optional<std::vector<int64_t>>& palette,
                   const c10::optional<std::vector<std::string>>& captions, int64_t caption_size) {
  const Grid g{nrow, padding, normalize, value_range, scale_each, pad_value, pad_color, grayscale,
               layout, colormap, palette, captions, caption_size};
  const Encode e{format, quality, compression_level, bit_depth, lossless, compression, keep_values};
  return torchimage::encode_image(tensor, save_options(g, e, {}, "encode_image"));
}

template <typename Input>
torch::Tensor to_pixels_op(const Input& tensor, int64_t nrow, int64_t padding, bool normalize,
                           const FloatList& value_range, bool scale_each, double pad_value,
                           bool grayscale, const FloatList& pad_color,
                   const std::string& layout, const c10::optional<std::string>& colormap,
                   const c10::optional<std::vector<int64_t>>& palette,
                   const c10::optional<std::vector<std::string>>& captions, int64_t caption_size) {
  const Grid g{nrow, padding, normalize, value_range, scale_each, pad_value, pad_color, grayscale,
               layout, colormap, palette, captions, caption_size};
  return torchimage::to_pixels(tensor, grid_options<SaveImageOptions>(g, "to_pixels"));
}

// ---- save_animation ----------------------------------------------------------

void save_animation_op(const TensorList& frames, const std::string& fp, double fps, int64_t loop,
                       TI_SAVE_PARAMS, TI_VIEW_PARAMS) {
  // (The library checks 0-65535 too; this keeps an int64 from wrapping into that range.)
  TORCH_CHECK_VALUE(loop >= 0 && loop <= 65535,
                    "save_animation: loop must be in 0-65535 (0: forever), got ", loop);
  utf8_errors([&] {
    const SaveImageOptions o = TI_SAVE_OPTIONS("save_animation");
    torchimage::save_animation(
        std::vector<torch::Tensor>(frames.begin(), frames.end()), fp,
        torchimage::AnimationOptions().fps(fps).loop(static_cast<int>(loop)).format(o.format()),
        o);
  });
}

// ---- save_images -------------------------------------------------------------

template <typename Input>
void save_images_op(const Input& batch, const std::string& pattern, TI_SAVE_PARAMS,
                    int64_t start_index, int64_t threads, TI_VIEW_PARAMS) {
  const SaveImageOptions o = TI_SAVE_OPTIONS("save_images");
  TORCH_CHECK(threads >= 0 && threads <= 4096, "save_images: threads must be in 0-4096, got ",
              threads);
  utf8_errors([&] {
    torchimage::save_images(batch, pattern, o, start_index, static_cast<int>(threads));
  });
}

// ---- distributed -------------------------------------------------------------

// torchimage::distributed's functions on the process group c10d registered
// under `group_name` (Python's `group.group_name`): needs torch >= 2.2
// (distributed::resolve_group says so elsewhere). Every rank of the group
// calls the same operator with the same arguments.

// The options of a distributed call, made on this rank. Where they fail
// (an unknown format or layout), this rank still joins the first exchange
// with no batch, so that the others throw ("rank r refused ...") instead of
// waiting for it in a collective, then throws its own error.
template <typename Make>
SaveImageOptions options_or_refuse(const distributed::Group& group, Make&& make) {
  try {
    return make();
  } catch (const c10::Error&) {
    try {
      distributed::gather_batch(group, torch::Tensor(), 0);
    } catch (const c10::Error&) {
      // (the others' error: this rank's own is the one to raise)
    }
    throw;
  }
}

c10::optional<torch::Tensor> distributed_gather_batch_op(const std::string& group_name,
                                                         const torch::Tensor& local,
                                                         int64_t root) {
  const distributed::Group group = distributed::resolve_group(group_name);
  torch::Tensor all = distributed::gather_batch(
      group, local, to_int(root, "distributed_gather_batch", "root"));
  if (!all.defined()) return c10::nullopt;
  return all;
}

void distributed_save_image_op(const std::string& group_name, const torch::Tensor& tensor,
                               const std::string& fp, TI_SAVE_PARAMS, TI_VIEW_PARAMS,
                               int64_t root) {
  utf8_errors([&] {
    const distributed::Group group = distributed::resolve_group(group_name);
    int root_rank = 0;
    const SaveImageOptions o = options_or_refuse(group, [&] {
      root_rank = to_int(root, "distributed_save_image", "root");
      return TI_SAVE_OPTIONS("distributed_save_image");
    });
    distributed::save_image(group, tensor, fp, o, root_rank);
  });
}

void distributed_save_images_op(const std::string& group_name, const torch::Tensor& batch,
                                const std::string& pattern, TI_SAVE_PARAMS, int64_t start_index,
                                int64_t threads, TI_VIEW_PARAMS) {
  utf8_errors([&] {
    const distributed::Group group = distributed::resolve_group(group_name);
    const SaveImageOptions o = options_or_refuse(group, [&] {
      TORCH_CHECK(threads >= 0 && threads <= 4096,
                  "distributed_save_images: threads must be in 0-4096, got ", threads);
      return TI_SAVE_OPTIONS("distributed_save_images");
    });
    distributed::save_images(group, batch, pattern, o, start_index, static_cast<int>(threads));
  });
}

// ---- ImageWriter -------------------------------------------------------------

// torch.classes.torchimage.ImageWriter: the C++ ImageWriter for Python and
// TorchScript. save_image and save_images return once the tensor is copied
// (the caller may overwrite it at once); a write that fails is raised by the
// next call or by flush(), once, as in C++. Dropping the last reference
// waits for the pending writes (failures nobody collected go to stderr).
struct Writer : torch::CustomClassHolder {
  Writer(int64_t threads, int64_t max_pending_bytes)
      : threads(threads),
        max_pending_bytes(max_pending_bytes),
        writer(writer_options(threads, max_pending_bytes)) {}

  static ImageWriterOptions writer_options(int64_t threads, int64_t max_pending_bytes) {
    TORCH_CHECK(threads >= 0 && threads <= 4096, "ImageWriter: threads must be in 0-4096, got ",
                threads);
    return ImageWriterOptions().threads(static_cast<int>(threads)).max_pending_bytes(
        max_pending_bytes);
  }

  // The configuration, which is what a saved module keeps of a writer.
  const int64_t threads;
  const int64_t max_pending_bytes;
  ImageWriter writer;
};

using WriterPtr = c10::intrusive_ptr<Writer>;

// torch.classes.torchimage.ImageWriterJob: one call's outcome (the C++
// call's future). wait() returns once the call's images are written and
// raises the first of its failures (which the writer still reports once
// by itself too, as in C++); done() says whether it is over.
struct Job : torch::CustomClassHolder {
  explicit Job(std::shared_future<void> future) : future(std::move(future)) {}
  void wait() const {
    utf8_errors([&] { future.get(); });
  }
  bool done() const {
    return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  const std::shared_future<void> future;
};

using JobPtr = c10::intrusive_ptr<Job>;

template <typename Input>
JobPtr writer_save_image(const WriterPtr& self, const Input& tensor, const std::string& fp,
                         TI_SAVE_PARAMS, TI_VIEW_PARAMS) {
  return utf8_errors([&] {
    return c10::make_intrusive<Job>(
        self->writer.save_image(tensor, fp, TI_SAVE_OPTIONS("ImageWriter.save_image")));
  });
}

template <typename Input>
JobPtr writer_save_images(const WriterPtr& self, const Input& batch, const std::string& pattern,
                          TI_SAVE_PARAMS, TI_VIEW_PARAMS, int64_t start_index) {
  return utf8_errors([&] {
    return c10::make_intrusive<Job>(self->writer.save_images(
        batch, pattern, TI_SAVE_OPTIONS("ImageWriter.save_images"), start_index));
  });
}

// ---- SummaryWriter ----------------------------------------------------------

// torch.classes.torchimage.SummaryWriter: the C++ SummaryWriter for Python
// and TorchScript, with torch.utils.tensorboard's argument names (tag,
// scalar_value, img_tensor, global_step, walltime, dataformats, values,
// text_string) and save_image's keywords as extras. Dropping the last
// reference flushes.
struct Summary : torch::CustomClassHolder {
  Summary(std::string log_dir, int64_t threads, int64_t max_pending_bytes, double flush_every,
          bool durable)
      : log_dir(std::move(log_dir)),
        threads(threads),
        max_pending_bytes(max_pending_bytes),
        flush_every(flush_every),
        durable(durable),
        writer(utf8_errors([&] { return make(); })) {}

  std::unique_ptr<SummaryWriter> make() const {
    TORCH_CHECK(threads >= 0 && threads <= 4096, "SummaryWriter: threads must be in 0-4096, got ",
                threads);
    return std::make_unique<SummaryWriter>(
        log_dir, SummaryWriterOptions()
                     .threads(static_cast<int>(threads))
                     .max_pending_bytes(max_pending_bytes)
                     .flush_every(flush_every)
                     .durable(durable));
  }

  // The configuration, which is what a saved module keeps of a writer (a
  // loaded one opens a new event file in the same folder).
  const std::string log_dir;
  const int64_t threads;
  const int64_t max_pending_bytes;
  const double flush_every;
  const bool durable;
  const std::unique_ptr<SummaryWriter> writer;
};

using SummaryPtr = c10::intrusive_ptr<Summary>;
using SummaryState = std::tuple<std::string, int64_t, int64_t, double, bool>;

// torch.utils.tensorboard's dataformats, as the (C, H, W) / (B, C, H, W) /
// (H, W) layouts save_image takes (a view, no copy).
torch::Tensor from_dataformats(const torch::Tensor& t, const std::string& dataformats) {
  const char* what = "SummaryWriter.add_image";
  TORCH_CHECK(t.defined(), what, ": expected a tensor, got an undefined one");
  const std::string f = dataformats;
  TORCH_CHECK(f == "CHW" || f == "HWC" || f == "HW" || f == "NCHW" || f == "NHWC", what,
              ": dataformats must be one of CHW, HWC, HW, NCHW, NHWC, got '", f, "'");
  TORCH_CHECK(t.dim() == static_cast<int64_t>(f.size()), what, ": dataformats '", f,
              "' expects a ", f.size(), "-D tensor, got ", t.dim(), "-D with shape ", t.sizes());
  if (f == "HWC") return t.permute({2, 0, 1});
  if (f == "NHWC") return t.permute({0, 3, 1, 2});
  return t;
}

int64_t step_of(c10::optional<int64_t> global_step) { return global_step.value_or(0); }

std::optional<double> wall_of(c10::optional<double> walltime) {
  return walltime ? std::optional<double>(*walltime) : std::nullopt;
}

void summary_add_scalar(const SummaryPtr& self, const std::string& tag, double scalar_value,
                        c10::optional<int64_t> global_step, c10::optional<double> walltime) {
  utf8_errors([&] {
    self->writer->add_scalar(tag, scalar_value, step_of(global_step), wall_of(walltime));
  });
}

void summary_add_image(const SummaryPtr& self, const std::string& tag,
                       const torch::Tensor& img_tensor, c10::optional<int64_t> global_step,
                       c10::optional<double> walltime, const std::string& dataformats,
                       int64_t nrow, int64_t padding, bool normalize, const FloatList& value_range,
                       bool scale_each, double pad_value, const c10::optional<std::string>& format,
                       c10::optional<int64_t> quality, c10::optional<int64_t> compression_level,
                       bool grayscale,
                       const FloatList& pad_color, int64_t bit_depth, bool lossless,
                       const c10::optional<std::string>& compression, bool keep_values,
                       const c10::optional<std::string>& colormap,
                       const c10::optional<std::vector<int64_t>>& palette,
                   const c10::optional<std::vector<std::string>>& captions, int64_t caption_size) {
  // dataformats is the layout: the image arrives here as (B, )C, H, W.
  static const std::string chw = "CHW";
  const Grid g{nrow,      padding,   normalize, value_range, scale_each, pad_value,
               pad_color, grayscale, chw,       colormap,    palette,
               captions,  caption_size};
  const Encode e{format, quality, compression_level, bit_depth, lossless, compression, keep_values};
  utf8_errors([&] {
    self->writer->add_image(tag, from_dataformats(img_tensor, dataformats), step_of(global_step),
                            save_options(g, e, {}, "SummaryWriter.add_image"), wall_of(walltime));
  });
}

void summary_add_text(const SummaryPtr& self, const std::string& tag,
                      const std::string& text_string, c10::optional<int64_t> global_step,
                      c10::optional<double> walltime) {
  utf8_errors([&] {
    self->writer->add_text(tag, text_string, step_of(global_step), wall_of(walltime));
  });
}

void summary_add_histogram(const SummaryPtr& self, const std::string& tag,
                           const torch::Tensor& values, c10::optional<int64_t> global_step,
                           c10::optional<double> walltime) {
  utf8_errors([&] {
    self->writer->add_histogram(tag, values, step_of(global_step), wall_of(walltime));
  });
}

// The names and defaults of the methods' arguments after the image and the
// path (the operators' TI_GRID_ARGS, TI_ENCODE_ARGS and TI_FILE_ARGS).
#define TI_WRITER_ARGS(first, second)                                                          \
  torch::arg(first), torch::arg(second), torch::arg("nrow") = 8, torch::arg("padding") = 2,    \
      torch::arg("normalize") = false, torch::arg("value_range") = torch::arg::none(),         \
      torch::arg("scale_each") = false, torch::arg("pad_value") = 0.0,                         \
      torch::arg("format") = torch::arg::none(), torch::arg("quality") = torch::arg::none(),   \
      torch::arg("compression_level") = torch::arg::none(), torch::arg("grayscale") = false,  \
      torch::arg("pad_color") = torch::arg::none(), torch::arg("bit_depth") = 8,              \
      torch::arg("lossless") = false, torch::arg("compression") = torch::arg::none(),          \
      torch::arg("keep_values") = false,                                                       \
      torch::arg("create_directories") = false, torch::arg("durable") = false,                 \
      torch::arg("replace_read_only") = false, torch::arg("layout") = std::string("CHW"),         \
      torch::arg("colormap") = torch::arg::none(), torch::arg("palette") = torch::arg::none(),  \
      torch::arg("captions") = torch::arg::none(), torch::arg("caption_size") = 10

// ---- codecs ------------------------------------------------------------------

torch::Tensor encode_png_op(const torch::Tensor& image, c10::optional<int64_t> compression_level) {
  PngOptions o;
  if (compression_level) {
    o.compression_level(to_int(*compression_level, "encode_png", "compression_level"));
  }
  return torchimage::encode_png(image, o);
}

torch::Tensor encode_jpeg_op(const torch::Tensor& image, int64_t quality) {
  return torchimage::encode_jpeg(image,
                                 JpegOptions().quality(to_int(quality, "encode_jpeg", "quality")));
}

torch::Tensor decode_image_op(const torch::Tensor& data, int64_t max_pixels, bool keep_16_bit,
                              bool keep_indices) {
  return torchimage::decode_image(
      data,
      DecodeOptions().max_pixels(max_pixels).keep_16_bit(keep_16_bit).keep_indices(keep_indices));
}

torch::Tensor read_image_op(const std::string& path, int64_t max_pixels, bool keep_16_bit,
                            bool keep_indices) {
  return utf8_errors([&] {
    return torchimage::read_image(
        path,
        DecodeOptions().max_pixels(max_pixels).keep_16_bit(keep_16_bit).keep_indices(keep_indices));
  });
}

// The library's checks of the encoding options (torchimage::check_encode_options),
// for the Python package's Pillow formats: the same rules and messages as
// the formats torchimage encodes. `what` starts each message.
void check_encode_options_op(const std::string& what, c10::optional<int64_t> quality,
                             c10::optional<int64_t> compression_level, int64_t bit_depth) {
  EncodeOptions o;
  if (quality) o.quality(to_int(*quality, what.c_str(), "quality"));
  o.bit_depth(to_int(bit_depth, what.c_str(), "bit_depth"));
  if (compression_level) {
    o.compression_level(to_int(*compression_level, what.c_str(), "compression_level"));
  }
  torchimage::check_encode_options(o, what.c_str());
}

void write_file_op(const torch::Tensor& data, const std::string& path, bool create_directories,
                   bool durable, bool replace_read_only) {
  utf8_errors([&] {
    torchimage::write_file(path, data,
                           file_options({create_directories, durable, replace_read_only}));
  });
}

// The table of formats (torchimage::formats()): the names, in order...
std::vector<std::string> formats_op() {
  std::vector<std::string> names;
  for (const FormatInfo& f : torchimage::formats()) names.push_back(f.name);
  return names;
}

// ...and a row, by name or alias: (display_name, aliases, extensions,
// channels, bit_depths, max_side, lossy, animated, available, float_samples).
using FormatRow = std::tuple<std::string, std::vector<std::string>, std::vector<std::string>,
                             std::vector<int64_t>, std::vector<int64_t>, int64_t, bool, bool, bool,
                             bool>;
FormatRow format_info_op(const std::string& name) {
  const FormatInfo& f = torchimage::format_info(parse_format(name, "format_info"));
  return {f.display_name, f.aliases, f.extensions, f.channels,
          std::vector<int64_t>(f.bit_depths.begin(), f.bit_depths.end()), f.max_side, f.lossy,
          f.animated, f.available, f.float_samples};
}

std::string version_op() { return TORCHIMAGE_VERSION_STRING; }

// ---- drawing -------------------------------------------------------------------

// Colours reach the operators as RGB ints, three per colour (the Python
// package turns names, hex strings and tuples into them: a schema has no
// str-or-tuple union); `what` names the call.
std::vector<Color> rgb_colors(const std::vector<int64_t>& flat, const char* what) {
  TORCH_CHECK_VALUE(flat.size() % 3 == 0, what,
                    ": colors must hold three values (R, G, B) per colour, got ", flat.size(),
                    " values");
  std::vector<Color> colors;
  for (size_t i = 0; i < flat.size(); i += 3) colors.emplace_back(flat[i], flat[i + 1], flat[i + 2]);
  return colors;
}

torch::Tensor draw_bounding_boxes_op(const torch::Tensor& image, const torch::Tensor& boxes,
                                     const c10::optional<std::vector<std::string>>& labels,
                                     const c10::optional<std::vector<int64_t>>& colors,
                                     bool fill, int64_t width,
                                     const c10::optional<std::string>& font,
                                     c10::optional<int64_t> font_size) {
  DrawBoundingBoxesOptions o;
  o.fill(fill).width(width);
  if (labels) o.labels(*labels);
  if (colors) o.colors(rgb_colors(*colors, "draw_bounding_boxes"));
  if (font) o.font(*font);
  if (font_size) o.font_size(*font_size);
  return utf8_errors([&] { return torchimage::draw_bounding_boxes(image, boxes, o); });
}

torch::Tensor draw_segmentation_masks_op(const torch::Tensor& image, const torch::Tensor& masks,
                                         double alpha,
                                         const c10::optional<std::vector<int64_t>>& colors) {
  DrawSegmentationMasksOptions o;
  o.alpha(alpha);
  if (colors) o.colors(rgb_colors(*colors, "draw_segmentation_masks"));
  return torchimage::draw_segmentation_masks(image, masks, o);
}

torch::Tensor draw_keypoints_op(const torch::Tensor& image, const torch::Tensor& keypoints,
                                const c10::optional<std::vector<int64_t>>& connectivity,
                                const c10::optional<std::vector<int64_t>>& colors,
                                int64_t radius, int64_t width) {
  DrawKeypointsOptions o;
  o.radius(radius).width(width);
  if (connectivity) {
    TORCH_CHECK_VALUE(connectivity->size() % 2 == 0,
                      "draw_keypoints: connectivity must hold pairs of indices, got ",
                      connectivity->size(), " values");
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (size_t i = 0; i < connectivity->size(); i += 2) {
      pairs.emplace_back((*connectivity)[i], (*connectivity)[i + 1]);
    }
    o.connectivity(pairs);
  }
  if (colors) {
    const std::vector<Color> c = rgb_colors(*colors, "draw_keypoints");
    TORCH_CHECK_VALUE(c.size() == 1, "draw_keypoints: colors is one colour, got ", c.size());
    o.colors(c[0]);
  }
  return torchimage::draw_keypoints(image, keypoints, o);
}

std::vector<int64_t> color_rgb_op(const std::string& spec) {
  const auto rgb = torchimage::parse_color(spec);
  return {rgb[0], rgb[1], rgb[2]};
}

// Schema fragments. Arguments follow torchvision 0.14 and the C++ options;
// torchimage's extras come last so positional calls keep torchvision's order.
#define TI_GRID_ARGS                                                                        \
  "int nrow=8, int padding=2, bool normalize=False, float[]? value_range=None, "           \
  "bool scale_each=False, float pad_value=0."
#define TI_ENCODE_ARGS \
  "str? format=None, int? quality=None, int? compression_level=None, bool grayscale=False, " \
  "float[]? pad_color=None, int bit_depth=8, bool lossless=False, str? compression=None, "   \
  "bool keep_values=False"
#define TI_FILE_ARGS \
  "bool create_directories=False, bool durable=False, bool replace_read_only=False"
// The layout and colormap (last, so that positional calls keep the order above).
#define TI_VIEW_ARGS \
  "str layout=\"CHW\", str? colormap=None, int[]? palette=None, str[]? captions=None, " \
  "int caption_size=10"
#define TI_DECODE_ARGS "int max_pixels=1073741824, bool keep_16_bit=False, bool keep_indices=False"

}  // namespace
}  // namespace ops
}  // namespace torchimage

TORCH_LIBRARY(torchimage, m) {
  using namespace torchimage::ops;
  // make_grid returns its input's own storage for a batch of one without
  // normalize (as torchvision does: a squeezed view): declared as an alias.
  m.def("make_grid(Tensor(a) tensor, " TI_GRID_ARGS
        ", bool grayscale=False, float[]? pad_color=None, " TI_VIEW_ARGS ") -> Tensor(a)",
        &make_grid_op<torch::Tensor>);
  m.def("make_grid.list(Tensor[] tensor, " TI_GRID_ARGS
        ", bool grayscale=False, float[]? pad_color=None, " TI_VIEW_ARGS ") -> Tensor",
        &make_grid_op<TensorList>);

  // Writers have side effects the graph cannot see: CONSERVATIVE keeps
  // TorchScript from eliminating or reordering them.
  const auto side_effects = c10::AliasAnalysisKind::CONSERVATIVE;
  m.def(torch::schema("save_image(Tensor tensor, str fp, " TI_GRID_ARGS ", " TI_ENCODE_ARGS
                      ", " TI_FILE_ARGS ", " TI_VIEW_ARGS ") -> ()",
                      side_effects),
        &save_image_op<torch::Tensor>);
  m.def(torch::schema("save_image.list(Tensor[] tensor, str fp, " TI_GRID_ARGS ", " TI_ENCODE_ARGS
                      ", " TI_FILE_ARGS ", " TI_VIEW_ARGS ") -> ()",
                      side_effects),
        &save_image_op<TensorList>);
  m.def(torch::schema("save_animation(Tensor[] frames, str fp, float fps=4., int loop=0, "
                      TI_GRID_ARGS ", " TI_ENCODE_ARGS ", " TI_FILE_ARGS ", " TI_VIEW_ARGS
                      ") -> ()",
                      side_effects),
        &save_animation_op);
  m.def(torch::schema("save_images(Tensor batch, str pattern, " TI_GRID_ARGS ", " TI_ENCODE_ARGS
                      ", " TI_FILE_ARGS ", int start_index=0, int threads=0, " TI_VIEW_ARGS ") -> ()",
                      side_effects),
        &save_images_op<torch::Tensor>);
  m.def(torch::schema("save_images.list(Tensor[] batch, str pattern, " TI_GRID_ARGS ", "
                      TI_ENCODE_ARGS ", " TI_FILE_ARGS ", int start_index=0, int threads=0, " TI_VIEW_ARGS ") -> ()",
                      side_effects),
        &save_images_op<TensorList>);

  // torchimage::distributed's functions on the process group c10d registered
  // under group_name (Python's torch.distributed, torch >= 2.2): every rank
  // calls with its own samples. gather_batch returns the concatenation on
  // root, None elsewhere.
  m.def(torch::schema("distributed_gather_batch(str group_name, Tensor local, int root=0) -> Tensor?",
                      side_effects),
        &distributed_gather_batch_op);
  m.def(torch::schema("distributed_save_image(str group_name, Tensor tensor, str fp, " TI_GRID_ARGS
                      ", " TI_ENCODE_ARGS ", " TI_FILE_ARGS ", " TI_VIEW_ARGS ", int root=0) -> ()",
                      side_effects),
        &distributed_save_image_op);
  m.def(torch::schema("distributed_save_images(str group_name, Tensor batch, str pattern, "
                      TI_GRID_ARGS ", " TI_ENCODE_ARGS ", " TI_FILE_ARGS
                      ", int start_index=0, int threads=0, " TI_VIEW_ARGS ") -> ()",
                      side_effects),
        &distributed_save_images_op);

  // What save_image would write, as a 1-D uint8 tensor of file bytes (PNG
  // unless `format` says otherwise).
  m.def("encode_image(Tensor tensor, " TI_GRID_ARGS ", " TI_ENCODE_ARGS ", " TI_VIEW_ARGS ") -> Tensor",
        &encode_image_op<torch::Tensor>);
  m.def("encode_image.list(Tensor[] tensor, " TI_GRID_ARGS ", " TI_ENCODE_ARGS ", " TI_VIEW_ARGS ") -> Tensor",
        &encode_image_op<TensorList>);
  // The uint8 (H, W, C) pixels save_image would encode (uint8 input with one
  // channel may come back as a view of it).
  m.def("to_pixels(Tensor(a) tensor, " TI_GRID_ARGS
        ", bool grayscale=False, float[]? pad_color=None, " TI_VIEW_ARGS ") -> Tensor(a)",
        &to_pixels_op<torch::Tensor>);
  m.def("to_pixels.list(Tensor[] tensor, " TI_GRID_ARGS
        ", bool grayscale=False, float[]? pad_color=None, " TI_VIEW_ARGS ") -> Tensor",
        &to_pixels_op<TensorList>);

  m.class_<Job>("ImageWriterJob").def("wait", &Job::wait).def("done", &Job::done);

  m.class_<Writer>("ImageWriter")
      .def(torch::init<int64_t, int64_t>(), "",
           {torch::arg("threads") = 0, torch::arg("max_pending_bytes") = int64_t{256} << 20})
      .def("save_image", &writer_save_image<torch::Tensor>, "", {TI_WRITER_ARGS("tensor", "fp")})
      .def("save_images", &writer_save_images<torch::Tensor>, "",
           {TI_WRITER_ARGS("batch", "pattern"), torch::arg("start_index") = 0})
      // Methods cannot be overloaded: the list forms have names of their own.
      .def("save_image_list", &writer_save_image<TensorList>, "",
           {TI_WRITER_ARGS("tensor", "fp")})
      .def("save_images_list", &writer_save_images<TensorList>, "",
           {TI_WRITER_ARGS("batch", "pattern"), torch::arg("start_index") = 0})
      .def("flush", [](const WriterPtr& self) { utf8_errors([&] { self->writer.flush(); }); })
      .def("pending", [](const WriterPtr& self) { return self->writer.pending(); })
      // A module holding a writer survives torch.jit.save: the loaded module
      // gets a new, idle writer of the same configuration.
      .def_pickle(
          [](const WriterPtr& self) {
            return std::vector<int64_t>{self->threads, self->max_pending_bytes};
          },
          [](std::vector<int64_t> state) {
            TORCH_CHECK(state.size() == 2,
                        "ImageWriter: a saved writer holds (threads, max_pending_bytes), got ",
                        state.size(), " values");
            return c10::make_intrusive<Writer>(state[0], state[1]);
          });

  m.class_<Summary>("SummaryWriter")
      .def(torch::init<std::string, int64_t, int64_t, double, bool>(), "",
           {torch::arg("log_dir"), torch::arg("threads") = 0,
            torch::arg("max_pending_bytes") = int64_t{256} << 20,
            torch::arg("flush_every") = 120.0, torch::arg("durable") = false})
      .def("add_scalar", &summary_add_scalar, "",
           {torch::arg("tag"), torch::arg("scalar_value"),
            torch::arg("global_step") = torch::arg::none(),
            torch::arg("walltime") = torch::arg::none()})
      .def("add_image", &summary_add_image, "",
           {torch::arg("tag"), torch::arg("img_tensor"),
            torch::arg("global_step") = torch::arg::none(),
            torch::arg("walltime") = torch::arg::none(),
            torch::arg("dataformats") = std::string("CHW"), torch::arg("nrow") = 8,
            torch::arg("padding") = 2, torch::arg("normalize") = false,
            torch::arg("value_range") = torch::arg::none(), torch::arg("scale_each") = false,
            torch::arg("pad_value") = 0.0, torch::arg("format") = torch::arg::none(),
            torch::arg("quality") = torch::arg::none(),
            torch::arg("compression_level") = torch::arg::none(),
            torch::arg("grayscale") = false, torch::arg("pad_color") = torch::arg::none(),
            torch::arg("bit_depth") = 8, torch::arg("lossless") = false,
            torch::arg("compression") = torch::arg::none(), torch::arg("keep_values") = false,
            torch::arg("colormap") = torch::arg::none(),
            torch::arg("palette") = torch::arg::none(),
            torch::arg("captions") = torch::arg::none(), torch::arg("caption_size") = 10})
      .def("add_text", &summary_add_text, "",
           {torch::arg("tag"), torch::arg("text_string"),
            torch::arg("global_step") = torch::arg::none(),
            torch::arg("walltime") = torch::arg::none()})
      .def("add_histogram", &summary_add_histogram, "",
           {torch::arg("tag"), torch::arg("values"),
            torch::arg("global_step") = torch::arg::none(),
            torch::arg("walltime") = torch::arg::none()})
      .def("flush", [](const SummaryPtr& self) { utf8_errors([&] { self->writer->flush(); }); })
      .def("pending", [](const SummaryPtr& self) { return self->writer->pending(); })
      .def("get_logdir", [](const SummaryPtr& self) { return self->writer->log_dir(); })
      .def("file_path", [](const SummaryPtr& self) { return self->writer->file_path(); })
      .def_pickle(
          [](const SummaryPtr& self) {
            return SummaryState(self->log_dir, self->threads, self->max_pending_bytes,
                                self->flush_every, self->durable);
          },
          [](SummaryState state) {
            return c10::make_intrusive<Summary>(std::get<0>(state), std::get<1>(state),
                                                std::get<2>(state), std::get<3>(state),
                                                std::get<4>(state));
          });

  m.def("encode_png(Tensor image, int? compression_level=None) -> Tensor", &encode_png_op);
  m.def("encode_jpeg(Tensor image, int quality=75) -> Tensor", &encode_jpeg_op);
  m.def("decode_image(Tensor data, " TI_DECODE_ARGS ") -> Tensor", &decode_image_op);
  m.def("read_image(str path, " TI_DECODE_ARGS ") -> Tensor", &read_image_op);
  m.def("check_encode_options(str what, int? quality=None, int? compression_level=None, "
        "int bit_depth=8) -> ()",
        &check_encode_options_op);
  // Bytes (1-D uint8) written atomically, as every file of torchimage's
  // (the Python package writes the formats Pillow encodes through it).
  m.def(torch::schema("write_file(Tensor data, str path, " TI_FILE_ARGS ") -> ()", side_effects),
        &write_file_op);
  m.def("formats() -> str[]", &formats_op);
  m.def("format_info(str name) -> (str, str[], str[], int[], int[], int, bool, bool, bool, bool)",
        &format_info_op);
  m.def("version() -> str", &version_op);
  m.def("colormaps() -> str[]", []() { return torchimage::colormaps(); });
  m.def("voc_palette() -> int[]", []() {
    std::vector<int64_t> flat;
    for (const auto& c : torchimage::voc_palette()) flat.insert(flat.end(), c.begin(), c.end());
    return flat;
  });

  // torchvision.utils' drawing functions; colours as flat RGB ints (three a
  // colour), connectivity as flat index pairs. With no box or mask, the
  // image itself is returned (as torchvision does): declared as an alias.
  m.def("draw_bounding_boxes(Tensor(a) image, Tensor boxes, str[]? labels=None, int[]? colors=None, "
        "bool fill=False, int width=1, str? font=None, int? font_size=None) -> Tensor(a)",
        &draw_bounding_boxes_op);
  m.def("draw_segmentation_masks(Tensor(a) image, Tensor masks, float alpha=0.8, "
        "int[]? colors=None) -> Tensor(a)",
        &draw_segmentation_masks_op);
  m.def("draw_keypoints(Tensor image, Tensor keypoints, int[]? connectivity=None, "
        "int[]? colors=None, int radius=2, int width=3) -> Tensor",
        &draw_keypoints_op);
  m.def("flow_to_image(Tensor flow) -> Tensor", [](const torch::Tensor& flow) {
    return torchimage::flow_to_image(flow);
  });
  m.def("color_rgb(str color) -> int[]", &color_rgb_op);
}

/// A symbol a C++ program can call to make sure this library is loaded (and
/// so its operators registered) without `--no-as-needed`.
extern "C" TORCHIMAGE_OPS_API const char* torchimage_ops_version() {
  return TORCHIMAGE_VERSION_STRING;
}
