#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# vm/check-console must pass a clean debug-kernel boot log and fail on
# every kind of splat, each inserted alone into that log.
set -u
here=$(cd "$(dirname "$0")" && pwd)
chk=$here/../vm/check-console
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fails=0
if "$chk" "$here/console/clean-debug-boot.log" 2>/dev/null; then
	n=$((n + 1)); echo "ok $n clean boot log passes"
else
	n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n clean boot log passes"
fi
while IFS= read -r splat; do
	n=$((n + 1))
	{ head -n 300 "$here/console/clean-debug-boot.log"; echo "$splat"; tail -n +301 "$here/console/clean-debug-boot.log"; } >"$tmp/log"
	if "$chk" "$tmp/log" >/dev/null 2>&1; then
		fails=$((fails + 1)); echo "not ok $n missed: ${splat:15:60}"
	else
		echo "ok $n caught: ${splat:15:60}"
	fi
done <"$here/console/splats.txt"
echo "1..$n"
[ $fails -eq 0 ]
