// Times torchimage on the workloads that benchmarks/compare.py prepared, in
// process, on the same tensors torchvision was timed on.
//
//   torchimage_compare WORKDIR
// reads WORKDIR/workloads.txt, lines of
//   name input.pt output repeats key=value...
// (keys: nrow padding normalize value_range=lo,hi format quality
// compression_level engine), writes each output file once more after timing, and
// prints "name median_ms one_thread_ms one_thread_cpu_ms": the second
// median with every encoding on the calling thread (PNGs of 128 KiB of rows
// and more are otherwise deflated in two parts on two threads), the third
// the process's CPU time per call over those one-thread calls (unlike wall
// time, it does not count the time a shared or throttled machine keeps the
// process waiting).
//
// engine=NAME[:LEVEL] times another PNG deflate engine on the same path
// (to_pixels, filter with Pillow's choice, deflate, write_file): rle, lz
// (torchimage's engines alone), isal:0-3 (ISA-L, where the build has it),
// libdeflate:1-12 (where libdeflate-dev was found). Without it: save_image.
//
//   torchimage_compare WORKDIR --memory NAME
// measures the peak extra memory of the first save_image of workload NAME in
// this fresh process: the kernel's peak RSS (VmHWM) is reset after the input
// is loaded, then save_image runs once; prints "NAME peak_extra_kib
// file_kib pixels_kib" (pixels: the uint8 grid).
//
//   torchimage_compare WORKDIR --stages
// times save_image's stages on every workload (engine keys are ignored),
// each stage once per round, REPEATS rounds: prints "name file_bytes
// to_pixels_ms encode_ms replace_ms new_file_ms save_ms", medians:
// to_pixels (prepare, grid, quantize), encode_image (to_pixels and the PNG
// in memory), write_file of the encoded bytes over the previous file
// (temporary file and rename, as save_image writes) and to a new name
// (removed after each round), and save_image itself.
#include <torchimage/torchimage.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <torch/serialize.h>

#ifdef TORCHIMAGE_BENCH_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "codecs/png/png_chunks.h"   // private: this links the objects
#include "codecs/png/png_encoder.h"
#include "core/encode_context.h"  // SerialEncodingScope

namespace {

torch::Tensor load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  return torch::pickle_load(bytes).toTensor();
}

// A PNG deflate engine other than save_image's: name and level.
struct Engine {
  std::string name;  // empty: save_image itself
  int level = 0;
};

#ifdef TORCHIMAGE_BENCH_LIBDEFLATE
// A PNG with libdeflate's zlib stream of the rows filtered as torchimage's
// engines filter them: signature and IHDR as torchimage writes them (taken
// from its own file), one IDAT, IEND.
torchimage::Bytes libdeflate_png(const torchimage::PixelView& px, int level) {
  using namespace torchimage;
  const size_t row_bytes = px.row_bytes(), stride = row_bytes + 1;
  std::vector<uint8_t> filtered(stride * static_cast<size_t>(px.height));
  RowFilter filter(row_bytes, static_cast<int>(px.channels), FilterStrategy::Pillow);
  for (int64_t y = 0; y < px.height; ++y) {
    filter.filter(px.data + static_cast<size_t>(y) * row_bytes, filtered.data() + y * stride);
  }
  static thread_local libdeflate_compressor* compressor = nullptr;
  static thread_local int compressor_level = -1;
  if (compressor_level != level) {
    if (compressor) libdeflate_free_compressor(compressor);
    compressor = libdeflate_alloc_compressor(level);
    compressor_level = level;
  }
  Bytes out;
  // Signature and IHDR: 33 bytes, as every PNG encoder writes them.
  const Bytes header = encode_png_pixels(PixelView{px.data, 1, 1, px.channels, px.bit_depth},
                                         default_png_encoding());
  out.assign(header.begin(), header.begin() + 33);
  for (int k = 0; k < 4; ++k) out[16 + k] = static_cast<uint8_t>(px.width >> (24 - 8 * k));
  for (int k = 0; k < 4; ++k) out[20 + k] = static_cast<uint8_t>(px.height >> (24 - 8 * k));
  put_be32(out.data() + 29, crc_of_chunk(out.data() + 12, 17));
  const size_t chunk_start = out.size();
  const size_t bound = libdeflate_zlib_compress_bound(compressor, filtered.size());
  out.resize(chunk_start + 8 + bound);
  const size_t n = libdeflate_zlib_compress(compressor, filtered.data(), filtered.size(),
                                            out.data() + chunk_start + 8, bound);
  out.resize(chunk_start + 8 + n);
  close_idat_chunks(out, chunk_start);
  write_png_chunk(out, "IEND", nullptr, 0);
  return out;
}
#endif

// The PNG of `x` by `engine`, written to `path` as save_image writes.
void save_with(const torch::Tensor& x, const std::string& path,
               const torchimage::SaveImageOptions& options, const Engine& engine) {
  using namespace torchimage;
  const torch::Tensor px = to_pixels(x, options);  // H x W x C uint8
  const PixelView view{px.data_ptr<uint8_t>(), px.size(0), px.size(1), px.size(2), 8};
  Bytes bytes;
  if (engine.name == "libdeflate") {
#ifdef TORCHIMAGE_BENCH_LIBDEFLATE
    bytes = libdeflate_png(view, engine.level);
#else
    throw std::runtime_error("torchimage_compare was built without libdeflate");
#endif
  } else {
    PngEncoding e = default_png_encoding();
    if (engine.name == "rle") e.engine = DeflateEngine::Rle;
    else if (engine.name == "lz") e.engine = DeflateEngine::Lz;
    else if (engine.name == "isal") e.engine = DeflateEngine::Isal, e.level = engine.level;
    else throw std::runtime_error("unknown engine " + engine.name);
    bytes = encode_png_pixels(view, e);
  }
  write_file(path, bytes.data(), bytes.size());
}

torchimage::SaveImageOptions parse(std::istringstream& in, Engine* engine) {
  torchimage::SaveImageOptions o;
  std::string kv;
  while (in >> kv) {
    const auto eq = kv.find('=');
    const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "nrow") o.nrow(std::stoll(v));
    else if (k == "padding") o.padding(std::stoll(v));
    else if (k == "normalize") o.normalize(v == "1");
    else if (k == "value_range") {
      const auto comma = v.find(',');
      o.value_range({std::stod(v.substr(0, comma)), std::stod(v.substr(comma + 1))});
    } else if (k == "format") o.format(v);
    else if (k == "quality") o.quality(std::stoi(v));
    else if (k == "compression_level") o.compression_level(std::stoi(v));
    else if (k == "engine") {
      const auto colon = v.find(':');
      engine->name = v.substr(0, colon);
      if (colon != std::string::npos) engine->level = std::stoi(v.substr(colon + 1));
    } else throw std::runtime_error("unknown key " + k);
  }
  return o;
}

long vm_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  }
  return -1;
}

void save(const torch::Tensor& x, const std::string& path,
          const torchimage::SaveImageOptions& options, const Engine& engine) {
  if (engine.name.empty()) {
    torchimage::save_image(x, path, options);
  } else {
    save_with(x, path, options, engine);
  }
}

double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

double median_ms(const torch::Tensor& x, const std::string& path,
                 const torchimage::SaveImageOptions& options, const Engine& engine,
                 int repeats) {
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    save(x, path, options, engine);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

// --stages: see the top of this file.
void print_stages(const std::string& name, const torch::Tensor& x, const std::string& path,
                  const torchimage::SaveImageOptions& options, int repeats) {
  using Clock = std::chrono::steady_clock;
  const torch::Tensor bytes = torchimage::encode_image(x, options);
  const std::string fresh = path + ".new";
  torchimage::save_image(x, path, options);  // warm-up; the file to replace
  std::vector<double> ms[5];
  for (int i = 0; i < repeats; ++i) {
    auto t = Clock::now();
    auto lap = [&](int k) {
      const auto now = Clock::now();
      ms[k].push_back(std::chrono::duration<double, std::milli>(now - t).count());
      t = now;
    };
    torchimage::to_pixels(x, options);
    lap(0);
    torchimage::encode_image(x, options);
    lap(1);
    torchimage::write_file(path, bytes);
    lap(2);
    torchimage::write_file(fresh, bytes);
    lap(3);
    std::remove(fresh.c_str());
    t = Clock::now();
    torchimage::save_image(x, path, options);
    lap(4);
  }
  std::cout << name << " " << bytes.numel();
  for (auto& m : ms) {
    std::sort(m.begin(), m.end());
    std::cout << " " << m[m.size() / 2];
  }
  std::cout << std::endl;
}

int main(int argc, char** argv) {
  const bool memory = argc == 4 && std::string(argv[2]) == "--memory";
  const bool stages = argc == 3 && std::string(argv[2]) == "--stages";
  if (argc != 2 && !memory && !stages) {
    std::cerr << "usage: torchimage_compare WORKDIR [--memory NAME | --stages]\n";
    return 2;
  }
  const std::string dir = argv[1];
  std::ifstream list(dir + "/workloads.txt");
  std::string line;
  while (std::getline(list, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string name, input, output;
    int repeats = 0;
    in >> name >> input >> output >> repeats;
    Engine engine;
    const auto options = parse(in, &engine);
    if (memory && name != argv[3]) continue;
    const torch::Tensor x = load(dir + "/" + input);
    const std::string path = dir + "/" + output;
    if (stages) {
      print_stages(name, x, path, options, repeats);
      continue;
    }
    if (memory) {
      std::ofstream("/proc/self/clear_refs") << "5";  // reset VmHWM to the current RSS
      const long before = vm_kib("VmHWM:");
      torchimage::save_image(x, path, options);
      const long peak = vm_kib("VmHWM:");
      const auto pixels = torchimage::to_pixels(x, options);
      std::ifstream f(path, std::ios::binary | std::ios::ate);
      std::cout << name << " " << peak - before << " " << static_cast<long>(f.tellg()) / 1024 << " "
                << pixels.numel() / 1024 << std::endl;
      return 0;
    }
    save(x, path, options, engine);  // warm-up
    const double parallel = median_ms(x, path, options, engine, repeats);
    double serial = 0, cpu = 0;
    {
      torchimage::SerialEncodingScope one_thread;
      const double cpu0 = cpu_ms();
      serial = median_ms(x, path, options, engine, repeats);
      cpu = (cpu_ms() - cpu0) / repeats;
    }
    std::cout << name << " " << parallel << " " << serial << " " << cpu << std::endl;
  }
  return 0;
}
