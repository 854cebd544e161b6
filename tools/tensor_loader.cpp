#include "tensor_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <tuple>
#include <memory>
#include <utility>

#include <c10/util/Exception.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/version.h>

// LibTorch 2.3 added uint16 (as src/core/torch_compat.h says for the library).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define TORCHIMAGE_CLI_HAS_UINT16 1
#else
#define TORCHIMAGE_CLI_HAS_UINT16 0
#endif

namespace torchimage {
namespace cli {
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicSize = 6;
constexpr char kSupportedDtypes[] =
    "expected float16/32/64, int8/16/32/64, uint8, uint16 or bool";

bool host_is_little_endian() {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
  return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
  const uint16_t probe = 1;
  unsigned char first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
#endif
}

// ---------------------------------------------------------------------------
// The header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// parsed strictly: exactly these three keys, each once; 'descr' a string,
// 'fortran_order' True or False, 'shape' a tuple of non-negative integers
// (a one-element tuple needs its comma, as in Python). Python 2's long
// suffix ("3L") is accepted, as NumPy does. Whitespace may separate tokens and
// pad the end (NumPy pads with spaces and ends with '\n').

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

class HeaderParser {
 public:
  HeaderParser(const char* text, size_t size, const std::string& name)
      : text_(text), size_(size), name_(name) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<int64_t>& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_space();
    expect('{', "'{' opening the header dict");
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string("a key");
      skip_space();
      expect(':', "':' after key '" + key + "'");
      skip_space();
      if (key == "descr") {
        fail_if(have_descr, "duplicate key 'descr'");
        have_descr = true;
        if (peek() == '[') {
          TORCH_CHECK(false, "'", name_, "': unsupported .npy dtype (a structured array); ",
                      kSupportedDtypes);
        }
        descr = parse_string("a string value of 'descr'");
      } else if (key == "fortran_order") {
        fail_if(have_fortran, "duplicate key 'fortran_order'");
        have_fortran = true;
        fortran_order = parse_bool();
      } else if (key == "shape") {
        fail_if(have_shape, "duplicate key 'shape'");
        have_shape = true;
        shape = parse_shape();
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') break;
      fail("expected ',' or '}' after the value of '" + key + "'");
    }
    ++pos_;  // '}'
    skip_space();
    fail_if(pos_ != size_, "unexpected characters after the header dict");
    fail_if(!have_descr, "missing key 'descr'");
    fail_if(!have_fortran, "missing key 'fortran_order'");
    fail_if(!have_shape, "missing key 'shape'");
  }

 private:
  // The current character, or '\0' at the end (a NUL inside the header is
  // never valid either, so the two need no distinction).
  char peek() const { return pos_ < size_ ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < size_ && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  [[noreturn]] void fail(const std::string& what) const {
    TORCH_CHECK(false, "'", name_, "': invalid .npy header: ", what, " (at header byte ", pos_,
                ")");
    abort();  // unreachable: TORCH_CHECK(false) throws
  }
  void fail_if(bool condition, const std::string& what) const {
    if (condition) fail(what);
  }

  void expect(char c, const std::string& what) {
    fail_if(peek() != c, "expected " + what);
    ++pos_;
  }

  std::string parse_string(const std::string& what) {
    const char quote = peek();
    fail_if(quote != '\'' && quote != '"', "expected " + what + " (a quoted string)");
    ++pos_;
    const size_t begin = pos_;
    while (pos_ < size_ && text_[pos_] != quote) {
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      // Printable ASCII only; no escapes (no descr of ours needs one).
      fail_if(c < 0x20 || c > 0x7e || c == '\\', "unsupported character in a string");
      ++pos_;
    }
    fail_if(pos_ >= size_, "unterminated string");
    std::string s(text_ + begin, pos_ - begin);
    ++pos_;  // closing quote
    return s;
  }

  bool parse_bool() {
    const size_t begin = pos_;
    while (is_word_char(peek())) ++pos_;
    const std::string word(text_ + begin, pos_ - begin);
    if (word == "True") return true;
    if (word == "False") return false;
    pos_ = begin;
    fail("expected True or False as the value of 'fortran_order'");
  }

  int64_t parse_dim() {
    fail_if(!is_digit(peek()), "expected a non-negative integer in 'shape'");
    const size_t begin = pos_;
    uint64_t value = 0;
    while (is_digit(peek())) {
      const uint64_t digit = static_cast<uint64_t>(peek() - '0');
      fail_if(value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10,
              "a dimension in 'shape' is too large");
      value = value * 10 + digit;
      ++pos_;
    }
    fail_if(pos_ - begin > 1 && text_[begin] == '0', "a dimension in 'shape' has a leading zero");
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2's long integers
    return static_cast<int64_t>(value);
  }

  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(', "a tuple as the value of 'shape'");
    bool trailing_comma = false;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      fail_if(shape.size() >= kNpyMaxDims,
              "more than " + std::to_string(kNpyMaxDims) + " dimensions in 'shape'");
      shape.push_back(parse_dim());
      trailing_comma = false;
      skip_space();
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        continue;
      }
      fail_if(peek() != ')', "expected ',' or ')' in 'shape'");
    }
    // "(3)" is the integer 3 in Python, not a tuple.
    fail_if(shape.size() == 1 && !trailing_comma, "'shape' (n) is not a tuple; write (n,)");
    ++pos_;  // ')'
    return shape;
  }

  const char* text_;
  size_t size_;
  const std::string& name_;
  size_t pos_ = 0;
};

struct DtypeInfo {
  const char* code;  // descr without its byte-order character
  c10::ScalarType dtype;
  size_t item_size;
  bool uint16 = false;  // NumPy's uint16: read as int16 bits, then widened
};

// uint16 ('u2') is read as 16-bit samples: torch's uint16 where LibTorch has
// it (2.3+), else int32 holding 0-65535, the library's stand-in
// (compat::kSample16). Its bytes are read as int16, the same width, then
// widened (make_npy_tensor); int16 ('i2') stays int16.
constexpr DtypeInfo kDtypes[] = {
    {"f2", c10::ScalarType::Half, 2},   {"f4", c10::ScalarType::Float, 4},
    {"f8", c10::ScalarType::Double, 8}, {"u1", c10::ScalarType::Byte, 1},
    {"b1", c10::ScalarType::Bool, 1},   {"u2", c10::ScalarType::Short, 2, true},
    // Integers: label maps (np.save of a segmentation's class indices,
    // for --palette); the commands say which dtypes they take, as for .pt.
    {"i1", c10::ScalarType::Char, 1},   {"i2", c10::ScalarType::Short, 2},
    {"i4", c10::ScalarType::Int, 4},    {"i8", c10::ScalarType::Long, 8},
};

// Sets dtype, item_size and byte_swap from descr: '<' or '>' and a code above;
// '|' ("not applicable") only for one-byte types.
void resolve_descr(NpyHeader& h, const std::string& name) {
  const DtypeInfo* found = nullptr;
  if (h.descr.size() == 3) {
    for (const DtypeInfo& info : kDtypes) {
      if (h.descr.compare(1, 2, info.code) == 0) found = &info;
    }
  }
  const char order = h.descr.empty() ? '\0' : h.descr[0];
  const bool order_ok =
      found != nullptr && (order == '<' || order == '>' || (order == '|' && found->item_size == 1));
  TORCH_CHECK(order_ok, "'", name, "': unsupported .npy dtype '", h.descr, "'; ", kSupportedDtypes);
  h.dtype = found->dtype;
  h.item_size = found->item_size;
  h.uint16 = found->uint16;
  h.byte_swap = found->item_size > 1 && ((order == '<') != host_is_little_endian());
}

template <typename T>
T read_le(const char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v = static_cast<T>(v | (static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i)));
  }
  return v;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

void byte_swap_in_place(char* data, uint64_t count, size_t item_size) {
  for (uint64_t i = 0; i < count; ++i) {
    std::reverse(data + i * item_size, data + (i + 1) * item_size);
  }
}

// int16 bits holding uint16 values to the build's 16-bit sample dtype:
// uint16 (LibTorch 2.3+), or int32 0-65535 (1.13's stand-in, as the library
// takes and decode_image(keep_16_bit) returns). Keeps the layout.
torch::Tensor uint16_from_int16(const torch::Tensor& bits) {
#if TORCHIMAGE_CLI_HAS_UINT16
  return bits.view(c10::ScalarType::UInt16);  // the same bits, the same width
#else
  return bits.to(torch::kInt).bitwise_and(0xFFFF);
#endif
}

// Allocates the tensor the header describes, lets `read_data` fill its bytes,
// then fixes byte order, bool values and Fortran order.
torch::Tensor make_npy_tensor(const NpyHeader& h,
                              const std::function<void(char*, size_t)>& read_data) {
  std::vector<int64_t> sizes = h.shape;
  if (h.fortran_order) std::reverse(sizes.begin(), sizes.end());
  // bool is read as bytes: a hostile byte other than 0 and 1 must not become
  // an invalid bool. uint16 is read as int16 (NpyHeader::uint16), then widened.
  const c10::ScalarType storage_dtype =
      h.dtype == c10::ScalarType::Bool ? c10::ScalarType::Byte : h.dtype;
  torch::Tensor t = torch::empty(sizes, torch::TensorOptions().dtype(storage_dtype));
  if (h.data_size > 0) {
    char* data = static_cast<char*>(t.data_ptr());
    read_data(data, static_cast<size_t>(h.data_size));
    if (h.byte_swap) byte_swap_in_place(data, h.data_size / h.item_size, h.item_size);
  }
  if (h.dtype == c10::ScalarType::Bool) t = t.ne(0);
  if (h.uint16) t = uint16_from_int16(t);
  if (h.fortran_order && sizes.size() > 1) {
    std::vector<int64_t> perm(sizes.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(perm.size() - 1 - i);
    t = t.permute(perm).contiguous();
  }
  return t;
}

// ---------------------------------------------------------------------------
// Files.

class File {
 public:
  explicit File(const std::string& path) : path_(path) {
    do {
      // O_NONBLOCK: opening a FIFO without a writer would otherwise block
      // forever (and a device might too); only regular files are read.
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    } while (fd_ < 0 && errno == EINTR);
    TORCH_CHECK(fd_ >= 0, "'", path, "': cannot open: ", std::strerror(errno));
    struct stat st;
    TORCH_CHECK(::fstat(fd_, &st) == 0, "'", path, "': cannot stat: ", std::strerror(errno));
    TORCH_CHECK(!S_ISDIR(st.st_mode), "'", path, "': is a directory, expected a tensor file");
    TORCH_CHECK(S_ISREG(st.st_mode), "'", path, "': not a regular file (a ",
                S_ISFIFO(st.st_mode)  ? "FIFO"
                : S_ISCHR(st.st_mode) ? "character device"
                : S_ISBLK(st.st_mode) ? "block device"
                : S_ISSOCK(st.st_mode) ? "socket"
                                       : "special file",
                "), expected a tensor file");
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  uint64_t size() const { return size_; }

  // Reads exactly `n` bytes at `offset`; the file must not have shrunk.
  void read_at(uint64_t offset, char* out, size_t n) const {
    while (n > 0) {
      const size_t chunk = std::min<size_t>(n, size_t{1} << 30);
      const ssize_t got = ::pread(fd_, out, chunk, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      TORCH_CHECK(got >= 0, "'", path_, "': read error: ", std::strerror(errno));
      TORCH_CHECK(got > 0, "'", path_, "': unexpected end of file (did it change while read?)");
      out += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<size_t>(got);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

bool has_npy_magic(const char* data, size_t size) {
  return size >= kNpyMagicSize && std::memcmp(data, kNpyMagic, kNpyMagicSize) == 0;
}

torch::Tensor load_npy_file(const File& file, const std::string& path) {
  const size_t prefix_size =
      static_cast<size_t>(std::min<uint64_t>(file.size(), 12 + kNpyMaxHeaderSize));
  std::vector<char> prefix(prefix_size);
  file.read_at(0, prefix.data(), prefix.size());
  const NpyHeader h = parse_npy_header(prefix.data(), prefix.size(), file.size(), path);
  return make_npy_tensor(h, [&](char* out, size_t n) { file.read_at(h.data_offset, out, n); });
}

// A tensor file may state any sizes, strides and storage offset (LibTorch's
// unpickler, which this loader once used, rebuilt them unchecked; Python's
// torch.load refuses them): a crafted file would make every later read
// leave the storage. Every element a loaded tensor can address must lie in
// its storage. Computed in 128 bits: a hostile size times a hostile stride
// overflows 64.
// The rule for a view of `elements` storage elements, before it is made or
// read: every element it addresses lies in the storage.
void check_view_in_storage(int64_t elements, int64_t offset, c10::IntArrayRef sizes,
                           c10::IntArrayRef strides, const std::string& path) {
  TORCH_CHECK(offset >= 0, "'", path, "': invalid tensor: negative storage offset ", offset);
  for (int64_t size : sizes) {
    TORCH_CHECK(size >= 0, "'", path, "': invalid tensor: negative size in ", sizes);
  }
  for (int64_t stride : strides) {
    // as_strided refuses them, in LibTorch and in torch.load alike.
    TORCH_CHECK(stride >= 0, "'", path, "': invalid tensor: negative stride in ", strides,
                " (torch makes no such tensors)");
  }
  for (int64_t size : sizes) {
    if (size == 0) return;  // no element to address
  }
  // The lowest and highest element addressed; checked after each dimension,
  // so that neither strays far enough to overflow 128 bits (|reach| < 2^126).
  __int128 low = offset, high = offset;
  bool inside = high < elements;
  for (size_t d = 0; inside && d < sizes.size(); ++d) {
    const __int128 reach = static_cast<__int128>(sizes[d] - 1) * strides[d];
    if (reach < 0) low += reach; else high += reach;
    inside = low >= 0 && high < elements;
  }
  TORCH_CHECK(inside, "'", path,
              "': invalid tensor: sizes ", sizes, ", strides ", strides, " and storage offset ",
              offset, " address elements outside its storage of ",
              elements, " elements (the file is corrupt or "
              "crafted; torch.load refuses it too)");
}

void check_geometry(const torch::Tensor& t, const std::string& path) {
  TORCH_CHECK(t.layout() == torch::kStrided, "'", path, "': holds a ", t.layout(),
              " tensor, expected a dense (strided) one");
  TORCH_CHECK(t.has_storage(), "'", path, "': holds a tensor without storage");
  check_view_in_storage(static_cast<int64_t>(t.storage().nbytes()) / t.element_size(),
                        t.storage_offset(), t.sizes(), t.strides(), path);
}

// The archive's bytes for caffe2's zip reader. caffe2's own MemoryReadAdapter
// copies whatever range miniz asks for, and on a malformed archive miniz asks
// for ranges outside the buffer (found by tests/fuzz/fuzz_tensor_file: a read
// at offset 2^64-1): this one reads only within the buffer, as caffe2's
// FileAdapter does, and a short read becomes miniz's error.
class BoundedReadAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  BoundedReadAdapter(const char* data, size_t size) : data_(data), size_(size) {}
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= size_) return 0;
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos));
    std::memcpy(buf, data_ + pos, n);
    return n;
  }

 private:
  const char* data_;
  size_t size_;
};

// ---------------------------------------------------------------------------
// A tensor archive's data.pkl, read here rather than by LibTorch's unpickler.
// LibTorch's (1.13 and 2.x) allocates what a length or a memo index claims
// before it checks it (a 747-byte file made it touch 4 GiB, another 17 GB:
// tests/fuzz/fuzz_tensor_file), rebuilds a storage of the byte count the
// pickle states over a record that may hold fewer (heap bytes then went into
// the PNG), and 1.13's knows neither torch 2.x's _rebuild_tensor_v3 nor its
// new dtypes. This is a small pickle machine for what is written for one
// tensor (protocols 2 to 5), which refuses everything else, allocates
// nothing the file does not hold, and checks every storage against its record:
// - torch.save / torch::pickle_save:
//     torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
//                                     requires_grad, backward_hooks[, metadata])
//   over a typed storage (persistent id ('storage', torch.FloatStorage, key,
//   location, numel)), and torch 2.x's
//     torch._utils._rebuild_tensor_v3(storage, offset, size, stride,
//                                     requires_grad, backward_hooks, dtype[, metadata])
//   over an untyped one (('storage', torch.UntypedStorage, key, location, nbytes));
//   torch.save of an nn.Parameter wraps either in torch._utils._rebuild_parameter;
// - C++'s torch::save(tensor): a TorchScript module object (a __torch__
//   class, NEWOBJ, then BUILD with its attributes) holding the tensor as
//   attribute "0", as torch::load(tensor) reads it.
// Storages are records data/<key>, loaded to the CPU whatever the location.

struct PickleValue {
  enum Kind {
    kNone, kBool, kInt, kFloat, kString, kGlobal, kTuple, kList, kDict, kStorage, kTensor,
    kObject, kMark
  };
  Kind kind = kNone;
  int64_t number = 0;              // kBool, kInt; kStorage: index in kTensorDtypes, -1 untyped
  std::string text;                // kString; kGlobal, kObject: "module.name"; kStorage: its key
  std::vector<PickleValue> items;  // kTuple, kList; kDict, kObject: keys and values in turn
  torch::Tensor tensor;            // kStorage: its bytes (uint8); kTensor
  size_t nodes = 1;                // values in this one, itself included; a text
                                   // weighs one per 16 bytes (weight())
};

const char* kind_name(PickleValue::Kind k) {
  switch (k) {
    case PickleValue::kNone: return "None";
    case PickleValue::kBool: return "a bool";
    case PickleValue::kInt: return "an int";
    case PickleValue::kFloat: return "a float";
    case PickleValue::kString: return "a string";
    case PickleValue::kGlobal: return "a global";
    case PickleValue::kTuple: return "a tuple";
    case PickleValue::kList: return "a list";
    case PickleValue::kDict: return "a dict";
    case PickleValue::kStorage: return "a storage";
    case PickleValue::kTensor: return "a tensor";
    case PickleValue::kObject: return "an object";
    case PickleValue::kMark: return "a mark";
  }
  return "a value";
}

// The dtypes of tensor files, by torch's names: v3's dtype and v2's typed
// storage. The loader returns the tensor as stored; each command says which
// dtypes it takes (save: float, uint8, uint16, bool; --palette: integers).
struct TensorDtype {
  const char* name;     // torch.float32
  const char* storage;  // torch.FloatStorage
  c10::ScalarType bits; // how its bytes are read
  bool uint16;          // widened to the build's 16-bit sample dtype
};
constexpr TensorDtype kTensorDtypes[] = {
    {"torch.uint16", "", c10::ScalarType::Short, true},
    {"torch.float32", "torch.FloatStorage", c10::ScalarType::Float, false},
    {"torch.float64", "torch.DoubleStorage", c10::ScalarType::Double, false},
    {"torch.float16", "torch.HalfStorage", c10::ScalarType::Half, false},
    {"torch.bfloat16", "torch.BFloat16Storage", c10::ScalarType::BFloat16, false},
    {"torch.uint8", "torch.ByteStorage", c10::ScalarType::Byte, false},
    {"torch.bool", "torch.BoolStorage", c10::ScalarType::Bool, false},
    {"torch.int8", "torch.CharStorage", c10::ScalarType::Char, false},
    {"torch.int16", "torch.ShortStorage", c10::ScalarType::Short, false},
    {"torch.int32", "torch.IntStorage", c10::ScalarType::Int, false},
    {"torch.int64", "torch.LongStorage", c10::ScalarType::Long, false},
    {"torch.complex64", "torch.ComplexFloatStorage", c10::ScalarType::ComplexFloat, false},
    {"torch.complex128", "torch.ComplexDoubleStorage", c10::ScalarType::ComplexDouble, false},
};

class TensorUnpickler {
 public:
  TensorUnpickler(const std::string& pickle, caffe2::serialize::PyTorchStreamReader& reader,
              const std::string& path)
      : data_(pickle), reader_(reader), path_(path) {}

  torch::Tensor run() {
    while (true) {
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                            // PROTO
        case 0x95: bytes(8); break;                          // FRAME
        case '.':                                            // STOP
          return result(pop());
        case '(': push(mark()); break;                       // MARK
        case 'N': push(PickleValue()); break;                // NONE
        case 0x88: push(boolean(true)); break;               // NEWTRUE
        case 0x89: push(boolean(false)); break;              // NEWFALSE
        case 'K': push(integer(byte())); break;              // BININT1
        case 'M': push(integer(unsigned_le(2))); break;      // BININT2
        case 'J': push(integer(static_cast<int32_t>(unsigned_le(4)))); break;  // BININT
        case 0x8a: push(integer(long1())); break;            // LONG1
        case 'X': push(string(bytes(unsigned_le(4)))); break;      // BINUNICODE
        case 0x8c: push(string(bytes(byte()))); break;             // SHORT_BINUNICODE
        case 'c': {                                          // GLOBAL module\nname\n
          const std::string module = line(), name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {                                         // STACK_GLOBAL
          PickleValue name = pop(), module = pop();
          expect(name, PickleValue::kString, "a global's name");
          expect(module, PickleValue::kString, "a global's module");
          push(global(module.text + "." + name.text));
          break;
        }
        case ')': push(tuple({})); break;                    // EMPTY_TUPLE
        case 0x85: case 0x86: case 0x87: {                   // TUPLE1, TUPLE2, TUPLE3
          const size_t n = static_cast<size_t>(op - 0x84);
          fail_if(stack_.size() < n, "a tuple of more values than the stack holds");
          std::vector<PickleValue> items(stack_.end() - static_cast<std::ptrdiff_t>(n),
                                         stack_.end());
          stack_.resize(stack_.size() - n);
          push(tuple(std::move(items)));
          break;
        }
        case 't': push(tuple(pop_to_mark())); break;         // TUPLE
        case ']': push(list()); break;                       // EMPTY_LIST
        case 'a': append({pop()}); break;                    // APPEND
        case 'e': append(pop_to_mark()); break;              // APPENDS
        case 'G': bytes(8); push(value(PickleValue::kFloat)); break;  // BINFLOAT (unused)
        case '}': push(dict()); break;                       // EMPTY_DICT
        case 's': {                                          // SETITEM
          PickleValue value = pop(), key = pop();
          set_items({std::move(key), std::move(value)});
          break;
        }
        case 'u': set_items(pop_to_mark()); break;           // SETITEMS
        case 0x81: {                                         // NEWOBJ
          PickleValue args = pop(), cls = pop();
          push(new_object(cls, args));
          break;
        }
        case 'b': {                                          // BUILD
          PickleValue state = pop();
          build(std::move(state));
          break;
        }
        case 'q': memo(byte()); break;                       // BINPUT
        case 'r': memo(unsigned_le(4)); break;               // LONG_BINPUT
        case 0x94: memo(memo_.size()); break;                // MEMOIZE
        case 'h': recall(byte()); break;                     // BINGET
        case 'j': recall(unsigned_le(4)); break;             // LONG_BINGET
        case 'Q': push(storage(pop())); break;               // BINPERSID
        case 'R': {                                          // REDUCE
          PickleValue args = pop(), callable = pop();
          push(reduce(callable, args));
          break;
        }
        default:
          fail("unsupported pickle opcode 0x" + hex(op) + " (a torch.save of one tensor "
               "has none)");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    TORCH_CHECK(false, "'", path_, "': cannot read the tensor: ", what, " (data.pkl byte ",
                pos_ == 0 ? 0 : pos_ - 1, ")");
    abort();
  }
  void fail_if(bool condition, const std::string& what) const {
    if (condition) fail(what);
  }
  static std::string hex(unsigned v) {
    const char digits[] = "0123456789abcdef";
    return std::string{digits[(v >> 4) & 15], digits[v & 15]};
  }

  uint8_t byte() {
    fail_if(pos_ >= data_.size(), "truncated pickle");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  std::string bytes(uint64_t n) {
    fail_if(n > data_.size() - pos_, "truncated pickle");
    std::string out = data_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  uint64_t unsigned_le(int n) {
    const std::string b = bytes(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
    return v;
  }
  int64_t long1() {  // a little-endian two's complement integer of n <= 8 bytes
    const uint8_t n = byte();
    fail_if(n > 8, "an integer wider than 64 bits");
    if (n == 0) return 0;
    uint64_t v = unsigned_le(n);
    if (n < 8 && (v >> (8 * n - 1)) != 0) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  std::string line() {
    const size_t end = data_.find('\n', pos_);
    fail_if(end == std::string::npos, "truncated pickle (a global without its newline)");
    std::string out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }

  static PickleValue boolean(bool v) {
    PickleValue p;
    p.kind = PickleValue::kBool;
    p.number = v;
    return p;
  }
  static PickleValue integer(int64_t v) {
    PickleValue p;
    p.kind = PickleValue::kInt;
    p.number = v;
    return p;
  }
  static PickleValue string(std::string v) {
    PickleValue p;
    p.kind = PickleValue::kString;
    p.nodes = weight(v);
    p.text = std::move(v);
    return p;
  }
  static PickleValue global(std::string name) {
    PickleValue p = string(std::move(name));
    p.kind = PickleValue::kGlobal;
    return p;
  }
  // A text counts as a value per 16 bytes, so that the bound on copies
  // bounds the bytes copied too.
  static size_t weight(const std::string& text) { return 1 + text.size() / 16; }
  static PickleValue tuple(std::vector<PickleValue> items) {
    PickleValue p;
    p.kind = PickleValue::kTuple;
    for (const PickleValue& item : items) p.nodes += item.nodes;
    p.items = std::move(items);
    return p;
  }
  static PickleValue value(PickleValue::Kind kind) {
    PickleValue p;
    p.kind = kind;
    return p;
  }
  static PickleValue list() { return value(PickleValue::kList); }
  static PickleValue dict() { return value(PickleValue::kDict); }
  static PickleValue mark() { return value(PickleValue::kMark); }

  void push(PickleValue v) {
    fail_if(stack_.size() >= 4096, "a pickle deeper than a tensor's");
    stack_.push_back(std::move(v));
  }
  PickleValue pop() {
    fail_if(stack_.empty(), "malformed pickle (pop from an empty stack)");
    PickleValue v = std::move(stack_.back());
    stack_.pop_back();
    fail_if(v.kind == PickleValue::kMark, "malformed pickle (a mark used as a value)");
    return v;
  }
  std::vector<PickleValue> pop_to_mark() {
    size_t k = stack_.size();
    while (k > 0 && stack_[k - 1].kind != PickleValue::kMark) --k;
    fail_if(k == 0, "malformed pickle (no mark)");
    std::vector<PickleValue> items(stack_.begin() + static_cast<std::ptrdiff_t>(k), stack_.end());
    stack_.resize(k - 1);
    return items;
  }
  void memo(uint64_t key) {
    fail_if(stack_.empty(), "malformed pickle (memo of an empty stack)");
    fail_if(key > 4096, "a memo key larger than a tensor's pickle uses");
    copied(stack_.back());
    memo_[key] = stack_.back();
  }
  void recall(uint64_t key) {
    const auto it = memo_.find(key);
    fail_if(it == memo_.end(), "malformed pickle (a memo key never stored)");
    copied(it->second);
    push(it->second);
  }
  // Values are copied into and out of the memo: a few bytes of BINGETs and
  // TUPLE2s would otherwise double a tuple forty times over, or copy a
  // megabyte string a million times. A tensor's pickle copies a few dozen
  // short values; the bound, 2^16 values (texts by 16 bytes), is a few MiB.
  void copied(const PickleValue& v) {
    copies_ += v.nodes;
    fail_if(copies_ > (size_t{1} << 16), "a pickle that copies more values than a tensor's");
  }

  void expect(const PickleValue& v, PickleValue::Kind kind, const char* what) const {
    fail_if(v.kind != kind, std::string("expected ") + kind_name(kind) + " as " + what +
                                ", got " + kind_name(v.kind));
  }

  std::vector<int64_t> ints(const PickleValue& v, const char* what) const {
    expect(v, PickleValue::kTuple, what);
    std::vector<int64_t> out;
    for (const PickleValue& item : v.items) {
      expect(item, PickleValue::kInt, what);
      out.push_back(item.number);
    }
    return out;
  }

  // ('storage', type, key, location, size): the record data/<key>, which must
  // hold exactly the bytes the pickle states. The type is torch.UntypedStorage
  // (size in bytes; the dtype comes with _rebuild_tensor_v3) or a typed
  // storage (size in elements of its dtype).
  PickleValue storage(const PickleValue& pid) {
    fail_if(pid.kind != PickleValue::kTuple || pid.items.size() != 5 ||
                pid.items[0].kind != PickleValue::kString || pid.items[0].text != "storage",
            "expected a persistent id ('storage', type, key, location, size)");
    const PickleValue& type = pid.items[1];
    expect(type, PickleValue::kGlobal, "a storage's type");
    int64_t typed = -1;
    // (The class is defined in torch.storage and exported as torch.UntypedStorage.)
    if (type.text != "torch.storage.UntypedStorage" && type.text != "torch.UntypedStorage") {
      for (size_t k = 0; k < sizeof kTensorDtypes / sizeof kTensorDtypes[0]; ++k) {
        if (type.text == kTensorDtypes[k].storage) typed = static_cast<int64_t>(k);
      }
      fail_if(typed < 0, "a storage of type " + type.text);
    }
    expect(pid.items[2], PickleValue::kString, "a storage's key");
    expect(pid.items[4], PickleValue::kInt, "a storage's size");
    const std::string record = "data/" + pid.items[2].text;
    const int64_t item =
        typed < 0 ? 1 : static_cast<int64_t>(c10::elementSize(kTensorDtypes[typed].bits));
    // The stated size in bytes, unless it overflows (then it is no record's).
    int64_t stated = 0;
    const bool fits = pid.items[4].number >= 0 &&
                      !__builtin_mul_overflow(pid.items[4].number, item, &stated);
    // A key named again is the storage already read (as torch.load keeps
    // them), not another copy of its record.
    const auto seen = storages_.find(record);
    if (seen != storages_.end()) {
      fail_if(seen->second.number != typed || !fits || stated != seen->second.tensor.numel(),
              "storage " + record + " named again with another type or size");
      return seen->second;
    }
    fail_if(!reader_.hasRecord(record), "no record " + record + " for its storage");
    at::DataPtr data;
    size_t size = 0;
    std::tie(data, size) = reader_.getRecord(record);
    fail_if(!fits || static_cast<uint64_t>(stated) != size,
            "storage " + record + " holds " + std::to_string(size) + " bytes, the pickle says " +
                std::to_string(pid.items[4].number) +
                (typed < 0 ? std::string() : std::string(" ") + kTensorDtypes[typed].name + " elements"));
    PickleValue v;
    v.kind = PickleValue::kStorage;
    v.text = pid.items[2].text;
    v.nodes = weight(v.text);
    v.number = typed;
    if (size == 0) {
      v.tensor = torch::empty({0}, torch::kByte);
    } else {
      // The record's own buffer (no second copy of a large tensor), kept
      // alive by the tensor.
      auto buffer = std::make_shared<at::DataPtr>(std::move(data));
      v.tensor = torch::from_blob(buffer->get(), {static_cast<int64_t>(size)},
                                  [buffer](void*) {}, torch::kByte);
    }
    storages_.emplace(record, v);
    return v;
  }

  PickleValue reduce(const PickleValue& callable, const PickleValue& args) {
    expect(callable, PickleValue::kGlobal, "the callable of a REDUCE");
    expect(args, PickleValue::kTuple, "a REDUCE's arguments");
    const std::vector<PickleValue>& a = args.items;
    if (callable.text == "collections.OrderedDict") return dict();  // backward hooks
    if (callable.text == "torch._utils._rebuild_parameter" ||
        callable.text == "torch._utils._rebuild_parameter_with_state") {
      // nn.Parameter(tensor, requires_grad, hooks[, state]): the tensor.
      fail_if(a.empty() || a[0].kind != PickleValue::kTensor,
              callable.text + " without a tensor as its first argument");
      return a[0];
    }
    if (callable.text.rfind("torch.jit._pickle.build_", 0) == 0 && a.size() == 1 &&
        a[0].kind == PickleValue::kList) {
      return a[0];  // pickle_save's typed list (build_intlist, build_doublelist, ...)
    }
    const bool v3 = callable.text == "torch._utils._rebuild_tensor_v3";
    fail_if(!v3 && callable.text != "torch._utils._rebuild_tensor_v2",
            "unsupported object " + callable.text + " (expected one tensor)");
    const std::string fn = v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2";
    const size_t min_args = v3 ? 7 : 6;
    fail_if(a.size() < min_args || a.size() > min_args + 1,
            fn + " takes " + std::to_string(min_args) + " or " + std::to_string(min_args + 1) +
                " arguments, got " + std::to_string(a.size()));
    expect(a[0], PickleValue::kStorage, (fn + "'s storage").c_str());
    expect(a[1], PickleValue::kInt, (fn + "'s storage offset").c_str());
    const std::vector<int64_t> sizes = ints(a[2], (fn + "'s size").c_str());
    const std::vector<int64_t> strides = ints(a[3], (fn + "'s stride").c_str());
    fail_if(sizes.size() != strides.size(), "size and stride of different lengths");
    const TensorDtype* dtype = nullptr;
    if (v3) {
      fail_if(a[0].number >= 0, "a typed storage in a _rebuild_tensor_v3 file (expected "
                                "torch.UntypedStorage)");
      expect(a[6], PickleValue::kGlobal, "_rebuild_tensor_v3's dtype");
      for (const TensorDtype& d : kTensorDtypes) {
        if (a[6].text == d.name) dtype = &d;
      }
      TORCH_CHECK(dtype != nullptr, "'", path_, "': holds a ", a[6].text,
                  " tensor, a dtype this tool does not read");
    } else {
      fail_if(a[0].number < 0, "an untyped storage in a _rebuild_tensor_v2 file");
      dtype = &kTensorDtypes[a[0].number];
    }
    // The storage's bytes as elements of the dtype's width (in the byte order
    // the file states: torch.save writes 'byteorder'), then the view the
    // file describes, checked against the storage (check_geometry).
    torch::Tensor bytes = a[0].tensor;
    const int64_t item = c10::elementSize(dtype->bits);
    TORCH_CHECK(bytes.numel() % item == 0, "'", path_, "': storage of ", bytes.numel(),
                " bytes does not hold whole ", dtype->name, " elements");
    if (item > 1 && big_endian_file() == host_is_little_endian()) {
      bytes = bytes.clone();  // the storage may serve another rebuild
      byte_swap_in_place(static_cast<char*>(bytes.data_ptr()),
                         static_cast<uint64_t>(bytes.numel() / item), static_cast<size_t>(item));
    }
    // bool is read as bytes: a hostile byte other than 0 and 1 must not
    // become an invalid bool (as for .npy).
    const bool is_bool = dtype->bits == c10::ScalarType::Bool;
    const torch::Tensor flat = bytes.view(is_bool ? c10::ScalarType::Byte : dtype->bits);
    check_view_in_storage(flat.numel(), a[1].number, sizes, strides, path_);
    torch::Tensor t = flat.as_strided(sizes, strides, a[1].number);
    if (is_bool) t = t.ne(0);
    if (dtype->uint16) t = uint16_from_int16(t);
    PickleValue v;
    v.kind = PickleValue::kTensor;
    v.tensor = t;
    return v;
  }

  // What STOP finds: the tensor, or the TorchScript module torch::save wrote
  // with the tensor as attribute "0".
  torch::Tensor result(const PickleValue& v) const {
    if (v.kind == PickleValue::kTensor) return v.tensor;
    if (v.kind == PickleValue::kObject) {
      for (size_t k = 0; k + 1 < v.items.size(); k += 2) {
        if (v.items[k].kind == PickleValue::kString && v.items[k].text == "0" &&
            v.items[k + 1].kind == PickleValue::kTensor) {
          return v.items[k + 1].tensor;
        }
      }
      TORCH_CHECK(false, "'", path_, "': holds an object of ", v.text,
                  " without a tensor \"0\" (torch::save of one tensor has one), expected a "
                  "tensor");
    }
    TORCH_CHECK(false, "'", path_, "': holds ", kind_name(v.kind), ", expected a tensor");
  }

  // SETITEM(S): key, value, ... into the dict below them; APPEND(S): values
  // into the list below them.
  void set_items(std::vector<PickleValue> items) {
    fail_if(items.size() % 2 != 0, "malformed pickle (a key without its value)");
    add_items(PickleValue::kDict, std::move(items));
  }
  void append(std::vector<PickleValue> items) { add_items(PickleValue::kList, std::move(items)); }
  void add_items(PickleValue::Kind kind, std::vector<PickleValue> items) {
    fail_if(stack_.empty() || stack_.back().kind != kind,
            std::string("malformed pickle (items added to something else than ") +
                kind_name(kind) + ")");
    PickleValue& into = stack_.back();
    for (PickleValue& item : items) {
      fail_if(into.items.size() >= 4096, std::string(kind_name(kind)) +
                                             " larger than a tensor's pickle has");
      into.nodes += item.nodes;
      into.items.push_back(std::move(item));
    }
  }

  // NEWOBJ of a TorchScript class (torch::save's module), with no arguments.
  PickleValue new_object(const PickleValue& cls, const PickleValue& args) {
    expect(cls, PickleValue::kGlobal, "the class of a NEWOBJ");
    fail_if(cls.text.compare(0, 10, "__torch__.") != 0,
            "unsupported object " + cls.text + " (expected one tensor)");
    fail_if(args.kind != PickleValue::kTuple || !args.items.empty(),
            "a NEWOBJ of " + cls.text + " with arguments");
    PickleValue v;
    v.kind = PickleValue::kObject;
    v.text = cls.text;
    v.nodes = cls.nodes;
    return v;
  }

  // BUILD: the object's attributes (a dict) set once.
  void build(PickleValue state) {
    fail_if(stack_.empty() || stack_.back().kind != PickleValue::kObject ||
                !stack_.back().items.empty(),
            "malformed pickle (BUILD of something else than a new object)");
    expect(state, PickleValue::kDict, "an object's state");
    stack_.back().items = std::move(state.items);
    stack_.back().nodes += state.nodes;
  }

  bool big_endian_file() const {
    if (!reader_.hasRecord("byteorder")) return false;  // older files: little-endian
    at::DataPtr data;
    size_t size = 0;
    std::tie(data, size) = reader_.getRecord("byteorder");
    return std::string(static_cast<const char*>(data.get()), size) == "big";
  }

  const std::string& data_;
  caffe2::serialize::PyTorchStreamReader& reader_;
  const std::string& path_;
  size_t pos_ = 0;
  std::vector<PickleValue> stack_;
  std::map<uint64_t, PickleValue> memo_;
  std::map<std::string, PickleValue> storages_;  // by record name
  size_t copies_ = 0;
};

torch::Tensor load_torch_archive(const std::vector<char>& bytes, const std::string& path) {
  // torch.save, torch::pickle_save and C++'s torch::save all write data.pkl
  // (torch::save's also holds code/ and constants.pkl, which are not needed).
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  std::string pickle;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(
        std::make_shared<BoundedReadAdapter>(bytes.data(), bytes.size()));
    TORCH_CHECK(reader->hasRecord("data.pkl"), "no data.pkl record");
    at::DataPtr data;
    size_t size = 0;
    std::tie(data, size) = reader->getRecord("data.pkl");
    pickle.assign(static_cast<const char*>(data.get()), size);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "'", path,
                "': not a valid torch.save archive: ", e.what_without_backtrace());
  }
  torch::Tensor t;
  try {
    t = TensorUnpickler(pickle, *reader, path).run();
    check_geometry(t, path);
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    // An error of ours already names the file.
    if (msg.compare(0, path.size() + 2, "'" + path + "'") == 0) throw;
    TORCH_CHECK(false, "'", path, "': cannot read the tensor: ", msg);
  } catch (const std::exception& e) {
    // (LibTorch's zip reader may throw others than c10::Error: errors of
    // this loader are c10::Error.)
    TORCH_CHECK(false, "'", path, "': cannot read the tensor: malformed archive (", e.what(), ")");
  }
  return t.detach();
}

}  // namespace

NpyHeader parse_npy_header(const char* prefix, size_t prefix_size, uint64_t file_size,
                           const std::string& name) {
  TORCH_CHECK(prefix_size <= file_size, "'", name, "': internal error: prefix beyond the file");
  TORCH_CHECK(has_npy_magic(prefix, prefix_size), "'", name,
              "': not a .npy file (no \\x93NUMPY magic)");
  TORCH_CHECK(prefix_size >= 8, "'", name, "': truncated .npy file: no format version");
  NpyHeader h;
  h.major_version = static_cast<unsigned char>(prefix[6]);
  h.minor_version = static_cast<unsigned char>(prefix[7]);
  TORCH_CHECK(h.minor_version == 0 && h.major_version >= 1 && h.major_version <= 3, "'", name,
              "': unsupported .npy format version ", h.major_version, ".", h.minor_version,
              "; expected 1.0, 2.0 or 3.0");
  const size_t length_size = h.major_version == 1 ? 2 : 4;
  TORCH_CHECK(prefix_size >= 8 + length_size, "'", name,
              "': truncated .npy file: no header length");
  const uint64_t header_size =
      length_size == 2 ? read_le<uint16_t>(prefix + 8) : read_le<uint32_t>(prefix + 8);
  TORCH_CHECK(header_size <= kNpyMaxHeaderSize, "'", name, "': .npy header length ", header_size,
              " exceeds the limit of ", kNpyMaxHeaderSize, " bytes");
  const uint64_t header_begin = 8 + length_size;
  h.data_offset = static_cast<size_t>(header_begin + header_size);
  TORCH_CHECK(h.data_offset <= file_size, "'", name, "': truncated .npy file: the header claims ",
              header_size, " bytes, the file ends after ", file_size - header_begin);
  TORCH_CHECK(h.data_offset <= prefix_size, "'", name,
              "': internal error: .npy header not read in full");

  HeaderParser(prefix + header_begin, static_cast<size_t>(header_size), name)
      .parse(h.descr, h.fortran_order, h.shape);
  resolve_descr(h, name);

  // numel * item_size must fit, and so must the extent of every stride
  // (torch computes strides from max(size, 1), even when numel is 0).
  uint64_t numel = 1, extent = h.item_size;
  for (int64_t d : h.shape) {
    const uint64_t size = static_cast<uint64_t>(d);
    const bool overflow = __builtin_mul_overflow(extent, std::max<uint64_t>(size, 1), &extent) ||
                          extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    TORCH_CHECK(!overflow, "'", name, "': .npy shape ", shape_string(h.shape), " is too large");
    numel *= size;  // <= extent / item_size: cannot overflow
  }
  h.data_size = numel * h.item_size;
  const uint64_t available = file_size - h.data_offset;
  TORCH_CHECK(available == h.data_size, "'", name, "': .npy shape ", shape_string(h.shape), " of '",
              h.descr, "' needs ", h.data_size, " bytes of data, the file has ", available,
              available < h.data_size ? " (truncated)" : " (trailing bytes)");
  return h;
}

torch::Tensor parse_npy(const char* data, size_t size, const std::string& name) {
  const NpyHeader h = parse_npy_header(data, size, size, name);
  return make_npy_tensor(h,
                         [&](char* out, size_t n) { std::memcpy(out, data + h.data_offset, n); });
}

torch::Tensor load_tensor(const std::string& path) {
  File file(path);
  char head[kNpyMagicSize] = {};
  const size_t head_size = static_cast<size_t>(std::min<uint64_t>(file.size(), sizeof head));
  file.read_at(0, head, head_size);
  if (has_npy_magic(head, head_size)) return load_npy_file(file, path);

  TORCH_CHECK(file.size() > 0, "'", path, "': empty file, expected a tensor file");
  const bool zip = head_size >= 4 && std::memcmp(head, "PK", 2) == 0 &&
                   ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
  // A pickle (protocol 2, as old torch.save wrote) starts with 0x80 0x02.
  const bool legacy = head_size >= 2 && static_cast<unsigned char>(head[0]) == 0x80 && head[1] == 2;
  TORCH_CHECK(!legacy, "'", path,
              "': legacy torch.save format (_use_new_zipfile_serialization=False) is not "
              "supported; save it with torch.save's default zip format");
  TORCH_CHECK(zip, "'", path,
              "': unknown file format, expected a .npy file or a torch.save/torch::save archive");
  TORCH_CHECK(file.size() <= std::numeric_limits<size_t>::max(), "'", path, "': too large");
  std::vector<char> bytes(static_cast<size_t>(file.size()));
  file.read_at(0, bytes.data(), bytes.size());
  return load_torch_archive(bytes, path);
}

}  // namespace cli
}  // namespace torchimage
