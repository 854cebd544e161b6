# torchimage_find_torch([REQUIRED|QUIET]): find_package(Torch), also where
# the LibTorch is a CUDA build and no CUDA toolkit is installed: pip's default
# torch on Linux (torch==2.14.1 is 2.14.1+cu130), used on the CPU or on the
# GPU through the CUDA libraries inside pip's nvidia-* wheels.
#
# Used by torchimage's CMakeLists.txt and by the installed
# torchimageConfig.cmake (find_package(torchimage) finds Torch through it), so
# the project and its consumers take the same decision. docs/install.md says
# what a user sees.
#
# The trap (pytorch/pytorch#73427): Caffe2Config.cmake of a CUDA build includes
# Caffe2/public/cuda.cmake, which runs find_package(CUDA) for the toolkit (nvcc,
# cuda_runtime.h, libcudart). Without one it stops the configure with "Your
# installed Caffe2 version uses CUDA but I cannot find the CUDA libraries",
# although a CPU-only consumer needs none of it: torchimage's code is CPU code
# that reaches CUDA tensors only through ATen's device-generic API, and
# libtorch_cuda.so itself finds its CUDA libraries at run time (pip's wheels:
# through its RUNPATH into site-packages/nvidia).
#
# What this does, in order:
#   1. Torch is found already (a TARGET torch): nothing.
#   2. Locates TorchConfig.cmake as find_package would (Torch_DIR, then
#      CMAKE_PREFIX_PATH, the environment's CMAKE_PREFIX_PATH, the system
#      prefixes) without running it, and points Caffe2_DIR at the Caffe2
#      package beside it when Caffe2_DIR is not set: TorchConfig.cmake looks
#      for Caffe2 on the system paths first, where another LibTorch may lie
#      (Debian's libtorch-dev), and would mix the two.
#      TORCH_LIBRARY, c10_LIBRARY, ... are likewise looked up in that
#      LibTorch's lib folder first (TorchConfig.cmake searches the system's
#      first, so TORCH_LIBRARIES could name Debian's libc10.so).
#   3. A CUDA build (its Caffe2Targets.cmake names torch::cudart) is probed
#      for a toolkit exactly as its cuda.cmake will probe: find_package(CUDA)
#      with torch's own Modules_CUDA_fix. Found: find_package(Torch) as is,
#      nothing changes (torch's CUDA targets, CUDA language and all).
#   4. Not found: defines torch::cudart, and the other targets cuda.cmake
#      would define, as empty interface targets before find_package(Torch).
#      cuda.cmake begins with "if(TARGET torch::cudart) return()" (its
#      include guard, in every LibTorch from 1.13 to 2.14 checked), so it
#      returns at once and Caffe2Config.cmake goes on with torch's own
#      imported targets (torch, torch_cpu, c10, torch_cuda, c10_cuda), their
#      compile definitions, include folders and C++ standard. Linking `torch`
#      then links libtorch_cuda.so, whose own RUNPATH finds the CUDA runtime.
#      What is lost is only what a toolkit gives: compiling .cu files, and
#      linking CUDA's libraries directly (neither is used by torchimage).
#      A cuda.cmake without that guard (a future LibTorch) is stopped with a
#      message saying what to install or set, before torch's own error.
#
# Why not an imported target made by hand from torch.utils.cpp_extension's
# paths (include folders, lib folder, the ABI flag), as CMake-less extensions
# do: it would copy what torch's config already says (compile definitions
# such as USE_DISTRIBUTED that change class layouts, the C++ standard, the
# ABI flag, TORCH_LIBRARIES for LibTorch-style projects) and drift from it as
# torch changes. Here torch's own targets are used, and only the toolkit
# search is skipped.
#
# Sets TORCHIMAGE_TORCH_WITHOUT_CUDA_TOOLKIT (ON where step 4 ran).
include_guard(GLOBAL)

# The folder holding TorchConfig.cmake that find_package(Torch) would use, or
# "" (then find_package searches as usual and this module changes nothing).
function(_torchimage_locate_torch out)
  set(_dirs "")
  foreach(_d IN ITEMS "${Torch_DIR}" "$ENV{Torch_DIR}")
    if(_d)
      list(APPEND _dirs "${_d}")
    endif()
  endforeach()
  set(_env_prefixes "$ENV{CMAKE_PREFIX_PATH}")
  if(_env_prefixes)
    string(REPLACE ":" ";" _env_prefixes "${_env_prefixes}")
  endif()
  foreach(_p IN LISTS CMAKE_PREFIX_PATH _env_prefixes CMAKE_SYSTEM_PREFIX_PATH)
    if(NOT _p)
      continue()
    endif()
    list(APPEND _dirs "${_p}" "${_p}/Torch" "${_p}/share/cmake/Torch" "${_p}/lib/cmake/Torch")
    if(CMAKE_LIBRARY_ARCHITECTURE)
      list(APPEND _dirs "${_p}/lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake/Torch")
    endif()
  endforeach()
  foreach(_d IN LISTS _dirs)
    if(EXISTS "${_d}/TorchConfig.cmake")
      get_filename_component(_d "${_d}" ABSOLUTE)
      set(${out} "${_d}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

# The names of the targets Caffe2/public/cuda.cmake defines ("torch::cudart;
# caffe2::cublas;..."), and in guard_var the target its include guard tests.
function(_torchimage_cuda_cmake_targets cuda_cmake targets_var guard_var)
  file(READ "${cuda_cmake}" _text)
  string(REGEX MATCHALL "add_library\\([ \t]*[A-Za-z0-9_]+::[A-Za-z0-9_]+[ \t]+[A-Z]+[ \t]+IMPORTED" _adds "${_text}")
  set(_names "")
  foreach(_a IN LISTS _adds)
    string(REGEX REPLACE "add_library\\([ \t]*([A-Za-z0-9_:]+)[ \t].*" "\\1" _n "${_a}")
    list(APPEND _names "${_n}")
  endforeach()
  list(REMOVE_DUPLICATES _names)
  set(_guard "")
  if(_text MATCHES "if\\(TARGET ([A-Za-z0-9_]+::[A-Za-z0-9_]+)\\)[ \t\r\n]*return\\(\\)")
    set(_guard "${CMAKE_MATCH_1}")
  endif()
  set(${targets_var} "${_names}" PARENT_SCOPE)
  set(${guard_var} "${_guard}" PARENT_SCOPE)
endfunction()

macro(torchimage_find_torch)
  set(TORCHIMAGE_TORCH_WITHOUT_CUDA_TOOLKIT OFF)
  if(NOT TARGET torch)
    _torchimage_locate_torch(_ti_torch_dir)
    if(_ti_torch_dir)
      get_filename_component(_ti_caffe2_dir "${_ti_torch_dir}/../Caffe2" ABSOLUTE)
      if(NOT Caffe2_DIR AND EXISTS "${_ti_caffe2_dir}/Caffe2Config.cmake")
        set(Caffe2_DIR "${_ti_caffe2_dir}" CACHE PATH "The Caffe2 package of the LibTorch found (beside Torch_DIR)")
      endif()
      # TorchConfig.cmake's find_library(c10 PATHS <its lib>) searches the
      # system's folders first: with Debian's libtorch-dev installed,
      # TORCH_LIBRARIES (what LibTorch-style projects link) would name
      # Debian's libc10.so beside pip's libtorch. Its own lib folder first.
      get_filename_component(_ti_torch_lib "${_ti_torch_dir}/../../../lib" ABSOLUTE)
      foreach(_ti_pair IN ITEMS TORCH_LIBRARY:torch c10_LIBRARY:c10 C10_CUDA_LIBRARY:c10_cuda kineto_LIBRARY:kineto)
        string(REPLACE ":" ";" _ti_pair "${_ti_pair}")
        list(GET _ti_pair 0 _ti_var)
        list(GET _ti_pair 1 _ti_name)
        if(NOT ${_ti_var})
          find_library(${_ti_var} ${_ti_name} PATHS "${_ti_torch_lib}" NO_DEFAULT_PATH)
          if(NOT ${_ti_var})
            unset(${_ti_var} CACHE)  # let TorchConfig.cmake search (and warn) as it does
          endif()
        endif()
      endforeach()
      if(Caffe2_DIR AND EXISTS "${Caffe2_DIR}/Caffe2Targets.cmake" AND EXISTS "${Caffe2_DIR}/public/cuda.cmake"
         AND NOT TARGET torch::cudart)
        file(STRINGS "${Caffe2_DIR}/Caffe2Targets.cmake" _ti_cuda_refs REGEX "torch::cudart")
        if(_ti_cuda_refs)
          # A CUDA build. Is there a toolkit its cuda.cmake will find?
          set(_ti_module_path "${CMAKE_MODULE_PATH}")
          if(EXISTS "${Caffe2_DIR}/Modules_CUDA_fix")
            list(APPEND CMAKE_MODULE_PATH "${Caffe2_DIR}/Modules_CUDA_fix")
          endif()
          if(NOT MSVC)
            set(CUDA_USE_STATIC_CUDA_RUNTIME OFF CACHE INTERNAL "")  # as cuda.cmake sets it
          endif()
          find_package(CUDA QUIET)
          set(CMAKE_MODULE_PATH "${_ti_module_path}")
          if(NOT CUDA_FOUND)
            _torchimage_cuda_cmake_targets("${Caffe2_DIR}/public/cuda.cmake" _ti_cuda_targets _ti_cuda_guard)
            if(NOT _ti_cuda_guard OR NOT _ti_cuda_guard IN_LIST _ti_cuda_targets)
              message(FATAL_ERROR
                "torchimage: the LibTorch in ${_ti_torch_dir} is a CUDA build, no CUDA toolkit was "
                "found, and its Caffe2/public/cuda.cmake is not one torchimage knows how to skip "
                "(no 'if(TARGET <name>) return()' guard). Either install the CUDA toolkit of that "
                "build (python -c 'import torch; print(torch.version.cuda)') and put its nvcc on "
                "PATH or set CUDA_TOOLKIT_ROOT_DIR, or use a CPU build of LibTorch "
                "(pip: torch==<version>+cpu from PyTorch's CPU index).")
            endif()
            foreach(_ti_t IN LISTS _ti_cuda_targets)
              if(NOT TARGET ${_ti_t})
                add_library(${_ti_t} INTERFACE IMPORTED GLOBAL)
              endif()
            endforeach()
            set(TORCHIMAGE_TORCH_WITHOUT_CUDA_TOOLKIT ON)
            message(STATUS "torchimage: ${_ti_torch_dir} is a CUDA build of LibTorch and torch's "
                           "find_package(CUDA) finds no CUDA toolkit: using its libraries without "
                           "one (CPU code; CUDA tensors through ATen; cmake/torchimage_find_torch.cmake)")
          endif()
        endif()
      endif()
    endif()
  endif()
  find_package(Torch ${ARGN})
endmacro()
