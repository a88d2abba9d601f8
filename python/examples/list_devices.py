#!/usr/bin/env python3
"""List every device-mapper device with its table (like `dmsetup table`).

Run as root:  python3 python/examples/list_devices.py
"""

from __future__ import annotations

import sys

import devmapper


def main() -> int:
    try:
        print(f"library {devmapper.library_version()}, driver {devmapper.version()}")
        devices = devmapper.list_devices()
    except devmapper.DMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not devices:
        print("no devices")
    for device in devices:
        uuid = f" uuid={device.uuid}" if device.uuid else ""
        events = f" events={device.event_nr}" if device.event_nr is not None else ""
        print(f"{device.name} ({device.major}:{device.minor}){uuid}{events}")
        try:
            for target in devmapper.table(device.name):
                print(f"    {target}")
        except devmapper.DMError as exc:  # e.g. removed meanwhile
            print(f"    ({exc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
