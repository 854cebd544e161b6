#!/usr/bin/env bash
# Fetches the Debian packages scripts/gpu-check.sh builds with, into
# third_party/debs/: libpng, libjpeg-turbo and zlib, headers and shared
# libraries (about 2 MB). Run on a Debian machine with apt (this project's)
# before a GPU run: the GPU machine has no package registry, so they travel
# with the working tree. They are not committed (no third-party code in the
# repository): the .debs are ignored by git, so the device tool needs them
# named, e.g. run(command="scripts/gpu-check.sh", carry=["third_party/debs"]).
# SHA256SUMS records the set last fetched. They depend on nothing but the C
# library.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=third_party/debs
packages=(libpng-dev libpng16-16 libjpeg62-turbo-dev libjpeg62-turbo zlib1g-dev zlib1g)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 777 "$tmp"  # apt's download user (_apt) writes there
(cd "$tmp" && apt-get download "${packages[@]}")
rm -f "$dest"/*.deb
mkdir -p "$dest"
cp "$tmp"/*.deb "$dest"/
(cd "$dest" && sha256sum ./*.deb > SHA256SUMS)
echo "fetch-gpu-debs: $(ls "$dest"/*.deb | wc -l) packages into $dest ($(cat /etc/debian_version 2>/dev/null || echo '?'))"
ls -la "$dest"
