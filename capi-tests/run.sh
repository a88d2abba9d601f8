#!/bin/bash
# Run the capi-tests suite.
#
#   run.sh [--lib ours|stock|both] [--asan] [--kernel] [-v] [filter...]
#
#   --lib ours    LD_LIBRARY_PATH=<repo>/build/lib (our libdevmapper)
#   --lib stock   the system libdevmapper.so.1.02.1
#   --lib both    run both, then diff the facts of tests marked "must match"
#                 (default)
#   --asan        use the AddressSanitizer/UBSan binaries (out/asan/)
#   --kernel      also run the tests that need the device-mapper driver
#                 (root; meant for the VM: vm/run.sh -- capi-tests/run.sh --kernel)
#   -v            show facts and library log lines
#   filter        only tests whose name contains one of these strings
#
# Besides the area binaries, report-oracle/run.sh replays the report engine's
# golden transcripts through each library's C API (CAPI_NO_ORACLE=1: skip).
#
# Output: "ok N - [lib] area/name" / "not ok N - ..." per test, then a final
# line "N passed, N failed, N skipped".  Exit status 1 on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
lib=both
asan=0
kernel=0
verbose=0
filters=()

while [ $# -gt 0 ]; do
	case "$1" in
	--lib) lib=${2:-}; shift 2 ;;
	--lib=*) lib=${1#--lib=}; shift ;;
	--asan) asan=1; shift ;;
	--kernel) kernel=1; shift ;;
	-v) verbose=$((verbose + 1)); shift ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) filters+=("$1"); shift ;;
	esac
done

case "$lib" in
ours) libs=(ours) ;;
stock) libs=(stock) ;;
both) libs=(stock ours) ;;
*) echo "run.sh: --lib must be ours, stock or both" >&2; exit 2 ;;
esac

areas="libstate logging memory udev tasks getters badinput secure report pool strings timestamp tree stats"
if [ $asan = 1 ]; then bindir=$here/out/asan; target=asan; else bindir=$here/out; target=all; fi

# Build when needed (and possible: inside the VM the tree is read-only).
bins=""
for a in $areas; do bins="$bins ${bindir#$here/}/$a"; done
if [ "${CAPI_NO_BUILD:-0}" != 1 ] && ! make -s -q -C "$here" $bins >/dev/null 2>&1; then
	if [ -w "$here" ]; then
		make -s -C "$here" $target || { echo "run.sh: build failed" >&2; exit 1; }
	else
		echo "# run.sh: $here is read-only, using the binaries already built"
	fi
fi
for a in $areas; do
	[ -x "$bindir/$a" ] || { echo "run.sh: missing $bindir/$a (build first: make -C $here $target)" >&2; exit 1; }
done

stock_lib=/usr/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1
ours_dir=${CAPI_OURS_LIBDIR:-$repo/build/lib}
for l in "${libs[@]}"; do
	if [ "$l" = ours ] && [ ! -e "$ours_dir/libdevmapper.so.1.02.1" ]; then
		echo "run.sh: $ours_dir/libdevmapper.so.1.02.1 not found (run make at the repository root)" >&2
		exit 1
	fi
	if [ "$l" = stock ] && [ ! -e "$stock_lib" ]; then
		echo "run.sh: stock library $stock_lib not installed" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/capi-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

n=0; passed=0; failed=0; skipped=0

emit() { # status text
	n=$((n + 1))
	case "$1" in
	ok) passed=$((passed + 1)); echo "ok $n - $2" ;;
	skip) skipped=$((skipped + 1)); echo "ok $n - $2" ;;
	*) failed=$((failed + 1)); echo "not ok $n - $2" ;;
	esac
}

run_lib() { # lib
	local l=$1 out=$work/$1.out a
	: >"$out"
	echo "# === library: $l$([ $asan = 1 ] && echo ' (asan)')$([ $kernel = 1 ] && echo ', with kernel') ==="
	for a in $areas; do
		if [ "$l" = ours ]; then
			env LD_LIBRARY_PATH="$ours_dir" CAPI_LIB=ours CAPI_KERNEL=$kernel CAPI_VERBOSE=$verbose \
				ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=23} \
				UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
				"$bindir/$a" "${filters[@]}" >>"$out" 2>&1
		else
			env -u LD_LIBRARY_PATH CAPI_LIB=stock CAPI_KERNEL=$kernel CAPI_VERBOSE=$verbose \
				ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=23} \
				UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
				"$bindir/$a" "${filters[@]}" >>"$out" 2>&1
		fi
		rc=$?
		if [ $rc != 0 ]; then
			echo "not ok - $a/(binary) # exited with status $rc" >>"$out"
		fi
	done
	# The report engine's golden transcripts, through this library's C API.
	if [ "${CAPI_NO_ORACLE:-0}" != 1 ]; then
		CAPI_OURS_LIBDIR=$ours_dir bash "$here/report-oracle/run.sh" --lib "$l" \
			$([ $asan = 1 ] && echo --asan) "${filters[@]}" >>"$out" 2>&1
	fi
	while IFS= read -r line; do
		case "$line" in
		"ok - "*"# SKIP"*) emit skip "[$l] ${line#ok - }" ;;
		"ok - "*) emit ok "[$l] ${line#ok - }" ;;
		"not ok - "*) emit fail "[$l] ${line#not ok - }" ;;
		"@"*) [ $verbose -gt 0 ] && echo "#   $line" ;;
		"# log"*) [ $verbose -gt 0 ] && echo "#   ${line#\# }" ;;
		"#"*) echo "#   ${line#\# }" ;;
		*) echo "#   | $line" ;;
		esac
	done <"$out"
	grep '^@M ' "$out" | sort -s -k2,2 >"$work/$l.must"
	grep '^@I ' "$out" | sort -s -k2,2 >"$work/$l.info"
	# tests that ran to completion (facts of skipped tests are not compared)
	grep -E '^(ok|not ok) - ' "$out" | grep -v '# SKIP' |
		sed -E 's/^(ok|not ok) - ([^ ]+).*/\2/' | sort -u >"$work/$l.ran"
}

for l in "${libs[@]}"; do
	run_lib "$l"
done

if [ ${#libs[@]} = 2 ]; then
	echo "# === differential: stock vs ours ==="
	comm -12 "$work/stock.ran" "$work/ours.ran" >"$work/both.ran"
	# must-match facts
	cut -d' ' -f2 "$work/stock.must" "$work/ours.must" | sort -u >"$work/must.tests"
	while IFS= read -r t; do
		grep -qxF "$t" "$work/both.ran" || continue
		grep -F " $t " "$work/stock.must" | awk -v t="$t" '$2 == t' >"$work/a"
		grep -F " $t " "$work/ours.must" | awk -v t="$t" '$2 == t' >"$work/b"
		if cmp -s "$work/a" "$work/b"; then
			emit ok "[diff] $t"
		else
			emit fail "[diff] $t"
			diff "$work/a" "$work/b" | sed -n 's/^\([<>]\) @M [^ ]* /#   \1 /p' |
				sed 's/^#   </#   stock:/; s/^#   >/#   ours: /'
		fi
	done <"$work/must.tests"
	# informational facts: reported, never counted
	cut -d' ' -f2 "$work/stock.info" "$work/ours.info" | sort -u >"$work/info.tests"
	while IFS= read -r t; do
		grep -qxF "$t" "$work/both.ran" || continue
		awk -v t="$t" '$2 == t' "$work/stock.info" >"$work/a"
		awk -v t="$t" '$2 == t' "$work/ours.info" >"$work/b"
		if ! cmp -s "$work/a" "$work/b"; then
			echo "# note: informational difference in $t"
			diff "$work/a" "$work/b" | sed -n 's/^\([<>]\) @I [^ ]* /#   \1 /p' |
				sed 's/^#   </#   stock:/; s/^#   >/#   ours: /'
		fi
	done <"$work/info.tests"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
