#include "draw/text.h"

#include <cstdint>

#include <c10/util/Exception.h>

#ifdef TORCHIMAGE_HAVE_FREETYPE
#include <ft2build.h>
#include FT_FREETYPE_H
#endif

namespace torchimage {
namespace draw_detail {

const char* default_font_path() {
#ifdef TORCHIMAGE_DEFAULT_FONT
  return TORCHIMAGE_DEFAULT_FONT;
#else
  return "";
#endif
}

namespace {

// The next code point of UTF-8 text (an invalid byte stands for itself, as
// Latin-1), advancing i.
uint32_t next_code_point(const std::string& s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
  if (n == 0 || n == 9 || i + n >= s.size()) {
    ++i;
    return c;
  }
  uint32_t cp = c & (0x3Fu >> n);
  for (size_t k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return c;
    }
    cp = (cp << 6) | (b & 0x3Fu);
  }
  i += n + 1;
  return cp;
}

}  // namespace

#ifdef TORCHIMAGE_HAVE_FREETYPE

struct Font::Impl {
  FT_Library library = nullptr;
  FT_Face face = nullptr;
};

Font::Font(const std::string& path, int size_px, const char* what) : impl_(new Impl) {
  TORCH_CHECK(size_px > 0 && size_px <= 4096, what, ": font_size must be in 1-4096, got ", size_px);
  if (FT_Init_FreeType(&impl_->library) != 0) {
    delete impl_;
    TORCH_CHECK(false, what, ": FreeType could not be initialised");
  }
  if (FT_New_Face(impl_->library, path.c_str(), 0, &impl_->face) != 0) {
    FT_Done_FreeType(impl_->library);
    delete impl_;
    TORCH_CHECK(false, what, ": cannot open the font '", path,
                "' (expected a TrueType or OpenType font file)");
  }
  FT_Set_Pixel_Sizes(impl_->face, 0, static_cast<FT_UInt>(size_px));
}

Font::~Font() {
  FT_Done_Face(impl_->face);
  FT_Done_FreeType(impl_->library);
  delete impl_;
}

namespace {

// Walks the glyphs of `utf8` as Font::draw places them (top at y, pen from
// x, kerning between pairs): fn(left, top, bitmap) for each rendered glyph.
// Returns where the pen ends, in 26.6 fixed point.
template <typename F>
long for_each_glyph(FT_Face face, int x, int y, const std::string& utf8, F&& fn) {
  const int baseline = y + static_cast<int>(face->size->metrics.ascender >> 6);
  long pen = static_cast<long>(x) << 6;
  FT_UInt previous = 0;
  for (size_t i = 0; i < utf8.size();) {
    const uint32_t cp = next_code_point(utf8, i);
    const FT_UInt glyph = FT_Get_Char_Index(face, cp);
    if (previous != 0 && glyph != 0 && FT_HAS_KERNING(face)) {
      FT_Vector kern;
      if (FT_Get_Kerning(face, previous, glyph, FT_KERNING_DEFAULT, &kern) == 0) pen += kern.x;
    }
    if (FT_Load_Glyph(face, glyph, FT_LOAD_RENDER) != 0) continue;
    const FT_GlyphSlot slot = face->glyph;
    const FT_Bitmap& bm = slot->bitmap;
    if (bm.pixel_mode == FT_PIXEL_MODE_GRAY && bm.buffer != nullptr) {
      fn(static_cast<int>(pen >> 6) + slot->bitmap_left, baseline - slot->bitmap_top, bm);
    }
    pen += slot->advance.x;
    previous = glyph;
  }
  return pen;
}

}  // namespace

bool have_freetype() { return true; }

void Font::draw(Canvas& canvas, int x, int y, const std::string& utf8, Ink ink) {
  for_each_glyph(impl_->face, x, y, utf8, [&](int left, int top, const FT_Bitmap& bm) {
    canvas.coverage(left, top, bm.buffer, static_cast<int>(bm.width), static_cast<int>(bm.rows),
                    bm.pitch, ink);
  });
}

int Font::advance(const std::string& utf8) {
  const long pen = for_each_glyph(impl_->face, 0, 0, utf8, [](int, int, const FT_Bitmap&) {});
  return static_cast<int>((pen + 63) >> 6);
}

void Font::render(uint8_t* mask, int mw, int mh, int x, int y, const std::string& utf8) {
  for_each_glyph(impl_->face, x, y, utf8, [&](int left, int top, const FT_Bitmap& bm) {
    for (int r = 0; r < static_cast<int>(bm.rows); ++r) {
      const int yy = top + r;
      if (yy < 0 || yy >= mh) continue;
      for (int c = 0; c < static_cast<int>(bm.width); ++c) {
        const int xx = left + c;
        if (xx < 0 || xx >= mw) continue;
        const uint8_t m = bm.buffer[static_cast<long>(r) * bm.pitch + c];
        uint8_t& p = mask[static_cast<size_t>(yy) * mw + xx];
        if (m > p) p = m;
      }
    }
  });
}

#else  // no FreeType

struct Font::Impl {};

Font::Font(const std::string&, int, const char* what) : impl_(nullptr) {
  TORCH_CHECK(false, what, ": labels need FreeType, and this torchimage was built without it "
              "(install libfreetype-dev and rebuild)");
}

Font::~Font() = default;

bool have_freetype() { return false; }

void Font::draw(Canvas&, int, int, const std::string&, Ink) {}
int Font::advance(const std::string&) { return 0; }
void Font::render(uint8_t*, int, int, int, int, const std::string&) {}

#endif

}  // namespace draw_detail
}  // namespace torchimage
