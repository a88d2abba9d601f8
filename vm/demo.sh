#!/bin/bash
# `make demo`: boot the test kernel with systemd-udevd and Debian's stock dm
# udev rules, install our libdevmapper as the system's libdevmapper.so.1.02.1
# (in the guest's throw-away root: the host is untouched), and show
# unmodified Debian programs running on it: dmsetup (ls --tree, info -c -S,
# udev cookies completed by the rules' own dmsetup), dmstats (a region with
# a histogram, report) and cryptsetup; then the Rust API example.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
vm/setup.sh --with-udev >/dev/null
cargo build --release -p devmapper --example demo -q
exec vm/run.sh --udev -- bash -c '
set -euo pipefail
unset LD_LIBRARY_PATH LD_PRELOAD
SYS=/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1
say() { printf "\n$ %s\n" "$*"; }
run() { say "$*"; "$@"; }

# Install ours in place of the stock library (the guest root is an overlay
# in RAM), and make udevd start over so the rules run on it too.
cp --remove-destination "'"$REPO"'/build/lib/libdevmapper.so.1.02.1" "$SYS"
ldconfig
udevadm control --reload
echo "kernel $(uname -r), device-mapper $(cat /sys/module/dm_mod/version 2>/dev/null || echo built-in)"
cmp -s "'"$REPO"'/build/lib/libdevmapper.so.1.02.1" "$SYS" && echo "installed our build/lib/libdevmapper.so.1.02.1 as $SYS"
for p in dmsetup dmstats cryptsetup; do
    printf "  %-10s -> %s\n" "$p" "$(ldd "$(command -v $p)" | awk "/libdevmapper/ {print \$3}")"
done

cd /tmp
truncate -s 64M base.img
LOOP=$(losetup -f --show base.img)

say "dmsetup creates a small stack; udev completes every cookie (no --noudevsync)"
dmsetup create demo-a --table "0 32768 linear $LOOP 0"
dmsetup create demo-b --table "0 32768 linear $LOOP 32768"
dmsetup create demo-c --table "0 65536 linear $LOOP 65536"
dmsetup create demo-top --uuid DEMO-TOP --table "0 32768 linear /dev/mapper/demo-a 0
32768 32768 linear /dev/mapper/demo-b 0"
echo "  created demo-a, demo-b, demo-c, demo-top; semaphores left: $(ipcs -s | grep -c 0x0d4d || true)"
run ls -l /dev/mapper
run dmsetup ls --tree
run dmsetup info -c -o name,uuid,open,segments,events -O -name -S "name=~demo && segments>1 || open>0"
run dmsetup table demo-top
run dmsetup udevcookies

say "dmstats: a region with a latency histogram on demo-top, some I/O, the report"
run dmstats create --bounds 1ms,5ms,10ms --areas 2 demo-top
dd if=/dev/zero of=/dev/mapper/demo-top bs=4k count=256 oflag=direct status=none
dd if=/dev/mapper/demo-top of=/dev/null bs=4k count=256 iflag=direct status=none
run dmstats report -o name,region_id,area_id,read_count,write_count,hist_count_bounds demo-top
run dmstats list
run dmstats delete --allregions demo-top

say "cryptsetup on the same library"
printf demo-passphrase > key
run cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file key /dev/mapper/demo-c
run cryptsetup open --key-file key /dev/mapper/demo-c secret
run cryptsetup status secret
say "ls -l /dev/disk/by-id | grep dm-   (links made by udev rules running dmsetup on our library)"
ls -l /dev/disk/by-id | grep dm- | sed "s/.* dm-/dm-/" || true
run cryptsetup close secret

say "removing the stack through udev"
run dmsetup remove demo-top demo-a demo-b demo-c
run dmsetup ls
echo "semaphores left: $(ipcs -s | grep -c 0x0d4d || true)"
losetup -d "$LOOP"

say "Rust API example (target/release/examples/demo)"
'"$REPO"'/target/release/examples/demo
'
