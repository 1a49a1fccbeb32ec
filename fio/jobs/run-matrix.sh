#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Compare zcuring_net's modes over loopback at block sizes 1k, 4k, 16k and
# 64k and queue depths 1, 8 and 32 (recv-modes.fio, send-modes.fio), with
# fio's net engine at depth 1 as the reference (net-baseline.fio). Every
# point runs a copy of one of those job files with its values set by
# set-options (kept in ZC_OUT as TAG.fio), the engine on fio's command
# line. Modes
# the running kernel lacks (recv_zc and send_zc_slots off the zcuring
# kernel) are reported as such and skipped.
#
#   fio/jobs/run-matrix.sh [ENGINE.so]   (default build/cmake/fio/zcuring_net.so)
#
# Environment: FIO, ZC_RUNTIME (seconds per point, 5), ZC_CPUS (CPUs both
# ends may use, "0": same CPU, steadier numbers on a small host),
# ZC_MODES, ZC_BSS, ZC_QDS (lists to narrow the matrix), ZC_FLUSH_EVERY
# (32), ZC_NODELAY (0, like net: small send_zc sends then wait on Nagle for
# their notifications, which is the case slots are for; 1 sets TCP_NODELAY
# on both ends), ZC_OUT (directory for the CSV and raw output; default a new one
# under build/fio-matrix).
#
# Prints one line per point: the side under test's MiB/s, CQEs per io_u,
# the share of bytes the kernel copied, and the mode's own counters; the
# same goes to $ZC_OUT/matrix.csv.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
engine=${1:-$top/build/cmake/fio/zcuring_net.so}
FIO=${FIO:-fio}
[ -f "$engine" ] || { echo "run-matrix: no engine at $engine" >&2; exit 1; }
engine=$(cd "$(dirname "$engine")" && pwd)/$(basename "$engine")

runtime=${ZC_RUNTIME:-5}
cpus=${ZC_CPUS:-0}
flush_every=${ZC_FLUSH_EVERY:-32}
nodelay=${ZC_NODELAY:-0}
modes=${ZC_MODES:-"net recv recv_zc send send_zc send_zc_slots"}
bss=${ZC_BSS:-"1k 4k 16k 64k"}
qds=${ZC_QDS:-"1 8 32"}
out=${ZC_OUT:-$top/build/fio-matrix/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
port=$((18500 + $$ % 1000))

csv=$out/matrix.csv
echo "mode,side,bs,iodepth,mib_s,cqes_per_io_u,copied_pct,extra" >"$csv"
printf '%-14s %-4s %5s %3s %10s %8s %8s  %s\n' mode side bs qd MiB/s cqe/io_u copied% extra

# Does the running kernel have MODE? (the engine's one-line refusal)
unsupported() {
	local rw=write l=
	case $1 in recv*) rw=read l=--listen ;; esac
	"$FIO" --name=probe --ioengine=external:"$engine" --mode="$1" --rw="$rw" $l \
		--hostname=127.0.0.1 --port=$((port + 5000)) --size=4k 2>&1 |
		grep -m1 "unsupported by this kernel"
}

for mode in $modes; do
	case $mode in
	net) job=net-baseline.fio side=rx ;;
	recv | recv_zc) job=recv-modes.fio side=rx ;;
	*) job=send-modes.fio side=tx ;;
	esac
	if [ "$mode" != net ] && why=$(unsupported "$mode"); then
		printf '%-14s %s\n' "$mode" "skipped: ${why#zcuring_net: }"
		echo "$mode,$side,,,,,,unsupported" >>"$csv"
		continue
	fi
	for bs in $bss; do
		for qd in $qds; do
			[ "$mode" = net ] && [ "$qd" != 1 ] && continue
			port=$((port + 1))
			tag=$mode-bs$bs-qd$qd
			stats=$out/$tag.stats
			rm -f "$stats"
			set -- bs="$bs" port="$port" cpus_allowed="$cpus" tx:runtime="$runtime"
			case $mode in
			net) ;;
			recv*) set -- "$@" iodepth="$qd" nodelay="$nodelay" zc_stats="$stats" rx:mode="$mode" ;;
			*) set -- "$@" iodepth="$qd" nodelay="$nodelay" zc_stats="$stats" tx:mode="$mode" \
				tx:zc_flush_every="$flush_every" ;;
			esac
			"$here/set-options" "$here/$job" "$@" >"$out/$tag.fio" || exit 1
			if ! timeout $((runtime * 4 + 60)) "$FIO" --ioengine=external:"$engine" \
				--output-format=json "$out/$tag.fio" \
				>"$out/$tag.json" 2>"$out/$tag.err"; then
				printf '%-14s %-4s %5s %3s  FAILED: %s\n' "$mode" "$side" "$bs" "$qd" \
					"$(grep -v '^{' "$out/$tag.err" | head -n1)"
				echo "$mode,$side,$bs,$qd,,,,failed" >>"$csv"
				continue
			fi
			python3 - "$out/$tag.json" "$stats" "$mode" "$side" "$bs" "$qd" "$csv" <<'PY'
import json, os, sys
out, stats, mode, side, bs, qd, csv = sys.argv[1:]
s = open(out).read()
d = json.loads(s[s.index("{"):])
job = [j for j in d["jobs"] if j["jobname"] == side][0]
bw = job["read" if side == "rx" else "write"]["bw_bytes"] / 1048576.0
cpi = copied = ""
extra = []
if os.path.exists(stats):
    for line in open(stats):
        c = json.loads(line)
        if c["job"] != side:
            continue
        cpi = "%.2f" % c["cqes_per_io_u"]
        moved = c["bytes_copied"] + c["bytes_zc"]
        copied = "%.0f" % (100.0 * c["bytes_copied"] / moved) if moved else ""
        for k in ("rearm_enospc", "rearm_enomem", "rq_flushes", "generations",
                  "gen_flush_every", "gen_flush_wait", "short_xfers"):
            if c.get(k):
                extra.append("%s=%d" % (k, c[k]))
print("%-14s %-4s %5s %3s %10.1f %8s %8s  %s" % (mode, side, bs, qd, bw, cpi, copied, " ".join(extra)))
with open(csv, "a") as f:
    f.write("%s,%s,%s,%s,%.1f,%s,%s,%s\n" % (mode, side, bs, qd, bw, cpi, copied, " ".join(extra)))
PY
		done
	done
done
echo "results: $csv"
