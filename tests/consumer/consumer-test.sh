#!/bin/sh
# SPDX-License-Identifier: MIT
# zcuring as another project takes it: install a configured and built
# zcuring build tree into a fresh prefix, check what lands where, then
# build the project next to this script against that prefix twice, with
# find_package(zcuring) and with pkg-config, and once more from the source
# tree with add_subdirectory(<zcuring>/cxx), and run its programs.
#   consumer-test.sh ZCURING_BUILD_DIR WORK_DIR CC CXX
set -eu
build=$1 work=$2 cc=$3 cxx=$4
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
fail() { echo "package_consumer: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log" >&2; fail "cmake --install failed"; }

# The layout: headers, package files; the uapi headers in a directory of
# their own, never over the system's <linux/io_uring.h>.
for f in include/zcuring/zcuring.hpp include/zcuring/detail/fifo.hpp \
	include/zcuring/zcrx.h include/zcuring/zc_slots.h include/zcuring/compat.h \
	include/zcuring/uapi/linux/io_uring.h include/zcuring/uapi/linux/io_uring/zcrx.h \
	share/cmake/zcuring/zcuringConfig.cmake share/cmake/zcuring/zcuringConfigVersion.cmake \
	share/cmake/zcuring/zcuringTargets.cmake share/pkgconfig/zcuring.pc; do
	[ -f "$prefix/$f" ] || fail "$f not installed"
done
[ ! -e "$prefix/include/linux" ] || fail "include/linux installed: it would shadow the system's uapi"
# The fio engine, when this build has one.
if [ -f "$build/fio/zcuring_net.so" ]; then
	ls "$prefix"/lib*/zcuring/zcuring_net.so >/dev/null 2>&1 ||
		fail "the fio engine was built but not installed"
fi
# The man pages, when man/ has them.
for m in "$src"/man/man3/*.3 "$src"/man/man7/*.7; do
	[ -f "$m" ] || continue
	sec=${m##*.}
	[ -f "$prefix/share/man/man$sec/$(basename "$m")" ] || fail "man page $(basename "$m") not installed"
done
echo "installed: $(cd "$prefix" && find . -type f | wc -l) files in $prefix"

gen=
command -v ninja >/dev/null 2>&1 && gen="-G Ninja"

# 1. find_package(zcuring)
# shellcheck disable=SC2086
cmake -S "$here" -B "$work/cmake" $gen -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" >"$work/cmake.log" 2>&1 ||
	{ cat "$work/cmake.log" >&2; fail "find_package(zcuring): configure failed"; }
cmake --build "$work/cmake" >"$work/build.log" 2>&1 ||
	{ cat "$work/build.log" >&2; fail "find_package(zcuring): build failed"; }
grep -rqF --include=build.ninja --include=flags.make "$prefix/include/zcuring/uapi" "$work/cmake" ||
	fail "find_package(zcuring): the uapi directory is not on the include path"
"$work/cmake/consumer_cxx" || fail "consumer_cxx (find_package) failed"
"$work/cmake/consumer_c" || fail "consumer_c (find_package) failed"

# 2. pkg-config
export PKG_CONFIG_PATH="$prefix/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists zcuring || fail "pkg-config finds no zcuring"
cflags=$(pkg-config --cflags zcuring) libs=$(pkg-config --libs zcuring)
echo "pkg-config zcuring $(pkg-config --modversion zcuring): $cflags $libs"
mkdir -p "$work/pc"
# shellcheck disable=SC2086
"$cxx" -std=c++20 -Wall -Wextra -Werror $cflags "$here/consumer.cpp" -o "$work/pc/consumer_cxx" $libs ||
	fail "pkg-config: consumer.cpp does not build"
# shellcheck disable=SC2086
"$cc" -Wall -Wextra -Werror $cflags "$here/consumer.c" -o "$work/pc/consumer_c" $libs ||
	fail "pkg-config: consumer.c does not build"
"$work/pc/consumer_cxx" || fail "consumer_cxx (pkg-config) failed"
"$work/pc/consumer_c" || fail "consumer_c (pkg-config) failed"

# 3. add_subdirectory(<zcuring>/cxx) from the source tree: no install, no
# Catch2, none of zcuring's top level.
# shellcheck disable=SC2086
cmake -S "$here" -B "$work/subdir" $gen -DZCURING_CXX_DIR="$src/cxx" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" >"$work/subdir.log" 2>&1 ||
	{ cat "$work/subdir.log" >&2; fail "add_subdirectory(cxx): configure failed"; }
cmake --build "$work/subdir" >>"$work/subdir.log" 2>&1 ||
	{ cat "$work/subdir.log" >&2; fail "add_subdirectory(cxx): build failed"; }
"$work/subdir/consumer_cxx" >/dev/null || fail "consumer_cxx (add_subdirectory) failed"
"$work/subdir/consumer_c" >/dev/null || fail "consumer_c (add_subdirectory) failed"
echo "package_consumer: find_package, pkg-config and add_subdirectory(cxx) consumers built and ran ($cxx, $cc)"
