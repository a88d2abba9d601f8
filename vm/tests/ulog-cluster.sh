#!/bin/bash
# dm-ulogd's cluster mode under real mirrors on several VMs (issue 10, part
# 2; `make test-ulog-cluster`): vm/cluster.sh boots 2 and then 3 VMs with
# one shared disk and a private network, corosync in each; every node runs
# `dm-ulogd -f --cluster` and the same mirror (clustered-disk, then
# clustered-core); writes on every node, the last node killed mid-write,
# the survivors resync, legs identical, every node's data readable, clean
# removal. See ulog-cluster-guest.sh for the steps.
#
#   vm/tests/ulog-cluster.sh [--kernel 6.1|sid]
#
# Environment: ULOGD (default target/release/dm-ulogd), ULOGD_ARGS (extra
# daemon arguments, e.g. "-l debug"), ULOG_CLUSTER_NODES (default "2 3"),
# ULOG_CLUSTER_LOGS (default "clustered-disk clustered-core").
# A first boot (2 nodes) checks the harness itself with the kernel's own
# core log. When `$ULOGD --help` does not mention --cluster the clustered
# cases print "skipped: dm-ulogd has no --cluster".
# Prints ok/not ok/skip lines, ends with "N passed, M failed, K skipped";
# exit status 0 when nothing failed. Logs of a failed case are kept under
# build/ulog-cluster/.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO" || exit 1
KERNEL=6.1
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KERNEL=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "ulog-cluster: unknown argument: $1" >&2; exit 2 ;;
    esac
done
# The VM lock once for all the boots (vm/cluster.sh then sees it held).
[ -n "${CLUSTER_TEST_LOCKED:-}" ] ||
    exec env CLUSTER_TEST_LOCKED=1 "$REPO/vm/cluster.sh" --host-lock -- bash "$REPO/vm/tests/${0##*/}" "$@"
unset LD_LIBRARY_PATH LD_PRELOAD
ULOGD=${ULOGD:-${CARGO_TARGET_DIR:-$REPO/target}/release/dm-ulogd}
ULOGD=$(realpath -m "$ULOGD")
NODE_COUNTS=${ULOG_CLUSTER_NODES:-2 3}
LOGS=${ULOG_CLUSTER_LOGS:-clustered-disk clustered-core}
vm/setup.sh --with-corosync --kernel "$KERNEL" >/dev/null 2>&1 || vm/setup.sh --with-corosync --kernel "$KERNEL" || exit 1

KEEP=$REPO/build/ulog-cluster
rm -rf "$KEEP"
D=$(mktemp -d "${TMPDIR:-/tmp}/ulog-cluster.XXXXXX")
trap 'rm -rf "$D"' EXIT
pass=0 fail=0 skip=0
T0=$SECONDS

# run_case NAME NODES MODE: one vm/cluster.sh boot; counts the nodes' lines.
run_case() {
    local name=$1 nodes=$2 mode=$3 t0=$SECONDS rc n p f
    echo "# $name: $nodes nodes"
    vm/cluster.sh --nodes "$nodes" --kernel "$KERNEL" --timeout 900 --disk-size 128 --dir "$D/$name" \
        --env ULOGD="$ULOGD" --env ULOGD_ARGS="${ULOGD_ARGS:-}" \
        -- vm/tests/ulog-cluster-guest.sh "$mode" >"$D/$name.log" 2>&1
    rc=$?
    for n in $(seq 1 "$nodes"); do
        p=$(grep -c '^ok - ' "$D/$name/node$n.out" 2>/dev/null)
        f=$(grep -c '^not ok - ' "$D/$name/node$n.out" 2>/dev/null)
        pass=$((pass + p)) fail=$((fail + f))
        grep -E '^(ok|not ok) - ' "$D/$name/node$n.out" 2>/dev/null | sed "s/^/$name: /"
    done
    grep -E '^vm/cluster.sh: [0-9]+ nodes' "$D/$name.log"
    if [ "$rc" = 0 ]; then
        echo "ok - $name: every node finished ($((SECONDS - t0)) s)"; pass=$((pass + 1))
    else
        echo "not ok - $name: vm/cluster.sh exited $rc ($((SECONDS - t0)) s); logs in $KEEP/$name"
        fail=$((fail + 1))
        mkdir -p "$KEEP"
        rm -f "$D/$name/disk.img"
        cp -a "$D/$name" "$KEEP/$name"
        cp "$D/$name.log" "$KEEP/$name/cluster.log"
        tail -n 40 "$D/$name.log" | sed 's/^/    /'
    fi
    rm -rf "${D:?}/$name"
}

run_case harness 2 harness
if [ ! -x "$ULOGD" ]; then
    echo "not ok - no dm-ulogd binary at $ULOGD (cargo build --release -p dm-ulogd)"
    fail=$((fail + 1))
elif ! "$ULOGD" --help 2>&1 | grep -q -- '--cluster'; then
    for nodes in $NODE_COUNTS; do
        for log in $LOGS; do
            echo "skip - $log-$nodes: skipped: dm-ulogd has no --cluster"
            skip=$((skip + 1))
        done
    done
else
    for nodes in $NODE_COUNTS; do
        for log in $LOGS; do
            run_case "$log-$nodes" "$nodes" "$log"
        done
    done
fi
echo "$pass passed, $fail failed, $skip skipped (dm-ulogd cluster, kernel $KERNEL, $((SECONDS - T0)) s)"
[ "$fail" = 0 ]
