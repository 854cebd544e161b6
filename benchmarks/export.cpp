// The C++ side of benchmarks/export.py: torchimage's per-sample export
// (save_images), the caller stall of ImageWriter::save_image, and a load test
// of one ImageWriter fed by several producer threads.
//
//   torchimage_export info
//       "libtorch VERSION torchimage VERSION threads N"
//   torchimage_export export INPUT.pt DIR [--repeats R] [--threads T]
//       save_images(x, DIR/runR/{index:05}.png) R times (each in a fresh
//       directory, none deleted here): one line per run
//       "run R images N seconds S images_per_s V cpu_s C" (C: user + system
//       CPU seconds of all threads); then the file system's share: the first
//       file's bytes written N times by torchimage::write_file on as many
//       threads, "floor images N seconds S images_per_s V cpu_s C"; then
//       "dir PATH".
//   torchimage_export stall INPUT.pt DIR [--calls N] [--warmup W] [--gap-ms G] [--gap sleep|busy]
//                           [--hand-over yes|no] [--rewrite yes|no]
//       One ImageWriter (default options); N + W calls of
//       writer.save_image(x, DIR/step_I.png, normalize, value_range (-1, 1))
//       (with --hand-over yes: of writer.save_image(std::move(y), ...), y a
//       fresh copy of x made before the timed call, as a step's output is;
//       with --rewrite yes: x is rewritten in place from a copy before each
//       timed call, as a step that writes the sheet does),
//       G ms of sleep or busy computation between calls (a training step);
//       prints the stall of each measured call, in ms, on one line
//       "stall_ms a b c ...", then "dir PATH" (the last sheet).
//   torchimage_export load INPUT.u8 N DIR [--producers P] [--max-pending B] [--fail-at K]
//       INPUT.u8: N x 3 x 16 x 16 raw uint8 pixels. P threads share one
//       ImageWriter(max_pending_bytes B); producer p saves samples p, p+P, ...
//       as float images (pixels / 255) to DIR/{index:06}.png, and producer 0
//       also one job to a missing directory after its K-th image. Prints
//       "images N seconds S images_per_s V rss_after_load_kib A
//       peak_rss_kib M failures_reported F failure_message ..."
//       (each failure the writer reports, from any call or flush, counted).
//       The test runs in a child forked first thing: Linux carries a process's
//       peak RSS across exec (signal->maxrss), so that a program started from
//       Python holding gigabytes would report Python's peak from getrusage;
//       a forked child starts its own count. VmHWM (/proc) is printed too.
#include <torchimage/torchimage.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <c10/util/Exception.h>
#include <torch/serialize.h>
#include <torch/version.h>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

torch::Tensor load_pt(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  return torch::pickle_load(bytes).toTensor();
}

// "--name value" options after the positional arguments.
struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;

  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      const std::string a = argv[i];
      if (a.rfind("--", 0) == 0) {
        if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
        options.emplace_back(a, argv[++i]);
      } else {
        positional.push_back(a);
      }
    }
  }
  std::string get(const std::string& name, const std::string& fallback) const {
    for (const auto& [k, v] : options) {
      if (k == name) return v;
    }
    return fallback;
  }
  long long num(const std::string& name, long long fallback) const {
    return std::stoll(get(name, std::to_string(fallback)));
  }
};

// Resident set size now, from /proc/self/status (KiB).
long rss_now_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Peak resident set size of this process from /proc/self/status (KiB).
long hwm_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

std::string read_all(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// CPU time (user + system) of all of this process's threads, in seconds.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(usage.ru_utime) + sec(usage.ru_stime);
}

int cmd_info() {
  std::cout << "libtorch " << TORCH_VERSION << " torchimage " << TORCHIMAGE_VERSION_STRING
            << " threads " << std::thread::hardware_concurrency() << std::endl;
  return 0;
}

int cmd_export(const Args& a) {
  const torch::Tensor x = load_pt(a.positional.at(0));
  const fs::path dir = a.positional.at(1);
  const int repeats = static_cast<int>(a.num("--repeats", 3));
  const int threads = static_cast<int>(a.num("--threads", 0));
  fs::path last;
  for (int r = 0; r < repeats; ++r) {
    const fs::path run = dir / ("run" + std::to_string(r));
    fs::create_directories(run);
    const double cpu0 = cpu_seconds();
    const auto t0 = Clock::now();
    torchimage::save_images(x, (run / "{index:05}.png").string(), {}, 0, threads);
    const double s = ms_since(t0) / 1e3;
    std::cout << "run " << r << " images " << x.size(0) << " seconds " << s << " images_per_s "
              << static_cast<double>(x.size(0)) / s << " cpu_s " << cpu_seconds() - cpu0
              << std::endl;
    last = run;  // kept: deleting files now would slow the next run's creations (ext4)
  }
  // The file system's share: the first file's bytes written N times by the
  // same atomic sink on as many threads, with no tensor work at all.
  {
    const std::string bytes = read_all(last / "00000.png");
    const fs::path floor = dir / "floor";
    fs::create_directories(floor);
    const int64_t n = x.size(0);
    const int workers = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
    std::atomic<int64_t> next{0};
    const double cpu0 = cpu_seconds();
    const auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < std::max(1, workers); ++t) {
      pool.emplace_back([&] {
        char name[32];
        for (int64_t i; (i = next.fetch_add(1)) < n;) {
          std::snprintf(name, sizeof(name), "%05lld.png", static_cast<long long>(i));
          torchimage::write_file((floor / name).string(), bytes.data(), bytes.size());
        }
      });
    }
    for (auto& t : pool) t.join();
    const double s = ms_since(t0) / 1e3;
    std::cout << "floor images " << n << " seconds " << s << " images_per_s "
              << static_cast<double>(n) / s << " cpu_s " << cpu_seconds() - cpu0 << std::endl;
  }
  std::cout << "dir " << last.string() << std::endl;
  return 0;
}

// About `ms` of work on this thread that the compiler cannot drop.
void busy(double ms) {
  const auto t0 = Clock::now();
  volatile double sink = 0.0;
  double v = 1.0;
  while (ms_since(t0) < ms) {
    for (int i = 0; i < 1000; ++i) v = v * 1.0000001 + 1e-9;
    sink = v;
  }
  (void)sink;
}

int cmd_stall(const Args& a) {
  const torch::Tensor x = load_pt(a.positional.at(0));
  const fs::path dir = a.positional.at(1);
  fs::create_directories(dir);
  const int calls = static_cast<int>(a.num("--calls", 200));
  const int warmup = static_cast<int>(a.num("--warmup", 10));
  const double gap_ms = static_cast<double>(a.num("--gap-ms", 20));
  const bool sleep = a.get("--gap", "sleep") == "sleep";
  const bool give = a.get("--hand-over", "no") == "yes";
  const bool rewrite = a.get("--rewrite", "no") == "yes";
  const torch::Tensor step_output = x.clone();
  const auto options = torchimage::SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
  std::vector<double> stalls;
  std::string last;
  {
    torchimage::ImageWriter writer;
    for (int i = 0; i < warmup + calls; ++i) {
      // The training step that produced the sheet.
      if (sleep) {
        std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(gap_ms * 1e3)));
      } else {
        busy(gap_ms);
      }
      char name[32];
      std::snprintf(name, sizeof name, "step_%04d.png", i);
      last = (dir / name).string();
      double ms = 0;
      if (give) {
        // The step's output is a fresh tensor the loop hands over (as
        // writer.save_image(generator->forward(z), ...) does): made outside
        // the timed call, which the writer may then keep without a copy.
        torch::Tensor output = x.clone();
        const auto t0 = Clock::now();
        writer.save_image(std::move(output), last, options);
        ms = ms_since(t0);
      } else {
        if (rewrite) x.copy_(step_output);
        const auto t0 = Clock::now();
        writer.save_image(x, last, options);
        ms = ms_since(t0);
      }
      if (i >= warmup) stalls.push_back(ms);
    }
    writer.flush();
  }
  std::cout << "stall_ms";
  for (double s : stalls) std::cout << " " << s;
  std::cout << "\ndir " << last << std::endl;
  return 0;
}

int cmd_load(const Args& a) {
  const std::string input = a.positional.at(0);
  const int64_t n = std::stoll(a.positional.at(1));
  const fs::path dir = a.positional.at(2);
  fs::create_directories(dir);
  const int producers = static_cast<int>(a.num("--producers", 2));
  const int64_t max_pending = a.num("--max-pending", 1 << 20);
  const int64_t fail_at = a.num("--fail-at", n / 4);

  // The pixels, read straight into one tensor (no second copy).
  torch::Tensor pixels = torch::empty({n, 3, 16, 16}, torch::kUInt8);
  {
    std::FILE* f = std::fopen(input.c_str(), "rb");
    if (f == nullptr) throw std::runtime_error("cannot open " + input);
    const size_t want = static_cast<size_t>(pixels.numel());
    const size_t got = std::fread(pixels.data_ptr(), 1, want, f);
    std::fclose(f);
    if (got != want) throw std::runtime_error("short read of " + input);
  }
  const long rss_after_load = rss_now_kib();

  std::mutex mu;
  std::vector<std::string> reported;  // every failure the writer threw
  const auto record = [&](const c10::Error& e) {
    std::lock_guard<std::mutex> lock(mu);
    reported.push_back(e.what_without_backtrace());
  };
  const std::string pattern = (dir / "{index:06}.png").string();
  const std::string bad_path = (dir / "no-such-dir" / "injected.png").string();
  const auto t0 = Clock::now();
  {
    torchimage::ImageWriter writer(torchimage::ImageWriterOptions().max_pending_bytes(max_pending));
    std::vector<std::thread> pool;
    for (int p = 0; p < producers; ++p) {
      pool.emplace_back([&, p] {
        for (int64_t i = p; i < n; i += producers) {
          // What a training loop holds: a float image, overwritten next step.
          const torch::Tensor image = pixels[i].to(torch::kFloat).div_(255.0f);
          try {
            writer.save_image(image, torchimage::format_index_path(pattern, i, n));
          } catch (const c10::Error& e) {
            record(e);
          }
          if (p == 0 && i / producers == fail_at) {
            try {
              writer.save_image(image, bad_path);
            } catch (const c10::Error& e) {
              record(e);
            }
          }
        }
      });
    }
    for (auto& t : pool) t.join();
    try {
      writer.flush();
    } catch (const c10::Error& e) {
      record(e);
    }
    try {
      writer.flush();  // nothing left: a failure is reported once
    } catch (const c10::Error& e) {
      record(e);
    }
  }
  const double s = ms_since(t0) / 1e3;
  std::cout << "images " << n << " seconds " << s << " images_per_s "
            << static_cast<double>(n) / s << " rss_after_load_kib " << rss_after_load
            << " peak_rss_kib " << peak_rss_kib() << " vmhwm_kib " << hwm_kib()
            << " failures_reported " << reported.size()
            << std::endl;
  for (const std::string& m : reported) {
    std::string one = m;
    std::replace(one.begin(), one.end(), '\n', ' ');
    std::cout << "failure_message " << one << std::endl;
  }
  std::cout << "bad_path " << bad_path << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    const Args args(argc, argv, 2);
    if (cmd == "info") return cmd_info();
    if (cmd == "export") return cmd_export(args);
    if (cmd == "stall") return cmd_stall(args);
    if (cmd == "load") {
      // In a fresh child (see the top of this file), before anything is loaded.
      std::cout.flush();
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("fork failed");
      if (pid == 0) {
        int rc = 1;
        try {
          rc = cmd_load(args);
        } catch (const c10::Error& e) {
          std::cerr << "torchimage_export: " << e.what_without_backtrace() << std::endl;
        } catch (const std::exception& e) {
          std::cerr << "torchimage_export: " << e.what() << std::endl;
        }
        std::cout.flush();
        _exit(rc);
      }
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    std::cerr << "usage: torchimage_export info | export INPUT.pt DIR [--repeats R] [--threads T]"
                 " | stall INPUT.pt DIR [--calls N] [--warmup W] [--gap-ms G] [--gap sleep|busy]"
                 " | load INPUT.u8 N DIR [--producers P] [--max-pending B] [--fail-at K]\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "torchimage_export: " << e.what_without_backtrace() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "torchimage_export: " << e.what() << std::endl;
  }
  return 1;
}
