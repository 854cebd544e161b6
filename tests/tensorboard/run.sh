#!/bin/sh
# ctest's tensorboard_readback: reads the fixture's logs back with the real
# tensorboard package. The interpreter is the build's (TORCHIMAGE_PYTHON_
# EXECUTABLE) when it has tensorboard (scripts/pip-torch.sh's venv), else a
# venv over it with --system-site-packages that scripts/tensorboard-venv.sh
# makes or reuses (cached outside the checkout), so that the interpreter's
# torch is the one the Python package was built for.
#   run.sh SOURCE_DIR PYTHON SUMMARY_FIXTURE OUT_DIR [PYTHON_PACKAGE_DIR]
set -eu
src=$1 base=$2
shift 2
if "$base" -c 'import tensorboard.backend.event_processing.event_accumulator' 2>/dev/null; then
  py=$base
else
  py=$("$src/scripts/tensorboard-venv.sh" "$base")
fi
exec "$py" "$src/tests/tensorboard/check_tensorboard.py" "$@"
