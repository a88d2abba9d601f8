#!/bin/bash
# Guest side of vm/tests/udev-sync.sh (runs as root in the test VM, with
# systemd-udevd started by `vm/run.sh --udev`): dmsetup and cryptsetup with
# udev synchronisation and Debian's stock dm udev rules, first on stock
# libdevmapper, then on ours made the system's libdevmapper.
#
#   udev-sync-guest.sh OURS_LIBDIR LOGDIR
#
# How udevd's own dmsetup gets our library: systemd-udevd starts the rules'
# programs (/sbin/dmsetup udevflags, info, udevcomplete) with the event's
# properties as their environment, not udevd's, so LD_LIBRARY_PATH cannot
# reach them. The ours half therefore puts OURS_LIBDIR first in the dynamic
# linker's cache: /etc/ld.so.conf.d/00-libdevmapper-rs.conf + ldconfig, in
# the guest's private overlay root (the host is untouched). ld.so.conf.d
# files are read in name order before the multiarch directories, so the
# cache lists ours first and every program without LD_LIBRARY_PATH (the
# rules' dmsetup, cryptsetup, the test's dmsetup) loads it. A probe rule
# (/etc/udev/rules.d/99-dmrs-probe.rules, guest only) records what
# `ldd /sbin/dmsetup` resolves to inside udevd's environment, and the test
# checks it.
#
# udevd's log: the udevd that `vm/run.sh --udev` started logs nowhere (its
# stderr is /dev/null, and it reports a failing RUN program only at debug
# level), so this script restarts it (`udevadm control --exit`, then
# systemd-udevd in the background with SYSTEMD_LOG_LEVEL=debug and
# SYSTEMD_LOG_TARGET=console into LOGDIR/udevd.log). That log shows every
# program the dm rules run and how it ended ("Process '/sbin/dmsetup
# udevcomplete N' succeeded" / "failed with exit code N" / "timed out").
#
# Every operation runs under a guard (UDEV_SYNC_GUARD seconds, default 30;
# a healthy one takes well under a second here): libdm waits for udev on a
# SysV semaphore with no timeout of its own, so an operation whose cookie
# is never completed by the rules would hang forever. An operation killed
# by the guard is reported as "TIMEOUT", with the cookie it left behind
# (`dmsetup udevcookies`, `ipcs -s`) and what udevd logged about the rules'
# programs for it; a rules' dmsetup that failed is reported even when
# nothing hung. Wall time is printed for information only.
#
# Output: per half, one line per operation and check; a transcript of what
# udev made (links, properties) that must be the same on both halves;
# `N passed, N failed`.
set -u
[ $# -ge 2 ] || { echo "usage: $0 OURS_LIBDIR LOGDIR" >&2; exit 2; }
OURS=$1
LOGDIR=$2
GUARD=${UDEV_SYNC_GUARD:-30}
W=/tmp/udev-sync
unset LD_LIBRARY_PATH LD_PRELOAD DM_DISABLE_UDEV DM_UDEV_COOKIE
DMSETUP=/sbin/dmsetup
CRYPTSETUP=/sbin/cryptsetup
[ -x $CRYPTSETUP ] || CRYPTSETUP=/usr/sbin/cryptsetup
STOCK_SO=/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1
CONF=/etc/ld.so.conf.d/00-libdevmapper-rs.conf
FSUUID=6b1e2f6a-0f3c-4a6e-9c1b-2b6f0e6b1e2f
LUKSUUID=3f1c2e4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f
rm -rf "$W"; mkdir -p "$W" "$LOGDIR"

passed=0 failed=0 timeouts=0
declare -A HALF_FAILED HALF_SKIPPED
ok() { echo "  ok: $*"; passed=$((passed + 1)); }
bad() { echo "  FAIL: $*"; failed=$((failed + 1)); HALF_FAILED[$HALF]=1; }
# rec LINE: a line of the half's transcript (what udev made), compared later.
rec() { printf '%s\n' "$*" >>"$W/$HALF.txt"; }

# ---- udevd and the rules
udevd_pid=$(pgrep -x systemd-udevd | head -n1)
if [ -z "$udevd_pid" ]; then
    echo "systemd-udevd is not running (vm/run.sh --udev)"; echo "0 passed, 1 failed"; exit 1
fi
udevadm control --exit
for i in $(seq 1 100); do pgrep -x systemd-udevd >/dev/null || break; sleep 0.1; done
ULOG=$LOGDIR/udevd.log
: >"$ULOG"
SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=debug setsid /lib/systemd/systemd-udevd </dev/null >>"$ULOG" 2>&1 &
for i in $(seq 1 100); do udevadm control --ping --timeout=5 2>/dev/null && break; sleep 0.1; done
udevd_pid=$(pgrep -x systemd-udevd | head -n1)
echo "systemd-udevd $(udevadm --version) running (pid ${udevd_pid:-none}), restarted with its debug log in $ULOG"
rules=()
for f in 55-dm.rules 60-persistent-storage-dm.rules 95-dm-notify.rules 10-dm.rules 13-dm-disk.rules; do
    for d in /etc/udev/rules.d /lib/udev/rules.d /usr/lib/udev/rules.d; do
        [ -f "$d/$f" ] && { rules+=("$d/$f"); break; }
    done
done
echo "dm rules: ${rules[*]}"
echo "  from package: $(dpkg -S "${rules[@]}" 2>/dev/null | cut -d: -f1 | sort -u | paste -sd' ')"
echo "  programs they run: $(grep -ho '/[a-z/]*dmsetup [a-z_]*' "${rules[@]}" | sort -u | paste -sd',' | sed 's/,/, /g')"
echo "  /sbin/dmsetup is $(dpkg -S /sbin/dmsetup 2>/dev/null | cut -d: -f1) $(dpkg-query -W -f '${Version}' dmsetup)"
# The probe: which libdevmapper the rules' dmsetup loads, per device; and a
# rule that fails on purpose for one device (the log must show it).
mkdir -p /etc/udev/rules.d
printf '#!/bin/sh\n/usr/bin/ldd /sbin/dmsetup | /usr/bin/awk '"'"'$1 == "libdevmapper.so.1.02.1" { print $3 }'"'"' >/run/dmrs-probe.$1\n' \
    >/run/dmrs-probe.sh
chmod +x /run/dmrs-probe.sh
cat >/etc/udev/rules.d/99-dmrs-probe.rules <<'EOF'
SUBSYSTEM=="block", KERNEL=="dm-[0-9]*", ACTION=="add|change", RUN+="/run/dmrs-probe.sh %k"
SUBSYSTEM=="block", KERNEL=="dm-[0-9]*", ENV{DM_NAME}=="us-logcheck", ACTION=="change", RUN+="/bin/false"
EOF
udevadm control --reload

# ---- fixtures: a LUKS2 volume formatted on stock (each half gets a fresh
# plain disk of its own in run_half)
truncate -s 64M "$W/luks.img"
LLOOP=$(losetup -f --show "$W/luks.img")
printf 'udev-sync-pass' >"$W/key"
$CRYPTSETUP luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --uuid $LUKSUUID \
    --key-file "$W/key" "$LLOOP" >"$W/luksformat.log" 2>&1 ||
    { echo "luksFormat failed (fixture):"; cat "$W/luksformat.log"; }
udevadm settle --timeout=20

# new_udev_log: udevd's log lines since the last call
ULOG_SEEN=$(wc -l <"$ULOG")
new_udev_log() {
    local n
    n=$(wc -l <"$ULOG")
    tail -n +$((ULOG_SEEN + 1)) "$ULOG" | head -n $((n - ULOG_SEEN))
    ULOG_SEEN=$n
}
COMPLETED=0
cookies() { # the cookies left, one line each
    ipcs -s 2>/dev/null | awk 'tolower($1) ~ /^0x0*d4d/ { print "semaphore key " $1 " semid " $2 }'
}
# op NAME CMD...: one synchronised operation, guarded
op() {
    local name=$1 t0 rc secs left ulog; shift
    t0=$(date +%s.%N)
    timeout -k 5 "$GUARD" "$@" >"$W/op.out" 2>&1 </dev/null
    rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    udevadm settle --timeout=20
    left=$(cookies)
    new_udev_log >"$W/op.ulog"
    # The rules' programs that did not succeed (and /bin/false, on purpose).
    ulog=$(grep -E "Process '[^']*' (failed|terminated)|timed out|[Kk]illing|Failed to (execute|spawn)" "$W/op.ulog" |
        grep -v "'/bin/false'")
    COMPLETED=$((COMPLETED + $(grep -c "Process '/sbin/dmsetup udevcomplete [0-9]*' succeeded" "$W/op.ulog")))
    if [ $rc = 124 ] || [ $rc = 137 ]; then
        timeouts=$((timeouts + 1))
        bad "$name: TIMEOUT: still waiting after ${GUARD}s, killed (cookie never completed by the rules)"
        [ -n "$left" ] && echo "      left: $left"
        echo "      dmsetup udevcookies: $(stock_dm udevcookies 2>&1 | tail -n +2 | awk '{ print $1, "value", $3 }' | paste -sd';')"
    elif [ $rc != 0 ]; then
        bad "$name: exit $rc ($(head -c 300 "$W/op.out" | tr '\n' ' '))"
    elif [ -n "$left" ]; then
        bad "$name: returned, but left a cookie: $left"
    elif [ -n "$ulog" ]; then
        bad "$name: returned, but a program of the rules failed"
    else
        ok "$name (${secs}s; rules' dmsetup udevcomplete ran: $(grep -c "Process '/sbin/dmsetup udevcomplete [0-9]*' succeeded" "$W/op.ulog"); no cookie left)"
    fi
    [ -n "$ulog" ] && { echo "      udevd said:"; head -n 10 <<<"$ulog" | sed 's/^/        /'; }
    rec "op $name rc=$rc, completed by the rules: $(grep -c "Process '/sbin/dmsetup udevcomplete [0-9]*' succeeded" "$W/op.ulog")"
    return 0
}
stock_dm() { env LD_LIBRARY_PATH=/lib/x86_64-linux-gnu "$DMSETUP" "$@"; }
link() { # link PATH: record and check that udev made PATH a symlink
    if [ -L "$1" ]; then
        rec "link $1 -> $(readlink "$1")"; ok "link $1 -> $(readlink "$1")"
    else
        rec "link $1 missing"; bad "no link $1"
    fi
}
nolink() { # nolink PATH: and that it is gone
    if [ -e "$1" ] || [ -L "$1" ]; then rec "stale $1"; bad "$1 still there"; else rec "gone $1"; ok "$1 gone"; fi
}
props() { # props DEV: the dm properties udev's rules set, recorded
    udevadm info --query=property "$1" 2>/dev/null |
        grep -E '^(DM_NAME|DM_UUID|DM_SUSPENDED|DM_UDEV_RULES_VSN|DM_UDEV_PRIMARY_SOURCE_FLAG|DM_UDEV_DISABLE_LIBRARY_FALLBACK_FLAG|DM_ACTIVATION|ID_FS_TYPE|ID_FS_UUID)=' |
        sort | while read -r l; do rec "prop $(basename "$1") $l"; done
    if udevadm info --query=property "$1" 2>/dev/null | grep -qx 'DM_UDEV_RULES_VSN=2'; then
        ok "$1: 55-dm.rules ran (DM_UDEV_RULES_VSN=2)"
    else
        bad "$1: no DM_UDEV_RULES_VSN from 55-dm.rules"
    fi
}
probe() { # probe DEV EXPECTED_SO: what the rules' dmsetup loaded
    local got
    got=$(cat "/run/dmrs-probe.$(basename "$(readlink -f "$1")")" 2>/dev/null)
    if [ "$got" = "$2" ]; then ok "udevd's /sbin/dmsetup loads $got"; else bad "udevd's /sbin/dmsetup loads '${got:-?}', expected $2"; fi
}
leftovers() {
    local f
    cookies
    for f in /sys/block/dm-*; do [ -e "$f" ] && echo "dm device $(cat "$f/dm/name")"; done
    for f in /dev/mapper/*; do
        [ "$f" = /dev/mapper/control ] && continue
        { [ -e "$f" ] || [ -L "$f" ]; } && echo "stale $f"
    done
    for f in /dev/disk/by-id/dm-* /dev/disk/by-uuid/$FSUUID; do { [ -e "$f" ] || [ -L "$f" ]; } && echo "stale $f"; done
}

run_half() {
    HALF=$1
    local expect so dmdev miss
    : >"$W/$HALF.txt"
    echo "=== $HALF"
    [ -n "${LOOP:-}" ] && losetup -d "$LOOP"
    rm -f "$W/disk.img"; truncate -s 256M "$W/disk.img"
    LOOP=$(losetup -f --show "$W/disk.img")
    if [ "$HALF" = ours ]; then
        echo "$OURS" >$CONF
        expect=$(realpath "$OURS")/libdevmapper.so.1.02.1
    else
        rm -f $CONF
        expect=$STOCK_SO
    fi
    ldconfig
    so=$(ldd $DMSETUP | awk '$1 == "libdevmapper.so.1.02.1" { print $3 }')
    [ "$(realpath "$so")" = "$(realpath "$expect")" ] && ok "ld.so.cache: /sbin/dmsetup loads $so" ||
        bad "ld.so.cache: /sbin/dmsetup loads $so, expected $expect"
    so=$(ldd $CRYPTSETUP | awk '$1 == "libdevmapper.so.1.02.1" { print $3 }')
    [ "$(realpath "$so")" = "$(realpath "$expect")" ] && ok "ld.so.cache: cryptsetup loads $so" ||
        bad "ld.so.cache: cryptsetup loads $so, expected $expect"
    miss=$(comm -23 \
        <(readelf --dyn-syms -W $DMSETUP | awk '$7 == "UND" && $8 ~ /^dm_/ { sub(/ .*/, "", $8); print $8 }' | sort -u) \
        <(readelf --dyn-syms -W "$expect" | awk '$7 != "UND" && $8 ~ /^dm_/ { s = $8; sub(/@@/, "@", s); print s }' | sort -u))
    if [ -n "$miss" ]; then
        bad "$expect lacks $(echo "$miss" | wc -l) symbols /sbin/dmsetup imports (e.g. $(echo "$miss" | head -n 2 | sed 's/@.*//' | paste -sd' ')):" \
            "the rules' dmsetup cannot start, so no cookie can complete"
        echo "  one cryptsetup open shows it (the rest of this half is skipped):"
        op "cryptsetup open (rules cannot run dmsetup)" $CRYPTSETUP open --key-file "$W/key" "$LLOOP" us-crypt
        stock_dm udevcomplete_all -y >/dev/null 2>&1
        stock_dm remove_all --force >/dev/null 2>&1
        HALF_SKIPPED[$HALF]=1
        return
    fi

    echo "--- dmsetup create, with a uuid"
    op "dmsetup create us-a" $DMSETUP create us-a --uuid US-UUID-a --table "0 65536 linear $LOOP 0"
    dmdev=$(readlink -f /dev/mapper/us-a)
    link /dev/mapper/us-a
    link /dev/disk/by-id/dm-name-us-a
    link /dev/disk/by-id/dm-uuid-US-UUID-a
    props /dev/mapper/us-a
    probe /dev/mapper/us-a "$expect"
    echo "--- a filesystem: by-uuid (60-persistent-storage-dm.rules, blkid)"
    mkfs.ext4 -q -F -U $FSUUID /dev/mapper/us-a >/dev/null 2>&1
    udevadm settle --timeout=20
    link /dev/disk/by-uuid/$FSUUID
    props /dev/mapper/us-a
    echo "--- suspend, reload, resume"
    op "dmsetup suspend us-a" $DMSETUP suspend us-a
    op "dmsetup load us-a" $DMSETUP load us-a --table "0 65536 linear $LOOP 0"
    op "dmsetup resume us-a" $DMSETUP resume us-a
    props /dev/mapper/us-a
    echo "--- rename"
    op "dmsetup rename us-a us-b" $DMSETUP rename us-a us-b
    nolink /dev/mapper/us-a
    nolink /dev/disk/by-id/dm-name-us-a
    link /dev/mapper/us-b
    link /dev/disk/by-id/dm-name-us-b
    link /dev/disk/by-id/dm-uuid-US-UUID-a
    link /dev/disk/by-uuid/$FSUUID
    props /dev/mapper/us-b
    echo "--- remove"
    op "dmsetup remove us-b" $DMSETUP remove us-b
    nolink /dev/mapper/us-b
    nolink /dev/disk/by-id/dm-name-us-b
    nolink /dev/disk/by-id/dm-uuid-US-UUID-a
    nolink /dev/disk/by-uuid/$FSUUID
    [ -e "$dmdev" ] && bad "$dmdev still there" || ok "$dmdev gone"
    echo "--- one udev transaction for three devices (udevcreatecookie / udevreleasecookie)"
    export DM_UDEV_COOKIE
    DM_UDEV_COOKIE=$(timeout -k 5 "$GUARD" $DMSETUP udevcreatecookie)
    if [ -n "$(cookies)" ]; then ok "dmsetup udevcreatecookie: a semaphore for $DM_UDEV_COOKIE"; else bad "dmsetup udevcreatecookie made no semaphore"; fi
    local i
    for i in 1 2 3; do
        # (inside a transaction nothing waits, so the cookie stays until released)
        timeout -k 5 "$GUARD" $DMSETUP create us-t$i --table "0 8 zero" >"$W/op.out" 2>&1 ||
            bad "dmsetup create us-t$i in the transaction: $(head -c 200 "$W/op.out")"
    done
    # (the rules complete the creates asynchronously: only the cookie's
    # existence is certain before the release)
    rec "transaction cookies before release: $(cookies | wc -l)"
    op "dmsetup udevreleasecookie (waits for 3 creates)" $DMSETUP udevreleasecookie
    unset DM_UDEV_COOKIE
    for i in 1 2 3; do link /dev/mapper/us-t$i; done
    op "dmsetup remove us-t1 us-t2 us-t3" $DMSETUP remove us-t1 us-t2 us-t3
    for i in 1 2 3; do nolink /dev/mapper/us-t$i; done
    echo "--- cryptsetup open/close (LUKS2)"
    op "cryptsetup open" $CRYPTSETUP open --key-file "$W/key" "$LLOOP" us-crypt
    link /dev/mapper/us-crypt
    link /dev/disk/by-id/dm-name-us-crypt
    link "/dev/disk/by-id/dm-uuid-CRYPT-LUKS2-${LUKSUUID//-/}-us-crypt"
    props /dev/mapper/us-crypt
    probe /dev/mapper/us-crypt "$expect"
    op "cryptsetup close" $CRYPTSETUP close us-crypt
    nolink /dev/mapper/us-crypt
    nolink /dev/disk/by-id/dm-name-us-crypt
    echo "--- the rules' failures reach the log (a rule that runs /bin/false)"
    op "dmsetup create us-logcheck" $DMSETUP create us-logcheck --table "0 8 zero"
    if grep -q "Process '/bin/false' failed" "$W/op.ulog"; then ok "udevd's log shows a failing RUN program"; else bad "udevd's log does not show the failing /bin/false"; fi
    op "dmsetup remove us-logcheck" $DMSETUP remove us-logcheck
    echo "--- remove_all, udevcomplete_all"
    op "dmsetup create us-c" $DMSETUP create us-c --table "0 8 zero"
    op "dmsetup remove_all" $DMSETUP remove_all
    op "dmsetup udevcomplete_all" $DMSETUP udevcomplete_all -y
    echo "--- left behind"
    local left
    left=$(leftovers)
    if [ -n "$left" ]; then bad "left behind: $(echo "$left" | paste -sd';')"; else ok "nothing left (semaphores, dm devices, /dev/mapper, /dev/disk links)"; fi
    rec "leftovers: ${left:-none}"
    echo "  (cookies completed by the rules' dmsetup udevcomplete in this half: $COMPLETED)"
    COMPLETED=0
}

run_half stock
stock_failed=$failed
run_half ours
rm -f $CONF; ldconfig
losetup -d "$LOOP" "$LLOOP" 2>/dev/null
udevadm control --exit
cp "$W"/stock.txt "$W"/ours.txt "$LOGDIR"/ 2>/dev/null

echo "=== comparison"
status=0
if [ "$stock_failed" != 0 ]; then echo "stock half failed: the test itself is broken here"; status=1; fi
if [ "${HALF_SKIPPED[ours]:-0}" = 1 ]; then
    echo "udev transcript: ours NOT COMPARED (its half stopped early, above)"
    status=1
elif diff -u "$W/stock.txt" "$W/ours.txt" >"$LOGDIR/udev.diff"; then
    echo "udev transcript: ours == stock ($(grep -c . "$W/stock.txt") lines)"
else
    echo "udev transcript: ours DIFFERS from stock:"; sed 's/^/    /' "$LOGDIR/udev.diff" | head -60
    status=1
fi
[ "${HALF_FAILED[ours]:-0}" = 0 ] || status=1
echo "timeouts: $timeouts"
echo "$passed passed, $failed failed"
exit $status
