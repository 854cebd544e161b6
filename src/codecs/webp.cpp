// WebP's row in the table of formats, through libwebp: lossy (quality 80 by
// default) or lossless, RGB or RGBA, 8 bits, 16383 pixels a side. The
// encoder's settings are Pillow's (9.4, _webp.c's WebPEncode): WebPConfigInit,
// then quality, method (4) and lossless, `exact` off, the pixels imported as
// ARGB (use_argb = 1, WebPPictureImportRGB/RGBA), so that on the same libwebp
// the bytes are the ones Pillow writes.
//
// Animations: each frame is encoded once as above (the frame's options; the
// default method is 4, where Pillow's animated WebP uses 0), and its VP8 or
// VP8L chunk (with ALPH, lossy with alpha) kept. The file is assembled by
// torchimage as the WebP container specifies: VP8X (animation; alpha for 4
// channels), ANIM (background 0, the loop count), then an ANMF chunk per frame
// covering the canvas at (0, 0), not blended, not disposed, with its duration.
//
// libwebp returns its errors (no callbacks, no longjmp); each becomes a
// c10::Error naming libwebp's error code.
#include <cstdlib>
#include <cstring>

#include <c10/util/Exception.h>

#include "codecs/codec.h"

#if TORCHIMAGE_HAVE_WEBP
#include <webp/decode.h>
#include <webp/encode.h>
#endif

namespace torchimage {
namespace {

constexpr int64_t kWebpMaxSide = 16383;  // WEBP_MAX_DIMENSION

void check_webp_options(const EncodeOptions& o, const char* what) {
  TORCH_CHECK(o.webp().quality() >= 1 && o.webp().quality() <= 100, what,
              ": WebP quality must be in 1-100, got ", o.webp().quality());
  TORCH_CHECK(o.webp().method() >= 0 && o.webp().method() <= 6, what,
              ": WebP method must be in 0-6, got ", o.webp().method());
}

#if TORCHIMAGE_HAVE_WEBP

const char* webp_error_name(WebPEncodingError e) {
  switch (e) {
    case VP8_ENC_ERROR_OUT_OF_MEMORY: return "out of memory";
    case VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY: return "out of memory (bitstream)";
    case VP8_ENC_ERROR_NULL_PARAMETER: return "null parameter";
    case VP8_ENC_ERROR_INVALID_CONFIGURATION: return "invalid configuration";
    case VP8_ENC_ERROR_BAD_DIMENSION: return "bad dimension";
    case VP8_ENC_ERROR_PARTITION0_OVERFLOW: return "partition 0 overflow";
    case VP8_ENC_ERROR_PARTITION_OVERFLOW: return "partition overflow";
    case VP8_ENC_ERROR_BAD_WRITE: return "bad write";
    case VP8_ENC_ERROR_FILE_TOO_BIG: return "file too big";
    case VP8_ENC_ERROR_USER_ABORT: return "user abort";
    default: return "unknown error";
  }
}

// Frees what libwebp allocated, whatever way the encoder leaves.
struct WebpEncoding {
  WebPPicture pic;
  WebPMemoryWriter writer;
  WebpEncoding() {
    WebPPictureInit(&pic);
    WebPMemoryWriterInit(&writer);
  }
  ~WebpEncoding() {
    WebPPictureFree(&pic);
    WebPMemoryWriterClear(&writer);
  }
  WebpEncoding(const WebpEncoding&) = delete;
  WebpEncoding& operator=(const WebpEncoding&) = delete;
};

void encode_webp_row(const PixelView& px, const EncodeOptions& o, Bytes& out) {
  const char* what = "encode WebP";
  WebPConfig config;
  TORCH_CHECK(WebPConfigInit(&config), what, ": libwebp's WebPConfigInit failed (version mismatch)");
  config.lossless = o.webp().lossless() ? 1 : 0;
  config.quality = static_cast<float>(o.webp().quality());
  config.method = o.webp().method();
  config.exact = 0;
  TORCH_CHECK(WebPValidateConfig(&config), what, ": libwebp refuses the configuration (quality ",
              o.webp().quality(), ", method ", o.webp().method(), ")");
  WebpEncoding e;
  e.pic.width = static_cast<int>(px.width);
  e.pic.height = static_cast<int>(px.height);
  e.pic.use_argb = 1;
  const int stride = static_cast<int>(px.row_bytes());
  const int imported = px.channels == 4 ? WebPPictureImportRGBA(&e.pic, px.data, stride)
                                        : WebPPictureImportRGB(&e.pic, px.data, stride);
  TORCH_CHECK(imported, what, ": libwebp failed to import the pixels: ",
              webp_error_name(e.pic.error_code));
  e.pic.writer = WebPMemoryWrite;
  e.pic.custom_ptr = &e.writer;
  TORCH_CHECK(WebPEncode(&config, &e.pic), what, ": libwebp failed: ",
              webp_error_name(e.pic.error_code));
  out.assign(e.writer.mem, e.writer.mem + e.writer.size);
}

uint32_t get_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

void put_le(Bytes& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A frame: the image chunks (ALPH, VP8, VP8L) of its own WebP file.
void encode_webp_frame(const PixelView& px, const EncodeOptions& o, const AnimationParams&,
                       Bytes& frame) {
  Bytes file;
  encode_webp_row(px, o, file);
  TORCH_CHECK(file.size() >= 12 && std::memcmp(file.data(), "RIFF", 4) == 0 &&
                  std::memcmp(file.data() + 8, "WEBP", 4) == 0,
              "encode WebP: libwebp wrote ", file.size(), " bytes that are not a WebP file");
  frame.clear();
  size_t at = 12;
  while (at + 8 <= file.size()) {
    const uint32_t size = get_le32(file.data() + at + 4);
    const size_t whole = 8 + size_t{size} + (size & 1);
    TORCH_CHECK(at + whole <= file.size(), "encode WebP: libwebp wrote a chunk that overruns");
    const uint8_t* type = file.data() + at;
    if (std::memcmp(type, "ALPH", 4) == 0 || std::memcmp(type, "VP8 ", 4) == 0 ||
        std::memcmp(type, "VP8L", 4) == 0) {
      append(frame, type, whole);
    }
    at += whole;
  }
  TORCH_CHECK(!frame.empty(), "encode WebP: libwebp wrote no image chunk");
}

void assemble_webp(const std::vector<Bytes>& frames, const AnimationParams& a, Bytes& out) {
  size_t total = 12 + 18 + 14;
  for (const Bytes& f : frames) total += 24 + f.size();
  TORCH_CHECK(total - 8 <= 0xfffffffeu, "encode WebP: an animation of ", total,
              " bytes exceeds WebP's limit of 4 GiB");
  out.clear();
  out.reserve(total);
  append(out, "RIFF", 4);
  put_le(out, static_cast<uint32_t>(total - 8), 4);
  append(out, "WEBP", 4);
  append(out, "VP8X", 4);
  put_le(out, 10, 4);
  out.push_back(static_cast<uint8_t>(0x02 | (a.channels == 4 ? 0x10 : 0)));  // animation, alpha
  put_le(out, 0, 3);
  put_le(out, static_cast<uint32_t>(a.width - 1), 3);
  put_le(out, static_cast<uint32_t>(a.height - 1), 3);
  append(out, "ANIM", 4);
  put_le(out, 6, 4);
  put_le(out, 0, 4);  // background colour
  put_le(out, static_cast<uint32_t>(a.loop), 2);
  for (const Bytes& f : frames) {
    append(out, "ANMF", 4);
    put_le(out, static_cast<uint32_t>(16 + f.size()), 4);
    put_le(out, 0, 3);  // x / 2
    put_le(out, 0, 3);  // y / 2
    put_le(out, static_cast<uint32_t>(a.width - 1), 3);
    put_le(out, static_cast<uint32_t>(a.height - 1), 3);
    put_le(out, static_cast<uint32_t>(a.duration_ms), 3);
    out.push_back(0x02);  // do not blend, do not dispose
    append(out, f.data(), f.size());
  }
}

torch::Tensor decode_webp_row(const uint8_t* data, size_t size, const DecodeOptions& o) {
  WebPBitstreamFeatures f;
  const VP8StatusCode status = WebPGetFeatures(data, size, &f);
  TORCH_CHECK(status == VP8_STATUS_OK, "decode_image: invalid WebP: libwebp status ",
              static_cast<int>(status), " reading its header");
  TORCH_CHECK(!f.has_animation, "decode_image: unsupported WebP: animated");
  TORCH_CHECK(f.width > 0 && f.height > 0, "decode_image: invalid WebP: an image of ", f.height,
              "x", f.width, " pixels");
  TORCH_CHECK(int64_t{f.width} * f.height <= o.max_pixels(), "decode_image: invalid WebP: image of ",
              f.height, "x", f.width, " pixels exceeds max_pixels ", o.max_pixels());
  const int64_t c = f.has_alpha ? 4 : 3;
  torch::Tensor hwc = torch::empty({f.height, f.width, c}, torch::kUInt8);
  const size_t n = static_cast<size_t>(hwc.numel());
  const int stride = static_cast<int>(f.width * c);
  uint8_t* ok = f.has_alpha ? WebPDecodeRGBAInto(data, size, hwc.data_ptr<uint8_t>(), n, stride)
                            : WebPDecodeRGBInto(data, size, hwc.data_ptr<uint8_t>(), n, stride);
  TORCH_CHECK(ok != nullptr, "decode_image: invalid WebP: libwebp cannot decode its ", size,
              " bytes");
  return hwc.permute({2, 0, 1}).contiguous();
}

#endif  // TORCHIMAGE_HAVE_WEBP

}  // namespace

Codec webp_codec() {
  Codec c;
  c.info.format = ImageFormat::WEBP;
  c.info.name = "webp";
  c.info.display_name = "WebP";
  c.info.extensions = {"webp"};
  c.info.channels = {3, 4};
  c.info.bit_depths = {8};
  c.info.max_side = kWebpMaxSide;
  c.info.lossy = true;
  c.info.animated = true;
  c.signatures = {std::string("RIFF????WEBP", 12)};
  c.check_options = check_webp_options;
#if TORCHIMAGE_HAVE_WEBP
  c.encode = encode_webp_row;
  c.decode = decode_webp_row;
  c.encode_frame = encode_webp_frame;
  c.assemble_animation = assemble_webp;
#else
  c.info.available = false;
#endif
  return c;
}

}  // namespace torchimage
