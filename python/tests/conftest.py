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
imported: make_grid and save_image run as shipped. The one test that
also calls torchvision's own codec (torchvision.io.decode_png, in
test_encode_decode) accepts its "image extension" error in that case.

Which reference each setting gives (docs/install.md):
  - Debian's torch 1.13 + torchvision 0.14 (ctest's python_tests in
    scripts/test.sh): the real torchvision, whole.
  - pip's torch 2.14.1+cu130 + torchvision 0.29.1+cu130 (scripts/pip-torch.sh
    --torch 2.14): the real torchvision, whole; TORCHIMAGE_REQUIRE_REAL_TORCHVISION=1
    makes this file fail rather than put in the stand-ins.
  - pip's torch 2.13.0+cpu + torchvision 0.28.0 (scripts/pip-torch.sh): the
    stand-ins above; torchvision.utils (make_grid, save_image) runs as
    shipped, torchvision.io's codecs do not.
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


# Which torchvision the tests compare with ("real" or "stand-ins"); the
# pytest header says it (pytest_report_header below).
TORCHVISION_REFERENCE = "real"

if not _torchvision_ops_loadable():
    if os.environ.get("TORCHIMAGE_REQUIRE_REAL_TORCHVISION") == "1":
        # scripts/pip-torch.sh --torch 2.14: torch and torchvision are a
        # consistent pair there, so a failing extension is a broken venv, not
        # something to work around.
        raise RuntimeError(
            "conftest: TORCHIMAGE_REQUIRE_REAL_TORCHVISION=1 but torchvision's C++ extension "
            "does not load beside this torch: the tests would compare with stand-ins")
    TORCHVISION_REFERENCE = "stand-ins"
    for _name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
        sys.modules.setdefault(_name, types.ModuleType(_name))
    sys.stderr.write(
        "conftest: torchvision's C++ extension does not load beside this torch (a CUDA "
        "torchvision wheel beside a CPU torch): torchvision.utils runs without its operators\n")


def cli_path():
    """The torchimage command of the build the package was loaded from, or None
    (an installed package has none beside it)."""
    import torchimage
    build = os.path.dirname(os.path.dirname(os.path.dirname(torchimage.library_path)))
    path = os.path.join(build, "torchimage")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def pytest_report_header(config):
    import torch
    import torchvision
    return (f"torchimage tests: torch {torch.__version__}, torchvision {torchvision.__version__} "
            f"({TORCHVISION_REFERENCE})")
