"""Library loading, the signature table and struct layouts (no kernel)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import devmapper
from devmapper import _lib

PYTHON_DIR = Path(__file__).resolve().parents[1]


def run_python(code: str, env_extra: dict = {}) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PYTHON_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)


# -- struct layouts ---------------------------------------------------------


def test_dm_info_layout() -> None:
    assert ctypes.sizeof(_lib.DmInfo) == 48
    expected = {
        "exists": 0, "suspended": 4, "live_table": 8, "inactive_table": 12,
        "open_count": 16, "event_nr": 20, "major": 24, "minor": 28,
        "read_only": 32, "target_count": 36, "deferred_remove": 40,
        "internal_suspend": 44,
    }
    for field, offset in expected.items():
        assert getattr(_lib.DmInfo, field).offset == offset, field
        assert getattr(_lib.DmInfo, field).size == 4, field


def test_dm_names_layout() -> None:
    assert _lib.DmNames.dev.offset == 0
    assert _lib.DmNames.dev.size == 8
    assert _lib.DmNames.next.offset == 8
    assert _lib.DmNames.next.size == 4
    assert _lib.DmNames.name.offset == 12
    assert ctypes.sizeof(_lib.DmNames) == 16


def test_dm_versions_layout() -> None:
    assert _lib.DmVersions.next.offset == 0
    assert _lib.DmVersions.version.offset == 4
    assert _lib.DmVersions.version.size == 12
    assert _lib.DmVersions.name.offset == 16
    assert ctypes.sizeof(_lib.DmVersions) == 16


def test_dm_deps_layout() -> None:
    assert _lib.DmDeps.count.offset == 0
    assert _lib.DmDeps.filler.offset == 4
    assert _lib.DmDeps.device.offset == 8
    assert ctypes.sizeof(_lib.DmDeps) == 8


def test_task_type_constants() -> None:
    names = [
        "CREATE", "RELOAD", "REMOVE", "REMOVE_ALL", "SUSPEND", "RESUME", "INFO",
        "DEPS", "RENAME", "VERSION", "STATUS", "TABLE", "WAITEVENT", "LIST",
        "CLEAR", "MKNODES", "LIST_VERSIONS", "TARGET_MSG", "SET_GEOMETRY",
        "ARM_POLL", "GET_TARGET_VERSION",
    ]
    for value, name in enumerate(names):
        assert getattr(devmapper, "DM_DEVICE_" + name) == value
    assert sorted(_lib.TASK_TYPE_NAMES) == list(range(21))


# -- the signature table ---------------------------------------------------------


#: The 50 dm_task_* functions libdevmapper 1.02.185 exports.
TASK_FUNCTIONS = """
dm_task_add_target dm_task_create dm_task_deferred_remove dm_task_destroy
dm_task_enable_checks dm_task_get_deps dm_task_get_driver_version
dm_task_get_errno dm_task_get_info dm_task_get_info_with_deferred_remove
dm_task_get_ioctl_timestamp dm_task_get_message_response dm_task_get_name
dm_task_get_name_mangled dm_task_get_name_unmangled dm_task_get_names
dm_task_get_read_ahead dm_task_get_uuid dm_task_get_uuid_mangled
dm_task_get_uuid_unmangled dm_task_get_versions dm_task_ima_measurement
dm_task_no_flush dm_task_no_open_count dm_task_query_inactive_table
dm_task_retry_remove dm_task_run dm_task_secure_data dm_task_set_add_node
dm_task_set_cookie dm_task_set_event_nr dm_task_set_geometry dm_task_set_gid
dm_task_set_major dm_task_set_major_minor dm_task_set_message
dm_task_set_minor dm_task_set_mode dm_task_set_name dm_task_set_newname
dm_task_set_newuuid dm_task_set_read_ahead dm_task_set_record_timestamp
dm_task_set_ro dm_task_set_sector dm_task_set_uid dm_task_set_uuid
dm_task_skip_lockfs dm_task_suppress_identical_reload dm_task_update_nodes
""".split()


def test_table_covers_every_task_function() -> None:
    """Every dm_task_* function of the 1.02.185 ABI is in the table."""
    assert len(TASK_FUNCTIONS) == 50
    assert set(TASK_FUNCTIONS) - set(_lib.SIGNATURES) == set()
    assert {n for n in _lib.SIGNATURES if n.startswith("dm_task_")} == set(TASK_FUNCTIONS)
    for extra in ("dm_get_next_target", "dm_driver_version",
                  "dm_get_library_version", "dm_log_with_errno_init",
                  "dm_udev_set_sync_support", "dm_task_update_nodes",
                  "dm_lib_release"):
        assert extra in _lib.SIGNATURES


def test_table_applied_to_loaded_library() -> None:
    lib = devmapper.get_library()
    for name, (restype, argtypes) in _lib.SIGNATURES.items():
        if not lib.has(name):
            continue
        func = getattr(lib, name)
        assert func.restype is restype, name
        assert list(func.argtypes) == list(argtypes), name


def test_stock_library_exports_whole_table() -> None:
    lib = devmapper.get_library()
    if "1.02.185" not in lib.library_version():
        pytest.skip("not the stock 1.02.185 library")
    assert set(lib.functions) == set(_lib.SIGNATURES)


def test_missing_symbols_are_skipped() -> None:
    """A library lacking table entries still loads; only present symbols get
    prototypes, and absent ones raise AttributeError on use."""
    code = (
        "import ctypes\n"
        "from devmapper import _lib\n"
        "_lib.SIGNATURES['dm_no_such_function'] = (ctypes.c_int, ())\n"
        "lib = _lib.Library()\n"
        "assert not lib.has('dm_no_such_function')\n"
        "try:\n"
        "    lib.dm_no_such_function\n"
        "except AttributeError as e:\n"
        "    print('absent:', e)\n"
        "assert lib.has('dm_task_run')\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "absent:" in result.stdout


def test_unusable_library_rejected() -> None:
    libc = ctypes.util.find_library("c")
    assert libc
    with pytest.raises(ImportError, match="not a usable libdevmapper"):
        _lib.Library(libc)


def test_nonexistent_library_path() -> None:
    with pytest.raises(ImportError, match="DEVMAPPER_LIBRARY"):
        _lib.Library("/nonexistent/libdevmapper.so.1.02.1")


# -- loading --------------------------------------------------------------------


def test_find_library_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_lib.LIBRARY_ENV, raising=False)
    found = _lib.find_library()
    assert "devmapper" in found


def test_find_library_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_lib.LIBRARY_ENV, "/some/where/libdevmapper.so.1.02.1")
    assert _lib.find_library() == "/some/where/libdevmapper.so.1.02.1"


def test_env_var_selects_library() -> None:
    lib = devmapper.get_library()
    real = lib.path
    assert os.path.isabs(real) and os.path.exists(real)
    result = run_python(
        "import devmapper; l = devmapper.get_library(); "
        "print(l.name); print(l.path); print(devmapper.library_version())",
        {_lib.LIBRARY_ENV: real},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == real
    assert lines[1] == real
    assert lines[2] == lib.library_version()


def test_env_var_bad_path_fails_clearly() -> None:
    result = run_python(
        "import devmapper\n"
        "try:\n"
        "    devmapper.library_version()\n"
        "except ImportError as e:\n"
        "    print('ImportError', e)\n",
        {_lib.LIBRARY_ENV: "/nonexistent/libdm.so"},
    )
    assert result.returncode == 0, result.stderr
    assert "ImportError" in result.stdout
    assert "/nonexistent/libdm.so" in result.stdout


def test_explicit_library_argument() -> None:
    path = devmapper.get_library().path
    mapper = devmapper.DeviceMapper(path)
    assert mapper.library.name == path
    assert mapper.library_version() == devmapper.library_version()


def test_library_version_format() -> None:
    text = devmapper.library_version()
    major = text.split(".")[0]
    assert major == "1", text
    assert text.startswith("1.02."), text


def test_import_has_no_side_effects() -> None:
    """Importing and reading the library version neither talks to the kernel
    nor prints anything."""
    result = run_python(
        "import devmapper; print(devmapper.library_version())")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith("1.02.")


def test_py_typed_present() -> None:
    assert (PYTHON_DIR / "devmapper" / "py.typed").exists()
