#!/bin/bash
# Runs inside the test VM: the cryptsetup sequence on stock libdevmapper, on
# ours through LD_LIBRARY_PATH and through LD_PRELOAD; the transcripts must
# be identical. Usage: cryptsetup-compare.sh REPO
set -u
REPO=${1:-$PWD}
out=/tmp/cs-compare; mkdir -p $out
rc=0
for m in stock ours preload; do
    "$REPO/vm/tests/cryptsetup-seq.sh" $m "$REPO" >$out/$m.txt 2>$out/$m.err
done
cat $out/stock.txt
for m in ours preload; do
    if diff -u $out/stock.txt $out/$m.txt >$out/$m.diff; then
        echo "cryptsetup transcript: $m == stock"
    else
        echo "cryptsetup transcript: $m DIFFERS from stock:"; cat $out/$m.diff; echo "--- stderr ($m):"; cat $out/$m.err
        rc=1
    fi
done
fails=$(grep -c 'rc=[1-9]' $out/stock.txt)
echo "stock: $(grep -c 'rc=0' $out/stock.txt) steps ok, $fails failed"
[ "$fails" = 0 ] || { echo "--- stock stderr:"; cat $out/stock.err; }
exit $rc
