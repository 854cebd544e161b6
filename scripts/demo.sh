#!/usr/bin/env bash
# The README's first command: install dependencies, build, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DTORCHIMAGE_BUILD_EXAMPLES=ON >/dev/null
"${BUILD_DIR:-build}/examples/sample_sheet" "$@"
