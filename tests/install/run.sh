#!/usr/bin/env bash
# Installs BUILD_DIR into a temporary prefix and runs what was installed with
# a clean environment: no LD_LIBRARY_PATH, and no PYTHONPATH beyond the
# installed package. The RUNPATHs must find libtorchimage and LibTorch.
#   run.sh BUILD_DIR PYTHON [TEST_DATA_DIR]
set -euo pipefail
build=$1
python=$2
data=${3:-$(cd "$(dirname "$0")/../data" && pwd)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix with space"  # any prefix, even an awkward one
cmake --install "$build" --prefix "$prefix" >/dev/null
clean=(env -i HOME="$work" PATH=/usr/bin:/bin LANG=C.UTF-8)

# The CLI.
for f in "$prefix/bin/torchimage" "$prefix"/lib*/libtorchimage.so*; do
  [ -e "$f" ] || { echo "install: missing $f"; exit 1; }
done
"${clean[@]}" "$prefix/bin/torchimage" --version
"${clean[@]}" "$prefix/bin/torchimage" save "$data/cli/torch_f32_batch.pt" "$work/cli.png" --nrow 2
"${clean[@]}" "$prefix/bin/torchimage" save "$data/cli/torch_f32_batch.pt" - --nrow 2 > "$work/stdout.png"
cmp "$work/cli.png" "$work/stdout.png"

# The Python package, from the installed folder only.
site=$(find "$prefix" -type d -name torchimage -path '*-packages/*' | head -n 1)
[ -n "$site" ] || { echo "install: no Python package under $prefix"; exit 1; }
"${clean[@]}" PYTHONPATH="$(dirname "$site")" "$python" - "$work" <<'PY'
import os, sys
import torch
import torchimage
work = sys.argv[1]
assert torchimage.library_path.startswith(os.path.dirname(torchimage.__file__)), torchimage.library_path
t = torch.linspace(0, 1, 4 * 3 * 5 * 6).reshape(4, 3, 5, 6)
torchimage.save_image(t, os.path.join(work, "py.png"), nrow=2)
img = torchimage.read_image(os.path.join(work, "py.png"))
assert torch.equal(img, torchimage.to_pixels(t, nrow=2).permute(2, 0, 1)), "pixels differ"
print("install: python", torch.__version__, "ok", torchimage.library_path)
PY
echo "install: ok ($prefix)"
