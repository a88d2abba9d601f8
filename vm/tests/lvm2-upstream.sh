#!/bin/bash
# Host side: LVM2's own test scripts for dmsetup and dmstats (test/shell of
# Debian's lvm2 source package, the version of the installed
# libdevmapper1.02.1), run in the test VM against the installed dmsetup and
# dmstats, once on stock libdevmapper and once on ours (LD_LIBRARY_PATH for
# the whole script, so every dmsetup it runs and the test programs load the
# library under test). The pass sets must be equal.
#
#   vm/tests/lvm2-upstream.sh [--kernel 6.1|sid] [--ours LIBDIR|stock-copy] [SCRIPT...]
#
# Default scripts ($LVM2_UPSTREAM_TESTS overrides): every test/shell script
# of 2.03.16 that runs without LVM commands (lvm2 is not installed here, and
# these are the ones about libdevmapper itself):
#   dmsetup-integrity-keys  integrity table keys hidden / --showkeys
#   dmsetup-keyring         crypt keys in the kernel keyring, hidden hex keys
#                           (needs keyctl: keyutils is installed if missing)
#   dmsecuretest            dm_task_secure_data: no key left in a core dump
#                           (needs gcore from gdb; securetest/dmsecuretest)
#   dmstats-create          dmstats create variants
#   dmstats-report          dmstats report, --count, --histogram
#   name-mangling           dmsetup --manglename, mangle, mangled fields
# Excluded: every other script drives lvm commands (lvcreate, vgcreate,
# pvs, lvm...) through lib/lvm-wrapper, or needs daemons (dmeventd,
# lvmlockd, lvmpolld, lvmdbusd: aa-lvmlockd-*-prepare.sh and the
# *-dmeventd.sh scripts), none of which is installed; snapshot-remove-
# dmsetup.sh and fsadm*.sh use lvm too.
#
# The LVM2 test harness is built from the source package into
# <cache>/lvm2-upstream/<version>/test (lib/ as `make -C test` would make it
# for an installed test suite: inittest, aux, check, get, utils,
# lvm-wrapper, flavour-ndev-vanilla, paths; not/should/invalid/fail from
# lib/not.c; securetest and dmsecuretest from lib/dmsecuretest.c). Upstream
# links dmsecuretest to the internal device_mapper library and securetest to
# libdevmapper; here both are the libdevmapper build (a one-line forwarder
# stands in for "device_mapper/all.h"), so both test the library under test.
# Downloads come from vm/tests/dmsetup-build.sh --source-only (cached).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/vm/lib/debian.sh"
cd "$REPO"
# (make check exports LD_LIBRARY_PATH=build/lib: the host side needs none)
unset LD_LIBRARY_PATH LD_PRELOAD
CACHE_ROOT=${VM_CACHE:-$REPO/vm/cache}
DEFAULT_TESTS="dmsetup-integrity-keys dmsetup-keyring dmsecuretest dmstats-create dmstats-report name-mangling"
KERNEL=6.1
OURS=${LVM2_UPSTREAM_OURS:-${DMRS_LIBDIR:-}}
TESTS=()
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KERNEL=$2; shift 2 ;;
        --ours) OURS=$2; shift 2 ;;
        -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "lvm2-upstream: unknown option: $1" >&2; exit 2 ;;
        *) TESTS+=("$1"); shift ;;
    esac
done
[ ${#TESTS[@]} -gt 0 ] || read -ra TESTS <<<"${LVM2_UPSTREAM_TESTS:-$DEFAULT_TESTS}"

log() { echo "lvm2-upstream: $*" >&2; }
die() { log "error: $*"; exit 1; }

vm/setup.sh --kernel "$KERNEL" >/dev/null
# Programs the scripts need in the guest (the guest runs the host's files).
need=()
command -v keyctl >/dev/null || need+=(keyutils)
command -v gcore >/dev/null || need+=(gdb)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} (used by dmsetup-keyring and dmsecuretest)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
        log "could not install ${need[*]}: the scripts needing them will skip"
fi

SRC=$(vm/tests/dmsetup-build.sh --source-only | tail -n1)
WORK=$(dirname "$SRC")
VER=$(basename "$WORK")
T=$CACHE_ROOT/lvm2-upstream/$VER/test

if [ "$OURS" = stock-copy ]; then
    OURS=$CACHE_ROOT/dmsetup-compare/stock-copy
    mkdir -p "$OURS"
    cp /lib/x86_64-linux-gnu/libdevmapper.so.1.02.1 "$OURS/"
elif [ -z "$OURS" ]; then
    OURS=$REPO/build/lib
    [ -f "$OURS/libdevmapper.so.1.02.1" ] || make -s build
fi
OURS=$(realpath "$OURS")

# ---- the harness (rebuilt every time: a few seconds)
rm -rf "$T.new"
mkdir -p "$T.new/lib" "$T.new/shell" "$T.new/config/device_mapper"
for f in inittest aux check get utils lvm-wrapper; do
    install -m 755 "$SRC/test/lib/$f.sh" "$T.new/lib/$f"
done
cp "$SRC/test/lib/flavour-ndev-vanilla.sh" "$T.new/lib/flavour-ndev-vanilla"
# lib/paths as test/Makefile.in writes paths-installed (Debian builds with
# udev synchronisation; no thin/cache tools), PATH pointing at this lib/.
{
    echo 'DM_UDEV_SYNCHRONISATION=1'
    echo 'LVMPOLLD_PIDFILE="/run/lvmpolld.pid"'
    echo 'DMEVENTD_PIDFILE="/run/dmeventd.pid"'
    for v in THIN_CHECK THIN_DUMP THIN_REPAIR THIN_RESTORE CACHE_CHECK CACHE_DUMP CACHE_REPAIR CACHE_RESTORE; do
        echo "LVM_TEST_${v}_CMD=\${LVM_TEST_${v}_CMD-}"
    done
    echo 'export DM_UDEV_SYNCHRONISATION THIN RAID CACHE\'
    echo ' LVM_TEST_THIN_CHECK_CMD LVM_TEST_THIN_DUMP_CMD LVM_TEST_THIN_REPAIR_CMD LVM_TEST_THIN_RESTORE_CMD\'
    echo ' LVM_TEST_CACHE_CHECK_CMD LVM_TEST_CACHE_DUMP_CMD LVM_TEST_CACHE_REPAIR_CMD LVM_TEST_CACHE_RESTORE_CMD'
    echo 'installed_testsuite=1'
    echo "export PATH=$T/lib:\$PATH"
} >"$T.new/lib/paths"
cut -f1 -d' ' "$SRC/VERSION" >"$T.new/lib/version-expected"
cut -f1 -d' ' "$SRC/VERSION_DM" >"$T.new/lib/dm-version-expected"
printf '/* Written by vm/tests/lvm2-upstream.sh: the libdevmapper API. */\n#include <libdevmapper.h>\n' \
    >"$T.new/config/device_mapper/all.h"
cc -O2 -g -Wall -o "$T.new/lib/not" "$SRC/test/lib/not.c" >"$T.new/build.log" 2>&1 ||
    { cat "$T.new/build.log" >&2; die "building lib/not failed"; }
for l in should invalid fail; do ln -s not "$T.new/lib/$l"; done
# Linked against the installed stock library through a libdevmapper.so
# link of our own (a fresh machine has no libdevmapper-dev); LD_LIBRARY_PATH
# picks the library each run uses.
deb_stock_dm_link "$WORK/stock-lib" || die "cannot link the stock library"
cc -O2 -g -Wall -I"$T.new/config" -I"$WORK/dm-include" -D_GNU_SOURCE -o "$T.new/lib/securetest" \
    "$SRC/test/lib/dmsecuretest.c" -L"$WORK/stock-lib" -ldevmapper >>"$T.new/build.log" 2>&1 ||
    { cat "$T.new/build.log" >&2; die "building lib/securetest failed"; }
cp "$T.new/lib/securetest" "$T.new/lib/dmsecuretest"
for t in "${TESTS[@]}"; do
    [ -f "$SRC/test/shell/$t.sh" ] || die "no test/shell/$t.sh in lvm2 $VER"
    cp "$SRC/test/shell/$t.sh" "$T.new/shell/"
done
# lib/paths names the final directory.
rm -rf "$T"; mv "$T.new" "$T"
rm -rf "$T/config"
log "lvm2 $VER test scripts: ${TESTS[*]}; ours: $OURS; kernel $KERNEL"

# Each script's log: <cache>/lvm2-upstream/<version>/logs-<kernel>/<lib>/<script>.log
LOGS=$CACHE_ROOT/lvm2-upstream/$VER/logs-$KERNEL
rm -rf "$LOGS"; mkdir -p "$LOGS"
rc=0
vm/run.sh --kernel "$KERNEL" --timeout "${LVM2_UPSTREAM_VM_TIMEOUT:-600}" --rw "$LOGS" \
    ${LVM2_UPSTREAM_SCRIPT_TIMEOUT:+--env LVM2_UPSTREAM_SCRIPT_TIMEOUT="$LVM2_UPSTREAM_SCRIPT_TIMEOUT"} \
    -- vm/tests/lvm2-upstream-guest.sh "$T" "$OURS" "$LOGS" "${TESTS[@]}" || rc=$?
log "logs: $LOGS"
[ $rc = 0 ] || log "FAILED (exit $rc)"
exit $rc
