// The tests' one independent PNG decoder: libpng (not torchimage's decoder)
// reads a file with its low-level API and no colour processing (no gamma, no
// background, no 16-to-8 reduction), so what it returns is what the file
// stores. Palettes become RGB, tRNS an alpha channel, gray below 8 bits
// 8-bit gray; everything else comes back as stored. It never asserts: the
// callers check what it returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace torchimage_test {

struct ReferencePng {
  // Empty when libpng read the whole file (to IEND); else libpng's message.
  std::string error;
  // libpng's warnings (a well-formed file has none).
  std::vector<std::string> warnings;
  // As the IHDR chunk says.
  uint32_t width = 0, height = 0;
  int color_type = -1;  // 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA
  int file_bit_depth = 0;
  int interlace = -1;
  // The decoded samples: `channels` a pixel (1 gray, 2 gray + alpha, 3 RGB,
  // 4 RGBA), `bit_depth` (8 or 16) a sample.
  int channels = 0;
  int bit_depth = 0;
  // Row-major, interleaved. 8-bit: one byte a sample; 16-bit: two bytes a
  // sample, big-endian (as stored).
  std::vector<uint8_t> bytes;

  bool ok() const { return error.empty(); }
  // Every sample's value (0-255 or 0-65535), row-major, interleaved.
  std::vector<uint16_t> samples() const;
  // The samples as an (H, W, C) CPU tensor: uint8 for 8 bits, int32 for 16.
  torch::Tensor hwc() const;
  // "640x480, 3 channels, 8 bits" and the error, for messages.
  std::string describe() const;
};

ReferencePng decode_reference_png(const uint8_t* data, size_t size);
ReferencePng decode_reference_png(const std::vector<uint8_t>& file);
// `file`: 1-D uint8 bytes (as encode_image returns).
ReferencePng decode_reference_png(const torch::Tensor& file);

}  // namespace torchimage_test
