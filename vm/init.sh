#!/bin/sh
# vm/init.sh - PID 1 of the guest (busybox sh), packed into the initramfs by
# vm/run.sh on every run.
#
# Stage 1 (in the initramfs) builds the test root:
#   /lower    the host root filesystem (virtiofs)
#   /rw       tmpfs holding the overlay's upper and work dirs
#   /newroot  overlay of the two: the host's files, writable, changes lost at
#             power-off; fresh proc, sys, devtmpfs, /dev/pts, /dev/shm, /run;
#             the --rw directories bind-mounted from /lower (writes reach the
#             host); the initramfs module tree on /lib/modules/$(uname -r)
# then copies busybox and this script to /newroot/run/vm and chroots PID 1
# into /newroot. Kernel threads share PID 1's root, so the kernel's module
# autoloader then runs the host's /sbin/modprobe (kmod) on the staged tree,
# and tests see a plain root, not a chroot.
# Stage 2 (in the test root) loads modules, starts udev if asked, runs the
# command, reaps what it left, reports the exit status and powers off.
#
# Serial ports: ttyS0 kernel console + this script's messages, ttyS1 the
# command's stdout, ttyS2 its stderr, ttyS3 the status: "@@VM-STARTED@@" when
# the command starts, "@@VM-EXIT=n@@" when it ended.
# /vm/config (written by run.sh) sets VM_* variables; /vm/cmd.sh is the command.
set -u
NR=/newroot
VMDIR=/run/vm        # inside the test root

log() {
    [ "$VM_VERBOSE" = 1 ] && read -r up _ </proc/uptime && echo "[$up] vm-init: $*"
    return 0
}

# Kill whatever the command left behind and wait (up to 5 s) until only
# kernel threads and zombies remain: the last close of ttyS1/ttyS2 waits for
# their output to drain, so nothing written is lost at power-off.
reap() {
    kill -KILL -1 2>/dev/null
    i=0
    while [ $i -lt 50 ]; do
        ps -o pid,ppid,stat,comm >$VMDIR/ps.out
        left=
        while read -r pid ppid stat comm; do
            case $pid:$ppid:$stat:$comm in
                # header, init, kernel threads, zombies, our ps
                PID:*|1:*|2:*|*:2:*|*:*:Z*|*:1:*:ps) ;;
                *) left="$left $pid($comm)" ;;
            esac
        done <$VMDIR/ps.out
        [ -z "$left" ] && return 0
        usleep 100000
        i=$((i + 1))
    done
    echo "vm-init: processes still alive after SIGKILL:$left"
}

# Report the exit status on ttyS3 and power off. The redirection's close is
# the port's last one, so it returns only once the line has been sent.
finish() {
    log "command exited with $1"
    reap
    log "reaped"
    echo "@@VM-EXIT=$1@@" >/dev/ttyS3
    poweroff -f
    sleep 10
}

# A harness failure: say it on the console and on the command's stderr.
die() {
    echo "vm-init: error: $*"
    echo "vm-init: error: $*" >/dev/ttyS2
    finish 125
}

# ------------------------------------------------------------------ stage 2
if [ "${1:-}" = stage2 ]; then
    PATH=$VMDIR/bin:/usr/sbin:/usr/bin:/sbin:/bin
    export PATH
    . $VMDIR/config
    hostname "$VM_HOSTNAME"
    log "loading modules"
    # Device-mapper core: the stock module, or the one given with --dm-mod
    # (after the modules it depends on). dm-mod and loop are loaded by
    # busybox (static, in RAM: much faster to start under TCG than kmod);
    # --modules may name aliases, so they go through kmod.
    if [ -n "$VM_DM_MOD" ]; then
        deps=$(modinfo -F depends "$VM_DM_MOD" | tr , ' ') ||
            die "cannot read $VM_DM_MOD"
        for m in $deps; do
            modprobe "$m" || die "cannot load $m (needed by $VM_DM_MOD)"
        done
        insmod "$VM_DM_MOD" || die "cannot load $VM_DM_MOD"
        log "loaded $VM_DM_MOD"
    else
        modprobe dm-mod || die "cannot load dm-mod"
    fi
    modprobe loop || die "cannot load loop"
    for m in $VM_MODULES; do
        /sbin/modprobe "$m" || die "cannot load module $m"
    done
    # --disk: virtio disks, /dev/vda, /dev/vdb... (nodes appear as they probe).
    if [ "$VM_DISKS" -gt 0 ]; then
        modprobe virtio_blk || die "cannot load virtio_blk"
        i=0
        while [ "$(ls -d /sys/block/vd* 2>/dev/null | wc -l)" -lt "$VM_DISKS" ]; do
            i=$((i + 1))
            [ $i -le 300 ] || die "--disk: $VM_DISKS disk(s) expected, /sys/block has: $(ls /sys/block)"
            usleep 20000
        done
        for d in /sys/block/vd*; do
            d=/dev/${d##*/}
            i=0
            while [ ! -b "$d" ]; do
                i=$((i + 1))
                [ $i -le 300 ] || die "--disk: no device node $d"
                usleep 20000
            done
        done
        log "disks: $(ls -d /sys/block/vd* | sed 's,.*/,,' | tr '\n' ' ')"
    fi
    # --net: eth0 on the private network, lo up, the --ip address.
    if [ "$VM_NET" = 1 ]; then
        modprobe virtio_net || die "cannot load virtio_net"
        ip link set lo up || die "cannot bring lo up"
        i=0
        while [ ! -e /sys/class/net/eth0 ]; do
            i=$((i + 1))
            [ $i -le 300 ] || die "--net: no eth0 (have: $(ls /sys/class/net))"
            usleep 20000
        done
        if [ -n "$VM_IP" ]; then
            ip addr add "$VM_IP" dev eth0 || die "cannot set $VM_IP on eth0"
        fi
        ip link set eth0 up || die "cannot bring eth0 up"
        # The carrier follows within moments: the command starts with it.
        i=0
        while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ]; do
            i=$((i + 1))
            [ $i -le 250 ] || die "--net: eth0 has no carrier"
            usleep 20000
        done
        log "eth0 up${VM_IP:+ with $VM_IP}"
    fi

    if [ "$VM_UDEV" = 1 ]; then
        udevd=
        for f in /lib/systemd/systemd-udevd /usr/lib/systemd/systemd-udevd; do
            [ -x $f ] && udevd=$f && break
        done
        [ -n "$udevd" ] || die "--udev: systemd-udevd is not installed on the host (vm/setup.sh --with-udev)"
        log "starting $udevd"
        $udevd --daemon || die "systemd-udevd failed to start"
        # Coldplug block devices only (the loop devices): the rest is noise.
        udevadm trigger --action=add --subsystem-match=block >/dev/null 2>&1
        udevadm settle --timeout=30
        log "systemd-udevd running"
    fi

    log "running the command"
    echo "@@VM-STARTED@@" >/dev/ttyS3
    /bin/sh $VMDIR/cmd.sh </dev/null >/dev/ttyS1 2>/dev/ttyS2
    finish $?
fi

# ------------------------------------------------------------------ stage 1
PATH=/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/ttyS0 2>&1
. /vm/config
kver=$(uname -r)

# Output ports: raw (no \n -> \r\n), no echo.
for t in ttyS1 ttyS2 ttyS3; do
    stty -F /dev/$t raw -echo -opost || die "cannot configure /dev/$t"
done

# The host root over virtiofs (module on 6.1, builtin on newer kernels).
for m in virtio_pci virtiofs overlay; do
    modprobe -q $m 2>/dev/null
done
log "mounting the host root"
# Mounted read-write, but only PID 1 sees /lower itself: the test root is
# the overlay (writes stay in the guest) plus the --rw bind mounts.
mount -t virtiofs hostroot /lower || die "cannot mount the host root (virtiofs)"
mount -t tmpfs -o mode=755 tmpfs /rw || die "cannot mount tmpfs on /rw"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay $NR ||
    die "cannot mount the overlay root"

mount -t proc proc $NR/proc
mount -t sysfs sysfs $NR/sys
mount -t devtmpfs devtmpfs $NR/dev
mkdir -p $NR/dev/pts $NR/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $NR/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $NR/dev/shm
for l in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
    ln -sfn "${l#*:}" "$NR/dev/${l%%:*}"
done
mount -t configfs configfs $NR/sys/kernel/config 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs $NR/run || die "cannot mount /run"
mkdir -p $NR/run/lock $NR/run/cryptsetup $NR$VMDIR/bin
chmod 1777 $NR/run/lock
# Host directories shared writable (--rw), one per line.
printf '%s' "$VM_RW" | while IFS= read -r d; do
    [ -n "$d" ] || continue
    mount -o bind "/lower$d" "$NR$d" || die "--rw: cannot bind $d"
done
# Host directories shared uncached (--share), one virtiofs each: share0...
printf '%s' "$VM_SHARE" | {
    n=0
    while IFS= read -r d; do
        [ -n "$d" ] || continue
        mkdir -p "$NR$d"
        mount -t virtiofs "share$n" "$NR$d" || die "--share: cannot mount $d"
        n=$((n + 1))
    done
}
# The staged module tree, where the host's modprobe looks for it.
mkdir -p $NR/lib/modules/$kver
mount -o bind /lib/modules/$kver $NR/lib/modules/$kver || die "cannot bind the module tree"

# Busybox and stage 2 into the test root, then PID 1 moves there.
cp /bin/busybox $NR$VMDIR/busybox
chroot $NR $VMDIR/busybox --install -s $VMDIR/bin || die "cannot install busybox"
cp /init /vm/config /vm/cmd.sh $NR$VMDIR/
log "entering the test root"
exec chroot $NR $VMDIR/bin/sh $VMDIR/init stage2
