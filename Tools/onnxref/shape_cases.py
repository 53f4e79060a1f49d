"""Fixtures for matrix products and data movement: Gemm, MatMul, Concat,
Flatten, Transpose, Reshape, Squeeze, Unsqueeze, Expand, Slice, Gather.
Registered in op_cases.CASES like the rest."""

import numpy as np

from .graph import INT64_MAX, INT64_MIN
from .op_cases import case

# MARK: matrix products

@case("gemm_transb_bias", 13)
def _(g):
    g.output(g.node("Gemm", [g.input("x", g.uniform(3, 8)), g.weight("w", g.he(5, 8)), g.weight("c", g.uniform(5))], transB=1))


@case("gemm_transa_alpha_beta", 13)
def _(g):
    g.output(g.node("Gemm", [g.input("x", g.uniform(8, 3)), g.weight("w", g.he(8, 5)), g.weight("c", g.uniform(3, 5))],
                    transA=1, alpha=0.5, beta=2.0))


@case("gemm_no_bias", 13)
def _(g):
    g.output(g.node("Gemm", [g.input("x", g.uniform(2, 6)), g.weight("w", g.he(4, 6))], transB=1))


@case("gemm_row_bias", 9)
def _(g):
    g.output(g.node("Gemm", [g.input("x", g.uniform(2, 6)), g.weight("w", g.he(6, 4)), g.weight("c", g.uniform(1, 4))]))


@case("matmul_2d_runtime", 13)
def _(g):
    g.output(g.node("MatMul", [g.input("a", g.uniform(4, 5)), g.input("b", g.uniform(5, 6))]))


@case("matmul_constant_weight", 13)
def _(g):
    g.output(g.node("MatMul", [g.input("x", g.uniform(1, 7, 8)), g.weight("w", g.he(8, 16))]))


@case("matmul_batched_broadcast", 13)
def _(g):
    g.output(g.node("MatMul", [g.input("a", g.uniform(2, 1, 4, 5)), g.input("b", g.uniform(3, 5, 6))]))


@case("matmul_attention_heads", 13)
def _(g):
    g.output(g.node("MatMul", [g.input("q", g.uniform(1, 4, 6, 8)), g.input("k", g.uniform(1, 4, 8, 6))]))


@case("matmul_vector_left", 13)
def _(g):
    g.output(g.node("MatMul", [g.input("v", g.uniform(5)), g.input("m", g.uniform(2, 5, 6))]))


@case("matmul_vector_right", 13)
def _(g):
    g.output(g.node("MatMul", [g.input("m", g.uniform(2, 4, 5)), g.weight("v", g.uniform(5))]))


# MARK: joining and reshaping

@case("concat_channels_three", 13)
def _(g):
    g.output(g.node("Concat", [g.input("a", g.uniform(1, 2, 3, 3)), g.input("b", g.uniform(1, 1, 3, 3)),
                               g.input("c", g.uniform(1, 3, 3, 3))], axis=1))


@case("concat_last_axis_constant", 13)
def _(g):
    g.output(g.node("Concat", [g.input("a", g.uniform(2, 3, 4)), g.weight("b", g.uniform(2, 3, 2))], axis=-1))


@case("flatten_axis1", 13)
def _(g):
    g.output(g.node("Flatten", [g.input("x", g.uniform(2, 3, 4, 5))]))


@case("flatten_axis2", 13)
def _(g):
    g.output(g.node("Flatten", [g.input("x", g.uniform(2, 3, 4, 5))], axis=2))


@case("flatten_axis0", 13)
def _(g):
    g.output(g.node("Flatten", [g.input("x", g.uniform(2, 3, 4))], axis=0))


@case("transpose_nchw_to_nhwc", 13)
def _(g):
    g.output(g.node("Transpose", [g.input("x", g.uniform(1, 3, 4, 5))], perm=[0, 2, 3, 1]))


@case("transpose_default_reverses", 13)
def _(g):
    g.output(g.node("Transpose", [g.input("x", g.uniform(2, 3, 4))]))


@case("transpose_5d", 13)
def _(g):
    g.output(g.node("Transpose", [g.input("x", g.uniform(1, 2, 3, 2, 4))], perm=[0, 3, 1, 4, 2]))


@case("reshape_zero_and_infer", 13)
def _(g):
    g.output(g.node("Reshape", [g.input("x", g.uniform(2, 3, 4, 5)), g.ints("shape", [0, -1, 10])]))


@case("reshape_opset5_flatten", 5)
def _(g):
    g.output(g.node("Reshape", [g.input("x", g.uniform(2, 3, 4)), g.ints("shape", [2, -1])]))


@case("channel_shuffle", 13)
def _(g):
    x = g.input("x", g.uniform(1, 6, 3, 3))
    y = g.node("Reshape", [x, g.ints("split_shape", [1, 2, 3, 3, 3])])
    y = g.node("Transpose", [y], perm=[0, 2, 1, 3, 4])
    g.output(g.node("Reshape", [y, g.ints("merged_shape", [1, 6, 3, 3])]))


@case("squeeze_opset13_axes_input", 13)
def _(g):
    g.output(g.node("Squeeze", [g.input("x", g.uniform(1, 3, 1, 5)), g.ints("axes", [0, -2])]))


@case("squeeze_opset11_attribute", 11)
def _(g):
    g.output(g.node("Squeeze", [g.input("x", g.uniform(2, 1, 4))], axes=[1]))


@case("squeeze_all_ones", 13)
def _(g):
    g.output(g.node("Squeeze", [g.input("x", g.uniform(1, 3, 1, 4, 1))]))


@case("unsqueeze_opset13_axes_input", 13)
def _(g):
    g.output(g.node("Unsqueeze", [g.input("x", g.uniform(3, 4)), g.ints("axes", [0, -1])]))


@case("unsqueeze_opset11_attribute", 11)
def _(g):
    g.output(g.node("Unsqueeze", [g.input("x", g.uniform(3, 4))], axes=[1, 3]))


@case("expand_bidirectional", 13)
def _(g):
    g.output(g.node("Expand", [g.input("x", g.uniform(3, 1)), g.ints("shape", [2, 1, 4])]))


@case("expand_lower_rank_shape", 13)
def _(g):
    g.output(g.node("Expand", [g.input("x", g.uniform(2, 1, 5)), g.ints("shape", [3, 1])]))


# MARK: slicing and gathering

def slice_case(name, shape, starts, ends, axes=None, steps=None, opset=13):
    @case(name, opset)
    def _(g):
        x = g.input("x", g.uniform(*shape))
        if opset < 10:
            attributes = {"starts": starts, "ends": ends}
            if axes is not None:
                attributes["axes"] = axes
            g.output(g.node("Slice", [x], **attributes))
            return
        inputs = [x, g.ints("starts", starts), g.ints("ends", ends)]
        if axes is not None or steps is not None:
            inputs.append(g.ints("axes", axes) if axes is not None else "")
        if steps is not None:
            inputs.append(g.ints("steps", steps))
        g.output(g.node("Slice", inputs))


slice_case("slice_axes_negative_end", (2, 3, 6, 7), [1, 0], [5, -1], axes=[2, 3])
slice_case("slice_no_axes", (4, 5, 6), [1, 2], [3, 5])
slice_case("slice_steps_two", (2, 3, 8, 9), [0, 1], [INT64_MAX, INT64_MAX], axes=[2, 3], steps=[2, 3])
slice_case("slice_reverse", (2, 3, 5), [-1], [INT64_MIN], axes=[-1], steps=[-1])
slice_case("slice_negative_step_range", (2, 9), [7], [1], axes=[1], steps=[-2])
slice_case("slice_clamped", (3, 4, 5), [-10, 2], [10, 1000], axes=[0, 2])
slice_case("slice_opset1_attributes", (3, 6, 4), [1, 0], [3, -2], axes=[0, 1], opset=1)


@case("gather_embedding_runtime_ids", 13)
def _(g):
    table = g.weight("embedding", g.normal(50, 8, std=0.5))
    ids = g.input("ids", np.array([[3, 0, 49, 17, 17, -1]], dtype=np.int64))
    g.output(g.node("Gather", [table, ids], axis=0))


@case("gather_runtime_data_and_ids", 13)
def _(g):
    data = g.input("data", g.uniform(6, 4))
    ids = g.input("ids", np.array([[5, 1], [0, -2]], dtype=np.int64))
    g.output(g.node("Gather", [data, ids], axis=0))


@case("gather_constant_indices_axis1", 13)
def _(g):
    g.output(g.node("Gather", [g.input("x", g.uniform(2, 5, 3)), g.ints("indices", [4, 0, -1])], axis=1))


@case("gather_scalar_index", 13)
def _(g):
    g.output(g.node("Gather", [g.input("x", g.uniform(4, 3, 2)), g.weight("index", np.array(2, dtype=np.int64))], axis=0))


@case("gather_2d_indices_last_axis", 13)
def _(g):
    g.output(g.node("Gather", [g.input("x", g.uniform(2, 3, 6)), g.ints("indices", [[0, 5], [2, 2]])], axis=-1))


@case("gather_int32_runtime_ids", 13)
def _(g):
    table = g.weight("embedding", g.normal(10, 4, std=0.5))
    g.output(g.node("Gather", [table, g.input("ids", np.array([1, 9, 0, 4], dtype=np.int32))], axis=0))


@case("gemm_scalar_bias", 13)
def _(g):
    g.output(g.node("Gemm", [g.input("x", g.uniform(2, 6)), g.weight("w", g.he(4, 6)), g.floats("c", 0.5)], transB=1))


@case("matmul_dot_vectors", 13)
def _(g):
    g.output(g.node("MatMul", [g.input("a", g.uniform(7)), g.input("b", g.uniform(7))]))
