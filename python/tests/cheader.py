"""A small parser for function prototypes in a C header, and a mapping of C
and ctypes types to comparable "kinds" (used to check the signature table)."""

from __future__ import annotations

import ctypes
import re
from typing import Any, Dict, List, Optional, Tuple

_BASE_WORDS = {
    "int", "char", "short", "long", "unsigned", "signed", "void", "float",
    "double", "_Bool", "bool",
}
_QUALIFIERS = {
    "const", "volatile", "restrict", "__restrict", "__restrict__", "struct",
    "enum", "union", "extern", "static", "inline", "__inline", "__inline__",
}

# C base type spelling -> kind.
_C_KINDS = {
    "int": "i32",
    "signed int": "i32",
    "signed": "i32",
    "int32_t": "i32",
    "unsigned": "u32",
    "unsigned int": "u32",
    "uint32_t": "u32",
    "uid_t": "u32",
    "gid_t": "u32",
    "mode_t": "u32",
    "uint16_t": "u16",
    "unsigned short": "u16",
    "uint64_t": "u64",
    "unsigned long long": "u64",
    "unsigned long": "u64",
    "size_t": "u64",
    "uintptr_t": "u64",
    "int64_t": "i64",
    "long": "i64",
    "long long": "i64",
    "char": "char",
    "void": "void",
    "dm_add_node_t": "i32",
    "dm_string_mangling_t": "i32",
    "dm_log_with_errno_fn": "fnptr",
    "dm_log_fn": "fnptr",
}


def strip_c(text: str) -> str:
    """Remove comments, preprocessor lines and attributes from C source."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    lines: List[str] = []
    continued = False
    for line in text.splitlines():
        stripped = line.strip()
        if continued or stripped.startswith("#"):
            continued = stripped.endswith("\\")
            continue
        lines.append(line)
    text = "\n".join(lines)
    text = _remove_calls(text, "__attribute__")
    text = _remove_calls(text, "__declspec")
    text = text.replace('extern "C"', " ")
    return text


def _remove_calls(text: str, word: str) -> str:
    while True:
        start = text.find(word)
        if start < 0:
            return text
        i = text.find("(", start)
        if i < 0:
            return text[:start] + text[start + len(word):]
        depth = 0
        j = i
        while j < len(text):
            if text[j] == "(":
                depth += 1
            elif text[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        text = text[:start] + " " + text[j + 1:]


def _split_params(params: str) -> List[str]:
    out: List[str] = []
    depth = 0
    current = ""
    for ch in params:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        out.append(current)
    return [p.strip() for p in out]


def c_kind(decl: str, *, is_param: bool) -> str:
    """Reduce one C type (with or without a parameter name) to a kind."""
    decl = decl.strip()
    if "(" in decl:
        return "fnptr"
    decl = re.sub(r"\[\s*\d*\s*\]", "*", decl)
    tokens = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\*", decl)
    stars = tokens.count("*")
    words = [t for t in tokens if t != "*" and t not in _QUALIFIERS]
    # Drop upper-case attribute-like macros (e.g. DM_EXPORT) in front.
    while len(words) > 1 and re.fullmatch(r"[A-Z][A-Z0-9_]*", words[0]):
        words = words[1:]
    if is_param and len(words) > 1 and words[-1] not in _BASE_WORDS:
        words = words[:-1]  # the parameter name
    base = " ".join(words)
    kind = _C_KINDS.get(base)
    if kind is None:
        kind = base  # a struct or typedef name, e.g. dm_task
    if kind == "fnptr":
        return "fnptr"
    return kind + "*" * stars


def parse_prototypes(text: str) -> Dict[str, Tuple[str, List[str]]]:
    """Find ``ret name(params);`` declarations: name -> (ret kind, param kinds)."""
    clean = strip_c(text)
    result: Dict[str, Tuple[str, List[str]]] = {}
    pattern = re.compile(r"([A-Za-z_][A-Za-z0-9_\s\*]*?)\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
    pos = 0
    while True:
        match = pattern.search(clean, pos)
        if match is None:
            break
        # Find the balanced parameter list.
        i = match.end() - 1
        depth = 0
        j = i
        while j < len(clean):
            if clean[j] == "(":
                depth += 1
            elif clean[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        after = clean[j + 1:j + 40].lstrip()
        prefix_start = max(clean.rfind(";", 0, match.start()),
                           clean.rfind("{", 0, match.start()),
                           clean.rfind("}", 0, match.start()))
        prefix = clean[prefix_start + 1:match.start(2)].strip()
        name = match.group(2)
        pos = j + 1
        if not after.startswith(";") or "typedef" in prefix or not prefix:
            continue
        if "(" in prefix or "=" in prefix:
            continue
        params = clean[i + 1:j].strip()
        plist = _split_params(params)
        if plist == ["void"] or not plist:
            kinds: List[str] = []
        else:
            kinds = [("..." if p == "..." else c_kind(p, is_param=True)) for p in plist]
        result[name] = (c_kind(prefix, is_param=False), kinds)
    return result


def ctypes_kind(t: Any) -> str:
    """Reduce a ctypes type to a kind comparable with :func:`c_kind`."""
    if t is None:
        return "void"
    simple = {
        ctypes.c_int: "i32",
        ctypes.c_int32: "i32",
        ctypes.c_uint: "u32",
        ctypes.c_uint32: "u32",
        ctypes.c_uint16: "u16",
        ctypes.c_uint64: "u64",
        ctypes.c_size_t: "u64",
        ctypes.c_int64: "i64",
        ctypes.c_char_p: "char*",
        ctypes.c_void_p: "void*",
        ctypes.c_char: "char",
    }
    for ctype, kind in simple.items():
        if t is ctype:
            return kind
    if isinstance(t, type) and issubclass(t, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return "fnptr"
    if isinstance(t, type) and issubclass(t, ctypes._Pointer):  # type: ignore[attr-defined]
        return _pointee_kind(t._type_) + "*"
    raise ValueError(f"unmapped ctypes type {t!r}")


def _pointee_kind(t: Any) -> str:
    from devmapper import _lib

    named = {
        _lib.DmTask: "dm_task",
        _lib.DmInfo: "dm_info",
        _lib.DmNames: "dm_names",
        _lib.DmVersions: "dm_versions",
        _lib.DmDeps: "dm_deps",
        _lib.DmTimestamp: "dm_timestamp",
    }
    if t in named:
        return named[t]
    return ctypes_kind(t)


def compatible(py_kind: str, c: str) -> bool:
    """Whether a ctypes kind fits a C kind.  ``void*`` (c_void_p) stands for
    any pointer; ``char*`` (c_char_p) only for char pointers."""
    if py_kind == c:
        return True
    if py_kind == "void*" and c.endswith("*"):
        return True
    if py_kind.endswith("*") and c.endswith("*"):
        # POINTER(c_void_p) style matches for pointer-to-pointer
        return compatible(py_kind[:-1], c[:-1])
    return False


def describe_mismatch(name: str, sig: Tuple[Any, Tuple[Any, ...]],
                      proto: Tuple[str, List[str]]) -> Optional[str]:
    restype, argtypes = sig
    c_ret, c_args = proto
    problems: List[str] = []
    if not compatible(ctypes_kind(restype), c_ret):
        problems.append(f"returns {c_ret}, table says {ctypes_kind(restype)}")
    if "..." in c_args:
        problems.append("variadic in the header")
    if len(c_args) != len(argtypes):
        problems.append(f"{len(c_args)} parameters in the header, {len(argtypes)} in the table")
    else:
        for index, (py, c) in enumerate(zip(argtypes, c_args)):
            if not compatible(ctypes_kind(py), c):
                problems.append(f"parameter {index}: header {c}, table {ctypes_kind(py)}")
    if problems:
        return f"{name}: " + "; ".join(problems)
    return None
