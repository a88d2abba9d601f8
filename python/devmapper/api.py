"""The Pythonic API: :class:`DeviceMapper` and module-level shortcuts."""

from __future__ import annotations

import errno as _errno
import glob
import os
from ctypes import c_uint32
from typing import List, Optional, Tuple, Union

from . import _lib, _log
from ._parse import Device, TargetVersion
from .errors import DMError
from .target import (
    Target,
    TableLike,
    TargetStatus,
    as_table,
    validate_name,
    validate_target_type,
    validate_uuid,
)
from .task import DeviceInfo, Task

__all__ = ["DeviceMapper", "udev_rules_installed"]

_UDEV_RULE_DIRS = ("/usr/lib/udev/rules.d", "/lib/udev/rules.d", "/etc/udev/rules.d")


def udev_rules_installed() -> bool:
    """Whether udev rules that complete libdm cookies appear to be installed
    (a ``*dm-notify.rules`` file, which runs ``dmsetup udevcomplete``)."""
    for directory in _UDEV_RULE_DIRS:
        if glob.glob(os.path.join(directory, "*dm-notify.rules")):
            return True
    return False


def _check_sector(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"sector must be an int, not {type(value).__name__}")
    if not 0 <= value < (1 << 64):
        raise ValueError(f"sector {value} out of range")
    return value


def _check_message(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"message must be a str, not {type(text).__name__}")
    if not text.strip():
        raise ValueError("message must not be empty")
    if "\0" in text:
        raise ValueError("message contains a NUL character")
    return text


class DeviceMapper:
    """Device-mapper operations through one loaded libdevmapper.

    ``library`` is a :class:`devmapper.Library`, a path to a library file, or
    None for the default (``$DEVMAPPER_LIBRARY``, else the installed
    ``libdevmapper.so.1.02.1``).

    ``udev_sync`` controls udev synchronisation of resume/remove/rename: with
    True each such call takes a libdm udev cookie and waits for udev to
    finish with the device node (as dmsetup does); with False it does not
    wait, and libdm creates/removes the ``/dev/mapper`` nodes itself.  The
    default (None) uses cookies only when the device-mapper udev rules are
    installed, because waiting on a cookie nobody completes would hang.
    Where udev is not running, libdm never waits, whatever this setting.

    The library is not thread-safe; serialise calls made from several
    threads, except :meth:`wait_event`, which is meant to block in one thread
    while others work.
    """

    def __init__(
        self,
        library: Union[_lib.Library, str, None] = None,
        *,
        udev_sync: Optional[bool] = None,
    ) -> None:
        if isinstance(library, _lib.Library):
            self.library = library
        else:
            self.library = _lib.get_library(library)
        if udev_sync is None:
            udev_sync = udev_rules_installed()
        self.udev_sync = bool(udev_sync)
        self._driver_version: Optional[Tuple[int, int, int]] = None

    def __repr__(self) -> str:
        return f"<devmapper.DeviceMapper {self.library.name!r}>"

    # -- helpers ------------------------------------------------------------------

    def task(self, task_type: int) -> Task:
        """A new :class:`Task` on this library."""
        return Task(task_type, library=self.library)

    def _named(self, task_type: int, name: str) -> Task:
        validate_name(name)
        task = self.task(task_type)
        try:
            task.set_name(name)
        except BaseException:
            task.close()
            raise
        return task

    def _run_with_udev(self, task: Task) -> None:
        """Run a uevent-generating task (resume/remove/rename) and settle the
        device nodes: wait on a udev cookie, or let libdm update the nodes."""
        lib = self.library
        use_cookie = (self.udev_sync and lib.has("dm_task_set_cookie")
                      and lib.has("dm_udev_wait"))
        if use_cookie:
            cookie = c_uint32(0)
            task.set_cookie(cookie, 0)
            try:
                task.run()
            finally:
                with _log.capture():
                    lib.dm_udev_wait(cookie.value)
        else:
            try:
                task.run()
            finally:
                if lib.has("dm_task_update_nodes"):
                    with _log.capture():
                        lib.dm_task_update_nodes()

    # -- library / driver -------------------------------------------------------

    def library_version(self) -> str:
        """The library's version string, e.g. ``"1.02.185 (2022-05-18)"``."""
        return self.library.library_version()

    def version(self) -> str:
        """The kernel driver's interface version, e.g. ``"4.47.0"``."""
        with self.task(_lib.DM_DEVICE_VERSION) as task:
            task.run()
            text = task.get_driver_version()
        self._driver_version = _version_tuple(text)
        return text

    def driver_version(self) -> Tuple[int, int, int]:
        """The driver version as a tuple (cached after the first query)."""
        if self._driver_version is None:
            self.version()
        assert self._driver_version is not None
        return self._driver_version

    def targets(self) -> List[Tuple[str, Tuple[int, int, int]]]:
        """The target types the kernel has loaded: ``[(name, (maj, min, patch))]``."""
        with self.task(_lib.DM_DEVICE_LIST_VERSIONS) as task:
            task.run()
            return [(v.name, v.version) for v in task.get_versions()]

    def target_version(self, target_type: str) -> Tuple[int, int, int]:
        """The version of one target type (the kernel loads its module if
        needed; driver >= 4.41)."""
        validate_target_type(target_type)
        with self.task(_lib.DM_DEVICE_GET_TARGET_VERSION) as task:
            task.set_name(target_type)
            task.run()
            versions: List[TargetVersion] = task.get_versions()
        if not versions:
            raise DMError(_errno.ENOENT, f"no version reported for {target_type!r}",
                          operation="target-version", device=target_type)
        return versions[0].version

    # -- queries --------------------------------------------------------------------

    def list_devices(self) -> List[Device]:
        """All dm devices: name, major, minor, and -- when the kernel reports
        them -- uuid (driver >= 4.45) and event number (driver >= 4.38)."""
        driver = self.driver_version()
        with self.task(_lib.DM_DEVICE_LIST) as task:
            if driver >= (4, 45, 0):
                # Ask for uuids, as lvm does: sets DM_UUID_FLAG on the list.
                # Without it the list still works, only without uuids.
                try:
                    task.set_newuuid(" ")
                except DMError:
                    pass
            task.run()
            return task.get_names(has_trailer=driver >= (4, 38, 0))

    def info(self, name: str) -> DeviceInfo:
        """Information about a device; DMError(ENXIO) if it does not exist."""
        with self._named(_lib.DM_DEVICE_INFO, name) as task:
            task.run()
            info = task.get_info()
        if not info.exists:
            raise _missing(name, "info")
        return info

    def exists(self, name: str) -> bool:
        """Whether a device of that name exists."""
        with self._named(_lib.DM_DEVICE_INFO, name) as task:
            task.run()
            return task.get_info().exists

    def table(self, name: str, inactive: bool = False) -> List[Target]:
        """The device's live (or inactive) table."""
        with self._named(_lib.DM_DEVICE_TABLE, name) as task:
            if inactive:
                task.query_inactive_table()
            task.run()
            return task.get_table()

    def status(self, name: str, inactive: bool = False) -> List[TargetStatus]:
        """The status line of each target of the live (or inactive) table."""
        with self._named(_lib.DM_DEVICE_STATUS, name) as task:
            if inactive:
                task.query_inactive_table()
            task.run()
            # libdm treats ENXIO on STATUS as "device does not exist", not
            # as a failure.
            if not task.get_info().exists:
                raise _missing(name, "status")
            return task.get_status()

    def deps(self, name: str, inactive: bool = False) -> List[Tuple[int, int]]:
        """The (major, minor) of each device the table uses."""
        with self._named(_lib.DM_DEVICE_DEPS, name) as task:
            if inactive:
                task.query_inactive_table()
            task.run()
            return task.get_deps()

    # -- changes --------------------------------------------------------------------

    def create(
        self,
        name: str,
        table: TableLike,
        uuid: Optional[str] = None,
        readonly: bool = False,
    ) -> DeviceInfo:
        """Create a device, load ``table`` and resume it.

        Done as three tasks (create, reload, resume) so that a failure reports
        the errno and text of the step that failed; if the load or resume
        fails the new device is removed again before the error is raised.
        """
        validate_name(name, new=True)
        if uuid is not None:
            validate_uuid(uuid)
        targets = as_table(table)

        with self.task(_lib.DM_DEVICE_CREATE) as task:
            task.set_name(name)
            if uuid is not None:
                task.set_uuid(uuid)
            task.run()
        try:
            self._load(name, targets, readonly)
            with self._named(_lib.DM_DEVICE_RESUME, name) as task:
                self._run_with_udev(task)
                info = task.get_info()
        except BaseException as exc:
            try:
                self.remove(name)
            except DMError as cleanup:
                if hasattr(exc, "add_note"):
                    exc.add_note(f"removing the half-created device failed: {cleanup}")
            raise
        return info

    def _load(self, name: str, targets: List[Target], readonly: bool) -> None:
        with self._named(_lib.DM_DEVICE_RELOAD, name) as task:
            for target in targets:
                task.add_target(target)
            if readonly:
                task.set_ro()
            task.run()

    def load(self, name: str, table: TableLike, readonly: bool = False) -> None:
        """Load ``table`` into the device's inactive slot (resume to use it)."""
        self._load(name, as_table(table), readonly)

    def clear(self, name: str) -> None:
        """Drop the device's inactive table."""
        with self._named(_lib.DM_DEVICE_CLEAR, name) as task:
            task.run()

    def suspend(self, name: str, noflush: bool = False, skip_lockfs: bool = False) -> None:
        """Suspend the device."""
        with self._named(_lib.DM_DEVICE_SUSPEND, name) as task:
            if noflush:
                task.no_flush()
            if skip_lockfs:
                task.skip_lockfs()
            task.run()

    def resume(self, name: str) -> DeviceInfo:
        """Resume the device (making an inactive table live)."""
        with self._named(_lib.DM_DEVICE_RESUME, name) as task:
            self._run_with_udev(task)
            return task.get_info()

    def remove(self, name: str, retry: bool = False, deferred: bool = False) -> None:
        """Remove the device.  ``retry`` retries while it is busy (libdm:
        about 5 s); ``deferred`` removes it on last close if it is open."""
        with self._named(_lib.DM_DEVICE_REMOVE, name) as task:
            if retry:
                task.retry_remove()
            if deferred:
                task.deferred_remove()
            self._run_with_udev(task)

    def rename(
        self,
        name: str,
        new_name: Optional[str] = None,
        new_uuid: Optional[str] = None,
    ) -> None:
        """Rename the device, or set its uuid (only possible if it has none).
        Exactly one of ``new_name`` and ``new_uuid`` must be given."""
        if (new_name is None) == (new_uuid is None):
            raise ValueError("give exactly one of new_name and new_uuid")
        if new_name is not None:
            validate_name(new_name, new=True, what="new name")
        if new_uuid is not None:
            validate_uuid(new_uuid)
        with self._named(_lib.DM_DEVICE_RENAME, name) as task:
            if new_name is not None:
                task.set_newname(new_name)
            else:
                assert new_uuid is not None
                task.set_newuuid(new_uuid)
            self._run_with_udev(task)

    def message(self, device: str, sector: int, text: str) -> Optional[str]:
        """Send a target message; returns the target's response, or None."""
        _check_sector(sector)
        _check_message(text)
        with self._named(_lib.DM_DEVICE_TARGET_MSG, device) as task:
            task.set_sector(sector)
            task.set_message(text)
            task.run()
            return task.get_message_response()

    def target_message(self, target_type: str, text: str) -> Optional[str]:
        """Send a deviceless message (text starting with '%') to a target type.

        Needs a kernel with deviceless-message support; a kernel without it
        looks the name up as a device and answers ENXIO, reported here as
        "kernel does not support deviceless messages".  (Should a device be
        named like the target type, such a kernel delivers the message to
        that device instead.)
        """
        validate_target_type(target_type)
        _check_message(text)
        if not text.startswith("%"):
            raise ValueError("a deviceless message must start with '%'")
        task = self.task(_lib.DM_DEVICE_TARGET_MSG)
        with task:
            task.set_name(target_type)
            task.set_sector(0)
            task.set_message(text)
            try:
                task.run()
            except DMError as exc:
                if exc.errno == _errno.ENXIO:
                    raise DMError(
                        _errno.ENXIO,
                        "kernel does not support deviceless messages "
                        f"(target '{target_type}')",
                        operation="message", device=target_type,
                        messages=exc.messages,
                    ) from exc
                raise
            return task.get_message_response()

    def wait_event(self, name: str, event_nr: int) -> DeviceInfo:
        """Block until the device's event counter differs from ``event_nr``
        (returns at once if it already does); returns the device info, whose
        ``event_nr`` is the new counter."""
        if isinstance(event_nr, bool) or not isinstance(event_nr, int):
            raise TypeError("event_nr must be an int")
        if not 0 <= event_nr <= 0xFFFFFFFF:
            raise ValueError(f"event_nr {event_nr} out of range")
        with self._named(_lib.DM_DEVICE_WAITEVENT, name) as task:
            task.set_event_nr(event_nr)
            task.run()
            return task.get_info()


def _missing(name: str, operation: str) -> DMError:
    return DMError(_errno.ENXIO, f"device {name!r} does not exist",
                   operation=operation, device=name)


def _version_tuple(text: str) -> Tuple[int, int, int]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return (parts[0], parts[1], parts[2])
