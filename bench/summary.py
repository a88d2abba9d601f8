#!/usr/bin/env python3
"""bench/summary.py RAW: the tables of bench/README.md from a raw.txt.

Reads the RES lines (timed rounds) and CG lines (callgrind) that
bench/guest.sh collected for stock, ours and floor, and prints markdown
tables: wall time, userspace instructions, peak RSS, the CPU split, and
issue 11's goals as met / NOT MET; then, when dm-bench-rust ran (lib
"rust"), the Rust API against the C API (ours): wall and Ir ratios, goal
rust <= C. Exit status 0 whatever the verdicts (a
missed goal is a result, not a failure); 1 only when the input has no
results at all.
"""
import statistics as st
import sys
from collections import defaultdict

LIBS = ("stock", "ours", "floor")
ORDER = ["info", "status", "table", "deps", "message", "list",
         "lifecycle.create", "lifecycle.remove",
         "bigtable.build", "bigtable.load", "bigtable.build+load",
         "bigtable.table_first", "bigtable.table", "bigtable.info_after", "startup"]
PER_TARGET = ("bigtable.build", "bigtable.load", "bigtable.build+load",
              "bigtable.table_first", "bigtable.table")

# Issue 11's goals.
WALL_GOAL = 1.3                      # ours <= 1.3 x floor, wall time ...
WALL_EXEMPT = ("lifecycle.remove", "startup")      # ... except these
WALL_PARTS = ("bigtable.build", "bigtable.load")   # judged as build+load
IR_SMALL = ("info", "status", "table", "deps", "message",
            "lifecycle.create", "lifecycle.remove", "bigtable.info_after")
IR_SMALL_RATIO, IR_SMALL_SLACK = 2.0, 1500          # <= 2x, or <= floor + 1500
IR_BIG = ("list", "bigtable.build+load", "bigtable.table_first", "bigtable.table")
IR_BIG_RATIO = 3.0
RSS_GOAL = 1.10                      # bigtable.load peak RSS <= floor + 10 %
# The Rust API (dm-bench-rust, lib "rust") against the C API (ours): rust <= C.
RUST_WL = ("info", "status", "table", "deps", "message", "list",
           "bigtable.table_first", "bigtable.table")


def key(w):
    return (ORDER.index(w) if w in ORDER else 99, w)


def load(path):
    res = defaultdict(list)          # (lib, wl, metric) -> [values], over rounds
    byround = defaultdict(dict)      # (lib, wl, metric) -> {round: value}
    cg = {}                          # (lib, region) -> (Ir, ops)
    rnd = None
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "#" and len(f) >= 4 and f[1] == "round":
            rnd = f[2]
        elif f[0] == "RES" and len(f) == 5:
            k = (f[1], f[2], f[3])
            res[k].append(float(f[4]))
            if rnd is not None:
                byround[k][rnd] = float(f[4])
        elif f[0] == "CG" and len(f) == 5:
            cg[(f[1], f[2])] = (int(f[3].replace(",", "")), int(f[4]))
    # bigtable.build+load: the sum of the two phases, per round (not for
    # rust, which loads no table of its own).
    for lib in LIBS:
        b = byround.get((lib, "bigtable.build", "ms"), {})
        l = byround.get((lib, "bigtable.load", "ms"), {})
        for r in sorted(set(b) & set(l)):
            res[(lib, "bigtable.build+load", "ms")].append(b[r] + l[r])
        if (lib, "bigtable.build") in cg and (lib, "bigtable.load") in cg:
            (ib, ob), (il, ol) = cg[(lib, "bigtable.build")], cg[(lib, "bigtable.load")]
            if ob == ol:
                cg[(lib, "bigtable.build+load")] = (ib + il, ob)
    return res, cg, len({r for d in byround.values() for r in d})


def med(vals):
    return st.median(vals) if vals else None


def spread(vals):
    if len(vals) < 2:
        return ""
    m = st.median(vals)
    return f" ±{(max(vals) - min(vals)) / 2 / m * 100:.0f}%" if m else ""


def tfmt(v, unit):
    if v is None:
        return "-"
    if unit == "ms":
        return f"{v:.2f} ms"
    if v >= 10000:
        return f"{v / 1000:.2f} ms"
    return f"{v:.1f} us"


def mib(v):
    return "-" if v is None else f"{v / 1024:.2f} MiB"


def ratio(a, b):
    if a is None or not b:
        return "-"
    r = a / b
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.4f}x"


def table(head, rows):
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(
        str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i]) for i, c in enumerate(cells)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        print(line(r))


def main():
    if len(sys.argv) != 2:
        print("usage: summary.py RAW", file=sys.stderr)
        return 2
    res, cg, nrounds = load(sys.argv[1])
    if not res and not cg:
        print("summary.py: no results", file=sys.stderr)
        return 1
    verdicts = []                    # (table, row, goal, met)

    def verdict(tab, row, goal, met):
        verdicts.append((tab, row, goal, met))
        return ("met" if met else "NOT MET") + f" ({goal})"

    # ---- wall time ------------------------------------------------------
    keys = sorted({(w, m) for (_, w, m) in res if m in ("p50_us", "ms")}, key=lambda k: key(k[0]))
    if keys:
        print()
        print(f"Wall time (p50 per op, or mean for the single bigtable ops; median over "
              f"{nrounds} rounds; ± = half the min-max range over rounds)")
        print()
        rows = []
        for w, m in keys:
            v = {lib: res.get((lib, w, m), []) for lib in LIBS}
            mv = {lib: med(v[lib]) for lib in LIBS}
            if w in WALL_EXEMPT:
                goal = "exempt"
            elif w in WALL_PARTS:
                goal = "see build+load"
            elif mv["ours"] is None or not mv["floor"]:
                goal = "-"
            else:
                goal = verdict("wall", w, f"<= {WALL_GOAL}x", mv["ours"] <= WALL_GOAL * mv["floor"])
            rows.append([w] + [tfmt(mv[lib], m) + spread(v[lib]) for lib in LIBS] +
                        [ratio(mv["ours"], mv["floor"]), ratio(mv["stock"], mv["floor"]),
                         ratio(mv["ours"], mv["stock"]), goal])
        table(["workload", "stock", "ours", "floor", "ours/floor", "stock/floor",
               "ours/stock", "goal: ours vs floor"], rows)

    # ---- callgrind --------------------------------------------------------
    if cg:
        print()
        print("Userspace instructions (callgrind Ir per op; bigtable build/load/table: per target;"
              " rep-string memset/memcpy disabled in glibc)")
        print()
        rows = []
        for r in sorted({r for (_, r) in cg}, key=key):
            per = {lib: (cg[(lib, r)][0] / cg[(lib, r)][1]) if (lib, r) in cg else None for lib in LIBS}
            ops = next(cg[(lib, r)][1] for lib in LIBS if (lib, r) in cg)
            o, f = per["ours"], per["floor"]
            if o is None or f is None:
                goal = "-"
            elif r in IR_SMALL:
                goal = verdict("Ir", r, f"<= {IR_SMALL_RATIO:g}x or +{IR_SMALL_SLACK}",
                               o <= IR_SMALL_RATIO * f or o <= f + IR_SMALL_SLACK)
            elif r in IR_BIG:
                goal = verdict("Ir", r, f"<= {IR_BIG_RATIO:g}x", o <= IR_BIG_RATIO * f)
            elif r in WALL_PARTS:
                goal = "see build+load"
            else:
                goal = "-"
            fm = lambda v: "-" if v is None else f"{v:,.1f}" if v < 100 else f"{v:,.0f}"
            rows.append([r + (" /target" if r in PER_TARGET else ""), ops] +
                        [fm(per[lib]) for lib in LIBS] +
                        [ratio(o, f), ratio(per["stock"], f), ratio(o, per["stock"]), goal])
        table(["region", "ops", "stock Ir/op", "ours Ir/op", "floor Ir/op", "ours/floor",
               "stock/floor", "ours/stock", "goal: ours vs floor"], rows)

    # ---- peak RSS ---------------------------------------------------------
    rssw = sorted({w for (_, w, m) in res if m == "rss_kib"}, key=key)
    if rssw:
        print()
        print("Peak RSS (wait4 ru_maxrss of the workload's process, median over rounds;"
              " bigtable.load: the child that only builds and loads the table)")
        print()
        rows = []
        for w in rssw:
            mv = {lib: med(res.get((lib, w, "rss_kib"), [])) for lib in LIBS}
            goal = "-"
            if w == "bigtable.load" and mv["ours"] is not None and mv["floor"]:
                goal = verdict("RSS", w, "<= floor + 10%", mv["ours"] <= RSS_GOAL * mv["floor"])
            diff = "-" if mv["ours"] is None or mv["floor"] is None else \
                f"{(mv['ours'] - mv['floor']) / 1024:+.2f} MiB"
            rows.append([w] + [mib(mv[lib]) for lib in LIBS] +
                        [ratio(mv["ours"], mv["floor"]), diff, ratio(mv["stock"], mv["floor"]), goal])
        table(["workload", "stock", "ours", "floor", "ours/floor", "ours-floor", "stock/floor",
               "goal: ours vs floor"], rows)

    # ---- CPU split ----------------------------------------------------------
    cpuw = sorted({w for (_, w, m) in res if m == "user_ms"}, key=key)
    if cpuw:
        print()
        print("CPU per op (getrusage deltas, tick-sampled at 4 ms: rough) and minor page faults per op")
        print()
        nan = float("nan")
        mm = lambda lib, w, m: med(res.get((lib, w, m), [])) if res.get((lib, w, m)) else nan
        rows = [[w] + [f"{mm(lib, w, 'user_ms'):.2f} / {mm(lib, w, 'sys_ms'):.2f}" for lib in LIBS] +
                [f"{mm(lib, w, 'minflt'):.1f}" for lib in LIBS] for w in cpuw]
        table(["workload"] + [f"{lib} user/sys ms" for lib in LIBS] +
              [f"{lib} minflt" for lib in LIBS], rows)

    # ---- Rust API vs C API --------------------------------------------------
    if any(lib == "rust" for (lib, _, _) in res) or any(lib == "rust" for (lib, _) in cg):
        print()
        print("Rust API vs C API (ours): dm-bench-rust (the devmapper crate, replies read in place:"
              " table_reply, status_reply, list_reply, deps_reply, target_message_reply) against"
              " dm-bench on ours; wall as above"
              " (median over rounds; bigtable: the whole read), Ir per op (bigtable: per target)")
        print()
        rows = []
        for w in RUST_WL:
            m = "ms" if w.startswith("bigtable.") else "p50_us"
            cv, rv = res.get(("ours", w, m), []), res.get(("rust", w, m), [])
            c, r = med(cv), med(rv)
            if c is None or r is None:
                wgoal = "-"
            else:
                wgoal = verdict("rust wall", w, "rust <= C", r <= c)
            ci = cg.get(("ours", w))
            ri = cg.get(("rust", w))
            cper = ci[0] / ci[1] if ci else None
            rper = ri[0] / ri[1] if ri else None
            if cper is None or rper is None:
                igoal = "-"
            else:
                igoal = verdict("rust Ir", w, "rust <= C", rper <= cper)
            fm = lambda v: "-" if v is None else f"{v:,.1f}" if v < 100 else f"{v:,.0f}"
            rows.append([w,
                         tfmt(c, m) + spread(cv), tfmt(r, m) + spread(rv), ratio(r, c), wgoal,
                         fm(cper), fm(rper), ratio(rper, cper), igoal])
        table(["workload", "C wall", "rust wall", "rust/C", "goal (wall)",
               "C Ir/op", "rust Ir/op", "rust/C", "goal (Ir)"], rows)

    # ---- goals ----------------------------------------------------------------
    if verdicts:
        missed = [v for v in verdicts if not v[3]]
        print()
        print(f"Issue 11 goals: {len(verdicts) - len(missed)} of {len(verdicts)} met", end="")
        print("; not met: " + ", ".join(f"{t} {r} ({g})" for t, r, g, _ in missed) if missed else "")

    return 0


if __name__ == "__main__":
    sys.exit(main())
