#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize recv_bench lines: min and median per mode and read size, and
RECV_ZC's ratios to the best of the other two modes (medians)."""
import statistics
import sys
from collections import defaultdict

MODES = ["recv", "mshot", "zc"]


def parse(path):
    runs = defaultdict(list)
    for line in open(path):
        kv = dict(f.split("=", 1) for f in line.split())
        if "mode" not in kv:
            continue
        b, wall, cpu = int(kv["bytes"]), float(kv["wall_s"]), float(kv["cpu_s"])
        runs[(int(kv["size"]), kv["mode"])].append(
            (b / wall / 2**20, cpu * 1e9 / b))
    return runs


def main():
    runs = parse(sys.argv[1])
    sizes = sorted({s for s, _ in runs})
    n = min(len(v) for v in runs.values())
    print(f"Receive, one loopback TCP stream, {n} runs each "
          "(throughput MiB/s, receiver CPU ns/byte; min and median):\n")
    print("| read size | mode | MiB/s min | MiB/s median | CPU ns/B min | CPU ns/B median |")
    print("|---|---|---|---|---|---|")
    verdict = []
    for size in sizes:
        med = {}
        for mode in MODES:
            v = runs.get((size, mode))
            if not v:
                continue
            tput = [t for t, _ in v]
            cpu = [c for _, c in v]
            med[mode] = (statistics.median(tput), statistics.median(cpu))
            print(f"| {size // 1024} KiB | {mode} | {min(tput):.0f} | {med[mode][0]:.0f} "
                  f"| {min(cpu):.2f} | {med[mode][1]:.2f} |")
        if "zc" in med:
            others = [m for m in ("recv", "mshot") if m in med]
            best_t = max(med[m][0] for m in others)
            best_c = min(med[m][1] for m in others)
            rt, rc = med["zc"][0] / best_t, med["zc"][1] / best_c
            verdict.append(f"{size // 1024} KiB: RECV_ZC throughput {rt:.2f}x the best other "
                           f"(goal >= 0.9x), CPU per byte {rc:.2f}x the best other (goal <= 1.1x)")
    print()
    for v in verdict:
        print("- " + v)


if __name__ == "__main__":
    main()
