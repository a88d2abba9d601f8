#!/bin/bash
# vm/cluster.sh - boot N VMs at once (see vm/README.md, "vm/cluster.sh"), each
# running the same command as root, with one shared disk image, a private
# network between them and a shared control directory.
#
#   vm/cluster.sh [--nodes N] [--kernel 6.1|sid] [--mem MB] [--timeout SEC]
#                 [--disk-size MB | --disk FILE] [--dir DIR] [--keep]
#                 [--env K=V|K]... [--rw DIR]... [--verbose] -- COMMAND [ARGS...]
#   vm/cluster.sh --host-lock -- COMMAND [ARGS...]
#
# (--host-lock: run COMMAND on the host holding the VM lock, as below, so
# that a test of several cluster runs takes it once.)
# Node n (1..N) boots with hostname node<n>, the disk as /dev/vda (raw,
# uncached, shared read-write by every node), eth0 = 10.77.0.<n>/24 on a
# network that exists only between these VMs (unix datagram sockets through
# a hub process on this machine), and the environment NODE_ID=n, NODES=N,
# VM_IP=10.77.0.<n>, CLUSTER_IPS="10.77.0.1 ...", CLUSTER_DIR=<ctl dir>.
# CLUSTER_DIR is a host directory every node sees uncached (--share): a node
# kills node k (power cut: its qemu gets SIGKILL) by creating
# $CLUSTER_DIR/kill-node<k>; vm/tests/cluster-lib.sh has helpers.
# Output: node n's stdout and stderr in DIR/node<n>.out and .err, and live on
# our stdout/stderr as "[node<n>] " lines. Exit status 0 when every node's
# command exited 0 or the node was killed on request; else the highest node
# status. The whole run holds /tmp/dmrs-vm.lock (VM_LOCK) once; when an
# ancestor process (e.g. `flock /tmp/dmrs-vm.lock make ...`) holds it already,
# it is not taken again.
set -eu

VM_DIR=$(cd "$(dirname "$0")" && pwd)
ARGS=("$@")
NODES=3
KERNEL=6.1
MEM=1024
TIMEOUT=900
DISK_SIZE=256
DISK=
DIR=
KEEP=0
VERBOSE=0
ENVS=()
RWS=()
LOCK=${VM_LOCK-/tmp/dmrs-vm.lock}
HOST_LOCK=0

usage() {
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 125
}
die() { echo "vm/cluster.sh: $*" >&2; exit 125; }

while [ $# -gt 0 ]; do
    case $1 in
        --nodes|--kernel|--mem|--timeout|--disk-size|--disk|--dir|--env|--rw)
            [ $# -ge 2 ] || usage
            case $1 in
                --nodes) NODES=$2 ;;
                --kernel) KERNEL=$2 ;;
                --mem) MEM=$2 ;;
                --timeout) TIMEOUT=$2 ;;
                --disk-size) DISK_SIZE=$2 ;;
                --disk) DISK=$2 ;;
                --dir) DIR=$2 ;;
                --env) ENVS+=(--env "$2") ;;
                --rw) RWS+=(--rw "$2") ;;
            esac
            shift 2 ;;
        --keep) KEEP=1; shift ;;
        --host-lock) HOST_LOCK=1; shift ;;
        --verbose|-v) VERBOSE=1; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        *) echo "vm/cluster.sh: unknown option: $1" >&2; usage ;;
    esac
done
[ $# -ge 1 ] || usage
case $NODES$MEM$TIMEOUT$DISK_SIZE in
    *[!0-9]*) die "--nodes, --mem, --timeout and --disk-size take numbers" ;;
esac
[ "$NODES" -ge 1 ] && [ "$NODES" -le 8 ] || die "--nodes: 1 to 8"

# ---- the lock: once for the whole run, unless an ancestor holds it
# lock_held_by_ancestor: /proc/locks names a holder of LOCK's inode that is
# this process or one of its ancestors.
lock_held_by_ancestor() {
    local ino holders p h
    ino=$(stat -c %i "$LOCK" 2>/dev/null) || return 1
    holders=$(awk -v ino="$ino" '$2 == "FLOCK" { n = split($6, a, ":"); if (a[n] == ino) print $5 }' /proc/locks)
    [ -n "$holders" ] || return 1
    p=$$
    while [ "$p" -gt 1 ] 2>/dev/null; do
        for h in $holders; do [ "$h" = "$p" ] && return 0; done
        p=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f2) || return 1
    done
    return 1
}
# flock(1) holds it and stays our parent (so that /proc/locks names an
# ancestor of every process of the run).
if [ -n "$LOCK" ] && ! lock_held_by_ancestor; then
    exec flock "$LOCK" "$VM_DIR/cluster.sh" "${ARGS[@]}"
fi
[ "$HOST_LOCK" = 1 ] && exec "$@"

# ---- the run directory (ours, removed at the end unless --keep; or --dir,
# kept)
REMOVE_DIR=0
HUB=
NODE_PIDS=
cleanup() {
    [ -n "$HUB" ] && kill "$HUB" 2>/dev/null
    # shellcheck disable=SC2086
    [ -n "$NODE_PIDS" ] && kill $NODE_PIDS 2>/dev/null
    [ "$REMOVE_DIR" = 1 ] && rm -rf "$DIR"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ -z "$DIR" ]; then
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/vm-cluster.XXXXXX")
    [ "$KEEP" = 1 ] || REMOVE_DIR=1
else
    KEEP=1
    mkdir -p "$DIR"
fi
DIR=$(realpath "$DIR")
# (unix socket paths are limited to 107 bytes)
[ ${#DIR} -le 80 ] || die "--dir: path too long for the network sockets: $DIR"
rm -rf "$DIR/ctl" "$DIR/net" "$DIR"/node*.out "$DIR"/node*.err "$DIR"/node*.rc
mkdir -p "$DIR/ctl" "$DIR/net"
chmod 1777 "$DIR/ctl"
if [ -z "$DISK" ]; then
    DISK=$DIR/disk.img
    rm -f "$DISK"
    truncate -s "${DISK_SIZE}M" "$DISK"
fi
[ -f "$DISK" ] || [ -b "$DISK" ] || die "--disk: no such file: $DISK"

IPS=
for n in $(seq 1 "$NODES"); do IPS="$IPS${IPS:+ }10.77.0.$n"; done

# ---- the network: a hub relaying every frame to every other node
# (a datagram socket per node, so nothing leaves the machine; a frame a slow
# node cannot take at once is dropped, as on a real network).
peers=()
for n in $(seq 1 "$NODES"); do peers+=("$DIR/net/n$n.sock"); done
python3 -u - "$DIR/net/hub.sock" "${peers[@]}" >"$DIR/net/hub.log" 2>&1 <<'EOF' &
import os, socket, sys
hub, peers = sys.argv[1], sys.argv[2:]
try:
    os.unlink(hub)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(hub)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
print("ready", flush=True)
while True:
    data, src = s.recvfrom(65536)
    for p in peers:
        if p != src:
            try:
                s.sendto(data, socket.MSG_DONTWAIT, p)
            except OSError:
                pass
EOF
HUB=$!
i=0
until [ -S "$DIR/net/hub.sock" ]; do
    i=$((i + 1))
    [ $i -le 200 ] && kill -0 "$HUB" 2>/dev/null || { cat "$DIR/net/hub.log" >&2; die "the network hub did not start"; }
    sleep 0.05
done

# ---- the nodes
vflag=()
[ "$VERBOSE" = 1 ] && vflag=(--verbose)
# node N: run node N's VM, its stdout and stderr into files and, prefixed,
# onto ours; its exit status into DIR/node<N>.rc.
node() {
    local n=$1; shift
    {
        {
            set +e
            "$VM_DIR/run.sh" --kernel "$KERNEL" --mem "$MEM" --timeout "$TIMEOUT" "${vflag[@]}" \
                --hostname "node$n" --disk "$DISK" \
                --net "dgram:$DIR/net/n$n.sock:$DIR/net/hub.sock" --ip "10.77.0.$n/24" \
                --share "$DIR/ctl" --kill-file "$DIR/ctl/kill-node$n" \
                --env NODE_ID="$n" --env NODES="$NODES" --env VM_IP="10.77.0.$n" \
                --env CLUSTER_IPS="$IPS" --env CLUSTER_DIR="$DIR/ctl" \
                "${ENVS[@]}" "${RWS[@]}" -- "$@"
            echo $? >"$DIR/node$n.rc"
        } 2>&1 1>&3 3>&- | tee "$DIR/node$n.err" | sed -u "s/^/[node$n] /" >&2
    } 3>&1 | tee "$DIR/node$n.out" | sed -u "s/^/[node$n] /"
}
t0=$(date +%s)
for n in $(seq 1 "$NODES"); do
    node "$n" "$@" &
    NODE_PIDS="$NODE_PIDS $!"
done
# shellcheck disable=SC2086
wait $NODE_PIDS || true
NODE_PIDS=

# ---- the verdict
status=0
summary=
for n in $(seq 1 "$NODES"); do
    rc=$(cat "$DIR/node$n.rc" 2>/dev/null || echo 125)
    if [ "$rc" = 137 ] && [ -e "$DIR/ctl/kill-node$n" ]; then
        summary="$summary node$n killed on request;"
    else
        summary="$summary node$n exit $rc;"
        [ "$rc" -gt "$status" ] && status=$rc
    fi
done
echo "vm/cluster.sh: $NODES nodes, $(($(date +%s) - t0)) s:${summary%;}" >&2
[ "$KEEP" = 1 ] && echo "vm/cluster.sh: logs and disk kept in $DIR" >&2
exit "$status"
