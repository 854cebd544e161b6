// torchimage: the command-line tool.
//
//   torchimage save INPUT OUTPUT [options]
//
// does exactly torchimage::save_image(load_tensor(INPUT), OUTPUT, options);
//
//   torchimage save-each INPUT PATTERN [options]
//
// does torchimage::save_images(load_tensor(INPUT), PATTERN, options, ...):
// one file per sample, with a progress bar on a terminal.
//
//   torchimage tensorboard INPUT LOGDIR --tag T [--step S] [options]
//
// does torchimage::SummaryWriter(LOGDIR).add_image(T, load_tensor(INPUT), S,
// options): one image event in a new event file of LOGDIR.
//
//   torchimage animate OUTPUT FRAME... [--fps N] [--loop N] [options]
//
// does torchimage::save_animation({load_tensor(FRAME)...}, OUTPUT, {fps, loop},
// options): APNG (.png, .apng), animated WebP or GIF.
// Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <limits>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/version.h>

#include <torchimage/torchimage.h>

#include "tensor_loader.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

/// A command line that cannot be parsed: exit status 2. `hint` names the help
/// that describes the right usage.
struct UsageError : std::runtime_error {
  UsageError(const std::string& message, const char* hint = "torchimage save --help")
      : std::runtime_error(message), hint(hint) {}
  const char* hint;
};

// ---------------------------------------------------------------------------
// Values.

int64_t parse_int(const std::string& option, const std::string& text,
                  int64_t low = std::numeric_limits<int64_t>::min(),
                  int64_t high = std::numeric_limits<int64_t>::max()) {
  const bool plausible = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) ||
                                           text[0] == '-' || text[0] == '+');
  char* end = nullptr;
  errno = 0;
  const long long value = plausible ? std::strtoll(text.c_str(), &end, 10) : 0;
  if (!plausible || end != text.c_str() + text.size()) {
    throw UsageError(option + ": expected an integer, got '" + text + "'");
  }
  if (errno == ERANGE || value < low || value > high) {
    throw UsageError(option + ": integer out of range: '" + text + "'");
  }
  return value;
}

double parse_number(const std::string& option, const std::string& text, bool finite = true) {
  const bool plausible = !text.empty() && !std::isspace(static_cast<unsigned char>(text[0]));
  char* end = nullptr;
  const double value = plausible ? std::strtod(text.c_str(), &end) : 0.0;
  if (!plausible || end != text.c_str() + text.size()) {
    throw UsageError(option + ": expected a number, got '" + text + "'");
  }
  if (finite && !std::isfinite(value)) {
    throw UsageError(option + ": expected a finite number, got '" + text + "'");
  }
  return value;
}

// An int option with the range the library accepts: a value outside it is
// a usage error (exit 2), said before INPUT is read.
int64_t parse_in_range(const std::string& option, const std::string& text, int64_t low,
                       int64_t high) {
  const int64_t value = parse_int(option, text);
  if (value < low || value > high) {
    std::string range = high == std::numeric_limits<int64_t>::max()
                            ? ">= " + std::to_string(low)
                            : std::to_string(low) + "-" + std::to_string(high);
    throw UsageError(option + ": expected " + range + ", got " + text);
  }
  return value;
}

// "0.5" or a colour "1,0,0".
std::vector<double> parse_numbers(const std::string& option, const std::string& text) {
  std::vector<double> values;
  size_t begin = 0;
  while (true) {
    const size_t comma = text.find(',', begin);
    values.push_back(parse_number(option, text.substr(begin, comma - begin)));
    if (comma == std::string::npos) return values;
    begin = comma + 1;
  }
}

// ---------------------------------------------------------------------------
// The options of `save` and `save-each`, one row each: the parsers and the
// help come from here.

// "png|jpeg": the names of torchimage's table of formats.
const char* format_names() {
  static const std::string names = [] {
    std::string s;
    for (const torchimage::FormatInfo& f : torchimage::formats()) {
      s += (s.empty() ? "" : "|") + f.name;
    }
    return s;
  }();
  return names.c_str();
}

// "8|16" and "bits per sample: 16 for PNG or TIFF": from the table.
const std::vector<int>& all_depths() {
  static const std::vector<int> depths = [] {
    std::vector<int> d;
    for (const torchimage::FormatInfo& f : torchimage::formats()) {
      for (const int b : f.bit_depths) {
        if (std::find(d.begin(), d.end(), b) == d.end()) d.push_back(b);
      }
    }
    std::sort(d.begin(), d.end());
    return d;
  }();
  return depths;
}

const char* depth_names() {
  static const std::string names = [] {
    std::string s;
    for (const int d : all_depths()) s += (s.empty() ? "" : "|") + std::to_string(d);
    return s;
  }();
  return names.c_str();
}

const char* depth_help() {
  static const std::string help = [] {
    std::string s = "bits per sample (default 8)";
    for (const int d : all_depths()) {
      if (d == 8) continue;
      std::string names;
      for (const torchimage::FormatInfo& f : torchimage::formats()) {
        if (std::find(f.bit_depths.begin(), f.bit_depths.end(), d) == f.bit_depths.end()) continue;
        names += (names.empty() ? "" : " or ") + f.display_name;
      }
      s += "; " + std::to_string(d) + " for " + names;
    }
    return s;
  }();
  return help.c_str();
}

using Values = std::vector<std::string>;
using torchimage::SaveImageOptions;

/// Everything a command line sets: save_image's options and save-each's own.
struct CommandOptions {
  SaveImageOptions save;
  std::string tag;  // tensorboard's
  int64_t step = 0;
  bool durable = false;
  int64_t start_index = 0;
  int threads = 0;
  bool quiet = false;
  torchimage::AnimationOptions animation;  // animate's
};

/// The commands an option belongs to (a bit mask).
enum Command : unsigned {
  kSave = 1u,
  kSaveEach = 2u,
  kTensorboard = 4u,
  kAnimate = 8u,
  kBoth = kSave | kSaveEach | kAnimate,                // the file options
  kImage = kSave | kSaveEach | kTensorboard | kAnimate  // the grid and encoding options
};

struct OptionSpec {
  const char* name;
  const char* metavar;  // the values' names, nullptr for a flag
  int nargs;
  const char* help;
  unsigned commands;
  void (*apply)(CommandOptions& o, const std::string& name, const Values& v);
};

const OptionSpec kOptions[] = {
    {"--nrow", "N", 1, "images per row of the grid (default 8)",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.save.nrow(parse_in_range(n, v[0], 1, std::numeric_limits<int64_t>::max()));
     }},
    {"--padding", "P", 1, "pixels of padding around and between images (default 2)",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.save.padding(parse_in_range(n, v[0], 0, std::numeric_limits<int64_t>::max()));
     }},
    {"--normalize", nullptr, 0, "map the value range (default: min to max) onto [0, 1]",
     kImage,
     [](CommandOptions& o, const std::string&, const Values&) { o.save.normalize(true); }},
    {"--value-range", "LOW HIGH", 2,
     "the range --normalize maps onto [0, 1] (ignored without --normalize)",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       // Any number here; checked (check_value_range) only with --normalize,
       // as the library and torchvision ignore value_range without it.
       o.save.value_range(torchimage::ValueRange{parse_number(n, v[0], /*finite=*/false),
                                                 parse_number(n, v[1], /*finite=*/false)});
     }},
    {"--scale-each", nullptr, 0, "normalize each image on its own range",
     kImage,
     [](CommandOptions& o, const std::string&, const Values&) { o.save.scale_each(true); }},
    {"--pad-value", "V", 1, "padding value, or one per channel: 1,0,0 (default 0)",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       std::vector<double> values = parse_numbers(n, v[0]);
       if (values.size() == 1) {
         o.save.pad_value(values[0]);
       } else {
         o.save.pad_value(std::move(values));
       }
     }},
    {"--format", format_names(), 1, "file format (default: from the output's extension)",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       try {
         o.save.format(torchimage::parse_format(v[0], n.c_str()));
       } catch (const c10::Error& e) {
         throw UsageError(e.what_without_backtrace());
       }
     }},
    {"--quality", "Q", 1, "quality of the lossy formats 1-100 (default: JPEG 75, WebP 80)",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.save.quality(static_cast<int>(parse_in_range(n, v[0], 1, 100)));
     }},
    {"--compression-level", "L", 1, "PNG zlib level 0-9, as Pillow's (default: fast)",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.save.compression_level(static_cast<int>(parse_in_range(n, v[0], 0, 9)));
     }},
    {"--bit-depth", depth_names(), 1, depth_help(),
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       const int64_t bits = parse_in_range(n, v[0], 1, 64);
       const auto& d = all_depths();
       if (std::find(d.begin(), d.end(), bits) == d.end()) {
         std::string names = depth_names();
         std::replace(names.begin(), names.end(), '|', ' ');
         throw UsageError(n + ": expected one of " + names + ", got " + v[0]);
       }
       o.save.bit_depth(static_cast<int>(bits));
     }},
    {"--keep-values", nullptr, 0, "write the grid's values as float32 samples (TIFF)",
     kBoth,
     [](CommandOptions& o, const std::string&, const Values&) { o.save.keep_values(true); }},
    {"--lossless", nullptr, 0, "lossless WebP",
     kBoth,
     [](CommandOptions& o, const std::string&, const Values&) {
       o.save.webp(torchimage::WebpOptions(o.save.webp()).lossless(true));
     }},
    {"--tiff-compression", "none|deflate|lzw|zstd", 1, "TIFF compression (default none)",
     kBoth,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       try {
         o.save.tiff(torchimage::TiffOptions().compression(
             torchimage::parse_tiff_compression(v[0], n.c_str())));
       } catch (const c10::Error& e) {
         throw UsageError(e.what_without_backtrace());
       }
     }},
    {"--grayscale", nullptr, 0, "keep one-channel images gray instead of RGB",
     kImage,
     [](CommandOptions& o, const std::string&, const Values&) { o.save.grayscale(true); }},
    {"--layout", "CHW|HWC|NHWC|HW", 1,
     "how the tensor's dimensions are ordered (default CHW; HWC/NHWC: channels last)",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       try {
         o.save.layout(torchimage::parse_layout(v[0], n.c_str()));
       } catch (const c10::Error& e) {
         throw UsageError(e.what_without_backtrace());
       }
     }},
    {"--colormap", "NAME", 1,
     "colormap for one-channel images: viridis, magma, inferno, plasma, cividis, turbo, gray, jet",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       const auto names = torchimage::colormaps();
       if (std::find(names.begin(), names.end(), v[0]) == names.end()) {
         std::string list;
         for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
         throw UsageError(n + ": unknown colormap '" + v[0] + "' (expected one of " + list + ")");
       }
       o.save.colormap(v[0]);
     }},
    {"--palette", "voc|FILE", 1,
     "write INPUT's integer class indices in a palette's colours (PNG: indexed colour): the "
     "Pascal VOC palette, or a FILE of one colour a line (a name, #RRGGBB or rgb(r, g, b))",
     kImage,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       if (v[0] == "voc") {
         o.save.palette(torchimage::voc_palette());
         return;
       }
       std::ifstream file(v[0]);
       if (!file) throw UsageError(n + ": cannot read the palette file '" + v[0] + "'");
       torchimage::Palette palette;
       std::string line;
       while (std::getline(file, line)) {
         const auto begin = line.find_first_not_of(" \t\r");
         if (begin == std::string::npos) continue;
         const auto end = line.find_last_not_of(" \t\r");
         try {
           palette.push_back(torchimage::parse_color(line.substr(begin, end - begin + 1)));
         } catch (const c10::Error& e) {
           throw UsageError(n + ": " + e.what_without_backtrace());
         }
       }
       if (palette.empty() || palette.size() > 256) {
         throw UsageError(n + ": a palette holds 1 to 256 colours, '" + v[0] + "' has " +
                          std::to_string(palette.size()));
       }
       o.save.palette(std::move(palette));
     }},
    {"--caption", "TEXT", 1,
     "a caption under the next image of the grid (repeat it: one per image, in order; \"\" for "
     "none)",
     kSave | kTensorboard,
     [](CommandOptions& o, const std::string&, const Values& v) {
       std::vector<std::string> captions = o.save.captions();
       captions.push_back(v[0]);
       o.save.captions(std::move(captions));
     }},
    {"--caption-size", "PX", 1, "the captions' font size in pixels (default 10)",
     kSave | kTensorboard,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.save.caption_size(parse_in_range(n, v[0], 1, 1024));
     }},
    {"--create-directories", nullptr, 0, "create missing parent directories of the output",
     kBoth,
     [](CommandOptions& o, const std::string&, const Values&) { o.save.create_directories(true); }},
    {"--create-dirs", nullptr, 0, "the same as --create-directories",
     kBoth,
     [](CommandOptions& o, const std::string&, const Values&) { o.save.create_directories(true); }},
    {"--replace-read-only", nullptr, 0, "replace an existing file this user cannot write",
     kBoth,
     [](CommandOptions& o, const std::string&, const Values&) { o.save.replace_read_only(true); }},
    {"--start-index", "K", 1, "number of the first sample's file (default 0)", kSaveEach,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.start_index = parse_in_range(n, v[0], 0, std::numeric_limits<int64_t>::max());
     }},
    {"--threads", "N", 1, "encoding threads (default 0: one per core)", kSaveEach,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.threads = static_cast<int>(parse_in_range(n, v[0], 0, 4096));
     }},
    {"--tag", "T", 1, "the image's tag in TensorBoard (required)", kTensorboard,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       if (v[0].empty()) throw UsageError(n + ": expected a non-empty tag");
       o.tag = v[0];
     }},
    {"--step", "S", 1, "the image's step (default 0)", kTensorboard,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.step = parse_in_range(n, v[0], 0, std::numeric_limits<int64_t>::max());
     }},
    {"--durable", nullptr, 0, "fsync the event file and its folder before exiting",
     kTensorboard, [](CommandOptions& o, const std::string&, const Values&) { o.durable = true; }},
    {"--fps", "N", 1, "frames a second, > 0 (default 4: 250 ms a frame)", kAnimate,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       const double fps = parse_number(n, v[0]);
       if (!(fps > 0)) throw UsageError(n + ": expected a positive number, got " + v[0]);
       o.animation.fps(fps);
     }},
    {"--loop", "N", 1, "times the animation plays, 0-65535 (default 0: forever)", kAnimate,
     [](CommandOptions& o, const std::string& n, const Values& v) {
       o.animation.loop(static_cast<int>(parse_in_range(n, v[0], 0, 65535)));
     }},
    {"--quiet", nullptr, 0, "print nothing but errors (no progress, no summary)", kSaveEach,
     [](CommandOptions& o, const std::string&, const Values&) { o.quiet = true; }},
};

const OptionSpec* find_option(const std::string& name, Command command) {
  for (const OptionSpec& spec : kOptions) {
    if (name == spec.name && (spec.commands & command) != 0) return &spec;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Help.

void print_main_help() {
  std::cout << "Usage: torchimage <command> [options]\n"
               "\n"
               "torchvision.utils.make_grid / save_image for LibTorch, exact to the pixel.\n"
               "\n"
               "Commands:\n"
               "  save INPUT OUTPUT [options]         write the tensor in INPUT as an image grid\n"
               "  save-each INPUT PATTERN [options]   write one file per sample of a batch\n"
               "  tensorboard INPUT LOGDIR [options]  log the tensor's image as a TensorBoard event\n"
               "  animate OUTPUT FRAME... [options]   write one animation frame per FRAME\n"
               "  help [COMMAND]                      show the help of torchimage or of COMMAND\n"
               "\n"
               "Options:\n"
               "  -h, --help                          show this help\n"
               "  --version                           show the version\n"
               "\n"
               "Run 'torchimage save --help', 'torchimage save-each --help',\n"
               "'torchimage tensorboard --help' or 'torchimage animate --help' for the\n"
               "options of each command.\n";
}

void print_options(Command command) {
  const auto row = [](std::string left, const char* help) {
    left.resize(std::max<size_t>(left.size() + 2, 32), ' ');
    std::cout << left << help << "\n";
  };
  for (const OptionSpec& spec : kOptions) {
    if ((spec.commands & command) == 0) continue;
    std::string left = std::string("  ") + spec.name;
    if (spec.metavar != nullptr) left += std::string(" ") + spec.metavar;
    row(left, spec.help);
  }
  row("  --", "end of options (for file names starting with '-')");
  row("  -h, --help", "show this help");
  std::cout << "\n"
               "Each option is the library's of the same name (--create-directories is\n"
               "create_directories): error messages name them so.\n"
               "Exit status: 0 success, 1 error, 2 usage error.\n";
}

const char kInputHelp[] =
    "INPUT: a tensor saved by Python's torch.save or C++'s torch::pickle_save or\n"
    "torch::save, or a NumPy .npy file (float16/32/64, int8/16/32/64, uint8, uint16\n"
    "or bool). uint16 (torch 2.x's torch.uint16, NumPy's <u2) is written with\n"
    "--bit-depth 16; integers are class indices for --palette.\n";

void print_save_help() {
  std::cout << "Usage: torchimage save INPUT OUTPUT [options]\n"
               "\n"
               "Writes the tensor in INPUT to OUTPUT exactly as torchvision.utils.save_image\n"
               "(and torchimage::save_image) does: make_grid, quantize to 8 bits, encode.\n"
               "\n"
            << kInputHelp
            << "Shapes (H, W), (C, H, W) or (B, C, H, W). OUTPUT is written atomically;\n"
               "'-' writes to standard output (PNG unless --format says otherwise).\n"
               "\n"
               "Options:\n";
  print_options(kSave);
}

void print_animate_help() {
  std::cout << "Usage: torchimage animate OUTPUT FRAME... [options]\n"
               "\n"
               "Writes an animation of one frame per FRAME, each frame the grid that\n"
               "'torchimage save FRAME ...' would write with the same options. OUTPUT's\n"
               "extension (or --format) picks the format: .png or .apng (APNG), .webp, .gif.\n"
               "Every frame must give a grid of the first one's size and channels.\n"
               "OUTPUT is written atomically, once.\n"
               "\n"
            << kInputHelp << "\n"
            << "Options:\n";
  print_options(kAnimate);
}

void print_save_each_help() {
  std::cout << "Usage: torchimage save-each INPUT PATTERN [options]\n"
               "\n"
               "Writes one file per sample of the (B, C, H, W) batch in INPUT: file i holds\n"
               "exactly what torchvision.utils.save_image(batch[i], path) writes (and\n"
               "torchimage::save_images does), encoded on all cores.\n"
               "\n"
            << kInputHelp
            << "PATTERN: the path of each file, where {index} becomes the sample's number\n"
               "and {index:05} the number zero-padded to 5 digits, e.g. out/{index:05}.png;\n"
               "the number is --start-index plus the sample's position in the batch. {{ and\n"
               "}} are literal braces; any other brace is an error (an unknown field such as\n"
               "{epoch}, an unclosed '{'). A PATTERN without a placeholder is an error unless\n"
               "the batch has one sample. (The grammar: include/torchimage/save_images.h.)\n"
               "Each file is written atomically; the grid options (--nrow, --padding,\n"
               "--pad-value) do nothing to a single image and are accepted for symmetry.\n"
               "\n"
               "On a terminal a progress bar shows the images written and images/s; at the\n"
               "end one line says how many images were written, where and how fast. Nothing\n"
               "is written when INPUT or the options are wrong; if files cannot be written,\n"
               "the first failure is reported (files already written are kept).\n"
               "\n"
               "Options:\n";
  print_options(kSaveEach);
}

void print_tensorboard_help() {
  std::cout << "Usage: torchimage tensorboard INPUT LOGDIR --tag T [--step S] [options]\n"
               "\n"
               "Logs the tensor in INPUT as one image event for TensorBoard, as\n"
               "torchimage::SummaryWriter(LOGDIR).add_image(T, tensor, S, options) does:\n"
               "LOGDIR (and its parents) is created, and a new event file\n"
               "LOGDIR/events.out.tfevents.<seconds>.<host>.<pid>.<n> holds the version\n"
               "record and the image: the PNG (or JPEG, --format jpeg) that save_image\n"
               "writes. Run it again to log more steps; TensorBoard reads every file of\n"
               "the folder (tensorboard --logdir LOGDIR).\n"
               "\n"
            << kInputHelp
            << "Shapes (H, W), (C, H, W) or (B, C, H, W) (a batch is logged as its grid).\n"
               "\n"
               "Options:\n";
  print_options(kTensorboard);
}

// ---------------------------------------------------------------------------
// Command lines.

/// --value-range counts only with --normalize (torchvision's rule, and the
/// library's): then it must be finite with LOW <= HIGH, said with the
/// library's words before INPUT is read; without --normalize it is ignored.
void check_value_range(const SaveImageOptions& o, const char* hint) {
  if (!o.normalize() || !o.value_range()) return;
  const torchimage::ValueRange& r = *o.value_range();
  if (!std::isfinite(r.low) || !std::isfinite(r.high)) {
    throw UsageError(c10::str("--value-range: value_range must be finite, got (", r.low, ", ",
                              r.high, ")"),
                     hint);
  }
  if (r.low > r.high) {
    throw UsageError(c10::str("--value-range: value_range must have low <= high, got (", r.low,
                              ", ", r.high, ")"),
                     hint);
  }
}

/// Parses `args` (the command's arguments) into `options` and `positional`.
/// Returns false when --help was asked for (and printed).
bool parse_command_line(const std::vector<std::string>& args, Command command,
                        CommandOptions& options, std::vector<std::string>& positional) {
  const char* hint = command == kSave       ? "torchimage save --help"
                     : command == kSaveEach ? "torchimage save-each --help"
                     : command == kAnimate  ? "torchimage animate --help"
                                            : "torchimage tensorboard --help";
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg == "-" || arg.empty() || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      if (command == kSave) {
        print_save_help();
      } else if (command == kSaveEach) {
        print_save_each_help();
      } else if (command == kAnimate) {
        print_animate_help();
      } else {
        print_tensorboard_help();
      }
      return false;
    }
    // --name or --name=value
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const OptionSpec* spec = arg.compare(0, 2, "--") == 0 ? find_option(name, command) : nullptr;
    if (spec == nullptr) throw UsageError("unknown option '" + name + "'", hint);
    Values values;
    if (eq != std::string::npos) {
      if (spec->nargs != 1) {
        throw UsageError(spec->nargs == 0
                             ? "option " + name + " takes no value"
                             : "option " + name + " takes " + std::to_string(spec->nargs) +
                                   " values: " + name + " " + spec->metavar,
                         hint);
      }
      values.push_back(arg.substr(eq + 1));
    } else {
      if (args.size() - 1 - i < static_cast<size_t>(spec->nargs)) {
        throw UsageError("option " + name + " expects " + spec->metavar, hint);
      }
      values.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    args.begin() + static_cast<std::ptrdiff_t>(i) + 1 + spec->nargs);
      i += static_cast<size_t>(spec->nargs);
    }
    try {
      spec->apply(options, name, values);
    } catch (UsageError& e) {
      throw UsageError(e.what(), hint);
    }
  }
  check_value_range(options.save, hint);
  return true;
}

// ---------------------------------------------------------------------------
// Commands.

int run_save(const std::vector<std::string>& args) {
  CommandOptions options;
  std::vector<std::string> positional;
  if (!parse_command_line(args, kSave, options, positional)) return 0;
  if (positional.size() < 2) {
    throw UsageError(positional.empty() ? "save: missing INPUT and OUTPUT"
                                        : "save: missing OUTPUT");
  }
  if (positional.size() > 2) throw UsageError("save: unexpected argument '" + positional[2] + "'");

  const std::string& output = positional[1];
  // "-": standard output, as Unix tools take it (never a terminal).
  const bool to_stdout = output == "-";
  if (to_stdout && isatty(STDOUT_FILENO) == 1) {
    throw UsageError("save: OUTPUT '-' is standard output, which is a terminal; redirect it "
                     "(torchimage save INPUT - > out.png)");
  }
  const torch::Tensor tensor = torchimage::cli::load_tensor(positional[0]);
  if (!to_stdout) {
    torchimage::save_image(tensor, output, options.save);
    return 0;
  }
  // Written as /dev/stdout is (the library's file sink): through descriptor
  // 1, whole, a closed pipe an error rather than SIGPIPE.
  SaveImageOptions encode = options.save;
  if (!encode.format()) encode.format(torchimage::ImageFormat::PNG);
  torchimage::save_image(tensor, "/dev/fd/1", encode);
  return 0;
}

int run_animate(const std::vector<std::string>& args) {
  CommandOptions options;
  std::vector<std::string> positional;
  if (!parse_command_line(args, kAnimate, options, positional)) return 0;
  const char* hint = "torchimage animate --help";
  if (positional.size() < 2) {
    throw UsageError(positional.empty() ? "animate: missing OUTPUT and FRAME"
                                        : "animate: missing FRAME",
                     hint);
  }
  if (options.save.format()) options.animation.format(options.save.format());
  std::vector<torch::Tensor> frames;
  for (size_t i = 1; i < positional.size(); ++i) {
    frames.push_back(torchimage::cli::load_tensor(positional[i]));
  }
  torchimage::save_animation(frames, positional[0], options.animation, options.save);
  return 0;
}

int run_tensorboard(const std::vector<std::string>& args) {
  CommandOptions options;
  std::vector<std::string> positional;
  if (!parse_command_line(args, kTensorboard, options, positional)) return 0;
  const char* hint = "torchimage tensorboard --help";
  if (positional.size() < 2) {
    throw UsageError(positional.empty() ? "tensorboard: missing INPUT and LOGDIR"
                                        : "tensorboard: missing LOGDIR",
                     hint);
  }
  if (positional.size() > 2) {
    throw UsageError("tensorboard: unexpected argument '" + positional[2] + "'", hint);
  }
  if (options.tag.empty()) throw UsageError("tensorboard: missing --tag T", hint);
  const torch::Tensor tensor = torchimage::cli::load_tensor(positional[0]);
  torchimage::SummaryWriter writer(positional[1],
                                   torchimage::SummaryWriterOptions().threads(1).durable(
                                       options.durable));
  writer.add_image(options.tag, tensor, options.step, options.save);
  writer.flush();
  return 0;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// "12345" images/s, or "-" before there is a rate to tell.
std::string rate_text(int64_t images, double seconds) {
  if (images <= 0 || seconds <= 0.0) return "-";
  return std::to_string(static_cast<int64_t>(std::llround(static_cast<double>(images) / seconds)));
}

/// The progress bar of save-each, drawn in place on the terminal (stdout):
///   [##########..........]  25000/50000  50%  21645 images/s
class ProgressBar {
 public:
  explicit ProgressBar(int64_t total) : total_(total) {}

  void draw(int64_t done, double seconds) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * done / std::max<int64_t>(total_, 1));
    const int percent = static_cast<int>(100 * done / std::max<int64_t>(total_, 1));
    std::ostringstream line;
    line << "\r[" << std::string(static_cast<size_t>(filled), '#')
         << std::string(static_cast<size_t>(kWidth - filled), '.') << "]  " << done << "/"
         << total_ << "  " << percent << "%  " << rate_text(done, seconds) << " images/s\x1b[K";
    std::cout << line.str() << std::flush;
    drawn_ = true;
  }

  /// Erases the bar (before the summary or an error).
  void clear() {
    if (drawn_) std::cout << "\r\x1b[K" << std::flush;
    drawn_ = false;
  }

 private:
  int64_t total_;
  bool drawn_ = false;
};

int run_save_each(const std::vector<std::string>& args) {
  CommandOptions options;
  std::vector<std::string> positional;
  if (!parse_command_line(args, kSaveEach, options, positional)) return 0;
  const char* hint = "torchimage save-each --help";
  if (positional.size() < 2) {
    throw UsageError(positional.empty() ? "save-each: missing INPUT and PATTERN"
                                        : "save-each: missing PATTERN",
                     hint);
  }
  if (positional.size() > 2) {
    throw UsageError("save-each: unexpected argument '" + positional[2] + "'", hint);
  }
  const std::string& pattern = positional[1];
  if (pattern == "-") {
    throw UsageError("save-each: PATTERN cannot be '-': it writes one file per sample", hint);
  }

  torch::Tensor batch = torchimage::cli::load_tensor(positional[0]);
  // The layout turns the file's tensor into (B, C, H, W) here (a view), as
  // the library would: the chunks below are then handed over as CHW.
  const torchimage::Layout layout = options.save.layout();
  if ((layout == torchimage::Layout::HWC || layout == torchimage::Layout::NHWC) &&
      batch.dim() == 4) {
    batch = batch.permute({0, 3, 1, 2});
  } else if (layout == torchimage::Layout::HW && batch.dim() == 3) {
    batch = batch.unsqueeze(1);
  }
  options.save.layout(torchimage::Layout::CHW);
  TORCH_CHECK(batch.dim() == 4, "save-each: expected a 4-D (B, C, H, W) batch, got ", batch.dim(),
              "-D with shape ", batch.sizes(), " (for one image or a grid use 'torchimage save')");
  const int64_t n = batch.size(0);
  TORCH_CHECK(n >= 1, "save-each: expected at least one image, got an empty batch");
  // The pattern against the whole batch, before any chunk is written (a chunk
  // of one would let a pattern without a placeholder through, and a later
  // chunk's indices could pass INT64_MAX).
  torchimage::check_index_pattern(pattern, options.start_index, n);

  const bool progress = !options.quiet && isatty(STDOUT_FILENO) == 1;
  const Clock::time_point start = Clock::now();
  if (!progress) {
    torchimage::save_images(batch, pattern, options.save, options.start_index, options.threads);
  } else {
    // Chunks of samples, each one save_images call, sized to take about
    // 0.1 s so that the bar moves. The first chunk is small and checks
    // everything (shape, options, format) before any file is written, as one
    // call would; the bar appears after it, so that such an error comes alone.
    ProgressBar bar(n);
    const int64_t workers = options.threads > 0
                                ? options.threads
                                : std::max<int64_t>(1, std::thread::hardware_concurrency());
    const int64_t min_chunk = std::max<int64_t>(8, 4 * workers);
    int64_t chunk = min_chunk;
    int64_t done = 0;
    Clock::time_point last_draw = start - std::chrono::seconds(1);
    while (done < n) {
      const int64_t m = std::min(chunk, n - done);
      const Clock::time_point chunk_start = Clock::now();
      try {
        torchimage::save_images(batch.narrow(0, done, m), pattern, options.save,
                                options.start_index + done, options.threads);
      } catch (...) {
        bar.clear();
        throw;
      }
      done += m;
      const double per_image = seconds_since(chunk_start) / static_cast<double>(m);
      chunk = per_image > 0.0
                  ? std::clamp<int64_t>(static_cast<int64_t>(0.1 / per_image), min_chunk, 1 << 16)
                  : int64_t{1} << 16;
      if (done == n || std::chrono::duration<double>(Clock::now() - last_draw).count() >= 0.1) {
        bar.draw(done, seconds_since(start));
        last_draw = Clock::now();
      }
    }
    bar.clear();
  }
  const double seconds = seconds_since(start);
  if (!options.quiet) {
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.2f", seconds);
    std::cout << "wrote " << n << (n == 1 ? " image" : " images") << " to " << pattern << " in "
              << elapsed << " s (" << rate_text(n, seconds) << " images/s)" << std::endl;
  }
  return 0;
}

int run(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("missing command", "torchimage --help");
  const std::string& command = args[0];
  if (command == "-h" || command == "--help") {
    print_main_help();
    return 0;
  }
  if (command == "--version") {
    std::cout << "torchimage " << TORCHIMAGE_VERSION_STRING << " (LibTorch " << TORCH_VERSION
              << ")\n";
    return 0;
  }
  if (command == "help") {
    if (args.size() == 1) {
      print_main_help();
    } else if (args.size() == 2 && args[1] == "save") {
      print_save_help();
    } else if (args.size() == 2 && args[1] == "save-each") {
      print_save_each_help();
    } else if (args.size() == 2 && args[1] == "tensorboard") {
      print_tensorboard_help();
    } else if (args.size() == 2 && args[1] == "animate") {
      print_animate_help();
    } else {
      throw UsageError("help: unknown command '" + args[1] + "'", "torchimage --help");
    }
    return 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "save") return run_save(rest);
  if (command == "save-each") return run_save_each(rest);
  if (command == "tensorboard") return run_tensorboard(rest);
  if (command == "animate") return run_animate(rest);
  throw UsageError(
      command[0] == '-' ? "unknown option '" + command + "'" : "unknown command '" + command + "'",
      "torchimage --help");
}

// A message on one line: LibTorch's messages may carry more lines (context,
// "Exception raised from ..." backtraces).
std::string one_line(const std::string& message) {
  std::string out;
  size_t begin = 0;
  while (begin <= message.size()) {
    size_t end = message.find('\n', begin);
    if (end == std::string::npos) end = message.size();
    std::string line = message.substr(begin, end - begin);
    const size_t first = line.find_first_not_of(" \t\r");
    const size_t last = line.find_last_not_of(" \t\r");
    line = first == std::string::npos ? "" : line.substr(first, last - first + 1);
    if (!line.empty() && line.compare(0, 21, "Exception raised from") != 0) {
      if (!out.empty()) out += "; ";
      out += line;
    }
    begin = end + 1;
  }
  return out.empty() ? "unknown error" : out;
}

void print_error(const std::string& message) {
  std::cout.flush();
  std::cerr << "torchimage: error: " << one_line(message) << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError& e) {
    print_error(std::string(e.what()) + " (see '" + e.hint + "')");
    return kExitUsage;
  } catch (const c10::Error& e) {
    print_error(e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    print_error("out of memory");
  } catch (const std::exception& e) {
    print_error(e.what());
  } catch (...) {
    print_error("unknown error");
  }
  return kExitFailure;
}
