#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table that ends `make run`: scenario | module | result | key figure.

It reads what the two boots of `make run` printed (OUT/run/results.log, OUT/pci/results.log):
the suites between their markers, each case's TAP line and the figures the cases log (VmPin,
bytes of DMA checked, the refused DMA). The full logs stay where they are; the table names them.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (parse_guest, scan_run)

RUN_CASE = re.compile(r"^#\s+RUN\s+(\S+) \.\.\.")
TAP = re.compile(r"^(not ok|ok) \d+ (\S+)(?:\s+#\s*SKIP\b.*)?")
TH_LOG = re.compile(r"^# \S+?:\d+:(\S+?):(.*)$")

# Scenario names of our suites' cases, for a reader who has not seen the sources.
SCENARIOS = {
    "qc.edu_iommufd": "QEMU 10 VM, edu passed through (-object iommufd)",
    "qc.mtty_iommufd": "QEMU 10 VM, mtty mdev (software IOMMU path)",
    "qc.both": "QEMU 10 VM, edu and mtty together",
    "qc.hotplug": "QEMU 10 VM, edu device_del / device_add",
    "qc.legacy_container": "QEMU 10 VM, edu via /dev/vfio/vfio (compat)",
    "qc.sigkill": "QEMU 10 VM killed with SIGKILL",
}
SUITES = {
    "dispatch": "our /dev/iommu dispatcher checks",
    "ioas": "our IOAS checks",
    "vfio_compat": "our VFIO type1 compat checks",
    "vfio_mtty": "mtty mdev through vfio.ko",
    "vfio_edu": "edu DMA through vfio-pci + Intel IOMMU",
}


def figure(logs):
    """The key figure of one qemu_consumer case, from what it logged."""
    text = "\n".join(logs)
    parts = []
    m = re.findall(r"QEMU VmPin (\d+) kB", text)
    if m:
        parts.append("VmPin " + "/".join(sorted(set(m), key=m.index)) + " kB")
    m = re.findall(r"DMA round trip: (\d+) bytes", text)
    if m:
        parts.append(f"{sum(int(x) for x in m)} B DMA checked")
    if re.search(r"refused DMA to 0x[0-9a-f]+, kernel: DMAR", text):
        parts.append("DMAR fault on the unmapped write")
    m = re.search(r"MemAvailable .* \(([+-]\d+) kB\)", text)
    if m:
        parts.append(f"MemAvailable {m.group(1)} kB once it exited")
    return ", ".join(parts)


def cases_of(text):
    """-> [(kind, suite, module, case, ok, logs)] for every case of every suite."""
    out = []
    cur = None
    logs = {}
    for line in text.splitlines():
        b = report.BEGIN.match(line)
        if b:
            cur = b.groups()
            logs = {}
            run_case = None
            continue
        if report.END.match(line):
            cur = None
            continue
        if cur is None:
            continue
        m = RUN_CASE.match(line)
        if m:
            run_case = m.group(1)
            logs[run_case] = []
            continue
        m = TH_LOG.match(line)
        if m and m.group(1) in (run_case or "").split(".")[-1:]:
            logs.setdefault(run_case, []).append(m.group(2))
            continue
        m = TAP.match(line)
        if m:
            case = m.group(2)
            skip = "# SKIP" in line
            out.append((*cur, case, "skip" if skip else ("pass" if m.group(1) == "ok" else "FAIL"),
                        logs.get(case, [])))
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "out"
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    allowed = report.read_list(os.path.join(top, "tools/testing/selftests/iommufd/log-allow.txt"))
    rows = []
    for run in ("run", "pci"):
        text = report.read(os.path.join(out, run, "results.log"))
        if not text:
            rows.append((f"boot '{run}'", "-", "FAIL", "no results"))
            continue
        per_suite, qemu = {}, []
        for kind, suite, mod, case, res, logs in cases_of(text):
            if suite == "qemu_consumer":
                qemu.append((SCENARIOS.get(case, case), mod, res, figure(logs)))
            else:
                n = per_suite.setdefault((suite, mod), [0, 0])
                n[0] += res == "pass"
                n[1] += 1
        for (suite, mod), (ok, n) in per_suite.items():
            rows.append((SUITES.get(suite, suite), mod, "pass" if ok == n else "FAIL",
                         f"{ok}/{n} cases"))
        rows.extend(qemu)
        bad = report.scan_run(os.path.join(out, run), allowed)
        rows.append((f"kernel log of boot '{run}'", "-", "clean" if not bad else "FAIL",
                     f"{len(bad)} bad lines" if bad else "no WARN/BUG/KASAN/kmemleak/lockdep"))
    w = [max(len(str(r[i])) for r in rows + [("scenario", "module", "result", "key figure")])
         for i in range(4)]
    print()
    print("== summary (full logs: " + ", ".join(
        os.path.join(out, r, "results.log") for r in ("run", "pci")) + ")")
    line = "| " + " | ".join("%-*s" % (w[i], h)
                             for i, h in enumerate(("scenario", "module", "result", "key figure")))
    print(line + " |")
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        print("| " + " | ".join("%-*s" % (w[i], r[i]) for i in range(4)) + " |")
    return 0 if all(r[2] in ("pass", "clean", "skip") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
