#!/bin/sh
# Installs the build into a scratch root, then builds c_round_trip.c as C
# with nothing but the installed headers and xdr_glue.pc, and runs it.
set -eu
build_dir=$1
source_file=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build_dir" --no-rebuild --destdir "$root" >/dev/null
pc_file=$(find "$root" -name xdr_glue.pc | head -n 1)
[ -n "$pc_file" ] || { echo "xdr_glue.pc was not installed"; exit 1; }
# Point the installed qio.pc and xdr_glue.pc at the scratch root, leaving
# libtirpc.pc (a system package) as it is: PKG_CONFIG_SYSROOT_DIR would
# move every package, libtirpc's headers included.
pc_dir="$root/pkgconfig"
mkdir "$pc_dir"
for name in qio xdr_glue; do
  sed "s|^prefix=|prefix=$root|" "$(dirname "$pc_file")/$name.pc" >"$pc_dir/$name.pc"
done
export PKG_CONFIG_PATH="$pc_dir"
flags=$(pkg-config --cflags --libs xdr_glue)
echo "pkg-config xdr_glue: $flags"
${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic -x c "$source_file" $flags -o "$root/c_round_trip"
LD_LIBRARY_PATH="$(dirname "$(find "$root" -name 'libxdr_glue.so' | head -n 1)")" "$root/c_round_trip"
