// Times torchimage on the workloads that benchmarks/compare.py prepared, in
// process, on the same tensors torchvision was timed on.
//
//   torchimage_compare WORKDIR
// reads WORKDIR/workloads.txt, lines of
//   name input.pt output repeats key=value...
// (keys: nrow padding normalize value_range=lo,hi format quality
// compression_level), writes each output file once more after timing, and
// prints "name median_ms one_thread_ms": the second median with every
// encoding on the calling thread (large PNGs are otherwise deflated in two
// parts on two threads).
//
//   torchimage_compare WORKDIR --memory NAME
// measures the peak extra memory of the first save_image of workload NAME in
// this fresh process: the kernel's peak RSS (VmHWM) is reset after the input
// is loaded, then save_image runs once; prints "NAME peak_extra_kib
// file_kib pixels_kib" (pixels: the uint8 grid).
#include <torchimage/torchimage.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <torch/serialize.h>

#include "core/encode_context.h"  // SerialEncodingScope (private: this links the objects)

namespace {

torch::Tensor load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  return torch::pickle_load(bytes).toTensor();
}

torchimage::SaveImageOptions parse(std::istringstream& in) {
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
    else throw std::runtime_error("unknown key " + k);
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

double median_ms(const torch::Tensor& x, const std::string& path,
                 const torchimage::SaveImageOptions& options, int repeats) {
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    torchimage::save_image(x, path, options);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const bool memory = argc == 4 && std::string(argv[2]) == "--memory";
  if (argc != 2 && !memory) {
    std::cerr << "usage: torchimage_compare WORKDIR [--memory NAME]\n";
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
    const auto options = parse(in);
    if (memory && name != argv[3]) continue;
    const torch::Tensor x = load(dir + "/" + input);
    const std::string path = dir + "/" + output;
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
    torchimage::save_image(x, path, options);  // warm-up
    const double parallel = median_ms(x, path, options, repeats);
    double serial = 0;
    {
      torchimage::SerialEncodingScope one_thread;
      serial = median_ms(x, path, options, repeats);
    }
    std::cout << name << " " << parallel << " " << serial << std::endl;
  }
  return 0;
}
