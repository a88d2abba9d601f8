#!/bin/bash
# Hardening suites (issue 9): hostile kernel replies, allocation failure,
# key material, concurrency, fuzzing. No kernel driver and no root needed.
#
#   tools/harden.sh [--fuzz-time SECONDS] [--no-fuzz] [--no-tsan] [--no-stock]
#
#   capi-tests/faults/run.sh       fault injection sweep (ASan+UBSan) and
#                                  allocation tests (RLIMIT_AS); with the
#                                  stock library too, to check the fake driver
#   capi-tests/heapscan/run.sh     freed-heap key scan (ours; stock reported)
#   capi-tests/concurrency/run.sh  threads under ThreadSanitizer
#   fuzz/run.sh -t SECONDS         every fuzz target (default 20 s each,
#                                  FUZZ_TIME)
#
# Expects `make build` first (the Makefile target depends on it). Prints
# each suite's results, the time each took, and a final
# "N passed, N failed, N skipped".
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
fuzz_time=${FUZZ_TIME:-20}
fuzz=1; tsan=1; stock=1
while [ $# -gt 0 ]; do
	case "$1" in
	--fuzz-time) fuzz_time=${2:?}; shift 2 ;;
	--no-fuzz) fuzz=0; shift ;;
	--no-tsan) tsan=0; shift ;;
	--no-stock) stock=0; shift ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "harden.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ -e "$repo/build/lib/libdevmapper.so.1.02.1" ] || { echo "harden.sh: run make build first" >&2; exit 1; }
lib=ours
[ $stock = 1 ] && [ -e /usr/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1 ] && lib=both

P=0; F=0; S=0
summary=()
suite() { # name command...
	local name=$1 out rc t0 t1 line
	shift
	echo "# === $name ==="
	t0=$(date +%s)
	out=$("$@" 2>&1)
	rc=$?
	t1=$(date +%s)
	# failures and notes; every line of the fuzz runs (their executions)
	if [ "$name" = fuzz ]; then
		echo "$out" | grep -Ev '^[0-9]+ passed'
	else
		echo "$out" | grep -v '^#   |' | grep -E '^(ok|not ok|#)' | grep -Ev '^ok [0-9]+ - ' || true
	fi
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
	if [ -z "$line" ]; then
		F=$((F + 1)); line="no result (exit $rc)"
		echo "$out" | tail -20 | sed 's/^/#   /'
	else
		set -- $line
		P=$((P + $1)); F=$((F + $3)); S=$((S + ${5:-0}))
		[ $rc = 0 ] || [ "$3" != 0 ] || { F=$((F + 1)); line="$line (exit $rc)"; }
	fi
	summary+=("$(printf '%-12s %4ss  %s' "$name" $((t1 - t0)) "$line")")
}

suite faults bash "$repo/capi-tests/faults/run.sh" --lib "$lib"
suite heapscan bash "$repo/capi-tests/heapscan/run.sh" --lib "$lib"
if [ $tsan = 1 ]; then suite concurrency bash "$repo/capi-tests/concurrency/run.sh"; fi
if [ $fuzz = 1 ]; then suite fuzz bash "$repo/fuzz/run.sh" -t "$fuzz_time"; fi

echo "# === harden summary ==="
for s in "${summary[@]}"; do echo "# $s"; done
echo "$P passed, $F failed, $S skipped"
[ $F = 0 ]
