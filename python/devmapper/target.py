"""Table lines, device names and uuids, validated the way the kernel needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Sequence, Tuple, Union

__all__ = [
    "Target",
    "TargetStatus",
    "TableLike",
    "parse_table",
    "format_table",
    "validate_table",
    "as_table",
    "validate_name",
    "validate_uuid",
    "validate_target_type",
    "NAME_MAX_BYTES",
    "UUID_MAX_BYTES",
    "TYPE_MAX_BYTES",
]

#: Names must be shorter than DM_NAME_LEN (128) bytes.
NAME_MAX_BYTES = 127
#: Uuids must be shorter than DM_UUID_LEN (129) bytes.
UUID_MAX_BYTES = 128
#: Target types must be shorter than DM_MAX_TYPE_NAME (16) bytes.
TYPE_MAX_BYTES = 15

_U64_MAX = (1 << 64) - 1
_RESERVED_NAMES = frozenset({"control", ".", ".."})


def _utf8(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def validate_name(name: object, *, new: bool = False, what: str = "device name") -> str:
    """Check a device name: a non-empty str of at most 127 UTF-8 bytes with
    no '/' and no NUL.  With ``new`` (a name being created or renamed to) the
    names the kernel reserves ("control", ".", "..") are refused too.
    Returns the name; raises TypeError/ValueError.
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError(f"{what} must not be empty")
    if "\0" in name:
        raise ValueError(f"{what} {name!r} contains a NUL character")
    if "/" in name:
        raise ValueError(f"{what} {name!r} contains '/'")
    size = len(_utf8(name))
    if size > NAME_MAX_BYTES:
        raise ValueError(
            f"{what} is {size} bytes long; the limit is {NAME_MAX_BYTES} bytes")
    if new and name in _RESERVED_NAMES:
        raise ValueError(f"{what} {name!r} is reserved by the kernel")
    return name


def validate_uuid(uuid: object) -> str:
    """Check a uuid: a non-empty str of at most 128 UTF-8 bytes, no NUL."""
    if not isinstance(uuid, str):
        raise TypeError(f"uuid must be a str, not {type(uuid).__name__}")
    if not uuid:
        raise ValueError("uuid must not be empty (pass None for no uuid)")
    if "\0" in uuid:
        raise ValueError(f"uuid {uuid!r} contains a NUL character")
    size = len(_utf8(uuid))
    if size > UUID_MAX_BYTES:
        raise ValueError(
            f"uuid is {size} bytes long; the limit is {UUID_MAX_BYTES} bytes")
    return uuid


def validate_target_type(ttype: object) -> str:
    """Check a target type name: non-empty, < 16 bytes, no NUL, no whitespace."""
    if not isinstance(ttype, str):
        raise TypeError(f"target type must be a str, not {type(ttype).__name__}")
    if not ttype:
        raise ValueError("target type must not be empty")
    if "\0" in ttype:
        raise ValueError(f"target type {ttype!r} contains a NUL character")
    if any(c.isspace() for c in ttype):
        raise ValueError(f"target type {ttype!r} contains whitespace")
    size = len(_utf8(ttype))
    if size > TYPE_MAX_BYTES:
        raise ValueError(
            f"target type {ttype!r} is {size} bytes long; the limit is "
            f"{TYPE_MAX_BYTES} bytes")
    return ttype


def _check_sector(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must not be negative (got {value})")
    if value > _U64_MAX:
        raise ValueError(f"{what} {value} does not fit in 64 bits")
    return value


@dataclass(frozen=True)
class Target:
    """One table line: ``start length type params`` (start/length in sectors).

    Validated on construction: ``start >= 0``, ``length > 0``, a type of 1-15
    bytes without whitespace or NUL, and params without NUL that are either
    empty (``0 100 zero``) or contain something other than whitespace.
    """

    start: int
    length: int
    type: str
    params: str = ""

    def __post_init__(self) -> None:
        _check_sector(self.start, "start")
        _check_sector(self.length, "length")
        if self.length == 0:
            raise ValueError("length must be greater than 0")
        validate_target_type(self.type)
        if not isinstance(self.params, str):
            raise TypeError(
                f"params must be a str, not {type(self.params).__name__}")
        if "\0" in self.params:
            raise ValueError(f"params of {self.type!r} contain a NUL character")
        if self.params and self.params.isspace():
            raise ValueError(
                f"params of {self.type!r} are all whitespace (use '' for none)")
        if self.start + self.length > _U64_MAX:
            raise ValueError("start + length does not fit in 64 bits")

    @property
    def end(self) -> int:
        """The first sector after this target."""
        return self.start + self.length

    @classmethod
    def parse(cls, line: str) -> "Target":
        """Parse ``"start length type [params]"`` (dmsetup table syntax)."""
        if not isinstance(line, str):
            raise TypeError(f"table line must be a str, not {type(line).__name__}")
        fields = line.strip().split(None, 3)
        if len(fields) < 3:
            raise ValueError(
                f"table line {line!r} needs at least: start length type")
        start_s, length_s, ttype = fields[:3]
        params = fields[3] if len(fields) == 4 else ""
        try:
            start = int(start_s, 10)
            length = int(length_s, 10)
        except ValueError:
            raise ValueError(
                f"table line {line!r}: start and length must be decimal integers"
            ) from None
        return cls(start, length, ttype, params)

    @classmethod
    def _from_kernel(cls, start: int, length: int, ttype: str, params: str) -> "Target":
        """Build a Target from the kernel's own output without validation."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "start", start)
        object.__setattr__(obj, "length", length)
        object.__setattr__(obj, "type", ttype)
        object.__setattr__(obj, "params", params)
        return obj

    def __str__(self) -> str:
        line = f"{self.start} {self.length} {self.type}"
        return f"{line} {self.params}" if self.params else line


@dataclass(frozen=True)
class TargetStatus:
    """One line of ``status`` output: the target's range, type and status."""

    start: int
    length: int
    type: str
    params: str

    def __str__(self) -> str:
        line = f"{self.start} {self.length} {self.type}"
        return f"{line} {self.params}" if self.params else line


#: What the table-taking functions accept.
TableLike = Union[str, Target, Iterable[Union[Target, str, Tuple[Any, ...]]]]


def parse_table(text: str) -> List[Target]:
    """Parse a multi-line table; blank lines and ``#`` comments are skipped."""
    targets = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        targets.append(Target.parse(stripped))
    return targets


def format_table(targets: Iterable[Target]) -> str:
    """The table in dmsetup syntax, one line per target."""
    return "".join(f"{t}\n" for t in targets)


def validate_table(targets: Sequence[Target]) -> None:
    """Check that a table is loadable: non-empty, starting at sector 0, and
    contiguous (each start equals the previous start + length)."""
    if not targets:
        raise ValueError("a table needs at least one target")
    expected = 0
    for index, target in enumerate(targets):
        if not isinstance(target, Target):
            raise TypeError(
                f"table entry {index} is a {type(target).__name__}, not a Target")
        if target.start != expected:
            if index == 0:
                raise ValueError(
                    f"the table must start at sector 0, not {target.start}")
            kind = "gap" if target.start > expected else "overlap"
            raise ValueError(
                f"table is not contiguous: target {index} ({target}) starts at "
                f"sector {target.start} but the previous target ends at sector "
                f"{expected} ({kind})")
        expected = target.end


def as_table(table: TableLike) -> List[Target]:
    """Normalise a table argument (a str, a Target, or an iterable of
    Targets, lines or ``(start, length, type[, params])`` tuples) and validate
    it with :func:`validate_table`."""
    if isinstance(table, str):
        targets = parse_table(table)
    elif isinstance(table, Target):
        targets = [table]
    else:
        targets = []
        for item in table:
            if isinstance(item, Target):
                targets.append(item)
            elif isinstance(item, str):
                targets.append(Target.parse(item))
            elif isinstance(item, tuple):
                targets.append(Target(*item))
            else:
                raise TypeError(
                    f"cannot use a {type(item).__name__} as a table entry")
    validate_table(targets)
    return targets
