#!/bin/bash
# Runs inside the test VM: every example program of the devmapper crate, one
# after the other, as root. Each must exit 0 and leave no device-mapper
# device, loop device or SysV semaphore (udev cookie) behind; an example that
# prints a line starting with "SKIP:" (e.g. vdo on a kernel without the
# target) counts as skipped. Ends with
#   examples: N passed, M failed, K skipped
# and exits non-zero when any failed.
#
# Build on the host first (the guest sees the host's files):
#   cargo build --release -p devmapper --examples
#   vm/run.sh --timeout 900 -- vm/tests/rust-examples.sh [NAME...]
# NAME: run only these examples (default: every devmapper/examples/*.rs).
# The binaries are looked for in $EXAMPLES_BIN, else
# ${CARGO_TARGET_DIR:-<repo>/target}/release/examples.
# An example takes seconds; one still running after EXAMPLE_TIMEOUT seconds
# (default 120) hangs: what it hangs on is printed, it is killed (with what
# it forked) and the next example runs (vm/lib/guard.sh), so a hang fails
# this example, not the whole VM run.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/vm/lib/guard.sh"
BIN=${EXAMPLES_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/examples}

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in "$REPO"/devmapper/examples/*.rs; do
        names+=("$(basename "$f" .rs)")
    done
fi

# What an example could leave behind: mapped devices, loop devices, SysV
# semaphores (the udev cookies' transport). snap DIR writes the three lists.
snap() {
    mkdir -p "$1"
    dmsetup ls 2>/dev/null | grep -v '^No devices found' | awk '{print $1}' | sort >"$1/dm"
    losetup --noheadings --list --output NAME 2>/dev/null | sort >"$1/loop"
    awk 'NR > 1 {print $2}' /proc/sysvipc/sem 2>/dev/null | sort >"$1/sem"
}
# new KIND: what is in $work/after but not in $work/before.
new() { comm -13 "$work/before/$1" "$work/after/$1"; }
# Remove what an example left (so one leaky example does not fail the next).
cleanup_new() {
    local d
    for d in $(new dm); do dmsetup remove --force --retry "$d" >/dev/null 2>&1; done
    for d in $(new loop); do losetup --detach "$d" 2>/dev/null; done
    for d in $(new sem); do ipcrm -s "$d" 2>/dev/null; done
}

echo "kernel $(uname -r), device-mapper $(dmsetup version 2>/dev/null | awk '/Driver/ {print $3}')"
passed=0 failed=0 skipped=0
failures=()
work=$(mktemp -d)
out=$work/out
for n in "${names[@]}"; do
    exe=$BIN/$n
    echo "=== example $n"
    if [ ! -x "$exe" ]; then
        echo "--- $n: FAIL (no binary $exe; build with cargo build --release -p devmapper --examples)"
        failed=$((failed + 1)); failures+=("$n"); continue
    fi
    snap "$work/before"
    t0=$SECONDS
    # (To a file, not a pipe: a process stuck in the kernel that guard
    # leaves behind would hold a pipe open and keep its reader waiting.)
    guard "${EXAMPLE_TIMEOUT:-120}" "example $n" "$exe" >"$out" 2>&1
    rc=$?
    cat "$out"
    snap "$work/after"
    result=PASS
    why=
    if [ $rc = 124 ]; then
        result=FAIL; why="timed out after ${EXAMPLE_TIMEOUT:-120} s (a hang)"
    elif [ $rc -ne 0 ]; then
        result=FAIL; why="exit status $rc"
    fi
    left=
    for k in dm loop sem; do
        l=$(new $k | tr '\n' ' ')
        [ -z "$l" ] || left="$left $k: $l"
    done
    if [ -n "$left" ]; then
        result=FAIL; why="${why:+$why; }left behind:$left"
        cleanup_new
    fi
    if [ $result = PASS ] && grep -q '^SKIP:' "$out"; then
        result=SKIP; why=$(grep -m1 '^SKIP:' "$out" | sed 's/^SKIP: *//')
    fi
    echo "--- $n: $result ($((SECONDS - t0)) s)${why:+: $why}"
    case $result in
        PASS) passed=$((passed + 1)) ;;
        SKIP) skipped=$((skipped + 1)) ;;
        FAIL) failed=$((failed + 1)); failures+=("$n") ;;
    esac
done
rm -rf "$work"
[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "examples: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
