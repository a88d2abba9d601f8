#!/bin/bash
# Runs inside the test VM, as root: dm-ulogd (the userspace dirty log
# server) under real mirror targets, and the same scenarios with the
# kernel's own core/disk logs for a differential check.
#
#   vm/tests/ulog.sh [SCENARIO...]        (default: all)
#
# Scenarios: resync writes nosync reactivate lifecycle several kill
# kill-nostate crash failed-leg bad-input detach differential
#
# ULOGD_ARGS adds options to every dm-ulogd started here; with --cluster
# a one-node corosync (127.0.0.1, knet) is started first when none runs,
# so the whole scenario set runs against the clustered mode:
#   ULOGD_ARGS=--cluster vm/tests/ulog.sh
#
# Needs target/release/dm-ulogd (or $ULOGD) built on the host. Prints
# "ok - ..."/"not ok - ..." lines and ends with
#   N passed, M failed, K skipped (dm-ulogd, kernel X)
# Exit status: 0 when nothing failed. A kernel without dm-log-userspace
# makes every scenario "skipped".
#
# Every wait on the kernel is a poll with a deadline (no fixed sleeps).
# Disk and leg contents are compared through the loop devices' backing
# files (coherent with the loop driver), the mirrors are read and written
# with O_DIRECT.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ULOGD=${ULOGD:-${CARGO_TARGET_DIR:-$REPO/target}/release/dm-ulogd}
ULOGD_ARGS=${ULOGD_ARGS:-}
COROSYNC_PID=
W=$(mktemp -d /tmp/ulog-test.XXXXXX)
LEG_MB=4
SECTORS=$((LEG_MB * 2048))
REGION=64                       # sectors: 32 KiB regions
NREG=$((SECTORS / REGION))      # 128 regions
pass=0 fail=0 skip=0
DAEMON_PID=
PREFIX=ulogt

say() { echo "# $*"; }
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() {
    echo "not ok - $*"; fail=$((fail + 1))
    if [ -f "$W/ulogd.log" ]; then tail -n 15 "$W/ulogd.log" | sed 's/^/    | /'; fi
    dmesg 2>/dev/null | tail -n 8 | sed 's/^/    k /'
}
skipped() { echo "skip - $*"; skip=$((skip + 1)); }
has() { grep -q -- "$1" <<<"$2"; } # has PATTERN TEXT
check() { # check NAME COMMAND...: ok when the command succeeds
    local name=$1; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# wait_for DESCRIPTION TIMEOUT_S COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local what=$1 t=$2; shift 2
    local end=$(( $(now_ms) + t * 1000 ))
    while ! "$@" 2>/dev/null; do
        if [ "$(now_ms)" -gt "$end" ]; then
            echo "# timed out after ${t}s waiting for: $what" >&2
            return 1
        fi
        sleep 0.05
    done
}

# all_done PID...: every process has exited (or is a zombie)
all_done() {
    local p
    for p; do
        [ -r "/proc/$p/stat" ] || continue
        [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || return 1
    done
}

# written_or_done BYTES PID...: every process has written BYTES or has exited
written_or_done() {
    local n=$1 p w; shift
    for p; do
        all_done "$p" && continue
        w=$(awk '/^wchar/ {print $2}' "/proc/$p/io" 2>/dev/null)
        [ "${w:-0}" -gt "$n" ] || return 1
    done
}

cleanup() {
    local d
    for d in $(dmsetup ls 2>/dev/null | awk -v p="$PREFIX" 'index($1, p) == 1 {print $1}'); do
        dmsetup remove --force "$d" >/dev/null 2>&1
    done
    for d in $(dmsetup ls 2>/dev/null | awk -v p="$PREFIX" 'index($1, p) == 1 {print $1}'); do
        dmsetup remove --force "$d" >/dev/null 2>&1
    done
    stop_daemon >/dev/null 2>&1
    for d in "${LOOPS[@]}"; do losetup -d "$d" 2>/dev/null; done
    if [ -n "$COROSYNC_PID" ]; then kill -TERM "$COROSYNC_PID" 2>/dev/null; wait "$COROSYNC_PID" 2>/dev/null; fi
}
LOOPS=()
trap 'cleanup; rm -rf "$W"' EXIT

# --- daemon -------------------------------------------------------------------
start_daemon() { # start_daemon [ARGS...]: dm-ulogd -f -d, log in $W/ulogd.log
    local before
    before=$(grep -c 'serving dm-log-userspace' "$W/ulogd.log" 2>/dev/null)
    # shellcheck disable=SC2086 # ULOGD_ARGS is a list of options
    "$ULOGD" -f -d --no-mlock -p "$W/ulogd.pid" -s "$W/state" $ULOGD_ARGS "$@" >>"$W/ulogd.log" 2>&1 &
    DAEMON_PID=$!
    wait_for "dm-ulogd to serve" 20 sh -c "[ \$(grep -c 'serving dm-log-userspace' '$W/ulogd.log') -gt ${before:-0} ]"
}
stop_daemon() { # SIGTERM, then (bounded) SIGKILL: a daemon that does not
    # stop is a failure to report, not a wait until the VM's timeout
    [ -n "$DAEMON_PID" ] || return 0
    kill -TERM "$DAEMON_PID" 2>/dev/null
    if ! wait_for "dm-ulogd (pid $DAEMON_PID) to exit on SIGTERM" 20 all_done "$DAEMON_PID"; then
        bad "dm-ulogd did not exit within 20 s of SIGTERM (state $(awk '{print $3}' "/proc/$DAEMON_PID/stat" 2>/dev/null), wchan $(cat "/proc/$DAEMON_PID/wchan" 2>/dev/null)): killed"
        kill -KILL "$DAEMON_PID" 2>/dev/null
        wait_for "dm-ulogd (pid $DAEMON_PID) to die" 10 all_done "$DAEMON_PID" || return 1
    fi
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
}
kill9_daemon() {
    kill -KILL "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
}
log_lines() { wc -l <"$W/ulogd.log"; }
log_since() { tail -n +"$(( $1 + 1 ))" "$W/ulogd.log"; }
# Regions handed out for recovery (i=1) in the log since line N, sorted.
resync_handed_out() {
    log_since "$1" | grep -F "GET_RESYNC_WORK" | sed -n 's/.*-> \[1, \([0-9]*\)\]$/\1/p' | sort -n | uniq | tr '\n' ' '
}
daemon_stats() { # log the counters, print the stats line
    local n
    n=$(log_lines)
    kill -USR1 "$DAEMON_PID"
    wait_for "stats" 10 sh -c "tail -n +$((n + 1)) '$W/ulogd.log' | grep -q 'stats: requests='"
    log_since "$n" | grep 'stats: ' | tr '\n' ' '
}

# --- devices ------------------------------------------------------------------
# mkimg NAME MB: a zeroed image and a loop device over it; sets $NAME_IMG, $NAME_DEV
mkimg() {
    local name=$1 mb=$2 f dev
    f=$W/$name.img
    truncate -s "${mb}M" "$f"
    dev=$(losetup -f --show "$f") || return 1
    LOOPS+=("$dev")
    eval "${name}_IMG=$f ${name}_DEV=$dev"
}
majmin() { local d; d=$(readlink -f "$1"); printf '%d:%d' "$(stat -c '0x%t' "$d")" "$(stat -c '0x%T' "$d")"; }
# fill_img IMG SRC: copy SRC over the image (through its page cache)
fill_img() { dd if="$2" of="$1" bs=1M conv=notrunc,fsync status=none; }
zero_img() { dd if=/dev/zero of="$1" bs=1M count="$LEG_MB" conv=notrunc,fsync status=none; }

# table KIND LOGDEV LEG0 LEG1 [sync|nosync]: a mirror table line.
#   KIND: ucore udisk (ours), kcore kdisk (the kernel's)
UUID=
table() {
    local kind=$1 log=$2 l0=$3 l1=$4 opt=${5:-} n args
    n=0; [ -n "$opt" ] && n=1
    case $kind in
    ucore) args="userspace $((3 + n)) $UUID clustered-core $REGION${opt:+ $opt}" ;;
    udisk) args="userspace $((4 + n)) $UUID clustered-disk $(majmin "$log") $REGION${opt:+ $opt}" ;;
    kcore) args="core $((1 + n)) $REGION${opt:+ $opt}" ;;
    kdisk) args="disk $((2 + n)) $(majmin "$log") $REGION${opt:+ $opt}" ;;
    esac
    echo "0 $SECTORS mirror $args 2 $(majmin "$l0") 0 $(majmin "$l1") 0"
}
new_uuid() { UUID="ULOGT-$1-$RANDOM$RANDOM"; }
create() { # create NAME TABLE
    dmsetup create "$PREFIX-$1" --table "$2"
}
remove() { dmsetup remove "$PREFIX-$1"; }
# The device node of a dm device (udev does not run in the VM: no
# /dev/mapper nodes, but devtmpfs has /dev/dm-N).
devpath() { echo "/dev/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')"; }
# The mirror part of the status line: "<n> <legs...> <sync>/<total> 1 <health>"
mstatus() {
    dmsetup status "$PREFIX-$1" | awk '{ n = $4; s = ""; for (i = 4; i <= 7 + n; i++) s = s (i > 4 ? " " : "") $i; print s }'
}
# The log part of the status line.
lstatus() {
    dmsetup status "$PREFIX-$1" | awk '{ n = $4; s = ""; for (i = 8 + n; i <= NF; i++) s = s (s != "" ? " " : "") $i; print s }'
}
sync_of() { dmsetup status "$PREFIX-$1" | awk '{ print $(5 + $4) }'; }
in_sync() { local s; s=$(sync_of "$1"); [ -n "$s" ] && [ "${s%/*}" = "${s#*/}" ]; }
wait_sync() { wait_for "$1 in sync" "${2:-90}" in_sync "$1"; }
# read the whole mirror with O_DIRECT into a file
read_mirror() { dd if="$(devpath "$PREFIX-$1")" of="$2" bs=1M iflag=direct status=none; }
# write FILE at OFFSET_MB (bs, oflag=direct)
write_mirror() { # write_mirror NAME FILE OFFSET_MB [BS]
    dd if="$2" of="$(devpath "$PREFIX-$1")" bs="${4:-64k}" seek="$(( $3 * 1024 * 1024 ))" oflag=direct,seek_bytes conv=notrunc status=none
}
legs_identical() { cmp -s "$leg0_IMG" "$leg1_IMG"; }
same() { cmp -s "$1" "$2"; }

# Log device bits through the backing file: "magic version nr_regions dirty-regions..."
logbits() { # logbits IMG [clear R...]
    python3 - "$@" <<'EOF'
import struct, sys
img, args = sys.argv[1], sys.argv[2:]
with open(img, 'r+b') as f:
    head = f.read(16)
    magic, version, nr = struct.unpack('<IIQ', head)
    if args and args[0] == 'clear':
        for r in map(int, args[1:]):
            f.seek(1024 + r // 8)
            b = f.read(1)[0]
            f.seek(1024 + r // 8)
            f.write(bytes([b & ~(1 << (r % 8))]))
        f.flush()
        import os
        os.fsync(f.fileno())
        sys.exit(0)
    f.seek(1024)
    bits = f.read((nr + 63) // 64 * 8)
    dirty = [r for r in range(nr) if not bits[r // 8] >> (r % 8) & 1]
    print('%08x %d %d' % (magic, version, nr), *dirty)
EOF
}

# --- setup --------------------------------------------------------------------
echo "# kernel $(uname -r), device-mapper $(dmsetup version 2>/dev/null | awk '/Driver/ {print $3}')"
if ! modprobe dm-mirror 2>/dev/null || ! modprobe dm-log-userspace 2>/dev/null; then
    echo "skip - dm-log-userspace is not available on $(uname -r)"
    echo "0 passed, 0 failed, 1 skipped (dm-ulogd, kernel $(uname -r))"
    exit 0
fi
modprobe dm-flakey 2>/dev/null
if [ ! -x "$ULOGD" ]; then
    echo "not ok - no dm-ulogd binary at $ULOGD (cargo build --release -p dm-ulogd)"
    echo "0 passed, 1 failed, 0 skipped (dm-ulogd, kernel $(uname -r))"
    exit 1
fi
# --cluster: a one-node corosync on the loopback interface, unless one runs.
start_corosync() {
    if corosync-cpgtool >/dev/null 2>&1; then say "corosync already running"; return 0; fi
    command -v corosync >/dev/null || { echo "not ok - --cluster needs corosync (Debian package corosync)"; return 1; }
    ip link set lo up 2>/dev/null
    mountpoint -q /dev/shm || { mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm; }
    mkdir -p /var/lib/corosync /var/log/corosync /run/corosync
    cat >"$W/corosync.conf" <<'CONF'
totem {
    version: 2
    cluster_name: dmulogt
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        nodeid: 1
        name: node1
    }
}
logging {
    to_stderr: yes
    to_syslog: no
    to_logfile: no
}
CONF
    corosync -f -c "$W/corosync.conf" >"$W/corosync.log" 2>&1 &
    COROSYNC_PID=$!
    if ! wait_for "corosync to answer" 30 corosync-cpgtool; then
        echo "not ok - corosync did not start"; tail -n 20 "$W/corosync.log" | sed 's/^/    | /'
        return 1
    fi
    say "one-node corosync running (pid $COROSYNC_PID)"
}
case " $ULOGD_ARGS " in
*" --cluster "* | *" -c "*)
    start_corosync || { echo "0 passed, 1 failed, 0 skipped (dm-ulogd $ULOGD_ARGS, kernel $(uname -r))"; exit 1; } ;;
esac

head -c "$((LEG_MB * 1024 * 1024))" /dev/urandom >"$W/pattern"
head -c "$((2 * 1024 * 1024))" /dev/urandom >"$W/da"   # 2 MiB of new data
head -c "$((1 * 1024 * 1024))" /dev/urandom >"$W/db"   # 1 MiB
mkimg leg0 "$LEG_MB" && mkimg leg1 "$LEG_MB" && mkimg log 1 && mkimg leg2 "$LEG_MB" && mkimg leg3 "$LEG_MB" &&
    mkimg log2 1 && mkimg leg4 "$LEG_MB" && mkimg leg5 "$LEG_MB" || {
    echo "not ok - cannot set up loop devices"; exit 1; }
# A 1 KiB log device: too small for any disk log (1024 + 8 bytes, in 512-byte blocks).
truncate -s 1024 "$W/tiny.img"; tiny_DEV=$(losetup -f --show "$W/tiny.img"); LOOPS+=("$tiny_DEV")

# fresh_legs: leg0 = pattern, leg1 = zeros, log = zeros
fresh_legs() { fill_img "$leg0_IMG" "$W/pattern"; zero_img "$leg1_IMG"; dd if=/dev/zero of="$log_IMG" bs=64k count=16 conv=notrunc,fsync status=none; }

# --- scenarios ----------------------------------------------------------------
# Each scenario KIND records what is visible ("key value" lines) in
# $W/result.KIND.SCENARIO; `differential` compares ours with the kernel's.
RES=
rec() { echo "$*" >>"$RES"; }

# Initial resync to 100 %, legs identical, mirror reads the first leg.
scn_resync() { # KIND
    local k=$1 name=r$1
    new_uuid "$name"; fresh_legs
    local n0; n0=$(log_lines 2>/dev/null || echo 0)
    local t0; t0=$(now_ms)
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV")" || { bad "$k resync: create"; return; }
    if wait_sync "$name"; then ok "$k: initial resync to $(sync_of "$name")"; else bad "$k: initial resync ($(sync_of "$name"))"; fi
    say "time: $k: create and resync $LEG_MB MiB ($NREG regions): $(( $(now_ms) - t0 )) ms (polled every 50 ms)"
    rec "status $(mstatus "$name")"
    check "$k: legs identical after resync" legs_identical
    read_mirror "$name" "$W/m.out"; check "$k: mirror reads the first leg's data" same "$W/m.out" "$W/pattern"
    case $k in
    ucore) check "ucore: log status '1 clustered-core'" test "$(lstatus "$name")" = "1 clustered-core"
           check "ucore: dm-ulogd handed out all $NREG regions once" test "$(resync_handed_out "$n0" | wc -w)" = "$NREG" ;;
    udisk) check "udisk: log status '3 clustered-disk $(majmin "$log_DEV") A'" test "$(lstatus "$name")" = "3 clustered-disk $(majmin "$log_DEV") A" ;;
    kdisk) rec "logstatus-char $(lstatus "$name" | awk '{print $NF}')" ;;
    esac
    [ "$k" = udisk ] && rec "logstatus-char $(lstatus "$name" | awk '{print $NF}')"
    remove "$name" || bad "$k: remove"
}

# Writes after the sync: marked and cleared, reach both legs; a disk log is
# all clean on disk once the device is suspended.
scn_writes() {
    local k=$1 name=w$1
    new_uuid "$name"; fresh_legs
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV")" && wait_sync "$name" || { bad "$k writes: setup"; return; }
    local n0; n0=$(log_lines 2>/dev/null || echo 0)
    local t0 t1; t0=$(now_ms)
    write_mirror "$name" "$W/da" 1 4k || bad "$k: dd 4 KiB writes"
    t1=$(now_ms)
    write_mirror "$name" "$W/db" 3 64k || bad "$k: dd 64 KiB writes"
    say "time: $k: 2 MiB in 4 KiB O_DIRECT writes: $((t1 - t0)) ms; 1 MiB in 64 KiB writes: $(( $(now_ms) - t1 )) ms"
    cp "$W/pattern" "$W/expect"
    dd if="$W/da" of="$W/expect" bs=1M seek=1 conv=notrunc status=none
    dd if="$W/db" of="$W/expect" bs=1M seek=3 conv=notrunc status=none
    dmsetup suspend "$PREFIX-$name" && dmsetup resume "$PREFIX-$name"
    read_mirror "$name" "$W/m.out"; check "$k: writes read back" same "$W/m.out" "$W/expect"
    check "$k: legs identical after writes" legs_identical
    rec "status $(mstatus "$name")"
    case $k in
    ucore|udisk)
        local marks clears flushes
        marks=$(log_since "$n0" | grep -c 'MARK_REGION \[')
        flushes=$(log_since "$n0" | grep -c 'FLUSH \[')
        clears=$(log_since "$n0" | grep -c 'CLEAR_REGION \[')
        check "$k: writes were marked ($marks), cleared ($clears) and flushed ($flushes)" test "$marks" -gt 0 -a "$clears" -gt 0 -a "$flushes" -gt 0 ;;
    esac
    case $k in
    udisk|kdisk)
        local bits; bits=$(logbits "$log_IMG")
        check "$k: on-disk log is the kernel format, all $NREG regions clean ($bits)" test "$bits" = "4d695272 2 $NREG"
        rec "ondisk $bits" ;;
    esac
    remove "$name" || bad "$k: remove"
}

# nosync: no resync (legs stay different), in sync at once; writes reach both.
scn_nosync() {
    local k=$1 name=n$1
    new_uuid "$name"; fresh_legs
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV" nosync)" || { bad "$k nosync: create"; return; }
    check "$k nosync: in sync at once ($(sync_of "$name"))" in_sync "$name"
    check "$k nosync: no resync (legs still differ)" eval '! legs_identical'
    write_mirror "$name" "$W/da" 0 64k
    check "$k nosync: writes reach both legs" cmp -s -n 2097152 "$leg0_IMG" "$leg1_IMG"
    rec "status $(mstatus "$name")"
    remove "$name"
}

# Disk log: deactivate and reactivate without a full resync; 'sync' forces one.
scn_reactivate() {
    local k=$1 name=a$1
    new_uuid "$name"; fresh_legs
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV")" && wait_sync "$name" || { bad "$k reactivate: setup"; return; }
    remove "$name"
    # Tamper with leg 1 behind the log's back: a resync would repair it.
    dd if=/dev/zero of="$leg1_IMG" bs=64k count=1 seek=10 conv=notrunc,fsync status=none
    local n0; n0=$(log_lines 2>/dev/null || echo 0)
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV")" || { bad "$k reactivate: create"; return; }
    check "$k: reactivated in sync at once ($(sync_of "$name"))" in_sync "$name"
    check "$k: no resync on reactivation (the tampered region stays)" eval '! legs_identical'
    [ "$k" = udisk ] && check "udisk: no region handed out for recovery" test -z "$(resync_handed_out "$n0")"
    rec "status $(mstatus "$name")"
    remove "$name"
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV" sync)" || { bad "$k sync: create"; return; }
    if wait_sync "$name"; then ok "$k sync: resynced to $(sync_of "$name")"; else bad "$k sync: resync"; fi
    check "$k sync: full resync repaired the tampered region" legs_identical
    rec "status-sync $(mstatus "$name")"
    remove "$name"
}

# Suspend/resume, reload (a new log instance, other region size), removal.
scn_lifecycle() {
    local k=$1 name=l$1
    new_uuid "$name"; fresh_legs
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV")" && wait_sync "$name" || { bad "$k lifecycle: setup"; return; }
    dmsetup suspend "$PREFIX-$name" && dmsetup resume "$PREFIX-$name"
    check "$k: in sync after suspend/resume ($(sync_of "$name"))" in_sync "$name"
    write_mirror "$name" "$W/da" 0 64k
    local t; t=$(REGION=256 table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV")
    if dmsetup reload "$PREFIX-$name" --table "$t" && dmsetup resume "$PREFIX-$name"; then
        wait_sync "$name"
        check "$k: reloaded with 256-sector regions ($(sync_of "$name"))" test "$(sync_of "$name")" = "$((SECTORS / 256))/$((SECTORS / 256))"
    else
        bad "$k: reload"
    fi
    check "$k: legs identical after reload" legs_identical
    rec "status $(mstatus "$name")"
    case $k in
    ucore|udisk)
        local t2; t2=$(dmsetup table "$PREFIX-$name")
        check "$k: the kernel's table line names the uuid ($t2)" has "userspace [0-9] $UUID clustered-" "$t2" ;;
    esac
    remove "$name"
    case $k in
    ucore|udisk)
        local st; st=$(daemon_stats)
        check "$k: every log destroyed after removal ($(grep -o 'logs=[0-9]*' <<<"$st"))" has 'stats: .* logs=0 ' "$st" ;;
    esac
}

# Several mirrors at once, written concurrently.
scn_several() {
    local m
    fresh_legs
    fill_img "$leg2_IMG" "$W/pattern"; zero_img "$leg3_IMG"
    fill_img "$leg4_IMG" "$W/pattern"; zero_img "$leg5_IMG"
    dd if=/dev/zero of="$log2_IMG" bs=64k count=16 conv=notrunc,fsync status=none
    new_uuid s1; create s1 "$(table ucore - "$leg0_DEV" "$leg1_DEV")" || bad "several: create s1"
    new_uuid s2; create s2 "$(table udisk "$log2_DEV" "$leg2_DEV" "$leg3_DEV")" || bad "several: create s2"
    new_uuid s3; create s3 "$(table ucore - "$leg4_DEV" "$leg5_DEV" nosync)" || bad "several: create s3"
    for m in s1 s2 s3; do wait_sync "$m" || bad "several: $m sync"; done
    local pids=()
    for m in s1 s2 s3; do write_mirror "$m" "$W/da" 1 16k & pids+=($!); done
    # (bounded: a write the log server never answers waits in the kernel)
    if ! wait_for "the writers of the 3 mirrors" 120 all_done "${pids[@]}"; then
        bad "several: writers stuck"
        for m in s1 s2 s3; do say "$m: $(dmsetup status "$PREFIX-$m")"; done
        kill -KILL "${pids[@]}" 2>/dev/null
        return
    fi
    for p in "${pids[@]}"; do wait "$p" || bad "several: a writer failed"; done
    check "several: 3 mirrors in sync" sh -c "[ '$(sync_of s1)' = $NREG/$NREG ] && [ '$(sync_of s2)' = $NREG/$NREG ] && [ '$(sync_of s3)' = $NREG/$NREG ]"
    check "several: legs of the core mirror identical" cmp -s "$leg0_IMG" "$leg1_IMG"
    check "several: legs of the disk mirror identical" cmp -s "$leg2_IMG" "$leg3_IMG"
    check "several: the nosync mirror's writes on both legs" cmp -s -i 1048576 -n 2097152 "$leg4_IMG" "$leg5_IMG"
    for m in s1 s2 s3; do remove "$m"; done
}

# dm-ulogd killed (SIGKILL) during writes and restarted: the kernel
# reconnects, no write is lost, legs identical at the end.
scn_kill() { # scn_kill [--no-state]
    local nostate=${1:-} m
    fresh_legs
    fill_img "$leg2_IMG" "$W/pattern"; zero_img "$leg3_IMG"
    new_uuid kc; create kc "$(table ucore - "$leg2_DEV" "$leg3_DEV")" || { bad "kill: create core"; return; }
    new_uuid kd; create kd "$(table udisk "$log_DEV" "$leg0_DEV" "$leg1_DEV")" || { bad "kill: create disk"; return; }
    local kd_uuid=$UUID
    wait_sync kc && wait_sync kd || { bad "kill: sync"; return; }
    # The kernel now holds in_sync_hint = region count: it will not ask for
    # recovery again until the devices are resumed.
    local pids=() p
    for m in kc kd; do
        dd if="$W/pattern" of="$(devpath "$PREFIX-$m")" bs=4k oflag=direct conv=notrunc status=none &
        pids+=($!)
    done
    # Kill once both writers are well under way (or one is already done).
    wait_for "writers under way" 60 written_or_done 524288 "${pids[@]}"
    local running=0
    for p in "${pids[@]}"; do all_done "$p" || running=$((running + 1)); done
    kill9_daemon
    check "kill${nostate:+ $nostate}: dm-ulogd killed while $running of 2 writers ran" test "$running" -gt 0
    local dirty; dirty=$(logbits "$log_IMG" | cut -d' ' -f4-)
    say "regions dirty on the disk log at the kill: ${dirty:-none}"
    local n0; n0=$(log_lines)
    start_daemon $nostate || { bad "kill: restart"; return; }
    local t0=$SECONDS
    if ! wait_for "writers to finish after the restart" 120 all_done "${pids[@]}"; then
        bad "kill: writers stuck after the restart"
        grep -v ': debug: ' "$W/ulogd.log" | tail -n 30 | sed 's/^/    | /'
        dmesg | tail -n 30 | sed 's/^/    k /'
        kill -KILL "${pids[@]}" 2>/dev/null
        return
    fi
    for p in "${pids[@]}"; do wait "$p" || bad "kill: a writer failed after the restart"; done
    say "writers finished $((SECONDS - t0)) s after the restart (the kernel resends after 15 s)"
    if [ -z "$nostate" ]; then
        check "kill: both logs reconnected with their state" test "$(log_since "$n0" | grep -c 'reconnected: state restored')" = 2
    else
        check "kill --no-state: logs reconnected without state" test "$(log_since "$n0" | grep -c 'reconnected .*without saved state\|reconnected (no state directory)')" -ge 1
        # Regions out of sync are recovered once the devices resume.
        n0=$(log_lines)
        for m in kc kd; do dmsetup suspend "$PREFIX-$m" && dmsetup resume "$PREFIX-$m"; done
        check "kill --no-state: the disk log resynced exactly the regions dirty at the kill (${dirty:-none})" \
            test "$(log_since "$n0" | grep -F "[$kd_uuid/" | grep -F GET_RESYNC_WORK | sed -n 's/.*-> \[1, \([0-9]*\)\]$/\1/p' | sort -n | uniq | tr '\n' ' ' | sed 's/ $//')" = "$dirty"
    fi
    for m in kc kd; do wait_sync "$m" || bad "kill: $m back in sync"; done
    check "kill${nostate:+ $nostate}: status in sync ($(sync_of kc), $(sync_of kd))" sh -c "[ '$(sync_of kc)' = $NREG/$NREG ] && [ '$(sync_of kd)' = $NREG/$NREG ]"
    read_mirror kd "$W/m.out"; check "kill${nostate:+ $nostate}: no write lost (disk-log mirror)" same "$W/m.out" "$W/pattern"
    read_mirror kc "$W/m.out"; check "kill${nostate:+ $nostate}: no write lost (core-log mirror)" same "$W/m.out" "$W/pattern"
    check "kill${nostate:+ $nostate}: legs identical (disk-log mirror)" legs_identical
    check "kill${nostate:+ $nostate}: legs identical (core-log mirror)" cmp -s "$leg2_IMG" "$leg3_IMG"
    for m in kc kd; do remove "$m"; done
    if [ -n "$nostate" ]; then stop_daemon; start_daemon; fi
}

# A crash left regions dirty on a disk log: exactly those are resynced
# (a tampered region outside them is not touched).
scn_crash() {
    local k=$1 name=c$1
    new_uuid "$name"; fresh_legs
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV")" && wait_sync "$name" || { bad "$k crash: setup"; return; }
    remove "$name"
    local r dirty="3 17 64 127"
    logbits "$log_IMG" clear $dirty
    for r in $dirty 50; do   # leg 1 differs in the dirty regions and in region 50
        dd if=/dev/urandom of="$leg1_IMG" bs=$((REGION * 512)) count=1 seek="$r" conv=notrunc,fsync status=none
    done
    local n0; n0=$(log_lines 2>/dev/null || echo 0)
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$leg1_DEV")" && wait_sync "$name" || { bad "$k crash: resync"; return; }
    [ "$k" = udisk ] && check "udisk crash: exactly the dirty regions ($dirty) handed out for recovery" test "$(resync_handed_out "$n0" | sed 's/ $//')" = "$dirty"
    local diff; diff=$(cmp -l "$leg0_IMG" "$leg1_IMG" | awk -v rb=$((REGION * 512)) '{ print int(($1 - 1) / rb) }' | sort -un | tr '\n' ' ' | sed 's/ $//')
    check "$k crash: dirty regions repaired, region 50 untouched (legs differ in: ${diff:-none})" test "$diff" = 50
    rec "crash-diff $diff"
    rec "status $(mstatus "$name")"
    remove "$name"
}

# A failed leg (error target under leg 1): the status shows it, reads work.
scn_failed_leg() {
    local k=$1 name=f$1 how=${2:-error}
    new_uuid "$name"; fresh_legs
    dmsetup create "$PREFIX-leg-$k" --table "0 $SECTORS linear $leg1_DEV 0" || { bad "$k failed leg: leg"; return; }
    create "$name" "$(table "$k" "$log_DEV" "$leg0_DEV" "$(devpath "$PREFIX-leg-$k")")" && wait_sync "$name" || { bad "$k failed leg: setup"; return; }
    case $how in
    error) dmsetup load "$PREFIX-leg-$k" --table "0 $SECTORS error" ;;
    flakey) dmsetup load "$PREFIX-leg-$k" --table "0 $SECTORS flakey $leg1_DEV 0 0 1 1 error_writes" ;;
    esac
    dmsetup suspend "$PREFIX-leg-$k" && dmsetup resume "$PREFIX-leg-$k"
    write_mirror "$name" "$W/da" 1 64k || bad "$k failed leg ($how): writes fail"
    local st; st=$(mstatus "$name")
    check "$k failed leg ($how): status shows the leg dead ($st)" sh -c "[ '$(awk '{print $NF}' <<<"$st")' = AD ]"
    cp "$W/pattern" "$W/expect"; dd if="$W/da" of="$W/expect" bs=1M seek=1 conv=notrunc status=none
    read_mirror "$name" "$W/m.out"; check "$k failed leg ($how): reads come from the good leg" same "$W/m.out" "$W/expect"
    rec "status-$how $(awk '{print $(NF - 2), $NF}' <<<"$st")"
    remove "$name"; dmsetup remove "$PREFIX-leg-$k"
}

# Bad input: constructor arguments, log devices, no server; the others keep
# being served.
scn_bad_input() {
    new_uuid good; fresh_legs
    create good "$(table ucore - "$leg0_DEV" "$leg1_DEV")" && wait_sync good || { bad "bad input: the good mirror"; return; }
    local n0; n0=$(log_lines)
    new_uuid b1
    check "bad input: a region size that is not a power of two is refused" eval "! create b1 '0 $SECTORS mirror userspace 3 $UUID clustered-core 100 2 $(majmin "$leg2_DEV") 0 $(majmin "$leg3_DEV") 0' 2>/dev/null"
    check "bad input: an unknown log type is refused" eval "! create b1 '0 $SECTORS mirror userspace 3 $UUID clustered-magic $REGION 2 $(majmin "$leg2_DEV") 0 $(majmin "$leg3_DEV") 0' 2>/dev/null"
    check "bad input: an unknown argument is refused" eval "! create b1 '0 $SECTORS mirror userspace 4 $UUID clustered-core $REGION fast 2 $(majmin "$leg2_DEV") 0 $(majmin "$leg3_DEV") 0' 2>/dev/null"
    check "bad input: a log device too small is refused" eval "! create b1 '$(table udisk "$tiny_DEV" "$leg2_DEV" "$leg3_DEV")' 2>/dev/null"
    check "bad input: a log device that does not exist is refused" eval "! create b1 '0 $SECTORS mirror userspace 4 $UUID clustered-disk 7:250 $REGION 2 $(majmin "$leg2_DEV") 0 $(majmin "$leg3_DEV") 0' 2>/dev/null"
    check "bad input: every refusal logged" test "$(log_since "$n0" | grep -c 'CTR \[[0-9]*\] failed')" -ge 5
    local lg; lg=$(log_since "$n0")
    check "bad input: the log names the reasons" eval 'has "invalid region size 100" "$lg" && has "too small" "$lg" && has "unsupported log type" "$lg"'
    # An unreadable log device (error target): the log is reported dead,
    # every region resynchronised; the kernel's disk log does the same.
    dmsetup create "$PREFIX-badlog" --table "0 2048 error"
    dd if=/dev/zero of="$leg3_IMG" bs=1M count=1 conv=notrunc,fsync status=none
    fill_img "$leg2_IMG" "$W/pattern"
    if create b2 "$(table udisk "$(devpath "$PREFIX-badlog")" "$leg2_DEV" "$leg3_DEV")"; then
        wait_sync b2
        check "bad input: an unreadable log device shows D ($(lstatus b2))" sh -c "[ '$(lstatus b2 | awk '{print $NF}')' = D ]"
        check "bad input: ... and the mirror is resynchronised" cmp -s "$leg2_IMG" "$leg3_IMG"
        remove b2
    else
        bad "bad input: a mirror on an unreadable log device"
    fi
    new_uuid b3
    if create b3 "$(table kdisk "$(devpath "$PREFIX-badlog")" "$leg2_DEV" "$leg3_DEV")"; then
        wait_sync b3
        check "bad input: the kernel's disk log on it also shows D ($(lstatus b3))" sh -c "[ '$(lstatus b3 | awk '{print $NF}')' = D ]"
        remove b3
    else
        bad "bad input: the kernel's disk log on an unreadable device"
    fi
    dmsetup remove "$PREFIX-badlog"
    write_mirror good "$W/da" 0 64k
    check "bad input: the good mirror kept being served" sh -c "[ '$(sync_of good)' = $NREG/$NREG ] && cmp -s -n 2097152 '$leg0_IMG' '$leg1_IMG'"
    remove good
    # No server at all: the constructor fails at once (ESRCH).
    stop_daemon
    new_uuid b4
    local t0; t0=$(now_ms)
    check "bad input: without a server the table load fails" eval "! create b4 '$(table ucore - "$leg2_DEV" "$leg3_DEV")' 2>/dev/null"
    check "bad input: ... at once ($(( $(now_ms) - t0 )) ms)" test $(( $(now_ms) - t0 )) -lt 10000
    start_daemon
}

# Plain dm-ulogd detaches once it serves: its own session, the pid file
# written before the command returns; a second server on the same pid file
# refuses to start; SIGTERM stops it and removes the pid file.
scn_detach() {
    stop_daemon
    local pidf=$W/detached.pid pid
    if ! "$ULOGD" --no-mlock -p "$pidf" -s "$W/state" 2>>"$W/ulogd.log"; then
        bad "detach: dm-ulogd (detaching) exited non-zero"; start_daemon; return
    fi
    pid=$(cat "$pidf" 2>/dev/null)
    check "detach: the command returned with the server running (pid ${pid:-none})" test -n "$pid" -a -d "/proc/${pid:-none}"
    check "detach: the server leads its own session" test "$(awk '{print $6}' "/proc/$pid/stat" 2>/dev/null)" = "$pid"
    local out
    out=$("$ULOGD" -f --no-mlock -p "$pidf" -s "$W/state" 2>&1)
    check "detach: a second server on the same pid file refuses to start ($out)" has "already running" "$out"
    new_uuid dt; fresh_legs
    if create dt "$(table ucore - "$leg0_DEV" "$leg1_DEV")" && wait_sync dt; then
        ok "detach: the detached server serves a mirror ($(sync_of dt))"
    else
        bad "detach: the detached server serves a mirror"
    fi
    remove dt
    kill -TERM "$pid"
    check "detach: SIGTERM stops it, pid file removed" wait_for "the detached server to stop" 20 eval "[ ! -e '$pidf' ] && all_done $pid"
    start_daemon
}

run_kind_scenarios() { # scenario KIND...: record results per kind
    local s=$1 k; shift
    for k in "$@"; do
        RES=$W/result.$k.$s; : >"$RES"
        "scn_$s" "$k"
    done
}

# --- main -----------------------------------------------------------------------
ALL="resync writes nosync reactivate lifecycle several kill kill-nostate crash failed-leg bad-input detach differential"
SCN=${*:-$ALL}
start_daemon || { echo "not ok - dm-ulogd does not start"; tail "$W/ulogd.log"; exit 1; }
T0=$SECONDS
for s in $SCN; do
    [ "$s" = "${SCN%% *}" ] || echo "# (took $((SECONDS - T0)) s)"
    T0=$SECONDS
    echo "# --- $s"
    case $s in
    resync) run_kind_scenarios resync ucore udisk kcore kdisk ;;
    writes) run_kind_scenarios writes ucore udisk kcore kdisk ;;
    nosync) run_kind_scenarios nosync ucore udisk kcore kdisk ;;
    reactivate) run_kind_scenarios reactivate udisk kdisk ;;
    lifecycle) run_kind_scenarios lifecycle ucore udisk kcore kdisk ;;
    several) scn_several ;;
    kill) scn_kill ;;
    kill-nostate) scn_kill --no-state ;;
    crash) run_kind_scenarios crash udisk kdisk ;;
    failed-leg)
        for k in ucore kcore; do RES=$W/result.$k.failed-leg; : >"$RES"; scn_failed_leg "$k" error; scn_failed_leg "$k" flakey; done ;;
    bad-input) scn_bad_input ;;
    detach) scn_detach ;;
    differential)
        # Ours against the kernel's: every recorded visible result equal.
        for pair in "ucore kcore" "udisk kdisk"; do
            set -- $pair
            for f in "$W"/result."$1".*; do
                [ -e "$f" ] || continue
                sc=${f##*.}
                if [ -s "$f" ] && [ -f "$W/result.$2.$sc" ]; then
                    if cmp -s "$f" "$W/result.$2.$sc"; then
                        ok "differential $sc: $1 = $2 ($(tr '\n' ';' <"$f" | sed 's/;$//'))"
                    else
                        bad "differential $sc: $1 differs from $2"; diff "$f" "$W/result.$2.$sc" | sed 's/^/    /'
                    fi
                fi
            done
        done ;;
    *) echo "unknown scenario $s" >&2; fail=$((fail + 1)) ;;
    esac
done
n=$(log_lines)
stats=$(daemon_stats)
echo "# dm-ulogd: $stats"
stop_daemon
check "dm-ulogd stopped cleanly (pid file removed)" test ! -e "$W/ulogd.pid"
check "dm-ulogd logged no internal error" sh -c "! grep -q 'internal error' '$W/ulogd.log'"
echo "$pass passed, $fail failed, $skip skipped (dm-ulogd${ULOGD_ARGS:+ $ULOGD_ARGS}, kernel $(uname -r))"
[ $fail = 0 ]
