# vm/tests/cluster-lib.sh - sourced (sh or bash) by the guest side of the
# shellcheck shell=sh
# multi-VM tests that vm/cluster.sh runs: coordination through the shared
# control directory and corosync.
#
# Environment (from vm/cluster.sh): NODE_ID, NODES, VM_IP, CLUSTER_IPS,
# CLUSTER_DIR. Every wait polls with a deadline (CL_TIMEOUT seconds by
# default, 120) and fails with a message naming what it waited for.
#
#   cl_log MSG...            "nodeN: MSG" on stderr
#   cl_barrier NAME [SEC]    wait until every live node reached NAME
#   cl_publish KEY VALUE     put a value in the control directory
#   cl_fetch KEY [SEC]       wait for a value and print it
#   cl_kill N                kill node N (its qemu gets SIGKILL); for our own
#                            node this does not return
#   cl_killed N              node N was killed on request
#   cl_live_nodes            the node ids not killed
#   cl_corosync_start        write /etc/corosync/corosync.conf, start
#                            corosync -f, wait for all live nodes as members
#   cl_members               the member node ids corosync sees now, sorted
#   cl_wait_members "IDS" [SEC]  wait until cl_members prints exactly IDS
#   cl_corosync_stop         stop corosync (SIGTERM, then waits)

CL_TIMEOUT=${CL_TIMEOUT:-120}
: "${NODE_ID:?not in a vm/cluster.sh node}" "${NODES:?}" "${CLUSTER_DIR:?}" "${CLUSTER_IPS:?}"

cl_log() { echo "node$NODE_ID: $*" >&2; }

# cl_deadline_passed START SEC: SEC seconds have passed since START (date +%s).
cl_deadline_passed() { [ $(($(date +%s) - $1)) -ge "$2" ]; }

cl_killed() { [ -e "$CLUSTER_DIR/kill-node$1" ]; }

cl_live_nodes() {
    _n=1 _out=
    while [ "$_n" -le "$NODES" ]; do
        cl_killed "$_n" || _out="$_out${_out:+ }$_n"
        _n=$((_n + 1))
    done
    echo "$_out"
}

cl_barrier() {
    _name=$1 _sec=${2:-$CL_TIMEOUT} _t0=$(date +%s)
    : >"$CLUSTER_DIR/barrier.$_name.$NODE_ID"
    while :; do
        _missing=
        for _n in $(cl_live_nodes); do
            [ -e "$CLUSTER_DIR/barrier.$_name.$_n" ] || _missing="$_missing $_n"
        done
        [ -z "$_missing" ] && return 0
        if cl_deadline_passed "$_t0" "$_sec"; then
            cl_log "barrier $_name: nodes$_missing did not arrive within $_sec s"
            return 1
        fi
        sleep 0.1
    done
}

cl_publish() {
    printf '%s\n' "$2" >"$CLUSTER_DIR/value.$1.tmp$NODE_ID" &&
        mv "$CLUSTER_DIR/value.$1.tmp$NODE_ID" "$CLUSTER_DIR/value.$1"
}

cl_fetch() {
    _sec=${2:-$CL_TIMEOUT} _t0=$(date +%s)
    while [ ! -e "$CLUSTER_DIR/value.$1" ]; do
        if cl_deadline_passed "$_t0" "$_sec"; then
            cl_log "no value '$1' published within $_sec s"
            return 1
        fi
        sleep 0.1
    done
    cat "$CLUSTER_DIR/value.$1"
}

cl_kill() {
    cl_log "killing node$1"
    : >"$CLUSTER_DIR/kill-node$1"
    if [ "$1" = "$NODE_ID" ]; then
        # The host pulls the plug within a fraction of a second.
        while :; do sleep 1; done
    fi
}

cl_corosync_start() {
    mkdir -p /etc/corosync /var/log/corosync /var/lib/corosync
    {
        echo "totem {"
        echo "    version: 2"
        echo "    cluster_name: dmrs"
        echo "    transport: knet"
        echo "    crypto_cipher: none"
        echo "    crypto_hash: none"
        # Generous under TCG with several VMs on two host cores.
        echo "    token: ${CL_TOKEN_MS:-5000}"
        echo "}"
        echo "nodelist {"
        _n=1
        for _ip in $CLUSTER_IPS; do
            echo "    node {"
            echo "        ring0_addr: $_ip"
            echo "        name: node$_n"
            echo "        nodeid: $_n"
            echo "    }"
            _n=$((_n + 1))
        done
        echo "}"
        echo "quorum {"
        echo "    provider: corosync_votequorum"
        [ "$NODES" = 2 ] && echo "    two_node: 1"
        echo "}"
        echo "logging {"
        echo "    to_stderr: no"
        echo "    to_syslog: no"
        echo "    to_logfile: yes"
        echo "    logfile: /var/log/corosync/corosync.log"
        echo "    timestamp: on"
        echo "}"
    } >/etc/corosync/corosync.conf
    corosync -f >/var/log/corosync/stdout.log 2>&1 &
    CL_COROSYNC_PID=$!
    cl_wait_members "$(cl_live_nodes)" || {
        cl_log "corosync log:"
        tail -n 30 /var/log/corosync/corosync.log >&2
        return 1
    }
}

cl_members() {
    # "corosync-quorumtool -l": after two header lines, "NODEID VOTES NAME".
    corosync-quorumtool -l 2>/dev/null |
        awk '$1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ { print $1 }' | sort -n | tr '\n' ' ' | sed 's/ $//'
}

cl_wait_members() {
    _want=$1 _sec=${2:-$CL_TIMEOUT} _t0=$(date +%s)
    while :; do
        _have=$(cl_members)
        [ "$_have" = "$_want" ] && return 0
        if cl_deadline_passed "$_t0" "$_sec"; then
            cl_log "corosync members: wanted '$_want', have '$_have' after $_sec s"
            return 1
        fi
        sleep 0.2
    done
}

cl_corosync_stop() {
    [ -n "${CL_COROSYNC_PID:-}" ] || return 0
    kill "$CL_COROSYNC_PID" 2>/dev/null
    wait "$CL_COROSYNC_PID" 2>/dev/null
    CL_COROSYNC_PID=
}
