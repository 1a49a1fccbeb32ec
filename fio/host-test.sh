#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test of the zcuring_net fio engine on the running kernel (TAP):
#  - recv, send and send_zc pairs over loopback at a few block sizes and
#    queue depths move exactly what was asked, without an error (fio's
#    JSON output), with the engine's counters agreeing;
#  - recv_zc and send_zc_slots, which need the zcuring kernel, are refused
#    with "unsupported by this kernel" when the kernel lacks them (and are
#    run like the others when it has them);
#  - every pair's jobs have a submission latency sample per io_u, and
#    slat + clat = lat (issue time set when the engine submits);
#  - a listener whose peer job fails (refused at set-up, or connected
#    but silent) fails within listen_timeout, with one line saying why;
#  - UDP send modes send every datagram to a discarding sink;
#  - protocol other than tcp and udp, udp for receiving, and a mode that
#    does not match rw, fail with one clear line;
#  - an engine built for another fio refuses to load, in one line;
#  - fio --enghelp=ENGINE shows every option with a help text, each of
#    them documented in fio/README.md;
#  - every job file in fio/jobs parses with the engine given on the
#    command line (and its .env.example, where it has one).
#
#   fio/host-test.sh FIO ENGINE.so BADVER_ENGINE.so
set -u
FIO=$1 engine=$2 badver=$3
here=$(cd "$(dirname "$0")" && pwd)
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
    # issue time at submission: one slat sample an io_u, lat = slat + clat
    st = j[ddir]
    if st["slat_ns"]["N"] != st["total_ios"]:
        sys.exit("job %s: %d slat samples for %d io_us" % (j["jobname"], st["slat_ns"]["N"], st["total_ios"]))
    lat, parts = st["lat_ns"]["mean"], st["slat_ns"]["mean"] + st["clat_ns"]["mean"]
    if abs(lat - parts) > 0.01 * lat + 1000:
        sys.exit("job %s: mean lat %.0f ns, slat + clat %.0f ns" % (j["jobname"], lat, parts))
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
2>&1) && return 0
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

# A listener whose peer job fails gives up after listen_timeout (2 s
# here), in one line; without the bound it would wait for ever.
# peer_fails NAME WHAT TX-OPTION...: rx listens, tx (these options) fails;
# WHAT is what the listener's line must say ("no connection", ...).
peer_fails() {
	local name=$1 what=$2 job=$work/$1.fio t0 t1 rc
	shift 2
	port=$((port + 1))
	{
		printf '[global]\nioengine=external:%s\nbs=16k\nsize=4m\nport=%d\n' "$engine" "$port"
		printf '[rx]\nmode=recv\nlisten\nrw=read\nlisten_timeout=2\n'
		if [ $# -gt 0 ]; then
			printf '[tx]\nhostname=127.0.0.1\nrw=write\n'
			printf '%s\n' "$@"
		fi
	} >"$job"
	t0=$(date +%s)
	timeout 60 "$FIO" --output-format=json "$job" >"$work/$name.json" 2>"$work/$name.err"
	rc=$? t1=$(date +%s)
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $((t1 - t0)) -le 15 ] &&
		grep -q "^zcuring_net: job rx: $what on port $port within listen_timeout=2s (did the peer job fail?)$" \
			"$work/$name.err" &&
		python3 - "$work/$name.json" <<'PY'
import json, sys
s = open(sys.argv[1]).read()
rx = [j for j in json.loads(s[s.index("{"):])["jobs"] if j["jobname"] == "rx"][0]
sys.exit(rx["error"] != 110)   # ETIMEDOUT
PY
	then
		ok "$name: the listener fails after listen_timeout ($((t1 - t0)) s)"
	else
		notok "$name: the listener fails after listen_timeout (fio rc $rc after $((t1 - t0)) s)"
		sed 's/^/# /' "$work/$name.err" | head -n 6
	fi
}
# a sender the running kernel refuses (send_zc_slots off the zcuring
# kernel), else one its options refuse (a datagram larger than UDP's)
if [ -z "$have_send_zc_slots" ]; then
	peer_fails peer-refused-by-kernel "no connection" mode=send_zc_slots
else
	peer_fails peer-refused-by-options "no connection" mode=send_zc protocol=udp bs=128k
fi
# a peer that connects and then sends nothing, nor closes
port=$((port + 1))
python3 -c '
import socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        break
    except OSError:
        time.sleep(0.1)
time.sleep(20)
' $((port + 1)) &
silent=$!
peer_fails peer-silent "a connection but no data"
kill "$silent" 2>/dev/null
wait "$silent" 2>/dev/null

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

# fio --enghelp: fio 3.33 takes the engine's path there (with a "/"), not
# external:PATH. Every option it shows has a help text and is documented
# in fio/README.md (as `name`); listen_timeout's default is bounded.
"$FIO" --enghelp="$engine" >"$work/enghelp.out" 2>&1
"$FIO" --enghelp="$engine",listen_timeout >"$work/enghelp-lt.out" 2>&1
why=$(python3 - "$work/enghelp.out" "$work/enghelp-lt.out" "$here/README.md" <<'PY'
import re, sys
out, lt, readme = (open(f).read() for f in sys.argv[1:])
opts = {}
for line in out.splitlines():
    m = re.match(r"^(\S+)\s+:\s*(.*)$", line)
    if not m:
        sys.exit("not an option line: %r" % line)
    opts[m.group(1)] = m.group(2)
for need in ("mode", "port", "listen", "listen_timeout", "zc_stats"):
    if need not in opts:
        sys.exit("%s is not shown" % need)
for name, help in sorted(opts.items()):
    if not help.strip() or help.strip() == "(null)":
        sys.exit("%s has no help text" % name)
    if "`%s`" % name not in readme and "`%s=" % name not in readme:
        sys.exit("%s is not documented in fio/README.md" % name)
if not re.search(r"default: 30\b", lt):
    sys.exit("listen_timeout's default is not 30 (s)")
print("%d options" % len(opts))
PY
2>&1) && ok "--enghelp shows every option with help, all in fio/README.md ($why)" ||
	{ notok "--enghelp shows every option with help, all in fio/README.md"; echo "# $why"; }

# Every job file parses as it is, the engine on the command line, the
# environment from its .env.example if it has one (and nothing else).
for j in "$here"/jobs/*.fio; do
	envf=${j%.fio}.env.example
	(
		for v in $(env | sed -n 's/^\(ZC_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
		if [ -f "$envf" ]; then set -a; . "$envf"; set +a; fi
		"$FIO" --ioengine=external:"$engine" --parse-only "$j"
	) >"$work/parse.out" 2>&1
	if [ $? -eq 0 ] && ! grep -q . "$work/parse.out"; then
		ok "jobs/$(basename "$j") parses$([ -f "$envf" ] && echo " with $(basename "$envf")")"
	else
		notok "jobs/$(basename "$j") parses"
		sed 's/^/# /' "$work/parse.out" | head -n 4
	fi
done

echo "1..$n"
[ $fails -eq 0 ]
