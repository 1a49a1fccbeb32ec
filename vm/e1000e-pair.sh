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

# Interrupts of the NIC holding 10.7.0.1 (the one in this namespace) go to
# CPU $1, the other NIC's to CPU $2, so that a benchmark can count each
# side's guest instructions on its own vCPU.
zc_e1000e_pin_irqs() {
	local here_cpu=$1 peer_cpu=$2 nic here pci cpu irq irqs
	nic=$(ip -o -4 addr show | awk '$4 == "10.7.0.1/24" { print $2 }')
	[ -n "$nic" ] || { echo "no NIC holds 10.7.0.1" >&2; return 1; }
	here=$(readlink -f "/sys/class/net/$nic/device")
	for pci in /sys/bus/pci/drivers/e1000e/0000:*; do
		pci=$(readlink -f "$pci")
		cpu=$peer_cpu
		[ "$pci" = "$here" ] && cpu=$here_cpu
		# MSI-X vectors, or the legacy line
		if [ -d "$pci/msi_irqs" ]; then
			irqs=$(ls "$pci/msi_irqs")
		else
			irqs=$(cat "$pci/irq")
		fi
		for irq in $irqs; do
			echo "$cpu" >"/proc/irq/$irq/smp_affinity_list"
		done
	done
}

zc_e1000e_down() {
	ip netns del zc-peer 2>/dev/null || true
}
