#!/bin/bash
# Host side: Debian's unmodified dmsetup and dmstats over a scripted sequence
# covering every dmsetup command and option and every target type the kernel
# has (vm/tests/dmsetup-seq.sh), in one VM boot, on stock libdevmapper and on
# ours (LD_LIBRARY_PATH), plus a third column: dmsetup.c built from Debian's
# source against our header and library (vm/tests/dmsetup-build.sh). The
# normalised transcripts must be identical, except for the lines listed in
# docs/compatibility-dmsetup.md; nothing may be left behind (semaphores, dm
# devices, /dev/mapper nodes, loop devices). See dmsetup-compare-guest.sh
# for the columns, the checks and the normalising filter.
#
#   vm/tests/dmsetup-compare.sh [--kernel 6.1|sid] [--ours LIBDIR|stock-copy]
#                               [--include DIR] [--no-built]
#
#   --ours LIBDIR   the library under test (default: $DMRS_LIBDIR, else build/lib, built with
#                   `make build` when missing); `stock-copy` is a copy of the
#                   installed stock library (validates the machinery: every
#                   column must then match). Env: DMSETUP_COMPARE_OURS.
#   --include DIR   the libdevmapper.h that goes with it for the built column
#                   (default: include/, or the stock header for stock-copy).
#   --no-built      skip the third column (env DMSETUP_COMPARE_BUILT=0).
#
# Results go to <cache>/dmsetup-compare/<kernel>/ (raw and normalised
# transcripts, diffs, leftovers). Downloads (the lvm2 source for the built
# column) are cached under ${VM_CACHE:-vm/cache}; a second run only boots.
# Exit status 0 only when every column matches stock and left nothing.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
# (make check exports LD_LIBRARY_PATH=build/lib: the host side needs none)
unset LD_LIBRARY_PATH LD_PRELOAD
CACHE_ROOT=${VM_CACHE:-$REPO/vm/cache}
KERNEL=6.1
OURS=${DMSETUP_COMPARE_OURS:-${DMRS_LIBDIR:-}}
INCLUDE=${DMSETUP_COMPARE_INCLUDE:-${DMRS_INCLUDEDIR:-}}
BUILT=${DMSETUP_COMPARE_BUILT:-1}
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KERNEL=$2; shift 2 ;;
        --ours) OURS=$2; shift 2 ;;
        --include) INCLUDE=$2; shift 2 ;;
        --no-built) BUILT=0; shift ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "dmsetup-compare: unknown argument: $1" >&2; exit 2 ;;
    esac
done
log() { echo "dmsetup-compare: $*" >&2; }

vm/setup.sh --kernel "$KERNEL" >/dev/null
STOCK_SO=/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1
if [ "$OURS" = stock-copy ]; then
    # A copy, not the file itself: LD_LIBRARY_PATH must really pick it up.
    OURS=$CACHE_ROOT/dmsetup-compare/stock-copy
    mkdir -p "$OURS"
    cp "$STOCK_SO" "$OURS/libdevmapper.so.1.02.1"
    ln -sfn libdevmapper.so.1.02.1 "$OURS/libdevmapper.so"
    if [ -z "$INCLUDE" ]; then
        src=$(vm/tests/dmsetup-build.sh --source-only | tail -n1)
        INCLUDE=$(dirname "$src")/dm-include
    fi
elif [ -z "$OURS" ]; then
    OURS=$REPO/build/lib
    [ -f "$OURS/libdevmapper.so.1.02.1" ] || make -s build
    INCLUDE=${INCLUDE:-$REPO/include}
fi
OURS=$(realpath "$OURS")
[ -f "$OURS/libdevmapper.so.1.02.1" ] || { log "no libdevmapper.so.1.02.1 in $OURS"; exit 2; }
INCLUDE=${INCLUDE:-$REPO/include}

BUILT_BIN=
if [ "$BUILT" != 0 ]; then
    if BUILT_BIN=$(vm/tests/dmsetup-build.sh --include "$INCLUDE" --lib "$OURS" | tail -n1); then
        :
    else
        log "the built column cannot run: dmsetup.c does not build against $INCLUDE and $OURS (above)"
        BUILT_BIN=-
    fi
fi

OUT=$CACHE_ROOT/dmsetup-compare/$KERNEL
mkdir -p "$OUT"
log "kernel $KERNEL; ours: $OURS; built column: ${BUILT_BIN:-skipped}; results in $OUT"
rc=0
# About 4 minutes with two columns, 6 with three: a hang costs twice that.
VM_TIMEOUT=${DMSETUP_COMPARE_VM_TIMEOUT:-$([ -n "$BUILT_BIN" ] && echo 900 || echo 600)}
vm/run.sh --kernel "$KERNEL" --timeout "$VM_TIMEOUT" --rw "$OUT" \
    ${DMSETUP_COMPARE_DIFF_LINES:+--env DMSETUP_COMPARE_DIFF_LINES="$DMSETUP_COMPARE_DIFF_LINES"} \
    -- vm/tests/dmsetup-compare-guest.sh "$OUT" "$REPO/docs/compatibility-dmsetup.md" "$OURS" $BUILT_BIN || rc=$?
[ $rc = 0 ] || log "FAILED (exit $rc)"
exit $rc
