#!/bin/bash
# Build the patched dm-mod (build.sh), boot the test VM with it (vm/run.sh
# --dm-mod) and check deviceless messages with the stock dmsetup.
#
#   kernel-patch/vm-check.sh          # exit 0 if every check passes
#
# The same script runs the checks inside the guest (--guest).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

if [ "${1:-}" != --guest ]; then
	MOD=$("$HERE/build.sh")
	exec "$REPO/vm/run.sh" --dm-mod "$MOD" --env DM_DISABLE_UDEV=1 -- \
		"$HERE/vm-check.sh" --guest
fi

# ---- guest side -------------------------------------------------------------
export DM_DISABLE_UDEV=1
fails=0

# check WANT_RC WANT_TEXT COMMAND...: COMMAND exits WANT_RC (0 or non-zero:
# "fail") and its output contains WANT_TEXT.
check() {
	local want_rc=$1 want=$2 out rc=0
	shift 2
	out=$("$@" 2>&1) || rc=$?
	if { [ "$want_rc" = 0 ] && [ $rc = 0 ]; } || { [ "$want_rc" = fail ] && [ $rc != 0 ]; }; then
		if [[ $out == *"$want"* ]]; then
			echo "PASS: $* -> ${out//$'\n'/ | }"
			return
		fi
	fi
	echo "FAIL: $* (exit $rc, wanted $want_rc with '$want') -> ${out//$'\n'/ | }"
	fails=$((fails + 1))
}

echo "kernel $(uname -r), dm_mod taint '$(cat /sys/module/dm_mod/taint)'," \
	"$(dmsetup version | tr '\n' ' ')"

check 0 'World!' dmsetup message linear 0 %Hello
check 0 'World!' dmsetup message linear 0 %hELLO
check fail 'Invalid argument' dmsetup message linear 0 %Bye
check fail 'Invalid argument' dmsetup message linear 0 %Hello again
check fail 'Invalid argument' dmsetup message zero 0 %Hello
check fail 'Invalid argument' dmsetup message nosuchtarget 0 %Hello

# Regular messages are unchanged.
check fail 'No such device or address' dmsetup message nodev 0 @stats_list
check 0 '' dmsetup create vmcheck-zero --table "0 20480 zero"
check 0 '0' dmsetup message vmcheck-zero 0 @stats_create - /10
check 0 '0: 0+20480 2048 - -' dmsetup message vmcheck-zero 0 @stats_list
check fail 'Invalid argument' dmsetup message vmcheck-zero 0 hello
check 0 '' dmsetup remove vmcheck-zero

# The stock target modules loaded against our dm-mod.
check 0 'dm_zero' grep -E '^dm_zero ' /proc/modules

dmesg | grep -E 'device-mapper: ioctl: .*(eviceless|messages)' || true
echo "$fails check(s) failed"
[ $fails = 0 ]
