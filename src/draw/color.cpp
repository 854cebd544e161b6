// Colours as Pillow's ImageColor reads them (the subset torchvision's
// drawing functions meet: names, hexadecimal, rgb()), and torchvision's
// default palette.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include <torchimage/draw.h>

namespace torchimage {
namespace {

struct NamedColor {
  const char* name;
  uint8_t rgb[3];
};

// The CSS colour keywords (CSS Color Module Level 4, the list Pillow's
// ImageColor knows), sorted by name.
const NamedColor kNamedColors[] = {
    {"aliceblue", {240, 248, 255}},
    {"antiquewhite", {250, 235, 215}},
    {"aqua", {0, 255, 255}},
    {"aquamarine", {127, 255, 212}},
    {"azure", {240, 255, 255}},
    {"beige", {245, 245, 220}},
    {"bisque", {255, 228, 196}},
    {"black", {0, 0, 0}},
    {"blanchedalmond", {255, 235, 205}},
    {"blue", {0, 0, 255}},
    {"blueviolet", {138, 43, 226}},
    {"brown", {165, 42, 42}},
    {"burlywood", {222, 184, 135}},
    {"cadetblue", {95, 158, 160}},
    {"chartreuse", {127, 255, 0}},
    {"chocolate", {210, 105, 30}},
    {"coral", {255, 127, 80}},
    {"cornflowerblue", {100, 149, 237}},
    {"cornsilk", {255, 248, 220}},
    {"crimson", {220, 20, 60}},
    {"cyan", {0, 255, 255}},
    {"darkblue", {0, 0, 139}},
    {"darkcyan", {0, 139, 139}},
    {"darkgoldenrod", {184, 134, 11}},
    {"darkgray", {169, 169, 169}},
    {"darkgreen", {0, 100, 0}},
    {"darkgrey", {169, 169, 169}},
    {"darkkhaki", {189, 183, 107}},
    {"darkmagenta", {139, 0, 139}},
    {"darkolivegreen", {85, 107, 47}},
    {"darkorange", {255, 140, 0}},
    {"darkorchid", {153, 50, 204}},
    {"darkred", {139, 0, 0}},
    {"darksalmon", {233, 150, 122}},
    {"darkseagreen", {143, 188, 143}},
    {"darkslateblue", {72, 61, 139}},
    {"darkslategray", {47, 79, 79}},
    {"darkslategrey", {47, 79, 79}},
    {"darkturquoise", {0, 206, 209}},
    {"darkviolet", {148, 0, 211}},
    {"deeppink", {255, 20, 147}},
    {"deepskyblue", {0, 191, 255}},
    {"dimgray", {105, 105, 105}},
    {"dimgrey", {105, 105, 105}},
    {"dodgerblue", {30, 144, 255}},
    {"firebrick", {178, 34, 34}},
    {"floralwhite", {255, 250, 240}},
    {"forestgreen", {34, 139, 34}},
    {"fuchsia", {255, 0, 255}},
    {"gainsboro", {220, 220, 220}},
    {"ghostwhite", {248, 248, 255}},
    {"gold", {255, 215, 0}},
    {"goldenrod", {218, 165, 32}},
    {"gray", {128, 128, 128}},
    {"green", {0, 128, 0}},
    {"greenyellow", {173, 255, 47}},
    {"grey", {128, 128, 128}},
    {"honeydew", {240, 255, 240}},
    {"hotpink", {255, 105, 180}},
    {"indianred", {205, 92, 92}},
    {"indigo", {75, 0, 130}},
    {"ivory", {255, 255, 240}},
    {"khaki", {240, 230, 140}},
    {"lavender", {230, 230, 250}},
    {"lavenderblush", {255, 240, 245}},
    {"lawngreen", {124, 252, 0}},
    {"lemonchiffon", {255, 250, 205}},
    {"lightblue", {173, 216, 230}},
    {"lightcoral", {240, 128, 128}},
    {"lightcyan", {224, 255, 255}},
    {"lightgoldenrodyellow", {250, 250, 210}},
    {"lightgray", {211, 211, 211}},
    {"lightgreen", {144, 238, 144}},
    {"lightgrey", {211, 211, 211}},
    {"lightpink", {255, 182, 193}},
    {"lightsalmon", {255, 160, 122}},
    {"lightseagreen", {32, 178, 170}},
    {"lightskyblue", {135, 206, 250}},
    {"lightslategray", {119, 136, 153}},
    {"lightslategrey", {119, 136, 153}},
    {"lightsteelblue", {176, 196, 222}},
    {"lightyellow", {255, 255, 224}},
    {"lime", {0, 255, 0}},
    {"limegreen", {50, 205, 50}},
    {"linen", {250, 240, 230}},
    {"magenta", {255, 0, 255}},
    {"maroon", {128, 0, 0}},
    {"mediumaquamarine", {102, 205, 170}},
    {"mediumblue", {0, 0, 205}},
    {"mediumorchid", {186, 85, 211}},
    {"mediumpurple", {147, 112, 219}},
    {"mediumseagreen", {60, 179, 113}},
    {"mediumslateblue", {123, 104, 238}},
    {"mediumspringgreen", {0, 250, 154}},
    {"mediumturquoise", {72, 209, 204}},
    {"mediumvioletred", {199, 21, 133}},
    {"midnightblue", {25, 25, 112}},
    {"mintcream", {245, 255, 250}},
    {"mistyrose", {255, 228, 225}},
    {"moccasin", {255, 228, 181}},
    {"navajowhite", {255, 222, 173}},
    {"navy", {0, 0, 128}},
    {"oldlace", {253, 245, 230}},
    {"olive", {128, 128, 0}},
    {"olivedrab", {107, 142, 35}},
    {"orange", {255, 165, 0}},
    {"orangered", {255, 69, 0}},
    {"orchid", {218, 112, 214}},
    {"palegoldenrod", {238, 232, 170}},
    {"palegreen", {152, 251, 152}},
    {"paleturquoise", {175, 238, 238}},
    {"palevioletred", {219, 112, 147}},
    {"papayawhip", {255, 239, 213}},
    {"peachpuff", {255, 218, 185}},
    {"peru", {205, 133, 63}},
    {"pink", {255, 192, 203}},
    {"plum", {221, 160, 221}},
    {"powderblue", {176, 224, 230}},
    {"purple", {128, 0, 128}},
    {"rebeccapurple", {102, 51, 153}},
    {"red", {255, 0, 0}},
    {"rosybrown", {188, 143, 143}},
    {"royalblue", {65, 105, 225}},
    {"saddlebrown", {139, 69, 19}},
    {"salmon", {250, 128, 114}},
    {"sandybrown", {244, 164, 96}},
    {"seagreen", {46, 139, 87}},
    {"seashell", {255, 245, 238}},
    {"sienna", {160, 82, 45}},
    {"silver", {192, 192, 192}},
    {"skyblue", {135, 206, 235}},
    {"slateblue", {106, 90, 205}},
    {"slategray", {112, 128, 144}},
    {"slategrey", {112, 128, 144}},
    {"snow", {255, 250, 250}},
    {"springgreen", {0, 255, 127}},
    {"steelblue", {70, 130, 180}},
    {"tan", {210, 180, 140}},
    {"teal", {0, 128, 128}},
    {"thistle", {216, 191, 216}},
    {"tomato", {255, 99, 71}},
    {"turquoise", {64, 224, 208}},
    {"violet", {238, 130, 238}},
    {"wheat", {245, 222, 179}},
    {"white", {255, 255, 255}},
    {"whitesmoke", {245, 245, 245}},
    {"yellow", {255, 255, 0}},
    {"yellowgreen", {154, 205, 50}},
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool all_hex(const std::string& s, size_t from) {
  for (size_t i = from; i < s.size(); ++i) {
    if (hex_digit(s[i]) < 0) return false;
  }
  return true;
}

// rgb(r, g, b) with decimal values, spaces allowed around each (Pillow's
// regular expression; values past 255 are clamped as ink is).
bool parse_rgb_function(const std::string& s, std::array<uint8_t, 3>& out) {
  if (s.compare(0, 4, "rgb(") != 0 || s.back() != ')') return false;
  size_t i = 4;
  for (int k = 0; k < 3; ++k) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const size_t start = i;
    long long v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      v = std::min<long long>(v * 10 + (s[i] - '0'), 1000);
      ++i;
    }
    if (i == start) return false;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size() || s[i] != (k < 2 ? ',' : ')')) return false;
    ++i;
    out[k] = static_cast<uint8_t>(std::min<long long>(v, 255));
  }
  return i == s.size();
}

}  // namespace

std::array<uint8_t, 3> parse_color(const std::string& spec) {
  TORCH_CHECK(spec.size() <= 100, "color: the specifier is too long (", spec.size(),
              " characters, at most 100)");
  std::string s = spec;
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto* end = std::end(kNamedColors);
  const auto* it = std::lower_bound(std::begin(kNamedColors), end, s,
                                    [](const NamedColor& c, const std::string& name) {
                                      return name.compare(c.name) > 0;
                                    });
  if (it != end && s == it->name) return {it->rgb[0], it->rgb[1], it->rgb[2]};
  if (!s.empty() && s[0] == '#' && all_hex(s, 1)) {
    // #rgb and #rgba repeat each digit; #rrggbb and #rrggbbaa. An alpha is
    // dropped: the drawing functions take RGB (as torchvision passes them).
    if (s.size() == 4 || s.size() == 5) {
      return {static_cast<uint8_t>(hex_digit(s[1]) * 17), static_cast<uint8_t>(hex_digit(s[2]) * 17),
              static_cast<uint8_t>(hex_digit(s[3]) * 17)};
    }
    if (s.size() == 7 || s.size() == 9) {
      return {static_cast<uint8_t>(hex_digit(s[1]) * 16 + hex_digit(s[2])),
              static_cast<uint8_t>(hex_digit(s[3]) * 16 + hex_digit(s[4])),
              static_cast<uint8_t>(hex_digit(s[5]) * 16 + hex_digit(s[6]))};
    }
  }
  std::array<uint8_t, 3> rgb{};
  if (parse_rgb_function(s, rgb)) return rgb;
  TORCH_CHECK_VALUE(false, "color: unknown color specifier '", spec,
                    "': expected a colour name (such as 'red'), '#RGB', '#RRGGBB' or "
                    "'rgb(r, g, b)'");
  return {};
}

std::vector<Color> default_colors(int64_t n) {
  TORCH_CHECK(n >= 0, "default_colors: the count must be >= 0, got ", n);
  // torchvision: tuple((i * tensor([2**25 - 1, 2**15 - 1, 2**21 - 1])) % 255).
  const int64_t base[3] = {(int64_t{1} << 25) - 1, (int64_t{1} << 15) - 1, (int64_t{1} << 21) - 1};
  std::vector<Color> colors;
  colors.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    colors.emplace_back((i * base[0]) % 255, (i * base[1]) % 255, (i * base[2]) % 255);
  }
  return colors;
}

}  // namespace torchimage
