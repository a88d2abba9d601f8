"""Target, table, name and uuid validation (no kernel)."""

from __future__ import annotations

import dataclasses

import pytest

import devmapper
from devmapper import Target, TargetStatus, parse_table, validate_table
from devmapper.target import as_table, format_table, validate_name, validate_uuid


def test_target_fields_and_str() -> None:
    t = Target(0, 2048, "linear", "/dev/loop0 0")
    assert (t.start, t.length, t.type, t.params) == (0, 2048, "linear", "/dev/loop0 0")
    assert t.end == 2048
    assert str(t) == "0 2048 linear /dev/loop0 0"
    assert str(Target(0, 100, "zero")) == "0 100 zero"


def test_target_is_frozen_and_hashable() -> None:
    t = Target(0, 1, "zero")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.start = 5  # type: ignore[misc]
    assert {t, Target(0, 1, "zero")} == {t}


@pytest.mark.parametrize("args,error", [
    ((-1, 10, "zero"), ValueError),
    ((0, 0, "zero"), ValueError),
    ((0, -5, "zero"), ValueError),
    ((0, 2**64, "zero"), ValueError),
    ((2**63, 2**63, "zero"), ValueError),
    ((0.0, 10, "zero"), TypeError),
    ((True, 10, "zero"), TypeError),
    ((0, "10", "zero"), TypeError),
    ((0, 10, ""), ValueError),
    ((0, 10, "x" * 16), ValueError),
    ((0, 10, "bad\0type"), ValueError),
    ((0, 10, "two words"), ValueError),
    ((0, 10, 5), TypeError),
    ((0, 10, "linear", "a\0b"), ValueError),
    ((0, 10, "linear", "   "), ValueError),
    ((0, 10, "linear", "\t\n"), ValueError),
    ((0, 10, "linear", None), TypeError),
])
def test_target_validation(args: tuple, error: type) -> None:
    with pytest.raises(error):
        Target(*args)


def test_target_accepts_edge_values() -> None:
    Target(0, 1, "x" * 15)
    Target(0, 10, "zero", "")
    Target(2**63, 2**63 - 1, "error")
    Target(0, 10, "crypt", "aes-xts-plain64 :64:logon:k 0 /dev/sda 0 1 allow_discards")


def test_parse_line() -> None:
    assert Target.parse("0 100 zero") == Target(0, 100, "zero", "")
    assert Target.parse("  100  50   linear   /dev/sda 2048  \n") == Target(
        100, 50, "linear", "/dev/sda 2048")
    assert Target.parse("0 8 crypt a  b\tc") == Target(0, 8, "crypt", "a  b\tc")


@pytest.mark.parametrize("line", [
    "", "0 100", "zero", "0 x zero", "-1 10 zero", "0 0 zero", "0x0 10 zero",
    "0 10 " + "t" * 16,
])
def test_parse_line_rejects(line: str) -> None:
    with pytest.raises(ValueError):
        Target.parse(line)


def test_parse_table_and_format() -> None:
    text = "# comment\n0 100 zero\n\n100 50 error\n150 10 linear /dev/x 0\n"
    table = parse_table(text)
    assert table == [Target(0, 100, "zero"), Target(100, 50, "error"),
                     Target(150, 10, "linear", "/dev/x 0")]
    assert format_table(table) == "0 100 zero\n100 50 error\n150 10 linear /dev/x 0\n"
    validate_table(table)


def test_table_must_start_at_zero() -> None:
    with pytest.raises(ValueError, match="start at sector 0"):
        validate_table([Target(8, 100, "zero")])


def test_table_gap() -> None:
    with pytest.raises(ValueError, match="not contiguous.*gap"):
        validate_table([Target(0, 100, "zero"), Target(101, 5, "zero")])


def test_table_overlap() -> None:
    with pytest.raises(ValueError, match="not contiguous.*overlap"):
        validate_table([Target(0, 100, "zero"), Target(99, 5, "zero")])


def test_table_empty() -> None:
    with pytest.raises(ValueError, match="at least one target"):
        validate_table([])
    with pytest.raises(ValueError, match="at least one target"):
        as_table("\n# nothing\n")


def test_table_entries_must_be_targets() -> None:
    with pytest.raises(TypeError):
        validate_table([("0", "1", "zero")])  # type: ignore[list-item]


def test_as_table_forms() -> None:
    expected = [Target(0, 10, "zero"), Target(10, 5, "error")]
    assert as_table("0 10 zero\n10 5 error") == expected
    assert as_table(expected) == expected
    assert as_table(["0 10 zero", "10 5 error"]) == expected
    assert as_table([(0, 10, "zero"), (10, 5, "error", "")]) == expected
    assert as_table(Target(0, 3, "zero")) == [Target(0, 3, "zero")]
    with pytest.raises(TypeError):
        as_table([42])  # type: ignore[list-item]


def test_target_status_str() -> None:
    assert str(TargetStatus(0, 10, "zero", "")) == "0 10 zero"
    assert str(TargetStatus(0, 10, "thin", "5 -")) == "0 10 thin 5 -"


# -- names and uuids ----------------------------------------------------------------


def test_valid_names() -> None:
    for name in ["a", "vg-lv", "x" * 127, "with space", "ünïcode", "é" * 63]:
        assert validate_name(name) == name


@pytest.mark.parametrize("name,error", [
    ("", ValueError),
    ("a/b", ValueError),
    ("/dev/mapper/x", ValueError),
    ("x" * 128, ValueError),
    ("é" * 64, ValueError),  # 128 bytes in UTF-8
    ("nul\0", ValueError),
    (b"bytes", TypeError),
    (None, TypeError),
])
def test_invalid_names(name: object, error: type) -> None:
    with pytest.raises(error):
        validate_name(name)


def test_reserved_names_only_for_new_devices() -> None:
    for name in ("control", ".", ".."):
        assert validate_name(name) == name
        with pytest.raises(ValueError, match="reserved"):
            validate_name(name, new=True)


def test_uuids() -> None:
    assert validate_uuid("LVM-" + "a" * 124) == "LVM-" + "a" * 124
    for bad in ["", "u" * 129, "é" * 65, "a\0b"]:
        with pytest.raises(ValueError):
            validate_uuid(bad)
    with pytest.raises(TypeError):
        validate_uuid(123)


def test_api_validates_before_calling_c() -> None:
    """Argument errors are raised before any library call (these would need
    a kernel otherwise)."""
    mapper = devmapper.DeviceMapper(udev_sync=False)
    with pytest.raises(ValueError):
        mapper.create("bad/name", "0 10 zero")
    with pytest.raises(ValueError):
        mapper.create("control", "0 10 zero")
    with pytest.raises(ValueError):
        mapper.create("ok", "0 10 zero", uuid="u" * 129)
    with pytest.raises(ValueError):
        mapper.create("ok", "0 10 zero\n20 10 zero")
    with pytest.raises(ValueError):
        mapper.create("ok", [])
    with pytest.raises(ValueError):
        mapper.info("x" * 128)
    with pytest.raises(ValueError):
        mapper.rename("ok")
    with pytest.raises(ValueError):
        mapper.rename("ok", new_name="a", new_uuid="b")
    with pytest.raises(ValueError):
        mapper.rename("ok", new_name="a/b")
    with pytest.raises(ValueError):
        mapper.target_message("linear", "Hello")
    with pytest.raises(ValueError):
        mapper.target_message("x" * 16, "%Hello")
    with pytest.raises(ValueError):
        mapper.message("dev", -1, "text")
    with pytest.raises(ValueError):
        mapper.message("dev", 0, "  ")
    with pytest.raises(ValueError):
        mapper.wait_event("dev", -1)
    with pytest.raises(TypeError):
        mapper.suspend(b"dev")  # type: ignore[arg-type]
