#!/usr/bin/env python3
"""Where the ioctl time goes, from a make-profile run's call chains (out/profile/{c,rust}.txt).

    scripts/profile_chains.py out/profile/rust.txt [--root SYM] [--callers SYM]...

Counts only samples whose chain passes through the ioctl syscall (or --root), and prints per
function: inclusive and self samples, as a share of those samples. --callers SYM breaks the
inclusive samples of functions matching SYM down by their nearest caller in our module (or
the nearest caller at all). Rust v0 symbols are shortened to their path.
"""
import argparse
import collections
import re
import sys


def short(sym):
    if not sym.startswith("_R"):
        return sym
    idents = []
    i = 0
    s = sym
    while i < len(s):
        m = re.match(r"(\d+)(_?)", s[i:])
        if m and s[i - 1:i] not in "0123456789":
            n = int(m.group(1))
            start = i + len(m.group(0))
            ident = s[start:start + n]
            if len(ident) == n and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", ident or "-"):
                idents.append(ident)
                i = start + n
                continue
        i += 1
    drop = {"kernel", "core", "iommufd_rs", "iommufd_core", "alloc"}
    keep = [x for x in idents if x not in drop]
    return "::".join(keep[-3:]) if keep else sym


def chains(path):
    text = open(path, errors="replace").read()
    if "## chains" not in text:
        sys.exit(f"{path}: no '## chains' section (make profile writes it)")
    body = text.split("## chains", 1)[1]
    for rec in body.strip("\n").split("\n\n"):
        syms = [l.strip() for l in rec.splitlines() if l.strip()]
        if syms:
            yield syms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--root", default="__x64_sys_ioctl")
    ap.add_argument("--callers", action="append", default=[])
    ap.add_argument("--top", type=int, default=45)
    a = ap.parse_args()
    total = 0
    inroot = 0
    incl = collections.Counter()
    selfc = collections.Counter()
    callers = collections.defaultdict(collections.Counter)
    for syms in chains(a.file):
        total += 1
        if a.root not in syms:
            continue
        inroot += 1
        names = [short(s) for s in syms[: syms.index(a.root)]]
        selfc[names[0] if names else a.root] += 1
        for n in set(names):
            incl[n] += 1
        for pat in a.callers:
            for i, n in enumerate(names):
                if re.search(pat, n):
                    up = [x for x in names[i + 1:] if not re.search(pat, x)]
                    caller = up[0] if up else a.root
                    callers[pat][caller] += 1
                    break
    print(f"{a.file}: {total} samples, {inroot} under {a.root}")
    print(f"{'incl':>6} {'self':>6}  function (samples under the root)")
    for n, c in incl.most_common(a.top):
        print(f"{c:6d} {selfc.get(n, 0):6d}  {n}")
    for pat, cnt in callers.items():
        print(f"\ncallers of /{pat}/:")
        for n, c in cnt.most_common(15):
            print(f"{c:6d}  {n}")


main()
