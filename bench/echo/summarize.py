#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize scripts/bench-echo's raw lines (build/bench/echo-raw.txt):
requests/s min and median of the C and C++ echo servers per connection
count, the C++/C ratios, and the C++ server's heap allocations per request
in the measuring windows. Goals: C++ >= 0.95x C (medians), 0 allocations.

Raw line: impl=c|cxx|cxx_plain run=R conns=N msg=M requests=Q seconds=T rps=X
          [allocations_in_window=A]"""
import statistics
import sys
from collections import defaultdict

GOAL_RATIO = 0.95


def parse(path):
    runs = defaultdict(list)  # (conns, impl) -> [dict]
    msg = set()
    for line in open(path):
        if line.startswith("#"):
            continue
        kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "impl" not in kv or "rps" not in kv:
            continue
        msg.add(kv["msg"])
        runs[(int(kv["conns"]), kv["impl"])].append(kv)
    return runs, msg


def fmt_ratio(a, b):
    return f"{a / b:.3f}" if a is not None and b else "-"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py echo-raw.txt")
    runs, msg = parse(sys.argv[1])
    if not runs:
        sys.exit(f"summarize.py: no results in {sys.argv[1]}")
    conns = sorted({c for c, _ in runs})
    nruns = min(len(v) for v in runs.values())
    size = "/".join(sorted(msg))
    print(f"Echo, loopback TCP, {size}-byte ping-pong messages, {nruns} runs each "
          "(requests/s; C++ / C ratios; C++ heap allocations in the measuring windows):\n")
    print("| conns | C rps min | C rps median | C++ rps min | C++ rps median "
          "| C++/C medians | C++/C mins | C++ allocs/request | C++ allocs (all windows) |")
    print("|---|---|---|---|---|---|---|---|---|")
    verdict = []
    for n in conns:
        row = [str(n)]
        st = {}
        for impl in ("c", "cxx"):
            rps = [float(r["rps"]) for r in runs.get((n, impl), [])]
            if rps:
                st[impl] = (min(rps), statistics.median(rps))
                row += [f"{st[impl][0]:.0f}", f"{st[impl][1]:.0f}"]
            else:
                st[impl] = (None, None)
                row += ["-", "-"]
        row.append(fmt_ratio(st["cxx"][1], st["c"][1]))
        row.append(fmt_ratio(st["cxx"][0], st["c"][0]))
        cxx = runs.get((n, "cxx"), [])
        have = [r for r in cxx if "allocations_in_window" in r]
        if cxx and len(have) == len(cxx):
            allocs = sum(int(r["allocations_in_window"]) for r in have)
            reqs = sum(int(r["requests"]) for r in have)
            row += [f"{allocs / reqs:.4g}" if reqs else "-", str(allocs)]
        else:
            allocs = None
            row += ["n/a", "n/a"]
        print("| " + " | ".join(row) + " |")
        if st["c"][1] and st["cxx"][1]:
            r = st["cxx"][1] / st["c"][1]
            v = f"{n} conns: C++ {r:.3f}x C requests/s (medians; goal >= {GOAL_RATIO}x: " \
                f"{'met' if r >= GOAL_RATIO else 'NOT met'})"
            if allocs is not None:
                v += f", {allocs} allocations in {len(have)} windows " \
                     f"(goal 0: {'met' if allocs == 0 else 'NOT met'})"
            else:
                v += ", allocations not counted (server without zc_alloc_counter?)"
            verdict.append(v)
    plain = [n for n in conns if runs.get((n, "cxx_plain"))]
    if plain:
        print("\nThe C++ server with direct descriptors and a registered ring fd "
              "(cxx, the default) against itself with plain descriptors "
              "(cxx_plain, --files plain):\n")
        print("| conns | C++ plain rps min | C++ plain rps median "
              "| C++ / C++ plain medians | C++ plain / C medians |")
        print("|---|---|---|---|---|")
        for n in plain:
            p = [float(r["rps"]) for r in runs[(n, "cxx_plain")]]
            f = [float(r["rps"]) for r in runs.get((n, "cxx"), [])]
            c = [float(r["rps"]) for r in runs.get((n, "c"), [])]
            pm = statistics.median(p)
            print(f"| {n} | {min(p):.0f} | {pm:.0f} | "
                  f"{fmt_ratio(statistics.median(f) if f else None, pm)} | "
                  f"{fmt_ratio(pm, statistics.median(c) if c else None)} |")
    if verdict:
        print()
        for v in verdict:
            print("- " + v)


if __name__ == "__main__":
    main()
