#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Lint zcuring's man pages (the CTest test man_lint):
#  - every page through mandoc -Tlint -Wwarning, or, without mandoc,
#    groff -man -ww -z; any warning fails;
#  - an alias page is exactly one ".so man3/PAGE.3" line, and PAGE exists;
#  - every function declared static inline in include/zcuring/*.h has
#    a page or an alias, whose NAME section names it and whose SYNOPSIS
#    shows the prototype as the header declares it;
#  - every SEE ALSO target is a page of man/ or one of the outside pages
#    listed in $external below (liburing 2.3, the Linux man-pages), which
#    the host need not have installed;
#  - zcuring(7) lists every page of man3 in its SEE ALSO.
#
#   man/lint.sh [MANDIR]      (default: the directory of this script)
set -euo pipefail

mandir=$(cd "${1:-$(dirname "$0")}" && pwd)
root=$(cd "$mandir/.." && pwd)
cd "$mandir"

# Pages outside this project that SEE ALSO may name.
external=" io_uring.7 io_uring_setup.2 io_uring_register.2 io_uring_enter.2
	io_uring_queue_init_params.3 io_uring_get_sqe.3 io_uring_submit.3
	io_uring_sqe_set_data.3 io_uring_sqe_set_data64.3 io_uring_sqe_set_flags.3
	io_uring_prep_send_zc.3 io_uring_prep_sendmsg_zc.3 io_uring_prep_recv.3
	io_uring_prep_cancel.3 io_uring_prep_link_timeout.3 io_uring_get_probe_ring.3
	io_uring_opcode_supported.3 io_uring_register_buffers.3
	io_uring_register_files.3 io_uring_peek_batch_cqe.3 io_uring_cq_advance.3
	mmap.2 send.2 recv.2 setrlimit.2 capabilities.7 tcp.7 socket.7
	if_nametoindex.3 proc.5 "

fail=0
err() {
	echo "man/lint.sh: $*" >&2
	fail=1
}

shopt -s nullglob
pages=(man3/*.3 man7/*.7)
[ ${#pages[@]} -gt 0 ] || { echo "man/lint.sh: no pages in $mandir" >&2; exit 1; }

is_alias() { grep -q '^\.so ' "$1"; }

# 1. The formatter's warnings.
if command -v mandoc >/dev/null; then
	linter="mandoc -Tlint -Wwarning"
	render() { mandoc -Tascii -Owidth=200 "$1" | sed "s/.\x08//g"; }
else
	command -v groff >/dev/null || { echo "man/lint.sh: neither mandoc nor groff" >&2; exit 1; }
	linter="groff -man -ww -z"
	render() { groff -man -Tascii -rLL=200n -P-cbou "$1"; }
fi
for p in "${pages[@]}"; do
	if ! out=$($linter "$p" 2>&1) || [ -n "$out" ]; then
		err "$p: $linter:"
		printf '%s\n' "$out" >&2
	fi
done

# 2. Aliases: one .so line naming an existing page of man/.
for p in "${pages[@]}"; do
	is_alias "$p" || continue
	lines=$(grep -cv '^\.\\"' "$p")
	target=$(sed -n 's/^\.so //p' "$p")
	if [ "$lines" -ne 1 ]; then
		err "$p: an alias page holds only its .so line"
	elif [ ! -f "$target" ] || is_alias "$target"; then
		err "$p: .so $target: no such page (or an alias itself)"
	fi
done

# The page (not an alias) a name resolves to, or nothing.
resolve() {
	local f=$1
	[ -f "$f" ] || return 0
	if is_alias "$f"; then
		f=$(sed -n 's/^\.so //p' "$f")
		[ -f "$f" ] || return 0
	fi
	echo "$f"
}

# The text of section $2 of page $1, roff escapes and macros stripped.
section() {
	awk -v want="$2" '
		/^\.SH / { sub(/^\.SH +/, ""); gsub(/"/, ""); on = ($0 == want); next }
		on { print }' "$1"
}

# 3. Every static inline function of the C headers: page, NAME, prototype.
for h in "$root"/include/zcuring/*.h; do
	# "name<TAB>prototype" for each static inline definition
	while IFS=$'\t' read -r fn proto; do
		page=$(resolve "man3/$fn.3")
		if [ -z "$page" ]; then
			err "${h#"$root"/}: $fn has no page man3/$fn.3"
			continue
		fi
		names=$(section "$page" NAME | sed 's/\\-.*//; s/,/ /g' | tr ' ' '\n')
		if ! grep -qx "$fn" <<<"$names"; then
			err "$page: NAME does not list $fn"
		fi
		syn=$(render "$page" | awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
			tr -d ' \t\n')
		want=$(printf '%s' "$proto" | tr -d ' \t\n')
		case "$syn" in
		*"$want"*) ;;
		*) err "$page: SYNOPSIS lacks the prototype of $fn: $proto" ;;
		esac
	done < <(awk '
		/^static inline/ { on = 1; decl = "" }
		on {
			decl = decl " " $0
			if (index($0, ")")) {
				on = 0
				sub(/^ *static inline */, "", decl)
				sub(/\).*/, ");", decl)
				gsub(/[ \t]+/, " ", decl)
				name = decl
				sub(/ *\(.*/, "", name)
				sub(/.*[ *]/, "", name)
				print name "\t" decl
			}
		}' "$h")
done

# 4. SEE ALSO targets.
for p in "${pages[@]}"; do
	is_alias "$p" && continue
	for ref in $(section "$p" "SEE ALSO" | sed -n 's/^\.BR *\([A-Za-z0-9_:.]*\) *(\([0-9]\)).*/\1.\2/p'); do
		sec=${ref##*.}
		if [ -f "man$sec/$ref" ]; then
			continue
		fi
		case "$external" in
		*[[:space:]]"$ref"[[:space:]]*) ;;
		*) err "$p: SEE ALSO $ref: no such page in man/, nor a known outside page" ;;
		esac
	done
	seealso=$(section "$p" "SEE ALSO")
	if ! grep -q '^\.BR ' <<<"$seealso"; then
		err "$p: no SEE ALSO"
	fi
done

# 5. zcuring(7) points to every page of man3.
if [ -f man7/zcuring.7 ]; then
	seen=$(section man7/zcuring.7 "SEE ALSO")
	for p in man3/*.3; do
		is_alias "$p" && continue
		n=$(basename "$p" .3)
		grep -q "^\.BR $n (3)" <<<"$seen" || err "man7/zcuring.7: SEE ALSO lacks $n(3)"
	done
else
	err "no man7/zcuring.7"
fi

if [ "$fail" -ne 0 ]; then
	echo "man/lint.sh: FAILED ($linter)" >&2
	exit 1
fi
echo "man/lint.sh: ${#pages[@]} pages clean ($linter)"
