#!/bin/bash
# Guest side of vm/tests/cryptsetup-upstream.sh (runs as root in the test VM):
# cryptsetup's own test scripts/programs against the installed cryptsetup,
# first on stock libdevmapper, then on ours (LD_LIBRARY_PATH=LIBDIR), each
# library from a fresh copy of the built tests/ directory under /tmp. Prints
# `<script>: PASS|FAIL|SKIP (<seconds>s)` per script and library, the
# comparison, and `N passed, N failed` (over both libraries). Exits non-zero
# when a script's result differs between the libraries (in particular when
# the pass sets differ) or api-test does not pass on ours.
#
#   cryptsetup-upstream-guest.sh TESTDIR LIBDIR SCRIPT...
#
# Environment:
# * CRYPTSETUP_PATH=/sbin: the scripts run the installed cryptsetup,
#   veritysetup and integritysetup (Makefile.localtest's convention).
# * DM_DISABLE_UDEV=1: there is no udev in the guest. Without it libdm still
#   believes udev owns /dev/mapper for the scripts' own `dmsetup create`
#   (dmsetup asks for DM_UDEV_DISABLE_LIBRARY_FALLBACK), no node appears and
#   most checks fail or silently test nothing (mode-test "passes" with every
#   cipher n/a; api-test fails at its first `head_wr` device). With it, libdm
#   creates the nodes itself for dmsetup and libcryptsetup alike.
# * `dmsetup` is always stock: the scripts and api-test's helpers call it
#   (through PATH) to build fixtures and to read tables back (`dmsetup table
#   --showkeys`), and it imports the stats/report families that ours does not
#   export yet (README: "keep stock dmsetup"); on ours it dies with "symbol
#   lookup error: undefined symbol: dm_stats_start_filemapd". A wrapper first
#   in PATH runs the real dmsetup without LD_LIBRARY_PATH/LD_PRELOAD, so the
#   library under test is the one cryptsetup, libcryptsetup and the test
#   programs load. CS_UPSTREAM_DMSETUP=ours drops the wrapper.
# * CS_UPSTREAM_SCRIPT_TIMEOUT: seconds per script (default 450: about three
#   times api-test, the longest of the default set; a hung script then
#   costs its library 450 s and the run still ends inside the VM timeout,
#   1200 s, with every other script's result and the hung one named).
#
# Timings on a 2-core host under TCG with stock libdevmapper (6.1 kernel),
# for choosing the default selection:
#   api-test 130-172 s; luks1-compat-test 30-36 s; fvault2-compat-test
#   13-16 s; 00modules-test 2 s: all pass, on ours too (the default set: a
#   whole run, both libraries and the boot, takes ~7.5 min);
#   password-hash-test 28-53 s passes on both (left out for time);
#   compat-args-test 12 s passes but never touches device-mapper (--test-args);
#   api-test-2 254 s passes (stock; not tried on ours); mode-test, verity-compat-test,
#   integrity-compat-test, luks2-integrity-test, luks2-validation-test,
#   bitlk-compat-test > 150 s (mode-test ~7 min est., verity/integrity > 5 min);
#   compat-test2 (217 s), keyring-test skip (no keyctl); device-test (198 s),
#   discards-test, blockwise-compat-test, unit-wipe-test skip (scsi_debug);
#   loopaes-test skips (no uuencode); align-test* skip (no vfat).
set -u
[ $# -ge 3 ] || { echo "usage: $0 TESTDIR LIBDIR SCRIPT..." >&2; exit 2; }
TESTDIR=$1
LIBDIR=$2
shift 2
SCRIPTS=("$@")
TMO=${CS_UPSTREAM_SCRIPT_TIMEOUT:-450}
OUT=/tmp/cs-upstream
. "$(cd "$(dirname "$0")/../lib" && pwd)/guard.sh"

export CRYPTSETUP_PATH=/sbin
export DM_DISABLE_UDEV=1
unset LD_LIBRARY_PATH LD_PRELOAD

DMSETUP=$(command -v dmsetup) || { echo "no dmsetup" >&2; exit 2; }
stock_dmsetup() { env -u LD_LIBRARY_PATH -u LD_PRELOAD "$DMSETUP" "$@"; }
mkdir -p "$OUT/bin"
if [ "${CS_UPSTREAM_DMSETUP:-stock}" = stock ]; then
    printf '#!/bin/sh\nexec env -u LD_LIBRARY_PATH -u LD_PRELOAD %s "$@"\n' "$DMSETUP" >"$OUT/bin/dmsetup"
    chmod +x "$OUT/bin/dmsetup"
    export PATH="$OUT/bin:$PATH"
fi

cleanup_devices() { # leave nothing for the next script / library
    local left
    left=$(stock_dmsetup ls 2>/dev/null | grep -v '^No devices found' | awk '{print $1}' | tr '\n' ' ')
    stock_dmsetup remove_all >/dev/null 2>&1
    stock_dmsetup remove_all --force >/dev/null 2>&1
    losetup -D 2>/dev/null
    rmmod scsi_debug 2>/dev/null
    echo "$left"
}

declare -A RESULT
run_lib() { # run_lib stock|ours
    local mode=$1 dir=$OUT/$1 t rc res start secs left lib
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -a "$TESTDIR" "$dir/tests" || { echo "cannot copy $TESTDIR" >&2; exit 2; }
    cd "$dir/tests" || exit 2
    local envs=(env -u LD_LIBRARY_PATH -u LD_PRELOAD)
    [ "$mode" = ours ] && envs=(env -u LD_PRELOAD LD_LIBRARY_PATH="$LIBDIR")
    lib=$("${envs[@]}" ldd ./api-test 2>/dev/null | awk '$1 == "libdevmapper.so.1.02.1" {print $3}')
    echo "=== $mode libdevmapper: $lib (dmsetup: ${CS_UPSTREAM_DMSETUP:-stock}; cryptsetup $(/sbin/cryptsetup --version | awk '{print $2}'), kernel $(uname -r))"
    if [ "$mode" = ours ] && [ "$lib" != "$LIBDIR/libdevmapper.so.1.02.1" ]; then
        echo "ours: $LIBDIR/libdevmapper.so.1.02.1 is not what the tests load" >&2
        exit 2
    fi
    for t in "${SCRIPTS[@]}"; do
        local args=()
        case $t in api-test|api-test-2) args=(--verbose) ;; esac
        start=$(date +%s.%N)
        if [ -x "./$t" ]; then
            # (guard: on a hang, what it waits on ends the log; see
            # vm/lib/guard.sh)
            guard "$TMO" "$t" "${envs[@]}" "./$t" "${args[@]}" >"$dir/$t.log" 2>&1 </dev/null
            rc=$?
        else
            echo "no such test program/script: $t" >"$dir/$t.log"
            rc=127
        fi
        secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
        case $rc in
            0) res=PASS ;;
            77) res=SKIP ;;
            *) res=FAIL ;;
        esac
        RESULT[$mode,$t]=$res
        left=$(cleanup_devices)
        echo "$t: $res (${secs}s)${left:+ [devices left behind: $left]}"
        if [ $res != PASS ]; then
            [ $rc = 124 ] && echo "    (timed out after ${TMO}s)"
            local n=3
            [ $res = FAIL ] && n=40
            grep -v '^\s*$' "$dir/$t.log" | tail -n $n | sed 's/^/    | /'
        fi
    done
    cd / || exit 2
    rm -rf "$dir/tests"     # the guest's /tmp is RAM; the logs stay
}

cleanup_devices >/dev/null
total_start=$(date +%s)
for mode in stock ours; do
    s=$(date +%s)
    run_lib $mode
    echo "=== $mode: $(( $(date +%s) - s ))s"
done

echo "=== comparison (stock -> ours)"
status=0
passed=0 failed=0 skipped=0
for t in "${SCRIPTS[@]}"; do
    a=${RESULT[stock,$t]} b=${RESULT[ours,$t]}
    for r in "$a" "$b"; do
        case $r in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; SKIP) skipped=$((skipped + 1)) ;; esac
    done
    if [ "$a" = "$b" ]; then
        echo "$t: $a -> $b"
    else
        echo "$t: $a -> $b  DIFFERS"
        status=1
    fi
done
if [ "${RESULT[ours,api-test]:-}" ] && [ "${RESULT[ours,api-test]}" != PASS ]; then
    echo "api-test does not pass on ours"
    status=1
fi
pass_set() { local m=$1 t l=""; for t in "${SCRIPTS[@]}"; do [ "${RESULT[$m,$t]}" = PASS ] && l+="$t "; done; echo "${l% }"; }
echo "stock pass set: $(pass_set stock)"
echo "ours  pass set: $(pass_set ours)"
if [ $status = 0 ]; then echo "pass sets: same"; else echo "pass sets: DIFFER"; fi
echo "total: $(( $(date +%s) - total_start ))s; $skipped skipped"
echo "$passed passed, $failed failed"
exit $status
