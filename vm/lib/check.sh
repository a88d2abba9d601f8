# vm/lib/check.sh - sourced by the harness self-tests (bash), which run on
# the host without a VM: one assertion helper and its counters.
#
#   check NAME EXPECTED ACTUAL   counts a pass when ACTUAL equals EXPECTED,
#                                else a failure, with both values printed
#
# The caller prints "$pass passed, $fail failed" at its end and exits
# non-zero when $fail is not 0.

pass=0 fail=0

check() {
    if [ "$2" = "$3" ]; then
        pass=$((pass + 1)); echo "ok   $1"
    else
        fail=$((fail + 1)); echo "FAIL $1"; echo "     expected: $2"; echo "     actual:   $3"
    fi
}
