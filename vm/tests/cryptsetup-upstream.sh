#!/bin/bash
# Host side: cryptsetup's own test suite (the tests/ directory of Debian's
# `cryptsetup` source package, the version of the installed libcryptsetup12)
# run in the test VM against the installed cryptsetup/libcryptsetup, once on
# stock libdevmapper and once on ours (LD_LIBRARY_PATH=build/lib). The pass
# sets must be equal and api-test must pass on ours. The `dmsetup` the
# scripts call to build fixtures stays on stock libdevmapper (it imports the
# stats/report families ours does not export; CS_UPSTREAM_DMSETUP=ours puts
# it on ours too): see cryptsetup-upstream-guest.sh.
#
#   vm/tests/cryptsetup-upstream.sh [SCRIPT...]
#
# Without arguments it runs $CS_UPSTREAM_TESTS, or the default selection
# below (api-test plus the fast scripts that really drive device-mapper; see
# the timings in the guest script). Everything fetched or built lives under
# vm/cache/cryptsetup-upstream/ (gitignored) and is reused: a second run only
# boots the VM.
#
# Fetching uses a private apt state (own sources list, lists and cache in a
# temporary directory, deleted afterwards); the host's apt configuration is
# never touched. The test programs are compiled against the source tree's
# libcryptsetup.h and libdevmapper-dev's libdevmapper.h (the .deb is only
# unpacked into the cache, not installed) and linked by soname against the
# installed libcryptsetup.so.12 and libdevmapper.so.1.02.1: no -dev package
# is installed.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
# shellcheck source=../lib/debian.sh
. "$REPO/vm/lib/debian.sh"

DEFAULT_TESTS="00modules-test api-test luks1-compat-test fvault2-compat-test"
if [ $# -gt 0 ]; then TESTS=("$@"); else read -ra TESTS <<<"${CS_UPSTREAM_TESTS:-$DEFAULT_TESTS}"; fi

log() { echo "cryptsetup-upstream: $*" >&2; }
die() { log "error: $*"; exit 1; }

vm/setup.sh >/dev/null          # kernel staged, cryptsetup-bin installed
[ -f build/lib/libdevmapper.so.1.02.1 ] || make -s build

CS_VER=$(dpkg-query -W -f '${Version}' libcryptsetup12 2>/dev/null) ||
    die "libcryptsetup12 is not installed"
CS_SRC_VER=$(dpkg-query -W -f '${source:Version}' libcryptsetup12)
DM_VER=$(dpkg-query -W -f '${Version}' libdevmapper1.02.1 2>/dev/null) ||
    die "libdevmapper1.02.1 is not installed"

CACHE=$REPO/vm/cache/cryptsetup-upstream
# One directory per version pair (':' is not welcome in paths).
WORK=$CACHE/${CS_SRC_VER#*:}_dm${DM_VER#*:}
SRC=$WORK/src
DMINC=$WORK/dm-include
TESTDIR=$SRC/tests

# Tools needed on the host to unpack and build (not -dev packages).
need=()
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}" >/dev/null
fi

fetch() {
    local tmp
    tmp=$(mktemp -d "$CACHE/apt.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/get"
    # The machine's own Debian entries (codename, -updates, -security), each
    # with its deb-src twin: no mirror is named here.
    deb_private_sources deb-src >"$tmp/sources.list" ||
        die "cannot read the machine's apt sources"
    grep -q '^deb-src ' "$tmp/sources.list" || die "no Debian entry for $(deb_codename) in the apt sources"
    local apt=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache"
               -o APT::Sandbox::User=root -q)
    log "fetching cryptsetup $CS_SRC_VER source and libdevmapper-dev $DM_VER (private apt state)"
    apt-get "${apt[@]}" update >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; die "apt-get update failed"; }
    (cd "$tmp/get" &&
        apt-get "${apt[@]}" source --download-only "cryptsetup=$CS_SRC_VER" &&
        apt-get "${apt[@]}" download "libdevmapper-dev=$DM_VER") >"$tmp/get.log" 2>&1 ||
        { cat "$tmp/get.log" >&2; die "download failed"; }
    rm -rf "$WORK.new"; mkdir -p "$WORK.new"
    (cd "$tmp/get" && dpkg-source -x cryptsetup_*.dsc "$WORK.new/src") >"$tmp/x.log" 2>&1 ||
        { cat "$tmp/x.log" >&2; die "dpkg-source -x failed"; }
    rm -f "$WORK.new"/*.orig.tar.*     # dpkg-source leaves a copy next to the tree
    mkdir -p "$tmp/dmdev" "$WORK.new/dm-include"
    dpkg-deb -x "$tmp"/get/libdevmapper-dev_*.deb "$tmp/dmdev"
    cp "$tmp/dmdev/usr/include/libdevmapper.h" "$WORK.new/dm-include/"
    rm -rf "$WORK"; mv "$WORK.new" "$WORK"
    rm -rf "$tmp"; trap - EXIT
}

mkdir -p "$CACHE"
if [ ! -f "$TESTDIR/api-test.c" ] || [ ! -f "$DMINC/libdevmapper.h" ]; then
    fetch
fi

# Build the test programs (make keeps it idempotent; ~8 s the first time).
# CFLAGS adds the libdevmapper.h directory; Makefile.localtest's own CPPFLAGS
# (-I../lib, the feature defines) stay. LDLIBS links the installed runtime
# libraries by file name instead of the -dev symlinks.
if ! make -s -C "$TESTDIR" -f Makefile.localtest check-programs \
        CFLAGS="-O2 -g -Wall -D_GNU_SOURCE -I$DMINC" \
        LDLIBS="-l:libcryptsetup.so.12 -l:libdevmapper.so.1.02.1" >"$WORK/build.log" 2>&1; then
    cat "$WORK/build.log" >&2
    die "building cryptsetup's test programs failed"
fi
log "cryptsetup $CS_VER (source $CS_SRC_VER), stock libdevmapper $DM_VER; tests: ${TESTS[*]}"

# Both libraries run sequentially in one boot; the guest prints the verdict
# and exits non-zero when the pass sets differ or api-test fails on ours.
rc=0
vm/run.sh --timeout "${CS_UPSTREAM_VM_TIMEOUT:-1200}" \
    ${CS_UPSTREAM_SCRIPT_TIMEOUT:+--env CS_UPSTREAM_SCRIPT_TIMEOUT="$CS_UPSTREAM_SCRIPT_TIMEOUT"} \
    ${CS_UPSTREAM_DMSETUP:+--env CS_UPSTREAM_DMSETUP="$CS_UPSTREAM_DMSETUP"} \
    -- vm/tests/cryptsetup-upstream-guest.sh "$TESTDIR" "$REPO/build/lib" "${TESTS[@]}" || rc=$?
[ $rc = 0 ] || log "FAILED (exit $rc)"
exit $rc
