#!/bin/bash
# bench/tools.sh - issue 8's speed benchmark: Debian's unmodified dmsetup
# (info -c, ls --tree over 1000 devices) and dmstats (report over 100
# regions with histograms), and bench/report-bench.c (dm_report_* over
# 100 000 rows with a selection and sort keys), on stock libdevmapper and on
# ours, side by side in one VM boot (see bench/README.md, "Tools").
#
#   bench/tools.sh [--rounds N] [--no-callgrind] [--cg-report-in-guest]
#                  [--ours DIR] [--kernel 6.1|sid] [--smp N] [--timeout S]
#                  [--env K=V]...
#
# Host side: builds our library (make build), bench/dm-bench.c (it makes and
# removes the population) and bench/report-bench.c against include/ through
# pkg-config, copies our library into build/bench/tools-<date>/lib/ (the
# copy is what is measured), runs report-bench under callgrind here on the
# host for both libraries (it needs no kernel; under emulation it would take
# minutes; --cg-report-in-guest runs it in the VM instead), then boots
# vm/run.sh once running bench/tools-guest.sh, holding the machine's VM lock
# (as bench/run.sh: flock $DMB_VM_LOCK, default /tmp/dmrs-vm.lock). The
# tables are printed at the end and kept with everything else in
# build/bench/tools-<date>/ (summary.txt, raw.txt, out-*, cg-*).
# --ours DIR measures DIR/libdevmapper.so.1.02.1 instead (no make build).
# --env K=V passes settings to the guest (DMB_N, DMB_ROWS, ... see
# bench/tools-guest.sh).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROUNDS=5
CG=1
CG_REPORT_GUEST=0
KERNEL=6.1
TIMEOUT=600
OURS=
VMARGS=()
ENVS=()
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --no-callgrind) CG=0; shift ;;
        --cg-report-in-guest) CG_REPORT_GUEST=1; shift ;;
        --kernel) KERNEL=$2; shift 2 ;;
        --smp) VMARGS+=(--smp "$2"); shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --ours) OURS=$(realpath "$2"); shift 2 ;;
        --env) ENVS+=(--env "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "bench/tools.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

bench_locked vm/setup.sh --kernel "$KERNEL" >/dev/null 2>&1 || bench_locked vm/setup.sh --kernel "$KERNEL"
if [ -z "$OURS" ]; then
    make -s build
    OURS=$REPO/build/lib
fi
[ -f "$OURS/libdevmapper.so.1.02.1" ] || { echo "bench/tools.sh: no $OURS/libdevmapper.so.1.02.1" >&2; exit 2; }
[ -f build/pkgconfig/devmapper.pc ] || make -s build
for prog in dmsetup dmstats; do
    command -v $prog >/dev/null || { echo "bench/tools.sh: no $prog (apt-get install dmsetup)" >&2; exit 2; }
done
mkdir -p build/bench
bench_cc build/bench/dm-bench bench/dm-bench.c
bench_cc build/bench/report-bench bench/report-bench.c
if [ $CG = 1 ] && ! bench_have_callgrind_h; then
    echo "bench/tools.sh: /usr/include/valgrind/callgrind.h missing, callgrind skipped" >&2
    CG=0
fi
if [ $CG = 1 ] && ! command -v valgrind >/dev/null; then
    echo "bench/tools.sh: valgrind missing, callgrind skipped" >&2
    CG=0
fi

OUT=$REPO/build/bench/tools-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT/lib"
cp "$OURS/libdevmapper.so.1.02.1" "$OUT/lib/"
OURS=$OUT/lib
echo "bench/tools.sh: results in ${OUT#"$REPO"/}; ours: $OURS/libdevmapper.so.1.02.1 (a copy)"

ROWS=100000
for e in "${ENVS[@]}"; do
    case $e in DMB_ROWS=*) ROWS=${e#DMB_ROWS=} ;; esac
done
if [ $CG = 1 ] && [ $CG_REPORT_GUEST = 0 ]; then
    # report-bench needs no kernel: its Ir are counted here, on the host.
    for lib in stock ours; do
        echo "== callgrind on the host: report-bench $lib ($ROWS rows)"
        mkdir -p "$OUT/cg-$lib"
        DMB_ROWS=$ROWS bench_callgrind $lib "$OUT/cg-$lib/report-bench.out" build/bench/report-bench \
            >/dev/null 2>"$OUT/cg-$lib/report-bench.valgrind.txt" ||
            { echo "bench/tools.sh: callgrind of report-bench on $lib failed" >&2; exit 1; }
        python3 bench/tools.py cg $lib report-bench "$OUT/cg-$lib/report-bench.out"* >>"$OUT/raw.txt"
    done
    echo "WHERE report-bench host ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))" >>"$OUT/raw.txt"
fi

rc=0
bench_locked vm/run.sh --kernel "$KERNEL" "${VMARGS[@]}" --timeout "$TIMEOUT" --rw "$OUT" \
    --env DMB_OUT="$OUT" --env DMB_OURS="$OURS" --env DMB_ROUNDS="$ROUNDS" --env DMB_CALLGRIND="$CG" \
    --env DMB_CG_REPORT="$CG_REPORT_GUEST" --env DMB_ROWS="$ROWS" "${ENVS[@]}" \
    -- bash bench/tools-guest.sh | tee "$OUT/summary.txt" || rc=$?
[ $rc = 0 ] || echo "bench/tools.sh: guest exited $rc" >&2
exit $rc
