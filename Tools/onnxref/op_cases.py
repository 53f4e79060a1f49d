"""One small model per operator and attribute combination of the operator
contract (briefs: ops-contract), each a function registered with @case that
fills a Graph. Inputs are small (a few hundred values) so all fixtures together
stay far below the 5 MB budget. Structure and folding cases (Constant weights,
external data, shape chains, Split, BatchNormalization folding) are in
graph_cases.py.
"""

import numpy as np

from .graph import Graph

CASES = {}


def case(name, opset=17, **graph_options):
    def register(function):
        if name in CASES:
            raise ValueError(f"duplicate case {name}")
        CASES[name] = lambda: _build(name, opset, graph_options, function)
        return function
    return register


def _build(name, opset, graph_options, function):
    g = Graph(name, opset=opset, **graph_options)
    function(g)
    return g


def unary(name, op, opset=17, low=-3.0, high=3.0, shape=(2, 3, 4, 5), **attributes):
    @case(name, opset)
    def _(g):
        x = g.input("x", g.uniform(*shape, low=low, high=high))
        g.output(g.node(op, [x], **attributes))


def binary(name, op, a_shape, b_shape, opset=17, b_constant=False, values="uniform", to_float=False):
    @case(name, opset)
    def _(g):
        make = {"uniform": lambda s: g.uniform(*s), "positive": lambda s: g.uniform(*s, low=0.5, high=2.0),
                "integers": lambda s: g.integers(-2, 3, *s)}[values]
        a = g.input("a", make(a_shape))
        b = g.weight("b", make(b_shape)) if b_constant else g.input("b", make(b_shape))
        y = g.node(op, [a, b])
        g.output(g.node("Cast", [y], to=1) if to_float else y)


# MARK: convolution and pooling (already supported)

@case("conv_3x3_pad1_bias", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 8, 8))
    g.output(g.node("Conv", [x, g.weight("w", g.he(4, 3, 3, 3)), g.weight("b", g.uniform(4))],
                    kernel_shape=[3, 3], pads=[1, 1, 1, 1]))


@case("conv_1x1_nobias", 13)
def _(g):
    x = g.input("x", g.uniform(1, 8, 5, 5))
    g.output(g.node("Conv", [x, g.weight("w", g.he(6, 8, 1, 1))]))


@case("conv_stride2_asym_pads", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 9, 8))
    g.output(g.node("Conv", [x, g.weight("w", g.he(4, 3, 3, 3)), g.weight("b", g.uniform(4))],
                    strides=[2, 2], pads=[0, 1, 1, 0]))


@case("conv_grouped", 13)
def _(g):
    x = g.input("x", g.uniform(1, 4, 6, 6))
    g.output(g.node("Conv", [x, g.weight("w", g.he(6, 2, 3, 3))], group=2, pads=[1, 1, 1, 1]))


@case("conv_depthwise", 13)
def _(g):
    x = g.input("x", g.uniform(1, 4, 7, 7))
    g.output(g.node("Conv", [x, g.weight("w", g.he(4, 1, 5, 5)), g.weight("b", g.uniform(4))],
                    group=4, pads=[2, 2, 2, 2], strides=[2, 2]))


@case("conv_dilated_rect", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 9, 9))
    g.output(g.node("Conv", [x, g.weight("w", g.he(2, 3, 3, 1))], dilations=[2, 1], pads=[2, 0, 2, 0]))


@case("conv_relu", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 6, 6))
    y = g.node("Conv", [x, g.weight("w", g.he(4, 3, 3, 3)), g.weight("b", g.uniform(4))], pads=[1, 1, 1, 1])
    g.output(g.node("Relu", [y]))


@case("maxpool_k3s2p1", 13)
def _(g):
    g.output(g.node("MaxPool", [g.input("x", g.uniform(1, 3, 9, 9))],
                    kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))


@case("maxpool_ceil", 13)
def _(g):
    g.output(g.node("MaxPool", [g.input("x", g.uniform(1, 2, 8, 8))],
                    kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))


@case("maxpool_k5s1p2", 17)
def _(g):
    g.output(g.node("MaxPool", [g.input("x", g.uniform(1, 2, 6, 6))],
                    kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2]))


@case("averagepool_exclude_pad", 13)
def _(g):
    g.output(g.node("AveragePool", [g.input("x", g.uniform(1, 2, 7, 7))],
                    kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0))


@case("averagepool_include_pad", 13)
def _(g):
    g.output(g.node("AveragePool", [g.input("x", g.uniform(1, 2, 7, 7))],
                    kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1))


@case("averagepool_rect_stride", 12)
def _(g):
    g.output(g.node("AveragePool", [g.input("x", g.uniform(1, 2, 6, 8))], kernel_shape=[3, 2], strides=[3, 2]))


@case("globalaveragepool", 13)
def _(g):
    g.output(g.node("GlobalAveragePool", [g.input("x", g.uniform(2, 3, 5, 4))]))


@case("lrn_default", 13)
def _(g):
    g.output(g.node("LRN", [g.input("x", g.uniform(1, 7, 3, 3, low=-4, high=4))], size=5))


@case("lrn_custom", 13)
def _(g):
    g.output(g.node("LRN", [g.input("x", g.uniform(1, 6, 3, 3, low=-4, high=4))],
                    size=3, alpha=2e-2, beta=0.5, bias=2.0))


# MARK: transposed convolution

@case("convtranspose_k2s2", 12)
def _(g):
    x = g.input("x", g.uniform(1, 4, 5, 5))
    g.output(g.node("ConvTranspose", [x, g.weight("w", g.he(4, 3, 2, 2))], kernel_shape=[2, 2], strides=[2, 2]))


@case("convtranspose_k4s2p1_bias", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 4, 5))
    g.output(g.node("ConvTranspose", [x, g.weight("w", g.he(3, 2, 4, 4)), g.weight("b", g.uniform(2))],
                    strides=[2, 2], pads=[1, 1, 1, 1]))


@case("convtranspose_output_padding", 13)
def _(g):
    x = g.input("x", g.uniform(1, 2, 4, 4))
    g.output(g.node("ConvTranspose", [x, g.weight("w", g.he(2, 3, 3, 3))],
                    strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]))


@case("convtranspose_group_dilation", 13)
def _(g):
    x = g.input("x", g.uniform(1, 4, 4, 4))
    g.output(g.node("ConvTranspose", [x, g.weight("w", g.he(4, 3, 3, 3)), g.weight("b", g.uniform(6))],
                    group=2, dilations=[2, 2], strides=[1, 2], pads=[0, 1, 1, 0]))


@case("convtranspose_output_shape", 13)
def _(g):
    x = g.input("x", g.uniform(1, 2, 4, 4))
    g.output(g.node("ConvTranspose", [x, g.weight("w", g.he(2, 2, 3, 3))], strides=[2, 2], output_shape=[9, 10]))


@case("convtranspose_relu", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 3, 3))
    y = g.node("ConvTranspose", [x, g.weight("w", g.he(3, 2, 2, 2)), g.weight("b", g.uniform(2))], strides=[2, 2])
    g.output(g.node("Relu", [y]))


# MARK: resizing

def resize(name, mode, coordinates, nearest=None, scales=None, sizes=None, opset=13, shape=(1, 2, 4, 5)):
    @case(name, opset)
    def _(g):
        x = g.input("x", g.uniform(*shape))
        attributes = {"mode": mode, "coordinate_transformation_mode": coordinates}
        if nearest:
            attributes["nearest_mode"] = nearest
        roi = g.floats("roi", []) if opset < 13 else ""
        inputs = [x, roi, g.floats("scales", scales) if scales else ""]
        if sizes:
            inputs.append(g.ints("sizes", sizes))
        g.output(g.node("Resize", inputs, **attributes))


resize("resize_nearest_asymmetric_floor_x2", "nearest", "asymmetric", "floor", scales=[1, 1, 2, 2])
resize("resize_nearest_half_pixel_prefer_floor_sizes", "nearest", "half_pixel", "round_prefer_floor", sizes=[1, 2, 7, 9])
resize("resize_nearest_half_pixel_prefer_ceil_x1_5", "nearest", "half_pixel", "round_prefer_ceil", scales=[1, 1, 1.5, 1.5])
resize("resize_nearest_align_corners_prefer_ceil", "nearest", "align_corners", "round_prefer_ceil", sizes=[1, 2, 7, 8])
resize("resize_nearest_pytorch_half_pixel_ceil_down", "nearest", "pytorch_half_pixel", "ceil", scales=[1, 1, 0.6, 0.6],
       shape=(1, 2, 10, 10))
resize("resize_nearest_asymmetric_ceil_sizes", "nearest", "asymmetric", "ceil", sizes=[1, 2, 6, 11])
resize("resize_nearest_asymmetric_round_prefer_floor_x3", "nearest", "asymmetric", "round_prefer_floor", scales=[1, 1, 3, 3])
resize("resize_linear_half_pixel_x2", "linear", "half_pixel", scales=[1, 1, 2, 2])
resize("resize_linear_half_pixel_down", "linear", "half_pixel", scales=[1, 1, 0.6, 0.75], shape=(1, 2, 10, 8))
resize("resize_linear_asymmetric_sizes", "linear", "asymmetric", sizes=[1, 2, 7, 9])
resize("resize_linear_align_corners_sizes", "linear", "align_corners", sizes=[1, 2, 7, 9])
resize("resize_linear_pytorch_half_pixel_down", "linear", "pytorch_half_pixel", scales=[1, 1, 0.5, 0.5], shape=(1, 2, 8, 6))
resize("resize_opset11_roi", "nearest", "asymmetric", "floor", scales=[1, 1, 2, 2], opset=11)
resize("resize_opset18_linear", "linear", "half_pixel", sizes=[1, 2, 6, 7], opset=18)


@case("upsample_opset9", 9)
def _(g):
    g.output(g.node("Upsample", [g.input("x", g.uniform(1, 2, 3, 4)), g.floats("scales", [1, 1, 2, 2])], mode="nearest"))


@case("upsample_opset7", 7)
def _(g):
    g.output(g.node("Upsample", [g.input("x", g.uniform(1, 2, 3, 4))], mode="nearest", scales=[1.0, 1.0, 2.0, 3.0]))


# MARK: padding

def pad(name, pads, mode="constant", value=None, opset=13, shape=(1, 2, 4, 5)):
    @case(name, opset)
    def _(g):
        x = g.input("x", g.uniform(*shape))
        if opset < 11:
            attributes = {"pads": pads, "mode": mode}
            if value is not None:
                attributes["value"] = value
            g.output(g.node("Pad", [x], **attributes))
        else:
            inputs = [x, g.ints("pads", pads)] + ([g.floats("value", value)] if value is not None else [])
            g.output(g.node("Pad", inputs, mode=mode))


pad("pad_constant_value", [0, 0, 1, 2, 0, 0, 2, 1], value=0.5)
pad("pad_constant_zero_channels", [0, 1, 0, 0, 0, 2, 1, 1])
pad("pad_reflect", [0, 0, 2, 1, 0, 0, 1, 3], mode="reflect")
pad("pad_edge", [0, 0, 1, 3, 0, 0, 2, 0], mode="edge")
pad("pad_negative_crop", [0, 0, -1, 2, 0, 0, 1, -2], value=-1.0)
pad("pad_opset2_attributes", [0, 0, 1, 1, 0, 0, 1, 1], value=0.25, opset=2)


# MARK: normalization

@case("batchnormalization_4d", 15)
def _(g):
    c = 3
    g.output(g.node("BatchNormalization", [g.input("x", g.uniform(2, c, 4, 4)), g.weight("scale", g.uniform(c, low=0.5, high=1.5)),
                                           g.weight("bias", g.uniform(c)), g.weight("mean", g.uniform(c)),
                                           g.weight("var", g.uniform(c, low=0.5, high=2.0))], epsilon=1e-3))


@case("batchnormalization_2d", 9)
def _(g):
    c = 6
    g.output(g.node("BatchNormalization", [g.input("x", g.uniform(4, c)), g.weight("scale", g.uniform(c, low=0.5, high=1.5)),
                                           g.weight("bias", g.uniform(c)), g.weight("mean", g.uniform(c)),
                                           g.weight("var", g.uniform(c, low=0.5, high=2.0))]))


@case("layernormalization_last_axis", 17)
def _(g):
    g.output(g.node("LayerNormalization", [g.input("x", g.uniform(2, 5, 16)), g.weight("scale", g.uniform(16, low=0.5, high=1.5)),
                                           g.weight("bias", g.uniform(16))], epsilon=1e-12))


@case("layernormalization_axis1_nobias", 17)
def _(g):
    g.output(g.node("LayerNormalization", [g.input("x", g.uniform(2, 3, 4, 5)), g.weight("scale", g.uniform(3, 4, 5))], axis=1))


@case("layernormalization_stash_type", 17)
def _(g):
    g.output(g.node("LayerNormalization", [g.input("x", g.uniform(3, 8)), g.weight("scale", g.uniform(8)),
                                           g.weight("bias", g.uniform(8))], axis=-1, epsilon=1e-5, stash_type=1))


# MARK: elementwise, one input

unary("relu", "Relu")
unary("leakyrelu", "LeakyRelu", alpha=0.1)
unary("sigmoid", "Sigmoid", low=-8, high=8)
unary("tanh", "Tanh")
unary("erf", "Erf")
unary("exp", "Exp")
unary("neg", "Neg")
unary("abs", "Abs")
unary("identity", "Identity")
unary("sqrt", "Sqrt", low=0.0, high=4.0)
unary("log", "Log", low=0.1, high=5.0)
unary("reciprocal", "Reciprocal", low=0.5, high=3.0)
unary("floor", "Floor", low=-5, high=5)
unary("ceil", "Ceil", low=-5, high=5)
unary("round", "Round", opset=11, low=-5, high=5)


@case("round_halves_to_even", 11)
def _(g):
    # Every value a multiple of 0.5 in [-4, 4): half of them ties.
    g.output(g.node("Round", [g.input("x", (g.integers(-8, 8, 3, 16) / 2).astype(np.float32))]))


@case("round_constant_folded", 13)
def _(g):
    # Round of a constant runs at convert time through the runtime's kernel.
    halves = g.floats("halves", np.arange(-3.0, 3.0, 0.5, dtype=np.float32))
    g.output(g.node("Add", [g.input("x", g.uniform(2, 12)), g.node("Round", [halves])]))


unary("hardsigmoid_default", "HardSigmoid", low=-4, high=4, opset=13)
unary("hardsigmoid_paddle", "HardSigmoid", low=-4, high=4, opset=13, alpha=0.1666667, beta=0.5)
unary("hardswish", "HardSwish", low=-5, high=5, opset=14)
unary("gelu_exact", "Gelu", low=-4, high=4, opset=20)
unary("gelu_tanh", "Gelu", low=-4, high=4, opset=20, approximate="tanh")
unary("dropout_opset13", "Dropout", opset=13)
unary("dropout_opset10_ratio", "Dropout", opset=10, ratio=0.3)
unary("clip_opset6", "Clip", low=-8, high=8, opset=6, min=0.0, max=6.0)
unary("softmax_opset13_last", "Softmax", low=-4, high=4, opset=13, axis=-1)
unary("softmax_opset13_axis1", "Softmax", low=-4, high=4, opset=13, axis=1)
unary("softmax_opset11_last", "Softmax", low=-4, high=4, opset=11, shape=(2, 3, 7), axis=-1)
unary("softmax_opset11_2d", "Softmax", low=-4, high=4, opset=11, shape=(3, 10), axis=1)
unary("softmax_opset11_coerced", "Softmax", low=-4, high=4, opset=11, shape=(2, 3, 2, 2), axis=1)
unary("logsoftmax_opset13_last", "LogSoftmax", low=-8, high=8, opset=13, axis=-1)
unary("logsoftmax_opset13_axis1", "LogSoftmax", low=-8, high=8, opset=13, axis=1)
unary("logsoftmax_opset11_last", "LogSoftmax", low=-8, high=8, opset=11, shape=(2, 3, 7), axis=-1)
unary("logsoftmax_opset11_coerced", "LogSoftmax", low=-8, high=8, opset=11, shape=(2, 3, 2, 2), axis=1)


@case("clip_opset13_inputs", 13)
def _(g):
    g.output(g.node("Clip", [g.input("x", g.uniform(2, 3, 4, low=-8, high=8)), g.floats("min", -1.5), g.floats("max", 2.0)]))


@case("clip_opset13_max_only", 13)
def _(g):
    g.output(g.node("Clip", [g.input("x", g.uniform(2, 3, 4, low=-8, high=8)), "", g.floats("max", 6.0)]))


@case("clip_opset11_min_only", 11)
def _(g):
    g.output(g.node("Clip", [g.input("x", g.uniform(2, 3, 4, low=-8, high=8)), g.floats("min", 0.0)]))


def cast(name, to, values="uniform"):
    @case(name, 13)
    def _(g):
        if values == "fp16":
            # Multiples of 1/64 within +-8: exact in float16, so a copy equals the rounding.
            x = np.round(g.uniform(2, 3, 5, low=-8, high=8) * 64) / 64
        else:
            x = g.uniform(2, 3, 5, low=-4, high=4)
            x[0, 0, :3] = [0.0, -0.0, 2.0]
        g.output(g.node("Cast", [g.node("Cast", [g.input("x", x.astype(np.float32))], to=to)], to=1))


cast("cast_int32_truncates", 6)
cast("cast_int64_truncates", 7)
cast("cast_int8_truncates", 3)
cast("cast_bool", 9)
cast("cast_double", 11)
cast("cast_float16_exact", 10, values="fp16")


# MARK: elementwise, broadcast

binary("add_same_shape", "Add", (2, 3, 4), (2, 3, 4))
binary("add_bias_constant", "Add", (1, 4, 3, 3), (1, 4, 1, 1), b_constant=True)
binary("add_two_way", "Add", (2, 1, 4, 1), (1, 3, 1, 5))
binary("mul_channel", "Mul", (1, 4, 3, 3), (1, 4, 1, 1))
binary("mul_scalar_constant", "Mul", (2, 3, 4), (), b_constant=True)
binary("sub_last_axis", "Sub", (2, 3, 5), (5,))
binary("sub_two_way", "Sub", (3, 1), (1, 4))
binary("div_broadcast", "Div", (2, 3, 4, 5), (3, 1, 1), values="positive")
binary("div_constant_scalar", "Div", (2, 6), (), b_constant=True, values="positive")
binary("pow_runtime", "Pow", (2, 3, 4), (3, 1), values="positive")
binary("max_broadcast", "Max", (2, 3, 4), (4,))
binary("min_broadcast", "Min", (2, 1, 4), (3, 1))
binary("equal_integers", "Equal", (2, 3, 4), (3, 4), values="integers", to_float=True)
binary("less_integers", "Less", (2, 3, 4), (1, 4), values="integers", to_float=True)
binary("greater_integers", "Greater", (3, 4), (2, 1, 4), values="integers", to_float=True)
binary("prelu_channel", "PRelu", (1, 4, 3, 3), (4, 1, 1), b_constant=True)
binary("prelu_shared_slope", "PRelu", (2, 5, 3), (1,), b_constant=True)


@case("mod_fmod_float", 13)
def _(g):
    a = g.input("a", g.uniform(2, 3, 4, low=-6, high=6))
    magnitudes = g.uniform(4, low=0.5, high=2.0)
    b = g.input("b", (magnitudes * np.array([1, -1, 1, -1], dtype=np.float32)).astype(np.float32))
    g.output(g.node("Mod", [a, b], fmod=1))


@case("mod_integers_divisor_sign", 13)
def _(g):
    # int64 inputs: the remainder takes the divisor's sign (fmod 0, the default).
    a = g.input("a", g.random.integers(-20, 20, size=(3, 8)).astype(np.int64))
    b = g.input("b", np.array([-7, -3, -2, -1, 1, 2, 3, 7], dtype=np.int64))
    g.output(g.node("Cast", [g.node("Mod", [a, b])], to=1))


@case("mod_int32_constant_divisor", 13)
def _(g):
    a = g.input("a", g.random.integers(-50, 50, size=(2, 3, 5)).astype(np.int32))
    b = g.weight("b", np.array([[4], [-5], [6]], dtype=np.int32))
    g.output(g.node("Cast", [g.node("Mod", [a, b], fmod=0)], to=1))


@case("pow_square_constant", 13)
def _(g):
    g.output(g.node("Pow", [g.input("x", g.uniform(2, 3, 4)), g.floats("two", 2.0)]))


@case("pow_sqrt_constant", 13)
def _(g):
    g.output(g.node("Pow", [g.input("x", g.uniform(2, 3, 4, low=0.0, high=3.0)), g.floats("half", 0.5)]))


@case("where_broadcast", 16)
def _(g):
    a = g.input("a", g.uniform(2, 3, 4))
    b = g.input("b", g.uniform(3, 1))
    g.output(g.node("Where", [g.node("Greater", [a, b]), a, b]))


@case("where_mask_constant", 16)
def _(g):
    scores = g.input("scores", g.uniform(1, 2, 4, 4))
    mask = g.input("mask", (g.integers(0, 2, 1, 1, 1, 4)))
    g.output(g.node("Where", [g.node("Equal", [mask, g.floats("zero", 0.0)]), g.floats("fill", -1e4), scores]))


@case("sum_three_broadcast", 13)
def _(g):
    g.output(g.node("Sum", [g.input("a", g.uniform(2, 3, 4)), g.input("b", g.uniform(3, 4)), g.weight("c", g.uniform(2, 1, 4))]))


@case("sum_one_input", 13)
def _(g):
    g.output(g.node("Sum", [g.input("a", g.uniform(2, 3))]))


# MARK: reductions

def reduce(name, op, opset, axes=None, keepdims=None, axes_as_input=False, shape=(2, 3, 4, 5)):
    @case(name, opset)
    def _(g):
        inputs = [g.input("x", g.uniform(*shape))]
        attributes = {} if keepdims is None else {"keepdims": keepdims}
        if axes is not None:
            if axes_as_input:
                inputs.append(g.ints("axes", axes))
            else:
                attributes["axes"] = axes
        g.output(g.node(op, inputs, **attributes))


reduce("reducemean_opset13_hw", "ReduceMean", 13, axes=[2, 3])
reduce("reducemean_opset13_last_nokeep", "ReduceMean", 13, axes=[-1], keepdims=0)
reduce("reducemean_opset13_all", "ReduceMean", 13, keepdims=0)
reduce("reducemean_opset18_axes_input", "ReduceMean", 18, axes=[1, -1], axes_as_input=True)
reduce("reducemean_opset18_all", "ReduceMean", 18)
reduce("reducesum_opset13_axes_input", "ReduceSum", 13, axes=[1], keepdims=0, axes_as_input=True)
reduce("reducesum_opset11_attribute", "ReduceSum", 11, axes=[0, 2])
reduce("reducesum_opset13_all", "ReduceSum", 13)
reduce("reducesum_opset13_all_nokeep", "ReduceSum", 13, keepdims=0)
reduce("reducemax_opset13_last_nokeep", "ReduceMax", 13, axes=[-1], keepdims=0)
reduce("reducemax_opset18_axes_input", "ReduceMax", 18, axes=[1, 2], axes_as_input=True)
reduce("reducemin_opset13_hw", "ReduceMin", 13, axes=[2, 3])
reduce("reducemin_opset18_all", "ReduceMin", 18, keepdims=0)
reduce("reduceprod_opset13_axis1", "ReduceProd", 13, axes=[1])
reduce("reduceprod_opset18_axes_input_nokeep", "ReduceProd", 18, axes=[0, -1], keepdims=0, axes_as_input=True)
reduce("reducel2_opset13_last", "ReduceL2", 13, axes=[-1])
reduce("reducel2_opset18_axes_input", "ReduceL2", 18, axes=[2, 3], axes_as_input=True)


@case("reducemax_opset18_noop_empty_axes", 18)
def _(g):
    g.output(g.node("ReduceMax", [g.input("x", g.uniform(2, 3, 4))], noop_with_empty_axes=1))


@case("globalmaxpool", 13)
def _(g):
    g.output(g.node("GlobalMaxPool", [g.input("x", g.uniform(2, 3, 5, 4))]))


@case("globalmaxpool_rank3", 13)
def _(g):
    g.output(g.node("GlobalMaxPool", [g.input("x", g.uniform(1, 4, 9))]))


@case("resize_opset11_sizes_empty_scales", 11)
def _(g):
    x = g.input("x", g.uniform(1, 2, 3, 4))
    g.output(g.node("Resize", [x, g.floats("roi", []), g.floats("scales", []), g.ints("sizes", [1, 2, 6, 8])],
                    mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"))


# MARK: instance normalization, rearranging, running sums, element gathers

@case("instancenormalization_4d", 13)
def _(g):
    c = 3
    g.output(g.node("InstanceNormalization", [g.input("x", g.uniform(2, c, 4, 5, low=-2, high=3)),
                                              g.weight("scale", g.uniform(c, low=0.5, high=1.5)), g.weight("bias", g.uniform(c))],
                    epsilon=1e-3))


@case("instancenormalization_rank3", 6)
def _(g):
    c = 4
    g.output(g.node("InstanceNormalization", [g.input("x", g.uniform(1, c, 17)), g.weight("scale", g.uniform(c, low=0.5, high=1.5)),
                                              g.weight("bias", g.uniform(c))]))


def groupnorm(name, opset, shape, groups, per_group, **attributes):
    """GroupNormalization: scale and bias hold one value per group at opset 18, one per channel from 21."""
    @case(name, opset)
    def _(g):
        count = groups if per_group else shape[1]
        g.type_from_run = True
        # onnx 1.23's checker refuses GroupNormalization-18 as deprecated (by 21); models carry it all the same.
        g.full_check = opset >= 21
        g.output(g.node("GroupNormalization", [g.input("x", g.uniform(*shape, low=-2, high=3)),
                                               g.weight("scale", g.uniform(count, low=0.5, high=1.5)),
                                               g.weight("bias", g.uniform(count))], num_groups=groups, **attributes))


groupnorm("groupnormalization_opset18_per_group", 18, (2, 6, 4, 4), 3, True, epsilon=1e-3)
groupnorm("groupnormalization_opset18_one_group", 18, (1, 4, 3, 5), 1, True)
groupnorm("groupnormalization_opset21_per_channel", 21, (2, 8, 5, 5), 4, False)
groupnorm("groupnormalization_opset21_stash_type_rank3", 21, (2, 6, 7), 2, False, epsilon=1e-4, stash_type=1)
groupnorm("groupnormalization_opset21_group_per_channel", 21, (1, 5, 3, 3), 5, False)


@case("groupnormalization_conv_silu", 21)
def _(g):
    # The block of diffusion UNets and audio encoders: Conv → GroupNorm(32 groups of 2) → SiLU (x · sigmoid x).
    g.type_from_run = True
    x = g.input("x", g.uniform(1, 16, 6, 6))
    y = g.node("Conv", [x, g.weight("w", g.he(64, 16, 3, 3)), g.weight("b", g.uniform(64))], pads=[1, 1, 1, 1])
    y = g.node("GroupNormalization", [y, g.weight("scale", g.uniform(64, low=0.5, high=1.5)), g.weight("bias", g.uniform(64))],
               num_groups=32, epsilon=1e-5)
    g.output(g.node("Mul", [y, g.node("Sigmoid", [y])]))


@case("depthtospace_dcr", 13)
def _(g):
    g.output(g.node("DepthToSpace", [g.input("x", g.uniform(1, 8, 3, 4))], blocksize=2))


@case("depthtospace_crd", 13)
def _(g):
    g.output(g.node("DepthToSpace", [g.input("x", g.uniform(2, 12, 2, 3))], blocksize=2, mode="CRD"))


@case("depthtospace_opset1", 1)
def _(g):
    g.output(g.node("DepthToSpace", [g.input("x", g.uniform(1, 9, 2, 2))], blocksize=3))


@case("spacetodepth", 13)
def _(g):
    g.output(g.node("SpaceToDepth", [g.input("x", g.uniform(2, 3, 4, 6))], blocksize=2))


@case("tile_constant_repeats", 13)
def _(g):
    g.output(g.node("Tile", [g.input("x", g.uniform(2, 3, 4)), g.ints("repeats", [2, 1, 3])]))


@case("tile_repeats_from_shape", 15)
def _(g):
    # repeats computed from a Shape chain: constant once shapes are fixed.
    x = g.input("x", g.uniform(1, 4, 3))
    repeats = g.node("Concat", [g.ints("lead", [2]), g.node("Shape", [x], start=1, end=2), g.ints("tail", [1])], axis=0)
    g.output(g.node("Tile", [x, repeats]))


def cumsum(name, axis, shape=(2, 5, 3), exclusive=None, reverse=None, axis_type=np.int64):
    @case(name, 14)
    def _(g):
        attributes = {k: v for k, v in {"exclusive": exclusive, "reverse": reverse}.items() if v is not None}
        g.output(g.node("CumSum", [g.input("x", g.uniform(*shape)), g.weight("axis", np.array(axis, dtype=axis_type))],
                        **attributes))


cumsum("cumsum_axis1", 1)
cumsum("cumsum_last_exclusive", -1, exclusive=1)
cumsum("cumsum_axis0_reverse", 0, reverse=1, axis_type=np.int32)
cumsum("cumsum_exclusive_reverse", 1, shape=(3, 6), exclusive=1, reverse=1)


@case("gatherelements_axis1", 13)
def _(g):
    data = g.input("data", g.uniform(3, 5))
    g.output(g.node("GatherElements", [data, g.weight("indices", g.random.integers(-5, 5, size=(3, 4)).astype(np.int64))], axis=1))


@case("gatherelements_runtime_indices", 13)
def _(g):
    data = g.input("data", g.uniform(4, 3, 2))
    indices = g.input("indices", g.random.integers(0, 4, size=(2, 3, 2)).astype(np.int64))
    g.output(g.node("GatherElements", [data, indices], axis=0))


def arg_reduce(name, op, opset, shape=(2, 5, 3), ties=False, **attributes):
    @case(name, opset)
    def _(g):
        # The index comes out as int64; ties (whole numbers 0..2) test select_last_index.
        x = g.integers(0, 3, *shape) if ties else g.uniform(*shape)
        g.output(g.node(op, [g.input("x", x)], **attributes))


arg_reduce("argmax_axis1", "ArgMax", 13, axis=1)
arg_reduce("argmax_last_nokeep", "ArgMax", 13, axis=-1, keepdims=0)
arg_reduce("argmax_ties_select_last", "ArgMax", 13, shape=(4, 6), ties=True, axis=1, select_last_index=1)
arg_reduce("argmax_ties_first_opset11", "ArgMax", 11, shape=(4, 6), ties=True, axis=0)
arg_reduce("argmin_default_axis", "ArgMin", 13)
arg_reduce("argmin_ties_select_last_nokeep", "ArgMin", 13, shape=(3, 7), ties=True, axis=-1, keepdims=0, select_last_index=1)


@case("argmax_then_gatherelements", 13)
def _(g):
    # The index feeds an index input, as a classifier head picks its best score.
    x = g.input("x", g.uniform(2, 6))
    best = g.node("ArgMax", [x], axis=1)
    g.output(g.node("GatherElements", [x, best], axis=1))

