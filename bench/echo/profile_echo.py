#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where the echo servers' instructions per request go, and where they
differ: the profile run of scripts/bench-echo-insn --profile (the tcg_insn
plugin's instructions by translation block on vCPU 1, the server's, over
each run's measuring window) by kernel function, user space as one line.

  profile_echo.py DIR [TOP]
reads DIR/profile.txt, DIR/kallsyms.txt, DIR/runs.txt, DIR/insn-counts.txt
and prints markdown: for each connection count, the functions whose
instructions per request differ most between a C++ server and the C
server (all runs of a server summed, then divided by their requests), and
the file-lookup functions that direct descriptors and a registered ring fd
are meant to save, summed."""
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tcg_counts import parse_runs, profile_by_symbol  # noqa: E402

SERVERS = [("c", "C"), ("cxx", "C++"), ("cxx_plain", "C++ plain"),
           ("cxx_stream", "C++ stream")]
# A file's lookup and reference by descriptor: what a direct descriptor
# (io_file_get_fixed) and a registered ring fd (io_uring_enter) skip.
# Whole names (GCC's .isra/.constprop clones included); not __fput, the
# last reference's release at close.
FILE_LOOKUP = re.compile(r"^(fget|__fget_light|__fget_files|__fget|__fdget|fput|fput_many"
                         r"|io_file_get_normal|io_file_get_fixed)(\.\w+)*$")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    d = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) == 3 else 20
    runs = parse_runs(os.path.join(d, "runs.txt"))
    reqs = defaultdict(int)
    for r in runs:
        reqs[(int(r["conns"]), r["mode"])] += int(r["requests"])
    if not all(reqs.values()):
        sys.exit("a run completed no request")
    prof = profile_by_symbol(d, lambda r: (int(r["conns"]), r["mode"]))
    servers = [(m, name) for m, name in SERVERS if any(k[1] == m for k in prof)]
    for conns in {k[0] for k in prof}:
        if (conns, "c") not in prof or len([k for k in prof if k[0] == conns]) < 2:
            sys.exit(f"{conns} connections: the profile needs the C server and another "
                     "to compare")
    n_rounds = max(int(r["run"]) for r in runs)
    print("# Echo servers by kernel function: instructions per request on vCPU 1\n")
    print(f"The server's vCPU over each run's measuring window, {n_rounds} rounds "
          "summed, divided by the requests of those windows. *user space* is "
          "the server's own code and its libraries; the rest is the kernel by "
          "function (its system calls, and the softirq work of the packets it "
          "sends). Differences are a C++ server's count less the C server's.\n")
    for conns in sorted({k[0] for k in prof}):
        per = {m: {s: n / reqs[(conns, m)] for s, n in prof[(conns, m)].items()}
               for m, _ in servers if (conns, m) in prof}
        print(f"## {conns} connection{'s' if conns > 1 else ''}\n")
        print("| | " + " | ".join(name for m, name in servers if m in per) + " |")
        print("|---|" + "---:|" * len(per))
        rows = [("total", lambda p: sum(p.values())),
                ("user space", lambda p: p.get("[user space]", 0.0)),
                ("kernel", lambda p: sum(v for s, v in p.items() if s != "[user space]")),
                ("file lookup (" + ", ".join(sorted({s for m in per for s in per[m]
                                                    if FILE_LOOKUP.match(s)})) + ")",
                 lambda p: sum(v for s, v in p.items() if FILE_LOOKUP.match(s)))]
        for label, f in rows:
            print(f"| {label} | " + " | ".join(f"{f(per[m]):.0f}" for m, _ in servers
                                                if m in per) + " |")
        print()
        others = [(m, name) for m, name in servers if m != "c" and m in per]
        syms = set().union(*(per[m].keys() for m in per))
        diff = lambda s: max(abs(per[m].get(s, 0.0) - per["c"].get(s, 0.0)) for m, _ in others)
        print(f"Largest differences ({top}):\n")
        print("| function | C | " + " | ".join(f"{name} - C" for _, name in others) + " |")
        print("|---|---:|" + "---:|" * len(others))
        for s in sorted(syms, key=lambda s: -diff(s))[:top]:
            print(f"| {s} | {per['c'].get(s, 0.0):.1f} | " +
                  " | ".join(f"{per[m].get(s, 0.0) - per['c'].get(s, 0.0):+.1f}"
                             for m, _ in others) + " |")
        print()


if __name__ == "__main__":
    main()
