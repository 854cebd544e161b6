// GIF's row in the table of formats, through giflib: 8-bit indexed colour,
// gray or RGB (1 or 3 channels; 2 and 4 are refused: GIF has no alpha
// channel, only one transparent index, and torchimage does not drop alpha
// silently), 65535 pixels a side, label maps as their palette and class ids.
//
// The palette is torchimage's own (Pillow's quantizer is not the reference),
// without dithering:
// - gray (1 channel): the identity ramp, entry i = (i, i, i), the samples
//   the indices (Pillow reads such a file as mode L);
// - label maps: their palette and class ids;
// - RGB of at most 256 colours: an exact palette, its colours in the order of
//   their first pixel, so the file decodes to exactly its pixels;
// - RGB of more colours: a fixed 6x7x6 colour cube (252 colours: levels 0,
//   51, ..., 255 for red and blue, round(k * 255 / 6) for green), each sample
//   to its nearest level.
// A single image's palette is the global colour table; an animation's frames
// (encode_frame) each carry a local one, after a graphic control extension
// holding the frame's delay in hundredths of a second.
//
// The decoder reads the first image (the logical screen's size; outside the
// image, the background colour of the global table, else index 0), strictly:
// giflib's errors, a missing colour table, an image outside the screen or an
// index beyond its table are c10::Errors. A table that is the identity ramp
// gives 1 channel (gray, as Pillow's mode L), others 3 (keep_indices: the
// indices). giflib reports errors by return codes (no
// longjmp); its handles are closed by destructors.
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include <c10/util/Exception.h>

#include "codecs/codec.h"

#if TORCHIMAGE_HAVE_GIF
#include <gif_lib.h>
#endif

namespace torchimage {
namespace {

constexpr int64_t kGifMaxSide = 65535;

#if TORCHIMAGE_HAVE_GIF

// An image as GIF holds it: RGB palette entries and one index a pixel.
struct GifIndexed {
  std::vector<uint8_t> palette;  // RGB triples, 1-256 of them
  std::vector<uint8_t> indices;  // height * width
};

GifIndexed gif_indexed(const PixelView& px) {
  TORCH_CHECK(px.bit_depth == 8 && !px.float_samples && (px.channels == 1 || px.channels == 3),
              "encode GIF: expected 8-bit samples of 1 or 3 channels, got ", px.channels,
              " channels of ", px.bit_depth, " bits");
  GifIndexed out;
  const size_t n = static_cast<size_t>(px.height * px.width);
  out.indices.resize(n);
  if (px.palette != nullptr) {
    TORCH_CHECK(px.channels == 1 && px.palette_size >= 1 && px.palette_size <= 256,
                "encode GIF: an indexed image has one channel and 1-256 colours, got ",
                px.channels, " channels and ", px.palette_size, " colours");
    out.palette.assign(px.palette, px.palette + 3 * px.palette_size);
    std::memcpy(out.indices.data(), px.data, n);
    return out;
  }
  const int64_t c = px.channels;
  if (c == 1) {
    // Gray: the identity ramp (entry i is (i, i, i)), the samples the indices.
    out.palette.resize(256 * 3);
    for (size_t i = 0; i < out.palette.size(); ++i) out.palette[i] = static_cast<uint8_t>(i / 3);
    std::memcpy(out.indices.data(), px.data, n);
    return out;
  }
  // Exact: an open-addressing table of the colours seen (key + 1; 0 empty).
  constexpr size_t kSlots = 1024;
  std::array<uint32_t, kSlots> keys{};
  std::array<uint8_t, kSlots> slot_index{};
  int colors = 0;
  bool exact = true;
  for (size_t i = 0; i < n && exact; ++i) {
    const uint8_t* p = px.data + i * static_cast<size_t>(c);
    const uint32_t key = uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2];
    size_t s = (key * 2654435761u) >> 22;  // top 10 bits of the product
    while (keys[s] != 0 && keys[s] != key + 1) s = (s + 1) & (kSlots - 1);
    if (keys[s] == 0) {
      if (colors == 256) {
        exact = false;
        break;
      }
      keys[s] = key + 1;
      slot_index[s] = static_cast<uint8_t>(colors++);
      for (int k = 0; k < 3; ++k) out.palette.push_back(p[k]);
    }
    out.indices[i] = slot_index[s];
  }
  if (exact) return out;
  // The 6x7x6 cube.
  out.palette.assign(256 * 3, 0);
  for (int r = 0; r < 6; ++r) {
    for (int g = 0; g < 7; ++g) {
      for (int b = 0; b < 6; ++b) {
        uint8_t* e = &out.palette[3 * static_cast<size_t>(r * 42 + g * 6 + b)];
        e[0] = static_cast<uint8_t>(r * 51);
        e[1] = static_cast<uint8_t>((g * 255 + 3) / 6);
        e[2] = static_cast<uint8_t>(b * 51);
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = px.data + i * 3;
    const int r = (p[0] * 5 + 127) / 255, g = (p[1] * 6 + 127) / 255, b = (p[2] * 5 + 127) / 255;
    out.indices[i] = static_cast<uint8_t>(r * 42 + g * 6 + b);
  }
  return out;
}

int write_to_bytes(GifFileType* gif, const GifByteType* data, int size) {
  append(*static_cast<Bytes*>(gif->UserData), data, static_cast<size_t>(size));
  return size;
}

struct GifWriter {
  GifFileType* gif = nullptr;
  ~GifWriter() {
    if (gif != nullptr) EGifCloseFile(gif, nullptr);
  }
  // EGifCloseFile writes the trailer and frees the handle.
  void close(const char* what) {
    int err = 0;
    GifFileType* g = gif;
    gif = nullptr;
    TORCH_CHECK(EGifCloseFile(g, &err) == GIF_OK, what, ": giflib failed to finish the file: ",
                GifErrorString(err));
  }
};

struct MapObject {
  ColorMapObject* map = nullptr;
  ~MapObject() { GifFreeMapObject(map); }
};

void check_gif(GifFileType* gif, int rc, const char* what, const char* step) {
  TORCH_CHECK(rc == GIF_OK, what, ": giflib failed ", step, ": ", GifErrorString(gif->Error));
}

// A complete GIF of one image into `out`. delay_cs >= 0: an animation's
// frame (no global table; a graphic control extension with the delay, then
// the image with its local table).
void encode_gif_file(const PixelView& px, int delay_cs, Bytes& out) {
  const char* what = "encode GIF";
  const GifIndexed q = gif_indexed(px);
  const int colors = static_cast<int>(q.palette.size() / 3);
  int table = 2;
  while (table < colors) table *= 2;
  // Readers (Pillow, and decode_image) take a table that is the identity ramp
  // (entry i is (i, i, i)) as gray: an RGB image whose colours happen to be
  // one gets a larger table, whose zero padding is not.
  const auto is_ramp = [&](int size) {
    for (int i = 0; i < size; ++i) {
      for (int k = 0; k < 3; ++k) {
        const int v = i < colors ? q.palette[3 * i + k] : 0;
        if (v != i) return false;
      }
    }
    return true;
  };
  if (px.channels == 3 && px.palette == nullptr && table < 256 && is_ramp(table)) table *= 2;
  std::vector<GifColorType> entries(static_cast<size_t>(table), GifColorType{0, 0, 0});
  for (int i = 0; i < colors; ++i) {
    entries[i] = GifColorType{q.palette[3 * i], q.palette[3 * i + 1], q.palette[3 * i + 2]};
  }
  MapObject map;
  map.map = GifMakeMapObject(table, entries.data());
  TORCH_CHECK(map.map != nullptr, what, ": giflib failed to make a colour table of ", table,
              " entries");
  out.clear();
  out.reserve(static_cast<size_t>(px.height * px.width) / 2 + 1024);
  int err = 0;
  GifWriter w;
  w.gif = EGifOpen(&out, write_to_bytes, &err);
  TORCH_CHECK(w.gif != nullptr, what, ": giflib failed to open: ", GifErrorString(err));
  EGifSetGifVersion(w.gif, true);
  const bool frame = delay_cs >= 0;
  const int width = static_cast<int>(px.width), height = static_cast<int>(px.height);
  check_gif(w.gif, EGifPutScreenDesc(w.gif, width, height, 8, 0, frame ? nullptr : map.map), what,
            "writing the screen descriptor");
  if (frame) {
    // Disposal 1 (leave the frame in place), no transparency, the delay.
    const uint8_t gce[4] = {0x04, static_cast<uint8_t>(delay_cs & 0xff),
                            static_cast<uint8_t>(delay_cs >> 8), 0};
    check_gif(w.gif, EGifPutExtension(w.gif, GRAPHICS_EXT_FUNC_CODE, 4, gce), what,
              "writing the graphic control extension");
  }
  check_gif(w.gif, EGifPutImageDesc(w.gif, 0, 0, width, height, false, frame ? map.map : nullptr),
            what, "writing the image descriptor");
  std::vector<GifPixelType> row(static_cast<size_t>(width));
  for (int y = 0; y < height; ++y) {
    std::memcpy(row.data(), q.indices.data() + static_cast<size_t>(y) * width, row.size());
    check_gif(w.gif, EGifPutLine(w.gif, row.data(), width), what, "writing a row");
  }
  w.close(what);
}

void encode_gif_row(const PixelView& px, const EncodeOptions&, Bytes& out) {
  encode_gif_file(px, -1, out);
}

// An animation's frame: its graphic control extension, image descriptor,
// local table and image data (what follows the 13-byte header of a file
// without a global table, less the trailer).
void encode_gif_frame(const PixelView& px, const EncodeOptions&, const AnimationParams& a,
                      Bytes& frame) {
  Bytes file;
  encode_gif_file(px, a.gif_delay_cs(), file);
  TORCH_CHECK(file.size() > 14 && file.back() == 0x3b, "encode GIF: giflib wrote ", file.size(),
              " bytes without a trailer");
  frame.assign(file.begin() + 13, file.end() - 1);
}

// The file: header, screen descriptor, the loop extension, the frames, the
// trailer, written into a buffer of its exact size (GCC 12 took the
// push_back/insert sequence this was for a write past the end:
// -Wstringop-overflow, a false positive).
void assemble_gif(const std::vector<Bytes>& frames, const AnimationParams& a, Bytes& out) {
  size_t total = 13 + 19 + 1;
  for (const Bytes& f : frames) total += f.size();
  out.clear();
  out.resize(total);
  uint8_t* p = out.data();
  auto put = [&p](const void* data, size_t n) {
    if (n > 0) std::memcpy(p, data, n);
    p += n;
  };
  auto put_le16 = [&put](int64_t v) {
    const uint8_t b[2] = {static_cast<uint8_t>(v & 0xff), static_cast<uint8_t>((v >> 8) & 0xff)};
    put(b, 2);
  };
  put("GIF89a", 6);
  put_le16(a.width);
  put_le16(a.height);
  // No global table, 8 bits of colour resolution; background; aspect ratio.
  const uint8_t screen[] = {0x70, 0, 0};
  put(screen, sizeof(screen));
  // The NETSCAPE2.0 application extension: the loop count (0: forever).
  const uint8_t netscape[] = {0x21, 0xff, 0x0b, 'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E',
                              '2',  '.',  '0',  0x03, 0x01};
  put(netscape, sizeof(netscape));
  put_le16(a.loop);
  const uint8_t end_of_extension = 0, trailer = 0x3b;
  put(&end_of_extension, 1);
  for (const Bytes& f : frames) put(f.data(), f.size());
  put(&trailer, 1);
  TORCH_INTERNAL_ASSERT(p == out.data() + out.size(), "assemble_gif: wrote ", p - out.data(),
                        " of ", out.size(), " bytes");
}

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
};

int read_from_memory(GifFileType* gif, GifByteType* dst, int n) {
  auto* r = static_cast<Reader*>(gif->UserData);
  const size_t k = std::min(static_cast<size_t>(n), r->size - r->at);
  std::memcpy(dst, r->data + r->at, k);
  r->at += k;
  return static_cast<int>(k);
}

struct GifReader {
  GifFileType* gif = nullptr;
  ~GifReader() {
    if (gif != nullptr) DGifCloseFile(gif, nullptr);
  }
};

// Skips an extension block (comments, loop counts, frame delays) whose
// record type was just read.
void skip_extension(GifFileType* gif, const char* what) {
  int code = 0;
  GifByteType* block = nullptr;
  TORCH_CHECK(DGifGetExtension(gif, &code, &block) == GIF_OK, what, ": giflib: ",
              GifErrorString(gif->Error), " in an extension");
  while (block != nullptr) {
    TORCH_CHECK(DGifGetExtensionNext(gif, &block) == GIF_OK, what, ": giflib: ",
                GifErrorString(gif->Error), " in an extension");
  }
}

// The rest of the file, to its trailer: later frames' data skipped
// undecoded, but a truncated or malformed file is an error, as for PNG.
// (giflib frees the first image's local table on the next descriptor: called
// once the first image is converted.)
void read_to_trailer(GifFileType* gif, const Reader& reader, const char* what) {
  for (;;) {
    GifRecordType type = UNDEFINED_RECORD_TYPE;
    TORCH_CHECK(DGifGetRecordType(gif, &type) == GIF_OK, what, ": giflib: ",
                GifErrorString(gif->Error), " after the first image (after ", reader.at, " of ",
                reader.size, " bytes)");
    if (type == TERMINATE_RECORD_TYPE) break;
    if (type == EXTENSION_RECORD_TYPE) {
      skip_extension(gif, what);
      continue;
    }
    GifByteType* block = nullptr;
    TORCH_CHECK(type == IMAGE_DESC_RECORD_TYPE, what, ": an unknown record after the first image");
    TORCH_CHECK(DGifGetImageDesc(gif) == GIF_OK, what, ": giflib: ", GifErrorString(gif->Error),
                " in a later image's descriptor");
    int code_size = 0;
    TORCH_CHECK(DGifGetCode(gif, &code_size, &block) == GIF_OK, what, ": giflib: ",
                GifErrorString(gif->Error), " in a later image's data");
    while (block != nullptr) {
      TORCH_CHECK(DGifGetCodeNext(gif, &block) == GIF_OK, what, ": giflib: ",
                  GifErrorString(gif->Error), " in a later image's data");
    }
  }
}

torch::Tensor decode_gif_row(const uint8_t* data, size_t size, const DecodeOptions& o) {
  const char* what = "decode_image: invalid GIF";
  Reader reader{data, size};
  int err = 0;
  GifReader r;
  r.gif = DGifOpen(&reader, read_from_memory, &err);
  TORCH_CHECK(r.gif != nullptr, what, ": giflib cannot read its header (", GifErrorString(err),
              ")");
  GifFileType* gif = r.gif;
  const int64_t sw = gif->SWidth, sh = gif->SHeight;
  TORCH_CHECK(sw > 0 && sh > 0, what, ": a logical screen of ", sh, "x", sw, " pixels");
  TORCH_CHECK(sw * sh <= o.max_pixels(), what, ": image of ", sh, "x", sw,
              " pixels exceeds max_pixels ", o.max_pixels());
  for (;;) {
    GifRecordType type = UNDEFINED_RECORD_TYPE;
    TORCH_CHECK(DGifGetRecordType(gif, &type) == GIF_OK, what, ": giflib: ",
                GifErrorString(gif->Error), " (after ", reader.at, " of ", size, " bytes)");
    if (type == EXTENSION_RECORD_TYPE) {
      skip_extension(gif, what);
      continue;
    }
    TORCH_CHECK(type == IMAGE_DESC_RECORD_TYPE, what, ": no image before ",
                type == TERMINATE_RECORD_TYPE ? "the trailer" : "an unknown record");
    break;
  }
  TORCH_CHECK(DGifGetImageDesc(gif) == GIF_OK, what, ": giflib: ", GifErrorString(gif->Error),
              " in the image descriptor");
  const GifImageDesc& d = gif->Image;
  TORCH_CHECK(d.Left >= 0 && d.Top >= 0 && d.Width > 0 && d.Height > 0 &&
                  int64_t{d.Left} + d.Width <= sw && int64_t{d.Top} + d.Height <= sh,
              what, ": an image of ", d.Height, "x", d.Width, " at (", d.Left, ", ", d.Top,
              ") outside the ", sh, "x", sw, " screen");
  const ColorMapObject* map = d.ColorMap != nullptr ? d.ColorMap : gif->SColorMap;
  TORCH_CHECK(map != nullptr && map->ColorCount > 0, what,
              ": no colour table (neither local nor global)");
  // The indices on the screen: the background outside the image.
  const int background =
      gif->SColorMap != nullptr && gif->SBackGroundColor < gif->SColorMap->ColorCount
          ? gif->SBackGroundColor
          : 0;
  std::vector<GifPixelType> indices(static_cast<size_t>(sw * sh),
                                    static_cast<GifPixelType>(background));
  std::vector<int> rows;
  if (d.Interlace) {
    const int start[] = {0, 4, 2, 1}, step[] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
      for (int y = start[pass]; y < d.Height; y += step[pass]) rows.push_back(y);
    }
  } else {
    for (int y = 0; y < d.Height; ++y) rows.push_back(y);
  }
  for (const int y : rows) {
    GifPixelType* line = indices.data() + (static_cast<size_t>(d.Top) + y) * sw + d.Left;
    TORCH_CHECK(DGifGetLine(gif, line, d.Width) == GIF_OK, what, ": giflib: ",
                GifErrorString(gif->Error), " in row ", y, " of ", d.Height);
  }
  for (int y = 0; y < d.Height; ++y) {
    const GifPixelType* line = indices.data() + (static_cast<size_t>(d.Top) + y) * sw + d.Left;
    for (int x = 0; x < d.Width; ++x) {
      TORCH_CHECK(line[x] < map->ColorCount, what, ": index ", int{line[x]}, " at (", x, ", ", y,
                  ") beyond its colour table of ", map->ColorCount, " entries");
    }
  }
  // The background index is checked against the global table; the image's
  // may be local and shorter.
  const ColorMapObject* bg_map = gif->SColorMap != nullptr ? gif->SColorMap : map;
  if (o.keep_indices()) {
    torch::Tensor out = torch::empty({1, sh, sw}, torch::kUInt8);
    std::memcpy(out.data_ptr<uint8_t>(), indices.data(), indices.size());
    read_to_trailer(gif, reader, what);
    return out;
  }
  // Gray where the table is the identity ramp (entry i is (i, i, i)), as
  // Pillow reads it (mode L); else RGB.
  bool grey = true;
  for (int i = 0; i < map->ColorCount && grey; ++i) {
    const GifColorType& e = map->Colors[i];
    grey = e.Red == i && e.Green == i && e.Blue == i;
  }
  const int64_t c = grey ? 1 : 3;
  torch::Tensor hwc = torch::empty({sh, sw, c}, torch::kUInt8);
  uint8_t* dst = hwc.data_ptr<uint8_t>();
  for (int64_t y = 0; y < sh; ++y) {
    const bool in_rows = y >= d.Top && y < int64_t{d.Top} + d.Height;
    for (int64_t x = 0; x < sw; ++x, dst += c) {
      const bool inside = in_rows && x >= d.Left && x < int64_t{d.Left} + d.Width;
      const GifColorType& e = (inside ? map : bg_map)->Colors[indices[y * sw + x]];
      dst[0] = e.Red;
      if (c == 3) {
        dst[1] = e.Green;
        dst[2] = e.Blue;
      }
    }
  }
  read_to_trailer(gif, reader, what);
  return hwc.permute({2, 0, 1}).contiguous();
}

#endif  // TORCHIMAGE_HAVE_GIF

}  // namespace

Codec gif_codec() {
  Codec c;
  c.info.format = ImageFormat::GIF;
  c.info.name = "gif";
  c.info.display_name = "GIF";
  c.info.extensions = {"gif"};
  c.info.channels = {1, 3};
  c.info.bit_depths = {8};
  c.info.max_side = kGifMaxSide;
  c.info.indexed = true;
  c.info.animated = true;
  c.signatures = {"GIF87a", "GIF89a"};
#if TORCHIMAGE_HAVE_GIF
  c.encode = encode_gif_row;
  c.decode = decode_gif_row;
  c.encode_frame = encode_gif_frame;
  c.assemble_animation = assemble_gif;
#else
  c.info.available = false;
#endif
  return c;
}

}  // namespace torchimage
