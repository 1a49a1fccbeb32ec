#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Every relative link of the project's markdown resolves (host test docs_links).

Checks README.md, docs/*.md, fio/README.md and bench/results/*/*.md: each
link or image ([text](target), ![alt](target), [ref]: target) that is not
a URL or a bare #anchor must name a file or directory that exists, inside
the repository (no link to anything beside it, such as a shared folder
of the machine it was written on). Code blocks and code spans are not
links. Prints each broken link as FILE:LINE: TARGET and exits 1.

    tests/docs_links.py [ROOT]      (default: the repository of this script)
"""
import glob
import os
import re
import sys

INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def files(root):
    pats = ["README.md", "docs/*.md", "fio/README.md", "bench/results/*/*.md"]
    out = []
    for p in pats:
        out += sorted(glob.glob(os.path.join(root, p)))
    return out


def links(path):
    """(line number, target) of every link outside code."""
    fence = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            s = line.strip()
            m = re.match(r"^(`{3,}|~{3,})", s)
            if m:
                if fence is None:
                    fence = m.group(1)[0] * len(m.group(1))
                elif s.startswith(fence):
                    fence = None
                continue
            if fence is not None or line.startswith("    ") or line.startswith("\t"):
                continue
            text = re.sub(r"`+[^`]*`+", "", line)  # code spans
            for m in INLINE.finditer(text):
                yield n, m.group(1)
            m = REFDEF.match(text)
            if m:
                yield n, m.group(1)


def main():
    root = os.path.realpath(sys.argv[1] if len(sys.argv) > 1 else
                            os.path.join(os.path.dirname(__file__), ".."))
    checked = broken = 0
    for path in files(root):
        rel = os.path.relpath(path, root)
        for n, target in links(path):
            if URL.match(target) or target.startswith("#"):
                continue
            checked += 1
            t = target.split("#", 1)[0].split("?", 1)[0]
            why = None
            if t.startswith("/"):
                why = "an absolute path"
            else:
                dest = os.path.realpath(os.path.join(os.path.dirname(path), t))
                if dest != root and not dest.startswith(root + os.sep):
                    why = "outside the repository"
                elif not os.path.exists(dest):
                    why = "no such file"
            if why:
                print(f"{rel}:{n}: {target}: {why}")
                broken += 1
    if broken:
        print(f"docs_links: {broken} of {checked} relative links broken")
        return 1
    if not checked:
        print("docs_links: no relative links found (wrong ROOT?)")
        return 1
    print(f"docs_links: {checked} relative links resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
