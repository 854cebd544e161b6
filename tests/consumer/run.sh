#!/usr/bin/env bash
# Builds tests/consumer against torchimage: `install BUILD_DIR` installs the
# build tree into a temporary prefix and uses find_package; `subdir` uses
# add_subdirectory. Then runs the app.
set -euo pipefail
mode=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$mode" = install ]; then
  cmake --install "$2" --prefix "$work/prefix" >/dev/null
  test -x "$work/prefix/bin/torchimage"
  cmake -S "$src/tests/consumer" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
else
  cmake -S "$src/tests/consumer" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DTORCHIMAGE_SOURCE_DIR="$src" -DTORCHIMAGE_BUILD_CLI=OFF >/dev/null
fi
cmake --build "$work/build" -j2 >/dev/null
"$work/build/app" "$work/out.png"
