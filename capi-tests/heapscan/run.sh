#!/bin/bash
# Freed-heap key scan (libhscan.so) over every path that handles a key.
#
#   capi-tests/heapscan/run.sh [--lib ours|stock|both] [--kernel] [-v] [filter...]
#
#   default      the fake driver (capi-tests/faults/fakedm.c): no kernel
#   --kernel     a real kernel with dm-crypt (root, in the VM):
#                vm/run.sh -- capi-tests/heapscan/run.sh --kernel
#   --lib        ours (default), stock (informational: stock leaves copies),
#                or both
# Prints one line per test and "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib=ours; kernel=0; verbose=0; filters=()
while [ $# -gt 0 ]; do
	case "$1" in
	--lib) lib=${2:-}; shift 2 ;;
	--lib=*) lib=${1#--lib=}; shift ;;
	--kernel) kernel=1; shift ;;
	-v) verbose=1; shift ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) filters+=("$1"); shift ;;
	esac
done
case "$lib" in ours) libs=(ours) ;; stock) libs=(stock) ;; both) libs=(stock ours) ;;
*) echo "run.sh: --lib must be ours, stock or both" >&2; exit 2 ;; esac
if [ -w "$here" ]; then make -s -C "$here" || { echo "heapscan: build failed" >&2; exit 1; }; fi
bin=$here/out/heapscan; [ $kernel = 1 ] && bin=$here/out/heapscan-kernel
[ -x "$bin" ] || { echo "heapscan: $bin missing (make -C $here)" >&2; exit 1; }
ours_dir=${CAPI_OURS_LIBDIR:-$repo/build/lib}
n=0; passed=0; failed=0; skipped=0
for l in "${libs[@]}"; do
	if [ "$l" = ours ]; then
		out=$(env LD_LIBRARY_PATH="$ours_dir" CAPI_LIB=ours CAPI_KERNEL=$kernel "$bin" "${filters[@]}" 2>&1)
	else
		out=$(env -u LD_LIBRARY_PATH CAPI_LIB=stock CAPI_KERNEL=$kernel "$bin" "${filters[@]}" 2>&1)
	fi
	rc=$?
	[ $rc = 0 ] || out="$out
not ok - heapscan/(binary) # exit status $rc"
	while IFS= read -r line; do
		case "$line" in
		"ok - "*"# SKIP"*) n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - [$l] ${line#ok - }" ;;
		"ok - "*) n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - [$l] ${line#ok - }" ;;
		"not ok - "*) n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - [$l] ${line#not ok - }" ;;
		"@I "*"with the key="[1-9]*) echo "# [$l] ${line#@I }" ;;
		"# FAIL"*) echo "#   $line" ;;
		*) [ $verbose = 1 ] && echo "#   $line" ;;
		esac
	done <<<"$out"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
