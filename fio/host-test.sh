#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test of the zcuring_net fio engine on the running kernel (TAP):
#  - recv, send and send_zc pairs over loopback at a few block sizes and
#    queue depths move exactly what was asked, without an error (fio's
#    JSON output), with the engine's counters agreeing;
#  - recv_zc and send_zc_slots, which need the zcuring kernel, are refused
#    with "unsupported by this kernel" when the kernel lacks them (and are
#    run like the others when it has them);
#  - UDP send modes send every datagram to a discarding sink;
#  - protocol other than tcp and udp, udp for receiving, and a mode that
#    does not match rw, fail with one clear line;
#  - an engine built for another fio refuses to load, in one line.
#
#   fio/host-test.sh FIO ENGINE.so BADVER_ENGINE.so
set -u
FIO=$1 engine=$2 badver=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0 n=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
port=$((20000 + $$ % 20000))

# pair NAME RX_MODE TX_MODE BS QD MIB: a receiver and a sender of this engine
pair() {
	local name=$1 rxm=$2 txm=$3 bs=$4 qd=$5 mib=$6 job=$work/$1.fio
	port=$((port + 1))
	cat >"$job" <<EOF
[global]
ioengine=external:$engine
bs=$bs
iodepth=$qd
size=${mib}m
port=$port
zc_stats=$work/$name.stats

[rx]
mode=$rxm
listen
rw=read

[tx]
mode=$txm
hostname=127.0.0.1
rw=write
EOF
	timeout 120 "$FIO" --output-format=json "$job" >"$work/$name.json" 2>"$work/$name.err"
	echo $? >"$work/$name.rc"
}

# check NAME MIB: fio's exit status, each job's error and bytes, the counters
check() {
	local name=$1 want=$(($2 * 1048576)) why
	why=$(python3 - "$work/$name.json" "$work/$name.stats" "$want" "$(cat "$work/$name.rc")" <<'PY'
import json, sys
out, stats, want, rc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if rc:
    sys.exit("fio exited %d" % rc)
s = open(out).read()
d = json.loads(s[s.index("{"):])
for j in d["jobs"]:
    ddir = "read" if j["jobname"] == "rx" else "write"
    if j["error"]:
        sys.exit("job %s: error %d" % (j["jobname"], j["error"]))
    if j[ddir]["io_bytes"] != want:
        sys.exit("job %s moved %d bytes, not %d" % (j["jobname"], j[ddir]["io_bytes"], want))
lines = [json.loads(l) for l in open(stats)]
if len(lines) != 2:
    sys.exit("%d counter lines, not 2" % len(lines))
for c in lines:
    if c["bytes"] != want:
        sys.exit("%s counters: %d bytes, not %d" % (c["job"], c["bytes"], want))
    if c["mode"] == "send_zc" and c["cqes_notif"] != c["cqes_data"]:
        sys.exit("send_zc: %d notifications for %d sends" % (c["cqes_notif"], c["cqes_data"]))
    if c["mode"] == "send_zc" and c["bytes_zc"] + c["bytes_copied"] != want:
        sys.exit("send_zc: copied + zero-copy bytes != bytes")
    if c["mode"] == "recv_zc" and c["rq_entries"] != c["cqes_data"]:
        sys.exit("recv_zc: %d refill entries for %d data CQEs" % (c["rq_entries"], c["cqes_data"]))
PY
) && return 0
	echo "# $name: $why"
	sed 's/^/# /' "$work/$name.err" | head -n 5
	return 1
}

# Does the running kernel have it? The engine says so in one line.
supported() { # MODE RW
	"$FIO" --name=probe --ioengine=external:"$engine" --mode="$1" --rw="$2" \
		--size=1m --port=$((port + 1000)) --hostname=127.0.0.1 \
		${3:+--listen} >"$work/probe.out" 2>&1
	! grep -q "unsupported by this kernel" "$work/probe.out"
}

for m in recv_zc send_zc_slots; do
	case $m in recv_zc) rw=read l=1 ;; *) rw=write l= ;; esac
	if supported "$m" "$rw" $l; then
		echo "# $m is supported by $(uname -r): running it"
		eval "have_$m=1"
	else
		line=$(grep "unsupported by this kernel" "$work/probe.out")
		if [ "$(grep -c "unsupported by this kernel" "$work/probe.out")" = 1 ] &&
			grep -q "^zcuring_net: mode=$m: unsupported by this kernel" "$work/probe.out"; then
			ok "mode=$m: '$line'"
		else
			notok "mode=$m refusal"
			sed 's/^/# /' "$work/probe.out"
		fi
		eval "have_$m="
	fi
done

cases=(
	"recv send 4k 1 64"
	"recv send 64k 32 256"
	"recv send 1k 8 16"
	"recv send_zc 16k 8 128"
	"recv send_zc 64k 1 128"
	"recv send_zc 4k 32 32"
)
[ -n "$have_recv_zc" ] && cases+=("recv_zc send 16k 8 128" "recv_zc send 1k 32 16")
[ -n "$have_send_zc_slots" ] && cases+=("recv send_zc_slots 16k 8 128" "recv send_zc_slots 4k 1 32")
for c in "${cases[@]}"; do
	set -- $c
	name="$1-$2-bs$3-qd$4"
	pair "$name" "$@"
	if check "$name" "$5"; then ok "$name moves $5 MiB"; else notok "$name moves $5 MiB"; fi
done

# UDP (send modes only): every datagram is sent, to a sink that discards.
udp_send() { # MODE BS QD MIB
	local name="udp-$1-bs$2-qd$3" want=$(($4 * 1048576)) sink
	port=$((port + 1))
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
try:
    while s.recv(65536):
        pass
except OSError:
    pass
' "$port" &
	sink=$!
	sleep 0.5
	timeout 120 "$FIO" --output-format=json --name=tx --ioengine=external:"$engine" \
		--mode="$1" --protocol=udp --rw=write --bs="$2" --iodepth="$3" --size="$4m" \
		--hostname=127.0.0.1 --port="$port" --zc_stats="$work/$name.stats" \
		>"$work/$name.json" 2>"$work/$name.err"
	echo $? >"$work/$name.rc"
	kill "$sink" 2>/dev/null
	wait "$sink" 2>/dev/null
	why=$(python3 - "$work/$name.json" "$work/$name.stats" "$want" "$(cat "$work/$name.rc")" <<'PY'
import json, sys
out, stats, want, rc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if rc:
    sys.exit("fio exited %d" % rc)
s = open(out).read()
j = json.loads(s[s.index("{"):])["jobs"][0]
if j["error"] or j["write"]["io_bytes"] != want:
    sys.exit("error %d, %d bytes, not %d" % (j["error"], j["write"]["io_bytes"], want))
c = json.loads(open(stats).readline())
if c["bytes"] != want or c["io_us"] != c["cqes_data"]:
    sys.exit("counters: %d bytes, %d io_us, %d sends" % (c["bytes"], c["io_us"], c["cqes_data"]))
PY
) && { ok "$name sends $4 MiB in datagrams"; return; }
	notok "$name sends $4 MiB in datagrams"
	echo "# $why"
	sed 's/^/# /' "$work/$name.err" | head -n 5
}
udp_send send 16k 8 16
udp_send send_zc 4k 32 8
[ -n "$have_send_zc_slots" ] && udp_send send_zc_slots 16k 8 16

# One clear line for a protocol other than tcp and udp, for udp where it
# does not apply, and for a mode against rw.
# refused NAME LINE FIO-OPTION...: fio with this engine prints LINE (a
# grep pattern) for the job NAME.
refused() {
	local name=$1 line=$2
	shift 2
	"$FIO" --name="$name" --ioengine=external:"$engine" --size=1m "$@" \
		>"$work/$name.out" 2>&1
	if grep -q "$line" "$work/$name.out"; then
		ok "$name is refused"
	else
		notok "$name is refused"
		sed 's/^/# /' "$work/$name.out"
	fi
}
refused protocol=sctp "^zcuring_net: protocol=sctp is not supported: only tcp and udp$" \
	--protocol=sctp --rw=write --hostname=127.0.0.1 --port=9
refused "protocol=udp_with_rw=read" "^zcuring_net: protocol=udp is for the send modes only" \
	--protocol=udp --rw=read --listen --port=9
refused "mode=send_with_rw=read" "^zcuring_net: mode=send needs rw=write$" \
	--mode=send --rw=read --listen --port=9

# An engine built for another fio: one line, exit status 1, nothing else.
"$FIO" --name=badver --ioengine=external:"$badver" --mode=send --rw=write \
	--hostname=127.0.0.1 --port=9 --size=1m >"$work/bv.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ "$(wc -l <"$work/bv.out")" = 1 ] &&
	grep -q "^zcuring_net: built for fio-0.0-test (ioengine ops [0-9]*) but loaded into $("$FIO" --version): " "$work/bv.out"; then
	ok "an engine for another fio is refused in one line"
else
	notok "an engine for another fio is refused in one line (rc $rc)"
	sed 's/^/# /' "$work/bv.out"
fi

echo "1..$n"
[ $fails -eq 0 ]
