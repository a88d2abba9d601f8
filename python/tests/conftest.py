"""Test configuration: the in-tree package first on sys.path, the ``kernel``
marker, and fixtures for tests that need a real device-mapper."""

from __future__ import annotations

import itertools
import os
import stat
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
TESTS_DIR = Path(__file__).resolve().parent
for entry in (str(TESTS_DIR), str(PYTHON_DIR)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

REPO_DIR = PYTHON_DIR.parent
KERNEL_ENV = "DEVMAPPER_KERNEL_TESTS"
NAME_PREFIX = f"pytest-dm-{os.getpid()}-"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kernel: needs a real device-mapper (root and a usable "
        "/dev/mapper/control, or DEVMAPPER_KERNEL_TESTS=1)",
    )


def kernel_available() -> bool:
    """Root, and a device-mapper driver we can open (or the env override)."""
    flag = os.environ.get(KERNEL_ENV)
    if flag is not None:
        return flag not in ("", "0")
    if os.geteuid() != 0:
        return False
    control = "/dev/mapper/control"
    try:
        st = os.stat(control)
    except OSError:
        st = None
    if st is not None and stat.S_ISCHR(st.st_mode):
        try:
            fd = os.open(control, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return False
        os.close(fd)
        return True
    # No node yet: libdm creates it when the driver is registered.
    try:
        with open("/proc/misc") as misc:
            return any(line.split()[1:2] == ["device-mapper"] for line in misc)
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: List[pytest.Item]) -> None:
    if kernel_available():
        return
    skip = pytest.mark.skip(
        reason="no usable device-mapper (needs root and /dev/mapper/control, "
        f"or {KERNEL_ENV}=1)")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_kernel_in_unit_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit tests must not reach the kernel: on a host without
    device-mapper, libdm would create /dev/mapper/control and cache the
    failure for the whole process.  Fail loudly if one tries."""
    if "kernel" in request.keywords:
        yield
        return
    from devmapper import _lib, task

    original = task.Task.__init__

    def guarded(self: task.Task, task_type: int, *, library: object = None) -> None:
        if library is None or isinstance(library, _lib.Library):
            raise AssertionError("a unit test tried to create a real dm task")
        original(self, task_type, library=library)  # type: ignore[arg-type]

    task.Task.__init__ = guarded  # type: ignore[method-assign]
    try:
        yield
    finally:
        task.Task.__init__ = original  # type: ignore[method-assign]


_counter = itertools.count()


@pytest.fixture
def dmapi() -> Iterator["object"]:
    """A DeviceMapper on the default library; removes leftover test devices."""
    import devmapper

    mapper = devmapper.DeviceMapper()
    yield mapper
    _cleanup(mapper)


def _cleanup(mapper: "object") -> None:
    import devmapper

    assert isinstance(mapper, devmapper.DeviceMapper)
    try:
        leftovers = [d.name for d in mapper.list_devices()
                     if d.name.startswith(NAME_PREFIX)]
    except devmapper.DMError:
        return
    # Remove stacked devices first: repeat while progress is made.
    for _ in range(len(leftovers) + 1):
        remaining = []
        for name in leftovers:
            try:
                mapper.resume(name)
            except devmapper.DMError:
                pass
            try:
                mapper.remove(name)
            except devmapper.DMError:
                remaining.append(name)
        if not remaining or remaining == leftovers:
            break
        leftovers = remaining


@pytest.fixture
def devname() -> "DevNames":
    """Factory of unique device names: ``pytest-dm-<pid>-<n>-<tag>``."""
    return DevNames()


class DevNames:
    def __call__(self, tag: str = "dev") -> str:
        return f"{NAME_PREFIX}{next(_counter)}-{tag}"

    def uuid(self, tag: str = "dev") -> str:
        return f"PYTEST-{os.getpid()}-{next(_counter)}-{tag}"
