// Private: box labels, rendered with FreeType (anti-aliased, blended with
// the glyphs' coverage as Pillow blends a TrueType font's).
#pragma once

#include <string>

#include "draw/raster.h"

namespace torchimage {
namespace draw_detail {

// The font file labels use when none is given: DejaVuSans.ttf where the
// build found it, or "" (then labels need a font).
const char* default_font_path();

// A loaded font; text drawn with its top (the font's ascender line) at y,
// as Pillow's ImageDraw.text anchors it ("la").
class Font {
 public:
  Font(const std::string& path, int size_px, const char* what);
  ~Font();
  Font(const Font&) = delete;
  Font& operator=(const Font&) = delete;

  void draw(Canvas& canvas, int x, int y, const std::string& utf8, Ink ink);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace draw_detail
}  // namespace torchimage
