#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize scripts/bench-echo-insn: DIR/runs.txt (one echo_client line a
run, from bench/guest-echo-bench.sh) and DIR/insn-counts.txt (the tcg_insn
plugin's markers) into a markdown report on stdout and DIR/report.png.

The server runs on vCPU 1, the client on vCPU 0. A run's server cost is
vCPU 1's count between the client's start and stop markers (its measuring
window) divided by the requests completed in it; user space is that count
less the kernel's ("kmark" lines). Goal (issue 15): the C++ server's
(default options) instructions per request no more than the plain-C
server's, judged on the rounds' paired ratios (each round runs every
server once, one after the other, so a pair shares the machine's state):
their median at most 1.00x; 0 heap allocations in the windows. Other C++
servers (--files plain, --recv stream) are paired the same way, for
comparison."""
import os
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tcg_counts import read_env, runs_with_marks  # noqa: E402

SRV_VCPU = 1
IMPLS = [("c", "plain C (liburing)"),
         ("cxx", "C++ (registered ring fd, direct descriptors)"),
         ("cxx_plain", "C++ --files plain"),
         ("cxx_stream", "C++ --recv stream")]


def goal(impl, r):
    """The verdict on a paired median @r: the goal is the default server's;
    --recv stream (a multishot recv, not the C server's structure) is there
    for comparison."""
    if impl != "cxx":
        return "for comparison (no goal)"
    return f"{'met' if r <= 1.0 else 'NOT met'} (goal: at most 1.00x)"


def paired(runs, base, key):
    """Ratios of @runs to @base round by round (rounds both have)."""
    by_round = {r["round"]: r[key] for r in base}
    return [r[key] / by_round[r["round"]] for r in runs if r["round"] in by_round]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize_insn.py DIR")
    d = sys.argv[1]
    runs = os.path.join(d, "runs.txt")
    counts = os.path.join(d, "insn-counts.txt")
    pairs = runs_with_marks(runs, counts)
    kpairs = runs_with_marks(runs, counts, kernel=True)
    env = read_env(os.path.join(d, "env.txt"))
    res = defaultdict(list)  # (conns, impl) -> [dict]
    for (kv, (start, stop)), (_, (kstart, kstop)) in zip(pairs, kpairs):
        q = int(kv["requests"])
        if q <= 0:
            sys.exit(f"a run completed no request: {kv}")
        srv = stop[1 + SRV_VCPU] - start[1 + SRV_VCPU]
        ksrv = kstop[1 + SRV_VCPU] - kstart[1 + SRV_VCPU]
        res[(int(kv["conns"]), kv["mode"])].append({
            "srv": srv / q, "user": (srv - ksrv) / q, "kern": ksrv / q,
            "all": (stop[0] - start[0]) / q, "rps": float(kv["rps"]),
            "allocs": int(kv["allocations_in_window"]) / q
            if "allocations_in_window" in kv else None,
            "files": kv.get("files", "?"), "round": int(kv["run"]),
        })
    conns = sorted({c for c, _ in res})
    impls = [(i, name) for i, name in IMPLS if any(k[1] == i for k in res)]
    n = min(len(v) for v in res.values())
    med = lambda k, key: statistics.median(r[key] for r in res[k])
    lo = lambda k, key: min(r[key] for r in res[k])

    print("# Echo server cost: guest instructions per request\n")
    print(f"{env.get('kernel', '')}, 2 vCPUs, {env.get('qemu', '')} under TCG "
          f"({env.get('host_cpus', '?')} host CPUs); {env.get('date', '')}, "
          f"commit {env.get('commit', '')}. Command: "
          f"`{env.get('command', 'scripts/bench-echo-insn')}`; {n} rounds, the "
          "servers rotated in each; min and median.\n")
    print("1 KiB ping-pong messages over loopback (bench/echo/echo_client, which "
          "checks every byte). The server runs on vCPU 1, the client on vCPU 0. "
          "*server* is vCPU 1's count over the client's measuring window, per "
          "request: the server's user space, its system calls, and the softirq "
          "work of the packets it sends (loopback delivers them on the sending "
          "CPU, so that includes the client socket's receive side: the same for "
          "every server). *user*/*kernel* split it by address. *both* counts "
          "both vCPUs (the client's cost too). *req/s* is TCG wall time, which "
          "means little in absolute terms.\n")
    print("| conns | server | server insn/req min | server insn/req median "
          "| vs C (medians) | vs C (mins) | user median | kernel median "
          "| both vCPUs median | req/s median | allocs/req |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    verdict = []
    for c in conns:
        base = (c, "c")
        for impl, name in impls:
            k = (c, impl)
            if k not in res:
                continue
            vs = vsm = "-"
            if base in res:
                vs = f"{med(k, 'srv') / med(base, 'srv'):.3f}x"
                vsm = f"{lo(k, 'srv') / lo(base, 'srv'):.3f}x"
            al = [r["allocs"] for r in res[k] if r["allocs"] is not None]
            als = f"{max(al):.4f}" if al else "-"
            print(f"| {c} | {name} | {lo(k, 'srv'):.0f} | {med(k, 'srv'):.0f} "
                  f"| {vs} | {vsm} | {med(k, 'user'):.0f} | {med(k, 'kern'):.0f} "
                  f"| {med(k, 'all'):.0f} | {med(k, 'rps'):.0f} | {als} |")
        for impl, what in (("cxx", "C++/C"), ("cxx_stream", "C++ --recv stream/C")):
            k = (c, impl)
            if k not in res or base not in res:
                continue
            pr = paired(res[k], res[base], "srv")
            pu = paired(res[k], res[base], "user")
            r = statistics.median(pr)
            above = sum(x > 1.0 for x in pr)
            al = sum(x["allocs"] or 0 for x in res[k])
            gap = med(k, "user") - med(base, "user")
            verdict.append(
                f"- {c} connection{'s' if c != 1 else ''}: {what} server instructions "
                f"per request, paired by round: median {r:.3f}x (range {min(pr):.3f}x "
                f"to {max(pr):.3f}x; above 1.00x in {above} of {len(pr)} rounds): "
                f"{goal(impl, r)}. User "
                f"space alone {statistics.median(pu):.2f}x ({med(k, 'user'):.0f} "
                f"against {med(base, 'user'):.0f}: {gap:.0f} more, "
                f"{100 * gap / med(base, 'srv'):.1f}% of C's whole request); kernel "
                f"{med(k, 'kern'):.0f} against {med(base, 'kern'):.0f} (medians); "
                f"heap allocations in the windows: {'none' if al == 0 else 'SOME'}.")
    print()
    print("\n".join(verdict))
    for impl, what in (("cxx", "The C++ server (default options)"),
                       ("cxx_stream", "The C++ server with --recv stream")):
        files = [r["files"] for k, v in res.items() if k[1] == impl for r in v]
        if files:
            print(f"- {what} used direct descriptors and a registered ring fd in "
                  f"{files.count('direct')} of {len(files)} runs.")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, axu) = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / len(impls)
    for i, (impl, name) in enumerate(impls):
        xs = [j + i * width for j in range(len(conns))]
        have = [(c, impl) in res for c in conns]
        user = [med((c, impl), "user") if h else 0 for c, h in zip(conns, have)]
        kern = [med((c, impl), "kern") if h else 0 for c, h in zip(conns, have)]
        mins = [lo((c, impl), "srv") if h else 0 for c, h in zip(conns, have)]
        umins = [lo((c, impl), "user") if h else 0 for c, h in zip(conns, have)]
        b = ax.bar(xs, kern, width, label=f"{name}: kernel")
        ax.bar(xs, user, width, bottom=kern, label=f"{name}: user",
               color=b[0].get_facecolor(), alpha=0.45)
        ax.plot(xs, mins, "k_", markersize=8)
        axu.bar(xs, user, width, label=name, color=b[0].get_facecolor())
        axu.plot(xs, umins, "k_", markersize=8)
    for a in (ax, axu):
        a.set_xticks([j + width * (len(impls) - 1) / 2 for j in range(len(conns))])
        a.set_xticklabels([f"{c} conn{'s' if c != 1 else ''}" for c in conns])
    ax.set_ylabel("server vCPU instructions per request")
    ax.set_title("Whole server cost (median; black: min)", fontsize=11)
    ax.legend(fontsize=7)
    axu.set_ylabel("user-space instructions per request")
    axu.set_title("Its user-space part alone (median; black: min)", fontsize=11)
    axu.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "report.png"), dpi=100)


if __name__ == "__main__":
    main()
