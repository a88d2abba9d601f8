"""Task lifetime and error handling, against a stand-in library (the real
``dm_task_create`` needs the kernel driver)."""

from __future__ import annotations

import errno
import gc
from typing import Any, List, Optional

import pytest

import devmapper
from devmapper import DMError, Task, _log


class FakeLibrary:
    """Just enough of :class:`devmapper.Library` for :class:`Task`."""

    def __init__(self, *, create_ok: bool = True) -> None:
        self.create_ok = create_ok
        self.destroyed: List[int] = []
        self.calls: List[str] = []
        self.run_result = 1
        self.run_errno = 0
        self.next_ptr = 0x1000

    def install_log_handler(self) -> None:
        pass

    def has(self, name: str) -> bool:
        return name.startswith("dm_")

    @staticmethod
    def _addr(task: Any) -> int:
        return int(getattr(task, "_as_parameter_", task))

    def dm_task_create(self, task_type: int) -> Optional[int]:
        if not self.create_ok:
            _log.handle_message(3, b"libdm-iface.c", 1, -1,
                                b"Failure to communicate with kernel device-mapper driver.", ())
            return None
        self.next_ptr += 0x10
        return self.next_ptr

    def dm_task_destroy(self, ptr: int) -> None:
        self.destroyed.append(ptr)

    def dm_task_run(self, task: Any) -> int:
        self.calls.append("run")
        self._addr(task)
        if not self.run_result:
            _log.handle_message(
                3, b"libdm-iface.c", 2, -1,
                b"device-mapper: %s ioctl on %s  failed: %s",
                (0, 0, 0))  # pointers 0 -> "(null)"
        return self.run_result

    def dm_task_get_errno(self, task: Any) -> int:
        return self.run_errno

    def dm_task_set_name(self, task: Any, name: bytes) -> int:
        self.calls.append("set_name")
        self._addr(task)
        if len(name) >= 128:
            _log.handle_message(3, b"libdm-common.c", 3, -1,
                                b"Name \"%s\" too long.", ())
            return 0
        return 1

    def dm_task_no_flush(self, task: Any) -> int:
        return 0  # fails without text


def test_context_manager_destroys_once() -> None:
    lib = FakeLibrary()
    with Task(devmapper.DM_DEVICE_INFO, library=lib) as task:  # type: ignore[arg-type]
        ptr = task._as_parameter_
        assert not task.closed
    assert task.closed
    assert lib.destroyed == [ptr]
    task.close()
    task.close()
    assert lib.destroyed == [ptr]


def test_closed_task_cannot_be_passed_to_c() -> None:
    lib = FakeLibrary()
    task = Task(devmapper.DM_DEVICE_INFO, library=lib)  # type: ignore[arg-type]
    task.close()
    with pytest.raises(ValueError, match="closed"):
        task._as_parameter_
    with pytest.raises(ValueError, match="closed"):
        task.run()


def test_garbage_collection_destroys() -> None:
    lib = FakeLibrary()
    task = Task(devmapper.DM_DEVICE_INFO, library=lib)  # type: ignore[arg-type]
    ptr = task._as_parameter_
    del task
    gc.collect()
    assert lib.destroyed == [ptr]


def test_create_failure_raises_with_library_text() -> None:
    lib = FakeLibrary(create_ok=False)
    with pytest.raises(DMError) as info:
        Task(devmapper.DM_DEVICE_INFO, library=lib)  # type: ignore[arg-type]
    assert info.value.messages == (
        "Failure to communicate with kernel device-mapper driver.",)
    assert info.value.operation == "info"
    assert lib.destroyed == []


def test_run_failure_carries_errno_and_text() -> None:
    lib = FakeLibrary()
    lib.run_result = 0
    lib.run_errno = errno.ENXIO
    with Task(devmapper.DM_DEVICE_TABLE, library=lib) as task:  # type: ignore[arg-type]
        task.set_name("dev")
        with pytest.raises(DMError) as info:
            task.run()
    err = info.value
    assert isinstance(err, OSError)
    assert err.errno == errno.ENXIO
    assert err.device == "dev" and err.operation == "table"
    assert err.messages == ("device-mapper: (null) ioctl on (null)  failed: (null)",)
    assert str(err).startswith("[Errno 6] device-mapper:")


def test_run_failure_without_text() -> None:
    lib = FakeLibrary()
    lib.run_result = 0
    lib.run_errno = errno.EBUSY
    with Task(devmapper.DM_DEVICE_REMOVE, library=lib) as task:  # type: ignore[arg-type]
        task.device = "dev"
        lib.dm_task_run = lambda t: 0  # type: ignore[method-assign,assignment]
        with pytest.raises(DMError) as info:
            task.run()
    assert info.value.errno == errno.EBUSY
    assert str(info.value) == "[Errno 16] remove 'dev' failed: Device or resource busy"


def test_setter_failure() -> None:
    lib = FakeLibrary()
    with Task(devmapper.DM_DEVICE_INFO, library=lib) as task:  # type: ignore[arg-type]
        with pytest.raises(DMError) as info:
            task.set_name("x" * 200)
        assert info.value.messages == ('Name "?" too long.',)
        assert info.value.errno is None
        with pytest.raises(DMError, match="dm_task_no_flush failed"):
            task.no_flush()


def test_results_need_a_successful_run() -> None:
    lib = FakeLibrary()
    with Task(devmapper.DM_DEVICE_LIST, library=lib) as task:  # type: ignore[arg-type]
        for getter in (task.get_names, task.get_versions, task.get_deps,
                       task.get_table, task.get_message_response):
            with pytest.raises(RuntimeError):
                getter()
        assert task.get_name() is None


def test_repr() -> None:
    lib = FakeLibrary()
    task = Task(devmapper.DM_DEVICE_INFO, library=lib)  # type: ignore[arg-type]
    assert "info" in repr(task) and "open" in repr(task)
    task.close()
    assert "closed" in repr(task)


def test_dmerror_is_oserror_subclass() -> None:
    err = DMError(errno.EINVAL, "bad", operation="reload", device="d")
    assert isinstance(err, OSError)
    assert err.errno == errno.EINVAL and err.strerror == "bad"
    assert DMError(None, "no errno").errno is None
    assert str(DMError(None, "no errno")) == "no errno"
