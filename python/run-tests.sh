#!/bin/bash
# python/run-tests.sh - the Python package's tests, on the stock libdevmapper
# and on ours (`make test-python`; vm/tests.sh runs `--kernel` in the VM).
#
#   python/run-tests.sh            unit tests (no kernel), host side
#   python/run-tests.sh --kernel   unit + kernel tests; as root where
#                                  device-mapper works (the test VM)
#
# Environment:
#   DMRS_LIB       our library (default: build/lib/libdevmapper.so.1.02.1)
#   STOCK_LIB      the stock library (default: the system's, found via ldconfig)
#   DM_DEVICELESS=1 or DEVMAPPER_DEVICELESS=1
#                  the kernel supports deviceless messages (patched dm-mod)
#   DEVMAPPER_STOCK_HEADER   stock libdevmapper.h to check the signature table
#                  against (host side: fetched with `apt-get download` if unset)
#   PYTHON         the interpreter (default: python3)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
KERNEL=0
case ${1:-} in
    --kernel) KERNEL=1 ;;
    "") ;;
    *) echo "usage: $0 [--kernel]" >&2; exit 2 ;;
esac

PY=$(command -v "${PYTHON:-python3}") || { echo "python/run-tests.sh: no python3" >&2; exit 1; }
PY=$("$PY" -c 'import sys; print(sys.executable)')
if ! "$PY" -c 'import pytest' 2>/dev/null; then
    if [ $KERNEL = 1 ]; then
        echo "python/run-tests.sh: pytest is not installed for $PY" \
             "(install it on the host: $PY -m pip install pytest)" >&2
        exit 1
    fi
    "$PY" -m pip install --quiet pytest 2>/dev/null ||
        "$PY" -m pip install --quiet --break-system-packages pytest
fi

OURS=${DMRS_LIB:-$REPO/build/lib/libdevmapper.so.1.02.1}
STOCK=${STOCK_LIB:-}
if [ -z "$STOCK" ]; then
    # The system's library, never ours (which LD_LIBRARY_PATH may put first).
    for f in $(ldconfig -p 2>/dev/null | awk '/libdevmapper\.so\.1\.02\.1 /{print $NF}'); do
        case $(readlink -f "$f") in "$REPO"/*|/usr/local/*) continue ;; esac
        STOCK=$f
        break
    done
fi

export PYTHONDONTWRITEBYTECODE=1
[ "${DM_DEVICELESS:-}" = 1 ] && export DEVMAPPER_DEVICELESS=1

TMP=
cleanup() { [ -z "$TMP" ] || rm -rf "$TMP"; }
trap cleanup EXIT
if [ $KERNEL = 0 ] && [ -z "${DEVMAPPER_STOCK_HEADER:-}" ] && [ ! -f /usr/include/libdevmapper.h ]; then
    # Best effort: the stock header from Debian's libdevmapper-dev (not installed).
    TMP=$(mktemp -d)
    if (cd "$TMP" && timeout 120 apt-get download libdevmapper-dev >/dev/null 2>&1 &&
        dpkg-deb -x libdevmapper-dev_*.deb x) 2>/dev/null &&
        [ -f "$TMP/x/usr/include/libdevmapper.h" ]; then
        export DEVMAPPER_STOCK_HEADER=$TMP/x/usr/include/libdevmapper.h
    fi
fi

if [ $KERNEL = 1 ]; then
    export DEVMAPPER_KERNEL_TESTS=1
    # A kernel test takes seconds (its own bounded waits at most 60 s): one
    # still running after 120 s hangs. pytest's faulthandler then prints
    # every thread's stack (naming the test and the call it hangs in) and
    # ends the run, so the other library still runs within the VM timeout.
    SELECT=(-o faulthandler_timeout=120 -o faulthandler_exit_on_timeout=true)
else
    SELECT=(-m "not kernel")
fi

status=0
run() { # run LABEL LIBRARY
    local label=$1 lib=$2
    if [ -z "$lib" ] || [ ! -e "$lib" ]; then
        echo "=== python ($label): skipped (no library${lib:+ at $lib})"
        return
    fi
    echo "=== python ($label): $lib"
    if DEVMAPPER_LIBRARY=$lib "$PY" -m pytest "$HERE/tests" -q -p no:cacheprovider \
        -rs "${SELECT[@]}"; then
        echo "=== python ($label): PASS"
    else
        echo "=== python ($label): FAIL"
        status=1
    fi
}

run stock "$STOCK"
run ours "$OURS"
exit $status
