#!/usr/bin/env python3
"""rss_summary.py SAMPLES [WARMUP] [TOTAL] - condenses rss_sampler.sh output ("MS RSS_KB POS"
lines) into the numbers the soak tests assert on and results/soak.md records, as KEY=VALUE lines.

Progress of a sample is POS / TOTAL (TOTAL default: the largest POS seen; the file size for a
replay, the final log size for the daemon), or its share of the wall time when POS is -1.
Warm-up ends at the first sample whose progress reaches WARMUP (default 0.1). Printed:
  samples, seconds; rss_start_kb (first sample), rss_warmup_kb (at warm-up end), rss_end_kb
  (last sample), rss_max_kb, rss_max_after_warmup_kb; growth_after_warmup_kb = max after warm-up
  minus the value at warm-up end (what the tests bound); slope_kb_per_10pct, the least-squares
  trend after warm-up (a slow leak shows here even when it is under the bound); series, RSS at
  every 10% of progress.

Must not: judge: it only computes; the test scripts hold the bounds and the verdict.
"""
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: rss_summary.py SAMPLES [WARMUP] [TOTAL]")
    warmup = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                rows.append((int(parts[0]), int(parts[1]), int(parts[2])))
    if not rows:
        print("samples=0")
        return
    total = int(sys.argv[3]) if len(sys.argv) > 3 else max(r[2] for r in rows)
    t_end = rows[-1][0] or 1
    if total > 0 and any(r[2] >= 0 for r in rows):
        # Monotonic: a descriptor closed early (a reader that loaded the file whole) keeps its
        # last position rather than dropping to 0.
        prog, top = [], 0
        for r in rows:
            top = max(top, r[2])
            prog.append(top / total)
    else:
        prog = [r[0] / t_end for r in rows]
    w = next((i for i, p in enumerate(prog) if p >= warmup), len(rows) - 1)
    after = [r[1] for r in rows[w:]]
    # Trend after warm-up: KB per 10% of progress.
    xs, ys = prog[w:], after
    slope = 0.0
    if len(xs) > 2:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        if den > 0:
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den / 10
    series = []
    for k in range(11):
        i = next((j for j, p in enumerate(prog) if p >= k / 10), len(rows) - 1)
        series.append(f"{k * 10}%:{rows[i][1]}")
    print(f"samples={len(rows)}")
    print(f"seconds={rows[-1][0] / 1000:.1f}")
    print(f"rss_start_kb={rows[0][1]}")
    print(f"rss_warmup_kb={rows[w][1]}")
    print(f"rss_end_kb={rows[-1][1]}")
    print(f"rss_max_kb={max(r[1] for r in rows)}")
    print(f"rss_max_after_warmup_kb={max(after)}")
    print(f"growth_after_warmup_kb={max(after) - rows[w][1]}")
    print(f"slope_kb_per_10pct={slope:.0f}")
    print("series=" + " ".join(series))


if __name__ == "__main__":
    main()
