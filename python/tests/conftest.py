"""Makes pip's torchvision importable beside pip's CPU torch.

PyPI's torchvision wheels for Linux x86_64 are CUDA builds: their C++
extensions (torchvision/_C.so, image.so) need libtorch_cuda.so, which a CPU
build of torch (torch==2.13.0+cpu) does not have. torchvision then loads
without its operators, but its __init__ still imports _meta_registrations and
_autograd_registrations, which register kernels for operators that were never
defined (nms, roi_align, ...), and `import torchvision` fails with
"operator torchvision::nms does not exist".

What the tests compare torchimage with is torchvision.utils (make_grid,
save_image: pure Python over torch and Pillow), which does not touch those
operators. So when, and only when, torchvision's extension cannot load, the
two registration modules are replaced by empty ones before torchvision is
imported: make_grid and save_image run as shipped. The tests that need
torchvision's own codecs (torchvision.io.decode_png) check
torchvision_io_available() and skip otherwise.
"""
import importlib.util
import os
import sys
import types


def _torchvision_ops_loadable():
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision: let the import fail as it would
    import torch

    folder = list(spec.submodule_search_locations)[0]
    for name in os.listdir(folder):
        if name.startswith("_C.") and name.endswith((".so", ".pyd")):
            try:
                torch.ops.load_library(os.path.join(folder, name))
                return True
            except (OSError, RuntimeError):
                return False
    return True


if not _torchvision_ops_loadable():
    for _name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
        sys.modules.setdefault(_name, types.ModuleType(_name))
    sys.stderr.write(
        "conftest: torchvision's C++ extension does not load beside this torch (a CUDA "
        "torchvision wheel beside a CPU torch): torchvision.utils runs without its operators\n")
