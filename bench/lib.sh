# bench/lib.sh - shell helpers shared by the benchmarks (sourced, not run):
# bench/run.sh and bench/guest.sh (make bench), bench/tools.sh and
# bench/tools-guest.sh (make bench-tools). See bench/README.md.
#
#   bench_locked CMD...      run CMD holding the machine's VM lock
#                            (flock $DMB_VM_LOCK, default /tmp/dmrs-vm.lock;
#                            DMB_VM_LOCK= for none)
#   bench_cc OUT SRC [CFLAGS...]
#                            compile a program written against the stock API
#                            (#include <libdevmapper.h>, -ldevmapper) against
#                            include/ through pkg-config (build/pkgconfig):
#                            -O2 -g -Wall -Wextra -Werror, -DHAVE_CALLGRIND
#                            when <valgrind/callgrind.h> is there
#   bench_have_callgrind_h   true when <valgrind/callgrind.h> is installed
#   bench_with LIB CMD...    run CMD on stock (the system library:
#                            LD_LIBRARY_PATH unset) or ours (LD_LIBRARY_PATH=$OURS)
#   bench_callgrind LIB OUTFILE CMD...
#                            CMD under valgrind --tool=callgrind on LIB with
#                            glibc's rep-string memset/memcpy disabled
#                            (BENCH_CG_TUNABLES); extra valgrind options in
#                            BENCH_CG_OPTS (e.g. --collect-atstart=no)
#
# Expects REPO (the repository root) for bench_cc and OURS (directory of our
# libdevmapper.so.1.02.1) for bench_with / bench_callgrind.

BENCH_LOCK=${DMB_VM_LOCK-/tmp/dmrs-vm.lock}

bench_locked() {
    if [ -n "$BENCH_LOCK" ] && command -v flock >/dev/null; then
        flock "$BENCH_LOCK" "$@"
    else
        "$@"
    fi
}

bench_have_callgrind_h() {
    [ -f /usr/include/valgrind/callgrind.h ]
}

bench_cc() {
    local out=$1 src=$2
    shift 2
    local cg=
    bench_have_callgrind_h && cg=-DHAVE_CALLGRIND
    # shellcheck disable=SC2046
    cc -O2 -g -Wall -Wextra -Werror $cg "$@" -o "$out" "$src" \
        $(PKG_CONFIG_PATH="$REPO/build/pkgconfig" pkg-config --cflags --libs devmapper) -ldl
}

bench_with() {
    local lib=$1
    shift
    if [ "$lib" = ours ]; then
        LD_LIBRARY_PATH=$OURS "$@"
    else
        env -u LD_LIBRARY_PATH "$@"
    fi
}

# valgrind counts every iteration of a `rep stos`/`rep movs` as one
# instruction, so glibc's rep-string memset/memcpy (used above 2 KiB when
# the CPU has ERMS) would hide buffer sizes: thresholds at 2^40 turn them
# off, as in perf-baseline.md's main callgrind column.
BENCH_CG_TUNABLES=glibc.cpu.x86_rep_stosb_threshold=1099511627776:glibc.cpu.x86_rep_movsb_threshold=1099511627776

bench_callgrind() {
    local lib=$1 outfile=$2
    shift 2
    # shellcheck disable=SC2086
    bench_with "$lib" env GLIBC_TUNABLES=$BENCH_CG_TUNABLES \
        valgrind --tool=callgrind ${BENCH_CG_OPTS:-} --callgrind-out-file="$outfile" "$@"
}
