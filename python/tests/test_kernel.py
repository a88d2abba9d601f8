"""Tests against a real device-mapper (root and a kernel with dm modules).

Skipped unless running as root with a usable /dev/mapper/control, or with
DEVMAPPER_KERNEL_TESTS=1.  Every device is named ``pytest-dm-<pid>-...`` and
removed again (see conftest).  Deviceless messages: with
DEVMAPPER_DEVICELESS=1 the kernel must answer ``%Hello`` to ``linear``;
otherwise a stock kernel is expected to refuse with ENXIO.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
from typing import Any, Callable, List, Optional

import pytest

import devmapper
from devmapper import DMError, DeviceMapper, Target, TargetStatus

pytestmark = pytest.mark.kernel

ZERO = "zero"


def node_path(name: str) -> str:
    return os.path.join("/dev/mapper", name)


def open_device(mapper: DeviceMapper, name: str) -> int:
    """Open the device's block node (the /dev/mapper node libdm made, or the
    kernel's /dev/dm-N)."""
    info = mapper.info(name)
    for path in (node_path(name), f"/dev/dm-{info.minor}"):
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
    pytest.skip(f"no device node for {name}")


# -- driver and library -----------------------------------------------------------


def test_version(dmapi: DeviceMapper) -> None:
    text = dmapi.version()
    assert re.fullmatch(r"4\.\d+\.\d+", text), text
    assert dmapi.driver_version()[0] == 4
    assert devmapper.version() == text


def test_targets_lists_builtin_types(dmapi: DeviceMapper) -> None:
    targets = dict(dmapi.targets())
    assert "linear" in targets
    assert "error" in targets
    major, minor, patch = targets["linear"]
    assert major >= 1
    assert all(isinstance(v, tuple) and len(v) == 3 for v in targets.values())


def test_target_version_loads_module(dmapi: DeviceMapper) -> None:
    if dmapi.driver_version() < (4, 41, 0):
        pytest.skip("GET_TARGET_VERSION needs driver 4.41")
    version = dmapi.target_version(ZERO)
    assert version[0] >= 1
    assert ZERO in dict(dmapi.targets())
    with pytest.raises(DMError) as info:
        dmapi.target_version("nosuchtarget")
    assert info.value.errno == errno.EINVAL


def test_low_level_task(dmapi: DeviceMapper) -> None:
    lib = dmapi.library
    with devmapper.Task(devmapper.DM_DEVICE_VERSION, library=lib) as task:
        task.run()
        assert lib.dm_task_get_errno(task) == 0  # passes via _as_parameter_
        assert task.get_driver_version() == dmapi.version()
    assert task.closed


# -- lifecycle ----------------------------------------------------------------------


def test_zero_device_lifecycle(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("zero")
    uuid = devname.uuid("zero")
    created = dmapi.create(name, "0 2048 zero", uuid=uuid)
    assert created.exists and created.live_table and not created.suspended

    info = dmapi.info(name)
    assert info.exists and info.live_table and not info.inactive_table
    assert not info.suspended and not info.read_only
    assert info.target_count == 1
    assert info.open_count == 0
    assert info.name == name and info.uuid == uuid
    assert info.major > 0
    assert dmapi.exists(name)

    assert dmapi.table(name) == [Target(0, 2048, "zero", "")]
    assert dmapi.status(name) == [TargetStatus(0, 2048, "zero", "")]
    assert dmapi.deps(name) == []
    assert os.path.exists(node_path(name))

    dmapi.remove(name)
    assert not dmapi.exists(name)
    assert not os.path.exists(node_path(name))
    with pytest.raises(DMError) as missing:
        dmapi.info(name)
    assert missing.value.errno == errno.ENXIO


def test_list_devices(dmapi: DeviceMapper, devname: Any) -> None:
    with_uuid = devname("listed")
    uuid = devname.uuid("listed")
    without_uuid = devname("nouuid")
    dmapi.create(with_uuid, [Target(0, 100, "zero")], uuid=uuid)
    dmapi.create(without_uuid, "0 100 error")
    devices = {d.name: d for d in dmapi.list_devices()}
    assert with_uuid in devices and without_uuid in devices
    info = dmapi.info(with_uuid)
    entry = devices[with_uuid]
    assert (entry.major, entry.minor) == (info.major, info.minor)
    driver = dmapi.driver_version()
    if driver >= (4, 45, 0):
        assert entry.uuid == uuid
        assert devices[without_uuid].uuid == ""
    else:
        assert entry.uuid is None
    if driver >= (4, 38, 0):
        assert entry.event_nr == info.event_nr
    else:
        assert entry.event_nr is None
    dmapi.remove(with_uuid)
    dmapi.remove(without_uuid)
    names = [d.name for d in dmapi.list_devices()]
    assert with_uuid not in names and without_uuid not in names


def test_multi_target_table(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("multi")
    table = [Target(0, 100, "zero"), Target(100, 28, "error"),
             Target(128, 72, "zero")]
    dmapi.create(name, table)
    assert dmapi.table(name) == table
    assert [s.type for s in dmapi.status(name)] == ["zero", "error", "zero"]
    assert dmapi.info(name).target_count == 3
    dmapi.remove(name)


def test_readonly(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("ro")
    info = dmapi.create(name, "0 64 zero", readonly=True)
    assert info.read_only
    assert dmapi.info(name).read_only
    dmapi.remove(name)


def test_create_duplicate_fails(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("dup")
    dmapi.create(name, "0 8 zero")
    with pytest.raises(DMError) as info:
        dmapi.create(name, "0 8 zero")
    assert info.value.errno == errno.EBUSY
    assert info.value.operation == "create"
    assert info.value.messages
    # The existing device is untouched.
    assert dmapi.table(name) == [Target(0, 8, "zero")]
    dmapi.remove(name)


def test_create_bad_table_is_reverted(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("badtable")
    with pytest.raises(DMError) as info:
        dmapi.create(name, "0 100 nosuchtarget some params")
    err = info.value
    assert err.errno == errno.EINVAL
    assert err.operation == "reload"
    assert err.device == name
    assert err.messages  # the library's own "reload ioctl ... failed" text
    assert not dmapi.exists(name)
    assert name not in [d.name for d in dmapi.list_devices()]


def test_missing_device_errors(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("missing")
    assert not dmapi.exists(name)
    for call in (dmapi.info, dmapi.table, dmapi.status, dmapi.deps,
                 dmapi.remove, dmapi.suspend):
        with pytest.raises(DMError) as info:
            call(name)  # type: ignore[operator]
        assert info.value.errno == errno.ENXIO, call
        assert info.value.device == name


def test_suspend_resume(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("susp")
    dmapi.create(name, "0 256 zero")
    dmapi.suspend(name)
    assert dmapi.info(name).suspended
    info = dmapi.resume(name)
    assert not info.suspended
    assert not dmapi.info(name).suspended
    dmapi.suspend(name, noflush=True, skip_lockfs=True)
    assert dmapi.info(name).suspended
    dmapi.resume(name)
    dmapi.remove(name)


def test_load_inactive_then_resume(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("reload")
    dmapi.create(name, "0 100 zero")
    dmapi.load(name, "0 200 error")
    info = dmapi.info(name)
    assert info.live_table and info.inactive_table
    assert dmapi.table(name) == [Target(0, 100, "zero")]
    assert dmapi.table(name, inactive=True) == [Target(0, 200, "error")]
    assert dmapi.status(name, inactive=True) == [TargetStatus(0, 200, "error", "")]
    dmapi.clear(name)
    assert not dmapi.info(name).inactive_table
    dmapi.load(name, "0 200 error")
    dmapi.suspend(name)
    dmapi.resume(name)
    assert dmapi.table(name) == [Target(0, 200, "error")]
    assert not dmapi.info(name).inactive_table
    dmapi.remove(name)


def test_rename(dmapi: DeviceMapper, devname: Any) -> None:
    old = devname("old")
    new = devname("new")
    dmapi.create(old, "0 16 zero")
    dmapi.rename(old, new_name=new)
    assert not dmapi.exists(old)
    assert dmapi.info(new).name == new
    assert os.path.exists(node_path(new))
    assert not os.path.exists(node_path(old))

    uuid = devname.uuid("set-later")
    assert dmapi.info(new).uuid is None
    dmapi.rename(new, new_uuid=uuid)
    assert dmapi.info(new).uuid == uuid
    with pytest.raises(DMError) as info:
        dmapi.rename(new, new_uuid=devname.uuid("again"))
    assert info.value.errno == errno.EINVAL  # a uuid can only be set once
    dmapi.remove(new)


def test_deps_of_linear_on_zero(dmapi: DeviceMapper, devname: Any) -> None:
    lower = devname("lower")
    upper = devname("upper")
    low = dmapi.create(lower, "0 4096 zero")
    dmapi.create(upper, f"0 1024 linear {low.major}:{low.minor} 2048")
    assert dmapi.deps(upper) == [(low.major, low.minor)]
    assert dmapi.table(upper) == [
        Target(0, 1024, "linear", f"{low.major}:{low.minor} 2048")]
    assert dmapi.info(lower).open_count == 1
    with pytest.raises(DMError) as busy:
        dmapi.remove(lower)
    assert busy.value.errno == errno.EBUSY
    dmapi.remove(upper)
    dmapi.remove(lower)


def test_deferred_remove(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("deferred")
    dmapi.create(name, "0 64 zero")
    fd = open_device(dmapi, name)
    try:
        with pytest.raises(DMError) as busy:
            dmapi.remove(name)
        assert busy.value.errno == errno.EBUSY
        dmapi.remove(name, deferred=True)
        info = dmapi.info(name)
        assert info.deferred_remove
    finally:
        os.close(fd)
    # The kernel removes the device from a workqueue after the last close:
    # wait for that state change (bounded).
    pause = threading.Event()
    for _ in range(3000):
        if not dmapi.exists(name):
            break
        pause.wait(0.01)
    assert not dmapi.exists(name)


# -- messages and events ----------------------------------------------------------


def test_message_to_dm_core(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("msg")
    dmapi.create(name, "0 2048 zero")
    region = dmapi.message(name, 0, "@stats_create - /1")
    assert region is not None and region.strip() == "0"
    listing = dmapi.message(name, 0, "@stats_list")
    assert listing is not None and listing.startswith("0: 0+2048")
    assert dmapi.message(name, 0, "@stats_delete 0") in (None, "")
    dmapi.remove(name)


def test_message_unsupported_by_target(dmapi: DeviceMapper, devname: Any) -> None:
    name = devname("nomsg")
    dmapi.create(name, "0 16 zero")
    with pytest.raises(DMError) as info:
        dmapi.message(name, 0, "hello")
    assert info.value.errno == errno.EINVAL
    assert info.value.operation == "message"
    dmapi.remove(name)


def test_target_message_deviceless(dmapi: DeviceMapper) -> None:
    assert not dmapi.exists("linear")
    if os.environ.get("DEVMAPPER_DEVICELESS") == "1":
        assert dmapi.target_message("linear", "%Hello") == "World!"
        assert dmapi.target_message("linear", "%hello") == "World!"
        with pytest.raises(DMError) as info:
            dmapi.target_message("linear", "%Goodbye")
        assert info.value.errno == errno.EINVAL
    else:
        with pytest.raises(DMError) as info:
            dmapi.target_message("linear", "%Hello")
        err = info.value
        assert err.errno == errno.ENXIO
        assert "kernel does not support deviceless messages (target 'linear')" in str(err)


def test_wait_event_returns_at_once_for_old_counter(dmapi: DeviceMapper,
                                                    devname: Any) -> None:
    name = devname("waitnow")
    dmapi.create(name, "0 16 zero")
    current = dmapi.info(name).event_nr
    info = dmapi.wait_event(name, current + 1)  # differs: no waiting
    assert info.event_nr == current
    dmapi.remove(name)


def _in_background(func: Callable[[], Any]) -> "Background":
    runner = Background(func)
    runner.start()
    return runner


class Background(threading.Thread):
    def __init__(self, func: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.func = func
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.tid: Optional[int] = None
        self.ready = threading.Event()

    def run(self) -> None:
        self.tid = threading.get_native_id()
        self.ready.set()
        try:
            self.result = self.func()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def blocked_in_dev_wait(self) -> bool:
        """Whether the thread sits in the DM_DEV_WAIT ioctl right now."""
        try:
            with open(f"/proc/self/task/{self.tid}/syscall") as f:
                fields = f.read().split()
        except OSError:
            return False
        return len(fields) > 2 and int(fields[2], 16) == 0xC138FD08


def _multipath_table(dmapi: DeviceMapper, path_dev: str) -> str:
    info = dmapi.info(path_dev)
    return (f"0 2048 multipath 2 queue_mode bio 0 1 1 round-robin 0 1 1 "
            f"{info.major}:{info.minor} 1000")


def test_wait_event_wakes_on_target_event(dmapi: DeviceMapper, devname: Any) -> None:
    """A multipath path failure (a message) raises a device event."""
    path = devname("mpath-leg")
    name = devname("mpath")
    dmapi.create(path, "0 2048 zero")
    table = _multipath_table(dmapi, path)
    try:
        dmapi.create(name, table)
    except DMError as exc:
        pytest.skip(f"dm-multipath not usable here: {exc}")
    before = dmapi.info(name).event_nr
    leg = dmapi.info(path)
    waiter = _in_background(lambda: dmapi.wait_event(name, before))
    dmapi.message(name, 0, f"fail_path {leg.major}:{leg.minor}")
    waiter.join(timeout=60)
    assert not waiter.is_alive(), "wait_event did not return after the event"
    assert waiter.error is None, waiter.error
    assert waiter.result.event_nr > before
    dmapi.remove(name)
    dmapi.remove(path)


def test_wait_event_wakes_on_remove(dmapi: DeviceMapper, devname: Any) -> None:
    """Removing a device raises an event that wakes its waiters."""
    name = devname("waitrm")
    dmapi.create(name, "0 16 zero")
    before = dmapi.info(name).event_nr
    waiter = _in_background(lambda: dmapi.wait_event(name, before))
    waiter.ready.wait(timeout=60)
    # Remove only once the waiter is inside the ioctl (otherwise it would
    # find no device); poll /proc for that state.
    deadline = threading.Event()
    for _ in range(6000):
        if waiter.blocked_in_dev_wait() or not waiter.is_alive():
            break
        deadline.wait(0.01)
    else:
        pytest.skip("cannot observe the waiting thread in /proc")
    assert waiter.is_alive(), waiter.error
    dmapi.remove(name)
    waiter.join(timeout=60)
    assert not waiter.is_alive(), "wait_event did not return after remove"
    assert waiter.error is None, waiter.error
    assert waiter.result.event_nr > before


# -- logging ------------------------------------------------------------------------


def test_library_debug_lines_are_formatted(dmapi: DeviceMapper, devname: Any,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """The per-ioctl debug line has many variadic arguments (registers and
    stack); it must render with the real name and no bad pointers."""
    name = devname("logged")
    dmapi.create(name, "0 16 zero")
    with caplog.at_level(logging.DEBUG, logger="devmapper"):
        dmapi.info(name)
    texts: List[str] = [r.getMessage() for r in caplog.records
                        if r.name == "devmapper"]
    assert any(name in t for t in texts), texts
    assert not any("(bad pointer)" in t for t in texts), texts
    dmapi.remove(name)


def test_errors_are_not_printed(dmapi: DeviceMapper, devname: Any,
                                capfd: pytest.CaptureFixture) -> None:
    name = devname("quiet")
    with pytest.raises(DMError):
        dmapi.table(name)
    out, err = capfd.readouterr()
    assert name not in out and name not in err


# -- node handling and cross-checks ---------------------------------------------


@pytest.mark.parametrize("udev_sync", [False, True])
def test_device_nodes(devname: Any, udev_sync: bool, dmapi: DeviceMapper) -> None:
    """/dev/mapper nodes follow create, rename and remove, with or without
    udev cookies (where udev is not running libdm makes them itself)."""
    mapper = DeviceMapper(dmapi.library, udev_sync=udev_sync)
    name = devname("node")
    renamed = devname("node-renamed")
    info = mapper.create(name, "0 32 zero")
    assert os.path.exists(node_path(name))
    st = os.stat(node_path(name))
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (info.major, info.minor)
    mapper.rename(name, new_name=renamed)
    assert os.path.exists(node_path(renamed))
    assert not os.path.exists(node_path(name))
    mapper.remove(renamed)
    assert not os.path.exists(node_path(renamed))


def test_agrees_with_dmsetup(dmapi: DeviceMapper, devname: Any) -> None:
    import shutil
    import subprocess

    dmsetup = shutil.which("dmsetup") or (
        "/sbin/dmsetup" if os.path.exists("/sbin/dmsetup") else None)
    if dmsetup is None:
        pytest.skip("dmsetup not installed")
    name = devname("cross")
    uuid = devname.uuid("cross")
    table = [Target(0, 100, "zero"), Target(100, 50, "error")]
    dmapi.create(name, table, uuid=uuid)

    def run(*args: str) -> str:
        return subprocess.run([dmsetup, *args], check=True, capture_output=True,
                              text=True, timeout=60).stdout

    # dmsetup prints a space after the type even when params are empty.
    assert [line.rstrip() for line in run("table", name).splitlines()] == \
        devmapper.format_table(table).splitlines()
    fields = run("info", "-c", "--noheadings", "--separator", "|",
                 "-o", "name,uuid,major,minor,open,segments,events",
                 name).strip().split("|")
    info = dmapi.info(name)
    assert fields == [name, uuid, str(info.major), str(info.minor),
                      str(info.open_count), str(info.target_count),
                      str(info.event_nr)]
    status_lines = [line.rstrip() for line in run("status", name).splitlines()]
    assert status_lines == [str(s) for s in dmapi.status(name)]
    dmapi.remove(name)
