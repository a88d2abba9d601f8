#!/bin/bash
# vm/setup.sh - install the host tools of the real-kernel harness and stage
# the guest kernels into vm/cache/. Idempotent: a staged kernel is kept
# unless --refresh is given. See vm/README.md.
#
#   vm/setup.sh [--kernel 6.1|sid|all]... [--refresh] [--no-install] [--with-udev]
#               [--with-corosync] [--plan]
set -eu

VM_DIR=$(cd "$(dirname "$0")" && pwd)
CACHE=${VM_CACHE:-$VM_DIR/cache}
# shellcheck source=lib/debian.sh
. "$VM_DIR/lib/debian.sh"
PLAN=0
KERNELS=
REFRESH=0
INSTALL=1
WITH_UDEV=0
WITH_COROSYNC=0

usage() {
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

while [ $# -gt 0 ]; do
    case $1 in
        --kernel) [ $# -ge 2 ] || usage; KERNELS="$KERNELS $2"; shift 2 ;;
        --kernel=*) KERNELS="$KERNELS ${1#--kernel=}"; shift ;;
        --refresh) REFRESH=1; shift ;;
        --no-install) INSTALL=0; shift ;;
        --with-udev) WITH_UDEV=1; shift ;;
        --with-corosync) WITH_COROSYNC=1; shift ;;
        --plan) PLAN=1; INSTALL=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "setup.sh: unknown argument: $1" >&2; usage ;;
    esac
done
case " $KERNELS " in
    "  "|*" all "*) KERNELS="6.1 sid" ;;
esac

# Bump when the staged layout changes: kernels staged by an older setup.sh
# are then staged again.
STAGE_FORMAT=1

log() { echo "vm/setup: $*" >&2; }
die() { echo "vm/setup: error: $*" >&2; exit 1; }

# Package lists older than this are refreshed before a kernel is chosen, so
# that the kernel comes from the current index (VM_APT_MAX_AGE_MIN=0: always).
APT_MAX_AGE_MIN=${VM_APT_MAX_AGE_MIN:-360}
APT_STAMP=$CACHE/apt-lists.stamp

# ------------------------------------------------------------------ --plan
# Print what would be done for each kernel, with the apt index as it is (no
# update, no download, no root needed): "NAME reuse|stage IMAGE VERSION".
# The harness self-test (vm/tests/harness-kernel.sh) drives this.
if [ "$PLAN" = 1 ]; then
    for k in $KERNELS; do
        case $k in
            6.1)
                if [ "$REFRESH" = 0 ] && [ -f "$CACHE/kernels/6.1/version" ] &&
                    read -r img ver <"$CACHE/kernels/6.1/version" && kernel61_complete "$img" "$ver"; then
                    echo "6.1 reuse $img $ver"
                else
                    pick=$(kernel61_pick) || exit 1
                    echo "6.1 stage $pick"
                fi ;;
            sid)
                if [ "$REFRESH" = 0 ] && [ -f "$CACHE/kernels/sid/version" ]; then
                    echo "sid reuse $(cat "$CACHE/kernels/sid/version")"
                else
                    mirror=$(deb_archive_root) || exit 1
                    echo "sid stage from $mirror sid"
                fi ;;
            *) die "unknown kernel '$k' (use 6.1 or sid)" ;;
        esac
    done
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, mknod, depmod)"
mkdir -p "$CACHE"
# One setup at a time, packages and kernels both: make test-vm runs two lanes
# of suites at once, and several suites call this script.
exec 9>"$CACHE/.setup.lock"
flock -w 900 9 || die "another vm/setup.sh held $CACHE/.setup.lock for 15 minutes"
# Stale lists (a machine provisioned weeks ago) name packages the mirror has
# dropped: refresh them first, once per APT_MAX_AGE_MIN.
# --no-install leaves apt alone altogether.
if [ "$INSTALL" = 1 ]; then
    if [ "$REFRESH" = 1 ]; then max_age=0; else max_age=$APT_MAX_AGE_MIN; fi
    deb_refresh_lists "$APT_STAMP" "$max_age"
fi

# ---------------------------------------------------------------- host tools
# Packages the harness uses on the host. The guest reuses the host root
# filesystem, so every tool a test runs in the guest must be installed here.
PKGS="qemu-system-x86 busybox-static cryptsetup-bin dmsetup kmod cpio xz-utils zstd coreutils"
[ "$WITH_UDEV" = 1 ] && PKGS="$PKGS udev"
# corosync for the multi-VM tests (vm/cluster.sh): the guests run it, the host
# only needs it installed (its daemon is kept from starting, see below).
[ "$WITH_COROSYNC" = 1 ] && PKGS="$PKGS corosync"

missing_pkgs() {
    for p in $PKGS; do
        s=$(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null || true)
        case $s in ii*) ;; *) printf '%s ' "$p" ;; esac
    done
}

if [ "$INSTALL" = 1 ]; then
    miss=$(missing_pkgs)
    if [ -n "$miss" ]; then
        log "installing: $miss"
        export DEBIAN_FRONTEND=noninteractive
        # The harness only needs the programs: keep maintainer scripts from
        # starting daemons (udev's would start systemd-udevd on the host,
        # corosync's corosync).
        policy=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 755 "$policy"
            trap 'rm -f "$policy"' EXIT
        fi
        # The lists were refreshed above when stale; refresh once more on
        # failure (a mirror that moved on within the hour).
        # shellcheck disable=SC2086
        if ! apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $miss >/dev/null; then
            apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null && touch "$APT_STAMP"
            # shellcheck disable=SC2086
            apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $miss >/dev/null
        fi
        if [ -n "$policy" ]; then rm -f "$policy"; trap - EXIT; fi
    fi
fi
for t in qemu-system-x86_64 busybox depmod cpio xz; do
    command -v "$t" >/dev/null || die "missing host tool: $t"
done
# virtiofsd comes with qemu up to 7.2 (Debian 12); later it is its own package.
has_virtiofsd() {
    for f in /usr/lib/qemu/virtiofsd /usr/libexec/virtiofsd /usr/lib/virtiofsd; do
        [ -x "$f" ] && return 0
    done
    return 1
}
if ! has_virtiofsd && [ "$INSTALL" = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends virtiofsd >/dev/null || true
fi
has_virtiofsd || die "virtiofsd not found (qemu-system-common or virtiofsd package)"
# The static busybox goes into the initramfs; make sure it is the static one.
BUSYBOX=/bin/busybox
if ldd "$BUSYBOX" >/dev/null 2>&1; then die "$BUSYBOX is not static (install busybox-static)"; fi

# ------------------------------------------------------------------ staging
# Module subset copied into the initramfs (paths under kernel/, as regexes),
# plus everything they depend on. Test modules are left out.
# virtio_blk and virtio_net (+ net_failover, failover) serve run.sh's --disk
# and --net (vm/cluster.sh).
MOD_KEEP='^kernel/(drivers/md/|crypto/|arch/x86/crypto/|lib/|fs/fuse/|fs/overlayfs/|drivers/virtio/|security/keys/|drivers/block/(loop|brd|null_blk/null_blk|virtio_blk)\.ko|drivers/net/virtio_net\.ko|drivers/char/virtio_console\.ko|drivers/char/hw_random/)'
# A staged kernel whose module list lacks one of these was staged by an older
# setup.sh (before --disk/--net): it is staged again, same package version
# when the index still has it.
MOD_REQUIRED='virtio_blk virtio_net'
MOD_DROP='(tcrypt|test_|notifier-error-inject|/bcache/)'

# stage_kernel NAME EXTRACTED_ROOT PKG_VERSION
# EXTRACTED_ROOT holds the unpacked kernel packages (boot/ or usr/lib/modules/).
stage_kernel() {
    name=$1 x=$2 pkgver=$3
    # Normalise to <x>/lib/modules/<kver> (depmod -b wants that layout).
    if [ -d "$x/usr/lib/modules" ] && [ ! -d "$x/lib/modules" ]; then
        mkdir -p "$x/lib"
        mv "$x/usr/lib/modules" "$x/lib/modules"
    fi
    kver=$(ls "$x/lib/modules")
    [ "$(echo "$kver" | wc -l)" = 1 ] || die "$name: expected one kernel, got: $kver"
    src=$x/lib/modules/$kver
    vmlinuz=
    for f in "$x/boot/vmlinuz-$kver" "$src/vmlinuz"; do
        [ -f "$f" ] && vmlinuz=$f && break
    done
    [ -n "$vmlinuz" ] || die "$name: no vmlinuz in the package(s)"
    depmod -b "$x" "$kver"

    out=$CACHE/kernels/$name.new
    rm -rf "$out"
    root=$out/initrd
    mkdir -p "$root/lib/modules/$kver" "$root/bin"
    # Select modules and the closure of their dependencies (modules.dep lists
    # every dependency, transitive ones included).
    awk -v keep="$MOD_KEEP" -v drop="$MOD_DROP" -F': *' '
        { deps[$1] = $2 }
        $1 ~ keep && $1 !~ drop { want[$1] = 1 }
        END {
            for (m in want) {
                print m
                n = split(deps[m], d, " ")
                for (i = 1; i <= n; i++) print d[i]
            }
        }' "$src/modules.dep" | sort -u >"$out/modules.list"
    while read -r m; do
        mkdir -p "$root/lib/modules/$kver/$(dirname "$m")"
        cp "$src/$m" "$root/lib/modules/$kver/$m"
    done <"$out/modules.list"
    # Uncompress, so busybox and every modprobe can load them.
    find "$root/lib/modules/$kver" -name '*.ko.xz' -exec xz -dq {} +
    find "$root/lib/modules/$kver" -name '*.ko.zst' -exec zstd -dq --rm {} +
    find "$root/lib/modules/$kver" -name '*.ko.gz' -exec gzip -dq {} +
    for f in modules.builtin modules.builtin.modinfo modules.order; do
        [ -f "$src/$f" ] && sed 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' "$src/$f" >"$root/lib/modules/$kver/$f"
    done
    depmod -b "$root" "$kver"
    for m in dm-mod loop dm-crypt virtiofs overlay $MOD_REQUIRED; do
        modprobe -d "$root" -S "$kver" --show-depends "$m" >/dev/null ||
            die "$name: module $m neither staged nor builtin"
    done

    # Initramfs base: static busybox, its applets, the module tree.
    cp "$BUSYBOX" "$root/bin/busybox"
    for a in $("$BUSYBOX" --list); do
        [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
    done
    ln -s bin "$root/sbin"
    mkdir -p "$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp" \
        "$root/vm" "$root/lower" "$root/rw" "$root/newroot"
    mknod -m 600 "$root/dev/console" c 5 1
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out/initrd-base.cpio"

    cp "$vmlinuz" "$out/vmlinuz"
    cp "$src/config" "$out/config" 2>/dev/null || cp "$x/boot/config-$kver" "$out/config" 2>/dev/null || true
    echo "$kver" >"$out/kver"
    echo "$pkgver" >"$out/version"
    echo "$STAGE_FORMAT" >"$out/stage-format"
    rm -rf "$CACHE/kernels/$name"
    mv "$out" "$CACHE/kernels/$name"
    log "$name: staged $kver ($(wc -l <"$CACHE/kernels/$name/modules.list") modules)"
}

# fetch_kernel NAME IMAGE VERSION [APT_OPTIONS...]: download the image
# package at VERSION with the packages it splits into (linux-base-*,
# linux-binary-*, linux-modules-*), unpack and stage.
fetch_kernel() {
    name=$1 img=$2 ver=$3; shift 3
    parts=$(apt-cache "$@" depends "$img=$ver" 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-\(base\|binary\|modules\)-[0-9][^ ]*\)$/\1/p' | sort -u | tr '\n' ' ')
    log "$name: downloading $img $ver $parts"
    dl=$CACHE/debs/$name
    rm -rf "$dl" && mkdir -p "$dl"
    # shellcheck disable=SC2086
    (cd "$dl" && apt-get "$@" -q -o APT::Sandbox::User=root download "$img=$ver" $parts >/dev/null)
    x=$CACHE/tmp/$name
    rm -rf "$x" && mkdir -p "$x"
    for d in "$dl"/*.deb; do dpkg-deb -x "$d" "$x"; done
    stage_kernel "$name" "$x" "$img $ver"
    rm -rf "$x" "$dl"
}

mkdir -p "$CACHE/kernels"
mkdir -p "$CACHE/debs" "$CACHE/tmp"
# has_required_modules DIR: the staged kernel in DIR has every MOD_REQUIRED
# module (staged, or builtin).
has_required_modules() {
    for m in $MOD_REQUIRED; do
        grep -q "/$m\.ko" "$1/modules.list" 2>/dev/null && continue
        grep -q "/$m\.ko" "$1/initrd/lib/modules/$(cat "$1/kver" 2>/dev/null)/modules.builtin" 2>/dev/null && continue
        return 1
    done
}
failed=
for k in $KERNELS; do
    # SAME="IMAGE VERSION": stage that package version again (a kernel staged
    # before a module was added to MOD_KEEP), if the index still has it.
    SAME=
    if [ "$REFRESH" = 0 ] && [ -f "$CACHE/kernels/$k/version" ] &&
        [ "$(cat "$CACHE/kernels/$k/stage-format" 2>/dev/null)" = "$STAGE_FORMAT" ] &&
        ! has_required_modules "$CACHE/kernels/$k"; then
        SAME=$(cat "$CACHE/kernels/$k/version")
        log "$k: the staged $SAME lacks modules ($MOD_REQUIRED): staging it again"
    elif [ "$REFRESH" = 0 ] && [ -f "$CACHE/kernels/$k/version" ] &&
        [ "$(cat "$CACHE/kernels/$k/stage-format" 2>/dev/null)" = "$STAGE_FORMAT" ]; then
        # The 6.1 kernel is also the one kernel-patch/ builds dm-mod for: keep
        # it only while its headers and source can still be installed.
        if [ "$k" != 6.1 ] || { read -r img ver <"$CACHE/kernels/6.1/version" &&
            kernel61_complete "$img" "$ver"; }; then
            log "$k: cached ($(cat "$CACHE/kernels/$k/version"))"
            continue
        fi
        log "6.1: the staged $img $ver has no headers or source in the current index: staging the current kernel"
    fi
    # Each kernel in a subshell: one that fails (say, sid's archive moved on)
    # does not keep the others from being staged.
    if ! (
        case $k in
            6.1)
                # Debian 12's own cloud kernel, from the host's apt sources:
                # the newest whose image, headers and source all exist.
                # (The same version again when completing a staged kernel.)
                # shellcheck disable=SC2086
                if [ -n "$SAME" ] && kernel61_complete $SAME; then
                    pick=$SAME
                else
                    pick=$(kernel61_pick) || die "6.1: no usable kernel in the index"
                fi
                # shellcheck disable=SC2086
                fetch_kernel 6.1 $pick
                ;;
            sid)
                # Debian sid's cloud kernel, through a private apt state under
                # vm/cache/tmp: the host's sources and lists are not touched.
                a=$CACHE/tmp/sid-apt
                rm -rf "$a"
                mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
                # The machine's own mirror (from its apt configuration).
                mirror=$(deb_archive_root) || die "sid: cannot tell the machine's Debian mirror"
                echo "deb [signed-by=$DEB_KEYRING] $mirror sid main" >"$a/sources.list"
                set -- -o Dir::Etc::sourcelist="$a/sources.list" -o Dir::Etc::sourceparts=- \
                    -o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" \
                    -o Acquire::Languages=none \
                    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false \
                    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false \
                    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false \
                    -o APT::Get::List-Cleanup=false
                apt-get "$@" -q -o APT::Sandbox::User=root update >/dev/null ||
                    die "sid: apt-get update failed (is debian-archive-keyring current?)"
                img=$(apt-cache "$@" depends linux-image-cloud-amd64 2>/dev/null |
                    sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
                [ -n "$img" ] || die "sid: cannot resolve linux-image-cloud-amd64"
                ver=$(apt-cache "$@" show "$img" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
                # Completing a staged kernel: the same version if sid still has it.
                if [ -n "$SAME" ]; then
                    same_img=${SAME%% *} same_ver=${SAME#* }
                    if apt-cache "$@" show "$same_img=$same_ver" >/dev/null 2>&1; then
                        img=$same_img ver=$same_ver
                    fi
                fi
                fetch_kernel sid "$img" "$ver" "$@"
                ;;
            *) die "unknown kernel '$k' (use 6.1 or sid)" ;;
        esac
    ); then
        failed="$failed $k"
    fi
    rm -rf "$CACHE/kernels/$k.new"
done
rm -rf "$CACHE/tmp" "$CACHE/debs"
log "ready: $(ls "$CACHE/kernels" | grep -v '\.new$' | tr '\n' ' ')"
[ -z "$failed" ] || die "could not stage:$failed"
