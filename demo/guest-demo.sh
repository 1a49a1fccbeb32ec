#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/demo): zero-copy TCP sends over two emulated
# e1000e NICs on a QEMU hub (the NIC reads the pages: no copy) and over
# veth (delivered locally: always copied), side by side; then zero-copy
# receive (RECV_ZC, device-less) of a stream over each path.
#   guest-demo.sh BINDIR
set -eu
bindir=${1:?usage: guest-demo.sh BINDIR}
here=$(dirname "$(readlink -f "$0")")
. "$here/../selftests/netns.sh"

nics=()
for d in /sys/class/net/*/device/driver; do
	[ "$(basename "$(readlink -f "$d")")" = e1000e ] && nics+=("$(basename "$(dirname "$(dirname "$d")")")")
done
[ ${#nics[@]} -eq 2 ] || { echo "demo: expected 2 e1000e NICs, found ${#nics[@]}" >&2; exit 1; }

ip netns add zc-peer
ip link set "${nics[1]}" netns zc-peer
ip link set "${nics[0]}" mtu 9000 up
ip addr add 10.7.0.1/24 dev "${nics[0]}"
ip -n zc-peer link set "${nics[1]}" mtu 9000 up
ip -n zc-peer addr add 10.7.0.2/24 dev "${nics[1]}"
ip -n zc-peer link set lo up
zc_netns_up
# e1000e needs a moment for the link to come up on the hub.
for _ in $(seq 50); do
	ip netns exec zc-peer ping -c1 -W1 10.7.0.1 >/dev/null 2>&1 && break
	sleep 0.2
done

echo "kernel $(uname -r): IORING_OP_SEND_ZC, 64 KiB TCP sends, every byte verified"
"$bindir/send_zc_demo" e1000e zc-peer - 10.7.0.1 32
"$bindir/send_zc_demo" veth zc-a zc-b 10.91.0.2 32
echo "IORING_OP_RECV_ZC (device-less: the kernel copies into the registered pool)"
"$bindir/recv_zc_demo" e1000e zc-peer - 10.7.0.1 32
"$bindir/recv_zc_demo" veth zc-a zc-b 10.91.0.2 32
zc_netns_down
ip netns del zc-peer
