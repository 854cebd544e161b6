// decode_image on arbitrary bytes: returns a valid image or throws a
// c10::Error; never crashes, leaks, reads out of bounds or allocates beyond
// max_pixels (1 Mi pixels here, so hostile headers cannot exhaust memory).
// A decoded image must survive a PNG round trip exactly.
#include <torchimage/io.h>
#include <torchimage/save_image.h>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = int64_t{1} << 20;
  const torch::Tensor bytes = torch::empty({static_cast<int64_t>(size)}, torch::kUInt8);
  if (size > 0) std::memcpy(bytes.data_ptr<uint8_t>(), data, size);
  torch::Tensor image;
  if (!fuzz::accepted([&] {
        image = torchimage::decode_image(bytes, torchimage::DecodeOptions().max_pixels(kMaxPixels));
      })) {
    return 0;
  }
  // uint8, or float32 for a float TIFF (encode_image with keep_values
  // writes it back: the same values).
  const bool floats = image.scalar_type() == torch::kFloat;
  FUZZ_CHECK((image.scalar_type() == torch::kUInt8 || floats) && image.dim() == 3 &&
                 image.is_contiguous(),
             "decoded ", image.scalar_type(), " ", image.sizes());
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  FUZZ_CHECK(c >= 1 && c <= 4 && h >= 1 && w >= 1 && h * w <= kMaxPixels, "shape ", image.sizes());
  if (floats) {
    const auto o = torchimage::SaveImageOptions().format(torchimage::ImageFormat::TIFF)
                       .keep_values(true).grayscale(true);
    const torch::Tensor again = torchimage::decode_image(torchimage::encode_image(image, o));
    FUZZ_CHECK(again.sizes() == image.sizes() &&
                   again.view({-1}).view(torch::kInt).equal(image.view({-1}).view(torch::kInt)),
               "float TIFF round trip of a decoded ", image.sizes(), " image differs");
    return 0;
  }
  // Re-encoding what was decoded is lossless (the default engine; and zlib
  // level 1 on small images).
  const torch::Tensor again = torchimage::decode_image(torchimage::encode_png(image));
  FUZZ_CHECK(again.equal(image), "PNG round trip of a decoded ", image.sizes(), " image differs");
  if (h * w <= 4096) {
    const torch::Tensor z = torchimage::decode_image(
        torchimage::encode_png(image, torchimage::PngOptions().compression_level(1)));
    FUZZ_CHECK(z.equal(image), "level-1 PNG round trip differs");
  }
  return 0;
}
