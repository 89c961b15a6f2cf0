#!/bin/sh
# SPDX-License-Identifier: MIT
# run_fuzzer.sh FUZZER CORPUS SECONDS ARTIFACT_DIR
# Runs the libFuzzer target for SECONDS starting from the seed corpus kept
# in the source tree (0 seconds: only replays that corpus). New inputs go to
# a scratch directory, never into the sources; an input that fails is saved
# in ARTIFACT_DIR.
set -eu
fuzzer=$1
corpus=$2
seconds=$3
artifacts=$4
if [ ! -x "$fuzzer" ]; then
  echo "no fuzzer: building it needs clang++ with libFuzzer (Debian: clang libclang-rt-14-dev)"
  exit 1
fi
if [ "$seconds" -eq 0 ]; then
  # Files, not the folder: libFuzzer runs each once and writes nothing.
  "$fuzzer" -artifact_prefix="$artifacts/" "$corpus"/*
  exit
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$scratch" "$corpus"
