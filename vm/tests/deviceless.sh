#!/bin/bash
# Runs inside the test VM. Deviceless target messages through the C API, the
# Rust API and Python. With DM_DEVICELESS=1 the kernel carries our patched
# dm-mod (kernel-patch/): `%Hello` to linear answers `World!`. Without it the
# library must report that the kernel lacks the feature.
#   deviceless.sh REPO RUST_KERNEL_TEST_BINARY
set -u
REPO=$1
RUST_TESTS=$2
BIN=$REPO/build/tests/deviceless
export LD_LIBRARY_PATH=$REPO/build/lib
pass=0 fail=0
check() { # check NAME EXPECTED-EXIT GREP-PATTERN CMD...
    local name=$1 want=$2 pat=$3; shift 3
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" = "$want" ] && grep -q -- "$pat" <<<"$out"; then
        echo "ok - $name"; pass=$((pass + 1))
    else
        echo "not ok - $name (exit $rc, wanted $want and /$pat/)"; sed 's/^/    | /' <<<"$out"; fail=$((fail + 1))
    fi
}
if [ "${DM_DEVICELESS:-0}" = 1 ]; then
    check "C: linear %Hello -> World!" 0 '^World!$' "$BIN" linear %Hello
    check "C: linear %hELLO (case-insensitive)" 0 '^World!$' "$BIN" linear %hELLO
    check "C: linear %Bye -> EINVAL" 1 'errno 22' "$BIN" linear %Bye
    check "C: zero has no handler -> EINVAL" 1 "no deviceless message handler" "$BIN" zero %Hello
    check "C: unknown target type -> EINVAL" 1 'errno 22' "$BIN" nosuchtarget %Hello
    check "C: message without % is a device message -> ENXIO" 1 'errno 6' "$BIN" linear Hello
else
    check "C: stock kernel -> not supported" 1 'kernel does not support deviceless messages' "$BIN" linear %Hello
fi
check "Rust API" 0 "test result: ok. [1-9][0-9]* passed" "$RUST_TESTS" --include-ignored --test-threads=1 deviceless
check "Python (stock and ours)" 0 'passed' env PYTEST_ADDOPTS="-k deviceless" "$REPO/python/run-tests.sh" --kernel
echo "$pass passed, $fail failed"
[ $fail = 0 ]
