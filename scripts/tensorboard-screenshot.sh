#!/usr/bin/env bash
# The README's screenshot of TensorBoard's images tab: serves LOGDIR with the
# tensorboard of scripts/tensorboard-venv.sh on localhost and captures the
# page with Debian's chromium, headless (apt-get install chromium).
#
#   scripts/tensorboard-screenshot.sh LOGDIR OUT.png [TAB]   (TAB: images, scalars, ...; default images)
set -euo pipefail
logdir=$1 out=$2 tab=${3:-images}
here=$(cd "$(dirname "$0")" && pwd)
py=$("$here/tensorboard-venv.sh")
command -v chromium >/dev/null || { echo "tensorboard-screenshot: needs chromium (apt-get install chromium)" >&2; exit 1; }
port=${TENSORBOARD_PORT:-6123}
"$(dirname "$py")/tensorboard" --logdir "$logdir" --host 127.0.0.1 --port "$port" \
  --reload_interval 0 >/dev/null 2>&1 &
tb=$!
trap 'kill "$tb" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if "$py" -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:$port/data/runs', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.5
done
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --window-size=1400,1000 --virtual-time-budget=20000 --screenshot="$out" \
  "http://127.0.0.1:$port/#$tab" >/dev/null 2>&1
rm -rf "$profile"
echo "tensorboard-screenshot: $out" >&2
