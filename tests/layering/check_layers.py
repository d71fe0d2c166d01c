#!/usr/bin/env python3
"""check_layers.py [SRC_DIR] - reads every #include "dir/..." under src/ and fails on an edge that
climbs the layering of DESIGN.md, goes sideways between two libraries of one layer, or leaves a
stage's room for another stage's room; a directory without a layer fails too (add it here).
Prints each offending include as FILE:LINE: problem, and "layering: N files, N includes, ok".
Must not: read tests/ or bench/ (they may include any layer they test or measure).
"""
import os
import re
import sys

# Lower layers first. A library may include its own directory and any lower layer.
LAYERS = {
    "base": 0,                           # logging, counters, metrics, clock, phases
    "core": 1, "config": 1, "smtp": 1,   # the engine and its interfaces; config files; SMTP client
    "dns": 2, "store": 2,                # implementations of core's interfaces
    "maps": 2,                           # map files for access rules and policy classes
    "stages": 3,
    "app": 4,                            # the policy loader, daemon options, the store factory
    "milter": 5, "harness": 5,           # the two front doors
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"')


def room(path):
    """The stage room of a path under stages/ ("spf" for stages/spf/x.h), or None at the top."""
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "stages" else None


def check(src):
    problems, files, includes = [], 0, 0
    for dirpath, _, names in os.walk(src):
        for name in sorted(names):
            if not name.endswith((".h", ".cpp")):
                continue
            path = os.path.relpath(os.path.join(dirpath, name), src)
            top = path.split("/")[0]
            files += 1
            if top not in LAYERS:
                problems.append("%s:1: directory '%s' has no layer in %s" % (path, top, __file__))
                continue
            with open(os.path.join(src, path), encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    includes += 1
                    target, rest = m.group(1), m.group(2)
                    where = "%s:%d: includes %s/%s: " % (path, number, target, rest)
                    if target not in LAYERS:
                        problems.append(where + "'%s' is not a layer" % target)
                    elif target != top and LAYERS[target] > LAYERS[top]:
                        problems.append(where + "climbs from %s (layer %d) to %s (layer %d)" % (
                            top, LAYERS[top], target, LAYERS[target]))
                    elif target != top and LAYERS[target] == LAYERS[top]:
                        problems.append(where + "goes sideways between %s and %s (one layer)" %
                                        (top, target))
                    elif target == "stages" and room(path) and room(target + "/" + rest) \
                            and room(path) != room(target + "/" + rest):
                        problems.append(where + "stage room %s reaches into room %s (shared code "
                                        "goes to the top of stages/)" % (
                                            room(path), room(target + "/" + rest)))
    return problems, files, includes


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
    problems, files, includes = check(src)
    for p in problems:
        print(p)
    if problems:
        print("layering: %d problem(s) in %d files" % (len(problems), files))
        return 1
    print("layering: %d files, %d includes, ok" % (files, includes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
