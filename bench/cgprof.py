#!/usr/bin/env python3
"""bench/cgprof.py: where one callgrind region's instructions go, per op.

    bench/cgprof.py DUMP [--ops N] [--top K] [--callers FUNC]... [--match SUBSTR]
                    [--lines FUNC]... [--objects]

DUMP is one of guest.sh's cg-<lib>/callgrind.out.N (one region each; the
region name and its op count come from the dump and from regions.txt next
to it, or --ops). Unlike callgrind_annotate, which splits a function into
one row per source file that was inlined into it, this sums each function
over all its inlined parts, so every function is one row:

  * self: instructions executed in the function's own code (inlined code
    included), per op and as a share of the region;
  * inclusive: self plus everything it called, per op and share;
  * for each --callers FUNC (a substring of the name), who calls it and how
    much of its inclusive cost each caller accounts for (the calls/op
    column is callgrind's call count, which can read up to ~1.4x high in a
    region toggled on and off: trust the Ir, use the count as a hint);
  * for each --lines FUNC (exact function name), its source lines (file:line,
    inlined files included) with their own Ir and the calls made there.

--match keeps only functions whose name contains SUBSTR in the listings.
--objects adds the self Ir per ELF object (the program, libdevmapper, libc,
ld.so, ...): where a whole process's instructions run.
"""
import argparse
import os
import re
import sys
from collections import defaultdict


def parse(path, line_fns=()):
    names = {}                       # compressed id -> name (fn/cfn share ids)
    files = {}                       # compressed id -> file name
    objs = {}                        # compressed id -> object name
    obj_of = {}                      # fn -> its object (the ob= before its fn=)
    cur_ob = "?"
    lines = defaultdict(int)         # (fn, file, line, callee or None) -> Ir
    cur_file = "?"
    pos = 0
    self_ir = defaultdict(int)
    edges = defaultdict(int)         # (caller, callee) -> inclusive Ir of the calls
    ncalls = defaultdict(int)
    total = 0
    region = None
    fn = None
    cfn = None
    pending_call = False

    def file_of(spec):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", spec.strip())
        if not m:
            return spec.strip()
        if m.group(2) is not None:
            files[m.group(1)] = m.group(2)
        return files.get(m.group(1), "?")

    def position(tok, base):
        if tok == "*":
            return base
        if tok[0] in "+-":
            return base + int(tok)
        return int(tok)

    def name_of(spec):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", spec.strip())
        if not m:
            return spec.strip()
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "?")

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            if line.startswith("desc: Trigger: Client Request: "):
                region = line[len("desc: Trigger: Client Request: "):]
                continue
            if line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
                continue
            if line.startswith("ob="):
                m = re.match(r"\((\d+)\)(?:\s+(.*))?$", line[3:].strip())
                if m and m.group(2) is not None:
                    objs[m.group(1)] = m.group(2)
                cur_ob = objs.get(m.group(1), "?") if m else line[3:].strip()
                continue
            if line.startswith("cob="):
                m = re.match(r"\((\d+)\)(?:\s+(.*))?$", line[4:].strip())
                if m and m.group(2) is not None:
                    objs[m.group(1)] = m.group(2)
                continue
            if line.startswith("fn="):
                fn = name_of(line[3:])
                obj_of.setdefault(fn, cur_ob)
                continue
            if line[:3] in ("fl=", "fi=", "fe="):
                cur_file = file_of(line[3:])
                continue
            if line.startswith(("cfi=", "cfl=")):
                file_of(line[4:])
                continue
            if line.startswith("cfn="):
                cfn = name_of(line[4:])
                continue
            if line.startswith("calls="):
                pending_call = True
                ncalls[(fn, cfn)] += int(line[6:].split()[0])
                # calls=N target-position: the target's position is not ours
                continue
            if "=" in line.split()[0] or ":" in line.split()[0]:
                # ob=, fl=, fi=, fe=, cob=, cfi=, cfl=, headers
                continue
            parts = line.split()
            ir = int(parts[1]) if len(parts) > 1 else 0
            pos = position(parts[0], pos)
            if pending_call:
                edges[(fn, cfn)] += ir
                pending_call = False
                if fn in line_fns:
                    lines[(fn, os.path.basename(cur_file), pos, cfn)] += ir
            else:
                self_ir[fn] += ir
                if fn in line_fns:
                    lines[(fn, os.path.basename(cur_file), pos, None)] += ir
    return region, total, self_ir, edges, ncalls, lines, obj_of


def ops_from_regions(path, region):
    regions = os.path.join(os.path.dirname(path), "regions.txt")
    try:
        for line in open(regions):
            f = line.split()
            if len(f) == 3 and f[0] == "CGR" and f[1] == region:
                return int(f[2])
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--ops", type=int)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--callers", action="append", default=[])
    ap.add_argument("--lines", action="append", default=[])
    ap.add_argument("--match")
    ap.add_argument("--objects", action="store_true")
    a = ap.parse_args()
    region, total, self_ir, edges, ncalls, lines, obj_of = parse(a.dump, set(a.lines))
    ops = a.ops or ops_from_regions(a.dump, region) or 1
    incl = defaultdict(int)
    for f, v in self_ir.items():
        incl[f] += v
    for (caller, callee), v in edges.items():
        if caller != callee:
            incl[caller] += v
    total = total or sum(self_ir.values())
    keep = (lambda n: a.match in n) if a.match else (lambda n: True)
    short = lambda n: n if len(n) <= 110 else n[:107] + "..."
    print(f"region {region or '(whole run)'}: {total:,} Ir, {ops} ops, {total / ops:,.0f} Ir/op")
    if a.objects:
        per_ob = defaultdict(int)
        for f, v in self_ir.items():
            per_ob[obj_of.get(f, "?")] += v
        print("\nself Ir per object:")
        print(f"{'Ir/op':>14} {'share':>6}  object")
        for o, v in sorted(per_ob.items(), key=lambda kv: -kv[1]):
            print(f"{v / ops:>14,.0f} {100 * v / total:>5.1f}%  {o}")
    for title, d in (("self", self_ir), ("inclusive", incl)):
        print(f"\n{title}:")
        print(f"{'Ir/op':>10} {'share':>6}  function")
        shown = 0
        for n, v in sorted(d.items(), key=lambda kv: -kv[1]):
            if shown == a.top:
                break
            if keep(n):
                shown += 1
                print(f"{v / ops:>10,.0f} {100 * v / total:>5.1f}%  {short(n)}")
    for pat in a.callers:
        targets = sorted({c for (_, c) in edges if pat in c})
        for t in targets:
            tot = sum(v for (cr, ce), v in edges.items() if ce == t and cr != t)
            print(f"\ncallers of {short(t)} ({tot / ops:,.0f} Ir/op inclusive):")
            for (cr, ce), v in sorted(edges.items(), key=lambda kv: -kv[1]):
                if ce == t and cr != t:
                    print(f"{v / ops:>10,.0f} {ncalls[(cr, ce)] / ops:>6.1f} calls/op  {short(cr)}")
    for fn in a.lines:
        rows = sorted(((k, v) for k, v in lines.items() if k[0] == fn), key=lambda kv: -kv[1])
        print(f"\nlines of {short(fn)} (self and calls, Ir/op):")
        for (_, fl, ln, callee), v in rows[: a.top * 2]:
            what = "self" if callee is None else "-> " + short(callee)
            print(f"{v / ops:>10,.0f}  {fl}:{ln}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
