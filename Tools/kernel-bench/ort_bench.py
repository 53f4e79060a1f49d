#!/usr/bin/env python3
"""The cases of Tools/kernel-bench/main.swift as one-node ONNX models, timed
with onnxruntime (pip install onnxruntime onnx) for a side-by-side yardstick.

Usage: python3 Tools/kernel-bench/ort_bench.py [name-fragment] [--threads N]
Constant inputs (Reshape shape, Slice starts, Resize scales, ...) are
initializers, as in an exported model; the Swift runtime takes them as
attributes instead. Prints median milliseconds per case.
"""
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

HUGE = 9223372036854775807


def case(name, op, inputs, attributes=None, constants=None, index_range=None):
    return dict(name=name, op=op, inputs=inputs, attributes=attributes or {}, constants=constants or [],
                index_range=index_range)


CASES = [
    case("bert linear 128x768 · 768x768", "MatMul", [[1, 128, 768], [768, 768]]),
    case("bert ffn 128x768 · 768x3072", "MatMul", [[1, 128, 768], [768, 3072]]),
    case("bert scores 12x(128x64 · 64x128)", "MatMul", [[1, 12, 128, 64], [1, 12, 64, 128]]),
    case("bert context 12x(128x128 · 128x64)", "MatMul", [[1, 12, 128, 128], [1, 12, 128, 64]]),
    case("bert layernorm 128x768", "LayerNormalization", [[1, 128, 768], [768], [768]]),
    case("bert softmax 12x128x128", "Softmax", [[1, 12, 128, 128]]),
    case("bert gelu 128x3072", "Gelu", [[1, 128, 3072]]),
    case("bert erf 128x3072", "Erf", [[1, 128, 3072]]),
    case("bert add bias 128x3072 + 3072", "Add", [[1, 128, 3072], [3072]]),
    case("bert mul 128x3072 same shape", "Mul", [[1, 128, 3072], [1, 128, 3072]]),
    case("bert div scores by scalar", "Div", [[1, 12, 128, 128], [1]]),
    case("bert mask add (1,1,1,128)", "Add", [[1, 12, 128, 128], [1, 1, 1, 128]]),
    case("bert transpose heads (0,2,1,3)", "Transpose", [[1, 128, 12, 64]], {"perm": [0, 2, 1, 3]}),
    case("bert transpose keys (0,1,3,2)", "Transpose", [[1, 12, 128, 64]], {"perm": [0, 1, 3, 2]}),
    case("bert gather embeddings 128 of 30522x768", "Gather", [[30522, 768], [1, 128]], index_range=30522),
    case("bert reducemean 128x768 axis -1", "ReduceMean", [[1, 128, 768]], constants=[("axes", [-1])]),
    case("bert pow 2 128x768", "Pow", [[1, 128, 768]], constants=[("exponent", np.array([2], np.float32))]),
    case("yolo mul 64x160x160 (silu gate)", "Mul", [[1, 64, 160, 160], [1, 64, 160, 160]]),
    case("yolo sigmoid 64x160x160", "Sigmoid", [[1, 64, 160, 160]]),
    case("yolo resize nearest x2 256x20x20", "Resize", [[1, 256, 20, 20]],
         {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
         constants=[("roi", np.array([], np.float32)), ("scales", np.array([1, 1, 2, 2], np.float32))]),
    case("yolo resize nearest x2 128x40x40", "Resize", [[1, 128, 40, 40]], {"mode": "nearest"},
         constants=[("roi", np.array([], np.float32)), ("scales", np.array([1, 1, 2, 2], np.float32))]),
    case("yolo slice channel half 64x160x160", "Slice", [[1, 64, 160, 160]],
         constants=[("starts", [32]), ("ends", [64]), ("axes", [1])]),
    case("yolo dfl softmax axis 1 (1,4,16,8400)", "Softmax", [[1, 4, 16, 8400]], {"axis": 1}),
    case("yolo dfl transpose (0,2,1,3)", "Transpose", [[1, 4, 16, 8400]], {"perm": [0, 2, 1, 3]}),
    case("yolo pad maxpool border 128x20x20", "Pad", [[1, 128, 20, 20]], constants=[("pads", [0, 0, 2, 2, 0, 0, 2, 2])]),
    case("ocr convtranspose 64→64 2x2 s2 80x80", "ConvTranspose", [[1, 64, 80, 80], [64, 64, 2, 2], [64]], {"strides": [2, 2]}),
    case("ocr convtranspose 24→24 3x3 s2 p1 160x160", "ConvTranspose", [[1, 24, 160, 160], [24, 24, 3, 3], [24]],
         {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
    case("ocr hardswish 96x80x80", "HardSwish", [[1, 96, 80, 80]]),
    case("ocr resize linear x2 96x80x80", "Resize", [[1, 96, 80, 80]], {"mode": "linear"},
         constants=[("roi", np.array([], np.float32)), ("scales", np.array([1, 1, 2, 2], np.float32))]),
    case("resnet batchnorm 256x56x56", "BatchNormalization", [[1, 256, 56, 56], [256], [256], [256], [256]]),
    case("resnet reducemean spatial 2048x7x7", "ReduceMean", [[1, 2048, 7, 7]], constants=[("axes", [2, 3])]),
]


def model_for(c):
    inputs, feeds, initializers = [], {}, []
    rng = np.random.default_rng(0)
    for i, shape in enumerate(c["inputs"]):
        name = f"x{i}"
        if i == 1 and c["index_range"]:
            inputs.append(helper.make_tensor_value_info(name, TensorProto.INT64, shape))
            feeds[name] = rng.integers(0, c["index_range"], size=shape, dtype=np.int64)
        else:
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
            low = 1.0 if (c["op"] == "BatchNormalization" and i == 4) else -1.0
            feeds[name] = rng.uniform(low, 2.0 if low == 1.0 else 1.0, size=shape).astype(np.float32)
    node_inputs = [f"x{i}" for i in range(len(c["inputs"]))]
    for name, value in c["constants"]:
        array = value if isinstance(value, np.ndarray) else np.array(value, np.int64)
        initializers.append(onnx.numpy_helper.from_array(array, name))
        node_inputs.append(name)
    node = helper.make_node(c["op"], node_inputs, ["y"], **c["attributes"])
    graph = helper.make_graph([node], "bench", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    return model.SerializeToString(), feeds


def main():
    args = sys.argv[1:]
    threads = 2
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i:i + 2]
    fragment = args[0] if args else None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    print(f"{'case':44} median ms min ms    (onnxruntime {ort.__version__}, {threads} threads)")
    for c in CASES:
        if fragment and fragment not in c["name"]:
            continue
        model, feeds = model_for(c)
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        for _ in range(3):
            session.run(None, feeds)
        times = []
        start = time.perf_counter()
        while len(times) < 20 or (time.perf_counter() - start < 1 and len(times) < 1000):
            t0 = time.perf_counter()
            session.run(None, feeds)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(f"{c['name']:44} {times[len(times) // 2] * 1e3:<9.3f} {times[0] * 1e3:.3f}")


if __name__ == "__main__":
    main()
