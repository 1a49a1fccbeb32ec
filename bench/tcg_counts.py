# SPDX-License-Identifier: GPL-2.0
"""What the benchmark summaries share: the guests' result lines and the
tcg_insn plugin's marker file (bench/tcg-insn/tcg_insn.c)."""


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


def read_env(path):
    return dict(line.rstrip("\n").split("=", 1) for line in open(path) if "=" in line)
