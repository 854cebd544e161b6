// Private: the table of formats. One row (a Codec) per format, each defined
// in its own file (codecs/png.cpp, codecs/jpeg.cpp) and listed once in
// codecs/formats.cpp. Everything that depends on the format reads its row:
// parsing names and extensions, the checks of options and shapes, encoding,
// decoding (by signature), and every message that lists formats.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include <torchimage/formats.h>
#include <torchimage/io.h>

#include "core/byte_buffer.h"
#include "core/pixel_view.h"

namespace torchimage {

// What every frame of an animation shares (AnimationWriter's first frame and
// its AnimationOptions).
struct AnimationParams {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  int bit_depth = 8;
  int loop = 0;              // plays; 0: forever
  int duration_ms = 250;     // each frame's, 1-65535

  // GIF's delay, in hundredths of a second (rounded, at least 1).
  int gif_delay_cs() const { return std::max(1, (duration_ms + 5) / 10); }
};

struct Codec {
  // What the public table says of the format (formats()).
  FormatInfo info;
  // The first bytes of the format's files, by which decode_image knows them.
  // A '?' in a signature matches any byte (WebP's: "RIFF", a size, "WEBP").
  std::vector<std::string> signatures;
  // The format's own options (its nested options in EncodeOptions), checked
  // whatever the format written. `what` starts each message.
  void (*check_options)(const EncodeOptions& options, const char* what) = nullptr;
  // Limits beyond the row's channels, depths and side, if any (PNG: 2^31-1
  // bytes a row). Null: none.
  void (*check_shape)(int64_t height, int64_t width, int64_t channels, int bit_depth,
                      const char* what) = nullptr;
  // A complete file of the pixels into `out` (its contents replaced, its
  // capacity reused). Called only with a shape and depth that passed
  // check_image (float samples only where info.float_samples). Null where
  // the build lacks the format's library.
  void (*encode)(const PixelView& pixels, const EncodeOptions& options, Bytes& out) = nullptr;
  // The file's image as (C, H, W). Null where the build lacks the library.
  torch::Tensor (*decode)(const uint8_t* data, size_t size, const DecodeOptions& options) = nullptr;

  // Animations (info.animated; null where the build lacks the library). A
  // frame is encoded once, into what the format's file keeps of it (PNG: a
  // PNG file of the frame, whose IDAT data become fdAT chunks; WebP: the
  // frame's VP8/VP8L and ALPH chunks; GIF: its image block); the file of
  // the frames so far is then assembled from the kept frames, without
  // encoding any again.
  void (*encode_frame)(const PixelView& pixels, const EncodeOptions& options,
                       const AnimationParams& params, Bytes& frame) = nullptr;
  // The complete file of `frames` (at least one) into `out`.
  void (*assemble_animation)(const std::vector<Bytes>& frames, const AnimationParams& params,
                             Bytes& out) = nullptr;
};

// The rows, in the order messages list them.
const std::vector<Codec>& codecs();

// The row of a format.
const Codec& codec_of(ImageFormat format);

// The row whose signature starts `data`, or null.
const Codec* codec_of_data(const uint8_t* data, size_t size);

// An error unless this build has the format's library.
void check_available(const Codec& codec, const char* what);

// (check_encode_options, which checks every format's options and the bit
// depth's range, is public: include/torchimage/formats.h.)

// Whether the format writes samples of `bit_depth` bits.
bool has_depth(const Codec& codec, int bit_depth);

// An error unless the format writes samples of `bit_depth` bits.
void check_depth(const Codec& codec, int bit_depth, const char* what);

// Checks that `codec` writes an image of this shape at this depth: its
// channels, depths, largest side and own limits.
void check_image(const Codec& codec, int64_t height, int64_t width, int64_t channels,
                 int bit_depth, const char* what);

// "PNG" or "PNG and TIFF": the formats whose row holds `bit_depth`.
std::string formats_with_depth(int bit_depth);

// "TIFF": the formats that write float32 samples (keep_values).
std::string formats_with_float_samples();

// The rows, one per file.
Codec png_codec();
Codec jpeg_codec();
Codec tiff_codec();
Codec webp_codec();
Codec bmp_codec();
Codec gif_codec();

}  // namespace torchimage
