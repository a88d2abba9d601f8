#!/bin/bash
# Guest side of vm/tests/cluster-smoke.sh, run on every node by vm/cluster.sh
# (3 nodes): corosync membership of all nodes, a write with O_DIRECT by
# node 1 to the shared disk read back identically by the others, node 3
# killed and the others seeing the membership shrink to 2. Prints
# "ok <check>" / "not ok <check>" lines; the host side collects them.
set -u
# shellcheck source=cluster-lib.sh
. "$(dirname "$0")/cluster-lib.sh"
DISK=/dev/vda
status=0
ok() { echo "ok $*"; }
bad() { echo "not ok $*"; status=1; }

# 1. corosync: every node a member
if cl_corosync_start; then
    ok "membership-$NODES: corosync members $(cl_members)"
else
    bad "membership-$NODES: corosync members '$(cl_members)'"
fi
cl_barrier members || status=1

# 2. shared disk: node 1 writes 1 MiB at 1 MiB with O_DIRECT, the others read it
if [ "$NODE_ID" = 1 ]; then
    head -c 1048576 /dev/urandom >/tmp/pattern
    if dd if=/tmp/pattern of=$DISK bs=1M seek=1 count=1 oflag=direct status=none; then
        cl_publish pattern-sum "$(sha256sum </tmp/pattern | cut -d' ' -f1)"
    else
        bad "shared-write: dd to $DISK failed"
        cl_publish pattern-sum none
    fi
fi
want=$(cl_fetch pattern-sum) || want=missing
if [ "$NODE_ID" != 1 ]; then
    have=$(dd if=$DISK bs=1M skip=1 count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1)
    if [ "$have" = "$want" ]; then
        ok "shared-read: node 1's O_DIRECT write read back identically"
    else
        bad "shared-read: read $have, node 1 wrote $want"
    fi
fi
cl_barrier read || status=1

# 3. node NODES (the last) is killed; the others see the membership shrink
if [ "$NODES" -ge 2 ]; then
    if [ "$NODE_ID" = "$NODES" ]; then
        cl_kill "$NODE_ID"
    fi
    # (node NODES asks for its kill right after the barrier)
    t0=$(date +%s)
    while ! cl_killed "$NODES" && ! cl_deadline_passed "$t0" 60; do sleep 0.1; done
    live=$(cl_live_nodes)
    if cl_wait_members "$live"; then
        ok "membership-after-kill: corosync members $(cl_members)"
    else
        bad "membership-after-kill: corosync members '$(cl_members)', wanted '$live'"
    fi
    cl_barrier after-kill || status=1
fi
cl_corosync_stop
exit $status
