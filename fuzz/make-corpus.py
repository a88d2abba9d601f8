#!/usr/bin/env python3
"""Write the seed corpus of every fuzz target (fuzz/corpus/<target>/) from
the project's real fixtures (devmapper/tests/fixtures/): kernel table and
status lines of every target type, @stats_list/@stats_print replies, report
selections, unit strings; and dm ioctl reply buffers laid out as Linux 6.1
writes them. Deterministic: run it again after the fixtures change and
commit the result.

    python3 fuzz/make-corpus.py
"""
import hashlib
import os
import re
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "devmapper", "tests", "fixtures")
OUT = os.path.join(HERE, "corpus")

seeds = {}


def add(target, data):
    if isinstance(data, str):
        data = data.encode("latin-1")
    seeds.setdefault(target, set()).add(bytes(data))


def read(*p):
    with open(os.path.join(FIX, *p), "rb") as f:
        return f.read()


# ---------------------------------------------------------------- targets
tables = []
statuses = []
for kdir in sorted(os.listdir(os.path.join(FIX, "targets"))):
    d = os.path.join(FIX, "targets", kdir)
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        if not name.endswith(".txt"):
            continue
        for line in read("targets", kdir, name).split(b"\n"):
            m = re.match(rb"^(load|table|table-showkeys|status) (\d+) (\d+) (\S+) ?(.*)$", line)
            if not m:
                continue
            kind, start, length, ttype, rest = m.groups()
            if kind == b"status":
                statuses.append((ttype, rest))
            else:
                tables.append((start, length, ttype, rest))

for start, length, ttype, params in tables:
    add("target_params", ttype + b"\0" + params)
    add("target_params", b"0 " + length + b" " + ttype + b" " + params + b"\n")
    add("codec_encode", ttype + b"," + params)
for ttype, status in statuses:
    add("target_status", ttype + b"\0" + status)
# a few multi-line tables and encoder inputs
add("target_params", b"0 8 zero\n8 8 error\n16 8 linear 7:0 0\n")
add("codec_encode", b"linear,7:0 0\nzero,\nstriped,2 8 7:0 0 7:1 0\ncrypt,aes-xts-plain64 a\\b 0 7:0 0")

# ---------------------------------------------------------------- stats
add("stats_reply", b"\x00" + read("stats", "list.txt"))
for f in ("print-areas.txt", "print-precise.txt", "print-rows.txt"):
    add("stats_reply", b"\x01\n" + read("stats", f))
add("stats_reply", b"\x01" + b"1,10\n" + read("stats", "print-histogram.txt"))
for b in (b"1,10", b"10us,1ms,2s", b"1ns", b"0,1,2,3,4,5", b"5m,10m", b"1,2,3,2"):
    add("stats_reply", b"\x02" + b)
add("stats_reply", b"\x03" + b"42\n")
for line in read("stats", "list.txt").split(b"\n")[:2]:
    add("stats_reply", b"\x03" + line)

# ---------------------------------------------------------------- report
sels = set()
regexes = set()
for name in sorted(os.listdir(os.path.join(FIX, "report"))):
    if not name.endswith(".case"):
        continue
    for line in read("report", name).split(b"\n"):
        parts = line.split(b"|")
        if parts[0] in (b"initsel", b"setsel") and parts[-1] not in (b"", b"-"):
            sels.add(parts[-1])
for s in sorted(sels)[:400]:
    add("report_select", s)
    for m in re.finditer(rb"=~\s*('([^']*)'|\"([^\"]*)\"|([^ &|)]+))", s):
        pat = m.group(2) or m.group(3) or m.group(4) or b""
        regexes.add(pat)
for s in (b"name=~'^vg[0-9]+-lv'", b"size > 1m && used < 50%", b"tags=[a,tag]",
          b"time since '2020-01-01'", b"!(major=253 || name!~'x')", b"tags={a}", b"used>=100%"):
    add("report_select", s)
for p in sorted(regexes)[:200]:
    add("report_regex", p + b"\0vg0-lvol0")
for p in (b"^a(b|c)*d$", b"[[:alpha:]]+[0-9]?", b"a.b.*c", b"[^a-z]", b"(x|y|)z", b"\\.\\*"):
    add("report_regex", p + b"\0xaxbbbcd")

# ---------------------------------------------------------------- strings
for line in read("strings", "units_to_factor.tsv").split(b"\n")[:300]:
    if line:
        add("strings_units", line.split(b"\t")[0])
for s in (b"vg-lv", b"vg--x-lv--y-layer", b"a\\\"b\"c", b"dev:name@host\\:x",
          b"  word1  word2\tword3 ", b"/dev/mapper/vg-lv", b"253:4", b"aes-xts-plain64",
          b"capi:aes-cbc-essiv:sha256", b"1.5G", b"0x10k"):
    add("strings_units", s)
    add("mangle", s)
for s in (b"a b", b"x\\x20y", b"caf\xc3\xa9", b"tab\there", b"\\x5cx41", b"ok-name_1.2+3#4"):
    add("mangle", s)

# ---------------------------------------------------------------- dm replies
HDR = 312


def align8(n):
    return (n + 7) & ~7


def header(data_size, target_count=0, flags=0, name=b"", uuid=b"", dev=0):
    h = struct.pack("=3I6I", 4, 47, 0, data_size, HDR, target_count, 0, flags, 0)
    h += struct.pack("=I", 0) + struct.pack("=Q", dev)
    h += name.ljust(128, b"\0")[:128] + uuid.ljust(129, b"\0")[:129] + b"\0" * 7
    assert len(h) == HDR, len(h)
    return h


def reply(payload, **kw):
    return header(HDR + len(payload), **kw) + payload + b"\0" * 16


def names(devs, with_uuid):
    out = b""
    recs = []
    for dev, name, uuid in devs:
        r = struct.pack("=QI", dev, 0) + name + b"\0"
        r = r.ljust(align8(len(r)), b"\0")
        flags = (1 if uuid else 2) if with_uuid else 0
        r += struct.pack("=II", 3, flags)
        if with_uuid and uuid:
            u = uuid + b"\0"
            r += u.ljust(align8(len(u)), b"\0")
        recs.append(r)
    for i, r in enumerate(recs):
        nxt = len(r) if i + 1 < len(recs) else 0
        out += r[:8] + struct.pack("=I", nxt) + r[12:]
    return out


def versions(items):
    recs = []
    for name, v in items:
        r = struct.pack("=4I", 0, *v) + name + b"\0"
        recs.append(r.ljust(align8(len(r)), b"\0"))
    out = b""
    for i, r in enumerate(recs):
        nxt = len(r) if i + 1 < len(recs) else 0
        out += struct.pack("=I", nxt) + r[4:]
    return out


def specs(lines):
    out = b""
    for start, length, ttype, text in lines:
        spec_at = len(out)
        body = text + b"\0"
        rec = struct.pack("=QQiI", start, length, 0, 0) + ttype.ljust(16, b"\0")[:16] + body
        out += rec
        out = out.ljust(align8(len(out)), b"\0")
        out = out[:spec_at + 20] + struct.pack("=I", len(out)) + out[spec_at + 24:]
    return out


add("codec_reply", reply(b""))
add("codec_reply", reply(struct.pack("=QI", 0, 0)))
devs = [(253 << 8, b"vg-root", b"LVM-abc"), (253 << 8 | 1, b"cryptswap", b""),
        (253 << 8 | 2, b"a\\x20b", b"CRYPT-LUKS2-x")]
add("codec_reply", reply(names(devs, False)))
add("codec_reply", reply(names(devs, True)))
add("codec_reply", reply(versions([(b"linear", (1, 4, 0)), (b"striped", (1, 6, 0)),
                                   (b"crypt", (1, 24, 0))])))
add("codec_reply", reply(struct.pack("=II", 2, 0) + struct.pack("=QQ", 7 << 8, 253 << 8)))
add("codec_reply", reply(b"World!\0", flags=1 << 16))
for start, length, ttype, params in tables[:40]:
    add("codec_reply", reply(specs([(int(start), int(length), ttype, params)]), target_count=1,
                             name=b"dev", uuid=b"UUID"))
for ttype, status in statuses[:40]:
    add("codec_reply", reply(specs([(0, 8, ttype, status), (8, 8, b"zero", b"")]), target_count=2))

# ---------------------------------------------------------------- write
if os.path.isdir(OUT):
    shutil.rmtree(OUT)
total = 0
for target, items in sorted(seeds.items()):
    d = os.path.join(OUT, target)
    os.makedirs(d)
    for data in sorted(items):
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)
        total += 1
    print(f"{target}: {len(items)} seeds", file=sys.stderr)
print(f"corpus: {total} files", file=sys.stderr)
