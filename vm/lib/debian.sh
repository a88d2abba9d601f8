# vm/lib/debian.sh - sourced by the harness scripts (POSIX sh and bash).
#
# Two concerns live here so that every script answers them the same way:
#
#  * Where this machine gets Debian packages from. Scripts that need a private
#    apt state (sid's kernel, source packages) take the mirror from the
#    machine's own apt configuration, never from a host name written in the
#    repository: deb_sources lists the enabled entries of sources.list,
#    sources.list.d/*.list (one-line form) and sources.list.d/*.sources
#    (deb822), deb_mirror picks the URI that serves a given suite.
#
#  * Which Debian 12 kernel the harness uses. The VM boots it and
#    kernel-patch/build.sh builds dm-mod for it, so it must be a kernel whose
#    image, headers and linux-source are all installable from the current
#    index (kernel61_complete); kernel61_pick chooses the newest such one.
#
# Overridable for tests: DEB_APT_ETC (default /etc/apt), DEB_APT_CACHE (the
# apt-cache command), DEB_CODENAME (default: /etc/os-release).

DEB_APT_ETC=${DEB_APT_ETC:-/etc/apt}
DEB_APT_CACHE=${DEB_APT_CACHE:-apt-cache}
DEB_KEYRING=${DEB_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

deb_codename() {
    if [ -n "${DEB_CODENAME:-}" ]; then echo "$DEB_CODENAME"; return; fi
    # shellcheck disable=SC1091
    (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-bookworm}") || echo bookworm
}

# deb_sources: one line per enabled (type, URI, suite) of the machine's apt
# configuration: "TYPE URI SUITE SIGNED_BY COMPONENTS...", SIGNED_BY being
# "-" when the entry names no key file.
deb_sources() {
    {
        for f in "$DEB_APT_ETC/sources.list" "$DEB_APT_ETC"/sources.list.d/*.list; do
            [ -f "$f" ] && printf '#FILE list\n' && cat "$f" && printf '\n'
        done
        for f in "$DEB_APT_ETC"/sources.list.d/*.sources; do
            [ -f "$f" ] && printf '#FILE deb822\n' && cat "$f" && printf '\n'
        done
    } | awk '
        function emit(types, uris, suites, comps, key, enabled,   nt, nu, ns, t, u, s, i, T, U, S) {
            if (tolower(enabled) == "no" || uris == "" || suites == "") return
            nt = split(types, T, /[ \t]+/); nu = split(uris, U, /[ \t]+/); ns = split(suites, S, /[ \t]+/)
            for (t = 1; t <= nt; t++) for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++)
                if (T[t] != "" && U[u] != "" && S[s] != "")
                    print T[t], U[u], S[s], (key == "" ? "-" : key), comps
        }
        function flush() {
            if (mode == "deb822" && have) emit(f["types"], f["uris"], f["suites"], f["components"], f["signed-by"], f["enabled"])
            delete f; have = 0; last = ""
        }
        /^#FILE / { flush(); mode = $2; next }
        mode == "list" {
            sub(/#.*/, ""); if (NF < 3) next
            type = $1; key = ""; i = 2
            if ($2 ~ /^\[/) {            # [opt=val ...] options
                opts = ""
                for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
                if (match(opts, /signed-by=[^] \t]+/)) key = substr(opts, RSTART + 10, RLENGTH - 10)
            }
            uri = $i; suite = $(i + 1); comps = ""
            for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
            emit(type, uri, suite, comps, key, "yes")
            next
        }
        mode == "deb822" {
            if ($0 ~ /^#/) next
            if ($0 ~ /^[ \t]*$/) { flush(); next }
            if ($0 ~ /^[ \t]/) {        # continuation line (an inline key)
                if (last == "signed-by") f["signed-by"] = ""
                next
            }
            k = tolower($0); sub(/:.*/, "", k)
            v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t]+$/, "", v)
            f[k] = v; last = k; have = 1
        }
        END { flush() }'
}

# deb_mirror [SUITE [TYPE]]: the URI of the first enabled entry of TYPE (deb)
# serving SUITE (default: the machine's codename), without a trailing slash.
deb_mirror() {
    _suite=${1:-$(deb_codename)} _type=${2:-deb}
    _uri=$(deb_sources | awk -v s="$_suite" -v t="$_type" '$1 == t && $3 == s { print $2; exit }')
    if [ -z "$_uri" ]; then
        echo "debian.sh: no '$_type' entry for suite '$_suite' in $DEB_APT_ETC (sources.list, sources.list.d)" >&2
        return 1
    fi
    echo "${_uri%/}"
}

# deb_archive_root: the URI of the main archive (the one serving the codename),
# for suites the machine does not list itself (sid).
deb_archive_root() { deb_mirror "$(deb_codename)" deb; }

# deb_private_sources [deb-src]: a sources.list for a private apt state, with
# the machine's entries for its codename, -updates and -security (binary
# entries, and with the argument deb-src the matching source entries too).
deb_private_sources() {
    _c=$(deb_codename)
    deb_sources | awk -v c="$_c" -v src="${1:-}" -v kr="$DEB_KEYRING" '
        $1 == "deb" && ($3 == c || $3 == c "-updates" || $3 == c "-security") && !seen[$2 " " $3]++ {
            key = ($4 == "-" ? kr : $4); comps = ""
            for (i = 5; i <= NF; i++) comps = comps " " $i
            if (comps == "") comps = " main"
            printf "deb [signed-by=%s] %s %s%s\n", key, $2, $3, comps
            if (src == "deb-src") printf "deb-src [signed-by=%s] %s %s%s\n", key, $2, $3, comps
        }'
}

# ------------------------------------------------------------ the 6.1 kernel
KERNEL61_META=linux-image-cloud-amd64
KERNEL61_SOURCE=linux-source-6.1

# deb_versions PKG: every version of PKG the index offers, newest first.
deb_versions() {
    $DEB_APT_CACHE madison "$1" 2>/dev/null | awk -F'|' '{ gsub(/[ \t]/, "", $2); if ($2 != "") print $2 }' |
        sort -u | sort -Vr
}

# deb_has PKG VERSION: the index offers PKG at VERSION.
deb_has() {
    deb_versions "$1" | grep -qxF "$2"
}

# kernel61_complete IMAGE VERSION: image, headers and linux-source at VERSION
# are all in the index (so the VM kernel and the patch build can agree).
kernel61_complete() {
    _abi=${1#linux-image-}
    deb_has "$1" "$2" && deb_has "linux-headers-$_abi" "$2" && deb_has "$KERNEL61_SOURCE" "$2"
}

# kernel61_pick: "IMAGE VERSION" of the newest cloud kernel whose image,
# headers and source are all available; fails with a message when none is.
kernel61_pick() {
    _tried=
    for _mv in $(deb_versions "$KERNEL61_META"); do
        # "Depends: linux-image-6.1.0-48-cloud-amd64 (= 6.1.172-1)"
        _dep=$($DEB_APT_CACHE show "$KERNEL61_META=$_mv" 2>/dev/null |
            sed -n 's/^Depends: //p' | head -n1 | tr ',' '\n' | grep -m1 'linux-image-' || true)
        _img=$(echo "$_dep" | sed -n 's/^ *\(linux-image-[^ ]*\).*/\1/p')
        _ver=$(echo "$_dep" | sed -n 's/.*(= *\([^)]*\)).*/\1/p')
        [ -n "$_img" ] && [ -n "$_ver" ] || continue
        case $_img in linux-image-6.1.*) ;; *) continue ;; esac
        if kernel61_complete "$_img" "$_ver"; then
            echo "$_img $_ver"
            return 0
        fi
        _tried="$_tried $_img=$_ver"
    done
    echo "debian.sh: no 6.1 cloud kernel has image, headers and $KERNEL61_SOURCE in the index (tried:${_tried:- nothing})" >&2
    return 1
}

# deb_refresh_lists STAMP MAX_AGE_MIN: apt-get update unless STAMP is younger
# than MAX_AGE_MIN minutes; STAMP is touched after a successful update. A
# failed update (offline) is reported and the old lists are kept.
deb_refresh_lists() {
    if [ -f "$1" ] && [ -n "$(find "$1" -mmin "-$2" 2>/dev/null)" ]; then
        return 0
    fi
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null 2>&1; then
        mkdir -p "$(dirname "$1")" && touch "$1"
    else
        echo "debian.sh: apt-get update failed; using the package lists as they are" >&2
    fi
}

# deb_stock_dm_link DIR: make DIR/libdevmapper.so a link to the installed
# stock libdevmapper.so.1.02.1 (what libdevmapper-dev's own link would be; a
# fresh machine has no libdevmapper-dev), so `-L DIR -ldevmapper` builds
# against stock. Fails with a message when the library is not installed.
deb_stock_dm_link() {
    _lib=$(ldconfig -p | awk '$1 == "libdevmapper.so.1.02.1" && /x86-64/ { print $NF; exit }')
    [ -n "$_lib" ] || _lib=/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1
    if [ ! -f "$_lib" ]; then
        echo "debian.sh: stock libdevmapper.so.1.02.1 not found" >&2
        return 1
    fi
    mkdir -p "$1" && ln -sfn "$_lib" "$1/libdevmapper.so"
}
