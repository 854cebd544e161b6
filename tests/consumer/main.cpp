#include <torchimage/torchimage.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const auto batch = torch::rand({4, 3, 16, 16}) * 2 - 1;
  torchimage::save_image(batch, argv[1],
                         torchimage::SaveImageOptions().nrow(2).normalize(true).value_range({-1.0, 1.0}));
  const auto back = torchimage::read_image(argv[1]);
  const bool ok = torch::equal(back, torchimage::to_pixels(batch, torchimage::SaveImageOptions()
      .nrow(2).normalize(true).value_range({-1.0, 1.0})).permute({2, 0, 1}));
  std::cout << (ok ? "consumer ok" : "consumer MISMATCH") << "\n";
  return ok ? 0 : 1;
}
