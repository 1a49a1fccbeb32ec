#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/bench-recv): RUNS rounds of every receive
# mode at every read size, modes interleaved so that drift hits all alike.
#   guest-recv-bench.sh BINDIR OUTFILE RUNS MIB
set -eu
bindir=$1 out=$2 runs=$3 mib=$4
: >"$out"
ip link set lo up
for run in $(seq "$runs"); do
	for size in 4096 65536 1048576; do
		for mode in recv mshot zc; do
			echo "run=$run $("$bindir/recv_bench" "$mode" "$size" "$mib")" | tee -a "$out"
		done
	done
done
