#!/bin/bash
# bench/run.sh - stock libdevmapper, ours and the floor (hand-written
# ioctls), side by side, in one VM boot (see bench/README.md).
#
#   bench/run.sh [--rounds N] [--no-callgrind] [--ours DIR] [--kernel 6.1|sid]
#                [--smp N] [--timeout S] [--env K=V]...
#
# Host side: builds our library (make build), bench/dm-bench.c against
# include/ through pkg-config, bench/dm-floor.c against the kernel's
# <linux/dm-ioctl.h> and bench/rust (dm-bench-rust, the Rust API; cargo
# build --release), then boots vm/run.sh once running bench/guest.sh,
# holding the machine's VM lock (flock $DMB_VM_LOCK, default
# /tmp/dmrs-vm.lock; DMB_VM_LOCK= to do without). Raw results and callgrind dumps are kept in
# build/bench/results-<date>/ (shared writable with the guest), with a copy
# of the library measured (so a rebuild during the run changes nothing); the
# summary table is printed at the end and saved there as summary.txt.
# --ours DIR measures DIR/libdevmapper.so.1.02.1 instead (no make build).
# --smp N is passed to vm/run.sh (its default, 1 vCPU, when not given).
# --env K=V passes sizes to the guest (DMB_N, DMB_T, ... see bench-common.h).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

ROUNDS=3
CG=1
KERNEL=6.1
TIMEOUT=900
OURS=
VMARGS=()
ENVS=()
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --no-callgrind) CG=0; shift ;;
        --kernel) KERNEL=$2; shift 2 ;;
        --smp) VMARGS+=(--smp "$2"); shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --ours) OURS=$(realpath "$2"); shift 2 ;;
        --env) ENVS+=(--env "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

# One VM at a time on a shared machine: vm/setup.sh and vm/run.sh run under
# the lock (the builds do not).
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_locked vm/setup.sh --kernel "$KERNEL" >/dev/null 2>&1 || bench_locked vm/setup.sh --kernel "$KERNEL"
if [ -z "$OURS" ]; then
    make -s build
    OURS=$REPO/build/lib
fi
[ -f "$OURS/libdevmapper.so.1.02.1" ] || { echo "bench/run.sh: no $OURS/libdevmapper.so.1.02.1" >&2; exit 2; }
[ -f build/pkgconfig/devmapper.pc ] || make -s build
mkdir -p build/bench
bench_cc build/bench/dm-bench bench/dm-bench.c
# The Rust API's program (release build, line tables for callgrind), copied
# next to the others.
cargo build -q --release -p dm-bench-rust
cp "${CARGO_TARGET_DIR:-target}/release/dm-bench-rust" build/bench/dm-bench-rust
[ -f /usr/include/linux/dm-ioctl.h ] || { echo "bench/run.sh: no <linux/dm-ioctl.h> (linux-libc-dev)" >&2; exit 2; }
CG_FLAGS=
bench_have_callgrind_h && CG_FLAGS=-DHAVE_CALLGRIND
# shellcheck disable=SC2086
cc -O2 -g -Wall -Wextra -Werror $CG_FLAGS -o build/bench/dm-floor bench/dm-floor.c
if [ -z "$CG_FLAGS" ] && [ $CG = 1 ]; then
    echo "bench/run.sh: /usr/include/valgrind/callgrind.h missing, callgrind skipped" >&2
    CG=0
fi

OUT=$REPO/build/bench/results-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT/lib"
cp "$OURS/libdevmapper.so.1.02.1" "$OUT/lib/"
echo "bench/run.sh: results in ${OUT#"$REPO"/}; ours: $OURS/libdevmapper.so.1.02.1 (copied there)"
rc=0
bench_locked vm/run.sh --kernel "$KERNEL" "${VMARGS[@]}" --timeout "$TIMEOUT" --rw "$OUT" \
    --env DMB_OUT="$OUT" --env DMB_OURS="$OUT/lib" --env DMB_ROUNDS="$ROUNDS" --env DMB_CALLGRIND="$CG" "${ENVS[@]}" \
    -- bash bench/guest.sh | tee "$OUT/summary.txt" || rc=$?
[ $rc = 0 ] || echo "bench/run.sh: guest exited $rc" >&2
exit $rc
