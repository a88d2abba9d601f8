#!/bin/bash
# bench/ulog-guest.sh - the guest side of bench/ulog.sh (make bench-ulog):
# the same mirror once with the kernel's in-kernel `disk` log and once with
# dm-ulogd's `userspace ... clustered-disk` log, write workloads through
# each, rounds alternating the order. Runs as root inside the VM (see
# bench/README.md, "dm-ulogd").
#
#   ULB_ULOGD     dm-ulogd binary (default <repo>/target/release/dm-ulogd)
#   ULB_ULOGD_BEFORE  another dm-ulogd binary (an earlier build): measured
#                 too, as kind "before" (plain clustered-disk)
#   ULB_IO        the ulog-io binary (default <repo>/build/bench/ulog-io)
#   ULB_OUT       where raw results go (default a new /tmp/ulog-bench.XXXXXX)
#   ULB_ROUNDS    rounds (default 3); odd rounds kernel first, even ours first
#   ULB_SECS      seconds per workload run (default 4)
#   ULB_LEG_MB    size of each leg (brd ramdisk), MiB (default 128)
#   ULB_REGION    region size in sectors (default 1024 = 512 KiB)
#   ULB_WORKLOADS default: seq-direct rand-direct seq-fsync seq64-direct
#                 (NAME = PATTERN[64]-SYNC: seq|rand, 4 KiB or 64 KiB,
#                 direct|dsync|fsync)
#   ULB_LEGS      leg devices, one pass each (default "brd loop"): brd
#                 ramdisks, or loop devices over files on a tmpfs
#   ULB_PROFILE   none (default), strace and/or callgrind: after the timed
#                 rounds, one more run (for each) of ULB_PROFILE_WL (default
#                 rand-direct) with the daemon under strace -c or callgrind,
#                 on a mirror of ULB_PROFILE_KIND (ours or ours-if)
#
# Kinds of log: kernel (the in-kernel `disk` log), ours (dm-ulogd,
# `userspace 5 <uuid> clustered-disk <logdev> <region> nosync`, the form
# LVM2 writes) and ours-if (the same with `integrated_flush`: marks ride on
# FLUSH, clears are committed later). Legs and the log device are brd
# ramdisks (/dev/ram0, ram1: legs, ram2: log) or loop devices over files on
# a tmpfs, so the legs are not the bottleneck; the restart state directory
# is a tmpfs, as /run is in production. dm-ulogd runs with -f and the default
# log level (notice). The mirror is created `nosync` (the legs hold the
# same zeros; no initial resync competes with the workload).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
ULOGD=${ULB_ULOGD:-$REPO/target/release/dm-ulogd}
IO=${ULB_IO:-$REPO/build/bench/ulog-io}
OUT=${ULB_OUT:-$(mktemp -d /tmp/ulog-bench.XXXXXX)}
ROUNDS=${ULB_ROUNDS:-3}
SECS=${ULB_SECS:-4}
LEG_MB=${ULB_LEG_MB:-128}
REGION=${ULB_REGION:-1024}
WORKLOADS=${ULB_WORKLOADS:-seq-direct rand-direct seq-fsync seq64-direct}
PROFILE=${ULB_PROFILE:-none}
PROFILE_WL=${ULB_PROFILE_WL:-rand-direct}
PROFILE_KIND=${ULB_PROFILE_KIND:-ours}
ULOGD_BEFORE=${ULB_ULOGD_BEFORE:-}
LEGS_LIST=${ULB_LEGS:-brd loop}
SECTORS=$((LEG_MB * 2048))
RAW=$OUT/raw.txt
mkdir -p "$OUT"
: >"$RAW"
W=$(mktemp -d /tmp/ulog-bench-w.XXXXXX)
DAEMON_PID=
NAME=ulogbench

die() { echo "ulog-guest.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$ULOGD" ] || die "no dm-ulogd at $ULOGD (cargo build --release -p dm-ulogd)"
[ -x "$IO" ] || die "no $IO (bench/ulog.sh builds it)"

T0=$(date +%s)
elapsed() { echo "$(($(date +%s) - T0))s"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
wait_for() { # wait_for SECONDS COMMAND...
    local end=$(( $(now_ms) + $1 * 1000 )); shift
    while ! "$@" 2>/dev/null; do
        [ "$(now_ms)" -le "$end" ] || return 1
        sleep 0.05
    done
}

cleanup() {
    dmsetup remove --force "$NAME" >/dev/null 2>&1
    stop_daemon
    for d in "${LOOPS[@]}"; do losetup -d "$d" 2>/dev/null; done
    umount "$W/state" "$W/legs" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

modprobe dm-mirror || die "no dm-mirror"
modprobe dm-log-userspace || die "no dm-log-userspace"
modprobe brd rd_nr=3 rd_size=$((LEG_MB * 1024)) || die "no brd"
mkdir -p "$W/state" "$W/legs"
mount -t tmpfs -o size=16m tmpfs "$W/state" || die "cannot mount a tmpfs"
mount -t tmpfs -o size=$((LEG_MB * 2 + 8))m tmpfs "$W/legs" || die "cannot mount a tmpfs"
LOOPS=()
# use_legs brd|loop: set LEG0 LEG1 LOGDEV
use_legs() {
    local d f
    for d in "${LOOPS[@]}"; do losetup -d "$d"; done
    LOOPS=()
    rm -f "$W/legs"/*
    case $1 in
    brd) LEG0=/dev/ram0 LEG1=/dev/ram1 LOGDEV=/dev/ram2 ;;
    loop)
        for f in leg0 leg1 log; do
            if [ $f = log ]; then truncate -s 1M "$W/legs/$f"; else truncate -s "${LEG_MB}M" "$W/legs/$f"; fi
            d=$(losetup -f --show "$W/legs/$f") || die "losetup"
            LOOPS+=("$d")
        done
        LEG0=${LOOPS[0]} LEG1=${LOOPS[1]} LOGDEV=${LOOPS[2]} ;;
    *) die "ULB_LEGS: brd and/or loop" ;;
    esac
}

majmin() { local d; d=$(readlink -f "$1"); printf '%d:%d' "$(stat -c '0x%t' "$d")" "$(stat -c '0x%T' "$d")"; }

# --- daemon -------------------------------------------------------------------
LOG=$W/ulogd.log
start_daemon() { # start_daemon [WRAPPER...]: $ULOGD, or $ULOGD_NOW when set
    local before
    before=$(grep -c 'serving dm-log-userspace' "$LOG" 2>/dev/null)
    "$@" "${ULOGD_NOW:-$ULOGD}" -f -p "$W/ulogd.pid" -s "$W/state" >>"$LOG" 2>&1 &
    DAEMON_PID=$!
    wait_for 120 sh -c "[ \$(grep -c 'serving dm-log-userspace' '$LOG') -gt ${before:-0} ]" ||
        die "dm-ulogd did not start: $(tail -n 5 "$LOG")"
}
stop_daemon() {
    [ -n "$DAEMON_PID" ] || return 0
    kill -TERM "$(daemon_pid)" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
}
# daemon_pid: the daemon's own pid (not a wrapper's: strace, valgrind)
daemon_pid() { cat "$W/ulogd.pid" 2>/dev/null || echo "$DAEMON_PID"; }
# daemon_counters: "REQUESTS CPU_US" from a fresh stats line (SIGUSR1)
daemon_counters() {
    local n
    n=$(wc -l <"$LOG")
    kill -USR1 "$(daemon_pid)"
    wait_for 30 sh -c "tail -n +$((n + 1)) '$LOG' | grep -q 'stats: requests='" || { echo "0 0"; return; }
    tail -n +$((n + 1)) "$LOG" | grep -m1 'stats: requests=' |
        sed -n 's/.*requests=\([0-9]*\).*cpu_us=\([0-9]*\) .*/\1 \2/p'
}
# daemon_by_type: the per-type counters line
daemon_by_type() {
    grep 'stats: ' "$LOG" | grep -v 'requests=' | grep -v ' log ' | tail -n 1 | sed 's/.*stats: //'
}

# --- mirror -------------------------------------------------------------------
table() { # table kernel|ours|ours-if
    local args
    case $1 in
    kernel) args="disk 3 $(majmin "$LOGDEV") $REGION nosync" ;;
    ours) args="userspace 5 ULOGBENCH-$RANDOM$RANDOM clustered-disk $(majmin "$LOGDEV") $REGION nosync" ;;
    before) args="userspace 5 ULOGBENCH-$RANDOM$RANDOM clustered-disk $(majmin "$LOGDEV") $REGION nosync" ;;
    ours-if) args="userspace 6 ULOGBENCH-$RANDOM$RANDOM integrated_flush clustered-disk $(majmin "$LOGDEV") $REGION nosync" ;;
    esac
    echo "0 $SECTORS mirror $args 2 $(majmin "$LEG0") 0 $(majmin "$LEG1") 0"
}
devpath() { echo "/dev/dm-$(dmsetup info -c --noheadings -o minor "$NAME" | tr -d ' ')"; }
in_sync() { local s; s=$(dmsetup status "$NAME" | awk '{ print $(5 + $4) }'); [ -n "$s" ] && [ "${s%/*}" = "${s#*/}" ]; }
create() { # create kernel|ours|ours-if
    dd if=/dev/zero of="$LOGDEV" bs=1M count=1 oflag=direct status=none
    dmsetup create "$NAME" --table "$(table "$1")" || die "cannot create the $1 mirror"
    wait_for 60 in_sync || die "the $1 mirror is not in sync: $(dmsetup status "$NAME")"
}

# run_wl KIND WL ROUND: one timed run, a RES line (and a DAEMON line for ours)
run_wl() {
    local kind=$1 wl=$2 round=$3 pat sync bs=4096 c0 c1 res
    pat=${wl%%-*}; sync=${wl#*-}
    case $pat in *64) bs=65536; pat=${pat%64} ;; esac
    [ "$kind" != kernel ] && c0=$(daemon_counters)
    res=$("$IO" "$(devpath)" "$pat" "$bs" "$((SECTORS * 512))" "$SECS" "$sync" "$((round * 7919 + 1))") ||
        die "ulog-io $wl on $kind failed"
    echo "RES legs=$LEGS round=$round kind=$kind wl=$wl $res" | tee -a "$RAW"
    if [ "$kind" != kernel ]; then
        c1=$(daemon_counters)
        echo "DAEMON legs=$LEGS round=$round kind=$kind wl=$wl req=$(( ${c1% *} - ${c0% *} )) cpu_us=$(( ${c1#* } - ${c0#* } )) $res" >>"$RAW"
    fi
}

echo "# kernel $(uname -r), $(nproc) vCPU; legs: $LEGS_LIST, ${LEG_MB} MiB each; region $REGION sectors;" \
    "$SECS s per run, $ROUNDS rounds; dm-ulogd: $ULOGD" | tee -a "$RAW"
KINDS="kernel ours ours-if"
[ -n "$ULOGD_BEFORE" ] && KINDS="$KINDS before"
RKINDS=$(echo "$KINDS" | tr ' ' '\n' | tac | tr '\n' ' ')
for LEGS in $LEGS_LIST; do
    use_legs "$LEGS"
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) = 1 ]; then order=$KINDS; else order=$RKINDS; fi
        echo "== legs $LEGS, round $round: $order ($(elapsed))"
        for kind in $order; do
            if [ "$kind" = before ]; then ULOGD_NOW=$ULOGD_BEFORE; else ULOGD_NOW=; fi
            [ "$kind" = kernel ] || start_daemon
            create "$kind"
            for wl in $WORKLOADS; do run_wl "$kind" "$wl" "$round"; done
            dmsetup remove "$NAME" || die "cannot remove the mirror"
            [ "$kind" = kernel ] || echo "BYTYPE legs=$LEGS round=$round kind=$kind $(daemon_by_type)" >>"$RAW"
            stop_daemon
        done
    done
done
ULOGD_NOW=

for prof in $PROFILE; do
case $prof in
none) ;;
strace|callgrind)
    stop_daemon
    echo "== $prof of dm-ulogd, $PROFILE_WL ($(elapsed))"
    if [ "$prof" = strace ]; then
        start_daemon strace -c -f -o "$OUT/strace.txt"
    else
        start_daemon valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out"
    fi
    create "$PROFILE_KIND"
    run_wl "$PROFILE_KIND" "$PROFILE_WL" 0
    dmsetup remove "$NAME"
    stop_daemon
    [ "$prof" = strace ] && cat "$OUT/strace.txt"
    ;;
*) die "ULB_PROFILE: none, strace or callgrind" ;;
esac
done
stop_daemon
grep -E ': (error|warn): ' "$LOG" | head -n 5
echo "== done ($(elapsed))"
