#!/bin/bash
# Self-test of the harness's kernel choice and mirror lookup (no VM, no
# network, no root): vm/setup.sh --plan and vm/lib/debian.sh run against a
# fake package index and fake apt configurations.
#
#   vm/tests/harness-kernel.sh
#
# The cases are the ones a new machine meets: fresh lists, a staged kernel
# that is still installable (reused, no download), a staged kernel whose
# headers or source left the index (staged again, the newest complete one),
# a newest kernel whose source is not published yet (the one before it), no
# complete kernel at all (a clear error); and the mirror taken from deb822 and
# one-line sources, disabled entries ignored, none written in the repository.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$REPO/vm/lib/check.sh"

# A fake apt-cache over $FAKE_INDEX: lines "PACKAGE VERSION [DEPENDS...]".
cat >"$T/apt-cache" <<'EOF'
#!/bin/bash
cmd=$1; shift
case $cmd in
    madison)
        awk -v p="$1" '$1 == p { printf "%s | %s | http://mirror.invalid/debian bookworm/main amd64 Packages\n", $1, $2 }' "$FAKE_INDEX" ;;
    show)
        pkg=${1%%=*}; ver=${1#*=}
        awk -v p="$pkg" -v v="$ver" '$1 == p && $2 == v {
            printf "Package: %s\nVersion: %s\n", $1, $2
            if (NF > 2) { d = $3; for (i = 4; i <= NF; i++) d = d " " $i; printf "Depends: %s\n", d }
            found = 1 }
            END { exit !found }' "$FAKE_INDEX" ;;
    *) exit 1 ;;
esac
EOF
chmod +x "$T/apt-cache"
export DEB_APT_CACHE="$T/apt-cache" FAKE_INDEX="$T/index" VM_CACHE="$T/cache"

# Two kernels in the index, each complete: 6.1.0-57 (newest) and 6.1.0-56.
full_index() {
    cat <<'EOF'
linux-image-cloud-amd64 6.1.192-3 linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3)
linux-image-cloud-amd64 6.1.190-1 linux-image-6.1.0-56-cloud-amd64 (= 6.1.190-1)
linux-image-6.1.0-57-cloud-amd64 6.1.192-3
linux-image-6.1.0-56-cloud-amd64 6.1.190-1
linux-headers-6.1.0-57-cloud-amd64 6.1.192-3
linux-headers-6.1.0-56-cloud-amd64 6.1.190-1
linux-source-6.1 6.1.192-3
linux-source-6.1 6.1.190-1
EOF
}
stage() { # stage "IMAGE VERSION": pretend setup.sh staged this 6.1 kernel
    mkdir -p "$VM_CACHE/kernels/6.1"
    echo "$1" >"$VM_CACHE/kernels/6.1/version"
    echo 1 >"$VM_CACHE/kernels/6.1/stage-format"
}
plan() { "$REPO/vm/setup.sh" --kernel 6.1 --plan 2>&1; }

full_index >"$FAKE_INDEX"
check "fresh cache: the newest complete kernel is staged" \
    "6.1 stage linux-image-6.1.0-57-cloud-amd64 6.1.192-3" "$(plan)"

stage "linux-image-6.1.0-56-cloud-amd64 6.1.190-1"
check "staged kernel still installable: reused, not downloaded again" \
    "6.1 reuse linux-image-6.1.0-56-cloud-amd64 6.1.190-1" "$(plan)"

# The stale case of issue 6: the staged kernel came from old lists; the
# current index no longer has its headers (nor its source).
stage "linux-image-6.1.0-48-cloud-amd64 6.1.172-1"
echo "linux-image-6.1.0-48-cloud-amd64 6.1.172-1" >>"$FAKE_INDEX"
check "staged kernel whose headers left the index: staged again" \
    "6.1 stage linux-image-6.1.0-57-cloud-amd64 6.1.192-3" "$(plan)"
echo "linux-headers-6.1.0-48-cloud-amd64 6.1.172-1" >>"$FAKE_INDEX"
check "staged kernel whose source left the index: staged again" \
    "6.1 stage linux-image-6.1.0-57-cloud-amd64 6.1.192-3" "$(plan)"
echo "linux-source-6.1 6.1.172-1" >>"$FAKE_INDEX"
check "staged kernel complete again: reused" \
    "6.1 reuse linux-image-6.1.0-48-cloud-amd64 6.1.172-1" "$(plan)"
check "--refresh: the newest complete kernel, whatever is staged" \
    "6.1 stage linux-image-6.1.0-57-cloud-amd64 6.1.192-3" \
    "$("$REPO/vm/setup.sh" --kernel 6.1 --plan --refresh 2>&1)"

rm -rf "$VM_CACHE"
full_index | grep -v '^linux-source-6.1 6.1.192-3' >"$FAKE_INDEX"
check "newest image without its source: the newest complete one instead" \
    "6.1 stage linux-image-6.1.0-56-cloud-amd64 6.1.190-1" "$(plan)"

full_index | grep -v '^linux-headers' >"$FAKE_INDEX"
out=$(plan); rc=$?
check "no complete kernel: setup fails" 1 "$rc"
check "no complete kernel: the message says why" \
    "debian.sh: no 6.1 cloud kernel has image, headers and linux-source-6.1 in the index (tried: linux-image-6.1.0-57-cloud-amd64=6.1.192-3 linux-image-6.1.0-56-cloud-amd64=6.1.190-1)" \
    "$out"

# ---------------------------------------------------------------- mirrors
mkdir -p "$T/etc1/sources.list.d" "$T/etc2/sources.list.d" "$T/etc3/sources.list.d"
cat >"$T/etc1/sources.list.d/debian.sources" <<'EOF'
Types: deb deb-src
# a comment
URIs: http://mirror-a.invalid/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror-a.invalid/debian-security
Suites: bookworm-security
Components: main

Enabled: no
Types: deb
URIs: http://disabled.invalid/debian
Suites: trixie
Components: main
EOF
cat >"$T/etc1/sources.list.d/other.list.disabled" <<'EOF'
deb http://ignored.invalid/debian bookworm main
EOF
cat >"$T/etc2/sources.list" <<'EOF'
# one-line form
deb [arch=amd64 signed-by=/etc/apt/keyrings/k.gpg] https://mirror-b.invalid/debian bookworm main
deb https://mirror-b.invalid/debian-security bookworm-security main non-free-firmware
EOF
cat >"$T/etc2/sources.list.d/vendor.list" <<'EOF'
deb https://vendor.invalid/apt stable main
EOF
m() { (export DEB_APT_ETC="$1" DEB_CODENAME=bookworm; . "$REPO/vm/lib/debian.sh"; shift; "$@" 2>&1); }
check "deb822: archive root" "http://mirror-a.invalid/debian" "$(m "$T/etc1" deb_archive_root)"
check "deb822: security" "http://mirror-a.invalid/debian-security" "$(m "$T/etc1" deb_mirror bookworm-security)"
check "deb822: disabled entry ignored" "" "$(m "$T/etc1" deb_mirror trixie 2>/dev/null | grep invalid)"
check "one-line: archive root" "https://mirror-b.invalid/debian" "$(m "$T/etc2" deb_archive_root)"
check "private sources (deb + deb-src, keys kept, vendor repo left out)" \
    "deb [signed-by=/etc/apt/keyrings/k.gpg] https://mirror-b.invalid/debian bookworm main
deb-src [signed-by=/etc/apt/keyrings/k.gpg] https://mirror-b.invalid/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://mirror-b.invalid/debian-security bookworm-security main non-free-firmware
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://mirror-b.invalid/debian-security bookworm-security main non-free-firmware" \
    "$(m "$T/etc2" deb_private_sources deb-src)"
check "no Debian entry: a clear error" \
    "debian.sh: no 'deb' entry for suite 'bookworm' in $T/etc3 (sources.list, sources.list.d)" \
    "$(m "$T/etc3" deb_archive_root)"
check "sid is fetched from the machine's mirror" "sid stage from http://mirror-a.invalid/debian sid" \
    "$(DEB_APT_ETC="$T/etc1" DEB_CODENAME=bookworm "$REPO/vm/setup.sh" --kernel sid --plan 2>&1)"

# No script of the repository names a mirror host.
hosts=$(cd "$REPO" && git grep -nE '(deb|security|ftp|archive|snapshot)\.debian\.org|\.debian\.net|ubuntu\.com' -- \
    ':!Cargo.lock' ':!vm/tests/harness-kernel.sh' 2>/dev/null || true)
check "no mirror host written in the repository" "" "$hosts"

echo "harness-kernel: $pass passed, $fail failed"
[ "$fail" = 0 ]
