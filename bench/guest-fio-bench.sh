#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/bench-fio): RUNS rounds of every point of
# POINTS with the zcuring_net fio engine, one JSON line per run in OUT.
#
#   guest-fio-bench.sh FIO ENGINE.so TCG_MARK POINTS OUT RUNS
#
# A point is a line "NET RX_MODE TX_MODE BS IODEPTH MIB":
#   NET veth    TCP from namespace zc-a to a receiver in zc-b, over veth
#               (local delivery: the receiver always copies)
#   NET dummy   UDP datagrams from zc-a to a dummy device, which frees
#               them at transmit (no receiver; RX_MODE is "-")
# MIB is what both ends move. With TCG_MARK (not "-"), each run is
# bracketed by "TCG_MARK begin" and "TCG_MARK end", and the measured job
# (the receiver over veth, the sender to dummy) marks its data phase, from
# its connection's start to its close, with zc_tcg_mark=1: the tcg_insn
# QEMU plugin turns the markers into guest instruction counts. The JSON
# line carries the run's number among the bracketed ones ("mark").
set -euo pipefail
FIO=$1 engine=$2 mark=$3 points=$4 out=$5 runs=$6
here=$(dirname "$(readlink -f "$0")")
. "$here/../selftests/netns.sh"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
work=$(mktemp -d "${TMPDIR:-/tmp}/zc-fio-bench.XXXXXX")

zc_netns_up
ip -n zc-a link add dummy0 type dummy
ip -n zc-a link set dummy0 mtu 65535 up
ip -n zc-a addr add 10.92.0.1/24 dev dummy0
trap 'zc_netns_down; rm -rf "$work"' EXIT

port=19500 seq=0 tcg=0
[ "$mark" != - ] && tcg=1
{
	# ERMS/FSRM: the kernel copies with "rep movsb", which the plugin
	# counts once per byte
	printf '{"header":1,"kernel":"%s","cpus":%s,"cpu":"%s","copy_flags":"%s","fio":"%s","runs":%s,"date":"%s"}\n' \
		"$(uname -r)" "$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
		"$(grep -owE 'erms|fsrm' /proc/cpuinfo | sort -u | tr '\n' ' ')" \
		"$("$FIO" --version)" "$runs" "$(date -u +%FT%TZ)"
} >"$out"

# side ROLE MODE PROTO BS QD MIB DEST [measured]: one job file
side() {
	cat <<JOB
[$1]
ioengine=external:$engine
mode=$2
protocol=$3
bs=$4
iodepth=$5
size=$6m
port=$port
zc_stats=$work/$1.stats
JOB
	if [ "${8:-}" = measured ] && [ $tcg = 1 ]; then echo "zc_tcg_mark=1"; fi
	if [ "$1" = rx ]; then
		printf 'rw=read\nlisten\n'
	else
		printf 'rw=write\nhostname=%s\n' "$7"
	fi
}

# point RUN NET RX TX BS QD MIB
point() {
	local run=$1 net=$2 rxm=$3 txm=$4 bs=$5 qd=$6 mib=$7 rxpid= rxrc=0 txrc mseq=-1
	port=$((port + 1))
	rm -f "$work"/*.stats "$work"/*.json
	if [ "$net" = veth ]; then
		side rx "$rxm" tcp "$bs" "$qd" "$mib" - measured >"$work/rx.fio"
		side tx "$txm" tcp "$bs" "$qd" "$mib" 10.91.0.2 >"$work/tx.fio"
	else
		side tx "$txm" udp "$bs" "$qd" "$mib" 10.92.0.2 measured >"$work/tx.fio"
	fi
	if [ $tcg = 1 ]; then
		mseq=$seq
		seq=$((seq + 1))
		"$mark" begin </dev/null
	fi
	set +e
	if [ "$net" = veth ]; then
		ip netns exec zc-b timeout 300 "$FIO" --output-format=json "$work/rx.fio" \
			</dev/null >"$work/rx.json" 2>"$work/rx.err" &
		rxpid=$!
		# connect only once the receiver listens: the sender's clock
		# then holds no connect retries
		for _ in $(seq 300); do
			[ -n "$(ip netns exec zc-b ss -Htln "sport = :$port")" ] && break
			kill -0 "$rxpid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	ip netns exec zc-a timeout 300 "$FIO" --output-format=json "$work/tx.fio" \
		</dev/null >"$work/tx.json" 2>"$work/tx.err"
	txrc=$?
	if [ -n "$rxpid" ]; then
		wait "$rxpid"
		rxrc=$?
	fi
	set -e
	[ $tcg = 1 ] && "$mark" end </dev/null
	"$py" - "$work" "$run" "$net" "$rxm" "$txm" "$bs" "$qd" "$mib" "$mseq" "$rxrc" "$txrc" \
		>>"$out" <<'PY'
import json, os, sys
work, run, net, rxm, txm, bs, qd, mib, mseq, rxrc, txrc = sys.argv[1:]
rec = {"run": int(run), "net": net, "rx_mode": rxm, "tx_mode": txm, "bs": bs,
       "iodepth": int(qd), "bytes": int(mib) << 20, "mark": int(mseq)}
for role, rc, ddir in (("rx", int(rxrc), "read"), ("tx", int(txrc), "write")):
    if net == "dummy" and role == "rx":
        continue
    side = {"rc": rc}
    try:
        s = open(os.path.join(work, role + ".json")).read()
        j = json.loads(s[s.index("{"):])["jobs"][0]
        side.update(error=j["error"], io_bytes=j[ddir]["io_bytes"],
                    bw_bytes=j[ddir]["bw_bytes"], runtime_ms=j["job_runtime"],
                    usr_cpu=j["usr_cpu"], sys_cpu=j["sys_cpu"], ctx=j["ctx"])
        side["stats"] = json.loads(open(os.path.join(work, role + ".stats")).readline())
    except (OSError, ValueError, KeyError) as e:
        side["fail"] = "%s: %s" % (type(e).__name__, e)
        side["err"] = open(os.path.join(work, role + ".err")).read()[-400:]
    rec[role] = side
print(json.dumps(rec, sort_keys=True))
PY
	tail -n 1 "$out" | "$py" -c '
import json, sys
r = json.loads(sys.stdin.read())
t = r["tx"]
side = r.get("rx") if r["net"] == "veth" else t
bw = side.get("bw_bytes", 0) / 1048576.0
bad = [k for k in ("rx", "tx") if k in r and (r[k].get("rc") or r[k].get("fail") or r[k].get("error"))]
print("run %d %-5s %-7s <- %-13s bs %-4s qd %-2d %3d MiB %8.1f MiB/s%s" % (r["run"], r["net"],
      r["rx_mode"], r["tx_mode"], r["bs"], r["iodepth"], r["bytes"] >> 20, bw,
      "  FAILED: " + ",".join(bad) if bad else ""))' >&2
}

for run in $(seq "$runs"); do
	while read -r net rxm txm bs qd mib; do
		case "$net" in "" | "#"*) continue ;; esac
		point "$run" "$net" "$rxm" "$txm" "$bs" "$qd" "$mib"
	done <"$points"
done
