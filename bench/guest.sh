#!/bin/bash
# bench/guest.sh - the guest side of bench/run.sh (runs as root inside the VM;
# see bench/README.md). Needs a kernel with device-mapper and no bench-*
# devices of anyone else: it creates and removes bench-* devices.
#
#   bench/guest.sh            (environment below)
#
#   DMB_BIN       the dm-bench binary (default <repo>/build/bench/dm-bench)
#   DMB_FLOOR     the dm-floor binary (default <repo>/build/bench/dm-floor)
#   DMB_RUST      the dm-bench-rust binary: the same workloads through the
#                 devmapper crate's Rust API, label "rust" (default
#                 <repo>/build/bench/dm-bench-rust; skipped when absent)
#   DMB_OURS      directory holding our libdevmapper.so.1.02.1
#                 (default <repo>/build/lib); stock is the system library
#   DMB_OUT       where raw results and callgrind dumps go (default a new
#                 /tmp/dm-bench.XXXXXX)
#   DMB_ROUNDS    timed rounds, order of stock/ours/floor rotated per round
#                 (default 3)
#   DMB_CALLGRIND 1 to run the callgrind pass (default), 0 to skip it
#   DMB_WORKLOADS timed workloads (default: info status table deps message
#                 list lifecycle bigtable startup)
#   DMB_N, DMB_T, ...   sizes, passed to both programs (see bench/bench-common.h)
#
# Prints progress, then the summary table (medians over the rounds).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BIN=${DMB_BIN:-$REPO/build/bench/dm-bench}
FLOOR=${DMB_FLOOR:-$REPO/build/bench/dm-floor}
RUST=${DMB_RUST:-$REPO/build/bench/dm-bench-rust}
OURS=${DMB_OURS:-$REPO/build/lib}
ROUNDS=${DMB_ROUNDS:-3}
CG=${DMB_CALLGRIND:-1}
N=${DMB_N:-1000}
export DMB_N=$N
OUT=${DMB_OUT:-$(mktemp -d /tmp/dm-bench.XXXXXX)}
mkdir -p "$OUT"
RAW=$OUT/raw.txt
: >"$RAW"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

[ -x "$BIN" ] || { echo "guest.sh: $BIN not built (run bench/run.sh)" >&2; exit 2; }
[ -x "$FLOOR" ] || { echo "guest.sh: $FLOOR not built (run bench/run.sh)" >&2; exit 2; }
[ -f "$OURS/libdevmapper.so.1.02.1" ] || { echo "guest.sh: no $OURS/libdevmapper.so.1.02.1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "guest.sh: must run as root" >&2; exit 2; }
HAVE_RUST=0
if [ -x "$RUST" ]; then HAVE_RUST=1; else echo "guest.sh: no $RUST, the Rust API is not measured" >&2; fi
# The workloads dm-bench-rust has (the Rust API's reads; creating and
# removing devices are not compared).
RUST_WLS=" info status table deps message list bigtable "

T0=$(date +%s)
elapsed() { echo "$(($(date +%s) - T0))s"; }

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# run LIB CMD...: dm-bench with stock (system library) or ours (the floor
# links no libdevmapper: as stock, LD_LIBRARY_PATH unset).
run() {
    bench_with "$@"
}

# bin LIB: the program measuring LIB (dm-floor for the floor, dm-bench-rust
# for the Rust API; both link no libdevmapper, so they run as stock does).
bin() {
    case $1 in
        floor) echo "$FLOOR" ;;
        rust) echo "$RUST" ;;
        *) echo "$BIN" ;;
    esac
}

# measures LIB WL: whether LIB runs workload WL.
measures() {
    case $1 in
        rust) [ $HAVE_RUST = 1 ] && [[ $RUST_WLS == *" $2 "* ]] ;;
        *) true ;;
    esac
}

{
    echo "# kernel $(uname -r), dm $(dmsetup version 2>/dev/null | sed -n 's/^Driver version: *//p')"
    echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) vCPU," \
        "erms=$(grep -qw erms /proc/cpuinfo && echo yes || echo no)," \
        "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
    echo "# stock: $(run stock "$BIN" libinfo)"
    echo "# ours:  $(run ours "$BIN" libinfo)"
    echo "# floor: $(run floor "$FLOOR" libinfo)"
    [ $HAVE_RUST = 0 ] || echo "# rust:  $(run rust "$RUST" libinfo)"
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

# Rounds rotate the order of stock, ours and the floor; inside a round every
# workload runs for the three back to back (each run a fresh process), so
# slow drifts of the host (other VMs, TCG) hit all sides alike. The Rust API
# (rust) runs next to ours, before it in every other round: its figures are
# compared with ours's.
WLS=${DMB_WORKLOADS:-info status table deps message list lifecycle bigtable startup}
for r in $(seq 1 "$ROUNDS"); do
    case $((r % 3)) in
        1) order="stock ours rust floor" ;;
        2) order="rust ours floor stock" ;;
        0) order="floor stock ours rust" ;;
    esac
    echo "== round $r/$ROUNDS: $order ($(elapsed))"
    for wl in $WLS; do
        for lib in $order; do
            measures "$lib" "$wl" || continue
            echo "# round $r $lib $wl" >>"$RAW"
            if ! run "$lib" "$(bin "$lib")" run "$lib" "$wl" >>"$RAW" 2>>"$OUT/stderr-$lib.txt"; then
                echo "guest.sh: round $r $lib $wl failed:" >&2
                grep ^ERR "$RAW" | tail -3 >&2
                tail -3 "$OUT/stderr-$lib.txt" >&2
                status=1
            fi
        done
    done
done

if [ "$CG" = 1 ] && command -v valgrind >/dev/null; then
    # rep-string memset/memcpy disabled in glibc (bench_callgrind), as in the
    # baseline's main callgrind column: valgrind counts each rep iteration as
    # an instruction.
    cglibs="stock ours floor"
    [ $HAVE_RUST = 0 ] || cglibs="$cglibs rust"
    for lib in $cglibs; do
        echo "== callgrind: $lib ($(elapsed))"
        mkdir -p "$OUT/cg-$lib"
        if ! BENCH_CG_OPTS=--collect-atstart=no bench_callgrind "$lib" "$OUT/cg-$lib/callgrind.out" \
            "$(bin "$lib")" callgrind \
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

"$PY" "$HERE/summary.py" "$RAW" || status=1
exit $status
