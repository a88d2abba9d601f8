#!/bin/sh
# Regenerates the golden transcripts of the report engine from stock libdevmapper.
#
#   capi-tests/report-oracle/regen.sh [LIBDIR]
#
# Builds report-driver.c against the stock header (from Debian's libdevmapper-dev,
# fetched with apt-get download into $DMDEV if not there) and links it with the
# stock library (the installed libdevmapper.so.1.02.1, or the one in LIBDIR when
# given: point LIBDIR at our build/lib to run the same cases against the C shell).
# Each case file devmapper/tests/fixtures/report/*.case is run in its own process
# with TZ=UTC and LC_ALL=C; its transcript is written beside it as *.out.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures="$root/devmapper/tests/fixtures/report"
DMDEV=${DMDEV:-/tmp/dmdev}
out=${OUT:-"$fixtures"}
libdir=${1:-}

if [ ! -f "$DMDEV/usr/include/libdevmapper.h" ]; then
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download libdevmapper-dev >/dev/null && dpkg-deb -x libdevmapper-dev_*.deb "$DMDEV")
	rm -rf "$tmp"
fi

bin=$(mktemp -d)/report-driver
if [ -n "$libdir" ]; then
	cc -O1 -Wall -Wextra -I"$DMDEV/usr/include" -o "$bin" "$here/report-driver.c" \
		-L"$libdir" -Wl,-rpath,"$libdir" -l:libdevmapper.so.1.02.1
else
	cc -O1 -Wall -Wextra -I"$DMDEV/usr/include" -o "$bin" "$here/report-driver.c" \
		-l:libdevmapper.so.1.02.1
fi

n=0
for c in "$fixtures"/*.case; do
	name=$(basename "$c" .case)
	TZ=UTC LC_ALL=C "$bin" "$c" > "$out/$name.out"
	n=$((n + 1))
done
rm -f "$bin"
echo "regenerated $n transcripts in $out"
