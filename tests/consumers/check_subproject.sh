#!/bin/sh
# SPDX-License-Identifier: MIT
# check_subproject.sh SOURCE_ROOT PARENT_DIR SOURCE...
# Builds the meson project in PARENT_DIR with this source tree as its
# subproject (subprojects/qio, a symlink, with PARENT_DIR/qio.wrap beside
# it) in a scratch folder, with the SOURCE files copied in; checks that
# the parent's build, test list and install hold nothing of qio but its two
# libraries, then builds it and runs its tests.
set -eu
source_root=$1
parent_dir=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$parent_dir/meson.build" "$@" "$work/"
mkdir "$work/subprojects"
ln -s "$source_root" "$work/subprojects/qio"
cp "$parent_dir/qio.wrap" "$work/subprojects/"

meson setup "$work/build" "$work" >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 1; }
cd "$work/build"
meson introspect --targets --tests --installed . >"$work/introspection.json"
python3 - "$work/introspection.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
problems = []
targets = sorted(target["name"] for target in info["targets"])
expected = ["c_round_trip", "cxx_consumer", "memo_client",
            "qio", "qio_internal", "xdr_glue", "xdr_glue_internal"]
if targets != expected:
    problems.append(f"targets {targets}, expected {expected}")
tests = sorted(test["name"] for test in info["tests"])
if tests != ["C++ consumer", "memo client", "xdr_glue C round trip"]:
    problems.append(f"tests {tests}: only the parent's own belong there")
for installed in info["installed"].values():
    if "/bin/" in installed or "/man/" in installed:
        problems.append(f"installs {installed}: only the libraries belong there")
for problem in problems:
    print("subproject:", problem)
sys.exit(1 if problems else 0)
PY
echo "the parent's build holds qio's two libraries and its own three programs, nothing else"
ninja -j 2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
meson test --no-rebuild --print-errorlogs
