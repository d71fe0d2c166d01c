#!/usr/bin/env python3
"""report.py - turns bench/run.sh's rows (one JSON line per setup and round) into the table:
medians over rounds of msg/s, CPU seconds per 1,000 messages (the filter's processes) and ms per
message with one session; ratios to Postfix alone and to the null milter; and the targets of
issue 8 as pass/miss lines. Writes results.md and results.json into the output directory.
Usage: report.py ROWS.jsonl OUT_DIR "MACHINE" "LOAD"
Ratios to the null milter are taken round by round (the setups of one round ran minutes apart),
then their median: steal time on a shared machine drifts between rounds, not within one.
When run.sh saved a setup's metrics (metrics-SETUP.txt), a second table gives the time spent
inside mxguard's callbacks per message, per phase (what mxguard adds to each message's latency).
With run.sh --callgrind (rows carry "instructions"), the table is instructions per message
instead, the only number worth reading from a run under valgrind.
Must not: average across setups or rounds (medians only: these machines are noisy).
"""
import json
import statistics
import sys
import time

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out, machine, load = sys.argv[2], sys.argv[3], sys.argv[4]
order = ["postfix", "null", "null-header", "null-noreply", "dkim-floor", "mxguard-default", "mxguard-all-without-dmarc", "mxguard-all", "mxguard-all-maps", "mxguard-all-redis", "rspamd"]
labels = {"postfix": "Postfix alone (discard)", "null": "+ null milter",
          "null-header": "+ null milter adding one header",
          "null-noreply": "+ null milter, headers, body (and DATA on a unix socket) unanswered",
          "dkim-floor": "+ null milter verifying DKIM (libopendkim), adding one header, unanswered",
          "mxguard-default": "+ mxguard, default policy",
          "mxguard-all-without-dmarc": "+ mxguard, every stage but dmarc (memory)",
          "mxguard-all": "+ mxguard, every stage (memory)",
          "mxguard-all-maps": "+ mxguard, every stage (memory), 100,000-entry cidr and address maps",
          "mxguard-all-redis": "+ mxguard, every stage (Redis)", "rspamd": "+ rspamd 3.4 (milter)"}

if any(r.get("instructions") is not None for r in rows):
    # run.sh --callgrind: instructions per message (load and serial run), and over the null milter.
    per = {}
    for s in order:
        rs = [r for r in rows if r["setup"] == s and r.get("instructions") is not None]
        if rs:
            per[s] = statistics.median(r["instructions"] / (r["messages"] + r["serial_messages"]) for r in rs)
    doc = {"machine": machine, "load": load, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "instructions_per_message": {s: round(v) for s, v in per.items()}}
    json.dump(doc, open(out + "/results.json", "w"), indent=1, sort_keys=True)
    with open(out + "/results.md", "w") as f:
        f.write("%s, %s; %s.\n\n" % (doc["date"], machine, load))
        f.write("| setup | instructions / message | over the null milter |\n|---|---:|---:|\n")
        for s, v in per.items():
            f.write("| %s | %s | %s |\n" % (labels[s], format(round(v), ","),
                    format(round(v - per["null"]), "+,") if "null" in per and s != "null" else ""))
        if "mxguard-all" in per and "mxguard-all-without-dmarc" in per:
            d = per["mxguard-all"] - per["mxguard-all-without-dmarc"]
            f.write("\ndmarc adds %s instructions per message to every stage: %.1f %% (target: <= 5 %%).\n"
                    % (format(round(d), ","), 100 * d / per["mxguard-all-without-dmarc"]))
        if "mxguard-all" in per and "mxguard-all-maps" in per:
            d = per["mxguard-all-maps"] - per["mxguard-all"]
            f.write("\nThe access maps (100,000-entry cidr and address maps) add %s instructions per message "
                    "to every stage: %+.2f %% (target: throughput within 2 %%).\n"
                    % (format(round(d), "+,"), 100 * d / per["mxguard-all"]))
    sys.exit(0)

res = {}
for s in order:
    rs = [r for r in rows if r["setup"] == s]
    if not rs:
        continue
    rate = statistics.median(r["messages"] / r["seconds"] for r in rs)
    cpu = statistics.median(r["cpu_ticks"] / r["hz"] / r["messages"] * 1000 for r in rs)
    serial = statistics.median(1000 * r["serial_seconds"] / r["serial_messages"] for r in rs)
    res[s] = {"msg_per_s": round(rate, 1), "cpu_s_per_1000": round(cpu, 3),
              "serial_ms_per_msg": round(serial, 2), "rounds": len(rs),
              "msg_per_s_rounds": [round(r["messages"] / r["seconds"], 1) for r in rs]}
base, null, noreply = res.get("postfix"), res.get("null"), res.get("null-noreply")
def per_round(s, other, f):
    """median over the rounds both ran of f(row of s, row of other)"""
    pairs = [(a, b) for a in rows if a["setup"] == s for b in rows
             if b["setup"] == other and b["round"] == a["round"]]
    return statistics.median(f(a, b) for a, b in pairs) if pairs else None
rate_of = lambda r: r["messages"] / r["seconds"]
serial_of = lambda r: 1000 * r["serial_seconds"] / r["serial_messages"]
for s, v in res.items():
    if base:
        v["vs_postfix"] = round(per_round(s, "postfix", lambda a, b: rate_of(a) / rate_of(b)), 3)
    if null:
        v["vs_null"] = round(per_round(s, "null", lambda a, b: rate_of(a) / rate_of(b)), 3)
        v["serial_added_ms_vs_null"] = round(
            per_round(s, "null", lambda a, b: serial_of(a) - serial_of(b)), 2)
    if noreply:  # the same protocol options as mxguard: what is left is mxguard's own work
        v["vs_null_noreply"] = round(per_round(s, "null-noreply", lambda a, b: rate_of(a) / rate_of(b)), 3)

targets = []
def target(name, ok, text):
    targets.append({"target": name, "met": bool(ok), "measured": text})
if null:
    for s, want in (("mxguard-all", 0.90), ("mxguard-all-redis", 0.90), ("mxguard-default", 0.95)):
        if s in res:
            target("%s >= %d%% of the null milter" % (s, want * 100), res[s]["vs_null"] >= want,
                   "%.1f%%" % (100 * res[s]["vs_null"]))
    for s in ("mxguard-default", "mxguard-all"):
        if s in res:
            added = res[s]["serial_added_ms_vs_null"]
            target("%s: one session, <= 1 ms/msg over the null milter" % s, added <= 1.0,
                   "%+.2f ms" % added)
if "mxguard-all" in res and "mxguard-all-without-dmarc" in res:
    c = res["mxguard-all"]["cpu_s_per_1000"] / res["mxguard-all-without-dmarc"]["cpu_s_per_1000"] - 1
    target("dmarc adds <= 5% CPU per message to every stage", c <= 0.05, "%+.1f%%" % (100 * c))
if "mxguard-all" in res and "mxguard-all-maps" in res:
    # Issue 23: the every-stage row with the maps within 2 % of the row without (per round).
    v = res["mxguard-all-maps"]
    v["vs_all"] = round(per_round("mxguard-all-maps", "mxguard-all", lambda a, b: rate_of(a) / rate_of(b)), 3)
    v["vs_all_rounds"] = [round(rate_of(a) / rate_of(b), 3) for a in rows if a["setup"] == "mxguard-all-maps"
                          for b in rows if b["setup"] == "mxguard-all" and b["round"] == a["round"]]
    v["cpu_vs_all"] = round(v["cpu_s_per_1000"] / res["mxguard-all"]["cpu_s_per_1000"], 3) \
        if res["mxguard-all"]["cpu_s_per_1000"] else None
    v["serial_added_ms_vs_all"] = round(per_round("mxguard-all-maps", "mxguard-all",
                                                  lambda a, b: serial_of(a) - serial_of(b)), 2)
    target("mxguard-all-maps >= 98% of mxguard-all's throughput", v["vs_all"] >= 0.98,
           "%.1f%% (rounds: %s; CPU %s; one session %+.2f ms)" % (
               100 * v["vs_all"], ", ".join("%.3f" % x for x in v["vs_all_rounds"]),
               "%.3fx" % v["cpu_vs_all"] if v["cpu_vs_all"] else "?", v["serial_added_ms_vs_all"]))
if "rspamd" in res:
    for s in ("mxguard-all-redis", "mxguard-all"):
        if s in res:
            t = per_round(s, "rspamd", lambda a, b: rate_of(a) / rate_of(b))
            target("%s >= 1.7x rspamd's throughput" % s, t >= 1.7, "%.2fx" % t)
            c = res[s]["cpu_s_per_1000"] / res["rspamd"]["cpu_s_per_1000"] if res["rspamd"]["cpu_s_per_1000"] else 0
            target("%s <= 0.5x rspamd's CPU per 1,000 messages" % s, c <= 0.5, "%.2fx" % c)
            break

doc = {"machine": machine, "load": load, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
       "setups": res, "targets": targets}
json.dump(doc, open(out + "/results.json", "w"), indent=1, sort_keys=True)
with open(out + "/results.md", "w") as f:
    f.write("%s, %s; %s.\n\n" % (doc["date"], machine, load))
    f.write("| setup | msg/s | vs Postfix | vs null milter | vs null milter, unanswered | "
            "filter CPU s / 1,000 msg | ms/msg, 1 session |\n")
    f.write("|---|---:|---:|---:|---:|---:|---:|\n")
    for s in order:
        if s in res:
            v = res[s]
            f.write("| %s | %.0f | %s | %s | %s | %s | %.2f |\n" % (
                labels[s], v["msg_per_s"], "%.2f" % v["vs_postfix"] if "vs_postfix" in v else "",
                "%.2f" % v["vs_null"] if "vs_null" in v and s != "postfix" else "",
                "%.2f" % v["vs_null_noreply"] if "vs_null_noreply" in v and s != "postfix" else "",
                "%.2f" % v["cpu_s_per_1000"] if s != "postfix" else "", v["serial_ms_per_msg"]))
    if targets:
        f.write("\n| target | measured | met |\n|---|---:|---|\n")
        for t in targets:
            f.write("| %s | %s | %s |\n" % (t["target"], t["measured"], "yes" if t["met"] else "**no**"))

# Time inside mxguard's callbacks (mxguard_phase_duration_seconds), all rounds and warm-ups.
import glob, os, re
phase_rows = []
for s in order:
    path = "%s/metrics-%s.txt" % (out, s)
    if not os.path.exists(path):
        continue
    sums, count = {}, 0
    for line in open(path):
        m = re.match(r'mxguard_phase_duration_seconds_(sum|count)\{phase="(\w+)"\} (\S+)', line)
        if not m:
            continue
        if m.group(1) == "sum":
            sums[m.group(2)] = float(m.group(3))
        elif m.group(2) == "connect":
            count = int(float(m.group(3)))
    if count:
        phase_rows.append((s, count, {p: 1000 * v / count for p, v in sums.items()}))
if phase_rows:
    phases = ["connect", "helo", "mail", "rcpt", "header", "eoh", "body", "eom"]
    with open(out + "/results.md", "a") as f:
        f.write("\nms inside mxguard's callbacks per message (mxguard_phase_duration_seconds over "
                "every message of the run, with and without load):\n\n")
        f.write("| setup | messages | " + " | ".join(phases) + " | total |\n")
        f.write("|---|---:|" + "---:|" * (len(phases) + 1) + "\n")
        for s, count, ms in phase_rows:
            f.write("| %s | %d | %s | %.3f |\n" % (s, count, " | ".join("%.3f" % ms.get(p, 0) for p in phases),
                                                   sum(ms.values())))
    doc["callback_ms_per_message"] = {s: ms for s, _, ms in phase_rows}
    json.dump(doc, open(out + "/results.json", "w"), indent=1, sort_keys=True)
