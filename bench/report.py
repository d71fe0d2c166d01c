#!/usr/bin/env python3
"""report.py - turns bench/run.sh's rows (one JSON line per setup and round) into the table:
medians over rounds of msg/s, CPU seconds per 1,000 messages (the filter's processes) and ms per
message with one session; ratios to Postfix alone and to the null milter; and the targets of
issue 8 as pass/miss lines. Writes results.md and results.json into the output directory.
Usage: report.py ROWS.jsonl OUT_DIR "MACHINE" "LOAD"
Must not: average across setups or rounds (medians only: these machines are noisy).
"""
import json
import statistics
import sys
import time

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out, machine, load = sys.argv[2], sys.argv[3], sys.argv[4]
order = ["postfix", "null", "mxguard-default", "mxguard-all", "mxguard-all-redis", "rspamd"]
labels = {"postfix": "Postfix alone (discard)", "null": "+ null milter",
          "mxguard-default": "+ mxguard, default policy", "mxguard-all": "+ mxguard, every stage (memory)",
          "mxguard-all-redis": "+ mxguard, every stage (Redis)", "rspamd": "+ rspamd 3.4 (milter)"}
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
base, null = res.get("postfix"), res.get("null")
for s, v in res.items():
    if base:
        v["vs_postfix"] = round(v["msg_per_s"] / base["msg_per_s"], 3)
    if null:
        v["vs_null"] = round(v["msg_per_s"] / null["msg_per_s"], 3)
        v["serial_added_ms_vs_null"] = round(v["serial_ms_per_msg"] - null["serial_ms_per_msg"], 2)

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
if "rspamd" in res:
    for s in ("mxguard-all-redis", "mxguard-all"):
        if s in res:
            t = res[s]["msg_per_s"] / res["rspamd"]["msg_per_s"]
            target("%s >= 1.7x rspamd's throughput" % s, t >= 1.7, "%.2fx" % t)
            c = res[s]["cpu_s_per_1000"] / res["rspamd"]["cpu_s_per_1000"] if res["rspamd"]["cpu_s_per_1000"] else 0
            target("%s <= 0.5x rspamd's CPU per 1,000 messages" % s, c <= 0.5, "%.2fx" % c)
            break

doc = {"machine": machine, "load": load, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
       "setups": res, "targets": targets}
json.dump(doc, open(out + "/results.json", "w"), indent=1, sort_keys=True)
with open(out + "/results.md", "w") as f:
    f.write("%s, %s; %s.\n\n" % (doc["date"], machine, load))
    f.write("| setup | msg/s | vs Postfix | vs null milter | filter CPU s / 1,000 msg | ms/msg, 1 session |\n")
    f.write("|---|---:|---:|---:|---:|---:|\n")
    for s in order:
        if s in res:
            v = res[s]
            f.write("| %s | %.0f | %s | %s | %s | %.2f |\n" % (
                labels[s], v["msg_per_s"], "%.2f" % v["vs_postfix"] if "vs_postfix" in v else "",
                "%.2f" % v["vs_null"] if "vs_null" in v and s != "postfix" else "",
                "%.2f" % v["cpu_s_per_1000"] if s != "postfix" else "", v["serial_ms_per_msg"]))
    if targets:
        f.write("\n| target | measured | met |\n|---|---:|---|\n")
        for t in targets:
            f.write("| %s | %s | %s |\n" % (t["target"], t["measured"], "yes" if t["met"] else "**no**"))
