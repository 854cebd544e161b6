// The in-memory codecs of io.h: encode_png, encode_jpeg, decode_image and
// read_image, each through the format's row.
#include <torchimage/io.h>

#include <c10/util/Exception.h>

#include "codecs/codec.h"
#include "io/file_path.h"
#include "pipeline/plan.h"

namespace torchimage {

torch::Tensor encode_png(const torch::Tensor& image, const PngOptions& options) {
  return to_tensor(encode_chw(image, ImageFormat::PNG, EncodeOptions().png(options), "encode_png"));
}

torch::Tensor encode_jpeg(const torch::Tensor& image, const JpegOptions& options) {
  return to_tensor(
      encode_chw(image, ImageFormat::JPEG, EncodeOptions().jpeg(options), "encode_jpeg"));
}

torch::Tensor decode_image(const torch::Tensor& data, const DecodeOptions& options) {
  TORCH_CHECK(data.defined() && data.scalar_type() == torch::kUInt8 && data.dim() == 1,
              "decode_image: expected a 1-D uint8 tensor of file bytes, got ",
              data.defined() ? c10::str(data.scalar_type(), " of shape ", data.sizes())
                             : std::string("an undefined tensor"));
  const torch::Tensor bytes = data.to(torch::kCPU).contiguous();
  const auto* p = bytes.data_ptr<uint8_t>();
  const size_t n = static_cast<size_t>(bytes.numel());
  if (const Codec* codec = codec_of_data(p, n)) {
    check_available(*codec, "decode_image");
    return codec->decode(p, n, options);
  }
  std::string names;
  for (const Codec& c : codecs()) {
    if (c.decode == nullptr && c.info.available) continue;  // written, never read
    names += (names.empty() ? "" : " or ") + c.info.display_name;
  }
  TORCH_CHECK(false, "decode_image: unsupported data: expected ", names, " bytes (", n,
              " bytes, not starting with a ", names, " signature)");
}

torch::Tensor read_image(const std::string& path, const DecodeOptions& options) {
  check_path(path, "read_image");
  try {
    return decode_image(read_file(path), options);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "read_image: '", path, "': ", e.what_without_backtrace());
  }
}

}  // namespace torchimage
