"""Operator fixtures for quantized graphs (QDQ form): DequantizeLinear of
integer weights (per tensor, per axis, blocked; int8 and uint8, with and
without zero points) feeding Conv, MatMul and Gemm, which demandlayer stores
as int8/uint8 and dequantizes when a layer is restored; and QuantizeLinear /
DequantizeLinear of run-time values (round half to even, saturation to the
zero point's type, uint8 when it is absent), computed in float32 as
onnxruntime's reference kernels do. Registered into op_cases.CASES.
"""

import numpy as np

from .op_cases import case


def _int8(g, *shape):
    return g.random.integers(-128, 128, size=shape).astype(np.int8)


def _uint8(g, *shape):
    return g.random.integers(0, 256, size=shape).astype(np.uint8)


@case("dequantizelinear_conv_weight_per_tensor", 13)
def _(g):
    x = g.input("x", g.uniform(1, 3, 8, 8))
    w = g.node("DequantizeLinear", [g.weight("w_q", _int8(g, 16, 3, 3, 3)), g.floats("w_scale", 0.01),
                                    g.weight("w_zero", np.int8(3))])
    g.output(g.node("Conv", [x, w, g.weight("b", g.uniform(16))], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))


@case("dequantizelinear_conv_weight_per_axis", 13)
def _(g):
    x = g.input("x", g.uniform(1, 8, 6, 6))
    scales = g.uniform(32, low=0.002, high=0.02)
    w = g.node("DequantizeLinear", [g.weight("w_q", _int8(g, 32, 8, 3, 3)), g.weight("w_scale", scales),
                                    g.weight("w_zero", np.zeros(32, dtype=np.int8))], axis=0)
    g.output(g.node("Conv", [x, w], kernel_shape=[3, 3]))


@case("dequantizelinear_matmul_weight_per_column_zero_points", 13)
def _(g):
    x = g.input("x", g.uniform(2, 5, 64))
    w = g.node("DequantizeLinear", [g.weight("w_q", _int8(g, 64, 96)), g.weight("w_scale", g.uniform(96, low=0.001, high=0.01)),
                                    g.weight("w_zero", _int8(g, 96))], axis=1)
    g.output(g.node("MatMul", [x, w]))


@case("dequantizelinear_gemm_uint8_weight_per_row", 13)
def _(g):
    x = g.input("x", g.uniform(3, 80))
    w = g.node("DequantizeLinear", [g.weight("w_q", _uint8(g, 72, 80)), g.weight("w_scale", g.uniform(72, low=0.001, high=0.01)),
                                    g.weight("w_zero", _uint8(g, 72))], axis=0)
    g.output(g.node("Gemm", [x, w, g.weight("b", g.uniform(72))], transB=1))


@case("dequantizelinear_matmul_weight_blocked", 21)
def _(g):
    # Blocks of 16 along K (axis 0 of the (K, N) weight): 48 / 16 = 3 scales per column.
    x = g.input("x", g.uniform(4, 48))
    w = g.node("DequantizeLinear", [g.weight("w_q", _int8(g, 48, 40)), g.weight("w_scale", g.uniform(3, 40, low=0.001, high=0.01)),
                                    g.weight("w_zero", _int8(g, 3, 40))], axis=0, block_size=16)
    g.output(g.node("MatMul", [x, w]))


@case("quantizelinear_dequantizelinear_int8_ties", 13)
def _(g):
    # Scale 0.5: x / scale lands on every half-integer, so round-half-to-even decides ties;
    # values reach past int8's range, so saturation decides the ends.
    x = g.input("x", (np.arange(-140, 140, dtype=np.float32) / 4).reshape(2, 5, 28))
    q = g.node("QuantizeLinear", [x, g.floats("scale", 0.5), g.weight("zero", np.int8(-3))])
    g.output(g.node("DequantizeLinear", [q, "scale", "zero"]))


@case("quantizelinear_uint8_default_zero_point", 13)
def _(g):
    # No zero point: uint8 with zero point 0, so negatives saturate to 0; the integers are the output.
    x = g.input("x", g.uniform(3, 4, 10, low=-20.0, high=300.0))
    g.output(g.node("QuantizeLinear", [x, g.floats("scale", 1.25)]))


@case("dequantizelinear_activation_uint8", 13)
def _(g):
    # A run-time uint8 tensor (quantized by the graph) dequantized with a zero point, then used by Relu.
    x = g.input("x", g.uniform(2, 3, 16, low=-4.0, high=4.0))
    q = g.node("QuantizeLinear", [x, g.floats("scale", 0.03), g.weight("zero", np.uint8(128))])
    g.output(g.node("Relu", [g.node("DequantizeLinear", [q, "scale", "zero"])]))


def _matmul_nbits(g, k, n, block, zero_points, bias):
    """A · dequantize(B)ᵀ (+ bias) with onnxruntime's MatMulNBits: B (N, blocks, block / 2)
    bytes, low nibble first along K (a partial last block is padded); zero points 4-bit,
    packed per row, low nibble first (8 when absent)."""
    blocks = -(-k // block)
    codes = g.random.integers(0, 16, size=(n, blocks * block)).astype(np.uint8)
    codes[:, k:] = 0
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).reshape(n, blocks, block // 2)
    g.type_from_run = True  # onnx's shape inference does not know contrib operators
    inputs = [g.input("a", g.uniform(2, 3, k)), g.weight("b_q", packed),
              g.weight("scales", g.uniform(n * blocks, low=0.005, high=0.05)), ""]
    if zero_points:
        zeros = g.random.integers(0, 16, size=(n, blocks + blocks % 2)).astype(np.uint8)
        inputs[3] = g.weight("zero_points", (zeros[:, 0::2] | (zeros[:, 1::2] << 4)).reshape(-1))
    if bias:
        inputs += ["", g.weight("bias", g.uniform(n))]   # input 4 (g_idx) omitted
    while inputs[-1] == "":
        inputs.pop()
    g.output(g.node("MatMulNBits", inputs, domain="com.microsoft", K=k, N=n, bits=4, block_size=block))


@case("matmulnbits_zero_points", 17)
def _(g):
    _matmul_nbits(g, k=64, n=24, block=16, zero_points=True, bias=False)


@case("matmulnbits_default_zero_point_partial_block_bias", 17)
def _(g):
    # K = 40 is two blocks of 16 and a padded third; no zero points (8 each); a bias.
    _matmul_nbits(g, k=40, n=20, block=16, zero_points=False, bias=True)


# MARK: integer operators (lowered to dequantize → float op → quantize)

@case("qlinearmatmul_uint8", 13)
def _(g):
    x = g.input("x", g.uniform(2, 3, 32, low=-2.0, high=2.0))
    a_scale, a_zero = g.floats("a_scale", 0.02), g.weight("a_zero", np.uint8(120))
    a = g.node("QuantizeLinear", [x, a_scale, a_zero])
    y = g.node("QLinearMatMul", [a, a_scale, a_zero, g.weight("b", _uint8(g, 32, 24)), g.floats("b_scale", 0.004),
                                 g.weight("b_zero", np.uint8(128)), g.floats("y_scale", 0.05), g.weight("y_zero", np.uint8(100))])
    g.output(g.node("DequantizeLinear", [y, "y_scale", "y_zero"]))


@case("qlinearconv_int8_per_channel_bias", 13)
def _(g):
    x = g.input("x", g.uniform(1, 4, 7, 7, low=-1.0, high=1.0))
    x_scale, x_zero = g.floats("x_scale", 0.01), g.weight("x_zero", np.int8(-5))
    q = g.node("QuantizeLinear", [x, x_scale, x_zero])
    w_scale = g.uniform(8, low=0.002, high=0.01)
    y = g.node("QLinearConv", [q, x_scale, x_zero, g.weight("w", _int8(g, 8, 4, 3, 3)), g.weight("w_scale", w_scale),
                               g.weight("w_zero", np.zeros(8, dtype=np.int8)), g.floats("y_scale", 0.02),
                               g.weight("y_zero", np.int8(3)), g.weight("bias", g.random.integers(-2000, 2000, size=8).astype(np.int32))],
               kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    g.output(g.node("DequantizeLinear", [y, "y_scale", "y_zero"]))


@case("matmulinteger_uint8_int8_per_column_zero", 13)
def _(g):
    x = g.input("x", g.uniform(4, 16, low=0.0, high=5.0))
    a = g.node("QuantizeLinear", [x, g.floats("a_scale", 0.02), g.weight("a_zero", np.uint8(7))])
    y = g.node("MatMulInteger", [a, g.weight("b", _int8(g, 16, 12)), "a_zero", g.weight("b_zero", _int8(g, 12))])
    g.output(g.node("Cast", [y], to=1))
