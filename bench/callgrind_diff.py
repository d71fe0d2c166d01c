#!/usr/bin/env python3
"""callgrind_diff.py - where two policies (or two builds) differ, function by function, in
instructions per warm transaction, from the profiles `bench/callgrind.sh --keep` leaves:
DIR/callgrind.POLICY.R1.out and DIR/callgrind.POLICY.R2.out. A function's cost per transaction
is its count in the R2 profile minus the R1 profile, divided by R2 - R1 (start-up cancels out).

Usage: callgrind_diff.py A B [--inclusive] [--top N]
  A, B         profile prefixes, e.g. /tmp/cg/callgrind.all and /tmp/cg/callgrind.all_maps (or the
               same policy from two builds' --out directories)
  --inclusive  a function with everything it calls (callgrind_annotate --inclusive=yes); the
               default is its own instructions only, whose differences add up to the total
  --top N      rows to print (default 30), largest difference first
Functions are matched by name (the source file is dropped: two builds' paths differ). Inclusive
counts of recursive functions (the harness's runDialogue) are not meaningful.
Must not: be read as exact below ~1,000 instructions: the DKIM key and the message's Date differ
between runs, and allocator state moves cost between callers of malloc.
"""
import glob
import re
import subprocess
import sys


def profiles(prefix):
    files = glob.glob(prefix + ".*.out")
    by_repeat = sorted(files, key=lambda f: int(f[len(prefix) + 1:-4]))
    if len(by_repeat) != 2:
        sys.exit("callgrind_diff.py: want two profiles %s.R1.out and %s.R2.out, found %d"
                 % (prefix, prefix, len(by_repeat)))
    r1, r2 = (int(f[len(prefix) + 1:-4]) for f in by_repeat)
    return by_repeat[0], by_repeat[1], r2 - r1


def counts(path, inclusive):
    out = subprocess.run(["callgrind_annotate", "--threshold=100",
                          "--inclusive=" + ("yes" if inclusive else "no"), path],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    start = next(i for i, l in enumerate(out) if "file:function" in l) + 2
    d = {}
    for line in out[start:]:
        if line.startswith("--"):
            break
        m = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", line)
        if not m or ":" not in m.group(2):
            continue
        name = re.sub(r"\s*\[[^\]]*\]\s*$", "", m.group(2)).split(":", 1)[1]
        name = re.sub(r"\s*\(\d[\d,]*x\)$", "", name)
        d[name] = d.get(name, 0) + int(m.group(1).replace(",", ""))
    return d


def per_transaction(prefix, inclusive):
    f1, f2, n = profiles(prefix)
    c1, c2 = counts(f1, inclusive), counts(f2, inclusive)
    return {k: (c2.get(k, 0) - c1.get(k, 0)) / n for k in set(c1) | set(c2)}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    inclusive = "--inclusive" in sys.argv
    top = 30
    if "--top" in sys.argv:
        top = int(sys.argv[sys.argv.index("--top") + 1])
        args.remove(str(top))
    if len(args) != 2:
        sys.exit(__doc__)
    a, b = (per_transaction(p, inclusive) for p in args)
    rows = sorted(((b.get(k, 0) - a.get(k, 0), a.get(k, 0), b.get(k, 0), k) for k in set(a) | set(b)),
                  key=lambda r: -abs(r[0]))
    if inclusive:  # a sum of inclusive counts counts every call chain many times over
        print("inclusive instructions per transaction, B minus A")
    else:
        print("own instructions per transaction, B minus A: %s" % format(round(sum(r[0] for r in rows)), "+,"))
    print("%10s %10s %10s  function" % ("B - A", "A", "B"))
    for d, x, y, k in rows[:top]:
        if abs(d) < 1:
            break
        print("%10s %10s %10s  %s" % (format(round(d), "+,"), format(round(x), ","), format(round(y), ","),
                                       k if len(k) <= 150 else k[:147] + "..."))


if __name__ == "__main__":
    main()
