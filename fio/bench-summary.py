#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarize a scripts/bench-fio run: one Markdown table on stdout and
DIR/report.png.

   bench-summary.py DIR

DIR holds perf.jsonl (wall clock) and/or insn.jsonl + insn-counts.txt
(guest instructions from the tcg_insn plugin), and env.txt.
"""
import json
import os
import statistics
import sys

BS = {"1k": 1024, "4k": 4096, "16k": 16384, "60k": 61440, "64k": 65536}


def load(path):
    header, recs = {}, []
    if not os.path.exists(path):
        return header, recs
    for line in open(path):
        r = json.loads(line)
        if r.get("header"):
            header = r
        else:
            recs.append(r)
    return header, recs


def label(r):
    if r["net"] == "dummy":
        return r["tx_mode"]
    return "%s <- %s" % (r["rx_mode"], r["tx_mode"])


def moved(r):
    """Bytes the run moved: fio rounds size up to a whole block."""
    bs = BS.get(r["bs"], 1)
    return (r["bytes"] + bs - 1) // bs * bs


def failed(r):
    for k in ("rx", "tx"):
        s = r.get(k)
        if s is None:
            continue
        if s.get("rc") or s.get("fail") or s.get("error") or s.get("io_bytes") != moved(r):
            return True
    return False


def cpu_ns_per_byte(side, nbytes):
    cpu_s = (side["usr_cpu"] + side["sys_cpu"]) / 100.0 * side["runtime_ms"] / 1000.0
    return cpu_s * 1e9 / nbytes


def copied_pct(side):
    st = side["stats"]
    moved = st["bytes_copied"] + st["bytes_zc"]
    return 100.0 * st["bytes_copied"] / moved if moved else 0.0


def med(v):
    return statistics.median(v) if v else None


def fmt(v, f="%.2f"):
    return "-" if v is None else f % v


def group(recs):
    g = {}
    for r in recs:
        key = (r["net"], label(r), r["bs"], r["iodepth"])
        g.setdefault(key, []).append(r)
    return g


def order(key):
    net, lab, bs, qd = key
    return (net != "veth", BS.get(bs, 0), qd, lab)


def perf_table(recs):
    out = []
    out.append("| net | receiver <- sender | bs | iodepth | MiB/s | CPU ns/B rx | CPU ns/B tx "
               "| CQEs/op rx | CQEs/op tx | copied rx | copied tx | runs ok |")
    out.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = {}
    for key in sorted(group(recs), key=order):
        runs = group(recs)[key]
        good = [r for r in runs if not failed(r)]
        net = key[0]
        col = {"bw": [], "cpu_rx": [], "cpu_tx": [], "cqe_rx": [], "cqe_tx": [],
               "cp_rx": [], "cp_tx": []}
        for r in good:
            # the slower clock of the two ends: the receiver's starts at
            # accept, the sender's may end with data still in flight
            ms = max(r[k]["runtime_ms"] for k in ("rx", "tx") if k in r)
            col["bw"].append(moved(r) / 1048576.0 / (max(ms, 1) / 1000.0))
            for k in ("rx", "tx"):
                if k in r:
                    col["cpu_" + k].append(cpu_ns_per_byte(r[k], moved(r)))
                    col["cqe_" + k].append(r[k]["stats"]["cqes_per_io_u"])
                    col["cp_" + k].append(copied_pct(r[k]))
        m = {k: med(v) for k, v in col.items()}
        rows[key] = m
        out.append("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
            "veth TCP" if net == "veth" else "dummy UDP", key[1], key[2], key[3],
            fmt(m["bw"], "%.1f"), fmt(m["cpu_rx"], "%.1f"), fmt(m["cpu_tx"], "%.1f"),
            fmt(m["cqe_rx"]), fmt(m["cqe_tx"]), fmt(m["cp_rx"], "%.0f%%"),
            fmt(m["cp_tx"], "%.0f%%"), len(good), len(runs)))
    return out, rows


# Baselines for the instruction ratios: the plain mode on the same network.
BASE = {("veth", "recv_zc <- send"): "recv <- send",
        ("veth", "recv <- send_zc"): "recv <- send",
        ("veth", "recv <- send_zc_slots"): "recv <- send",
        ("dummy", "send_zc"): "send",
        ("dummy", "send_zc_slots"): "send"}


def insn_results(recs, counts_path):
    # the plugin's markers, in order: begin [start stop] end, one block a run
    blocks, cur = [], None
    for line in open(counts_path):
        f = line.split()
        if f[0] != "mark":
            continue
        kind, total = f[2], int(f[3])
        if kind == "begin":
            cur = {"begin": total}
            blocks.append(cur)
        elif cur is not None:
            cur.setdefault(kind, total)
    per, bad = {}, 0
    for r in recs:
        b = blocks[r["mark"]] if 0 <= r["mark"] < len(blocks) else {}
        if failed(r) or not all(k in b for k in ("begin", "start", "stop", "end")):
            bad += 1
            continue
        key = (r["net"], label(r), r["bs"], r["iodepth"])
        per.setdefault(key, {})[r["run"]] = {
            "per_byte": (b["stop"] - b["start"]) / float(moved(r)),
            "whole": (b["end"] - b["begin"]) / 1e6,
            "outside": (b["end"] - b["begin"] - (b["stop"] - b["start"])) / 1e6}
    return per, bad


def insn_table(per):
    out = []
    out.append("| net | receiver <- sender | bs | iodepth | insn/B min | insn/B median "
               "| outside Minsn | vs | ratio min | ratio median | runs |")
    out.append("|---|---|---|---|---:|---:|---:|---|---:|---:|---:|")
    summary = {}
    for key in sorted(per, key=order):
        net, lab = key[0], key[1]
        v = [x["per_byte"] for x in per[key].values()]
        outside = [x["outside"] for x in per[key].values()]
        base = BASE.get((net, lab))
        ratios = []
        if base:
            bkey = (net, base, key[2], key[3])
            for run, x in per[key].items():
                b = per.get(bkey, {}).get(run)
                if b:
                    ratios.append(x["per_byte"] / b["per_byte"])
        summary[key] = (min(v), med(v), ratios)
        out.append("| %s | %s | %s | %d | %.2f | %.2f | %.0f | %s | %s | %s | %d |" % (
            "veth TCP" if net == "veth" else "dummy UDP", lab, key[2], key[3], min(v), med(v),
            med(outside), base or "-", fmt(min(ratios) if ratios else None, "%.3f"),
            fmt(med(ratios), "%.3f"), len(v)))
    return out, summary


def plot(path, rows, isum):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(16, 4.8))
    for net, a, title in (("veth", ax[0], "TCP over veth (iodepth 8)"),
                          ("dummy", ax[1], "UDP to dummy (iodepth 8)")):
        labs = sorted({k[1] for k in rows if k[0] == net})
        for lab in labs:
            pts = sorted((BS[k[2]], m["bw"]) for k, m in rows.items()
                         if k[0] == net and k[1] == lab and k[3] == 8 and m["bw"])
            if pts:
                a.plot([p[0] / 1024 for p in pts], [p[1] for p in pts], marker="o", label=lab)
        a.set_xscale("log", base=2)
        a.set_xlabel("block size (KiB)")
        a.set_ylabel("MiB/s (median)")
        a.set_title(title)
        a.grid(True, alpha=0.3)
        if labs:
            a.legend(fontsize=8)
    keys = sorted(isum, key=order)
    if keys:
        names = [("%s\n%s" % ("veth" if k[0] == "veth" else "dummy UDP", k[1])).replace(" <- ", "<-")
                 for k in keys]
        medians = [isum[k][1] for k in keys]
        mins = [isum[k][0] for k in keys]
        x = range(len(keys))
        ax[2].bar(x, medians, color="tab:blue", label="median")
        ax[2].scatter(x, mins, color="black", zorder=3, marker="_", s=200, label="min")
        ax[2].set_xticks(list(x))
        ax[2].set_xticklabels(names, fontsize=7, rotation=30, ha="right")
        ax[2].set_ylabel("guest instructions per byte (both ends)")
        ax[2].set_title("TCG plugin count, bs 16k, iodepth 8")
        ax[2].grid(True, axis="y", alpha=0.3)
        ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    d = sys.argv[1]
    env = {}
    if os.path.exists(os.path.join(d, "env.txt")):
        for line in open(os.path.join(d, "env.txt")):
            k, _, v = line.strip().partition("=")
            env[k] = v
    ph, perf = load(os.path.join(d, "perf.jsonl"))
    ih, insn = load(os.path.join(d, "insn.jsonl"))
    h = ph or ih
    print("# fio zcuring_net modes in the VM")
    print()
    print("Kernel %s (fast), %s vCPUs, %s under **TCG** (%s host CPUs), %s, %s; date %s, commit %s."
          % (h.get("kernel", "?"), h.get("cpus", "?"), env.get("qemu", "QEMU"),
             env.get("host_cpus", "?"), h.get("fio", "fio"), "zcuring_net engine",
             env.get("date", "?"), env.get("commit", "?")))
    if h.get("cpu"):
        print()
        print("Guest CPU model: %s; string-copy flags: %s." % (h["cpu"], h.get("copy_flags", "").strip() or "none"))
    print()
    rows, isum = {}, {}
    if perf:
        t, rows = perf_table(perf)
        print("## Wall clock (median of %s runs)" % ph.get("runs", "?"))
        print()
        print("\n".join(t))
        print()
    if insn:
        per, bad = insn_results(insn, os.path.join(d, "insn-counts.txt"))
        t, isum = insn_table(per)
        print("## Guest instructions per byte (tcg_insn plugin, %s runs)" % ih.get("runs", "?"))
        print()
        print("\n".join(t))
        print()
        if bad:
            print("%d measured run(s) failed or had no markers and are left out." % bad)
            print()
    print("Columns: MiB/s: bytes over the longer of the two jobs' fio runtimes. "
          "CPU ns/B: fio's user + system CPU of that job per byte moved. CQEs/op: CQEs "
          "per fio io_u. copied: share of the bytes the engine counts as copied by the "
          "kernel to or from the application's buffers (send_zc: notifications flagged "
          "IORING_NOTIF_USAGE_ZC_COPIED; device-less recv_zc: every byte, copied by the "
          "kernel into the registered pool). insn/B: guest "
          "instructions on all vCPUs (both ends, kernel and user, and whatever else "
          "ran) during the measured job's data phase (its connection's start to its "
          "close), per byte; outside: the rest of the run (fio's start and exit); "
          "ratio: against the plain mode on the same network in the same run.")
    plot(os.path.join(d, "report.png"), rows, isum)


if __name__ == "__main__":
    main()
