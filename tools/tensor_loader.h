#pragma once

// Loaders of the `torchimage` command-line tool: a tensor from a file written
// by Python's torch.save, C++'s torch::pickle_save / torch::save, or NumPy's
// np.save (.npy).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace torchimage {
namespace cli {

/// Loads the tensor stored in `path` (on the CPU):
/// - a `.npy` file (recognised by its magic `\x93NUMPY`, whatever the name):
///   float16/32/64, int8/16/32/64, uint8, uint16 or bool, C or Fortran order, any byte
///   order, format versions 1.0, 2.0 and 3.0;
/// - a zip archive from Python's `torch.save(tensor, path)` (any dtype it
///   can read, `_rebuild_tensor_v2` or torch 2.x's `_rebuild_tensor_v3`, an
///   nn.Parameter too), `torch::pickle_save`, or C++'s `torch::save(tensor,
///   path)` (a TorchScript module holding the tensor). The archive's zip is
///   read with caffe2's reader; its pickle with the loader's own unpickler,
///   which reads only these shapes of pickle, within the bytes of its record,
///   and takes a storage only if its record holds exactly the bytes the
///   pickle states. LibTorch's unpickler is not used: it allocates what a
///   pickle claims and builds storages larger than their records
///   (docs/reliability.md).
/// uint16 comes back as the library's 16-bit sample dtype: uint16 on LibTorch
/// 2.3+, int32 holding 0-65535 on older LibTorch (write it with bit_depth 16).
/// Errors are c10::Error whose message names the file and the problem.
torch::Tensor load_tensor(const std::string& path);

/// The parsed header of a .npy file.
struct NpyHeader {
  int major_version = 0;
  int minor_version = 0;
  std::string descr;  ///< e.g. "<f4", "|u1"
  bool fortran_order = false;
  std::vector<int64_t> shape;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  size_t item_size = 0;
  bool uint16 = false;  ///< NumPy's uint16 ("<u2"): `dtype` is int16, widened after reading
  bool byte_swap = false;  ///< stored in the other byte order than this machine's
  size_t data_offset = 0;  ///< bytes before the array data
  uint64_t data_size = 0;  ///< bytes of array data (numel * item_size)
};

/// Longest .npy header accepted (NumPy itself refuses more than 10000 bytes by
/// default; a header of our dtypes and at most kNpyMaxDims dims is far shorter).
constexpr size_t kNpyMaxHeaderSize = size_t{1} << 20;
/// Most dimensions accepted (NumPy 2's NPY_MAXDIMS).
constexpr size_t kNpyMaxDims = 64;

/// Parses and validates a .npy header. `prefix` holds the first `prefix_size`
/// bytes of the file (at least the whole header when the file is valid) and
/// `file_size` is the size of the whole file, which must be exactly
/// data_offset + data_size. `name` is used in messages.
NpyHeader parse_npy_header(const char* prefix, size_t prefix_size, uint64_t file_size,
                           const std::string& name);

/// A whole .npy file held in memory to a tensor (for tests and fuzzing).
torch::Tensor parse_npy(const char* data, size_t size, const std::string& name = "<memory>");

}  // namespace cli
}  // namespace torchimage
