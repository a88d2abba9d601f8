#!/bin/bash
# Guest side of vm/tests/lvm2-upstream.sh (runs as root in the test VM):
# LVM2's test/shell scripts with the harness built by the host script, on
# stock libdevmapper, then on ours (LD_LIBRARY_PATH=LIBDIR for the whole
# script). Prints `<script>: PASS|FAIL|SKIP (<seconds>s)` per script and
# library, the comparison, and `N passed, N failed` (over both libraries).
# Exits non-zero when a script's result differs between the libraries,
# in its first run and again when run once more on both.
#
#   lvm2-upstream-guest.sh TESTDIR LIBDIR LOGDIR SCRIPT...
#
# LOGDIR/<stock|ours>/<script>.log receive each script's output.
#
# A script is run as LVM2's runner does: `bash shell/<name>.sh` from the
# test directory (lib/ beside it), flavour ndev-vanilla (no udev: nodes are
# made by libdevmapper under the test's own DM_DEV_DIR), exit status 0 =
# pass, 200 = skip, anything else = fail. LVM2_UPSTREAM_SCRIPT_TIMEOUT:
# seconds per script (default 150: the longest, name-mangling, takes 40-45 s;
# with 300 two hung scripts used up the VM's 600 s and every verdict; a hung
# script's log ends with what it waits on, see vm/lib/guard.sh).
set -u
[ $# -ge 4 ] || { echo "usage: $0 TESTDIR LIBDIR LOGDIR SCRIPT..." >&2; exit 2; }
TESTDIR=$1
LIBDIR=$2
OUT=$3
shift 3
SCRIPTS=("$@")
TMO=${LVM2_UPSTREAM_SCRIPT_TIMEOUT:-150}
. "$(cd "$(dirname "$0")/../lib" && pwd)/guard.sh"
unset LD_LIBRARY_PATH LD_PRELOAD DM_DISABLE_UDEV
export LVM_TEST_FLAVOUR=ndev-vanilla
DMSETUP=$(command -v dmsetup) || { echo "no dmsetup" >&2; exit 2; }
stock_dm() { env -u LD_LIBRARY_PATH -u LD_PRELOAD "$DMSETUP" "$@"; }

cleanup() { # what a script left (printed), then a clean state
    local left
    left=$(stock_dm ls 2>/dev/null | grep -v '^No devices found' | awk '{ print $1 }' | tr '\n' ' ')
    stock_dm remove_all --force >/dev/null 2>&1
    losetup -D 2>/dev/null
    rmmod brd 2>/dev/null
    for id in $(ipcs -s 2>/dev/null | awk '$1 ~ /^0x0*d4d/ { print $2 }'); do
        left="$left semaphore:$id"; ipcrm -s "$id" 2>/dev/null
    done
    echo "$left"
}

# Versioned libdevmapper symbols dmsetup imports that LIBDIR's library lacks:
# then every dmsetup call in the scripts fails to load; say so up front.
missing=$(comm -23 \
    <(readelf --dyn-syms -W "$DMSETUP" | awk '$7 == "UND" && $8 ~ /^dm_/ { sub(/ .*/, "", $8); print $8 }' | sort -u) \
    <(readelf --dyn-syms -W "$LIBDIR/libdevmapper.so.1.02.1" | awk '$7 != "UND" && $8 ~ /^dm_/ { s = $8; sub(/@@/, "@", s); print s }' | sort -u))

declare -A RESULT
lib_env() { # lib_env stock|ours: the env command line of that library's runs
    if [ "$1" = ours ]; then
        ENVS=(env -u LD_PRELOAD LD_LIBRARY_PATH="$LIBDIR")
    else
        ENVS=(env -u LD_LIBRARY_PATH -u LD_PRELOAD)
    fi
}
run_one() { # run_one stock|ours SCRIPT: one script, its result and report line
    local mode=$1 t=$2 dir=$OUT/$1 rc res start secs left
    lib_env "$mode"
    cd "$TESTDIR" || exit 2
    start=$(date +%s.%N)
    guard "$TMO" "$t" "${ENVS[@]}" bash "shell/$t.sh" >"$dir/$t.log" 2>&1 </dev/null
    rc=$?
    secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    case $rc in
        0) res=PASS ;;
        200) res=SKIP ;;
        *) res=FAIL ;;
    esac
    RESULT[$mode,$t]=$res
    left=$(cleanup)
    echo "$t: $res (${secs}s)${left:+ [left behind: $left]}"
    case $res in
        SKIP) grep -m1 'TEST SKIPPED' "$dir/$t.log" | sed 's/^/    | /' ;;
        FAIL)
            [ $rc = 124 ] && echo "    (timed out after ${TMO}s)"
            grep -v '^\s*$' "$dir/$t.log" | tail -n 25 | sed 's/^/    | /' ;;
    esac
    cd / || exit 2
}
run_lib() { # run_lib stock|ours
    local mode=$1 t so
    lib_env "$mode"
    rm -rf "${OUT:?}/$mode"; mkdir -p "$OUT/$mode"
    so=$("${ENVS[@]}" ldd "$DMSETUP" | awk '$1 == "libdevmapper.so.1.02.1" { print $3 }')
    echo "=== $mode libdevmapper: $so (dmsetup $DMSETUP, kernel $(uname -r))"
    if [ "$mode" = ours ] && [ -n "$missing" ]; then
        echo "ours: $(echo "$missing" | wc -l) symbols dmsetup imports are missing from $so, e.g." \
            "$(echo "$missing" | head -n 3 | sed 's/@.*//' | paste -sd' '): every dmsetup call will fail to load"
    fi
    for t in "${SCRIPTS[@]}"; do
        run_one "$mode" "$t"
    done
}

# dmsecuretest gives gcore (gdb) the 4 s its helper sleeps to attach, and
# skips when it is too late. gdb's first start in the VM reads it and its
# libraries through virtiofs: done here once, so that the first library's
# run does not pay it alone.
if command -v gdb >/dev/null; then
    gdb -nx --batch -ex quit >/dev/null 2>&1 || true
fi
cleanup >/dev/null
total_start=$(date +%s)
for mode in stock ours; do
    s=$(date +%s)
    run_lib $mode
    echo "=== $mode: $(( $(date +%s) - s ))s"
done

# A script whose result differs is run once more on both libraries, and
# that run decides: LVM2's scripts race against fixed sleeps (dmsecuretest:
# gcore against its helper's 4 s), which emulation, with another VM beside
# it, can lose. A difference that is ours shows again. Both runs are in the
# output; the first run's log is kept as <script>.first.log.
for t in "${SCRIPTS[@]}"; do
    a=${RESULT[stock,$t]} b=${RESULT[ours,$t]}
    [ "$a" = "$b" ] && continue
    echo "=== $t: $a -> $b differs: once more on both libraries"
    for mode in stock ours; do
        mv "$OUT/$mode/$t.log" "$OUT/$mode/$t.first.log"
        echo -n "$mode: "
        run_one "$mode" "$t"
    done
done

echo "=== comparison (stock -> ours)"
status=0 passed=0 failed=0 skipped=0
for t in "${SCRIPTS[@]}"; do
    a=${RESULT[stock,$t]} b=${RESULT[ours,$t]}
    for r in "$a" "$b"; do
        case $r in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; SKIP) skipped=$((skipped + 1)) ;; esac
    done
    if [ "$a" = "$b" ]; then echo "$t: $a -> $b"; else echo "$t: $a -> $b  DIFFERS"; status=1; fi
done
pass_set() { local m=$1 t l=""; for t in "${SCRIPTS[@]}"; do [ "${RESULT[$m,$t]}" = PASS ] && l+="$t "; done; echo "${l% }"; }
echo "stock pass set: $(pass_set stock)"
echo "ours  pass set: $(pass_set ours)"
if [ $status = 0 ]; then echo "pass sets: same"; else echo "pass sets: DIFFER"; fi
echo "total: $(( $(date +%s) - total_start ))s; $skipped skipped"
echo "$passed passed, $failed failed"
exit $status
