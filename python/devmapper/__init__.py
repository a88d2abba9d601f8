"""Python bindings (ctypes) for libdevmapper.

Works with the stock ``libdevmapper.so.1.02.1`` and with libdevmapper-rs.
The library is found through ``$DEVMAPPER_LIBRARY`` (a path) or else
``ctypes.util.find_library('devmapper')``; pass ``library=`` to
:class:`DeviceMapper` to choose another.

Quick start::

    import devmapper as dm

    dm.create("demo", "0 2048 zero")
    print(dm.status("demo"))
    dm.remove("demo")

Module-level functions use one shared :class:`DeviceMapper` on the default
library.  The low-level layer is :mod:`devmapper._lib` (signature table,
structs, constants) and :class:`Task`.
"""

from __future__ import annotations

import threading
from typing import List, Optional, Tuple

from ._lib import (
    DM_DEVICE_ARM_POLL,
    DM_DEVICE_CLEAR,
    DM_DEVICE_CREATE,
    DM_DEVICE_DEPS,
    DM_DEVICE_GET_TARGET_VERSION,
    DM_DEVICE_INFO,
    DM_DEVICE_LIST,
    DM_DEVICE_LIST_VERSIONS,
    DM_DEVICE_MKNODES,
    DM_DEVICE_RELOAD,
    DM_DEVICE_REMOVE,
    DM_DEVICE_REMOVE_ALL,
    DM_DEVICE_RENAME,
    DM_DEVICE_RESUME,
    DM_DEVICE_SET_GEOMETRY,
    DM_DEVICE_STATUS,
    DM_DEVICE_SUSPEND,
    DM_DEVICE_TABLE,
    DM_DEVICE_TARGET_MSG,
    DM_DEVICE_VERSION,
    DM_DEVICE_WAITEVENT,
    Library,
    find_library,
    get_library,
)
from ._log import LogMessage
from ._parse import (
    Device,
    TargetVersion,
    decode_dev,
    encode_dev,
    parse_deps,
    parse_names,
    parse_versions,
)
from .api import DeviceMapper, udev_rules_installed
from .errors import DMError
from .target import (
    TableLike,
    Target,
    TargetStatus,
    format_table,
    parse_table,
    validate_name,
    validate_table,
    validate_uuid,
)
from .task import DeviceInfo, Task

__version__ = "0.1.0"

__all__ = [
    "DM_DEVICE_ARM_POLL",
    "DM_DEVICE_CLEAR",
    "DM_DEVICE_CREATE",
    "DM_DEVICE_DEPS",
    "DM_DEVICE_GET_TARGET_VERSION",
    "DM_DEVICE_INFO",
    "DM_DEVICE_LIST",
    "DM_DEVICE_LIST_VERSIONS",
    "DM_DEVICE_MKNODES",
    "DM_DEVICE_RELOAD",
    "DM_DEVICE_REMOVE",
    "DM_DEVICE_REMOVE_ALL",
    "DM_DEVICE_RENAME",
    "DM_DEVICE_RESUME",
    "DM_DEVICE_SET_GEOMETRY",
    "DM_DEVICE_STATUS",
    "DM_DEVICE_SUSPEND",
    "DM_DEVICE_TABLE",
    "DM_DEVICE_TARGET_MSG",
    "DM_DEVICE_VERSION",
    "DM_DEVICE_WAITEVENT",
    "DMError",
    "Device",
    "DeviceInfo",
    "DeviceMapper",
    "Library",
    "LogMessage",
    "TableLike",
    "Target",
    "TargetStatus",
    "TargetVersion",
    "Task",
    "decode_dev",
    "encode_dev",
    "find_library",
    "format_table",
    "get_library",
    "parse_deps",
    "parse_names",
    "parse_table",
    "parse_versions",
    "udev_rules_installed",
    "validate_name",
    "validate_table",
    "validate_uuid",
    "default",
    "library_version",
    "version",
    "targets",
    "target_version",
    "list_devices",
    "info",
    "exists",
    "create",
    "load",
    "clear",
    "suspend",
    "resume",
    "remove",
    "rename",
    "table",
    "status",
    "deps",
    "message",
    "target_message",
    "wait_event",
]

_default_lock = threading.Lock()
_default: Optional[DeviceMapper] = None


def default() -> DeviceMapper:
    """The shared :class:`DeviceMapper` the module-level functions use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = DeviceMapper()
    return _default


def library_version() -> str:
    """The loaded library's version, e.g. ``"1.02.185 (2022-05-18)"``."""
    return default().library_version()


def version() -> str:
    """The kernel driver's version string, e.g. ``"4.47.0"``."""
    return default().version()


def targets() -> List[Tuple[str, Tuple[int, int, int]]]:
    """Loaded target types: ``[(name, (major, minor, patch)), ...]``."""
    return default().targets()


def target_version(target_type: str) -> Tuple[int, int, int]:
    """The version of one target type (loads its module if needed)."""
    return default().target_version(target_type)


def list_devices() -> List[Device]:
    """All dm devices (name, major, minor, uuid, event_nr)."""
    return default().list_devices()


def info(name: str) -> DeviceInfo:
    """Information about a device (DMError with ENXIO if it does not exist)."""
    return default().info(name)


def exists(name: str) -> bool:
    """Whether a device of that name exists."""
    return default().exists(name)


def create(name: str, table: TableLike, uuid: Optional[str] = None,
           readonly: bool = False) -> DeviceInfo:
    """Create, load and resume a device; removed again if a step fails."""
    return default().create(name, table, uuid=uuid, readonly=readonly)


def load(name: str, table: TableLike, readonly: bool = False) -> None:
    """Load a table into the device's inactive slot."""
    default().load(name, table, readonly=readonly)


def clear(name: str) -> None:
    """Drop the device's inactive table."""
    default().clear(name)


def suspend(name: str, noflush: bool = False, skip_lockfs: bool = False) -> None:
    """Suspend a device."""
    default().suspend(name, noflush=noflush, skip_lockfs=skip_lockfs)


def resume(name: str) -> DeviceInfo:
    """Resume a device."""
    return default().resume(name)


def remove(name: str, retry: bool = False, deferred: bool = False) -> None:
    """Remove a device."""
    default().remove(name, retry=retry, deferred=deferred)


def rename(name: str, new_name: Optional[str] = None,
           new_uuid: Optional[str] = None) -> None:
    """Rename a device, or set its uuid."""
    default().rename(name, new_name=new_name, new_uuid=new_uuid)


def table(name: str, inactive: bool = False) -> List[Target]:
    """A device's table."""
    return default().table(name, inactive=inactive)


def status(name: str, inactive: bool = False) -> List[TargetStatus]:
    """A device's status lines."""
    return default().status(name, inactive=inactive)


def deps(name: str, inactive: bool = False) -> List[Tuple[int, int]]:
    """The (major, minor) numbers a device's table uses."""
    return default().deps(name, inactive=inactive)


def message(device: str, sector: int, text: str) -> Optional[str]:
    """Send a target message; returns the response or None."""
    return default().message(device, sector, text)


def target_message(target_type: str, text: str) -> Optional[str]:
    """Send a deviceless ('%...') message to a target type."""
    return default().target_message(target_type, text)


def wait_event(name: str, event_nr: int) -> DeviceInfo:
    """Wait until the device's event counter differs from ``event_nr``."""
    return default().wait_event(name, event_nr)

