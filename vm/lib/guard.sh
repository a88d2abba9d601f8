# vm/lib/guard.sh - sourced by the guest-side suite scripts (bash): run one
# step of a suite with a deadline, and when it hangs, say what it hangs on.
#
#   guard SECONDS LABEL COMMAND [ARGS...]
#
# Runs COMMAND (stdout and stderr as ours) in a process group of its own.
# Returns its exit status; or, when it is still running after SECONDS:
# prints (on stdout, lines starting with "# ") the hang report below, kills
# the whole group (SIGKILL: helpers and holders it forked go too), waits up
# to 10 s for it to die and returns 124. A process stuck in the kernel
# (state D, e.g. I/O queued on a suspended device, or a dm-log-userspace
# request to a daemon that is gone) cannot die: it is reported and left, so
# the suite goes on and its VM timeout is not spent on one step.
#
# guard_report: the hang report alone: device-mapper devices (suspended
# ones show "s" in attr, open counts), and every task not sleeping
# interruptibly, with its kernel wait channel and stack.

guard_report() {
    echo "# devices (dmsetup info; attr s = suspended):"
    timeout 10 dmsetup info -c -o name,attr,open,segments,events 2>&1 | sed 's/^/#   /'
    echo "# tasks blocked in the kernel (state D) or stopped:"
    local p st
    ps -eo pid,ppid,stat,wchan:32,args 2>/dev/null | awk 'NR == 1 || $3 ~ /^[DT]/' | sed 's/^/#   /'
    for p in $(ps -eo pid=,stat= 2>/dev/null | awk '$2 ~ /^D/ {print $1}'); do
        st=$(cat "/proc/$p/stack" 2>/dev/null | head -n 12 | tr '\n' ' ')
        [ -n "$st" ] && echo "#   stack of $p: $st"
    done
    return 0
}

# _guard_alive PID: the process exists and is not a zombie (builtins only).
_guard_alive() {
    local s
    { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
    s=${s##*) }
    case $s in Z*|X*|'') return 1 ;; esac
}

guard() {
    local tmo=$1 label=$2 pid wd rc fifo
    shift 2
    # No polling (a fork every few hundred ms costs a TCG guest dearly): we
    # sit in wait; a watchdog subshell sleeps in a builtin read on a fifo
    # (no child process), and on expiry reports, kills the group, and if the
    # command survives SIGKILL, interrupts our wait with SIGUSR1.
    fifo=$(mktemp -u "${TMPDIR:-/tmp}/guard.XXXXXX") && mkfifo "$fifo" || return 125
    # A background job of a non-interactive shell is no group leader, so
    # setsid(1) does not fork: $! is the command and leads its own group.
    setsid "$@" &
    pid=$!
    trap ':' USR1
    (
        trap - USR1
        read -r -t "$tmo" _ <>"$fifo"
        _guard_alive "$pid" || exit 0
        : >"$fifo.expired"
        echo "# $label: still running after $tmo s: a hang; state before killing it:"
        guard_report
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
        i=0
        while _guard_alive "$pid" && [ $i -lt 50 ]; do read -r -t 0.2 _ <>"$fifo"; i=$((i + 1)); done
        if _guard_alive "$pid"; then
            echo "# $label: pid $pid survives SIGKILL (stuck in the kernel): left behind"
            kill -USR1 $$ 2>/dev/null
        else
            echo "# $label: killed"
        fi
    ) &
    wd=$!
    # (stderr off for the wait: bash reports a killed job there; no news)
    { wait "$pid"; } 2>/dev/null
    rc=$?
    if [ -e "$fifo.expired" ]; then
        # the watchdog has the last word (killed, or left behind)
        { wait "$wd"; } 2>/dev/null
        _guard_alive "$pid" && disown "$pid" 2>/dev/null
        rc=124
    else
        kill "$wd" 2>/dev/null
        { wait "$wd"; } 2>/dev/null
    fi
    trap - USR1
    rm -f "$fifo" "$fifo.expired"
    # Whatever the command left running in its group goes with it.
    kill -KILL -- "-$pid" 2>/dev/null
    return $rc
}
