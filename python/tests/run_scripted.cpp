// run_scripted MODULE OUT_PATH
//
// The C++ half of the TorchScript round trip (test_python.py): loads a module
// scripted and saved in Python whose `forward(path: str) -> Tensor` writes an
// image with torch.ops.torchimage.save_image and returns the (H, W, C) uint8
// pixels it meant to write; runs it; decodes the file it wrote with the
// registered torchimage::read_image operator and checks the two agree.
// Exit status 0 and "ok ..." on success.
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/script.h>

// From the ops library: calling it links the library (and so registers the
// operators) however the linker treats unused libraries.
extern "C" const char* torchimage_ops_version();

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: run_scripted MODULE OUT_PATH\n";
    return 2;
  }
  try {
    std::cout << "torchimage ops " << torchimage_ops_version() << "\n";
    torch::jit::script::Module module = torch::jit::load(argv[1]);
    const at::Tensor expected = module.forward({std::string(argv[2])}).toTensor();

    const auto read_image =
        c10::Dispatcher::singleton().findSchemaOrThrow("torchimage::read_image", "");
    // (path, max_pixels, keep_16_bit, keep_indices): a boxed call passes every argument.
    std::vector<c10::IValue> stack{std::string(argv[2]), int64_t{1} << 30, false, false};
    read_image.callBoxed(&stack);
    const at::Tensor decoded = stack.at(0).toTensor().permute({1, 2, 0});

    if (!decoded.sizes().equals(expected.sizes()) || !decoded.equal(expected)) {
      std::cerr << "run_scripted: " << argv[2] << " decodes to " << decoded.sizes()
                << ", the module's pixels are " << expected.sizes() << "; they differ\n";
      return 1;
    }
    std::cout << "ok " << decoded.size(0) << "x" << decoded.size(1) << "x" << decoded.size(2)
              << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "run_scripted: " << e.what() << "\n";
    return 1;
  }
}
