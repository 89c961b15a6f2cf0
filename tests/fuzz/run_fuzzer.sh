#!/bin/sh
# SPDX-License-Identifier: MIT
# run_fuzzer.sh FUZZER CORPUS SECONDS: fuzzes from the kept corpus for a
# bounded time; new inputs land in a scratch folder (merge them into the
# corpus with: FUZZER -merge=1 CORPUS SCRATCH).
set -eu
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$1" -max_total_time="$3" -print_final_stats=1 "$scratch" "$2"
