#!/bin/bash
# Concurrency suite under ThreadSanitizer (capi-tests/concurrency/threads.c).
#
#   capi-tests/concurrency/run.sh [--plain-lib] [-v] [filter...]
#
# By default the library itself is rebuilt with ThreadSanitizer
# instrumentation on the stable toolchain (RUSTC_BOOTSTRAP=1
# -Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer; std stays
# uninstrumented, see tsan.supp) into target/tsan/ and staged privately, so
# that its own locks and atomics are seen. --plain-lib (or a failed build)
# uses build/lib as is: then only C-side memory is checked, and reports
# whose stack is inside the library are suppressed (its locks are invisible
# to ThreadSanitizer there).
# THREADS_N / THREADS_M: threads and operations per thread.
# Prints one line per test and "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
plain=0; verbose=0; filters=()
while [ $# -gt 0 ]; do
	case "$1" in
	--plain-lib) plain=1; shift ;;
	-v) verbose=1; shift ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) filters+=("$1"); shift ;;
	esac
done
make -s -C "$here" || { echo "concurrency: build failed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/concurrency.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cp "$here/tsan.supp" "$work/tsan.supp"
mode="TSan-instrumented library"
libdir=$work/build/lib
mkdir -p "$libdir"
if [ $plain = 0 ]; then
	triple=$(rustc -vV | sed -n 's/^host: //p')
	tdir=${TSAN_TARGET_DIR:-$repo/target/tsan}
	if RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer" \
		CARGO_TARGET_DIR="$tdir" cargo build -q --release --target "$triple" \
		--manifest-path "$repo/Cargo.toml" -p libdevmapper-rs 2>"$work/build.log"; then
		cp "$tdir/$triple/release/libdevmapper_capi.so" "$libdir/libdevmapper.so.1.02.1"
	else
		echo "# concurrency: the TSan build of the library failed; using build/lib (C side only)"
		sed 's/^/#   /' "$work/build.log" | tail -5
		plain=1
	fi
fi
if [ $plain = 1 ]; then
	mode="plain library (C-side memory only)"
	cp "$repo/build/lib/libdevmapper.so.1.02.1" "$libdir/" || exit 1
	echo "race:libdevmapper.so.1.02.1" >>"$work/tsan.supp"
fi
echo "# concurrency: $mode"
out=$(env LD_LIBRARY_PATH="$libdir" CAPI_LIB=ours CAPI_KERNEL=0 \
	TSAN_OPTIONS="${TSAN_OPTIONS:-exitcode=23 suppressions=$work/tsan.supp}" \
	"$here/out/threads" "${filters[@]}" 2>&1)
rc=$?
n=0; passed=0; failed=0; skipped=0
[ $rc = 0 ] || out="$out
not ok - threads/(binary) # exit status $rc"
while IFS= read -r line; do
	case "$line" in
	"ok - "*"# SKIP"*) n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - ${line#ok - }" ;;
	"ok - "*) n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - ${line#ok - }" ;;
	"not ok - "*) n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - ${line#not ok - }" ;;
	"# "[0-9]*|"@I "*) echo "# ${line#\# }" ;;
	"WARNING: ThreadSanitizer"*|"SUMMARY: ThreadSanitizer"*) echo "#   $line" ;;
	*) [ $verbose = 1 ] && echo "#   $line" ;;
	esac
done <<<"$out"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
