// Google Benchmark of the PNG stages on realistic content: the 64-sheet of
// photo crops (as benchmarks/compare.py makes it, here from the photos with
// a fixed seed), for every deflate engine, level and filter strategy. Each
// run reports the encoded size as a counter, so time x size can be compared.
//
//   build/benchmarks/bench_png [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <torchimage/torchimage.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "grid/fused_quantize.h"
#include "codecs/png/png_encoder.h"
#include "grid/quantize.h"

namespace {

using namespace torchimage;

// 64 random crops of the photos, 64x64, in [-1, 1].
const at::Tensor& photo_batch(int64_t n, int64_t size) {
  static std::map<std::pair<int64_t, int64_t>, at::Tensor> cache;
  auto& t = cache[{n, size}];
  if (t.defined()) return t;
  std::vector<at::Tensor> photos;
  for (const char* name : {"astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"}) {
    photos.push_back(read_image(std::string(TORCHIMAGE_PHOTOS) + "/" + name).to(at::kFloat) / 255);
  }
  at::manual_seed(0);
  std::vector<at::Tensor> crops;
  for (int64_t i = 0; i < n; ++i) {
    const auto& p = photos[i % photos.size()];
    const int64_t h = p.size(1), w = p.size(2), side = std::min(h, w) / 2;
    const int64_t y = at::randint(h - side + 1, {1}).item<int64_t>();
    const int64_t x = at::randint(w - side + 1, {1}).item<int64_t>();
    auto crop = p.slice(1, y, y + side).slice(2, x, x + side).unsqueeze(0);
    crops.push_back(at::upsample_bilinear2d(crop, {size, size}, false)[0]);
  }
  t = (at::stack(crops).clamp(0, 1) * 2 - 1).contiguous();
  return t;
}

const MakeGridOptions& sheet_options() {
  static const MakeGridOptions o = MakeGridOptions().normalize(true).value_range({-1.0, 1.0});
  return o;
}

const at::Tensor& sheet_pixels(int64_t n, int64_t size, int64_t nrow) {
  static std::map<std::tuple<int64_t, int64_t, int64_t>, at::Tensor> cache;
  auto& t = cache[{n, size, nrow}];
  if (!t.defined()) t = quantize(make_grid(photo_batch(n, size), MakeGridOptions(sheet_options()).nrow(nrow)));
  return t;
}

void encode(benchmark::State& state, DeflateEngine engine, int level, FilterStrategy filter,
            int64_t n, int64_t size, int64_t nrow) {
  const at::Tensor& px = sheet_pixels(n, size, nrow);
  PixelView view{px.data_ptr<uint8_t>(), px.size(0), px.size(1), px.size(2), 8};
  PngEncoding e{engine, level, filter};
  size_t bytes = 0;
  for (auto _ : state) {
    Bytes out = encode_png_pixels(view, e);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(state.iterations() * px.numel());
}

void register_all() {
  struct Workload { const char* name; int64_t n, size, nrow; };
  const Workload workloads[] = {{"sheet64", 64, 64, 8}, {"big16x256", 16, 256, 4}};
  struct Filter { const char* name; FilterStrategy f; };
  const Filter filters[] = {{"pillow", FilterStrategy::Pillow}, {"paeth", FilterStrategy::Paeth},
                            {"up", FilterStrategy::Up}, {"sub", FilterStrategy::Sub}};
  for (const auto& w : workloads) {
    for (int level = 0; level <= 9; ++level) {
      benchmark::RegisterBenchmark(
          (std::string("zlib_pillow/") + w.name + "/level" + std::to_string(level)).c_str(),
          [=](benchmark::State& s) { encode(s, DeflateEngine::PillowZlib, level, FilterStrategy::Pillow, w.n, w.size, w.nrow); })
          ->Unit(benchmark::kMillisecond);
    }
    for (const auto& f : filters) {
      benchmark::RegisterBenchmark(
          (std::string("rle/") + w.name + "/" + f.name).c_str(),
          [=](benchmark::State& s) { encode(s, DeflateEngine::Rle, 0, f.f, w.n, w.size, w.nrow); })
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark((std::string("lz/") + w.name + "/pillow").c_str(),
                                 [=](benchmark::State& s) { encode(s, DeflateEngine::Lz, 0, FilterStrategy::Pillow, w.n, w.size, w.nrow); })
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("default/") + w.name + "/pillow").c_str(),
                                 [=](benchmark::State& s) { encode(s, DeflateEngine::Auto, 0, FilterStrategy::Pillow, w.n, w.size, w.nrow); })
        ->Unit(benchmark::kMillisecond);
    if (have_isal()) {
      for (const auto& f : filters) {
        for (int level = 0; level <= 3; ++level) {
          benchmark::RegisterBenchmark(
              (std::string("isal/") + w.name + "/" + f.name + "/level" + std::to_string(level)).c_str(),
              [=](benchmark::State& s) { encode(s, DeflateEngine::Isal, level, f.f, w.n, w.size, w.nrow); })
              ->Unit(benchmark::kMillisecond);
        }
      }
    }
    benchmark::RegisterBenchmark((std::string("quantize_aten/") + w.name).c_str(),
                                 [=](benchmark::State& s) {
                                   const auto& x = photo_batch(w.n, w.size);
                                   for (auto _ : s) benchmark::DoNotOptimize(quantize(make_grid(x, MakeGridOptions(sheet_options()).nrow(w.nrow))));
                                 })->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("quantize_fused/") + w.name).c_str(),
                                 [=](benchmark::State& s) {
                                   const auto& x = photo_batch(w.n, w.size);
                                   for (auto _ : s) benchmark::DoNotOptimize(fused_grid_pixels(x, MakeGridOptions(sheet_options()).nrow(w.nrow)));
                                 })->Unit(benchmark::kMillisecond);
    // What ImageWriter::save_image can do on the caller's thread (its
    // stall): clone the input, copy it into a reused buffer, or render the
    // uint8 grid (the fused pass) so that the worker only encodes.
    benchmark::RegisterBenchmark((std::string("snapshot_clone/") + w.name).c_str(),
                                 [=](benchmark::State& s) {
                                   const auto& x = photo_batch(w.n, w.size);
                                   for (auto _ : s) benchmark::DoNotOptimize(x.clone());
                                 })->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((std::string("snapshot_copy_reused/") + w.name).c_str(),
                                 [=](benchmark::State& s) {
                                   const auto& x = photo_batch(w.n, w.size);
                                   at::Tensor buffer = at::empty_like(x).fill_(0);
                                   for (auto _ : s) benchmark::DoNotOptimize(buffer.copy_(x));
                                 })->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((std::string("snapshot_fused/") + w.name).c_str(),
                                 [=](benchmark::State& s) {
                                   const auto& x = photo_batch(w.n, w.size);
                                   for (auto _ : s) benchmark::DoNotOptimize(fused_grid_pixels(x, MakeGridOptions(sheet_options()).nrow(w.nrow)));
                                 })->Unit(benchmark::kMicrosecond);
  }
  // One 3x64x64 sample at a time, as save_images encodes each file
  // (issue 4's per-sample export): the whole render (checks, fused
  // quantization, filter, deflate, chunks), and its stages.
  benchmark::RegisterBenchmark("sample64/render", [](benchmark::State& s) {
    const auto& x = photo_batch(64, 64);
    const auto o = SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
    int64_t i = 0;
    for (auto _ : s) benchmark::DoNotOptimize(encode_image(x[i++ % 64], o));
  })->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("sample64/pixels", [](benchmark::State& s) {
    const auto& x = photo_batch(64, 64);
    const auto o = SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
    int64_t i = 0;
    for (auto _ : s) benchmark::DoNotOptimize(to_pixels(x[i++ % 64], o));
  })->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("sample64/png_from_pixels", [](benchmark::State& s) {
    const auto& px = sheet_pixels(64, 64, 8);
    const at::Tensor one = px.narrow(0, 2, 64).narrow(1, 2, 64).contiguous();
    PixelView view{one.data_ptr<uint8_t>(), 64, 64, 3, 8};
    for (auto _ : s) benchmark::DoNotOptimize(encode_png_pixels(view, default_png_encoding()));
  })->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(1);
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
