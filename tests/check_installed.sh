#!/bin/sh
# check_installed.sh BUILD_DIR SOURCE.c PACKAGE
# Installs the build into a scratch root, then builds SOURCE.c as C with
# nothing but the installed headers and PACKAGE.pc, and runs it.
set -eu
build_dir=$1
source_file=$2
package=$3
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build_dir" --no-rebuild --destdir "$root" >/dev/null
pc_file=$(find "$root" -name "$package.pc" | head -n 1)
[ -n "$pc_file" ] || { echo "$package.pc was not installed"; exit 1; }
# Point this project's installed .pc files at the scratch root, leaving
# system packages' (libtirpc, fmt) as they are: PKG_CONFIG_SYSROOT_DIR would
# move every package, system headers included.
pc_dir="$root/pkgconfig"
mkdir "$pc_dir"
for installed in "$(dirname "$pc_file")"/*.pc; do
  sed "s|^prefix=|prefix=$root|" "$installed" >"$pc_dir/$(basename "$installed")"
done
export PKG_CONFIG_PATH="$pc_dir"
flags=$(pkg-config --cflags --libs "$package")
echo "pkg-config $package: $flags"
${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic -x c "$source_file" $flags -o "$root/program"
LD_LIBRARY_PATH="$(dirname "$(find "$root" -name 'libqio.so' | head -n 1)")" "$root/program"
