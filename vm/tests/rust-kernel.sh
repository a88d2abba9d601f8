#!/bin/bash
# Runs inside the test VM: every Rust kernel-test binary given, with the
# ignored (kernel) tests included. Prints each binary's summary and exits
# non-zero when any of them fails.
#   rust-kernel.sh BINARY...
status=0
for b in "$@"; do
    echo "== $(basename "$b" | sed 's/-[0-9a-f]*$//')"
    if ! "$b" --include-ignored --test-threads=2; then
        status=1
    fi
done
exit $status
