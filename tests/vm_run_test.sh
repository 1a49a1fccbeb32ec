#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/vm-run must take the whole guest down with it. A fake virtme-ng
# (vng -> virtme-run -> qemu, each a child of the one before, as the real
# ones are) hangs; its "QEMU" ignores SIGTERM, keeps a `sleep 1000` child and
# keeps appending to the console. Checked:
#  - --timeout: status 124, "guest hung: killed after N s", and no process
#    of the fake tree runs any more once vm-run returned, nor does the
#    console grow;
#  - SIGTERM to vm-run itself: the same, status 143;
#  - SIGKILL to vm-run: the tree is gone within 5 s;
#  - vng exiting while its child still runs: vm-run's status is vng's and
#    the child is gone too.
# Quick (under 20 s) and needs neither a kernel nor QEMU.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
vmrun=${ZC_VM_RUN:-$top/scripts/vm-run}
work=$(mktemp -d)
export ZC_BUILD=$work/build ZC_VM_KILL_GRACE=1 ZC_FAKE_PIDS=$work/pids
bin=$ZC_BUILD/venv/bin
cleanup() {
	# Whatever a broken vm-run left behind must not outlive the test.
	[ -f "$ZC_FAKE_PIDS" ] && xargs -r kill -KILL <"$ZC_FAKE_PIDS" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fails=0 n=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
check() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }

mkdir -p "$bin"
: >"$work/bzImage"
# vng runs virtme-run as a child (the real one through sh -c) and waits.
cat >"$bin/vng" <<'EOF'
#!/bin/bash
echo $$ >>"$ZC_FAKE_PIDS"
virtme-run "$@"
EOF
# virtme-run forks QEMU and waits for it; in "orphan" mode vng's child is
# left running while vng exits.
cat >"$bin/virtme-run" <<'EOF'
#!/bin/bash
echo $$ >>"$ZC_FAKE_PIDS"
if [ "${ZC_FAKE_MODE:-}" = orphan ]; then
	qemu-system-x86_64 &
	sleep 1
	kill -KILL $PPID
	exit 0
fi
qemu-system-x86_64
EOF
# A QEMU that a SIGTERM does not stop, with a child, writing the console.
cat >"$bin/qemu-system-x86_64" <<'EOF'
#!/bin/bash
trap '' TERM
echo $$ >>"$ZC_FAKE_PIDS"
sleep 1000 &
echo $! >>"$ZC_FAKE_PIDS"
while :; do
	echo "fake qemu $$ still running" >&2
	sleep 0.2
done
EOF
chmod +x "$bin"/*
export PATH="$bin:$PATH"

# Every recorded process has exited (a zombie that no one reaps counts as
# gone: it runs nothing).
all_gone() {
	local p st
	for p in $(cat "$ZC_FAKE_PIDS" 2>/dev/null); do
		st=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) || continue
		[ -z "$st" ] || [ "$st" = Z ] || { echo "  # pid $p still runs: $(tr '\0' ' ' <"/proc/$p/cmdline")"; return 1; }
	done
	return 0
}
# Wait (5 s at most) until the fake tree runs: vng, virtme-run, qemu, sleep.
tree_up() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(wc -l <"$ZC_FAKE_PIDS" 2>/dev/null)" -ge 4 ] && return 0
		sleep 0.1
	done
	return 1
}
# Wait (5 s at most) until all_gone.
gone_soon() {
	local i
	for ((i = 0; i < 50; i++)); do
		all_gone >/dev/null && return 0
		sleep 0.1
	done
	all_gone
}
console_still() {
	local a b
	a=$(stat -c %s "$ZC_BUILD/vm/console.log")
	sleep 1
	b=$(stat -c %s "$ZC_BUILD/vm/console.log")
	[ "$a" = "$b" ]
}

# 1. --timeout
t0=$SECONDS
"$vmrun" --bzimage "$work/bzImage" --timeout 3 -- true >"$work/out1" 2>"$work/err1"
rc=$?
took=$((SECONDS - t0))
check "--timeout 3: status 124 (got $rc)" '[ $rc -eq 124 ]'
check "--timeout 3: reports a hang" 'grep -q "guest hung: killed after 3 s" "$work/err1" || { sed "s/^/  # /" "$work/err1"; false; }'
check "--timeout 3: every process of the guest tree is gone" 'all_gone'
check "--timeout 3: the console no longer grows" 'console_still'
check "--timeout 3: returns within 3 s + the grace + 4 s (took $took s)" '[ $took -le 8 ]'
check "--timeout 3: the fake tree did run" '[ "$(wc -l <"$ZC_FAKE_PIDS")" -ge 4 ]'

# 2. SIGTERM to vm-run
xargs -r kill -KILL <"$ZC_FAKE_PIDS" 2>/dev/null
: >"$ZC_FAKE_PIDS"
"$vmrun" --bzimage "$work/bzImage" --timeout 60 -- true >"$work/out2" 2>"$work/err2" &
vr=$!
tree_up
up=$?
kill -TERM $vr
wait $vr
rc=$?
check "SIGTERM: status 143 (got $rc)" '[ $rc -eq 143 ]'
check "SIGTERM: the fake tree had started" '[ $up -eq 0 ]'
check "SIGTERM: every process of the guest tree is gone" 'all_gone'
check "SIGTERM: the console no longer grows" 'console_still'

# 3. SIGKILL to vm-run: no trap runs, its watcher kills the group.
xargs -r kill -KILL <"$ZC_FAKE_PIDS" 2>/dev/null
: >"$ZC_FAKE_PIDS"
"$vmrun" --bzimage "$work/bzImage" --timeout 60 -- true >"$work/out4" 2>"$work/err4" &
vr=$!
tree_up
up=$?
kill -KILL $vr
wait $vr 2>/dev/null
check "SIGKILL: the fake tree had started" '[ $up -eq 0 ]'
check "SIGKILL: within 5 s every process of the guest tree is gone" 'gone_soon'

# 4. vng exits, its child runs on
xargs -r kill -KILL <"$ZC_FAKE_PIDS" 2>/dev/null
: >"$ZC_FAKE_PIDS"
ZC_FAKE_MODE=orphan "$vmrun" --bzimage "$work/bzImage" --timeout 60 -- true >"$work/out3" 2>"$work/err3"
rc=$?
check "vng killed: its status (137, got $rc)" '[ $rc -eq 137 ]'
check "vng killed: every process of the guest tree is gone" 'all_gone'

echo "1..$n"
[ $fails -eq 0 ]
