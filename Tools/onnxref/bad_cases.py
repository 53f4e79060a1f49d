"""Models `demandlayer convert` must refuse with a clear error and no output
(fixtures/onnx/bad). Each directory holds model.onnx (and what else the case
needs) and case.json:

    {"name", "convert_args": [...], "expect_error": [substrings the message must contain],
     "why": "..."}
"""

import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper

from .cases import prepare_directory, rng
from .graph import Graph


def _describe(directory, expect, why, convert_args=()):
    description = {"name": directory.name, "convert_args": list(convert_args), "expect_error": expect, "why": why}
    (directory / "case.json").write_text(json.dumps(description, indent=1) + "\n")


def _small_conv(name):
    g = Graph(name, opset=13)
    x = g.input("x", g.uniform(1, 3, 8, 8))
    y = g.node("Conv", [x, g.weight("w", g.he(8, 3, 3, 3)), g.weight("b", g.uniform(8))], pads=[1, 1, 1, 1])
    g.output(g.node("Relu", [y]))
    return g.build()[0]


def write_bad(root):
    root = pathlib.Path(root)
    written = []

    directory = prepare_directory(root / "unsupported_op")
    boxes = helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 6, 4])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 6])
    selected = helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["selected"], name="nms_0")
    graph = helper.make_graph([node], "unsupported_op", [boxes, scores], [selected])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(directory / "model.onnx"))
    _describe(directory, ["NonMaxSuppression", "nms_0"], "an operator outside the contract: refused with the op and the node's name")
    written.append(directory)

    directory = prepare_directory(root / "unsupported_attribute")
    g = Graph("unsupported_attribute", opset=13)
    x = g.input("x", g.uniform(1, 2, 4, 4))
    g.nodes.append(helper.make_node("Resize", [x, "", g.floats("scales", [1, 1, 2, 2])], ["y"], name="resize_cubic", mode="cubic"))
    g.output("y")
    onnx.save(g.build()[0], str(directory / "model.onnx"))
    _describe(directory, ["Resize", "cubic"], "a supported op with an unsupported attribute value")
    written.append(directory)

    directory = prepare_directory(root / "truncated_protobuf")
    data = _small_conv("truncated_protobuf").SerializeToString()
    (directory / "model.onnx").write_bytes(data[: len(data) * 3 // 5])
    _describe(directory, ["model.onnx"], f"a valid model cut to 60% of its {len(data)} bytes")
    written.append(directory)

    directory = prepare_directory(root / "garbage")
    (directory / "model.onnx").write_bytes(rng("garbage").integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    _describe(directory, ["model.onnx"], "4096 seeded random bytes")
    written.append(directory)

    directory = prepare_directory(root / "external_data_missing")
    onnx.save(_small_conv("external_data_missing"), str(directory / "model.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    (directory / "weights.bin").unlink()
    _describe(directory, ["weights.bin"], "weights stored in weights.bin beside the model, which is missing")
    written.append(directory)

    directory = prepare_directory(root / "open_dimension")
    model = _small_conv("open_dimension")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(model, str(directory / "model.onnx"))
    _describe(directory, ["batch"], "a symbolic input dimension and no --input-shape for it")
    written.append(directory)
    return written
