#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the VM (scripts/bench-echo-insn, fast kernel, TCG, the
# tcg_insn plugin loaded): the echo benchmark of scripts/bench-echo, with
# guest instructions per request instead of requests/s. For every
# connection count, RUNS rounds; in each round every server once, the
# order rotated from round to round so that drift hits all alike:
#   c          bench/echo/echo_server_c (plain C on liburing)
#   cxx        cxx/examples/echo_server (C++ coroutines; registered ring
#              fd, direct descriptors)
#   cxx_plain  the same with --files plain (neither, as the C server)
#   cxx_stream the same as cxx with --recv stream (one multishot recv
#              per connection into provided buffers, recv_buf.hpp)
# The server runs on vCPU 1 and the client (bench/echo/echo_client) on
# vCPU 0, in a network namespace of their own over loopback. The client
# brackets its measuring window with the plugin's start/stop markers, and
# the guest script brackets each run with begin/end, so that vCPU 1's
# count over the window is the server's CPU: its user space, its system
# calls and the softirq work of the packets it sends (loopback delivers
# on the sending CPU, so that includes the client socket's receive
# processing: the same for every server).
#   guest-echo-bench.sh BINDIR TCG_MARK OUTFILE RUNS SECONDS WARMUP CONNS IMPLS [KALLSYMS]
# BINDIR: a CMake build dir (bench/echo/echo_server_c, echo_client and the
# echo_server target); CONNS and IMPLS: space-separated lists; KALLSYMS:
# where to save the guest's text symbols, for a profile.
set -eu
bindir=$1 mark=$2 out=$3 runs=$4 secs=$5 warmup=$6 conns_list=$7 impls=$8 ksyms=${9:-}
[ "$(nproc)" -ge 2 ] || { echo "the benchmark needs 2 vCPUs" >&2; exit 1; }
srv_c=$bindir/bench/echo/echo_server_c
client=$bindir/bench/echo/echo_client
srv_cxx=$bindir/cxx/examples/echo_server
for f in "$srv_c" "$client" "$srv_cxx" "$mark"; do
	[ -x "$f" ] || { echo "$f missing" >&2; exit 1; }
done
: >"$out"
[ -z "$ksyms" ] || grep ' [tTwW] ' /proc/kallsyms >"$ksyms"
ns=zc-echo
ip netns add $ns
ip -n $ns link set lo up
srv_pid=
stop_server() {
	[ -n "$srv_pid" ] || return 0
	kill -TERM "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=
}
trap 'stop_server; ip netns del $ns' EXIT
port=29500
slog=$(mktemp)

one() { # IMPL CONNS RUN [SECONDS]: RUN 0 is not recorded
	local impl=$1 n=$2 run=$3 s=${4:-$secs} bin=$srv_cxx args=() sig=() line allocs= i
	case $impl in
	c) bin=$srv_c ;;
	cxx) ;;
	cxx_plain) args=(--files plain) ;;
	cxx_stream) args=(--recv stream) ;;
	*) echo "unknown server $impl" >&2; exit 2 ;;
	esac
	port=$((port + 1))
	taskset -c 1 ip netns exec $ns "$bin" --port $port "${args[@]}" >/dev/null 2>"$slog" &
	srv_pid=$!
	[ "$impl" = c ] || sig=(--signal-pid "$srv_pid")
	# only recorded runs leave markers (tcg_counts.parse_marks pairs them)
	[ "$run" -gt 0 ] && sig+=(--tcg-mark) && "$mark" begin
	line=$(taskset -c 0 ip netns exec $ns "$client" --port $port --conns "$n" \
		--msg 1024 --seconds "$s" --warmup "$warmup" "${sig[@]}")
	[ "$run" -gt 0 ] && "$mark" end
	files=plain
	if [ "$impl" != c ]; then
		# "echo_server: direct descriptors, ring fd registered" or not
		grep -q 'direct descriptors' "$slog" && files=direct
		for i in $(seq 40); do
			allocs=$(sed -n 's/^allocations_in_window=\([0-9]*\)$/\1/p' "$slog" | tail -n1)
			[ -n "$allocs" ] && break
			sleep 0.05
		done
	fi
	stop_server
	[ "$run" -gt 0 ] || return 0
	echo "run=$run mode=$impl files=$files $line${allocs:+ allocations_in_window=$allocs}" | tee -a "$out"
}

set -- $impls
k=$#
# A first round that is not recorded: right after the boot, what the VM
# still does (udev and the like) ran on vCPU 1 in the first window and
# showed as about a thousand user-space instructions per request more
# for whichever server came first (the C++ one, at 1 connection).
command -v udevadm >/dev/null && udevadm settle --timeout=30 || true
for impl in $impls; do
	one "$impl" 1 0 1
done
for n in $conns_list; do
	for run in $(seq "$runs"); do
		for j in $(seq 0 $((k - 1))); do
			i=$(((run + j) % k + 1))
			one "${!i}" "$n" "$run"
		done
	done
done
