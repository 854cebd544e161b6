#!/usr/bin/env bash
# torchimage against pip's torch (2.13.0, CPU build), in a venv this script
# makes (or reuses):
#   1. builds the project into build-pip against the LibTorch inside the torch
#      wheel (torch.utils.cmake_prefix_path) and runs the whole ctest suite
#      there, the Python tests against pip's torchvision;
#   2. pip install --no-build-isolation . into the same venv (pyproject.toml,
#      scikit-build-core), then runs the Python tests on the installed package
#      from outside the checkout with a clean environment (no PYTHONPATH, no
#      LD_LIBRARY_PATH), the TorchScript round trip included.
#
#   scripts/pip-torch.sh               all of it
#   scripts/pip-torch.sh --venv-only   only create/update the venv; prints its python
#   scripts/pip-torch.sh --wheel-only  only step 2 (needs build-pip's run_scripted)
#   extra arguments go to build-pip's cmake configure
#
# Environment:
#   VENV_DIR               the venv (default .venv-torch in the checkout)
#   BUILD_DIR              the build folder (default build-pip)
#   TORCHIMAGE_PIP_PYTHON  the interpreter that makes the venv (default below)
#   TORCH_PIN, TORCHVISION_PIN   default 2.13.0 and 0.28.0
#
# Which Python: the torch 2.13.0 CPU wheel on this project's machines is built
# for CPython 3.11 (cp311), so the venv is made from a CPython 3.11, the first
# `python3.11` on PATH: pyenv's 3.11 where pyenv is set up (this project's
# machines), Debian 12's /usr/bin/python3.11 otherwise. Debian 13's python3 is
# 3.13, for which no CPU wheel lies on disk (pip would download the multi-GB
# CUDA build instead), so the script stops rather than use another version.
# The venv does not see the system's site-packages (Debian's torch 1.13 must
# not leak in). torch is always pinned: an unpinned torch pulls a CUDA build.
#
# pip's torchvision 0.28.0 for Linux is a CUDA build: its C++ operators do not
# load beside the CPU torch; python/tests/conftest.py says what that means for
# the tests (torchvision.utils, which they compare with, is pure Python).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

VENV_DIR=${VENV_DIR:-$ROOT/.venv-torch}
BUILD_DIR=${BUILD_DIR:-build-pip}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
TORCH_PIN=${TORCH_PIN:-2.13.0}
TORCHVISION_PIN=${TORCHVISION_PIN:-0.28.0}
venv_only=0 wheel_only=0
case "${1:-}" in
  --venv-only) venv_only=1; shift ;;
  --wheel-only) wheel_only=1; shift ;;
esac

say() { echo "pip-torch: $*" >&2; }

make_venv() {
  local py=${TORCHIMAGE_PIP_PYTHON:-}
  if [ -z "$py" ]; then
    py=$(command -v python3.11 || true)
    if [ -z "$py" ]; then
      say "no python3.11 on PATH: the torch ${TORCH_PIN} CPU wheel is for CPython 3.11 (cp311)."
      say "Install one (pyenv, or Debian 12's python3.11) or set TORCHIMAGE_PIP_PYTHON."
      exit 1
    fi
  fi
  if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
    # Debian's interpreter keeps venv's pip bootstrap in a package of its own.
    local ver sudo=""
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    say "$py lacks venv/ensurepip: installing python${ver}-venv"
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "python${ver}-venv" >/dev/null
  fi
  say "creating $VENV_DIR from $py ($("$py" --version 2>&1))"
  "$py" -m venv "$VENV_DIR"
}

if ! "$VENV_DIR/bin/python" -c 'pass' 2>/dev/null; then
  rm -rf "$VENV_DIR"
  make_venv
fi
PY=$VENV_DIR/bin/python

# Everything pinned to releases on the machine's local indexes (/etc/pip.conf,
# PIP_FIND_LINKS): torch's CPU wheel and torchvision lie on disk, the rest are
# small. Nothing is installed when all are there already.
reqs=(
  "torch==${TORCH_PIN}" "torchvision==${TORCHVISION_PIN}"
  "numpy==2.3.5" "pillow==11.3.0" "pytest==8.4.2"
  # pip install --no-build-isolation . : the build backend and its build tool.
  "scikit-build-core==1.1.*" "ninja==1.13.*"
)
if ! "$PY" - "${reqs[@]}" 2>/dev/null <<'PYCHECK'
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
for spec in sys.argv[1:]:
    r = Requirement(spec)
    if not r.specifier.contains(version(r.name), prereleases=True):
        sys.exit(1)
PYCHECK
then
  say "installing ${reqs[*]}"
  "$PY" -m pip install -q "${reqs[@]}" 2> >(grep -v "^WARNING: Location" >&2)
fi
"$PY" -c 'from importlib.metadata import version as v; print("pip-torch: torch", v("torch"), "torchvision", v("torchvision"))' >&2

if [ $venv_only = 1 ]; then
  echo "$PY"
  exit 0
fi

scripts/install-deps.sh
if [ $wheel_only = 0 ]; then
  TORCH_PREFIX=$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
    -DTORCHIMAGE_PYTHON_EXECUTABLE="$PY" "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)"
  (cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)")
fi

# 2. pip install . into the venv, against the torch installed there.
say "pip install --no-build-isolation . into $VENV_DIR"
"$PY" -m pip uninstall -q -y torchimage >/dev/null 2>&1 || true
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$PY" -m pip install -q --no-build-isolation --no-deps "$ROOT" \
  2> >(grep -v "^WARNING: Location" >&2)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
clean_env=(env -i "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=${HOME:-/root}" "TMPDIR=${TMPDIR:-/tmp}")
(cd "$scratch" && "${clean_env[@]}" "$PY" - <<'PYCHECK'
import os, subprocess, sysconfig
from torchimage import save_image  # noqa: F401  (the import the README promises)
import torchimage
site = sysconfig.get_paths()["platlib"]
assert torchimage.__file__.startswith(site), f"imported {torchimage.__file__}, not from {site}"
dyn = subprocess.run(["readelf", "-d", torchimage.library_path], capture_output=True, text=True).stdout
runpath = [l.split("[", 1)[1].rstrip("]") for l in dyn.splitlines() if "RUNPATH" in l or "(RPATH)" in l]
print(f"pip-torch: installed {os.path.dirname(torchimage.__file__)}; RUNPATH {runpath}")
PYCHECK
)
run_scripted="$BUILD_DIR/python/tests/run_scripted"
[ -x "$run_scripted" ] || { say "no $run_scripted: build $BUILD_DIR first"; exit 1; }
photos=${TORCHIMAGE_PHOTOS:-$ROOT/tests/data/photos}
(cd "$scratch" && "${clean_env[@]}" TORCHIMAGE_RUN_SCRIPTED="$run_scripted" TORCHIMAGE_PHOTOS="$photos" \
  "$PY" -m pytest -q -p no:cacheprovider "$ROOT/python/tests")
