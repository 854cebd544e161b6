#!/usr/bin/env bash
# The README's first command: install dependencies, build, run the main job:
# a small DCGAN trained on the CPU whose sample sheets torchimage writes in the
# background (examples/gan_demo.cpp). Arguments go to gan_demo (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DTORCHIMAGE_BUILD_EXAMPLES=ON >/dev/null
build_dir=${BUILD_DIR:-build}
"$build_dir/examples/gan_demo" --out "$build_dir/gan-demo" "$@"
