#!/bin/sh
# SPDX-License-Identifier: MIT
# check_installed.sh BUILD_DIR CHECK ARGUMENTS...
# Installs the build into a scratch root (meson install --destdir), then
# uses what was installed as a user of the package would:
#   pkg-config SOURCE.c PACKAGE
#       builds SOURCE.c as C with nothing but the installed headers and
#       PACKAGE.pc, and runs it; qio.pc must also work on its own, with no
#       other package's .pc file (fmt is the library's business);
#   cmake CONSUMER_DIR
#       configures and builds the CMake project CONSUMER_DIR, which finds
#       the installed qio with find_package(qio), and runs its programs;
#   man PAGE...
#       renders each named section 3 page with groff, warnings as errors.
set -eu
build_dir=$1
check=$2
shift 2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build_dir" --no-rebuild --destdir "$root" >/dev/null
prefix=$root$(meson introspect "$build_dir" --buildoptions |
  python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
library_dir=$(dirname "$(find "$root" -name 'libqio.so' | head -n 1)")

# Points this project's installed .pc files at the scratch root, leaving
# system packages' (libtirpc) as they are: PKG_CONFIG_SYSROOT_DIR would
# move every package, system headers included.
relocated_pc_files() {
  pc_dir="$root/pkgconfig"
  mkdir -p "$pc_dir"
  for installed in "$library_dir"/pkgconfig/*.pc; do
    sed "s|^prefix=|prefix=$root|" "$installed" >"$pc_dir/$(basename "$installed")"
  done
  echo "$pc_dir"
}

check_pkg_config() {
  source_file=$1
  package=$2
  pc_dir=$(relocated_pc_files)
  PKG_CONFIG_LIBDIR=$pc_dir pkg-config --cflags --libs qio >/dev/null ||
    { echo "qio.pc needs another package's .pc file"; exit 1; }
  flags=$(PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs "$package")
  echo "pkg-config $package: $flags"
  ${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic -x c "$source_file" $flags -o "$root/program"
  LD_LIBRARY_PATH=$library_dir "$root/program"
}

check_cmake() {
  consumer_dir=$1
  command -v cmake >/dev/null || { echo "cmake not found (Debian's cmake package)"; exit 1; }
  cmake -S "$consumer_dir" -B "$root/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >"$root/cmake.log" 2>&1 ||
    { cat "$root/cmake.log"; exit 1; }
  cmake --build "$root/cmake-build" -j 2 >"$root/cmake-build.log" 2>&1 ||
    { cat "$root/cmake-build.log"; exit 1; }
  for program in memo_client c_round_trip cxx_consumer; do
    echo "CMake consumer: $program"
    LD_LIBRARY_PATH=$library_dir "$root/cmake-build/$program"
  done
}

check_man() {
  [ "$#" -gt 0 ] || { echo "no man pages were built (pandoc missing?)"; exit 1; }
  man_dir=$(find "$root" -type d -path '*/man/man3' | head -n 1)
  [ -n "$man_dir" ] || { echo "no man3 folder was installed"; exit 1; }
  status=0
  for page in "$@"; do
    file="$man_dir/$page.3"
    if [ ! -e "$file" ]; then
      echo "$page.3: not installed"
      status=1
      continue
    fi
    # -t: pages with tables need tbl; -ww: every warning; -z: no output.
    warnings=$(groff -t -man -Tutf8 -ww -z "$file" 2>&1) || status=1
    if [ -n "$warnings" ]; then
      echo "$page.3: $warnings"
      status=1
    fi
    # whatis and apropos read the NAME line through lexgrog.
    lexgrog "$file" >/dev/null || { echo "$page.3: no NAME line that whatis can read"; status=1; }
  done
  [ "$status" -eq 0 ] && echo "$# man pages render without warnings"
  return $status
}

case "$check" in
pkg-config) check_pkg_config "$@" ;;
cmake) check_cmake "$@" ;;
man) check_man "$@" ;;
*) echo "check_installed.sh: unknown check '$check'" >&2; exit 2 ;;
esac
