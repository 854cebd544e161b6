#!/usr/bin/env bash
# Runs a command as on a machine with no CUDA toolkit, whatever this one has:
# in a private mount namespace (unshare -m, as root), every CUDA toolkit
# folder (/usr/local/cuda*, /opt/cuda*, /usr/lib/cuda, $CUDA_HOME, $CUDA_PATH)
# is covered by an empty tmpfs, every nvcc on PATH by an empty file that is
# not executable, and CUDA_HOME, CUDA_PATH, CUDACXX and CUDA_TOOLKIT_ROOT_DIR
# are unset. Nothing changes outside the command. What the pip user without a
# toolkit has: the CUDA libraries inside pip's wheels (nvidia-*) stay visible.
#
#   scripts/without-cuda.sh COMMAND [ARGS...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
if [ "${TORCHIMAGE_IN_NO_CUDA_NS:-}" != 1 ]; then
  command -v unshare >/dev/null || { echo "without-cuda: needs unshare (util-linux)" >&2; exit 1; }
  if [ "$(id -u)" -ne 0 ]; then
    # A user namespace maps us to root inside, where the kernel allows it.
    exec unshare -r -m --propagation private env TORCHIMAGE_IN_NO_CUDA_NS=1 "$0" "$@"
  fi
  exec unshare -m --propagation private env TORCHIMAGE_IN_NO_CUDA_NS=1 "$0" "$@"
fi
hidden=()
for d in /usr/local/cuda /usr/local/cuda-* /opt/cuda /opt/cuda-* /usr/lib/cuda \
         "${CUDA_HOME:-}" "${CUDA_PATH:-}" "${CUDA_TOOLKIT_ROOT_DIR:-}"; do
  [ -n "$d" ] && [ -d "$d" ] && [ ! -L "$d" ] || continue
  mount -t tmpfs -o ro,size=1k tmpfs "$d"
  hidden+=("$d")
done
# nvcc on PATH: its folder is replaced by a folder of links to everything in
# it but nvcc (the original reached through a private bind mount), so that
# nvcc is absent there, not merely unusable.
IFS=: read -r -a path_dirs <<<"$PATH"
scratch=$(mktemp -d)
n=0
for d in "${path_dirs[@]}"; do
  [ -e "$d/nvcc" ] && [ ! -d "$d/nvcc" ] || continue
  d=$(readlink -f "$d")
  n=$((n + 1))
  mkdir -p "$scratch/orig$n" "$scratch/shadow$n"
  mount --bind "$d" "$scratch/orig$n"
  for e in "$scratch/orig$n"/* "$scratch/orig$n"/.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    [ "$(basename "$e")" = nvcc ] && continue
    ln -s "$e" "$scratch/shadow$n/$(basename "$e")"
  done
  mount --bind "$scratch/shadow$n" "$d"
  hidden+=("$d/nvcc")
done
unset CUDA_HOME CUDA_PATH CUDACXX CUDA_TOOLKIT_ROOT_DIR TORCHIMAGE_IN_NO_CUDA_NS
for d in "${path_dirs[@]}"; do
  if [ -x "$d/nvcc" ] && [ ! -d "$d/nvcc" ]; then
    echo "without-cuda: nvcc is still reachable: $d/nvcc" >&2
    exit 1
  fi
done
echo "without-cuda: hidden: ${hidden[*]:-nothing (no toolkit found)}" >&2
rc=0
"$@" || rc=$?
# The mounts end with the namespace; the scratch folder is on the real /tmp.
# (Never rm -r the orig folders: they are the real ones until unmounted.)
for ((i = n; i >= 1; i--)); do
  { umount "$scratch/orig$i" && rmdir "$scratch/orig$i"; } 2>/dev/null || true
  rm -rf "$scratch/shadow$i" 2>/dev/null
done
rmdir "$scratch" 2>/dev/null || true
exit $rc
