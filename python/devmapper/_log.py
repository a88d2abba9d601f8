"""The library's log callback: C printf formatting, per-thread capture, logging.

libdevmapper reports errors as text through one process-wide callback of type
``dm_log_with_errno_fn``::

    void fn(int level, const char *file, int line, int dm_errno_or_class,
            const char *format, ...);

ctypes cannot declare a variadic callback, so the callback is declared with the
five named parameters followed by :data:`VARARG_SLOTS` extra 64-bit integer
parameters.  On the Linux x86_64 (System V) and aarch64 (AAPCS64) calling
conventions a variadic call passes its integer and pointer arguments exactly
where a non-variadic call with more parameters would (the remaining argument
registers, then consecutive 8-byte stack slots), so the extra parameters
receive the variadic integer/pointer arguments in order.  The format string is
then rendered in Python with those values (:func:`format_printf`).

Limitations (documented in the README as well):

* floating-point arguments (``%f``, ``%g``, ...) travel in vector registers
  that this scheme cannot see; they are rendered as ``?`` (and, correctly,
  consume no integer slot);
* ``long double`` arguments (``%Lf``) are passed in memory; they are rendered
  as ``?`` and the following arguments of that message may be wrong;
* at most :data:`VARARG_SLOTS` integer/pointer arguments are decoded; later
  conversions are rendered as ``?``;
* on other architectures no variadic argument is decoded at all: every
  conversion is rendered as ``?`` (the format text itself is kept).

Strings behind ``%s`` are read through ``/proc/self/mem`` when possible, so a
bad pointer produces ``(bad pointer)`` instead of a crash.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence

__all__ = [
    "LOG_FATAL",
    "LOG_ERR",
    "LOG_WARN",
    "LOG_NOTICE",
    "LOG_INFO",
    "LOG_DEBUG",
    "LogMessage",
    "VARARGS_SUPPORTED",
    "VARARG_SLOTS",
    "format_printf",
    "capture",
    "logger",
]

#: libdm log levels (``level & 0x0f``).
LOG_FATAL = 2
LOG_ERR = 3
LOG_WARN = 4
LOG_NOTICE = 5
LOG_INFO = 6
LOG_DEBUG = 7
_LEVEL_MASK = 0x0F

#: Number of extra integer parameters given to the callback prototype.
VARARG_SLOTS = 32

_MACHINE = platform.machine().lower()
#: Whether variadic integer/pointer arguments are decoded on this platform.
VARARGS_SUPPORTED: bool = sys.platform.startswith("linux") and _MACHINE in (
    "x86_64",
    "amd64",
    "aarch64",
    "arm64",
)

#: Messages at or below this (masked) level are a call's error text.
ERROR_LEVEL_MAX = LOG_ERR
#: At most this many messages are kept per captured call.
_CAPTURE_LIMIT = 64

logger = logging.getLogger("devmapper")
logger.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class LogMessage:
    """One message the library logged."""

    level: int
    file: str
    line: int
    errno: int
    text: str

    @property
    def is_error(self) -> bool:
        return (self.level & _LEVEL_MASK) <= ERROR_LEVEL_MAX


# ---------------------------------------------------------------------------
# Reading C strings safely
# ---------------------------------------------------------------------------

_PAGE = 4096
_MAX_STRING = 1 << 16


class _SafeMemory:
    """Reads NUL-terminated strings from our own address space.

    Uses ``pread`` on ``/proc/self/mem`` (a bad address fails with EIO instead
    of crashing the process); falls back to :func:`ctypes.string_at` when that
    file cannot be opened.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: Optional[int] = None
        self._pid: Optional[int] = None  # the process the fd belongs to

    def _get_fd(self) -> Optional[int]:
        pid = os.getpid()
        with self._lock:
            if self._pid != pid:
                # First use, or we are a forked child: the inherited file
                # would show the parent's memory.
                if self._fd is not None and self._pid is not None:
                    try:
                        os.close(self._fd)
                    except OSError:
                        pass
                self._pid = pid
                try:
                    self._fd = os.open("/proc/self/mem", os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    self._fd = None
            return self._fd

    def cstring(self, address: int, limit: Optional[int] = None) -> Optional[bytes]:
        """The bytes at ``address`` up to the NUL (or ``limit`` bytes).

        Returns None if the memory cannot be read.
        """
        cap = _MAX_STRING if limit is None else min(limit, _MAX_STRING)
        fd = self._get_fd()
        if fd is None:
            raw = ctypes.string_at(address)
            return raw if limit is None else raw[:limit]
        out = bytearray()
        pos = address
        while len(out) < cap:
            chunk = min(_PAGE - (pos % _PAGE), cap - len(out))
            try:
                data = os.pread(fd, chunk, pos)
            except (OSError, OverflowError, ValueError):
                return None if not out else bytes(out)
            if not data:
                return None if not out else bytes(out)
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                return bytes(out)
            out += data
            pos += len(data)
        return bytes(out)


_memory = _SafeMemory()


def read_c_string(address: int, limit: Optional[int] = None) -> Optional[bytes]:
    """Read a C string from this process' memory (None if unreadable)."""
    return _memory.cstring(address, limit)


# ---------------------------------------------------------------------------
# printf formatting
# ---------------------------------------------------------------------------

_SPEC = re.compile(
    rb"%(?P<flags>[-+ #0']*)"
    rb"(?P<width>\*|\d+)?"
    rb"(?:\.(?P<prec>\*|\d*))?"
    rb"(?P<len>hh|h|ll|l|L|q|j|z|Z|t)?"
    rb"(?P<conv>[diouxXeEfFgGaAcspnm%])"
)

_INT_BITS = {
    None: 32,
    b"hh": 8,
    b"h": 16,
    b"l": 64,
    b"ll": 64,
    b"q": 64,
    b"j": 64,
    b"z": 64,
    b"Z": 64,
    b"t": 64,
    b"L": 64,
}

_FLOAT_CONVERSIONS = frozenset(bytes([c]) for c in b"eEfFgGaA")


class _Args:
    """Sequential access to the variadic integer slots."""

    def __init__(self, slots: Sequence[int]) -> None:
        self._slots = slots
        self._pos = 0

    def next(self) -> Optional[int]:
        if self._pos >= len(self._slots):
            self._pos += 1
            return None
        value = self._slots[self._pos]
        self._pos += 1
        return int(value) & 0xFFFFFFFFFFFFFFFF

    def skip(self, count: int) -> None:
        self._pos += count


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    if value >> (bits - 1):
        value -= 1 << bits
    return value


def _pad(text: bytes, width: Optional[int], left: bool, zero: bool = False) -> bytes:
    if width is None or len(text) >= width:
        return text
    fill = width - len(text)
    if left:
        return text + b" " * fill
    if zero:
        sign = b""
        if text[:1] in (b"-", b"+", b" "):
            sign, text = text[:1], text[1:]
        return sign + b"0" * fill + text
    return b" " * fill + text


def format_printf(
    fmt: bytes,
    slots: Sequence[int],
    read_string: Callable[[int, Optional[int]], Optional[bytes]] = read_c_string,
    errno: int = 0,
) -> str:
    """Render a C printf format with integer/pointer argument ``slots``.

    ``slots`` are the raw 64-bit values of the variadic integer arguments in
    order (see the module documentation); ``read_string(address, limit)``
    reads the string behind a ``%s`` pointer.  Floating-point conversions are
    rendered as ``?`` and consume no slot.  ``%m`` renders ``strerror(errno)``
    when ``errno`` is positive.  ``%n`` consumes its argument and writes
    nothing.  Returns text decoded as UTF-8 (invalid bytes replaced).
    """
    args = _Args(slots)
    out = bytearray()
    pos = 0
    for match in _SPEC.finditer(fmt):
        out += fmt[pos:match.start()]
        pos = match.end()
        conv = match.group("conv")
        if conv == b"%":
            out += b"%"
            continue
        flags = match.group("flags").replace(b"'", b"")
        left = b"-" in flags
        zero = b"0" in flags and not left
        width: Optional[int] = None
        raw_width = match.group("width")
        if raw_width == b"*":
            w = args.next()
            if w is not None:
                w = _signed(w, 32)
                if w < 0:
                    left, zero, w = True, False, -w
                width = w
        elif raw_width:
            width = int(raw_width)
        prec: Optional[int] = None
        raw_prec = match.group("prec")
        if raw_prec == b"*":
            p = args.next()
            if p is not None:
                p = _signed(p, 32)
                prec = p if p >= 0 else None
        elif raw_prec is not None:
            prec = int(raw_prec) if raw_prec else 0
        length = match.group("len")

        if conv in _FLOAT_CONVERSIONS:
            if length == b"L":
                args.skip(2)  # long double: 16 bytes in memory (approximate)
            out += _pad(b"?", width, left)
            continue
        if conv == b"m":
            text = os.strerror(errno).encode() if errno > 0 else b"?"
            out += _pad(text, width, left)
            continue

        value = args.next()
        if conv == b"n":
            continue
        if value is None:
            out += _pad(b"?", width, left)
            continue

        if conv == b"s":
            if value == 0:
                text = b"(null)"
                if prec is not None and prec < len(text):
                    text = b""
            else:
                data = read_string(value, prec)
                text = b"(bad pointer)" if data is None else data
                if prec is not None:
                    text = text[:prec]
            out += _pad(text, width, left)
        elif conv == b"c":
            out += _pad(bytes([value & 0xFF]), width, left)
        elif conv == b"p":
            text = b"(nil)" if value == 0 else b"0x%x" % value
            out += _pad(text, width, left)
        else:
            bits = _INT_BITS.get(length, 32)
            if conv in b"di":
                number = _signed(value, bits)
            else:
                number = value & ((1 << bits) - 1)
            if prec == 0 and number == 0:
                digits = b""
                if conv == b"o" and b"#" in flags:
                    digits = b"0"
                out += _pad(digits, width, left)
                continue
            if conv == b"o":
                digits = b"%o" % number
                if b"#" in flags and not digits.startswith(b"0"):
                    digits = b"0" + digits
            elif conv in b"xX":
                digits = (b"%x" if conv == b"x" else b"%X") % number
            else:
                digits = b"%d" % abs(number)
            if prec is not None and len(digits) < prec:
                digits = b"0" * (prec - len(digits)) + digits
            if conv in b"xX" and b"#" in flags and number != 0:
                digits = (b"0x" if conv == b"x" else b"0X") + digits
            sign = b""
            if conv in b"di":
                if number < 0:
                    sign = b"-"
                elif b"+" in flags:
                    sign = b"+"
                elif b" " in flags:
                    sign = b" "
            # The 0 flag is ignored when a precision is given.
            out += _pad(sign + digits, width, left, zero and prec is None)
    out += fmt[pos:]
    return out.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# Per-thread capture
# ---------------------------------------------------------------------------

_local = threading.local()


def _stack() -> List[List[LogMessage]]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = []
        _local.stack = stack
    return stack


@contextmanager
def capture() -> Iterator[List[LogMessage]]:
    """Collect, in this thread, the messages logged while the block runs.

    Only messages that need to be kept are collected: errors (level <= 3) and
    warnings.  Debug-level text is never formatted unless the ``devmapper``
    logger is enabled for DEBUG.
    """
    messages: List[LogMessage] = []
    stack = _stack()
    stack.append(messages)
    try:
        yield messages
    finally:
        stack.pop()


def error_texts(messages: Sequence[LogMessage]) -> List[str]:
    """The error-level texts among ``messages``."""
    return [m.text for m in messages if m.is_error]


def reported_errno(messages: Sequence[LogMessage]) -> Optional[int]:
    """A positive errno that came with an error message, if any."""
    for m in messages:
        if m.is_error and m.errno > 0:
            return m.errno
    return None


def _python_level(level: int) -> int:
    if level <= LOG_ERR:
        return logging.DEBUG  # raised as an exception; logged for debugging only
    if level == LOG_WARN:
        return logging.INFO
    return logging.DEBUG


def handle_message(
    level: int,
    file: Optional[bytes],
    line: int,
    dm_errno: int,
    fmt: Optional[bytes],
    slots: Sequence[int],
) -> None:
    """Process one library log call (the body of the C callback)."""
    masked = level & _LEVEL_MASK
    stack = getattr(_local, "stack", None)
    keep = bool(stack) and masked <= LOG_WARN
    py_level = _python_level(masked)
    uncaptured_error = not stack and masked <= LOG_ERR
    if uncaptured_error:
        py_level = logging.WARNING
    wants_log = logger.isEnabledFor(py_level)
    if not keep and not wants_log:
        return
    text = format_printf(
        fmt or b"",
        slots if VARARGS_SUPPORTED else (),
        errno=dm_errno,
    )
    file_name = (file or b"").decode("utf-8", "replace")
    if keep and stack is not None:
        target = stack[-1]
        if len(target) < _CAPTURE_LIMIT:
            target.append(LogMessage(masked, file_name, line, dm_errno, text))
    if wants_log:
        logger.log(
            py_level,
            "%s",
            text,
            extra={
                "dm_level": masked,
                "dm_file": file_name,
                "dm_line": line,
                "dm_errno": dm_errno,
            },
        )


# ---------------------------------------------------------------------------
# The C callback
# ---------------------------------------------------------------------------

#: ``dm_log_with_errno_fn`` as ctypes sees it: the five named parameters plus
#: :data:`VARARG_SLOTS` 64-bit integer parameters that receive the variadic
#: integer/pointer arguments on supported platforms.
LOG_WITH_ERRNO_FN = ctypes.CFUNCTYPE(
    None,
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_char_p,
    *([ctypes.c_uint64] * VARARG_SLOTS),
)


def _callback(
    level: int, file: Optional[bytes], line: int, dm_errno: int,
    fmt: Optional[bytes], *slots: int,
) -> None:
    try:
        handle_message(level, file, line, dm_errno, fmt, slots)
    except BaseException:  # never let an exception cross into C
        pass


#: The callback object handed to ``dm_log_with_errno_init``; it must stay alive
#: for as long as the library may call it.
C_CALLBACK = LOG_WITH_ERRNO_FN(_callback)
