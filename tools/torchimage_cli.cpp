// torchimage: the command-line tool.
//
//   torchimage save INPUT OUTPUT [options]
//
// does exactly torchimage::save_image(load_tensor(INPUT), OUTPUT, options).
// Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
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

double parse_number(const std::string& option, const std::string& text) {
  const bool plausible = !text.empty() && !std::isspace(static_cast<unsigned char>(text[0]));
  char* end = nullptr;
  const double value = plausible ? std::strtod(text.c_str(), &end) : 0.0;
  if (!plausible || end != text.c_str() + text.size()) {
    throw UsageError(option + ": expected a number, got '" + text + "'");
  }
  if (!std::isfinite(value)) {
    throw UsageError(option + ": expected a finite number, got '" + text + "'");
  }
  return value;
}

int parse_int32(const std::string& option, const std::string& text) {
  return static_cast<int>(
      parse_int(option, text, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
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
// The options of `save`, one row each: the parser and the help come from here.

using Values = std::vector<std::string>;
using torchimage::SaveImageOptions;

struct OptionSpec {
  const char* name;
  const char* metavar;  // the values' names, nullptr for a flag
  int nargs;
  const char* help;
  void (*apply)(SaveImageOptions& o, const std::string& name, const Values& v);
};

const OptionSpec kOptions[] = {
    {"--nrow", "N", 1, "images per row of the grid (default 8)",
     [](SaveImageOptions& o, const std::string& n, const Values& v) {
       o.nrow(parse_int(n, v[0]));
     }},
    {"--padding", "P", 1, "pixels of padding around and between images (default 2)",
     [](SaveImageOptions& o, const std::string& n, const Values& v) {
       o.padding(parse_int(n, v[0]));
     }},
    {"--normalize", nullptr, 0, "map the value range (default: min to max) onto [0, 1]",
     [](SaveImageOptions& o, const std::string&, const Values&) { o.normalize(true); }},
    {"--value-range", "LOW HIGH", 2, "the range --normalize maps onto [0, 1]",
     [](SaveImageOptions& o, const std::string& n, const Values& v) {
       o.value_range(torchimage::ValueRange{parse_number(n, v[0]), parse_number(n, v[1])});
     }},
    {"--scale-each", nullptr, 0, "normalize each image on its own range",
     [](SaveImageOptions& o, const std::string&, const Values&) { o.scale_each(true); }},
    {"--pad-value", "V", 1, "padding value, or one per channel: 1,0,0 (default 0)",
     [](SaveImageOptions& o, const std::string& n, const Values& v) {
       std::vector<double> values = parse_numbers(n, v[0]);
       if (values.size() == 1) {
         o.pad_value(values[0]);
       } else {
         o.pad_value(std::move(values));
       }
     }},
    {"--format", "png|jpeg", 1, "file format (default: OUTPUT's .png, .jpg or .jpeg)",
     [](SaveImageOptions& o, const std::string& n, const Values& v) {
       try {
         o.format(torchimage::parse_format(v[0], n.c_str()));
       } catch (const c10::Error& e) {
         throw UsageError(e.what_without_backtrace());
       }
     }},
    {"--quality", "Q", 1, "JPEG quality 1-100 (default 75)",
     [](SaveImageOptions& o, const std::string& n, const Values& v) {
       o.quality(parse_int32(n, v[0]));
     }},
    {"--compression-level", "L", 1, "PNG zlib level 0-9, as Pillow's (default: fast)",
     [](SaveImageOptions& o, const std::string& n, const Values& v) {
       o.compression_level(parse_int32(n, v[0]));
     }},
    {"--grayscale", nullptr, 0, "keep one-channel images gray instead of RGB",
     [](SaveImageOptions& o, const std::string&, const Values&) { o.grayscale(true); }},
    {"--create-dirs", nullptr, 0, "create OUTPUT's missing parent directories",
     [](SaveImageOptions& o, const std::string&, const Values&) { o.create_directories(true); }},
};

const OptionSpec* find_option(const std::string& name) {
  for (const OptionSpec& spec : kOptions) {
    if (name == spec.name) return &spec;
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
               "  save INPUT OUTPUT [options]  write the tensor in INPUT as an image grid\n"
               "  help [COMMAND]               show the help of torchimage or of COMMAND\n"
               "\n"
               "Options:\n"
               "  -h, --help                   show this help\n"
               "  --version                    show the version\n"
               "\n"
               "Run 'torchimage save --help' for the options of save.\n";
}

void print_save_help() {
  std::cout << "Usage: torchimage save INPUT OUTPUT [options]\n"
               "\n"
               "Writes the tensor in INPUT to OUTPUT exactly as torchvision.utils.save_image\n"
               "(and torchimage::save_image) does: make_grid, quantize to 8 bits, encode.\n"
               "\n"
               "INPUT: a tensor saved by Python's torch.save or C++'s torch::pickle_save or\n"
               "torch::save, or a NumPy .npy file (float16/32/64, uint8 or bool).\n"
               "Shapes (H, W), (C, H, W) or (B, C, H, W). OUTPUT is written atomically.\n"
               "\n"
               "Options:\n";
  const auto row = [](std::string left, const char* help) {
    left.resize(std::max<size_t>(left.size() + 2, 32), ' ');
    std::cout << left << help << "\n";
  };
  for (const OptionSpec& spec : kOptions) {
    std::string left = std::string("  ") + spec.name;
    if (spec.metavar != nullptr) left += std::string(" ") + spec.metavar;
    row(left, spec.help);
  }
  row("  --", "end of options (for file names starting with '-')");
  row("  -h, --help", "show this help");
  std::cout << "\n"
               "Exit status: 0 success, 1 error, 2 usage error.\n";
}

// ---------------------------------------------------------------------------
// Commands.

int run_save(const std::vector<std::string>& args) {
  SaveImageOptions options;
  std::vector<std::string> positional;
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
      print_save_help();
      return 0;
    }
    // --name or --name=value
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const OptionSpec* spec = arg.compare(0, 2, "--") == 0 ? find_option(name) : nullptr;
    if (spec == nullptr) throw UsageError("unknown option '" + name + "'");
    Values values;
    if (eq != std::string::npos) {
      if (spec->nargs != 1) {
        throw UsageError(spec->nargs == 0
                             ? "option " + name + " takes no value"
                             : "option " + name + " takes " + std::to_string(spec->nargs) +
                                   " values: " + name + " " + spec->metavar);
      }
      values.push_back(arg.substr(eq + 1));
    } else {
      if (args.size() - 1 - i < static_cast<size_t>(spec->nargs)) {
        throw UsageError("option " + name + " expects " + spec->metavar);
      }
      values.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    args.begin() + static_cast<std::ptrdiff_t>(i) + 1 + spec->nargs);
      i += static_cast<size_t>(spec->nargs);
    }
    spec->apply(options, name, values);
  }
  if (positional.size() < 2) {
    throw UsageError(positional.empty() ? "save: missing INPUT and OUTPUT"
                                        : "save: missing OUTPUT");
  }
  if (positional.size() > 2) throw UsageError("save: unexpected argument '" + positional[2] + "'");

  const torch::Tensor tensor = torchimage::cli::load_tensor(positional[0]);
  torchimage::save_image(tensor, positional[1], options);
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
    } else {
      throw UsageError("help: unknown command '" + args[1] + "'", "torchimage --help");
    }
    return 0;
  }
  if (command == "save") return run_save(std::vector<std::string>(args.begin() + 1, args.end()));
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

// The library's hints name its C++ options; say the CLI's instead.
std::string cli_hints(std::string message) {
  static const std::pair<const char*, const char*> kHints[] = {
      {"create_directories(true)", "--create-dirs"},
      {"set the format option (png, jpeg)", "use --format png|jpeg"},
  };
  for (const auto& [api, cli] : kHints) {
    const size_t at = message.find(api);
    if (at != std::string::npos) message.replace(at, std::strlen(api), cli);
  }
  return message;
}

void print_error(const std::string& message) {
  std::cout.flush();
  std::cerr << "torchimage: error: " << one_line(cli_hints(message)) << std::endl;
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
