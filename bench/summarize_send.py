#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize send_bench lines: requests/s (min and median), CQEs per send and
sends copied, per protocol, size and mode; then the goals of the slots work,
as ratios of medians measured in the same run."""
import statistics
import sys
from collections import defaultdict

MODES = ["send", "zc", "slot8", "slot32"]


def main():
    runs = defaultdict(list)
    for line in open(sys.argv[1]):
        kv = dict(f.split("=", 1) for f in line.split())
        if "mode" not in kv:
            continue
        sends = int(kv["sends"])
        runs[(kv["proto"], int(kv["size"]), kv["mode"])].append(
            (sends / float(kv["wall_s"]), int(kv["cqes"]) / sends,
             int(kv["copied"]) / sends))
    n = min(len(v) for v in runs.values())
    print(f"Sends, {n} runs each (tcp: over veth to a discarding peer; "
          "tcp-nic: over the e1000e pair; udp: to a dummy device):\n")
    print("| proto | size | mode | req/s min | req/s median | CQEs/send | copied |")
    print("|---|---|---|---|---|---|---|")
    med = {}
    for (proto, size, mode) in sorted(runs, key=lambda k: (k[0], k[1], MODES.index(k[2]))):
        v = runs[(proto, size, mode)]
        rps = [r for r, _, _ in v]
        med[(proto, size, mode)] = statistics.median(rps)
        cqes = statistics.median(c for _, c, _ in v)
        copied = statistics.median(c for _, _, c in v)
        print(f"| {proto} | {size} | {mode} | {min(rps):.0f} | {med[(proto, size, mode)]:.0f} "
              f"| {cqes:.2f} | {copied:.0%} |")
    print()
    for proto, size, base, goal in (("tcp", 4096, "zc", 3.0), ("tcp-nic", 4096, "zc", 3.0),
                                    ("udp", 65000, "send", 1.5)):
        if (proto, size, base) not in med:
            continue
        for slot in ("slot8", "slot32"):
            r = med[(proto, size, slot)] / med[(proto, size, base)]
            print(f"- {proto} {size} B: {slot} {r:.2f}x {base} requests/s (goal >= {goal}x)")


if __name__ == "__main__":
    main()
