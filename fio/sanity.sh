#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host sanity check of the zcuring_net fio engine against fio's own "net"
# engine, over loopback (127.0.0.1), on the running kernel:
#
#   receive: net sender -> net receiver      vs  net sender -> zcuring_net mode=recv
#   send:    net sender -> net receiver      vs  zcuring_net mode=send -> net receiver
#
# Same job (bs, size, queue depth 1 since net is synchronous) each time;
# the side under test's throughput is taken from fio's JSON output, best
# of 3 runs, and must agree with net's within 10%. Both jobs run on CPU 0:
# on a small host, loopback throughput otherwise swings by 2x depending on
# whether the scheduler puts the two ends on one CPU or on two.
#
#   fio/sanity.sh [ENGINE.so]     (default: build/cmake/fio/zcuring_net.so)
# The receiver asks for twice what the sender sends and ends at end of
# stream: net's receiver counts short reads as whole blocks issued, so with
# equal sizes it may stop (and close) before the sender is done.
#
# Environment: FIO (fio binary), ZC_SANITY_BS (64k), ZC_SANITY_MIB (4096),
# ZC_SANITY_RUNS (3), ZC_SANITY_TOL (10, percent), ZC_SANITY_PORT (18600).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
engine=${1:-$top/build/cmake/fio/zcuring_net.so}
FIO=${FIO:-fio}
bs=${ZC_SANITY_BS:-64k}
size=${ZC_SANITY_MIB:-4096}
runs=${ZC_SANITY_RUNS:-3}
tol=${ZC_SANITY_TOL:-10}
port=${ZC_SANITY_PORT:-18600}

die() { echo "sanity: $*" >&2; exit 1; }
[ -f "$engine" ] || die "no engine at $engine (build the zcuring_net target)"
command -v "$FIO" >/dev/null || die "no fio ($FIO)"
engine=$(cd "$(dirname "$engine")" && pwd)/$(basename "$engine")
work=$(mktemp -d)
pin_rx=cpus_allowed=0 pin_tx=cpus_allowed=0
trap 'rm -rf "$work"' EXIT

# side: "net" or "zc"; prints the options of a receiver or a sender job
rx_opts() {
	if [ "$1" = net ]; then echo "ioengine=net"; else printf 'ioengine=external:%s\nmode=recv\nzc_stats=%s\n' "$engine" "$work/stats"; fi
}
tx_opts() {
	if [ "$1" = net ]; then echo "ioengine=net"; else printf 'ioengine=external:%s\nmode=send\nzc_stats=%s\n' "$engine" "$work/stats"; fi
}

# run RX TX: one pair; prints "rx_bw tx_bw" in bytes/s, or fails
run_pair() {
	local job=$work/pair.fio out=$work/out.json
	port=$((port + 1))
	cat >"$job" <<EOF
[global]
bs=$bs
iodepth=1

[rx]
size=$((2 * size))m
$(rx_opts "$1")
port=$port
listen
rw=read
$pin_rx

[tx]
$(tx_opts "$2")
port=$port
hostname=127.0.0.1
rw=write
size=${size}m
startdelay=1
$pin_tx
EOF
	if ! timeout 120 "$FIO" --output-format=json "$job" >"$out" 2>"$work/err"; then
		cat "$work/err" >&2
		return 1
	fi
	python3 - "$out" <<'PY'
import json, sys
s = open(sys.argv[1]).read()
d = json.loads(s[s.index("{"):])  # net's "waiting for connection" may precede
bw = {}
for j in d["jobs"]:
    if j["error"]:
        sys.exit("job %s: error %d" % (j["jobname"], j["error"]))
    bw[j["jobname"]] = j["read"]["bw_bytes"] if j["jobname"] == "rx" else j["write"]["bw_bytes"]
print(bw["rx"], bw["tx"])
PY
}

# best RX TX FIELD(1 rx, 2 tx): best of $runs
best() {
	local i v b=0
	for i in $(seq "$runs"); do
		v=$(run_pair "$1" "$2") || die "fio failed for rx=$1 tx=$2"
		v=$(echo "$v" | cut -d' ' -f"$3")
		[ -n "${ZC_SANITY_VERBOSE:-}" ] && echo "  run $i rx=$1 tx=$2: $((v >> 20)) MiB/s" >&2
		[ "$v" -gt "$b" ] && b=$v
	done
	echo "$b"
}

fails=0
compare() { # what net zc
	local pct
	pct=$(python3 -c "print(round(abs($3 - $2) * 100.0 / $2, 1))")
	printf '%-8s net %8.1f MiB/s  zcuring_net %8.1f MiB/s  diff %5s%%  ' "$1" \
		"$(python3 -c "print($2/1048576)")" "$(python3 -c "print($3/1048576)")" "$pct"
	if python3 -c "import sys; sys.exit(0 if $pct <= $tol else 1)"; then
		echo ok
	else
		echo "FAIL (over $tol%)"
		fails=$((fails + 1))
	fi
}

echo "fio $("$FIO" --version), bs=$bs, ${size} MiB sent, iodepth=1, best of $runs, kernel $(uname -r)"
net_rx=$(best net net 1)
zc_rx=$(best zc net 1)
compare recv "$net_rx" "$zc_rx"
net_tx=$(best net net 2)
zc_tx=$(best net zc 2)
compare send "$net_tx" "$zc_tx"
[ $fails -eq 0 ] || exit 1
