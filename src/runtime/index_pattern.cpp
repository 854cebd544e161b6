// save_images' file name patterns: "fid/{index:05}.png". The grammar is
// documented once, in include/torchimage/save_images.h.
#include <torchimage/save_images.h>

#include <cstddef>
#include <limits>
#include <vector>

#include <c10/util/Exception.h>

#include "io/file_path.h"

namespace torchimage {
namespace {

constexpr char kGrammar[] =
    "placeholders are {index} or {index:0N} (N digits, zero-padded, e.g. {index:05}); "
    "write {{ and }} for literal braces";

// A pattern, parsed: literal text and placeholders, in order.
struct Piece {
  std::string text;    // literal text (no placeholder)
  bool index = false;  // a placeholder: the number
  int width = 0;       // its zero-padded width
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The placeholder's format spec (after "index:"): [0]N[d], N decimal digits.
int parse_width(const std::string& spec, const std::string& placeholder,
                const std::string& pattern, const char* what) {
  std::string digits = spec;
  if (!digits.empty() && digits.back() == 'd') digits.pop_back();  // Python's {index:05d}
  bool ok = !digits.empty();
  for (const char c : digits) ok = ok && is_digit(c);
  TORCH_CHECK(ok || spec.empty() || (spec[0] != '-' && spec[0] != '+'), what,
              ": bad placeholder '", placeholder, "' in pattern '", pattern,
              "': a width cannot have a sign (got '", spec, "'); ", kGrammar);
  TORCH_CHECK(ok, what, ": bad placeholder '", placeholder, "' in pattern '", pattern,
              "': expected a width of decimal digits after ':', got '", spec, "'; ", kGrammar);
  // More digits than any allowed width has: too wide, without overflowing int.
  const size_t first = digits.find_first_not_of('0');
  const bool too_many = first != std::string::npos && digits.size() - first > 4;
  const int width = too_many ? std::numeric_limits<int>::max() : std::stoi(digits);
  TORCH_CHECK(width <= static_cast<int>(kMaxFileName), what, ": placeholder '", placeholder,
              "' in pattern '", pattern, "' pads to ", too_many ? digits : std::to_string(width),
              " digits; a file name holds at most ", kMaxFileName, " bytes");
  return width;
}

std::vector<Piece> parse_pattern(const std::string& pattern, const char* what) {
  std::vector<Piece> pieces(1);
  size_t pos = 0;
  while (pos < pattern.size()) {
    const char c = pattern[pos];
    if (c == '}') {
      TORCH_CHECK(pos + 1 < pattern.size() && pattern[pos + 1] == '}', what,
                  ": unmatched '}' at byte ", pos, " of pattern '", pattern, "'; ", kGrammar);
      pieces.back().text += '}';
      pos += 2;
      continue;
    }
    if (c != '{') {
      pieces.back().text += c;
      ++pos;
      continue;
    }
    if (pos + 1 < pattern.size() && pattern[pos + 1] == '{') {
      pieces.back().text += '{';
      pos += 2;
      continue;
    }
    // A placeholder: up to the next '}', with no '{' inside.
    const size_t close = pattern.find_first_of("{}", pos + 1);
    TORCH_CHECK(close != std::string::npos && pattern[close] == '}', what,
                ": unclosed placeholder: the '{' at byte ", pos, " of pattern '", pattern,
                "' has no '}'", close != std::string::npos ? " before the next '{'" : "", "; ",
                kGrammar);
    const std::string placeholder = pattern.substr(pos, close - pos + 1);
    const std::string body = pattern.substr(pos + 1, close - pos - 1);
    const size_t colon = body.find(':');
    const std::string field = body.substr(0, colon);
    TORCH_CHECK(field == "index", what, ": unknown field '", field, "' in placeholder '",
                placeholder, "' of pattern '", pattern, "' (the only field is index); ",
                kGrammar);
    Piece p;
    p.index = true;
    if (colon != std::string::npos) {
      p.width = parse_width(body.substr(colon + 1), placeholder, pattern, what);
    }
    pieces.push_back(p);
    pieces.emplace_back();  // the text after it
    pos = close + 1;
  }
  return pieces;
}

std::string format_with(const std::string& pattern, int64_t index, int64_t count,
                        const char* what) {
  const std::vector<Piece> pieces = parse_pattern(pattern, what);
  std::string out;
  bool found = false;
  for (const Piece& p : pieces) {
    if (!p.index) {
      out += p.text;
      continue;
    }
    found = true;
    std::string number = std::to_string(index);
    if (static_cast<int>(number.size()) < p.width) {
      number.insert(0, static_cast<size_t>(p.width) - number.size(), '0');
    }
    out += number;
  }
  TORCH_CHECK(found || count <= 1, what, ": the pattern '", pattern,
              "' has no {index} placeholder, but there are ", count,
              " images (each needs its own path)");
  return out;
}

}  // namespace

std::string format_index_path(const std::string& pattern, int64_t index, int64_t count) {
  return format_with(pattern, index, count, "format_index_path");
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
  const std::string last = format_with(pattern, start_index + (count - 1), count, what);
  const size_t slash = last.find_last_of('/');
  const size_t name_size = last.size() - (slash == std::string::npos ? 0 : slash + 1);
  TORCH_CHECK(name_size <= kMaxFileName, what, ": the pattern '", pattern, "' makes file names of ",
              name_size, " bytes, longer than the ", kMaxFileName,
              " a file system allows (check the {index:0N} width)");
  return last;
}

}  // namespace torchimage
