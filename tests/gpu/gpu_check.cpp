// The CUDA checks of scripts/gpu-check.sh (no GoogleTest there: the GPU
// machine has no package registry). For CUDA float32, float16 and bfloat16
// tensors:
//   - save_image, encode_image, save_images and ImageWriter write the same
//     bytes as from the same tensor on the CPU (PNG default engine, PNG level
//     6, JPEG; plain, normalized, value_range, scale_each);
//   - make_grid stays on the device and equals make_grid on the CPU;
//   - ImageWriter::save_image returns while the device has not yet run the
//     snapshot copy (a sleep kernel queued ahead of it is still running when
//     the call returns: an event recorded after the call is not complete),
//     and overwriting the tensor right after the call (queued behind the
//     snapshot on the same stream) does not change the file.
// Prints one line per check and "gpu_check: N passed, N failed" at the end;
// exits 0 only when all passed. Without CUDA it says so and exits 77 (also
// when built against a LibTorch without CUDA: TORCHIMAGE_GPU_CHECK_CUDA=0).
#if !TORCHIMAGE_GPU_CHECK_CUDA
#include <cstdio>
int main() {
  std::printf("gpu_check: built against a LibTorch without CUDA: nothing run\n");
  return 77;
}
#else
#include <ATen/cuda/Sleep.h>
#include <c10/core/Event.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <torchimage/torchimage.h>

namespace fs = std::filesystem;
using namespace torchimage;

namespace {

int g_passed = 0, g_failed = 0;

void check(bool ok, const std::string& what, const std::string& detail = "") {
  (ok ? g_passed : g_failed)++;
  std::printf("%s %s%s%s\n", ok ? "PASS" : "FAIL", what.c_str(), detail.empty() ? "" : ": ",
              detail.c_str());
  std::fflush(stdout);
}

// Runs `f`, turning an exception into a failed check.
void guarded(const std::string& what, const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    check(false, what, std::string("threw ") + e.what());
  }
}

std::vector<char> bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  return a.numel() == b.numel() && torch::equal(a.cpu(), b.cpu());
}

// A batch with what GAN samples hold and the edges quantization meets:
// values in [-1.2, 1.2] (beyond the range, to clamp), exact halves, and
// NaN/Inf (torchimage: NaN -> 0, +Inf -> 255).
torch::Tensor batch_of(torch::ScalarType dtype) {
  torch::manual_seed(7);
  torch::Tensor x = torch::rand({6, 3, 21, 17}, torch::kFloat64) * 2.4 - 1.2;
  auto flat = x.view({-1});
  for (int64_t i = 0; i < 64; ++i) flat[i * 37] = (i % 5 - 2) / 2.0 + 1.0 / 510.0 * (i % 3);
  flat[11] = std::nan("");
  flat[12] = INFINITY;
  flat[13] = -INFINITY;
  return x.to(dtype);
}

struct Case {
  std::string name;
  SaveImageOptions options;
};

std::vector<Case> cases() {
  return {
      {"png", SaveImageOptions().format(ImageFormat::PNG)},
      {"png-normalize", SaveImageOptions().format(ImageFormat::PNG).normalize(true).value_range({-1.0, 1.0}).nrow(3)},
      {"png-minmax-scale-each", SaveImageOptions().format(ImageFormat::PNG).normalize(true).scale_each(true)},
      {"png-level6", SaveImageOptions().format(ImageFormat::PNG).normalize(true).value_range({-1.0, 1.0}).compression_level(6)},
      {"png-16bit", SaveImageOptions().format(ImageFormat::PNG).normalize(true).value_range({-1.0, 1.0}).bit_depth(16)},
      {"jpeg", SaveImageOptions().format(ImageFormat::JPEG).normalize(true).value_range({-1.0, 1.0}).quality(90)},
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (!torch::cuda::is_available()) {
    std::printf("gpu_check: CUDA is not available (torch::cuda::is_available() is false): nothing run\n");
    return 77;
  }
  const fs::path out = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "torchimage-gpu-check";
  fs::remove_all(out);
  fs::create_directories(out);
  const torch::Device cuda(torch::kCUDA, 0);

  for (const auto dtype : {torch::kFloat32, torch::kFloat16, torch::kBFloat16}) {
    const std::string dn = c10::toString(dtype);
    // NaN/Inf only where the options let them through unchanged (min/max
    // normalization of a tensor holding NaN is NaN everywhere, on both sides).
    const torch::Tensor cpu_full = batch_of(dtype);
    const torch::Tensor cpu_finite = torch::nan_to_num(cpu_full.to(torch::kFloat32), 0.0, 1.1, -1.1).to(dtype);
    for (const Case& c : cases()) {
      const bool minmax = c.options.normalize() && !c.options.value_range();
      const torch::Tensor cpu = minmax ? cpu_finite : cpu_full;
      const torch::Tensor dev = cpu.to(cuda);
      const std::string what = dn + " " + c.name;
      guarded(what + " make_grid", [&] {
        const torch::Tensor g_dev = make_grid(dev, c.options.grid_options());
        const torch::Tensor g_cpu = make_grid(cpu, c.options.grid_options());
        check(g_dev.device() == dev.device() && g_dev.scalar_type() == dtype, what + " make_grid stays on the device",
              c10::str(g_dev.device(), " ", g_dev.scalar_type()));
        check(torch::equal(g_dev.cpu().to(torch::kFloat64).nan_to_num(-7.0), g_cpu.to(torch::kFloat64).nan_to_num(-7.0)),
              what + " make_grid equals the CPU's");
      });
      guarded(what + " encode_image", [&] {
        check(same_bytes(encode_image(dev, c.options), encode_image(cpu, c.options)),
              what + " encode_image: CUDA bytes == CPU bytes");
      });
      guarded(what + " save_image", [&] {
        const std::string ext = c.options.format() == ImageFormat::JPEG ? ".jpg" : ".png";
        const fs::path a = out / (dn + "-" + c.name + "-cuda" + ext);
        const fs::path b = out / (dn + "-" + c.name + "-cpu" + ext);
        save_image(dev, a.string(), c.options);
        save_image(cpu, b.string(), c.options);
        check(bytes_of(a) == bytes_of(b) && !bytes_of(a).empty(), what + " save_image: CUDA file == CPU file");
      });
      guarded(what + " save_images", [&] {
        const std::string ext = c.options.format() == ImageFormat::JPEG ? ".jpg" : ".png";
        const fs::path dir_a = out / (dn + "-" + c.name + "-many-cuda");
        const fs::path dir_b = out / (dn + "-" + c.name + "-many-cpu");
        const SaveImageOptions o = SaveImageOptions(c.options).create_directories(true);
        save_images(dev, (dir_a / ("{index:03}" + ext)).string(), o);
        save_images(cpu, (dir_b / ("{index:03}" + ext)).string(), o);
        bool same = true;
        for (int64_t i = 0; i < cpu.size(0); ++i) {
          const std::string name = format_index_path("{index:03}" + ext, i);
          const auto fa = bytes_of(dir_a / name), fb = bytes_of(dir_b / name);
          same = same && !fa.empty() && fa == fb;
        }
        check(same, what + " save_images: every CUDA sample file == CPU file");
      });
      guarded(what + " ImageWriter", [&] {
        const std::string ext = c.options.format() == ImageFormat::JPEG ? ".jpg" : ".png";
        const fs::path a = out / (dn + "-" + c.name + "-writer" + ext);
        const fs::path dir_a = out / (dn + "-" + c.name + "-writer-many");
        ImageWriter writer;
        writer.save_image(dev, a.string(), c.options);
        writer.save_images(dev, (dir_a / ("{index:03}" + ext)).string(),
                           SaveImageOptions(c.options).create_directories(true));
        writer.flush();
        bool same = bytes_of(a) == bytes_of(out / (dn + "-" + c.name + "-cpu" + ext));
        for (int64_t i = 0; i < cpu.size(0); ++i) {
          const std::string name = format_index_path("{index:03}" + ext, i);
          same = same && bytes_of(dir_a / name) ==
                             bytes_of(out / (dn + "-" + c.name + "-many-cpu") / name);
        }
        check(same, what + " ImageWriter: CUDA files == CPU files");
      });
    }

    // The writer's asynchronous device snapshot.
    guarded(dn + " writer asynchrony", [&] {
      const SaveImageOptions o = SaveImageOptions().normalize(true).value_range({-1.0, 1.0});
      const torch::Tensor cpu = cpu_full;
      const torch::Tensor expected = encode_image(cpu, o);
      torch::Tensor dev = cpu.to(cuda);
      torch::cuda::synchronize();
      const auto* impl = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
      const c10::Stream stream = impl->getStream(dev.device());
      ImageWriter writer;
      const fs::path path = out / (dn + "-async.png");
      // About a second of device time queued ahead of the snapshot's copy.
      at::cuda::sleep(int64_t{2} << 30);
      auto done = writer.save_image(dev, path.string(), o);
      c10::Event after_call(c10::DeviceType::CUDA);
      after_call.record(stream);
      const bool returned_before_copy = !after_call.query();
      dev.fill_(0.25);  // queued behind the snapshot on the same stream
      dev.mul_(-3);
      done.get();
      writer.flush();
      check(returned_before_copy, dn + " ImageWriter::save_image returned before the device copy completed",
            returned_before_copy ? "" : "the stream had already drained: the call waited for the device");
      check(bytes_of(path) == std::vector<char>(reinterpret_cast<const char*>(expected.data_ptr<uint8_t>()),
                                                reinterpret_cast<const char*>(expected.data_ptr<uint8_t>()) + expected.numel()),
            dn + " overwriting the CUDA tensor after the call changes nothing in the file");
      // The same with a handed-over tensor (std::move): the writer keeps a
      // device tensor only through its own copy.
      torch::Tensor moved = cpu.to(cuda);
      torch::Tensor alias = moved;
      at::cuda::sleep(int64_t{1} << 29);
      const fs::path path2 = out / (dn + "-async-moved.png");
      auto done2 = writer.save_image(std::move(moved), path2.string(), o);
      alias.zero_();
      done2.get();
      check(bytes_of(path2) == bytes_of(path), dn + " a moved CUDA tensor changed through an alias: file unchanged");
    });
  }

  std::printf("gpu_check: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
#endif  // TORCHIMAGE_GPU_CHECK_CUDA
