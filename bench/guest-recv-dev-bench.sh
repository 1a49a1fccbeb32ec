#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/bench-recv-dev, --e1000e): RUNS rounds of
# recv(), device-less RECV_ZC and device-mode RECV_ZC over the e1000e pair
# at 64 KiB and 1 MiB reads, and the copy calibration (4 KiB pieces), modes interleaved
# so that drift hits all alike. The receiver and its NIC's interrupts are
# on CPU 1, the sender (namespace zc-peer) and its NIC's on CPU 0, so that
# the tcg_insn plugin's count of vCPU 1 is the receiving side's. Each run
# is bracketed by the plugin's begin/end markers (tcg-mark), its data
# phase by start/stop (recv_bench -m).
#   guest-recv-dev-bench.sh BINDIR TCG_MARK OUTFILE RUNS MIB [KALLSYMS]
# (KALLSYMS: where to save the guest's text symbols, for a profile)
set -eu
bindir=$1 mark=$2 out=$3 runs=$4 mib=$5 ksyms=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vm/e1000e-pair.sh"
: >"$out"

zc_e1000e_up
[ -z "$ksyms" ] || grep ' [tTwW] ' /proc/kallsyms >"$ksyms"
nic=$(ip -o -4 addr show | awk '$4 == "10.7.0.1/24" { print $2 }')
[ -n "$nic" ] || { echo "no NIC holds 10.7.0.1" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "the benchmark needs 2 vCPUs" >&2; exit 1; }

zc_e1000e_pin_irqs 1 0
grep -E 'eth|enp|ens' /proc/interrupts >&2 || true

one() {
	"$mark" begin
	line=$("$bindir/recv_bench" -m -a 10.7.0.1 -n zc-peer -i "$nic" -c 1,0 "$@")
	"$mark" end
	echo "run=$run $line" | tee -a "$out"
}

for run in $(seq "$runs"); do
	# the kernel copies a packet's page frags, 4 KiB at most at a time,
	# with rep movsb (ERMS); glibc's memcpy() for comparison
	one movsb 4096 "$mib"
	one memcpy 4096 "$mib"
	for size in 65536 1048576; do
		for mode in recv zc zcdev; do
			one "$mode" "$size" "$mib"
		done
	done
done
ethtool -S "$nic" | grep -E 'zcrx|header_split' >&2
zc_e1000e_down
