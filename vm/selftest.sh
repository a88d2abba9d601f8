#!/bin/sh
# vm/selftest.sh - check the harness: boots each kernel and exercises the
# guest environment (device-mapper, loop, crypt, verity, integrity, thin,
# snapshot, module autoload, the overlay root, exit codes).
#
#   vm/selftest.sh [6.1|sid]...     (default: every staged kernel)
#
# On the host it calls vm/run.sh; in the guest (argument --guest) it runs the
# checks and prints one line per check and a "N passed, N failed" summary.
set -eu

VM_DIR=$(cd "$(dirname "$0")" && pwd)

# ------------------------------------------------------------- guest side
if [ "${1:-}" = --guest ]; then
    pass=0 fail=0
    W=$(mktemp -d /tmp/selftest.XXXXXX)
    check() {   # check NAME COMMAND...: run COMMAND quietly, record the result
        name=$1; shift
        if "$@" >"$W/log" 2>&1; then
            pass=$((pass + 1)); echo "ok   $name"
        else
            fail=$((fail + 1)); echo "FAIL $name"; sed 's/^/     | /' "$W/log"
        fi
    }
    dmversion() { dmsetup version | grep -q 'Driver version'; }
    zero() {
        dmsetup create st-zero --table "0 100 zero"
        dmsetup table st-zero | grep -q '^0 100 zero'
        dmsetup remove st-zero
    }
    mkloop() {  # mkloop FILE SIZE: a new loop device on FILE (printed)
        truncate -s "$2" "$1"
        d=$(losetup -f)
        losetup "$d" "$1"
        echo "$d"
    }
    luks2() {
        d=$(mkloop "$W/luks.img" 32M)
        printf secret >"$W/key"
        cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
            --key-file "$W/key" "$d"
        cryptsetup open --key-file "$W/key" "$d" st-luks
        dmsetup table st-luks | grep -q ' crypt aes-xts-plain64 '
        dd if=/dev/zero of=/dev/mapper/st-luks bs=64k count=16 status=none
        cryptsetup close st-luks
        losetup -d "$d"
    }
    plain() {
        d=$(mkloop "$W/plain.img" 8M)
        head -c 32 /dev/urandom >"$W/key32"
        cryptsetup open -q --type plain --cipher aes-cbc-essiv:sha256 --key-size 256 \
            --key-file "$W/key32" "$d" st-plain
        dmsetup table st-plain | grep -q ' crypt aes-cbc-essiv:sha256 '
        cryptsetup close st-plain
        losetup -d "$d"
    }
    verity() {
        d=$(mkloop "$W/data.img" 4M)
        h=$(mkloop "$W/hash.img" 1M)
        dd if=/dev/urandom of="$d" bs=64k count=64 status=none
        root=$(veritysetup format "$d" "$h" | sed -n 's/^Root hash:[[:space:]]*//p')
        veritysetup open "$d" st-verity "$h" "$root"
        cmp "$d" /dev/mapper/st-verity
        veritysetup close st-verity
        losetup -d "$d" "$h"
    }
    integrity() {
        d=$(mkloop "$W/integ.img" 16M)
        integritysetup format -q --no-wipe "$d"
        integritysetup open "$d" st-integ
        dmsetup table st-integ | grep -q ' integrity '
        integritysetup close st-integ
        losetup -d "$d"
    }
    thin() {
        m=$(mkloop "$W/meta.img" 4M)
        p=$(mkloop "$W/pool.img" 64M)
        dd if=/dev/zero of="$m" bs=4k count=1 status=none
        dmsetup create st-pool --table "0 131072 thin-pool $m $p 128 0"
        dmsetup message st-pool 0 "create_thin 0"
        dmsetup create st-thin --table "0 65536 thin /dev/mapper/st-pool 0"
        dd if=/dev/zero of=/dev/mapper/st-thin bs=64k count=4 status=none
        dmsetup status st-pool | grep -q thin-pool
        dmsetup remove st-thin
        dmsetup remove st-pool
        losetup -d "$m" "$p"
    }
    snapshot() {
        o=$(mkloop "$W/origin.img" 8M)
        c=$(mkloop "$W/cow.img" 4M)
        dmsetup create st-origin --table "0 16384 snapshot-origin $o"
        dmsetup create st-snap --table "0 16384 snapshot $o $c P 8"
        dmsetup status st-snap | grep -q snapshot
        dmsetup remove st-snap
        dmsetup remove st-origin
        losetup -d "$o" "$c"
    }
    targets() {
        for m in dm-delay dm-flakey dm-mirror dm-log-userspace dm-multipath \
            dm-round-robin dm-raid dm-cache dm-switch dm-writecache dm-era; do
            modprobe "$m"
        done
        dmsetup targets | grep -q '^raid '
        dmsetup targets | grep -q '^multipath '
    }
    overlay() {         # the host tree is writable in the guest, privately
        echo guest >"$VM_DIR/cache/.selftest-write"
        grep -q guest "$VM_DIR/cache/.selftest-write"
    }
    notchroot() {       # PID 1 moved into the root: not a chroot
        [ "$(stat -c %d:%i /)" = "$(stat -Lc %d:%i /proc/1/root)" ]
    }

    echo "kernel $(uname -r)"
    check "dmsetup version" dmversion
    check "zero target" zero
    check "LUKS2 format/open/close" luks2
    check "plain crypt (essiv)" plain
    check "verity" verity
    check "integrity" integrity
    check "thin pool + thin" thin
    check "snapshot" snapshot
    check "target modules" targets
    check "writable overlay root" overlay
    check "not a chroot" notchroot
    echo "selftest: $pass passed, $fail failed"
    [ "$fail" = 0 ]
    exit
fi

# -------------------------------------------------------------- host side
kernels=$*
[ -n "$kernels" ] || kernels=$(ls "$VM_DIR/cache/kernels" 2>/dev/null | grep -v '\.new$' || true)
[ -n "$kernels" ] || { echo "selftest: no kernel staged: run vm/setup.sh" >&2; exit 1; }
total_fail=0 total_pass=0
for k in $kernels; do
    echo "== kernel $k"
    # Exit codes come back from the guest.
    set +e
    "$VM_DIR/run.sh" --kernel "$k" -- sh -c 'exit 42'
    rc=$?
    set -e
    if [ "$rc" = 42 ]; then
        total_pass=$((total_pass + 1)); echo "ok   exit code"
    else
        total_fail=$((total_fail + 1)); echo "FAIL exit code (got $rc, want 42)"
    fi
    set +e
    "$VM_DIR/run.sh" --kernel "$k" --timeout 300 -- "$VM_DIR/selftest.sh" --guest >"$VM_DIR/cache/selftest-$k.log" 2>&1
    rc=$?
    set -e
    cat "$VM_DIR/cache/selftest-$k.log"
    line=$(sed -n 's/^selftest: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$VM_DIR/cache/selftest-$k.log")
    if [ -n "$line" ]; then
        total_pass=$((total_pass + ${line% *})); total_fail=$((total_fail + ${line#* }))
    fi
    if [ -z "$line" ]; then
        total_fail=$((total_fail + 1)); echo "FAIL guest run (exit $rc)"
    fi
    # The overlay kept the guest's write away from the host.
    if [ -e "$VM_DIR/cache/.selftest-write" ]; then
        total_fail=$((total_fail + 1)); echo "FAIL guest write reached the host"
        rm -f "$VM_DIR/cache/.selftest-write"
    else
        total_pass=$((total_pass + 1)); echo "ok   guest writes stay in the guest"
    fi
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
