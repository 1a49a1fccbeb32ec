#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host tests of the kernel workspace scripts, on a throw-away work
# directory so build/ is never touched:
#  - prepare builds a tree tagged base with the series applied;
#  - export of that tree reproduces patches/ byte for byte (round trip),
#    and a second export changes nothing;
#  - a patch that does not apply stops prepare with its file name and the
#    failing hunk;
#  - prepare refuses to drop commits that patches/ does not hold.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0 n=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
check() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }

export ZC_BUILD=$work/build ZC_PATCHES=$work/patches
mkdir -p "$ZC_BUILD"
ln -s "$top/build/venv" "$ZC_BUILD/venv" 2>/dev/null
cp -r "$top/patches" "$ZC_PATCHES"
nseries=$(grep -cv '^\s*\(#\|$\)' "$ZC_PATCHES/series" 2>/dev/null || true)

"$top/scripts/prepare" >"$work/prepare.log" 2>&1
rc=$?
check "prepare applies the series" '[ $rc -eq 0 ]'
check "the tree has a base tag and ${nseries} commits on it" \
	'[ "$(git -C "$ZC_BUILD/linux" rev-list --count base..HEAD)" = "$nseries" ]'
check "the base .gitignore no longer ignores everything" \
	'! grep -qx "/\*" "$ZC_BUILD/linux/.gitignore"'
check "new files in the tree are not ignored" \
	'touch "$ZC_BUILD/linux/io_uring/zc_probe.c" &&
	 [ -n "$(git -C "$ZC_BUILD/linux" status --porcelain io_uring/zc_probe.c)" ] &&
	 rm "$ZC_BUILD/linux/io_uring/zc_probe.c"'

"$top/scripts/export" >"$work/export.log" 2>&1
check "export round-trips patches/ byte for byte" \
	'diff -r "$top/patches" "$ZC_PATCHES" >/dev/null'
check "export --check agrees" '"$top/scripts/export" --check >/dev/null 2>&1'
"$top/scripts/prepare" >"$work/prepare2.log" 2>&1
check "prepare on an up-to-date tree is a no-op" 'grep -q "up to date" "$work/prepare2.log"'

# A commit that patches/ does not hold must not be thrown away.
echo "zc" >>"$ZC_BUILD/linux/README"
git -C "$ZC_BUILD/linux" -c user.name=t -c user.email=t@t commit -qam "local work"
"$top/scripts/prepare" >"$work/prepare3.log" 2>&1
rc=$?
check "prepare refuses to drop unexported commits" \
	'[ $rc -ne 0 ] && grep -q "not in patches/" "$work/prepare3.log"'

# A broken patch stops prepare with its name and the hunk.
cat >"$ZC_PATCHES/9999-broken.patch" <<'PATCH'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Test <t@t>
Date: Thu, 1 Jan 2026 00:00:00 +0000
Subject: [PATCH] broken

---
 README | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/README b/README
--- a/README
+++ b/README
@@ -1,3 +1,3 @@
-This line is not in the README.
+Neither is this one.
 Nor this.
 Nor that.
PATCH
echo 9999-broken.patch >>"$ZC_PATCHES/series"
"$top/scripts/prepare" --force >"$work/prepare4.log" 2>&1
rc=$?
check "a patch that fails stops prepare" '[ $rc -ne 0 ]'
check "the failure names the patch" 'grep -q "9999-broken.patch" "$work/prepare4.log"'
check "the failure shows the failing hunk" 'grep -q "This line is not in the README" "$work/prepare4.log"'

echo "1..$n"
[ $fails -eq 0 ]
