# pip install . (scikit-build-core, pyproject.toml): build against the torch
# installed in the environment that the package is being installed into.
#
# With build isolation pip runs the build in a separate environment that does
# not see that torch (and must not install one of its own: an unpinned torch
# is a CUDA build of several GB), but the interpreter is the target
# environment's: its site-packages directories name where torch lies. Without
# isolation (--no-build-isolation) the same directories hold it. Torch's CMake
# package is then <site-packages>/torch/share/cmake (torch.utils.cmake_prefix_path),
# found without importing torch. It always wins over a Torch_DIR cached by an
# earlier build in the same build folder (another environment's torch).
set(_ti_python "${Python_EXECUTABLE}")
if(NOT _ti_python)
  set(_ti_python "${Python3_EXECUTABLE}")
endif()
if(NOT _ti_python)
  message(FATAL_ERROR "torchimage: building for pip, but scikit-build-core passed no Python_EXECUTABLE")
endif()
# Where the target environment keeps packages: purelib/platlib of its scheme
# (the venv's or the interpreter's), then sys.path (user and system sites).
execute_process(
  COMMAND "${_ti_python}" -c
    "import sys, sysconfig, site\nseen = []\nfor p in [sysconfig.get_paths()['platlib'], sysconfig.get_paths()['purelib']] + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else []) + sys.path:\n    if p and p not in seen: seen.append(p)\nprint(';'.join(seen))"
  OUTPUT_VARIABLE _ti_sites OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _ti_rc)
if(NOT _ti_rc EQUAL 0)
  message(FATAL_ERROR "torchimage: ${_ti_python} could not list its site-packages")
endif()
set(TORCHIMAGE_TORCH_PACKAGE_DIR "")
foreach(_site IN LISTS _ti_sites)
  if(EXISTS "${_site}/torch/share/cmake/Torch/TorchConfig.cmake")
    set(TORCHIMAGE_TORCH_PACKAGE_DIR "${_site}/torch")
    break()
  endif()
endforeach()
if(NOT TORCHIMAGE_TORCH_PACKAGE_DIR)
  message(FATAL_ERROR
    "torchimage: no torch in the environment of ${_ti_python}. Install the torch to build "
    "against first (for pip's CPU build: pip install torch==2.13.0), then pip install . "
    "(or pip install --no-build-isolation .)")
endif()
message(STATUS "torchimage: building for pip against ${TORCHIMAGE_TORCH_PACKAGE_DIR}")
list(PREPEND CMAKE_PREFIX_PATH "${TORCHIMAGE_TORCH_PACKAGE_DIR}/share/cmake")
set(Torch_DIR "${TORCHIMAGE_TORCH_PACKAGE_DIR}/share/cmake/Torch" CACHE PATH "" FORCE)
set(Caffe2_DIR "${TORCHIMAGE_TORCH_PACKAGE_DIR}/share/cmake/Caffe2" CACHE PATH "" FORCE)
