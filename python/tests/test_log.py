"""The log callback: printf rendering, variadic argument slots, capture and
routing to the ``devmapper`` logger (no kernel needed)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any, List, Sequence, Tuple

import pytest

import devmapper
from devmapper import _log

needs_varargs = pytest.mark.skipif(
    not _log.VARARGS_SUPPORTED,
    reason="variadic arguments are only decoded on Linux x86_64/aarch64")

_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_snprintf = _libc.snprintf
_snprintf.restype = ctypes.c_int

_keep: List[Any] = []  # keeps string buffers alive during a test


def c_render(fmt: bytes, args: Sequence[Any]) -> str:
    """What glibc's snprintf makes of ``fmt`` with ctypes ``args``."""
    buf = ctypes.create_string_buffer(1024)
    _snprintf(buf, ctypes.c_size_t(len(buf)), ctypes.c_char_p(fmt), *args)
    return buf.value.decode("utf-8", "replace")


def slot_of(arg: Any) -> int:
    """The raw 64-bit value a variadic integer/pointer argument occupies.
    32-bit values get garbage in the upper half, as registers may have."""
    if isinstance(arg, ctypes.Array):
        return ctypes.addressof(arg)
    if isinstance(arg, ctypes.c_char_p):
        return ctypes.cast(arg, ctypes.c_void_p).value or 0
    if isinstance(arg, ctypes.c_void_p):
        return arg.value or 0
    size = ctypes.sizeof(arg)
    value = arg.value & ((1 << (8 * size)) - 1)
    if size < 8:
        value |= 0xDEADBEEF << 32
    return value


def string(text: bytes) -> Any:
    buf = ctypes.create_string_buffer(text)
    _keep.append(buf)
    return buf


CASES: List[Tuple[bytes, List[Any]]] = [
    (b"plain text", []),
    (b"100%% sure", []),
    (b"%d|%i|%u|%x|%X|%o", [ctypes.c_int(-42), ctypes.c_int(7),
                             ctypes.c_uint(4000000000), ctypes.c_uint(0xBEEF),
                             ctypes.c_uint(0xBEEF), ctypes.c_uint(8)]),
    (b"[%5d][%-5d][%05d][%+d][% d][%.3d][%.0d][%.0d]",
     [ctypes.c_int(42), ctypes.c_int(42), ctypes.c_int(-42), ctypes.c_int(5),
      ctypes.c_int(5), ctypes.c_int(7), ctypes.c_int(0), ctypes.c_int(3)]),
    (b"[%#x][%#o][%#X][%#x][%08.3d][%-+6d]",
     [ctypes.c_uint(255), ctypes.c_uint(8), ctypes.c_uint(255), ctypes.c_uint(0),
      ctypes.c_int(12), ctypes.c_int(9)]),
    (b"%ld %lu %lld %llu %zu %zd %jd %td",
     [ctypes.c_long(-1), ctypes.c_ulong(2**64 - 1), ctypes.c_longlong(-2**63),
      ctypes.c_ulonglong(2**63), ctypes.c_size_t(12345678901),
      ctypes.c_ssize_t(-5), ctypes.c_int64(-7), ctypes.c_int64(9)]),
    (b"%hd %hu %hhd %hhu", [ctypes.c_int(70000), ctypes.c_int(70000),
                            ctypes.c_int(300), ctypes.c_int(-1)]),
    (b"<%s> <%.3s> <%10s> <%-10s> <%.*s> <%*s>",
     [string(b"alpha"), string(b"bravo"), string(b"charlie"), string(b"delta"),
      ctypes.c_int(2), string(b"echo"), ctypes.c_int(6), string(b"fox")]),
    (b"%c%c%c", [ctypes.c_int(ord("o")), ctypes.c_int(ord("k")),
                 ctypes.c_int(ord("!"))]),
    (b"[%*d][%-*d]", [ctypes.c_int(6), ctypes.c_int(1), ctypes.c_int(-4),
                      ctypes.c_int(2)]),
    (b"%s", [ctypes.c_char_p(None)]),
    (b"%p %p", [ctypes.c_void_p(0x1234), ctypes.c_void_p(None)]),
    (b"dm %s %s%s %s [%u] (*%u)", [string(b"info"), string(b""),
                                   string(b"name"), string(b"uuid"),
                                   ctypes.c_uint(16384), ctypes.c_uint(1)]),
    (b"%s \xc3\xa9t\xc3\xa9", [string(b"utf8")]),
]


@pytest.mark.parametrize("fmt,args", CASES)
def test_format_matches_glibc(fmt: bytes, args: List[Any]) -> None:
    expected = c_render(fmt, args)
    got = _log.format_printf(fmt, [slot_of(a) for a in args])
    assert got == expected


def test_format_floats_and_missing_args() -> None:
    # Floats consume no integer slot; they render as '?'.
    assert _log.format_printf(b"%d %.2f %s %Lf", [5, 0]) == "5 ? (null) ?"
    # More conversions than slots.
    assert _log.format_printf(b"%d %d %s", [1]) == "1 ? ?"
    # %n never writes, %m uses the errno argument.
    assert _log.format_printf(b"a%nb", [0x10]) == "ab"
    assert _log.format_printf(b"%m", [], errno=2) == "No such file or directory"
    assert _log.format_printf(b"%m", []) == "?"


def test_format_bad_pointer_does_not_crash() -> None:
    assert _log.format_printf(b"<%s>", [0x10]) == "<(bad pointer)>"


def test_format_invalid_utf8() -> None:
    assert _log.format_printf(b"bad \xff byte", []) == "bad \ufffd byte"


def test_read_c_string_limits() -> None:
    buf = ctypes.create_string_buffer(b"hello world")
    address = ctypes.addressof(buf)
    assert _log.read_c_string(address) == b"hello world"
    assert _log.read_c_string(address, 5) == b"hello"
    assert _log.read_c_string(0x8) is None


# -- the installed callback --------------------------------------------------------


def installed_callback() -> Any:
    """The function the library's ``dm_log_with_errno`` pointer now holds,
    callable with any number of arguments."""
    lib = devmapper.get_library()
    lib.install_log_handler()
    address = ctypes.c_void_p.in_dll(lib._cdll, "dm_log_with_errno").value
    assert address is not None
    assert address == ctypes.cast(_log.C_CALLBACK, ctypes.c_void_p).value
    func = ctypes.CDLL(None)._FuncPtr(address)
    func.restype = None
    return func


def call_log(func: Any, level: int, fmt: bytes, *args: Any) -> None:
    func(ctypes.c_int(level), ctypes.c_char_p(b"file.c"), ctypes.c_int(12),
         ctypes.c_int(-1), ctypes.c_char_p(fmt), *args)


@needs_varargs
def test_callback_receives_register_and_stack_arguments() -> None:
    func = installed_callback()
    bufs = [string(b"s%d" % i) for i in range(14)]
    fmt = b" ".join(b"%d:%s" for _ in bufs)
    args: List[Any] = []
    for i, buf in enumerate(bufs):
        args += [ctypes.c_int(-i), buf]
    with _log.capture() as messages:
        call_log(func, 3, fmt, *args)
    assert [m.text for m in messages] == [
        " ".join(f"{-i}:s{i}" for i in range(14))]
    assert messages[0].file == "file.c" and messages[0].line == 12
    assert messages[0].errno == -1 and messages[0].is_error


@needs_varargs
def test_callback_skips_float_arguments() -> None:
    func = installed_callback()
    with _log.capture() as messages:
        call_log(func, 3, b"%d %f %s %g %d", ctypes.c_int(1), ctypes.c_double(2.5),
                 string(b"abc"), ctypes.c_double(1e9), ctypes.c_int(2))
    assert [m.text for m in messages] == ["1 ? abc ? 2"]


def test_capture_keeps_errors_and_warnings_only() -> None:
    func = installed_callback()
    with _log.capture() as messages:
        call_log(func, 3, b"an error")
        call_log(func, 4 | 0x80, b"a warning")
        call_log(func, 7, b"debug noise")
        call_log(func, 2, b"fatal")
    assert [(m.level, m.text) for m in messages] == [
        (3, "an error"), (4, "a warning"), (2, "fatal")]
    assert _log.error_texts(messages) == ["an error", "fatal"]


def test_capture_is_per_thread() -> None:
    func = installed_callback()
    seen: List[List[str]] = []

    def worker() -> None:
        with _log.capture() as inner:
            call_log(func, 3, b"from worker")
        seen.append([m.text for m in inner])

    with _log.capture() as outer:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        call_log(func, 3, b"from main")
    assert seen == [["from worker"]]
    assert [m.text for m in outer] == ["from main"]


def test_nested_capture_goes_to_innermost() -> None:
    func = installed_callback()
    with _log.capture() as outer:
        with _log.capture() as inner:
            call_log(func, 3, b"inner")
        call_log(func, 3, b"outer")
    assert [m.text for m in inner] == ["inner"]
    assert [m.text for m in outer] == ["outer"]


def test_debug_messages_routed_to_logger(caplog: pytest.LogCaptureFixture) -> None:
    func = installed_callback()
    with caplog.at_level(logging.DEBUG, logger="devmapper"):
        call_log(func, 7, b"debug %s", string(b"detail"))
    records = [r for r in caplog.records if r.name == "devmapper"]
    assert [r.getMessage() for r in records] == ["debug detail"]
    assert records[0].levelno == logging.DEBUG
    assert getattr(records[0], "dm_level") == 7
    assert getattr(records[0], "dm_file") == "file.c"


def test_debug_dropped_when_logger_not_enabled(
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture) -> None:
    func = installed_callback()
    with caplog.at_level(logging.WARNING, logger="devmapper"):
        with _log.capture() as messages:
            call_log(func, 7, b"debug noise")
            call_log(func, 6, b"info noise")
    assert messages == []
    assert not [r for r in caplog.records if r.name == "devmapper"]
    out, err = capfd.readouterr()
    assert "noise" not in out and "noise" not in err


def test_callback_never_raises(monkeypatch: pytest.MonkeyPatch,
                               capfd: pytest.CaptureFixture) -> None:
    func = installed_callback()

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_log, "handle_message", boom)
    call_log(func, 3, b"x")  # must not propagate or print a traceback
    out, err = capfd.readouterr()
    assert "boom" not in err


# -- real library messages ----------------------------------------------------------


def test_real_library_error_is_captured() -> None:
    lib = devmapper.get_library()
    lib.install_log_handler()
    with _log.capture() as messages:
        assert lib.dm_set_uuid_prefix(b"X" * 40) == 0
    assert _log.error_texts(messages) == [f"New uuid prefix {'X' * 40} too long."]


@needs_varargs
def test_real_library_integer_arguments() -> None:
    lib = devmapper.get_library()
    lib.install_log_handler()
    parse = getattr(lib._cdll, "dm_config_from_string", None)
    if parse is None:
        pytest.skip("library has no dm_config_from_string")
    parse.restype = ctypes.c_void_p
    parse.argtypes = [ctypes.c_char_p]
    with _log.capture() as messages:
        tree = parse(b"a = 1\nb {\n c = ")
    assert not tree
    texts = _log.error_texts(messages)
    assert texts == ["Parse error at byte 16 (line 3): expected a value"]


def test_restore_default_logging() -> None:
    lib = devmapper.get_library()
    lib.install_log_handler()
    assert lib.dm_log_is_non_default() == 1
    lib.restore_default_logging()
    try:
        assert lib.dm_log_is_non_default() == 0
    finally:
        lib.install_log_handler()
    assert lib.dm_log_is_non_default() == 1


def test_string_reader_after_fork() -> None:
    """A forked child must read its own memory, not its parent's."""
    import os

    buf = ctypes.create_string_buffer(b"parent")
    address = ctypes.addressof(buf)
    assert _log.read_c_string(address) == b"parent"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            buf.value = b"child!"
            os.write(write_fd, _log.read_c_string(address) or b"?")
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as pipe:
        assert pipe.read() == b"child!"
