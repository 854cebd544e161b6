#!/usr/bin/env bash
# The CUDA check, for a machine with an NVIDIA GPU, a CUDA build of PyTorch
# with torchvision, CMake, a C++ compiler, and no package registry needed.
# Which Python (and so which torch, torchvision and LibTorch):
#   - $PYTHON when set;
#   - else the venv of scripts/pip-torch.sh --torch 2.14 (pip's
#     torch 2.14.1+cu130 and torchvision 0.29.1+cu130, the pair CI tests on
#     the CPU), reused from its cache or made there when a package index is
#     reachable;
#   - else python3.
# No CUDA toolkit is needed: the build finds LibTorch through
# cmake/torchimage_find_torch.cmake, as pip install . does.
#   1. unpacks libpng, libjpeg-turbo and zlib (headers and libraries) from the
#      Debian packages in third_party/debs/ (fetched beforehand by
#      scripts/fetch-gpu-debs.sh on a machine with apt; not committed) into
#      the build folder, and builds torchimage, its Python operators and
#      tests/gpu/gpu_check against that torch's LibTorch;
#   2. runs tests/gpu/gpu_check (C++): save_image/encode_image/save_images/
#      ImageWriter from CUDA float32/float16/bfloat16 tensors write the bytes
#      the same tensors write from the CPU, make_grid stays on the device, and
#      the writer returns before the device copy completes while overwriting
#      the tensor after the call changes nothing;
#   3. runs tests/gpu/check_python_cuda.py: the Python drop-in against
#      torchvision on CUDA tensors, CUDA bytes == CPU bytes, and
#      torchimage.distributed over NCCL (1 rank; 2 on one GPU, or a skip
#      where NCCL refuses two ranks on one device).
# Ends with one line: "gpu-check: N passed, N failed" and what ran.
#
#   scripts/gpu-check.sh            (PYTHON as above, BUILD_DIR=build-gpu)
#
# Without CUDA (or against a CPU LibTorch) it builds, reports that nothing
# ran on a GPU, and exits 0 ("0 passed, 0 failed, skipped: no CUDA").
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  PY=$(scripts/pip-torch.sh --torch 2.14 --venv-only 2>/dev/null | tail -1) || PY=""
  if [ -z "$PY" ] || [ ! -x "$PY" ]; then
    echo "gpu-check: no venv of scripts/pip-torch.sh --torch 2.14 (no package index here?): python3" >&2
    PY=python3
  fi
fi
BUILD=${BUILD_DIR:-build-gpu}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
DEBROOT=$BUILD/debroot
start=$(date +%s)
mkdir -p "$BUILD"
log=$BUILD/gpu-check.log
: > "$log"

fail() {
  echo "gpu-check: $*" >&2
  echo "gpu-check: 0 passed, 1 failed (setup: $*; log: $log)"
  exit 1
}

# 0. The torch to build against.
info=$("$PY" -c 'import torch, torch.utils
from importlib.metadata import version
print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), version("torchvision"))
print(torch.utils.cmake_prefix_path)
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")' 2>>"$log") \
  || fail "$PY cannot import torch and torchvision"
read -r torch_version cuda_version cuda_ok tv_version <<<"$(sed -n 1p <<<"$info")"
torch_prefix=$(sed -n 2p <<<"$info")
device=$(sed -n 3p <<<"$info")
echo "gpu-check: torch $torch_version (CUDA $cuda_version, available: $cuda_ok), torchvision $tv_version, $device"

# 1. libpng, libjpeg-turbo and zlib from the committed Debian packages.
rm -rf "$DEBROOT"
mkdir -p "$DEBROOT"
debs=("$ROOT"/third_party/debs/*.deb)
[ -e "${debs[0]}" ] || fail "no packages in third_party/debs (run scripts/fetch-gpu-debs.sh on a Debian machine)"
for deb in "${debs[@]}"; do
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$DEBROOT" || fail "cannot unpack $deb"
  else
    # Without dpkg: a .deb is an ar archive holding data.tar.* (tar reads
    # the compression of a file by itself).
    member=$(ar t "$deb" | grep '^data\.tar') || fail "no data.tar in $deb"
    ar p "$deb" "$member" > "$BUILD/$member" && tar -xf "$BUILD/$member" -C "$DEBROOT" \
      || fail "cannot unpack $deb"
    rm -f "$BUILD/$member"
  fi
done
lib_of() {  # the real file of a library (the -dev symlinks may be absolute)
  local f
  f=$(find "$DEBROOT" -name "$1" -type f | head -1)
  [ -n "$f" ] || fail "no $1 in the unpacked packages"
  echo "$f"
}
png_lib=$(lib_of 'libpng16.so.16.*')
jpeg_lib=$(lib_of 'libjpeg.so.62.*')
z_lib=$(lib_of 'libz.so.1.*')
inc=$DEBROOT/usr/include
arch_inc=$(dirname "$(find "$inc" -name jconfig.h | head -1)")
export LD_LIBRARY_PATH="$(dirname "$png_lib"):$(dirname "$z_lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 2. Build. With or without a CUDA toolkit (torchimage_find_torch.cmake: torch's
# CUDA package finds the toolkit where there is one, as before).
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
echo "gpu-check: building into $BUILD"
cmake -S tests/gpu -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix" \
  -DPNG_LIBRARY="$png_lib" -DPNG_PNG_INCLUDE_DIR="$inc" \
  -DJPEG_LIBRARY="$jpeg_lib" -DJPEG_INCLUDE_DIR="$inc" \
  -DZLIB_LIBRARY="$z_lib" -DZLIB_INCLUDE_DIR="$inc" \
  -DCMAKE_CXX_FLAGS="-isystem $arch_inc" -DCMAKE_C_FLAGS="-isystem $arch_inc" \
  -DTORCHIMAGE_WITH_ISAL=OFF -DTORCHIMAGE_BUILD_CLI=OFF >>"$log" 2>&1 \
  || { tail -30 "$log" >&2; fail "cmake configure failed"; }
cmake --build "$BUILD" -j"$(nproc)" --target gpu_check torchimage_ops >>"$log" 2>&1 \
  || { grep -E "error|Error" "$log" | head -30 >&2; fail "build failed"; }
built=$(date +%s)

# 3. The checks.
passed=0 failed=0 parts=()
run_part() {  # name, command...: adds its "N passed, N failed" line to the totals
  local name=$1 out rc p f
  shift
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" | tee -a "$log" | grep -v '^PASS '
  if [ $rc = 77 ]; then
    parts+=("$name: skipped, no CUDA")
    return
  fi
  read -r p f <<<"$(printf '%s\n' "$out" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' | tail -1)"
  if [ -z "${p:-}" ]; then
    p=0 f=1
    echo "gpu-check: $name ended without its summary (exit $rc)"
  elif [ $rc != 0 ] && [ "$f" = 0 ]; then
    f=1
  fi
  passed=$((passed + p)) failed=$((failed + f))
  parts+=("$name $p/$((p + f))")
}
run_part "C++" "$BUILD/gpu_check" "$BUILD/out"
run_part "Python" env PYTHONPATH="$BUILD/torchimage/python" "$PY" "$ROOT/tests/gpu/check_python_cuda.py"

end=$(date +%s)
note=""
[ "$cuda_ok" = True ] || note=", skipped: no CUDA"
echo "gpu-check: $passed passed, $failed failed (${parts[*]}; torch $torch_version, torchvision $tv_version, $device; build $((built - start)) s, checks $((end - built)) s$note)"
[ $failed = 0 ]
