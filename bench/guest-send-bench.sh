#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/bench-send, --e1000e): RUNS rounds of every
# send mode at every size and on every path, modes interleaved so that
# drift hits all alike:
#   tcp-nic    TCP over the e1000e pair (the NIC reads the pages: no copy)
#              to a discarding receiver across the link; TSO off, as the
#              pair is set up (vm/e1000e-pair.sh), so the sender's kernel
#              segments (GSO)
#   tcp-tso    the same with TSO on at the sender's NIC: the (emulated)
#              NIC segments, as a real one would
#   udp-nic    UDP the same way
#   udp-dummy  UDP to a dummy device, which frees skbs at transmit
# The sender and its NIC's interrupts run on CPU 0, the receiver and its
# NIC's on CPU 1, so that the tcg_insn plugin's count of vCPU 0 is the
# sending side's: the sends, their transmission, the acknowledgements and
# the notifications. Each run is bracketed by the plugin's begin/end
# markers, its sends by start/stop (send_bench -m).
#   guest-send-bench.sh BINDIR TCG_MARK OUTFILE RUNS PATHS SIZES MODES [KALLSYMS]
# PATHS, SIZES and MODES are space-separated lists; KALLSYMS: where to save
# the guest's text symbols, for a profile. A run sends
# min(4000, 32 MiB / SIZE) requests.
set -eu
bindir=$1 mark=$2 out=$3 runs=$4 paths=$5 sizes=$6 modes=$7 ksyms=${8:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vm/e1000e-pair.sh"
: >"$out"
[ "$(nproc)" -ge 2 ] || { echo "the benchmark needs 2 vCPUs" >&2; exit 1; }

zc_e1000e_up
zc_e1000e_pin_irqs 1 0
peer_nic=$(ip -n zc-peer -o -4 addr show | awk '$4 == "10.7.0.2/24" { print $2 }')
[ -z "$ksyms" ] || grep ' [tTwW] ' /proc/kallsyms >"$ksyms"
ip netns add zc-d
ip -n zc-d link set lo up
ip -n zc-d link add dummy0 type dummy
ip -n zc-d link set dummy0 mtu 65535 up
ip -n zc-d addr add 10.92.0.1/24 dev dummy0

taskset -c 1 "$bindir/send_bench" sink - 10.7.0.1 5003 &
tsink=$!
taskset -c 1 "$bindir/send_bench" usink - 10.7.0.1 5004 &
usink=$!
trap 'kill $tsink $usink 2>/dev/null; ip netns del zc-d; zc_e1000e_down' EXIT
sleep 1

one() { # PATH MODE SIZE
	local path=$1 mode=$2 size=$3 count ns dst port line
	# a UDP datagram carries at most 65507 bytes
	[ "${path#udp}" != "$path" ] && [ "$size" -gt 65000 ] && size=65000
	count=$((32 * 1048576 / size))
	[ $count -gt 4000 ] && count=4000
	case $path in
	tcp-nic|tcp-tso) ns=zc-peer dst=10.7.0.1 port=5003 ;;
	udp-nic) ns=zc-peer dst=10.7.0.1 port=5004 ;;
	udp-dummy) ns=zc-d dst=10.92.0.2 port=5002 ;;
	*) echo "unknown path $path" >&2; exit 2 ;;
	esac
	[ "$path" = tcp-tso ] && ip netns exec zc-peer ethtool -K "$peer_nic" tso on
	"$mark" begin
	line=$("$bindir/send_bench" -m -c 0 "$path" "$mode" "$size" "$count" "$ns" "$dst" "$port")
	"$mark" end
	[ "$path" = tcp-tso ] && ip netns exec zc-peer ethtool -K "$peer_nic" tso off
	echo "run=$run $line" | tee -a "$out"
}

for run in $(seq "$runs"); do
	for size in $sizes; do
		for path in $paths; do
			for mode in $modes; do
				one "$path" "$mode" "$size"
			done
		done
	done
done
grep -E 'eth|enp|ens' /proc/interrupts >&2 || true
