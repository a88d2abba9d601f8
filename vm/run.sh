#!/bin/bash
# vm/run.sh - boot a Debian kernel under qemu (TCG) and run one command in it
# as root, on the host's own root filesystem (see vm/README.md).
#
#   vm/run.sh [--kernel 6.1|sid] [--mem MB] [--smp N] [--timeout SEC]
#             [--dm-mod PATH] [--modules "m1 m2"] [--env K=V|K]... [--rw DIR]...
#             [--udev] [--append "kernel args"] [--boot-retries N] [--verbose]
#             [--disk FILE]... [--net SPEC] [--ip ADDR/PREFIX] [--hostname NAME]
#             [--share DIR]... [--kill-file FILE] -- COMMAND [ARGS...]
#
# Several VMs at once (vm/cluster.sh): --disk attaches a raw image that other
# VMs may attach too (/dev/vda, /dev/vdb...; uncached, writes seen by all),
# --net SPEC a NIC on a private network (dgram:LOCAL.sock:REMOTE.sock, unix
# datagram sockets on this machine; or netdev:QEMU-NETDEV-OPTIONS), --ip the
# guest's address on it (eth0), --share a host directory writable and
# uncached (coherent between VMs), --kill-file: kill the VM (exit 137) when
# FILE appears.
#
# The command runs in the guest with the host's cwd, stdout to our stdout,
# stderr to our stderr, stdin from /dev/null; our exit code is its exit code.
# Harness failures exit 125 (124 on timeout) with a message on stderr.
set -eu

VM_DIR=$(cd "$(dirname "$0")" && pwd)
CACHE=${VM_CACHE:-$VM_DIR/cache}
KERNEL=6.1
MEM=2048
SMP=1
TIMEOUT=600
BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-120}
BOOT_RETRIES=2
DM_MOD=
MODULES=
UDEV=0
VERBOSE=0
EXTRA_APPEND=
ENVS=()
RWDIRS=()
DISKS=()
SHARES=()
NET=
IP=
VMHOST=vm
KILL_FILE=

usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 125
}
die() { echo "vm/run.sh: $*" >&2; exit 125; }

while [ $# -gt 0 ]; do
    case $1 in
        --kernel|--mem|--smp|--timeout|--dm-mod|--modules|--env|--append|--rw|--boot-retries|\
        --disk|--net|--ip|--hostname|--share|--kill-file)
            [ $# -ge 2 ] || usage
            case $1 in
                --kernel) KERNEL=$2 ;;
                --mem) MEM=$2 ;;
                --smp) SMP=$2 ;;
                --timeout) TIMEOUT=$2 ;;
                --dm-mod) DM_MOD=$2 ;;
                --modules) MODULES="$MODULES $2" ;;
                --env) ENVS+=("$2") ;;
                --append) EXTRA_APPEND="$EXTRA_APPEND $2" ;;
                --rw) RWDIRS+=("$2") ;;
                --boot-retries) BOOT_RETRIES=$2 ;;
                --disk) DISKS+=("$2") ;;
                --net) NET=$2 ;;
                --ip) IP=$2 ;;
                --hostname) VMHOST=$2 ;;
                --share) SHARES+=("$2") ;;
                --kill-file) KILL_FILE=$2 ;;
            esac
            shift 2 ;;
        --udev) UDEV=1; shift ;;
        --verbose|-v) VERBOSE=1; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        *) echo "vm/run.sh: unknown option: $1" >&2; usage ;;
    esac
done
[ $# -ge 1 ] || usage
case $MEM$SMP$TIMEOUT$BOOT_RETRIES in
    *[!0-9]*) die "--mem, --smp, --timeout and --boot-retries take numbers" ;;
esac

K=$CACHE/kernels/$KERNEL
[ -f "$K/version" ] || die "kernel '$KERNEL' is not staged: run vm/setup.sh${KERNEL:+ --kernel $KERNEL}"
[ "$(id -u)" = 0 ] || die "must run as root (virtiofsd shares / with the guest)"
# virtiofsd: the C one shipped with qemu <= 7.2 (Debian 12), else the Rust
# one (package virtiofsd on newer Debian; its options differ).
VIRTIOFSD=
for f in /usr/lib/qemu/virtiofsd /usr/libexec/virtiofsd /usr/lib/virtiofsd; do
    [ -x "$f" ] && VIRTIOFSD=$f && break
done
[ -n "$VIRTIOFSD" ] || die "virtiofsd not found: run vm/setup.sh"
if [ -n "$DM_MOD" ]; then
    [ -f "$DM_MOD" ] || die "--dm-mod: no such file: $DM_MOD"
    DM_MOD=$(realpath "$DM_MOD")
    # A module built for another kernel would only fail inside the guest.
    vermagic=$(modinfo -F vermagic "$DM_MOD" 2>/dev/null | cut -d' ' -f1)
    [ "$vermagic" = "$(cat "$K/kver")" ] ||
        die "--dm-mod: $DM_MOD is built for '${vermagic:-?}', the $KERNEL kernel is $(cat "$K/kver")"
fi
# --disk: raw images, attached uncached and shareable (see the qemu line).
disk_args=()
i=0
for f in "${DISKS[@]}"; do
    [ -f "$f" ] || [ -b "$f" ] || die "--disk: no such file: $f"
    f=$(realpath "$f")
    case $f in *,*) die "--disk: comma in path: $f" ;; esac
    # cache=none is O_DIRECT on the host: the guests' writes go straight to
    # the file, and every VM reads them from there (no qemu-side cache).
    # file.locking=off: several qemu processes open the image read-write.
    disk_args+=(-drive "file=$f,format=raw,if=none,id=disk$i,cache=none,aio=threads,file.locking=off"
        -device "virtio-blk-pci,drive=disk$i,share-rw=on,serial=dmrs-disk$i")
    i=$((i + 1))
done
# --ip ADDR/PREFIX: the guest's eth0 address (needs --net).
case $IP in
    '') ;;
    [0-9]*.*.*.*/[0-9]*) [ -n "$NET" ] || die "--ip needs --net" ;;
    *) die "--ip: expected ADDR/PREFIX (e.g. 10.77.0.1/24), got: $IP" ;;
esac
case $VMHOST in
    ''|*[!A-Za-z0-9.-]*) die "--hostname: letters, digits, '.' and '-' only" ;;
esac
# --net SPEC: one virtio NIC. The MAC is derived from --ip so that several
# VMs on one network differ.
net_args=()
if [ -n "$NET" ]; then
    mac=52:54:00:12:34:56
    if [ -n "$IP" ]; then
        mac=$(echo "${IP%/*}" | awk -F. '{ printf "52:54:%02x:%02x:%02x:%02x", $1, $2, $3, $4 }')
    fi
    case $NET in
        dgram:*:*)
            # Unix datagram sockets: ours (LOCAL, created by qemu) and the
            # peer's or a hub's (REMOTE). Nothing leaves the machine.
            local_sock=${NET#dgram:}; local_sock=${local_sock%%:*}
            remote_sock=${NET##*:}
            case $local_sock$remote_sock in *,*) die "--net: comma in a socket path" ;; esac
            rm -f "$local_sock"
            netdev="dgram,id=net0,local.type=unix,local.path=$local_sock,remote.type=unix,remote.path=$remote_sock" ;;
        netdev:*) netdev="${NET#netdev:},id=net0" ;;
        *) die "--net: expected dgram:LOCAL:REMOTE or netdev:OPTIONS, got: $NET" ;;
    esac
    net_args=(-netdev "$netdev" -device "virtio-net-pci,netdev=net0,mac=$mac")
fi
SHARE=
for d in "${SHARES[@]}"; do
    [ -d "$d" ] || die "--share: no such directory: $d"
    d=$(realpath "$d")
    case $d in *"
"*) die "--share: newline in path: $d" ;; esac
    SHARE="$SHARE$d
"
done
if [ ${#DISKS[@]} -gt 0 ] || [ -n "$NET" ]; then
    grep -qE '/virtio_(net|blk)\.ko' "$K/modules.list" "$K"/initrd/lib/modules/*/modules.builtin 2>/dev/null ||
        die "the staged $KERNEL kernel has no virtio_blk/virtio_net (staged by an older vm/setup.sh): run vm/setup.sh"
fi

RW=
for d in "${RWDIRS[@]}"; do
    [ -d "$d" ] || die "--rw: no such directory: $d"
    d=$(realpath "$d")
    case $d in *"
"*) die "--rw: newline in path: $d" ;; esac
    RW="$RW$d
"
done

# quote WORD: WORD as one single-quoted sh word.
quote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

# (The virtiofsd socket path must stay short: fall back to /tmp.)
tmp=${TMPDIR:-/tmp}
[ ${#tmp} -le 60 ] && [ -d "$tmp" ] || tmp=/tmp
RUN=$(mktemp -d "$tmp/vm-run.XXXXXX")
# On any exit: stop our background jobs still running (qemu via timeout,
# virtiofsd, the fifo readers) and remove the run directory.
cleanup() {
    local p
    for p in $(jobs -pr); do kill "$p" 2>/dev/null || true; done
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap '' PIPE

# ---- per-run initramfs: /init, /vm/config, /vm/cmd.sh (appended to the base)
mkdir -p "$RUN/cpio/vm"
chmod 755 "$RUN/cpio"
install -m 755 "$VM_DIR/init.sh" "$RUN/cpio/init"
{
    echo "VM_VERBOSE=$VERBOSE"
    echo "VM_UDEV=$UDEV"
    echo "VM_DM_MOD=$(quote "$DM_MOD")"
    echo "VM_MODULES=$(quote "$MODULES")"
    echo "VM_RW=$(quote "$RW")"
    echo "VM_SHARE=$(quote "$SHARE")"
    echo "VM_DISKS=${#DISKS[@]}"
    echo "VM_NET=$([ -n "$NET" ] && echo 1 || echo 0)"
    echo "VM_IP=$(quote "$IP")"
    echo "VM_HOSTNAME=$(quote "$VMHOST")"
} >"$RUN/cpio/vm/config"

# Environment of the command: a clean one, PATH from the host (so the same
# programs are found), then --env settings (K=V, or K to copy the host's).
path=$PATH
for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    case :$path: in *:$d:*) ;; *) path=$path:$d ;; esac
done
envs=("PATH=$path" HOME=/root USER=root LOGNAME=root TERM=dumb LANG=C.UTF-8)
for e in "${ENVS[@]}"; do
    case $e in
        *=*) envs+=("$e") ;;
        *) [ -n "${!e+x}" ] && envs+=("$e=${!e}") ;;
    esac
done
{
    echo "cd $(quote "$PWD") || exit 126"
    printf 'exec /usr/bin/env -i'
    for e in "${envs[@]}"; do printf ' %s' "$(quote "$e")"; done
    printf " /bin/sh -c 'exec \"\$@\"' sh"
    for a in "$@"; do printf ' %s' "$(quote "$a")"; done
    echo
} >"$RUN/cpio/vm/cmd.sh"
(cd "$RUN/cpio" && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet) >"$RUN/extra.cpio"
cat "$K/initrd-base.cpio" "$RUN/extra.cpio" >"$RUN/initrd"

# ---- host side of the serial ports and the shared root
mkfifo "$RUN/out" "$RUN/err" "$RUN/wd"
if [ "$VERBOSE" = 1 ]; then
    mkfifo "$RUN/console"
    APPEND="console=ttyS0 panic=-1 oops=panic"
else
    APPEND="console=ttyS0 quiet loglevel=2 panic=-1 oops=panic"
fi

# The whole host root is shared; the guest's writes stay in the guest,
# except under --rw directories (see init.sh).
# sandbox=chroot: the namespace sandbox cannot pivot_root into "/".
if "$VIRTIOFSD" --help 2>&1 | grep -q -- --shared-dir; then
    vfs_opts=(--shared-dir=/ --sandbox=chroot --cache=always --log-level=error)
else
    vfs_opts=(-o source=/ -o sandbox=chroot -o cache=always -o log_level=err
              -o no_posix_lock -o no_flock)
fi

# boot: one boot of the guest. Sets QRC (qemu's exit status, via timeout(1))
# and BOOT_TIMED_OUT (1 if the command had not started after BOOT_TIMEOUT s).
boot() {
    local readers i
    rm -f "$RUN/status" "$RUN/console.log" "$RUN/vfs.sock" "$RUN/boot-timeout"
    cat "$RUN/out" 2>/dev/null & readers=($!)
    cat "$RUN/err" >&2 & readers+=($!)
    if [ "$VERBOSE" = 1 ]; then
        tee "$RUN/console.log" <"$RUN/console" >&2 & readers+=($!)
        CONSOLE=$RUN/console
    else
        CONSOLE=$RUN/console.log
    fi
    "$VIRTIOFSD" --socket-path="$RUN/vfs.sock" "${vfs_opts[@]}" </dev/null 2>"$RUN/virtiofsd.log" &
    # --share: one more virtiofsd each, uncached, so that files written by
    # another VM or the host are seen at once.
    local share_args=() n=0 d
    while IFS= read -r d; do
        [ -n "$d" ] || continue
        rm -f "$RUN/share$n.sock"
        if "$VIRTIOFSD" --help 2>&1 | grep -q -- --shared-dir; then
            "$VIRTIOFSD" --socket-path="$RUN/share$n.sock" --shared-dir="$d" --sandbox=chroot \
                --cache=never --log-level=error </dev/null 2>>"$RUN/virtiofsd.log" &
        else
            "$VIRTIOFSD" --socket-path="$RUN/share$n.sock" -o source="$d" -o sandbox=chroot \
                -o cache=none -o log_level=err -o no_posix_lock -o no_flock </dev/null 2>>"$RUN/virtiofsd.log" &
        fi
        share_args+=(-chardev "socket,id=share$n,path=$RUN/share$n.sock"
            -device "vhost-user-fs-pci,chardev=share$n,tag=share$n")
        n=$((n + 1))
    done <<<"$SHARE"
    i=0
    while [ ! -S "$RUN/vfs.sock" ] || { [ $n -gt 0 ] && [ ! -S "$RUN/share$((n - 1)).sock" ]; }; do
        i=$((i + 1))
        [ $i -le 100 ] || { cat "$RUN/virtiofsd.log" >&2; die "virtiofsd did not start"; }
        sleep 0.05
    done

    timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
        -nodefaults -no-user-config -display none -no-reboot \
        -accel tcg -cpu max -smp "$SMP" -m "$MEM" \
        -object memory-backend-memfd,id=mem,size="${MEM}M",share=on \
        -machine pc,memory-backend=mem \
        -kernel "$K/vmlinuz" -initrd "$RUN/initrd" -append "$APPEND$EXTRA_APPEND" \
        -chardev file,id=s0,path="$CONSOLE" -serial chardev:s0 \
        -chardev file,id=s1,path="$RUN/out" -serial chardev:s1 \
        -chardev file,id=s2,path="$RUN/err" -serial chardev:s2 \
        -chardev file,id=s3,path="$RUN/status" -serial chardev:s3 \
        -chardev socket,id=vfs,path="$RUN/vfs.sock" \
        -device vhost-user-fs-pci,chardev=vfs,tag=hostroot \
        "${share_args[@]}" "${disk_args[@]}" "${net_args[@]}" -pidfile "$RUN/qemu.pid" \
        </dev/null >"$RUN/qemu.log" 2>&1 &
    local qemu=$!
    # --kill-file: a watcher kills qemu (SIGKILL, like pulling the plug)
    # once the file exists; vm/cluster.sh's guests create it to kill a node.
    local kw=
    if [ -n "$KILL_FILE" ]; then
        (
            while [ ! -e "$KILL_FILE" ]; do read -r -t 0.1 _ <>"$RUN/wd" || true; done
            : >"$RUN/killed"
            while [ ! -s "$RUN/qemu.pid" ] && kill -0 "$qemu" 2>/dev/null; do read -r -t 0.05 _ <>"$RUN/wd" || true; done
            kill -KILL "$(cat "$RUN/qemu.pid")" 2>/dev/null
        ) &
        kw=$!
    fi
    # Boot watchdog: read -t on a fifo opened read-write sleeps without a
    # child process, so killing the subshell leaves nothing behind.
    (
        read -r -t "$BOOT_TIMEOUT" _ <>"$RUN/wd" || true
        if ! grep -qa '@@VM-STARTED@@' "$RUN/status" 2>/dev/null; then
            : >"$RUN/boot-timeout"
            kill "$qemu" 2>/dev/null
        fi
    ) &
    local wd=$!
    set +e
    # (Quietly: a node killed with --kill-file is not news; the braces keep
    # bash's "Killed" job report off stderr.)
    { wait "$qemu"; } 2>/dev/null
    QRC=$?
    set -e
    kill "$wd" $kw 2>/dev/null || true
    wait "$wd" $kw 2>/dev/null || true
    BOOT_TIMED_OUT=0
    [ -e "$RUN/boot-timeout" ] && BOOT_TIMED_OUT=1
    # qemu has closed the fifos: let the readers finish copying. A read-write
    # open never blocks; it releases a reader still waiting for qemu to open it.
    { :; } 7<>"$RUN/out" 8<>"$RUN/err"
    [ "$VERBOSE" = 1 ] && { :; } 9<>"$RUN/console"
    wait "${readers[@]}" 2>/dev/null || true
}

# fail_report MESSAGE: the message and what the logs say, on stderr.
fail_report() {
    echo "vm/run.sh: $1"
    [ -s "$RUN/qemu.log" ] && { echo "--- qemu:"; tail -n 20 "$RUN/qemu.log"; }
    # (virtiofsd always logs "Unexpected poll revents" when qemu goes away.)
    if grep -qv 'Unexpected poll revents' "$RUN/virtiofsd.log" 2>/dev/null; then
        echo "--- virtiofsd:"
        grep -v 'Unexpected poll revents' "$RUN/virtiofsd.log" | tail -n 20
    fi
    [ "$VERBOSE" = 1 ] || { echo "--- guest console (last 40 lines):"; tail -n 40 "$RUN/console.log" 2>/dev/null; }
}

# ---- boot, again if the guest died before the command started (TCG boots
# occasionally crash, e.g. on kernel code patching with several vCPUs)
attempt=0
while :; do
    attempt=$((attempt + 1))
    start=$(date +%s.%N)
    boot
    end=$(date +%s.%N)
    [ "$VERBOSE" = 1 ] && awk -v a="$start" -v b="$end" 'BEGIN { printf "vm/run.sh: guest ran %.2f s\n", b - a }' >&2

    status=$(grep -ao '@@VM-EXIT=[0-9]*@@' "$RUN/status" 2>/dev/null | head -n1 | tr -dc 0-9)
    [ -n "$status" ] && exit "$status"
    if [ -e "$RUN/killed" ]; then
        echo "vm/run.sh: killed on request ($KILL_FILE exists)" >&2
        exit 137
    fi
    if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
        fail_report "timed out after $TIMEOUT s" >&2
        exit 124
    fi
    if grep -qa '@@VM-STARTED@@' "$RUN/status" 2>/dev/null; then
        fail_report "the guest died while running the command (qemu exit code $QRC)" >&2
        exit 125
    fi
    if [ "$BOOT_TIMED_OUT" = 1 ]; then
        why="did not start the command within $BOOT_TIMEOUT s"
    else
        why="died before starting the command (qemu exit code $QRC)"
    fi
    if [ "$attempt" -gt "$BOOT_RETRIES" ]; then
        fail_report "the guest $why" >&2
        exit 125
    fi
    {
        echo "vm/run.sh: the guest $why; booting again (attempt $((attempt + 1)))"
        grep -a -m1 -E 'Oops|BUG|panic' "$RUN/console.log" 2>/dev/null | sed 's/^/vm\/run.sh:   /'
    } >&2
done
