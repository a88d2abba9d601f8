#!/bin/bash
# Runs inside the test VM: every Rust kernel-test binary given, with the
# ignored (kernel) tests included. Prints each binary's summary and exits
# non-zero when any of them fails.
#   rust-kernel.sh BINARY...
# A binary takes a few seconds; one still running after RUST_KERNEL_TIMEOUT
# seconds (default 120; libtest names a test running for over 60 s) hangs:
# the state it hangs on is printed, it is killed, and the other binaries
# still run, well inside the VM's timeout (vm/lib/guard.sh).
set -u
. "$(dirname "$0")/../lib/guard.sh"
status=0
for b in "$@"; do
    name=$(basename "$b" | sed 's/-[0-9a-f]*$//')
    echo "== $name"
    if ! guard "${RUST_KERNEL_TIMEOUT:-120}" "$name" "$b" --include-ignored --test-threads=2; then
        status=1
    fi
done
exit $status
