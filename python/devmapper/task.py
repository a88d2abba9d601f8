"""``Task``: a ``struct dm_task`` with deterministic lifetime.

Methods are the libdm function names without the ``dm_task_`` prefix (the
dmpy convention).  Every call that can fail raises :class:`DMError` carrying
the task's errno and the library's own error text for that call.
"""

from __future__ import annotations

import ctypes
from ctypes import byref, c_char_p, c_uint32, c_uint64, c_void_p
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Tuple

from . import _lib, _log, _parse
from .errors import DMError
from .target import Target, TargetStatus

__all__ = ["Task", "DeviceInfo"]


def _enc(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def _dec(value: Optional[bytes]) -> Optional[str]:
    if value is None:
        return None
    return value.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class DeviceInfo:
    """What ``dm_task_get_info`` reports about a device (plus name/uuid)."""

    exists: bool
    suspended: bool
    live_table: bool
    inactive_table: bool
    open_count: int
    event_nr: int
    major: int
    minor: int
    read_only: bool
    target_count: int
    deferred_remove: bool
    internal_suspend: bool
    name: Optional[str] = None
    uuid: Optional[str] = None

    @property
    def dev(self) -> Tuple[int, int]:
        return (self.major, self.minor)


class Task:
    """A libdm task of one type (``DM_DEVICE_*``).

    Use as a context manager, or call :meth:`close`; the task is also
    destroyed when garbage-collected.  The object passes straight to the
    low-level functions through ``_as_parameter_``.
    """

    def __init__(self, task_type: int, *, library: Optional[_lib.Library] = None) -> None:
        self._ptr: Optional[Any] = None
        self._lib = library if library is not None else _lib.get_library()
        self._lib.install_log_handler()
        self.task_type = int(task_type)
        self.operation = _lib.TASK_TYPE_NAMES.get(self.task_type, f"task {task_type}")
        self.device: Optional[str] = None
        self._ran = False
        with _log.capture() as messages:
            ptr = self._lib.dm_task_create(self.task_type)
        if not ptr:
            texts = _log.error_texts(messages)
            if not texts:
                texts = [
                    "dm_task_create failed: cannot use the device-mapper "
                    "driver (is the dm-mod kernel module available and "
                    "/dev/mapper/control accessible by this user?)"
                ]
            raise DMError.from_call(
                _log.reported_errno(messages), texts, operation=self.operation)
        self._ptr = ptr

    # -- lifetime ---------------------------------------------------------------

    @property
    def _as_parameter_(self) -> Any:
        if self._ptr is None:
            raise ValueError("the task has been closed")
        return self._ptr

    def _check_open(self) -> None:
        if self._ptr is None:
            raise ValueError("the task has been closed")

    @property
    def library(self) -> _lib.Library:
        return self._lib

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def close(self) -> None:
        """Destroy the task (idempotent)."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._lib.dm_task_destroy(ptr)

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._ptr is None else "open"
        return f"<devmapper.Task {self.operation} {self.device!r} {state}>"

    # -- calling ----------------------------------------------------------------

    def _error(self, messages: List[_log.LogMessage], *, run: bool) -> DMError:
        errno: Optional[int] = None
        if run and self._lib.has("dm_task_get_errno") and self._ptr is not None:
            errno = self._lib.dm_task_get_errno(self._ptr) or None
        if errno is None:
            errno = _log.reported_errno(messages)
        return DMError.from_call(
            errno, _log.error_texts(messages),
            operation=self.operation, device=self.device)

    def call(self, function: str, *args: Any) -> int:
        """Call ``function(task, *args)``; a 0 result raises DMError."""
        self._check_open()
        func = getattr(self._lib, function)
        with _log.capture() as messages:
            result = func(self, *args)
        if not result:
            err = self._error(messages, run=False)
            if not err.messages:
                err = DMError(
                    err.errno, f"{function} failed", operation=self.operation,
                    device=self.device)
            raise err
        return int(result)

    def run(self) -> None:
        """``dm_task_run``; raises DMError with the ioctl errno on failure."""
        self._check_open()
        with _log.capture() as messages:
            ok = self._lib.dm_task_run(self)
        if not ok:
            self._ran = False
            raise self._error(messages, run=True)
        self._ran = True

    def _require_run(self, what: str) -> None:
        if not self._ran:
            raise RuntimeError(f"{what} needs a task that ran successfully")

    # -- setters ------------------------------------------------------------------

    def set_name(self, name: str) -> None:
        self.device = name
        self.call("dm_task_set_name", _enc(name))

    def set_uuid(self, uuid: str) -> None:
        if self.device is None:
            self.device = uuid
        self.call("dm_task_set_uuid", _enc(uuid))

    def set_newname(self, newname: str) -> None:
        self.call("dm_task_set_newname", _enc(newname))

    def set_newuuid(self, newuuid: str) -> None:
        self.call("dm_task_set_newuuid", _enc(newuuid))

    def set_major(self, major: int) -> None:
        self.call("dm_task_set_major", major)

    def set_minor(self, minor: int) -> None:
        self.call("dm_task_set_minor", minor)

    def set_major_minor(self, major: int, minor: int,
                        allow_default_major_fallback: bool = True) -> None:
        self.call("dm_task_set_major_minor", major, minor,
                  int(allow_default_major_fallback))

    def set_uid(self, uid: int) -> None:
        self.call("dm_task_set_uid", uid)

    def set_gid(self, gid: int) -> None:
        self.call("dm_task_set_gid", gid)

    def set_mode(self, mode: int) -> None:
        self.call("dm_task_set_mode", mode)

    def set_ro(self) -> None:
        self.call("dm_task_set_ro")

    def set_event_nr(self, event_nr: int) -> None:
        self.call("dm_task_set_event_nr", event_nr)

    def set_message(self, message: str) -> None:
        self.call("dm_task_set_message", _enc(message))

    def set_sector(self, sector: int) -> None:
        self.call("dm_task_set_sector", sector)

    def set_geometry(self, cylinders: str, heads: str, sectors: str, start: str) -> None:
        self.call("dm_task_set_geometry", _enc(cylinders), _enc(heads),
                  _enc(sectors), _enc(start))

    def set_read_ahead(self, read_ahead: int, flags: int = 0) -> None:
        self.call("dm_task_set_read_ahead", read_ahead, flags)

    def set_add_node(self, add_node: int) -> None:
        self.call("dm_task_set_add_node", add_node)

    def set_cookie(self, cookie: c_uint32, flags: int = 0) -> None:
        """``dm_task_set_cookie``; ``cookie`` is updated in place."""
        self.call("dm_task_set_cookie", byref(cookie), flags)

    def set_record_timestamp(self) -> None:
        self.call("dm_task_set_record_timestamp")

    def no_flush(self) -> None:
        self.call("dm_task_no_flush")

    def no_open_count(self) -> None:
        self.call("dm_task_no_open_count")

    def skip_lockfs(self) -> None:
        self.call("dm_task_skip_lockfs")

    def query_inactive_table(self) -> None:
        self.call("dm_task_query_inactive_table")

    def suppress_identical_reload(self) -> None:
        self.call("dm_task_suppress_identical_reload")

    def secure_data(self) -> None:
        self.call("dm_task_secure_data")

    def retry_remove(self) -> None:
        self.call("dm_task_retry_remove")

    def deferred_remove(self) -> None:
        self.call("dm_task_deferred_remove")

    def enable_checks(self) -> None:
        self.call("dm_task_enable_checks")

    def ima_measurement(self) -> None:
        self.call("dm_task_ima_measurement")

    def add_target(self, target: Target) -> None:
        """``dm_task_add_target`` for one validated :class:`Target`."""
        self.call("dm_task_add_target", target.start, target.length,
                  _enc(target.type), _enc(target.params))

    # -- getters ------------------------------------------------------------------

    def get_errno(self) -> int:
        if not self._lib.has("dm_task_get_errno"):
            return 0
        return int(self._lib.dm_task_get_errno(self))

    def get_info(self) -> DeviceInfo:
        """``dm_task_get_info`` plus the task's name and uuid."""
        info = _lib.DmInfo()
        self.call("dm_task_get_info", byref(info))
        return DeviceInfo(
            exists=bool(info.exists),
            suspended=bool(info.suspended),
            live_table=bool(info.live_table),
            inactive_table=bool(info.inactive_table),
            open_count=info.open_count,
            event_nr=info.event_nr,
            major=info.major,
            minor=info.minor,
            read_only=bool(info.read_only),
            target_count=info.target_count,
            deferred_remove=bool(info.deferred_remove),
            internal_suspend=bool(info.internal_suspend),
            name=self.get_name() if info.exists else None,
            uuid=self.get_uuid() if info.exists else None,
        )

    def get_name(self) -> Optional[str]:
        if not self._ran:
            return None
        return _dec(self._lib.dm_task_get_name(self))

    def get_uuid(self) -> Optional[str]:
        if not self._ran:
            return None
        value = _dec(self._lib.dm_task_get_uuid(self))
        return value or None

    def _get_allocated(self, function: str) -> Optional[str]:
        pointer = getattr(self._lib, function)(self)
        if not pointer:
            return None
        try:
            return _dec(ctypes.string_at(pointer))
        finally:
            self._lib.free(pointer)

    def get_name_mangled(self) -> Optional[str]:
        return self._get_allocated("dm_task_get_name_mangled")

    def get_name_unmangled(self) -> Optional[str]:
        return self._get_allocated("dm_task_get_name_unmangled")

    def get_uuid_mangled(self) -> Optional[str]:
        return self._get_allocated("dm_task_get_uuid_mangled")

    def get_uuid_unmangled(self) -> Optional[str]:
        return self._get_allocated("dm_task_get_uuid_unmangled")

    def get_driver_version(self) -> str:
        buf = ctypes.create_string_buffer(64)
        self.call("dm_task_get_driver_version", buf, len(buf))
        return buf.value.decode("ascii", "replace")

    def get_message_response(self) -> Optional[str]:
        self._require_run("get_message_response")
        return _dec(self._lib.dm_task_get_message_response(self))

    def get_read_ahead(self) -> Optional[int]:
        value = c_uint32(0)
        if not self._lib.dm_task_get_read_ahead(self, byref(value)):
            return None
        return value.value

    def get_names(self, *, has_trailer: bool = False) -> List[_parse.Device]:
        """Decode the DM_DEVICE_LIST result (see :func:`parse_names`)."""
        self._require_run("get_names")
        address = self._lib.dm_task_get_names(self)
        if not address:
            return []
        return _parse.names_at(address, has_trailer=has_trailer)

    def get_versions(self) -> List[_parse.TargetVersion]:
        self._require_run("get_versions")
        address = self._lib.dm_task_get_versions(self)
        if not address:
            return []
        return _parse.versions_at(address)

    def get_deps(self) -> List[Tuple[int, int]]:
        self._require_run("get_deps")
        address = self._lib.dm_task_get_deps(self)
        if not address:
            return []
        return _parse.deps_at(address)

    def iter_targets(self) -> Iterator[Tuple[int, int, str, str]]:
        """``dm_get_next_target`` over a STATUS/TABLE/WAITEVENT result:
        yields (start, length, type, params)."""
        self._require_run("iter_targets")
        start = c_uint64()
        length = c_uint64()
        ttype = c_char_p()
        params = c_char_p()
        cursor: Optional[int] = None
        while True:
            cursor = self._lib.dm_get_next_target(
                self, c_void_p(cursor), byref(start), byref(length),
                byref(ttype), byref(params))
            if ttype.value is None:
                return
            yield (start.value, length.value, _dec(ttype.value) or "",
                   _dec(params.value) or "")
            if not cursor:
                return

    def get_table(self) -> List[Target]:
        return [Target._from_kernel(*t) for t in self.iter_targets()]

    def get_status(self) -> List[TargetStatus]:
        return [TargetStatus(*t) for t in self.iter_targets()]
