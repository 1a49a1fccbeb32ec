#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Plot a kept benchmark summary whose raw lines were not kept.

The receive comparison (bench/summarize_recv.py) and the echo benchmark
(bench/echo/summarize.py) print a markdown table. Where only that table
survives, this reads it back from DIR/report.md and draws DIR/report.png
from exactly those numbers (median as bars, min as black marks).

    plot_summary.py recv DIR     # scripts/bench-recv's table
    plot_summary.py echo DIR     # scripts/bench-echo's table

Needs matplotlib (Debian's python3-matplotlib, as scripts/setup-host
installs it).
"""
import os
import sys


def table(path):
    """The first markdown table of @path: a list of dicts by header."""
    rows, head = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("|"):
                if head:
                    break
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if head is None:
                head = cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append(dict(zip(head, cells)))
    if not rows:
        sys.exit(f"plot_summary.py: no table in {path}")
    return rows


def grouped(ax, groups, series, med, lo, ylabel, title):
    """Bars of med(group, s) per group, one colour per series; min marks."""
    width = 0.8 / len(series)
    for i, (s, label) in enumerate(series):
        xs = [j + i * width for j in range(len(groups))]
        ax.bar(xs, [med(g, s) for g in groups], width, label=label)
        ax.plot(xs, [lo(g, s) for g in groups], "k_", markersize=10)
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(groups))])
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)


def recv(d, rows):
    sizes = list(dict.fromkeys(r["read size"] for r in rows))
    modes = [("recv", "recv()"), ("mshot", "multishot recv, provided buffers"),
             ("zc", "RECV_ZC (device-less)")]
    by = {(r["read size"], r["mode"]): r for r in rows}

    def val(col):
        return lambda g, s: float(by[(g, s)][col]) if (g, s) in by else 0.0

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    grouped(axes[0], sizes, modes, val("CPU ns/B median"), val("CPU ns/B min"),
            "receiver CPU ns per byte (user + system)", "CPU per byte (lower is better)")
    grouped(axes[1], sizes, modes, val("MiB/s median"), val("MiB/s min"),
            "MiB/s", "Throughput (higher is better)")
    for ax in axes:
        ax.set_xticklabels([f"{s} reads" for s in sizes])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3)
    fig.suptitle("Receive, one loopback TCP stream in the VM, 5 runs "
                 "(bars: median; black: min)", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(os.path.join(d, "report.png"), dpi=100)


def echo(d, rows):
    conns = [r["conns"] for r in rows]
    by = {r["conns"]: r for r in rows}
    impls = [("C", "plain C over liburing (bench/echo/echo_server_c.c)"),
             ("C++", "C++ coroutines (cxx/examples/echo_server)")]

    def val(kind):
        return lambda g, s: float(by[g][f"{s} rps {kind}"])

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4),
                             gridspec_kw={"width_ratios": [3, 2]})
    grouped(axes[0], conns, impls, val("median"), val("min"), "requests/s",
            "Requests per second")
    axes[0].set_xticklabels([f"{c} conn{'s' if c != '1' else ''}" for c in conns])
    axes[0].legend(fontsize=8, loc="upper left")
    xs = range(len(conns))
    axes[1].plot(xs, [float(by[c]["C++/C medians"]) for c in conns], "o-",
                 label="C++/C, medians")
    axes[1].plot(xs, [float(by[c]["C++/C mins"]) for c in conns], "k_",
                 markersize=12, label="C++/C, mins")
    axes[1].axhline(0.95, color="grey", linestyle="--", linewidth=1, label="goal 0.95x")
    axes[1].set_xticks(list(xs))
    axes[1].set_xticklabels([f"{c} conn{'s' if c != '1' else ''}" for c in conns])
    axes[1].set_ylim(0.9, 1.05)
    axes[1].set_ylabel("C++ / C")
    axes[1].set_title("Ratio (0 heap allocations per request in C++)", fontsize=10)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Echo, loopback TCP, 1 KiB messages, 5 runs "
                 "(bars: median; black: min)", fontsize=11)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "report.png"), dpi=100)


def main():
    kinds = {"recv": recv, "echo": echo}
    if len(sys.argv) != 3 or sys.argv[1] not in kinds:
        sys.exit("usage: plot_summary.py recv|echo DIR")
    d = sys.argv[2]
    kinds[sys.argv[1]](d, table(os.path.join(d, "report.md")))


if __name__ == "__main__":
    main()
