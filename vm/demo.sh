#!/bin/bash
# `make demo`: boot the test kernel and show unmodified Debian cryptsetup on our
# libdevmapper (with
# stock dmsetup observing), then the Rust API example.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
vm/setup.sh >/dev/null
cargo build --release -p devmapper --example demo -q
exec vm/run.sh -- bash -c '
set -e
export LD_LIBRARY_PATH='"$REPO"'/build/lib
say() { printf "\n$ %s\n" "$*"; }
run() { say "$*"; "$@"; }
echo "kernel $(uname -r); libdevmapper in use by cryptsetup:"
ldd "$(command -v cryptsetup)" | grep -E "libdevmapper|libcryptsetup"
cd /tmp; truncate -s 32M demo.img; LOOP=$(losetup -f --show demo.img)
printf demo-passphrase > key
run cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file key "$LOOP"
run cryptsetup open --key-file key "$LOOP" secret
run cryptsetup status secret
say "stock dmsetup observing the kernel:"
run env -u LD_LIBRARY_PATH dmsetup ls
run env -u LD_LIBRARY_PATH dmsetup info secret
run ls -l /dev/mapper
run cryptsetup close secret
run env -u LD_LIBRARY_PATH dmsetup ls
losetup -d "$LOOP"
say "Rust API example (target/release/examples/demo)"
'"$REPO"'/target/release/examples/demo
'
