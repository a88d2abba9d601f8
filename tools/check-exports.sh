#!/bin/bash
# Check the exported ABI of the built library against stock libdevmapper 1.02.185.
#
# usage: tools/check-exports.sh [LIBRARY]
#   LIBRARY   the shared object to inspect (default: build/lib/libdevmapper.so.1.02.1,
#             else target/release/libdevmapper.so)
# environment:
#   SONAME    expected DT_SONAME (default libdevmapper.so.1.02.1)
#   CC        C compiler for the runtime probe (default cc)
#
# Checks, in order:
#   1. src/exports.map: exactly the 24 stock version nodes, in stock order,
#      each inheriting the previous one, one `local: *`, and every global name
#      under the node the stock library exports it in (src/stock-versions.tsv).
#   2. The library: DT_SONAME; the version definitions (the soname, then the 24
#      nodes in order, parents chained when the linker records them); every
#      defined dynamic symbol versioned and present in the stock list with the
#      same node and binding (@@ default, @ compat) - so no Rust, dmrs_* or
#      runtime symbols leak; every name of exports.map exported; the compat
#      dm_task_get_info@Base next to dm_task_get_info@@DM_1_02_97; dm_log and
#      dm_log_with_errno as 8-byte OBJECTs in Base, used through the GOT.
#   3. include/libdevmapper.h: every function it declares is exported, and every
#      exported function the stock header declares is declared.
#   4. A runtime probe (tools/abi-probe.c), linked without PIE so the data
#      objects get COPY relocations: the logging pointers and adapters work on
#      the executable's copies, and the compat dm_task_get_info@Base writes 40
#      bytes only.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

lib=${1:-}
if [[ -z $lib ]]; then
  for cand in build/lib/libdevmapper.so.1.02.1 build/lib/libdevmapper.so.1.02 \
              "${CARGO_TARGET_DIR:-target}/release/libdevmapper.so"; do
    [[ -f $cand ]] && { lib=$cand; break; }
  done
fi
[[ -n $lib && -f $lib ]] || { echo "check-exports: no library found (build first)" >&2; exit 2; }

soname=${SONAME:-libdevmapper.so.1.02.1}
map=src/exports.map
stock=src/stock-versions.tsv
header=include/libdevmapper.h

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok:   $*"; }

# Exported by stock libdevmapper but not declared in its header (libdm-abi.md 1.4).
not_in_stock_header=" dm_bounds_check_debug dm_dump_memory_debug dm_free_aux dm_log \
dm_log_with_errno dm_malloc_aux dm_malloc_aux_debug dm_realloc_aux dm_strdup_aux \
dm_task_get_info_with_deferred_remove dm_zalloc_aux dm_zalloc_aux_debug "
# Symbols 1.02.205 restored (lost by 1.02.177-1.02.204); a superset is safe.
restored=$'dm_bitset_parse_list\tDM_1_02_138\tdefault\ndm_tree_node_size_changed\tBase\tcompat'

# --- stock data -------------------------------------------------------------
[[ -r $stock ]] || { echo "check-exports: missing $stock" >&2; exit 2; }
grep -v -e '^#' -e '^symbol	' "$stock" >"$tmp/stock"
printf '%s\n' "$restored" >>"$tmp/stock"
# Node order: Base, then DM_1_02_<n> by n.
cut -f2 "$tmp/stock" | sort -u |
  awk '{ n = ($1 == "Base") ? -1 : substr($1, 9) + 0; print n "\t" $1 }' |
  sort -n | cut -f2 >"$tmp/nodes"
nodes_expected=$(wc -l <"$tmp/nodes")
[[ $nodes_expected == 24 ]] || fail "stock list yields $nodes_expected version nodes, expected 24"

# --- 1. the version script --------------------------------------------------
[[ -r $map ]] || { echo "check-exports: missing $map" >&2; exit 2; }
sed 's/#.*//' "$map" | tr '\n' ' ' | sed 's/[{};:]/ & /g' | tr -s ' \t' '\n' | sed '/^$/d' |
  awk -v out_nodes="$tmp/map-nodes" -v out_syms="$tmp/map-syms" '
    function bad(msg) { print "parse error: " msg > "/dev/stderr"; err = 1; exit 1 }
    state == 0 { node = $0; state = 1; next }
    state == 1 { if ($0 != "{") bad("expected { after " node); mode = ""; state = 2; next }
    state == 2 {
      if ($0 == "}") { state = 3; next }
      if ($0 == "global" || $0 == "local") { mode = $0; state = 4; next }
      if (mode == "") bad("symbol outside global:/local: in " node)
      print node "\t" mode "\t" $0 > out_syms; state = 5; next
    }
    state == 4 { if ($0 != ":") bad("expected : in " node); state = 2; next }
    state == 5 { if ($0 != ";") bad("expected ; after a symbol in " node); state = 2; next }
    state == 3 {
      if ($0 == ";") { print node "\t-" > out_nodes; state = 0; next }
      parent = $0; state = 6; next
    }
    state == 6 { if ($0 != ";") bad("expected ; after " node); print node "\t" parent > out_nodes; state = 0; next }
    END { if (!err && state != 0) bad("unterminated node " node) }
  ' || fail "$map does not parse"
touch "$tmp/map-nodes" "$tmp/map-syms"

if cut -f1 "$tmp/map-nodes" | diff -u "$tmp/nodes" - >"$tmp/d"; then
  ok "$map defines the 24 stock version nodes in order"
else
  fail "$map version nodes differ from stock (- stock, + ours):"; sed 's/^/      /' "$tmp/d"
fi
awk -F'\t' 'NR == 1 { if ($2 != "-") print "      " $1 " must not inherit"; prev = $1; next }
            { if ($2 != prev) print "      " $1 " inherits " $2 ", expected " prev; prev = $1 }' \
  "$tmp/map-nodes" >"$tmp/d"
if [[ -s $tmp/d ]]; then fail "$map inheritance chain:"; cat "$tmp/d"; else ok "$map nodes chain to their predecessor"; fi

if [[ $(awk -F'\t' '$2 == "local" { print $3 }' "$tmp/map-syms") == '*' ]]; then
  ok "$map hides everything else (one local: *)"
else
  fail "$map must have exactly one 'local: *;' and no other local names"
fi

awk -F'\t' '$2 == "global" { print $3 "\t" $1 }' "$tmp/map-syms" | sort >"$tmp/map-globals"
dups=$(cut -f1 "$tmp/map-globals" | uniq -d)
[[ -z $dups ]] || fail "$map lists names more than once (ld cannot bind them to one node): $dups"
awk -F'\t' 'NR == FNR { ok[$1 "\t" $2] = 1; next } !(($1 "\t" $2) in ok) { print "      " $1 " in " $2 }' \
  "$tmp/stock" "$tmp/map-globals" >"$tmp/d"
if [[ -s $tmp/d ]]; then
  fail "$map puts names under nodes the stock library does not use for them:"; cat "$tmp/d"
else
  ok "$map: $(wc -l <"$tmp/map-globals") names, each under its stock node"
fi

# --- 2. the library ---------------------------------------------------------
echo "library: $lib"
dt_soname=$(readelf -d -W "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [[ $dt_soname == "$soname" ]]; then ok "DT_SONAME $dt_soname"; else fail "DT_SONAME '$dt_soname', expected '$soname'"; fi

readelf -V -W "$lib" | awk '
  /^Version definition section/ { on = 1; next }
  /^Version needs section/ || /^Version symbols section/ { on = 0 }
  on && /Name:/ {
    name = $NF; flags = $0; sub(/.*Flags: */, "", flags); sub(/ +Index:.*/, "", flags)
    printf "%s%s\t%s", (n++ ? "\n" : ""), name, flags; next
  }
  on && /Parent 1:/ { printf "\t%s", $NF }
  END { if (n) printf "\n" }' >"$tmp/verdef"
first=$(head -n1 "$tmp/verdef" | cut -f1,2)
[[ $first == "$soname"$'\tBASE' ]] || fail "first version definition is '$first', expected the soname with flag BASE"
if tail -n +2 "$tmp/verdef" | cut -f1 | diff -u "$tmp/nodes" - >"$tmp/d"; then
  ok "version definitions: the soname, then the 24 stock nodes in order"
else
  fail "version definitions differ from stock (- stock, + library):"; sed 's/^/      /' "$tmp/d"
fi
tail -n +2 "$tmp/verdef" | awk -F'\t' '
  NR > 1 && NF >= 3 && $3 != prev { print "      " $1 " has parent " $3 ", expected " prev }
  { prev = $1; if (NF >= 3) parents++ }
  END { if (parents == 0) print "NOPARENTS" }' >"$tmp/d"
if grep -q NOPARENTS "$tmp/d"; then
  echo "note: the linker recorded no parent links in the version definitions (lld does not)"
elif [[ -s $tmp/d ]]; then
  fail "version definition parents:"; cat "$tmp/d"
else
  ok "version definitions chain to their predecessor"
fi

weak=$(tail -n +2 "$tmp/verdef" | awk -F'\t' '$2 ~ /WEAK/ { printf " %s", $1 }')
[[ -z $weak ]] || echo "note: GNU ld flags version nodes without symbols WEAK:$weak (stock has none empty)"

# Defined dynamic symbols as "name<TAB>version<TAB>binding<TAB>type<TAB>size".
readelf --dyn-syms -W "$lib" | awk '
  $1 ~ /^[0-9]+:$/ && $7 != "UND" && NF >= 8 {
    name = $8; ver = ""; bind = "unversioned"
    if (index(name, "@@")) { split(name, p, "@@"); name = p[1]; ver = p[2]; bind = "default" }
    else if (index(name, "@")) { split(name, p, "@"); name = p[1]; ver = p[2]; bind = "compat" }
    # GNU ld adds an ABS symbol named after each version node (so does the
    # stock library); they carry no code or data.
    if ($7 == "ABS" && $3 == 0 && name ~ /^(Base|DM_1_02_[0-9]+)$/) next
    print name "\t" ver "\t" bind "\t" $4 "\t" $3
  }' | sort >"$tmp/dynsyms"
echo "      $(wc -l <"$tmp/dynsyms") defined dynamic symbols"

awk -F'\t' '$3 == "unversioned" { print "      " $1 }' "$tmp/dynsyms" >"$tmp/d"
[[ ! -s $tmp/d ]] || { fail "exported without a version (not covered by exports.map):"; cat "$tmp/d"; }
awk -F'\t' 'NR == FNR { ok[$1 "\t" $2 "\t" $3] = 1; next }
            $3 != "unversioned" && !(($1 "\t" $2 "\t" $3) in ok) {
              print "      " $1 (($3 == "default") ? "@@" : "@") $2 }' "$tmp/stock" "$tmp/dynsyms" >"$tmp/d"
if [[ -s $tmp/d ]]; then
  fail "exported symbols that stock libdevmapper does not export (with that version):"; cat "$tmp/d"
else
  ok "every exported symbol is a stock export with its stock version and binding"
fi
leaks=$(cut -f1 "$tmp/dynsyms" | grep -E '^(dmrs_|_ZN|_R|rust_|__rust|__rdl_|__rg_)' || true)
[[ -z $leaks ]] || fail "internal symbols leak: $(echo $leaks)"

awk -F'\t' 'NR == FNR { if ($3 == "default") have[$1 "\t" $2] = 1; next }
            !(($1 "\t" $2) in have) { print "      " $1 "@@" $2 }' "$tmp/dynsyms" "$tmp/map-globals" >"$tmp/d"
if [[ -s $tmp/d ]]; then fail "listed in $map but not exported:"; cat "$tmp/d"; else ok "every name of $map is exported under its node"; fi

has() { awk -F'\t' -v n="$1" -v v="$2" -v b="$3" '$1 == n && $2 == v && $3 == b { f = 1 } END { exit !f }' "$tmp/dynsyms"; }
if has dm_task_get_info DM_1_02_97 default && has dm_task_get_info Base compat; then
  ok "dm_task_get_info@@DM_1_02_97 and compat dm_task_get_info@Base"
else
  fail "dm_task_get_info needs both @@DM_1_02_97 and @Base"
fi
if has dm_stats_create_region DM_1_02_107 default && has dm_stats_create_region DM_1_02_104 compat &&
   has dm_stats_create_region DM_1_02_106 compat; then
  ok "dm_stats_create_region@@DM_1_02_107 and compat @DM_1_02_104, @DM_1_02_106"
else
  fail "dm_stats_create_region needs @@DM_1_02_107, @DM_1_02_104 and @DM_1_02_106"
fi
for obj in dm_log dm_log_with_errno; do
  line=$(awk -F'\t' -v n=$obj '$1 == n' "$tmp/dynsyms")
  if [[ $line == "$obj"$'\tBase\tdefault\tOBJECT\t8' ]]; then
    ok "$obj@@Base is an 8-byte OBJECT"
  else
    fail "$obj must be an 8-byte OBJECT @@Base, found: ${line:-nothing}"
  fi
done
if [[ $(readelf -h "$lib" | awk '/Machine:/ { $1 = ""; print }') == *X86-64* ]]; then
  relocs=$(readelf -r -W "$lib")
  for obj in dm_log dm_log_with_errno; do
    if grep -Eq "R_X86_64_GLOB_DAT +[0-9a-f]+ +$obj(@|[[:space:]]|$)" <<<"$relocs"; then
      ok "$obj is read through the GOT (R_X86_64_GLOB_DAT)"
    else
      fail "$obj has no GLOB_DAT relocation: the library would miss an executable's COPY of it"
    fi
  done
fi
if readelf -d "$lib" | grep -q TEXTREL; then fail "the library has text relocations"; fi

# --- 3. the header ----------------------------------------------------------
if [[ -r $header ]]; then
  # One declaration per line (cbindgen output, args = "horizontal", and the
  # verbatim sections); skip macros, typedefs and comments.
  grep -v -e '^#' -e '^ *\*' -e '^ */\*' -e 'typedef' "$header" |
    grep -oE '(^|[^A-Za-z0-9_])dm_[A-Za-z0-9_]+\(' | grep -oE 'dm_[A-Za-z0-9_]+' | sort -u >"$tmp/declared"
  awk -F'\t' '$3 == "default" && $4 == "FUNC" { print $1 }' "$tmp/dynsyms" | sort -u >"$tmp/exported-funcs"
  comm -23 "$tmp/declared" "$tmp/exported-funcs" >"$tmp/d"
  if [[ -s $tmp/d ]]; then fail "$header declares functions the library does not export:"; sed 's/^/      /' "$tmp/d"
  else ok "$header: all $(wc -l <"$tmp/declared") declared functions are exported"; fi
  cut -f1 "$tmp/stock" | sort -u >"$tmp/stock-names"
  comm -13 "$tmp/declared" "$tmp/exported-funcs" | comm -12 - "$tmp/stock-names" | while read -r f; do
    [[ $not_in_stock_header == *" $f "* ]] || echo "      $f"
  done >"$tmp/d"
  if [[ -s $tmp/d ]]; then fail "exported functions the stock header declares but $header does not:"; cat "$tmp/d"
  else ok "$header declares every exported function the stock header declares"; fi
else
  fail "missing $header"
fi

# --- 4. runtime probe -------------------------------------------------------
libdir=$(cd "$(dirname "$lib")" && pwd)
ln -sf "$libdir/$(basename "$lib")" "$tmp/libdevmapper.so"
ln -sf "$libdir/$(basename "$lib")" "$tmp/$soname"
# shellcheck disable=SC2086
if ${CC:-cc} -std=gnu11 -O1 -Wall -Wextra -Werror -no-pie -fno-pie -o "$tmp/abi-probe" \
     tools/abi-probe.c -L"$tmp" -ldevmapper -Wl,-rpath,"$tmp" 2>"$tmp/cc.log"; then
  if readelf -r -W "$tmp/abi-probe" | grep -q 'R_X86_64_COPY.*dm_log_with_errno' ||
     [[ $(uname -m) != x86_64 ]]; then
    ok "probe references dm_log_with_errno through a COPY relocation"
  else
    fail "probe has no COPY relocation for dm_log_with_errno (test would prove nothing)"
  fi
  if "$tmp/abi-probe" >"$tmp/probe.log" 2>&1; then
    ok "runtime probe: $(tail -n1 "$tmp/probe.log")"
  else
    fail "runtime probe failed:"; sed 's/^/      /' "$tmp/probe.log"
  fi
else
  fail "cannot build the runtime probe:"; sed 's/^/      /' "$tmp/cc.log"
fi

if ((failures)); then
  echo "check-exports: $failures check(s) failed"
  exit 1
fi
echo "check-exports: all checks passed"
