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
# Two e1000e NICs (scripts/vm-run --e1000e): the link zero copy is real
# on, device-mode receive among it (vm/e1000e-pair.sh).
. "$here/../vm/e1000e-pair.sh"
if [ "$(ls -d /sys/bus/pci/drivers/e1000e/0000:* 2>/dev/null | wc -l)" -eq 2 ]; then
	zc_e1000e_up || { echo "not ok - the e1000e pair could not be set up" >"$tapdir/e1000e.tap"; exit 1; }
fi

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

zc_e1000e_down
zc_netns_down
exit $rc
