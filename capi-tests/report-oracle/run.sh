#!/bin/bash
# Differential test of the report C API: every case file of
# devmapper/tests/fixtures/report/ run through report-driver.c linked against
# a libdevmapper, its transcript compared byte for byte with the committed
# golden transcript (made from stock libdevmapper by regen.sh).
#
#   capi-tests/report-oracle/run.sh [--lib ours|stock] [--asan] [filter...]
#
#   --lib ours    our library (CAPI_OURS_LIBDIR, default <repo>/build/lib); default
#   --lib stock   the system libdevmapper.so.1.02.1 (checks that the goldens are current)
#   --asan        build the driver with AddressSanitizer + UBSan
#   filter        only case files whose "report-oracle/<name>" contains one of these
#
# The driver is built against our include/libdevmapper.h in both cases (the
# header is source-compatible with stock's), in a temporary directory.
# Output, one line per case file, in the format of capi-tests/run.sh:
#   ok - report-oracle/<name>
#   not ok - report-oracle/<name> # why
# followed by "# " lines with the first differences. Exit status 1 on failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fixtures=$repo/devmapper/tests/fixtures/report
lib=ours
asan=0
filters=()

while [ $# -gt 0 ]; do
	case "$1" in
	--lib) lib=${2:-}; shift 2 ;;
	--lib=*) lib=${1#--lib=}; shift ;;
	--asan) asan=1; shift ;;
	-h|--help) sed -n '2,19p' "$0"; exit 0 ;;
	-*) echo "report-oracle/run.sh: unknown option $1" >&2; exit 2 ;;
	*) filters+=("$1"); shift ;;
	esac
done

selected() { # name
	[ ${#filters[@]} = 0 ] && return 0
	local f
	for f in "${filters[@]}"; do
		case "report-oracle/$1" in *"$f"*) return 0 ;; esac
	done
	return 1
}

any=0
for c in "$fixtures"/*.case; do
	selected "$(basename "$c" .case)" && any=1
done
[ $any = 1 ] || exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/report-oracle.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

cflags=(-O1 -g -std=gnu11 -Wall -Wextra -Werror)
[ $asan = 1 ] && cflags+=(-fsanitize=address,undefined -fno-omit-frame-pointer
	-fno-sanitize-recover=undefined)
case "$lib" in
ours)
	libdir=${CAPI_OURS_LIBDIR:-$repo/build/lib}
	if [ ! -e "$libdir/libdevmapper.so.1.02.1" ]; then
		echo "not ok - report-oracle/(build) # $libdir/libdevmapper.so.1.02.1 not found (run make)"
		exit 1
	fi
	link=(-L"$libdir" -Wl,-rpath,"$libdir" -l:libdevmapper.so.1.02.1)
	run_env=(env LD_LIBRARY_PATH="$libdir")
	;;
stock)
	link=(-l:libdevmapper.so.1.02.1)
	run_env=(env -u LD_LIBRARY_PATH)
	;;
*) echo "report-oracle/run.sh: --lib must be ours or stock" >&2; exit 2 ;;
esac

driver=$work/report-driver
if ! ${CC:-cc} "${cflags[@]}" -I"$repo/include" -o "$driver" "$here/report-driver.c" \
	"${link[@]}" >"$work/build.log" 2>&1; then
	echo "not ok - report-oracle/(build) # the driver does not build"
	sed 's/^/# /' "$work/build.log" | head -n 30
	exit 1
fi

failed=0
for c in "$fixtures"/*.case; do
	name=$(basename "$c" .case)
	selected "$name" || continue
	golden=$fixtures/$name.out
	# The driver leaks its case data on purpose: no leak check here (the
	# capi-tests areas check our library's leaks).
	"${run_env[@]}" TZ=UTC LC_ALL=C \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		"$driver" "$c" >"$work/$name.out" 2>"$work/$name.err"
	rc=$?
	why=""
	if [ $rc != 0 ]; then
		why="driver exited with status $rc"
	elif [ -s "$work/$name.err" ]; then
		why="driver wrote to stderr (sanitizer report?)"
	elif ! cmp -s "$work/$name.out" "$golden"; then
		why="transcript differs from the golden one"
	fi
	if [ -z "$why" ]; then
		echo "ok - report-oracle/$name ($(grep -c '^###' "$golden") cases)"
	else
		failed=$((failed + 1))
		echo "not ok - report-oracle/$name # $why"
		head -n 20 "$work/$name.err" | sed 's/^/# stderr: /'
		diff "$golden" "$work/$name.out" | head -n 20 | sed 's/^/# /'
	fi
done
[ $failed = 0 ]
