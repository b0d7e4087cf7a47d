#!/usr/bin/env python3
"""Writes the committed seed corpus of every fuzz target into Fuzz/Corpus/<target>/ (docs/fuzzing.md).

Run from anywhere: python3 Fuzz/make_corpus.py. Needs only python3 and the ffmpeg CLI (for the videos); torch, onnx
and safetensors are not needed: those formats are written byte by byte here, the way their writers lay them out.
Seeds are small on purpose (each corpus stays well under 1 MB): libFuzzer mutates them, so what matters is that each
reaches a different part of its parser, not that it is realistic in size.
"""
import argparse
import collections
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import types
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "Corpus")
TEST_CORPUS = os.path.join(ROOT, "Tests", "SNNAModelImportTests", "Corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# MARK: - container (ContainerCheck)

def container():
    with tempfile.TemporaryDirectory() as tmp:
        src = ["-f", "lavfi", "-i", "testsrc=size=64x36:rate=5", "-t", "0.4"]
        videos = {
            "h264.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
            "faststart.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
            "fragmented.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "frag_keyframe+empty_moov"],
            "mpeg4.mov": ["-c:v", "mpeg4"],
            "h264.mkv": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
            "mpeg4.avi": ["-c:v", "mpeg4"],
            "h264.ts": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
            "h264.m2ts": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts", "-mpegts_m2ts_mode", "1"],
        }
        for name, args in videos.items():
            out = os.path.join(tmp, name)
            subprocess.run(["ffmpeg", "-v", "error", "-y", *src, *args, "-bitexact", out], check=True)
            data = open(out, "rb").read()
            put("container", name, data)
            if name in ("h264.mp4", "h264.mkv", "h264.ts"):
                # A recording cut off mid-file: the case the checks exist for.
                put("container", "cut-" + name, data[: len(data) * 2 // 3])
    # Hand-made ISO BMFF top levels: a 64-bit largesize box, a size-0 "to the end" box, no moov at all.
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 0x200, b"isom")
    put("container", "largesize.mp4", ftyp + struct.pack(">I4sQ", 1, b"mdat", 16 + 8) + b"\0" * 8)
    put("container", "size0.mp4", ftyp + struct.pack(">I4s", 0, b"mdat") + b"\0" * 16)
    put("container", "no-moov.mp4", ftyp + struct.pack(">I4s", 16, b"free") + b"\0" * 8 + struct.pack(">I4s", 12, b"mdat") + b"\0" * 4)


# MARK: - safetensors (SafeTensorsFile, ModelFile)

def safetensors_bytes(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] → the file, laid out as the official writer does."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def safetensors():
    shutil.copy(os.path.join(TEST_CORPUS, "tiny-model.safetensors"), os.path.join(CORPUS, "safetensors", "tiny-model.safetensors"))
    put("safetensors", "dtypes.safetensors", safetensors_bytes([
        ("a", "F32", [2, 2], f32([1, -2, 3.5, 0])),
        ("b", "F16", [3], struct.pack("<3H", 0x3C00, 0x7C00, 0x0001)),
        ("c", "BF16", [2], struct.pack("<2H", 0x3F80, 0xFF80)),
        ("d", "I64", [1], struct.pack("<q", -1)),
        ("e", "U8", [0], b""),
        ("s", "F32", [], f32([7])),
    ], {"format": "pt", "note": "caf\u00e9 \\u escapes"}))
    put("safetensors", "empty.safetensors", safetensors_bytes([], {}))
    # Regression seed (Tests/SNNAModelTests/FuzzRegressionTests.swift): an empty tensor whose other dimensions overflow.
    header = b'{"a":{"dtype":"F32","shape":[4611686018427387904,4,0],"data_offsets":[0,0]}}'
    put("safetensors", "regression-zero-dim.safetensors", struct.pack("<Q", len(header)) + header)
    put("safetensors", "nested-extra.safetensors", struct.pack("<Q", 72) +
        b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":[{"k":[1,2.5e3,true,null]}]}}'.ljust(72) + f32([1]))
    # A 1-block snna-vit/1 model in float16, with LayerScale (the loader's other branches).
    d, g, p, m, c = 4, 1, 2, 8, 2
    def half(n, v=0.25):
        return struct.pack("<%dH" % n, *([0x3400] * n))  # 0.25 in binary16
    t = [("cls_token", "F16", [1, 1, d], half(d)), ("pos_embed", "F16", [1, 1 + g * g, d], half((1 + g * g) * d)),
         ("patch_embed.proj.weight", "F16", [d, 3, p, p], half(d * 3 * p * p)), ("patch_embed.proj.bias", "F16", [d], half(d))]
    b = "blocks.0."
    for name, shape in [("norm1.weight", [d]), ("norm1.bias", [d]), ("attn.qkv.weight", [3 * d, d]), ("attn.qkv.bias", [3 * d]),
                        ("attn.proj.weight", [d, d]), ("attn.proj.bias", [d]), ("norm2.weight", [d]), ("norm2.bias", [d]),
                        ("mlp.fc1.weight", [m, d]), ("mlp.fc1.bias", [m]), ("mlp.fc2.weight", [d, m]), ("mlp.fc2.bias", [d]),
                        ("ls1.gamma", [d]), ("ls2.gamma", [d])]:
        n = 1
        for s in shape:
            n *= s
        t.append((b + name, "F16", shape, half(n)))
    t += [("norm.weight", "F16", [d], half(d)), ("norm.bias", "F16", [d], half(d)),
          ("head.weight", "F16", [c, d], half(c * d)), ("head.bias", "F16", [c], half(c))]
    put("safetensors", "layerscale-f16.safetensors", safetensors_bytes(t, {
        "format": "snna-vit/1", "num_heads": "2", "n_last_blocks": "1", "labels": '["go","stop"]',
        "input_short_side": "8", "mean": "[0.5,0.5,0.5]", "std": "[0.25,0.25,0.25]", "layer_norm_eps": "1e-05",
        "pos_embed_interpolation": "size"}))


# MARK: - zip (ZipArchive, and TorchCheckpoint on top)

def zips():
    shutil.copy(os.path.join(TEST_CORPUS, "dino-checkpoint.pth"), os.path.join(CORPUS, "zip", "dino-checkpoint.pth"))
    def archive(entries, **kw):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=kw.pop("compression", zipfile.ZIP_STORED)) as z:
            z.comment = kw.pop("comment", b"")
            for name, data in entries:
                with z.open(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), "w", force_zip64=kw.get("zip64", False)) as f:
                    f.write(data)
        return buf.getvalue()
    put("zip", "stored.zip", archive([("a/data.pkl", pickle.dumps({"x": 1}, protocol=2)), ("a/version", b"3\n"), ("a/data/0", b"\0" * 16)]))
    put("zip", "comment.zip", archive([("one", b"hello")], comment=b"a trailing comment"))
    put("zip", "zip64.zip", archive([("big", b"0123456789"), ("dir/x", b"")], zip64=True))
    put("zip", "deflated.zip", archive([("d", b"compressible " * 8)], compression=zipfile.ZIP_DEFLATED))
    put("zip", "empty.zip", archive([]))


# MARK: - pickle (Pickle)

def pickles():
    shutil.copy(os.path.join(TEST_CORPUS, "dino-checkpoint.pkl"), os.path.join(CORPUS, "pickle", "dino-checkpoint.pkl"))
    shared = [1, 2]
    value = {
        "none": None, "bools": (True, False), "ints": [0, 255, 65535, -1, 2 ** 31, -(2 ** 63), 2 ** 70],
        "float": 1.5, "str": "caf\u00e9\n", "bytes": b"\x00\xff", "set": {1, 2}, "frozen": frozenset({"a"}),
        "nested": [[[1]], {"k": (1, 2, 3)}], "alias": (shared, shared), "ordered": collections.OrderedDict(a=1),
        "long": list(range(300)),
    }
    for protocol in range(6):
        put("pickle", "mixed-p%d.pkl" % protocol, pickle.dumps(value, protocol=protocol))
    ns = types.SimpleNamespace(lr=0.1, arch="vit_small")
    put("pickle", "namespace-p2.pkl", pickle.dumps(ns, protocol=2))
    put("pickle", "namespace-p4.pkl", pickle.dumps(ns, protocol=4))
    put("pickle", "bytearray-p5.pkl", pickle.dumps(bytearray(b"ab"), protocol=5))


# MARK: - torch (TorchCheckpoint's pickle side; the storages are fixed by Fuzz/Sources/FuzzTorch/StoredZip.swift)

class FakeStorage:
    """Stands for torch.<X>Storage in the persistent id; `kind` is the class name."""
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class FakeTensor:
    def __init__(self, storage, offset, size, stride, parameter=False):
        self.storage, self.offset, self.size, self.stride, self.parameter = storage, offset, size, stride, parameter

    def __reduce__(self):
        rebuilt = (torch_utils._rebuild_tensor_v2, (self.storage, self.offset, tuple(self.size), tuple(self.stride), False,
                                                    collections.OrderedDict()))
        if self.parameter:
            return (torch_utils._rebuild_parameter, (_Rebuilt(rebuilt), False, collections.OrderedDict()))
        return rebuilt


class _Rebuilt:
    def __init__(self, reduced):
        self.reduced = reduced

    def __reduce__(self):
        return self.reduced


def _fake_torch_modules():
    """Module objects named like torch's, so that pickle writes GLOBAL torch._utils._rebuild_tensor_v2 etc."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    for name in ("_rebuild_tensor_v2", "_rebuild_parameter"):
        f = lambda *a: None
        f.__module__, f.__name__, f.__qualname__ = "torch._utils", name, name
        setattr(utils, name, f)
    for name in ("FloatStorage", "HalfStorage", "LongStorage", "ByteStorage"):
        cls = type(name, (), {})
        cls.__module__ = "torch"
        setattr(torch, name, cls)
    torch._utils = utils
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    return torch, utils


torch_module, torch_utils = None, None


def torch_pickles():
    global torch_module, torch_utils
    torch_module, torch_utils = _fake_torch_modules()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, FakeStorage):
                return ("storage", getattr(torch_module, obj.kind), obj.key, "cpu", obj.numel)
            return None

    def dump(value, protocol):
        buf = io.BytesIO()
        Pickler(buf, protocol=protocol).dump(value)
        return buf.getvalue()

    s0 = FakeStorage("FloatStorage", "0", 16)
    s1 = FakeStorage("HalfStorage", "1", 6)
    s2 = FakeStorage("LongStorage", "2", 1)
    s3 = FakeStorage("ByteStorage", "3", 1)
    state = collections.OrderedDict([
        ("blocks.0.attn.qkv.weight", FakeTensor(s0, 0, [4, 4], [4, 1])),
        ("transposed", FakeTensor(s0, 0, [4, 4], [1, 4])),
        ("offset", FakeTensor(s0, 3, [2, 3], [3, 1])),
        ("half", FakeTensor(s1, 0, [2, 3], [3, 1])),
        ("long", FakeTensor(s2, 0, [], [])),
        ("byte", FakeTensor(s3, 0, [1], [1])),
        ("empty", FakeTensor(s0, 16, [0, 4], [4, 1])),
        ("param", FakeTensor(s0, 8, [8], [1], parameter=True)),
    ])
    # Regression seed (Tests/SNNAModelImportTests/FuzzRegressionTests.swift): an empty tensor whose sizes overflow.
    put("torch", "regression-zero-dim.pkl", dump({"t": FakeTensor(s0, 0, [0, 2 ** 40, 2 ** 40], [1, 2 ** 40, 1])}, 2))
    put("torch", "state-dict-p2.pkl", dump({"state_dict": state, "epoch": 3}, 2))
    put("torch", "teacher-p4.pkl", dump({"teacher": state, "student": state}, 4))
    put("torch", "bare-p2.pkl", dump(state, 2))
    # The real checkpoint's data.pkl: its storages are not the fixed ones, so it stops at their sizes.
    with zipfile.ZipFile(os.path.join(TEST_CORPUS, "dino-checkpoint.pth")) as z:
        name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        put("torch", "dino-data.pkl", z.read(name))
    del sys.modules["torch"], sys.modules["torch._utils"]


# MARK: - onnx (OnnxModel, OnnxViTImporter)

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(number, wire, payload):
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def tensor(name, dims, data_type, raw=None, floats=None, int32=None, doubles=None):
    t = b"".join(field(1, 0, d) for d in dims) + field(2, 0, data_type) + field(8, 2, name.encode())
    if raw is not None:
        t += field(9, 2, raw)
    if floats is not None:
        t += field(4, 2, struct.pack("<%df" % len(floats), *floats))
    if int32 is not None:
        t += field(5, 2, b"".join(varint(x) for x in int32))
    if doubles is not None:
        t += field(10, 2, struct.pack("<%dd" % len(doubles), *doubles))
    return t


def node(name, op, inputs, outputs, ints=None):
    n = b"".join(field(1, 2, i.encode()) for i in inputs) + b"".join(field(2, 2, o.encode()) for o in outputs)
    n += field(3, 2, name.encode()) + field(4, 2, op.encode())
    for k, v in (ints or {}).items():
        n += field(5, 2, field(1, 2, k.encode()) + field(3, 0, v))
    return n


def onnx():
    shutil.copy(os.path.join(TEST_CORPUS, "dinov2-tiny.onnx"), os.path.join(CORPUS, "onnx", "dinov2-tiny.onnx"))
    # A 1-block ViT of width 4, named timm-style, every storage kind once, plus a MatMul that transposes.
    d, p, m = 4, 2, 8
    ones = lambda n: [1.0] * n
    inits = [
        tensor("cls_token", [1, 1, d], 1, raw=f32(ones(d))),
        tensor("pos_embed", [1, 2, d], 11, doubles=ones(2 * d)),
        tensor("patch_embed.proj.weight", [d, 3, p, p], 1, floats=ones(d * 3 * p * p)),
        tensor("patch_embed.proj.bias", [d], 10, int32=[0x3C00] * d),
        tensor("blocks.0.norm1.weight", [d], 16, int32=[0x3F80] * d),
        tensor("blocks.0.norm1.bias", [d], 10, raw=struct.pack("<%dH" % d, *([0] * d))),
        tensor("blocks.0.attn.qkv.weight", [3 * d, d], 1, raw=f32(ones(3 * d * d))),
        tensor("blocks.0.attn.qkv.bias", [3 * d], 1, raw=f32(ones(3 * d))),
        tensor("onnx::MatMul_7", [d, d], 1, raw=f32(ones(d * d))),
        tensor("blocks.0.attn.proj.bias", [d], 1, raw=f32(ones(d))),
        tensor("blocks.0.norm2.weight", [d], 1, raw=f32(ones(d))),
        tensor("blocks.0.norm2.bias", [d], 1, raw=f32(ones(d))),
        tensor("blocks.0.mlp.fc1.weight", [m, d], 1, raw=f32(ones(m * d))),
        tensor("blocks.0.mlp.fc1.bias", [m], 1, raw=f32(ones(m))),
        tensor("blocks.0.mlp.fc2.weight", [d, m], 1, raw=f32(ones(d * m))),
        tensor("blocks.0.mlp.fc2.bias", [d], 1, raw=f32(ones(d))),
        tensor("norm.weight", [d], 1, raw=f32(ones(d))),
        tensor("norm.bias", [d], 1, raw=f32(ones(d))),
        tensor("steps", [2], 7, raw=struct.pack("<2q", 1, 2)),
    ]
    nodes = [node("/blocks.0/attn/proj/MatMul", "MatMul", ["x", "onnx::MatMul_7"], ["y"]),
             node("/head/Gemm", "Gemm", ["y", "w"], ["z"], {"transB": 1})]
    graph = b"".join(field(1, 2, n) for n in nodes) + b"".join(field(5, 2, t) for t in inits)
    graph += field(11, 2, field(1, 2, b"pixel_values")) + field(12, 2, field(1, 2, b"last_hidden_state"))
    model = field(1, 0, 8) + field(2, 2, b"snna-corpus") + field(7, 2, graph)
    put("onnx", "vit-w4.onnx", model)
    # The split position embedding of DINOv2 exports: anonymous CLS and grid pieces near an "embed" node.
    split = [t for t in inits if b"pos_embed" not in t]
    split += [tensor("onnx::Concat_1", [1, 1, d], 1, raw=f32(ones(d))), tensor("onnx::Concat_2", [1, 4, d], 1, raw=f32(ones(4 * d)))]
    nodes2 = nodes + [node("/embeddings/Concat", "Concat", ["onnx::Concat_1", "onnx::Concat_2"], ["pe"])]
    graph2 = b"".join(field(1, 2, n) for n in nodes2) + b"".join(field(5, 2, t) for t in split)
    put("onnx", "vit-split-pos.onnx", field(7, 2, graph2))


# MARK: - config (ConfigLoader)

def configs():
    shutil.copy(os.path.join(ROOT, "Config", "snna.yaml"), os.path.join(CORPUS, "config", "snna.yaml"))
    put("config", "minimal.yaml", b"watch: /srv/in\noutput: /srv/out\nstate: /srv/state\nmodel: /m.safetensors\n")
    put("config", "flow.yaml", b"{watch: [{path: /a, recursive: false, patterns: ['*.mp4']}, /b], output: /o, state: /s, "
        b"model: m, thresholds: {slow_down: 0.4}, process: {method: rollout, size: 224, explain_target: active}}\n")
    put("config", "anchors.yaml", b"base: &b /srv\nwatch:\n  - *b\noutput: /out\nstate: /st\nmodel: !!str 1\n"
        b"retention: {max_age_days: 1.5, max_total_gb: .5, delete_inputs: yes}\nhttp: {address: '[::1]:80'}\n"
        b"log: {format: json, level: debug}\nworkers: 0x2\nquiet_period: 1e1\n")
    put("config", "multi-doc.yaml", b"---\nwatch: /a\n...\n---\nmodel: b\n")
    put("config", "block-scalars.yaml", b"model: |\n  /multi\n  line\nwatch: >-\n  /folded\noutput: \"/esc\\t\\u00e9\"\nstate: ~\n")


# MARK: - labels (LabelsFile)

def labels():
    put("labels", "labels.json", b'{"a.jpg": [1, 0, 0, 0], "b.png": [0, 1, 1, 0], "c/d.jpg": [0.0, 0, 0, 1e0]}\n')
    put("labels", "header.csv", b"file,turn_right,slow_down,move_forward,turn_left\na.jpg,1,0,0,0\nb.jpg, 0 , 1, 0,1\n")
    put("labels", "plain.csv", b"a.jpg,1,0,0,0\r\nb.jpg,0,1,0,0\r\n\r\nc.jpg,0,0,1,1")
    put("labels", "unicode.csv", "\u00e9t\u00e9.jpg,1,0,0,0\n\u2028x,0,0,0,1\n".encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    for t in ("container", "safetensors", "zip", "pickle", "torch", "onnx", "config", "labels"):
        os.makedirs(os.path.join(CORPUS, t))
    container(); safetensors(); zips(); pickles(); torch_pickles(); onnx(); configs(); labels()
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files)
        print("%-12s %3d files %8d bytes" % (t, len(files), size))


if __name__ == "__main__":
    main()
