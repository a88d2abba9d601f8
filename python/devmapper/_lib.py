"""Low-level ctypes binding of libdevmapper.

Everything here maps one-to-one onto the C API of ``libdevmapper.so.1.02.1``
(the ABI of libdm 1.02.185) and works with both the stock library and the
libdevmapper-rs drop-in:

* :data:`SIGNATURES` is the single table of prototypes (name -> restype,
  argtypes); :class:`Library` applies it to the symbols the loaded library
  actually exports, so a library lacking some newer function still loads;
* the public structs ``dm_info``, ``dm_names``, ``dm_versions``, ``dm_deps``;
* the task-type and flag constants of ``libdevmapper.h``;
* library lookup (:func:`find_library`, :func:`get_library`).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import threading
from ctypes import (
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Any, Dict, Iterable, List, Optional, Tuple

from . import _log

__all__ = [
    "DM_DEVICE_CREATE",
    "DM_DEVICE_RELOAD",
    "DM_DEVICE_REMOVE",
    "DM_DEVICE_REMOVE_ALL",
    "DM_DEVICE_SUSPEND",
    "DM_DEVICE_RESUME",
    "DM_DEVICE_INFO",
    "DM_DEVICE_DEPS",
    "DM_DEVICE_RENAME",
    "DM_DEVICE_VERSION",
    "DM_DEVICE_STATUS",
    "DM_DEVICE_TABLE",
    "DM_DEVICE_WAITEVENT",
    "DM_DEVICE_LIST",
    "DM_DEVICE_CLEAR",
    "DM_DEVICE_MKNODES",
    "DM_DEVICE_LIST_VERSIONS",
    "DM_DEVICE_TARGET_MSG",
    "DM_DEVICE_SET_GEOMETRY",
    "DM_DEVICE_ARM_POLL",
    "DM_DEVICE_GET_TARGET_VERSION",
    "TASK_TYPE_NAMES",
    "DmTask",
    "DmInfo",
    "DmNames",
    "DmVersions",
    "DmDeps",
    "DmTaskP",
    "SIGNATURES",
    "LIBRARY_ENV",
    "DEFAULT_SONAMES",
    "Library",
    "find_library",
    "get_library",
]

# ---------------------------------------------------------------------------
# Constants from libdevmapper.h
# ---------------------------------------------------------------------------

DM_DEVICE_CREATE = 0
DM_DEVICE_RELOAD = 1
DM_DEVICE_REMOVE = 2
DM_DEVICE_REMOVE_ALL = 3
DM_DEVICE_SUSPEND = 4
DM_DEVICE_RESUME = 5
DM_DEVICE_INFO = 6
DM_DEVICE_DEPS = 7
DM_DEVICE_RENAME = 8
DM_DEVICE_VERSION = 9
DM_DEVICE_STATUS = 10
DM_DEVICE_TABLE = 11
DM_DEVICE_WAITEVENT = 12
DM_DEVICE_LIST = 13
DM_DEVICE_CLEAR = 14
DM_DEVICE_MKNODES = 15
DM_DEVICE_LIST_VERSIONS = 16
DM_DEVICE_TARGET_MSG = 17
DM_DEVICE_SET_GEOMETRY = 18
DM_DEVICE_ARM_POLL = 19
DM_DEVICE_GET_TARGET_VERSION = 20

#: Task type -> the name libdm uses for it in messages.
TASK_TYPE_NAMES: Dict[int, str] = {
    DM_DEVICE_CREATE: "create",
    DM_DEVICE_RELOAD: "reload",
    DM_DEVICE_REMOVE: "remove",
    DM_DEVICE_REMOVE_ALL: "remove_all",
    DM_DEVICE_SUSPEND: "suspend",
    DM_DEVICE_RESUME: "resume",
    DM_DEVICE_INFO: "info",
    DM_DEVICE_DEPS: "deps",
    DM_DEVICE_RENAME: "rename",
    DM_DEVICE_VERSION: "version",
    DM_DEVICE_STATUS: "status",
    DM_DEVICE_TABLE: "table",
    DM_DEVICE_WAITEVENT: "waitevent",
    DM_DEVICE_LIST: "names",
    DM_DEVICE_CLEAR: "clear",
    DM_DEVICE_MKNODES: "mknodes",
    DM_DEVICE_LIST_VERSIONS: "versions",
    DM_DEVICE_TARGET_MSG: "message",
    DM_DEVICE_SET_GEOMETRY: "setgeometry",
    DM_DEVICE_ARM_POLL: "armpoll",
    DM_DEVICE_GET_TARGET_VERSION: "target-version",
}

DM_ADD_NODE_ON_RESUME = 0
DM_ADD_NODE_ON_CREATE = 1

DM_STRING_MANGLING_NONE = 0
DM_STRING_MANGLING_AUTO = 1
DM_STRING_MANGLING_HEX = 2

DM_READ_AHEAD_AUTO = 0xFFFFFFFF
DM_READ_AHEAD_NONE = 0
DM_READ_AHEAD_MINIMUM_FLAG = 0x1

DM_UDEV_DISABLE_DM_RULES_FLAG = 0x0001
DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG = 0x0002
DM_UDEV_DISABLE_DISK_RULES_FLAG = 0x0004
DM_UDEV_DISABLE_OTHER_RULES_FLAG = 0x0008
DM_UDEV_LOW_PRIORITY_FLAG = 0x0010
DM_UDEV_DISABLE_LIBRARY_FALLBACK = 0x0020
DM_UDEV_PRIMARY_SOURCE_FLAG = 0x0040

DM_NAME_LEN = 128
DM_UUID_LEN = 129
DM_MAX_TYPE_NAME = 16

# Kernel name-list flags (dm-ioctl.h).
DM_NAME_LIST_FLAG_HAS_UUID = 1
DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID = 2

# ---------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------


class DmTask(Structure):
    """Opaque ``struct dm_task``."""


DmTaskP = POINTER(DmTask)


class DmTimestamp(Structure):
    """Opaque ``struct dm_timestamp``."""


class DmInfo(Structure):
    """``struct dm_info`` (48 bytes)."""

    _fields_ = [
        ("exists", c_int),
        ("suspended", c_int),
        ("live_table", c_int),
        ("inactive_table", c_int),
        ("open_count", c_int32),
        ("event_nr", c_uint32),
        ("major", c_uint32),
        ("minor", c_uint32),
        ("read_only", c_int),
        ("target_count", c_int32),
        ("deferred_remove", c_int),
        ("internal_suspend", c_int),
    ]


class DmNames(Structure):
    """``struct dm_names``: dev u64 @0, next u32 @8, name[] @12; sizeof 16."""

    _fields_ = [
        ("dev", c_uint64),
        ("next", c_uint32),
        ("name", c_char * 0),
    ]


class DmVersions(Structure):
    """``struct dm_versions``: next u32 @0, version[3] u32 @4, name[] @16."""

    _fields_ = [
        ("next", c_uint32),
        ("version", c_uint32 * 3),
        ("name", c_char * 0),
    ]


class DmDeps(Structure):
    """``struct dm_deps``: count u32 @0, filler u32 @4, device[] u64 @8."""

    _fields_ = [
        ("count", c_uint32),
        ("filler", c_uint32),
        ("device", c_uint64 * 0),
    ]


# ---------------------------------------------------------------------------
# The signature table
# ---------------------------------------------------------------------------

_T = DmTaskP
_uid_t = c_uint32
_gid_t = c_uint32
_mode_t = c_uint32

#: name -> (restype, argtypes).  Declared once; applied only to symbols the
#: loaded library exports.  ``char *`` results that the caller must free are
#: declared ``c_void_p`` so the pointer survives for ``dm_free``.
SIGNATURES: Dict[str, Tuple[Any, Tuple[Any, ...]]] = {
    # --- task lifecycle ----------------------------------------------------
    "dm_task_create": (_T, (c_int,)),
    "dm_task_destroy": (None, (_T,)),
    "dm_task_run": (c_int, (_T,)),
    "dm_task_update_nodes": (None, ()),
    # --- task setters --------------------------------------------------------
    "dm_task_set_name": (c_int, (_T, c_char_p)),
    "dm_task_set_uuid": (c_int, (_T, c_char_p)),
    "dm_task_set_newname": (c_int, (_T, c_char_p)),
    "dm_task_set_newuuid": (c_int, (_T, c_char_p)),
    "dm_task_set_major": (c_int, (_T, c_int)),
    "dm_task_set_minor": (c_int, (_T, c_int)),
    "dm_task_set_major_minor": (c_int, (_T, c_int, c_int, c_int)),
    "dm_task_set_uid": (c_int, (_T, _uid_t)),
    "dm_task_set_gid": (c_int, (_T, _gid_t)),
    "dm_task_set_mode": (c_int, (_T, _mode_t)),
    "dm_task_set_ro": (c_int, (_T,)),
    "dm_task_set_cookie": (c_int, (_T, POINTER(c_uint32), c_uint16)),
    "dm_task_set_event_nr": (c_int, (_T, c_uint32)),
    "dm_task_set_geometry": (c_int, (_T, c_char_p, c_char_p, c_char_p, c_char_p)),
    "dm_task_set_message": (c_int, (_T, c_char_p)),
    "dm_task_set_sector": (c_int, (_T, c_uint64)),
    "dm_task_set_read_ahead": (c_int, (_T, c_uint32, c_uint32)),
    "dm_task_set_add_node": (c_int, (_T, c_int)),
    "dm_task_set_record_timestamp": (c_int, (_T,)),
    # --- task flag setters -------------------------------------------------
    "dm_task_no_flush": (c_int, (_T,)),
    "dm_task_no_open_count": (c_int, (_T,)),
    "dm_task_skip_lockfs": (c_int, (_T,)),
    "dm_task_query_inactive_table": (c_int, (_T,)),
    "dm_task_suppress_identical_reload": (c_int, (_T,)),
    "dm_task_secure_data": (c_int, (_T,)),
    "dm_task_retry_remove": (c_int, (_T,)),
    "dm_task_deferred_remove": (c_int, (_T,)),
    "dm_task_enable_checks": (c_int, (_T,)),
    "dm_task_ima_measurement": (c_int, (_T,)),
    # --- tables --------------------------------------------------------------
    "dm_task_add_target": (c_int, (_T, c_uint64, c_uint64, c_char_p, c_char_p)),
    "dm_get_next_target": (
        c_void_p,
        (_T, c_void_p, POINTER(c_uint64), POINTER(c_uint64),
         POINTER(c_char_p), POINTER(c_char_p)),
    ),
    # --- task getters ------------------------------------------------------
    "dm_task_get_info": (c_int, (_T, POINTER(DmInfo))),
    "dm_task_get_info_with_deferred_remove": (c_int, (_T, POINTER(DmInfo))),
    "dm_task_get_errno": (c_int, (_T,)),
    "dm_task_get_driver_version": (c_int, (_T, c_char_p, c_size_t)),
    "dm_task_get_ioctl_timestamp": (POINTER(DmTimestamp), (_T,)),
    "dm_task_get_message_response": (c_char_p, (_T,)),
    "dm_task_get_name": (c_char_p, (_T,)),
    "dm_task_get_uuid": (c_char_p, (_T,)),
    "dm_task_get_name_mangled": (c_void_p, (_T,)),
    "dm_task_get_name_unmangled": (c_void_p, (_T,)),
    "dm_task_get_uuid_mangled": (c_void_p, (_T,)),
    "dm_task_get_uuid_unmangled": (c_void_p, (_T,)),
    "dm_task_get_names": (c_void_p, (_T,)),
    "dm_task_get_versions": (c_void_p, (_T,)),
    "dm_task_get_deps": (c_void_p, (_T,)),
    "dm_task_get_read_ahead": (c_uint32, (_T, POINTER(c_uint32))),
    # --- library-wide --------------------------------------------------------
    "dm_get_library_version": (c_int, (c_char_p, c_size_t)),
    "dm_driver_version": (c_int, (c_char_p, c_size_t)),
    "dm_lib_release": (None, ()),
    "dm_lib_init": (None, ()),
    "dm_lib_exit": (None, ()),
    "dm_hold_control_dev": (None, (c_int,)),
    "dm_mknodes": (c_int, (c_char_p,)),
    "dm_dir": (c_char_p, ()),
    "dm_set_dev_dir": (c_int, (c_char_p,)),
    "dm_sysfs_dir": (c_char_p, ()),
    "dm_set_sysfs_dir": (c_int, (c_char_p,)),
    "dm_uuid_prefix": (c_char_p, ()),
    "dm_set_uuid_prefix": (c_int, (c_char_p,)),
    "dm_set_name_mangling_mode": (c_int, (c_int,)),
    "dm_get_name_mangling_mode": (c_int, ()),
    "dm_get_suspended_counter": (c_int, ()),
    "dm_is_dm_major": (c_int, (c_uint32,)),
    "dm_free_wrapper": (None, (c_void_p,)),
    # --- logging -------------------------------------------------------------
    "dm_log_with_errno_init": (None, (_log.LOG_WITH_ERRNO_FN,)),
    "dm_log_init_verbose": (None, (c_int,)),
    "dm_log_is_non_default": (c_int, ()),
    # --- udev synchronisation ----------------------------------------------
    "dm_cookie_supported": (c_int, ()),
    "dm_udev_set_sync_support": (None, (c_int,)),
    "dm_udev_get_sync_support": (c_int, ()),
    "dm_udev_set_checking": (None, (c_int,)),
    "dm_udev_get_checking": (c_int, ()),
    "dm_udev_create_cookie": (c_int, (POINTER(c_uint32),)),
    "dm_udev_complete": (c_int, (c_uint32,)),
    "dm_udev_wait": (c_int, (c_uint32,)),
    "dm_udev_wait_immediate": (c_int, (c_uint32, POINTER(c_int))),
}

#: Functions the package cannot work without.
REQUIRED = (
    "dm_task_create",
    "dm_task_destroy",
    "dm_task_run",
    "dm_task_set_name",
    "dm_task_get_info",
    "dm_get_library_version",
)

# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

#: Environment variable naming the library file to load.
LIBRARY_ENV = "DEVMAPPER_LIBRARY"
#: File names tried when ``find_library('devmapper')`` finds nothing.
DEFAULT_SONAMES = ("libdevmapper.so.1.02.1", "libdevmapper.so.1.02")


def find_library() -> str:
    """The library the package loads by default.

    Order: ``$DEVMAPPER_LIBRARY`` (a path); ``ctypes.util.find_library
    ('devmapper')`` (the installed library: libdevmapper-rs when it is
    installed as the system's ``libdevmapper.so.1.02.1``, else the stock one);
    finally the plain soname ``libdevmapper.so.1.02.1``, which lets the
    dynamic loader (and ``LD_LIBRARY_PATH``) decide.
    """
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return env
    found = ctypes.util.find_library("devmapper")
    if found:
        return found
    return DEFAULT_SONAMES[0]


class _DlInfo(Structure):
    _fields_ = [
        ("dli_fname", c_char_p),
        ("dli_fbase", c_void_p),
        ("dli_sname", c_char_p),
        ("dli_saddr", c_void_p),
    ]


class Library:
    """A loaded libdevmapper with the signature table applied.

    Functions are attributes (``lib.dm_task_run``); :meth:`has` tells whether
    the library exports a symbol.  Creating a Library does not talk to the
    kernel.
    """

    def __init__(self, path: Optional[str] = None) -> None:
        candidates: List[str]
        if path is not None:
            candidates = [path]
        else:
            first = find_library()
            candidates = [first] + [n for n in DEFAULT_SONAMES if n != first]
            if os.environ.get(LIBRARY_ENV):
                candidates = [first]
        errors: List[str] = []
        cdll: Optional[ctypes.CDLL] = None
        for candidate in candidates:
            try:
                cdll = ctypes.CDLL(candidate, use_errno=True)
                break
            except OSError as exc:
                errors.append(str(exc))
        if cdll is None:
            raise ImportError(
                "cannot load libdevmapper (" + "; ".join(errors) + "); set "
                + LIBRARY_ENV + " to the library's path"
            )
        self.name: str = candidate
        self._cdll = cdll
        self._functions: Dict[str, Any] = {}
        for fname, (restype, argtypes) in SIGNATURES.items():
            if not hasattr(cdll, fname):
                continue
            func = getattr(cdll, fname)
            func.restype = restype
            func.argtypes = list(argtypes)
            self._functions[fname] = func
        missing = [f for f in REQUIRED if f not in self._functions]
        if missing:
            raise ImportError(
                f"{candidate} is not a usable libdevmapper: missing "
                + ", ".join(missing)
            )
        self._log_lock = threading.Lock()
        self._log_installed = False

    # -- symbol access --------------------------------------------------------

    def has(self, name: str) -> bool:
        """Whether the loaded library exports ``name`` (from the table)."""
        return name in self._functions

    @property
    def functions(self) -> Iterable[str]:
        return tuple(self._functions)

    def __getattr__(self, name: str) -> Any:
        functions = self.__dict__.get("_functions")
        if functions is not None and name in functions:
            return functions[name]
        if name in SIGNATURES:
            raise AttributeError(f"{self.__dict__.get('name')} does not export {name}")
        raise AttributeError(name)

    @property
    def path(self) -> str:
        """The file the library was actually loaded from (via ``dladdr``)."""
        try:
            libdl = ctypes.CDLL(None)
            dladdr = libdl.dladdr
            dladdr.argtypes = [c_void_p, POINTER(_DlInfo)]
            dladdr.restype = c_int
            info = _DlInfo()
            address = ctypes.cast(self._cdll.dm_task_create, c_void_p).value
            if dladdr(address, ctypes.byref(info)) and info.dli_fname:
                return os.path.realpath(os.fsdecode(info.dli_fname))
        except (AttributeError, OSError):
            pass
        return self.name

    # -- logging --------------------------------------------------------------

    def install_log_handler(self) -> None:
        """Route the library's log output to this package (idempotent).

        Installs the ``dm_log_with_errno`` callback once; it is removed again
        at interpreter exit so that the library never calls into a finalised
        interpreter.
        """
        if self._log_installed or not self.has("dm_log_with_errno_init"):
            return
        with self._log_lock:
            if self._log_installed:
                return
            self.dm_log_with_errno_init(_log.C_CALLBACK)
            self._log_installed = True
            atexit.register(self.restore_default_logging)

    def restore_default_logging(self) -> None:
        """Give the library back its own default logger."""
        with self._log_lock:
            if self._log_installed:
                self.dm_log_with_errno_init(_log.LOG_WITH_ERRNO_FN())
                self._log_installed = False

    # -- helpers --------------------------------------------------------------

    def free(self, pointer: Optional[int]) -> None:
        """Free memory the library allocated for the caller (``dm_free``)."""
        if not pointer:
            return
        if self.has("dm_free_wrapper"):
            self.dm_free_wrapper(pointer)
        else:
            libc = ctypes.CDLL(None)
            libc.free.argtypes = [c_void_p]
            libc.free.restype = None
            libc.free(pointer)

    def library_version(self) -> str:
        """``dm_get_library_version``: e.g. ``"1.02.185 (2022-05-18)"``."""
        buf = ctypes.create_string_buffer(128)
        if not self.dm_get_library_version(buf, len(buf)):
            raise RuntimeError("dm_get_library_version failed")
        return buf.value.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<devmapper.Library {self.name!r}>"


_libraries_lock = threading.Lock()
_libraries: Dict[Optional[str], Library] = {}


def get_library(path: Optional[str] = None) -> Library:
    """A shared :class:`Library`, loaded on first use.

    Without ``path`` the default library (:func:`find_library`); with a path,
    that file.  Each distinct argument is loaded once per process.
    """
    lib = _libraries.get(path)
    if lib is None:
        with _libraries_lock:
            lib = _libraries.get(path)
            if lib is None:
                lib = Library(path)
                _libraries[path] = lib
    return lib
