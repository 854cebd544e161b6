#!/usr/bin/env bash
# Installs what torchimage needs to build and test, from Debian's packages.
# Does nothing when everything is already there. Needs root or sudo.
set -euo pipefail

# Debian 12 (bookworm) has LibTorch 1.13 and clang 14; Debian 13 (trixie)
# a LibTorch 2.x and clang 19. Everything else has the same name on both.
debian=$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo 12)
case "$debian" in
  12|bookworm*) llvm=14 ;;
  *) llvm=19 ;;
esac

packages=(
  build-essential cmake pkg-config
  libtorch-dev libpng-dev libjpeg62-turbo-dev libturbojpeg0-dev zlib1g-dev libisal-dev
  # TIFF and WebP (each optional: without it the format is "not in this
  # build"); GIF's library for the GIF row to come. tifffile reads TIFF back
  # in the Python tests.
  libtiff-dev libwebp-dev libgif-dev python3-tifffile
  googletest libgtest-dev libbenchmark-dev
  # tests/test_distributed.cpp builds a c10d ProcessGroupGloo, whose header
  # includes gloo's (Debian's libtorch-dev links libgloo0 but does not pull
  # its headers).
  libgloo-dev
  # benchmarks/content.py compares libdeflate's engine (torchimage_compare
  # links it when found; the library does not use it).
  libdeflate-dev
  python3-torch python3-torchvision python3-pil python3-numpy python3-pytest
  # Drawing (box labels: FreeType and DejaVuSans) and the colormap tables'
  # generator and tests (matplotlib).
  libfreetype-dev fonts-dejavu-core python3-matplotlib
  # scripts/pip-torch.sh: a venv for pip's torch (Debian's python3 needs python3-venv).
  python3-venv
  # scripts/sanitize.sh and scripts/fuzz.sh: clang with its sanitizer and
  # libFuzzer runtimes (only recommended by clang, so named), and
  # llvm-symbolizer for readable reports.
  clang "libclang-rt-$llvm-dev" "llvm-$llvm"
  # .ci/run: a compiler cache between CI runs on one machine (the builds of
  # scripts/build.sh and the others use it only where .ci/run asks).
  ccache
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "torchimage: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "torchimage: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
