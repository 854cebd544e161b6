// The main job: a small DCGAN trained in LibTorch C++, whose sample sheets are
// written by torchimage exactly as torchvision.utils.save_image would write
// them, without stalling the training loop.
//
// The data set is drawn in-process (no download): filled circles and squares
// in vivid colours on soft gradient backgrounds, 3x32x32 in [-1, 1].
//
// Each epoch writes OUT/epoch_NNN.png, an 8x8 sheet of a fixed latent batch,
// through an ImageWriter (the call only snapshots the tensor; quantization,
// PNG encoding and the atomic write run on a worker thread). At the end,
// OUT/samples/00000.png ... holds one file per sample (an FID-style folder),
// written by save_images. A SummaryWriter logs both losses and the same
// sheet every epoch to OUT/runs/, for TensorBoard (the demo prints the
// `tensorboard --logdir` command). OUT/progress.png is an APNG of the same
// sheets, a frame per epoch (AnimationWriter: a complete animation after
// every epoch).
//
//   gan_demo [--epochs N] [--batches-per-epoch N] [--samples N] [--out DIR]
#include <torchimage/torchimage.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr int64_t kImageSize = 32;
constexpr int64_t kLatent = 64;
constexpr int64_t kBatch = 32;
constexpr int64_t kWidth = 32;  // feature maps of the first/last layer

struct Flags {
  int epochs = 5;
  int batches_per_epoch = 200;
  int samples = 256;
  std::string out = "gan-demo-out";
};

void usage(std::ostream& os) {
  const Flags d;
  os << "usage: gan_demo [options]\n"
        "Trains a small DCGAN on procedurally drawn shapes (3x32x32) and writes\n"
        "its samples with torchimage.\n\n"
        "  --epochs N             epochs to train (default "
     << d.epochs << ")\n"
        "  --batches-per-epoch N  batches of "
     << kBatch << " images per epoch; the data set holds this many (default "
     << d.batches_per_epoch << ")\n"
        "  --samples N            per-sample files written at the end into OUT/samples (default "
     << d.samples << ")\n"
        "  --out DIR              output directory (default "
     << d.out << ")\n"
        "  --help                 this text\n";
}

int parse_positive(const std::string& flag, const char* value, bool allow_zero) {
  char* end = nullptr;
  const long v = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || v < (allow_zero ? 0 : 1) || v > 1000000) {
    std::cerr << "gan_demo: " << flag << " needs a " << (allow_zero ? "non-negative" : "positive")
              << " integer, not '" << value << "'\n";
    std::exit(2);
  }
  return static_cast<int>(v);
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      std::exit(0);
    }
    std::string name = arg;
    const char* value = nullptr;
    const auto eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = argv[i] + eq + 1;
    }
    const bool known = name == "--epochs" || name == "--batches-per-epoch" ||
                       name == "--samples" || name == "--out";
    if (!known) {
      std::cerr << "gan_demo: unknown argument '" << arg << "'\n";
      usage(std::cerr);
      std::exit(2);
    }
    if (value == nullptr) {
      if (i + 1 >= argc) {
        std::cerr << "gan_demo: " << name << " needs a value\n";
        std::exit(2);
      }
      value = argv[++i];
    }
    if (name == "--epochs") f.epochs = parse_positive(name, value, false);
    else if (name == "--batches-per-epoch") f.batches_per_epoch = parse_positive(name, value, false);
    else if (name == "--samples") f.samples = parse_positive(name, value, true);
    else f.out = value;
  }
  if (f.out.empty()) {
    std::cerr << "gan_demo: --out needs a directory\n";
    std::exit(2);
  }
  return f;
}

// n images, 3x32x32 in [-1, 1]: a dusk-sky gradient (dark blue at the top to
// a lighter, randomly tinted blue-green at the bottom, tilted up to +-23
// degrees) with one filled circle or square (soft 1-pixel edge) in one of
// eight vivid colours.
torch::Tensor draw_shapes(int64_t n) {
  const auto coords = torch::linspace(-1, 1, kImageSize);
  const auto yy = coords.view({1, 1, kImageSize, 1});
  const auto xx = coords.view({1, 1, 1, kImageSize});

  const auto angle = (torch::rand({n, 1, 1, 1}) - 0.5) * 0.8 + M_PI / 2;
  const auto t = ((torch::cos(angle) * xx + torch::sin(angle) * yy) / std::sqrt(2.0) + 1) / 2;
  const auto from = torch::tensor({-0.8f, -0.75f, -0.45f}).view({1, 3, 1, 1}) +
                    (torch::rand({n, 3, 1, 1}) - 0.5) * 0.3;
  const auto to = torch::tensor({-0.35f, -0.1f, 0.2f}).view({1, 3, 1, 1}) +
                  (torch::rand({n, 3, 1, 1}) - 0.5) * 0.6;
  const auto background = from * (1 - t) + to * t;

  const auto palette = torch::tensor({1.0f, -0.9f, -0.9f,    // red
                                      -0.9f, 1.0f, -0.9f,    // green
                                      -0.8f, -0.4f, 1.0f,    // blue
                                      1.0f, 1.0f, -0.9f,     // yellow
                                      1.0f, -0.9f, 1.0f,     // magenta
                                      -0.9f, 1.0f, 1.0f,     // cyan
                                      1.0f, 0.2f, -0.9f,     // orange
                                      1.0f, 1.0f, 1.0f})     // white
                           .view({8, 3});
  const auto colour = palette.index_select(0, torch::randint(0, 8, {n})).view({n, 3, 1, 1});

  const auto radius = torch::rand({n, 1, 1, 1}) * 0.3 + 0.3;
  const auto cx = (torch::rand({n, 1, 1, 1}) * 2 - 1) * (0.9 - radius);
  const auto cy = (torch::rand({n, 1, 1, 1}) * 2 - 1) * (0.9 - radius);
  const auto dx = xx - cx;
  const auto dy = yy - cy;
  const auto circle = torch::sqrt(dx * dx + dy * dy);
  const auto square = torch::maximum(dx.abs(), dy.abs()) * 1.12;  // ~ same area look
  const auto is_circle = torch::rand({n, 1, 1, 1}) < 0.5;
  const auto distance = torch::where(is_circle, circle, square);
  const double pixel = 2.0 / kImageSize;
  const auto mask = ((radius - distance) / pixel + 0.5).clamp(0, 1);

  return (background * (1 - mask) + colour * mask).clamp(-1, 1);
}

// DCGAN (Radford et al.) for 32x32: the latent is projected to 4x4 (the
// paper's first layer is a matrix multiplication too), then upsampled
// 4x4 -> 8x8 -> 16x16 -> 32x32. Each upsampling step is nearest x2 followed
// by a 3x3 convolution rather than a ConvTranspose2d: same shapes, no
// checkerboard artifacts, and on a CPU LibTorch without MKL (Debian's)
// ConvTranspose2d falls back to a reference-BLAS path about 30 times slower
// than Conv2d's oneDNN kernels.
torch::nn::Sequential make_generator() {
  namespace nn = torch::nn;
  auto upsample = [] {
    return nn::Upsample(
        nn::UpsampleOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
  };
  auto conv = [](int64_t in, int64_t out) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
  };
  return nn::Sequential(
      nn::Linear(nn::LinearOptions(kLatent, kWidth * 4 * 4 * 4).bias(false)),
      nn::Unflatten(nn::UnflattenOptions(1, {kWidth * 4, 4, 4})),
      nn::BatchNorm2d(kWidth * 4), nn::ReLU(true),                           // 4x4
      upsample(), conv(kWidth * 4, kWidth * 2), nn::BatchNorm2d(kWidth * 2),
      nn::ReLU(true),                                                        // 8x8
      upsample(), conv(kWidth * 2, kWidth), nn::BatchNorm2d(kWidth),
      nn::ReLU(true),                                                        // 16x16
      upsample(), conv(kWidth, 3), nn::Tanh());                              // 32x32
}

torch::nn::Sequential make_discriminator() {
  namespace nn = torch::nn;
  auto down = [](int64_t in, int64_t out, int64_t stride, int64_t pad) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(stride).padding(pad).bias(false));
  };
  auto leaky = [] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2).inplace(true)); };
  return nn::Sequential(down(3, kWidth, 2, 1), leaky(),                          // 16x16
                        down(kWidth, kWidth * 2, 2, 1), nn::BatchNorm2d(kWidth * 2),
                        leaky(),                                                 // 8x8
                        down(kWidth * 2, kWidth * 4, 2, 1), nn::BatchNorm2d(kWidth * 4),
                        leaky(),                                                 // 4x4
                        down(kWidth * 4, 1, 1, 0), nn::Sigmoid());               // 1x1
}

// DCGAN initialisation: conv weights N(0, 0.02), batch-norm weights N(1, 0.02).
void init_weights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    const std::string name = m->name();
    if (name.find("Conv") != std::string::npos || name.find("Linear") != std::string::npos) {
      m->named_parameters(false)["weight"].normal_(0.0, 0.02);
    } else if (name.find("BatchNorm") != std::string::npos) {
      m->named_parameters(false)["weight"].normal_(1.0, 0.02);
      m->named_parameters(false)["bias"].zero_();
    }
  }
}

std::string epoch_name(int epoch) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch_%03d.png", epoch);
  return buf;
}

}  // namespace

int run(const Flags& flags) {
  const std::filesystem::path out = flags.out;
  std::filesystem::create_directories(out);

  torch::manual_seed(1);
  const int64_t dataset_size = int64_t{flags.batches_per_epoch} * kBatch;
  const torch::Tensor dataset = draw_shapes(dataset_size);
  torchimage::save_image(dataset.slice(0, 0, 64), (out / "real_samples.png").string(),
                         torchimage::SaveImageOptions().normalize(true).value_range({-1.0, 1.0}));

  auto generator = make_generator();
  auto discriminator = make_discriminator();
  init_weights(*generator);
  init_weights(*discriminator);
  torch::optim::Adam opt_g(generator->parameters(),
                           torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}));
  torch::optim::Adam opt_d(discriminator->parameters(),
                           torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}));

  const torch::Tensor fixed_noise = torch::randn({64, kLatent});
  // One-sided label smoothing: the discriminator aims at 0.9 for real images.
  const torch::Tensor real_target = torch::full({kBatch}, 0.9f);
  const torch::Tensor fake_target = torch::full({kBatch}, 0.0f);
  const torch::Tensor generator_target = torch::full({kBatch}, 1.0f);

  std::cout << "gan_demo: DCGAN on " << dataset_size << " procedurally drawn 3x32x32 shapes, "
            << flags.epochs << " epochs x " << flags.batches_per_epoch << " batches of " << kBatch
            << " (torch threads: " << torch::get_num_threads() << ")\n";

  // One worker thread is plenty: a 274x274 sheet takes a few milliseconds.
  torchimage::ImageWriter writer(torchimage::ImageWriterOptions().threads(1));
  torchimage::AnimationWriter progress((out / "progress.png").string(),
                                       torchimage::AnimationOptions().fps(2));
  // TensorBoard: the losses and the sheet, in OUT/runs/events.out.tfevents.*
  torchimage::SummaryWriter board((out / "runs").string(),
                                  torchimage::SummaryWriterOptions().threads(1));

  double total_train_ms = 0;
  std::vector<double> stalls_ms;
  std::vector<double> board_stalls_ms;  // the SummaryWriter's three calls
  for (int epoch = 1; epoch <= flags.epochs; ++epoch) {
    const auto train_start = Clock::now();
    const auto order = torch::randperm(dataset_size);
    double sum_d = 0, sum_g = 0;
    for (int b = 0; b < flags.batches_per_epoch; ++b) {
      const auto real = dataset.index_select(0, order.slice(0, b * kBatch, (b + 1) * kBatch));

      // Discriminator: real -> 0.9, fake -> 0.
      opt_d.zero_grad();
      const auto noise = torch::randn({kBatch, kLatent});
      const auto fake = generator->forward(noise);
      const auto loss_real =
          torch::binary_cross_entropy(discriminator->forward(real).view(-1), real_target);
      const auto loss_fake =
          torch::binary_cross_entropy(discriminator->forward(fake.detach()).view(-1), fake_target);
      const auto loss_d = loss_real + loss_fake;
      loss_d.backward();
      opt_d.step();

      // Generator: make the discriminator say 1.
      opt_g.zero_grad();
      const auto loss_g =
          torch::binary_cross_entropy(discriminator->forward(fake).view(-1), generator_target);
      loss_g.backward();
      opt_g.step();

      sum_d += loss_d.item<double>();
      sum_g += loss_g.item<double>();
    }
    const double train_ms = ms_since(train_start);
    total_train_ms += train_ms;

    // The epoch's sample sheet. save_image takes the tensor and returns;
    // make_grid, quantization, PNG encoding and the atomic write happen on
    // the writer's thread while the next epoch trains. `fake` is handed over
    // (std::move): nothing else holds its memory, so the writer keeps it
    // instead of copying it (an lvalue would be copied, so that the caller
    // could overwrite it).
    torch::Tensor fake;
    {
      torch::NoGradGuard no_grad;
      fake = generator->forward(fixed_noise);  // 64 x 3 x 32 x 32, tanh: [-1, 1]
    }
    const std::string path = (out / epoch_name(epoch)).string();  // OUT/epoch_001.png
    const auto sheet = torchimage::SaveImageOptions().nrow(8).normalize(true).value_range({-1.0, 1.0});
    const auto board_start = Clock::now();
    board.add_scalar("loss/discriminator", sum_d / flags.batches_per_epoch, epoch);
    board.add_scalar("loss/generator", sum_g / flags.batches_per_epoch, epoch);
    board.add_image("samples", fake, epoch, sheet);  // copied: `fake` is still used below
    const double board_ms = ms_since(board_start);
    board_stalls_ms.push_back(board_ms);
    // One frame more in OUT/progress.png (encoded here, in this thread: one
    // frame, then the file re-assembled from the kept frames and replaced).
    progress.add_frame(fake, sheet);
    const auto call_start = Clock::now();
    writer.save_image(std::move(fake), path, sheet);
    const double stall_ms = ms_since(call_start);
    stalls_ms.push_back(stall_ms);

    std::printf("epoch %d/%d  loss D %.3f  G %.3f  train %.1f s  save_image blocked %.3f ms  "
                "tensorboard %.3f ms  -> %s\n",
                epoch, flags.epochs, sum_d / flags.batches_per_epoch,
                sum_g / flags.batches_per_epoch, train_ms / 1000, stall_ms, board_ms,
                path.c_str());
    std::fflush(stdout);
  }
  const auto flush_start = Clock::now();
  writer.flush();  // throws if any sheet failed to write
  board.flush();   // the same for the event file
  const double flush_ms = ms_since(flush_start);

  // The FID-style folder: one PNG per sample, samples/00000.png, ... made in
  // eval mode (batch-norm running statistics), so that a sample does not
  // depend on the others of its batch.
  const auto samples_start = Clock::now();
  if (flags.samples > 0) {
    torch::NoGradGuard no_grad;
    generator->eval();
    for (int64_t start = 0; start < flags.samples; start += 256) {
      const int64_t n = std::min<int64_t>(256, flags.samples - start);
      const auto batch = generator->forward(torch::randn({n, kLatent}));
      torchimage::save_images(batch, (out / "samples" / "{index:05}.png").string(),
                              torchimage::SaveImageOptions()
                                  .normalize(true)
                                  .value_range({-1.0, 1.0})
                                  .create_directories(true),
                              /*start_index=*/start);
    }
  }
  const double samples_ms = ms_since(samples_start);

  const auto dir = std::filesystem::absolute(out).lexically_normal().string();
  std::sort(stalls_ms.begin(), stalls_ms.end());
  std::printf("trained %d epochs in %.1f s (%.1f s/epoch); writer.save_image blocked the loop "
              "%.3f ms median, %.3f ms max; final flush %.3f ms\n",
              flags.epochs, total_train_ms / 1000, total_train_ms / 1000 / flags.epochs,
              (stalls_ms[(stalls_ms.size() - 1) / 2] + stalls_ms[stalls_ms.size() / 2]) / 2,
              stalls_ms.back(), flush_ms);
  std::printf("sample sheets: %s/epoch_001.png ... %s\n", dir.c_str(),
              epoch_name(flags.epochs).c_str());
  std::printf("training data: %s/real_samples.png\n", dir.c_str());
  std::sort(board_stalls_ms.begin(), board_stalls_ms.end());
  std::printf("TensorBoard (losses and sheets; add_scalar x2 + add_image blocked the loop %.3f ms "
              "median): tensorboard --logdir %s/runs\n",
              board_stalls_ms[(board_stalls_ms.size() - 1) / 2], dir.c_str());
  if (flags.samples > 0) {
    std::printf("%d samples (FID folder): %s/samples/00000.png ... %05d.png, written in %.0f ms\n",
                flags.samples, dir.c_str(), flags.samples - 1, samples_ms);
  }
  return 0;
}

int main(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  try {
    return run(flags);
  } catch (const c10::Error& e) {
    std::cerr << "gan_demo: " << e.what_without_backtrace() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "gan_demo: " << e.what() << "\n";
  }
  return 1;
}
