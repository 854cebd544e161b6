#!/bin/sh
# ctest's tensorboard_readback: makes (or reuses) the venv with the real
# tensorboard (scripts/tensorboard-venv.sh, cached outside the checkout),
# then reads the fixture's logs back with it.
#   run.sh SOURCE_DIR SUMMARY_FIXTURE OUT_DIR
set -eu
src=$1 fixture=$2 out=$3
py=$("$src/scripts/tensorboard-venv.sh")
exec "$py" "$src/tests/tensorboard/check_tensorboard.py" "$fixture" "$out"
