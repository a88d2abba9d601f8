#!/bin/bash
# Self-test of vm/lib/guard.sh (no VM, no root, ~3 s): a step's exit status
# passes through; a step past its limit is reported, killed with everything
# it forked, and guard returns 124 promptly; its output reaches the caller.
#
#   vm/tests/harness-guard.sh
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/vm/lib/guard.sh"
guard_report() { echo "# (report)"; } # the devices and tasks: not here
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$REPO/vm/lib/check.sh"

guard 5 quick sh -c 'echo out; echo err >&2; exit 3' >"$T/out" 2>"$T/err"
check "exit status passes through" 3 $?
check "stdout passes through" out "$(cat "$T/out")"
check "stderr passes through" err "$(cat "$T/err")"

t0=$(date +%s%N)
guard 1 sleeper sh -c 'sleep 300 & echo $! >'"$T/child"'; sleep 300' >"$T/out" 2>"$T/err"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a step past its limit returns 124" 124 $rc
check "... within 5 s (${ms} ms)" yes "$([ $ms -lt 5000 ] && echo yes || echo no)"
check "... says so, reports, then kills" "# sleeper: still running after 1 s: a hang; state before killing it:
# (report)
# sleeper: killed" "$(cat "$T/out")"
check "... nothing on stderr (no job report)" "" "$(cat "$T/err")"
child=$(cat "$T/child")
gone=yes
for _ in $(seq 1 50); do
    gone=yes
    [ -e "/proc/$child" ] && [ "$(sed 's/.*) //' "/proc/$child/stat" | cut -c1)" != Z ] && gone=no
    [ $gone = yes ] && break
    sleep 0.1
done
check "... and what it forked goes with it" yes "$gone"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
