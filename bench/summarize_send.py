#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize scripts/bench-send: DIR/runs.txt (one send_bench line a run)
and DIR/insn-counts.txt (the tcg_insn plugin's markers) into a markdown
report on stdout and DIR/report.png.

The sender and its NIC's interrupts run on vCPU 0: a run's sending cost
is vCPU 0's count between its start and stop markers (from the first
send until the kernel holds none of the data), divided by its sends."""
import os
import statistics
import sys
from collections import defaultdict

from tcg_counts import read_env, runs_with_marks

TX_VCPU = 0
MODES = [("send", "send()"), ("zc", "SEND_ZC, notification per send"),
         ("slot8", "slots, flag every 8"), ("slot32", "slots, flag every 32"),
         ("slotop32", "slots, flush SQE every 32"),
         ("zc-fixed", "SEND_ZC per send, registered buffers"),
         ("slot32-fixed", "slots every 32, registered buffers")]
PATHS = [("tcp-nic", "TCP over e1000e, TSO off (GSO in the sender's kernel)"),
         ("tcp-tso", "TCP over e1000e, TSO on at the sender's NIC"),
         ("udp-nic", "UDP over e1000e"),
         ("udp-dummy", "UDP to a dummy device")]
FLOOR = [("tcp-nic", 4096, "slot32", "zc", 0.5),
         ("tcp-nic", 4096, "slot32-fixed", "zc-fixed", 0.5),
         ("tcp-tso", 4096, "slot32", "zc", 0.5),
         ("tcp-tso", 4096, "slot32-fixed", "zc-fixed", 0.5)]


def main():
    d = sys.argv[1]
    pairs = runs_with_marks(os.path.join(d, "runs.txt"),
                            os.path.join(d, "insn-counts.txt"))
    env = read_env(os.path.join(d, "env.txt"))
    res = defaultdict(list)  # (path, size, mode) -> [dict]
    for kv, (start, stop) in pairs:
        sends = int(kv["sends"])
        res[(kv["proto"], int(kv["size"]), kv["mode"])].append({
            "tx": (stop[1 + TX_VCPU] - start[1 + TX_VCPU]) / sends,
            "all": (stop[0] - start[0]) / sends,
            "rps": sends / float(kv["wall_s"]),
            "cqes": int(kv["cqes"]) / sends,
            "copied": int(kv["copied"]) / sends,
            "sends": sends,
        })
    n = min(len(v) for v in res.values())
    med = lambda k, key: statistics.median(r[key] for r in res[k])
    lo = lambda k, key: min(r[key] for r in res[k])
    modes = [m for m, _ in MODES]

    print("# SEND_ZC notification slots: guest instructions per send\n")
    print(f"{env.get('kernel', '')}, 2 vCPUs, {env.get('qemu', '')} under TCG "
          f"({env.get('host_cpus', '?')} host CPUs); {env.get('date', '')}, "
          f"commit {env.get('commit', '')}. Command: "
          f"`{env.get('command', 'scripts/bench-send')}`; {n} rounds, modes "
          "interleaved in each; min and median.\n")
    print("The sender and its NIC's interrupts run on vCPU 0, the receiver and "
          "its NIC's on vCPU 1. *tx insn/send* is vCPU 0's count, kernel and user, "
          "from the first send until the kernel holds none of the data (every "
          "notification came and the socket's SIOCOUTQ is 0: for TCP, all of it "
          "was acknowledged), per send: the sends, their transmission, the "
          "acknowledgements and the notifications. *both* counts both vCPUs "
          "(the receiver's too; the dummy device has none). A run sends "
          "min(4000, 32 MiB / size) requests; \"64 KiB\" UDP datagrams are 65000 "
          "bytes. All io_uring modes keep 32 sends in flight, use 8 MiB of "
          "send buffers (a buffer is reused only after the notification that "
          "covers it) and ask for the usage report. *req/s* is wall time under "
          "TCG, which means little in absolute terms (the emulated e1000e link "
          "caps it); *copied*: sends whose notification said the kernel copied.\n")
    for path, pname in PATHS:
        sizes = sorted({s for p, s, _ in res if p == path})
        if not sizes:
            continue
        print(f"## {pname} (`{path}`)\n")
        print("| size | mode | tx insn/send min | tx insn/send median | vs SEND_ZC "
              "| both insn/send median | req/s median | CQEs/send | copied |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            base = (path, size, "zc")
            for mode, name in MODES:
                k = (path, size, mode)
                if k not in res:
                    continue
                vs = f"{med(k, 'tx') / med(base, 'tx'):.2f}x" if base in res else "-"
                print(f"| {size // 1024 if size % 1024 == 0 else size} "
                      f"{'KiB' if size % 1024 == 0 else 'B'} | {name} "
                      f"| {lo(k, 'tx'):.0f} | {med(k, 'tx'):.0f} | {vs} "
                      f"| {med(k, 'all'):.0f} | {med(k, 'rps'):.0f} "
                      f"| {med(k, 'cqes'):.2f} | {100 * med(k, 'copied'):.0f}% |")
        print()

    for path, size, mode, base, limit in FLOOR:
        k, b = (path, size, mode), (path, size, base)
        if k not in res or b not in res:
            continue
        r = med(k, "tx") / med(b, "tx")
        print(f"- Floor: {path} {size // 1024} KiB, {mode} costs {med(k, 'tx'):.0f} "
              f"against {base}'s {med(b, 'tx'):.0f} guest instructions a send on the "
              f"sender's vCPU (medians): {r:.2f}x (floor at most {limit}x: "
              f"{'met' if r <= limit else 'NOT met'}); by min, "
              f"{lo(k, 'tx') / lo(b, 'tx'):.2f}x.")
    k, o = ("tcp-nic", 4096, "slot32"), ("tcp-nic", 4096, "slotop32")
    if k in res and o in res:
        print(f"- The flush SQE every 32 sends instead of the flag: "
              f"{med(o, 'tx'):.0f} insn/send, {med(o, 'tx') / med(k, 'tx'):.2f}x "
              f"the flag's.")
    for path, _ in PATHS:
        for size in sorted({s for p, s, _ in res if p == path}):
            k, b = (path, size, "slot32"), (path, size, "zc")
            if (k in res and b in res and (path, size, "send") in res
                    and (path, size) not in [f[:2] for f in FLOOR]):
                print(f"- {path} {size // 1024 if size % 1024 == 0 else size}"
                      f"{' KiB' if size % 1024 == 0 else ' B'}: slot32 "
                      f"{med(k, 'tx') / med(b, 'tx'):.2f}x SEND_ZC's insn/send, "
                      f"send() {med((path, size, 'send'), 'tx') / med(b, 'tx'):.2f}x.")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    present = [(p, name) for p, name in PATHS if any(k[0] == p for k in res)]
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 4),
                             squeeze=False)
    for ax, (path, pname) in zip(axes[0], present):
        sizes = sorted({s for p, s, _ in res if p == path})
        width = 0.8 / len(modes)
        for i, mode in enumerate(modes):
            xs = [j + i * width for j in range(len(sizes))]
            meds = [med((path, s, mode), "tx") if (path, s, mode) in res else 0
                    for s in sizes]
            mins = [lo((path, s, mode), "tx") if (path, s, mode) in res else 0
                    for s in sizes]
            ax.bar(xs, meds, width, label=dict(MODES)[mode])
            ax.plot(xs, mins, "k_", markersize=6)
        ax.set_xticks([j + width * (len(modes) - 1) / 2 for j in range(len(sizes))])
        ax.set_xticklabels([f"{s // 1024} KiB" if s % 1024 == 0 else f"{s} B"
                            for s in sizes])
        ax.set_yscale("log")
        ax.set_title(pname, fontsize=10)
        ax.set_ylabel("sender guest instructions per send")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Send cost on the sender's vCPU (median; black: min)", fontsize=11)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "report.png"), dpi=100)


if __name__ == "__main__":
    main()
