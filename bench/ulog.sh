#!/bin/bash
# bench/ulog.sh - make bench-ulog: writes through a mirror with dm-ulogd's
# userspace `clustered-disk` log against the same mirror with the kernel's
# in-kernel `disk` log, in one VM boot (issue 10, Part 1, Speed; see
# bench/README.md, "dm-ulogd").
#
#   bench/ulog.sh [--rounds N] [--secs S] [--profile strace|callgrind]
#                 [--ulogd PATH] [--before PATH] [--kernel 6.1|sid] [--smp N] [--timeout S]
#                 [--env K=V]...
#
# Host side: builds dm-ulogd (cargo build --release -p dm-ulogd, unless
# --ulogd names a binary) and bench/ulog-io.c, then boots vm/run.sh once
# running bench/ulog-guest.sh, holding the machine's VM lock (flock
# $DMB_VM_LOCK, default /tmp/dmrs-vm.lock). Raw results go to
# build/bench/ulog-<date>/ (raw.txt, summary.md, strace.txt or
# callgrind.out with --profile); the markdown table is printed at the end.
# --before PATH measures another dm-ulogd binary too (an earlier build, as
# kind "before"), in the same boot.
# --env K=V passes settings to the guest (ULB_SECS, ULB_LEG_MB,
# ULB_REGION, ULB_WORKLOADS, ... see bench/ulog-guest.sh).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
# shellcheck source=bench/lib.sh
. bench/lib.sh

ROUNDS=3
SECS=4
PROFILE=none
KERNEL=6.1
TIMEOUT=1200
ULOGD=
BEFORE=
VMARGS=()
ENVS=()
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --profile) PROFILE=$2; shift 2 ;;
        --ulogd) ULOGD=$(realpath "$2"); shift 2 ;;
        --before) BEFORE=$(realpath "$2"); shift 2 ;;
        --kernel) KERNEL=$2; shift 2 ;;
        --smp) VMARGS+=(--smp "$2"); shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --env) ENVS+=(--env "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "bench/ulog.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

bench_locked vm/setup.sh --kernel "$KERNEL" >/dev/null 2>&1 || bench_locked vm/setup.sh --kernel "$KERNEL"
if [ -z "$ULOGD" ]; then
    cargo build --release -q -p dm-ulogd
    ULOGD=${CARGO_TARGET_DIR:-$REPO/target}/release/dm-ulogd
fi
[ -x "$ULOGD" ] || { echo "bench/ulog.sh: no $ULOGD" >&2; exit 2; }
mkdir -p build/bench
cc -O2 -g -Wall -Wextra -Werror -o build/bench/ulog-io bench/ulog-io.c

OUT=$REPO/build/bench/ulog-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
cp "$ULOGD" "$OUT/dm-ulogd"
if [ -n "$BEFORE" ]; then
    cp "$BEFORE" "$OUT/dm-ulogd.before"
    ENVS+=(--env ULB_ULOGD_BEFORE="$OUT/dm-ulogd.before")
fi
echo "bench/ulog.sh: results in ${OUT#"$REPO"/}; dm-ulogd: $ULOGD (copied there)"
rc=0
bench_locked vm/run.sh --kernel "$KERNEL" "${VMARGS[@]}" --timeout "$TIMEOUT" --rw "$OUT" \
    --env ULB_OUT="$OUT" --env ULB_ULOGD="$OUT/dm-ulogd" --env ULB_IO="$REPO/build/bench/ulog-io" \
    --env ULB_ROUNDS="$ROUNDS" --env ULB_SECS="$SECS" --env ULB_PROFILE="$PROFILE" "${ENVS[@]}" \
    -- bash bench/ulog-guest.sh || rc=$?
if [ -s "$OUT/raw.txt" ]; then
    python3 bench/ulog-summary.py "$OUT/raw.txt" | tee "$OUT/summary.md"
fi
[ $rc = 0 ] || echo "bench/ulog.sh: guest exited $rc" >&2
exit $rc
