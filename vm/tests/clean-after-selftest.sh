#!/bin/bash
# Runs inside the test VM, as root: proves that vm/tests/clean-after.sh
# notices what a suite leaves behind (a device with its node, a SysV
# semaphore, a loop device) and tidies it up, and that it passes a clean
# suite. Prints "ok - ..."/"not ok - ..." and "N passed, M failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0
t() { # t NAME COMMAND...
    local name=$1; shift
    if "$@"; then echo "ok - $name"; pass=$((pass + 1)); else echo "not ok - $name"; fail=$((fail + 1)); fi
}
W=$(mktemp -d)
truncate -s 1M "$W/img"

# A device with its node, a SysV semaphore like an udev cookie that nobody
# completed (ipcmk: without udev, libdm makes no cookie), a loop device.
leak='dmsetup create cleanafter-leak --table "0 8 zero" && dmsetup mknodes cleanafter-leak &&
    ipcmk -S 1 >/dev/null && losetup -f "$1"'
out=$("$HERE/clean-after.sh" bash -c "$leak" leak "$W/img"); rc=$?
echo "$out" | sed 's/^/    | /'
t "a leaky suite fails the check" [ "$rc" = 1 ]
t "the device is named" grep -q "dm device cleanafter-leak" <<<"$out"
t "its node is named" grep -q "node /dev/mapper/cleanafter-leak" <<<"$out"
t "the cookie semaphore is named" grep -q "SysV semaphore" <<<"$out"
t "the loop device is named" grep -q "loop device /dev/loop" <<<"$out"
out=$("$HERE/clean-after.sh" true); rc=$?
t "after tidying, a clean suite passes" [ "$rc" = 0 ]
t "and says so" grep -q "nothing left behind" <<<"$out"
"$HERE/clean-after.sh" false >/dev/null; rc=$?
t "a failing clean suite keeps its exit status" [ "$rc" = 1 ]
"$HERE/clean-after.sh" sh -c 'exit 3' >/dev/null; rc=$?
t "a suite's own status wins" [ "$rc" = 3 ]
rm -rf "$W"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
