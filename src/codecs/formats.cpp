// The table of formats, and everything that reads it by name: parsing,
// extensions, signatures and the format-neutral checks.
#include "codecs/codec.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include <c10/util/Exception.h>

#include "io/file_path.h"

namespace torchimage {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The text after the last '.' of the path's file name, if it has one.
std::optional<std::string> extension_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
  return path.substr(dot + 1);
}

// "a, b or c" (`last` joins the last two).
template <typename T>
std::string join(const std::vector<T>& items, const char* last = " or ") {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) s += i + 1 == items.size() ? last : ", ";
    s += c10::str(items[i]);
  }
  return s;
}

template <typename T>
bool contains(const std::vector<T>& items, const T& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// "png, jpeg (jpg)": the names parse_format takes (without the aliases:
// "png, jpeg").
std::string names_list(bool aliases = true) {
  std::string s;
  for (const Codec& c : codecs()) {
    if (!s.empty()) s += ", ";
    s += c.info.name;
    if (aliases && !c.info.aliases.empty()) s += " (" + join(c.info.aliases, ", ") + ")";
  }
  return s;
}

// ".png, .apng, .jpg, ...": the extensions format_of_path knows.
std::string extensions_list() {
  std::string s;
  for (const Codec& c : codecs()) {
    for (const std::string& e : c.info.extensions) s += (s.empty() ? "." : ", .") + e;
  }
  return s;
}

}  // namespace

const std::vector<Codec>& codecs() {
  // Adding a format: its file in codecs/ defines its row; list it here.
  static const std::vector<Codec> table = {png_codec(), jpeg_codec(), tiff_codec(),
                                           webp_codec(), bmp_codec(), gif_codec()};
  return table;
}

const Codec& codec_of(ImageFormat format) {
  for (const Codec& c : codecs()) {
    if (c.info.format == format) return c;
  }
  TORCH_CHECK(false, "torchimage: unknown ImageFormat value ", static_cast<int>(format),
              "; known formats: ", names_list());
}

const Codec* codec_of_data(const uint8_t* data, size_t size) {
  for (const Codec& c : codecs()) {
    for (const std::string& sig : c.signatures) {
      if (size >= sig.size() &&
          std::equal(sig.begin(), sig.end(), data,
                     [](char a, uint8_t b) { return a == '?' || uint8_t(a) == b; })) {
        return &c;
      }
    }
  }
  return nullptr;
}

const std::vector<FormatInfo>& formats() {
  static const std::vector<FormatInfo> infos = [] {
    std::vector<FormatInfo> v;
    for (const Codec& c : codecs()) v.push_back(c.info);
    return v;
  }();
  return infos;
}

const FormatInfo& format_info(ImageFormat format) { return codec_of(format).info; }

ImageFormat parse_format(const std::string& name, const char* what) {
  const std::string n = lower(name);
  for (const Codec& c : codecs()) {
    if (n == c.info.name || contains(c.info.aliases, n)) return c.info.format;
  }
  TORCH_CHECK(false, what, ": unsupported format '", name, "'; supported formats: ", names_list());
}

std::optional<ImageFormat> format_of_path(const std::string& path) {
  const std::optional<std::string> ext = extension_of(path);
  if (!ext) return {};
  const std::string e = lower(*ext);
  for (const Codec& c : codecs()) {
    if (contains(c.info.extensions, e)) return c.info.format;
  }
  return {};
}

ImageFormat resolve_format(const std::string& path, const std::optional<ImageFormat>& format,
                           const char* what) {
  check_path(path, what);  // every path-taking call resolves its format first
  if (format) return *format;
  if (const auto found = format_of_path(path)) return *found;
  const std::optional<std::string> ext = extension_of(path);
  TORCH_CHECK(false, what, ": cannot tell the format of '", path, "' from its extension",
              ext ? c10::str(" '.", *ext, "'") : std::string(),
              "; supported: ", extensions_list(), ", or set the format option (",
              names_list(/*aliases=*/false), ")");
}

void check_available(const Codec& codec, const char* what) {
  TORCH_CHECK(codec.info.available, what, ": torchimage was built without ",
              codec.info.display_name, " support");
}

std::string formats_with_depth(int bit_depth) {
  std::vector<std::string> names;
  for (const Codec& c : codecs()) {
    if (contains(c.info.bit_depths, bit_depth)) names.push_back(c.info.display_name);
  }
  return join(names, " or ");
}

std::string formats_with_float_samples() {
  std::vector<std::string> names;
  for (const Codec& c : codecs()) {
    if (c.info.float_samples) names.push_back(c.info.display_name);
  }
  return join(names, " or ");
}

void check_encode_options(const EncodeOptions& o, const char* what) {
  std::vector<int> depths;
  for (const Codec& c : codecs()) {
    for (int d : c.info.bit_depths) {
      if (!contains(depths, d)) depths.push_back(d);
    }
  }
  std::sort(depths.begin(), depths.end());
  TORCH_CHECK(contains(depths, o.bit_depth()), what, ": bit_depth must be ", join(depths),
              ", got ", o.bit_depth());
  for (const Codec& c : codecs()) {
    if (c.check_options != nullptr) c.check_options(o, what);
  }
}

bool has_depth(const Codec& codec, int bit_depth) {
  return contains(codec.info.bit_depths, bit_depth);
}

void check_depth(const Codec& codec, int bit_depth, const char* what) {
  TORCH_CHECK(has_depth(codec, bit_depth), what, ": bit_depth ", bit_depth, " needs ",
              formats_with_depth(bit_depth), " (", codec.info.display_name, " is ",
              join(codec.info.bit_depths, "- or "), "-bit)");
}

void check_image(const Codec& codec, int64_t height, int64_t width, int64_t channels,
                 int bit_depth, const char* what) {
  const FormatInfo& f = codec.info;
  check_depth(codec, bit_depth, what);
  if (!contains(f.channels, channels)) {
    const bool alpha = contains(f.channels, int64_t{2}) || contains(f.channels, int64_t{4});
    TORCH_CHECK(false, what, ": expected ", join(f.channels), " channels, got ", channels,
                !alpha && (channels == 2 || channels == 4)
                    ? c10::str(" (", f.display_name, " has no alpha channel)")
                    : std::string());
  }
  TORCH_CHECK(height <= f.max_side && width <= f.max_side, what, ": a ", height, "x", width,
              " image exceeds ", f.display_name, "'s limit of ", f.max_side, " pixels a side");
  if (codec.check_shape != nullptr) codec.check_shape(height, width, channels, bit_depth, what);
}

}  // namespace torchimage
