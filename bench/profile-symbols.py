#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where the profiled vCPU's guest instructions go, by kernel function: the
tcg_insn plugin's profile (profile=, prof_vcpu=: instructions by
translation block between each start and stop marker) mapped to the
guest's /proc/kallsyms, per path, mode and size of a benchmark run
(scripts/bench-recv-dev, scripts/bench-send), all runs of a kind summed.

  profile-symbols.py [--per bytes|sends] DIR [TOP]
reads DIR/profile.txt, DIR/kallsyms.txt, DIR/runs.txt, DIR/insn-counts.txt;
--per: per byte (the default, from each run's bytes=) or per send
(sends=)."""
import bisect
import os
import sys
from collections import defaultdict


def load_syms(path):
    syms = []
    for line in open(path):
        f = line.split()
        if len(f) >= 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def main():
    args = sys.argv[1:]
    per = "bytes"
    if args[:1] == ["--per"]:
        per, args = args[1], args[2:]
    if per not in ("bytes", "sends") or not args:
        sys.exit(__doc__)
    unit = "insn/B" if per == "bytes" else "insn/send"
    d = args[0]
    top = int(args[1]) if len(args) > 1 else 25
    addrs, names = load_syms(os.path.join(d, "kallsyms.txt"))
    runs = [dict(f.split("=", 1) for f in l.split() if "=" in f)
            for l in open(os.path.join(d, "runs.txt")) if "mode=" in l]
    # stop markers' sequence numbers, one a run in order
    stops = [int(l.split()[1]) for l in open(os.path.join(d, "insn-counts.txt"))
             if l.startswith("mark ") and l.split()[2] == "stop"]
    if len(stops) != len(runs):
        sys.exit(f"{len(runs)} runs, {len(stops)} stop markers")
    kind_of = {seq: (r.get("proto", ""), int(r["size"]), r["mode"], int(r[per]))
               for seq, r in zip(stops, runs)}
    prof = defaultdict(lambda: defaultdict(int))  # kind -> sym -> insns
    nbytes = defaultdict(int)
    kind = None
    for line in open(os.path.join(d, "profile.txt")):
        f = line.split()
        if f[0] == "section":
            k = kind_of.get(int(f[1]))
            kind = k[:3] if k else None
            if k:
                nbytes[kind] += k[3]
            continue
        if kind is None:
            continue
        a, n = int(f[0], 16), int(f[1])
        if a < 1 << 47:
            sym = "[user space]"
        else:
            i = bisect.bisect_right(addrs, a) - 1
            sym = names[i] if i >= 0 else "[kernel ?]"
        prof[kind][sym] += n
    what = "reads" if per == "bytes" else "sends"
    for k in sorted(prof):
        tot = sum(prof[k].values())
        path = f"{k[0]}, " if k[0] else ""
        print(f"## {path}{k[2]}, {k[1] // 1024} KiB {what}: {tot / nbytes[k]:.3f} {unit} "
              f"on the profiled vCPU\n")
        print(f"| function | {unit} | share |")
        print("|---|---:|---:|")
        for sym, n in sorted(prof[k].items(), key=lambda x: -x[1])[:top]:
            print(f"| {sym} | {n / nbytes[k]:.4f} | {100 * n / tot:.1f}% |")
        print()


if __name__ == "__main__":
    main()
