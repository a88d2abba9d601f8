#!/bin/bash
# Runs inside the test VM, as root: runs one suite, then checks that it left
# nothing behind (issue 9's resource hygiene):
#   - no device-mapper device (/sys/block/dm-*) and no node in /dev/mapper
#     other than control;
#   - no SysV semaphore (libdevmapper's udev cookies are SysV semaphores; one
#     that outlives the suite is a cookie nobody completed);
#   - no loop device still attached.
#
#   vm/tests/clean-after.sh COMMAND [ARGS...]
#
# Exit status: the suite's when it failed; otherwise 1 when something was
# left behind, 0 when the guest is as clean as it was booted. The leftovers
# are listed, then removed so that nothing hides the next check.
set -u
"$@"
rc=$?

left=()
for d in /sys/block/dm-*; do
    [ -e "$d" ] || continue
    left+=("dm device $(cat "$d/dm/name" 2>/dev/null) ($(basename "$d"))")
done
for n in /dev/mapper/*; do
    [ -e "$n" ] || [ -L "$n" ] || continue
    [ "$(basename "$n")" = control ] && continue
    left+=("node $n")
done
# ipcs -s prints a header, then one line per semaphore set whose second
# column is its id.
while read -r key id _; do
    case $id in ''|*[!0-9]*) continue ;; esac
    left+=("SysV semaphore key $key id $id")
done < <(ipcs -s 2>/dev/null)
while IFS= read -r l; do
    [ -n "$l" ] && left+=("loop device ${l%%:*}")
done < <(losetup -a 2>/dev/null)

if [ ${#left[@]} = 0 ]; then
    echo "clean-after: nothing left behind"
    exit "$rc"
fi
echo "clean-after: the suite left ${#left[@]} thing(s) behind:"
printf '  %s\n' "${left[@]}"
# Tidy up with the kernel's view only (no library involved). Bounded: a
# forced removal suspends each device, which waits for its in-flight I/O
# (e.g. on a mirror whose userspace log server is gone).
timeout -k 5 60 dmsetup remove_all --force >/dev/null 2>&1
[ $? = 124 ] && echo "clean-after: dmsetup remove_all --force still running after 60 s: killed"
for id in $(ipcs -s 2>/dev/null | awk '$2 ~ /^[0-9]+$/ { print $2 }'); do
    ipcrm -s "$id" 2>/dev/null || true
done
losetup -D 2>/dev/null || true
[ "$rc" != 0 ] && exit "$rc"
exit 1
