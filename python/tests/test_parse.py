"""Decoding of name lists, version lists and deps from synthetic buffers laid
out as the kernel writes them (dm-ioctl.c list_devices / list_versions /
retrieve_deps)."""

from __future__ import annotations

import ctypes
import struct
from typing import List, Optional, Sequence, Tuple

import pytest

from devmapper import _parse
from devmapper._parse import Device, TargetVersion, decode_dev, encode_dev


def align8(n: int) -> int:
    return (n + 7) & ~7


def name_entry(name: bytes, dev: int, *, event_nr: Optional[int] = None,
               flags: int = 0, uuid: Optional[bytes] = None) -> bytes:
    """One dm_name_list record without its ``next`` (filled in later)."""
    body = struct.pack("=QI", dev, 0) + name + b"\0"
    body += b"\0" * (align8(len(body)) - len(body))
    if event_nr is not None:
        body += struct.pack("=II", event_nr, flags)
        if uuid is not None:
            body += uuid + b"\0"
            body += b"\0" * (align8(len(body)) - len(body))
    return body


def name_list(entries: Sequence[bytes]) -> bytes:
    """Chain records: ``next`` = offset of the following record from the
    start of this one, 0 on the last."""
    out = b""
    for index, entry in enumerate(entries):
        nxt = len(entry) if index + 1 < len(entries) else 0
        out += entry[:8] + struct.pack("=I", nxt) + entry[12:]
    return out


def versions_list(items: Sequence[Tuple[bytes, Tuple[int, int, int]]]) -> bytes:
    records = []
    for name, version in items:
        body = struct.pack("=IIII", 0, *version) + name + b"\0"
        body += b"\0" * (align8(len(body)) - len(body))
        records.append(body)
    out = b""
    for index, rec in enumerate(records):
        nxt = len(rec) if index + 1 < len(records) else 0
        out += struct.pack("=I", nxt) + rec[4:]
    return out


# -- device numbers ---------------------------------------------------------------


@pytest.mark.parametrize("major,minor", [
    (253, 0), (253, 255), (253, 256), (8, 17), (259, 65536), (4095, 0xFFFFF),
    (0, 0), (1, 3)])
def test_dev_roundtrip(major: int, minor: int) -> None:
    assert decode_dev(encode_dev(major, minor)) == (major, minor)


def test_dev_layout_matches_huge_encode_dev() -> None:
    # (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)
    assert encode_dev(253, 0x12345) == 0x45 | (253 << 8) | (0x12300 << 12)
    assert decode_dev(0x1230FD45) == (253, 0x12345)
    # For small numbers it is glibc's makedev.
    assert encode_dev(8, 1) == 0x801


def test_encode_dev_range() -> None:
    with pytest.raises(ValueError):
        encode_dev(4096, 0)
    with pytest.raises(ValueError):
        encode_dev(1, 1 << 20)


# -- names --------------------------------------------------------------------------


def test_names_empty_list() -> None:
    # The kernel writes one zeroed record when there are no devices.
    assert _parse.parse_names(bytes(16)) == []
    assert _parse.parse_names(bytes(16), has_trailer=False) == []
    assert _parse.parse_names(b"") == []


def test_names_single_without_trailer() -> None:
    buf = name_list([name_entry(b"vg-lv", encode_dev(253, 3))])
    assert _parse.parse_names(buf, has_trailer=False) == [
        Device("vg-lv", 253, 3, None, None)]


def test_names_several_without_trailer() -> None:
    entries = [name_entry(n, encode_dev(253, i))
               for i, n in enumerate([b"a", b"exactly-twelve", b"c" * 127])]
    devices = _parse.parse_names(name_list(entries), has_trailer=False)
    assert [(d.name, d.minor) for d in devices] == [
        ("a", 0), ("exactly-twelve", 1), ("c" * 127, 2)]
    assert all(d.uuid is None and d.event_nr is None for d in devices)


def test_names_with_event_nr_and_uuids() -> None:
    entries = [
        name_entry(b"one", encode_dev(253, 0), event_nr=5,
                   flags=_parse.DM_NAME_LIST_FLAG_HAS_UUID, uuid=b"LVM-abc"),
        name_entry(b"two", encode_dev(253, 1), event_nr=0,
                   flags=_parse.DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID),
        name_entry(b"three", encode_dev(253, 300), event_nr=7, flags=0),
        name_entry(b"four", encode_dev(253, 2), event_nr=9,
                   flags=_parse.DM_NAME_LIST_FLAG_HAS_UUID, uuid=b"U" * 128),
    ]
    devices = _parse.parse_names(name_list(entries))
    assert devices == [
        Device("one", 253, 0, "LVM-abc", 5),
        Device("two", 253, 1, "", 0),
        Device("three", 253, 300, None, 7),
        Device("four", 253, 2, "U" * 128, 9),
    ]
    assert devices[2].dev == (253, 300)


def test_names_trailer_ignored_when_absent() -> None:
    """An old kernel (no trailer): ``next`` leaves no room for one, so
    nothing past the name is decoded even if asked to."""
    entries = [name_entry(b"a", encode_dev(253, 0)),
               name_entry(b"b", encode_dev(253, 1))]
    devices = _parse.parse_names(name_list(entries), has_trailer=True)
    assert devices == [Device("a", 253, 0), Device("b", 253, 1)]


def test_names_walk_uses_next_not_position() -> None:
    """Entries are found by ``next`` only: padding between them is skipped."""
    first = name_entry(b"first", encode_dev(253, 0)) + b"\xee" * 24
    second = name_entry(b"second", encode_dev(253, 1))
    devices = _parse.parse_names(name_list([first, second]), has_trailer=False)
    assert [d.name for d in devices] == ["first", "second"]


def test_names_stop_after_next_zero() -> None:
    buf = name_list([name_entry(b"only", encode_dev(253, 0))])
    buf += name_entry(b"garbage", encode_dev(253, 9))
    assert [d.name for d in _parse.parse_names(buf, has_trailer=False)] == ["only"]


def test_names_non_utf8_roundtrip() -> None:
    buf = name_list([name_entry(b"bad\xffname", encode_dev(253, 0))])
    (device,) = _parse.parse_names(buf, has_trailer=False)
    assert device.name.encode("utf-8", "surrogateescape") == b"bad\xffname"


def test_names_truncated_buffer_raises() -> None:
    entries = [name_entry(b"a", encode_dev(253, 0)),
               name_entry(b"b", encode_dev(253, 1))]
    buf = name_list(entries)
    with pytest.raises(ValueError):
        _parse.parse_names(buf[:20], has_trailer=False)
    with pytest.raises(ValueError):
        _parse.parse_names(buf[:len(entries[0]) + 13], has_trailer=False)


def test_names_bad_next_raises() -> None:
    entry = bytearray(name_entry(b"a", encode_dev(253, 0)))
    struct.pack_into("=I", entry, 8, 4)  # points back into its own header
    with pytest.raises(ValueError):
        _parse.parse_names(bytes(entry) + bytes(32), has_trailer=False)


def test_names_from_live_pointer() -> None:
    entries = [
        name_entry(b"p1", encode_dev(253, 0), event_nr=1,
                   flags=_parse.DM_NAME_LIST_FLAG_HAS_UUID, uuid=b"UUID-1"),
        name_entry(b"p2", encode_dev(253, 1), event_nr=2, flags=0),
    ]
    raw = name_list(entries)
    buf = ctypes.create_string_buffer(raw, len(raw))
    assert _parse.names_at(ctypes.addressof(buf), has_trailer=True) == \
        _parse.parse_names(raw)


# -- versions -----------------------------------------------------------------------


def test_versions() -> None:
    buf = versions_list([(b"linear", (1, 4, 0)), (b"zero", (1, 2, 0)),
                         (b"a-fifteen-chars", (1, 0, 99))])
    assert _parse.parse_versions(buf) == [
        TargetVersion("linear", (1, 4, 0)),
        TargetVersion("zero", (1, 2, 0)),
        TargetVersion("a-fifteen-chars", (1, 0, 99)),
    ]


def test_versions_single_and_empty() -> None:
    assert _parse.parse_versions(versions_list([(b"error", (1, 6, 0))])) == [
        TargetVersion("error", (1, 6, 0))]
    assert _parse.parse_versions(b"") == []


def test_versions_truncated() -> None:
    buf = versions_list([(b"linear", (1, 4, 0)), (b"zero", (1, 2, 0))])
    with pytest.raises(ValueError):
        _parse.parse_versions(buf[:30])


def test_versions_from_live_pointer() -> None:
    raw = versions_list([(b"striped", (1, 6, 0)), (b"crypt", (1, 24, 0))])
    buf = ctypes.create_string_buffer(raw, len(raw))
    assert _parse.versions_at(ctypes.addressof(buf)) == _parse.parse_versions(raw)


# -- deps ---------------------------------------------------------------------------


def deps_buffer(devs: List[Tuple[int, int]]) -> bytes:
    return struct.pack("=II", len(devs), 0) + b"".join(
        struct.pack("=Q", encode_dev(ma, mi)) for ma, mi in devs)


def test_deps() -> None:
    devs = [(253, 0), (8, 16), (259, 70000)]
    assert _parse.parse_deps(deps_buffer(devs)) == devs
    assert _parse.parse_deps(deps_buffer([])) == []


def test_deps_truncated() -> None:
    with pytest.raises(ValueError):
        _parse.parse_deps(deps_buffer([(253, 0), (253, 1)])[:-4])
    with pytest.raises(ValueError):
        _parse.parse_deps(b"\x01\0\0")


def test_deps_from_live_pointer() -> None:
    raw = deps_buffer([(7, 0), (253, 12)])
    buf = ctypes.create_string_buffer(raw, len(raw))
    assert _parse.deps_at(ctypes.addressof(buf)) == [(7, 0), (253, 12)]
