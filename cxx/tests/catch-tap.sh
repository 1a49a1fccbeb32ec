#!/bin/sh
# SPDX-License-Identifier: MIT
# Run a Catch2 v2 test program one test case at a time and report in TAP,
# one line per test case (Catch2's own TAP reporter writes one per
# assertion). A case that hangs is killed after ZC_CASE_TIMEOUT seconds
# (default 300) and fails, so one stuck case cannot stall the whole boot.
# A case that passes and printed a line "ZC_SKIP: reason" (Catch2 v2 has
# no skip) is reported as "ok N - name # SKIP reason".
# Exits 1 if any case failed.
#   catch-tap.sh PROGRAM
set -u
prog=${1:?usage: catch-tap.sh PROGRAM}
limit=${ZC_CASE_TIMEOUT:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Catch2 v2 exits with the number of test cases listed: judge the output.
"$prog" --list-test-names-only >"$tmp/names" 2>&1
if ! grep -q . "$tmp/names" || grep -q '^error' "$tmp/names"; then
	sed 's/^/# /' "$tmp/names"
	echo "1..1"
	echo "not ok 1 - $(basename "$prog") --list-test-names-only"
	exit 1
fi
grep . "$tmp/names" >"$tmp/cases" || true
echo "1..$(grep -c . "$tmp/cases")"
n=0 rc=0
while IFS= read -r name; do
	n=$((n + 1))
	# Catch2's test spec: commas, brackets and backslashes are syntax.
	spec=$(printf '%s' "$name" | sed 's/[],[\\]/\\&/g')
	if timeout "$limit" "$prog" "$spec" >"$tmp/out" 2>&1; then
		why=$(sed -n 's/^ZC_SKIP: //p' "$tmp/out" | head -n 1)
		if [ -n "$why" ]; then
			echo "ok $n - $name # SKIP $why"
		else
			grep '^# ' "$tmp/out" || true
			echo "ok $n - $name"
		fi
	else
		st=$?
		sed 's/^/# /' "$tmp/out"
		[ "$st" -eq 124 ] && echo "# killed after $limit s"
		echo "not ok $n - $name"
		rc=1
	fi
done <"$tmp/cases"
exit $rc
