"""Decoding of the variable-length result records libdm hands out.

``dm_task_get_names``, ``dm_task_get_versions`` and ``dm_task_get_deps`` return
pointers into the ioctl result buffer.  The walkers here work on a small
memory interface so that the same code runs on a live pointer (no bounds are
known: the records are trusted, as libdm's own callers do) and on a plain
``bytes`` buffer (every access is bounds-checked; malformed data raises
ValueError), which is what the unit tests feed them.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

__all__ = [
    "Device",
    "TargetVersion",
    "decode_dev",
    "encode_dev",
    "parse_names",
    "parse_versions",
    "parse_deps",
]

DM_NAME_LIST_FLAG_HAS_UUID = 1
DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID = 2

_NAMES_HEADER = struct.Struct("=QI")  # dev, next; name at 12
_NAME_OFFSET = 12
_TRAILER = struct.Struct("=II")  # event_nr, flags
_VERSIONS_HEADER = struct.Struct("=IIII")  # next, version[3]; name at 16
_VERSION_NAME_OFFSET = 16
_DEPS_HEADER = struct.Struct("=II")  # count, filler; device[] at 8
_U64 = struct.Struct("=Q")

_MAX_RECORDS = 1 << 20


def _align8(n: int) -> int:
    return (n + 7) & ~7


def decode_dev(dev: int) -> Tuple[int, int]:
    """Split a kernel ``huge_encode_dev`` device number into (major, minor).

    Layout: minor bits 0-7 in bits 0-7, major (12 bits) in bits 8-19, minor
    bits 8-19 in bits 20-31.
    """
    major = (dev >> 8) & 0xFFF
    minor = (dev & 0xFF) | ((dev >> 12) & 0xFFF00)
    return major, minor


def encode_dev(major: int, minor: int) -> int:
    """The kernel's ``huge_encode_dev`` of (major, minor)."""
    if not 0 <= major <= 0xFFF or not 0 <= minor <= 0xFFFFF:
        raise ValueError(f"device number {major}:{minor} out of range")
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


class _Memory:
    """Read access to a result area."""

    def read(self, offset: int, size: int) -> bytes:
        raise NotImplementedError

    def cstring(self, offset: int) -> bytes:
        raise NotImplementedError

    def has(self, offset: int, size: int) -> bool:
        """Whether ``size`` bytes at ``offset`` are known to be readable."""
        raise NotImplementedError


class _BytesMemory(_Memory):
    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0 or offset + size > len(self._data):
            raise ValueError(
                f"truncated buffer: {size} bytes at offset {offset}, "
                f"buffer is {len(self._data)} bytes"
            )
        return self._data[offset:offset + size]

    def cstring(self, offset: int) -> bytes:
        if offset < 0 or offset > len(self._data):
            raise ValueError(f"string offset {offset} outside the buffer")
        end = self._data.find(b"\0", offset)
        if end < 0:
            raise ValueError(f"unterminated string at offset {offset}")
        return self._data[offset:end]

    def has(self, offset: int, size: int) -> bool:
        return 0 <= offset and offset + size <= len(self._data)


class _PointerMemory(_Memory):
    def __init__(self, address: int) -> None:
        if not address:
            raise ValueError("NULL result pointer")
        self._address = address

    def read(self, offset: int, size: int) -> bytes:
        return ctypes.string_at(self._address + offset, size)

    def cstring(self, offset: int) -> bytes:
        return ctypes.string_at(self._address + offset)

    def has(self, offset: int, size: int) -> bool:
        return True  # no bounds are known; the library vouches for the data


_Source = Union[bytes, bytearray, memoryview, _Memory]


def _memory(source: _Source) -> _Memory:
    if isinstance(source, _Memory):
        return source
    return _BytesMemory(bytes(source))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Device:
    """One entry of the device list.

    ``uuid`` is None when the kernel did not report uuids (driver < 4.45) and
    ``""`` when it reported that the device has none; ``event_nr`` is None
    when the kernel did not report event numbers (driver < 4.38).
    """

    name: str
    major: int
    minor: int
    uuid: Optional[str] = None
    event_nr: Optional[int] = None

    @property
    def dev(self) -> Tuple[int, int]:
        return (self.major, self.minor)


@dataclass(frozen=True)
class TargetVersion:
    """A loaded target type and its version."""

    name: str
    version: Tuple[int, int, int]


def parse_names(source: _Source, *, has_trailer: bool = True) -> List[Device]:
    """Walk a ``struct dm_names`` chain (the DM_DEVICE_LIST result).

    The list is empty if the first entry's ``dev`` is 0.  Otherwise each
    entry is visited and the walk advances by the entry's ``next`` (an offset
    from the start of that entry), stopping after the entry whose ``next`` is 0.

    With ``has_trailer`` (driver >= 4.38), the 8-aligned trailer after each
    name's NUL is decoded: ``u32 event_nr, u32 flags`` and, when ``flags &
    HAS_UUID``, the uuid string at the next 8-aligned offset.  A trailer that
    would overlap the next entry (or, for a bytes buffer, run past its end) is
    ignored.
    """
    mem = _memory(source)
    if isinstance(mem, _BytesMemory) and not mem.has(0, _NAMES_HEADER.size):
        return []
    dev, _next = _NAMES_HEADER.unpack(mem.read(0, _NAMES_HEADER.size))
    if dev == 0:
        return []
    devices: List[Device] = []
    offset = 0
    while True:
        if len(devices) >= _MAX_RECORDS:
            raise ValueError("name list does not terminate")
        dev, nxt = _NAMES_HEADER.unpack(mem.read(offset, _NAMES_HEADER.size))
        raw_name = mem.cstring(offset + _NAME_OFFSET)
        event_nr: Optional[int] = None
        uuid: Optional[str] = None
        if has_trailer:
            trailer = offset + _align8(_NAME_OFFSET + len(raw_name) + 1)
            fits = trailer + _TRAILER.size <= offset + nxt if nxt else mem.has(
                trailer, _TRAILER.size)
            if fits:
                event_nr, flags = _TRAILER.unpack(mem.read(trailer, _TRAILER.size))
                if flags & DM_NAME_LIST_FLAG_HAS_UUID:
                    uuid_offset = trailer + _TRAILER.size
                    if nxt and uuid_offset >= offset + nxt:
                        raise ValueError("uuid overlaps the next name entry")
                    uuid = _decode(mem.cstring(uuid_offset))
                elif flags & DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID:
                    uuid = ""
        major, minor = decode_dev(dev)
        devices.append(Device(_decode(raw_name), major, minor, uuid, event_nr))
        if nxt == 0:
            break
        if nxt < _NAMES_HEADER.size:
            raise ValueError(f"bad name-list offset {nxt} at {offset}")
        offset += nxt
    return devices


def parse_versions(source: _Source) -> List[TargetVersion]:
    """Walk a ``struct dm_versions`` chain (LIST_VERSIONS / GET_TARGET_VERSION).

    Each entry is visited; the walk advances by its ``next`` and stops after
    the entry whose ``next`` is 0.  An empty bytes buffer gives an empty list.
    """
    mem = _memory(source)
    if isinstance(mem, _BytesMemory) and not mem.has(0, _VERSIONS_HEADER.size):
        return []
    result: List[TargetVersion] = []
    offset = 0
    while True:
        if len(result) >= _MAX_RECORDS:
            raise ValueError("version list does not terminate")
        nxt, v0, v1, v2 = _VERSIONS_HEADER.unpack(
            mem.read(offset, _VERSIONS_HEADER.size))
        name = _decode(mem.cstring(offset + _VERSION_NAME_OFFSET))
        result.append(TargetVersion(name, (v0, v1, v2)))
        if nxt == 0:
            break
        if nxt < _VERSIONS_HEADER.size:
            raise ValueError(f"bad version-list offset {nxt} at {offset}")
        offset += nxt
    return result


def parse_deps(source: _Source) -> List[Tuple[int, int]]:
    """Decode a ``struct dm_deps``: ``count`` huge-encoded device numbers."""
    mem = _memory(source)
    count, _filler = _DEPS_HEADER.unpack(mem.read(0, _DEPS_HEADER.size))
    if count > _MAX_RECORDS:
        raise ValueError(f"implausible dependency count {count}")
    raw = mem.read(_DEPS_HEADER.size, count * _U64.size)
    return [decode_dev(v) for (v,) in _U64.iter_unpack(raw)]


def names_at(address: int, *, has_trailer: bool) -> List[Device]:
    """:func:`parse_names` on a live ``struct dm_names *``."""
    return parse_names(_PointerMemory(address), has_trailer=has_trailer)


def versions_at(address: int) -> List[TargetVersion]:
    """:func:`parse_versions` on a live ``struct dm_versions *``."""
    return parse_versions(_PointerMemory(address))


def deps_at(address: int) -> List[Tuple[int, int]]:
    """:func:`parse_deps` on a live ``struct dm_deps *``."""
    return parse_deps(_PointerMemory(address))
