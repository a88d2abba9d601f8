"""The signature table against C headers: the project's generated
``include/libdevmapper.h`` (skipped until it exists) and, optionally, the
stock header (``$DEVMAPPER_STOCK_HEADER`` or ``/usr/include/libdevmapper.h``;
e.g. extract it from ``apt-get download libdevmapper-dev`` into /tmp)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import List

import pytest

import cheader
from devmapper import _lib

REPO = Path(__file__).resolve().parents[2]
OUR_HEADER = REPO / "include" / "libdevmapper.h"

#: Exported, but not declared in libdevmapper.h (a compat alias).
NOT_IN_HEADER = {"dm_task_get_info_with_deferred_remove"}


def stock_header() -> Path:
    env = os.environ.get("DEVMAPPER_STOCK_HEADER")
    candidates = [Path(env)] if env else []
    candidates.append(Path("/usr/include/libdevmapper.h"))
    for path in candidates:
        if path.is_file():
            return path
    pytest.skip("stock libdevmapper.h not available "
                "(set DEVMAPPER_STOCK_HEADER)")


def check_header(path: Path) -> List[str]:
    protos = cheader.parse_prototypes(path.read_text(errors="replace"))
    problems = []
    for name, signature in _lib.SIGNATURES.items():
        if name not in protos:
            if name not in NOT_IN_HEADER:
                problems.append(f"{name}: not declared in {path}")
            continue
        mismatch = cheader.describe_mismatch(name, signature, protos[name])
        if mismatch:
            problems.append(mismatch)
    return problems


def test_signatures_match_project_header() -> None:
    if not OUR_HEADER.is_file():
        pytest.skip(f"{OUR_HEADER} not generated yet")
    assert check_header(OUR_HEADER) == []


def test_signatures_match_stock_header() -> None:
    assert check_header(stock_header()) == []


SAMPLE = """
#ifndef X_H
#define X_H \\
   continued
/* a comment with dm_fake(int); inside */
typedef void (*dm_log_with_errno_fn) (int level, const char *file, int line,
                                      int dm_errno_or_class, const char *f, ...)
    __attribute__ ((format(printf, 5, 6)));
struct dm_task *dm_task_create(int type);
int dm_task_set_uid(struct dm_task *dmt, uid_t uid);
void *dm_get_next_target(struct dm_task *dmt,
                         void *next, uint64_t *start, uint64_t *length,
                         char **target_type, char **params);
void dm_log_with_errno_init(dm_log_with_errno_fn fn);
void dm_lib_init(void) __attribute__((constructor));
const char *dm_task_get_name(const struct dm_task *dmt);
int32_t dm_task_set_minor(struct dm_task *dmt, int32_t minor);
uint32_t dm_task_get_read_ahead(const struct dm_task *dmt, uint32_t *read_ahead);
#endif
"""


def test_parser_reads_prototypes() -> None:
    protos = cheader.parse_prototypes(SAMPLE)
    assert protos["dm_task_create"] == ("dm_task*", ["i32"])
    assert protos["dm_task_set_uid"] == ("i32", ["dm_task*", "u32"])
    assert protos["dm_get_next_target"] == (
        "void*", ["dm_task*", "void*", "u64*", "u64*", "char**", "char**"])
    assert protos["dm_log_with_errno_init"] == ("void", ["fnptr"])
    assert protos["dm_lib_init"] == ("void", [])
    assert protos["dm_task_get_name"] == ("char*", ["dm_task*"])
    assert protos["dm_task_set_minor"] == ("i32", ["dm_task*", "i32"])
    assert protos["dm_task_get_read_ahead"] == ("u32", ["dm_task*", "u32*"])
    assert "dm_fake" not in protos
    assert "dm_log_with_errno_fn" not in protos


def test_checker_detects_mismatches() -> None:
    protos = cheader.parse_prototypes(SAMPLE)
    wrong_arg = (ctypes.c_int, (_lib.DmTaskP, ctypes.c_uint64))
    assert cheader.describe_mismatch("dm_task_set_uid", wrong_arg,
                                     protos["dm_task_set_uid"])
    wrong_count = (ctypes.c_int, (_lib.DmTaskP,))
    assert cheader.describe_mismatch("dm_task_set_uid", wrong_count,
                                     protos["dm_task_set_uid"])
    wrong_ret = (ctypes.c_void_p, (ctypes.c_int,))
    assert cheader.describe_mismatch("dm_lib_init", wrong_ret,
                                     ("void", ["i32"]))
    right = _lib.SIGNATURES["dm_get_next_target"]
    assert cheader.describe_mismatch("dm_get_next_target", right,
                                     protos["dm_get_next_target"]) is None
