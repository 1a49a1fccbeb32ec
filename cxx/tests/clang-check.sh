#!/bin/sh
# SPDX-License-Identifier: MIT
# The C++ bindings must be clean under clang++ as under g++: compile each
# public header on its own, and the examples and tests, with clang++ and
# the project's warnings (-fsyntax-only; scripts/test also builds and runs
# all user space with clang++ in build/cmake-clang).
#   clang-check.sh SOURCE_DIR
set -eu
src=$1
cxx=$(command -v clang++) || { echo "clang++ missing (scripts/setup-host installs it)" >&2; exit 1; }
flags="-std=c++20 -fsyntax-only -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
	-I$src/cxx/include -I$src/include -I$src/uapi/include"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$src"/cxx/include/zcuring/*.hpp; do
	printf '#include <zcuring/%s>\n' "$(basename "$h")" >"$tmp/one.cpp"
	# shellcheck disable=SC2086
	"$cxx" $flags "$tmp/one.cpp" || { echo "clang++: $h" >&2; exit 1; }
	n=$((n + 1))
done
for f in "$src"/cxx/examples/*.cpp "$src"/cxx/tests/*_test.cpp; do
	# shellcheck disable=SC2086
	"$cxx" $flags -I"$src/cxx/examples" -I"$src/cxx/tests" "$f" ||
		{ echo "clang++: $f" >&2; exit 1; }
	n=$((n + 1))
done
echo "clang++ ($("$cxx" --version | head -n1)): $n files clean"
