// SummaryWriter at the level of the file: CRC-32C against published
// vectors, TFRecord framing, the version record, call order, faults, bad
// arguments. (What TensorBoard itself reads back from these files:
// tests/tensorboard/check_tensorboard.py, with the real tensorboard package.)
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>
#include <torchimage/torchimage.h>

#include "io/append_file.h"
#include "summary/crc32c.h"
#include "summary/event.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace torchimage;
using namespace torchimage_test;

namespace {

// ---- The test's own reading of the format (independent of src/summary) ----

uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint64_t le64(const uint8_t* p) { return uint64_t{le32(p)} | uint64_t{le32(p + 4)} << 32; }

// CRC-32C bit by bit, straight from the polynomial (RFC 3720's definition).
uint32_t crc32c_bitwise(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}
uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// The complete records of a file (each checked: both CRCs); `tail` gets the
// bytes after the last complete record.
std::vector<std::vector<uint8_t>> read_records(const std::vector<uint8_t>& f, size_t* tail) {
  std::vector<std::vector<uint8_t>> out;
  size_t at = 0;
  while (f.size() - at >= 12) {
    const uint64_t n = le64(&f[at]);
    EXPECT_EQ(le32(&f[at + 8]), masked(crc32c_bitwise(&f[at], 8))) << "length CRC at " << at;
    if (f.size() - at - 12 < n + 4) break;
    EXPECT_EQ(le32(&f[at + 12 + n]), masked(crc32c_bitwise(&f[at + 12], n)))
        << "data CRC at " << at;
    out.emplace_back(f.begin() + at + 12, f.begin() + at + 12 + n);
    at += 12 + n + 4;
  }
  *tail = f.size() - at;
  return out;
}

// A protobuf field walk: (field number, wire type, varint or bytes).
struct Field {
  uint32_t number;
  uint32_t type;
  uint64_t varint = 0;
  std::string bytes;
};
uint64_t read_varint(const std::string& s, size_t* at) {
  uint64_t v = 0;
  for (int shift = 0; *at < s.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(s[(*at)++]);
    v |= uint64_t{b & 0x7Fu} << shift;
    if (!(b & 0x80u)) return v;
  }
  ADD_FAILURE() << "truncated varint";
  return v;
}
std::vector<Field> fields(const std::string& s) {
  std::vector<Field> out;
  size_t at = 0;
  while (at < s.size()) {
    const uint64_t key = read_varint(s, &at);
    Field f{static_cast<uint32_t>(key >> 3), static_cast<uint32_t>(key & 7)};
    if (f.type == 0) {
      f.varint = read_varint(s, &at);
    } else if (f.type == 1) {
      f.bytes = s.substr(at, 8);
      at += 8;
    } else if (f.type == 5) {
      f.bytes = s.substr(at, 4);
      at += 4;
    } else if (f.type == 2) {
      const uint64_t n = read_varint(s, &at);
      f.bytes = s.substr(at, n);
      at += n;
    } else {
      ADD_FAILURE() << "wire type " << f.type;
      break;
    }
    out.push_back(f);
  }
  return out;
}
const Field* field(const std::vector<Field>& fs, uint32_t number) {
  for (const Field& f : fs) {
    if (f.number == number) return &f;
  }
  return nullptr;
}

// An event's step, file_version and (tag, kind of value) of its one value.
struct EventView {
  int64_t step = 0;
  std::string file_version;
  std::string tag;
  uint32_t value_field = 0;  // 2 simple_value, 4 image, 5 histo, 8 tensor
  float simple_value = 0;
  int64_t height = 0, width = 0, colorspace = 0;
};
EventView view(const std::vector<uint8_t>& data) {
  EventView v;
  const auto ev = fields(std::string(data.begin(), data.end()));
  if (const Field* f = field(ev, 2)) v.step = static_cast<int64_t>(f->varint);
  if (const Field* f = field(ev, 3)) v.file_version = f->bytes;
  if (const Field* summary = field(ev, 5)) {
    const auto value = fields(field(fields(summary->bytes), 1)->bytes);
    v.tag = field(value, 1)->bytes;
    for (const Field& f : value) {
      if (f.number == 2 || f.number == 4 || f.number == 5 || f.number == 8) v.value_field = f.number;
    }
    if (const Field* s = field(value, 2)) std::memcpy(&v.simple_value, s->bytes.data(), 4);
    if (const Field* img = field(value, 4)) {
      const auto im = fields(img->bytes);
      v.height = static_cast<int64_t>(field(im, 1)->varint);
      v.width = static_cast<int64_t>(field(im, 2)->varint);
      v.colorspace = static_cast<int64_t>(field(im, 3)->varint);
    }
  }
  return v;
}

std::vector<EventView> events_of(const std::string& path) {
  size_t tail = 0;
  std::vector<EventView> out;
  for (const auto& r : read_records(bytes_of(path), &tail)) out.push_back(view(r));
  EXPECT_EQ(tail, 0u) << path;
  return out;
}

std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// ---- CRC-32C ----

// RFC 3720 (iSCSI), appendix B.4, and the CRC catalogue's check value.
TEST(Crc32c, PublishedVectors) {
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  const std::string check = "123456789";
  const auto* c = reinterpret_cast<const uint8_t*>(check.data());
  for (auto fn : {&crc32c, &crc32c_table}) {
    EXPECT_EQ(fn(zeros.data(), 32), 0x8A9136AAu);
    EXPECT_EQ(fn(ones.data(), 32), 0x62A8AB43u);
    EXPECT_EQ(fn(up.data(), 32), 0x46DD794Eu);
    EXPECT_EQ(fn(down.data(), 32), 0x113FDB5Cu);
    EXPECT_EQ(fn(c, 9), 0xE3069283u);
    EXPECT_EQ(fn(c, 0), 0u);
  }
}

// Every length and alignment around the 8-byte steps: the library's CRC (ISA-L
// where built with it), its table and the bit-by-bit definition agree.
TEST(Crc32c, AllImplementationsAgree) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(4096 + 16);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000, 4096}) {
      const uint32_t want = crc32c_bitwise(buf.data() + offset, n);
      EXPECT_EQ(crc32c(buf.data() + offset, n), want) << offset << " " << n;
      EXPECT_EQ(crc32c_table(buf.data() + offset, n), want) << offset << " " << n;
    }
  }
  std::cout << "crc32c uses " << (crc32c_uses_isal() ? "ISA-L" : "its own table") << "\n";
}

// ---- TFRecord framing ----

TEST(TfRecord, Framing) {
  for (size_t n : {0, 1, 5, 127, 128, 300, 70000}) {
    std::vector<uint8_t> data(n);
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
    const Record r = frame_record(data.data(), n);
    ASSERT_EQ(r.size(), n + 16);
    const uint8_t* p = r.data();
    EXPECT_EQ(le64(p), n);
    EXPECT_EQ(le32(p + 8), masked(crc32c_bitwise(p, 8)));
    if (n > 0) EXPECT_EQ(std::memcmp(p + 12, data.data(), n), 0);  // (data() may be null)
    EXPECT_EQ(le32(p + 12 + n), masked(crc32c_bitwise(data.data(), n)));
  }
}

TEST(TfRecord, VersionRecord) {
  const Record r = version_record(1234.5);
  std::vector<uint8_t> file(r.data(), r.data() + r.size());
  size_t tail = 0;
  const auto records = read_records(file, &tail);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(tail, 0u);
  const auto ev = fields(std::string(records[0].begin(), records[0].end()));
  ASSERT_NE(field(ev, 1), nullptr);
  double wall;
  std::memcpy(&wall, field(ev, 1)->bytes.data(), 8);
  EXPECT_EQ(wall, 1234.5);
  EXPECT_EQ(field(ev, 3)->bytes, "brain.Event:2");
}

// A large payload (an image's bytes) is framed whole.
TEST(TfRecord, LargeImageRecord) {
  std::vector<uint8_t> png(3 << 20);
  for (size_t i = 0; i < png.size(); ++i) png[i] = static_cast<uint8_t>(i ^ (i >> 9));
  const Record r = image_record("samples/a", png.data(), png.size(), 1000, 2000, 3, 300, 1.0);
  std::vector<uint8_t> file(r.data(), r.data() + r.size());
  size_t tail = 0;
  const auto records = read_records(file, &tail);
  ASSERT_EQ(records.size(), 1u);
  const EventView v = view(records[0]);
  EXPECT_EQ(v.tag, "samples/a");
  EXPECT_EQ(v.step, 300);
  EXPECT_EQ(v.height, 1000);
  EXPECT_EQ(v.width, 2000);
  EXPECT_EQ(v.colorspace, 3);
}

// ---- The writer ----

TEST(SummaryWriter, FileNameAndFirstRecord) {
  TempDir dir("summary");
  const std::string logdir = dir / "runs/a/b";  // parents created
  std::string path;
  {
    SummaryWriter w(logdir);
    path = w.file_path();
    EXPECT_EQ(w.log_dir(), logdir);
    // The version record is in the file as soon as the writer exists.
    const auto first = events_of(path);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].file_version, "brain.Event:2");
  }
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  const std::regex name(std::string("events\\.out\\.tfevents\\.[0-9]{10}\\.") +
                        std::regex_replace(host, std::regex("[.]"), "\\.") + "\\." +
                        std::to_string(::getpid()) + "\\.[0-9]+");
  EXPECT_TRUE(std::regex_match(fs::path(path).filename().string(), name)) << path;
  EXPECT_EQ(fs::path(path).parent_path().string(), logdir);
}

// Records are appended in call order, whatever order the workers finish in:
// large images between scalars, on 4 threads.
TEST(SummaryWriter, RecordsInCallOrder) {
  TempDir dir("summary");
  std::vector<std::pair<std::string, int64_t>> calls;
  std::string path;
  {
    SummaryWriter w(dir.path.string(), SummaryWriterOptions().threads(4));
    path = w.file_path();
    torch::manual_seed(0);
    for (int64_t step = 0; step < 40; ++step) {
      const int side = step % 5 == 0 ? 512 : 8;  // slow ones among fast ones
      w.add_image("img", torch::rand({3, side, side}), step);
      calls.emplace_back("img", step);
      w.add_scalar("loss", static_cast<double>(step) / 3, step);
      calls.emplace_back("loss", step);
      if (step % 7 == 0) {
        w.add_histogram("h", torch::randn({100}), step);
        calls.emplace_back("h", step);
        w.add_text("t", "step " + std::to_string(step), step);
        calls.emplace_back("t/text_summary", step);
      }
    }
    w.flush();
  }
  const auto events = events_of(path);
  ASSERT_EQ(events.size(), calls.size() + 1);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(events[i + 1].tag, calls[i].first) << i;
    EXPECT_EQ(events[i + 1].step, calls[i].second) << i;
  }
  // Each scalar as a float, exact.
  for (const auto& e : events) {
    if (e.tag == "loss") {
      EXPECT_EQ(e.value_field, 2u);
      EXPECT_EQ(e.simple_value, static_cast<float>(static_cast<double>(e.step) / 3));
    }
    if (e.tag == "img") {
      EXPECT_EQ(e.value_field, 4u);
      EXPECT_EQ(e.height, e.step % 5 == 0 ? 512 : 8);
      EXPECT_EQ(e.colorspace, 3);
    }
  }
}

// A 0.0 scalar is written (simple_value is in a oneof: it has presence).
TEST(SummaryWriter, ZeroScalarAndStepZero) {
  TempDir dir("summary");
  std::string path;
  {
    SummaryWriter w(dir.path.string());
    path = w.file_path();
    w.add_scalar("zero", 0.0, 0);
  }
  const auto events = events_of(path);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].value_field, 2u);
  EXPECT_EQ(events[1].simple_value, 0.0f);
}

// Doubles past float32's range are logged as numpy's float32 has them:
// infinite (no undefined cast); NaN stays NaN; the largest float is kept.
TEST(SummaryWriter, ScalarsOutsideFloatRange) {
  TempDir dir("summary");
  const double fmax = static_cast<double>(std::numeric_limits<float>::max());
  const std::vector<double> values = {1e300, -1e300, std::nan(""), fmax, -fmax,
                                      std::numeric_limits<double>::infinity(), 1e-300};
  std::string path;
  {
    SummaryWriter w(dir.path.string());
    path = w.file_path();
    for (size_t i = 0; i < values.size(); ++i) w.add_scalar("v", values[i], static_cast<int64_t>(i));
  }
  const auto events = events_of(path);
  ASSERT_EQ(events.size(), values.size() + 1);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(events[1].simple_value, inf);
  EXPECT_EQ(events[2].simple_value, -inf);
  EXPECT_TRUE(std::isnan(events[3].simple_value));
  EXPECT_EQ(events[4].simple_value, std::numeric_limits<float>::max());
  EXPECT_EQ(events[5].simple_value, -std::numeric_limits<float>::max());
  EXPECT_EQ(events[6].simple_value, inf);
  EXPECT_EQ(events[7].simple_value, 0.0f);
}

// Image sizes come from the grid (make_grid's), gray stays gray in JPEG only
// where grayscale is asked for; the bytes are encode_image's.
TEST(SummaryWriter, ImageIsEncodeImage) {
  TempDir dir("summary");
  torch::manual_seed(1);
  const auto batch = torch::rand({10, 3, 17, 23}) * 2 - 1;
  const auto options = SaveImageOptions().nrow(4).normalize(true).value_range({-1.0, 1.0});
  std::string path;
  {
    SummaryWriter w(dir.path.string());
    path = w.file_path();
    w.add_image("grid", batch, 3, options);
    w.add_image("jpeg", batch[0], 4, SaveImageOptions(options).format(ImageFormat::JPEG));
  }
  size_t tail = 0;
  const auto records = read_records(bytes_of(path), &tail);
  ASSERT_EQ(records.size(), 3u);
  const auto value = fields(
      field(fields(field(fields(std::string(records[1].begin(), records[1].end())), 5)->bytes),
            1)
          ->bytes);
  const auto image = fields(field(value, 4)->bytes);
  const std::string png = field(image, 4)->bytes;
  const auto expected = to_bytes(encode_image(batch, options));
  EXPECT_EQ(std::vector<uint8_t>(png.begin(), png.end()), expected);
  const auto pixels = to_pixels(batch, options);  // (H, W, C)
  EXPECT_EQ(static_cast<int64_t>(field(image, 1)->varint), pixels.size(0));
  EXPECT_EQ(static_cast<int64_t>(field(image, 2)->varint), pixels.size(1));
  const EventView jpeg = view(records[2]);
  EXPECT_EQ(jpeg.height, 17);
  EXPECT_EQ(jpeg.width, 23);
}

// durable: synced on every append (flush_every 0) and on flush(); the same
// records.
TEST(SummaryWriter, DurableWriter) {
  TempDir dir("summary");
  SummaryWriter w(dir.path.string(), SummaryWriterOptions().durable(true).flush_every(0));
  for (int64_t step = 0; step < 5; ++step) {
    w.add_scalar("s", static_cast<double>(step), step);
    w.add_image("i", torch::rand({3, 8, 8}), step);
  }
  w.flush();
  const auto events = events_of(w.file_path());
  ASSERT_EQ(events.size(), 11u);
  for (int64_t step = 0; step < 5; ++step) {
    EXPECT_EQ(events[1 + 2 * step].tag, "s");
    EXPECT_EQ(events[2 + 2 * step].tag, "i");
    EXPECT_EQ(events[2 + 2 * step].step, step);
  }
  EXPECT_THROW_MSG(SummaryWriter(dir / "x", SummaryWriterOptions().flush_every(-1)),
                   "flush_every must be a number of seconds >= 0, got -1");
}

TEST(SummaryWriter, TwoWritersInOneFolder) {
  TempDir dir("summary");
  {
    SummaryWriter a(dir.path.string(), SummaryWriterOptions().threads(2));
    SummaryWriter b(dir.path.string(), SummaryWriterOptions().threads(2));
    EXPECT_NE(a.file_path(), b.file_path());
    for (int64_t step = 0; step < 20; ++step) {
      a.add_scalar("a", static_cast<double>(step), step);
      b.add_scalar("b", static_cast<double>(-step), step);
      a.add_image("ia", torch::rand({3, 16, 16}), step);
    }
  }
  const auto files = event_files(dir.path.string());
  ASSERT_EQ(files.size(), 2u);
  size_t a_count = 0, b_count = 0;
  for (const auto& f : files) {
    const auto events = events_of(f);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events[0].file_version, "brain.Event:2");
    for (size_t i = 1; i < events.size(); ++i) {
      if (events[i].tag == "a") ++a_count;
      if (events[i].tag == "b") {
        ++b_count;
        EXPECT_EQ(events[i].simple_value, static_cast<float>(-events[i].step));
      }
    }
  }
  EXPECT_EQ(a_count, 20u);
  EXPECT_EQ(b_count, 20u);
}

TEST(SummaryWriter, BadArguments) {
  TempDir dir("summary");
  SummaryWriter w(dir.path.string());
  const auto img = torch::rand({3, 4, 4});
  EXPECT_THROW_MSG(w.add_scalar("", 1.0, 0), "expected a non-empty tag, got ''");
  EXPECT_THROW_MSG(w.add_scalar(std::string("a\xff"), 1.0, 0), "the tag must be UTF-8; byte 1");
  EXPECT_THROW_MSG(w.add_scalar(std::string("\xc0\x80"), 1.0, 0), "must be UTF-8; byte 0");
  EXPECT_THROW_MSG(w.add_scalar("s", 1.0, -1), "expected a step >= 0, got -1");
  EXPECT_THROW_MSG(w.add_image("i", img, -5), "expected a step >= 0, got -5");
  EXPECT_THROW_MSG(w.add_scalar("s", 1.0, 0, -2.0), "got -2");
  EXPECT_THROW_MSG(w.add_image("i", torch::Tensor(), 0), "SummaryWriter::add_image");
  EXPECT_THROW_MSG(w.add_image("i", torch::rand({1, 2, 3, 4, 5}), 0), "SummaryWriter::add_image");
  EXPECT_THROW_MSG(w.add_image("i", torch::rand({3, 0, 4}), 0), "SummaryWriter::add_image");
  EXPECT_THROW_MSG(w.add_image("i", std::vector<torch::Tensor>{}, 0), "SummaryWriter::add_image");
  EXPECT_THROW_MSG(w.add_histogram("h", torch::Tensor(), 0), "got an undefined tensor");
  EXPECT_THROW_MSG(w.add_histogram("h", torch::zeros({0}), 0), "expected at least one value");
  EXPECT_THROW_MSG(w.add_histogram("h", torch::zeros({2}, torch::kComplexFloat), 0),
                   "expected real values, got ComplexFloat");
  EXPECT_THROW_MSG(w.add_text("t", std::string("\xe2\x82"), 0), "the text must be UTF-8");
  EXPECT_THROW_MSG(SummaryWriter(dir.path.string(), SummaryWriterOptions().threads(-1)),
                   "threads must be >= 0");
  EXPECT_THROW_MSG(SummaryWriter(dir / "file", SummaryWriterOptions().max_pending_bytes(0)),
                   "max_pending_bytes must be positive, got 0");
  { std::ofstream(dir / "plain") << "x"; }
  EXPECT_THROW_MSG(SummaryWriter(dir / "plain"), "plain");
  // Nothing was logged by the refused calls.
  w.flush();
  EXPECT_EQ(events_of(w.file_path()).size(), 1u);
}

// A failure in a worker (a histogram of a NaN) is thrown once, by the next
// flush(), naming the tag and step; the records after it are still written.
TEST(SummaryWriter, WorkerFailureReportedOnce) {
  TempDir dir("summary");
  SummaryWriter w(dir.path.string(), SummaryWriterOptions().threads(2));
  w.add_scalar("before", 1.0, 0);
  w.add_histogram("bad", torch::tensor({1.0, std::nan(""), 2.0}), 7);
  // The failure surfaces once: from the next call when the worker has failed
  // by then (the call's own record is still queued), else from flush().
  int reported = 0;
  for (int call = 0; call < 2; ++call) {
    try {
      if (call == 0) w.add_scalar("after", 2.0, 1);
      else w.flush();
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what_without_backtrace()).find("tag 'bad' at step 7"),
                std::string::npos) << e.what_without_backtrace();
      ++reported;
    }
  }
  EXPECT_EQ(reported, 1);
  w.flush();  // nothing left to report
  const auto events = events_of(w.file_path());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].tag, "before");
  EXPECT_EQ(events[2].tag, "after");
}

// The sink: a failed append (the file-size limit, EFBIG, in the middle of a
// batch) cuts the file back to its last whole batch and is reported.
TEST(AppendFile, FailedAppendLeavesWholeRecords) {
  TempDir dir("summary");
  const std::string path = dir / "events";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // In a child: the limit is the process's.
    ::signal(SIGXFSZ, SIG_IGN);
    int err = 0;
    auto f = AppendFile::create(path, &err);
    if (!f) ::_exit(2);
    std::vector<uint8_t> a(1000, 'a'), b(5000, 'b');
    f->append({{a.data(), a.size()}});
    struct rlimit rl = {3000, 3000};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(3);
    try {
      f->append({{a.data(), a.size()}, {b.data(), b.size()}});
      ::_exit(4);  // should have failed
    } catch (const c10::Error& e) {
      const std::string m = e.what_without_backtrace();
      if (m.find("cannot append to '" + path + "'") == std::string::npos) ::_exit(5);
    }
    if (f->size() != 1000) ::_exit(6);
    f->append({{a.data(), a.size()}});  // still fits
    ::_exit(f->size() == 2000 ? 0 : 7);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(bytes_of(path), std::vector<uint8_t>(2000, 'a'));
  int err = 0;
  EXPECT_EQ(AppendFile::create(path, &err), nullptr);
  EXPECT_EQ(err, EEXIST);
}

// A failed append in the writer (the file-size limit) surfaces once from
// flush(), names the file and how many records were lost; the file keeps
// only whole records.
TEST(SummaryWriter, AppendFailureReportedOnce) {
  TempDir dir("summary");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    int code = 0;
    try {
      SummaryWriter w(dir.path.string(), SummaryWriterOptions().threads(1));
      w.add_scalar("small", 1.0, 0);
      w.flush();
      struct rlimit rl = {4096, 4096};
      if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(3);
      w.add_image("big", torch::rand({3, 64, 64}), 1);  // ~37 KB of PNG
      bool thrown = false;
      try {
        w.flush();
      } catch (const c10::Error& e) {
        const std::string m = e.what_without_backtrace();
        thrown = m.find("cannot append to '" + w.file_path() + "'") != std::string::npos &&
                 m.find("(1 record lost)") != std::string::npos;
      }
      if (!thrown) code = 4;
      w.add_scalar("after", 2.0, 2);
      w.flush();  // nothing more to report
    } catch (...) {
      code = 5;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const auto files = event_files(dir.path.string());
  ASSERT_EQ(files.size(), 1u);
  const auto events = events_of(files[0]);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].tag, "small");
  EXPECT_EQ(events[2].tag, "after");
}

#ifdef TORCHIMAGE_SUMMARY_FIXTURE
// kill -9 while a writer logs: the file holds whole records, in order, up to
// at most one partial record at its end.
TEST(SummaryWriter, KilledMidRunLeavesReadableFile) {
  TempDir dir("summary");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(TORCHIMAGE_SUMMARY_FIXTURE, TORCHIMAGE_SUMMARY_FIXTURE, "forever",
            dir.path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Until the file holds a few hundred records' worth.
  std::string path;
  for (int i = 0; i < 3000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto files = event_files(dir.path.string());
    if (!files.empty() && fs::file_size(files[0]) > 200000) {
      path = files[0];
      break;
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_FALSE(path.empty()) << "the fixture wrote too little";
  size_t tail = 0;
  const auto records = read_records(bytes_of(path), &tail);
  ASSERT_GT(records.size(), 10u);
  EXPECT_EQ(view(records[0]).file_version, "brain.Event:2");
  // The fixture logs step s as scalar then image: every record in order.
  for (size_t i = 1; i < records.size(); ++i) {
    const EventView v = view(records[i]);
    EXPECT_EQ(v.step, static_cast<int64_t>((i - 1) / 2)) << i;
    EXPECT_EQ(v.tag, (i - 1) % 2 == 0 ? "scalar" : "image") << i;
  }
  std::cout << records.size() << " whole records, " << tail << " bytes after them\n";
}
#endif

#ifdef TORCHIMAGE_CLI
namespace {

// Runs the CLI; its exit status, stderr to `err`.
int run_cli(const std::vector<std::string>& args, std::string* err) {
  TempDir scratch("summary-cli");
  const std::string err_path = scratch / "stderr";
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen(err_path.c_str(), "w", stderr)) ::_exit(126);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(TORCHIMAGE_CLI));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(TORCHIMAGE_CLI, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const auto bytes = bytes_of(err_path);
  *err = std::string(bytes.begin(), bytes.end());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

// torchimage tensorboard INPUT LOGDIR --tag T --step S [save options]: one
// new event file holding the version record and encode_image's bytes.
TEST(SummaryWriterCli, LogsOneImage) {
  TempDir dir("summary");
  torch::manual_seed(3);
  const auto batch = torch::rand({6, 3, 10, 12}) * 2 - 1;
  const std::vector<char> pickled = torch::pickle_save(batch);
  { std::ofstream(dir / "in.pt", std::ios::binary).write(pickled.data(), pickled.size()); }
  const std::string logdir = dir / "logs/run1";
  std::string err;
  ASSERT_EQ(run_cli({"tensorboard", dir / "in.pt", logdir, "--tag", "samples", "--step", "7",
                     "--nrow", "3", "--normalize", "--value-range", "-1", "1"},
                    &err),
            0)
      << err;
  ASSERT_EQ(run_cli({"tensorboard", dir / "in.pt", logdir, "--tag", "samples", "--step", "8"},
                    &err),
            0)
      << err;
  const auto files = event_files(logdir);
  ASSERT_EQ(files.size(), 2u);  // one per run
  const auto options = SaveImageOptions().nrow(3).normalize(true).value_range({-1.0, 1.0});
  for (const auto& f : files) {
    size_t tail = 0;
    const auto records = read_records(bytes_of(f), &tail);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(view(records[0]).file_version, "brain.Event:2");
    const EventView v = view(records[1]);
    EXPECT_EQ(v.tag, "samples");
    if (v.step != 7) continue;
    const auto value = fields(
        field(fields(field(fields(std::string(records[1].begin(), records[1].end())), 5)->bytes),
              1)
            ->bytes);
    const std::string png = field(fields(field(value, 4)->bytes), 4)->bytes;
    EXPECT_EQ(std::vector<uint8_t>(png.begin(), png.end()),
              to_bytes(encode_image(batch, options)));
  }
  // Usage errors (exit 2) before INPUT is read; a bad INPUT (exit 1).
  EXPECT_EQ(run_cli({"tensorboard", dir / "in.pt", logdir}, &err), 2);
  EXPECT_NE(err.find("missing --tag T"), std::string::npos) << err;
  EXPECT_EQ(run_cli({"tensorboard", dir / "in.pt", logdir, "--tag", "t", "--step", "-1"}, &err),
            2);
  EXPECT_EQ(run_cli({"tensorboard", dir / "in.pt"}, &err), 2);
  EXPECT_NE(err.find("missing LOGDIR"), std::string::npos) << err;
  EXPECT_EQ(run_cli({"tensorboard", dir / "in.pt", logdir, "--tag", "t", "--replace-read-only"},
                    &err),
            2);
  EXPECT_EQ(run_cli({"tensorboard", dir / "missing.pt", logdir, "--tag", "t"}, &err), 1);
  EXPECT_EQ(event_files(logdir).size(), 2u);
}
#endif
