#!/usr/bin/env bash
# Builds a consumer project (tests/consumer, or PROJECT_DIR) against
# torchimage: `install BUILD_DIR [PROJECT_DIR]` installs the build tree into a
# temporary prefix and uses find_package; `subdir` uses add_subdirectory
# (`subdir [BUILD_DIR]`). Then runs its `app` in an empty working directory,
# with one argument: a path to write to. The LibTorch is the one BUILD_DIR was
# configured with (its Torch_DIR, passed on), so a LibTorch outside the system
# paths (pip's, pytorch.org's zip) works too.
# Users: tests/CMakeLists.txt (consumer_*), tests/readme/check_readme.py (the
# README's C++ examples, built with the README's CMakeLists).
set -euo pipefail
mode=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
project=${3:-$src/tests/consumer}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
torch_args=()
prefix_path=""
if [ -n "${2:-}" ] && [ -f "$2/CMakeCache.txt" ]; then
  # Torch_DIR, and Caffe2_DIR beside it: TorchConfig.cmake looks for Caffe2
  # on the system paths first, where another LibTorch may lie (Debian's).
  for var in Torch_DIR Caffe2_DIR; do
    dir=$(sed -n "s/^${var}:[A-Z]*=//p" "$2/CMakeCache.txt")
    [ -n "$dir" ] && torch_args+=("-D${var}=$dir")
  done
  # find_package mode: LibTorch's own folder on the prefix path, as the README tells
  # users (pip's torch: the torch package's folder): TorchConfig.cmake finds
  # c10 for "${TORCH_LIBRARIES}" with find_library(... PATHS <its lib>), which
  # searches the prefix path and the system's folders before PATHS; without
  # it, Debian's libc10 beside pip's torch gets linked (and aborts at start).
  torch_dir=$(sed -n "s/^Torch_DIR:[A-Z]*=//p" "$2/CMakeCache.txt")
  case "$torch_dir" in
    */share/cmake/Torch) prefix_path=";${torch_dir%/share/cmake/Torch}" ;;
  esac
fi
if [ "$mode" = install ]; then
  cmake --install "$2" --prefix "$work/prefix" >/dev/null
  test -x "$work/prefix/bin/torchimage"
  cmake -S "$project" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$work/prefix$prefix_path" "${torch_args[@]}" >/dev/null
else
  cmake -S "$src/tests/consumer" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DTORCHIMAGE_SOURCE_DIR="$src" -DTORCHIMAGE_BUILD_CLI=OFF "${torch_args[@]}" >/dev/null
fi
cmake --build "$work/build" -j2 >/dev/null
mkdir "$work/run"
cd "$work/run"
"$work/build/app" "$work/out.png"
