// A data-parallel job's image output, in the shape a LibTorch user writes
// it: every rank builds a ProcessGroupGloo over a FileStore, holds its share
// of the samples, and calls torchimage::distributed. `app OUT` runs the
// ranks itself (this program, once per rank) for several splits of the same
// 12-16 samples, then checks the sheet and the files against one process's
// torchimage::save_image / save_images of all of them.
#include <torchimage/distributed.h>
#include <torchimage/torchimage.h>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;
namespace fs = std::filesystem;

static std::vector<int64_t> split(const std::string& s) {
  std::vector<int64_t> v;
  size_t a = 0;
  while (a <= s.size()) {
    const size_t b = s.find('/', a);
    v.push_back(std::stoll(s.substr(a, b == std::string::npos ? std::string::npos : b - a)));
    if (b == std::string::npos) break;
    a = b + 1;
  }
  return v;
}

static torch::Tensor samples(int64_t n) {
  torch::manual_seed(7);
  return torch::rand({n, 3, 16, 16}) * 2 - 1;
}

static std::string bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

static torchimage::SaveImageOptions options() {
  return torchimage::SaveImageOptions().nrow(4).normalize(true).value_range({-1.0, 1.0});
}

static int rank_main(const std::string& dir, const std::vector<int64_t>& counts, int rank) {
  const int world = static_cast<int>(counts.size());
  auto store = c10::make_intrusive<c10d::FileStore>(dir + "/store", world);
  auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(20));
  opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);
  int64_t offset = 0, total = 0;
  for (int r = 0; r < world; ++r) total += counts[r];
  for (int r = 0; r < rank; ++r) offset += counts[r];
  const torch::Tensor local = samples(total).narrow(0, offset, counts[rank]);
  torchimage::distributed::save_image(pg, local, dir + "/sheet.png", options(), 0);
  torchimage::distributed::save_images(pg, local, dir + "/each/{index:03}.png",
                                       options().create_directories(true));
  return 0;
}

int main(int argc, char** argv) {
  if (const char* r = std::getenv("APP_RANK")) {
    try {
      return rank_main(std::getenv("APP_DIR"), split(std::getenv("APP_COUNTS")), std::atoi(r));
    } catch (const std::exception& e) {
      std::cerr << "rank " << r << ": " << e.what() << "\n";
      return 1;
    }
  }
  const fs::path out = fs::absolute(argc > 1 ? argv[1] : "out.png").parent_path() / "dist";
  for (const std::string counts : {"5/7", "6/0/9", "1/4/2"}) {
    const fs::path dir = out / counts.substr(0, 1);  // a folder per split
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::vector<int64_t> c = split(counts);
    std::vector<pid_t> pids;
    for (size_t r = 0; r < c.size(); ++r) {
      std::vector<std::string> env;
      for (char** e = environ; *e; ++e) env.emplace_back(*e);
      env.push_back("APP_RANK=" + std::to_string(r));
      env.push_back("APP_DIR=" + dir.string());
      env.push_back("APP_COUNTS=" + counts);
      std::vector<char*> envp;
      for (auto& s : env) envp.push_back(&s[0]);
      envp.push_back(nullptr);
      std::string self = fs::read_symlink("/proc/self/exe").string();
      char* args[] = {&self[0], nullptr};
      pid_t pid;
      if (posix_spawn(&pid, self.c_str(), nullptr, nullptr, args, envp.data()) != 0) return 2;
      pids.push_back(pid);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (pid_t pid : pids) {
      int status = 0;
      while (waitpid(pid, &status, WNOHANG) != pid) {
        if (std::chrono::steady_clock::now() > deadline) {
          for (pid_t p : pids) kill(p, SIGKILL);
          std::cerr << counts << ": a rank did not end within 120 s\n";
          return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::cerr << counts << ": a rank failed\n";
        return 1;
      }
    }
    int64_t total = 0;
    for (int64_t n : c) total += n;
    const torch::Tensor all = samples(total);
    const fs::path one = dir / "one";
    torchimage::save_image(all, (one / "sheet.png").string(), options().create_directories(true));
    torchimage::save_images(all, (one / "{index:03}.png").string(), options());
    if (bytes(dir / "sheet.png") != bytes(one / "sheet.png")) {
      std::cerr << counts << ": the sheet differs from one process's\n";
      return 1;
    }
    int64_t files = 0;
    for (const auto& e : fs::directory_iterator(dir / "each")) {
      ++files;
      if (bytes(e.path()) != bytes(one / e.path().filename())) {
        std::cerr << counts << ": " << e.path() << " differs\n";
        return 1;
      }
    }
    if (files != total) {
      std::cerr << counts << ": " << files << " files for " << total << " samples\n";
      return 1;
    }
    std::cout << counts << ": sheet and " << files << " files as one process writes them\n";
  }
  // The program's output file, as the other consumers write one.
  torchimage::save_image(samples(4), argc > 1 ? argv[1] : "out.png");
  return 0;
}
