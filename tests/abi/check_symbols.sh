#!/bin/sh
# SPDX-License-Identifier: MIT
# check_symbols.sh LIBRARY EXPECTED
# Compares what LIBRARY exports (nm -D --defined-only, demangled, one name
# a line, sorted) with the checked-in list EXPECTED, so an accidental
# export or a removed function fails the suite.
set -eu
library=$1
expected=$2
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
nm -D --defined-only --demangle "$library" | cut -d ' ' -f 3- | LC_ALL=C sort -u >"$actual"
if ! diff -u "$expected" "$actual"; then
  echo "$(basename "$library") exports differ from $(basename "$expected") (- missing, + added)."
  echo "A change of the ABI on purpose: update the list and think of the soversion."
  exit 1
fi
echo "$(basename "$library"): $(wc -l <"$actual") exported symbols, as listed"
