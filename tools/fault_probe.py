#!/usr/bin/env python3
"""Fault probe (issue 22): corrupts every input format the tools read, in about 1,200 ways, runs the tool
that reads each corrupted input, and counts the outcomes per format:

  clean     the tool refused the input: status 1 or 2, a message naming the file (or the config key), no
            signal, no sanitizer report; or, where refusing is not the tool's job (sp_audit --status on a
            broken metrics.json), it said the input is invalid
  accepted  status 0 on an input that may well be valid (a random byte flip can leave a file valid)
  silent    status 0 on an input that is certainly invalid, or a result that is not a number
  unnamed   refused, but the message names neither the file nor the key (or leaks a library's exception)
  crash     a signal, a sanitizer report, an uncaught exception
  hang      no end within the time limit

The goal is 0 silent, 0 unnamed, 0 crash, 0 hang. Needs the built tools and Python 3 (no packages):

    python3 tools/fault_probe.py build [--work /tmp/probe] [--jobs 2] [--json probe.json]

Not part of the test suite (it takes minutes); the fuzz targets (tests/fuzz) and the tests of each reader
cover the same ground in-process. docs/fuzzing.md has the last run's table.
"""
import argparse
import concurrent.futures as cf
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

CRASH_MARKERS = ("AddressSanitizer", "runtime error:", "terminate called", "Segmentation fault", "core dumped",
                 "LeakSanitizer", "UndefinedBehaviorSanitizer")
LEAKED_EXCEPTIONS = ("json.exception", "std::bad_alloc", "basic_string", "std::out_of_range", "stoi", "stod",
                     "vector::_M")


# ---------------------------------------------------------------------------------------------------------
# Cases: a format, a name, whether the input is certainly invalid (True), certainly valid (False) or may be
# either (None), a function that makes it in a fresh copy of the base, and how to run the tool on it.

class Case:
    def __init__(self, fmt, name, invalid, make, cmd, names, ok_marker=None, check_json=False):
        self.fmt, self.name, self.invalid, self.make, self.cmd = fmt, name, invalid, make, cmd
        self.names = names            # one of these must appear in a refusal's message
        self.ok_marker = ok_marker    # a status-0 output containing this counts as a clean report
        self.check_json = check_json  # status 0 must print JSON whose numbers are numbers


def classify(case, rc, out, timed_out):
    if timed_out:
        return "hang"
    if rc < 0 or rc >= 128 or any(m in out for m in CRASH_MARKERS):
        return "crash"
    if rc == 0:
        if case.ok_marker and case.ok_marker in out:
            return "clean"
        if case.check_json:
            try:
                j = json.loads(out[out.index("{"):out.rindex("}") + 1])
                if not all(isinstance(j.get(k), (int, float)) for k in ("epsilon", "noise_multiplier")):
                    return "silent"
            except ValueError:
                if "sage" not in out:  # --help
                    return "silent"
        return "silent" if case.invalid else "accepted"
    if not out.strip() or any(e in out for e in LEAKED_EXCEPTIONS):
        return "unnamed"
    if case.names and not any(n in out for n in case.names):
        return "unnamed"
    return "clean"


# ---------------------------------------------------------------------------------------------------------
# Byte-level corruptions shared by the file formats.

def truncations(data, k, rng, header_end=None):
    cuts = {0, 1, len(data) // 2, len(data) - 1}
    if header_end:
        cuts |= {header_end - 1, header_end, header_end + 1, 5, 8, 9, 10}
    while len(cuts) < k:
        cuts.add(rng.randrange(len(data)))
    return [c for c in sorted(cuts) if 0 <= c < len(data)]


def flips(data, k, rng, lo=0, hi=None):
    hi = len(data) if hi is None else hi
    out = []
    for _ in range(k):
        pos = rng.randrange(lo, hi)
        b = bytearray(data)
        b[pos] = rng.choice([0, 0xff, 0x7f, ord('"'), ord('{'), ord('9'), ord('-'), rng.randrange(256)])
        if bytes(b) != data:
            out.append((pos, bytes(b)))
    return out


def file_byte_cases(add, rel, data, header_end, rng, header_flips, data_flips):
    """Truncations (certainly invalid) and changed bytes in the header and in the data (maybe valid)."""
    for c in truncations(data, 25, rng, header_end):
        add(f"truncated to {c} bytes", True, ("write", rel, data[:c]))
    for pos, b in flips(data, header_flips, rng, 0, header_end):
        add(f"header byte {pos} changed", None, ("write", rel, b))
    for pos, b in flips(data, data_flips, rng, header_end):
        add(f"data byte {pos} changed", None, ("write", rel, b))


def special_files(path):
    """Things where a regular file is expected: each a function of the path."""
    def empty():
        open(path, "wb").close()

    def directory():
        os.remove(path)
        os.mkdir(path)

    def fifo():
        os.remove(path)
        os.mkfifo(path)

    def dev_zero():
        os.remove(path)
        os.symlink("/dev/zero", path)

    def missing():
        os.remove(path)

    def loop():
        os.remove(path)
        os.symlink(os.path.basename(path), path)

    return [("empty file", empty), ("directory", directory), ("FIFO", fifo), ("symlink to /dev/zero", dev_zero),
            ("missing", missing), ("symlink loop", loop)]


def writer(path, data):
    def make():
        if os.path.islink(path) or os.path.exists(path):
            os.remove(path)
        with open(path, "wb") as f:
            f.write(data)
    return make


# ---------------------------------------------------------------------------------------------------------
# .npy

def npy_parse(data):
    hlen = struct.unpack("<H", data[8:10])[0]
    return data[10:10 + hlen].decode("latin1"), 10 + hlen


def npy_bytes(descr, shape, raw):
    shape_s = "(" + "".join(f"{d}, " if len(shape) > 1 else f"{d}," for d in shape).rstrip(" ") + ")"
    if len(shape) > 1:
        shape_s = "(" + ", ".join(str(d) for d in shape) + ")"
    h = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}"
    pad = 64 - (10 + len(h) + 1) % 64
    h = (h + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + raw


def npy_cases(base_file, rel, rng, cmd, role):
    data = open(base_file, "rb").read()
    header, hend = npy_parse(data)
    body = data[hend:]
    shape = eval(header)["shape"]  # the project's own file: a literal dict
    descr = eval(header)["descr"]
    n = 1
    for d in shape:
        n *= d
    cases = []

    def add(name, invalid, make):
        cases.append(Case("npy", f"{rel}: {name}", invalid, make, cmd, [rel.split("/")[-1]]))

    file_byte_cases(add, rel, data, hend, rng, 45, 10)
    structured = [
        ("bad magic", b"\x93NUMPX" + data[6:]),
        ("version 9.0", data[:6] + b"\x09\x00" + data[8:]),
        ("header length 65535", data[:8] + b"\xff\xff" + data[10:]),
        ("complex dtype", data.replace(descr.encode(), b"<c8", 1)),
        ("big-endian dtype", data.replace(descr.encode(), (">" + descr[1:]).encode(), 1)),
        ("fortran order", data.replace(b"'fortran_order': False", b"'fortran_order': True ", 1)),
        ("shape 2^62", npy_bytes(descr, [2 ** 62] + list(shape[1:]), body)),
        ("shape product overflows", npy_bytes(descr, [2 ** 32, 2 ** 32, 16], body)),
        ("negative shape", npy_bytes(descr, [-1] + list(shape[1:]), body)),
        ("one sample fewer", npy_bytes(descr, [shape[0] - 1] + list(shape[1:]), body)),
        ("one sample more, data short", npy_bytes(descr, [shape[0] + 1] + list(shape[1:]), body)),
        ("trailing garbage", data + b"garbage"),
        ("extra dimension", npy_bytes(descr, list(shape) + [2], body + body)),
        ("raw bytes in the header", data[:12] + b"\x01\xff\x07" + data[15:]),
        ("header not a dict", npy_bytes(descr, shape, body).replace(b"{'descr'", b"['descr'", 1)),
    ]
    if role == "labels":
        structured += [
            ("bool labels", npy_bytes("|b1", shape, bytes(x & 1 for x in body[::8]))),
            ("float64 labels", npy_bytes("<f8", shape, b"".join(struct.pack("<d", v) for v in
                                                                 struct.unpack(f"<{n}q", body)))),
            ("label -1", npy_bytes(descr, shape, struct.pack("<q", -1) + body[8:])),
            ("label 10 of 10 classes", npy_bytes(descr, shape, struct.pack("<q", 10) + body[8:])),
            ("label 2^62", npy_bytes(descr, shape, struct.pack("<q", 2 ** 62) + body[8:])),
        ]
    elif role == "keep":
        structured += [
            ("float mask", npy_bytes("<f4", shape, b"".join(struct.pack("<f", v) for v in body))),
            ("every sample IN", npy_bytes(descr, shape, b"\x01" * n)),
        ]
    else:  # logits: float32 [M, A, C]
        vals = list(struct.unpack(f"<{n}f", body))
        for label, v in (("NaN", float("nan")), ("+Inf", float("inf")), ("-Inf", float("-inf"))):
            bad = vals[:]
            bad[n // 2] = v
            structured.append((f"{label} logit", npy_bytes(descr, shape, struct.pack(f"<{n}f", *bad))))
        structured += [
            ("int32 logits", npy_bytes("<i4", shape, body)),
            ("float16 logits", npy_bytes("<f2", shape, struct.pack(f"<{n}e", *[max(-6e4, min(6e4, v)) for v in vals]))),
            ("one class fewer", npy_bytes(descr, list(shape[:-1]) + [shape[-1] - 1], body[:4 * (n // shape[-1]) * (shape[-1] - 1)])),
        ]
    for name, b in structured:
        # Byte order means nothing for one-byte types ('>b1' is '|b1').
        one_byte = name == "big-endian dtype" and descr[2:] == "1"
        add(name, None if one_byte else True, ("write", rel, b))
    for name, _ in special_files("x"):
        add(name, True, ("special", rel, name))
    return cases


# ---------------------------------------------------------------------------------------------------------
# safetensors

def st_parse(data):
    hlen = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + hlen]), data[8 + hlen:], 8 + hlen


def st_bytes(header, body):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + body


def st_rebuild(header, body, change):
    """Re-emits a safetensors file after change(name, info, raw) -> (info, raw) or None (drop) per tensor."""
    meta = header.get("__metadata__")
    out, new_body = {}, b""
    if meta is not None:
        out["__metadata__"] = meta
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        r = change(name, dict(info), body[b:e])
        if r is None:
            continue
        info2, raw = r
        info2["data_offsets"] = [len(new_body), len(new_body) + len(raw)]
        out[name] = info2
        new_body += raw
    return st_bytes(out, new_body)


def st_cases(base_file, rel, rng, cmd, fmt):
    data = open(base_file, "rb").read()
    header, body, hend = st_parse(data)
    f32 = [k for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F32"]
    target = f32[0]
    cases = []

    def add(name, invalid, make):
        cases.append(Case(fmt, f"{rel}: {name}", invalid, make, cmd, [rel.split("/")[-1]]))

    file_byte_cases(add, rel, data, hend, rng, 40, 8)

    def on_target(fn):
        return lambda name, info, raw: fn(info, raw) if name == target else (info, raw)

    def floats(raw):
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))

    structured = [
        ("header length 2^63", struct.pack("<Q", 2 ** 63) + data[8:]),
        ("header length 0", struct.pack("<Q", 0) + data[8:]),
        ("header not JSON", data[:8] + b"!" + data[9:]),
        ("header a JSON array", st_bytes([1, 2], body)),
        ("header nested 50000 deep", st_bytes({"a": json.loads("[" * 500 + "]" * 500)}, body)[:8] +
         b'{"a":' + b"[" * 50000 + b"]" * 50000 + b"}"),
        ("metadata value not a string", st_bytes(dict(header, __metadata__={"k": 5}), body)),
        (f"{target} as I32 (same bytes)", st_rebuild(header, body, on_target(lambda i, r: (dict(i, dtype="I32"), r)))),
        (f"{target} as F16", st_rebuild(header, body, on_target(
            lambda i, r: (dict(i, dtype="F16"), struct.pack(f"<{len(r) // 4}e", *[max(-6e4, min(6e4, v)) for v in floats(r)]))))),
        (f"{target} as BOOL", st_rebuild(header, body, on_target(lambda i, r: (dict(i, dtype="BOOL"), bytes(len(r) // 4))))),

        (f"{target} with a NaN", st_rebuild(header, body, on_target(
            lambda i, r: (i, struct.pack("<f", float("nan")) + r[4:])))),
        (f"{target} with +Inf", st_rebuild(header, body, on_target(
            lambda i, r: (i, struct.pack("<f", float("inf")) + r[4:])))),
        (f"{target} missing", st_rebuild(header, body, lambda n, i, r: None if n == target else (i, r))),
        (f"{target} renamed", st_bytes({(k + "_x" if k == target else k): v for k, v in header.items()}, body)),
        (f"{target} with another shape", st_rebuild(header, body, on_target(
            lambda i, r: (dict(i, shape=[1] + i["shape"]), r)))),
        ("offsets overlapping", st_bytes({k: (dict(v, data_offsets=[0, v["data_offsets"][1] - v["data_offsets"][0]])
                                              if k != "__metadata__" else v) for k, v in header.items()}, body)),
        ("offsets past the end", st_bytes({k: (dict(v, data_offsets=[v["data_offsets"][0], v["data_offsets"][1] + 10 ** 12])
                                               if k == target else v) for k, v in header.items()}, body)),
        ("shape 2^62", st_rebuild(header, body, on_target(lambda i, r: (dict(i, shape=[2 ** 62, 4]), r)))),
        ("unknown dtype", st_rebuild(header, body, on_target(lambda i, r: (dict(i, dtype="Q7"), r)))),
        ("extra tensor", st_rebuild(dict(header, extra_tensor={"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}),
                                    body, lambda n, i, r: (i, r))),
    ]
    for name, b in structured:
        add(name, True, ("write", rel, b))
    # A float64 state_dict (a model trained in double precision) is a valid model file.
    add(f"{target} as F64 (valid)", False, ("write", rel, st_rebuild(header, body, on_target(
        lambda i, r: (dict(i, dtype="F64"), struct.pack(f"<{len(r) // 4}d", *floats(r)))))))
    for name, _ in special_files("x"):
        add(name, True, ("special", rel, name))
    return cases


# ---------------------------------------------------------------------------------------------------------
# config JSON

def leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, path + (k,))
    else:
        yield path, obj


def set_path(obj, path, value):
    o = json.loads(json.dumps(obj))
    t = o
    for k in path[:-1]:
        t = t[k]
    t[path[-1]] = value
    return o


def config_cases(cfg, rng, cmd):
    text = json.dumps(cfg, indent=2)
    data = text.encode()
    cases = []

    def add(name, invalid, b, names):
        cases.append(Case("config", name, invalid, ("write", "cfg.json", b), cmd, names))

    for c in truncations(data, 20, rng):
        add(f"truncated to {c} bytes", bool(data[c:].strip()), data[:c], ["cfg.json"])
    for pos, b in flips(data, 40, rng):
        add(f"byte {pos} changed", None, b, ["cfg.json"])
    for path, v in leaves(cfg):
        key = ".".join(path)
        # `seed` takes any unsigned 64-bit value; everything else here has a bound or a type.
        variants = [("a string", "x", True), ("a list", [1], True), ("null", None, True)]
        if isinstance(v, bool):
            variants = [("a number", 3, True), ("a string", "yes", True)]
        elif isinstance(v, (int, float)):
            variants += [("-1", -1, True),
                         ("2^62", 2 ** 62, path[-1] != "seed"), ("0.5", 0.5, isinstance(v, int)),
                         ("1e300", 1e300, path[-1] != "seed")]
        elif isinstance(v, str):
            variants = [("a number", 5, True), ("unknown name", "no_such_thing", True),
                        ("control bytes", "\u0001\u0007x", True)]
        for label, nv, inv in variants:
            add(f"{key} = {label}", inv, json.dumps(set_path(cfg, path, nv)).encode(), [path[-1]])
        add(f"{key} = 1e999", True, text.replace(json.dumps(path[-1]) + ": " + json.dumps(v),
                                                 json.dumps(path[-1]) + ": 1e999", 1).encode()
            if isinstance(v, (int, float)) and not isinstance(v, bool) else json.dumps(set_path(cfg, path, [[]])).encode(),
            [path[-1]])
    for path in [()] + [p[:-1] for p, _ in leaves(cfg) if len(p) > 1]:
        o = json.loads(json.dumps(cfg))
        t = o
        for k in path:
            t = t[k]
        t["no_such_key"] = 1
        add(f"unknown key in {'.'.join(path) or 'top level'}", True, json.dumps(o).encode(), ["no_such_key"])
    add("nested 100000 deep", True, b'{"seed": ' + b"[" * 100000 + b"]" * 100000 + b"}", ["cfg.json"])
    add("not UTF-8", True, text.replace('"resnet18"', '"res\xffnet"').encode("latin1"), ["cfg.json", "model"])
    add("NaN literal", True, text.replace('"seed": 7', '"seed": NaN').encode(), ["cfg.json", "seed"])
    add("a JSON array", True, b"[1, 2, 3]", ["cfg.json"])
    add("comments (allowed)", False, ("// a comment\n" + text).encode(), ["cfg.json"])
    for name, _ in special_files("x"):
        cases.append(Case("config", name, True, ("special", "cfg.json", name), cmd, ["cfg.json"]))
    return cases


# ---------------------------------------------------------------------------------------------------------
# CIFAR-10 binary batch, image folder

def cifar_cases(base_file, rng, cmd):
    data = open(base_file, "rb").read()
    rec = 3073
    cases = []

    def add(name, invalid, make):
        cases.append(Case("cifar_binary", name, invalid, make, cmd, ["data_batch_1.bin"]))

    rel = "cifar/data_batch_1.bin"
    for c in truncations(data, 15, rng):
        add(f"truncated to {c} bytes", None if c % rec == 0 and c > 0 else True, ("write", rel, data[:c]))
    for r in range(min(8, len(data) // rec)):
        b = bytearray(data)
        b[r * rec] = 10 + r * 30
        add(f"record {r} label {b[r * rec]}", True, ("write", rel, bytes(b)))
    for pos, b in flips(data, 12, rng):
        add(f"byte {pos} changed", None, ("write", rel, b))
    add("a partial record appended", True, ("write", rel, data + data[:100]))
    for name, _ in special_files("x"):
        add(name, True, ("special", rel, name))
    cases[-2].names = ["data_batch_1.bin", "/cifar"]  # missing: the message names the folder it is missing from
    return cases


def png_bytes(w, h, pixels=None, depth=8, color=2, claim=None):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ch = {0: 1, 2: 3, 6: 4}[color] * (depth // 8)
    raw = b"".join(b"\x00" + bytes(((x * 7 + y * 13) % 256) for x in range(w * ch)) for y in range(h))
    cw, chh = claim or (w, h)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", cw, chh, depth, color, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_image_folder(root):
    for split in ("train", "test"):
        for cls in ("a", "b"):
            os.makedirs(f"{root}/{split}/{cls}", exist_ok=True)
            for k in range(2):
                open(f"{root}/{split}/{cls}/{k}.png", "wb").write(png_bytes(8, 8))


def image_cases(rng, cmd):
    data = png_bytes(8, 8)
    rel = "folder/train/a/0.png"
    cases = []

    def add(name, invalid, make, names=("0.png",)):
        cases.append(Case("image", name, invalid, make, cmd, list(names)))

    idat_end = data.index(b"IEND") - 4
    for c in truncations(data, 20, rng):
        add(f"truncated to {c} bytes", True if c < idat_end else None, ("write", rel, data[:c]))
    for pos, b in flips(data, 40, rng):
        add(f"byte {pos} changed", None, ("write", rel, b))
    add("IHDR claims 100000x100000", True, ("write", rel, png_bytes(8, 8, claim=(100000, 100000))))
    add("IHDR claims 0x0", True, ("write", rel, png_bytes(8, 8, claim=(0, 0))))
    add("IHDR claims 5000x8 (over the side limit)", True, ("write", rel, png_bytes(8, 8, claim=(5000, 8))))
    add("another size (16x16)", True, ("write", rel, png_bytes(16, 16)), ("0.png", "1.png"))
    add("not an image", True, ("write", rel, b"this is not an image"))
    add("16-bit PNG (valid)", False, ("write", rel, png_bytes(8, 8, depth=16)))
    add("grey PNG (valid)", False, ("write", rel, png_bytes(8, 8, color=0)))
    add("RGBA PNG (valid)", False, ("write", rel, png_bytes(8, 8, color=6)))
    add("class folder name not UTF-8", True, ("rename", "folder/train/b", b"folder/train/b\xff\xfe"), ("not printable",))
    add("empty class folder", True, ("mkdir", "folder/test/c"), ("holds no",))
    add("a class only in train", True, ("mkdir_png", "folder/train/c/0.png"), ("classes",))
    for name, _ in special_files("x"):
        # A non-regular file is not an image of the folder: refused or skipped, never read.
        add(name, None, ("special", rel, name))
    return cases


# ---------------------------------------------------------------------------------------------------------
# sp_accountant arguments

def accountant_cases(rng, cmd_base):
    values = ["0", "-1", "nan", "inf", "-inf", "1e-320", "1e308", "1e999", "abc", "", "0x10", "1e-300", "0.5", "1",
              "2", "9223372036854775807", "9223372036854775808", "-0"]
    good = {"--sample-rate": "0.01", "--noise-multiplier": "1.1", "--steps": "100", "--delta": "1e-5"}
    cases = []

    def add(name, args):
        cases.append(Case("accountant", name, None, ("none",), cmd_base + args,
                          sorted({a for a in args if a.startswith("--")}) + ["--help"], check_json=True))

    for opt in ("--sample-rate", "--noise-multiplier", "--steps", "--delta", "--target-epsilon", "--eps-error",
                "--delta-error", "--tolerance"):
        for v in values:
            for acc in ("rdp", "prv"):
                a = dict(good)
                if opt == "--target-epsilon":
                    del a["--noise-multiplier"]
                a[opt] = v
                args = [x for kv in a.items() for x in kv] + ["--accountant", acc]
                add(f"{opt} {v!r} ({acc})", args)
    for _ in range(20):
        a = {k: rng.choice(values + [good[k]]) for k in good}
        add("random " + " ".join(f"{k}={v}" for k, v in a.items()), [x for kv in a.items() for x in kv])
    return cases


# ---------------------------------------------------------------------------------------------------------
# metrics.json (sp_audit --status) and the experiment's config.json

def metrics_cases(base_file, rng, cmd):
    data = open(base_file, "rb").read()
    m = json.loads(data)
    rel = "exp/shadow/1/metrics.json"
    cases = []

    def add(name, invalid, b):
        cases.append(Case("metrics.json", name, invalid, ("write", rel, b), cmd, ["metrics.json"],
                          ok_marker="metrics.json is invalid"))

    for c in truncations(data, 15, rng):
        add(f"truncated to {c} bytes", bool(data[c:].strip()), data[:c])
    for pos, b in flips(data, 20, rng):
        add(f"byte {pos} changed", None, b)
    for key in ("shadow", "test_accuracy", "seconds"):
        mm = dict(m)
        del mm[key]
        add(f"{key} missing", True, json.dumps(mm).encode())
        add(f"{key} a string", True, json.dumps(dict(m, **{key: "x"})).encode())
    add("test_accuracy 1.5", True, json.dumps(dict(m, test_accuracy=1.5)).encode())
    add("test_accuracy NaN", True, json.dumps(dict(m, test_accuracy=float("nan"))).encode())
    add("seconds.train missing", True, json.dumps(dict(m, seconds={})).encode())
    add("seconds.train -1", True, json.dumps(dict(m, seconds=dict(m["seconds"], train=-1))).encode())
    add("an array", True, b"[]")
    add("nested 100000 deep", True, b'{"shadow": ' + b"[" * 100000 + b"]" * 100000 + b"}")
    return cases


def expconfig_cases(base_file, rng, cmd):
    data = open(base_file, "rb").read()
    rel = "exp/config.json"
    cases = []
    for c in truncations(data, 12, rng):
        cases.append(Case("experiment config.json", f"truncated to {c} bytes", bool(data[c:].strip()),
                          ("write", rel, data[:c]), cmd, ["config.json"]))
    for pos, b in flips(data, 25, rng):
        cases.append(Case("experiment config.json", f"byte {pos} changed", None, ("write", rel, b), cmd,
                          ["config.json"]))
    for name, _ in special_files("x"):
        cases.append(Case("experiment config.json", name, True, ("special", rel, name), cmd, ["config.json"]))
    return cases


# ---------------------------------------------------------------------------------------------------------

def apply(make, work):
    kind = make[0]
    if kind == "none":
        return
    if kind == "chain":
        for m in make[1:]:
            apply(m, work)
        return
    path = os.path.join(work, make[1])
    if kind == "remove":
        if os.path.lexists(path):
            os.remove(path)
        return
    if kind == "write":
        writer(path, make[2])()
    elif kind == "special":
        dict(special_files(path))[make[2]]()
    elif kind == "rename":
        os.rename(path.encode(), os.path.join(work.encode(), make[2]))
    elif kind == "mkdir":
        os.makedirs(path)
    elif kind == "mkdir_png":
        os.makedirs(os.path.dirname(path))
        open(path, "wb").write(png_bytes(8, 8))


def run_case(case, base, timeout):
    work = tempfile.mkdtemp(prefix="probe_", dir=os.path.dirname(base))
    try:
        shutil.rmtree(work)
        shutil.copytree(base, work, symlinks=True)
        apply(case.make, work)
        cmd = [c.replace("{W}", work) for c in case.cmd]
        t0 = time.time()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, cwd=work,
                               stdin=subprocess.DEVNULL)
            rc, out, to = p.returncode, p.stdout.decode("utf-8", "replace"), False
        except subprocess.TimeoutExpired as e:
            rc, out, to = -999, (e.stdout or b"").decode("utf-8", "replace"), True
        verdict = classify(case, rc, out, to)
        return {"format": case.fmt, "case": case.name, "verdict": verdict, "status": rc,
                "seconds": round(time.time() - t0, 2), "output": out[-600:] if verdict not in ("clean", "accepted") else ""}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--work", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--json", default=None, help="write every case and its verdict here")
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--formats", default="", help="comma-separated subset")
    a = ap.parse_args()
    bin_dir = os.path.abspath(os.path.join(a.build, "bin"))
    tool = {t: os.path.join(bin_dir, t) for t in ("sp_audit", "sp_train", "sp_lira", "sp_data", "sp_accountant")}
    work = os.path.abspath(a.work or tempfile.mkdtemp(prefix="sp_fault_probe_"))
    base = os.path.join(work, "base")
    rng = random.Random(a.seed)

    # The base: a finished tiny experiment, a CIFAR binary export and an image folder.
    cfg = {"seed": 7, "num_shadows": 6,
           "dataset": {"name": "shapes10", "seed": 2, "train": 96, "test": 40},
           "model": {"name": "resnet18", "width": 2},
           "recipe": {"epochs": 1, "batch_size": 32, "optimizer": {"name": "adam", "lr": 0.003},
                      "augmentation": {"crop_pad": 0, "flip": True}},
           "audit": {"num_audit": 12}, "device": {"eval_batch": 216}}
    if not os.path.exists(os.path.join(base, "ready")):
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        json.dump(cfg, open(os.path.join(base, "cfg.json"), "w"), indent=2)
        print("probe: building the base experiment ...", flush=True)
        subprocess.run([tool["sp_audit"], "cfg.json", "--out", "exp", "--workers", "2", "--bootstrap", "0"], cwd=base,
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([tool["sp_data"], "export", "--dataset", "shapes10:train=12,test=6", "--out", "cifar"], cwd=base,
                       check=True, stdout=subprocess.DEVNULL)
        make_image_folder(os.path.join(base, "folder"))
        open(os.path.join(base, "ready"), "w").close()

    lira = [tool["sp_lira"], "{W}/exp", "--out", "{W}/lira_out", "--bootstrap", "0", "--no-plot", "--quiet"]
    requery = [tool["sp_train"], "{W}/cfg.json", "--out", "{W}/exp", "--shadow", "0", "--device", "cpu"]
    cases = []
    for rel, role in (("exp/audit/labels.npy", "labels"), ("exp/shadow/0/keep.npy", "keep"),
                      ("exp/shadow/0/logits.npy", "logits")):
        cases += npy_cases(os.path.join(base, rel), rel, rng, lira, role)
    # A finished shadow whose population queries are missing is queried again from its model file.
    st = st_cases(os.path.join(base, "exp/shadow/0/model.safetensors"), "exp/shadow/0/model.safetensors", rng,
                  requery, "model safetensors")
    for c in st:
        c.make = ("chain", ("remove", "exp/shadow/0/population_logits.npy"), c.make)
    cases += st
    cases += config_cases(cfg, rng, [tool["sp_train"], "{W}/cfg.json", "--out", "{W}/new", "--shadows", "0-0",
                                     "--device", "cpu"])
    cases += cifar_cases(os.path.join(base, "cifar/data_batch_1.bin"), rng,
                         [tool["sp_data"], "preview", "--dataset", "cifar10:{W}/cifar", "--out", "{W}/p.png"])
    cases += image_cases(rng, [tool["sp_data"], "preview", "--dataset", "folder:{W}/folder", "--out", "{W}/p.png"])
    cases += accountant_cases(rng, [tool["sp_accountant"]])
    cases += metrics_cases(os.path.join(base, "exp/shadow/1/metrics.json"), rng, [tool["sp_audit"], "--status", "{W}/exp"])
    cases += expconfig_cases(os.path.join(base, "exp/config.json"), rng, [tool["sp_audit"], "--status", "{W}/exp"])
    if a.formats:
        keep = set(a.formats.split(","))
        cases = [c for c in cases if c.fmt in keep]

    print(f"probe: {len(cases)} cases, {a.jobs} at a time, {a.timeout:.0f} s limit each", flush=True)
    results = []
    t0 = time.time()
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        for i, r in enumerate(ex.map(lambda c: run_case(c, base, a.timeout), cases)):
            results.append(r)
            if r["verdict"] not in ("clean", "accepted"):
                print(f"  {r['verdict'].upper():8s} {r['format']}: {r['case']} (status {r['status']})\n"
                      f"           {r['output'][-300:]!r}", flush=True)
            if (i + 1) % 100 == 0:
                print(f"probe: {i + 1}/{len(cases)} in {time.time() - t0:.0f} s", flush=True)
    verdicts = ["clean", "accepted", "silent", "unnamed", "crash", "hang"]
    table = {}
    for r in results:
        table.setdefault(r["format"], dict.fromkeys(verdicts, 0))[r["verdict"]] += 1
    print(f"\n| format | cases | " + " | ".join(verdicts) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in verdicts) + " |")
    for fmt, row in table.items():
        print(f"| {fmt} | {sum(row.values())} | " + " | ".join(str(row[v]) for v in verdicts) + " |")
    tot = {v: sum(row[v] for row in table.values()) for v in verdicts}
    print(f"| all | {len(results)} | " + " | ".join(str(tot[v]) for v in verdicts) + " |")
    print(f"probe: {time.time() - t0:.0f} s")
    if a.json:
        json.dump(results, open(a.json, "w"), indent=1)
    return 0 if tot["silent"] + tot["unnamed"] + tot["crash"] + tot["hang"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
