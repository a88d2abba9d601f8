"""End-to-end error reporting when the kernel has no device-mapper.

Runs in a subprocess with a private dev dir (``dm_set_dev_dir``), so libdm
creates its control node there, not under /dev, and its cached failure does
not leak into other tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import kernel_available

PYTHON_DIR = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import sys, devmapper
lib = devmapper.get_library()
assert lib.dm_set_dev_dir(sys.argv[1].encode()) == 1
for attempt in range(2):
    try:
        devmapper.info("pytest-nokernel")
    except devmapper.DMError as e:
        print("ERRNO", e.errno)
        print("OPERATION", e.operation)
        for m in e.messages:
            print("MSG", m)
        print("STR", str(e))
    else:
        print("NO ERROR")
"""


@pytest.mark.skipif(kernel_available(), reason="device-mapper is available here")
def test_error_text_without_driver() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(PYTHON_DIR) + os.pathsep + env.get("PYTHONPATH", "")
        result = subprocess.run([sys.executable, "-c", SCRIPT, tmp], env=env,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # Nothing reaches stdout/stderr from the library itself.
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert "NO ERROR" not in lines
    messages = [line[4:] for line in lines if line.startswith("MSG ")]
    operations = [line for line in lines if line.startswith("OPERATION ")]
    assert operations == ["OPERATION info", "OPERATION info"]
    # The first attempt carries the library's own explanation.
    assert any("Failure to communicate with kernel device-mapper driver" in m
               for m in messages), lines
    assert any("control" in m for m in messages), lines
    # The second attempt still raises a clear error: stock libdm caches the
    # failed version check and says nothing more (the package then explains
    # itself); a library that retries repeats its explanation.
    assert lines[-1].startswith("STR ")
    assert ("dm_task_create failed" in lines[-1]
            or "Failure to communicate" in lines[-1]), lines[-1]
