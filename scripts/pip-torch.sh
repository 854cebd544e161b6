#!/usr/bin/env bash
# torchimage against pip's torch, in a venv this script makes (or reuses):
#   1. builds the project into a build folder against the LibTorch inside the
#      torch wheel (torch.utils.cmake_prefix_path) and runs the whole ctest
#      suite there (the outside consumer projects and the Python tests
#      included);
#   2. pip install --no-build-isolation . into the same venv (pyproject.toml,
#      scikit-build-core), then runs the Python tests on the installed package
#      from outside the checkout with a clean environment (no PYTHONPATH, no
#      LD_LIBRARY_PATH), the TorchScript round trip included.
#
#   scripts/pip-torch.sh [--torch 2.13|2.14] [--venv-only|--wheel-only] [CMAKE_ARGS...]
#     --torch 2.13  (default) pip's CPU wheel torch 2.13.0+cpu beside
#                   torchvision 0.28.0 (a CUDA wheel whose C++ operators do not
#                   load beside a CPU torch: python/tests/conftest.py's
#                   stand-ins). Venv .venv-torch in the checkout, build-pip.
#     --torch 2.14  what `pip install torch==2.14.1 torchvision==0.29.1` gives
#                   on Linux: the CUDA 13 builds (2.14.1+cu130), run on the
#                   CPU. Steps 1 and 2 run with the CUDA toolkit hidden
#                   (scripts/without-cuda.sh: a machine without one, as most
#                   pip users have), and the Python tests must use the real
#                   torchvision (no stand-ins). Venv cached outside the
#                   checkout (below), build-pip-2.14.
#     --venv-only   only create/update the venv; prints its python
#     --wheel-only  only step 2 (needs the build folder's run_scripted)
#     --python-only only step 2, with no build folder: the library and the
#                   Python package built by pip install . against this torch,
#                   and the Python tests on it (the C++ side of the TorchScript
#                   round trip, run_scripted, is then skipped). CI's run for
#                   2.13 (.ci/run): its C++ suite is what the 2.14 run covers
#
# Environment:
#   VENV_DIR               the venv (defaults above)
#   BUILD_DIR              the build folder (defaults above)
#   TORCHIMAGE_PIP_PYTHON  the interpreter that makes the venv (default below)
#   TORCH_PIN, TORCHVISION_PIN   override the profile's pins
#   TORCHIMAGE_CACHE       where --torch 2.14's venv is kept between runs
#                          (default /var/cache/torchimage as root, readable by
#                          the unprivileged user test_cli runs the CLI as;
#                          else ${XDG_CACHE_HOME:-~/.cache}/torchimage): CI
#                          runs in a fresh clone, so a venv inside the checkout
#                          would be rebuilt (5.5 GB) on every run. The venv's
#                          name holds the pins, and it is reused only when its
#                          stamp (pins, interpreter) matches and every pinned
#                          package has its version; otherwise it is repaired
#                          with pip, or made anew when its interpreter is gone.
#                          A lock keeps two runs from writing it at once.
#
# Which Python: the torch wheels on this project's machines are built for
# CPython 3.11 (cp311), so the venv is made from a CPython 3.11, the first
# `python3.11` on PATH: pyenv's 3.11 where pyenv is set up (this project's
# machines), Debian 12's /usr/bin/python3.11 otherwise. Debian 13's python3 is
# 3.13, for which no 2.13 CPU wheel lies on disk (pip would download the
# multi-GB CUDA build instead), so the script stops rather than use another
# version. The venv does not see the system's site-packages (Debian's torch
# 1.13 must not leak in). torch is always pinned: an unpinned torch pulls
# whatever CUDA build is newest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

orig_args=("$@")
profile=2.13
if [ "${1:-}" = --torch ]; then
  profile=${2:-}
  shift 2 || true
fi
venv_only=0 wheel_only=0 python_only=0
case "${1:-}" in
  --venv-only) venv_only=1; shift ;;
  --wheel-only) wheel_only=1; shift ;;
  --python-only) python_only=1; shift ;;
esac
# Runs a step as on a machine without a CUDA toolkit (--torch 2.14), or as is.
hide=()
ctest_exclude=""  # ctest -E, where a mode sets it
case "$profile" in
  2.13)
    TORCH_PIN=${TORCH_PIN:-2.13.0}
    TORCHVISION_PIN=${TORCHVISION_PIN:-0.28.0}
    VENV_DIR=${VENV_DIR:-$ROOT/.venv-torch}
    BUILD_DIR=${BUILD_DIR:-build-pip}
    real_torchvision=0
    ;;
  2.14)
    TORCH_PIN=${TORCH_PIN:-2.14.1}
    TORCHVISION_PIN=${TORCHVISION_PIN:-0.29.1}
    if [ -z "${TORCHIMAGE_CACHE:-}" ]; then
      # As root (CI), a folder every user can read: test_cli runs the CLI as
      # nobody, which must load this LibTorch (/root is not searchable).
      if [ "$(id -u)" = 0 ]; then
        TORCHIMAGE_CACHE=/var/cache/torchimage
      else
        TORCHIMAGE_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/torchimage
      fi
    fi
    VENV_DIR=${VENV_DIR:-$TORCHIMAGE_CACHE/venv-torch-${TORCH_PIN}-vision-${TORCHVISION_PIN}}
    BUILD_DIR=${BUILD_DIR:-build-pip-2.14}
    # consumer_add_subdirectory compiles the whole library a third time (about
    # 5 min): CI runs it on Debian's 1.13; here consumer_find_package and
    # consumer_libtorch_style build outside projects against this LibTorch.
    ctest_exclude=${PIP_TORCH_CTEST_EXCLUDE-^consumer_add_subdirectory\$}
    real_torchvision=1
    hide=("$ROOT/scripts/without-cuda.sh")
    ;;
  *) echo "pip-torch: --torch takes 2.13 or 2.14, not '$profile'" >&2; exit 2 ;;
esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
if [ ${#hide[@]} -gt 0 ] && [ "${TORCHIMAGE_PIP_TORCH_HIDDEN:-}" != 1 ]; then
  # The whole run, venv included, as on a machine without a CUDA toolkit.
  exec "${hide[@]}" env TORCHIMAGE_PIP_TORCH_HIDDEN=1 "$ROOT/scripts/pip-torch.sh" "${orig_args[@]}"
fi
# The Python tests compare with the real torchvision (python/tests/conftest.py
# stops instead of putting in its stand-ins) wherever the pair is consistent.
export TORCHIMAGE_REQUIRE_REAL_TORCHVISION=$real_torchvision

say() { echo "pip-torch: $*" >&2; }

make_venv() {
  local py=${TORCHIMAGE_PIP_PYTHON:-}
  if [ -z "$py" ]; then
    py=$(command -v python3.11 || true)
    if [ -z "$py" ] && [ "$profile" = 2.14 ]; then
      # torch 2.14.1 has wheels for CPython 3.10 to 3.14 (Debian 13's 3.13
      # included), but only the cp311 ones lie on this project's machines:
      # another Python downloads about 5 GB once.
      py=$(command -v python3 || true)
      [ -n "$py" ] && say "no python3.11 on PATH: using $py (its torch wheels may be downloaded)"
    fi
    if [ -z "$py" ]; then
      say "no python3.11 on PATH: the torch ${TORCH_PIN} wheel on this machine is for CPython 3.11 (cp311)."
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

# Everything pinned to releases on the machine's local indexes (/etc/pip.conf,
# PIP_FIND_LINKS) or its package cache: the torch and torchvision wheels lie on
# disk, the rest are small. Nothing is installed when all are there already.
reqs=(
  "torch==${TORCH_PIN}" "torchvision==${TORCHVISION_PIN}"
  "numpy==2.3.5" "pillow==11.3.0" "pytest==8.4.2"
  # pip install --no-build-isolation . : the build backend and its build tool.
  "scikit-build-core==1.1.*" "ninja==1.13.*"
  # ctest's tensorboard_readback reads SummaryWriter's files with the real
  # tensorboard (it needs a protobuf newer than Debian's).
  "tensorboard==2.21.0" "protobuf>=6.31.1"
  # python/tests/test_layout_colormap.py checks the colormap tables against
  # matplotlib's own (the tables are data: 3.10 has 3.6.3's, Debian 12's).
  "matplotlib==3.10.9"
  # python/tests/test_python.py reads 16-bit and float TIFF back with tifffile.
  "tifffile==2026.3.3"
)
stamp="$VENV_DIR/torchimage-venv.stamp"
venv_ok() {  # the venv's interpreter runs, its stamp and every pin match, torch (and torchvision) import
  "$VENV_DIR/bin/python" -c 'pass' 2>/dev/null || return 1
  [ "$(cat "$stamp" 2>/dev/null)" = "${reqs[*]}" ] || return 1
  "$VENV_DIR/bin/python" - "$real_torchvision" "${reqs[@]}" 2>/dev/null <<'PYCHECK' || return 1
import sys
from importlib.metadata import version
from packaging.requirements import Requirement
for spec in sys.argv[2:]:
    r = Requirement(spec)
    if not r.specifier.contains(version(r.name), prereleases=True):
        sys.exit(1)
import torch  # noqa: F401  (a half-written venv fails here)
if sys.argv[1] == "1":  # (torchvision 0.28 does not import beside the 2.13 CPU torch: conftest.py)
    import torchvision  # noqa: F401
PYCHECK
}

mkdir -p -m 755 "$(dirname "$VENV_DIR")"
exec 9>"$VENV_DIR.lock"
flock 9  # one run at a time writes (or checks) this venv
venv_start=$(date +%s)
if venv_ok; then
  say "reusing $VENV_DIR"
else
  if ! "$VENV_DIR/bin/python" -c 'import pip' 2>/dev/null; then
    rm -rf "$VENV_DIR"
    make_venv
  fi
  rm -f "$stamp"
  say "installing ${reqs[*]}"
  "$VENV_DIR/bin/python" -m pip install -q "${reqs[@]}" 2> >(grep -v "^WARNING: Location" >&2)
  printf '%s\n' "${reqs[*]}" > "$stamp"
  venv_ok || { say "$VENV_DIR: the pinned packages do not import after pip install"; exit 1; }
fi
PY=$VENV_DIR/bin/python
"$PY" -c 'from importlib.metadata import version as v; print("pip-torch: torch", v("torch"), "torchvision", v("torchvision"))' >&2
say "venv ready in $(( $(date +%s) - venv_start )) s ($(du -sh "$VENV_DIR" 2>/dev/null | cut -f1))"

if [ $venv_only = 1 ]; then
  echo "$PY"
  exit 0
fi

scripts/install-deps.sh
if [ $wheel_only = 0 ] && [ $python_only = 0 ]; then
  TORCH_PREFIX=$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
    -DTORCHIMAGE_PYTHON_EXECUTABLE="$PY" "$@" >/dev/null
  step_start=$(date +%s)
  cmake --build "$BUILD_DIR" -j"$(nproc)"
  say "built in $(( $(date +%s) - step_start )) s"
  step_start=$(date +%s)
  (cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" ${ctest_exclude:+-E "$ctest_exclude"})
  say "ctest in $(( $(date +%s) - step_start )) s"
fi

# 2. pip install . into the venv, against the torch installed there.
say "pip install --no-build-isolation . into $VENV_DIR"
"$PY" -m pip uninstall -q -y torchimage >/dev/null 2>&1 || true
step_start=$(date +%s)
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$PY" -m pip install -q --no-build-isolation --no-deps "$ROOT" \
  2> >(grep -v "^WARNING: Location" >&2)
say "pip install . in $(( $(date +%s) - step_start )) s"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
clean_env=(env -i "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=${HOME:-/root}" "TMPDIR=${TMPDIR:-/tmp}"
           "TORCHIMAGE_REQUIRE_REAL_TORCHVISION=$real_torchvision")
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
if [ $python_only = 1 ]; then
  run_scripted=""
  say "--python-only: no run_scripted, the TorchScript round trip through C++ is skipped"
else
  [ -x "$run_scripted" ] || { say "no $run_scripted: build $BUILD_DIR first"; exit 1; }
fi
photos=${TORCHIMAGE_PHOTOS:-$ROOT/tests/data/photos}
step_start=$(date +%s)
(cd "$scratch" && "${clean_env[@]}" TORCHIMAGE_RUN_SCRIPTED="$run_scripted" TORCHIMAGE_PHOTOS="$photos" \
  "$PY" -m pytest -q -p no:cacheprovider "$ROOT/python/tests")
say "Python tests in $(( $(date +%s) - step_start )) s"
