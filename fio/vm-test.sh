#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# VM test of the zcuring_net fio engine (TAP), run by selftests/run-guest.sh
# in the suite's one boot, where the namespaces zc-a (10.91.0.1) and zc-b
# (10.91.0.2) are joined by veth (selftests/netns.sh). One short TCP job
# pair per mode, the mode under test on its side and plain recv or send on
# the other; all pairs at once, the receivers in one fio in zc-b and the
# senders in one fio in zc-a, so that the suite pays for two fio starts.
# A mode fails when fio exits non-zero, reports an error for either of
# its jobs, or moves other than the bytes asked, or when the engine's
# counters disagree.
#
# Then recv_zc in device mode over the e1000e pair (vm/e1000e-pair.sh:
# 10.7.0.1 here, the sender in namespace zc-peer) with
# jobs/recv-zc-device.fio: it fails unless every byte arrives and the
# kernel counted at least 95% of them not copied; without the pair it
# skips.
#
#   fio/vm-test.sh FIO ENGINE.so     (the build's fio/fio-vm-test passes both)
#
# Environment: ZC_VM_FIO_MIB (4 MiB a job), ZC_VM_FIO_PORT (19100; the
# device job takes ZC_VM_FIO_PORT + 100).
set -euo pipefail
FIO=${1:?usage: vm-test.sh FIO ENGINE.so}
engine=${2:?usage: vm-test.sh FIO ENGINE.so}
mib=${ZC_VM_FIO_MIB:-4}
port=${ZC_VM_FIO_PORT:-19100}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
work=$(mktemp -d "${TMPDIR:-/tmp}/zc-fio-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT

# NAME RX_MODE TX_MODE
pairs=("recv recv send" "recv_zc recv_zc send" "send recv send"
	"send_zc recv send_zc" "send_zc_slots recv send_zc_slots")

global() {
	cat <<JOB
[global]
ioengine=external:$engine
bs=16k
iodepth=8
size=${mib}m
listen_timeout=30
JOB
}
global >"$work/rx.fio"
global >"$work/tx.fio"
i=0
for p in "${pairs[@]}"; do
	set -- $p
	i=$((i + 1))
	printf '[rx_%s]\nmode=%s\nrw=read\nlisten\nport=%d\nzc_stats=%s\n' \
		"$1" "$2" $((port + i)) "$work/rx_$1.stats" >>"$work/rx.fio"
	printf '[tx_%s]\nmode=%s\nrw=write\nhostname=10.91.0.2\nport=%d\nzc_stats=%s\n' \
		"$1" "$3" $((port + i)) "$work/tx_$1.stats" >>"$work/tx.fio"
done

here=$(dirname "$(readlink -f "$0")")

# Once the senders' fio has ended: a receiver whose sender failed fails by
# itself within listen_timeout (30 s from its start, so at most 30 s
# from now, with one line saying so); one stalled mid-stream is killed
# after 35 s. The receiver's exit status.
reap_receiver() {
	for _ in $(seq 350); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill "$1" 2>/dev/null
	wait "$1"
}

# recv_zc in device mode over the e1000e pair, if there is one: the
# receiver here, bound to the NIC holding 10.7.0.1, the sender in zc-peer.
dev_run() {
	local nic pid rc
	nic=$(ip -o -4 addr show | awk '$4 ~ /^10\.7\.0\.1\// { print $2; exit }')
	if [ -z "$nic" ] || [ ! -e /run/netns/zc-peer ]; then
		echo "no e1000e pair (10.7.0.1, namespace zc-peer): scripts/vm-run --e1000e" >"$work/dev.skip"
		return 0
	fi
	# the job file's environment (recv-zc-device.env.example); the size
	# and the port of this suite, the counters to a file
	export ZC_IFNAME=$nic ZC_RX_ADDR=10.7.0.1
	"$here/jobs/set-options" "$here/jobs/recv-zc-device.fio" size="${mib}m" \
		port=$((port + 100)) rx:zc_stats="$work/rx_dev.stats" rx:listen_timeout=30 \
		>"$work/dev.fio" || return 0
	timeout 120 "$FIO" --ioengine=external:"$engine" --output-format=json --section=rx \
		"$work/dev.fio" </dev/null >"$work/rx_dev.json" 2>"$work/rx_dev.err" &
	pid=$!
	ip netns exec zc-peer timeout 120 "$FIO" --ioengine=external:"$engine" \
		--output-format=json --section=tx "$work/dev.fio" \
		</dev/null >"$work/tx_dev.json" 2>"$work/tx_dev.err"
	rc=$?
	reap_receiver "$pid"
	echo "$? $rc" >"$work/dev.rc"
}

set +e
ip netns exec zc-b timeout 120 "$FIO" --output-format=json "$work/rx.fio" \
	</dev/null >"$work/rx.json" 2>"$work/rx.err" &
rxpid=$!
# each sender retries a refused connect for 10 s
ip netns exec zc-a timeout 120 "$FIO" --output-format=json "$work/tx.fio" \
	</dev/null >"$work/tx.json" 2>"$work/tx.err"
txrc=$?
reap_receiver "$rxpid"
rxrc=$?
dev_run
set -e

echo "TAP version 13"
echo "1..$((${#pairs[@]} + 1))"
"$py" - "$work" $((mib * 1048576)) "$rxrc" "$txrc" "${pairs[@]}" <<'PY'
import json, os, sys
work, want, rxrc, txrc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
jobs = {}
for role in ("rx", "tx"):
    try:
        s = open(os.path.join(work, role + ".json")).read()
        for j in json.loads(s[s.index("{"):])["jobs"]:
            jobs[j["jobname"]] = j
    except (OSError, ValueError) as e:
        print("# %s: no fio JSON output (%s):" % (role, e))
        for line in open(os.path.join(work, role + ".err")).read().splitlines()[:4]:
            print("#   " + line)
err = {r: open(os.path.join(work, r + ".err")).read().splitlines() for r in ("rx", "tx")}

def why(name):
    for role, rc, ddir in (("rx", rxrc, "read"), ("tx", txrc, "write")):
        job = "%s_%s" % (role, name)
        if job not in jobs:
            return "%s: fio exited %d without a result" % (job, rc)
        j = jobs[job]
        if j["error"]:
            return "%s: fio reports error %d" % (job, j["error"])
        if j[ddir]["io_bytes"] != want:
            return "%s: fio moved %d bytes, not %d" % (job, j[ddir]["io_bytes"], want)
        try:
            c = json.loads(open(os.path.join(work, job + ".stats")).readline())
        except (OSError, ValueError) as e:
            return "%s: no engine counters: %s" % (job, e)
        if c["bytes"] != want:
            return "%s: the engine counted %d bytes, not %d" % (job, c["bytes"], want)
        m = c["mode"]
        if m == "send_zc" and c["cqes_notif"] != c["cqes_data"]:
            return "send_zc: %d notifications for %d sends" % (c["cqes_notif"], c["cqes_data"])
        if m in ("send_zc", "send_zc_slots") and c["bytes_zc"] + c["bytes_copied"] != want:
            return "%s: copied + zero-copy bytes != bytes" % m
        if m == "send_zc_slots" and not c["generations"]:
            return "send_zc_slots: no generation closed"
        if m == "recv_zc" and (not c["cqes_data"] or c["rq_entries"] != c["cqes_data"]):
            return "recv_zc: %d refill entries for %d data CQEs" % (c["rq_entries"], c["cqes_data"])
    return None

def why_dev():
    try:
        rc = [int(x) for x in open(os.path.join(work, "dev.rc")).read().split()]
    except (OSError, ValueError):
        return "fio did not run"
    for role, ddir, r in (("rx", "read", rc[0]), ("tx", "write", rc[1])):
        try:
            s = open(os.path.join(work, role + "_dev.json")).read()
            j = json.loads(s[s.index("{"):])["jobs"][0]
        except (OSError, ValueError, IndexError) as e:
            return "%s: fio exited %d without a result (%s)" % (role, r, e)
        if j["error"]:
            return "%s: fio reports error %d" % (role, j["error"])
        if j[ddir]["io_bytes"] != want:
            return "%s: fio moved %d bytes, not %d" % (role, j[ddir]["io_bytes"], want)
    try:
        c = json.loads(open(os.path.join(work, "rx_dev.stats")).readline())
    except (OSError, ValueError) as e:
        return "no engine counters: %s" % e
    print("# device mode on %s: %d bytes, %d not copied, %d copied (kernel counters: %d)"
          % (c.get("zcrx_ifname"), c["bytes"], c["bytes_zc"], c["bytes_copied"],
             c["zcrx_counters"]))
    if c.get("zcrx_mode") != "device":
        return "the engine did not register in device mode"
    if c["bytes"] != want or not c["zcrx_counters"]:
        return "counted %d bytes (kernel counters: %d)" % (c["bytes"], c["zcrx_counters"])
    if c["bytes_zc"] + c["bytes_copied"] != want:
        return "not copied + copied != bytes"
    if c["bytes_zc"] < want * 95 // 100:
        return "fewer than 95% of the bytes not copied"
    if c["rq_entries"] != c["cqes_data"]:
        return "%d refill entries for %d data CQEs" % (c["rq_entries"], c["cqes_data"])
    return None

fails = 0
for n, p in enumerate(sys.argv[5:], 1):
    name = p.split()[0]
    w = why(name)
    mib = want >> 20
    if w is None:
        print("ok %d - fio_%s moves %d MiB over veth" % (n, name, mib))
        continue
    fails += 1
    print("not ok %d - fio_%s moves %d MiB over veth" % (n, name, mib))
    print("# " + w)
    for role in ("rx", "tx"):
        for line in [l for l in err[role] if name in l or "fio:" in l][:4]:
            print("# %s: %s" % (role, line))
n = len(sys.argv[5:]) + 1
title = "fio_recv_zc_device moves %d MiB over e1000e, at least 95%% not copied" % (want >> 20)
if os.path.exists(os.path.join(work, "dev.skip")):
    print("ok %d - %s # SKIP %s" % (n, title, open(os.path.join(work, "dev.skip")).read().strip()))
else:
    w = why_dev()
    if w is None:
        print("ok %d - %s" % (n, title))
    else:
        fails += 1
        print("not ok %d - %s" % (n, title))
        print("# " + w)
        for role in ("rx", "tx"):
            for line in open(os.path.join(work, role + "_dev.err")).read().splitlines()[:4]:
                print("# %s: %s" % (role, line))
sys.exit(1 if fails else 0)
PY
