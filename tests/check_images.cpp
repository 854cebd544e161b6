// Checks that image files exist and decode to the expected size:
//
//   check_images WIDTH HEIGHT CHANNELS FILE...
//
// Exits 0 when every FILE decodes (torchimage::read_image) to a
// (CHANNELS, HEIGHT, WIDTH) uint8 image, 1 otherwise, naming each failure.
#include <torchimage/io.h>

#include <c10/util/Exception.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: check_images WIDTH HEIGHT CHANNELS FILE...\n";
    return 2;
  }
  const long width = std::atol(argv[1]);
  const long height = std::atol(argv[2]);
  const long channels = std::atol(argv[3]);
  int failures = 0;
  for (int i = 4; i < argc; ++i) {
    const std::string path = argv[i];
    try {
      const auto image = torchimage::read_image(path);
      if (image.dim() != 3 || image.size(0) != channels || image.size(1) != height ||
          image.size(2) != width || image.scalar_type() != torch::kUInt8) {
        std::cerr << path << ": decoded to " << image.sizes() << " " << image.scalar_type()
                  << ", expected [" << channels << ", " << height << ", " << width
                  << "] Byte\n";
        ++failures;
      }
    } catch (const c10::Error& e) {
      std::cerr << path << ": " << e.what_without_backtrace() << "\n";
      ++failures;
    } catch (const std::exception& e) {
      std::cerr << path << ": " << e.what() << "\n";
      ++failures;
    }
  }
  const int checked = argc - 4;
  if (failures) {
    std::cerr << failures << " of " << checked << " images failed\n";
    return 1;
  }
  std::cout << checked << " images decode to " << width << "x" << height << "x" << channels
            << "\n";
  return 0;
}
