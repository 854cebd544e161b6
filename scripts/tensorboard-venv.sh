#!/usr/bin/env bash
# Makes (or reuses) the venv in which the tests read event files back with the
# real TensorBoard: tensorboard 2.21.0 from pip (Debian 12 has no package; it
# needs protobuf >= 6.31.1, newer than Debian's python3-protobuf 3.21.12),
# over Debian's /usr/bin/python3 with --system-site-packages, so that
# Debian's python3-torch, python3-torchvision and numpy are seen too.
# Prints the venv's python on standard output.
#
#   scripts/tensorboard-venv.sh [PYTHON]   (default /usr/bin/python3)
#
# Environment:
#   TORCHIMAGE_CACHE   where the venv is kept between runs (as in
#                      scripts/pip-torch.sh: /var/cache/torchimage as root,
#                      else ${XDG_CACHE_HOME:-~/.cache}/torchimage). CI starts
#                      from a fresh clone: the venv lives outside the checkout.
#   TENSORBOARD_VENV   the venv's folder (overrides the default below)
set -euo pipefail
PY_BASE=${1:-/usr/bin/python3}
TB_PIN=2.21.0
PROTOBUF_PIN=6.31.1
if [ -z "${TORCHIMAGE_CACHE:-}" ]; then
  if [ "$(id -u)" = 0 ]; then
    TORCHIMAGE_CACHE=/var/cache/torchimage
  else
    TORCHIMAGE_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/torchimage
  fi
fi
# One venv per base interpreter (the default's: ...-python3).
VENV=${TENSORBOARD_VENV:-$TORCHIMAGE_CACHE/venv-tensorboard-$TB_PIN-$(basename "$PY_BASE")}
say() { echo "tensorboard-venv: $*" >&2; }
reqs=("tensorboard==$TB_PIN" "protobuf>=$PROTOBUF_PIN")
stamp="$VENV/torchimage-venv.stamp"
want="${reqs[*]} $($PY_BASE -c 'import sys; print(sys.executable, sys.version.split()[0])')"
venv_ok() {
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || return 1
  "$VENV/bin/python" -c '
from tensorboard.backend.event_processing import event_accumulator  # noqa: F401
import tensorboard, sys
sys.exit(tensorboard.__version__ != sys.argv[1])' "$TB_PIN" 2>/dev/null
}
mkdir -p -m 755 "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if venv_ok; then
  echo "$VENV/bin/python"
  exit 0
fi
if ! "$PY_BASE" -c 'import venv, ensurepip' 2>/dev/null; then
  ver=$("$PY_BASE" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  say "$PY_BASE lacks venv/ensurepip: installing python${ver}-venv"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "python${ver}-venv" >/dev/null
fi
rm -rf "$VENV"
say "creating $VENV from $PY_BASE with ${reqs[*]}"
"$PY_BASE" -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install -q "${reqs[@]}" >&2
printf '%s\n' "$want" > "$stamp"
venv_ok || { say "$VENV: tensorboard $TB_PIN does not import after pip install"; exit 1; }
echo "$VENV/bin/python"
