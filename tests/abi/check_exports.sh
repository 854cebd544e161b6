#!/bin/sh
# The shared library's ABI: it exports exactly the public API (every
# torchimage:: symbol it exports is a function declared TORCHIMAGE_API in
# include/torchimage/, and each of those is exported: no private member or
# internal stage), and its soname names the minor version until 1.0.
#   check_exports.sh LIBRARY INCLUDE_DIR PROJECT_VERSION
set -eu
lib=$1 include=$2 version=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The names the headers export: the identifier before the '(' of each
# TORCHIMAGE_API declaration.
# (export.h defines the macro.)
grep -ho 'TORCHIMAGE_API[^(;]*(' $(ls "$include"/torchimage/*.h | grep -v '/export\.h$') |
  sed 's/($//' | awk '{print $NF}' | sed 's/^[*&]*//' | sort -u > "$tmp/declared"

# The torchimage:: symbols the library exports, by unqualified name.
nm -D --defined-only -C "$lib" | cut -d' ' -f3- | grep 'torchimage::' > "$tmp/symbols" || true
status=0
# Type information and virtual tables of torchimage's types are not API
# either. (Instantiations of the standard library's templates over private
# types, such as a deque iterator's operator- under clang, are weak copies
# that libstdc++'s default visibility exports: not torchimage's symbols.)
if grep -v '^torchimage::' "$tmp/symbols" | grep -v '^std::' > "$tmp/other"; then
  echo "exported symbols of torchimage's types that are not functions:" >&2
  cat "$tmp/other" >&2
  status=1
fi
# (An ABI tag, as a function returning std::string gets under the C++11 ABI,
# "colormaps[abi:cxx11]", is not part of the name.)
grep '^torchimage::' "$tmp/symbols" | sed 's/(.*//; s/\[abi:[^]]*\]//g' | awk -F'::' '{print $NF}' |
  sort -u > "$tmp/exported"
if [ ! -s "$tmp/declared" ] || [ ! -s "$tmp/exported" ]; then
  echo "no declarations ($include) or no exported symbols ($lib) found" >&2
  exit 1
fi
if ! diff -u "$tmp/declared" "$tmp/exported" > "$tmp/diff"; then
  echo "exported torchimage:: functions (+) differ from the TORCHIMAGE_API declarations (-):" >&2
  cat "$tmp/diff" >&2
  status=1
fi

major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
if [ "$major" = 0 ]; then want="libtorchimage.so.0.$minor"; else want="libtorchimage.so.$major"; fi
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" != "$want" ]; then
  echo "soname is '$soname', expected '$want' (the ABI is kept within a minor version)" >&2
  status=1
fi
[ $status = 0 ] && echo "exports: $(wc -l < "$tmp/exported") public functions, soname $soname"
exit $status
