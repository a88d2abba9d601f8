#!/bin/bash
# Fault-injection suite: the library against the fake driver (fakedm.c).
#
#   capi-tests/faults/run.sh [--lib ours|stock|both] [--plain] [-v] [filter...]
#
#   --lib ours    sweep every scenario with every fault (the default)
#   --lib stock   run the scenarios on well-formed replies with the system
#                 library: checks that the fake answers like a kernel
#   --lib both    both, then compare the must-match facts
#   --plain       without AddressSanitizer/UBSan (default: with)
#   FAULTS_SEEDS  random corruptions per ioctl (default 24)
#
# Prints one line per test and "N passed, N failed, N skipped"; exit 1 on
# any failure. Needs no kernel driver and no root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib=ours; asan=1; verbose=0; filters=()
while [ $# -gt 0 ]; do
	case "$1" in
	--lib) lib=${2:-}; shift 2 ;;
	--lib=*) lib=${1#--lib=}; shift ;;
	--plain) asan=0; shift ;;
	-v) verbose=1; shift ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) filters+=("$1"); shift ;;
	esac
done
case "$lib" in ours) libs=(ours) ;; stock) libs=(stock) ;; both) libs=(stock ours) ;;
*) echo "run.sh: --lib must be ours, stock or both" >&2; exit 2 ;; esac
if [ $asan = 1 ]; then target=asan; bin=$here/out/asan/faults; else target=all; bin=$here/out/faults; fi
make -s -C "$here" $target || { echo "faults: build failed" >&2; exit 1; }
ours_dir=${CAPI_OURS_LIBDIR:-$repo/build/lib}
stock_lib=/usr/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1

work=$(mktemp -d "${TMPDIR:-/tmp}/faults-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
n=0; passed=0; failed=0; skipped=0
emit() {
	n=$((n + 1))
	case "$1" in
	ok) passed=$((passed + 1)); echo "ok $n - $2" ;;
	skip) skipped=$((skipped + 1)); echo "ok $n - $2" ;;
	*) failed=$((failed + 1)); echo "not ok $n - $2" ;;
	esac
}
start=$(date +%s)
for l in "${libs[@]}"; do
	out=$work/$l.out
	if [ "$l" = ours ]; then
		[ -e "$ours_dir/libdevmapper.so.1.02.1" ] || { echo "faults: $ours_dir/libdevmapper.so.1.02.1 missing (run make)" >&2; exit 1; }
		env LD_LIBRARY_PATH="$ours_dir" CAPI_LIB=ours CAPI_KERNEL=0 \
			ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=23} \
			UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} "$bin" "${filters[@]}" >"$out" 2>&1
		if [ $asan = 1 ]; then
			# the allocation tests cap RLIMIT_AS: not under ASan, so
			# they run again in the plain build (they skip above)
			make -s -C "$here" all || { echo "faults: build failed" >&2; exit 1; }
			grep -v '^ok - faults/alloc_.*# SKIP' "$out" >"$out.tmp" && mv "$out.tmp" "$out"
			sel=(alloc_)
			if [ ${#filters[@]} -gt 0 ]; then
				sel=()
				for f in "${filters[@]}"; do case "$f" in *alloc*) sel+=("$f") ;; esac; done
			fi
			[ ${#sel[@]} -gt 0 ] && env LD_LIBRARY_PATH="$ours_dir" CAPI_LIB=ours CAPI_KERNEL=0 \
				"$here/out/faults" "${sel[@]}" 2>&1 | grep -v '^memory allocation\|^stack backtrace\|^ *[0-9]*: \|^ *at ' >>"$out"
		fi
	else
		if [ ! -e "$stock_lib" ]; then emit skip "[stock] faults # SKIP stock library not installed"; continue; fi
		env -u LD_LIBRARY_PATH CAPI_LIB=stock CAPI_KERNEL=0 \
			ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:exitcode=23} "$bin" "${filters[@]}" >"$out" 2>&1
	fi
	rc=$?
	[ $rc = 0 ] || echo "not ok - faults/(binary) # exited with status $rc" >>"$out"
	while IFS= read -r line; do
		case "$line" in
		"ok - "*"# SKIP"*) emit skip "[$l] ${line#ok - }" ;;
		"ok - "*) emit ok "[$l] ${line#ok - }" ;;
		"not ok - "*) emit fail "[$l] ${line#not ok - }" ;;
		"@"*) [ $verbose = 1 ] && echo "#   $line" ;;
		"# FAIL"*) echo "#   ${line#\# }" ;;
		"#"*) [ $verbose = 1 ] && echo "#   ${line#\# }" ;;
		*) [ $verbose = 1 ] && echo "#   | $line" ;;
		esac
	done <"$out"
	grep '^@M ' "$out" | sort >"$work/$l.must"
done
if [ ${#libs[@]} = 2 ]; then
	# compare only the tests that ran with both libraries
	cat "$work/stock.out" "$work/ours.out" | sed -n 's/^ok - \([^ ]*\) # SKIP.*/\1/p' | sort -u >"$work/skipped"
	for l in stock ours; do
		awk 'NR == FNR { skip[$1] = 1; next } !($2 in skip)' "$work/skipped" "$work/$l.must" >"$work/$l.m2"
		mv "$work/$l.m2" "$work/$l.must"
	done
	if cmp -s "$work/stock.must" "$work/ours.must"; then
		emit ok "[diff] faults: results on well-formed replies match stock"
	else
		emit fail "[diff] faults: results on well-formed replies differ from stock"
		diff "$work/stock.must" "$work/ours.must" | sed 's/^/#   /'
	fi
fi
if [ -e "$work/ours.out" ]; then
	awk '/^@I .* cases=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[2] != "") s[kv[1]] += kv[2] } }
	     END { printf "# faults totals: %d cases, %d ioctls, %d faults injected, %d failures returned, %d violations\n",
		   s["cases"], s["ioctls"], s["faults"], s["failures_returned"], s["violations"] }' "$work/ours.out"
fi
echo "# faults: $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
