#!/bin/bash
# Host side of the real-kernel tests (`make test-vm`): boots the test VM and
# runs, as root inside it, the Rust kernel tests, the C suite against stock
# and our libdevmapper, the cryptsetup/veritysetup/integritysetup sequences
# on both libraries, dm-ulogd under real mirrors, and the Python kernel
# tests; then the Rust tests and examples, the C suite and the cryptsetup
# sequences again on Debian sid's kernel, and the deviceless-message tests
# on a 6.1 kernel with our patched dm-mod.
#
#   vm/tests.sh [--quick|--extra]
#
#   --quick   6.1 kernel only, no sid, no patched dm-mod
#   --extra   only the suites kept out of `make check` for its time
#             budget (`make test-vm-extra`), all on sid: the dmsetup/dmstats
#             transcripts (with dmsetup.c rebuilt) and dm-ulogd (the 6.1
#             runs are in make check)
#
# Each VM uses one vCPU, so the suites run in two lanes at once, one per
# core (VM_LANES=1: one lane, the suites one after another). Lane A's output
# streams; lane B's is shown when lane A is done. The host suites that share
# Debian sources (the dmsetup transcripts, LVM2's scripts, udev) stay in one
# lane; apt and vm/setup.sh wait for each other's locks.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
QUICK=0 EXTRA=0
[ "${1:-}" = --quick ] && QUICK=1
[ "${1:-}" = --extra ] && EXTRA=1

vm/setup.sh >/dev/null 2>&1 || vm/setup.sh
[ $QUICK = 1 ] || vm/setup.sh --kernel sid >/dev/null 2>&1 || vm/setup.sh --kernel sid

# Build everything the guest runs on the host (the guest sees the host's
# filesystem read-only through virtiofs).
[ -f build/lib/libdevmapper.so.1.02.1 ] || make -s build
# Every integration test of the core whose name ends in "kernel" needs the
# driver: build them all, run them all in the guest.
mapfile -t RUST_KERNEL_TESTS < <(cargo test --release -p devmapper --tests --no-run --message-format=json 2>/dev/null |
    python3 -c 'import sys,json
for l in sys.stdin:
    try: m=json.loads(l)
    except Exception: continue
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"].endswith("kernel"): print(m["executable"])')
RUST_TESTS=
for t in "${RUST_KERNEL_TESTS[@]}"; do
    case $(basename "$t") in kernel-*) RUST_TESTS=$t ;; esac
done
[ -x "$RUST_TESTS" ] || { echo "vm/tests.sh: could not build the Rust kernel tests" >&2; exit 1; }
cargo build --release -p devmapper --examples -q
cargo build --release -p dm-ulogd -q
ULOGD=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/dm-ulogd
make -s -C capi-tests all asan
mkdir -p build/tests
cc -Wall -Wextra -Werror -o build/tests/deviceless vm/tests/deviceless.c \
    $(PKG_CONFIG_PATH=build/pkgconfig pkg-config --cflags --libs devmapper)
# The guest cannot install anything: pytest comes from the host.
python3 -c 'import pytest' 2>/dev/null || python3 -m pip install --quiet pytest 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages pytest

status=0
# Each lane's suite lines (lane B sets its own two).
LANE=A
RESULTS=build/vm-results-$LANE.tsv
rm -f build/vm-results*.tsv
: >build/vm-results-A.tsv
: >build/vm-results-B.tsv
# The output of each suite that failed, kept for the report at the end (CI
# may show only the last lines of a run).
FAILED=build/vm-failed
rm -rf "$FAILED"
suite() { # suite NAME VM-ARGS... -- COMMAND...: a command in one VM boot,
    # then a check that it left no device, node, semaphore or loop device.
    # A --timeout among VM-ARGS (a few times the suite's usual time) replaces
    # the default 900 s, so that a hang costs make check minutes, not its
    # whole budget.
    local name=$1 vmargs=(); shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vmargs+=("$1"); shift; done
    shift
    host_suite "$name" vm/run.sh --timeout 900 "${vmargs[@]}" -- vm/tests/clean-after.sh "$@"
}
host_suite() { # host_suite NAME COMMAND...: a host command that boots VMs itself
    local name=$1; shift
    local t0=$SECONDS log result
    log=$(mktemp)
    echo "=== $name"
    if "$@" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" = 0 ]; then
        result=PASS
    else
        result=FAIL
        status=1
        mkdir -p "$FAILED"
        { echo "$name ($((SECONDS - t0)) s)"; cat "$log"; } >"$FAILED/$LANE$(printf '%02d' "$(wc -l <"$RESULTS")").log"
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" $result $((SECONDS - t0)) "$(summary "$log")" >>"$RESULTS"
    echo "=== $name: $result ($((SECONDS - t0)) s)"
    rm -f "$log"
}
failure_report() { # what failed, repeated last: each failed suite's name,
    # time and the lines of its output that say what went wrong
    local f
    for f in "$FAILED"/*.log; do
        [ -e "$f" ] || continue
        echo "=== FAILED: $(head -n1 "$f")"
        tail -n +2 "$f" | grep -a -E 'not ok|FAIL|failed|panicked|timed out|assert|error|differ|^[-+][^-+]|left behind|vm/run.sh' |
            grep -a -v -E '^ok |: PASS|0 failed' | tail -n 15 | cut -c1-200 | sed 's/^/    /'
        echo "    (whole output: $f)"
    done
}
summary() { # the closing count lines of a suite's output, joined
    grep -E '^(test result:|examples:|[0-9]+ passed|cryptsetup transcript:|stock: [0-9]+ steps|pass sets|dmsetup transcript:|udev transcript:|timeouts:|clean-after:)' "$1" | tr '\n' ';' | sed 's/;$//'
}

# Lane A: the 6.1 suites of the library itself and cryptsetup's, then the
# sid examples and cryptsetup sequences (about 18 minutes on an idle
# machine); lane B: the Debian-source suites, dm-ulogd, sid's Rust and C
# suites and the patched dm-mod (about 18).
lane_a() {
host_suite "6.1: the leftover check after each suite notices devices, nodes, semaphores, loop devices" \
    vm/run.sh --timeout 300 -- vm/tests/clean-after-selftest.sh
suite "6.1: Rust API kernel tests" --timeout 300 -- vm/tests/rust-kernel.sh "${RUST_KERNEL_TESTS[@]}"
suite "6.1: Rust examples (one per target family)" --timeout 300 -- vm/tests/rust-examples.sh
if [ -x capi-tests/run.sh ]; then
    suite "6.1: C suite, stock vs ours" --timeout 600 -- capi-tests/run.sh --lib both --kernel
    suite "6.1: C suite on ours under AddressSanitizer" --timeout 450 -- capi-tests/run.sh --lib ours --kernel --asan
fi
suite "6.1: cryptsetup sequences, stock vs ours (LD_LIBRARY_PATH, LD_PRELOAD)" --timeout 300 -- vm/tests/cryptsetup-compare.sh "$REPO"
host_suite "6.1: cryptsetup's own tests (api-test, luks1-compat, fvault2-compat), stock vs ours" \
    vm/tests/cryptsetup-upstream.sh
if [ -x python/run-tests.sh ]; then
    suite "6.1: Python kernel tests, stock and ours" --timeout 300 -- python/run-tests.sh --kernel
fi
suite "6.1: deviceless messages on a stock kernel report the missing feature" \
    --timeout 300 --env DM_KERNEL_TESTS=1 -- vm/tests/deviceless.sh "$REPO" "$RUST_TESTS"
if [ $QUICK = 0 ]; then
    suite "sid: Rust examples (one per target family)" --kernel sid --timeout 300 -- vm/tests/rust-examples.sh
    suite "sid: cryptsetup sequences, stock vs ours (LD_LIBRARY_PATH, LD_PRELOAD)" --kernel sid --timeout 300 \
        -- vm/tests/cryptsetup-compare.sh "$REPO"
fi
}
lane_b() {
LANE=B RESULTS=build/vm-results-B.tsv
host_suite "6.1: dmsetup and dmstats transcripts (Debian's), stock vs ours" \
    vm/tests/dmsetup-compare.sh --no-built
host_suite "6.1: LVM2's own dmsetup/dmstats test scripts, stock vs ours" vm/tests/lvm2-upstream.sh
host_suite "6.1: udev synchronisation with Debian's dm rules, stock vs ours" vm/tests/udev-sync.sh
suite "6.1: dm-ulogd (userspace dirty log) under real mirrors, vs the kernel's core/disk logs" \
    --timeout 600 --env ULOGD="$ULOGD" -- vm/tests/ulog.sh
if [ $QUICK = 0 ]; then
    suite "sid: Rust API kernel tests" --kernel sid --timeout 300 -- vm/tests/rust-kernel.sh "${RUST_KERNEL_TESTS[@]}"
    if [ -x capi-tests/run.sh ]; then
        suite "sid: C suite, stock vs ours" --kernel sid --timeout 600 -- capi-tests/run.sh --lib both --kernel
    fi
    if [ -x kernel-patch/build.sh ]; then
        local dm_mod
        if dm_mod=$(kernel-patch/build.sh | tail -1) && [ -f "$dm_mod" ]; then
            suite "6.1 + patched dm-mod: deviceless messages (C, Rust, Python)" --dm-mod "$dm_mod" --timeout 300 \
                --env DM_KERNEL_TESTS=1 --env DM_DEVICELESS=1 -- vm/tests/deviceless.sh "$REPO" "$RUST_TESTS"
        else
            host_suite "6.1 + patched dm-mod: building the module (kernel-patch/build.sh)" false
        fi
    fi
fi
return $status
}
if [ $EXTRA = 0 ]; then
    if [ "${VM_LANES:-2}" = 1 ] || [ "$(nproc)" -lt 2 ]; then
        lane_a
        lane_b || true
    else
        # Lane B in the background, its output kept whole until lane A ends.
        lane_log=build/vm-lane-b.log
        lane_b >"$lane_log" 2>&1 &
        lane_pid=$!
        echo "=== lane B runs beside this one; its output follows lane A's ($lane_log)"
        lane_a
        lane_rc=0
        wait "$lane_pid" || lane_rc=$?
        echo "=== lane B"
        cat "$lane_log"
        [ $lane_rc = 0 ] || status=1
    fi
fi # EXTRA = 0
if [ $EXTRA = 1 ]; then
    host_suite "sid: dmsetup and dmstats transcripts (Debian's and rebuilt from source), stock vs ours" \
        vm/tests/dmsetup-compare.sh --kernel sid
    suite "sid: dm-ulogd (userspace dirty log) under real mirrors, vs the kernel's core/disk logs" --kernel sid \
        --env ULOGD="$ULOGD" -- vm/tests/ulog.sh
fi
# A compatibility table from this run (README links the committed copy).
{
    echo "| Suite (real kernel under qemu) | Result | Seconds | Summary |"
    echo "|---|---|---|---|"
    cat build/vm-results*.tsv | awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
} >"build/compatibility$([ $EXTRA = 1 ] && echo -extra).md"
echo "wrote build/compatibility$([ $EXTRA = 1 ] && echo -extra).md"
failure_report
exit $status
