#!/bin/bash
# Smoke test of the multi-VM harness (`make test-cluster-smoke`): three VMs
# (vm/cluster.sh) form a 3-member corosync membership; a write with O_DIRECT
# by node 1 to the shared disk is read back identically by nodes 2 and 3;
# node 3 is killed (its qemu gets SIGKILL) and nodes 1 and 2 see the
# membership shrink to 2.
#
#   vm/tests/cluster-smoke.sh [--kernel 6.1|sid] [--nodes N]
#
# Prints "ok"/"not ok" lines and ends with "N passed, M failed"; exit status
# 0 when nothing failed. Needs root; runs `vm/setup.sh --with-corosync`.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO" || exit 1
KERNEL=6.1
NODES=3
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KERNEL=$2; shift 2 ;;
        --nodes) NODES=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cluster-smoke: unknown argument: $1" >&2; exit 2 ;;
    esac
done
# The VM lock once for all the boots (vm/cluster.sh then sees it held).
[ -n "${CLUSTER_TEST_LOCKED:-}" ] ||
    exec env CLUSTER_TEST_LOCKED=1 "$REPO/vm/cluster.sh" --host-lock -- bash "$REPO/vm/tests/${0##*/}" "$@"
# (make's test environment points LD_LIBRARY_PATH at build/lib: not wanted here)
unset LD_LIBRARY_PATH LD_PRELOAD
vm/setup.sh --with-corosync --kernel "$KERNEL" >/dev/null 2>&1 || vm/setup.sh --with-corosync --kernel "$KERNEL" || exit 1

D=$(mktemp -d "${TMPDIR:-/tmp}/cluster-smoke.XXXXXX")
trap 'rm -rf "$D"' EXIT
t0=$SECONDS
vm/cluster.sh --nodes "$NODES" --kernel "$KERNEL" --timeout 600 --disk-size 64 --dir "$D/run" \
    -- vm/tests/cluster-smoke-guest.sh
rc=$?

pass=0 fail=0
# expect NODE CHECK: node NODE printed "ok CHECK..."
expect() {
    if grep -q "^ok $2" "$D/run/node$1.out" 2>/dev/null; then
        echo "ok   node$1: $2"; pass=$((pass + 1))
    else
        echo "not ok node$1: $2"; fail=$((fail + 1))
        grep "^not ok $2" "$D/run/node$1.out" 2>/dev/null | sed 's/^/     /'
    fi
}
for n in $(seq 1 "$NODES"); do expect "$n" "membership-$NODES"; done
for n in $(seq 2 "$NODES"); do expect "$n" "shared-read"; done
if [ "$NODES" -ge 2 ]; then
    if [ "$(cat "$D/run/node$NODES.rc" 2>/dev/null)" = 137 ]; then
        echo "ok   node$NODES: killed on request (qemu SIGKILL)"; pass=$((pass + 1))
    else
        echo "not ok node$NODES: killed on request (exit $(cat "$D/run/node$NODES.rc" 2>/dev/null))"; fail=$((fail + 1))
    fi
    for n in $(seq 1 $((NODES - 1))); do expect "$n" "membership-after-kill"; done
fi
if [ "$rc" = 0 ]; then
    echo "ok   every node's command exited 0 (the killed one aside)"; pass=$((pass + 1))
else
    echo "not ok vm/cluster.sh exited $rc"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed ($NODES nodes, kernel $KERNEL, $((SECONDS - t0)) s)"
[ "$fail" = 0 ]
