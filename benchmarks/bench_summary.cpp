// How long SummaryWriter's calls keep the caller, beside ImageWriter::save_image
// of the same tensor and options: the median and 90th percentile over N calls
// of each, interleaved (one call of each per round, with a flush of both
// after each round, so that every call finds idle workers and an empty
// queue, as a training loop that logs once per epoch does).
//
//   bench_summary [ROUNDS] [OUT_DIR]     (default 200 rounds, a temporary folder)
//
// Cases: the demo's 64x3x32x32 sheet (kept by the caller: copied; handed
// over: kept), a 3x256x256 image, and add_scalar.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <torchimage/torchimage.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  std::vector<double> us;
  double median() {
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  }
  double p90() {
    std::sort(us.begin(), us.end());
    return us[us.size() * 9 / 10];
  }
};

double time_us(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  std::string dir = argc > 2 ? argv[2] : "";
  if (dir.empty()) {
    char templ[] = "/tmp/bench_summary-XXXXXX";
    dir = ::mkdtemp(templ);
  }
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(dir) / "images");
  torch::manual_seed(0);
  const auto sheet = torchimage::SaveImageOptions().nrow(8).normalize(true).value_range({-1.0, 1.0});
  torchimage::ImageWriter images(torchimage::ImageWriterOptions().threads(1));
  torchimage::SummaryWriter board((fs::path(dir) / "runs").string(),
                                  torchimage::SummaryWriterOptions().threads(1));

  struct Case {
    const char* name;
    torch::Tensor tensor;
    bool handed_over;
  };
  const std::vector<Case> cases = {
      {"64x3x32x32 sheet, kept (copied)", torch::rand({64, 3, 32, 32}) * 2 - 1, false},
      {"64x3x32x32 sheet, handed over", torch::rand({64, 3, 32, 32}) * 2 - 1, true},
      {"3x256x256 image, kept (copied)", torch::rand({3, 256, 256}), false},
  };
  std::printf("bench_summary: %d rounds, 1 worker thread each, torch threads %d\n", rounds,
              torch::get_num_threads());
  std::printf("%-34s %28s %28s\n", "call", "ImageWriter::save_image us", "SummaryWriter::add_image us");
  for (const Case& c : cases) {
    Stats save, add;
    for (int r = 0; r < rounds; ++r) {
      const std::string path = (fs::path(dir) / "images" / "sheet.png").string();
      if (c.handed_over) {
        torch::Tensor a = c.tensor.clone(), b = c.tensor.clone();
        save.us.push_back(time_us([&] { images.save_image(std::move(a), path, sheet); }));
        add.us.push_back(time_us([&] { board.add_image("sheet", std::move(b), r, sheet); }));
      } else {
        save.us.push_back(time_us([&] { images.save_image(c.tensor, path, sheet); }));
        add.us.push_back(time_us([&] { board.add_image("sheet", c.tensor, r, sheet); }));
      }
      images.flush();
      board.flush();
    }
    std::printf("%-34s %14.1f (p90 %7.1f) %14.1f (p90 %7.1f)\n", c.name, save.median(), save.p90(),
                add.median(), add.p90());
  }
  Stats scalar;
  for (int r = 0; r < rounds * 10; ++r) {
    scalar.us.push_back(time_us([&] { board.add_scalar("loss", 1.0 / (r + 1), r); }));
    if (r % 100 == 99) board.flush();
  }
  board.flush();
  std::printf("%-34s %28s %14.1f (p90 %7.1f)\n", "add_scalar", "-", scalar.median(), scalar.p90());
  std::printf("event file: %s\n", board.file_path().c_str());
  return 0;
}
