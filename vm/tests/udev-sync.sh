#!/bin/bash
# Host side: dmsetup and cryptsetup with udev synchronisation, systemd-udevd
# running in the test VM with Debian's stock dm rules (dmsetup package:
# 55-dm.rules, 60-persistent-storage-dm.rules, 95-dm-notify.rules, which
# run /sbin/dmsetup), on stock libdevmapper and then on ours as the
# system's libdevmapper, in one boot. Checks the /dev/mapper and
# /dev/disk/by-id|by-uuid links udev makes, that the rules' own dmsetup
# loads the library under test, that every cookie is completed by
# `dmsetup udevcomplete` from the rules (no semaphore left, no operation
# left waiting: "TIMEOUT"), and that both halves leave the same picture.
# See udev-sync-guest.sh for how udevd is made to use our library.
#
#   vm/tests/udev-sync.sh [--kernel 6.1|sid] [--ours LIBDIR|stock-copy]
#
# --ours: the library under test (default build/lib, built when missing;
# env UDEV_SYNC_OURS); stock-copy validates the test with a copy of the
# stock library. Needs `vm/setup.sh --with-udev` (run here: installs the
# udev package on the host without starting it). Logs and transcripts go
# to <cache>/udev-sync/<kernel>/.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
# (make check exports LD_LIBRARY_PATH=build/lib: the host side needs none)
unset LD_LIBRARY_PATH LD_PRELOAD
CACHE_ROOT=${VM_CACHE:-$REPO/vm/cache}
KERNEL=6.1
OURS=${UDEV_SYNC_OURS:-${DMRS_LIBDIR:-}}
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KERNEL=$2; shift 2 ;;
        --ours) OURS=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "udev-sync: unknown argument: $1" >&2; exit 2 ;;
    esac
done
log() { echo "udev-sync: $*" >&2; }

vm/setup.sh --with-udev --kernel "$KERNEL" >/dev/null
if [ "$OURS" = stock-copy ]; then
    OURS=$CACHE_ROOT/dmsetup-compare/stock-copy
    mkdir -p "$OURS"
    cp /lib/x86_64-linux-gnu/libdevmapper.so.1.02.1 "$OURS/"
elif [ -z "$OURS" ]; then
    OURS=$REPO/build/lib
    [ -f "$OURS/libdevmapper.so.1.02.1" ] || make -s build
fi
OURS=$(realpath "$OURS")
[ -f "$OURS/libdevmapper.so.1.02.1" ] || { log "no libdevmapper.so.1.02.1 in $OURS"; exit 2; }
LOGS=$CACHE_ROOT/udev-sync/$KERNEL
rm -rf "$LOGS"; mkdir -p "$LOGS"
log "kernel $KERNEL; ours: $OURS; logs: $LOGS"
rc=0
vm/run.sh --kernel "$KERNEL" --udev --timeout "${UDEV_SYNC_VM_TIMEOUT:-400}" --rw "$LOGS" \
    ${UDEV_SYNC_GUARD:+--env UDEV_SYNC_GUARD="$UDEV_SYNC_GUARD"} \
    -- vm/tests/udev-sync-guest.sh "$OURS" "$LOGS" || rc=$?
[ $rc = 0 ] || log "FAILED (exit $rc)"
exit $rc
