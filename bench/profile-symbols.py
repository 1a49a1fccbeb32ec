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
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcg_counts import parse_runs, profile_by_symbol  # noqa: E402


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
    nbytes = defaultdict(int)
    for r in parse_runs(os.path.join(d, "runs.txt")):
        nbytes[(r.get("proto", ""), int(r["size"]), r["mode"])] += int(r[per])
    prof = profile_by_symbol(
        d, lambda r: (r.get("proto", ""), int(r["size"]), r["mode"]))
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
