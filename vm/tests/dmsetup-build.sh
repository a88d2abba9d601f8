#!/bin/bash
# Build Debian's dmsetup (and dmfilemapd) from source, unchanged, against a
# given libdevmapper.h and libdevmapper.so, linking through
# `pkg-config devmapper`. Proves that the header and library are enough to
# build the real consumer; the binary is the third column of
# vm/tests/dmsetup-compare.sh. No VM is booted.
#
#   vm/tests/dmsetup-build.sh [--stock]                  stock header + stock library
#   vm/tests/dmsetup-build.sh --pc-dir DIR               DIR/devmapper.pc (e.g. build/pkgconfig)
#   vm/tests/dmsetup-build.sh --include DIR --lib DIR    a devmapper.pc is written for them
#   vm/tests/dmsetup-build.sh --source-only              only fetch; print the source tree
#   ... [--out DIR]   where dmsetup, dmstats (symlink) and dmfilemapd go
#                     (default: <cache>/dmsetup-build/<label>)
#
# The last line on stdout is the path of the built dmsetup (with
# --source-only: the unpacked source tree). Exit status 0 when dmsetup
# built and runs `--help`; dmfilemapd is built when it can be and reported.
#
# What is fetched (once, into ${VM_CACHE:-vm/cache}/lvm2-src/<version>/,
# through a private apt state built from the machine's own apt sources, see
# vm/lib/debian.sh; the host's apt state is untouched, nothing is installed):
#   * Debian's lvm2 source package at the version of the installed
#     libdevmapper1.02.1 (2.03.16-2 on Debian 12): libdm/dm-tools/dmsetup.c
#     and dmfilemapd.c are compiled as they are;
#   * libdevmapper-dev (the stock libdevmapper.h, unpacked, not installed);
#   * libudev-dev at the installed libudev1's version, for libudev.h only:
#     dmsetup.c includes it when built with udev synchronisation (as Debian
#     builds it) but calls nothing from it, so nothing links to libudev.
#
# Instead of running LVM2's configure (its build-deps are many), the few
# configure results these two files use are written by hand into
# <cache>/lvm2-src/<version>/config/configure.h, with the values of Debian's
# build (debian/rules: --enable-udev_sync, default device nodes on resume,
# default name mangling auto); everything else they need comes from the
# source tree (util.h, dm-logging.h, log.h, kdev_t.h). The tree's own
# "libdm/libdevmapper.h" include is redirected by a one-line forwarder to
# <libdevmapper.h>, i.e. to the header pkg-config names.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/debian.sh
. "$REPO/vm/lib/debian.sh"
CACHE_ROOT=${VM_CACHE:-$REPO/vm/cache}
unset LD_LIBRARY_PATH LD_PRELOAD

log() { echo "dmsetup-build: $*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

MODE=stock PCDIR= INC= LIB= OUT=
while [ $# -gt 0 ]; do
    case $1 in
        --stock) MODE=stock; shift ;;
        --pc-dir) [ $# -ge 2 ] || usage; MODE=pc; PCDIR=$2; shift 2 ;;
        --include) [ $# -ge 2 ] || usage; MODE=dirs; INC=$2; shift 2 ;;
        --lib) [ $# -ge 2 ] || usage; MODE=dirs; LIB=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || usage; OUT=$2; shift 2 ;;
        --source-only) MODE=source; shift ;;
        -h|--help) usage ;;
        *) log "unknown argument: $1"; usage ;;
    esac
done

DM_VER=$(dpkg-query -W -f '${Version}' libdevmapper1.02.1 2>/dev/null) ||
    die "libdevmapper1.02.1 is not installed"
SRC_VER=$(dpkg-query -W -f '${source:Version}' libdevmapper1.02.1)   # e.g. 2.03.16-2
UDEV_VER=$(dpkg-query -W -f '${Version}' libudev1 2>/dev/null) || die "libudev1 is not installed"
WORK=$CACHE_ROOT/lvm2-src/${SRC_VER#*:}
SRC=$WORK/src

need=()
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null || need+=(pkgconf)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

fetch() {
    local tmp
    mkdir -p "$CACHE_ROOT/lvm2-src"
    tmp=$(mktemp -d "$CACHE_ROOT/lvm2-src/apt.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/get"
    deb_private_sources deb-src >"$tmp/sources.list" || die "cannot read the machine's apt sources"
    grep -q '^deb-src ' "$tmp/sources.list" || die "no Debian entry for $(deb_codename) in the apt sources"
    local apt=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache"
               -o APT::Sandbox::User=root -q)
    log "fetching lvm2 $SRC_VER source, libdevmapper-dev $DM_VER, libudev-dev $UDEV_VER (private apt state)"
    apt-get "${apt[@]}" update >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; die "apt-get update failed"; }
    (cd "$tmp/get" &&
        apt-get "${apt[@]}" source --download-only "lvm2=$SRC_VER" &&
        apt-get "${apt[@]}" download "libdevmapper-dev=$DM_VER" "libudev-dev=$UDEV_VER") >"$tmp/get.log" 2>&1 ||
        { cat "$tmp/get.log" >&2; die "download failed"; }
    rm -rf "$WORK.new"; mkdir -p "$WORK.new"
    (cd "$tmp/get" && dpkg-source -x lvm2_*.dsc "$WORK.new/src") >"$tmp/x.log" 2>&1 ||
        { cat "$tmp/x.log" >&2; die "dpkg-source -x failed"; }
    rm -f "$WORK.new"/*.orig.tar.*
    mkdir -p "$tmp/dmdev" "$tmp/udevdev" "$WORK.new/dm-include" "$WORK.new/udev-include"
    dpkg-deb -x "$tmp"/get/libdevmapper-dev_*.deb "$tmp/dmdev"
    dpkg-deb -x "$tmp"/get/libudev-dev_*.deb "$tmp/udevdev"
    cp "$tmp/dmdev/usr/include/libdevmapper.h" "$WORK.new/dm-include/"
    cp "$tmp/udevdev/usr/include/libudev.h" "$WORK.new/udev-include/"
    rm -rf "$WORK"; mv "$WORK.new" "$WORK"
    rm -rf "$tmp"; trap - EXIT
}
[ -f "$SRC/libdm/dm-tools/dmsetup.c" ] && [ -f "$WORK/dm-include/libdevmapper.h" ] &&
    [ -f "$WORK/udev-include/libudev.h" ] || fetch

# Configure results (see the header comment); rewritten every time, cheap.
mkdir -p "$WORK/config/libdm"
cat >"$WORK/config/configure.h" <<'EOF'
/* Written by vm/tests/dmsetup-build.sh: the configure results that
 * libdm/dm-tools/dmsetup.c and dmfilemapd.c use, as Debian's build has them. */
#define _GNU_SOURCE 1
#define UDEV_SYNC_SUPPORT 1
#define HAVE_GETOPTLONG 1
#define HAVE_GETLINE 1
#define HAVE_CANONICALIZE_FILE_NAME 1
#define HAVE_SYS_IOCTL_H 1
#define HAVE_SYS_STATVFS_H 1
#define HAVE_SYS_TIMERFD_H 1
#define HAVE_TERMIOS_H 1
#define HAVE___BUILTIN_CLZ 1
#define DEFAULT_DM_ADD_NODE DM_ADD_NODE_ON_RESUME
#define DEFAULT_DM_NAME_MANGLING DM_STRING_MANGLING_AUTO
#define DEFAULT_PROC_DIR "/proc"
EOF
printf '/* Written by vm/tests/dmsetup-build.sh: the header pkg-config names. */\n#include <libdevmapper.h>\n' \
    >"$WORK/config/libdm/libdevmapper.h"

if [ "$MODE" = source ]; then
    echo "$SRC"
    exit 0
fi

# The devmapper.pc to build with.
case $MODE in
    stock)
        # The stock header from libdevmapper-dev, the installed runtime
        # library through a libdevmapper.so link (what libdevmapper-dev's
        # own symlink would be).
        INC=$WORK/dm-include LIB=$WORK/stock-lib
        deb_stock_dm_link "$LIB" || die "cannot link the stock library"
        LABEL=stock ;;
    dirs)
        [ -n "$INC" ] && [ -n "$LIB" ] || die "--include and --lib go together"
        INC=$(realpath "$INC"); LIB=$(realpath "$LIB")
        [ -f "$INC/libdevmapper.h" ] || die "no libdevmapper.h in $INC"
        [ -e "$LIB/libdevmapper.so" ] || [ -e "$LIB/libdevmapper.so.1.02.1" ] || die "no libdevmapper.so in $LIB"
        LABEL=custom-$(printf '%s\n%s\n' "$INC" "$LIB" | sha1sum | cut -c1-12) ;;
    pc)
        PCDIR=$(realpath "$PCDIR")
        [ -f "$PCDIR/devmapper.pc" ] || die "no devmapper.pc in $PCDIR"
        LABEL=pc-$(printf '%s\n' "$PCDIR" | sha1sum | cut -c1-12) ;;
esac
OUT=${OUT:-$CACHE_ROOT/dmsetup-build/$LABEL}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
if [ "$MODE" != pc ]; then
    PCDIR=$OUT/pkgconfig
    mkdir -p "$PCDIR"
    # A directory with only the .so.1.02.1 gets the development link too.
    if [ ! -e "$LIB/libdevmapper.so" ]; then
        mkdir -p "$OUT/lib"
        ln -sfn "$LIB/libdevmapper.so.1.02.1" "$OUT/lib/libdevmapper.so"
        LIB=$OUT/lib
    fi
    cat >"$PCDIR/devmapper.pc" <<EOF
includedir=$INC
libdir=$LIB

Name: devmapper
Description: device-mapper library (for vm/tests/dmsetup-build.sh)
Version: 1.02.185
Cflags: -I\${includedir}
Libs: -L\${libdir} -ldevmapper
EOF
fi

export PKG_CONFIG_PATH=$PCDIR
export PKG_CONFIG_LIBDIR=$PCDIR     # nothing else: the system has no devmapper.pc
PC_CFLAGS=$(pkg-config --cflags devmapper) || die "pkg-config devmapper failed with $PCDIR"
PC_LIBS=$(pkg-config --libs devmapper)
# Debian's flags for lvm2 (hardening=+all) where dpkg-buildflags exists.
if command -v dpkg-buildflags >/dev/null; then
    CFLAGS=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS)
    LDFLAGS=$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)
else
    CFLAGS="-g -O2" LDFLAGS=
fi
# -I config first: its libdm/libdevmapper.h forwarder must win over the
# source tree's own header; -I udev-include only provides libudev.h.
CPPFLAGS="-I$WORK/config -include configure.h -I$SRC -I$WORK/udev-include -D_FILE_OFFSET_BITS=64"

build() { # build NAME: $OUT/NAME from libdm/dm-tools/NAME.c
    local name=$1
    # shellcheck disable=SC2086
    cc $CPPFLAGS $PC_CFLAGS $CFLAGS -Wall -o "$OUT/$name.new" "$SRC/libdm/dm-tools/$name.c" $LDFLAGS $PC_LIBS \
        >"$OUT/$name.build.log" 2>&1 && mv "$OUT/$name.new" "$OUT/$name"
}

log "building dmsetup from lvm2 $SRC_VER against $(pkg-config --variable=includedir devmapper)/libdevmapper.h" \
    "and $(pkg-config --variable=libdir devmapper) (pkg-config: $PCDIR/devmapper.pc)"
rm -f "$OUT/dmsetup" "$OUT/dmfilemapd"
# What the header or library lacks, from a compiler/linker log, one line each.
missing() {
    local f=$1 list
    list=$(grep -o "implicit declaration of function ‘[A-Za-z_0-9]*’" "$f" | sed "s/.*‘\(.*\)’/\1/" | sort -u | tr '\n' ' ' || true)
    [ -z "$list" ] || echo "  undeclared functions ($(wc -w <<<"$list")): $list"
    list=$(grep -oE "‘[A-Za-z_0-9]+’ undeclared" "$f" | sed "s/‘\(.*\)’.*/\1/" | sort -u | tr '\n' ' ' || true)
    [ -z "$list" ] || echo "  undeclared constants ($(wc -w <<<"$list")): $list"
    list=$(grep -oE "(unknown type name|invalid use of undefined type|storage size of|has incomplete type) ‘[^’]+’" "$f" |
        sed "s/.*‘\(.*\)’/\1/" | sort -u | tr '\n' ' ' || true)
    [ -z "$list" ] || echo "  unknown or incomplete types: $list"
    list=$(grep -oE "undefined reference to \`[A-Za-z_0-9]+'" "$f" | sed "s/.*\`\(.*\)'/\1/" | sort -u | tr '\n' ' ' || true)
    [ -z "$list" ] || echo "  undefined at link time ($(wc -w <<<"$list")): $list"
    echo "  compiler errors: $(grep -c ' error: ' "$f" || true)"
}
if ! build dmsetup; then
    {
        echo "dmsetup-build: FAILED: dmsetup.c does not build against $PCDIR/devmapper.pc"
        missing "$OUT/dmsetup.build.log"
        echo "  full log: $OUT/dmsetup.build.log"
    } >&2
    exit 1
fi
# Warnings about undeclared functions mean the header lacks part of the API.
if grep -qE 'implicit declaration|undeclared' "$OUT/dmsetup.build.log"; then
    rm -f "$OUT/dmsetup"
    {
        echo "dmsetup-build: FAILED: dmsetup built only by implicitly declaring functions the header lacks"
        missing "$OUT/dmsetup.build.log"
    } >&2
    exit 1
fi
ln -sfn dmsetup "$OUT/dmstats"
# The header must be the one pkg-config named (not the source tree's).
# shellcheck disable=SC2086
hdr=$(cc $CPPFLAGS $PC_CFLAGS -M "$SRC/libdm/dm-tools/dmsetup.c" 2>/dev/null | tr ' \\' '\n\n' | grep '/libdevmapper\.h$' | grep -v "^$WORK/config/" | sort -u)
[ "$hdr" = "$(realpath "$(pkg-config --variable=includedir devmapper)")/libdevmapper.h" ] ||
    die "dmsetup.c was compiled with another libdevmapper.h: $hdr"
if build dmfilemapd && ! grep -qE 'implicit declaration|undeclared' "$OUT/dmfilemapd.build.log"; then
    log "dmfilemapd built: $OUT/dmfilemapd"
else
    rm -f "$OUT/dmfilemapd"
    log "dmfilemapd did not build (log: $OUT/dmfilemapd.build.log)"
fi
libdir=$(pkg-config --variable=libdir devmapper)
LD_LIBRARY_PATH=$libdir "$OUT/dmsetup" --help >/dev/null 2>"$OUT/help.err" || {
    cat "$OUT/help.err" >&2
    die "the built dmsetup does not run on $libdir"
}
needed=$(readelf -d "$OUT/dmsetup" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
log "built $OUT/dmsetup (needs: ${needed% })"
echo "$OUT/dmsetup"
