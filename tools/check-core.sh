#!/bin/bash
# Checks that the core crate (devmapper/) stands alone, as issue 7 asks:
#
#   1. `cargo package -p devmapper` packages and builds it from its own files;
#      the package holds no C, no build script, no cbindgen.
#   2. Its documentation builds with warnings denied (missing docs included:
#      the crate root denies missing_docs).
#   3. A Rust program built on the core alone (its `demo` example) exports
#      no dm_* symbol and needs none.
#   4. The one-engine rule: only kernel/control.rs and kernel/sys.rs (and the
#      FIEMAP ioctl file, and ulog/socket.rs, the dm-log-userspace netlink
#      socket) may allow unsafe code; the root denies it.
#
# usage: tools/check-core.sh     (environment: CARGO, default cargo)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
fail=0
ok() { echo "ok:   $*"; }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

if list=$("$cargo" package -p devmapper --allow-dirty --list 2>/dev/null); then
    c_files=$(grep -E '(^|/)(build\.rs|[^/]*\.[ch]|cbindgen\.toml)$' <<<"$list" | tr '\n' ' ')
    if [ -n "$c_files" ]; then
        bad "the devmapper package contains C or build files: $c_files"
    else
        ok "the devmapper package holds $(wc -l <<<"$list") files, none of them C or a build script"
    fi
else
    bad "cargo package --list failed"
fi
if out=$("$cargo" package -p devmapper --allow-dirty 2>&1); then
    ok "cargo package -p devmapper (packaged crate builds on its own)"
else
    bad "cargo package -p devmapper:"; tail -n 20 <<<"$out" | sed 's/^/      /'
fi
if out=$(RUSTDOCFLAGS="-D warnings" "$cargo" doc -p devmapper --no-deps 2>&1); then
    ok "cargo doc -p devmapper with -D warnings (missing_docs denied)"
else
    bad "cargo doc:"; grep -E '^(error|warning)' -A4 <<<"$out" | head -n 30 | sed 's/^/      /'
fi
if "$cargo" build -q -p devmapper --example demo 2>/dev/null; then
    exe=${CARGO_TARGET_DIR:-target}/debug/examples/demo
    syms=$(nm -D "$exe" 2>/dev/null | awk '$NF ~ /^dm_/ {print $NF}' | tr '\n' ' ')
    if [ -n "$syms" ]; then
        bad "a Rust binary on the core alone has dm_* dynamic symbols: $syms"
    else
        ok "a Rust binary on the core alone has no dm_* dynamic symbol ($(nm -D "$exe" | wc -l) dynamic symbols)"
    fi
    if ldd "$exe" 2>/dev/null | grep -q devmapper; then
        bad "the core example links a libdevmapper"
    else
        ok "the core example links no libdevmapper"
    fi
else
    bad "cannot build the core's demo example"
fi
allowed='^devmapper/src/(kernel/(control|sys|fiemap)|ulog/socket)\.rs$'
strays=$(grep -rlE '#!\[allow\(unsafe_code\)\]' devmapper/src | grep -vE "$allowed" | tr '\n' ' ')
if grep -q '^#!\[deny(unsafe_code)\]' devmapper/src/lib.rs && [ -z "$strays" ]; then
    ok "unsafe code is denied in the core except in $(grep -rlE '#!\[allow\(unsafe_code\)\]' devmapper/src | tr '\n' ' ')"
else
    bad "unsafe code allowed outside the syscall files: ${strays:-root does not deny it}"
fi
echo "check-core: $([ $fail = 0 ] && echo 'all checks passed' || echo "$fail check(s) failed")"
[ $fail = 0 ]
