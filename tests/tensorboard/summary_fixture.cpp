// Writes TensorBoard logs through the public API only (an outside program:
// it links torchimage::torchimage and includes <torchimage/torchimage.h>),
// for check_tensorboard.py to read back with the real tensorboard package.
//
//   summary_fixture write DIR    DIR/run: scalars, images, text and
//                                histograms over 4 steps (and a second
//                                writer's scalars); DIR/tensors/*.pt
//                                the inputs (torch::pickle_save) and
//                                to_pixels of each image; DIR/scalars.pt the
//                                scalar values (float64)
//   summary_fixture forever DIR  logs step after step (a scalar, then a
//                                small image) until killed
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <torchimage/torchimage.h>

namespace {

void save(const torch::Tensor& t, const std::string& path) {
  const std::vector<char> bytes = torch::pickle_save(t);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

int write(const std::string& dir) {
  using torchimage::SaveImageOptions;
  std::filesystem::create_directories(dir + "/tensors");
  torch::manual_seed(42);
  const auto sheet = SaveImageOptions().nrow(4).normalize(true).value_range({-1.0, 1.0});
  std::vector<double> scalars;
  {
    torchimage::SummaryWriter writer(dir + "/run", torchimage::SummaryWriterOptions().threads(3));
    // A second writer in the same folder: its own file, read beside the first.
    torchimage::SummaryWriter second(dir + "/run");
    for (int64_t step = 0; step < 4; ++step) {
      const std::string s = std::to_string(step);
      // The README's loop: a loss and a sample sheet per step.
      const double loss = 1.0 / (step + 3) + 1e-9 * step;  // not a float: logged as one
      scalars.push_back(loss);
      writer.add_scalar("loss/g", loss, step);
      second.add_scalar("loss/d", -loss, step);
      torch::Tensor fake = torch::rand({10, 3, 12, 9}) * 2 - 1;
      save(fake, dir + "/tensors/samples_" + s + ".pt");
      save(torchimage::to_pixels(fake, sheet), dir + "/tensors/samples_" + s + ".pixels.pt");
      writer.add_image("samples", fake, step, sheet);
      // A gray image (2-D) with default options, a handed-over temporary.
      torch::Tensor gray = torch::rand({7, 11});
      save(gray, dir + "/tensors/gray_" + s + ".pt");
      save(torchimage::to_pixels(gray), dir + "/tensors/gray_" + s + ".pixels.pt");
      writer.add_image("gray", gray.clone(), step);
      // A histogram of values spanning signs and magnitudes.
      torch::Tensor w = torch::randn({1000}) * std::pow(10.0, static_cast<double>(step) - 1);
      w.index_put_({0}, 0.0);
      save(w, dir + "/tensors/weights_" + s + ".pt");
      writer.add_histogram("weights", w, step);
      writer.add_text("note", "step " + s + " \xc3\xa9t\xc3\xa9", step);
    }
    writer.flush();
  }
  save(torch::tensor(scalars, torch::kDouble), dir + "/scalars.pt");
  return 0;
}

int forever(const std::string& dir) {
  torchimage::SummaryWriter writer(dir, torchimage::SummaryWriterOptions().threads(2));
  torch::manual_seed(0);
  const torch::Tensor img = torch::rand({3, 32, 32});
  for (int64_t step = 0;; ++step) {
    writer.add_scalar("scalar", static_cast<double>(step), step);
    writer.add_image("image", img, step);
    if (step % 64 == 0) writer.flush();  // keeps the backlog small
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "write") == 0) return write(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], "forever") == 0) return forever(argv[2]);
  std::fprintf(stderr, "usage: summary_fixture write|forever DIR\n");
  return 2;
}
