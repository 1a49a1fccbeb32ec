#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize scripts/bench-recv-dev: DIR/runs.txt (one recv_bench line a
run) and DIR/insn-counts.txt (the tcg_insn plugin's markers) into a
markdown report on stdout and DIR/report.png.

Every run is bracketed by begin/end markers and its data phase by
start/stop; the i-th complete begin..end group belongs to the i-th line of
runs.txt. The receiver's cost is vCPU 1's count between start and stop
(the receiver and its NIC's interrupts run there, the sender on vCPU 0)."""
import os
import statistics
import sys
from collections import defaultdict

from tcg_counts import read_env, runs_with_marks

MODES = [("recv", "recv()"), ("zc", "RECV_ZC device-less"),
         ("zcdev", "RECV_ZC device mode")]
RX_VCPU = 1


def main():
    d = sys.argv[1]
    pairs = runs_with_marks(os.path.join(d, "runs.txt"),
                            os.path.join(d, "insn-counts.txt"))
    env = read_env(os.path.join(d, "env.txt"))
    res = defaultdict(list)  # (size, mode) -> [dict]
    for kv, (start, stop) in pairs:
        b = int(kv["bytes"])
        # counts: TOTAL, vCPU0, vCPU1, ...
        res[(int(kv["size"]), kv["mode"])].append({
            "rx": (stop[1 + RX_VCPU] - start[1 + RX_VCPU]) / b,
            "all": (stop[0] - start[0]) / b,
            "mibs": b / float(kv["wall_s"]) / 2**20,
            "zc": int(kv.get("zc_bytes", 0)),
            "cp": int(kv.get("copied_bytes", 0)),
            "bytes": b,
            "cqes": int(kv.get("cqes", 0)),
        })
    cals = {m: [k for k in res if k[1] == m] for m in ("movsb", "memcpy")}
    if any(len(v) != 1 for v in cals.values()):
        sys.exit(f"expected one movsb and one memcpy calibration, found {cals}")
    cal, glibc = cals["movsb"][0], cals["memcpy"][0]
    sizes = sorted({s for s, m in res if m not in cals})
    n = min(len(v) for v in res.values())
    med = lambda k, key: statistics.median(r[key] for r in res[k])
    lo = lambda k, key: min(r[key] for r in res[k])

    print("# Device-mode RECV_ZC on e1000e: guest instructions per received byte\n")
    print(f"One TCP stream over two emulated e1000e NICs on a QEMU hub (MTU 9000, "
          f"TSO off: see vm/e1000e-pair.sh), sender in namespace zc-peer. "
          f"{env.get('kernel', '')}, 2 vCPUs, {env.get('qemu', '')} under TCG "
          f"({env.get('host_cpus', '?')} host CPUs); {env.get('date', '')}, "
          f"commit {env.get('commit', '')}.\n")
    print(f"Command: `{env.get('command', 'scripts/bench-recv-dev')}`; "
          f"{n} rounds, modes interleaved in each.\n")
    print("The receiver and its NIC's interrupts run on vCPU 1, the sender and "
          "its NIC's on vCPU 0: *rx insn/B* is vCPU 1's count (kernel and user: "
          "NAPI, TCP, io_uring, the application, its byte checks) from the "
          "stream's first byte to its end, per byte; *both* counts both vCPUs. "
          f"*rep movsb* is the calibration of a copy: the receiver's vCPU copying as "
          f"many bytes in {cal[0] // 1024} KiB pieces with `rep movsb`, no network: "
          "the instruction the kernel's copy to user space uses on this CPU (ERMS: "
          "`copy_user_enhanced_fast_string`, which the profile of recv() shows at "
          "1.00 insn/B) on a packet's page frags of 4 KiB at most. TCG counts each "
          "iteration of a `rep` as an instruction. glibc's memcpy() of the same "
          "pieces (SSE loops, 16 bytes an instruction) is shown for comparison; "
          "it is not what the kernel runs. *not copied*: "
          "the ring's fdinfo `bytes_zc` over all bytes.\n")
    print("| read size | mode | rx insn/B min | rx insn/B median | both insn/B median "
          "| vs recv() | MiB/s median | not copied | CQEs a run |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    verdicts = []
    for k, name in ((cal, "rep movsb (calibration)"), (glibc, "glibc memcpy() (comparison)")):
        print(f"| {k[0] // 1024} KiB pieces | {name} | {lo(k, 'rx'):.3f} "
              f"| {med(k, 'rx'):.3f} | {med(k, 'all'):.3f} | - | - | - | - |")
    for size in sizes:
        base = (size, "recv")
        for mode, name in MODES:
            k = (size, mode)
            if k not in res:
                continue
            vs = f"{med(k, 'rx') / med(base, 'rx'):.2f}x" if base in res and mode != "memcpy" else "-"
            nc = "-"
            if mode in ("zc", "zcdev"):
                nc = f"{100 * sum(r['zc'] for r in res[k]) / sum(r['bytes'] for r in res[k]):.1f}%"
            elif mode == "recv":
                nc = "0%"
            mibs = "-" if mode == "memcpy" else f"{med(k, 'mibs'):.1f}"
            cq = f"{statistics.median(r['cqes'] for r in res[k]):.0f}" if mode in ("zc", "zcdev") else "-"
            print(f"| {size // 1024} KiB | {name} | {lo(k, 'rx'):.3f} | {med(k, 'rx'):.3f} "
                  f"| {med(k, 'all'):.3f} | {vs} | {mibs} | {nc} | {cq} |")
        need = [(size, m) for m in ("recv", "zc", "zcdev")]
        if all(k in res for k in need):
            c = med(cal, "rx")
            r, z, dv = (med((size, m), "rx") for m in ("recv", "zc", "zcdev"))
            saved = (r - dv) / c
            floor = r - 0.8 * c
            line = (f"{size // 1024} KiB reads: device mode {dv:.3f} insn/B against recv() "
                    f"{r:.3f} and device-less {z:.3f}; a copy costs {c:.3f} insn/B, and "
                    f"device mode saves {saved:.2f} of it (floor: at most recv() - 0.8 x copy "
                    f"= {floor:.3f}: {'met' if dv <= floor else 'NOT met'}; below device-less: "
                    f"{'yes' if dv < z else 'NO'}); {dv / r:.2f}x recv() (goal 0.3x)")
            verdicts.append(line)
    print()
    for v in verdicts:
        print("- " + v)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [name for _, name in MODES]
    keys = [m for m, _ in MODES]
    width = 0.8 / max(1, len(sizes))
    for i, size in enumerate(sizes):
        xs = [j + i * width for j in range(len(keys))]
        meds = [med((size, m), "rx") if (size, m) in res else 0 for m in keys]
        mins = [lo((size, m), "rx") if (size, m) in res else 0 for m in keys]
        ax.bar(xs, meds, width, label=f"{size // 1024} KiB reads (median)")
        ax.plot(xs, mins, "k_", markersize=12)
    ax.axhline(med(cal, "rx"), color="grey", linestyle="--", linewidth=1,
               label="rep movsb of the same bytes (a copy)")
    ax.set_xticks([j + width * (len(sizes) - 1) / 2 for j in range(len(keys))])
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("receiver guest instructions per byte")
    ax.set_title("TCP receive over e1000e, receiver vCPU (black: min)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "report.png"), dpi=100)


if __name__ == "__main__":
    main()
