"""Fixtures for what the converter must fold or restructure rather than run:
weights in Constant nodes and in an external-data file, the
Shape/Gather/Unsqueeze/Concat/Reshape chains of PyTorch exports, Size, Range
and ConstantOfShape, Split (opset 11 attribute, 13 input, 18 num_outputs),
BatchNormalization after Conv, IR-3 initializers listed as graph inputs, and
graph outputs that are also consumed or whose names contain '/'.
Registered in op_cases.CASES like the rest."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .op_cases import case

# MARK: where weights live

@case("constant_node_weights", 12)
def _(g):
    x = g.input("x", g.uniform(1, 3, 6, 6))
    y = g.node("Conv", [x, g.constant("w", g.he(4, 3, 3, 3)), g.constant("b", g.uniform(4))], pads=[1, 1, 1, 1])
    g.nodes.append(helper.make_node("Constant", [], ["gain"], name="gain_constant", value_float=0.75))
    g.nodes.append(helper.make_node("Constant", [], ["flat_shape"], name="flat_shape_constant", value_ints=[1, -1]))
    g.output(g.node("Reshape", [g.node("Mul", [y, "gain"]), "flat_shape"]))


@case("external_data", 13)
def _(g):
    x = g.input("x", g.uniform(1, 4, 5, 5))
    y = g.node("Conv", [x, g.weight("w", g.he(8, 4, 3, 3)), g.weight("b", g.uniform(8))], pads=[1, 1, 1, 1])
    y = g.node("Flatten", [g.node("GlobalAveragePool", [y])])
    g.output(g.node("Gemm", [y, g.weight("fc", g.he(3, 8)), g.weight("fc_bias", g.uniform(3))], transB=1))
    g.external_data = "weights.bin"


@case("initializer_as_input_ir3", 9, ir_version=3)
def _(g):
    x = g.input("x", g.uniform(1, 2, 4, 4))
    y = g.node("Conv", [x, g.weight("w", g.he(3, 2, 3, 3)), g.weight("b", g.uniform(3))], pads=[1, 1, 1, 1])
    g.output(g.node("Relu", [y]))


# MARK: node order

@case("nodes_not_in_order", 17)
def _(g):
    x = g.input("x", g.uniform(1, 3, 6, 6))
    y = g.node("Conv", [x, g.weight("w", g.he(4, 3, 3, 3)), g.weight("b", g.uniform(4))], pads=[1, 1, 1, 1])
    y = g.node("Mul", [y, g.node("Sigmoid", [y])])
    y = g.node("Flatten", [g.node("GlobalAveragePool", [y])])
    g.output(g.node("Gemm", [y, g.weight("fc", g.he(5, 4)), g.weight("fc_bias", g.uniform(5))], transB=1))
    g.reverse_nodes = True


# MARK: shapes evaluated at convert time

@case("shape_gather_unsqueeze_concat_reshape", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 4, 4))
    shape = g.node("Shape", [x])
    batch = g.node("Unsqueeze", [g.node("Gather", [shape, g.weight("zero", np.array(0, np.int64))], axis=0), g.ints("axis0", [0])])
    target = g.node("Concat", [batch, g.ints("rest", [-1])], axis=0)
    g.output(g.node("Reshape", [x, target]))


@case("shape_chain_mul_dims", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 4, 5))
    shape = g.node("Shape", [x])
    dims = [g.node("Gather", [shape, g.weight(f"i{k}", np.array(k, np.int64))], axis=0) for k in range(4)]
    area = g.node("Mul", [dims[2], dims[3]])
    target = g.node("Concat", [g.node("Unsqueeze", [d, g.ints(f"u{k}", [0])]) for k, d in
                               enumerate([dims[0], dims[1], area])], axis=0)
    g.output(g.node("Transpose", [g.node("Reshape", [x, target])], perm=[0, 2, 1]))


@case("shape_slice_opset15", 15)
def _(g):
    x = g.input("x", g.uniform(2, 3, 2, 2))
    head = g.node("Shape", [x], start=0, end=1)
    target = g.node("Concat", [head, g.ints("minus_one", [-1])], axis=0)
    g.output(g.node("Reshape", [x, target]))


@case("size_folding", 13)
def _(g):
    x = g.input("x", g.uniform(2, 3, 4))
    count = g.node("Cast", [g.node("Size", [x])], to=TensorProto.FLOAT)
    g.output(g.node("Div", [g.node("ReduceSum", [x], keepdims=1), count]))


@case("range_folding", 13)
def _(g):
    x = g.input("x", g.uniform(2, 3, 6))
    length = g.node("Gather", [g.node("Shape", [x]), g.weight("last", np.array(-1, np.int64))], axis=0)
    positions = g.node("Range", [g.weight("start", np.array(0, np.int64)), length, g.weight("delta", np.array(1, np.int64))])
    g.output(g.node("Add", [x, g.node("Cast", [positions], to=TensorProto.FLOAT)]))


@case("range_float_folding", 13)
def _(g):
    x = g.input("x", g.uniform(1, 5))
    ramp = g.node("Range", [g.floats("start", 1.0), g.floats("limit", 3.5), g.floats("delta", 0.5)])
    g.output(g.node("Mul", [x, ramp]))


@case("constantofshape_from_shape", 13)
def _(g):
    x = g.input("x", g.uniform(2, 3, 4))
    filled = g.node("ConstantOfShape", [g.node("Shape", [x])], value=numpy_helper.from_array(np.array([2.5], np.float32)))
    g.output(g.node("Mul", [x, filled]))


@case("constantofshape_constant_shape", 13)
def _(g):
    x = g.input("x", g.uniform(2, 3, 4))
    filled = g.node("ConstantOfShape", [g.ints("shape", [1, 4])], value=numpy_helper.from_array(np.array([1.0], np.float32)))
    g.output(g.node("Add", [x, filled]))


@case("position_embedding_pattern", 13)
def _(g):
    ids = g.input("input_ids", np.array([[5, 9, 0, 31, 2, 7]], dtype=np.int64))
    words = g.node("Gather", [g.weight("word_embeddings", g.normal(32, 8, std=0.5)), ids], axis=0)
    length = g.node("Gather", [g.node("Shape", [ids]), g.weight("one", np.array(1, np.int64))], axis=0)
    positions = g.node("Unsqueeze", [g.node("Range", [g.weight("start", np.array(0, np.int64)), length,
                                                      g.weight("step", np.array(1, np.int64))]), g.ints("axis0", [0])])
    placed = g.node("Gather", [g.weight("position_embeddings", g.normal(16, 8, std=0.5)), positions], axis=0)
    g.output(g.node("Add", [words, placed]))


# MARK: Split becomes one Slice per output

@case("split_opset13_input", 13)
def _(g):
    parts = g.node("Split", [g.input("x", g.uniform(1, 6, 3, 3)), g.ints("split", [2, 1, 3])], outputs=3, axis=1)
    for part in parts:
        g.output(part)


@case("split_opset13_equal", 13)
def _(g):
    parts = g.node("Split", [g.input("x", g.uniform(2, 3, 8))], outputs=2, axis=-1)
    g.output(g.node("Sub", parts))


@case("split_opset18_num_outputs", 18)
def _(g):
    parts = g.node("Split", [g.input("x", g.uniform(1, 6, 4))], outputs=3, axis=1, num_outputs=3)
    for part in parts:
        g.output(part)


@case("split_opset18_uneven", 18)
def _(g):
    parts = g.node("Split", [g.input("x", g.uniform(2, 7))], outputs=3, axis=1, num_outputs=3)
    for part in parts:
        g.output(part)


@case("split_opset11_attribute", 11)
def _(g):
    parts = g.node("Split", [g.input("x", g.uniform(1, 4, 5))], outputs=2, axis=2, split=[1, 4])
    for part in parts:
        g.output(part)


# MARK: BatchNormalization after Conv (folded)

def conv_bn(name, bias, activation=None):
    @case(name, 14)
    def _(g):
        x = g.input("x", g.uniform(1, 3, 6, 6))
        inputs = [x, g.weight("w", g.he(5, 3, 3, 3))] + ([g.weight("b", g.uniform(5))] if bias else [])
        y = g.node("Conv", inputs, pads=[1, 1, 1, 1])
        y = g.node("BatchNormalization", [y, g.weight("scale", g.uniform(5, low=0.5, high=1.5)), g.weight("shift", g.uniform(5)),
                                          g.weight("mean", g.uniform(5)), g.weight("var", g.uniform(5, low=0.5, high=2.0))],
                   epsilon=1e-5)
        g.output(g.node(activation, [y]) if activation else y)


conv_bn("conv_batchnormalization", bias=True)
conv_bn("conv_nobias_batchnormalization", bias=False)
conv_bn("conv_batchnormalization_hardswish", bias=False, activation="HardSwish")


# MARK: graph outputs

@case("output_also_consumed", 13)
def _(g):
    x = g.input("x", g.uniform(2, 5))
    hidden = g.node("Relu", [x])
    g.output(hidden)
    g.output(g.node("Add", [hidden, g.floats("one", 1.0)]))


@case("output_name_with_slash", 13)
def _(g):
    y = g.node("Sigmoid", [g.input("images/x", g.uniform(1, 2, 3))])
    g.output(y, graph_name="head/scores:0")


@case("silu_pattern", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 5, 5, low=-4, high=4))
    y = g.node("Conv", [x, g.weight("w", g.he(4, 3, 1, 1)), g.weight("b", g.uniform(4))])
    g.output(g.node("Mul", [y, g.node("Sigmoid", [y])]))


# MARK: weights computed from constants (exports without constant folding)

@case("constant_transpose_weight", 13)
def _(g):
    x = g.input("x", g.uniform(2, 3, 8))
    g.output(g.node("MatMul", [x, g.node("Transpose", [g.weight("w", g.he(6, 8))], perm=[1, 0])]))


@case("constant_scaled_conv_weight", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 5, 5))
    weight = g.node("Mul", [g.weight("w", g.he(4, 3, 3, 3)), g.weight("gain", g.uniform(4, 1, 1, 1, low=0.5, high=1.5))])
    bias = g.node("Add", [g.weight("b", g.uniform(4)), g.floats("shift", 0.25)])
    g.output(g.node("Conv", [x, weight, bias], pads=[1, 1, 1, 1]))


@case("unsqueeze_concat_stack", 13)
def _(g):
    a = g.node("Unsqueeze", [g.input("a", g.uniform(2, 3)), g.ints("axis_a", [1])])
    b = g.node("Unsqueeze", [g.input("b", g.uniform(2, 3)), g.ints("axis_b", [1])])
    g.output(g.node("Concat", [a, b], axis=1))


# MARK: scalar (rank-0) inputs and outputs

@case("scalar_input_float", 17)
def _(g):
    x = g.input("x", g.uniform(2, 3, 4))
    g.output(g.node("Mul", [x, g.input("gain", np.array(0.75, dtype=np.float32))]))


@case("scalar_input_int64", 17)
def _(g):
    # An audio model's sample rate: y = x * (sr / 16000).
    x = g.input("x", g.uniform(1, 2, 8))
    rate = g.node("Cast", [g.input("sr", np.array(24000, dtype=np.int64))], to=TensorProto.FLOAT)
    g.output(g.node("Mul", [x, g.node("Div", [rate, g.weight("base_rate", np.array(16000, np.float32))])]))


@case("scalar_input_undeclared_shape", 17)
def _(g):
    # The input's type carries no shape at all: the convert needs --input-shape gain=scalar.
    x = g.input("x", g.uniform(2, 5))
    g.input("gain", np.array(-1.5, dtype=np.float32))
    g.inputs[-1].type.tensor_type.ClearField("shape")
    g.output(g.node("Add", [x, "gain"]))
    g.convert_args = ["--input-shape", "gain=scalar"]
    g.full_check = False


@case("scalar_output_and_broadcast", 13)
def _(g):
    # A rank-0 output (the mean over every axis) that is also broadcast back over x.
    x = g.input("x", g.uniform(2, 3, 4))
    mean = g.node("ReduceMean", [x], axes=[0, 1, 2], keepdims=0)
    g.output(mean)
    g.output(g.node("Sub", [x, mean]))
