// The CLI's tensor-file loader (torchimage::cli::load_tensor) on arbitrary
// bytes: .npy, torch.save/pickle_save zip archives and C++ torch::save
// archives. It returns a tensor or throws a c10::Error. The bytes go through
// an in-memory file (memfd) whose /proc/self/fd path the loader opens, as the
// CLI opens a path.
// The zip reader is LibTorch's (caffe2's, not instrumented); the pickle is
// read by the loader's own unpickler, which allocates no more than its record
// holds: docs/reliability.md records what fuzzing found. This target has no
// filter of its own, and any out-of-memory is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "tensor_loader.h"

namespace {

int memory_file() {
  static const int fd = [] {
    const int f = memfd_create("fuzz_tensor_file", MFD_CLOEXEC);
    FUZZ_CHECK(f >= 0, "memfd_create: ", std::strerror(errno));
    return f;
  }();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memory_file();
  FUZZ_CHECK(::ftruncate(fd, 0) == 0, "ftruncate");
  size_t done = 0;
  while (done < size) {
    const ssize_t w = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    FUZZ_CHECK(w > 0, "pwrite: ", std::strerror(errno));
    done += static_cast<size_t>(w);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  torch::Tensor t;
  if (!fuzz::accepted([&] { t = torchimage::cli::load_tensor(path); })) return 0;
  FUZZ_CHECK(t.defined(), "load_tensor returned an undefined tensor");
  FUZZ_CHECK(!t.requires_grad(), "load_tensor returned a tensor that requires grad");
  FUZZ_CHECK(t.device().is_cpu(), "load_tensor returned a tensor on ", t.device());
  // Every element the tensor addresses lies in its storage: LibTorch (not
  // instrumented) would otherwise read past it unseen. Reckoned in long
  // double, apart from the loader's 128-bit integers.
  if (t.numel() > 0) {
    long double low = static_cast<long double>(t.storage_offset()), high = low;
    for (int64_t d = 0; d < t.dim(); ++d) {
      const long double reach = static_cast<long double>(t.size(d) - 1) * t.stride(d);
      (reach < 0 ? low : high) += reach;
    }
    const long double elements = static_cast<long double>(t.storage().nbytes()) /
                                 static_cast<long double>(t.element_size());
    FUZZ_CHECK(low >= 0 && high < elements, "load_tensor returned sizes ", t.sizes(),
               ", strides ", t.strides(), ", offset ", t.storage_offset(),
               " outside a storage of ", static_cast<double>(elements), " elements");
  }
  return 0;
}
