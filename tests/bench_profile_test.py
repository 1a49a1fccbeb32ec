#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/echo/profile_echo.py (and tcg_counts.profile_by_symbol beneath
it, which bench/profile-symbols.py shares) on a profile made up here, whose
answer is known: sections are paired with runs by their stop markers,
blocks are named by the nearest symbol below them, user space is one line,
and every count is divided by the requests of the runs it sums."""
import os
import subprocess
import sys
import tempfile

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fails = 0


def check(name, cond):
    global fails
    print(("ok - " if cond else "not ok - ") + name)
    fails += not cond


with tempfile.TemporaryDirectory() as d:
    w = lambda name, text: open(os.path.join(d, name), "w").write(text)
    w("kallsyms.txt", "ffffffff81000000 T fget\nffffffff81000100 T io_issue_sqe\n"
      "ffffffff81000200 t tcp_recvmsg\nffffffff81000300 D some_data\n"
      "ffffffff81000400 T __fput\nffffffff81000500 t io_file_get_fixed.isra.0\n")
    # Two rounds of C and C++ at 8 connections; C++ at 1 connection once.
    w("runs.txt", "run=1 mode=c files=plain conns=8 requests=100\n"
      "run=1 mode=cxx files=direct conns=8 requests=300\n"
      "run=2 mode=cxx files=direct conns=8 requests=100\n"
      "run=2 mode=c files=plain conns=8 requests=300\n"
      "run=1 mode=c files=plain conns=1 requests=10\n"
      "run=1 mode=cxx files=direct conns=1 requests=10\n")
    marks = []
    for i in range(6):
        for k, what in enumerate(("begin", "start", "stop", "end")):
            marks.append(f"mark {4 * i + k} {what} 0 0 0")
    w("insn-counts.txt", "\n".join(marks) + "\n")
    prof = []
    # per run: (stop marker, blocks); fget at +0x10 and +0x20 both name fget
    blocks = {
        2: [("ffffffff81000010", 8400), ("ffffffff81000110", 10000), ("401000", 20000)],
        6: [("ffffffff81000110", 45000), ("ffffffff81000210", 3000), ("401000", 120000),
            ("ffffffff81000510", 4000)],
        10: [("ffffffff81000110", 15000), ("ffffffff81000210", 1000), ("401000", 40000),
             ("ffffffff81000410", 8000)],
        14: [("ffffffff81000020", 20000), ("ffffffff81000110", 30000), ("401000", 60000)],
        18: [("ffffffff81000010", 840), ("401000", 3000)],
        22: [("401000", 7000)],
    }
    def profile(order):
        lines = []
        for seq in order:
            lines.append(f"section {seq}")
            lines += [f"{a} {n}" for a, n in blocks.get(seq, [])]
        w("profile.txt", "\n".join(lines) + "\n")

    def report():
        return subprocess.run([sys.executable, os.path.join(top, "bench/echo/profile_echo.py"), d],
                              capture_output=True, text=True)

    # sections are named by stop marker, not by their place in the file
    profile([14, 2, 6, 10, 18, 22])
    r = report()
    out = r.stdout
    check("profile_echo.py runs", r.returncode == 0)
    sec8 = out[out.find("## 8 connections"):]
    sec1 = out[out.find("## 1 connection"):out.find("## 8 connections")]
    # C at 8: fget 28400/400 = 71 (an average of the rounds' ratios would
    # say 75.3), io_issue_sqe 40000/400 = 100, user 80000/400 = 200.
    # C++ at 8: io_issue_sqe 150, tcp_recvmsg 10, io_file_get_fixed 10,
    # __fput 20 (a release, not a lookup), user 400.
    check("totals per request: sums over rounds over their requests",
          "| total | 371 | 590 |" in sec8)
    check("user space apart", "| user space | 200 | 400 |" in sec8)
    check("kernel apart", "| kernel | 171 | 190 |" in sec8)
    check("file lookup summed (fget, a clone of io_file_get_fixed; not __fput)",
          "| file lookup (fget, io_file_get_fixed.isra.0) | 71 | 10 |" in sec8)
    check("differences by function",
          "| fget | 71.0 | -71.0 |" in sec8 and "| io_issue_sqe | 100.0 | +50.0 |" in sec8
          and "| tcp_recvmsg | 0.0 | +10.0 |" in sec8 and "| __fput | 0.0 | +20.0 |" in sec8)
    check("largest difference first",
          sec8.find("[user space]") < sec8.find("| fget |") < sec8.find("| io_issue_sqe |"))
    check("1 connection on its own", "| total | 384 | 700 |" in sec1)
    # a section of no run, a run without its section: refused
    profile([1, 2, 6, 10, 14, 18, 22])
    r = report()
    check("a section that names no run is refused",
          r.returncode != 0 and "section 1 names no run" in r.stderr)
    profile([2, 6, 10, 14, 18])
    r = report()
    check("a run without its section is refused",
          r.returncode != 0 and "no section for stop markers [22]" in r.stderr)
    # a run without its stop marker is refused
    profile(list(blocks))
    w("insn-counts.txt", "\n".join(marks[:-2]) + "\n")
    r = report()
    check("runs without their markers are refused",
          r.returncode != 0 and "6 runs, 5 stop markers" in r.stderr)
sys.exit(1 if fails else 0)
