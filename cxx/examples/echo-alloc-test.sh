#!/bin/bash
# SPDX-License-Identifier: MIT
# Host test (cxx_echo_server_allocs): the C++ echo server answers the echo
# client for a second on each of 1 and 32 connections, with a recv per
# request and with the receive stream (--recv single|stream), allocates
# nothing on the heap while it does (testlib/alloc_counter.cpp counts between the
# client's SIGUSR1 and SIGUSR2), and exits 0 on SIGTERM.
#   echo-alloc-test.sh ECHO_SERVER ECHO_CLIENT
set -eu
srv=${1:?usage: echo-alloc-test.sh ECHO_SERVER ECHO_CLIENT} cli=${2:?}
log=$(mktemp)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -f "$log"' EXIT
for run in "single 1" "single 32" "stream 1" "stream 32"; do
	set -- $run
	recv=$1 conns=$2
	port=$((29300 + RANDOM % 150))
	"$srv" --port $port --recv $recv 2>"$log" &
	pid=$!
	ok=
	for _ in $(seq 50); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && { ok=1; break; }
		sleep 0.05
	done
	[ -n "$ok" ] || { echo "echo_server did not listen on $port"; cat "$log"; exit 1; }
	"$cli" --port $port --conns $conns --msg 1024 --seconds 1 --warmup 0.3 --signal-pid $pid
	# The counter's thread answers SIGUSR2 on its own time: wait for its
	# line before stopping the server (SIGTERM: it must exit 0).
	for _ in $(seq 100); do
		grep -q '^allocations_in_window=' "$log" && break
		sleep 0.05
	done
	kill -TERM $pid
	wait $pid || { echo "echo_server failed:"; cat "$log"; exit 1; }
	pid=
	allocs=$(sed -n 's/^allocations_in_window=\([0-9]*\)$/\1/p' "$log")
	echo "--recv $recv, $conns connections: allocations_in_window=${allocs:-none}"
	[ "$allocs" = 0 ] || { cat "$log"; exit 1; }
done
