# SPDX-License-Identifier: GPL-2.0
# The test network, sourced by run-guest.sh: namespaces zc-a (sender) and
# zc-b (receiver) joined by veth, IPv4 10.91.0.0/24 and IPv6 fd00:91::/64
# (no DAD, so addresses work at once). Names match testlib/net.h.

zc_netns_up() {
	zc_netns_down 2>/dev/null
	ip netns add zc-a &&
		ip netns add zc-b &&
		ip -n zc-a link add veth-a type veth peer name veth-b netns zc-b &&
		ip -n zc-a link set lo up && ip -n zc-b link set lo up &&
		ip -n zc-a addr add 10.91.0.1/24 dev veth-a &&
		ip -n zc-b addr add 10.91.0.2/24 dev veth-b &&
		ip -n zc-a addr add fd00:91::1/64 dev veth-a nodad &&
		ip -n zc-b addr add fd00:91::2/64 dev veth-b nodad &&
		ip -n zc-a link set veth-a up && ip -n zc-b link set veth-b up
}

zc_netns_down() {
	ip netns del zc-a 2>/dev/null || true
	ip netns del zc-b 2>/dev/null || true
	return 0
}
