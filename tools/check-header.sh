#!/bin/bash
# Compare include/libdevmapper.h with the header build.rs generates, or refresh it.
#
# usage: tools/check-header.sh            check (used by `make check-header`)
#        tools/check-header.sh --update   copy the generated header to include/
#                                         (used by `make header`)
# environment: CARGO (default cargo), CC (default cc), CXX (default c++),
#              CARGO_TARGET_DIR, DM_SONAME (passed through to cargo)
#
# The check fails when the committed header differs from the generated one,
# when generation failed (build.rs only warns, so the library still builds),
# or when tools/header-compat.c - stock prototypes, layouts and constants -
# does not compile against it as C11 and C++11 and link against the library.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
committed=include/libdevmapper.h

update=0
case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Build (a no-op when up to date) and ask cargo where our build script's
# OUT_DIR is: the build-script-executed message names it.
# With --update, a crate that does not compile yet is no obstacle: the build
# script (and so the header) runs before the crate is compiled.
build_ok=1
json=$("$cargo" build --release --message-format=json) || build_ok=0
if ((!build_ok && !update)); then
  echo "check-header: cargo build failed" >&2; exit 1
fi
out_dir=$(grep '"reason":"build-script-executed"' <<<"$json" |
  grep '[#/]libdevmapper-rs[@#]' | sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' | tail -n1)
[[ -n $out_dir ]] || { echo "check-header: cannot find the build script's OUT_DIR" >&2; exit 1; }
generated=$out_dir/libdevmapper.h
# Link against the library as staged by `make build` (build/lib), falling back
# to cargo's own output (<target>/release/libdevmapper_capi.so) through a link.
libdir=$root/build/lib
if [[ ! -e $libdir/libdevmapper.so ]]; then
  libdir=$tmp/lib; mkdir -p "$libdir"
  ln -s "$(dirname "$(dirname "$(dirname "$out_dir")")")/libdevmapper_capi.so" "$libdir/libdevmapper.so"
fi

if [[ ! -f $generated ]]; then
  echo "FAIL: build.rs did not generate libdevmapper.h:"
  sed 's/^/      /' "$out_dir/libdevmapper.h.error" 2>/dev/null || echo "      (no reason recorded)"
  exit 1
fi

if ((update)); then
  ((build_ok)) || echo "check-header: warning: the crate does not build; header taken from build.rs anyway" >&2
  mkdir -p include
  if cmp -s "$generated" "$committed"; then
    echo "$committed is up to date"
  else
    cp "$generated" "$committed"
    echo "updated $committed"
  fi
  exit 0
fi

failures=0
if [[ ! -f $committed ]]; then
  echo "FAIL: $committed is missing (run 'make header')"
  failures=$((failures + 1))
elif diff -u "$committed" "$generated" >"$tmp/diff"; then
  echo "ok:   $committed matches the generated header"
else
  echo "FAIL: $committed differs from the generated header (run 'make header' and commit):"
  sed 's/^/      /' "$tmp/diff" | head -n 60
  failures=$((failures + 1))
fi
# Everything the header defines stays in libdevmapper's namespace: a stray
# `pub const` or type in src/ must not leak into clients.
if [[ -f $committed ]]; then
  strays=$( { sed -n 's/^#define \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$committed"
              sed -n 's/^\(struct\|union\|enum\|typedef [^(]*\) \([A-Za-z_][A-Za-z0-9_]*\).*/\2/p' "$committed"
            } | { grep -vE '^(dm_|DM_|LIB_DEVICE_MAPPER_H$|__typeof__$)' || true; } |
            sort -u | tr '\n' ' ')
  if [[ -n $strays ]]; then
    echo "FAIL: $committed defines names outside dm_*/DM_*: $strays"
    failures=$((failures + 1))
  else
    echo "ok:   every name $committed defines is dm_* or DM_*"
  fi
fi

# Checked against the committed header: that is what gets installed.
if ${CC:-cc} -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude \
     -o "$tmp/compat-c" tools/header-compat.c -L"$libdir" -ldevmapper \
     >"$tmp/log" 2>&1; then
  echo "ok:   tools/header-compat.c: C11 -pedantic, stock prototypes/layouts/constants, links"
else
  echo "FAIL: $committed is not source-compatible with the stock header (C):"
  grep -E 'error|undefined' "$tmp/log" | grep -v 'is not an integer' | sed 's/^/      /' | head -n 80
  failures=$((failures + 1))
fi
if ${CXX:-c++} -std=c++11 -Wall -Wextra -Werror -Wno-ignored-attributes -Iinclude \
     -x c++ -o "$tmp/compat-cxx" tools/header-compat.c -x none \
     -L"$libdir" -ldevmapper >"$tmp/log" 2>&1; then
  echo "ok:   tools/header-compat.c: C++11, extern \"C\" linkage, links"
else
  echo "FAIL: $committed does not work from C++:"
  grep -E 'error|undefined' "$tmp/log" | grep -v 'is not an integer' | sed 's/^/      /' | head -n 80
  failures=$((failures + 1))
fi

if ((failures)); then
  echo "check-header: $failures check(s) failed"
  exit 1
fi
echo "check-header: all checks passed"
