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

# _guard_alive PID: the process exists and is not a zombie.
_guard_alive() {
    local s
    s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    case $s in Z*|X*|'') return 1 ;; esac
}

guard() {
    local tmo=$1 label=$2 pid i rc
    shift 2
    # A background job of a non-interactive shell is no group leader, so
    # setsid(1) does not fork: $! is the command and leads its own group.
    setsid "$@" &
    pid=$!
    i=0
    while _guard_alive "$pid"; do
        if [ $i -ge $((tmo * 5)) ]; then
            echo "# $label: still running after $tmo s: a hang; state before killing it:"
            guard_report
            # (stderr off from here: bash reports the killed job there,
            # whenever it next looks at its children; that is no news)
            {
                kill -KILL -- "-$pid" || kill -KILL "$pid"
                i=0
                while _guard_alive "$pid" && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
                if _guard_alive "$pid"; then
                    echo "# $label: pid $pid survives SIGKILL (stuck in the kernel): left behind"
                    disown "$pid"
                else
                    wait "$pid"
                    echo "# $label: killed"
                fi
            } 2>/dev/null
            return 124
        fi
        sleep 0.2
        i=$((i + 1))
    done
    wait "$pid"
    rc=$?
    # Whatever the command left running in its group goes with it.
    kill -KILL -- "-$pid" 2>/dev/null
    return $rc
}
