// The CLI's .npy parser (torchimage::cli::parse_npy) on arbitrary bytes:
// returns a tensor that matches its header or throws a c10::Error. A small
// tensor it returns is then fed to to_pixels, which must either work or
// throw a c10::Error too.
#include <torchimage/save_image.h>

#include "core/torch_compat.h"
#include "fuzz_common.h"
#include "tensor_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  torchimage::cli::NpyHeader h;
  torch::Tensor t;
  if (!fuzz::accepted([&] {
        h = torchimage::cli::parse_npy_header(bytes, size, size, "fuzz.npy");
        t = torchimage::cli::parse_npy(bytes, size, "fuzz.npy");
      })) {
    return 0;
  }
  FUZZ_CHECK(t.defined(), "parse_npy returned an undefined tensor");
  const auto dtype = t.scalar_type();
  // The header's dtype, one of those the loader takes; '<u2'/'>u2' arrive
  // as the build's 16-bit sample dtype: uint16, or int32 holding 0-65535
  // before LibTorch 2.3.
  const auto expected = h.dtype;
  FUZZ_CHECK(expected == torch::kHalf || expected == torch::kFloat ||
                 expected == torch::kDouble || expected == torch::kUInt8 ||
                 expected == torch::kBool || expected == torch::kInt8 ||
                 expected == torch::kInt16 || expected == torch::kInt32 ||
                 expected == torch::kInt64,
             "header dtype ", expected);
  FUZZ_CHECK(dtype == (h.uint16 ? torchimage::compat::kSample16 : expected), "dtype ", dtype,
             " for the header's ", h.descr);
  // The data is the file's tail: numel * the file's item size bytes (2 for
  // 16-bit samples, which 1.13 widens to int32).
  FUZZ_CHECK(static_cast<size_t>(t.numel()) * h.item_size <= size, "numel ", t.numel(),
             " exceeds the ", size, " bytes");
  if (dtype == torch::kBool && t.numel() > 0) {
    // Every bool holds 0 or 1 whatever the file's bytes were.
    const auto bytes = t.contiguous().view(torch::kUInt8);
    FUZZ_CHECK(bytes.le(1).all().item<bool>(), "bool tensor holds a byte other than 0/1");
  }
  if (h.uint16 && dtype == torch::kInt && t.numel() > 0) {
    FUZZ_CHECK(t.min().item<int64_t>() >= 0 && t.max().item<int64_t>() <= 65535,
               "16-bit samples outside 0-65535");
  }
  if (t.numel() > 0 && t.numel() <= 4096 && t.dim() >= 2 && t.dim() <= 4) {
    fuzz::accepted([&] { torchimage::to_pixels(t); });
  }
  return 0;
}
