#!/bin/bash
# Guest side of vm/tests/dmsetup-compare.sh (runs as root in the test VM):
# the dmsetup/dmstats sequence (dmsetup-seq.sh) once per column, the
# transcripts normalised and compared with the stock one.
#
#   dmsetup-compare-guest.sh OUTDIR DIFFS OURS_LIBDIR [BUILT_DMSETUP]
#
# Columns, all in this one boot, each from a clean state:
#   stock  Debian's /sbin/dmsetup on the installed libdevmapper
#   ours   the same /sbin/dmsetup with LD_LIBRARY_PATH=OURS_LIBDIR
#   built  BUILT_DMSETUP (dmsetup.c compiled by dmsetup-build.sh against
#          our header and library) with LD_LIBRARY_PATH=OURS_LIBDIR
# OUTDIR receives <column>.raw (the transcript as printed), <column>.txt
# (normalised), <column>.diff and <column>.leftovers. DIFFS is
# docs/compatibility-dmsetup.md (the deliberate differences).
#
# Before a column runs, the dynamic symbols the binary imports from
# libdevmapper (name@version) are checked against those the library
# exports: a library that lacks some is reported by name and the column is
# not run (the dynamic loader would refuse every command).
#
# After each column, neutral tools check that nothing is left: SysV
# semaphores (ipcs -s), dm devices (/sys/block/dm-*), nodes in /dev/mapper
# other than control, loop devices, dmfilemapd processes. Leftovers fail the
# column; they are then removed so the next column starts clean.
#
# The normalising filter (normalise() below), applied to every transcript:
#   1. udev cookies: 0x0d4dXXXX-style values (the low 16 bits are random)
#      -> 0x0d4d????; "semid N" -> "semid ?": semaphore ids differ per run;
#      `dmsetup udevcookies` rows: Semid and the two time columns -> ?.
#   2. dmstats time-valued fields reported with --nameprefixes (read_time,
#      io_ticks, the *_per_sec rates, await, util, throughput, interval...):
#      the value -> '?'. Counts of I/Os and sectors stay.
#   3. `dmstats print` of the region that saw I/O (steps st-print-io and
#      st-print-clear): the kernel's millisecond fields (4, 8, 10-13) -> ?.
#   4. -vvv debug lines "Timestamp: S seconds" (dmsetup's own clock) -> ?.
#      "(*N)" retry counters and "[N]" ioctl buffer sizes are kept (they
#      are library behaviour).
#   5. thin-pool status: the held metadata root (field 8 of the status
#      line, a metadata block number chosen by the kernel's space map, not
#      stable between runs) -> ? when it is a number.
#   6. libdm's leak report on exit ("[0x55...] stats_pool": heap
#      addresses) -> [0x?].
#   7. the path of the binary under test where getopt prints it ("/sbin/
#      dmsetup: unrecognized option") -> <dmsetup> (or <dmstats>).
# Device numbers, minors and event counters are NOT masked: every column
# starts from the same clean state in the same boot, so the kernel hands
# out the same minors and counts the same events; the stock-vs-stock run
# shows they are stable. Should they ever differ, it is a different
# sequence of kernel operations, which is what this test is for.
set -u
[ $# -ge 3 ] || { echo "usage: $0 OUTDIR DIFFS OURS_LIBDIR [BUILT_DMSETUP]" >&2; exit 2; }
OUT=$1
DIFFS=$2
OURS=$3
BUILT=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
W=/tmp/dmsetup-seq
STOCK_DMSETUP=/sbin/dmsetup
[ -x $STOCK_DMSETUP ] || STOCK_DMSETUP=/usr/sbin/dmsetup
unset LD_LIBRARY_PATH LD_PRELOAD
mkdir -p "$OUT"
rm -f "$OUT"/*.raw "$OUT"/*.txt "$OUT"/*.diff "$OUT"/*.leftovers "$OUT"/*.err "$OUT"/*.times "$OUT"/*.filtered

stock_dm() { env -u LD_LIBRARY_PATH -u LD_PRELOAD DM_DISABLE_UDEV=1 $STOCK_DMSETUP "$@"; }

normalise() { # normalise BIN < raw > normalised
    local bin=$1 dir
    dir=$(dirname "$bin")
    sed -E \
        -e "s#^([^ ]+ e\\| )$bin:#\\1<dmsetup>:#" \
        -e "s#^([^ ]+ e\\| )$dir/dmstats:#\\1<dmstats>:#" \
        -e 's/\b(0x0?[dD]4[dD])[0-9a-fA-F]{4}\b/\1????/g' \
        -e 's/semid [0-9]+/semid ?/g' \
        -e 's/^([^ ]+ o\| Timestamp: +)[0-9.]+ seconds$/\1? seconds/' \
        -e 's/^([^ ]+ o\| ([0-9]+ ){2}thin-pool [0-9]+ [0-9]+\/[0-9]+ [0-9]+\/[0-9]+ )[0-9]+ /\1? /' \
        -e 's/\[0x[0-9a-f]+\]/[0x?]/g' \
        -e 's/^([^ ]+ [oe]\| dm .*\] .* )\[[0-9]+\] (\(\*[0-9]+\))$/\1[size?] \2/' \
        -e "s/(DM_STATS_)?DM_(READ_TIME|WRITE_TIME|IO_TICKS|QUEUE_TICKS|READ_TICKS|WRITE_TICKS|READS_MERGED_PER_SEC|WRITES_MERGED_PER_SEC|READS_PER_SEC|WRITES_PER_SEC|READ_SIZE_PER_SEC|WRITE_SIZE_PER_SEC|AVG_REQUEST_SIZE|QUEUE_SIZE|AWAIT|READ_AWAIT|WRITE_AWAIT|THROUGHPUT|SERVICE_TIME|UTIL|INTERVAL_NS|INTERVAL)='[^']*'/DM_\2='?'/g" |
    awk '
        # udevcookies rows: cookie, semid, value, two timestamps
        $1 ~ /cookies/ && $2 == "o|" && $3 ~ /^0x/ { print $1, $2, $3, "?", $5, "?", "?"; next }
        # dmstats print of the region with I/O: mask the kernel ms fields
        ($1 == "st-print-io" || $1 == "st-print-clear") && $2 == "o|" {
            n = split($0, f, " ")
            # f[1]=id f[2]=o| f[3]=start+len f[4..] counters
            for (i = 4; i <= n; i++) { k = i - 3; if (k == 4 || k == 8 || (k >= 10 && k <= 13)) f[i] = "?" }
            line = f[1]; for (i = 2; i <= n; i++) line = line " " f[i]; print line; next
        }
        { print }'
}

# The deliberate differences: lines of a fenced ```differences block in
# DIFFS, "STEP-GLOB REGEX" (comments start with #). Matching lines of that
# step are dropped from both transcripts before they are compared.
differences() {
    [ -f "$DIFFS" ] || return 0
    awk '/^```differences/ { on = 1; next } /^```/ { on = 0 } on && !/^[ \t]*(#|$)/' "$DIFFS"
}
filter_differences() { # stdin -> stdout
    local rules
    rules=$(differences)
    if [ -z "$rules" ]; then cat; return; fi
    # (through the environment: awk -v would eat the backslashes)
    DIFF_RULES=$rules awk '
        BEGIN {
            n = split(ENVIRON["DIFF_RULES"], R, "\n")
            for (i = 1; i <= n; i++) {
                g = R[i]; sub(/[ \t].*/, "", g)
                r = R[i]; sub(/^[^ \t]+[ \t]+/, "", r)
                # the step glob as a regex
                gsub(/[.+^$(){}|\\]/, "\\\\&", g); gsub(/\*/, ".*", g); gsub(/\?/, ".", g)
                G[i] = "^" g "$"; X[i] = r
            }
        }
        {
            id = $1; body = $0; sub(/^[^ ]+ /, "", body)
            for (i = 1; i <= n; i++) if (id ~ G[i] && body ~ X[i]) next
            print
        }'
}

leftovers() { # what a column left behind, one line each (nothing: clean)
    local f
    ipcs -s 2>/dev/null | awk '$1 ~ /^0x/ { print "semaphore key=" $1 " semid=" $2 " nsems=" $5 }'
    for f in /sys/block/dm-*; do
        [ -e "$f" ] && echo "dm device $(basename "$f") name=$(cat "$f/dm/name" 2>/dev/null)"
    done
    for f in /dev/mapper/*; do
        [ "$f" = /dev/mapper/control ] && continue
        { [ -e "$f" ] || [ -L "$f" ]; } && echo "stale node $f"
    done
    losetup -a 2>/dev/null | sed 's/^/loop device /'
    pgrep -a dmfilemapd 2>/dev/null | sed 's/^/process /'
    mountpoint -q $W/mnt 2>/dev/null && echo "mounted $W/mnt"
}
force_clean() {
    local id
    umount -l $W/mnt 2>/dev/null
    rm -f /run/udev/control
    pkill -x dmfilemapd 2>/dev/null
    stock_dm remove_all --force >/dev/null 2>&1
    stock_dm remove_all --force >/dev/null 2>&1
    losetup -D 2>/dev/null
    for f in /dev/mapper/*; do [ "$f" = /dev/mapper/control ] || rm -f "$f"; done
    for id in $(ipcs -s 2>/dev/null | awk '$1 ~ /^0x/ { print $2 }'); do ipcrm -s "$id" 2>/dev/null; done
    rm -rf $W
}

# Versioned libdevmapper symbols BIN imports that LIB does not export.
missing_symbols() { # BIN LIB
    local imports exports
    imports=$(readelf --dyn-syms -W "$1" | awk '$7 == "UND" && $8 ~ /^dm_/ { sub(/ .*/, "", $8); print $8 }' | sort -u)
    exports=$(readelf --dyn-syms -W "$2" | awk '$7 != "UND" && $8 ~ /^dm_/ { s = $8; sub(/@@/, "@", s); print s }' | sort -u)
    comm -23 <(echo "$imports") <(echo "$exports")
}

declare -A BIN LIB RESULT
BIN[stock]=$STOCK_DMSETUP LIB[stock]=stock
BIN[ours]=$STOCK_DMSETUP LIB[ours]=$OURS
COLUMNS=(stock ours)
# BUILT_DMSETUP "-": dmsetup-build.sh failed on the host; the column fails.
if [ -n "$BUILT" ]; then BIN[built]=$BUILT LIB[built]=$OURS; COLUMNS+=(built); fi

force_clean
# Every target module the kernel has, loaded before the first column (the
# kernel loads them on demand: `dmsetup targets` would differ otherwise).
for m in $(find /lib/modules/"$(uname -r)"/kernel/drivers/md -name 'dm-*.ko*' | sort); do
    m=$(basename "$m"); m=${m%%.ko*}
    case $m in dm-bufio|dm-bio-prison|dm-persistent-data|dm-log|dm-region-hash|dm-*-policy*|dm-round-robin|dm-queue-length|dm-service-time|dm-historical-service-time|dm-io-affinity) continue ;; esac
    modprobe -q "$m" 2>/dev/null
done
echo "kernel $(uname -r), dm driver $(stock_dm version 2>/dev/null | sed -n 's/^Driver version: *//p')"
for c in "${COLUMNS[@]}"; do
    bin=${BIN[$c]} lib=${LIB[$c]}
    if [ "$bin" = - ]; then
        echo "=== $c: not built"
        echo "$c: FAIL: dmsetup.c did not build against our header and library (dmsetup-build.sh, above)"
        RESULT[$c]=FAIL; continue
    fi
    if [ "$lib" = stock ]; then
        so=$(env -u LD_LIBRARY_PATH ldd "$bin" | awk '$1 == "libdevmapper.so.1.02.1" { print $3 }')
    else
        so=$(env LD_LIBRARY_PATH="$lib" ldd "$bin" | awk '$1 == "libdevmapper.so.1.02.1" { print $3 }')
    fi
    echo "=== $c: $bin on ${so:-no libdevmapper.so.1.02.1}"
    if [ "$lib" != stock ] && [ "$(dirname "$so")" != "$(realpath "$lib")" ] && [ "$(dirname "$so")" != "$lib" ]; then
        echo "$c: FAIL: $bin does not load the library under test from $lib"
        RESULT[$c]=FAIL; continue
    fi
    miss=$(missing_symbols "$bin" "$so")
    if [ -n "$miss" ]; then
        echo "$c: FAIL: $so lacks $(echo "$miss" | wc -l) of the symbols $(basename "$bin") imports; not run:"
        echo "$miss" | sed 's/@.*//' | sort | paste -sd' ' | fold -s -w 100 | sed 's/^/    /'
        RESULT[$c]=FAIL; continue
    fi
    t0=$(date +%s)
    DMSETUP_SEQ_TIMES=$OUT/$c.times "$HERE/dmsetup-seq.sh" "$bin" "$lib" "$W" >"$OUT/$c.raw" 2>"$OUT/$c.err"
    seq_rc=$?
    secs=$(( $(date +%s) - t0 ))
    left=$(leftovers)
    printf '%s' "${left:+$left
}" >"$OUT/$c.leftovers"
    force_clean
    normalise "$bin" <"$OUT/$c.raw" >"$OUT/$c.txt"
    steps=$(grep -c '^[^ ]* rc=' "$OUT/$c.txt")
    failed=$(grep -c '^[^ ]* rc=[1-9]' "$OUT/$c.txt")
    echo "$c: $steps steps in ${secs}s ($failed exit non-zero, as the sequence expects of its error cases);" \
        "slowest: $(sort -rn "$OUT/$c.times" | head -n 4 | awk '{ printf "%s%s %ss", sep, $2, $1; sep = ", " }')"
    [ "$seq_rc" = 0 ] || { echo "$c: the sequence script itself failed (exit $seq_rc):"; sed 's/^/    | /' "$OUT/$c.err" | tail -5; }
    if [ -n "$left" ]; then
        echo "$c: FAIL: left behind:"; sed 's/^/    /' <<<"$left"
        RESULT[$c]=FAIL
    else
        echo "$c: nothing left behind (semaphores, dm devices, /dev/mapper nodes, loop devices, dmfilemapd)"
        RESULT[$c]=ok
    fi
    [ "$seq_rc" = 0 ] || RESULT[$c]=FAIL
done

echo "=== comparison with stock"
status=0 passed=0 nfailed=0
[ "${RESULT[stock]}" = ok ] || status=1
ndiff=$(differences | wc -l)
echo "deliberate differences listed in $(basename "$DIFFS"): $ndiff"
for c in "${COLUMNS[@]}"; do
    [ "$c" = stock ] && continue
    if [ ! -f "$OUT/$c.txt" ] || [ ! -f "$OUT/stock.txt" ]; then
        echo "dmsetup transcript: $c NOT RUN"
        nfailed=$((nfailed + 1)); status=1; continue
    fi
    filter_differences <"$OUT/stock.txt" >"$OUT/stock.filtered"
    filter_differences <"$OUT/$c.txt" >"$OUT/$c.filtered"
    aside="$(( $(wc -l <"$OUT/stock.txt") - $(wc -l <"$OUT/stock.filtered") )) stock and $(( $(wc -l <"$OUT/$c.txt") - $(wc -l <"$OUT/$c.filtered") )) $c lines set aside as deliberate differences"
    if diff -U2 "$OUT/stock.filtered" "$OUT/$c.filtered" >"$OUT/$c.diff"; then
        echo "dmsetup transcript: $c == stock ($(grep -c '^[^ ]* rc=' "$OUT/$c.txt") steps; $aside)"
        if [ "${RESULT[$c]}" = ok ]; then passed=$((passed + 1)); else nfailed=$((nfailed + 1)); status=1; fi
    else
        steps=$(tail -n +3 "$OUT/$c.diff" | grep -E '^[-+]' | awk '{ sub(/^[-+]/, "", $1); print $1 }' | sort -u)
        echo "dmsetup transcript: $c DIFFERS from stock in $(echo "$steps" | wc -l) steps: $(echo "$steps" | head -30 | paste -sd' ') ($aside)"
        head -n "${DMSETUP_COMPARE_DIFF_LINES:-150}" "$OUT/$c.diff" | sed 's/^/    /'
        echo "    (whole diff: $OUT/$c.diff)"
        nfailed=$((nfailed + 1)); status=1
    fi
done
echo "$passed passed, $nfailed failed"
exit $status
