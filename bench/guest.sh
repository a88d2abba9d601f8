#!/bin/bash
# bench/guest.sh - the guest side of bench/run.sh (runs as root inside the VM;
# see bench/README.md). Needs a kernel with device-mapper and no bench-*
# devices of anyone else: it creates and removes bench-* devices.
#
#   bench/guest.sh            (environment below)
#
#   DMB_BIN       the dm-bench binary (default <repo>/build/bench/dm-bench)
#   DMB_OURS      directory holding our libdevmapper.so.1.02.1
#                 (default <repo>/build/lib); stock is the system library
#   DMB_OUT       where raw results and callgrind dumps go (default a new
#                 /tmp/dm-bench.XXXXXX)
#   DMB_ROUNDS    timed rounds, library order rotated per round (default 3)
#   DMB_CALLGRIND 1 to run the callgrind pass (default), 0 to skip it
#   DMB_WORKLOADS timed workloads (default: info status table deps message
#                 list lifecycle bigtable startup)
#   DMB_N, DMB_T, ...   sizes, passed to dm-bench (see bench/dm-bench.c)
#
# Prints progress, then the summary table (medians over the rounds).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BIN=${DMB_BIN:-$REPO/build/bench/dm-bench}
OURS=${DMB_OURS:-$REPO/build/lib}
ROUNDS=${DMB_ROUNDS:-3}
CG=${DMB_CALLGRIND:-1}
N=${DMB_N:-200}
export DMB_N=$N
OUT=${DMB_OUT:-$(mktemp -d /tmp/dm-bench.XXXXXX)}
mkdir -p "$OUT"
RAW=$OUT/raw.txt
: >"$RAW"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

[ -x "$BIN" ] || { echo "guest.sh: $BIN not built (run bench/run.sh)" >&2; exit 2; }
[ -f "$OURS/libdevmapper.so.1.02.1" ] || { echo "guest.sh: no $OURS/libdevmapper.so.1.02.1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "guest.sh: must run as root" >&2; exit 2; }

T0=$(date +%s)
elapsed() { echo "$(($(date +%s) - T0))s"; }

# run LIB CMD...: dm-bench with stock (system library) or ours.
run() {
    local lib=$1; shift
    if [ "$lib" = ours ]; then
        LD_LIBRARY_PATH=$OURS "$@"
    else
        env -u LD_LIBRARY_PATH "$@"
    fi
}

{
    echo "# kernel $(uname -r), dm $(dmsetup version 2>/dev/null | sed -n 's/^Driver version: *//p')"
    echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) vCPU," \
        "erms=$(grep -qw erms /proc/cpuinfo && echo yes || echo no)," \
        "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
    echo "# stock: $(run stock "$BIN" libinfo)"
    echo "# ours:  $(run ours "$BIN" libinfo)"
} | tee -a "$RAW"

status=0
cleanup() {
    run stock "$BIN" teardown >>"$RAW" || status=1
    left=$(dmsetup ls 2>/dev/null | grep -c '^bench-')
    if [ "$left" != 0 ]; then
        echo "guest.sh: $left bench-* devices left after teardown" >&2
        status=1
    fi
}

# Leftovers from an interrupted run (only possible on a reused kernel).
run stock "$BIN" teardown >/dev/null 2>&1

echo "== setup: $N linear devices on bench-base, bench-msg with one stats region ($(elapsed))"
if ! run stock "$BIN" setup "$N" >>"$RAW"; then
    echo "guest.sh: setup failed" >&2
    grep ^ERR "$RAW" >&2
    cleanup
    exit 1
fi

# Rounds rotate the library order; inside a round every workload runs for
# both libraries back to back (each run a fresh process), so slow drifts of
# the host (other VMs, TCG) hit both sides alike.
WLS=${DMB_WORKLOADS:-info status table deps message list lifecycle bigtable startup}
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="stock ours"; else order="ours stock"; fi
    echo "== round $r/$ROUNDS: $order ($(elapsed))"
    for wl in $WLS; do
        for lib in $order; do
            echo "# round $r $lib $wl" >>"$RAW"
            if ! run "$lib" "$BIN" run "$lib" "$wl" >>"$RAW" 2>>"$OUT/stderr-$lib.txt"; then
                echo "guest.sh: round $r $lib $wl failed:" >&2
                grep ^ERR "$RAW" | tail -3 >&2
                tail -3 "$OUT/stderr-$lib.txt" >&2
                status=1
            fi
        done
    done
done

if [ "$CG" = 1 ] && command -v valgrind >/dev/null; then
    # rep-string memset/memcpy disabled in glibc, as in the baseline's main
    # callgrind column: valgrind counts each rep iteration as an instruction.
    tun=glibc.cpu.x86_rep_stosb_threshold=1099511627776:glibc.cpu.x86_rep_movsb_threshold=1099511627776
    for lib in stock ours; do
        echo "== callgrind: $lib ($(elapsed))"
        mkdir -p "$OUT/cg-$lib"
        if ! run "$lib" env GLIBC_TUNABLES=$tun valgrind --tool=callgrind --collect-atstart=no \
            --callgrind-out-file="$OUT/cg-$lib/callgrind.out" "$BIN" callgrind \
            >"$OUT/cg-$lib/regions.txt" 2>"$OUT/cg-$lib/valgrind.txt"; then
            echo "guest.sh: callgrind $lib failed:" >&2
            grep ^ERR "$OUT/cg-$lib/regions.txt" >&2
            tail -5 "$OUT/cg-$lib/valgrind.txt" >&2
            status=1
            continue
        fi
        # One dump per region: "desc: Trigger: Client Request: <region>" and
        # "totals: <Ir>"; regions.txt has "CGR <region> <ops>".
        for f in "$OUT/cg-$lib"/callgrind.out.*; do
            [ -f "$f" ] || continue
            reg=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
            ir=$(sed -n 's/^totals: //p' "$f")
            ops=$(awk -v r="$reg" '$1 == "CGR" && $2 == r { print $3 }' "$OUT/cg-$lib/regions.txt")
            [ -n "$reg" ] && [ -n "$ops" ] && echo "CG $lib $reg $ir $ops" >>"$RAW"
        done
    done
elif [ "$CG" = 1 ]; then
    echo "guest.sh: valgrind not found, callgrind skipped" >&2
fi

echo "== teardown ($(elapsed))"
cleanup
echo "== done in $(elapsed); raw results in $RAW"

if grep -q ^ERR "$RAW" "$OUT"/cg-*/regions.txt 2>/dev/null; then
    echo "guest.sh: errors:" >&2
    cat "$RAW" "$OUT"/cg-*/regions.txt 2>/dev/null | grep ^ERR | sort | uniq -c | head -20 >&2
    status=1
fi

"$PY" - "$RAW" <<'EOF' || status=1
import sys, statistics as st
from collections import defaultdict

res = defaultdict(list)   # (lib, workload, metric) -> values over rounds
cg = {}                   # (lib, region) -> (Ir, ops)
rounds = set()
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    if f[0] == "#" and len(f) >= 4 and f[1] == "round":
        rounds.add(f[2])
    if f[0] == "RES" and len(f) == 5:
        res[(f[1], f[2], f[3])].append(float(f[4]))
    elif f[0] == "CG" and len(f) == 5:
        cg[(f[1], f[2])] = (int(f[3].replace(",", "")), int(f[4]))

def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "rss_kib":
        return f"{v / 1024:.2f} MiB"
    if unit == "ms":
        return f"{v:.2f} ms"
    if v >= 10000:
        return f"{v / 1000:.2f} ms"
    return f"{v:.1f} us"

def rfmt(r):
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.4f}x"

def spread(vals):
    if len(vals) < 2:
        return ""
    m = st.median(vals)
    return f"±{(max(vals) - min(vals)) / 2 / m * 100:.0f}%" if m else ""

order = ["info", "status", "table", "deps", "message", "list",
         "lifecycle.create", "lifecycle.remove", "bigtable.build", "bigtable.load",
         "bigtable.table_first", "bigtable.table", "bigtable.info_after", "startup"]
keys = sorted({(w, m) for (_, w, m) in res if m in ("p50_us", "ms")},
              key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[0]))

print()
print(f"Timed (p50 per op, or mean for single bigtable ops; median over {len(rounds)} rounds;"
      " ± = half the min-max range over rounds)")
print()
print(f"| {'workload':<22} | {'stock':>20} | {'ours':>20} | {'ours/stock':>10} |")
print(f"|{'-' * 24}|{'-' * 22}|{'-' * 22}|{'-' * 12}|")
for w, m in keys:
    s, o = res.get(("stock", w, m), []), res.get(("ours", w, m), [])
    sm = st.median(s) if s else None
    om = st.median(o) if o else None
    ratio = rfmt(om / sm) if sm and om is not None else "-"
    print(f"| {w:<22} | {fmt(sm, m) + ' ' + spread(s):>20} | {fmt(om, m) + ' ' + spread(o):>20} | {ratio:>10} |")

print()
print("Peak RSS (wait4 ru_maxrss of the workload child, median over rounds)")
print()
print(f"| {'workload':<22} | {'stock':>12} | {'ours':>12} | {'ours/stock':>10} |")
print(f"|{'-' * 24}|{'-' * 14}|{'-' * 14}|{'-' * 12}|")
for w in ["info", "status", "list", "lifecycle", "bigtable"]:
    s, o = res.get(("stock", w, "rss_kib"), []), res.get(("ours", w, "rss_kib"), [])
    if not s and not o:
        continue
    sm = st.median(s) if s else None
    om = st.median(o) if o else None
    ratio = f"{om / sm:.2f}x" if sm and om is not None else "-"
    print(f"| {w:<22} | {fmt(sm, 'rss_kib'):>12} | {fmt(om, 'rss_kib'):>12} | {ratio:>10} |")

cpuw = sorted({w for (_, w, m) in res if m == "user_ms"},
              key=lambda w: (order.index(w) if w in order else 99, w))
if cpuw:
    print()
    print("CPU per op (getrusage deltas, tick-sampled at 4 ms: rough) and minor page faults per op")
    print()
    print(f"| {'workload':<22} | {'stock user/sys ms':>18} | {'ours user/sys ms':>18} | {'stock minflt':>12} | {'ours minflt':>12} |")
    print(f"|{'-' * 24}|{'-' * 20}|{'-' * 20}|{'-' * 14}|{'-' * 14}|")
    med = lambda lib, w, m: st.median(res[(lib, w, m)]) if res.get((lib, w, m)) else float("nan")
    for w in cpuw:
        us = f"{med('stock', w, 'user_ms'):.2f} / {med('stock', w, 'sys_ms'):.2f}"
        uo = f"{med('ours', w, 'user_ms'):.2f} / {med('ours', w, 'sys_ms'):.2f}"
        print(f"| {w:<22} | {us:>18} | {uo:>18} | {med('stock', w, 'minflt'):>12.1f} | {med('ours', w, 'minflt'):>12.1f} |")

if cg:
    print()
    print("Callgrind: userspace instructions (Ir) per op, rep-string disabled in glibc"
          " (bigtable build/load/table: per target)")
    print()
    print(f"| {'region':<22} | {'ops':>5} | {'stock Ir/op':>12} | {'ours Ir/op':>12} | {'ours/stock':>10} |")
    print(f"|{'-' * 24}|{'-' * 7}|{'-' * 14}|{'-' * 14}|{'-' * 12}|")
    regs = sorted({r for (_, r) in cg}, key=lambda r: (order.index(r) if r in order else 99, r))
    for r in regs:
        s, o = cg.get(("stock", r)), cg.get(("ours", r))
        per = lambda x: None if x is None else x[0] / x[1]
        sp, op = per(s), per(o)
        ops = (s or o)[1]
        label = r + (" /target" if r in ("bigtable.build", "bigtable.load", "bigtable.table_first", "bigtable.table") else "")
        ratio = rfmt(op / sp) if sp and op is not None else "-"
        fm = lambda v: "-" if v is None else f"{v:,.0f}"
        print(f"| {label:<22} | {ops:>5} | {fm(sp):>12} | {fm(op):>12} | {ratio:>10} |")
EOF
exit $status
