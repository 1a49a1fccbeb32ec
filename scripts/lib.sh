# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the zcuring scripts. Source it; do not run it.
#
# Every script fails with one clear line ("zcuring: <what>: <why>") and a
# non-zero exit status; nothing here edits apt sources or $HOME.

ZC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZC_BUILD=${ZC_BUILD:-$ZC_TOP/build}
ZC_LINUX=${ZC_LINUX:-$ZC_BUILD/linux}
ZC_VENV=$ZC_BUILD/venv
ZC_PROG=$(basename "$0")

# The Debian source package the series is built on.
ZC_SRC_PKG=linux-source-6.1
ZC_SRC_TAR=/usr/src/linux-source-6.1.tar.xz

# virtme-ng is pinned: its init and config defaults change between releases.
ZC_VNG_VERSION=1.42

die() {
	echo "zcuring: $ZC_PROG: $*" >&2
	exit 1
}

log() {
	echo "==> $*" >&2
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			die "required tool '$c' not found (run scripts/setup-host)"
	done
}

# Read a KEY=VALUE file (kernel-config/TESTED) without sourcing it.
kv_get() {
	sed -n "s/^$2=//p" "$1" | head -n1
}

ncpus() {
	nproc 2>/dev/null || echo 2
}

# Configure and build user space in build/$1 with Ninja: the compilers of
# $2 ("" for the default ones, "clang" for clang and clang++), further cmake
# arguments after it. Logs: build/$1.log (configure), build/ninja-$1.log
# (build/ninja.log for build/cmake).
zc_build_user() {
	local dir=$1 cc=$2 nlog
	shift 2
	nlog=$ZC_BUILD/ninja-$dir.log
	[ "$dir" = cmake ] && nlog=$ZC_BUILD/ninja.log
	mkdir -p "$ZC_BUILD"
	log "building user space in ${ZC_BUILD#$ZC_TOP/}/$dir${cc:+ with $cc} (log: ${ZC_BUILD#$ZC_TOP/}/$dir.log, ${nlog#$ZC_TOP/})"
	if [ "$cc" = clang ]; then
		need_cmd clang clang++
		set -- -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "$@"
	fi
	cmake -S "$ZC_TOP" -B "$ZC_BUILD/$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DZC_BUILD_DIR="$ZC_BUILD" "$@" \
		>"$ZC_BUILD/$dir.log" 2>&1 ||
		{ tail -n 30 "$ZC_BUILD/$dir.log" >&2; die "cmake configure of build/$dir failed"; }
	ninja -C "$ZC_BUILD/$dir" >"$nlog" 2>&1 ||
		{ grep -E 'error|FAILED' "$nlog" | head -n 30 >&2; die "user-space build in build/$dir failed"; }
}

# Everything a VM run needs, for kernel flavour $1: host packages and
# virtme-ng, build/linux from patches/, the kernel, the patched uapi
# headers and all user space (build/cmake). Leaves the seconds each part
# took in ZC_T_PREPARE, ZC_T_KERNEL and ZC_T_USER.
# Die unless $1 is a kernel flavour of kernel-config/flavours: scripts
# check their arguments before any install or build.
zc_check_flavour() {
	grep -q "^$1: " "$ZC_TOP/kernel-config/flavours" 2>/dev/null ||
		die "unknown kernel flavour '$1' (flavours: $(sed -n 's/^\([a-z0-9_-]*\): .*/\1/p' "$ZC_TOP/kernel-config/flavours" | tr '\n' ' '))"
}

zc_build_all() {
	local t0 t1 t2

	zc_check_flavour "$1"
	t0=$(date +%s)
	"$ZC_TOP/scripts/setup-host"
	mkdir -p "$ZC_BUILD"
	# One kernel tree, two cores: a second build (another shell, a helper)
	# waits for the first instead of racing it in build/linux.
	exec 8>"$ZC_BUILD/.kernel.lock"
	flock 8
	"$ZC_TOP/scripts/prepare"
	t1=$(date +%s)
	"$ZC_TOP/scripts/build-kernel" "$1" >/dev/null
	flock -u 8
	exec 8>&-
	t2=$(date +%s)
	"$ZC_TOP/scripts/headers" >/dev/null
	# fio's configured source (idempotent): without it the fio engine,
	# its host test and its VM jobs are not built.
	"$ZC_TOP/scripts/fio-headers"
	# All user space, and what needs the tree: the selftests, the VM suite.
	zc_build_user cmake "" -DZC_VM_KERNEL="$1" -DZC_KERNEL_TESTS=ON
	ZC_T_PREPARE=$((t1 - t0))
	ZC_T_KERNEL=$((t2 - t1))
	ZC_T_USER=$(($(date +%s) - t2))
}

# zc_bench_env FILE COMMAND: what a VM benchmark ran on (fast kernel, TCG),
# as the key=value lines the summaries read (bench/tcg_counts.py read_env).
zc_bench_env() {
	{
		echo "qemu=$(qemu-system-x86_64 --version | head -n1)"
		echo "accel=TCG"
		echo "host_cpus=$(ncpus)"
		echo "kernel=$(make -s -C "$ZC_LINUX" kernelversion 2>/dev/null || echo 6.1) (fast)"
		echo "date=$(date -u +%FT%TZ)"
		echo "commit=$(git -C "$ZC_TOP" rev-parse --short HEAD)"
		echo "command=$2"
	} >"$1"
}
