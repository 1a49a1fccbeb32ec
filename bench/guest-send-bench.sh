#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/bench-send): RUNS rounds of every send mode
# at every size, (a) TCP over veth to a discarding receiver in another
# namespace, (b) UDP to a dummy device (freed at transmit: no copy), and
# (c) TCP over the e1000e pair (the NIC reads the pages: no copy).
#   guest-send-bench.sh BINDIR OUTFILE RUNS COUNT
set -eu
bindir=$1 out=$2 runs=$3 count=$4
here=$(dirname "$(readlink -f "$0")")
. "$here/../selftests/netns.sh"
. "$here/../vm/e1000e-pair.sh"
zc_netns_up
zc_e1000e_up
ip -n zc-a link add dummy0 type dummy
ip -n zc-a link set dummy0 mtu 65535 up
ip -n zc-a addr add 10.92.0.1/24 dev dummy0
"$bindir/send_bench" sink zc-b 10.91.0.2 5001 &
sink=$!
"$bindir/send_bench" sink - 10.7.0.1 5003 &
sink2=$!
sleep 1
: >"$out"
for run in $(seq "$runs"); do
	for size in 1024 4096 16384 65536; do
		# a UDP datagram carries at most 65507 bytes
		usize=$((size > 65000 ? 65000 : size))
		for mode in send zc slot8 slot32; do
			echo "run=$run $("$bindir/send_bench" tcp $mode $size "$count" zc-a 10.91.0.2 5001)" | tee -a "$out"
			echo "run=$run $("$bindir/send_bench" udp $mode $usize "$count" zc-a 10.92.0.2 5002)" | tee -a "$out"
			echo "run=$run $("$bindir/send_bench" tcp-nic $mode $size "$count" zc-peer 10.7.0.1 5003)" | tee -a "$out"
		done
	done
done
kill $sink $sink2
zc_netns_down
zc_e1000e_down
