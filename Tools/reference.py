#!/usr/bin/env python3
"""An independent numpy executor of demandlayer models, and the fixture maker.

It reads a NAME.dlm/ directory (the format is documented at the top of
Sources/DemandFormat/Manifest.swift) and runs every node in order with plain
numpy, accumulating in float64. It shares no code with the Swift runtime:
its only job is to give the Swift tests numbers they did not compute
themselves.

Needs Python 3.9+ and numpy (`pip install numpy`); nothing else.

    python3 Tools/reference.py fixtures MODEL.dlm OUTDIR
        Runs MODEL on seeded inputs (numpy default_rng(2026), uniform in
        [-1, 1), float32, one draw per graph input in manifest order) and
        writes OUTDIR/input-<name>.f32, OUTDIR/output-<name>.f32 (raw
        little-endian float32, C order) and OUTDIR/reference.json.

    python3 Tools/reference.py kernels OUTDIR
        Computes the operator cases in `KERNEL_CASES` and writes
        OUTDIR/kernels.json with one raw float32 file per tensor in
        OUTDIR/kernels/.

The committed fixtures come from (run at the package root):

    rm -rf /tmp/dl-reference
    swift run demandlayer zoo make tiny --out /tmp/dl-reference
    python3 Tools/reference.py fixtures /tmp/dl-reference/tiny.dlm fixtures/tiny
    python3 Tools/reference.py kernels fixtures

A Swift output passes when max |swift - numpy| <= tolerance * max(1, max |numpy|).

Semantics are ONNX's for float32 NCHW, as restricted in
Sources/DemandTensor/Operator+Attributes.swift, with one choice spelled out:
pooling in ceil mode drops a last window that would start in the bottom or
right padding, and AveragePool with count_include_pad divides by the window
clipped to the padded image (ONNX since opset 19, onnxruntime and PyTorch).
"""

import argparse
import json
import pathlib
import re
import zlib

import numpy as np

MODEL_SEED = 2026
MODEL_TOLERANCE = 1e-4
GENERATOR = "Tools/reference.py"

# MARK: CRC-32C

def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli) of `data`; crc32c(b"123456789") == 0xE3069283."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

# MARK: Attributes

class Attributes:
    """One node's attributes in the manifest's one-key encoding
    ({"i": 1}, {"f": 0.5}, {"ints": [..]}, {"floats": [..]}, {"s": ".."}).
    Every attribute must be read by the op, so one this script does not
    understand is an error rather than silently ignored."""

    def __init__(self, op, encoded):
        self.op = op
        self.values = {}
        for name, value in encoded.items():
            if not isinstance(value, dict) or len(value) != 1:
                raise ValueError(f"{op} attribute '{name}' is {value!r}; it must be a one-key object")
            ((kind, payload),) = value.items()
            if kind not in ("i", "f", "ints", "floats", "s"):
                raise ValueError(f"{op} attribute '{name}' has unknown kind '{kind}'")
            self.values[name] = (kind, payload)
        self.unread = set(self.values)

    def _take(self, name):
        self.unread.discard(name)
        return self.values.get(name)

    def int(self, name, default):
        entry = self._take(name)
        if entry is None:
            return default
        kind, payload = entry
        if kind != "i":
            raise ValueError(f"{self.op} attribute '{name}' must be an integer, not {kind}")
        return int(payload)

    def float(self, name, default):
        entry = self._take(name)
        if entry is None:
            return default
        kind, payload = entry
        if kind not in ("f", "i"):
            raise ValueError(f"{self.op} attribute '{name}' must be a number, not {kind}")
        return float(payload)

    def ints(self, name, default):
        entry = self._take(name)
        if entry is None:
            return default
        kind, payload = entry
        if kind != "ints":
            raise ValueError(f"{self.op} attribute '{name}' must be a list of integers, not {kind}")
        return [int(v) for v in payload]

    def floats(self, name, default):
        entry = self._take(name)
        if entry is None:
            return default
        kind, payload = entry
        if kind not in ("floats", "ints"):
            raise ValueError(f"{self.op} attribute '{name}' must be a list of numbers, not {kind}")
        return [float(v) for v in payload]

    def string(self, name, default):
        entry = self._take(name)
        if entry is None:
            return default
        kind, payload = entry
        if kind != "s":
            raise ValueError(f"{self.op} attribute '{name}' must be a string, not {kind}")
        return payload

    def finish(self):
        if self.unread:
            raise ValueError(f"{self.op}: attributes not understood: {sorted(self.unread)}")

    def fused_activation(self, slope_names):
        """The function of a Conv's, Add's or Gemm's fused "activation"."""
        name = self.string("activation", "none")
        slope = 0.01
        for slope_name in slope_names:
            slope = self.float(slope_name, slope)
        low = self.float("min", -np.inf)
        high = self.float("max", np.inf)
        return activation(name, slope, low, high)


def activation(name, slope=0.01, low=-np.inf, high=np.inf):
    """x ↦ f(x) for the activations a node may fuse, on float64 arrays."""
    if name == "none":
        return lambda x: x
    if name == "relu":
        return lambda x: np.maximum(x, 0.0)
    if name == "leaky_relu":
        return lambda x: np.where(x >= 0, x, slope * x)
    if name == "sigmoid":
        return lambda x: 1.0 / (1.0 + np.exp(-x))
    if name == "silu":
        return lambda x: x / (1.0 + np.exp(-x))
    if name == "clip":
        return lambda x: np.clip(x, low, high)
    raise ValueError(f"unknown activation '{name}'")

# MARK: Operators
#
# Each takes float64 arrays and an `Attributes`, and returns a float64 array.

def conv(inputs, a):
    """X (N, C, H, W), W (M, C/group, kH, kW), optional B (M) → (N, M, outH, outW).
    One einsum per kernel tap over a zero-padded, strided view of X."""
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    sh, sw = a.ints("strides", [1, 1])
    top, left, bottom, right = a.ints("pads", [0, 0, 0, 0])
    dh, dw = a.ints("dilations", [1, 1])
    groups = a.int("group", 1)
    kernel_shape = a.ints("kernel_shape", None)
    if a.string("auto_pad", "NOTSET") != "NOTSET":
        raise ValueError("auto_pad other than NOTSET is not supported; write the padding in pads")
    act = a.fused_activation(["alpha", "activation_alpha"])
    a.finish()

    n, c, h, width = x.shape
    m, c_per_group, kh, kw = w.shape
    if kernel_shape is not None and list(kernel_shape) != [kh, kw]:
        raise ValueError(f"kernel_shape {kernel_shape} does not match W {w.shape}")
    if c_per_group * groups != c or m % groups:
        raise ValueError(f"X {x.shape} and W {w.shape} do not fit group {groups}")
    out_h = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + left + right - dw * (kw - 1) - 1) // sw + 1
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    grouped_w = w.reshape(groups, m // groups, c_per_group, kh, kw)
    y = np.zeros((n, groups, m // groups, out_h, out_w))
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (out_h - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (out_w - 1) + 1, sw)
            tap = padded[:, :, rows, cols].reshape(n, groups, c_per_group, out_h, out_w)
            y += np.einsum("ngchw,gmc->ngmhw", tap, grouped_w[:, :, :, i, j])
    y = y.reshape(n, m, out_h, out_w)
    if b is not None:
        y = y + b.reshape(1, m, 1, 1)
    return act(y)


def pool_length(size, kernel, stride, begin, end, ceil_mode):
    span = size + begin + end - kernel
    length = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (length - 1) * stride >= size + begin:
        length -= 1
    return length


def pool(inputs, a, is_max):
    """X (N, C, H, W) → (N, C, outH, outW), one output pixel at a time."""
    (x,) = inputs
    kh, kw = a.ints("kernel_shape", None)
    sh, sw = a.ints("strides", [1, 1])
    top, left, bottom, right = a.ints("pads", [0, 0, 0, 0])
    ceil_mode = a.int("ceil_mode", 0) == 1
    if a.ints("dilations", [1, 1]) != [1, 1]:
        raise ValueError("pool dilations are not supported")
    if is_max:
        if a.int("storage_order", 0) != 0:
            raise ValueError("storage_order must be 0")
        count_include_pad = False
    else:
        count_include_pad = a.int("count_include_pad", 0) == 1
    if a.string("auto_pad", "NOTSET") != "NOTSET":
        raise ValueError("auto_pad other than NOTSET is not supported; write the padding in pads")
    a.finish()

    n, c, h, w = x.shape
    out_h = pool_length(h, kh, sh, top, bottom, ceil_mode)
    out_w = pool_length(w, kw, sw, left, right, ceil_mode)
    y = np.zeros((n, c, out_h, out_w))
    for oh in range(out_h):
        h0 = oh * sh - top
        h1 = min(h0 + kh, h + bottom)
        for ow in range(out_w):
            w0 = ow * sw - left
            w1 = min(w0 + kw, w + right)
            window = x[:, :, max(h0, 0):min(h1, h), max(w0, 0):min(w1, w)]
            if is_max:
                y[:, :, oh, ow] = window.max(axis=(2, 3))
            else:
                divisor = (h1 - h0) * (w1 - w0) if count_include_pad else window.shape[2] * window.shape[3]
                y[:, :, oh, ow] = window.sum(axis=(2, 3)) / divisor
    return y


def global_average_pool(inputs, a):
    a.finish()
    (x,) = inputs
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)


def add(inputs, a):
    act = a.fused_activation(["alpha", "activation_alpha"])
    a.finish()
    return act(inputs[0] + inputs[1])


def concat(inputs, a):
    axis = a.int("axis", None)
    a.finish()
    return np.concatenate(inputs, axis=axis)


def upsample(inputs, a):
    """Nearest: output (h, w) reads input (h // scaleH, w // scaleW)."""
    (x,) = inputs
    if a.string("mode", "nearest") != "nearest":
        raise ValueError("only nearest Upsample is supported")
    scales = a.floats("scales", None)
    a.finish()
    if len(scales) != 4 or scales[:2] != [1.0, 1.0] or any(s != int(s) for s in scales):
        raise ValueError(f"scales {scales} must be [1, 1, whole, whole]")
    sh, sw = int(scales[2]), int(scales[3])
    rows = np.arange(x.shape[2] * sh) // sh
    cols = np.arange(x.shape[3] * sw) // sw
    return x[:, :, rows[:, None], cols[None, :]]


def gemm(inputs, a):
    """Y (M, N) = act(alpha · A' · B' + beta · C)."""
    alpha = a.float("alpha", 1.0)
    beta = a.float("beta", 1.0)
    trans_a = a.int("transA", 0) == 1
    trans_b = a.int("transB", 0) == 1
    act = a.fused_activation(["activation_alpha"])
    a.finish()
    a_matrix = inputs[0].T if trans_a else inputs[0]
    b_matrix = inputs[1].T if trans_b else inputs[1]
    y = alpha * (a_matrix @ b_matrix)
    if len(inputs) > 2:
        y = y + beta * inputs[2]
    return act(y)


def flatten(inputs, a):
    (x,) = inputs
    axis = a.int("axis", 1)
    a.finish()
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)


def softmax(inputs, a):
    (x,) = inputs
    axis = a.int("axis", -1)
    a.finish()
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def standalone(name):
    def run(inputs, a):
        if name == "leaky_relu":
            act = activation(name, slope=a.float("alpha", 0.01))
        elif name == "clip":
            act = activation(name, low=a.float("min", -np.inf), high=a.float("max", np.inf))
        else:
            act = activation(name)
        a.finish()
        return act(inputs[0])
    return run


OPERATORS = {
    "Conv": conv,
    "MaxPool": lambda inputs, a: pool(inputs, a, is_max=True),
    "AveragePool": lambda inputs, a: pool(inputs, a, is_max=False),
    "GlobalAveragePool": global_average_pool,
    "Add": add,
    "Concat": concat,
    "Upsample": upsample,
    "Gemm": gemm,
    "Flatten": flatten,
    "Softmax": softmax,
    "Identity": standalone("none"),
    "Relu": standalone("relu"),
    "LeakyRelu": standalone("leaky_relu"),
    "Sigmoid": standalone("sigmoid"),
    "Silu": standalone("silu"),
    "SiLU": standalone("silu"),
    "Clip": standalone("clip"),
}


def run_op(op, encoded_attributes, inputs):
    """Runs one op on float32 or float64 arrays; returns float32."""
    if op not in OPERATORS:
        raise ValueError(f"unknown op '{op}'")
    result = OPERATORS[op]([np.asarray(v, dtype=np.float64) for v in inputs], Attributes(op, encoded_attributes))
    return np.ascontiguousarray(result, dtype=np.float32)

# MARK: Models

def read_manifest(model):
    manifest = json.loads((model / "manifest.json").read_text())
    if manifest.get("format") != "demandlayer-model" or manifest.get("version") != 1:
        raise ValueError(f"{model}: not a version 1 demandlayer model")
    return manifest


def layer_files(model, manifest):
    """Each layer file as (path, bytes), checked against its byteCount and crc32c."""
    files = []
    for layer in manifest["layers"]:
        for entry in layer["files"]:
            data = (model / entry["path"]).read_bytes()
            if len(data) != entry["byteCount"]:
                raise ValueError(f"{entry['path']}: {len(data)} bytes, manifest says {entry['byteCount']}")
            if crc32c(data) != entry["crc32c"]:
                raise ValueError(f"{entry['path']}: crc32c does not match the manifest")
            files.append((entry["path"], data))
    return files


def run_model(model, inputs):
    """Runs every node of `model` in order; returns {output name: float32 array}."""
    manifest = read_manifest(model)
    values = dict(inputs)
    for layer in manifest["layers"]:
        data = [(model / f["path"]).read_bytes() for f in layer["files"]]
        weights = {}
        for weight in layer["weights"]:
            count = int(np.prod(weight["shape"], dtype=np.int64))
            if weight["dtype"] != "float32" or weight["byteCount"] != 4 * count:
                raise ValueError(f"weight {weight['name']}: expected {count} float32")
            raw = np.frombuffer(data[weight["file"]], dtype="<f4", count=count, offset=weight["offsetBytes"])
            weights[weight["name"]] = raw.reshape(weight["shape"])
        for node in layer["nodes"]:
            arguments = [weights[name] if name in weights else values[name] for name in node["inputs"]]
            try:
                values[node["outputs"][0]] = run_op(node["op"], node.get("attributes", {}), arguments)
            except Exception as error:
                raise ValueError(f"node '{node['name']}' ({node['op']}): {error}") from error
    outputs = {}
    for info in manifest["outputs"]:
        value = values[info["name"]]
        if list(value.shape) != list(info["shape"]):
            raise ValueError(f"output {info['name']} is {value.shape}, manifest says {info['shape']}")
        outputs[info["name"]] = value
    return outputs


def to_json(value):
    """Indented JSON with each list of numbers (a shape) kept on one line."""
    text = json.dumps(value, indent=2)
    return re.sub(r"\[[0-9eE.,+\-\s]*\]", lambda m: json.dumps(json.loads(m.group(0))), text) + "\n"


def write_f32(path, array):
    path.write_bytes(np.ascontiguousarray(array, dtype="<f4").tobytes())


def file_stem(name):
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def make_model_fixtures(model, out):
    manifest = read_manifest(model)
    files = layer_files(model, manifest)
    rng = np.random.default_rng(MODEL_SEED)
    inputs = {}
    for info in manifest["inputs"]:
        # float32 in [0, 1) scaled exactly to [-1, 1).
        inputs[info["name"]] = rng.random(info["shape"], dtype=np.float32) * np.float32(2) - np.float32(1)
    outputs = run_model(model, inputs)

    out.mkdir(parents=True, exist_ok=True)
    for stale in list(out.glob("input-*.f32")) + list(out.glob("output-*.f32")):
        stale.unlink()
    described = {}
    for kind, tensors in (("input", inputs), ("output", outputs)):
        described[kind] = []
        for name, value in tensors.items():
            file = f"{kind}-{file_stem(name)}.f32"
            write_f32(out / file, value)
            described[kind].append({"name": name, "shape": list(value.shape), "file": file})
    reference = {
        "model": manifest["name"],
        "files": [{"path": path, "crc32c": crc32c(data)} for path, data in files],
        "inputs": described["input"],
        "outputs": described["output"],
        "tolerance": MODEL_TOLERANCE,
        "generator": GENERATOR,
        "numpy": np.__version__,
    }
    (out / "reference.json").write_text(to_json(reference))
    for name, value in outputs.items():
        print(f"{name} {list(value.shape)}: {np.array2string(value.ravel()[:10], precision=5)}")

# MARK: Kernel cases

def i(value): return {"i": value}
def f(value): return {"f": value}
def ints(*values): return {"ints": list(values)}
def floats(*values): return {"floats": list(values)}
def s(value): return {"s": value}


# Tolerances, as fractions of max(1, max |numpy|): data movement and max must
# be exact; one rounding per element for elementwise ops and softmax; sums
# (conv, gemm, averages) may round differently in float32 along the way.
EXACT = 0.0
ELEMENTWISE = 1e-5
SUM = 1e-4

# (name, op, attributes, input shapes, tolerance, input scales): inputs are
# uniform in [-scale, scale) (scale 1 unless given), from
# default_rng([2026, crc32(name)]), so a case's inputs do not depend on the
# cases before it.
KERNEL_CASES = [
    ("conv stride 2 pad 1 bias relu batch 2", "Conv",
     {"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "activation": s("relu")},
     [[2, 4, 9, 9], [6, 4, 3, 3], [6]], SUM, None),
    ("conv dilation 2 pad 2 bias leaky_relu 0.1", "Conv",
     {"dilations": ints(2, 2), "pads": ints(2, 2, 2, 2), "activation": s("leaky_relu"), "alpha": f(0.1)},
     [[1, 3, 10, 10], [4, 3, 3, 3], [4]], SUM, None),
    ("conv groups 2 pad 1 bias sigmoid", "Conv",
     {"group": i(2), "pads": ints(1, 1, 1, 1), "activation": s("sigmoid")},
     [[1, 4, 7, 7], [6, 2, 3, 3], [6]], SUM, None),
    ("conv depthwise 3x3 pad 1 bias silu", "Conv",
     {"group": i(8), "kernel_shape": ints(3, 3), "pads": ints(1, 1, 1, 1), "activation": s("silu")},
     [[1, 8, 8, 8], [8, 1, 3, 3], [8]], SUM, None),
    ("conv 1x1 bias clip 0..6", "Conv",
     {"activation": s("clip"), "min": f(0.0), "max": f(6.0)},
     [[1, 8, 6, 6], [5, 8, 1, 1], [5]], SUM, [4, 1, 1]),
    ("conv 3x2 asymmetric pads no bias batch 2", "Conv",
     {"pads": ints(0, 1, 1, 0)},
     [[2, 3, 6, 5], [4, 3, 3, 2]], SUM, None),
    ("conv depthwise stride 2 dilation 2 batch 2 leaky_relu activation_alpha", "Conv",
     {"group": i(3), "strides": ints(2, 2), "dilations": ints(2, 2), "pads": ints(2, 2, 2, 2),
      "activation": s("leaky_relu"), "activation_alpha": f(0.2)},
     [[2, 3, 9, 9], [3, 1, 3, 3], [3]], SUM, None),
    ("maxpool 3x3 stride 2 pad 1", "MaxPool",
     {"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)},
     [[2, 3, 9, 9]], EXACT, None),
    ("maxpool 2x2 stride 2 ceil_mode", "MaxPool",
     {"kernel_shape": ints(2, 2), "strides": ints(2, 2), "ceil_mode": i(1)},
     [[1, 2, 7, 7]], EXACT, None),
    ("maxpool 3x3 stride 3 pad 1 ceil_mode drops the window in padding", "MaxPool",
     {"kernel_shape": ints(3, 3), "strides": ints(3, 3), "pads": ints(1, 1, 1, 1), "ceil_mode": i(1)},
     [[1, 2, 5, 5]], EXACT, None),
    ("averagepool 3x3 stride 2 pad 1 excluding pad", "AveragePool",
     {"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "count_include_pad": i(0)},
     [[1, 3, 8, 8]], SUM, None),
    ("averagepool 3x3 stride 2 pad 1 count_include_pad", "AveragePool",
     {"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "count_include_pad": i(1)},
     [[1, 3, 8, 8]], SUM, None),
    ("averagepool 2x2 stride 2 ceil_mode", "AveragePool",
     {"kernel_shape": ints(2, 2), "strides": ints(2, 2), "ceil_mode": i(1)},
     [[1, 2, 7, 7]], SUM, None),
    ("globalaveragepool batch 2", "GlobalAveragePool", {},
     [[2, 5, 6, 6]], SUM, None),
    ("add per-channel broadcast", "Add", {},
     [[2, 4, 5, 5], [1, 4, 1, 1]], ELEMENTWISE, None),
    ("add broadcast leaky_relu 0.1", "Add",
     {"activation": s("leaky_relu"), "alpha": f(0.1)},
     [[1, 4, 5, 5], [4, 1, 1]], ELEMENTWISE, None),
    ("concat axis 1 three inputs", "Concat", {"axis": i(1)},
     [[1, 2, 4, 4], [1, 3, 4, 4], [1, 1, 4, 4]], EXACT, None),
    ("concat axis -1", "Concat", {"axis": i(-1)},
     [[2, 3, 4], [2, 3, 2]], EXACT, None),
    ("upsample nearest x2", "Upsample",
     {"mode": s("nearest"), "scales": floats(1.0, 1.0, 2.0, 2.0)},
     [[1, 3, 4, 5]], EXACT, None),
    ("upsample nearest 2x3", "Upsample",
     {"mode": s("nearest"), "scales": floats(1.0, 1.0, 2.0, 3.0)},
     [[2, 2, 3, 3]], EXACT, None),
    ("gemm transB C alpha 0.5 beta 2", "Gemm",
     {"transB": i(1), "alpha": f(0.5), "beta": f(2.0)},
     [[3, 7], [5, 7], [5]], SUM, None),
    ("gemm transA C (M, 1) leaky_relu activation_alpha", "Gemm",
     {"transA": i(1), "alpha": f(1.5), "beta": f(0.25), "activation": s("leaky_relu"), "activation_alpha": f(0.1)},
     [[6, 4], [6, 3], [4, 1]], SUM, None),
    ("flatten axis 1", "Flatten", {"axis": i(1)},
     [[2, 3, 4, 5]], EXACT, None),
    ("flatten axis 2", "Flatten", {"axis": i(2)},
     [[2, 3, 4, 5]], EXACT, None),
    ("softmax axis -1", "Softmax", {"axis": i(-1)},
     [[3, 10]], ELEMENTWISE, [4]),
    ("softmax axis 1", "Softmax", {"axis": i(1)},
     [[2, 5, 3, 3]], ELEMENTWISE, [4]),
    ("relu", "Relu", {}, [[2, 3, 4, 4]], EXACT, None),
    ("leakyrelu 0.1", "LeakyRelu", {"alpha": f(0.1)}, [[2, 3, 4, 4]], ELEMENTWISE, None),
    ("sigmoid", "Sigmoid", {}, [[2, 3, 4, 4]], ELEMENTWISE, [6]),
    ("silu", "Silu", {}, [[2, 3, 4, 4]], ELEMENTWISE, [6]),
    ("clip -0.5..0.5", "Clip", {"min": f(-0.5), "max": f(0.5)}, [[2, 3, 4, 4]], EXACT, None),
]


def case_stem(name):
    """"softmax axis -1" → "softmax-axis-minus-1", a file name stem."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"(?<![a-z0-9])-(?=[0-9])", " minus ", name.lower())).strip("-")


def make_kernel_fixtures(out):
    folder = out / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.f32"):
        stale.unlink()
    cases = []
    stems = set()
    for name, op, attributes, shapes, tolerance, scales in KERNEL_CASES:
        stem = case_stem(name)
        if stem in stems:
            raise ValueError(f"two cases named like '{name}'")
        stems.add(stem)
        rng = np.random.default_rng([MODEL_SEED, zlib.crc32(name.encode())])
        scales = scales or [1] * len(shapes)
        inputs = [(rng.random(shape, dtype=np.float32) * np.float32(2) - np.float32(1)) * np.float32(scale)
                  for shape, scale in zip(shapes, scales)]
        output = run_op(op, attributes, inputs)
        described = []
        for index, value in enumerate(inputs):
            file = f"kernels/{stem}.in{index}.f32"
            write_f32(out / file, value)
            described.append({"shape": list(value.shape), "file": file})
        file = f"kernels/{stem}.out.f32"
        write_f32(out / file, output)
        cases.append({
            "name": name, "op": op, "attributes": attributes, "inputs": described,
            "output": {"shape": list(output.shape), "file": file}, "tolerance": tolerance,
        })
    (out / "kernels.json").write_text(to_json(cases))
    total = sum(p.stat().st_size for p in folder.glob("*.f32")) + (out / "kernels.json").stat().st_size
    print(f"{len(cases)} kernel cases, {total} bytes")

# MARK: Command line

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fixtures = commands.add_parser("fixtures", help="run a model on seeded inputs and write reference outputs")
    fixtures.add_argument("model", type=pathlib.Path, help="a NAME.dlm directory")
    fixtures.add_argument("out", type=pathlib.Path, help="directory for reference.json and the .f32 files")
    kernels = commands.add_parser("kernels", help="write the operator cases")
    kernels.add_argument("out", type=pathlib.Path, help="directory for kernels.json and kernels/")
    arguments = parser.parse_args()
    if arguments.command == "fixtures":
        make_model_fixtures(arguments.model, arguments.out)
    else:
        make_kernel_fixtures(arguments.out)


if __name__ == "__main__":
    main()
