// Private: box labels, rendered with FreeType (anti-aliased, blended with
// the glyphs' coverage as Pillow blends a TrueType font's).
#pragma once

#include <cstdint>
#include <string>

#include "draw/raster.h"

namespace torchimage {
namespace draw_detail {

// The font file labels use when none is given: DejaVuSans.ttf where the
// build found it, or "" (then labels need a font).
const char* default_font_path();

// Whether this torchimage was built with FreeType (else Font's constructor
// throws).
bool have_freetype();

// A loaded font; text drawn with its top (the font's ascender line) at y,
// as Pillow's ImageDraw.text anchors it ("la").
class Font {
 public:
  Font(const std::string& path, int size_px, const char* what);
  ~Font();
  Font(const Font&) = delete;
  Font& operator=(const Font&) = delete;

  void draw(Canvas& canvas, int x, int y, const std::string& utf8, Ink ink);

  // The text's advance width in whole pixels (kerning included), where the
  // pen ends when it starts at 0.
  int advance(const std::string& utf8);

  // The text's coverage (0-255), its top at y and its pen starting at x,
  // into `mask` (mw x mh, row-major, pitch mw): each pixel keeps the larger
  // of its value and the glyphs'; what falls outside the mask is cut.
  void render(uint8_t* mask, int mw, int mh, int x, int y, const std::string& utf8);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace draw_detail
}  // namespace torchimage
