#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The installed package, used as an outside project would: installs BUILD
# into a temporary prefix, checks what is there, then builds and runs two
# samples (a workflow and an actor) against it, once through CMake's
# find_package and once through pkg-config. Usage:
#   check_package.sh SOURCE_DIR BUILD_DIR
# Needs the build to be complete (ctest runs after the build).
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/perdure-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() { echo "check_package: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" ||
  { cat "$tmp/install.log"; fail "cmake --install failed"; }
for f in bin/perdure include/perdure/perdure.hpp include/perdure/version.hpp \
         include/perdure/runtime/engine.hpp include/perdure/actors/actor.hpp \
         lib/cmake/perdure/perdureConfig.cmake \
         lib/cmake/perdure/perdureConfigVersion.cmake \
         lib/cmake/perdure/perdureTargets.cmake lib/pkgconfig/perdure.pc; do
  [[ -e $prefix/$f ]] || fail "not installed: $f"
done
ls "$prefix"/lib/libperdure_runtime.* > /dev/null ||
  fail "libperdure_runtime not installed"
# Nothing of the build or source tree leaks into the installed files.
if grep -rl -e "$build" -e "$src/" "$prefix/lib/cmake" "$prefix/lib/pkgconfig"; then
  fail "installed package files name the build or source tree"
fi
version=$(sed -n 's/^Version: //p' "$prefix/lib/pkgconfig/perdure.pc")
"$prefix/bin/perdure" --version | grep -q "^perdure $version " ||
  fail "perdure --version does not print $version"

# run_sample NAME PROGRAM EXPECTED: exit code 0 and the expected output.
run_sample() {
  local out
  out=$(PERDURE_STORAGE=$tmp/storage "$2") || fail "$1 exited with $?"
  grep -q -- "$3" <<< "$out" || fail "$1 printed: $out"
  echo "check_package: $1 ok"
}

# 1. CMake: find_package(perdure 0.2 CONFIG REQUIRED).
cmake -S "$src/test/package" -B "$tmp/cmake" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DPERDURE_SAMPLES="$src/samples" > "$tmp/configure.log" ||
  { cat "$tmp/configure.log"; fail "the outside project did not configure"; }
cmake --build "$tmp/cmake" > "$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "the outside project did not build"; }
run_sample "cmake hello_world" "$tmp/cmake/hello_world" "output: hello world"
run_sample "cmake counter" "$tmp/cmake/counter" "incr -> 1, incr -> 2"

# 2. pkg-config: one compiler line per program.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs perdure) || fail "pkg-config perdure failed"
for s in hello_world counter; do
  # shellcheck disable=SC2086 # the flags are words
  c++ -O1 "$src/samples/$s/main.cpp" -o "$tmp/pc_$s" $flags ||
    fail "$s did not build with: c++ ... $flags"
done
run_sample "pkg-config hello_world" "$tmp/pc_hello_world" "output: hello world"
run_sample "pkg-config counter" "$tmp/pc_counter" "incr -> 1, incr -> 2"
echo "check_package: ok (perdure $version)"
