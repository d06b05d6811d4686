#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The report of one `make bench` boot (scripts/guest/plan-bench.sh): the C module and ours in
alternating rounds. For each figure: the median, min and max over the rounds per module, and
the ratio of the medians (ours / C; lower is better everywhere, so below 1.0 ours is faster).

Writes, in the run folder (out/bench/):
  results.csv   every raw number: module, round, kind (figure | curve), name, n, value, unit
  summary.md    the table printed here
  curve_*.png   cost per op against the number of areas N, C and ours on the same axes
  ratios.png    the ratio of each figure, with the per-round spread
  rounds.png    each figure's value per round and module (drift across the boot)

usage: bench_report.py RUN_DIR
"""

import csv
import re
import statistics
import sys

run = sys.argv[1]
try:
    text = open(f"{run}/results.log", errors="replace").read()
except OSError as e:
    print(f"no benchmark results: {e} (the guest did not run; see the log above)")
    sys.exit(1)
MODS = ("c", "rust")
LABEL = {"c": "C iommufd", "rust": "iommufd-rs"}

rows = []  # (module, round, kind, name, n, value, unit)
mod = rnd = None
notes = []
for line in text.splitlines():
    m = re.match(r"^### BEGIN bench round(\d+) \[(\S+)\]", line)
    if m:
        rnd, mod = int(m.group(1)), m.group(2)
        continue
    if line.startswith("### END"):
        m = re.search(r"rc=(\d+)", line)
        if m and m.group(1) != "0" and mod:
            notes.append(f"round {rnd} [{mod}]: iommufd_bench exited rc={m.group(1)}")
        mod = None
        continue
    if not mod:
        continue
    m = re.match(r"^bench (\S+): ([0-9.]+) (\S+)", line)
    if m:
        rows.append((mod, rnd, "figure", m.group(1), "", float(m.group(2)), m.group(3)))
        continue
    m = re.match(r"^curve (\S+) (\d+): ([0-9.]+) (\S+)", line)
    if m:
        rows.append((mod, rnd, "curve", m.group(1), int(m.group(2)), float(m.group(3)), m.group(4)))
        continue
    if line.startswith("bench ") and "skipped" in line:
        notes.append(f"[{mod}] {line}")

with open(f"{run}/results.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["module", "round", "kind", "name", "n", "value", "unit"])
    w.writerows(rows)

# name -> module -> [values], in first-seen order
figs, units = {}, {}
curves = {}  # op -> n -> module -> [values]
for mod, rnd, kind, name, n, v, unit in rows:
    if kind == "figure":
        figs.setdefault(name, {}).setdefault(mod, []).append(v)
        units[name] = unit
    else:
        curves.setdefault(name, {}).setdefault(n, {}).setdefault(mod, []).append(v)


def stats(vs):
    return statistics.median(vs), min(vs), max(vs)


def fmt(v):
    return f"{v:.3f}" if v < 100 else f"{v:.1f}"


rounds = max((r for _, r, *_ in rows), default=0)
out = []
out.append(f"== make bench: {rounds} alternating rounds per module, production kernel "
           "(lower is better; ratio = ours / C, of the medians)")
out.append("")
out.append("| figure | unit | C median | ours median | ratio | spread: C [min, max] / ours [min, max] |")
out.append("|---|---|---|---|---|---|")
for name, by in figs.items():
    c, r = by.get("c"), by.get("rust")
    cs = stats(c) if c else None
    rs = stats(r) if r else None
    ratio = f"{rs[0] / cs[0]:.2f}" if cs and rs and cs[0] > 0 else "-"
    spread = []
    for s, vs in ((cs, c), (rs, r)):
        spread.append(f"[{fmt(s[1])}, {fmt(s[2])}] (n={len(vs)})" if s else "-")
    out.append(f"| {name} | {units[name]} | {fmt(cs[0]) if cs else '-'} | "
               f"{fmt(rs[0]) if rs else '-'} | {ratio} | {' / '.join(spread)} |")
for op, byn in curves.items():
    for n in sorted(byn):
        c, r = byn[n].get("c"), byn[n].get("rust")
        if not (c and r):
            continue
        cs, rs = stats(c), stats(r)
        out.append(f"| curve {op} N={n} | us | {fmt(cs[0])} | {fmt(rs[0])} | "
                   f"{rs[0] / cs[0]:.2f} | [{fmt(cs[1])}, {fmt(cs[2])}] / [{fmt(rs[1])}, {fmt(rs[2])}] |")
out.append("")
floor = []
for kind in ("4k", "thp"):
    fl, full = figs.get(f"floor_{kind}", {}).get("rust"), figs.get(f"map_{kind}_domain", {})
    if fl and full.get("rust"):
        f = statistics.median(fl)
        line = (f"ours/floor {kind}: map_{kind}_domain {fmt(statistics.median(full['rust']))} ms"
                f" / floor_{kind} {fmt(f)} ms = {statistics.median(full['rust']) / f:.2f}")
        if full.get("c"):
            line += f" (C/floor {statistics.median(full['c']) / f:.2f}: C has its own mock)"
        floor.append(line)
out += floor or ["ours/floor: no floor figures (IOMMU_TEST_OP_RS_FLOOR_PIN_MAP)"]
if notes:
    out.append("")
    seen = {}
    for n in notes:
        seen[n] = seen.get(n, 0) + 1
    out += [f"note: {n}" + (f" ({k} rounds)" if k > 1 else "") for n, k in seen.items()]
print("\n".join(out))
with open(f"{run}/summary.md", "w") as f:
    f.write("\n".join(out) + "\n")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("no PNG plots: python3-matplotlib is missing (make setup installs it)")
    plt = None

pngs = []
if plt:
    for op, byn in curves.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for mod, style in zip(MODS, ("o-", "s-")):
            ns = [n for n in sorted(byn) if byn[n].get(mod)]
            if not ns:
                continue
            med = [statistics.median(byn[n][mod]) for n in ns]
            lo = [m - min(byn[n][mod]) for m, n in zip(med, ns)]
            hi = [max(byn[n][mod]) - m for m, n in zip(med, ns)]
            ax.errorbar(ns, med, yerr=[lo, hi], fmt=style, capsize=3, label=LABEL[mod])
        ax.set_xscale("log")
        ax.set_xlabel("areas in the IOAS (N)")
        ax.set_ylabel("us per op (median, min-max over rounds)")
        ax.set_title(f"{op}: cost per op as the IOAS grows")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(f"{run}/curve_{op}.png", dpi=100)
        plt.close(fig)
        pngs.append(f"{run}/curve_{op}.png")
    both = [n for n, by in figs.items() if by.get("c") and by.get("rust")]
    if both:
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(both) + 1.5))
        for i, name in enumerate(both):
            c, r = figs[name]["c"], figs[name]["rust"]
            cm = statistics.median(c)
            ax.plot([v / cm for v in r], [i] * len(r), "|", color="gray")
            ax.plot(statistics.median(r) / cm, i, "o", color="C1")
        ax.axvline(1.0, color="C0", lw=1)
        ax.set_yticks(range(len(both)), both)
        ax.invert_yaxis()
        ax.set_xlabel("ours / C median (dot: median ratio; ticks: each round of ours / C median)")
        ax.grid(True, axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(f"{run}/ratios.png", dpi=100)
        plt.close(fig)
        pngs.append(f"{run}/ratios.png")
        cols = 4
        rws = (len(both) + cols - 1) // cols
        fig, axs = plt.subplots(rws, cols, figsize=(3 * cols, 2.2 * rws), squeeze=False)
        for ax, name in zip(axs.flat, both):
            for mod, style in zip(MODS, ("o-", "s-")):
                pts = sorted((r, v) for m, r, k, nm, _, v, _ in rows if m == mod and nm == name and k == "figure")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, ms=3, label=LABEL[mod])
            ax.set_title(f"{name} ({units[name]})", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_ylim(bottom=0)
        for ax in list(axs.flat)[len(both):]:
            ax.axis("off")
        axs.flat[0].legend(fontsize=7)
        fig.supxlabel("round", fontsize=8)
        fig.tight_layout()
        fig.savefig(f"{run}/rounds.png", dpi=90)
        plt.close(fig)
        pngs.append(f"{run}/rounds.png")
print(f"raw numbers: {run}/results.csv; table: {run}/summary.md")
if pngs:
    print("plots: " + ", ".join(pngs))
if not figs:
    print("no figures (see the guest log)")
    sys.exit(1)
