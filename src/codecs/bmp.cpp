// BMP's row in the table of formats: torchimage's own writer and reader, no
// library. The layouts are Pillow's (BmpImagePlugin): a 14-byte file header,
// a 40-byte BITMAPINFOHEADER, 96 dpi (3780 pixels a metre), rows bottom-up,
// each padded to 4 bytes; 3 channels as 24-bit BGR, 4 as 32-bit BGRA
// (compression 0), 1 (grayscale) as 8 bits with a 256-entry grey palette. 2
// channels are refused, as Pillow refuses LA.
//
// The reader takes these layouts (bottom-up or top-down, 24 or 32 bits, 8
// bits with any palette: expanded to RGB unless the palette is grey) and
// refuses the rest (RLE, bit fields, 1/4/16 bits) by name.
#include <cstring>

#include <c10/util/Exception.h>

#include "codecs/codec.h"

namespace torchimage {
namespace {

constexpr uint32_t kPixelsPerMetre = 3780;  // int(96 * 39.3701 + 0.5)
constexpr size_t kHeaders = 14 + 40;
// The largest file written: BMP's sizes are 32-bit, and many readers take
// them as signed (2 GiB).
constexpr int64_t kBmpMaxBytes = (int64_t{1} << 31) - 1;

void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, v & 0xffff);
  put16(p + 2, v >> 16);
}
uint32_t get16(const uint8_t* p) { return p[0] | (uint32_t{p[1]} << 8); }
uint32_t get32(const uint8_t* p) { return get16(p) | (get16(p + 2) << 16); }

int64_t bmp_stride(int64_t width, int64_t channels) { return (width * channels + 3) & ~int64_t{3}; }

void check_bmp_shape(int64_t height, int64_t width, int64_t channels, int, const char* what) {
  const int64_t palette = channels == 1 ? 1024 : 0;
  const int64_t bytes = static_cast<int64_t>(kHeaders) + palette + bmp_stride(width, channels) * height;
  TORCH_CHECK(bytes <= kBmpMaxBytes, what, ": a ", height, "x", width, " image of ", channels,
              " channels exceeds BMP's limit of 2^31-1 bytes a file");
}

void encode_bmp_row(const PixelView& px, const EncodeOptions&, Bytes& out) {
  const int64_t c = px.channels;
  const int64_t stride = bmp_stride(px.width, c);
  const uint32_t colors = c == 1 ? 256 : 0;
  const size_t offset = kHeaders + colors * 4;
  const size_t image = static_cast<size_t>(stride * px.height);
  out.assign(offset + image, 0);
  uint8_t* h = out.data();
  h[0] = 'B';
  h[1] = 'M';
  put32(h + 2, static_cast<uint32_t>(offset + image));
  put32(h + 10, static_cast<uint32_t>(offset));
  put32(h + 14, 40);
  put32(h + 18, static_cast<uint32_t>(px.width));
  put32(h + 22, static_cast<uint32_t>(px.height));
  put16(h + 26, 1);
  put16(h + 28, static_cast<uint32_t>(c * 8));
  put32(h + 30, 0);
  put32(h + 34, static_cast<uint32_t>(image));
  put32(h + 38, kPixelsPerMetre);
  put32(h + 42, kPixelsPerMetre);
  put32(h + 46, colors);
  put32(h + 50, colors);
  for (uint32_t i = 0; i < colors; ++i) {
    uint8_t* e = h + kHeaders + 4 * i;
    e[0] = e[1] = e[2] = e[3] = static_cast<uint8_t>(i);
  }
  const size_t row = static_cast<size_t>(px.width * c);
  for (int64_t y = 0; y < px.height; ++y) {
    const uint8_t* src = px.data + row * static_cast<size_t>(y);
    uint8_t* dst = h + offset + static_cast<size_t>(stride * (px.height - 1 - y));
    if (c == 1) {
      std::memcpy(dst, src, row);
    } else {
      for (int64_t x = 0; x < px.width; ++x, src += c, dst += c) {
        dst[0] = src[2];
        dst[1] = src[1];
        dst[2] = src[0];
        if (c == 4) dst[3] = src[3];
      }
    }
  }
}

torch::Tensor decode_bmp_row(const uint8_t* data, size_t size, const DecodeOptions& o) {
  TORCH_CHECK(size >= kHeaders, "decode_image: invalid BMP: ", size,
              " bytes, shorter than its headers (54)");
  const uint32_t offset = get32(data + 10);
  const uint32_t header = get32(data + 14);
  TORCH_CHECK(header >= 40 && header <= size - 14, "decode_image: unsupported BMP: info header of ",
              header, " bytes (expected BITMAPINFOHEADER, 40, or a later one)");
  const int64_t width = static_cast<int32_t>(get32(data + 18));
  const int64_t signed_height = static_cast<int32_t>(get32(data + 22));
  const uint32_t bits = get16(data + 28);
  const uint32_t compression = get32(data + 30);
  uint32_t colors = get32(data + 46);
  TORCH_CHECK(get16(data + 26) == 1, "decode_image: invalid BMP: ", get16(data + 26),
              " planes (expected 1)");
  TORCH_CHECK(compression == 0, "decode_image: unsupported BMP: compression ", compression,
              " (expected 0, uncompressed)");
  TORCH_CHECK(bits == 8 || bits == 24 || bits == 32, "decode_image: unsupported BMP: ", bits,
              " bits a pixel (expected 8, 24 or 32)");
  const int64_t height = signed_height < 0 ? -signed_height : signed_height;
  TORCH_CHECK(width > 0 && height > 0, "decode_image: invalid BMP: an image of ", signed_height,
              "x", width, " pixels");
  TORCH_CHECK(width * height <= o.max_pixels(), "decode_image: invalid BMP: image of ", height,
              "x", width, " pixels exceeds max_pixels ", o.max_pixels());
  const int64_t in_c = bits / 8;
  const int64_t stride = bmp_stride(width, in_c);
  TORCH_CHECK(offset <= size && static_cast<int64_t>(size - offset) >= stride * height,
              "decode_image: invalid BMP: ", size, " bytes, too few for ", height, "x", width,
              " pixels of ", bits, " bits at offset ", offset);
  std::vector<uint8_t> palette;  // BGRX entries
  bool grey = false;
  if (bits == 8) {
    if (colors == 0) colors = 256;
    const size_t at = 14 + header;
    TORCH_CHECK(colors <= 256 && at + colors * 4 <= offset, "decode_image: invalid BMP: a palette of ",
                colors, " colours does not fit before the pixels");
    palette.assign(data + at, data + at + colors * 4);
    grey = true;
    for (uint32_t i = 0; i < colors; ++i) {
      const uint8_t* e = &palette[4 * i];
      grey = grey && e[0] == e[1] && e[1] == e[2];
    }
    palette.resize(256 * 4, 0);
  }
  const int64_t out_c = bits == 8 ? (grey ? 1 : 3) : in_c;
  torch::Tensor hwc = torch::empty({height, width, out_c}, torch::kUInt8);
  uint8_t* base = hwc.data_ptr<uint8_t>();
  for (int64_t y = 0; y < height; ++y) {
    const int64_t file_row = signed_height < 0 ? y : height - 1 - y;
    const uint8_t* src = data + offset + stride * file_row;
    uint8_t* dst = base + y * width * out_c;
    for (int64_t x = 0; x < width; ++x, dst += out_c) {
      if (bits == 8) {
        const uint8_t* e = &palette[4 * size_t{src[x]}];
        if (grey) {
          dst[0] = e[0];
        } else {
          dst[0] = e[2];
          dst[1] = e[1];
          dst[2] = e[0];
        }
      } else {
        const uint8_t* p = src + x * in_c;
        dst[0] = p[2];
        dst[1] = p[1];
        dst[2] = p[0];
        if (in_c == 4) dst[3] = p[3];
      }
    }
  }
  return hwc.permute({2, 0, 1}).contiguous();
}

}  // namespace

Codec bmp_codec() {
  Codec c;
  c.info.format = ImageFormat::BMP;
  c.info.name = "bmp";
  c.info.display_name = "BMP";
  c.info.extensions = {"bmp"};
  c.info.channels = {1, 3, 4};
  c.info.bit_depths = {8};
  c.info.max_side = 0x7fffffff;
  c.signatures = {"BM"};
  c.check_shape = check_bmp_shape;
  c.encode = encode_bmp_row;
  c.decode = decode_bmp_row;
  return c;
}

}  // namespace torchimage
