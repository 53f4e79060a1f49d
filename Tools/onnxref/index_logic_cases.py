"""Fixtures for the logic, selection and index operators: Not/And/Or/Xor,
TopK, Einsum, ScatterND, OneHot, NonZero (folded) and If (folded condition).
Registered into op_cases.CASES, so `onnx_reference.py ops` writes them with
the rest.
"""

import numpy as np

from .op_cases import case


def bools(g, *shape):
    return g.random.integers(0, 2, size=shape).astype(bool)


# MARK: logic (bools held as 0/1 floats)

def logical(name, op, a_shape, b_shape, opset=7):
    @case(name, opset)
    def _(g):
        a = g.input("a", bools(g, *a_shape))
        b = g.input("b", bools(g, *b_shape))
        g.output(g.node(op, [a, b]))


logical("and_broadcast", "And", (2, 3, 4), (3, 1))
logical("or_same_shape", "Or", (3, 5), (3, 5))
logical("xor_two_way", "Xor", (2, 1, 4), (3, 1))


@case("not_bool", 1)
def _(g):
    g.output(g.node("Not", [g.input("x", bools(g, 3, 4))]))


@case("logic_from_comparisons", 13)
def _(g):
    # A mask built from float comparisons, combined and used by Where, as attention masks are.
    a = g.input("a", g.integers(-2, 3, 2, 3, 4))
    b = g.input("b", g.integers(-2, 3, 3, 4))
    lo = g.node("Greater", [a, b])
    hi = g.node("Less", [a, g.floats("two", 2.0)])
    keep = g.node("And", [lo, g.node("Not", [hi])])
    either = g.node("Or", [keep, g.node("Xor", [lo, hi])])
    g.output(g.node("Where", [either, a, g.floats("zero", 0.0)]))


# MARK: TopK (values and int64 indices; ties go to the lower index, as onnxruntime breaks them)

def top_k(name, shape, k, opset=11, ties=False, **attributes):
    @case(name, opset)
    def _(g):
        x = g.integers(-2, 3, *shape) if ties else g.uniform(*shape)
        if opset >= 10:
            values, indices = g.node("TopK", [g.input("x", x), g.ints("k", [k])], outputs=2, **attributes)
        else:
            values, indices = g.node("TopK", [g.input("x", x)], outputs=2, k=k, **attributes)
        g.output(values)
        g.output(indices)


top_k("topk_last_axis", (3, 10), 4)
top_k("topk_axis1_smallest", (2, 6, 3), 3, axis=1, largest=0)
top_k("topk_negative_axis_ties", (4, 9), 5, ties=True, axis=-1)
top_k("topk_ties_smallest_axis0", (8, 5), 3, ties=True, axis=0, largest=0)
top_k("topk_k_equals_length", (2, 3, 4), 4, ties=True, axis=2)
top_k("topk_opset1_attribute_k", (3, 7), 2, opset=1, axis=1)


@case("topk_indices_gather", 13)
def _(g):
    # Only the indices are read: they pick rows of another tensor, as a
    # beam or a top-k router does.
    scores = g.input("scores", g.uniform(2, 8))
    _, indices = g.node("TopK", [scores, g.ints("k", [3])], outputs=2, axis=1)
    g.output(g.node("GatherElements", [g.input("table", g.uniform(2, 8)), indices], axis=1))


# MARK: Einsum (lowered at convert time to Transpose, Reshape, ReduceSum, MatMul)

def einsum(name, equation, *shapes, constant=None, opset=12):
    @case(name, opset)
    def _(g):
        operands = [g.weight(f"w{i}", g.uniform(*shape)) if i == constant else g.input(f"x{i}", g.uniform(*shape))
                    for i, shape in enumerate(shapes)]
        g.output(g.node("Einsum", operands, equation=equation))


einsum("einsum_matmul", "ij,jk->ik", (3, 4), (4, 5))
einsum("einsum_batched_matmul", "bij,bjk->bik", (2, 3, 4), (2, 4, 5))
einsum("einsum_attention_scores", "bhid,bhjd->bhij", (2, 3, 4, 8), (2, 3, 5, 8))
einsum("einsum_attention_context", "bhij,bhjd->bhid", (2, 3, 4, 5), (2, 3, 5, 8))
einsum("einsum_transpose", "ij->ji", (3, 5))
einsum("einsum_row_sum", "ij->i", (4, 6))
einsum("einsum_outer", "i,j->ij", (4,), (3,))
einsum("einsum_weight_implicit", "bsd,df", (2, 3, 4), (4, 6), constant=1)
einsum("einsum_permuted_output", "bik,kj->jbi", (2, 3, 4), (4, 5), opset=13)
einsum("einsum_sum_then_contract", "ijk,jl->li", (3, 4, 2), (4, 5))


# MARK: NonZero (folded: its input is known at convert time)

@case("nonzero_constant_mask_gather", 13)
def _(g):
    # Fixed column picks written as a mask: NonZero → Squeeze → Gather.
    mask = g.weight("mask", np.array([0, 1, 0, 1, 1, 0], dtype=bool))
    columns = g.node("Squeeze", [g.node("NonZero", [mask]), g.ints("axis0", [0])])
    g.output(g.node("Gather", [g.input("x", g.uniform(3, 6)), columns], axis=1))


@case("nonzero_2d_offsets", 13)
def _(g):
    # A rank-2 constant's (2, count) coordinates, cast and added to the input.
    grid = g.weight("grid", np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]], dtype=np.float32))
    coordinates = g.node("Cast", [g.node("NonZero", [grid])], to=1)
    g.output(g.node("Add", [g.input("x", g.uniform(2, 3)), coordinates]))


# MARK: If whose condition folds at convert time

def _branch(name, nodes, outputs, initializers=()):
    from onnx import TensorProto, helper
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                             list(initializers))


@case("if_constant_true_outer_reads", 13)
def _(g):
    # The then branch reads the outer input x and a weight of the outer graph, and has its own initializer.
    from onnx import helper, numpy_helper
    x = g.input("x", g.uniform(2, 4))
    scale = g.floats("scale", g.uniform(4))
    bias = numpy_helper.from_array(g.uniform(4), "branch_bias")
    then_branch = _branch("then", [helper.make_node("Mul", [x, scale], ["t"]),
                                   helper.make_node("Add", ["t", "branch_bias"], ["y"])], ["y"], [bias])
    else_branch = _branch("else", [helper.make_node("Neg", [x], ["y"])], ["y"])
    condition = g.weight("condition", np.array(True))
    g.output(g.node("If", [condition], then_branch=then_branch, else_branch=else_branch))


@case("if_shape_condition_else_taken", 13)
def _(g):
    # The condition comes from a shape chain (is the last axis longer than 8?); it folds to false.
    # Both branches name their values alike; the else branch has two outputs.
    from onnx import helper
    x = g.input("x", g.uniform(2, 3, 5))
    last = g.node("Gather", [g.node("Shape", [x]), g.ints("minus_one", -1)], axis=0)
    condition = g.node("Greater", [last, g.ints("eight", 8)])
    then_branch = _branch("then", [helper.make_node("Relu", [x], ["a"]), helper.make_node("Sigmoid", [x], ["b"])], ["a", "b"])
    else_branch = _branch("else", [helper.make_node("Softmax", [x], ["a"], axis=-1),
                                   helper.make_node("ReduceMax", [x], ["b"], axes=[1], keepdims=1)], ["a", "b"])
    first, second = g.node("If", [condition], outputs=2, then_branch=then_branch, else_branch=else_branch)
    g.output(first)
    g.output(g.node("Mul", [second, g.floats("half", 0.5)]))


@case("if_nested_folded", 13)
def _(g):
    # An If inside the taken branch, its condition also constant, reading the outer branch's value.
    from onnx import helper
    x = g.input("x", g.uniform(3, 4))
    inner_then = _branch("inner_then", [helper.make_node("Tanh", ["h"], ["z"])], ["z"])
    inner_else = _branch("inner_else", [helper.make_node("Abs", ["h"], ["z"])], ["z"])
    then_branch = _branch("then", [helper.make_node("Mul", [x, x], ["h"]),
                                   helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", 9, [], [False])),
                                   helper.make_node("If", ["c"], ["y"], then_branch=inner_then, else_branch=inner_else)], ["y"])
    else_branch = _branch("else", [helper.make_node("Identity", [x], ["y"])], ["y"])
    g.output(g.node("If", [g.weight("condition", np.array([True]))], then_branch=then_branch, else_branch=else_branch))


# MARK: OneHot (depth and values constant; int64 indices, negative ones from the end)

def one_hot(name, indices, depth, values=(0.0, 1.0), opset=11, **attributes):
    @case(name, opset)
    def _(g):
        x = g.input("indices", np.asarray(indices, dtype=np.int64))
        g.output(g.node("OneHot", [x, g.ints("depth", depth), g.floats("values", list(values))], **attributes))


one_hot("onehot_last_axis", [[0, 3, 1], [2, 2, 4]], 5)
one_hot("onehot_negative_indices_axis0", [[-1, 0], [-3, 2]], 4, values=(-2.0, 7.5), axis=0)
one_hot("onehot_axis1_rank1", [1, -2, 0, 3], 4, axis=1)
one_hot("onehot_scalar_depth_axis_neg2", [[1, 0, 2], [0, 2, 1]], np.array(3, dtype=np.int64), axis=-2)


@case("onehot_labels_mul", 13)
def _(g):
    # A classifier's label picks its logit, as a loss head does: OneHot(labels) · logits, summed.
    labels = g.input("labels", np.array([2, 0, 4], dtype=np.int64))
    mask = g.node("OneHot", [labels, g.ints("depth", [5]), g.floats("values", [0.0, 1.0])])
    picked = g.node("Mul", [mask, g.input("logits", g.uniform(3, 5))])
    g.output(g.node("ReduceSum", [picked, g.ints("axes", [1])], keepdims=0))


# MARK: ScatterND (int64 indices held as floats; reduction none, add, mul)

def scatter_nd(name, data_shape, indices, updates_shape, opset=16, data_constant=False, **attributes):
    @case(name, opset)
    def _(g):
        data = g.weight("data", g.uniform(*data_shape)) if data_constant else g.input("data", g.uniform(*data_shape))
        index = g.input("indices", np.asarray(indices, dtype=np.int64))
        g.output(g.node("ScatterND", [data, index, g.input("updates", g.uniform(*updates_shape))], **attributes))


scatter_nd("scatternd_rows", (4, 3), [[2], [0]], (2, 3))
scatter_nd("scatternd_elements_negative", (3, 4), [[0, 1], [-1, -1], [1, 2]], (3,))
scatter_nd("scatternd_slices_rank3", (2, 3, 4), [[[1, 2]], [[0, 0]]], (2, 1, 4), data_constant=True)
scatter_nd("scatternd_add_repeated", (5, 2), [[1], [3], [1]], (3, 2), reduction="add")
scatter_nd("scatternd_mul", (3, 3), [[0, 0], [2, 1], [0, 0]], (3,), reduction="mul")
scatter_nd("scatternd_opset11", (4, 2), [[3], [1]], (2, 2), opset=11)


@case("if_branch_reads_outer_value_twice", 13)
def _(g):
    # h = x + b is read twice inside the taken branch: the Relu there must not fuse into the Add
    # (which would take h's name away from the branch's second reader).
    from onnx import helper
    h = g.node("Add", [g.input("x", g.uniform(2, 5)), g.floats("b", g.uniform(5))])
    then_branch = _branch("then", [helper.make_node("Relu", [h], ["r"]), helper.make_node("Mul", [h, "r"], ["y"])], ["y"])
    else_branch = _branch("else", [helper.make_node("Neg", [h], ["y"])], ["y"])
    g.output(g.node("If", [g.weight("condition", np.array(True))], then_branch=then_branch, else_branch=else_branch))
einsum("einsum_linear_weight_out_in", "bsd,fd->bsf", (2, 3, 4), (6, 4), constant=1)
einsum("einsum_constant_first_operand", "ij,bjk->bik", (3, 4), (2, 4, 5), constant=0)
einsum("einsum_diagonal", "ii->i", (4, 4))
einsum("einsum_trace_implicit", "ii", (5, 5))
einsum("einsum_batch_diagonal_middle", "ibi->bi", (3, 2, 3))
einsum("einsum_diagonal_times_matrix", "ii,ij->ij", (3, 3), (3, 4), constant=0)
# Indices outside [-depth, depth) give a line of off values (onnxruntime agrees with the ONNX text).
one_hot("onehot_out_of_range_all_off", [[0, 3, -4], [-1, 7, 2]], 3, values=(0.5, 2.0))
