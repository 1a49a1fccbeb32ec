# SPDX-License-Identifier: GPL-2.0
"""What the benchmark summaries share: the guests' result lines and the
tcg_insn plugin's marker file (bench/tcg-insn/tcg_insn.c)."""
import bisect
import os
from collections import defaultdict


def parse_runs(path):
    """The key=value lines of a benchmark's runs, in order."""
    runs = []
    for line in open(path):
        kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "mode" in kv:
            runs.append(kv)
    return runs


def parse_marks(path, kernel=False):
    """[(start counts, stop counts)] of each complete begin..end group,
    None for a group whose start or stop is missing. Counts are
    [TOTAL, vCPU0, vCPU1, ...]; kernel=True: of kernel instructions alone
    (the "kmark" lines)."""
    groups, cur = [], None
    tag = "kmark" if kernel else "mark"
    for line in open(path):
        f = line.split()
        if not f or f[0] != tag:
            continue
        kind, counts = f[2], [int(x) for x in f[3:]]
        if kind == "begin":
            cur = {}
        elif cur is not None and kind in ("start", "stop"):
            cur[kind] = counts
        elif cur is not None and kind == "end":
            if "start" in cur and "stop" in cur:
                groups.append((cur["start"], cur["stop"]))
            else:
                groups.append(None)
            cur = None
    return groups


def runs_with_marks(runs_path, marks_path, kernel=False):
    """Each run's line with its (start, stop) counts; exits if they do
    not pair up one to one."""
    runs, groups = parse_runs(runs_path), parse_marks(marks_path, kernel)
    if len(runs) != len(groups) or None in groups:
        raise SystemExit(f"{len(runs)} runs but {len(groups)} marker groups "
                         f"({groups.count(None)} incomplete): the data do not match")
    return list(zip(runs, groups))


def load_syms(path):
    """A guest's text symbols (its /proc/kallsyms, t/T/w/W lines): sorted
    addresses and their names."""
    syms = []
    for line in open(path):
        f = line.split()
        if len(f) >= 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def profile_by_symbol(d, kind_of_run):
    """The tcg_insn plugin's profile (DIR/profile.txt: instructions by
    translation block between each start and stop marker) by kernel
    function, user space as one "[user space]", summed over the runs of a
    kind: {kind: {symbol: instructions}}. DIR/runs.txt and
    DIR/insn-counts.txt pair the profile's sections with the runs (a
    section is named by its stop marker); kind_of_run(run) gives a run's
    kind, or None to leave it out. DIR/kallsyms.txt: the guest's symbols."""
    addrs, names = load_syms(os.path.join(d, "kallsyms.txt"))
    runs = parse_runs(os.path.join(d, "runs.txt"))
    stops = [int(l.split()[1]) for l in open(os.path.join(d, "insn-counts.txt"))
             if l.startswith("mark ") and l.split()[2] == "stop"]
    if len(stops) != len(runs):
        raise SystemExit(f"{len(runs)} runs, {len(stops)} stop markers")
    kind_of = {seq: kind_of_run(r) for seq, r in zip(stops, runs)}
    prof = defaultdict(lambda: defaultdict(int))
    kind = None
    seen = set()
    for line in open(os.path.join(d, "profile.txt")):
        f = line.split()
        if f[0] == "section":
            # the plugin writes one at every stop marker, no others
            seq = int(f[1])
            if seq not in kind_of or seq in seen:
                raise SystemExit(f"profile section {seq} names no run's stop marker "
                                 "(or comes twice)")
            seen.add(seq)
            kind = kind_of[seq]
            continue
        if kind is None:
            continue
        a, n = int(f[0], 16), int(f[1])
        if a < 1 << 47:
            sym = "[user space]"
        else:
            i = bisect.bisect_right(addrs, a) - 1
            sym = names[i] if i >= 0 else "[kernel ?]"
        prof[kind][sym] += n
    if seen != set(stops):
        raise SystemExit(f"the profile has no section for stop markers "
                         f"{sorted(set(stops) - seen)}: a truncated profile.txt?")
    return prof


def read_env(path):
    return dict(line.rstrip("\n").split("=", 1) for line in open(path) if "=" in line)
