#!/bin/bash
# Build a patched dm-mod.ko ("deviceless messages") out of tree for the Debian
# 12 cloud kernel that linux-image-cloud-amd64 depends on.
#
#   kernel-patch/build.sh            # prints the path of the built module
#
# Environment (all optional):
#   DM_PATCH_CACHE  work directory (default: <repo>/vm/cache/patched)
#   KVER            kernel release, e.g. 6.1.0-56-cloud-amd64  } both or neither;
#   KPKGVER         Debian package version, e.g. 6.1.192-2     } default: the
#                   kernel the VM boots, as vm/setup.sh chooses and stages it
#                   (vm/cache/kernels/6.1/version)
#   STOCK_DM_MOD    stock dm-mod.ko to compare against (default: looked up under
#                   <repo>/vm/cache, else taken from the linux-image .deb)
#   JOBS            make -j value (default: nproc)
#   NO_APT=1        never call apt-get (fail if something is missing)
#
# Idempotent: the extracted and patched tree is reused as long as the package
# version, the patch and the Kbuild file are unchanged; make rebuilds only
# what changed. Progress goes to stderr, the module path to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PATCH="$HERE/deviceless-messages.patch"
KBUILD="$HERE/Kbuild"
CACHE=${DM_PATCH_CACHE:-$REPO/vm/cache/patched}
JOBS=${JOBS:-$(nproc)}
T0=$(date +%s.%N)

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1fs", b-a}'; }

apt_get() {
	[ "${NO_APT:-0}" = 1 ] && die "apt-get $* needed but NO_APT=1"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" >&2
}

# ---- 1. which kernel ------------------------------------------------------
# The kernel the VM boots: vm/setup.sh chooses it from the current index (the
# newest Debian 12 cloud kernel whose image, headers and linux-source are all
# installable, see vm/lib/debian.sh), re-stages it when the staged one has
# dropped out of the index, and records "<image package> <version>" in
# vm/cache/kernels/6.1/version. Asking setup.sh here (cheap when nothing
# changed) keeps the two in step on any machine: fresh, stale lists, old cache.
VM_CACHE_DIR=${VM_CACHE:-$REPO/vm/cache}
STAGED=$VM_CACHE_DIR/kernels/6.1/version
if [ -n "${KVER:-}" ] || [ -n "${KPKGVER:-}" ]; then
	[ -n "${KVER:-}" ] && [ -n "${KPKGVER:-}" ] || die "set both KVER and KPKGVER"
else
	if [ "${NO_APT:-0}" = 1 ]; then
		"$REPO/vm/setup.sh" --kernel 6.1 --no-install >&2 || die "vm/setup.sh failed"
	else
		"$REPO/vm/setup.sh" --kernel 6.1 >&2 || die "vm/setup.sh failed"
	fi
	[ -s "$STAGED" ] || die "vm/setup.sh staged no 6.1 kernel ($STAGED)"
	read -r img KPKGVER < "$STAGED"
	KVER=${img#linux-image-}
	log "using the kernel the VM boots ($STAGED)"
fi
case $KVER in 6.1.*) ;; *) die "this patch is for 6.1 kernels, not $KVER" ;; esac
UPSTREAM=${KPKGVER%%-*}		# 6.1.192
log "kernel $KVER (package $KPKGVER)"

HDR=/usr/src/linux-headers-$KVER
SRC_TAR=/usr/src/linux-source-6.1.tar.xz

# ---- 2. packages ------------------------------------------------------------
pkg_version() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null | sed -n 's/^ii *//p'; }

need=()
[ "$(pkg_version "linux-headers-$KVER")" = "$KPKGVER" ] || need+=("linux-headers-$KVER=$KPKGVER")
[ "$(pkg_version linux-source-6.1)" = "$KPKGVER" ] || need+=("linux-source-6.1=$KPKGVER")
for p in make gcc binutils bc flex bison libelf-dev kmod xz-utils patch; do
	[ -n "$(pkg_version "$p")" ] || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing: ${need[*]}"
	# vm/setup.sh chose the kernel from lists it refreshed when stale; update
	# again only when the install fails (a mirror that moved on since).
	if ! apt_get install -y -q --no-install-recommends --allow-downgrades "${need[@]}"; then
		apt_get update -q
		apt_get install -y -q --no-install-recommends --allow-downgrades "${need[@]}" ||
			die "cannot install ${need[*]}: run vm/setup.sh --refresh to move to the current kernel"
	fi
fi
[ -f "$HDR/.config" ] && [ -f "$HDR/Module.symvers" ] || die "headers incomplete in $HDR"
[ -f "$SRC_TAR" ] || die "missing $SRC_TAR"
log "packages ready ($(elapsed))"

# ---- 3. source subset, patched ---------------------------------------------
WORK=$CACHE/$KVER
TREE=$WORK/tree
MD=$TREE/drivers/md
mkdir -p "$WORK"
exec 9>"$WORK/.lock"
flock 9

stamp=$( { echo "$KPKGVER"; sha256sum "$PATCH" "$KBUILD" | cut -d' ' -f1; } | tr '\n' ' ')
if [ "$(cat "$TREE/.stamp" 2>/dev/null)" != "$stamp" ]; then
	log "extracting drivers/md and include/linux/device-mapper.h from $SRC_TAR"
	rm -rf "$TREE" "$TREE.new"
	mkdir -p "$TREE.new"
	tar -xJf "$SRC_TAR" -C "$TREE.new" --strip-components=1 \
		--wildcards --no-wildcards-match-slash \
		'linux-source-6.1/Makefile' \
		'linux-source-6.1/drivers/md/Makefile' \
		'linux-source-6.1/drivers/md/*.[ch]' \
		'linux-source-6.1/include/linux/device-mapper.h'
	sub=$(sed -n 's/^SUBLEVEL = //p' "$TREE.new/Makefile")
	[ "6.1.$sub" = "$UPSTREAM" ] ||
		die "linux-source is 6.1.$sub but the kernel package is $UPSTREAM"
	# The dm-mod object list in our Kbuild mirrors this Makefile; refuse to
	# build if the tree's dm-mod lines are not the ones it was written for.
	got=$(awk '/^dm-mod-(y|objs)[[:space:]]/ {c = 1} c {print; if (!/\\$/) c = 0}' \
		"$TREE.new/drivers/md/Makefile" | grep -oE 'dm[a-z0-9-]*\.o' | sort -u | tr '\n' ' ')
	want=$(grep -v '^#' "$KBUILD" | grep -oE 'dm[a-z0-9-]*\.o' |
		grep -vx 'dm-mod\.o' | sort -u | tr '\n' ' ')
	[ "$got" = "$want" ] ||
		die "dm-mod objects changed: Makefile has [$got], Kbuild has [$want]"
	(cd "$TREE.new" && patch -p1 --no-backup-if-mismatch -s) < "$PATCH" ||
		die "patch does not apply"
	cp "$KBUILD" "$TREE.new/drivers/md/Kbuild"
	echo "$stamp" > "$TREE.new/.stamp"
	mv "$TREE.new" "$TREE"
	log "tree ready in $TREE ($(elapsed))"
else
	log "reusing patched tree $TREE"
fi

# ---- 4. build ---------------------------------------------------------------
log "make -C $HDR M=$MD modules"
make -C "$HDR" M="$MD" -j"$JOBS" modules >"$WORK/make.log" 2>&1 || {
	tail -n 40 "$WORK/make.log" >&2
	die "build failed, see $WORK/make.log"
}
# Debian ships modules with debug info stripped; do the same for the copy we
# hand out (the one in the tree keeps its debug info for gdb/crash).
OUT=$WORK/dm-mod.ko
if [ ! -f "$OUT" ] || [ "$MD/dm-mod.ko" -nt "$OUT" ]; then
	objcopy --strip-debug "$MD/dm-mod.ko" "$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
fi
log "built ($(elapsed))"

# ---- 5. compare with the stock kernel --------------------------------------
find_stock() {
	local f
	if [ -n "${STOCK_DM_MOD:-}" ]; then echo "$STOCK_DM_MOD"; return; fi
	f=$(find "$VM_CACHE_DIR" -path "$CACHE" -prune -o \
		-path "*/lib/modules/$KVER/kernel/drivers/md/dm-mod.ko*" -print 2>/dev/null | head -n1)
	if [ -n "$f" ]; then echo "$f"; return; fi
	f=$WORK/stock/lib/modules/$KVER/kernel/drivers/md/dm-mod.ko
	if [ ! -f "$f" ]; then
		log "fetching linux-image-$KVER=$KPKGVER for comparison"
		rm -rf "$WORK/stock" && mkdir -p "$WORK/stock"
		(cd "$WORK/stock" && apt-get download -q "linux-image-$KVER=$KPKGVER" >&2 2>/dev/null) ||
			die "cannot download linux-image-$KVER=$KPKGVER (set STOCK_DM_MOD?)"
		dpkg-deb --fsys-tarfile "$WORK"/stock/linux-image-*.deb |
			tar -x -C "$WORK/stock" --wildcards "./lib/modules/$KVER/kernel/drivers/md/*"
		rm -f "$WORK"/stock/linux-image-*.deb
	fi
	echo "$f"
}
STOCK=$(find_stock)
STOCKDIR=$(dirname "$STOCK")
case $STOCK in
*.xz) xz -dc "$STOCK" > "$WORK/stock-dm-mod.ko"; STOCK=$WORK/stock-dm-mod.ko ;;
*.zst) zstd -qdc "$STOCK" > "$WORK/stock-dm-mod.ko"; STOCK=$WORK/stock-dm-mod.ko ;;
esac

vm_built=$(modinfo -F vermagic "$OUT")
vm_stock=$(modinfo -F vermagic "$STOCK")
[ "$vm_built" = "$vm_stock" ] || die "vermagic differs: built '$vm_built', stock '$vm_stock'"
log "vermagic matches stock: $vm_built"

# Exported symbols and CRCs: ours vs. the headers' Module.symvers.
awk -F'\t' '$3 == "drivers/md/dm-mod" {print $2, $1, $4}' "$HDR/Module.symvers" | sort > "$WORK/crc.stock"
awk -F'\t' '{print $2, $1, $4}' "$MD/Module.symvers" | sort > "$WORK/crc.built"
if ! diff -u "$WORK/crc.stock" "$WORK/crc.built" > "$WORK/crc.diff"; then
	cat "$WORK/crc.diff" >&2
	die "exported symbols/CRCs differ from the stock dm-mod"
fi
log "all $(wc -l < "$WORK/crc.built") exported symbols have the stock CRCs"

# What the stock dm target modules expect from dm-mod.
for m in "$STOCKDIR"/*.ko "$STOCKDIR"/*/*.ko; do
	[ -f "$m" ] || continue
	[ "$(basename "$m")" = dm-mod.ko ] && continue
	{ modprobe --dump-modversions "$m" 2>/dev/null || true; } |
		awk -v m="$(basename "$m")" '{print $2, $1, m}'
done | sort > "$WORK/req.stock"
bad=$(join "$WORK/req.stock" "$WORK/crc.built" | awk '$2 != $4')
[ -z "$bad" ] || { printf '%s\n' "$bad" >&2; die "stock modules expect other CRCs"; }
n=$(join "$WORK/req.stock" "$WORK/crc.built" | wc -l)
log "stock md modules: $n references to dm-mod symbols, all CRCs match"

# Imported symbols and defined symbols (a check of the object list).
modprobe --dump-modversions "$STOCK" | sort > "$WORK/imp.stock"
modprobe --dump-modversions "$OUT" | sort > "$WORK/imp.built"
cmp -s "$WORK/imp.stock" "$WORK/imp.built" ||
	log "warning: imported symbols differ from stock (see $WORK/imp.*)"
syms() { nm --defined-only "$1" | awk '$3 !~ /^(__UNIQUE_ID|\.L|__kstrtab|__ksymtab|__crc_)/ {print $2, $3}' | sort; }
syms "$STOCK" > "$WORK/syms.stock"
syms "$OUT" > "$WORK/syms.built"
extra=$(comm -13 "$WORK/syms.stock" "$WORK/syms.built" | tr '\n' ' ')
missing=$(comm -23 "$WORK/syms.stock" "$WORK/syms.built" | tr '\n' ' ')
[ -z "$missing" ] || log "warning: symbols of the stock dm-mod missing here: $missing"
log "symbols beyond stock: ${extra:-none}"

log "done in $(elapsed)"
echo "$OUT"
