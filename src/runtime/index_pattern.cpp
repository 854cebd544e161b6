// save_images' file name patterns: "fid/{index:05}.png".
#include <torchimage/save_images.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include <c10/util/Exception.h>

#include "io/file_path.h"

namespace torchimage {

std::string format_index_path(const std::string& pattern, int64_t index, int64_t count) {
  std::string out;
  bool found = false;
  size_t pos = 0;
  while (pos < pattern.size()) {
    const size_t open = pattern.find("{index", pos);
    if (open == std::string::npos) break;
    const size_t close = pattern.find('}', open);
    TORCH_CHECK(close != std::string::npos, "save_images: unclosed placeholder in pattern '",
                pattern, "'; expected {index} or {index:05}");
    const std::string spec = pattern.substr(open + 6, close - open - 6);
    int width = 0;
    if (!spec.empty()) {
      const bool ok = spec.size() >= 2 && spec.size() <= 4 && spec[0] == ':' &&
                      std::all_of(spec.begin() + 1, spec.end(), ::isdigit);
      TORCH_CHECK(ok, "save_images: bad placeholder '{index", spec, "}' in pattern '", pattern,
                  "'; expected {index} or {index:0N} (e.g. {index:05})");
      width = std::stoi(spec.substr(1));
      TORCH_CHECK(width <= static_cast<int>(kMaxFileName), "save_images: placeholder '{index",
                  spec, "}' in pattern '", pattern, "' pads to ", width,
                  " digits; a file name holds at most ", kMaxFileName, " bytes");
    }
    std::string number = std::to_string(index);
    if (static_cast<int>(number.size()) < width) {
      number.insert(0, static_cast<size_t>(width) - number.size(), '0');
    }
    out.append(pattern, pos, open - pos);
    out += number;
    pos = close + 1;
    found = true;
  }
  out.append(pattern, pos, std::string::npos);
  TORCH_CHECK(found || count <= 1, "save_images: the pattern '", pattern,
              "' has no {index} placeholder, but there are ", count,
              " images (each needs its own path)");
  return out;
}

std::string check_index_pattern(const std::string& pattern, int64_t start_index, int64_t count,
                                const char* what) {
  check_path(pattern, what);
  TORCH_CHECK(start_index >= 0, what, ": start_index must be >= 0, got ", start_index);
  // The last index must not overflow (it would wrap to a negative number).
  TORCH_CHECK(count - 1 <= std::numeric_limits<int64_t>::max() - start_index, what,
              ": start_index ", start_index, " with ", count,
              " images passes the largest index, ", std::numeric_limits<int64_t>::max());
  // The longest path is the last one's; its file name must be one a file
  // system can hold, or every file would fail the same way.
  const std::string last = format_index_path(pattern, start_index + (count - 1), count);
  const size_t slash = last.find_last_of('/');
  const size_t name_size = last.size() - (slash == std::string::npos ? 0 : slash + 1);
  TORCH_CHECK(name_size <= kMaxFileName, what, ": the pattern '", pattern, "' makes file names of ",
              name_size, " bytes, longer than the ", kMaxFileName,
              " a file system allows (check the {index:0N} width)");
  return last;
}

}  // namespace torchimage
