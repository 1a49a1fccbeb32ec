#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""User-space instructions per request from a callgrind dump of an echo
server (scripts/bench-echo-callgrind): every instruction of the dump, and
by function, divided by the calls of PER_FN, which runs once a request
(the send's prep or completion).

  callgrind_per_request.py DUMP PER_FN [TOP]

The dump must be written with --compress-strings=no (names in full)."""
import collections
import sys


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    dump, per_fn = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) == 4 else 8
    own = collections.Counter()   # self instructions by function
    calls = collections.Counter()  # calls of a function, by its callers
    fn = cfn = None
    skip_next = False  # the cost line after calls= is inclusive: not self
    with open(dump) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("fn="):
                fn = line[3:]
            elif line.startswith("cfn="):
                cfn = line[4:]
            elif line.startswith("calls="):
                calls[cfn] += int(line[6:].split()[0])
                skip_next = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()  # position(s), then the count
                if skip_next:
                    skip_next = False
                elif fn is not None and len(parts) >= 2:
                    own[fn] += int(parts[-1])
    matches = [f for f in calls if per_fn in f]
    if len(matches) != 1:
        sys.exit(f"{per_fn!r} names {len(matches)} called functions: "
                 f"{matches[:4]}")
    n = calls[matches[0]]
    if n == 0:
        sys.exit("no request in the window")
    total = sum(own.values())
    print(f"requests (calls of {matches[0]}): {n}")
    print(f"user-space instructions per request: {total / n:.1f}")
    for name, v in own.most_common(top):
        print(f"  {v / n:8.1f}  {name[:110]}")


if __name__ == "__main__":
    main()
