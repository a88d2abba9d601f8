#!/usr/bin/env python3
"""Create a 1 MiB zero device, show its info and status, then remove it.

Run as root:  python3 python/examples/zero_device.py [name]
"""

from __future__ import annotations

import os
import sys

import devmapper
from devmapper import Target


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else f"example-zero-{os.getpid()}"
    table = [Target(0, 2048, "zero")]  # 2048 sectors of 512 bytes
    try:
        info = devmapper.create(name, table, uuid=f"EXAMPLE-{name}")
    except devmapper.DMError as exc:
        print(f"create failed: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"created {info.name} as {info.major}:{info.minor}, uuid {info.uuid}")
        print("table: ", devmapper.format_table(devmapper.table(name)), end="")
        for line in devmapper.status(name):
            print("status:", line)
        devmapper.suspend(name)
        print("suspended:", devmapper.info(name).suspended)
        devmapper.resume(name)
        print("suspended:", devmapper.info(name).suspended)
    finally:
        devmapper.remove(name)
        print(f"removed {name}: exists = {devmapper.exists(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
