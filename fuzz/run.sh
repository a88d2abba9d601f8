#!/bin/bash
# Build every fuzz target with libFuzzer's coverage instrumentation and run
# each for a bounded time, starting from the committed corpus.
#
#   fuzz/run.sh [-t SECONDS] [--asan] [--keep] [target...]
#
#   -t SECONDS   time per target (default: $FUZZ_TIME or 20)
#   --asan       also AddressSanitizer (needs -Zsanitizer: RUSTC_BOOTSTRAP=1
#                on the stable toolchain; the safe-Rust parsers gain little)
#   --keep       add what the run discovered to fuzz/corpus/<target>/
#                (minimised with -merge=1); default: a scratch copy
#   target       only these (default: every [[bin]] of fuzz/Cargo.toml)
#
# Works on the stable toolchain without cargo-fuzz: the flags are the ones
# cargo-fuzz passes (sancov pass via -C, so no -Z is needed without --asan).
# A crash leaves its input in fuzz/artifacts/<target>/ and fails the run;
# turn it into a unit test of the crate (see fuzz/README.md).
# Output: one line per target with its executions, then
# "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
time_per=${FUZZ_TIME:-20}
asan=0
keep=0
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	-t) time_per=${2:?}; shift 2 ;;
	-t*) time_per=${1#-t}; shift ;;
	--asan) asan=1; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	-*) echo "fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
if [ ${#targets[@]} = 0 ]; then
	mapfile -t targets < <(sed -n 's/^name = "\(.*\)"/\1/p' "$here/Cargo.toml" | grep -v '^devmapper-fuzz$')
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags="$flags -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
flags="$flags -Cllvm-args=-sanitizer-coverage-pc-table"
flags="$flags -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
flags="$flags -Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers=yes"
if [ $asan = 1 ]; then
	flags="$flags -Zsanitizer=address"
	export RUSTC_BOOTSTRAP=1
fi
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$here/target}
echo "# fuzz: building ${#targets[@]} targets ($triple$([ $asan = 1 ] && echo ', asan'))"
build_start=$(date +%s)
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
if ! RUSTFLAGS="$flags" cargo build -q --manifest-path "$here/Cargo.toml" --release \
	--target "$triple" "${bins[@]}"; then
	echo "fuzz: build failed" >&2
	exit 1
fi
echo "# fuzz: built in $(( $(date +%s) - build_start )) s"
bindir=$CARGO_TARGET_DIR/$triple/release

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
n=0; passed=0; failed=0; skipped=0; total_runs=0
for t in "${targets[@]}"; do
	n=$((n + 1))
	seed=$here/corpus/$t
	if [ ! -x "$bindir/$t" ]; then
		failed=$((failed + 1)); echo "not ok $n - fuzz/$t # no binary"; continue
	fi
	mkdir -p "$work/$t" "$here/artifacts/$t"
	[ -d "$seed" ] && cp -r "$seed/." "$work/$t/"
	log=$work/$t.log
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$bindir/$t" -max_total_time="$time_per" \
		-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$here/artifacts/$t/" "$work/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	corpus=$(ls "$work/$t" | wc -l)
	total_runs=$((total_runs + ${runs:-0}))
	if [ $rc = 0 ]; then
		passed=$((passed + 1))
		echo "ok $n - fuzz/$t # ${runs:-?} executions in ${time_per}s, ${cov:-cov: ?}, corpus $corpus"
		if [ $keep = 1 ]; then
			mkdir -p "$seed" "$work/$t.min"
			"$bindir/$t" -merge=1 "$work/$t.min" "$seed" "$work/$t" >/dev/null 2>&1 &&
				cp -n "$work/$t.min/." "$seed/" 2>/dev/null
			cp -rn "$work/$t.min/." "$seed/" 2>/dev/null
		fi
	else
		failed=$((failed + 1))
		echo "not ok $n - fuzz/$t # exit $rc after ${runs:-?} executions; input in fuzz/artifacts/$t/"
		grep -E "panicked at|assertion|ERROR: |SUMMARY" "$log" | head -5 | sed 's/^/#   /'
		ls -t "$here/artifacts/$t" | head -3 | sed 's/^/#   artifact: /'
	fi
done
echo "# fuzz: $total_runs executions in all"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
