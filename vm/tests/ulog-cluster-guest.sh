#!/bin/bash
# Guest side of vm/tests/ulog-cluster.sh, run on every node by vm/cluster.sh.
#
#   vm/tests/ulog-cluster-guest.sh harness|clustered-disk|clustered-core
#
# The shared disk /dev/vda is split by linear devices on every node (the
# same tables): a log area and two legs. Node 1 fills the legs with
# different contents first, so that every mirror starts with a real resync.
#
# clustered-disk / clustered-core (issue 10, part 2): every node runs
# `$ULOGD -f --cluster` (corosync already running) and creates the same
# mirror, same uuid:
#   0 LEN mirror userspace 4 UUID clustered-disk LOGDEV REGION 2 LEG0 0 LEG1 0
#   0 LEN mirror userspace 3 UUID clustered-core REGION 2 LEG0 0 LEG1 0
# initial resync to 100 % on every node; O_DIRECT writes on every node to
# disjoint areas with known patterns (phase A, completed before anyone is
# killed; phase B, running while the last node is killed: its qemu gets
# SIGKILL mid-write); on the survivors: corosync sees the node gone, the
# mirror resyncs to 100 %, legs identical, every node's phase A data and the
# survivors' phase B data read back, clean removal, dm-ulogd exits 0 on
# SIGTERM.
#
# harness: the same without dm-ulogd, to check the harness itself: node 1
# builds a mirror with the kernel's own `core` log, resync to 100 %, writes,
# legs identical; the other nodes read node 1's data through their own leg
# devices (the shared disk is coherent between VMs).
#
# Prints "ok - CHECK" / "not ok - CHECK" lines; exit status 0 when nothing
# failed. Logs (dm-ulogd, corosync) are copied to $CLUSTER_DIR/*-node<N>.log.
set -u
MODE=${1:?usage: ulog-cluster-guest.sh harness|clustered-disk|clustered-core}
# shellcheck source=cluster-lib.sh
. "$(dirname "$0")/cluster-lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ULOGD=${ULOGD:-${CARGO_TARGET_DIR:-$REPO/target}/release/dm-ulogd}
ULOGD_ARGS=${ULOGD_ARGS:-}
DISK=/dev/vda
LEG_MB=${ULOG_CLUSTER_LEG_MB:-32}
LEG=$((LEG_MB * 2048))               # sectors
REGION=${ULOG_CLUSTER_REGION:-256}   # sectors: 128 KiB regions
LOG_START=2048 LOG_LEN=8192          # 4 MiB at 1 MiB
LEG0_START=16384
LEG1_START=$((LEG0_START + LEG))
AREA_MB=$((LEG_MB / NODES / 2 * 2))  # per node: phase A then phase B, MiB
[ "$AREA_MB" -ge 2 ] || { echo "not ok - legs of $LEG_MB MiB too small for $NODES nodes"; exit 1; }
HALF_MB=$((AREA_MB / 2))
SYNC_TIMEOUT=${ULOG_CLUSTER_SYNC_TIMEOUT:-300}
UUID="dmrs-ulog-cluster-$MODE"
MIRROR=clmirror
W=/tmp/ulog-cluster
mkdir -p "$W"
status=0
DAEMON_PID=

ok() { echo "ok - node$NODE_ID: $*"; }
bad() {
    echo "not ok - node$NODE_ID: $*"; status=1
    [ -f "$W/ulogd.log" ] && tail -n 15 "$W/ulogd.log" | sed 's/^/    | /'
    dmesg | tail -n 8 | sed 's/^/    k /'
}
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
barrier() { cl_barrier "$1" "${2:-$SYNC_TIMEOUT}" || bad "barrier $1"; }

# keep_logs: copy our logs to the host (the control directory).
keep_logs() {
    cp "$W/ulogd.log" "$CLUSTER_DIR/ulogd-node$NODE_ID.log" 2>/dev/null
    cp /var/log/corosync/corosync.log "$CLUSTER_DIR/corosync-node$NODE_ID.log" 2>/dev/null
    dmesg >"$CLUSTER_DIR/dmesg-node$NODE_ID.log" 2>/dev/null
    return 0
}

# pattern NODE PHASE: the known contents of that node's area (HALF_MB MiB).
pattern() {
    local f=$W/pat-$1-$2
    [ -f "$f" ] || yes "dm-ulogd cluster test: node $1 phase $2 ($MODE) " | head -c $((HALF_MB << 20)) >"$f"
    echo "$f"
}
# area_mb NODE PHASE: offset in the mirror (MiB) of that area.
area_mb() {
    local off=$((($1 - 1) * AREA_MB))
    [ "$2" = B ] && off=$((off + HALF_MB))
    echo "$off"
}

# read_direct DEV OFFSET_MB COUNT_MB: the bytes, read with O_DIRECT.
read_direct() { dd if="$1" bs=1M skip="$2" count="$3" iflag=direct status=none; }
# same_as DEV OFFSET_MB FILE: DEV holds FILE's contents at OFFSET_MB.
same_as() {
    local mb=$(($(stat -c %s "$3") >> 20))
    cmp -s <(read_direct "$1" "$2" "$mb") "$3"
}
# legs_identical: the two legs, read with O_DIRECT, are byte for byte equal.
legs_identical() {
    cmp <(read_direct /dev/mapper/cl-leg0 0 "$LEG_MB") <(read_direct /dev/mapper/cl-leg1 0 "$LEG_MB")
}
# sync_ratio: "in-sync/total" regions of the mirror.
sync_ratio() { dmsetup status "$MIRROR" 2>/dev/null | awk '{ print $7 }'; }
in_sync() { local r; r=$(sync_ratio); [ -n "$r" ] && [ "${r%/*}" = "${r#*/}" ]; }
wait_sync() {
    local t0
    t0=$(date +%s)
    while ! in_sync; do
        if cl_deadline_passed "$t0" "$SYNC_TIMEOUT"; then
            echo "# node$NODE_ID: sync at $(sync_ratio) after $SYNC_TIMEOUT s: $(dmsetup status "$MIRROR" 2>&1)" >&2
            return 1
        fi
        sleep 0.2
    done
}

# wait_sync_after_leave: the survivors of a node's death wait for the
# resync of the regions it had marked. The kernel's userspace log stops
# asking its server for resync work once the mirror was in sync (it caches
# a hint when GET_SYNC_COUNT reaches the region count) and asks again only
# after a resume. So once this node's daemon has applied the membership
# change (its log says so, when the dead node had regions marked), the
# lowest survivor suspends and resumes its mirror (its log leaves and
# rejoins the group, taking the state back by checkpoint); that node's
# kernel then does the recovery, which every survivor's status shows.
wait_sync_after_leave() {
    local t0
    t0=$(date +%s)
    until in_sync || grep -q 'departed member' "$W/ulogd.log" 2>/dev/null; do
        if cl_deadline_passed "$t0" "$SYNC_TIMEOUT"; then
            echo "# node$NODE_ID: the daemon never applied the leave" >&2
            return 1
        fi
        sleep 0.2
    done
    if ! in_sync && [ "$NODE_ID" = "${LIVE%% *}" ]; then
        dmsetup suspend "$MIRROR" && dmsetup resume "$MIRROR" || return 1
    fi
    wait_sync
}

# dev NAME: "major:minor" of a dm device (tables name devices by number).
dev() { dmsetup info -c --noheadings -o major,minor --separator : "$1" | tr -d ' '; }
make_legs() {
    dmsetup create cl-log --table "0 $LOG_LEN linear $DISK $LOG_START" &&
        dmsetup create cl-leg0 --table "0 $LEG linear $DISK $LEG0_START" &&
        dmsetup create cl-leg1 --table "0 $LEG linear $DISK $LEG1_START" &&
        dmsetup mknodes
}
remove_legs() {
    local d
    for d in cl-leg1 cl-leg0 cl-log; do
        dmsetup info "$d" >/dev/null 2>&1 && { dmsetup remove "$d" || return 1; }
    done
    return 0
}

start_daemon() {
    # shellcheck disable=SC2086 # ULOGD_ARGS: several words
    "$ULOGD" -f --cluster $ULOGD_ARGS >"$W/ulogd.log" 2>&1 &
    DAEMON_PID=$!
    # Ready when it says it serves, or when it holds a connector socket.
    local t0
    t0=$(date +%s)
    until grep -q 'serving' "$W/ulogd.log" 2>/dev/null ||
        awk '$3 == 11 && $4 != 0 { found = 1 } END { exit !found }' /proc/net/netlink; do
        kill -0 "$DAEMON_PID" 2>/dev/null || { echo "# dm-ulogd exited" >&2; return 1; }
        cl_deadline_passed "$t0" 60 && { echo "# dm-ulogd not serving after 60 s" >&2; return 1; }
        sleep 0.1
    done
}
stop_daemon() {
    [ -n "$DAEMON_PID" ] || return 0
    kill -TERM "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID"
    local rc=$?
    DAEMON_PID=
    return "$rc"
}

cleanup() {
    dmsetup remove "$MIRROR" >/dev/null 2>&1
    [ -n "$DAEMON_PID" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    remove_legs >/dev/null 2>&1
    keep_logs
    cl_corosync_stop
}
trap cleanup EXIT

# ---------------------------------------------------------------- common part
check "corosync: all $NODES nodes members" cl_corosync_start
barrier members
if [ "$NODE_ID" = 1 ]; then
    # Legs with different contents (so the first resync has work), log zeroed.
    dd if=/dev/zero of=$DISK bs=512 seek=$LOG_START count=$LOG_LEN oflag=direct status=none &&
        yes leg0-initial | head -c $((LEG_MB << 20)) | dd of=$DISK bs=1M seek=$((LEG0_START / 2048)) oflag=direct iflag=fullblock status=none &&
        yes leg1-initial-different | head -c $((LEG_MB << 20)) | dd of=$DISK bs=1M seek=$((LEG1_START / 2048)) oflag=direct iflag=fullblock status=none ||
        bad "initialising the shared disk"
fi
barrier init
check "linear log and leg devices over the shared disk" make_legs
modprobe dm-mirror && modprobe dm-log-userspace || bad "loading dm-mirror, dm-log-userspace"
barrier legs

# ---------------------------------------------------------------- harness
if [ "$MODE" = harness ]; then
    if [ "$NODE_ID" = 1 ]; then
        check "core-log mirror created on node 1" \
            dmsetup create "$MIRROR" --table "0 $LEG mirror core 1 $REGION 2 $(dev cl-leg0) 0 $(dev cl-leg1) 0"
        dmsetup mknodes "$MIRROR"
        check "core-log mirror: initial resync to 100 %" wait_sync
        check "core-log mirror: O_DIRECT write through the mirror" \
            dd if="$(pattern 1 A)" of=/dev/mapper/$MIRROR bs=1M seek="$(area_mb 1 A)" oflag=direct status=none
        check "core-log mirror: data reads back" same_as /dev/mapper/$MIRROR "$(area_mb 1 A)" "$(pattern 1 A)"
        check "core-log mirror: legs identical (cmp, O_DIRECT)" legs_identical
        check "core-log mirror removed" dmsetup remove "$MIRROR"
    fi
    barrier written
    if [ "$NODE_ID" != 1 ]; then
        check "node 1's mirror write seen on leg 0 through this node's devices" \
            same_as /dev/mapper/cl-leg0 "$(area_mb 1 A)" "$(pattern 1 A)"
        check "node 1's mirror write seen on leg 1 through this node's devices" \
            same_as /dev/mapper/cl-leg1 "$(area_mb 1 A)" "$(pattern 1 A)"
    fi
    barrier read
    check "leg devices removed" remove_legs
    keep_logs
    exit $status
fi

# ---------------------------------------------------------------- clustered
case $MODE in
    clustered-disk) TABLE="0 $LEG mirror userspace 4 $UUID clustered-disk $(dev cl-log) $REGION 2 $(dev cl-leg0) 0 $(dev cl-leg1) 0" ;;
    clustered-core) TABLE="0 $LEG mirror userspace 3 $UUID clustered-core $REGION 2 $(dev cl-leg0) 0 $(dev cl-leg1) 0" ;;
    *) echo "not ok - unknown mode $MODE"; exit 1 ;;
esac
VICTIM=$NODES
check "dm-ulogd -f --cluster serving" start_daemon
barrier daemons
check "$MODE mirror created (same table and uuid on every node)" dmsetup create "$MIRROR" --table "$TABLE"
dmsetup mknodes "$MIRROR"
barrier created
check "initial resync to 100 %" wait_sync
barrier synced
check "legs identical after the initial resync" legs_identical
barrier checked

# Phase A: every node writes its area, completed before anyone is killed.
check "phase A: O_DIRECT write of this node's area" \
    dd if="$(pattern "$NODE_ID" A)" of=/dev/mapper/$MIRROR bs=1M seek="$(area_mb "$NODE_ID" A)" oflag=direct status=none
barrier phase-a

# Phase B: every node writes its area in 64 KiB O_DIRECT pieces, round after
# round; the victim asks for its own kill after its first round (its writes
# still running), the others go on until it is gone, then one more round.
write_rounds() { # write_rounds DONE_FILE: rounds until DONE_FILE exists, then one more
    local pat off r=0 seen=0
    pat=$(pattern "$NODE_ID" B)
    off=$(($(area_mb "$NODE_ID" B) * 16))
    while :; do
        [ -e "$1" ] && seen=1
        dd if="$pat" of=/dev/mapper/$MIRROR bs=64K seek="$off" oflag=direct status=none || return 1
        r=$((r + 1))
        echo "$r" >"$W/rounds"
        [ "$seen" = 1 ] && break
    done
}
if [ "$NODE_ID" = "$VICTIM" ]; then
    write_rounds /nonexistent &
    t0=$(date +%s)
    until [ -s "$W/rounds" ] || cl_deadline_passed "$t0" 120; do sleep 0.05; done
    keep_logs
    cl_kill "$NODE_ID"
fi
check "phase B: O_DIRECT writes across node$VICTIM's kill" write_rounds "$CLUSTER_DIR/kill-node$VICTIM"
LIVE=$(cl_live_nodes)
check "corosync: members $LIVE after node$VICTIM's kill" cl_wait_members "$LIVE"
barrier phase-b

# Survivors: the mirror settles, every node's data is there, legs agree.
check "resync to 100 % after node$VICTIM's kill" wait_sync_after_leave
barrier resynced
for n in $(seq 1 "$NODES"); do
    check "node$n's phase A data reads back" same_as /dev/mapper/$MIRROR "$(area_mb "$n" A)" "$(pattern "$n" A)"
done
for n in $LIVE; do
    check "node$n's phase B data reads back" same_as /dev/mapper/$MIRROR "$(area_mb "$n" B)" "$(pattern "$n" B)"
done
check "legs identical (cmp of both legs read with O_DIRECT)" legs_identical
barrier verified
check "mirror removed" dmsetup remove "$MIRROR"
barrier removed
check "dm-ulogd exits 0 on SIGTERM" stop_daemon
check "leg devices removed" remove_legs
keep_logs
exit $status
