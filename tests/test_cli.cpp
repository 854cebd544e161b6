// Tests of the `torchimage` command-line tool (run as a child process) and of
// its loaders (tools/tensor_loader.cpp, called in-process).

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <limits>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <torchimage/torchimage.h>

// The test target is this one file (tests/CMakeLists.txt), so the loader is
// compiled in here to be tested directly, as the CLI compiles it.
#include "../tools/tensor_loader.cpp"
#include "core/torch_compat.h"
#include "test_util.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using torchimage::SaveImageOptions;
using torchimage::cli::load_tensor;
using torchimage::cli::parse_npy;

const std::string kCli = TORCHIMAGE_CLI;
const std::string kData = std::string(TORCHIMAGE_TEST_DATA) + "/cli";

// ---------------------------------------------------------------------------
// Running the CLI.

struct Result {
  int status = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

Result run_program(const std::string& program, const std::vector<std::string>& args);

Result run_cli(const std::vector<std::string>& args) { return run_program(kCli, args); }

// Runs `program` (a path, or a name looked up in PATH) with `args`.
Result run_program(const std::string& program, const std::vector<std::string>& args) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return {};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::vector<std::string> storage{program};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  Result result;
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawnp " << program << ": " << std::strerror(rc);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return result;
  }
  // Read both pipes until both close, so that neither child write blocks.
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ADD_FAILURE() << "poll: " << std::strerror(errno);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string describe(const Result& r) {
  return "exit " + std::to_string(r.status) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

// A failure as the contract wants it: `status`, nothing on stdout, exactly one
// line on stderr ("torchimage: error: ..."), containing each of `needles`.
void expect_error(const Result& r, int status, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.status, status) << describe(r);
  EXPECT_EQ(r.out, "") << describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << describe(r);
  EXPECT_TRUE(!r.err.empty() && r.err.back() == '\n') << describe(r);
  EXPECT_EQ(r.err.rfind("torchimage: error: ", 0), 0u) << describe(r);
  EXPECT_EQ(r.err.find("Exception raised from"), std::string::npos) << describe(r);
  for (const std::string& needle : needles) {
    EXPECT_NE(r.err.find(needle), std::string::npos)
        << "missing '" << needle << "' in " << describe(r);
  }
}

void expect_success(const Result& r) {
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.out, "") << describe(r);
  EXPECT_EQ(r.err, "") << describe(r);
}

// ---------------------------------------------------------------------------
// Files.

std::string read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot read " << path;
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// ---------------------------------------------------------------------------
// Tensors and .npy bytes.

// The fixture values (scripts/make_cli_fixtures.py) over the flat C-order
// index i: floating ((i * 37) % 97 - 16) / 64 (exact in float16), uint8
// (i * 37) % 256, bool (i * 37) % 5 < 2, 16-bit samples (i * 4099) % 65536
// (in the build's 16-bit sample dtype: uint16 on LibTorch 2.3+, else int32).
torch::Tensor pattern(const std::vector<int64_t>& shape, torch::Dtype dtype) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const torch::Tensor i = torch::arange(n, torch::kInt64) * 37;
  torch::Tensor t;
  if (torchimage::compat::is_sample16(dtype)) {
    t = (torch::arange(n, torch::kInt64) * 4099 % 65536).to(dtype);
  } else if (dtype == torch::kBool) {
    t = (i % 5) < 2;
  } else if (dtype == torch::kByte) {
    t = (i % 256).to(torch::kByte);
  } else if (dtype == torch::kChar || dtype == torch::kShort || dtype == torch::kInt ||
             dtype == torch::kLong) {
    t = (i % 97 - 16).to(dtype);
  } else {
    t = ((i % 97 - 16).to(torch::kDouble) / 64.0).to(dtype);
  }
  return t.reshape(shape);
}

bool host_big_endian() { return !torchimage::cli::host_is_little_endian(); }

const char* npy_code(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kHalf:
      return "f2";
    case torch::kFloat:
      return "f4";
    case torch::kDouble:
      return "f8";
    case torch::kByte:
      return "u1";
    case torch::kBool:
      return "b1";
    case torch::kChar:
      return "i1";
    case torch::kShort:
      return "i2";
    case torch::kInt:
      return "i4";
    case torch::kLong:
      return "i8";
    default:
      return "??";
  }
}

std::string shape_tuple(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::string npy_dict(const std::string& descr, bool fortran, const std::vector<int64_t>& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape_tuple(shape) + ", }";
}

// A .npy file of `dict` and `data`, padded as NumPy pads (64-byte alignment).
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  const size_t len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major > 1) {
    out += static_cast<char>((len >> 16) & 0xff);
    out += static_cast<char>((len >> 24) & 0xff);
  }
  return out + header + data;
}

// The raw data of `t` as .npy stores it, in Fortran or C order and the byte
// order `order` ('<', '>' or '|').
std::string npy_data(const torch::Tensor& t, bool fortran, char order) {
  torch::Tensor c = t;
  if (fortran && t.dim() > 1) {
    std::vector<int64_t> perm(static_cast<size_t>(t.dim()));
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = t.dim() - 1 - static_cast<int64_t>(i);
    c = t.permute(perm);
  }
  c = c.contiguous();
  if (c.scalar_type() == torch::kBool) c = c.to(torch::kByte);
  std::string bytes(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  const size_t item = static_cast<size_t>(c.element_size());
  if (item > 1 && (order == '>') != host_big_endian()) {
    for (size_t i = 0; i < bytes.size(); i += item) std::reverse(&bytes[i], &bytes[i] + item);
  }
  return bytes;
}

std::string npy_of(const torch::Tensor& t, char order, bool fortran, int major = 1) {
  const std::string descr = std::string(1, order) + npy_code(t.scalar_type());
  return npy_file(npy_dict(descr, fortran, t.sizes().vec()), npy_data(t, fortran, order), major);
}

void expect_tensors_equal(const torch::Tensor& actual, const torch::Tensor& expected) {
  EXPECT_EQ(actual.scalar_type(), expected.scalar_type());
  EXPECT_EQ(actual.sizes(), expected.sizes());
  EXPECT_EQ(actual.device(), torch::Device(torch::kCPU));
  if (actual.scalar_type() == expected.scalar_type() && actual.sizes() == expected.sizes()) {
    EXPECT_TRUE(torch::equal(actual, expected)) << actual << "\n" << expected;
  }
}

torch::Tensor parse_npy_string(const std::string& bytes) {
  return parse_npy(bytes.data(), bytes.size(), "test.npy");
}

// Expects parse_npy to throw a c10::Error whose message has `needle`.
void expect_npy_error(const std::string& bytes, const std::string& needle) {
  try {
    parse_npy_string(bytes);
    ADD_FAILURE() << "no error, expected '" << needle << "'";
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("'test.npy': ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------------------
// A fresh directory per test.

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "torchimage_cli_XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr) << std::strerror(errno);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes `t` as a C-order little-endian .npy file and returns its path.
  std::string write_npy(const std::string& name, const torch::Tensor& t) {
    const std::string p = path(name);
    write_bytes(p, npy_of(t, t.element_size() == 1 ? '|' : '<', false));
    return p;
  }

  // Runs `torchimage save input OUTPUT args...` and expects the bytes that
  // torchimage::save_image(expected, ..., options) writes.
  void expect_same_as_library(const std::string& input, const torch::Tensor& expected,
                              const std::vector<std::string>& args, const SaveImageOptions& options,
                              const std::string& ext = ".png") {
    const std::string out = path("cli_out" + ext);
    const std::string ref = path("library_out" + ext);
    fs::remove(out);
    fs::remove(ref);
    std::vector<std::string> full{"save", input, out};
    full.insert(full.end(), args.begin(), args.end());
    const Result r = run_cli(full);
    expect_success(r);
    try {
      torchimage::save_image(expected, ref, options);
    } catch (const c10::Error& e) {
      ADD_FAILURE() << "torchimage::save_image failed: " << e.what_without_backtrace();
      return;
    }
    ASSERT_TRUE(fs::exists(out)) << describe(r);
    const std::string cli_bytes = read_bytes(out);
    EXPECT_FALSE(cli_bytes.empty());
    EXPECT_TRUE(cli_bytes == read_bytes(ref)) << "CLI output differs from save_image for " << input;
  }

  // Runs `torchimage args...` (args name `output`), expects the error, and
  // that the output's directory holds nothing new (no temporary file either):
  // with `existing`, a file at `output` beforehand keeps its bytes; without,
  // no file appears.
  void expect_failure_leaves_output(const std::vector<std::string>& args, const std::string& output,
                                    int status, const std::vector<std::string>& needles,
                                    bool existing = false) {
    const fs::path parent = fs::path(output).parent_path();
    const bool parent_exists = fs::is_directory(parent);
    const std::string sentinel = "keep these bytes\n";
    if (existing && parent_exists) {
      write_bytes(output, sentinel);
    } else {
      fs::remove(output);
    }
    const std::vector<std::string> before =
        parent_exists ? list_dir(parent) : std::vector<std::string>{};
    const Result r = run_cli(args);
    expect_error(r, status, needles);
    if (existing && parent_exists) {
      EXPECT_EQ(read_bytes(output), sentinel) << describe(r);
    } else {
      EXPECT_FALSE(fs::exists(output)) << describe(r);
    }
    if (parent_exists) {
      EXPECT_EQ(list_dir(parent), before) << describe(r);
    }
    fs::remove(output);
  }

  fs::path dir_;
};

// ---------------------------------------------------------------------------
// Help, version, usage errors.

TEST_F(CliTest, HelpAndVersion) {
  Result r = run_cli({"--help"});
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("Usage: torchimage"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("save INPUT OUTPUT"), std::string::npos) << r.out;
  EXPECT_EQ(run_cli({"-h"}).out, r.out);
  EXPECT_EQ(run_cli({"help"}).out, r.out);

  r = run_cli({"save", "--help"});
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.err, "");
  for (const char* option :
       {"--nrow N", "--padding P", "--normalize", "--value-range LOW HIGH", "--scale-each",
        "--pad-value V", "--format png|jpeg", "--quality Q", "--compression-level L", "--grayscale",
        "--create-dirs", "--help", ".npy", "torch.save"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option << " in\n" << r.out;
  }
  EXPECT_EQ(run_cli({"help", "save"}).out, r.out);
  // --help wins over the rest of the line.
  EXPECT_EQ(run_cli({"save", "in.npy", "--help", "--bogus"}).out, r.out);

  r = run_cli({"--version"});
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.rfind(std::string("torchimage ") + TORCHIMAGE_VERSION_STRING + " ", 0), 0u)
      << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  const std::string in = write_npy("in.npy", pattern({3, 4, 4}, torch::kFloat));
  const std::string out = path("out.png");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "missing command"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"--bogus"}, "unknown option '--bogus'"},
      {{"help", "frobnicate"}, "unknown command 'frobnicate'"},
      {{"save"}, "missing INPUT and OUTPUT"},
      {{"save", in}, "missing OUTPUT"},
      {{"save", in, out, "extra"}, "unexpected argument 'extra'"},
      {{"save", in, out, "--bogus"}, "unknown option '--bogus'"},
      {{"save", in, out, "-x"}, "unknown option '-x'"},
      {{"save", in, out, "--nrow"}, "--nrow expects N"},
      {{"save", in, out, "--value-range", "0"}, "--value-range expects LOW HIGH"},
      {{"save", in, out, "--nrow", "abc"}, "--nrow: expected an integer, got 'abc'"},
      {{"save", in, out, "--nrow", "3x"}, "--nrow: expected an integer, got '3x'"},
      {{"save", in, out, "--nrow", " 3"}, "--nrow: expected an integer"},
      {{"save", in, out, "--nrow", "99999999999999999999"}, "--nrow: integer out of range"},
      {{"save", in, out, "--padding", "1.5"}, "--padding: expected an integer, got '1.5'"},
      {{"save", in, out, "--quality", "4294967297"}, "--quality: expected 1-100, got 4294967297"},
      {{"save", in, out, "--value-range", "a", "1"}, "--value-range: expected a number, got 'a'"},
      {{"save", in, out, "--value-range", "0", "1x"}, "--value-range: expected a number, got '1x'"},
      {{"save", in, out, "--pad-value", "nan"}, "--pad-value: expected a finite number"},
      {{"save", in, out, "--pad-value", "1,,0"}, "--pad-value: expected a number, got ''"},
      {{"save", in, out, "--normalize=1"}, "--normalize takes no value"},
      {{"save", in, out, "--value-range=0"}, "--value-range takes 2 values"},
      {{"save", in, out, "--format", "ppm"}, "ppm"},
      {{"save", in, out, "--format="}, "--format"},
  };
  int index = 0;
  for (const auto& [args, needle] : cases) {
    SCOPED_TRACE(testing::PrintToString(args));
    expect_failure_leaves_output(args, out, 2, {needle, "--help"}, index++ % 4 == 0);
  }
}

// ---------------------------------------------------------------------------
// .npy written here: every dtype, both orders, both byte orders.

TEST_F(CliTest, NpyEveryDtypeOrderAndByteOrder) {
  const std::vector<int64_t> shape{2, 3, 5, 4};
  for (torch::Dtype dtype : {torch::kHalf, torch::kFloat, torch::kDouble, torch::kByte,
                            torch::kBool, torch::kChar, torch::kShort, torch::kInt,
                            torch::kLong}) {
    const torch::Tensor t = pattern(shape, dtype);
    const std::vector<char> orders =
        t.element_size() == 1 ? std::vector<char>{'|', '<', '>'} : std::vector<char>{'<', '>'};
    for (char order : orders) {
      for (bool fortran : {false, true}) {
        SCOPED_TRACE(std::string("descr ") + order + npy_code(dtype) +
                     (fortran ? " fortran" : " C"));
        const std::string bytes = npy_of(t, order, fortran);
        expect_tensors_equal(parse_npy_string(bytes), t);
        const std::string in = path("in.npy");
        write_bytes(in, bytes);
        expect_tensors_equal(load_tensor(in), t);
        // The CLI (slow to start: LibTorch) for the least usual layout of
        // each dtype, and for the usual one of float32.
        // (Integers are label maps: the fixture numpy_i8.npy takes the CLI.)
        const bool integer = dtype != torch::kByte && c10::isIntegralType(dtype, false);
        if (!integer &&
            ((fortran && order != '<') || (dtype == torch::kFloat && order == '<' && !fortran))) {
          expect_same_as_library(in, t, {}, SaveImageOptions());
        }
      }
    }
  }
}

TEST_F(CliTest, NpyVersionsAndHeaderSpellings) {
  const torch::Tensor t = pattern({3, 4, 2}, torch::kFloat);
  const std::string data = npy_data(t, false, '<');
  for (int major : {1, 2, 3}) {
    expect_tensors_equal(parse_npy_string(npy_of(t, '<', false, major)), t);
  }
  // Spellings Python's literal syntax allows and NumPy (or Python 2) writes.
  for (const std::string dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 2), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 2)}",
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3, 4, 2,)}",
           "{'shape':(3,4,2),'fortran_order':False,'descr':'<f4'}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L, 2L), }",
           " { 'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 3 , 4 , 2 ) , } ",
       }) {
    SCOPED_TRACE(dict);
    expect_tensors_equal(parse_npy_string(npy_file(dict, data)), t);
  }
  // No padding at all, no newline.
  std::string bare = npy_file("", data);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 2)}";
  bare =
      std::string("\x93NUMPY\x01", 7) + '\0' + static_cast<char>(dict.size()) + '\0' + dict + data;
  expect_tensors_equal(parse_npy_string(bare), t);

  // Scalars, one dimension, empty arrays.
  expect_tensors_equal(
      parse_npy_string(npy_file(npy_dict("<f8", false, {}),
                                npy_data(torch::tensor(0.25, torch::kDouble), false, '<'))),
      torch::tensor(0.25, torch::kDouble));
  expect_tensors_equal(parse_npy_string(npy_of(pattern({5}, torch::kByte), '|', true)),
                       pattern({5}, torch::kByte));
  expect_tensors_equal(parse_npy_string(npy_file(npy_dict("<f4", true, {0, 3}), "")),
                       torch::empty({0, 3}, torch::kFloat));
  // Bool bytes other than 0 and 1 are true.
  const torch::Tensor b =
      parse_npy_string(npy_file(npy_dict("|b1", false, {3}), std::string("\x00\x02\xff", 3)));
  expect_tensors_equal(b, torch::tensor({false, true, true}));
}

TEST_F(CliTest, NpyRejectsHostileFiles) {
  const std::string data24 = npy_data(pattern({2, 3}, torch::kFloat), false, '<');
  const std::string good = npy_file(npy_dict("<f4", false, {2, 3}), data24);
  expect_tensors_equal(parse_npy_string(good), pattern({2, 3}, torch::kFloat));
  const auto with_dict = [&](const std::string& dict) { return npy_file(dict, data24); };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a .npy file"},
      {std::string("\x93NUMPX\x01\x00", 8), "not a .npy file"},
      {std::string("\x93NUMPY", 6), "no format version"},
      {std::string("\x93NUMPY\x01\x00\x10", 9), "no header length"},
      {std::string("\x93NUMPY\x02\x00\x10\x00\x00", 11), "no header length"},
      {std::string("\x93NUMPY\x04\x00", 8) + good.substr(8), "format version 4.0"},
      {std::string("\x93NUMPY\x00\x00", 8) + good.substr(8), "format version 0.0"},
      {std::string("\x93NUMPY\x01\x01", 8) + good.substr(8), "format version 1.1"},
      {std::string("\x93NUMPY\x01\x00\xff\xff", 10) + "{}", "the header claims 65535 bytes"},
      {std::string("\x93NUMPY\x02\x00\x00\x00\x00\x01", 12), "exceeds the limit"},
      {std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12), "exceeds the limit"},
      {good.substr(0, 40), "truncated .npy file"},
      {with_dict(""), "expected '{'"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "), "expected a key"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)"), "expected ','"},
      {with_dict("{'descr': '<f4', 'fortran_order': False}"), "missing key 'shape'"},
      {with_dict("{'fortran_order': False, 'shape': (2, 3)}"), "missing key 'descr'"},
      {with_dict("{'descr': '<f4', 'shape': (2, 3)}"), "missing key 'fortran_order'"},
      {with_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
       "duplicate key 'descr'"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}"),
       "unexpected key 'x'"},
      {with_dict("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}"), "True or False"},
      {with_dict("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3)}"), "True or False"},
      {with_dict("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}"), "True or False"},
      {with_dict("{'descr': <f4, 'fortran_order': False, 'shape': (2, 3)}"), "quoted string"},
      {with_dict("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}"), "expected ','"},
      {with_dict("{'descr': '<f4\\x', 'fortran_order': False, 'shape': (2, 3)}"),
       "unsupported character"},
      {with_dict("{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}"), "expected a key"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}"), "a tuple"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}"), "not a tuple"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}"),
       "non-negative integer"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 03)}"), "leading zero"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3)}"),
       "non-negative integer"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}"), "expected ','"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3.0)}"), "expected ','"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x"),
       "unexpected characters after"},
      {with_dict(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}") + '\0'),
       "unexpected characters after"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 3)}"),
       "too large"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}"),
       "too large"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, "
                 "4611686018427387904)}"),
       "too large"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4)}"),
       "needs 32 bytes of data, the file has 24 (truncated)"},
      {with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}"),
       "needs 16 bytes of data, the file has 24 (trailing bytes)"},
      {with_dict("{'descr': '<u4', 'fortran_order': False, 'shape': (3,)}"),
       "unsupported .npy dtype '<u4'; expected float16/32/64, int8/16/32/64, uint8, uint16 or "
       "bool"},
      {with_dict("{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}"),
       "unsupported .npy dtype '<c8'"},
      {with_dict("{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3)}"),
       "unsupported .npy dtype '|f4'"},
      {with_dict("{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3)}"),
       "unsupported .npy dtype '=f4'"},
      {with_dict("{'descr': 'f4', 'fortran_order': False, 'shape': (2, 3)}"),
       "unsupported .npy dtype 'f4'"},
      {with_dict("{'descr': '', 'fortran_order': False, 'shape': (2, 3)}"),
       "unsupported .npy dtype ''"},
      {with_dict("{'descr': '|O', 'fortran_order': False, 'shape': (2, 3)}"),
       "unsupported .npy dtype '|O'"},
      {with_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}"),
       "structured array"},
  };
  for (const auto& [bytes, needle] : cases) {
    SCOPED_TRACE(needle);
    expect_npy_error(bytes, needle);
  }
  std::string many = "(";
  for (int i = 0; i < 65; ++i) many += "1, ";
  expect_npy_error(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': " + many + ")}"),
                   "more than 64 dimensions");
}

// Every prefix of a valid file and many random mutations must either load or
// fail with a c10::Error; nothing else (no crash, no other exception).
TEST_F(CliTest, NpySurvivesTruncationAndMutation) {
  std::vector<std::string> seeds = {
      npy_of(pattern({2, 3, 4}, torch::kFloat), '<', false),
      npy_of(pattern({3, 5}, torch::kHalf), '>', true, 2),
      npy_of(pattern({4, 4}, torch::kBool), '|', false, 3),
      npy_of(pattern({7}, torch::kDouble), '<', true),
  };
  for (const std::string& seed : seeds) {
    for (size_t n = 0; n < seed.size(); ++n) {
      EXPECT_THROW(parse_npy(seed.data(), n, "prefix"), c10::Error) << n;
    }
  }
  std::mt19937 rng(20240601);
  int loaded = 0, rejected = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string bytes = seeds[rng() % seeds.size()];
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      const size_t header_end = std::min<size_t>(bytes.size(), 128);
      const size_t pos = header_end == 0 ? 0 : rng() % header_end;
      switch (rng() % 5) {
        case 0:
          if (pos < bytes.size()) bytes[pos] = static_cast<char>(rng());
          break;
        case 1:
          if (pos < bytes.size()) bytes[pos] = "(),:'{} 0123456789LTF<>|fbu\n"[rng() % 29];
          break;
        case 2:
          bytes.erase(pos, 1 + rng() % 4);
          break;
        case 3:
          bytes.insert(pos, 1 + rng() % 3, "(),:' 9"[rng() % 7]);
          break;
        case 4:
          bytes.resize(rng() % (bytes.size() + 8));
          break;
      }
    }
    try {
      const torch::Tensor t = parse_npy(bytes.data(), bytes.size(), "mutant");
      ASSERT_TRUE(t.defined());
      (void)t.sum().item<double>();  // touch every element
      ++loaded;
    } catch (const c10::Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);
}

// ---------------------------------------------------------------------------
// Tensor archives written here: torch::pickle_save and torch::save.

TEST_F(CliTest, PickleSaveAndTorchSave) {
  const torch::Tensor t = pattern({4, 3, 6, 5}, torch::kFloat);
  const std::vector<char> bytes = torch::pickle_save(t);
  const std::string pickled = path("pickled.pt");
  write_bytes(pickled, std::string(bytes.begin(), bytes.end()));
  expect_tensors_equal(load_tensor(pickled), t);
  expect_same_as_library(pickled, t, {"--nrow", "3"}, SaveImageOptions().nrow(3));

  // A non-contiguous view keeps its values.
  const torch::Tensor view = pattern({3, 8, 6}, torch::kDouble).transpose(1, 2);
  const std::vector<char> view_bytes = torch::pickle_save(view);
  write_bytes(pickled, std::string(view_bytes.begin(), view_bytes.end()));
  expect_tensors_equal(load_tensor(pickled), view);
  expect_same_as_library(pickled, view, {}, SaveImageOptions());

  // C++'s torch::save writes a TorchScript archive (a module holding the tensor).
  const std::string saved = path("saved.pt");
  const torch::Tensor u8 = pattern({3, 9, 7}, torch::kByte);
  torch::save(u8, saved);
  expect_tensors_equal(load_tensor(saved), u8);
  expect_same_as_library(saved, u8, {}, SaveImageOptions());
  torch::save(t, saved);
  const torch::Tensor loaded = load_tensor(saved);
  expect_tensors_equal(loaded, t);
  EXPECT_FALSE(loaded.requires_grad());
  expect_same_as_library(saved, t, {"--normalize"}, SaveImageOptions().normalize(true));

  // Every dtype torch saves comes back as stored (the commands say which
  // they take: --palette reads integer label maps).
  for (const auto dtype : {torch::kInt8, torch::kInt16, torch::kInt32, torch::kInt64,
                           torch::kFloat16, torch::kBFloat16, torch::kFloat64, torch::kBool,
                           torch::kComplexFloat, torch::kComplexDouble}) {
    SCOPED_TRACE(c10::toString(dtype));
    const torch::Tensor v = pattern({2, 3, 5}, torch::kFloat).mul(100).sub(50).to(dtype);
    const std::vector<char> b = torch::pickle_save(v);
    const std::string f = path("dtype.pt");
    write_bytes(f, std::string(b.begin(), b.end()));
    expect_tensors_equal(load_tensor(f), v);
    torch::save(v, f);
    expect_tensors_equal(load_tensor(f), v);
  }

  // An archive of something else than a tensor.
  const std::vector<char> list_bytes =
      torch::pickle_save(c10::IValue(std::vector<double>{1.0, 2.0}));
  const std::string list = path("list.pt");
  write_bytes(list, std::string(list_bytes.begin(), list_bytes.end()));
  const std::string out = path("out.png");
  expect_failure_leaves_output({"save", list, out}, out, 1, {"list.pt", "holds a list, expected a tensor"});
}

// An archive's records with one of them replaced (caffe2's own zip reader
// and writer; "version" is written anew by the writer).
std::string with_record(const std::string& archive, const std::string& name,
                        const std::string& content) {
  std::istringstream in(archive);  // IStreamAdapter does not own its stream
  caffe2::serialize::PyTorchStreamReader reader(
      std::make_shared<caffe2::serialize::IStreamAdapter>(&in));
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t n) {
    out.append(static_cast<const char*>(data), n);
    return n;
  });
  bool replaced = false;
  for (const std::string& record : reader.getAllRecords()) {
    if (record == "version" || record == ".data/version") continue;
    if (record == name) {
      writer.writeRecord(record, content.data(), content.size());
      replaced = true;
      continue;
    }
    at::DataPtr data;
    size_t size = 0;
    std::tie(data, size) = reader.getRecord(record);
    writer.writeRecord(record, data.get(), size);
  }
  writer.writeEndOfFile();
  EXPECT_TRUE(replaced) << "no record " << name;
  return out;
}

std::string record_of(const std::string& archive, const std::string& name) {
  std::istringstream in(archive);  // IStreamAdapter does not own its stream
  caffe2::serialize::PyTorchStreamReader reader(
      std::make_shared<caffe2::serialize::IStreamAdapter>(&in));
  at::DataPtr data;
  size_t size = 0;
  std::tie(data, size) = reader.getRecord(name);
  return std::string(static_cast<const char*>(data.get()), size);
}

long max_rss_kib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Pickles that state more than they hold. LibTorch's unpickler, which the
// loader used to call, allocated what a string length (4 GiB; BINUNICODE8:
// more) or a memo index (16 bytes per index: 17 GB in CI's fuzzing) claims
// before finding the bytes missing, and rebuilt a storage of the stated
// element count over a record that holds fewer (heap bytes then went into
// the PNG). The loader refuses each up front, without the memory: the
// process's peak resident size does not grow.
TEST_F(CliTest, PicklesAreReadWithinTheirBytes) {
  // 300 float32 elements as (3, 100): the storage's element count, 300, is
  // the pickle's only BININT2 ("M\x2c\x01").
  const torch::Tensor t = pattern({3, 100}, torch::kFloat);
  const std::vector<char> pickled_bytes = torch::pickle_save(t);
  const std::string pickled(pickled_bytes.begin(), pickled_bytes.end());
  std::ostringstream saved;  // C++'s torch::save: a TorchScript archive
  torch::save(t, saved);
  // The persistent id's first item, 'storage', as every pickler here writes
  // it: BINUNICODE ('X') with a 4-byte little-endian length, then memoized.
  const std::string storage("X\x07\x00\x00\x00storageq", 13);
  auto le = [](uint64_t v, int n) {
    std::string out;
    for (int k = 0; k < n; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
    return out;
  };
  // A pickle copying a value into and out of the memo: 40 doublings.
  std::string doubling("\x80\x02K\x01q\x00", 6);
  for (int k = 0; k < 40; ++k) doubling += std::string("h\x00h\x00\x86q\x00", 7);
  doubling += ".";
  // A pickle copying a 1 MiB string out of the memo 1000 times.
  std::string megabyte_copies = std::string("\x80\x02X", 3) + le(1 << 20, 4) +
                                std::string(1 << 20, 'a') + std::string("q\x00(", 3);
  for (int k = 0; k < 1000; ++k) megabyte_copies += std::string("h\x00", 2);
  megabyte_copies += "t.";

  struct Case {
    std::string name, archive;
    std::function<void(std::string&)> edit;  // of data.pkl
    std::string message;
  };
  const std::vector<Case> cases = {
      {"string length 4 GiB", pickled,
       [&](std::string& p) { p.replace(p.find(storage), 5, "X" + le(0xfffffff0u, 4)); },
       "truncated pickle"},
      {"string length 4 GiB, torch::save", saved.str(),
       [&](std::string& p) { p.replace(p.find(storage), 5, "X" + le(0xfffffff0u, 4)); },
       "truncated pickle"},
      {"BINUNICODE8 of 17 GB", pickled,
       [&](std::string& p) { p.replace(p.find(storage), 5, "\x8d" + le(17727653424ull, 8)); },
       "unsupported pickle opcode 0x8d"},
      {"memo index 1175087203", pickled,
       [&](std::string& p) {
         p.replace(p.find(storage) + 12, 2, "r" + le(1175087203u, 4));  // LONG_BINPUT
       },
       "a memo key larger than a tensor's pickle uses"},
      {"storage of 301 elements over 300", pickled,
       [&](std::string& p) { p.replace(p.find("M\x2c\x01"), 3, "M\x2d\x01"); },
       "storage data/0 holds 1200 bytes, the pickle says 301 torch.float32 elements"},
      {"storage of 301 elements over 300, torch::save", saved.str(),
       [&](std::string& p) { p.replace(p.find("M\x2c\x01"), 3, "M\x2d\x01"); },
       "storage data/0 holds 1200 bytes, the pickle says 301 torch.float32 elements"},
      {"2^40 copies", pickled, [&](std::string& p) { p = doubling; },
       "a pickle that copies more values than a tensor's"},
      {"1000 copies of 1 MiB", pickled, [&](std::string& p) { p = megabyte_copies; },
       "a pickle that copies more values than a tensor's"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string pickle = record_of(c.archive, "data.pkl");
    ASSERT_NE(pickle.find(storage), std::string::npos);
    ASSERT_NE(pickle.find("M\x2c\x01"), std::string::npos);
    c.edit(pickle);
    const std::string file = path("claims.pt");
    write_bytes(file, with_record(c.archive, "data.pkl", pickle));
    const long before = max_rss_kib();
    EXPECT_THROW_MSG(load_tensor(file), c.message);
    EXPECT_LT(max_rss_kib() - before, 256 * 1024) << "KiB of peak resident memory more";
    const std::string out = path("out.png");
    expect_failure_leaves_output({"save", file, out}, out, 1,
                                 {"claims.pt", "cannot read the tensor", c.message});
  }
  // A storage named again is the one already read: a pickle naming a 4 MiB
  // record 200 times would otherwise hold 800 MiB.
  const std::vector<char> big_bytes = torch::pickle_save(torch::zeros({1 << 20}));
  const std::string big(big_bytes.begin(), big_bytes.end());
  auto persistent_id = [&](uint64_t elements) {  // ('storage', FloatStorage, '0', 'cpu', n)
    return std::string("(X\x07\x00\x00\x00storage", 13) + "ctorch\nFloatStorage\n" + "X" +
           le(1, 4) + "0" + "X" + le(3, 4) + "cpu" + "J" + le(elements, 4) + "tQ";
  };
  std::string many("\x80\x02(", 3);
  for (int k = 0; k < 200; ++k) many += persistent_id(1 << 20);
  const std::string file = path("storages.pt");
  write_bytes(file, with_record(big, "data.pkl", many + "t."));
  const long before = max_rss_kib();
  EXPECT_THROW_MSG(load_tensor(file), "holds a tuple, expected a tensor");
  EXPECT_LT(max_rss_kib() - before, 256 * 1024) << "KiB of peak resident memory more";
  write_bytes(file, with_record(big, "data.pkl",
                                std::string("\x80\x02(", 3) + persistent_id(1 << 20) +
                                    persistent_id(1 << 19) + "t."));
  EXPECT_THROW_MSG(load_tensor(file), "storage data/0 named again with another type or size");

  // Unedited, both archives load.
  write_bytes(path("plain.pt"), pickled);
  expect_tensors_equal(load_tensor(path("plain.pt")), t);
  write_bytes(path("plain.pt"), with_record(saved.str(), "data.pkl",
                                            record_of(saved.str(), "data.pkl")));
  expect_tensors_equal(load_tensor(path("plain.pt")), t);
}

// ---------------------------------------------------------------------------
// Files from Python (scripts/make_cli_fixtures.py).

TEST_F(CliTest, PythonFixtures) {
  struct Fixture {
    const char* name;
    torch::Tensor expected;
  };
  const std::vector<Fixture> fixtures = {
      {"torch_f32_batch.pt", pattern({4, 3, 5, 6}, torch::kFloat)},
      {"torch_u8.pt", pattern({3, 7, 9}, torch::kByte)},
      {"torch_f64_view.pt", pattern({3, 6, 5}, torch::kDouble).transpose(1, 2)},
      {"torch_f16_gray.pt", pattern({1, 8, 8}, torch::kHalf)},
      {"torch_bool.pt", pattern({2, 1, 5, 5}, torch::kBool)},
      {"numpy_f32_c.npy", pattern({2, 3, 4, 5}, torch::kFloat)},
      {"numpy_f64_f.npy", pattern({3, 4, 5}, torch::kDouble)},
      {"numpy_bool.npy", pattern({2, 1, 4, 6}, torch::kBool)},
      {"numpy_u8.npy", pattern({3, 4, 5}, torch::kByte)},
      {"numpy_f16_be.npy", pattern({3, 4, 4}, torch::kHalf)},
      {"numpy_f32_v2.npy", pattern({3, 2, 3}, torch::kFloat)},
      {"numpy_f32_v3.npy", pattern({3, 2, 3}, torch::kFloat)},
  };
  for (const Fixture& f : fixtures) {
    SCOPED_TRACE(f.name);
    const std::string in = kData + "/" + f.name;
    ASSERT_TRUE(fs::exists(in)) << in << ": run /usr/bin/python3 scripts/make_cli_fixtures.py";
    expect_tensors_equal(load_tensor(in), f.expected);
    if (std::string(f.name).rfind(".pt") != std::string::npos) {
      // The fixture holds what the test thinks, read independently of the loader.
      const std::string bytes = read_bytes(in);
      expect_tensors_equal(
          torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toTensor(), f.expected);
    }
    // The CLI for the torch.save files and a few .npy ones.
    if (std::string(f.name).rfind(".pt") != std::string::npos ||
        std::string(f.name) == "numpy_f64_f.npy" || std::string(f.name) == "numpy_bool.npy") {
      expect_same_as_library(in, f.expected, {}, SaveImageOptions());
    }
  }
  const std::string out = path("out.png");
  expect_failure_leaves_output({"save", kData + "/torch_legacy.pt", out}, out, 1,
                               {"torch_legacy.pt", "legacy torch.save format"});
  // A dict holding a tensor: the loader names what the file holds.
  expect_failure_leaves_output({"save", kData + "/torch_dict.pt", out}, out, 1,
                               {"torch_dict.pt", "holds a dict, expected a tensor"}, true);
  // NumPy's int64 (np.save of class indices): a label map for --palette;
  // save without one refuses it as for a .pt of int64.
  const std::string labels = kData + "/numpy_i8.npy";
  expect_tensors_equal(load_tensor(labels), torch::arange(6, torch::kInt64).view({2, 3}));
  expect_same_as_library(labels, torch::arange(6, torch::kInt64).view({2, 3}),
                         {"--palette", "voc"}, SaveImageOptions().palette("voc"));
  expect_failure_leaves_output({"save", labels, out}, out, 1,
                               {"save_image", "uint8 or bool tensor, got Long"});
}

// uint16 from torch 2.x (torch.save writes it with _rebuild_tensor_v3, which
// LibTorch 1.13's unpickler cannot read; the fixtures are crafted by
// scripts/make_cli_fixtures.py, which checks their pickle against what torch
// 2.x's torch.load expects) and from NumPy ('<u2', '>u2'): read as the
// library's 16-bit samples (uint16 on LibTorch 2.3+, int32 0-65535 before),
// written with --bit-depth 16 exactly as save_image writes those samples.
TEST_F(CliTest, Uint16FromTorch2AndNumpy) {
  const torch::Dtype s16 = torchimage::compat::kSample16;
  struct Fixture {
    const char* name;
    torch::Tensor expected;
  };
  const std::vector<Fixture> fixtures = {
      {"torch2_u16_batch.pt", pattern({2, 3, 4, 5}, s16)},
      // pattern((3, 6, 5)).transpose(1, 2) over a storage that starts 4
      // elements earlier.
      {"torch2_u16_view.pt", pattern({3, 6, 5}, s16).transpose(1, 2)},
      {"numpy_u16.npy", pattern({2, 3, 4, 5}, s16)},
      {"numpy_u16_be.npy", pattern({3, 4, 5}, s16)},
  };
  for (const Fixture& f : fixtures) {
    SCOPED_TRACE(f.name);
    const std::string in = kData + "/" + f.name;
    ASSERT_TRUE(fs::exists(in)) << in << ": run /usr/bin/python3 scripts/make_cli_fixtures.py";
    const torch::Tensor t = load_tensor(in);
    EXPECT_EQ(t.scalar_type(), s16);
    ASSERT_EQ(t.sizes(), f.expected.sizes());
    // Values above 32767 too: the samples are unsigned.
    EXPECT_GT(f.expected.to(torch::kLong).max().item<int64_t>(), 32767);
    EXPECT_TRUE(torch::equal(t.to(torch::kLong), f.expected.to(torch::kLong)));
    expect_same_as_library(in, f.expected, {"--bit-depth", "16"},
                           SaveImageOptions().bit_depth(16));
    // 8-bit output of 16-bit samples: the library's message, which says how.
    const std::string out = path("u16_8bit.png");
    expect_failure_leaves_output({"save", in, out}, out, 1, {"bit_depth"});
  }
  // save-each of 16-bit samples: each file is the sample's 16-bit PNG.
  const fs::path each = path("each");
  expect_success(run_cli({"save-each", kData + "/torch2_u16_batch.pt",
                          (each / "{index}.png").string(), "--bit-depth", "16",
                          "--create-directories", "--quiet"}));
  const torch::Tensor batch = pattern({2, 3, 4, 5}, s16);
  for (int64_t i = 0; i < 2; ++i) {
    const torch::Tensor want =
        torchimage::encode_image(batch[i], SaveImageOptions().bit_depth(16));
    EXPECT_EQ(read_bytes(each / (std::to_string(i) + ".png")),
              std::string(static_cast<const char*>(want.data_ptr()),
                          static_cast<size_t>(want.numel())));
  }
  // A crafted v3 file whose view leaves its storage: refused as a v2 one is.
  const std::string out = path("oob.png");
  expect_failure_leaves_output({"save", kData + "/crafted_v3_oob.pt", out, "--bit-depth", "16"},
                               out, 1,
                               {"crafted_v3_oob.pt", "address elements outside its storage"});
  // Truncations and byte flips of a v3 file are errors (c10::Error), never
  // crashes; in process (a crash would end the test), then one through the CLI.
  const std::string good = read_bytes(kData + "/torch2_u16_view.pt");
  {
    const LibTorchZipLeaksIgnored libtorch_leaks;  // see test_util.h
    for (size_t cut = 0; cut < good.size(); ++cut) {
      write_bytes(path("cut.pt"), good.substr(0, cut));
      EXPECT_THROW(load_tensor(path("cut.pt")), c10::Error) << cut;
    }
    std::mt19937 rng(29);
    for (int i = 0; i < 2000; ++i) {
      std::string bad = good;
      bad[rng() % bad.size()] = static_cast<char>(rng());
      write_bytes(path("flip.pt"), bad);
      try {
        load_tensor(path("flip.pt"));  // a flip in the data is still a tensor
      } catch (const c10::Error&) {
      }
    }
  }
  write_bytes(path("cut.pt"), good.substr(0, good.size() / 2));
  expect_error(run_cli({"save", path("cut.pt"), path("cut.png"), "--bit-depth", "16"}), 1,
               {"cut.pt"});
}

// --value-range counts only with --normalize, as in torchvision and the
// library (C++ and Python): without it any range (reversed, NaN, infinite)
// is ignored, and the file is the one without the option.
TEST_F(CliTest, ValueRangeCountsOnlyWithNormalize) {
  const torch::Tensor batch = pattern({5, 3, 6, 7}, torch::kFloat);
  const std::string in = write_npy("vr.npy", batch);
  for (const auto& range : std::vector<std::pair<std::string, std::string>>{
           {"1", "0"}, {"nan", "0"}, {"-inf", "inf"}, {"-1", "1"}}) {
    SCOPED_TRACE(range.first + " " + range.second);
    expect_same_as_library(in, batch, {"--value-range", range.first, range.second},
                           SaveImageOptions());
    expect_same_as_library(in, batch, {"--value-range", range.first, range.second, "--scale-each"},
                           SaveImageOptions());
  }
  // The C++ face: the same rule.
  for (const auto& r : std::vector<torchimage::ValueRange>{
           {1.0, 0.0}, {std::nan(""), 0.0}, {0.0, std::numeric_limits<double>::infinity()}}) {
    EXPECT_TRUE(torch::equal(
        torchimage::make_grid(batch, torchimage::MakeGridOptions().value_range(r)),
        torchimage::make_grid(batch)));
    EXPECT_TRUE(torch::equal(torchimage::encode_image(batch, SaveImageOptions().value_range(r)),
                             torchimage::encode_image(batch)));
    const std::string message = torchimage_test::error_of([&] {
      torchimage::make_grid(batch, torchimage::MakeGridOptions().normalize(true).value_range(r));
    });
    EXPECT_NE(message.find("value_range must"), std::string::npos) << message;
  }
}

// File names are bytes: Latin-1 names (not UTF-8) for INPUT, OUTPUT, a
// PATTERN and created directories, written as given; messages name them.
TEST_F(CliTest, Latin1FileNames) {
  const std::string dir = path("caf\xe9");
  fs::create_directory(dir);
  const torch::Tensor batch = pattern({3, 3, 5, 6}, torch::kFloat);
  const std::string in = write_npy("caf\xe9/in\xe9.npy", batch);
  const auto bytes_of = [](const torch::Tensor& t) {
    return std::string(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()));
  };
  expect_success(run_cli({"save", in, dir + "/\xe9t\xe9.png"}));
  EXPECT_EQ(read_bytes(dir + "/\xe9t\xe9.png"), bytes_of(torchimage::encode_image(batch)));
  expect_success(run_cli({"save", in, dir + "/n\xe9w/d\xe9/x.jpg", "--create-directories"}));
  EXPECT_EQ(read_bytes(dir + "/n\xe9w/d\xe9/x.jpg"),
            bytes_of(torchimage::encode_image(batch, SaveImageOptions().format("jpeg"))));
  expect_success(run_cli({"save-each", in, dir + "/s\xe9{index:02}.png", "--quiet"}));
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(read_bytes(dir + "/s\xe9" "0" + std::to_string(i) + ".png"),
              bytes_of(torchimage::encode_image(batch[i])));
  }
  EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"in\xe9.npy", "n\xe9w", "s\xe9" "00.png",
                                                     "s\xe9" "01.png", "s\xe9" "02.png",
                                                     "\xe9t\xe9.png"}));
  expect_failure_leaves_output({"save", in, dir + "/missing\xe9/x.png"},
                               dir + "/missing\xe9/x.png", 1, {"missing\xe9"});
  expect_error(run_cli({"save", dir + "/absent\xe9.npy", dir + "/y.png"}), 1, {"absent\xe9.npy"});
}

// ---------------------------------------------------------------------------
// Every option reaches save_image.

TEST_F(CliTest, OptionsMapToSaveImageOptions) {
  const torch::Tensor batch = pattern({5, 3, 6, 7}, torch::kFloat);
  const std::string in = write_npy("batch.npy", batch);
  using O = SaveImageOptions;
  const std::vector<std::pair<std::vector<std::string>, O>> cases = {
      {{"--nrow", "2"}, O().nrow(2)},
      {{"--nrow=3"}, O().nrow(3)},
      {{"--padding", "0"}, O().padding(0)},
      {{"--padding", "5", "--pad-value", "0.5"}, O().padding(5).pad_value(0.5)},
      {{"--pad-value", "1,0,0.25"}, O().pad_value(std::vector<double>{1.0, 0.0, 0.25})},
      {{"--normalize"}, O().normalize(true)},
      {{"--normalize", "--value-range", "-0.5", "0.75"},
       O().normalize(true).value_range(torchimage::ValueRange{-0.5, 0.75})},
      {{"--value-range", "-1", "1", "--normalize", "--scale-each"},
       O().normalize(true).scale_each(true).value_range(torchimage::ValueRange{-1.0, 1.0})},
      {{"--normalize", "--scale-each"}, O().normalize(true).scale_each(true)},
      {{"--compression-level", "9"}, O().compression_level(9)},
      {{"--compression-level", "0", "--nrow", "1"}, O().compression_level(0).nrow(1)},
  };
  for (const auto& [args, options] : cases) {
    SCOPED_TRACE(testing::PrintToString(args));
    expect_same_as_library(in, batch, args, options);
  }
  // JPEG, by extension and by --format.
  expect_same_as_library(in, batch, {}, O(), ".jpg");
  expect_same_as_library(in, batch, {"--quality", "90"}, O().quality(90), ".jpeg");
  expect_same_as_library(in, batch, {"--format", "jpeg", "--quality", "30"},
                         O().format(torchimage::ImageFormat::JPEG).quality(30), ".bin");
  expect_same_as_library(in, batch, {"--format", "png"}, O().format(torchimage::ImageFormat::PNG),
                         ".jpg");
  // One channel: RGB by default, gray with --grayscale.
  const torch::Tensor gray = pattern({4, 1, 6, 6}, torch::kFloat);
  const std::string gray_in = write_npy("gray.npy", gray);
  expect_same_as_library(gray_in, gray, {}, O());
  expect_same_as_library(gray_in, gray, {"--grayscale"}, O().grayscale(true));
  expect_same_as_library(gray_in, gray, {"--grayscale", "--quality", "85"},
                         O().grayscale(true).quality(85), ".jpg");

  // --create-dirs.
  const std::string nested = path("a/b/c/out.png");
  expect_failure_leaves_output({"save", in, nested}, nested, 1, {"create_directories"});
  EXPECT_FALSE(fs::exists(path("a")));
  expect_success(run_cli({"save", in, nested, "--create-dirs"}));
  EXPECT_TRUE(fs::is_regular_file(nested));
  // --create-directories: the library's name for it (its messages say so).
  const std::string nested2 = path("d/e/out.png");
  expect_success(run_cli({"save", in, nested2, "--create-directories"}));
  EXPECT_TRUE(fs::is_regular_file(nested2));

  // --bit-depth 16: the library's 16-bit PNG; other depths are usage errors.
  expect_same_as_library(in, batch, {"--bit-depth", "16", "--compression-level", "6"},
                         O().bit_depth(16).compression_level(6));
  expect_error(run_cli({"save", in, path("x.png"), "--bit-depth", "12"}), 2, {"--bit-depth"});

  // Every row of the table, by each of its extensions: the library's bytes,
  // with torchvision's defaults (WebP lossy q80, TIFF uncompressed).
  for (const torchimage::FormatInfo& f : torchimage::formats()) {
    if (!f.available) continue;
    for (const std::string& e : f.extensions) {
      SCOPED_TRACE(e);
      expect_same_as_library(in, batch, {"--nrow", "3", "--normalize"}, O().nrow(3).normalize(true),
                             "." + e);
    }
  }
  // The new rows' own options.
  expect_same_as_library(in, batch, {"--lossless"},
                         O().webp(torchimage::WebpOptions().lossless(true)), ".webp");
  expect_same_as_library(in, batch, {"--quality", "55"}, O().quality(55), ".webp");
  expect_same_as_library(in, batch, {"--tiff-compression", "lzw"},
                         O().tiff(torchimage::TiffOptions().compression(torchimage::TiffCompression::Lzw)),
                         ".tif");
  expect_same_as_library(in, batch, {"--tiff-compression", "tiff_deflate", "--bit-depth", "16"},
                         O().bit_depth(16).tiff(torchimage::TiffOptions().compression("deflate")),
                         ".tiff");
  expect_same_as_library(in, batch, {"--keep-values", "--pad-value", "-3"},
                         O().keep_values(true).pad_value(-3.0), ".tif");
  expect_error(run_cli({"save", in, path("x.tif"), "--tiff-compression", "jpeg"}), 2,
               {"--tiff-compression", "jpeg"});
  expect_error(run_cli({"save", in, path("x.png"), "--keep-values"}), 1, {"keep_values"});

  // "--" ends the options: a file named like one.
  const std::string dashed = path("-x.npy");
  fs::copy_file(in, dashed);
  expect_success(run_cli({"save", "--nrow", "2", "--", dashed, path("--out.png")}));
  EXPECT_TRUE(fs::is_regular_file(path("--out.png")));
}

// ---------------------------------------------------------------------------
// Failures: one line, exit 1, no output, an existing output untouched.

TEST_F(CliTest, InputErrors) {
  const std::string out = path("out.png");
  const auto save = [&](const std::string& in) {
    return std::vector<std::string>{"save", in, out};
  };
  expect_failure_leaves_output(save(path("missing.npy")), out, 1,
                               {"missing.npy", "cannot open", "No such file"});
  fs::create_directory(path("adir"));
  expect_failure_leaves_output(save(path("adir")), out, 1, {"adir", "is a directory"});
  const torch::Tensor t = pattern({3, 4, 4}, torch::kFloat);
  const std::string good = npy_of(t, '<', false);
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"", {"empty file"}},
      {"garbage, not a tensor", {"unknown file format"}},
      {"\x93NUMPX" + good.substr(6), {"unknown file format"}},
      {good.substr(0, 9), {"truncated .npy file"}},
      {good.substr(0, 50), {"truncated .npy file"}},
      {good.substr(0, good.size() - 1), {"needs 192 bytes", "(truncated)"}},
      {good + "x", {"(trailing bytes)"}},
      {npy_file(npy_dict("<f4", false, {3, 4, 5}), npy_data(t, false, '<')),
       {"shape (3, 4, 5)", "needs 240 bytes"}},
      {npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 4)", ""),
       {"invalid .npy header"}},
      {npy_file(npy_dict("<u8", false, {2}), std::string(16, '\0')),
       {"unsupported .npy dtype '<u8'; expected float16/32/64, int8/16/32/64, uint8, uint16 or "
        "bool"}},
      {npy_file(npy_dict("<c8", false, {2}), std::string(16, '\0')),
       {"unsupported .npy dtype '<c8'"}},
      {std::string("PK\x03\x04", 4) + "garbled zip archive", {"not a valid torch.save archive"}},
      {std::string("\x80\x02\x8a\x0a", 4) + "legacy", {"legacy torch.save format"}},
  };
  int index = 0;
  for (const auto& [bytes, needles] : cases) {
    SCOPED_TRACE(needles[0]);
    const std::string in = path("bad" + std::to_string(index++) + ".npy");
    write_bytes(in, bytes);
    std::vector<std::string> all = needles;
    all.push_back(fs::path(in).filename());
    expect_failure_leaves_output(save(in), out, 1, all, index % 3 == 0);
  }
}

TEST_F(CliTest, BadOptionValuesAndOutputs) {
  const std::string in = write_npy("in.npy", pattern({4, 3, 5, 5}, torch::kFloat));
  const std::string png = path("out.png");
  const std::string jpg = path("out.jpg");
  // Values out of the range every face accepts: usage errors (exit 2), said
  // before INPUT is read, whatever the format (--quality 0 for a PNG too, as
  // Python refuses it), naming the option and the range.
  const std::vector<std::tuple<std::vector<std::string>, std::string, int, std::string>> cases = {
      {{"--quality", "0"}, jpg, 2, "--quality: expected 1-100, got 0"},
      {{"--quality", "0"}, png, 2, "--quality: expected 1-100, got 0"},
      {{"--quality", "101"}, jpg, 2, "--quality"},
      {{"--quality", "-5"}, jpg, 2, "--quality"},
      {{"--compression-level", "10"}, png, 2, "--compression-level: expected 0-9"},
      {{"--compression-level", "-1"}, png, 2, "--compression-level"},
      {{"--nrow", "0"}, png, 2, "--nrow: expected >= 1, got 0"},
      {{"--nrow", "-2"}, png, 2, "--nrow"},
      {{"--padding", "-1"}, png, 2, "--padding: expected >= 0"},
      {{"--normalize", "--value-range", "1", "0"}, png, 2,
       "--value-range: value_range must have low <= high, got (1, 0)"},
      {{"--value-range", "0", "inf", "--normalize"}, png, 2,
       "--value-range: value_range must be finite, got (0, inf)"},
      {{"--normalize", "--value-range", "nan", "1"}, png, 2, "value_range must be finite"},
      // Values the library refuses (exit 1; the message names the parameter).
      {{"--pad-value", "1,0"}, png, 1, "pad_value"},
      {{}, path("out.ppm"), 1, "ppm"},
      {{}, path("out"), 1, "out"},
      {{}, path("no/such/dir/out.png"), 1, "no/such/dir"},
  };
  int index = 0;
  for (const auto& [args, output, status, needle] : cases) {
    SCOPED_TRACE(testing::PrintToString(args) + " " + output);
    std::vector<std::string> full{"save", in, output};
    full.insert(full.end(), args.begin(), args.end());
    expect_failure_leaves_output(full, output, status, {needle}, index++ % 2 == 0);
  }
  // The range is checked before INPUT is read: a missing INPUT is not what
  // the message is about.
  expect_error(run_cli({"save", path("missing.npy"), png, "--quality", "0"}), 2, {"--quality"});
  EXPECT_FALSE(fs::exists(path("no")));
  // The library's hints, said in the CLI's words.
  expect_error(run_cli({"save", in, path("no/out.png")}), 1, {"create_directories"});
  expect_error(run_cli({"save", in, path("out.ppm")}), 1, {".ppm"});
  // A shape save_image refuses.
  const std::string five_d = write_npy("five.npy", pattern({1, 2, 3, 4, 4}, torch::kFloat));
  expect_failure_leaves_output({"save", five_d, png}, png, 1, {"5"});
  // The output is a directory.
  fs::create_directory(path("outdir.png"));
  const Result r = run_cli({"save", in, path("outdir.png")});
  expect_error(r, 1, {});
  EXPECT_TRUE(fs::is_directory(path("outdir.png")));
}

TEST_F(CliTest, ReadOnlyDirectory) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "running as root, which ignores directory permissions";
  }
  const std::string in = write_npy("in.npy", pattern({3, 4, 4}, torch::kFloat));
  const fs::path ro = dir_ / "ro";
  fs::create_directory(ro);
  const std::string existing = (ro / "existing.png").string();
  write_bytes(existing, "old bytes");
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  for (const std::string& out : {(ro / "new.png").string(), existing}) {
    const Result r = run_cli({"save", in, out});
    expect_error(r, 1, {});
  }
  EXPECT_FALSE(fs::exists(ro / "new.png"));
  EXPECT_EQ(read_bytes(existing), "old bytes");
  fs::permissions(ro, fs::perms::owner_all);
  EXPECT_EQ(list_dir(ro), std::vector<std::string>{"existing.png"});
}

// ---------------------------------------------------------------------------
// Hostile inputs and outputs (issue 17).

TEST_F(CliTest, CraftedGeometry) {
  // Python's torch.load refuses these: they address memory outside their
  // storage, or have a negative stride, which as_strided refuses. The
  // loader's own unpickler refuses them before any view is made, with the
  // same words on every LibTorch.
  for (const std::string name :
       {"oob_sheet", "leak_sheet", "one_past_end", "negative_offset", "u8_rank2",
        "f64_rank3_by_one", "huge_stride", "negative_stride", "negative_stride_fits"}) {
    SCOPED_TRACE(name);
    const std::string file = kData + "/crafted_" + name + ".pt";
    try {
      load_tensor(file);
      ADD_FAILURE() << "loaded a tensor that torch.load refuses";
    } catch (const c10::Error& e) {
      const std::string msg = e.what_without_backtrace();
      auto has = [&](const char* s) { return msg.find(s) != std::string::npos; };
      EXPECT_TRUE(has("invalid tensor") &&
                  (has("outside its storage") || has("negative storage offset") ||
                   has("negative stride")))
          << msg;
    }
    expect_failure_leaves_output({"save", file, path("out.png")}, path("out.png"), 1,
                                 {"crafted_" + name, "invalid tensor"});
  }
  // These fit, and keep their values.
  const torch::Tensor storage = pattern({12}, torch::kFloat);
  expect_tensors_equal(load_tensor(kData + "/crafted_exact_fit.pt"), storage.view({3, 4}));
  expect_tensors_equal(load_tensor(kData + "/crafted_broadcast.pt"),
                       storage.view({3, 4}).expand({2, 3, 4}));
  expect_tensors_equal(load_tensor(kData + "/crafted_bool_rank4_fits.pt"),
                       pattern({24}, torch::kBool).view({2, 1, 3, 4}));
  expect_same_as_library(kData + "/crafted_broadcast.pt", storage.view({3, 4}).expand({2, 3, 4}),
                         {}, SaveImageOptions());
}

// Absurd output sizes (an expanded view, a huge padding) are refused before
// anything is allocated, with the size in the message; they reached the
// allocator's "[enforce fail at alloc_cpu.cpp]". Sizes past any machine's
// memory (terabytes), so that the test holds everywhere.
TEST_F(CliTest, AbsurdSizesAreRefusedWithTheirSize) {
  const torch::Tensor view = torch::zeros({1}).expand({1, 3, int64_t{1} << 20, int64_t{1} << 20});
  for (const auto& call : std::vector<std::function<void()>>{
           [&] { torchimage::save_image(view, path("big.png")); },
           [&] { torchimage::encode_image(view); },
           [&] { torchimage::make_grid(view.expand({2, 3, int64_t{1} << 20, int64_t{1} << 20})); },
           [&] { torchimage::make_grid(view, torchimage::MakeGridOptions().normalize(true)); }}) {
    try {
      call();
      ADD_FAILURE() << "a 3 TB image was not refused";
    } catch (const c10::Error& e) {
      const std::string m = e.what_without_backtrace();
      EXPECT_TRUE(m.find("1048576x1048576") != std::string::npos ||
                  m.find("1048580x2097158") != std::string::npos)  // the 2-image grid
          << m;
      EXPECT_NE(m.find(" GB, more than this machine's"), std::string::npos) << m;
      EXPECT_EQ(m.find("alloc_cpu"), std::string::npos) << m;
    }
  }
  // A single image without normalize is a view of the input, as in torchvision.
  EXPECT_TRUE(torchimage::make_grid(view).is_same_size(view[0]));
  const std::string in = write_npy("in.npy", pattern({4, 3, 5, 5}, torch::kFloat));
  expect_failure_leaves_output({"save", in, path("pad.png"), "--padding", "1000000"},
                               path("pad.png"), 1, {"GB, more than this machine's", "padding"});
  EXPECT_EQ(list_dir(dir_), std::vector<std::string>{"in.npy"});
}

// Every face refuses a quality outside 1-100, whatever the format: the CLI
// (exit 2, BadOptionValuesAndOutputs), Python, and now the library, which
// checked it for JPEG only.
TEST_F(CliTest, QualityIsCheckedForEveryFormat) {
  const torch::Tensor t = pattern({3, 4, 4}, torch::kFloat);
  for (const int quality : {0, 101, -5}) {
    for (const char* name : {"q.png", "q.jpg"}) {
      SCOPED_TRACE(std::string(name) + " quality " + std::to_string(quality));
      EXPECT_THROW_MSG(torchimage::save_image(t, path(name), SaveImageOptions().quality(quality)),
                       "quality must be in 1-100, got " + std::to_string(quality));
    }
    EXPECT_THROW_MSG(torchimage::encode_image(t, SaveImageOptions().quality(quality)),
                     "quality must be in 1-100");
  }
  EXPECT_EQ(list_dir(dir_), std::vector<std::string>{});
}

// torch.save during GPU training stores "cuda:0" as the device: the CLI
// takes the values on the CPU (before: a dispatcher dump about CUDA).
TEST_F(CliTest, TensorFileSavedFromCuda) {
  const torch::Tensor expected = pattern({3, 5, 6}, torch::kFloat);
  const torch::Tensor t = load_tensor(kData + "/torch_cuda_f32.pt");
  EXPECT_TRUE(t.device().is_cpu());
  expect_tensors_equal(t, expected);
  expect_same_as_library(kData + "/torch_cuda_f32.pt", expected, {"--normalize"},
                         SaveImageOptions().normalize(true));
}

// A FIFO (or a device) as INPUT is refused at once; it blocked forever.
TEST_F(CliTest, SpecialFileInputs) {
  const std::string fifo = path("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  auto loading = std::async(std::launch::async, [&] {
    try {
      load_tensor(fifo);
      return std::string("loaded");
    } catch (const c10::Error& e) {
      return std::string(e.what_without_backtrace());
    }
  });
  if (loading.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    // Release the blocked open so that the test can end, then fail.
    const int fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) close(fd);
    FAIL() << "load_tensor blocked on a FIFO";
  }
  EXPECT_NE(loading.get().find("not a regular file (a FIFO)"), std::string::npos);
  expect_error(run_cli({"save", fifo, path("o.png")}), 1, {"fifo", "FIFO"});
  expect_error(run_cli({"save", "/dev/null", path("o.png")}), 1, {"character device"});
  expect_error(run_cli({"save", dir_.string(), path("o.png")}), 1, {"is a directory"});
  EXPECT_FALSE(fs::exists(path("o.png")));
}

// Links at the output: a loop is an error that leaves both links; a chain
// is written through.
TEST_F(CliTest, SymbolicLinksAtTheOutput) {
  const std::string in = write_npy("in.npy", pattern({3, 4, 4}, torch::kFloat));
  fs::create_symlink("b", path("a"));
  fs::create_symlink("a", path("b"));
  expect_error(run_cli({"save", in, path("a"), "--format", "png"}), 1,
               {"Too many levels of symbolic links"});
  EXPECT_TRUE(fs::is_symlink(path("a")));
  EXPECT_TRUE(fs::is_symlink(path("b")));
  EXPECT_EQ(fs::read_symlink(path("a")), "b");
  EXPECT_EQ(fs::read_symlink(path("b")), "a");
  fs::create_symlink("loop.png", path("loop.png"));     // a link to itself
  expect_error(run_cli({"save", in, path("loop.png")}), 1, {"Too many levels"});
  EXPECT_TRUE(fs::is_symlink(path("loop.png")));
  // A chain of two links to a missing file: the file is made, the links kept.
  fs::create_directory(path("real"));
  fs::create_symlink("real/target.png", path("hop2"));
  fs::create_symlink("hop2", path("hop1.png"));
  expect_success(run_cli({"save", in, path("hop1.png")}));
  EXPECT_TRUE(fs::is_symlink(path("hop1.png")));
  EXPECT_TRUE(fs::is_regular_file(path("real/target.png")));
}

// "-" is standard output; /dev/stdout (and /dev/fd/1) are written in place.
TEST_F(CliTest, StandardOutput) {
  const torch::Tensor t = pattern({2, 3, 4, 4}, torch::kFloat);
  const std::string in = write_npy("in.npy", t);
  const torch::Tensor png = torchimage::encode_image(t, SaveImageOptions());
  const std::string expected(reinterpret_cast<const char*>(png.data_ptr<uint8_t>()),
                             static_cast<size_t>(png.numel()));
  Result r = run_cli({"save", in, "-"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out == expected) << "stdout is not encode_image's PNG";
  r = run_cli({"save", in, "-", "--format", "jpeg", "--quality", "90"});
  const torch::Tensor jpeg =
      torchimage::encode_image(t, SaveImageOptions().format(torchimage::ImageFormat::JPEG).quality(90));
  EXPECT_EQ(r.out.size(), static_cast<size_t>(jpeg.numel()));
  for (const std::string device : {"/dev/stdout", "/dev/fd/1"}) {
    r = run_cli({"save", in, device, "--format", "png"});
    EXPECT_EQ(r.status, 0) << device << ": " << r.err;
    EXPECT_TRUE(r.out == expected) << device;
  }
  EXPECT_EQ(list_dir(dir_), std::vector<std::string>{"in.npy"});
}

// Issue 29, bug 1: a shell's redirections of /dev/stdout and "-" hold:
// `>> log` appends each image, `> f` leaves f holding exactly the image
// (f was longer before), and a pipe gets exactly its bytes.
TEST_F(CliTest, ShellRedirectionsOfStandardOutput) {
  const torch::Tensor t = pattern({2, 3, 4, 4}, torch::kFloat);
  const std::string in = write_npy("in.npy", t);
  const torch::Tensor png = torchimage::encode_image(t, SaveImageOptions());
  const std::string image(reinterpret_cast<const char*>(png.data_ptr<uint8_t>()),
                          static_cast<size_t>(png.numel()));
  auto sh = [&](const std::string& command) {
    const std::string line = "'" + kCli + "' save '" + in + "' " + command;
    EXPECT_EQ(std::system(("/bin/sh -c \"" + line + "\"").c_str()), 0) << line;
  };
  for (const std::string target : {"/dev/stdout", "-"}) {
    const std::string log = path("log"), out = path("out.png"), piped = path("piped.png");
    write_bytes(log, "head\n");
    write_bytes(out, std::string(4 * image.size(), 'x'));
    sh(target + " --format png >> '" + log + "'");
    sh(target + " --format png >> '" + log + "'");
    sh(target + " --format png > '" + out + "'");
    sh(target + " --format png | cat > '" + piped + "'");
    EXPECT_TRUE(read_bytes(log) == "head\n" + image + image) << target;
    EXPECT_TRUE(read_bytes(out) == image) << target;
    EXPECT_TRUE(read_bytes(piped) == image) << target;
  }
}

// An existing file this user cannot write is kept (as open() refuses it),
// unless --replace-read-only. Run as an unprivileged user (root may write
// anything): as root, the CLI runs as nobody.
TEST_F(CliTest, ReadOnlyFile) {
  const std::string in = write_npy("in.npy", pattern({3, 4, 4}, torch::kFloat));
  const std::string out = path("ro.png");
  write_bytes(out, "old bytes");
  fs::permissions(out, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  std::vector<std::string> prefix;
  if (geteuid() == 0) {
    if (!fs::exists("/usr/sbin/runuser") && !fs::exists("/sbin/runuser")) {
      GTEST_SKIP() << "running as root without runuser";
    }
    fs::permissions(dir_, fs::perms::all);  // nobody may create files here
    fs::permissions(in, fs::perms::all);
  }
  auto run_as_user = [&](std::vector<std::string> args) {
    if (geteuid() != 0) return run_cli(args);
    // runuser -u nobody -- CLI args...: spawn through a shell-free helper.
    std::vector<std::string> full{"-u", "nobody", "--", kCli};
    full.insert(full.end(), args.begin(), args.end());
    return run_program("runuser", full);
  };
  Result r = run_as_user({"save", in, out});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("read-only"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("set replace_read_only"), std::string::npos) << describe(r);
  EXPECT_EQ(read_bytes(out), "old bytes");
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"in.npy", "ro.png"}));
  r = run_as_user({"save", in, out, "--replace-read-only"});
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(read_bytes(out), "old bytes");
  // The replacement keeps the file's mode.
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
}

// ---------------------------------------------------------------------------
// save-each: one file per sample (torchimage::save_images).

// "wrote N images to PATTERN in S s (R images/s)\n", nothing else.
void expect_summary(const std::string& out, int64_t n, const std::string& pattern) {
  const std::string quoted = std::regex_replace(pattern, std::regex(R"([.^$|()\[\]{}*+?\\])"),
                                                R"(\$&)");
  const std::regex summary("wrote " + std::to_string(n) + (n == 1 ? " image" : " images") +
                           " to " + quoted +
                           R"( in [0-9]+\.[0-9]{2} s \(([0-9]+|-) images/s\)\n)");
  EXPECT_TRUE(std::regex_match(out, summary)) << "not a summary line: '" << out << "'";
}

class SaveEachTest : public CliTest {
 protected:
  // Expects `dir` to hold exactly the files save_image(batch[i], ...) writes
  // for i in [0, B), named by `name(start + i)`, byte for byte.
  void expect_files(const fs::path& dir, const torch::Tensor& batch,
                    const std::function<std::string(int64_t)>& name, int64_t start,
                    const SaveImageOptions& options) {
    const fs::path ref_dir = dir_ / "reference";
    fs::create_directories(ref_dir);
    std::vector<std::string> expected_names;
    for (int64_t i = 0; i < batch.size(0); ++i) {
      SCOPED_TRACE("sample " + std::to_string(i));
      const std::string file = name(start + i);
      expected_names.push_back(file);
      const fs::path ref = ref_dir / file;
      torchimage::save_image(batch[i], ref.string(), options);
      ASSERT_TRUE(fs::is_regular_file(dir / file)) << (dir / file);
      const std::string bytes = read_bytes(dir / file);
      EXPECT_FALSE(bytes.empty());
      EXPECT_TRUE(bytes == read_bytes(ref)) << (dir / file) << " differs from save_image(batch["
                                            << i << "])";
    }
    std::sort(expected_names.begin(), expected_names.end());
    EXPECT_EQ(list_dir(dir), expected_names);  // no temporary files left either
    fs::remove_all(ref_dir);
  }

  fs::path out_dir(const std::string& name) {
    const fs::path d = dir_ / name;
    fs::create_directories(d);
    return d;
  }
};

std::string padded(int64_t i, int width, const std::string& ext) {
  std::string s = std::to_string(i);
  if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<size_t>(width) - s.size(), '0');
  return s + ext;
}

TEST_F(SaveEachTest, EachFileIsSaveImageOfItsSample) {
  const torch::Tensor batch = pattern({7, 3, 6, 5}, torch::kFloat);
  const std::string npy = write_npy("batch.npy", batch);
  const std::vector<char> pickled = torch::pickle_save(pattern({5, 3, 4, 9}, torch::kDouble));
  const std::string pt = path("batch.pt");
  write_bytes(pt, std::string(pickled.begin(), pickled.end()));
  const torch::Tensor pt_batch = pattern({5, 3, 4, 9}, torch::kDouble);
  using O = SaveImageOptions;
  struct Case {
    std::string input;
    torch::Tensor batch;
    std::vector<std::string> args;
    O options;
    std::string ext;
  };
  const std::vector<Case> cases = {
      {npy, batch, {}, O(), ".png"},
      {npy, batch, {"--normalize", "--value-range", "-1", "1"},
       O().normalize(true).value_range(torchimage::ValueRange{-1.0, 1.0}), ".png"},
      {npy, batch, {"--normalize"}, O().normalize(true), ".png"},
      {npy, batch, {"--threads", "1", "--compression-level", "6"}, O().compression_level(6),
       ".png"},
      {npy, batch, {"--threads", "3", "--quality", "90"}, O().quality(90), ".jpg"},
      {npy, batch, {"--format", "jpeg"}, O().format(torchimage::ImageFormat::JPEG), ".img"},
      {pt, pt_batch, {"--normalize", "--scale-each"}, O().normalize(true).scale_each(true),
       ".png"},
      {pt, pt_batch, {"--nrow", "2", "--padding", "4"}, O().nrow(2).padding(4), ".png"},
  };
  int index = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input + " " + testing::PrintToString(c.args));
    const fs::path dir = out_dir("out" + std::to_string(index++));
    const std::string pat = (dir / ("{index:05}" + c.ext)).string();
    std::vector<std::string> args{"save-each", c.input, pat};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Result r = run_cli(args);
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(r.err, "") << describe(r);
    // Not a terminal: no progress bar, only the summary line.
    expect_summary(r.out, c.batch.size(0), pat);
    EXPECT_EQ(r.out.find('\r'), std::string::npos) << describe(r);
    expect_files(dir, c.batch, [&](int64_t i) { return padded(i, 5, c.ext); }, 0, c.options);
  }
}

TEST_F(SaveEachTest, StartIndexAndPlaceholders) {
  const torch::Tensor batch = pattern({4, 1, 5, 5}, torch::kFloat);
  const std::string in = write_npy("gray.npy", batch);
  fs::path dir = out_dir("a");
  Result r = run_cli({"save-each", in, (dir / "s{index}.png").string(), "--start-index", "98",
                      "--grayscale"});
  expect_summary(r.out, 4, (dir / "s{index}.png").string());
  expect_files(dir, batch, [](int64_t i) { return "s" + std::to_string(i) + ".png"; }, 98,
               SaveImageOptions().grayscale(true));

  dir = out_dir("b");
  r = run_cli({"save-each", "--start-index=7", in, (dir / "{index:03}-{index}.png").string()});
  EXPECT_EQ(r.status, 0) << describe(r);
  expect_files(
      dir, batch, [](int64_t i) { return padded(i, 3, "-") + std::to_string(i) + ".png"; }, 7,
      SaveImageOptions());

  // Missing directories: an error, or created with --create-dirs.
  const std::string nested = (dir_ / "x" / "y" / "{index}.png").string();
  expect_error(run_cli({"save-each", in, nested}), 1, {"create_directories"});
  EXPECT_FALSE(fs::exists(dir_ / "x"));
  expect_success(run_cli({"save-each", in, nested, "--create-dirs", "--quiet"}));
  expect_files(dir_ / "x" / "y", batch, [](int64_t i) { return std::to_string(i) + ".png"; }, 0,
               SaveImageOptions());

  // One sample may do without a placeholder.
  const std::string one = write_npy("one.npy", pattern({1, 3, 4, 4}, torch::kFloat));
  dir = out_dir("c");
  r = run_cli({"save-each", one, (dir / "only.png").string()});
  EXPECT_EQ(r.status, 0) << describe(r);
  expect_summary(r.out, 1, (dir / "only.png").string());
  expect_files(dir, pattern({1, 3, 4, 4}, torch::kFloat),
               [](int64_t) { return std::string("only.png"); }, 0, SaveImageOptions());
}

TEST_F(SaveEachTest, QuietPrintsNothing) {
  const torch::Tensor batch = pattern({3, 3, 4, 4}, torch::kFloat);
  const std::string in = write_npy("in.npy", batch);
  const fs::path dir = out_dir("q");
  expect_success(run_cli({"save-each", in, (dir / "{index}.png").string(), "--quiet"}));
  expect_files(dir, batch, [](int64_t i) { return std::to_string(i) + ".png"; }, 0,
               SaveImageOptions());
}

// Wrong input, shape, pattern or options: one line on stderr, and not one
// file written (the checks come before the first file).
TEST_F(SaveEachTest, ErrorsLeaveNoFiles) {
  const std::string in = write_npy("in.npy", pattern({6, 3, 4, 4}, torch::kFloat));
  const std::string three_d = write_npy("three.npy", pattern({3, 4, 4}, torch::kFloat));
  const std::string empty = write_npy("empty.npy", torch::zeros({0, 3, 4, 4}));
  const std::string garbage = path("garbage.pt");
  write_bytes(garbage, "not a tensor");
  const fs::path dir = out_dir("out");
  const std::string pat = (dir / "{index:04}.png").string();
  const std::vector<std::tuple<std::vector<std::string>, int, std::vector<std::string>>> cases = {
      {{"save-each", in, (dir / "same.png").string()}, 1, {"same.png", "no {index} placeholder"}},
      {{"save-each", in, (dir / "{idx}.png").string()}, 1, {"unknown field 'idx'"}},
      {{"save-each", in, (dir / "{index:-3}.png").string()}, 1, {"cannot have a sign"}},
      {{"save-each", in, (dir / "a}{index}.png").string()}, 1, {"unmatched '}'"}},
      {{"save-each", in, (dir / "{index:x}.png").string()}, 1, {"bad placeholder"}},
      {{"save-each", in, (dir / "{index.png").string()}, 1, {"unclosed placeholder"}},
      {{"save-each", path("missing.npy"), pat}, 1, {"missing.npy", "No such file"}},
      {{"save-each", garbage, pat}, 1, {"garbage.pt", "unknown file format"}},
      {{"save-each", three_d, pat}, 1, {"4-D", "[3, 4, 4]", "torchimage save"}},
      {{"save-each", empty, pat}, 1, {"empty batch"}},
      {{"save-each", in, (dir / "{index}.ppm").string()}, 1, {".ppm"}},
      {{"save-each", in, (dir / "{index}").string()}, 1, {"set the format option (png, jpeg"}},
      {{"save-each", in, (dir / "{index}.jpg").string(), "--quality", "0"}, 2, {"--quality"}},
      {{"save-each", in, pat, "--normalize", "--value-range", "1", "0"}, 2, {"--value-range"}},
      {{"save-each", in, pat, "--start-index", "-1"}, 2, {"--start-index: expected >= 0"}},
      {{"save-each", in, pat, "--threads", "-2"}, 2, {"--threads: expected 0-4096"}},
      {{"save-each", in, "-"}, 2, {"PATTERN cannot be '-'"}},
      // The last index must not pass INT64_MAX (it wrapped to negative numbers).
      {{"save-each", in, pat, "--start-index", "9223372036854775807"}, 1,
       {"start_index 9223372036854775807 with 6 images passes the largest index"}},
      {{"save-each", in, pat, "--start-index", "9223372036854775803"}, 1, {"largest index"}},
      // Widths that cannot make a file name, said once, briefly.
      {{"save-each", in, (dir / "{index:999}.png").string()}, 1, {"{index:999}", "255"}},
      {{"save-each", in, (dir / (std::string(250, 'n') + "{index:04}.png")).string()}, 1,
       {"file names of 258 bytes"}},
      {{"save-each", in, (dir / "no" / "{index}.png").string()}, 1, {"create_directories"}},
      // Usage errors: exit 2, pointing at save-each's help.
      {{"save-each"}, 2, {"missing INPUT and PATTERN", "torchimage save-each --help"}},
      {{"save-each", in}, 2, {"missing PATTERN", "save-each --help"}},
      {{"save-each", in, pat, "extra"}, 2, {"unexpected argument 'extra'", "save-each --help"}},
      {{"save-each", in, pat, "--bogus"}, 2, {"unknown option '--bogus'", "save-each --help"}},
      {{"save-each", in, pat, "--threads", "many"}, 2, {"--threads: expected an integer"}},
      {{"save-each", in, pat, "--start-index"}, 2, {"--start-index expects K"}},
      {{"save-each", in, pat, "--quiet=1"}, 2, {"--quiet takes no value"}},
      {{"save-each", in, pat, "--quality", "x"}, 2, {"--quality: expected an integer",
                                                      "save-each --help"}},
      // save-each's own options are not save's.
      {{"save", in, path("out.png"), "--quiet"}, 2, {"unknown option '--quiet'", "save --help"}},
      {{"save", in, path("out.png"), "--threads", "2"}, 2, {"unknown option '--threads'"}},
  };
  for (const auto& [args, status, needles] : cases) {
    SCOPED_TRACE(testing::PrintToString(args));
    expect_error(run_cli(args), status, needles);
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{});
    EXPECT_FALSE(fs::exists(path("out.png")));
  }
}

TEST_F(SaveEachTest, Help) {
  const Result main_help = run_cli({"--help"});
  EXPECT_NE(main_help.out.find("save-each INPUT PATTERN"), std::string::npos) << main_help.out;
  Result r = run_cli({"save-each", "--help"});
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.err, "");
  for (const char* text :
       {"Usage: torchimage save-each INPUT PATTERN", "{index:05}", "--start-index K",
        "--threads N", "--quiet", "--normalize", "--value-range LOW HIGH", "--quality Q",
        "--compression-level L", "--format png|jpeg", "--create-dirs", "--grayscale",
        "progress", ".npy"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << " in\n" << r.out;
  }
  EXPECT_EQ(run_cli({"help", "save-each"}).out, r.out);
  EXPECT_EQ(run_cli({"save-each", "in.npy", "-h", "--bogus"}).out, r.out);
  const Result save_help = run_cli({"save", "--help"});
  for (const char* text : {"--start-index", "--threads", "--quiet"}) {
    EXPECT_EQ(save_help.out.find(text), std::string::npos) << text << " in\n" << save_help.out;
  }
}

// On a terminal: a progress bar redrawn in place ('\r'), then the summary.
// The pseudo-terminal's output processing is off (raw), so that every '\r'
// read back is one the tool wrote (not the terminal's "\n" -> "\r\n").
Result run_cli_on_pty(const std::vector<std::string>& args) {
  std::vector<std::string> storage{kCli};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  termios raw{};
  cfmakeraw(&raw);
  winsize size{};
  size.ws_row = 24;
  size.ws_col = 120;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, &raw, &size);
  Result result;
  if (pid < 0) {
    ADD_FAILURE() << "forkpty: " << std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    execv(kCli.c_str(), argv.data());
    _exit(127);
  }
  // stdout and stderr both go to the terminal; read until the child closes it
  // (EIO on Linux).
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) {
      result.out.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  close(master);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

TEST_F(SaveEachTest, ProgressBarOnATerminal) {
  const torch::Tensor batch = pattern({300, 3, 16, 16}, torch::kFloat);
  const std::string in = write_npy("in.npy", batch);
  const fs::path dir = out_dir("tty");
  const std::string pat = (dir / "{index:03}.png").string();
  Result r = run_cli_on_pty({"save-each", in, pat, "--normalize"});
  EXPECT_EQ(r.status, 0) << describe(r);
  // Bars: "\r[###...]  done/300  P%  R images/s", the last one complete.
  const std::regex bar(R"(\r\[[#.]{30}\]  [0-9]+/300  [0-9]+%  ([0-9]+|-) images/s)");
  EXPECT_TRUE(std::regex_search(r.out, bar)) << describe(r);
  EXPECT_NE(r.out.find("\r[##############################]  300/300  100%  "), std::string::npos)
      << describe(r);
  // Then the bar is erased and the summary ends the output.
  const std::string erase = "\r\x1b[K";
  const size_t last = r.out.rfind(erase);
  ASSERT_NE(last, std::string::npos) << describe(r);
  expect_summary(r.out.substr(last + erase.size()), 300, pat);
  expect_files(dir, batch, [](int64_t i) { return padded(i, 3, ".png"); }, 0,
               SaveImageOptions().normalize(true));

  // --quiet: nothing, even on a terminal.
  const fs::path quiet_dir = out_dir("tty-quiet");
  r = run_cli_on_pty({"save-each", in, (quiet_dir / "{index}.png").string(), "--quiet"});
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.out, "") << describe(r);
  EXPECT_EQ(list_dir(quiet_dir).size(), 300u);

  // An error found before the first file (here the format) comes alone, on
  // one line: no bar.
  const fs::path ro = out_dir("tty-error");
  r = run_cli_on_pty({"save-each", in, (ro / "{index}.ppm").string()});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_EQ(r.out.rfind("torchimage: error: ", 0), 0u) << describe(r);
  EXPECT_NE(r.out.find(".ppm"), std::string::npos) << describe(r);
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << describe(r);
  EXPECT_EQ(list_dir(ro), std::vector<std::string>{});
}

}  // namespace
