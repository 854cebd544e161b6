// The CLI's tensor-file loader (torchimage::cli::load_tensor) on arbitrary
// bytes: .npy, torch.save/pickle_save zip archives (torch::pickle_load) and
// C++ torch::save archives (torch::load). It returns a tensor or throws a
// c10::Error. The bytes go through an in-memory file (memfd) whose
// /proc/self/fd path the loader opens, as the CLI opens a path.
// The zip, pickle and TorchScript readers are LibTorch's (not instrumented,
// not ours): docs/reliability.md records what fuzzing found there.
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "tensor_loader.h"

namespace {

// LibTorch 1.13's unpickler allocates (and zero-fills) whatever length a
// BINUNICODE/BINBYTES-style opcode claims before reading it: a few hundred
// bytes make it touch 4 GiB (the *8 opcodes: more), beyond -rss_limit_mb.
// That denial of service is LibTorch's (docs/reliability.md). So that the
// fuzzer keeps looking for other problems, it skips inputs holding a pickle
// (walked from each PROTO opcode, as torch.save stores it uncompressed) with a
// length-prefixed opcode that claims more bytes than the whole input has.
bool pickle_overclaims(const uint8_t* p, const uint8_t* end, size_t input_size) {
  while (p < end) {
    const uint8_t op = *p++;
    size_t fixed = 0, length_width = 0;
    int lines = 0;
    switch (op) {
      case '.':  // STOP
        return false;
      case 'K': case 'h': case 'q': case 0x80: case 0x82: fixed = 1; break;
      case 'M': case 0x83: fixed = 2; break;
      case 'J': case 'j': case 'r': case 0x84: fixed = 4; break;
      case 'G': case 0x95: fixed = 8; break;
      case 'I': case 'L': case 'F': case 'S': case 'V': case 'g': case 'p': case 'P': lines = 1; break;
      case 'i': case 'c': lines = 2; break;
      case 'U': case 'C': case 0x8c: case 0x8a: length_width = 1; break;
      case 'T': case 'B': case 'X': case 0x8b: length_width = 4; break;
      case 0x8d: case 0x8e: case 0x96: length_width = 8; break;
      case '(': case '0': case '1': case '2': case 'N': case 'R': case 'a': case 'b': case 'd':
      case '}': case 'e': case 'l': case ']': case 'o': case 's': case 't': case ')': case 'u':
      case 'Q': case 0x81: case 0x85: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8f:
      case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x97: case 0x98:
        break;
      default:  // not an opcode: the unpickler stops here too
        return false;
    }
    if (static_cast<size_t>(end - p) < fixed + length_width) return false;
    p += fixed;
    if (length_width) {
      uint64_t length = 0;
      for (size_t k = 0; k < length_width; ++k) length |= uint64_t{p[k]} << (8 * k);
      p += length_width;
      if (length > input_size) return true;
      if (length > static_cast<size_t>(end - p)) return false;
      p += length;
    }
    for (int l = 0; l < lines; ++l) {
      while (p < end && *p != '\n') ++p;
      if (p == end) return false;
      ++p;
    }
  }
  return false;
}

bool claims_more_than_it_holds(const uint8_t* data, size_t size) {
  for (size_t i = 0; i + 1 < size; ++i) {
    if (data[i] == 0x80 && data[i + 1] <= 5 && pickle_overclaims(data + i, data + size, size)) {
      return true;
    }
  }
  return false;
}

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
  if (claims_more_than_it_holds(data, size)) return 0;
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
