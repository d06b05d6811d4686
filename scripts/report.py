#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the logs of one `make test` into results, and the closing `N passed, N failed` line.

Inputs (all under OUT):
  host-tests.log            cargo test output of the pure core
  lint.log, lint.status     rustfmt/clippy of the module (optional)
  test/results.log          what the guest printed on ttyS1: markers, TAP, dmesg, kmemleak
  test/console.log          the kernel console (ttyS0)
  test/status               done | timeout | crashed
  pci/{results.log,console.log,status}  the second boot (plan pci: edu behind an Intel IOMMU)

What counts as a test (each one line in the summary):
  - every host test (cargo);
  - every upstream case listed in the ratchet, run against our module;
  - "the C module matches its recorded baseline", once per upstream suite;
  - every case of our own suites, against each module (vfio_edu: in the pci boot);
  - the fuzzer spent its budget (at least FUZZ_MIN_IOCTLS ioctls) on each module;
  - the guest reached the end of its plan; the guest log is clean (no WARN/BUG/Oops/KASAN/
    kmemleak/lockdep/Call Trace); each module loaded and unloaded.
"""

import argparse
import os
import re
import sys

TAP = re.compile(r"^(not ok|ok) (\d+) (\S+)(?:\s+#\s*(SKIP|XFAIL|TODO)\b.*)?")
BEGIN = re.compile(r"^### BEGIN (\S+) (\S+) \[(\S+)\]")
# A TAP plan ("1..N"): fewer case lines than that means the suite died (crash, time-out).
PLAN = re.compile(r"^1\.\.(\d+)$")
END = re.compile(r"^### END (\S+) (\S+) \[(\S+)\] rc=(\d+) seconds=(\d+)")

# Lines that mean the kernel is unhappy. Checked on the console and on the full dmesg.
BAD = [
    re.compile(p)
    for p in (
        r"WARNING:",
        r"\bBUG[: ]",
        r"\bOops\b",
        r"KASAN:",
        r"unreferenced object",
        r"kmemleak: \d+ new suspected memory leaks",
        r"Call Trace:",
        r"general protection fault",
        r"Kernel panic",
        r"INFO: task .* blocked for more than",
        r"rcu: INFO: rcu_\w+ detected stalls",
        r"possible circular locking dependency",
        r"possible recursive locking",
        r"inconsistent lock state",
        r"DEBUG_LOCKS_WARN_ON",
        r"UBSAN:",
        r"refcount_t: ",
        r"list_(add|del) corruption",
        r"rust_kernel: panicked",
        r"\bpanicked at\b",
    )
]


# The fuzzer's budget in make test, per module (issue 13).
FUZZ_MIN_IOCTLS = 100000


class Summary:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def add(self, ok, what, skip=False):
        if skip:
            self.skipped += 1
        elif ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(what)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def parse_guest(text):
    """-> suites {(kind, name, module): {"cases": [(ok, name, skip, line)], "rc": int|None}},
    dmesg text, kmemleak {module: text}, other markers."""
    suites = {}
    cur = None
    dmesg = []
    in_dmesg = False
    kmemleak = {}
    in_leak = None
    markers = []
    for line in text.splitlines():
        line = line.rstrip("\r")
        if line == "### DMESG BEGIN":
            in_dmesg = True
            continue
        if line == "### DMESG END":
            in_dmesg = False
            continue
        if in_dmesg:
            dmesg.append(line)
            continue
        m = re.match(r"^### KMEMLEAK BEGIN \[(\S+)\]", line)
        if m:
            in_leak = m.group(1)
            # A module may be loaded more than once in a boot: keep every report.
            kmemleak.setdefault(in_leak, [])
            continue
        if re.match(r"^### KMEMLEAK END", line):
            in_leak = None
            continue
        if in_leak:
            kmemleak[in_leak].append(line)
            continue
        m = BEGIN.match(line)
        if m:
            cur = (m.group(1), m.group(2), m.group(3))
            suites[cur] = {"cases": [], "rc": None, "seconds": None, "planned": None}
            continue
        m = END.match(line)
        if m and cur:
            suites[cur]["rc"] = int(m.group(4))
            suites[cur]["seconds"] = int(m.group(5))
            cur = None
            continue
        if line.startswith("### "):
            markers.append(line)
            continue
        m = PLAN.match(line)
        if m and cur and suites[cur]["planned"] is None:
            suites[cur]["planned"] = int(m.group(1))
            continue
        m = TAP.match(line)
        if m and cur:
            ok = m.group(1) == "ok"
            skip = m.group(4) in ("SKIP",)
            suites[cur]["cases"].append((ok, m.group(3), skip, line))
    return suites, "\n".join(dmesg), {k: "\n".join(v).strip() for k, v in kmemleak.items()}, markers


def read_list(path):
    """Non-comment lines of a list file."""
    out = []
    for line in read(path).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def read_baseline(path, kind="fail", arch="x86"):
    """c-baseline.txt: 'totals SUITE pass fail skip' lines and 'fail SUITE CASE' lines (upstream
    suites); 'ours-fail SUITE CASE' lines name cases of our own suites that the C module fails
    (an upstream bug our module does not have): read with kind="ours-fail"; 'ours-skip SUITE
    [CASE]' lines name cases (no CASE: every case, "*") of our own suites that the C module
    skips (a feature it lacks) and ours must run: read with kind="ours-skip".
    A line that starts with an arch name ('arm64 totals ...', 'arm64 fail ...') holds for that
    arch only; there an arch's 'totals' replaces the common one. Lines without apply to all."""
    totals, fails = {}, {}
    arch_totals = {}
    for line in read_list(path):
        f = line.split()
        if f[0] in ARCHES:
            if f[0] != arch:
                continue
            f = f[1:]
            if f[0] == "totals":
                arch_totals[f[1]] = tuple(int(x) for x in f[2:5])
                continue
        if f[0] == "totals":
            totals[f[1]] = tuple(int(x) for x in f[2:5])
        elif f[0] == kind:
            fails.setdefault(f[1], set()).add(f[2] if len(f) > 2 else "*")
    totals.update(arch_totals)
    return totals, fails


ARCHES = ("x86", "arm64")


def scan(text, allowed):
    bad = []
    for line in text.splitlines():
        if any(p.search(line) for p in BAD) and not any(a.search(line) for a in allowed):
            bad.append(line)
    return bad


# Lines the scanner must flag, and boot lines it must not: checked on every run, so a scanner
# that silently stopped matching fails the test instead of passing everything.
SELF_CHECK_BAD = [
    "[   12.345678] WARNING: CPU: 1 PID: 77 at drivers/iommu/iommufd/main.c:100 f+0x1/0x2",
    "[   12.345678] BUG: KASAN: slab-use-after-free in iopt_unmap_iova+0x10/0x20",
    "[   12.345678] BUG: sleeping function called from invalid context at mm/slub.c:1",
    "[   12.345678] Oops: general protection fault, probably for non-canonical address",
    "[   12.345678] unreferenced object 0xffff888004b5c000 (size 64):",
    "[   12.345678] kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
    "[   12.345678]  Call Trace:",
    "[   12.345678] WARNING: possible circular locking dependency detected",
    "[   12.345678] rust_kernel: panicked at drivers/iommufd/ctx.rs:10:5:",
    "[   12.345678] refcount_t: underflow; use-after-free.",
]
SELF_CHECK_GOOD = [
    "[    0.000000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15796)",
    "[    0.000000] KernelAddressSanitizer initialized (generic)",
    "[    0.100000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar",
    "[    1.000000] iommufd_mock iommufd_mock0: Adding to iommu group 0",
    "[    2.000000] FAULT_INJECTION: forcing a failure.",
]


def scanner_self_check():
    missed = [l for l in SELF_CHECK_BAD if not scan(l, [])]
    false = [l for l in SELF_CHECK_GOOD if scan(l, [])]
    for l in missed:
        print(f"scanner self-check: MISSED {l}")
    for l in false:
        print(f"scanner self-check: FALSE POSITIVE {l}")
    return not missed and not false


def scan_run(run, allowed):
    """Bad lines of one guest run: console, every dmesg block, every kmemleak report."""
    _, dmesg, kmemleak, _ = parse_guest(read(os.path.join(run, "results.log")))
    bad = scan(read(os.path.join(run, "console.log")), allowed) + scan(dmesg, allowed)
    for mod, text in kmemleak.items():
        if text:
            bad.append(f"kmemleak after the {mod} module's run:")
            bad.extend(text.splitlines()[:40])
    out, seen = [], set()
    for line in bad:
        if line not in seen:
            out.append(line)
            seen.add(line)
    return out


def print_scan(run, bad):
    print("\n== guest log scan (WARN, BUG, Oops, KASAN, kmemleak, lockdep, Call Trace)")
    for line in bad:
        print(f"LOG: {line}")
    print(f"guest log scan: {'clean' if not bad else f'{len(bad)} bad lines'} "
          f"(console {run}/console.log, dmesg {run}/dmesg.log)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--top", required=True)
    ap.add_argument("--no-guest", action="store_true", help="host tests only")
    ap.add_argument("--build-failed", action="store_true", help="the kernel/module build failed")
    ap.add_argument("--scan-only", metavar="RUN", help="only scan the logs of OUT/RUN")
    ap.add_argument("--no-arm64", action="store_true", help="no arm64 boot to count")
    ap.add_argument("--arm64-build-failed", action="store_true",
                    help="the arm64 kernel/module/selftest build failed")
    ap.add_argument("--arm64-only", action="store_true",
                    help="only the arm64 boot (make test-arm64): no host tests, no x86 boots")
    args = ap.parse_args()
    out, top = args.out, args.top
    s = Summary()
    sel = os.path.join(top, "tools/testing/selftests/iommufd")
    allowed = [re.compile(p) for p in read_list(os.path.join(sel, "log-allow.txt"))]
    if args.scan_only:
        run = os.path.join(out, args.scan_only)
        bad = scan_run(run, allowed)
        print_scan(run, bad)
        sys.exit(1 if bad or not scanner_self_check() else 0)

    if args.arm64_only:
        check_boots(s, [arm64_boot(s, out, sel, args.arm64_build_failed)], allowed)
        finish(s)
        return

    # Host tests of the core.
    host = read(os.path.join(out, "host-tests.log"))
    hp = hf = 0
    for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", host):
        hp += int(m.group(1))
        hf += int(m.group(2))
    print("== host tests (cargo test, pure core)")
    print(f"host: pass:{hp} fail:{hf}")
    s.passed += hp
    s.failed += hf
    if hf:
        s.failures.append(f"{hf} host tests")
    if not re.search(r"test result:", host):
        s.add(False, "host tests did not run (see host-tests.log)")

    lint = read(os.path.join(out, "lint.status")).strip()
    if lint:
        print(f"lint (rustfmt, clippy): {lint}")
        s.add(lint == "clean", "lint: rustfmt/clippy not clean (see lint.log)")

    if args.build_failed:
        s.add(False, "kernel/module/selftest build (no guest run)")
    if args.no_guest:
        finish(s)
        return

    run = os.path.join(out, "test")
    status, markers, suites = selftest_boot(s, run, sel, "x86", "")
    fuzz_checks(s, read(os.path.join(run, "results.log")), suites)

    # The pci boots: real DMA through vfio-pci and an emulated Intel IOMMU. Plan pci (legacy
    # mode): vfio_edu and qemu_consumer; plans pci-sm and pci-sm-pasid (the IOMMU's scalable
    # modes): vfio_edu. Each must have run on both modules.
    boots = [(run, status, markers, "guest")]
    for plan, what, want in (
        ("pci", "edu behind an Intel VT-d IOMMU (legacy mode), vfio-pci, QEMU 10",
         ("vfio_edu", "qemu_consumer", "stress")),
        ("pci-sm", "the same IOMMU in scalable mode", ("vfio_edu",)),
        ("pci-sm-pasid", "the same IOMMU in scalable mode with PASID support", ("vfio_edu",)),
    ):
        prun = os.path.join(out, plan)
        pstatus, pmarkers = pci_boot(s, prun, plan, what, want, sel)
        boots.append((prun, pstatus, pmarkers, f"{plan} guest"))

    if not args.no_arm64:
        boots.append(arm64_boot(s, out, sel, args.arm64_build_failed))
    check_boots(s, boots, allowed)
    finish(s)


def arm64_boot(s, out, sel, build_failed):
    """The arm64 boot (plan arm64: virt, SMMUv3, edu): the selftest boot's suites and
    vfio_edu through the SMMUv3, which must also have logged the SMMU's event for the
    blocked DMA, on each module. -> the boots entry."""
    arun = os.path.join(out, "arm64")
    print("\n######## arm64 (qemu-system-aarch64 -M virt,iommu=smmuv3,gic-version=3, edu)")
    if build_failed:
        s.add(False, "arm64: kernel/module/selftest build (no arm64 guest run)")
        return (arun, "not run (build failed)", [], "arm64 guest")
    status, markers, suites = selftest_boot(s, arun, sel, "arm64", "arm64 ")
    for mod in ("c", "rust"):
        v = suites.get(("ours", "vfio_edu", mod))
        if not v:
            s.add(False, f"arm64 [{mod}] vfio_edu did not run")
            continue
        # The dmesg block flushed at the end of the suite: the SMMU's fault event.
        text = read(os.path.join(arun, "results.log"))
        i = text.find(f"### END ours vfio_edu [{mod}]")
        j = text.find("### DMESG END", i)
        events = re.findall(r"arm-smmu-v3 \S+: event 0x[0-9a-f]+ received", text[i:j]) if i >= 0 else []
        print(f"arm64 [{mod}] vfio_edu: {len(events)} SMMUv3 event(s) logged"
              + (f" ({events[0]})" if events else ""))
        s.add(bool(events), f"arm64 [{mod}] vfio_edu: no SMMUv3 event for the blocked DMA")
    return (arun, status, markers, "arm64 guest")


def pci_boot(s, prun, plan, what, want, sel):
    pstatus = read(os.path.join(prun, "status")).strip() or "missing"
    psuites, _, _, pmarkers = parse_guest(read(os.path.join(prun, "results.log")))
    # A C-module failure that is an upstream bug (c-baseline.txt ours-fail): C must still fail.
    _, cknown = read_baseline(os.path.join(sel, "c-baseline.txt"), "ours-fail")
    print(f"\n== {plan} boot ({what})")
    for (kind, name, mod), v in psuites.items():
        known = cknown.get(name, set()) if mod == "c" and kind == "ours" else set()
        for ok, case, sk, line in v["cases"]:
            print(f"[{mod}] {name}: {line}")
            if case in known:
                print(f"[{mod}] {name}: {case}: C fails as recorded in c-baseline.txt"
                      if not ok else f"[{mod}] {name}: {case}: passes now, c-baseline.txt says it fails")
                s.add(not ok, f"{plan} [{mod}] {name}: {case}: C baseline (recorded failure) changed")
            else:
                s.add(ok, f"{plan} [{mod}] {name}: {case}", skip=sk)
        unexpected = [c for ok, c, _, _ in v["cases"] if not ok and c not in known]
        if (v["rc"] != 0 and (unexpected or not known)) or not v["cases"]:
            s.add(False, f"{plan} [{mod}] {name}: exit {v['rc']}, {len(v['cases'])} cases")
        elif v["planned"] is not None and len(v["cases"]) < v["planned"]:
            # Died between cases (a crash or the suite's time-out) after a recorded C failure.
            s.add(False, f"{plan} [{mod}] {name}: {len(v['cases'])} of {v['planned']} cases ran")
    for mod in ("c", "rust"):
        for name in want:
            if ("ours", name, mod) not in psuites:
                s.add(False, f"{plan} [{mod}] {name} did not run")
    return pstatus, pmarkers


def check_boots(s, boots, allowed):
    # Module load/unload and the guests themselves.
    for r, st, mk, what in boots:
        print(f"\n== {what}")
        for m in mk:
            print(m)
        for mod in ("c", "rust"):
            loaded = f"### LOADED module={mod}" in mk
            unloaded = f"### UNLOADED module={mod}" in mk
            s.add(loaded and unloaded, f"{what}: module {mod}: load {loaded}, unload {unloaded}")
        s.add(st == "done", f"{what} run: {st} (see {r}/console.log)")
        bad = scan_run(r, allowed)
        print_scan(r, bad)
        s.add(not bad, f"{what} log scan")
    s.add(scanner_self_check(), "log scanner self-check")


def selftest_boot(s, run, sel, arch, label):
    """A boot with the upstream selftests and our suites on both modules (x86: plan test;
    arm64: plan arm64, whose vfio_edu is counted here like any of our suites). Every upstream
    suite's totals, the C baseline of this arch, the ratchet, every case of ours.
    -> (status, markers, suites)."""
    status = read(os.path.join(run, "status")).strip() or "missing"
    results = read(os.path.join(run, "results.log"))
    suites, dmesg, kmemleak, markers = parse_guest(results)

    # Upstream selftests: every TAP line, then one totals line per suite and module.
    print(f"\n== {label}upstream selftests (tools/testing/selftests/iommu of the pinned tree)")
    for (kind, name, mod), v in suites.items():
        if kind != "upstream":
            continue
        for _, _, _, line in v["cases"]:
            print(f"{label}[{mod}] {name}: {line}")
    totals = {}
    for (kind, name, mod), v in suites.items():
        if kind != "upstream":
            continue
        p = sum(1 for ok, _, sk, _ in v["cases"] if ok and not sk)
        sk = sum(1 for _, _, skp, _ in v["cases"] if skp)
        f = sum(1 for ok, _, _, _ in v["cases"] if not ok)
        totals[(name, mod)] = (p, f, sk)
    for (name, mod), (p, f, sk) in totals.items():
        secs = suites[("upstream", name, mod)]["seconds"]
        print(f"{label}upstream {name} [{mod}]: pass:{p} fail:{f} skip:{sk}  ({secs} s)")

    # The C baseline as recorded (for this arch).
    btotals, bfails = read_baseline(os.path.join(sel, "c-baseline.txt"), arch=arch)
    for name, want in btotals.items():
        got = totals.get((name, "c"))
        cfails = {c for ok, c, _, _ in suites.get(("upstream", name, "c"), {"cases": []})["cases"] if not ok}
        ok = got == want and cfails == bfails.get(name, set())
        if not ok:
            print(f"{label}C baseline {name}: recorded {want}, got {got}; "
                  f"new failures {sorted(cfails - bfails.get(name, set()))}, "
                  f"fixed {sorted(bfails.get(name, set()) - cfails)}")
        s.add(ok, f"{label}C module baseline for {name} differs from c-baseline.txt")

    # The ratchet: listed cases must pass with ours; report passing cases not listed yet.
    print(f"\n== {label}ratchet (tools/testing/selftests/iommufd/upstream-ratchet.txt)")
    ratchet = read_list(os.path.join(sel, "upstream-ratchet.txt"))
    rust_ok = {}
    for (kind, name, mod), v in suites.items():
        if kind == "upstream" and mod == "rust":
            for ok, case, sk, _ in v["cases"]:
                rust_ok[f"{name}:{case}"] = ok and not sk
    for entry in ratchet:
        ok = rust_ok.get(entry, False)
        if not ok:
            print(f"{label}RATCHET FAIL {entry}" + ("" if entry in rust_ok else " (did not run)"))
        s.add(ok, f"{label}ratchet: {entry}")
    new = sorted(k for k, v in rust_ok.items() if v and k not in ratchet)
    for k in new:
        print(f"{label}passes but not in the ratchet yet: {k}")
    print(f"{label}ratchet: {len(ratchet)} listed, {sum(1 for e in ratchet if rust_ok.get(e))} pass; "
          f"{len(new)} more pass unlisted")

    # Our own suites: every case, against each module.
    print(f"\n== {label}our selftests (tools/testing/selftests/iommufd)")
    _, cknown = read_baseline(os.path.join(sel, "c-baseline.txt"), "ours-fail", arch)
    _, cskip = read_baseline(os.path.join(sel, "c-baseline.txt"), "ours-skip", arch)
    for (kind, name, mod), v in suites.items():
        if kind != "ours":
            continue
        known = cknown.get(name, set()) if mod == "c" else set()
        skips = cskip.get(name, set())
        for ok, case, sk, line in v["cases"]:
            print(f"{label}[{mod}] {name}: {line}")
            if case in known:
                # The C module's recorded failure (c-baseline.txt): it must still fail.
                print(f"{label}[{mod}] {name}: {case}: C fails as recorded in c-baseline.txt"
                      if not ok else f"[{mod}] {name}: {case}: passes now, c-baseline.txt says it fails")
                s.add(not ok, f"{label}ours [{mod}] {name}: {case}: C baseline (recorded failure) changed")
            elif "*" in skips or case in skips:
                # A feature the C module lacks (c-baseline.txt ours-skip): C must skip the case,
                # which counts as skipped; ours must run it, so its skip is a failure.
                if mod == "c":
                    if not (ok and sk):
                        print(f"{label}[{mod}] {name}: {case}: did not skip, "
                              f"c-baseline.txt says C skips it")
                    s.add(ok and sk, f"{label}ours [{mod}] {name}: {case}: C baseline (recorded skip) "
                          f"changed", skip=ok and sk)
                else:
                    if sk:
                        print(f"{label}[{mod}] {name}: {case}: skipped, but our module must run it "
                              f"(c-baseline.txt ours-skip)")
                    s.add(ok and not sk, f"{label}ours [{mod}] {name}: {case}"
                          + (" (skipped)" if sk else ""))
            else:
                s.add(ok, f"{label}ours [{mod}] {name}: {case}", skip=sk)
        unexpected = [c for ok, c, _, _ in v["cases"] if not ok and c not in known]
        if (v["rc"] != 0 and (unexpected or not known)) or not v["cases"]:
            s.add(False, f"{label}ours [{mod}] {name}: exit {v['rc']}, {len(v['cases'])} cases")
    # A suite the C module skips is one ours must run: it must have run on both.
    for name in sorted(cskip):
        for mod in ("c", "rust"):
            if ("ours", name, mod) not in suites:
                s.add(False, f"{label}ours [{mod}] {name} did not run")

    return status, markers, suites

def fuzz_checks(s, results, suites):
    """The fuzzer and the differential test (Documentation/fuzz.md, plan test): both on both
    modules, and the fuzzer's budget (at least FUZZ_MIN_IOCTLS ioctls a module) really spent."""
    fuzz_totals = {m.group(1): (int(m.group(2)), float(m.group(3))) for m in re.finditer(
        r"^# module (\S+): (\d+) ioctls in ([\d.]+) s", results, re.M)}
    for mod in ("c", "rust"):
        for name in ("fuzz", "diff"):
            if ("ours", name, mod) not in suites:
                s.add(False, f"ours [{mod}] {name} did not run")
        n, secs = fuzz_totals.get(mod, (0, 0.0))
        print(f"fuzz [{mod}]: {n} ioctls in {secs:.0f} s")
        s.add(n >= FUZZ_MIN_IOCTLS, f"fuzz [{mod}]: {n} ioctls, fewer than {FUZZ_MIN_IOCTLS}")


def finish(s):
    print("\n== summary")
    for f in s.failures:
        print(f"FAILED: {f}")
    extra = f", {s.skipped} skipped" if s.skipped else ""
    print(f"{s.passed} passed, {s.failed} failed{extra}")
    sys.exit(1 if s.failed else 0)


if __name__ == "__main__":
    main()
