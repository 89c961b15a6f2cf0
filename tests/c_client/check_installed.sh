#!/bin/sh
# Installs the build into a scratch root, then builds memo_client.c as C
# with nothing but the installed qio.h and qio.pc, and runs it.
set -eu
build_dir=$1
source_file=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build_dir" --no-rebuild --destdir "$root" >/dev/null
pc_file=$(find "$root" -name qio.pc | head -n 1)
[ -n "$pc_file" ] || { echo "qio.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc_file")"
export PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs qio)
echo "pkg-config qio: $flags"
${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic -x c "$source_file" $flags -o "$root/memo_client"
LD_LIBRARY_PATH="$(dirname "$(find "$root" -name 'libqio.so' | head -n 1)")" "$root/memo_client"
