// A data-parallel GAN on CPUs with c10d's Gloo, and its images through
// torchimage::distributed: each of N processes trains on its shard of a toy
// data set (coloured discs), the gradients are averaged with allreduce, and
// every epoch the fixed latent vectors, spread over the ranks (unevenly when
// N does not divide them), become one sample sheet written by rank 0. At the
// end every rank exports its share of an FID folder with global indices.
//
//   ddp_gan [--world-size N] [--epochs E] [--out DIR]
// starts the N ranks itself (this program, once per rank, meeting through a
// FileStore in DIR) and waits for them; defaults: 2 ranks, 3 epochs,
// build/ddp-gan. Writes DIR/sheets/epoch_NNN.png and DIR/fid/NNNNN.png.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <torchimage/distributed.h>
#include <torchimage/torchimage.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kLatent = 16;
constexpr int64_t kSize = 16;
constexpr int64_t kFixed = 25;      // the sheet's samples, spread over the ranks
constexpr int64_t kFidSamples = 50;  // the export's, spread likewise

// The share of `total` items that rank r of `world` holds: the first
// total % world ranks one more.
std::pair<int64_t, int64_t> share(int64_t total, int rank, int world) {
  const int64_t base = total / world, extra = total % world;
  const int64_t count = base + (rank < extra ? 1 : 0);
  const int64_t start = rank * base + std::min<int64_t>(rank, extra);
  return {start, count};
}

// Coloured discs on a dark background, in [-1, 1]: the toy data set.
torch::Tensor discs(int64_t n, torch::Generator& g) {
  auto yy = torch::arange(kSize).view({1, kSize, 1}).to(torch::kFloat);
  auto xx = torch::arange(kSize).view({1, 1, kSize}).to(torch::kFloat);
  auto c = torch::rand({n, 2, 1, 1}, g) * (kSize - 6) + 3;
  auto r = torch::rand({n, 1, 1}, g) * 3 + 2;
  auto inside = ((yy - c.select(1, 0)).pow(2) + (xx - c.select(1, 1)).pow(2) <= r.pow(2))
                    .to(torch::kFloat)
                    .unsqueeze(1);
  auto colour = torch::rand({n, 3, 1, 1}, g) * 2 - 1;
  return inside * colour + (1 - inside) * -0.8;
}

void average_gradients(c10d::ProcessGroupGloo& pg, torch::nn::Module& m, int world) {
  for (auto& p : m.parameters()) {
    if (!p.grad().defined()) continue;
    std::vector<at::Tensor> grads{p.grad()};
    pg.allreduce(grads)->wait();
    p.grad().div_(world);
  }
}

int run_rank(const fs::path& out, int rank, int world, int epochs) {
  auto store = c10::make_intrusive<c10d::FileStore>((out / "store").string(), world);
  auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(60));
  opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);

  torch::manual_seed(0);  // the same initial weights on every rank
  torch::nn::Sequential g(torch::nn::Linear(kLatent, 128), torch::nn::ReLU(),
                          torch::nn::Linear(128, 3 * kSize * kSize), torch::nn::Tanh());
  torch::nn::Sequential d(torch::nn::Linear(3 * kSize * kSize, 128), torch::nn::LeakyReLU(),
                          torch::nn::Linear(128, 1));
  torch::optim::Adam g_opt(g->parameters(), torch::optim::AdamOptions(2e-3).betas({0.5, 0.999}));
  torch::optim::Adam d_opt(d->parameters(), torch::optim::AdamOptions(2e-3).betas({0.5, 0.999}));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 + rank);  // this rank's shard
  const torch::Tensor fixed_all = torch::randn({kFixed, kLatent});     // seed 0: every rank alike
  const auto mine = share(kFixed, rank, world);
  const torch::Tensor fixed = fixed_all.narrow(0, mine.first, mine.second);
  const auto bce = [](const torch::Tensor& logits, float target) {
    return torch::binary_cross_entropy_with_logits(logits, torch::full_like(logits, target));
  };
  const auto sheet = torchimage::SaveImageOptions().nrow(5).normalize(true).value_range(
      {-1.0, 1.0}).create_directories(true);

  for (int epoch = 1; epoch <= epochs; ++epoch) {
    for (int step = 0; step < 20; ++step) {
      const torch::Tensor real = discs(32, gen).view({32, -1});
      const torch::Tensor fake = g->forward(torch::randn({32, kLatent}, gen));
      d_opt.zero_grad();
      const torch::Tensor d_loss = bce(d->forward(real), 1) + bce(d->forward(fake.detach()), 0);
      d_loss.backward();
      average_gradients(*pg, *d, world);
      d_opt.step();
      g_opt.zero_grad();
      const torch::Tensor g_loss = bce(d->forward(fake), 1);
      g_loss.backward();
      average_gradients(*pg, *g, world);
      g_opt.step();
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor samples = g->forward(fixed).view({-1, 3, kSize, kSize});
    char name[32];
    std::snprintf(name, sizeof name, "sheets/epoch_%03d.png", epoch);
    // Every rank passes its share; rank 0 writes the sheet of all 25.
    torchimage::distributed::save_image(pg, samples, (out / name).string(), sheet);
  }
  // The FID export: each rank generates and writes its share, global indices.
  torch::NoGradGuard no_grad;
  const auto fid = share(kFidSamples, rank, world);
  const torch::Tensor samples =
      g->forward(torch::randn({fid.second, kLatent}, gen)).view({-1, 3, kSize, kSize});
  torchimage::distributed::save_images(
      pg, samples, (out / "fid" / "{index:05}.png").string(),
      torchimage::SaveImageOptions().normalize(true).value_range({-1.0, 1.0}).create_directories(
          true));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int world = 2, epochs = 3;
  fs::path out = "build/ddp-gan";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--world-size") world = std::atoi(argv[i + 1]);
    else if (a == "--epochs") epochs = std::atoi(argv[i + 1]);
    else if (a == "--out") out = argv[i + 1];
    else {
      std::cerr << "usage: ddp_gan [--world-size N] [--epochs E] [--out DIR]\n";
      return 2;
    }
  }
  if (world < 1 || epochs < 1) {
    std::cerr << "ddp_gan: --world-size and --epochs must be at least 1\n";
    return 2;
  }
  if (const char* r = std::getenv("DDP_GAN_RANK")) {
    try {
      return run_rank(out, std::atoi(r), world, epochs);
    } catch (const std::exception& e) {
      std::cerr << "ddp_gan rank " << r << ": " << e.what() << "\n";
      return 1;
    }
  }
  out = fs::absolute(out);
  fs::create_directories(out);
  fs::remove(out / "store");
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> args = {fs::read_symlink("/proc/self/exe").string(), "--world-size",
                                     std::to_string(world), "--epochs", std::to_string(epochs),
                                     "--out", out.string()};
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.push_back("DDP_GAN_RANK=" + std::to_string(r));
    std::vector<char*> argp, envp;
    for (auto& s : args) argp.push_back(&s[0]);
    argp.push_back(nullptr);
    for (auto& s : env) envp.push_back(&s[0]);
    envp.push_back(nullptr);
    pid_t pid;
    if (posix_spawn(&pid, argp[0], nullptr, nullptr, argp.data(), envp.data()) != 0) {
      std::cerr << "ddp_gan: cannot start rank " << r << "\n";
      return 1;
    }
    pids.push_back(pid);
  }
  int failed = 0;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  fs::remove(out / "store");
  if (failed) {
    std::cerr << "ddp_gan: " << failed << " of " << world << " ranks failed\n";
    return 1;
  }
  std::cout << "ddp_gan: " << world << " ranks, " << epochs << " epochs: sheets in "
            << (out / "sheets").string() << ", " << kFidSamples << " samples in "
            << (out / "fid").string() << "\n";
  return 0;
}
