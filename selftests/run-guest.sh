#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM (scripts/vm-run): build the two network
# namespaces the tests use, run every program listed in LIST (one path a
# line, each printing TAP: the selftests, the C++ VM tests, the fio jobs),
# keep each one's TAP in TAPDIR, and exit non-zero if any test failed.
#   run-guest.sh LIST TAPDIR
set -u
list=${1:?usage: run-guest.sh LIST TAPDIR}
tapdir=${2:?usage: run-guest.sh LIST TAPDIR}
here=$(dirname "$(readlink -f "$0")")
. "$here/netns.sh"

mkdir -p "$tapdir"
rm -f "$tapdir"/*.tap
zc_netns_up || { echo "not ok - network namespaces could not be set up" >"$tapdir/netns.tap"; exit 1; }

rc=0
while read -r t; do
	[ -n "$t" ] || continue
	name=$(basename "$t")
	echo "# ---- $name"
	if [ ! -x "$t" ]; then
		echo "not ok - $name: binary missing" | tee "$tapdir/$name.tap"
		rc=1
		continue
	fi
	"$t" 2>&1 | tee "$tapdir/$name.tap"
	trc=${PIPESTATUS[0]}
	if [ "$trc" -ne 0 ]; then
		rc=1
		# A binary that died without reporting its tests still counts.
		grep -q '^not ok' "$tapdir/$name.tap" ||
			echo "not ok - $name exited with status $trc" | tee -a "$tapdir/$name.tap"
	fi
done <"$list"

zc_netns_down
exit $rc
