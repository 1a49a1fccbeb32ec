#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/demo): zero-copy TCP sends over two emulated
# e1000e NICs on a QEMU hub (the NIC reads the pages: no copy) and over
# veth (delivered locally: always copied), side by side; then zero-copy
# receive (RECV_ZC, device-less) of a stream over each path; then the same
# through the C++ bindings (cxx/examples): zc_receiver over each path and
# in device mode over e1000e (the NIC writes the payload into the pool:
# no copy at all), and zc_proxy forwarding RECV_ZC chunks with SEND_ZC of
# the same pool memory, device-less and in device mode. What was copied
# and what was not comes from the kernel's counters of each pool.
#   guest-demo.sh BINDIR [CXXBINDIR]   (default CXXBINDIR: BINDIR/../cxx/examples)
set -eu
bindir=${1:?usage: guest-demo.sh BINDIR [CXXBINDIR]}
cxxdir=${2:-$bindir/../cxx/examples}
here=$(dirname "$(readlink -f "$0")")
. "$here/../selftests/netns.sh"
. "$here/../vm/e1000e-pair.sh"

# in_ns NS CMD...: run CMD in namespace NS ("-": the current one).
in_ns() {
	local ns=$1
	shift
	if [ "$ns" = - ]; then "$@"; else ip netns exec "$ns" "$@"; fi
}

# wait_listen NS PORT: until a TCP socket listens on PORT in NS (5 s).
wait_listen() {
	local _
	for _ in $(seq 100); do
		in_ns "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.05
	done
	echo "nothing listens on port $2 in namespace $1" >&2
	return 1
}

# nic_of NS IP: the interface holding IP in namespace NS.
nic_of() {
	in_ns "$1" ip -o -4 addr show | awk -v ip="$2" '$4 ~ "^" ip "/" { print $2; exit }'
}

# settle: a device-mode run's ring unbinds its queue as it exits, which
# resets the NIC: wait a moment, then for both carriers.
settle() {
	local _
	sleep 1
	for _ in $(seq 100); do
		[ "$(cat "/sys/class/net/$nic0/carrier" 2>/dev/null)" = 1 ] &&
			[ "$(ip netns exec zc-peer cat "/sys/class/net/$nic1/carrier" 2>/dev/null)" = 1 ] &&
			return 0
		sleep 0.1
	done
}

# cxx_receive LABEL NS_TX NS_RX RX_IP [RECEIVER OPTION...]: 4 connections
# of 8 MiB, RECV_ZC (device mode with --dev).
cxx_receive() {
	local label=$1 ns_tx=$2 ns_rx=$3 ip=$4 port=7101 pid rc=0
	shift 4
	in_ns "$ns_rx" "$cxxdir/zc_receiver" --addr "$ip" --port $port --conns 4 \
		--bytes 8M --label "$label" "$@" &
	pid=$!
	wait_listen "$ns_rx" $port || rc=1
	[ $rc = 0 ] && { in_ns "$ns_tx" "$cxxdir/zc_receiver" --send "$ip" $port 8M --conns 4 || rc=$?; }
	[ $rc = 0 ] || kill "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	return $rc
}

# cxx_proxy LABEL NS_OUT NS_PROXY PROXY_IP SINK_IP [PROXY_DEV SINK_DEV]:
# sender (NS_OUT) -> zc_proxy (NS_PROXY, PROXY_IP) -> zc_receiver (NS_OUT,
# SINK_IP), 2 connections of 16 MiB; the sink checks every byte the proxy
# forwarded. With the devices, both receive in device mode.
cxx_proxy() {
	local label=$1 ns_out=$2 ns_px=$3 px_ip=$4 sink_ip=$5 sink=7201 px=7202 p1 p2 rc=0 out
	local pxdev=() sinkdev=()
	[ $# -ge 7 ] && pxdev=(--dev "$6" --pool 16M --expect-zc 95) sinkdev=(--dev "$7" --expect-zc 95)
	# the sink's line after the proxy's, whichever finishes first
	out=$(mktemp)
	in_ns "$ns_out" "$cxxdir/zc_receiver" --addr "$sink_ip" --port $sink --conns 2 \
		--bytes 16M --label "  sink" "${sinkdev[@]}" >"$out" &
	p1=$!
	wait_listen "$ns_out" $sink || rc=1
	in_ns "$ns_px" "$cxxdir/zc_proxy" --listen "$px_ip" $px --to "$sink_ip" $sink \
		--conns 2 --label "$label" "${pxdev[@]}" &
	p2=$!
	wait_listen "$ns_px" $px || rc=1
	[ $rc = 0 ] && { in_ns "$ns_out" "$cxxdir/zc_receiver" --send "$px_ip" $px 16M --conns 2 || rc=$?; }
	[ $rc = 0 ] || kill "$p1" "$p2" 2>/dev/null || true
	wait "$p2" || rc=$?
	wait "$p1" || rc=$?
	cat "$out"
	rm -f "$out"
	return $rc
}

zc_e1000e_up
zc_netns_up
nic0=$(nic_of - 10.7.0.1)
nic1=$(nic_of zc-peer 10.7.0.2)

echo "kernel $(uname -r): IORING_OP_SEND_ZC, 64 KiB TCP sends, every byte verified"
"$bindir/send_zc_demo" e1000e zc-peer - 10.7.0.1 32
"$bindir/send_zc_demo" veth zc-a zc-b 10.91.0.2 32
echo "IORING_OP_RECV_ZC (device-less: the kernel copies into the registered pool)"
"$bindir/recv_zc_demo" e1000e zc-peer - 10.7.0.1 32
"$bindir/recv_zc_demo" veth zc-a zc-b 10.91.0.2 32
echo "C++ zc_receiver: 4 connections into one 4 MiB pool, every byte verified; copied or not: the kernel's counters"
cxx_receive e1000e zc-peer - 10.7.0.1
cxx_receive veth zc-a zc-b 10.91.0.2
echo "  device mode: the pool bound to $nic0's rx queue 0, the NIC writes the payload into it"
cxx_receive "e1000e dev" zc-peer - 10.7.0.1 --dev "$nic0" --expect-zc 95
settle
echo "C++ zc_proxy: RECV_ZC into the pool, SEND_ZC of that memory (fixed buffer), a zc_receiver as sink"
cxx_proxy e1000e zc-peer - 10.7.0.1 10.7.0.2
cxx_proxy veth zc-a zc-b 10.91.0.2 10.91.0.1
echo "  device mode: proxy and sink bound to their NICs' rx queues: no copy from the wire in to the sink"
cxx_proxy "e1000e dev" zc-peer - 10.7.0.1 10.7.0.2 "$nic0" "$nic1"
settle
zc_netns_down
zc_e1000e_down
