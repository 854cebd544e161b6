// Golden conformance against torchvision 0.14.1 / Pillow 9.4.
//
// The data under data/golden is made by scripts/make_golden.py (run it with
// /usr/bin/python3; the manifest's header documents the format). For every
// manifest line this test loads the torch.save'd input, calls
// torchimage::save_image into a temporary directory and compares:
//   * PNG: the decoded pixels (decoded with libpng, the tests' independent
//     decoder in reference_png.h) of both files; with an explicit compression_level
//     also the bytes. With compression_level unset the golden is Pillow's
//     default (zlib level 6; the script asserts those bytes equal level 6's),
//     so the bytes are compared through encode_image with level 6 instead.
//   * JPEG: the bytes.
// and checks that encode_image, to_pixels, encode_png / encode_jpeg and
// decode_image agree with the file.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/torch.h>

#include <torchimage/torchimage.h>

#include "reference_png.h"

namespace fs = std::filesystem;

namespace {

const std::string kGoldenDir = std::string(TORCHIMAGE_TEST_DATA) + "/golden";

// ---------------------------------------------------------------------------
// Manifest

struct GoldenCase {
  std::string name;
  std::map<std::string, std::string> fields;
  int line = 0;
  std::string error;  // set when the manifest could not be read or parsed

  const std::string& get(const std::string& key) const {
    static const std::string empty;
    auto it = fields.find(key);
    return it == fields.end() ? empty : it->second;
  }
  bool has(const std::string& key) const { return fields.count(key) != 0; }
};

std::vector<GoldenCase> LoadManifest() {
  std::vector<GoldenCase> cases;
  const std::string path = kGoldenDir + "/manifest.txt";
  std::ifstream in(path);
  if (!in) {
    GoldenCase c;
    c.name = "ManifestMissing";
    c.error = "cannot open " + path + " (run /usr/bin/python3 scripts/make_golden.py)";
    cases.push_back(c);
    return cases;
  }
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    GoldenCase c;
    c.line = lineno;
    ss >> c.name;
    std::string tok;
    while (ss >> tok) {
      auto eq = tok.find('=');
      if (eq == std::string::npos) {
        c.error = "manifest line " + std::to_string(lineno) + ": token without '=': " + tok;
        break;
      }
      c.fields[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
    cases.push_back(c);
  }
  if (cases.empty()) {
    GoldenCase c;
    c.name = "ManifestEmpty";
    c.error = path + " lists no cases";
    cases.push_back(c);
  }
  return cases;
}

const std::vector<GoldenCase>& Manifest() {
  static const std::vector<GoldenCase> cases = LoadManifest();
  return cases;
}

// ---------------------------------------------------------------------------
// Files and byte comparison

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<uint8_t> TensorBytes(const torch::Tensor& t) {
  auto c = t.contiguous().to(torch::kCPU);
  const auto* p = c.data_ptr<uint8_t>();
  return std::vector<uint8_t>(p, p + c.numel());
}

uint32_t Be32(const std::vector<uint8_t>& b, size_t pos) {
  return (uint32_t{b[pos]} << 24) | (uint32_t{b[pos + 1]} << 16) | (uint32_t{b[pos + 2]} << 8) |
         uint32_t{b[pos + 3]};
}

bool IsPng(const std::vector<uint8_t>& b) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return b.size() >= 8 && std::memcmp(b.data(), sig, 8) == 0;
}

// "IHDR(13) IDAT(65536) IDAT(4633) IEND(0)".
std::string PngChunkList(const std::vector<uint8_t>& b) {
  if (!IsPng(b)) return "(not a PNG)";
  std::string out;
  size_t pos = 8;
  while (pos + 8 <= b.size()) {
    uint32_t len = Be32(b, pos);
    out += std::string(reinterpret_cast<const char*>(&b[pos + 4]), 4) + "(" +
           std::to_string(len) + ") ";
    if (len > b.size()) break;
    pos += 12 + size_t{len};
  }
  if (pos != b.size()) out += "[trailing/truncated at " + std::to_string(pos) + "]";
  return out;
}

// Where `offset` lies in a PNG: "IDAT #2 (chunk at 65581, data byte 12)".
std::string PngWhere(const std::vector<uint8_t>& b, size_t offset) {
  if (!IsPng(b)) return "";
  if (offset < 8) return "signature";
  size_t pos = 8;
  std::map<std::string, int> seen;
  while (pos + 8 <= b.size()) {
    uint32_t len = Be32(b, pos);
    std::string type(reinterpret_cast<const char*>(&b[pos + 4]), 4);
    int n = ++seen[type];
    size_t end = pos + 12 + size_t{len};
    if (offset < end) {
      std::string part = offset < pos + 4   ? "length"
                         : offset < pos + 8 ? "type"
                         : offset < end - 4 ? "data byte " + std::to_string(offset - pos - 8)
                                            : "CRC";
      return type + " #" + std::to_string(n) + " (chunk at " + std::to_string(pos) + ", " +
             part + ")";
    }
    pos = end;
  }
  return "past the last chunk";
}

// Where `offset` lies in a JPEG: the marker segment or the entropy-coded data.
std::string JpegWhere(const std::vector<uint8_t>& b, size_t offset) {
  if (b.size() < 2 || b[0] != 0xFF || b[1] != 0xD8) return "";
  if (offset < 2) return "SOI";
  size_t pos = 2;
  while (pos + 4 <= b.size() && b[pos] == 0xFF) {
    uint8_t marker = b[pos + 1];
    size_t len = (size_t{b[pos + 2]} << 8) | b[pos + 3];
    char name[16];
    std::snprintf(name, sizeof name, "FF%02X", marker);
    size_t end = pos + 2 + len;
    if (offset < end)
      return std::string("segment ") + name + " at " + std::to_string(pos) + " (byte " +
             std::to_string(offset - pos) + ")";
    if (marker == 0xDA) return "entropy-coded data (scan starts at " + std::to_string(end) + ")";
    pos = end;
  }
  return "after the headers";
}

// Empty when equal; otherwise where and how the bytes first differ.
std::string DiffBytes(const std::vector<uint8_t>& ours, const std::vector<uint8_t>& golden) {
  if (ours == golden) return "";
  size_t n = std::min(ours.size(), golden.size());
  size_t i = 0;
  while (i < n && ours[i] == golden[i]) ++i;
  std::ostringstream m;
  m << "sizes ours=" << ours.size() << " golden=" << golden.size() << "; first differing byte at "
    << i;
  if (i < n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " (ours 0x%02x, golden 0x%02x)", ours[i], golden[i]);
    m << buf;
  } else {
    m << " (one is a prefix of the other)";
  }
  std::string where = IsPng(golden) ? PngWhere(golden, i) : JpegWhere(golden, i);
  if (!where.empty()) m << " in golden's " << where;
  if (IsPng(golden) || IsPng(ours))
    m << "\n  chunks ours:   " << PngChunkList(ours) << "\n  chunks golden: "
      << PngChunkList(golden);
  return m.str();
}

// ---------------------------------------------------------------------------
// PNG pixels through the tests' independent decoder (libpng, reference_png.h).

using torchimage_test::ReferencePng;

ReferencePng DecodePng(const std::vector<uint8_t>& bytes) {
  return torchimage_test::decode_reference_png(bytes);
}

// Empty when equal; otherwise the first differing sample and a summary.
std::string DiffPixels(uint32_t w, uint32_t h, int c, const uint8_t* ours, const uint8_t* golden) {
  size_t n = size_t{w} * h * c, ndiff = 0, first = n;
  int maxdiff = 0;
  for (size_t i = 0; i < n; ++i) {
    if (ours[i] != golden[i]) {
      if (first == n) first = i;
      ++ndiff;
      maxdiff = std::max(maxdiff, std::abs(int{ours[i]} - int{golden[i]}));
    }
  }
  if (ndiff == 0) return "";
  size_t px = first / c;
  std::ostringstream m;
  m << ndiff << " of " << n << " samples differ (max |diff| " << maxdiff
    << "); first at x=" << px % w << " y=" << px / w << " channel=" << first % c
    << ": ours=" << int{ours[first]} << " golden=" << int{golden[first]};
  return m.str();
}

std::string DiffImages(const ReferencePng& ours, const ReferencePng& golden) {
  if (!ours.ok() || !ours.warnings.empty()) return "ours: " + ours.describe();
  if (!golden.ok() || !golden.warnings.empty()) return "golden: " + golden.describe();
  if (ours.width != golden.width || ours.height != golden.height ||
      ours.channels != golden.channels || ours.bit_depth != 8 || golden.bit_depth != 8) {
    return "geometry ours=" + ours.describe() + " golden=" + golden.describe();
  }
  return DiffPixels(golden.width, golden.height, golden.channels, ours.bytes.data(),
                    golden.bytes.data());
}

// (H, W, C) uint8 tensor against a decoded image.
std::string DiffHwc(const torch::Tensor& hwc, const ReferencePng& golden) {
  if (hwc.dim() != 3 || hwc.scalar_type() != torch::kUInt8) {
    std::ostringstream m;
    m << "expected a uint8 (H, W, C) tensor, got " << hwc.sizes() << " " << hwc.dtype();
    return m.str();
  }
  if (hwc.size(0) != int64_t{golden.height} || hwc.size(1) != int64_t{golden.width} ||
      hwc.size(2) != golden.channels) {
    std::ostringstream m;
    m << "geometry " << hwc.sizes() << " vs golden (H, W, C) = (" << golden.height << ", "
      << golden.width << ", " << golden.channels << ")";
    return m.str();
  }
  auto bytes = TensorBytes(hwc);
  return DiffPixels(golden.width, golden.height, golden.channels, bytes.data(),
                    golden.bytes.data());
}

// ---------------------------------------------------------------------------
// Inputs and options

torch::IValue PickleLoadFile(const std::string& path) {
  auto bytes = ReadBytes(path);
  std::vector<char> chars(bytes.begin(), bytes.end());
  return torch::pickle_load(chars);
}

std::string ShapeString(const torch::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "x" : "") + std::to_string(t.size(i));
  return s;
}

std::string DtypeName(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return "float32";
    case torch::kDouble: return "float64";
    case torch::kHalf: return "float16";
    case torch::kBFloat16: return "bfloat16";
    case torch::kUInt8: return "uint8";
    case torch::kBool: return "bool";
    default: return c10::toString(t);
  }
}

std::string LayoutName(const torch::Tensor& t) {
  if (t.is_contiguous()) return "contiguous";
  if (t.dim() == 4 && t.is_contiguous(torch::MemoryFormat::ChannelsLast)) return "channels_last";
  return "noncontiguous";
}

// Bitwise-ish equality that treats NaN == NaN (the inputs hold NaN on purpose).
bool SameValues(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  auto da = a.to(torch::kDouble), db = b.to(torch::kDouble);
  return torch::equal(da.isnan(), db.isnan()) &&
         torch::equal(torch::nan_to_num(da, 0.0), torch::nan_to_num(db, 0.0));
}

int ParseInt(const GoldenCase& c, const std::string& key) {
  const std::string& v = c.get(key);
  char* end = nullptr;
  long r = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0')
    throw std::runtime_error("manifest line " + std::to_string(c.line) + ": bad " + key + "=" + v);
  return static_cast<int>(r);
}

double ParseDouble(const std::string& v, const GoldenCase& c, const std::string& key) {
  char* end = nullptr;
  double r = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0')
    throw std::runtime_error("manifest line " + std::to_string(c.line) + ": bad " + key + "=" + v);
  return r;
}

bool ParseBool(const GoldenCase& c, const std::string& key) { return ParseInt(c, key) != 0; }

torchimage::SaveImageOptions OptionsFor(const GoldenCase& c) {
  torchimage::SaveImageOptions o;
  o.nrow(ParseInt(c, "nrow"))
      .padding(ParseInt(c, "padding"))
      .normalize(ParseBool(c, "normalize"))
      .scale_each(ParseBool(c, "scale_each"))
      .pad_value(ParseDouble(c.get("pad_value"), c, "pad_value"))
      .quality(ParseInt(c, "quality"));
  const std::string& vr = c.get("value_range");
  if (vr != "none") {
    auto comma = vr.find(',');
    if (comma == std::string::npos) throw std::runtime_error("bad value_range=" + vr);
    o.value_range(torchimage::ValueRange{ParseDouble(vr.substr(0, comma), c, "value_range"),
                                         ParseDouble(vr.substr(comma + 1), c, "value_range")});
  }
  const std::string& cl = c.get("compression_level");
  if (cl != "none") o.compression_level(ParseInt(c, "compression_level"));
  return o;
}

std::string TempDirFor(const std::string& name) {
  std::string base = ::testing::TempDir();
  if (base.empty() || base.back() != '/') base += '/';
  fs::path dir = base + "torchimage_golden_" + std::to_string(::getpid()) + "_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// ---------------------------------------------------------------------------

// gtest prints parameters of failed tests: the case name, not its bytes.
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

// Runs `stmt`; on an exception fails the test with the case name and the
// exception's message (without LibTorch's backtrace).
#define GOLDEN_RUN(stmt, desc)                                                        \
  do {                                                                                \
    try {                                                                             \
      stmt;                                                                           \
    } catch (const c10::Error& e_) {                                                  \
      FAIL() << "case " << c.name << ": " << desc << " threw: "                       \
             << e_.what_without_backtrace();                                          \
    } catch (const std::exception& e_) {                                              \
      FAIL() << "case " << c.name << ": " << desc << " threw: " << e_.what();         \
    }                                                                                 \
  } while (0)

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, MatchesTorchvision) {
  const GoldenCase& c = GetParam();
  ASSERT_TRUE(c.error.empty()) << c.error;
  SCOPED_TRACE("golden case '" + c.name + "' (manifest.txt line " + std::to_string(c.line) + ")");
  for (const char* key : {"input", "output", "shape", "dtype", "layout", "nrow", "padding",
                          "normalize", "value_range", "scale_each", "pad_value", "format",
                          "compression_level", "quality", "list"})
    ASSERT_TRUE(c.has(key)) << "manifest line " << c.line << " lacks " << key;

  // The manifest names the format as torchimage's table does.
  torchimage::ImageFormat format{};
  GOLDEN_RUN(format = torchimage::parse_format(c.get("format")), "parse_format");
  const bool png = format == torchimage::ImageFormat::PNG;
  const bool jpeg = format == torchimage::ImageFormat::JPEG;
  // The other rows are checked by what their row says (lossy or not) and the
  // manifest's bytes=exact|pixels: no code per format.
  const torchimage::FormatInfo& row = torchimage::format_info(format);
  if (!row.available) GTEST_SKIP() << row.name << " is not in this build";
  const bool exact_bytes = !c.has("bytes") || c.get("bytes") == "exact";
  const bool explicit_level = c.get("compression_level") != "none";
  const bool is_list = ParseBool(c, "list");

  // --- input ---------------------------------------------------------------
  torch::Tensor input;  // the tensor (the stacked list for list cases)
  std::vector<torch::Tensor> list;
  {
    torch::IValue iv;
    GOLDEN_RUN(iv = PickleLoadFile(kGoldenDir + "/" + c.get("input")),
               "torch::pickle_load of " + c.get("input"));
    if (is_list) {
      ASSERT_TRUE(iv.isList()) << c.get("input") << " is not a list";
      for (const auto& e : iv.toList()) {
        ASSERT_TRUE(e.get().isTensor());
        list.push_back(e.get().toTensor());
      }
      torch::IValue st;
      GOLDEN_RUN(st = PickleLoadFile(kGoldenDir + "/" + c.get("stacked")),
                 "torch::pickle_load of " + c.get("stacked"));
      ASSERT_TRUE(st.isTensor());
      input = st.toTensor();
      ASSERT_TRUE(SameValues(torch::stack(list), input)) << "stacked file differs from the list";
    } else {
      ASSERT_TRUE(iv.isTensor()) << c.get("input") << " is not a tensor";
      input = iv.toTensor();
    }
  }
  ASSERT_EQ(ShapeString(input), c.get("shape"));
  ASSERT_EQ(DtypeName(input.scalar_type()), c.get("dtype"));
  if (!is_list) {
    ASSERT_EQ(LayoutName(input), c.get("layout"));
  }
  const torch::Tensor input_before = input.clone();
  std::vector<torch::Tensor> list_before;
  for (const auto& t : list) list_before.push_back(t.clone());

  torchimage::SaveImageOptions opts;
  GOLDEN_RUN(opts = OptionsFor(c), "parsing the manifest line");

  // --- save_image ------------------------------------------------------------
  const std::vector<uint8_t> golden = ReadBytes(kGoldenDir + "/" + c.get("output"));
  const torch::Tensor golden_tensor =
      torch::tensor(std::vector<int64_t>(golden.begin(), golden.end())).to(torch::kUInt8);
  const std::string dir = TempDirFor(c.name);
  const std::string out_path = dir + "/" + c.get("output");
  if (is_list) {
    GOLDEN_RUN(torchimage::save_image(list, out_path, opts), "save_image(list)");
  } else {
    GOLDEN_RUN(torchimage::save_image(input, out_path, opts), "save_image");
  }
  {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
    EXPECT_EQ(names, std::vector<std::string>{c.get("output")})
        << "save_image left other files in the directory";
  }
  const std::vector<uint8_t> ours = ReadBytes(out_path);
  EXPECT_TRUE(SameValues(input, input_before)) << "save_image modified its input";
  for (size_t i = 0; i < list.size(); ++i)
    EXPECT_TRUE(SameValues(list[i], list_before[i])) << "save_image modified list element " << i;

  ReferencePng golden_img;
  if (png) {
    golden_img = DecodePng(golden);
    ASSERT_TRUE(golden_img.ok() && golden_img.warnings.empty() && golden_img.bit_depth == 8)
        << "golden " << c.get("output") << ": " << golden_img.describe();
    // (a) pixels
    std::string d = DiffImages(DecodePng(ours), golden_img);
    EXPECT_TRUE(d.empty()) << "case " << c.name << ": save_image's PNG pixels differ from "
                           << "torchvision's: " << d;
    // (b) bytes
    if (explicit_level) {
      d = DiffBytes(ours, golden);
      EXPECT_TRUE(d.empty()) << "case " << c.name << ": PNG bytes differ from Pillow's at "
                             << "compress_level=" << c.get("compression_level") << ": " << d;
    } else {
      // Pillow's default is zlib level 6 (asserted by make_golden.py).
      torch::Tensor l6;
      auto o6 = opts;
      o6.format(format).compression_level(6);
      GOLDEN_RUN(l6 = torchimage::encode_image(input, o6), "encode_image(level 6)");
      d = DiffBytes(TensorBytes(l6), golden);
      EXPECT_TRUE(d.empty()) << "case " << c.name << ": encode_image with compression_level 6 "
                             << "differs from Pillow's default PNG bytes: " << d;
    }
  } else if (jpeg) {
    // (c) JPEG bytes
    std::string d = DiffBytes(ours, golden);
    EXPECT_TRUE(d.empty()) << "case " << c.name << ": JPEG bytes differ from Pillow's at quality "
                           << c.get("quality") << ": " << d;
  } else {
    // (d) any other row: Pillow's bytes where the manifest says so, and
    // always the pixels Pillow's file decodes to.
    if (exact_bytes) {
      std::string d = DiffBytes(ours, golden);
      EXPECT_TRUE(d.empty()) << "case " << c.name << ": " << row.display_name
                             << " bytes differ from Pillow's: " << d;
    }
    torch::Tensor from_golden, from_ours;
    GOLDEN_RUN(from_golden = torchimage::decode_image(golden_tensor), "decode_image(golden)");
    GOLDEN_RUN(from_ours = torchimage::decode_image(torchimage::read_file(out_path)),
               "decode_image(ours)");
    EXPECT_TRUE(from_golden.sizes() == from_ours.sizes() && torch::equal(from_golden, from_ours))
        << "case " << c.name << ": the file decodes to other pixels than Pillow's ("
        << from_ours.sizes() << " vs " << from_golden.sizes() << ")";
  }

  // --- consistency of encode_image / to_pixels / encoders / decoder ----------
  auto eopts = opts;
  eopts.format(format);
  torch::Tensor encoded;
  GOLDEN_RUN(encoded = torchimage::encode_image(input, eopts), "encode_image");
  {
    std::string d = DiffBytes(TensorBytes(encoded), ours);
    EXPECT_TRUE(d.empty()) << "case " << c.name << ": encode_image differs from save_image's file: "
                           << d;
  }
  if (is_list) {
    // The list and the stacked tensor must give the same file.
    const std::string stacked_path = dir + "/stacked_" + c.get("output");
    GOLDEN_RUN(torchimage::save_image(input, stacked_path, opts), "save_image(stacked)");
    std::string d = DiffBytes(ReadBytes(stacked_path), ours);
    EXPECT_TRUE(d.empty()) << "case " << c.name << ": save_image(stacked) differs from "
                           << "save_image(list): " << d;
  }

  torch::Tensor pixels;
  GOLDEN_RUN(pixels = torchimage::to_pixels(input, opts), "to_pixels");
  EXPECT_EQ(pixels.device().type(), torch::kCPU);
  if (png) {
    std::string d = DiffHwc(pixels, golden_img);
    EXPECT_TRUE(d.empty()) << "case " << c.name << ": to_pixels differs from torchvision's pixels: "
                           << d;
    if (explicit_level && d.empty()) {
      torch::Tensor e;
      GOLDEN_RUN(e = torchimage::encode_png(pixels.permute({2, 0, 1}),
                                            torchimage::PngOptions().compression_level(
                                                ParseInt(c, "compression_level"))),
                 "encode_png(to_pixels)");
      d = DiffBytes(TensorBytes(e), golden);
      EXPECT_TRUE(d.empty()) << "case " << c.name << ": encode_png(to_pixels) differs from "
                             << "Pillow's bytes: " << d;
    }
    torch::Tensor decoded;
    GOLDEN_RUN(decoded = torchimage::decode_image(golden_tensor), "decode_image(golden)");
    d = DiffHwc(decoded.permute({1, 2, 0}), golden_img);
    EXPECT_TRUE(d.empty()) << "case " << c.name << ": decode_image(golden) differs from libpng: "
                           << d;
  } else if (!jpeg) {
    // Lossless rows: Pillow's file holds exactly torchvision's pixels (the
    // generator asserts it with Pillow, and tifffile for TIFF), so ours do.
    torch::Tensor decoded;
    GOLDEN_RUN(decoded = torchimage::decode_image(golden_tensor), "decode_image(golden)");
    ASSERT_EQ(pixels.dim(), 3);
    if (!row.lossy) {
      EXPECT_TRUE(decoded.sizes() == pixels.permute({2, 0, 1}).sizes() &&
                  torch::equal(decoded, pixels.permute({2, 0, 1})))
          << "case " << c.name << ": to_pixels differs from torchvision's pixels in Pillow's "
          << row.display_name;
    } else {
      EXPECT_EQ(decoded.sizes().vec(),
                (std::vector<int64_t>{pixels.size(2), pixels.size(0), pixels.size(1)}));
    }
  } else {
    ASSERT_EQ(pixels.dim(), 3);
    ASSERT_EQ(pixels.scalar_type(), torch::kUInt8);
    EXPECT_EQ(pixels.size(2), 3) << "torchvision writes RGB JPEGs";
    torch::Tensor e;
    GOLDEN_RUN(e = torchimage::encode_jpeg(
                   pixels.permute({2, 0, 1}),
                   torchimage::JpegOptions().quality(ParseInt(c, "quality"))),
               "encode_jpeg(to_pixels)");
    std::string d = DiffBytes(TensorBytes(e), golden);
    EXPECT_TRUE(d.empty()) << "case " << c.name << ": encode_jpeg(to_pixels) differs from "
                           << "Pillow's bytes: " << d;
    torch::Tensor decoded;
    GOLDEN_RUN(decoded = torchimage::decode_image(golden_tensor), "decode_image(golden)");
    EXPECT_EQ(decoded.sizes().vec(), (std::vector<int64_t>{3, pixels.size(0), pixels.size(1)}));
  }

  if (!HasFailure()) fs::remove_all(dir);
  else std::cerr << "  files kept in " << dir << "\n";
}

std::string CaseName(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string n = info.param.name;
  for (auto& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Torchvision, Golden, ::testing::ValuesIn(Manifest()), CaseName);

// The manifest and the folder agree: unique names, every file present, no
// file that no case uses.
TEST(GoldenManifest, ConsistentWithFolder) {
  const auto& cases = Manifest();
  ASSERT_FALSE(cases.empty());
  ASSERT_TRUE(cases[0].error.empty()) << cases[0].error;
  std::map<std::string, int> names;
  std::map<std::string, bool> used;
  for (const auto& c : cases) {
    EXPECT_EQ(++names[c.name], 1) << "duplicate case " << c.name;
    for (const char* key : {"input", "stacked", "output"}) {
      const std::string& f = c.get(key);
      if (f.empty() || f == "none") continue;
      used[f] = true;
      EXPECT_TRUE(fs::exists(kGoldenDir + "/" + f)) << c.name << ": missing " << f;
    }
  }
  for (const auto& e : fs::directory_iterator(kGoldenDir)) {
    std::string f = e.path().filename();
    if (f == "manifest.txt") continue;
    EXPECT_TRUE(used.count(f)) << "file " << f << " is used by no case";
  }
  EXPECT_GE(cases.size(), 50u);
}

}  // namespace
