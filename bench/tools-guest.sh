#!/bin/bash
# bench/tools-guest.sh - the guest side of bench/tools.sh (runs as root in
# the VM; see bench/README.md, "Tools"): Debian's dmsetup and dmstats and
# bench/report-bench on stock libdevmapper and on ours, in one boot.
#
#   bench/tools-guest.sh            (environment below)
#
#   DMB_OURS      directory holding our libdevmapper.so.1.02.1
#                 (default <repo>/build/lib); stock is the system library
#   DMB_OUT       where raw results (raw.txt, appended to), outputs and
#                 dumps go (default a new /tmp/dm-tools.XXXXXX)
#   DMB_ROUNDS    timed rounds (default 5), stock/ours order alternating
#   DMB_CALLGRIND 1 (default): callgrind of the kernel workloads; 0: none
#   DMB_CG_REPORT 1: also report-bench under callgrind here (default 0:
#                 tools.sh measures it on the host, it needs no kernel and
#                 takes minutes under emulation)
#   DMB_N         linear devices (default 1000)
#   DMB_ROWS      report-bench rows (default 100000)
#   DMB_BIN       dm-bench (setup/teardown of the population, default
#                 <repo>/build/bench/dm-bench), DMB_REPORT_BENCH (default
#                 <repo>/build/bench/report-bench)
#
# Prints progress, then the summary tables (bench/tools.py summary).
#
# Population (made with stock, untimed): bench-base and N bench-lin-* (as
# `dm-bench setup`), four stacked linear devices bench-stk-0..3 (a tree of
# depth five), four bench-st-* devices of 25 zero segments each with one
# dm-stats region per segment (4 areas, histogram bounds 10us,100us,1ms,10ms:
# 100 regions), then direct reads and writes on them. Everything is removed
# at the end; the script fails if a bench-* device, or one more semaphore
# or loop device than before, is left.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BIN=${DMB_BIN:-$REPO/build/bench/dm-bench}
RB=${DMB_REPORT_BENCH:-$REPO/build/bench/report-bench}
OURS=${DMB_OURS:-$REPO/build/lib}
ROUNDS=${DMB_ROUNDS:-5}
CG=${DMB_CALLGRIND:-1}
CG_REPORT=${DMB_CG_REPORT:-0}
N=${DMB_N:-1000}
export DMB_ROWS=${DMB_ROWS:-100000}
OUT=${DMB_OUT:-$(mktemp -d /tmp/dm-tools.XXXXXX)}
mkdir -p "$OUT"
RAW=$OUT/raw.txt
touch "$RAW"        # appended to: tools.sh may have put the host's figures there
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

[ -x "$BIN" ] || { echo "tools-guest.sh: $BIN not built (run bench/tools.sh)" >&2; exit 2; }
[ -x "$RB" ] || { echo "tools-guest.sh: $RB not built (run bench/tools.sh)" >&2; exit 2; }
[ -f "$OURS/libdevmapper.so.1.02.1" ] || { echo "tools-guest.sh: no $OURS/libdevmapper.so.1.02.1" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "tools-guest.sh: must run as root" >&2; exit 2; }

T0=$(date +%s)
elapsed() { echo "$(($(date +%s) - T0))s"; }

# The workloads: NAME and command (split on blanks); stdout is the output.
WLS="info-c ls-tree dmstats-report report-bench"
declare -A CMD=(
    [info-c]="dmsetup info -c"
    [ls-tree]="dmsetup ls --tree"
    [dmstats-report]="dmstats report -o +hist_count_bounds"
    [report-bench]="$RB"
)
# What the output check compares for dmstats: the fields that are the same
# in two runs after the same I/O (not rates, ticks or histogram counts: they
# depend on time).
CHECK_STATS="dmstats report -o name,region_id,area_id,area_start,area_len,area_count,read_count,write_count,read_sector_count,write_sector_count,hist_bins,hist_bounds"
# Every `dmstats report` reads and clears the counters (@stats_print_clear):
# before each, untimed, IO reads and writes on every region and area again.
NODES=$(mktemp -d /run/dm-tools.XXXXXX)
IO="bash $NODES/io.sh"
# Timed runs write their stdout here (a tmpfs file, truncated per run).
STDOUT=${DMB_STDOUT:-$NODES/stdout}

libof() { bench_with "$1" ldd "$2" | awk '/libdevmapper\.so/ { print $3 }'; }
{
    echo "# kernel $(uname -r), dm $(dmsetup version 2>/dev/null | sed -n 's/^Driver version: *//p')"
    echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) vCPU"
    echo "# dmsetup $(dpkg-query -W -f '${Version}' dmsetup 2>/dev/null): stock $(libof stock "$(command -v dmsetup)"), ours $(libof ours "$(command -v dmsetup)")"
    echo "# report-bench: stock $(libof stock "$RB"), ours $(libof ours "$RB"); $DMB_ROWS rows"
} | tee -a "$RAW"

sems() { ipcs -s 2>/dev/null | grep -c '^0x'; }
loops() { losetup -a 2>/dev/null | wc -l; }
SEMS0=$(sems)
LOOPS0=$(loops)

majmin() { dmsetup info -c --noheadings -o major,minor --separator : "$1"; }

status=0
teardown() {
    dmsetup remove bench-stk-3 bench-stk-2 bench-stk-1 bench-stk-0 >/dev/null 2>&1
    dmsetup remove bench-st-0 bench-st-1 bench-st-2 bench-st-3 >/dev/null 2>&1
    # Removes wait for RCU grace periods (~24 ms each): eight at a time.
    dmsetup ls 2>/dev/null | awk '$1 ~ /^bench-lin-/ { print $1 }' | xargs -r -n 125 -P 8 dmsetup remove
    # The rest (bench-base, anything an interrupted run left), in order.
    bench_with stock "$BIN" teardown >/dev/null
}
check_clean() {
    local left
    rm -rf "$NODES"
    left=$(dmsetup ls 2>/dev/null | grep -c '^bench-')
    [ "$left" = 0 ] || { echo "tools-guest.sh: $left bench-* devices left after teardown" >&2; status=1; }
    [ "$(sems)" -le "$SEMS0" ] || { echo "tools-guest.sh: semaphores left: $(ipcs -s)" >&2; status=1; }
    [ "$(loops)" -le "$LOOPS0" ] || { echo "tools-guest.sh: loop devices left: $(losetup -a)" >&2; status=1; }
}

# Leftovers of an interrupted run (only possible on a reused kernel).
teardown 2>/dev/null

echo "== setup: $N linear devices, 4 stacked, 4 with 25 stats regions each ($(elapsed))"
setup() {
    local l0 l1 l2 s d dev
    bench_with stock "$BIN" setup "$N" >>"$RAW" || return 1
    # dm-bench's message device has a stats region: not one of the 100.
    dmsetup remove bench-msg || return 1
    l0=$(majmin bench-lin-0000) l1=$(majmin bench-lin-0001) l2=$(majmin bench-lin-0002)
    printf '0 8 linear %s 0\n8 8 linear %s 0\n' "$l0" "$l1" | dmsetup create bench-stk-0 || return 1
    dmsetup create bench-stk-1 --table "0 16 linear $(majmin bench-stk-0) 0" || return 1
    dmsetup create bench-stk-2 --table "0 16 linear $(majmin bench-stk-1) 0" || return 1
    printf '0 16 linear %s 0\n16 8 linear %s 0\n' "$(majmin bench-stk-2)" "$l2" |
        dmsetup create bench-stk-3 || return 1
    : >"$NODES/io.sh"
    for d in 0 1 2 3; do
        dev=bench-st-$d
        for s in $(seq 0 24); do echo "$((s * 2048)) 2048 zero"; done | dmsetup create $dev || return 1
        dmstats create --segments --nogroup --areas 4 --bounds 10us,100us,1ms,10ms $dev >/dev/null || return 1
        # I/O through a private node (no udev here): reads of two sizes and
        # writes on every region and area.
        mknod "$NODES/$dev" b $(majmin $dev | tr : ' ') || return 1
        cat >>"$NODES/io.sh" <<EOF
dd if=$NODES/$dev of=/dev/null bs=64k iflag=direct status=none
dd if=$NODES/$dev of=/dev/null bs=4k count=$((300 + 100 * d)) iflag=direct status=none
dd if=/dev/zero of=$NODES/$dev bs=16k count=$((400 + 100 * d)) oflag=direct status=none
EOF
    done
    [ "$(dmstats list --allprograms 2>/dev/null | grep -c '^bench-st-')" = 100 ] ||
        { echo "tools-guest.sh: expected 100 stats regions:" >&2; dmstats list >&2; return 1; }
}
if ! setup; then
    echo "tools-guest.sh: setup failed" >&2
    grep ^ERR "$RAW" >&2
    teardown
    check_clean
    exit 1
fi
echo "# population: $(dmsetup ls | grep -c '^bench-') devices, $(dmstats list 2>/dev/null | grep -c '^bench-st-') stats regions" | tee -a "$RAW"
t=$(date +%s%N)
$IO || { echo "tools-guest.sh: I/O failed" >&2; teardown; check_clean; exit 1; }
echo "# I/O before each dmstats report: $((($(date +%s%N) - t) / 1000000)) ms; timed stdout: $STDOUT" | tee -a "$RAW"

# Each workload once per library: the outputs must be the same (this is also
# the warm-up: libraries and programs read once through virtiofs).
echo "== output check ($(elapsed))"
for wl in $WLS check-stats; do
    if [ $wl = check-stats ]; then cmd=$CHECK_STATS; else cmd=${CMD[$wl]}; fi
    for lib in stock ours; do
        case $wl in *stats*) $IO ;; esac
        # Written to tmpfs, then copied (a write per line to virtiofs is slow).
        # shellcheck disable=SC2086
        bench_with $lib $cmd >"$NODES/out-$wl-$lib.txt" 2>"$OUT/err-$wl-$lib.txt" ||
            echo "ERR $lib $wl: exit status $?" | tee -a "$RAW" >&2
        cp "$NODES/out-$wl-$lib.txt" "$OUT/"
        rm -f "$NODES/out-$wl-$lib.txt"
    done
    lines=$(wc -l <"$OUT/out-$wl-stock.txt")
    if cmp -s "$OUT/out-$wl-stock.txt" "$OUT/out-$wl-ours.txt"; then
        res="same ($lines lines)"
    elif [ $wl = dmstats-report ] && [ "$lines" = "$(wc -l <"$OUT/out-$wl-ours.txt")" ]; then
        res="same line count ($lines; rates, ticks, histogram counts depend on time: see check-stats)"
    else
        res="DIFFERENT (diff $OUT/out-$wl-stock.txt $OUT/out-$wl-ours.txt)"
        status=1
    fi
    echo "CHECK $wl $res" | tee -a "$RAW"
done

echo "== $ROUNDS timed rounds ($(elapsed))"
args=()
for wl in $WLS; do args+=("$wl=${CMD[$wl]}"); done
$PY "$HERE/tools.py" rounds --ours "$OURS" --rounds "$ROUNDS" --stderr-dir "$OUT" --stdout "$STDOUT" \
    --pre "dmstats-report=$IO" "${args[@]}" >>"$RAW" || status=1

if [ "$CG" = 1 ] && command -v valgrind >/dev/null; then
    cgwls="info-c ls-tree dmstats-report"
    [ "$CG_REPORT" = 1 ] && cgwls="$cgwls report-bench"
    for wl in $cgwls; do
        for lib in stock ours; do
            echo "== callgrind: $wl $lib ($(elapsed))"
            mkdir -p "$OUT/cg-$lib"
            rm -f "$OUT/cg-$lib/$wl.out"*
            [ $wl = dmstats-report ] && $IO
            # shellcheck disable=SC2086
            if ! bench_callgrind $lib "$OUT/cg-$lib/$wl.out" ${CMD[$wl]} >/dev/null 2>"$OUT/cg-$lib/$wl.valgrind.txt"; then
                echo "ERR $lib $wl: callgrind run failed" | tee -a "$RAW" >&2
                tail -5 "$OUT/cg-$lib/$wl.valgrind.txt" >&2
                status=1
                continue
            fi
            $PY "$HERE/tools.py" cg $lib $wl "$OUT/cg-$lib/$wl.out"* >>"$RAW" || status=1
        done
        echo "WHERE $wl guest" >>"$RAW"
    done
elif [ "$CG" = 1 ]; then
    echo "tools-guest.sh: valgrind not found, callgrind skipped" >&2
fi

echo "== teardown ($(elapsed))"
teardown
check_clean
echo "== done in $(elapsed); raw results in $RAW"
if grep -q ^ERR "$RAW"; then
    echo "tools-guest.sh: errors:" >&2
    grep ^ERR "$RAW" | head -20 >&2
    status=1
fi
$PY "$HERE/tools.py" summary "$RAW" || status=1
exit $status
