# SPDX-License-Identifier: GPL-2.0
# Sourced inside the VM: the two emulated e1000e NICs (scripts/vm-run
# --e1000e) as a point-to-point link, the first in the current namespace
# (10.7.0.1), the second in namespace zc-peer (10.7.0.2), MTU 9000.
# Frames cross QEMU's emulated devices: the NICs read and write the pages.

zc_e1000e_up() {
	local nics=() d
	for d in /sys/class/net/*/device/driver; do
		[ "$(basename "$(readlink -f "$d")")" = e1000e ] &&
			nics+=("$(basename "$(dirname "$(dirname "$d")")")")
	done
	[ ${#nics[@]} -eq 2 ] || { echo "expected 2 e1000e NICs, found ${#nics[@]}" >&2; return 1; }
	ip netns add zc-peer
	ip link set "${nics[1]}" netns zc-peer
	ip link set "${nics[0]}" mtu 9000 up
	ip addr add 10.7.0.1/24 dev "${nics[0]}"
	ip -n zc-peer link set "${nics[1]}" mtu 9000 up
	ip -n zc-peer addr add 10.7.0.2/24 dev "${nics[1]}"
	ip -n zc-peer link set lo up
	# QEMU 7.2 (Debian 12) emulates e1000e TSO by IP fragmentation: the
	# receiver gets fragments, which it reassembles and can never receive
	# without a copy. Segment in the sender's kernel instead (GSO).
	ethtool -K "${nics[0]}" tso off
	ip netns exec zc-peer ethtool -K "${nics[1]}" tso off
	# the link needs a moment to come up on the hub
	for _ in $(seq 100); do
		ip link show dev "${nics[0]}" | grep -q 'state UP' &&
			ip -n zc-peer link show dev "${nics[1]}" | grep -q 'state UP' &&
			return 0
		sleep 0.1
	done
	echo "e1000e link did not come up" >&2
	return 1
}

zc_e1000e_down() {
	ip netns del zc-peer 2>/dev/null || true
}
