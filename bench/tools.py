#!/usr/bin/env python3
"""bench/tools.py: the timing, callgrind and summary steps of `make bench-tools`.

    tools.py rounds --ours DIR --rounds N [--stderr-dir DIR] [--stdout FILE]
                    [--pre NAME=COMMAND]... NAME=COMMAND...
    tools.py cg LIB NAME DUMP...
    tools.py summary RAW

rounds: runs every workload (NAME=COMMAND, the command split on blanks) for
stock (LD_LIBRARY_PATH unset: the system library) and ours
(LD_LIBRARY_PATH=DIR), each run a fresh process with stdout on FILE
(truncated first; default /dev/null), after the workload's --pre command
if it has one (untimed, on stock; e.g. I/O so that counters are not zero),
rounds alternating the order (odd: stock then ours; even: ours then stock)
and, inside a round, both libraries back to back for each workload. Prints
per run `RES <lib> <name> wall_ms|user_ms|sys_ms <value>` (wall: spawn to
wait4; CPU from wait4's rusage; not peak RSS: a child forked from Python
reports at least Python's), and for every
`PHASE <phase> <ms>` line the program writes on stderr (report-bench)
`RES <lib> <name>.<phase> ms <value>`. Any other stderr goes to
<stderr-dir>/stderr-<lib>.txt; a failed run prints `ERR ...`.

cg: the Ir of one callgrind run of workload NAME on LIB, from its dumps (a
run that dumps on request leaves several: their totals add up to the whole
process): `CG <lib> <name> <Ir> 1` for the whole process, plus
`CG <lib> <name>.<region> <Ir> 1` for each dump made on request (e.g.
report-bench's "report": the dm_report_* calls alone).

summary: the tables of bench/README.md ("Tools") from a raw file of RES,
CG, CHECK and WHERE lines: wall time and userspace instructions, ours/stock,
and issue 8's goal (ours no slower than stock, at most stock's Ir) as met /
NOT MET. Exit status 0 whatever the verdicts; 1 without any result.
"""
import os
import subprocess
import sys
import time
from collections import defaultdict

sys.dont_write_bytecode = True     # no bench/__pycache__ from the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import med, ratio, spread, table  # noqa: E402  (bench/summary.py)

LIBS = ("stock", "ours")
# Workloads in table order, with what they are; phases and regions follow
# their workload.
ORDER = ["info-c", "ls-tree", "dmstats-report", "report-bench"]
WHAT = {
    "info-c": "dmsetup info -c",
    "ls-tree": "dmsetup ls --tree",
    "dmstats-report": "dmstats report",
    "report-bench": "report-bench (dm_report_*)",
}


# Callgrind dumps made on request (report-bench's).
REGION = {
    "report": "  dm_report_* calls only",
    "rows": "  start-up, making the rows",
}


PHASES = ["init", "objects", "output", "free", "rows", "report"]


def key(name):
    base, _, sub = name.partition(".")
    return (ORDER.index(base) if base in ORDER else 99, name != base,
            PHASES.index(sub) if sub in PHASES else 99, name)


# ---- rounds ---------------------------------------------------------------

def run_once(lib, name, argv, ours, errfile, stdout, pre):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    if pre:
        r = subprocess.run(pre, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
        if r.returncode != 0:
            return [f"ERR {lib} {name}: {' '.join(pre)} exited {r.returncode}"]
    if lib == "ours":
        env["LD_LIBRARY_PATH"] = ours
    out = open(stdout, "wb")
    t0 = time.perf_counter_ns()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.PIPE, env=env)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    t1 = time.perf_counter_ns()
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    out.close()
    out = [f"RES {lib} {name} wall_ms {(t1 - t0) / 1e6:.3f}",
           f"RES {lib} {name} user_ms {ru.ru_utime * 1e3:.1f}",
           f"RES {lib} {name} sys_ms {ru.ru_stime * 1e3:.1f}"]
    other = []
    for line in err.decode(errors="replace").splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "PHASE":
            out.append(f"RES {lib} {name}.{f[1]} ms {f[2]}")
        elif f and f[0] != "LIB":
            other.append(line)
    if other:
        errfile.write(f"# {lib} {name}\n" + "\n".join(other) + "\n")
        errfile.flush()
    if p.returncode != 0:
        out.append(f"ERR {lib} {name}: exit status {p.returncode}")
    return out


def cmd_rounds(args):
    ours, rounds, errdir, stdout, wls, pre = None, 5, ".", os.devnull, [], {}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--ours", "--rounds", "--stderr-dir", "--stdout", "--pre"):
            v = args[i + 1]
            i += 2
            if a == "--ours":
                ours = v
            elif a == "--rounds":
                rounds = int(v)
            elif a == "--stdout":
                stdout = v
            elif a == "--pre":
                pname, _, pcmd = v.partition("=")
                pre[pname] = pcmd.split()
            else:
                errdir = v
            continue
        if "=" not in a:
            print(f"tools.py rounds: bad workload {a!r} (NAME=COMMAND)", file=sys.stderr)
            return 2
        name, cmd = a.split("=", 1)
        wls.append((name, cmd.split()))
        i += 1
    if not ours or not wls:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    errf = {lib: open(os.path.join(errdir, f"stderr-{lib}.txt"), "a") for lib in LIBS}
    failed = 0
    for r in range(1, rounds + 1):
        order = LIBS if r % 2 else LIBS[::-1]
        print(f"== round {r}/{rounds}: {' '.join(order)}", file=sys.stderr, flush=True)
        for name, argv in wls:
            for lib in order:
                print(f"# round {r} {lib} {name}")
                lines = run_once(lib, name, argv, ours, errf[lib], stdout, pre.get(name))
                print("\n".join(lines), flush=True)
                for l in lines:
                    if l.startswith("ERR"):
                        failed = 1
                        print(l, file=sys.stderr)
    return failed


# ---- callgrind --------------------------------------------------------------

def dump_info(path):
    trigger, total = None, None
    with open(path) as f:
        for line in f:
            if line.startswith("desc: Trigger: "):
                trigger = line[len("desc: Trigger: "):].strip()
            elif line.startswith("totals: ") or (total is None and line.startswith("summary: ")):
                total = int(line.split()[1])
    return trigger, total


def cmd_cg(args):
    if len(args) < 3:
        print("usage: tools.py cg LIB NAME DUMP...", file=sys.stderr)
        return 2
    lib, name, dumps = args[0], args[1], args[2:]
    whole = 0
    regions = []
    for d in dumps:
        trigger, total = dump_info(d)
        if total is None:
            print(f"ERR {lib} {name}: no totals in {d}")
            return 1
        whole += total
        req = "Client Request: "
        if trigger and trigger.startswith(req):
            regions.append((trigger[len(req):], total))
    print(f"CG {lib} {name} {whole} 1")
    for reg, total in regions:
        print(f"CG {lib} {name}.{reg} {total} 1")
    return 0


# ---- summary ----------------------------------------------------------------

def load(path):
    res = defaultdict(list)          # (lib, name, metric) -> values over rounds
    cg = {}                          # (lib, name) -> Ir
    checks = {}                      # name -> "same" / text
    where = {}                       # cg name -> "host" / "guest"
    errors = []
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "RES" and len(f) == 5:
            res[(f[1], f[2], f[3])].append(float(f[4]))
        elif f[0] == "CG" and len(f) == 5:
            cg[(f[1], f[2])] = int(f[3].replace(",", "")) / int(f[4])
        elif f[0] == "CHECK" and len(f) >= 3:
            checks[f[1]] = " ".join(f[2:])
        elif f[0] == "WHERE" and len(f) >= 3:
            where[f[1]] = " ".join(f[2:])
        elif f[0] == "ERR":
            errors.append(line.strip())
    return res, cg, checks, where, errors


def fms(v):
    if v is None:
        return "-"
    return f"{v:.0f} ms" if v >= 1000 else f"{v:.1f} ms" if v >= 1 else f"{v:.3f} ms"


def fir(v):
    if v is None:
        return "-"
    if v >= 1e9:
        return f"{v / 1e9:.3f} G"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    return f"{v:,.0f}"


def cmd_summary(args):
    if len(args) != 1:
        print("usage: tools.py summary RAW", file=sys.stderr)
        return 2
    res, cg, checks, where, errors = load(args[0])
    if not res and not cg:
        print("tools.py summary: no results", file=sys.stderr)
        return 1
    verdicts = []

    def verdict(what, name, ok):
        verdicts.append((what, name, ok))
        return "met" if ok else "NOT MET"

    nrounds = max((len(v) for (l, n, m), v in res.items() if m == "wall_ms"), default=0)
    names = sorted({n for (_, n, m) in res if m in ("wall_ms", "ms")}, key=key)
    if names:
        print()
        print(f"Wall time (whole process, spawn to exit; median over {nrounds} rounds, "
              f"± = half the min-max range; report-bench phases from inside the process)")
        print()
        rows = []
        for n in names:
            m = "wall_ms" if (LIBS[0], n, "wall_ms") in res else "ms"
            v = {lib: res.get((lib, n, m), []) for lib in LIBS}
            mv = {lib: med(v[lib]) for lib in LIBS}
            main = m == "wall_ms"
            goal = "-"
            if main and mv["stock"] and mv["ours"] is not None:
                goal = verdict("wall", n, mv["ours"] <= mv["stock"]) + " (<= 1.0x)"
            label = WHAT.get(n, "  phase " + n.split(".", 1)[1] if "." in n else n)
            rows.append([label] + [fms(mv[lib]) + spread(v[lib]) for lib in LIBS] +
                        [ratio(mv["ours"], mv["stock"]), goal])
        table(["workload", "stock", "ours", "ours/stock", "goal"], rows)

        print()
        print("CPU time of the whole process (wait4 rusage, median over rounds; tick-sampled: rough)")
        print()
        rows = []
        for n in [n for n in names if (LIBS[0], n, "user_ms") in res]:
            mm = {(lib, m): med(res.get((lib, n, m), [])) for lib in LIBS for m in ("user_ms", "sys_ms")}
            rows.append([WHAT.get(n, n)] +
                        [f"{mm[(lib, 'user_ms')]:.0f} / {mm[(lib, 'sys_ms')]:.0f}" for lib in LIBS])
        table(["workload", "stock user/sys ms", "ours user/sys ms"], rows)

    if cg:
        print()
        print("Userspace instructions (callgrind Ir of the whole process, start-up included;"
              " rep-string memset/memcpy disabled in glibc)")
        print()
        rows = []
        for n in sorted({n for (_, n) in cg}, key=key):
            v = {lib: cg.get((lib, n)) for lib in LIBS}
            goal = "-"
            if v["stock"] and v["ours"] is not None and not n.endswith(".rows"):
                goal = verdict("Ir", n, v["ours"] <= v["stock"]) + " (<= 1.0x)"
            base = n.split(".")[0]
            label = WHAT.get(n) or REGION.get(n.split(".", 1)[-1], "  " + n)
            rows.append([label, where.get(base, "guest").split()[0]] + [fir(v[lib]) for lib in LIBS] +
                        [ratio(v["ours"], v["stock"]), goal])
        table(["workload", "where", "stock Ir", "ours Ir", "ours/stock", "goal"], rows)
        for n, w in sorted(where.items()):
            if not w.startswith("guest"):
                print(f"\n{WHAT.get(n, n)}: counted on the {w}, not in the VM (no kernel needed;"
                      " the guest's libc may pick other string functions)")

    if checks:
        print()
        print("Output check (each workload once per library before the rounds): " +
              ", ".join(f"{WHAT.get(n, n)}: {c}" for n, c in sorted(checks.items(), key=lambda kv: key(kv[0]))))
    if errors:
        print()
        print(f"{len(errors)} errors, first: {errors[0]}")
    if verdicts:
        missed = [v for v in verdicts if not v[2]]
        print()
        print(f"Issue 8 speed goals: {len(verdicts) - len(missed)} of {len(verdicts)} met", end="")
        print("; not met: " + ", ".join(f"{w} {WHAT.get(n, n)}" for w, n, _ in missed) if missed else "")
    return 0


def main():
    cmds = {"rounds": cmd_rounds, "cg": cmd_cg, "summary": cmd_summary}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
