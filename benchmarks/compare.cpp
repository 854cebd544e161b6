// Times torchimage on the workloads that benchmarks/compare.py prepared, in
// process, on the same tensors torchvision was timed on.
//
//   torchimage_compare WORKDIR
// reads WORKDIR/workloads.txt, lines of
//   name input.pt output repeats key=value...
// (keys: nrow padding normalize value_range=lo,hi format quality
// compression_level), writes each output file once more after timing, and
// prints "name median_ms".
#include <torchimage/torchimage.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <torch/serialize.h>

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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: torchimage_compare WORKDIR\n";
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
    const torch::Tensor x = load(dir + "/" + input);
    const std::string path = dir + "/" + output;
    torchimage::save_image(x, path, options);  // warm-up
    std::vector<double> ms;
    for (int i = 0; i < repeats; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      torchimage::save_image(x, path, options);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::cout << name << " " << ms[ms.size() / 2] << std::endl;
  }
  return 0;
}
