#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the benchmark figures of one `make bench` boot and the ratio ours/C for each."""

import re
import sys

run = sys.argv[1]
text = open(f"{run}/results.log", errors="replace").read()
figures = {}  # name -> {module: (value, unit, line)}
mod = None
for line in text.splitlines():
    m = re.match(r"^### BEGIN bench \S+ \[(\S+)\]", line)
    if m:
        mod = m.group(1)
        continue
    if line.startswith("### END"):
        mod = None
        continue
    m = re.match(r"^bench (\S+): ([0-9.]+) (\S+)(.*)", line)
    if m and mod:
        figures.setdefault(m.group(1), {})[mod] = (float(m.group(2)), m.group(3), m.group(4))
    elif line.startswith("bench ") and mod:
        print(f"[{mod}] {line}")

print("== benchmark (lower is better; ratio = ours / C)")
for name, by in figures.items():
    c, r = by.get("c"), by.get("rust")
    cs = f"{c[0]:.3f} {c[1]}" if c else "-"
    rs = f"{r[0]:.3f} {r[1]}" if r else "-"
    ratio = f"{r[0] / c[0]:.2f}" if c and r and c[0] > 0 else "n/a"
    print(f"bench {name}: c {cs}, rust {rs}, ratio {ratio}")
if not figures:
    print("no figures (see the guest log)")
    sys.exit(1)
