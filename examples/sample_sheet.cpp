// The main job in miniature: a batch of generated samples in [-1, 1] becomes
// an 8x8 sample sheet, exactly as torchvision.utils.save_image would write it.
//
//   sample_sheet [OUTPUT_DIR]
#include <torchimage/torchimage.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include <torch/torch.h>

namespace {

// 64 procedural 3x64x64 "samples": soft coloured blobs on gradients, in [-1, 1]
// like a tanh generator's output.
torch::Tensor fake_generator_output(int64_t n) {
  torch::manual_seed(0);
  const auto coords = torch::linspace(-1, 1, 64);
  const auto yy = coords.view({1, 1, 64, 1});
  const auto xx = coords.view({1, 1, 1, 64});
  const auto cx = torch::rand({n, 1, 1, 1}) * 1.2 - 0.6;
  const auto cy = torch::rand({n, 1, 1, 1}) * 1.2 - 0.6;
  const auto r = torch::rand({n, 1, 1, 1}) * 0.3 + 0.15;
  const auto blob = torch::exp(-((xx - cx).pow(2) + (yy - cy).pow(2)) / (2 * r * r));
  const auto colour = torch::rand({n, 3, 1, 1}) * 2 - 1;
  const auto background = torch::rand({n, 3, 1, 1}) * 0.6 - 0.3 + 0.4 * yy;
  return (background * (1 - blob) + colour * blob).clamp(-1, 1);
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : "torchimage-samples";
  const torch::Tensor samples = fake_generator_output(64);

  const auto start = std::chrono::steady_clock::now();
  const std::string path = (dir / "sample_sheet.png").string();
  torchimage::save_image(samples, path,
                         torchimage::SaveImageOptions()
                             .nrow(8)
                             .normalize(true)
                             .value_range({-1.0, 1.0})
                             .create_directories(true));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  std::cout << "wrote a sample sheet of " << samples.size(0) << " images to "
            << std::filesystem::absolute(path).string() << " in " << ms << " ms\n";
  return 0;
}
