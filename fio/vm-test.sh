#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# VM test of the zcuring_net fio engine (TAP), run by selftests/run-guest.sh
# in the suite's one boot, where the namespaces zc-a (10.91.0.1) and zc-b
# (10.91.0.2) are joined by veth (selftests/netns.sh). One short fio job
# per mode, the receiver listening in zc-b, the sender connecting from
# zc-a: the mode under test on its side, plain recv or send on the other.
# A case fails when either fio exits non-zero, reports an error, or moves
# other than the bytes asked, or when the engine's counters disagree.
#
#   fio/vm-test.sh FIO ENGINE.so     (the build's fio/vm-test passes both)
#
# Environment: ZC_VM_FIO_MIB (8 MiB a job), ZC_VM_FIO_PORT (19100).
set -euo pipefail
FIO=${1:?usage: vm-test.sh FIO ENGINE.so}
engine=${2:?usage: vm-test.sh FIO ENGINE.so}
mib=${ZC_VM_FIO_MIB:-8}
port=${ZC_VM_FIO_PORT:-19100}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
work=$(mktemp -d "${TMPDIR:-/tmp}/zc-fio-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
n=0 fails=0

# job ROLE MODE: the options of one side
job() {
	local role=$1 mode=$2
	cat <<JOB
[$role]
ioengine=external:$engine
mode=$mode
bs=16k
iodepth=8
size=${mib}m
port=$port
zc_stats=$work/$role.stats
JOB
	if [ "$role" = rx ]; then
		printf 'rw=read\nlisten\n'
	else
		printf 'rw=write\nhostname=10.91.0.2\n'
	fi
}

# pair NAME RX_MODE TX_MODE: one receiver and one sender; TAP line
pair() {
	local name=$1 rxm=$2 txm=$3 rxpid rxrc txrc why
	port=$((port + 1))
	rm -f "$work"/*.stats
	job rx "$rxm" >"$work/rx.fio"
	job tx "$txm" >"$work/tx.fio"
	ip netns exec zc-b timeout 120 "$FIO" --output-format=json "$work/rx.fio" \
		>"$work/rx.json" 2>"$work/rx.err" &
	rxpid=$!
	# the sender retries a refused connect for 10 s
	set +e
	ip netns exec zc-a timeout 120 "$FIO" --output-format=json "$work/tx.fio" \
		>"$work/tx.json" 2>"$work/tx.err"
	txrc=$?
	wait "$rxpid"
	rxrc=$?
	set -e
	n=$((n + 1))
	if why=$("$py" - "$work" $((mib * 1048576)) "$rxrc" "$txrc" <<'PY'
import json, os, sys
work, want = sys.argv[1], int(sys.argv[2])
for role, rc, ddir in (("rx", int(sys.argv[3]), "read"), ("tx", int(sys.argv[4]), "write")):
    if rc:
        sys.exit("%s: fio exited %d" % (role, rc))
    s = open(os.path.join(work, role + ".json")).read()
    j = json.loads(s[s.index("{"):])["jobs"][0]
    if j["error"]:
        sys.exit("%s: fio reports error %d" % (role, j["error"]))
    if j[ddir]["io_bytes"] != want:
        sys.exit("%s: fio moved %d bytes, not %d" % (role, j[ddir]["io_bytes"], want))
    c = json.loads(open(os.path.join(work, role + ".stats")).readline())
    if c["bytes"] != want:
        sys.exit("%s: the engine counted %d bytes, not %d" % (role, c["bytes"], want))
    if c["mode"] == "send_zc" and c["cqes_notif"] != c["cqes_data"]:
        sys.exit("send_zc: %d notifications for %d sends" % (c["cqes_notif"], c["cqes_data"]))
    if c["mode"] in ("send_zc", "send_zc_slots") and c["bytes_zc"] + c["bytes_copied"] != want:
        sys.exit("%s: copied + zero-copy bytes != bytes" % c["mode"])
    if c["mode"] == "send_zc_slots" and not c["generations"]:
        sys.exit("send_zc_slots: no generation closed")
    if c["mode"] == "recv_zc" and (not c["cqes_data"] or c["rq_entries"] != c["cqes_data"]):
        sys.exit("recv_zc: %d refill entries for %d data CQEs" % (c["rq_entries"], c["cqes_data"]))
PY
	); then
		echo "ok $n - fio_$name moves $mib MiB over veth"
	else
		fails=$((fails + 1))
		echo "not ok $n - fio_$name moves $mib MiB over veth"
		echo "# $why"
		cat "$work/rx.err" "$work/tx.err" | grep -v '^$' | head -n 8 | sed 's/^/# /'
	fi
}

echo "TAP version 13"
echo "1..5"
pair recv recv send
pair recv_zc recv_zc send
pair send recv send
pair send_zc recv send_zc
pair send_zc_slots recv send_zc_slots
[ "$fails" -eq 0 ]
