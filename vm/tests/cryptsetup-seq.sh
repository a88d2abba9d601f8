#!/bin/bash
# Runs inside the test VM as root. Exercises unmodified Debian cryptsetup,
# veritysetup and integritysetup on one libdevmapper, observing the kernel
# state with stock dmsetup, and prints a normalised transcript (one line per
# step: its exit code and what the kernel shows) for comparison across
# libraries.
#
#   cryptsetup-seq.sh stock|ours|preload REPO
set -u
MODE=$1
REPO=$2
LIB=$REPO/build/lib

# Every command runs under a guard: each takes a second or two, so one still
# running after CS_SEQ_GUARD seconds (default 60) hangs; it is killed and
# its step shows rc=124 in the transcript (which then differs, naming it)
# instead of the sequence running into the VM's timeout with no output.
GUARD=(timeout -k 5 "${CS_SEQ_GUARD:-60}")
run() { # run a cryptsetup-family command on the library under test
    case $MODE in
        stock) "${GUARD[@]}" env -u LD_LIBRARY_PATH -u LD_PRELOAD "$@" ;;
        ours) "${GUARD[@]}" env -u LD_PRELOAD LD_LIBRARY_PATH="$LIB" "$@" ;;
        preload) "${GUARD[@]}" env -u LD_LIBRARY_PATH LD_PRELOAD="$LIB/libdevmapper.so.1.02.1" "$@" ;;
    esac
}
observe() { "${GUARD[@]}" env -u LD_LIBRARY_PATH -u LD_PRELOAD dmsetup "$@" 2>&1; }
step() { # step NAME CMD...: run on the library under test, print the exit code
    local name=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    echo "$name: rc=$rc"
    [ $rc = 0 ] || printf '%s\n' "$out" | sed 's/^/    | /' | head -5 >&2
}
table() { # the table of a device without keys and device numbers
    observe table "$1" 2>/dev/null | awk '{ $NF=""; for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+:[0-9]+$/ || length($i) >= 32) $i="X"; print }'
}
attr() { observe info -c --noheadings -o name,attr,segments,open "$1"; }
exists() { [ -b /dev/mapper/$1 ] && echo "$1: node present" || echo "$1: node absent"; }

PASS=secret-pass-phrase
IMG=/tmp/cs-$MODE.img
rm -f $IMG; truncate -s 48M $IMG
LOOP=$(losetup -f --show $IMG)
trap 'observe remove_all --force >/dev/null 2>&1; losetup -d $LOOP 2>/dev/null; rm -f $IMG /tmp/vdata-$MODE /tmp/vhash-$MODE /tmp/int-$MODE.img' EXIT
PB="--pbkdf pbkdf2 --pbkdf-force-iterations 1000"

KF=/tmp/kf-$MODE
printf %s "$PASS" >$KF
KF32=/tmp/kf32-$MODE
head -c 32 /dev/urandom >$KF32

echo "== LUKS2"
step luks2-format run cryptsetup luksFormat -q --type luks2 $PB --key-file $KF $LOOP
step luks2-open run cryptsetup open --key-file $KF $LOOP cs
exists cs; attr cs; table cs
step luks2-status run cryptsetup status cs
run cryptsetup status cs 2>&1 | grep -E '^\s*(type|cipher|keysize|size|mode):' | sed 's/^ *//'
step luks2-resize run cryptsetup resize --key-file $KF --size 20000 cs
table cs
step luks2-refresh run cryptsetup refresh --key-file $KF --allow-discards cs
table cs
step luks2-suspend run cryptsetup luksSuspend cs
attr cs
step luks2-resume run cryptsetup luksResume --key-file $KF cs
attr cs
step luks2-close run cryptsetup close cs
exists cs
step luks2-open-ro run cryptsetup open --readonly --key-file $KF $LOOP csro
attr csro
step luks2-close-ro run cryptsetup close csro
step luks2-open-again run cryptsetup open --key-file $KF $LOOP csd
exec 3</dev/mapper/csd
step luks2-deferred-close run cryptsetup close --deferred csd
observe info csd | grep -iE '^(State|Open count)' 
exec 3<&-
exists csd
# The kernel removes it from a workqueue after the last close, not before
# close() returns: wait for that (bounded; sysfs, no library).
for _ in $(seq 1 400); do
    grep -qx csd /sys/block/dm-*/dm/name 2>/dev/null || break
    sleep 0.05
done
observe info csd >/dev/null 2>&1 && echo "csd: still there" || echo "csd: removed after last close"

echo "== online reencryption"
step reenc-open run cryptsetup open --key-file $KF $LOOP csr
step reenc run cryptsetup reencrypt -q --key-file $KF $PB --resilience none --active-name csr
run cryptsetup status csr 2>&1 | grep -E '^\s*(type|cipher):' | sed 's/^ *//'
step reenc-close run cryptsetup close csr

echo "== LUKS1"
step luks1-format run cryptsetup luksFormat -q --type luks1 $PB --key-file $KF $LOOP
step luks1-open run cryptsetup open --key-file $KF $LOOP cs1
attr cs1; table cs1
step luks1-close run cryptsetup close cs1

echo "== plain"
step plain-open run cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 256 --key-file $KF32 $LOOP csp
attr csp; table csp
step plain-close run cryptsetup close csp

echo "== verity"
dd if=/dev/zero of=/tmp/vdata-$MODE bs=1M count=4 status=none
truncate -s 1M /tmp/vhash-$MODE
VD=$(losetup -f --show /tmp/vdata-$MODE); VH=$(losetup -f --show /tmp/vhash-$MODE)
ROOT=$(run veritysetup format --salt 00 $VD $VH 2>/dev/null | awk '/Root hash:/ {print $3}')
echo "verity-root: ${ROOT:+present}"
step verity-open run veritysetup open $VD v1 $VH $ROOT
attr v1; table v1
step verity-status run veritysetup status v1
step verity-close run veritysetup close v1
losetup -d $VD $VH

echo "== integrity"
truncate -s 32M /tmp/int-$MODE.img
ID=$(losetup -f --show /tmp/int-$MODE.img)
step integrity-format run integritysetup format -q --no-wipe $ID
step integrity-open run integritysetup open $ID i1
attr i1; table i1
step integrity-close run integritysetup close i1
losetup -d $ID
rm -f $KF $KF32
